//! The raw engine baseline of natsrs's benchmark suite: async-nats on tokio, no Python.
//!
//! Runs one scenario against a running nats-server and prints one JSON line:
//!
//! ```text
//! natsrs-raw-bench SCENARIO --url nats://127.0.0.1:4222 --count N [--size BYTES] [--warmup N]
//! {"client":"raw","scenario":"publish","count":N,"size":16,"metrics":{"msgs_per_s":...}}
//! ```
//!
//! Every scenario mirrors the Python worker (`benchmarks/pyworker.py`) step for step: same
//! subjects, same warm-up, same flow-control window, each role on its own connection.

mod js;
mod rtt;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::{Client, Message, RequestErrorKind};
use bytes::Bytes;
use futures::future::join_all;
use futures::StreamExt;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Metrics = Map<String, Value>;

const SCENARIOS: &[&str] = &[
    "publish",
    "batch",
    "subscribe",
    "callback",
    "request",
    "inflight",
    "large_pub",
    "large_recv",
    "memory_stream",
    "memory_idle",
    "js_publish",
    "js_publish_async",
    "js_fetch",
    "js_ordered",
    "rtt_requester",
    "rtt_responder",
];

/// Messages per batch in the `batch` scenario.
const BATCH: usize = 1000;
/// Requests sent together in the `inflight` scenario.
const IN_FLIGHT: usize = 100;
/// Flush every this many messages when publishing large payloads.
const LARGE_FLUSH_EVERY: usize = 8;
/// Bytes a publisher may run ahead of its subscriber (see [`Window`]).
const WINDOW_BYTES: usize = 16 << 20;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    scenario: String,
    url: String,
    count: usize,
    size: usize,
    warmup: usize,
}

fn usage() -> String {
    format!(
        "usage: natsrs-raw-bench SCENARIO --url URL --count N [--size BYTES] [--warmup N]\n\
         scenarios: {}",
        SCENARIOS.join(", ")
    )
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let scenario = argv.next().ok_or_else(usage)?;
    if !SCENARIOS.contains(&scenario.as_str()) {
        return Err(format!("unknown scenario {scenario:?}\n{}", usage()));
    }
    let mut args = Args {
        scenario,
        url: "nats://127.0.0.1:4222".to_owned(),
        count: 0,
        size: 16,
        warmup: 0,
    };
    while let Some(flag) = argv.next() {
        let value = argv
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{}", usage()))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|e| format!("{flag} {value:?}: {e}"))
        };
        match flag.as_str() {
            "--url" => args.url = value.clone(),
            "--count" => args.count = number()?,
            "--size" => args.size = number()?,
            "--warmup" => args.warmup = number()?,
            _ => return Err(format!("unknown option {flag:?}\n{}", usage())),
        }
    }
    if args.count == 0 {
        return Err(format!("--count must be > 0\n{}", usage()));
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // tokio's default multi-thread runtime (one worker per core), like natsrs's.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start tokio: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(metrics) => {
            let line = json!({
                "client": "raw",
                "scenario": args.scenario,
                "count": args.count,
                "size": args.size,
                "metrics": metrics,
            });
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}: {err}", args.scenario);
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<Metrics, BoxError> {
    let payload = Bytes::from(vec![b'x'; args.size]);
    let (count, warmup) = (args.count, args.warmup);
    match args.scenario.as_str() {
        "publish" => publish(&args.url, count, warmup, payload).await,
        "batch" => batch(&args.url, count, warmup, payload).await,
        "subscribe" => subscribe(&args.url, count, warmup, payload, false).await,
        "callback" => subscribe(&args.url, count, warmup, payload, true).await,
        "request" => request(&args.url, count, warmup, payload).await,
        "inflight" => inflight(&args.url, count, warmup, payload).await,
        "large_pub" => large_pub(&args.url, count, warmup, payload).await,
        "large_recv" => large_recv(&args.url, count, warmup, payload).await,
        "memory_stream" => memory_stream(&args.url, count, warmup, payload).await,
        "memory_idle" => memory_idle(&args.url, count).await,
        "js_publish" => js::js_publish(&args.url, count, warmup, payload).await,
        "js_publish_async" => js::js_publish_async(&args.url, count, warmup, payload).await,
        "js_fetch" => js::js_fetch(&args.url, count, warmup, payload).await,
        "js_ordered" => js::js_ordered(&args.url, count, warmup, payload).await,
        "rtt_requester" => rtt::rtt_requester(&args.url, count, warmup, payload).await,
        "rtt_responder" => rtt::rtt_responder(&args.url, payload).await,
        other => Err(format!("unknown scenario {other:?}").into()),
    }
}

