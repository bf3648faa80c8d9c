//! The two roles of `benchmarks/rtt_breakdown.py`: a requester and a responder in separate
//! processes, so each side's thread wake-ups, syscalls and CPU time can be counted alone.
//!
//! Both talk to the orchestrator over stdin/stdout with the same line protocol as the
//! Python roles: the requester warms up, prints `ready` and waits for a line (the
//! orchestrator reads its counters, attaches tracers), runs the timed requests, prints
//! `done` and waits for a line again (counters read again) before its JSON result line.
//! The responder prints `ready` once its subscription is live and answers until stdin
//! gives a line or ends.
//!
//! As in `request` (main.rs), the requester's loop runs in `block_on` on the main thread
//! and the responder's loop is a spawned task, so the engine's connection task runs on
//! tokio's workers in both.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;

use crate::{connect, metrics, percentile, rate, round_trip, BoxError, Metrics};

const SUBJECT: &str = "bench.rtt";

/// Prints `word` and blocks this thread until stdin gives a line or ends. Called only on
/// the `block_on` thread, never on a worker, so the engine keeps running meanwhile.
fn handshake(word: &str) -> Result<(), BoxError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{word}")?;
    out.flush()?;
    drop(out);
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(())
}

pub(crate) async fn rtt_requester(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let client = connect(url).await?;
    for _ in 0..warmup {
        client.request(SUBJECT, payload.clone()).await?;
    }
    handshake("ready")?;
    let mut micros = Vec::with_capacity(count);
    let start = Instant::now();
    for _ in 0..count {
        let sent = Instant::now();
        let reply = client.request(SUBJECT, payload.clone()).await?;
        micros.push(sent.elapsed().as_secs_f64() * 1e6);
        if reply.payload.len() != payload.len() {
            return Err(format!("reply of {} bytes", reply.payload.len()).into());
        }
    }
    let elapsed = start.elapsed();
    handshake("done")?;
    micros.sort_by(f64::total_cmp);
    Ok(metrics([
        ("p50_us", percentile(&micros, 0.50)),
        ("p99_us", percentile(&micros, 0.99)),
        ("req_per_s", rate(count, elapsed)),
    ]))
}

pub(crate) async fn rtt_responder(url: &str, payload: Bytes) -> Result<Metrics, BoxError> {
    let client = connect(url).await?;
    let mut sub = client.subscribe(SUBJECT).await?;
    round_trip(&client).await?;
    let served = Arc::new(AtomicU64::new(0));
    let (responder, counter) = (client.clone(), served.clone());
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                if responder.publish(reply, payload.clone()).await.is_err() {
                    break;
                }
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    handshake("ready")?;
    Ok(metrics([("served", served.load(Ordering::Relaxed) as f64)]))
}
