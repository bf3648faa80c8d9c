//! The JetStream scenarios (`js_publish`, `js_publish_async`, `js_fetch`, `js_ordered`)
//! with async-nats's own JetStream API, mirroring the `js_*` functions of
//! `benchmarks/pyworker.py`: a fresh memory stream per run, deleted afterwards; the same
//! counts, warm-up and checks.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::consumer::{pull, push, PullConsumer};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::{self, stream, Context};
use async_nats::{Client, Subject};
use bytes::Bytes;
use futures::StreamExt;

use crate::{connect, flush, metrics, percentile, rate, BoxError, Metrics};

/// The context's timeout (API calls, each ack), as the Python workers' `JS_TIMEOUT`.
const JS_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages asked for per fetch in `js_fetch`.
const FETCH_BATCH: usize = 500;
/// Core publishes between flushes while filling the stream for `js_fetch` (untimed).
const FILL_CHUNK: usize = 1000;
/// async-nats's default bound of acks in flight (`ContextBuilder::max_ack_inflight`): a
/// `PublishAckFuture` holds its permit until it is awaited or dropped, so at most this many
/// are kept before the oldest is awaited.
const MAX_ACK_INFLIGHT: usize = 5_000;

/// A connection, its JetStream context and a fresh memory stream on `bench.js.<stream>`.
struct Bench {
    client: Client,
    js: Context,
    stream: String,
    subject: Subject,
}

impl Bench {
    async fn new(url: &str) -> Result<Self, BoxError> {
        let client = connect(url).await?;
        let js = jetstream::ContextBuilder::new()
            .timeout(JS_TIMEOUT)
            .build(client.clone());
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let stream = format!("BENCH_{}_{nanos}", std::process::id());
        let subject = Subject::from(format!("bench.js.{stream}"));
        js.create_stream(stream::Config {
            name: stream.clone(),
            subjects: vec![subject.to_string()],
            storage: stream::StorageType::Memory,
            ..Default::default()
        })
        .await?;
        Ok(Bench {
            client,
            js,
            stream,
            subject,
        })
    }