fn metrics<const N: usize>(pairs: [(&str, f64); N]) -> Metrics {
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_owned(), json!(value)))
        .collect()
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

async fn connect(url: &str) -> Result<Client, BoxError> {
    Ok(async_nats::ConnectOptions::new()
        .request_timeout(Some(REQUEST_TIMEOUT))
        .connect(url)
        .await?)
}

/// One request through the server on this connection. The server answers "no responders"
/// only after processing everything the connection sent before, so a subscription made before
/// this is live when it returns. (`flush` only waits until the socket write is done.)
async fn round_trip(client: &Client) -> Result<(), BoxError> {
    match client.request("bench.sync", Bytes::new()).await {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == RequestErrorKind::NoResponders => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// What `flush()` means for the Python clients (nats-py's PING/PONG, natsrs's round trip):
/// everything sent so far has been written *and* processed by the server.
async fn flush(client: &Client) -> Result<(), BoxError> {
    client.flush().await?;
    round_trip(client).await
}

// -- 1, 2: publish ------------------------------------------------------------------------

async fn publish_loop(client: &Client, count: usize, payload: &Bytes) -> Result<(), BoxError> {
    for _ in 0..count {
        client.publish("bench.pub", payload.clone()).await?;
    }
    flush(client).await?;
    Ok(())
}

/// `client.publish(...).await` in a loop, then `flush`.
async fn publish(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let client = connect(url).await?;
    publish_loop(&client, warmup, &payload).await?;
    let start = Instant::now();
    publish_loop(&client, count, &payload).await?;
    Ok(metrics([("msgs_per_s", rate(count, start.elapsed()))]))
}

/// What a batch API would do with the engine: take a batch of `BATCH` messages (built inside
/// the timing, as a call converting a Python list would; the payloads share one buffer, as
/// one `bytes` object repeated would), queue them back to back, and flush once at the end.
/// The engine has no batch call either, so this is its publish loop with the per-message work
/// of a batch call and nothing else: the ceiling a natsrs batch API aims at.
async fn batch(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let client = connect(url).await?;
    let subject = async_nats::Subject::from_static("bench.pub");
    let send = |n: usize| {
        let (client, subject, payload) = (&client, &subject, &payload);
        async move {
            let mut left = n;
            while left > 0 {
                let size = left.min(BATCH);
                let batch: Vec<_> = (0..size)
                    .map(|_| (subject.clone(), payload.clone()))
                    .collect();
                for (subject, payload) in batch {
                    client.publish(subject, payload).await?;
                }
                left -= size;
            }
            flush(client).await?;
            Ok::<(), BoxError>(())
        }
    };
    send(warmup).await?;
    let start = Instant::now();
    send(count).await?;
    Ok(metrics([("msgs_per_s", rate(count, start.elapsed()))]))
}

// -- 3, 4, 7: publisher -> subscriber -----------------------------------------------------

/// Flow control between a publisher and its subscriber in one process: the publisher may run
/// at most `window` messages ahead, so neither the subscription's buffer (async-nats drops
/// beyond `subscription_capacity`) nor the server's pending limit overflows. The publisher
/// takes credit `chunk` messages at a time; the subscriber returns it every `chunk` messages.
struct Window {
    credit: Semaphore,
    chunk: usize,
    size: usize,
}

impl Window {
    fn for_size(size: usize) -> Arc<Self> {
        let window = (WINDOW_BYTES / size.max(64)).clamp(4, 20_000);
        let chunk = (window / 20).clamp(1, 1000);
        Arc::new(Window {
            credit: Semaphore::new(window),
            chunk,
            size,
        })
    }

    async fn take(&self) -> Result<(), BoxError> {
        self.credit.acquire_many(self.chunk as u32).await?.forget();
        Ok(())
    }

    fn received(&self, total: usize) {
        if total.is_multiple_of(self.chunk) {
            self.credit.add_permits(self.chunk);
        }
    }
}

/// Publishes `count` messages under the window's control, then flushes.
async fn windowed_publish(
    client: &Client,
    window: &Window,
    count: usize,
    payload: &Bytes,
    flush_every: usize,
) -> Result<(), BoxError> {
    let mut sent = 0;
    while sent < count {
        window.take().await?;
        let end = (sent + window.chunk).min(count);
        for n in sent..end {
            client.publish("bench.sub", payload.clone()).await?;
            if flush_every > 0 && (n + 1) % flush_every == 0 {
                flush(client).await?;
            }
        }
        sent = end;
    }
    flush(client).await?;
    Ok(())
}

/// A subscriber that counts `total` messages; with `callback`, each one is handed to an async
/// callback (the shape of nats-py's `cb=`).
async fn receive(
    mut sub: async_nats::Subscriber,
    window: Arc<Window>,
    total: usize,
    received: Arc<AtomicU64>,
    callback: bool,
) -> Result<(), BoxError> {
    // Every payload is read, as the Python consumers do (`len(msg.data)`); the engine's
    // payload is already a `Bytes`, so reading it costs nothing here.
    let on_message = |msg: Message| async move { msg.payload.len() };
    let (mut n, mut nbytes) = (0, 0);
    while n < total {
        let Some(msg) = sub.next().await else {
            return Err("subscription ended early".into());
        };
        nbytes += if callback {
            on_message(msg).await
        } else {
            std::hint::black_box(&msg).payload.len()
        };
        n += 1;
        received.store(n as u64, Ordering::Relaxed);
        window.received(n);
    }
    let expected = total * window.size;
    if nbytes != expected {
        return Err(format!("received {nbytes} payload bytes, expected {expected}").into());
    }
    Ok(())
}

/// What [`pub_sub`] measured over the `count` messages after the warm-up.
struct Received {
    elapsed: Duration,
    rss_before: f64,
    rss_after: f64,
}

/// Publisher on one connection, subscriber on another; the receive time of `count`
/// messages after `warmup` ones, and the RSS around them (read outside the timing).
async fn pub_sub(
    url: &str,
    count: usize,
    warmup: usize,
    payload: &Bytes,
    callback: bool,
    flush_every: usize,
) -> Result<Received, BoxError> {
    let publisher = connect(url).await?;
    let subscriber = connect(url).await?;
    let sub = subscriber.subscribe("bench.sub").await?;
    round_trip(&subscriber).await?;
    let window = Window::for_size(payload.len());
    let received = Arc::new(AtomicU64::new(0));
    let total = warmup + count;
    let task = tokio::spawn(receive(
        sub,
        window.clone(),
        total,
        received.clone(),
        callback,
    ));
    windowed_publish(&publisher, &window, warmup, payload, flush_every).await?;
    while received.load(Ordering::Relaxed) < warmup as u64 {
        tokio::task::yield_now().await;
    }
    let rss_before = rss_bytes()?;
    let start = Instant::now();
    windowed_publish(&publisher, &window, count, payload, flush_every).await?;
    task.await??;
    let elapsed = start.elapsed();
    Ok(Received {
        elapsed,
        rss_before,
        rss_after: rss_bytes()?,
    })
}

async fn subscribe(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
    callback: bool,
) -> Result<Metrics, BoxError> {
    let elapsed = pub_sub(url, count, warmup, &payload, callback, 0)
        .await?
        .elapsed;
    Ok(metrics([("msgs_per_s", rate(count, elapsed))]))
}

// -- 7: large payloads --------------------------------------------------------------------

fn mb_per_s(count: usize, size: usize, elapsed: Duration) -> f64 {
    (count * size) as f64 / 1e6 / elapsed.as_secs_f64()
}

async fn large_pub(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let client = connect(url).await?;
    let send = |n: usize| {
        let (client, payload) = (&client, &payload);
        async move {
            for i in 0..n {
                client.publish("bench.large", payload.clone()).await?;
                if (i + 1) % LARGE_FLUSH_EVERY == 0 {
                    flush(client).await?;
                }
            }
            flush(client).await?;
            Ok::<(), BoxError>(())
        }
    };
    send(warmup).await?;
    let start = Instant::now();
    send(count).await?;
    Ok(metrics([(
        "mb_per_s",
        mb_per_s(count, payload.len(), start.elapsed()),
    )]))
}

async fn large_recv(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let elapsed = pub_sub(url, count, warmup, &payload, false, LARGE_FLUSH_EVERY)
        .await?
        .elapsed;
    Ok(metrics([(
        "mb_per_s",
        mb_per_s(count, payload.len(), elapsed),
    )]))
}

// -- 5, 6: request/reply ------------------------------------------------------------------

/// A responder on its own connection: answers every request on `bench.req` with `payload`.
async fn start_responder(url: &str, payload: Bytes) -> Result<Client, BoxError> {
    let client = connect(url).await?;
    let mut sub = client.subscribe("bench.req").await?;
    round_trip(&client).await?;
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                if responder.publish(reply, payload.clone()).await.is_err() {
                    break;
                }
            }
        }
    });
    Ok(client)
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

