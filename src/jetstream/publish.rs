//! JetStream publishing: a message sent to its stream and answered with a `PubAck`, and
//! the pipelined form whose acks are awaited later, with a bounded number in flight.
//!
//! `publish` is a request on the client's shared inbox (the engine's own JetStream
//! publish is the same request): queued behind the publishes before it, one round trip,
//! the answer parsed here rather than in Python. `publish_async` is an ordinary publish
//! through the client's outbox whose reply subject is one of the context's ack subjects;
//! one tokio task takes every ack from a single wildcard subscription and hands it to
//! the publish waiting for it. Per message that costs an outbox entry and a map slot,
//! not an engine request (a command, a timer and a multiplexer entry each).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use pyo3::prelude::*;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::args::{extract_capacity, extract_duration, Payload, PayloadArg};
use crate::error::{Error, Kind};
use crate::header::PyHeaderMap;
use crate::jetstream::pub_ack::{pub_ack, PyPubAck};
use crate::outbox::{self, Publish, Pushed};
use crate::runtime::{self, ToPy};
use crate::state::ClientInner;
use crate::subject;

/// The acks in flight of a context's pipelined publishes: one permit each, so the
/// semaphore alone says how many are pending.
struct InFlight {
    permits: Arc<Semaphore>,
    max: usize,
    /// Woken when the last pending ack arrives.
    idle: Notify,
}

impl InFlight {
    fn pending(&self) -> usize {
        self.max - self.permits.available_permits()
    }
}

/// One pipelined publish's place among the acks in flight, given back when its ack
/// arrives, fails, or is given up.
struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    in_flight: Arc<InFlight>,
}

impl Slot {
    fn new(permit: OwnedSemaphorePermit, in_flight: &Arc<InFlight>) -> Self {
        Slot {
            permit: Some(permit),
            in_flight: in_flight.clone(),
        }
    }
}

/// A pipelined publish's ack on the request path (no ack router): it holds its slot
/// until the answer, and ends with `ConnectionClosedError` when the client closes.
async fn requested_ack(
    slot: Slot,
    ack: impl std::future::Future<Output = Result<PyPubAck, Error>>,
    lifeline: CancellationToken,
) -> Result<PyPubAck, Error> {
    let _slot = slot;
    tokio::select! {
        biased;
        result = ack => result,
        () = lifeline.cancelled() => Err(Error::closed()),
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.permit.take());
        if self.in_flight.pending() == 0 {
            self.in_flight.idle.notify_waiters();
        }
    }
}

/// Where the acks of pipelined publishes arrive: one wildcard subscription on
/// `<prefix>*` per context, each publish replying to `<prefix><token>`. A publish is then
/// an ordinary publish through the client's outbox, not an engine request per message,
/// and one tokio task routes every ack to the publish waiting for it.
struct AckRouter {
    prefix: String,
    next_token: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<async_nats::Message>>>,
    /// Ends the routing task when the context is dropped.
    stop: CancellationToken,
}

impl AckRouter {
    fn register(&self) -> (u64, oneshot::Receiver<async_nats::Message>) {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(token, tx);
        (token, rx)
    }

    fn forget(&self, token: u64) {
        self.lock().remove(&token);
    }