    /// Puts `total` messages in the stream with core publishes (untimed: the consuming
    /// scenarios measure consuming), then waits until the stream holds them all.
    async fn fill(
        &self,
        payload: &Bytes,
        total: usize,
    ) -> Result<jetstream::stream::Stream, BoxError> {
        let mut filled = 0;
        while filled < total {
            let chunk = FILL_CHUNK.min(total - filled);
            for _ in 0..chunk {
                self.client
                    .publish(self.subject.clone(), payload.clone())
                    .await?;
            }
            flush(&self.client).await?;
            filled += chunk;
        }
        let mut stream = self.js.get_stream(&self.stream).await?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while stream.info().await?.state.messages < total as u64 {
            if Instant::now() > deadline {
                return Err(format!("stream did not reach {total} messages in 60 s").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(stream)
    }

    /// Deletes the stream whatever `result` is, then hands `result` on.
    async fn finish(self, result: Result<Metrics, BoxError>) -> Result<Metrics, BoxError> {
        self.js.delete_stream(&self.stream).await?;
        result
    }
}

pub(crate) async fn js_publish(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let bench = Bench::new(url).await?;
    let result = async {
        let (js, subject) = (&bench.js, &bench.subject);
        for _ in 0..warmup {
            js.publish(subject.clone(), payload.clone()).await?.await?;
        }
        let mut micros = Vec::with_capacity(count);
        let mut last = 0;
        let start = Instant::now();
        for _ in 0..count {
            let sent = Instant::now();
            let ack = js.publish(subject.clone(), payload.clone()).await?.await?;
            micros.push(sent.elapsed().as_secs_f64() * 1e6);
            last = ack.sequence;
        }
        let elapsed = start.elapsed();
        expect_sequence(last, warmup + count)?;
        micros.sort_by(f64::total_cmp);
        Ok(metrics([
            ("p50_us", percentile(&micros, 0.50)),
            ("p99_us", percentile(&micros, 0.99)),
            ("msgs_per_s", rate(count, elapsed)),
        ]))
    }
    .await;
    bench.finish(result).await
}

/// Publishes `n` messages without waiting for each ack: the ack futures are collected and
/// awaited, the oldest first once `MAX_ACK_INFLIGHT` are held. The last ack's sequence.
async fn pipelined(
    js: &Context,
    subject: &Subject,
    payload: &Bytes,
    n: usize,
) -> Result<u64, BoxError> {
    let mut pending: VecDeque<PublishAckFuture> = VecDeque::with_capacity(MAX_ACK_INFLIGHT);
    let mut last = 0;
    for _ in 0..n {
        if pending.len() == MAX_ACK_INFLIGHT {
            if let Some(ack) = pending.pop_front() {
                last = ack.await?.sequence;
            }
        }
        pending.push_back(js.publish(subject.clone(), payload.clone()).await?);
    }
    while let Some(ack) = pending.pop_front() {
        last = ack.await?.sequence;
    }
    Ok(last)
}

pub(crate) async fn js_publish_async(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let bench = Bench::new(url).await?;
    let result = async {
        let (js, subject) = (&bench.js, &bench.subject);
        pipelined(js, subject, &payload, warmup).await?;
        let start = Instant::now();
        let last = pipelined(js, subject, &payload, count).await?;
        let elapsed = start.elapsed();
        expect_sequence(last, warmup + count)?;
        Ok(metrics([("msgs_per_s", rate(count, elapsed))]))
    }
    .await;
    bench.finish(result).await
}

pub(crate) async fn js_fetch(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let bench = Bench::new(url).await?;
    let result = async {
        let (client, subject) = (&bench.client, &bench.subject);
        let total = warmup + count;
        let stream = bench.fill(&payload, total).await?;
        let consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("bench".to_owned()),
                filter_subject: subject.to_string(),
                ..Default::default()
            })
            .await?;
        let mut nbytes = consume(client, &consumer, warmup).await?;
        let start = Instant::now();
        nbytes += consume(client, &consumer, count).await?;
        let elapsed = start.elapsed();
        if nbytes != total * payload.len() {
            let expected = total * payload.len();
            return Err(format!("received {nbytes} payload bytes, expected {expected}").into());
        }
        Ok(metrics([("msgs_per_s", rate(count, elapsed))]))
    }
    .await;
    bench.finish(result).await
}

/// An ordered push consumer (nats-py's `ordered_consumer=True`: flow control, no acks,
/// recreated on a gap) reading a filled stream; messages/s from the `warmup`-th message to
/// the last.
pub(crate) async fn js_ordered(
    url: &str,
    count: usize,
    warmup: usize,
    payload: Bytes,
) -> Result<Metrics, BoxError> {
    let bench = Bench::new(url).await?;
    let result = async {
        let total = warmup + count;
        let stream = bench.fill(&payload, total).await?;
        let subscribed = Instant::now();
        let consumer = stream
            .create_consumer(push::OrderedConfig {
                deliver_subject: bench.client.new_inbox(),
                filter_subject: bench.subject.to_string(),
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        let (mut received, mut nbytes) = (0, 0);
        let mut start = subscribed;
        while received < total {
            let msg = tokio::time::timeout(Duration::from_secs(60), messages.next())
                .await?
                .ok_or("the ordered consumer ended early")??;
            nbytes += msg.payload.len();
            received += 1;
            if received == warmup {
                start = Instant::now();
            }
        }
        let elapsed = start.elapsed();
        if nbytes != total * payload.len() {
            let expected = total * payload.len();
            return Err(format!("received {nbytes} payload bytes, expected {expected}").into());
        }
        Ok(metrics([("msgs_per_s", rate(count, elapsed))]))
    }
    .await;
    bench.finish(result).await
}

/// Fetches and acks `n` messages, `FETCH_BATCH` per fetch, then flushes so that every ack
/// has reached the server. The payload bytes read.
async fn consume(client: &Client, consumer: &PullConsumer, n: usize) -> Result<usize, BoxError> {
    let (mut got, mut nbytes) = (0, 0);
    while got < n {
        let mut batch = consumer
            .fetch()
            .max_messages(FETCH_BATCH.min(n - got))
            .messages()
            .await?;
        while let Some(msg) = batch.next().await {
            let msg = msg?;
            nbytes += msg.payload.len();
            msg.ack().await?;
            got += 1;
        }
    }
    flush(client).await?;
    Ok(nbytes)
}

fn expect_sequence(last: u64, expected: usize) -> Result<(), BoxError> {
    if last != expected as u64 {
        return Err(format!("last ack has sequence {last}, expected {expected}").into());
    }
    Ok(())
}
