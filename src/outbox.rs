//! The publish path: a client's outbox, drained into the engine by a tokio task.
//!
//! Handing each message to the engine on the Python thread costs a boxed future, a
//! `Subject` allocation, a payload allocation and a channel send, and the engine's
//! handler is woken from a foreign thread, about 700 ns in all. A tight publish loop
//! instead appends to this outbox: the subject of the previous message is reused, small
//! payloads are copied into one shared buffer, and one lock round protects it all. A
//! drainer task, spawned when the outbox goes from idle to busy, hands the messages to
//! the engine in order on a tokio thread, so the Python thread and the engine work in
//! parallel and a burst costs one task wake-up, not one per message.
//!
//! A publish that arrives while nothing is queued or in flight and the previous one is
//! older than [`BURST_GAP`] goes to the engine directly instead: a lone reply or event
//! reaches the socket without the extra hop through the drainer.
//!
//! Ordering: every message is numbered. An operation that must come after earlier
//! publishes (flush, request, subscribe, unsubscribe, drain, close) first waits until
//! the drainer has handed everything up to its [`Outbox::barrier`] to the engine, whose
//! command channel is FIFO. When nothing is pending, that wait is a single atomic load.
//!
//! Backpressure: once [`MAX_QUEUED_MESSAGES`] messages or the byte limit are waiting,
//! `await publish` waits until the drainer has taken its message, and the drainer
//! itself waits on the engine's bounded channel. Memory stays bounded by the limits.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};

use async_nats::{HeaderMap, Subject};
use bytes::{Bytes, BytesMut};
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::args::{PayloadArg, COPY_THRESHOLD};
use crate::engine::{Ending, EngineSlot};
use crate::error::{Error, Kind};
use crate::runtime;
use crate::subject;

/// Messages waiting in the outbox before `await publish` waits for the drainer.
const MAX_QUEUED_MESSAGES: usize = 8192;

/// Payload bytes waiting in the outbox before `await publish` waits (nats-py's default
/// `pending_size`).
const MAX_QUEUED_BYTES: usize = 2 * 1024 * 1024;

/// Publishes closer together than this are a burst and go through the drainer.
const BURST_GAP: Duration = Duration::from_micros(50);

/// Appends a small payload to `arena` and says so; a large one comes back as its own.
fn store(payload: PayloadArg<'_>, arena: &mut BytesMut) -> Body {
    match payload {
        PayloadArg::Bytes(b) if b.as_bytes().len() <= COPY_THRESHOLD => {
            arena.extend_from_slice(b.as_bytes());
            Body::InArena(b.as_bytes().len())
        }
        other => Body::Own(other.into_bytes()),
    }
}

/// What a publish carries besides subject and payload; boxed, because most have none.
struct Extra {
    reply: Option<Subject>,
    headers: Option<HeaderMap>,
}

enum Body {
    /// The next `len` bytes of the batch's shared buffer.
    InArena(usize),
    Own(Bytes),
}

struct Outgoing {
    /// `None`: the subject of the message before it in the queue. The Python thread
    /// then touches no reference count the drainer also touches.
    subject: Option<Subject>,
    extra: Option<Box<Extra>>,
    body: Body,
}

/// One publish, validated on the Python thread.
pub(crate) struct Publish<'a, 'py> {
    pub(crate) subject: &'a str,
    pub(crate) reply: Option<&'a str>,
    pub(crate) headers: Option<HeaderMap>,
    pub(crate) payload: PayloadArg<'py>,
}

#[derive(Default)]
struct State {
    queue: Vec<Outgoing>,
    arena: BytesMut,
    queued_bytes: usize,
    /// Number of the last message accepted (queued or sent directly).
    accepted: u64,
    /// Number of the last message the drainer has taken out of the queue.
    taken: u64,
    /// A drainer task runs (or a direct publish is still on its way): new messages
    /// queue behind it. Invariant: a non-empty queue always has a drainer.
    busy: bool,
    last_subject: Option<Subject>,
    last_publish: Option<Instant>,
}

pub(crate) struct Outbox {
    state: Mutex<State>,
    /// Number of the last message handed to the engine.
    sent: AtomicU64,
    /// Payload bytes accepted but not yet handed to the engine (nats-py's
    /// `pending_data_size`).
    unsent_bytes: AtomicUsize,
    /// The drainer made progress: barrier and backpressure waiters look again.
    progress: tokio::sync::Notify,
    /// The engine the messages go to (the client's own slot).
    engine: EngineSlot,
    /// The client's lifeline: `close()` ends every wait for room or for a direct send.
    lifeline: CancellationToken,
    /// The engine runs on the event loop's runtime (`runtime("loop")`).
    pub(crate) on_loop: bool,
}

/// What [`Outbox::push`] did with a message.
pub(crate) enum Pushed {
    /// Queued (or sent); `await publish` returns at once.
    Done,
    /// Queued past the limits: `await publish` waits until message `n` is taken.
    Full(u64),
    /// Nothing queued or in flight: the caller hands this to the engine itself.
    Direct(u64, Direct),
}