    fn deliver(&self, msg: async_nats::Message) {
        let token = msg
            .subject
            .as_str()
            .strip_prefix(self.prefix.as_str())
            .and_then(|t| t.parse::<u64>().ok());
        if let Some(waiter) = token.and_then(|t| self.lock().remove(&t)) {
            // The publish may have given up (timeout, cancelled): nothing to do then.
            let _ = waiter.send(msg);
        }
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<async_nats::Message>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A publish's claim on its ack: dropped (ack received, timed out, cancelled), the
/// router forgets it.
struct AckClaim {
    router: Arc<AckRouter>,
    token: u64,
}

impl Drop for AckClaim {
    fn drop(&mut self) {
        self.router.forget(self.token);
    }
}

/// Routes acks until the context is dropped or the client closed. The subscription
/// ends when natsrs replaces a dead engine connection; it is made again on the new one
/// (acks that arrived meanwhile are lost, and their publishes time out).
async fn route_acks(
    inner: Arc<ClientInner>,
    router: Arc<AckRouter>,
    mut sub: async_nats::Subscriber,
) {
    let subject = format!("{}*", router.prefix);
    loop {
        tokio::select! {
            biased;
            () = router.stop.cancelled() => return,
            () = inner.life.lifeline.cancelled() => return,
            msg = sub.next() => match msg {
                Some(msg) => {
                    inner.payload_received(msg.payload.len());
                    router.deliver(msg);
                }
                None => loop {
                    if inner.life.is_closed() || router.stop.is_cancelled() {
                        return;
                    }
                    let engine = inner.engine.current();
                    if let Ok(again) = engine.client.subscribe(subject.clone()).await {
                        sub = again;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                },
            },
        }
    }
}

/// The Rust half of `natsrs.js.JetStreamContext`: its publishes.
#[pyclass(name = "_JetStream", module = "natsrs._natsrs", frozen)]
pub(crate) struct PyJetStream {
    inner: Arc<ClientInner>,
    /// For a publish given no `timeout`.
    timeout: Duration,
    in_flight: Arc<InFlight>,
    /// Made on the first `publish_async`.
    router: OnceLock<Arc<AckRouter>>,
}

impl Drop for PyJetStream {
    fn drop(&mut self) {
        if let Some(router) = self.router.get() {
            router.stop.cancel();
        }
    }
}

/// A JetStream publish, checked and ready to send.
struct Outgoing {
    subject: String,
    payload: Payload,
    headers: Option<PyHeaderMap>,
    timeout: Duration,
}

impl PyJetStream {
    pub(crate) fn new(
        inner: Arc<ClientInner>,
        timeout: &Bound<'_, PyAny>,
        max_pending: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let max = extract_capacity(max_pending, "publish_async_max_pending")?;
        Ok(PyJetStream {
            inner,
            timeout: extract_duration(timeout, "timeout", false)?,
            in_flight: Arc::new(InFlight {
                permits: Arc::new(Semaphore::new(max)),
                max,
                idle: Notify::new(),
            }),
            router: OnceLock::new(),
        })
    }

    /// The ack router, subscribed on first use. `None` if the subscription could not be
    /// made at once (the engine's command channel is full): that publish then takes the
    /// request path.
    fn router(&self) -> Option<Arc<AckRouter>> {
        if let Some(router) = self.router.get() {
            return Some(router.clone());
        }
        let engine = self.inner.engine.current();
        let prefix = format!("{}.", engine.client.new_inbox());
        let mut subscribing = Box::pin(engine.client.subscribe(format!("{prefix}*")));
        // Polled here so the SUB is in the engine's channel before any publish behind it.
        let std::task::Poll::Ready(Ok(sub)) = runtime::poll_here(subscribing.as_mut()) else {
            return None;
        };
        let router = Arc::new(AckRouter {
            prefix,
            next_token: AtomicU64::new(0),
            waiting: Mutex::new(HashMap::new()),
            stop: CancellationToken::new(),
        });
        if self.router.set(router.clone()).is_err() {
            // Another thread made one first; this subscription ends with its task.
            router.stop.cancel();
        }
        let router = self.router.get().expect("just set").clone();
        let _guard = runtime::runtime().enter();
        runtime::runtime().spawn(route_acks(self.inner.clone(), router.clone(), sub));
        Some(router)
    }

    /// [`route`] on the calling thread: resolves to the ack awaitable once the outbox
    /// took the message.
    fn publish_routed(
        &self,
        py: Python<'_>,
        router: Arc<AckRouter>,
        slot: Slot,
        outgoing: Outgoing,
    ) -> PyResult<Py<PyAny>> {
        let inner = &self.inner;
        let (pushed, ack) = match route(inner, router, slot, outgoing, true) {
            Ok(routed) => routed,
            Err(err) => return runtime::fail(py, err),
        };
        match pushed {
            Pushed::Done => runtime::ready(py, runtime::spawn_deferred(py, ack)?),
            Pushed::Direct(seq, direct) => {
                // Sent now or by a task; its failure shows as the ack's.
                drop(outbox::publish_direct(py, &inner.outbox, seq, direct)?);
                runtime::ready(py, runtime::spawn_deferred(py, ack)?)
            }
            Pushed::Full(seq) => {
                let outbox = inner.outbox.clone();
                let wait = async move {
                    outbox.taken_through(seq).await;
                    Ok(Queued(Box::pin(ack)))
                };
                runtime::resolve_guarded(py, wait, &inner.life.lifeline)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn outgoing(
        &self,
        subject: String,
        payload: Payload,
        timeout: Option<&Bound<'_, PyAny>>,
        stream: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
        msg_ttl: Option<&Bound<'_, PyAny>>,
        msg_id: Option<String>,
        expected_last_sequence: Option<u64>,
        expected_last_subject_sequence: Option<u64>,
        expected_last_msg_id: Option<String>,
    ) -> PyResult<Result<Outgoing, Error>> {
        let mut map = match headers.filter(|h| !h.is_none()) {
            Some(h) => Some(PyHeaderMap::from_py(h)?),
            None => None,
        };
        let timeout = match timeout.filter(|t| !t.is_none()) {
            Some(t) => extract_duration(t, "timeout", false)?,
            None => self.timeout,
        };
        let ttl = match msg_ttl.filter(|t| !t.is_none()) {
            Some(t) => Some(ttl_header(extract_duration(t, "msg_ttl", false)?)),
            None => None,
        };
        let checked = (|| {
            self.inner.life.check_open()?;
            subject::check(&subject)?;
            let extra = [
                ("Nats-Expected-Stream", stream),
                ("Nats-TTL", ttl),
                ("Nats-Msg-Id", msg_id),
                (
                    "Nats-Expected-Last-Sequence",
                    expected_last_sequence.map(|s| s.to_string()),
                ),
                (
                    "Nats-Expected-Last-Subject-Sequence",
                    expected_last_subject_sequence.map(|s| s.to_string()),
                ),
                ("Nats-Expected-Last-Msg-Id", expected_last_msg_id),
            ];
            for (name, value) in extra {
                if let Some(value) = value {
                    map.get_or_insert_with(PyHeaderMap::default)
                        .push(name.to_owned(), value)?;
                }
            }
            Ok(())
        })();
        Ok(checked.map(|()| Outgoing {
            subject,
            payload,
            headers: map,
            timeout,
        }))
    }

    /// The round trip of `outgoing`, ending in its `PubAck`.
    fn send(
        &self,
        outgoing: Outgoing,
    ) -> impl std::future::Future<Output = Result<PyPubAck, Error>> + Send + 'static {
        let sent = outgoing.payload.0.len();
        let mut request = async_nats::Request::new()
            .payload(outgoing.payload.0)
            .timeout(Some(outgoing.timeout));
        if let Some(headers) = &outgoing.headers {
            request = request.headers(headers.to_engine());
        }
        let subject = outgoing.subject;
        let reply = self.inner.send_request(subject.clone(), request, sent);
        async move {
            let msg = reply.await.map_err(|err| match err.kind {
                Kind::NoResponders => no_stream(&subject),
                _ => err,
            })?;
            pub_ack(&msg.payload)
        }
    }
}

/// A place among the acks in flight, waiting at most `wait_stall`.
async fn acquire(
    permits: &Arc<Semaphore>,
    wait_stall: Option<Duration>,
) -> Result<OwnedSemaphorePermit, Error> {
    let acquire = permits.clone().acquire_owned();
    match wait_stall {
        Some(limit) => tokio::time::timeout(limit, acquire)
            .await
            .map_err(|_| stalled())?,
        None => acquire.await,
    }
    .map_err(|_| Error::closed())
}

fn stalled() -> Error {
    Error::new(
        Kind::TooManyStalledMsgs,
        "too many acks in flight for publish_async",
    )
}

/// A pipelined publish pushed into the outbox with its reply on `router`: what the
/// outbox said, and the ack's future. Needs no interpreter, so a publish that waited for
/// room among the acks in flight is pushed from the tokio task that waited.
fn route(
    inner: &Arc<ClientInner>,
    router: Arc<AckRouter>,
    slot: Slot,
    outgoing: Outgoing,
    allow_direct: bool,
) -> Result<
    (
        Pushed,
        impl std::future::Future<Output = Result<PyPubAck, Error>> + Send + 'static,
    ),
    Error,
> {
    let (token, arrived) = router.register();
    let claim = AckClaim { router, token };
    let reply = format!("{}{}", claim.router.prefix, token);
    let size = outgoing.payload.0.len();
    let headers = outgoing.headers.as_ref();
    inner.check_size(size + headers.map_or(0, PyHeaderMap::wire_len))?;
    let msg = Publish {
        subject: &outgoing.subject,
        reply: Some(&reply),
        headers: headers.map(PyHeaderMap::to_engine),
        payload: PayloadArg::Owned(outgoing.payload.0),
    };
    let pushed = inner
        .outbox
        .push(msg, inner.skip_subject_validation, allow_direct)?;
    inner.payload_sent(size);
    let subject = outgoing.subject;
    let limit = outgoing.timeout;
    let lifeline = inner.life.lifeline.clone();
    let ack = async move {
        let _slot = slot;
        let _claim = claim;
        let msg = tokio::select! {
            biased;
            answer = tokio::time::timeout(limit, arrived) => match answer {
                Ok(Ok(msg)) => msg,
                Ok(Err(_)) => return Err(Error::closed()),
                Err(_) => {
                    return Err(Error::new(
                        Kind::Timeout,
                        "nats: timeout waiting for the JetStream ack",
                    ))
                }
            },
            () = lifeline.cancelled() => return Err(Error::closed()),
        };
        if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
            return Err(no_stream(&subject));
        }
        pub_ack(&msg.payload)
    };
    Ok((pushed, ack))
}

fn no_stream(subject: &str) -> Error {
    Error::new(
        Kind::NoStreamResponse,
        format!("no stream takes messages on {subject:?}"),
    )
}

/// The `Nats-TTL` value: whole seconds as the server's plain number, else a duration.
fn ttl_header(ttl: Duration) -> String {
    if ttl.subsec_nanos() == 0 {
        ttl.as_secs().to_string()
    } else {
        format!("{}ms", ttl.as_millis().max(1))
    }
}

/// A pipelined publish that had to wait for room: it is sent once it has a slot, and
/// its ack awaitable is made on the loop thread.
struct Queued(std::pin::Pin<Box<dyn std::future::Future<Output = Result<PyPubAck, Error>> + Send>>);

impl ToPy for Queued {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        runtime::spawn(py, self.0)
    }
}

#[pymethods]
impl PyJetStream {
    /// Publish and wait for the stream's ack.
    #[pyo3(
        text_signature = "($self, subject, payload=b'', timeout=None, stream=None, headers=None, msg_ttl=None, *, msg_id=None, expected_last_sequence=None, expected_last_subject_sequence=None, expected_last_msg_id=None)"
    )]
    #[pyo3(signature = (subject, payload = Payload::default(), timeout = None, stream = None, headers = None, msg_ttl = None, *, msg_id = None, expected_last_sequence = None, expected_last_subject_sequence = None, expected_last_msg_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn publish(
        &self,
        py: Python<'_>,
        subject: String,
        payload: Payload,
        timeout: Option<&Bound<'_, PyAny>>,
        stream: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
        msg_ttl: Option<&Bound<'_, PyAny>>,
        msg_id: Option<String>,
        expected_last_sequence: Option<u64>,
        expected_last_subject_sequence: Option<u64>,
        expected_last_msg_id: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let outgoing = match self.outgoing(
            subject,
            payload,
            timeout,
            stream,
            headers,
            msg_ttl,
            msg_id,
            expected_last_sequence,
            expected_last_subject_sequence,
            expected_last_msg_id,
        )? {
            Ok(outgoing) => outgoing,
            Err(err) => return runtime::fail(py, err),
        };
        let ack = self.send(outgoing);
        runtime::resolve_guarded(py, ack, &self.inner.life.lifeline)
    }