async fn request(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let _responder = start_responder(url, payload.clone()).await?;
    let client = connect(url).await?;
    for _ in 0..warmup {
        client.request("bench.req", payload.clone()).await?;
    }
    let mut micros = Vec::with_capacity(count);
    let start = Instant::now();
    for _ in 0..count {
        let sent = Instant::now();
        client.request("bench.req", payload.clone()).await?;
        micros.push(sent.elapsed().as_secs_f64() * 1e6);
    }
    let elapsed = start.elapsed();
    micros.sort_by(f64::total_cmp);
    Ok(metrics([
        ("p50_us", percentile(&micros, 0.50)),
        ("p99_us", percentile(&micros, 0.99)),
        ("req_per_s", rate(count, elapsed)),
    ]))
}

async fn inflight(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let _responder = start_responder(url, payload.clone()).await?;
    let client = connect(url).await?;
    let rounds = |n: usize| {
        let (client, payload) = (&client, &payload);
        async move {
            for _ in 0..n.div_ceil(IN_FLIGHT) {
                let replies =
                    join_all((0..IN_FLIGHT).map(|_| client.request("bench.req", payload.clone())))
                        .await;
                for reply in replies {
                    reply?;
                }
            }
            Ok::<(), BoxError>(())
        }
    };
    rounds(warmup).await?;
    let start = Instant::now();
    rounds(count).await?;
    let sent = count.div_ceil(IN_FLIGHT) * IN_FLIGHT;
    Ok(metrics([("req_per_s", rate(sent, start.elapsed()))]))
}

// -- 8: memory ----------------------------------------------------------------------------

/// Resident set size of this process in bytes (`VmRSS` of `/proc/self/status`).
fn rss_bytes() -> Result<f64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or("no VmRSS in /proc/self/status")?;
    let kib: f64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib * 1024.0)
}

async fn memory_stream(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let Received {
        rss_before: before,
        rss_after: after,
        ..
    } = pub_sub(url, count, warmup, &payload, false, 0).await?;
    Ok(metrics([
        ("rss_before_mb", before / 1e6),
        ("rss_after_mb", after / 1e6),
        ("rss_growth_mb", (after - before) / 1e6),
    ]))
}

async fn memory_idle(url: &str, count: usize) -> Result<Metrics, BoxError> {
    let client = connect(url).await?;
    client.flush().await?;
    let before = rss_bytes()?;
    let mut subs = Vec::with_capacity(count);
    for i in 0..count {
        subs.push(client.subscribe(format!("idle.{i}")).await?);
    }
    client.flush().await?;
    let after = rss_bytes()?;
    drop(subs);
    Ok(metrics([
        ("rss_before_mb", before / 1e6),
        ("rss_after_mb", after / 1e6),
        ("bytes_per_sub", (after - before) / count as f64),
    ]))
}