/// A message the caller publishes directly, already turned into engine values.
pub(crate) struct Direct {
    pub(crate) subject: Subject,
    pub(crate) reply: Option<Subject>,
    pub(crate) headers: Option<HeaderMap>,
    pub(crate) payload: Bytes,
}

impl Outbox {
    pub(crate) fn new(engine: EngineSlot, lifeline: CancellationToken, on_loop: bool) -> Arc<Self> {
        Arc::new(Outbox {
            state: Mutex::new(State::default()),
            sent: AtomicU64::new(0),
            unsent_bytes: AtomicUsize::new(0),
            progress: tokio::sync::Notify::new(),
            engine,
            lifeline,
            on_loop,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-updated in a way
        // that matters more than stopping every publish would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn unsent_bytes(&self) -> usize {
        self.unsent_bytes.load(Ordering::Relaxed)
    }

    /// Accepts one message. Subjects are validated here, once per distinct subject in a
    /// row; the caller has checked the client is open and the payload size.
    pub(crate) fn push(
        self: &Arc<Self>,
        msg: Publish<'_, '_>,
        skip_validation: bool,
        allow_direct: bool,
    ) -> Result<Pushed, Error> {
        let payload_len = msg.payload.len();
        let mut state = self.lock();
        let repeated = matches!(&state.last_subject, Some(last) if last.as_str() == msg.subject);
        if !repeated {
            subject::check_publish(msg.subject, skip_validation)?;
            state.last_subject = Some(Subject::from(msg.subject));
        }
        let reply = msg.reply.map(Subject::from);
        state.accepted += 1;
        let seq = state.accepted;
        self.unsent_bytes.fetch_add(payload_len, Ordering::Relaxed);
        if !state.busy {
            let now = Instant::now();
            let lone = state
                .last_publish
                .is_none_or(|last| now.duration_since(last) >= BURST_GAP);
            state.last_publish = Some(now);
            if lone && allow_direct {
                state.busy = true;
                let subject = state.last_subject.clone().expect("set above");
                return Ok(Pushed::Direct(
                    seq,
                    Direct {
                        subject,
                        reply,
                        headers: msg.headers,
                        payload: msg.payload.into_bytes(),
                    },
                ));
            }
        }
        let body = store(msg.payload, &mut state.arena);
        let extra = match (reply, msg.headers) {
            (None, None) => None,
            (reply, headers) => Some(Box::new(Extra { reply, headers })),
        };
        // The first message of a batch always names its subject: the drainer takes
        // the queue whole.
        let subject = if repeated && !state.queue.is_empty() {
            None
        } else {
            state.last_subject.clone()
        };
        state.queue.push(Outgoing {
            subject,
            extra,
            body,
        });
        state.queued_bytes += payload_len;
        let full =
            state.queue.len() >= MAX_QUEUED_MESSAGES || state.queued_bytes >= MAX_QUEUED_BYTES;
        if !state.busy {
            state.busy = true;
            drop(state);
            runtime::runtime().spawn(drain(self.clone()));
        }
        Ok(if full {
            Pushed::Full(seq)
        } else {
            Pushed::Done
        })
    }

    /// Everything accepted so far, or `None` when all of it is with the engine already.
    pub(crate) fn barrier(&self) -> Option<u64> {
        let accepted = self.lock().accepted;
        (self.sent.load(Ordering::Acquire) < accepted).then_some(accepted)
    }

    /// Waits until message `seq` has been handed to the engine.
    pub(crate) async fn sent_through(&self, seq: u64) {
        loop {
            let progress = self.progress.notified();
            if self.sent.load(Ordering::Acquire) >= seq {
                return;
            }
            progress.await;
        }
    }

    /// Waits until the drainer has taken message `seq` out of the queue.
    pub(crate) async fn taken_through(&self, seq: u64) {
        loop {
            let progress = self.progress.notified();
            if self.lock().taken >= seq {
                return;
            }
            progress.await;
        }
    }

    fn mark_sent(&self, seq: u64, bytes: usize) {
        self.sent.fetch_max(seq, Ordering::AcqRel);
        self.unsent_bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.progress.notify_waiters();
    }
}

/// Waits until everything published before this call is with the engine: how
/// operations that must stay behind earlier publishes start. The barrier is taken at the
/// call, not when the future is first polled.
pub(crate) fn publishes_sent(outbox: &Arc<Outbox>) -> impl Future<Output = ()> + Send + 'static {
    let waiting = outbox.barrier().map(|seq| (outbox.clone(), seq));
    async move {
        if let Some((outbox, seq)) = waiting {
            outbox.sent_through(seq).await;
        }
    }
}

/// Hands one message to the engine.
async fn send(client: &async_nats::Client, msg: Direct) -> Result<(), Error> {
    let Direct {
        subject,
        reply,
        headers,
        payload,
    } = msg;
    let result = match (reply, headers) {
        (None, None) => client.publish(subject, payload).await,
        (Some(r), None) => client.publish_with_reply(subject, r, payload).await,
        (None, Some(h)) => client.publish_with_headers(subject, h, payload).await,
        (Some(r), Some(h)) => {
            client
                .publish_with_reply_and_headers(subject, r, h, payload)
                .await
        }
    };
    result.map_err(Error::from)
}

/// Ends a direct publish or a drainer: settles the messages it still holds, then starts
/// a drainer for whatever queued meanwhile or marks the outbox idle. Runs on drop, so a
/// cancelled or panicking task can neither leave the outbox busy with nobody draining
/// it nor leave barriers waiting for messages that will never be sent.
struct Handoff {
    outbox: Arc<Outbox>,
    /// The last message number and the payload bytes this task holds, not yet settled.
    holding: Option<(u64, usize)>,
}

impl Handoff {
    /// The held messages are with the engine, or dropped: either way no longer pending.
    fn settle(&mut self) {
        if let Some((seq, bytes)) = self.holding.take() {
            self.outbox.mark_sent(seq, bytes);
        }
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        self.settle();
        let mut state = self.outbox.lock();
        if state.queue.is_empty() {
            state.busy = false;
        } else {
            drop(state);
            runtime::runtime().spawn(drain(self.outbox.clone()));
        }
    }
}

/// Publishes a message accepted as [`Pushed::Direct`]: polled once here, and if the
/// engine's channel is full, finished on a tokio task that then drains what queued
/// behind it.
pub(crate) fn publish_direct(
    py: Python<'_>,
    outbox: &Arc<Outbox>,
    seq: u64,
    msg: Direct,
) -> PyResult<Py<PyAny>> {
    let handoff = Handoff {
        outbox: outbox.clone(),
        holding: Some((seq, msg.payload.len())),
    };
    let fut = async move {
        let engine = handoff.outbox.engine.current();
        let result = send(&engine.client, msg).await;
        drop(handoff);
        result
    };
    let mut fut = Box::pin(fut);
    match runtime::poll_on_engine(py, outbox.on_loop, fut.as_mut()) {
        Poll::Ready(result) => match result {
            Ok(()) => runtime::ready_none(py),
            Err(err) => runtime::fail(py, err),
        },
        Poll::Pending => runtime::resolve_guarded(py, fut, &outbox.lifeline),
    }
}

/// `await publish` past the outbox's limits: done once the drainer took message `seq`.
pub(crate) fn wait_for_room(py: Python<'_>, outbox: &Arc<Outbox>, seq: u64) -> PyResult<Py<PyAny>> {
    let waiter = outbox.clone();
    let fut = async move {
        waiter.taken_through(seq).await;
        Ok::<_, Error>(())
    };
    runtime::resolve_guarded(py, fut, &outbox.lifeline)
}

/// The drainer: takes the whole queue at a time and hands it to the engine in order.
async fn drain(outbox: Arc<Outbox>) {
    let mut handoff = Handoff {
        outbox: outbox.clone(),
        holding: None,
    };
    let mut failed = false;
    loop {
        let (batch, arena) = {
            let mut state = outbox.lock();
            if state.queue.is_empty() {
                break;
            }
            state.taken = state.accepted;
            handoff.holding = Some((state.accepted, std::mem::take(&mut state.queued_bytes)));
            (
                std::mem::take(&mut state.queue),
                state.arena.split().freeze(),
            )
        };
        // Publishers waiting for room may go on while this batch is written.
        outbox.progress.notify_waiters();
        let mut engine = outbox.engine.current();
        let mut offset = 0;
        let mut subject: Option<Subject> = None;
        for msg in batch {
            if failed {
                // The handler is gone (the client closed): nothing can be written.
                continue;
            }
            let payload = match msg.body {
                Body::InArena(len) => {
                    offset += len;
                    arena.slice(offset - len..offset)
                }
                Body::Own(bytes) => bytes,
            };
            let (reply, headers) = match msg.extra {
                Some(extra) => (extra.reply, extra.headers),
                None => (None, None),
            };
            if msg.subject.is_some() {
                subject = msg.subject;
            }
            let direct = Direct {
                subject: subject.clone().expect("a batch starts with its subject"),
                reply,
                headers,
                payload,
            };
            match send(&engine.client, direct).await {
                Ok(()) => {}
                // The command channel closes only when the handler has exited: the client
                // closed, or the engine died and natsrs is putting a new one in place
                // (the rest of the batch goes to that one).
                Err(err) if err.kind == Kind::ConnectionClosed => {
                    let next = async {
                        match engine.ended().await {
                            Ending::Died(_) => {
                                outbox.engine.replaced(&engine).await;
                                true
                            }
                            _ => false,
                        }
                    };
                    match outbox.lifeline.run_until_cancelled(next).await {
                        Some(true) => engine = outbox.engine.current(),
                        _ => failed = true,
                    }
                }
                // Checked on the Python thread already; the server's limit can shrink
                // on a reconnect. The message is dropped, as the server would.
                Err(err) => {
                    tracing::warn!(target: "natsrs", "a queued publish was dropped: {err}");
                }
            }
        }
        handoff.settle();
    }
}