    /// Publish without waiting for the ack: resolves (at once while fewer than
    /// `max_pending` acks are in flight, else when one arrives, or
    /// `TooManyStalledMsgsError` after `wait_stall`) to an awaitable of the `PubAck`.
    #[pyo3(
        text_signature = "($self, subject, payload=b'', wait_stall=None, stream=None, headers=None, msg_ttl=None, *, msg_id=None, expected_last_sequence=None, expected_last_subject_sequence=None, expected_last_msg_id=None)"
    )]
    #[pyo3(signature = (subject, payload = Payload::default(), wait_stall = None, stream = None, headers = None, msg_ttl = None, *, msg_id = None, expected_last_sequence = None, expected_last_subject_sequence = None, expected_last_msg_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn publish_async(
        &self,
        py: Python<'_>,
        subject: String,
        payload: Payload,
        wait_stall: Option<&Bound<'_, PyAny>>,
        stream: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
        msg_ttl: Option<&Bound<'_, PyAny>>,
        msg_id: Option<String>,
        expected_last_sequence: Option<u64>,
        expected_last_subject_sequence: Option<u64>,
        expected_last_msg_id: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let wait_stall = match wait_stall.filter(|t| !t.is_none()) {
            Some(t) => Some(extract_duration(t, "wait_stall", true)?),
            None => None,
        };
        let outgoing = match self.outgoing(
            subject,
            payload,
            None,
            stream,
            headers,
            msg_ttl,
            msg_id,
            expected_last_sequence,
            expected_last_subject_sequence,
            expected_last_msg_id,
        )? {
            Ok(outgoing) => outgoing,
            Err(err) => return runtime::fail(py, err),
        };
        let lifeline = self.inner.life.lifeline.clone();
        if let Ok(permit) = self.in_flight.permits.clone().try_acquire_owned() {
            let slot = Slot::new(permit, &self.in_flight);
            if let Some(router) = self.router() {
                return self.publish_routed(py, router, slot, outgoing);
            }
            let ack = runtime::spawn(py, requested_ack(slot, self.send(outgoing), lifeline))?;
            return runtime::ready(py, ack);
        }
        if wait_stall == Some(Duration::ZERO) {
            return runtime::fail(py, stalled());
        }
        let permits = self.in_flight.permits.clone();
        let in_flight = self.in_flight.clone();
        let Some(router) = self.router() else {
            // No router: wait for room, then the request path.
            let ack = self.send(outgoing);
            let wait = async move {
                let permit = acquire(&permits, wait_stall).await?;
                if lifeline.is_cancelled() {
                    return Err(Error::closed());
                }
                let slot = Slot::new(permit, &in_flight);
                Ok(Queued(Box::pin(requested_ack(slot, ack, lifeline))))
            };
            return runtime::resolve_guarded(py, wait, &self.inner.life.lifeline);
        };
        let inner = self.inner.clone();
        let wait = async move {
            let permit = acquire(&permits, wait_stall).await?;
            // The slot may be one a closing client's failed ack gave back.
            inner.life.check_open()?;
            let slot = Slot::new(permit, &in_flight);
            let (pushed, ack) = route(&inner, router, slot, outgoing, false)?;
            if let Pushed::Full(seq) = pushed {
                inner.outbox.taken_through(seq).await;
            }
            Ok(Queued(Box::pin(ack)))
        };
        runtime::resolve_guarded(py, wait, &self.inner.life.lifeline)
    }

    /// How many pipelined publishes wait for their ack.
    fn pending(&self) -> usize {
        self.in_flight.pending()
    }

    /// Resolves once no pipelined publish waits for its ack.
    fn completed(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let in_flight = self.in_flight.clone();
        let idle = async move {
            loop {
                let woken = in_flight.idle.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                if in_flight.pending() == 0 {
                    return Ok(());
                }
                woken.await;
            }
        };
        runtime::resolve_guarded(py, idle, &self.inner.life.lifeline)
    }
}
