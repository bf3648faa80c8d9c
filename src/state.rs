//! What a client's handles share: its `Lifecycle` (open, closing, closed; the events;
//! the last error) and `ClientInner` (the engine client, the outbox, the pool copy),
//! and the connection's state and counters as Python sees them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::Event;
use futures::future::BoxFuture;
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::args::{redact_url, PayloadArg};
use crate::callbacks::CallbackErrors;
use crate::engine::{Ending, Engine, EngineSlot, Fate};
use crate::error::{Error, Kind};
use crate::events::{EventData, EventHub, EventKind};
use crate::header::PyHeaderMap;
use crate::outbox::{self, Outbox, Publish, Pushed};
use crate::runtime;
use crate::subject;

/// How long a pool refresh waits for the engine's handler (it answers only when
/// connected).
const POOL_WAIT: Duration = Duration::from_secs(5);

/// What the client's owner and the engine's callbacks share about its life.
pub(crate) struct Lifecycle {
    closed: AtomicBool,
    /// Cancelled by `close()`: every operation still waiting fails or ends.
    pub(crate) lifeline: CancellationToken,
    /// Set once the engine's connection handler has exited.
    terminated: tokio::sync::watch::Sender<bool>,
    /// How many CONNECTED events the engine has sent.
    connects: tokio::sync::watch::Sender<u64>,
    pub(crate) callback_errors: Arc<CallbackErrors>,
    pub(crate) events: Arc<EventHub>,
    /// The CLOSED event went out (once, whichever way the handler ended).
    finished: AtomicBool,
    draining: AtomicBool,
    /// What the next DISCONNECTED follows: a reconnect the user asked for, or an error the
    /// server sent; without either (nor a close or drain) the connection was lost.
    reconnect_asked: AtomicBool,
    server_error_seen: AtomicBool,
    /// The last error event's error, and how many errors the server sent.
    last_error: Mutex<Option<Error>>,
    errors_received: AtomicU64,
    /// The client, once made, so a new connection can refresh its pool copy. Weak: the
    /// engine's handler holds this lifecycle, and a strong client here would keep the
    /// handler's command channel open forever.
    owner: OnceLock<Weak<ClientInner>>,
    /// The engine's connection task died and no new one is in place yet.
    engine_down: AtomicBool,
    /// Starts a fresh engine connection after one died (set by the connect flow, which
    /// knows how to connect); given the reason.
    recovery: OnceLock<Box<dyn Fn(String) + Send + Sync>>,
}

/// Owned by the engine's connection task (inside the reconnect-delay callback it
/// keeps), so it is dropped when that task ends, whichever way: a panic unwinding the
/// task drops it during the unwind. There is no other signal: the engine has no public
/// way to watch its task, and its connection state keeps saying CONNECTED after a panic.
pub(crate) struct HandlerGuard {
    life: Arc<Lifecycle>,
    fate: Fate,
    /// Set once the engine has connected: a connect that fails drops the guard too.
    armed: Arc<AtomicBool>,
}

impl HandlerGuard {
    pub(crate) fn new(life: &Arc<Lifecycle>, fate: &Fate) -> (Self, Arc<AtomicBool>) {
        let armed = Arc::new(AtomicBool::new(false));
        let guard = HandlerGuard {
            life: life.clone(),
            fate: fate.clone(),
            armed: armed.clone(),
        };
        (guard, armed)
    }
}

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        if !self.armed.load(Ordering::Acquire) {
            return;
        }
        // natsrs's own stop unwinds too, but only once the client is closed.
        let died = std::thread::panicking() && !self.life.is_closed();
        let ending = if died {
            let text = crate::supervise::take_panic_text()
                .unwrap_or_else(|| "the engine's connection task panicked".to_owned());
            Ending::Died(text)
        } else {
            Ending::Ended
        };
        self.fate.send_replace(ending.clone());
        self.life.handler_ended(ending);
    }
}

/// Unwinds the engine's connection handler task; see [`Lifecycle::stop_handler_if_closed`].
struct HandlerStopped;

impl Lifecycle {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Lifecycle {
            closed: AtomicBool::new(false),
            lifeline: CancellationToken::new(),
            terminated: tokio::sync::watch::channel(false).0,
            connects: tokio::sync::watch::channel(0).0,
            callback_errors: Arc::default(),
            events: Arc::default(),
            finished: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            reconnect_asked: AtomicBool::new(false),
            server_error_seen: AtomicBool::new(false),
            last_error: Mutex::new(None),
            errors_received: AtomicU64::new(0),
            owner: OnceLock::new(),
            engine_down: AtomicBool::new(false),
            recovery: OnceLock::new(),
        })
    }

    /// How a fresh engine connection is made after one died.
    pub(crate) fn set_recovery(&self, recovery: Box<dyn Fn(String) + Send + Sync>) {
        let _ = self.recovery.set(recovery);
    }

    /// Runs inside the engine task's drop (maybe during an unwind): records, wakes and
    /// spawns, nothing more.
    fn handler_ended(&self, ending: Ending) {
        if ending == Ending::Ended && crate::driven::runtime_ending() && !self.is_closed() {
            // The loop that ran this client's engine is gone (`runtime("loop")`).
            self.give_up();
        }
        if let Ending::Died(text) = ending {
            self.engine_down.store(true, Ordering::Release);
            if let Some(recover) = self.recovery.get() {
                recover(text);
            }
        }
        // Subscribers whose channel ended with the task look again, now that its fate
        // is known.
        if let Some(inner) = self.owner.get().and_then(Weak::upgrade) {
            inner.wake_subscribers();
        }
    }

    /// A new engine connection took over from a dead one.
    pub(crate) fn engine_back(&self) {
        self.engine_down.store(false, Ordering::Release);
    }

    pub(crate) fn is_engine_down(&self) -> bool {
        self.engine_down.load(Ordering::Acquire)
    }

    /// Reports an engine death as events: DISCONNECTED, then CLIENT_ERROR with its
    /// text; `last_error` is that error.
    pub(crate) fn report_death(&self, text: &str) {
        let err = Error::new(
            Kind::Connect,
            format!("the engine's connection task failed ({text}); reconnecting"),
        );
        self.events.emit(EventData::new(EventKind::Disconnected));
        *self.last_error.lock().expect("client lock") = Some(err.clone());
        self.events.emit(EventData {
            kind: EventKind::ClientError,
            error: Some(err),
        });
    }

    /// Ends the client after an engine death it cannot recover from.
    pub(crate) fn give_up(&self) {
        self.closed.store(true, Ordering::Release);
        self.lifeline.cancel();
        self.finish();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn check_open(&self) -> Result<(), Error> {
        if self.is_closed() {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    pub(crate) fn on_event(&self, event: Event) {
        match event {
            Event::Closed => self.finish(),
            Event::ClientError(async_nats::ClientError::MaxReconnects) => {
                // The engine gives up without a Closed event and leaves the state at
                // Disconnected; natsrs closes the client for real.
                *self.last_error.lock().expect("client lock") = Error::from_event(&event);
                self.events.emit(EventData::from_engine(&event));
                self.closed.store(true, Ordering::Release);
                self.lifeline.cancel();
                self.finish();
            }
            event => {
                match &event {
                    Event::Connected => {
                        self.connects.send_modify(|n| *n += 1);
                        self.refresh_pool_soon();
                    }
                    Event::DiscoveredServers => self.refresh_pool_soon(),
                    Event::Disconnected => {
                        // As nats-py: a new connection's errors start afresh.
                        *self.last_error.lock().expect("client lock") = None;
                        self.events.emit(self.disconnected());
                        return;
                    }
                    Event::Draining => self.draining.store(true, Ordering::Release),
                    Event::ServerError(_) => {
                        self.server_error_seen.store(true, Ordering::Release);
                        self.errors_received.fetch_add(1, Ordering::Relaxed);
                        *self.last_error.lock().expect("client lock") = Error::from_event(&event);
                    }
                    Event::ClientError(_) => {
                        *self.last_error.lock().expect("client lock") = Error::from_event(&event);
                    }
                    _ => {}
                }
                self.events.emit(EventData::from_engine(&event));
            }
        }
    }

    /// The DISCONNECTED event: with an `UnexpectedEOF` error when the connection was
    /// lost (nats-py's `error_cb` hears of it), not closed, drained or asked to reconnect,
    /// nor ended by the server after an error it sent.
    fn disconnected(&self) -> EventData {
        let asked = self.reconnect_asked.swap(false, Ordering::AcqRel);
        let after_server_error = self.server_error_seen.swap(false, Ordering::AcqRel);
        let ending = self.is_closed() || self.draining.load(Ordering::Acquire);
        let mut event = EventData::new(EventKind::Disconnected);
        if !(asked || after_server_error || ending) {
            event.error = Some(Error::new(Kind::UnexpectedEof, "nats: unexpected EOF"));
        }
        event
    }

    /// The user asked for a reconnect (`force_reconnect`): its DISCONNECTED is no loss.
    pub(crate) fn reconnect_asked(&self) {
        self.reconnect_asked.store(true, Ordering::Release);
    }

    /// A connection's INFO may have added servers to the engine's pool. Runs on the
    /// engine's event task, which must not wait for the handler: the read is a task.
    fn refresh_pool_soon(&self) {
        if let Some(inner) = self.owner.get().and_then(std::sync::Weak::upgrade) {
            tokio::spawn(async move { inner.refresh_pool().await });
        }
    }

    /// The handler is gone: report CLOSED once and end the event streams.
    pub(crate) fn finish(&self) {
        if !self.finished.swap(true, Ordering::AcqRel) {
            self.terminated.send_replace(true);
            self.events.emit(EventData::new(EventKind::Closed));
            self.events.close();
        }
    }

    /// The engine has no way to stop a handler that is reconnecting: it only exits when
    /// connected and every client handle is gone, or after `max_reconnects`. So the
    /// reconnect-delay callback, which the engine calls before every attempt, ends the
    /// handler task once the client is closed by unwinding it. `resume_unwind` skips the
    /// panic hook (nothing is printed) and tokio catches the unwind at the task
    /// boundary, dropping the handler and everything it owns.
    pub(crate) fn stop_handler_if_closed(&self) {
        if self.is_closed() {
            self.finish();
            std::panic::resume_unwind(Box::new(HandlerStopped));
        }
    }

    /// Marks the client closed; says whether it was already.
    pub(crate) fn mark_closed(&self) -> bool {
        self.closed.swap(true, Ordering::AcqRel)
    }

    /// The engine's connection handler has exited.
    pub(crate) fn is_terminated(&self) -> bool {
        *self.terminated.borrow()
    }

    /// `drain()` was called: the client reports draining from then until CLOSED.
    pub(crate) fn mark_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Waits (up to `limit`) until the engine's first CONNECTED event has gone through
    /// [`Lifecycle::on_event`], so that `connect()` returns after it: an `events()`
    /// iterator made then never sees the connection it was made on.
    pub(crate) async fn wait_first_connect(&self, limit: Duration) {
        let mut rx = self.connects.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|n| *n > 0)).await;
    }

    /// Draining, and not finished yet.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire) && !self.finished.load(Ordering::Acquire)
    }

    /// The error of the last error event (server or client).
    pub(crate) fn last_error(&self) -> Option<Error> {
        self.last_error.lock().expect("client lock").clone()
    }

    /// How many errors the server sent.
    pub(crate) fn errors_received(&self) -> u64 {
        self.errors_received.load(Ordering::Relaxed)
    }

    pub(crate) async fn wait_terminated(&self, limit: Duration) {
        let mut rx = self.terminated.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|done| *done)).await;
    }
}

/// Nothing can use the client any more (its `Client`, subscribers and messages are all
/// gone) but its engine connection may still be up, or reconnecting, which the engine
/// would do forever: closed, the engine's handler stops at its next attempt.
impl Drop for ClientInner {
    fn drop(&mut self) {
        self.life.mark_closed();
        self.life.lifeline.cancel();
    }
}

/// A subscription as the client sees it, for moving it to a new engine connection.
pub(crate) trait Subscription: Send + Sync {
    /// Subscribes again on `client` and carries on there.
    fn reattach(self: Arc<Self>, client: async_nats::Client) -> BoxFuture<'static, ()>;
    /// Makes a waiter look again at its subscription.
    fn wake(&self);
}

/// How long `close()`/`drain()` wait for the engine's handler to flush and exit.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// State shared by a client, its subscribers, messages and in-flight operations.
pub(crate) struct ClientInner {
    /// The engine connection in use (replaced if its task dies).
    pub(crate) engine: EngineSlot,
    pub(crate) life: Arc<Lifecycle>,
    pub(crate) skip_subject_validation: bool,
    pub(crate) subscription_capacity: usize,
    /// nats-py's `error_cb`: where callback subscriptions report their errors.
    error_callback: Mutex<Option<Py<PyAny>>>,
    /// Publishes on their way to the engine.
    pub(crate) outbox: Arc<Outbox>,
    /// Payload bytes published, and received by this client's subscriptions and
    /// requests: nats-py's `stats` bytes (the engine counts bytes on the wire).
    payload_sent: AtomicU64,
    payload_received: AtomicU64,
    /// The counters of engines that died, so the client's carry on across them.
    earlier: Mutex<PyStatistics>,
    /// Live subscriptions, to move to a new engine connection.
    subscriptions: Mutex<Vec<Weak<dyn Subscription>>>,
    /// The engine's server pool as last read, for the synchronous `servers` and
    /// `connected_url`: the engine answers pool queries only through its handler, which
    /// is busy exactly while reconnecting. The pool changes only when a connection is
    /// made (its INFO announces servers) or `set_server_pool` replaces it, and is read
    /// again after each.
    pool: Mutex<Vec<async_nats::Server>>,
}

impl ClientInner {
    pub(crate) fn new(
        client: async_nats::Client,
        fate: Fate,
        life: Arc<Lifecycle>,
        skip_subject_validation: bool,
        subscription_capacity: usize,
        pool: Vec<async_nats::Server>,
        on_loop: bool,
    ) -> Arc<Self> {
        let engine = EngineSlot::new(Engine::new(client, fate));
        let inner = Arc::new(ClientInner {
            outbox: Outbox::new(engine.clone(), life.lifeline.clone(), on_loop),
            engine,
            life,
            skip_subject_validation,
            subscription_capacity,
            error_callback: Mutex::new(None),
            payload_sent: AtomicU64::new(0),
            payload_received: AtomicU64::new(0),
            earlier: Mutex::new(PyStatistics::default()),
            subscriptions: Mutex::new(Vec::new()),
            pool: Mutex::new(pool),
        });
        let _ = inner.life.owner.set(Arc::downgrade(&inner));
        if inner.pool.lock().expect("client lock").is_empty() {
            // A CONNECTED event may have come before the owner was set.
            let refresh = inner.clone();
            runtime::runtime().spawn(async move { refresh.refresh_pool().await });
        }
        inner
    }

    /// The engine client now (no `await` while it is held).
    pub(crate) fn client(&self) -> impl std::ops::Deref<Target = async_nats::Client> + '_ {
        struct ClientOf(arc_swap::Guard<Arc<Engine>>);
        impl std::ops::Deref for ClientOf {
            type Target = async_nats::Client;
            fn deref(&self) -> &async_nats::Client {
                &self.0.client
            }
        }
        ClientOf(self.engine.now())
    }

    pub(crate) fn register(&self, subscription: Weak<dyn Subscription>) {
        let mut subscriptions = self.subscriptions.lock().expect("client lock");
        subscriptions.retain(|s| s.strong_count() > 0);
        subscriptions.push(subscription);
    }

    fn live_subscriptions(&self) -> Vec<Arc<dyn Subscription>> {
        let subscriptions = self.subscriptions.lock().expect("client lock");
        subscriptions.iter().filter_map(Weak::upgrade).collect()
    }

    fn wake_subscribers(&self) {
        for subscription in self.live_subscriptions() {
            subscription.wake();
        }
    }

    /// Puts a new engine connection in place of a dead one: every live subscription
    /// subscribes again on it first, then publishes, requests and flushes go to it.
    pub(crate) async fn take_over(&self, client: async_nats::Client, fate: Fate) {
        for subscription in self.live_subscriptions() {
            subscription.reattach(client.clone()).await;
        }
        let old = self.engine.replace(Engine::new(client, fate));
        let mut earlier = self.earlier.lock().expect("client lock");
        *earlier = earlier.plus(&old.client.statistics());
        drop(earlier);
        self.life.engine_back();
        self.wake_subscribers();
    }

    pub(crate) async fn refresh_pool(&self) {
        let client = self.client().clone();
        let read = tokio::time::timeout(POOL_WAIT, client.server_pool());
        let read = self.life.lifeline.run_until_cancelled(read).await;
        if let Some(Ok(Ok(pool))) = read {
            *self.pool.lock().expect("client lock") = pool;
        }
    }

    /// The pool entry of the server connected to, with credentials redacted. Matched on
    /// the port the server announces, then its host (which may be a wildcard address);
    /// a server the pool does not know yet is shown as its announced host and port.
    pub(crate) fn connected_url(&self) -> Option<String> {
        if self.connection_state() != PyConnectionState::CONNECTED {
            return None;
        }
        let info = self.client().try_server_info()?;
        let pool = self.pool.lock().expect("client lock");
        let same_port: Vec<&async_nats::Server> =
            pool.iter().filter(|s| s.addr.port() == info.port).collect();
        let best = same_port
            .iter()
            .find(|s| s.addr.host() == info.host)
            .or(same_port.first());
        Some(match best {
            Some(server) => redact_url(server.addr.as_url_str()),
            None => format!("nats://{}:{}", info.host, info.port),
        })
    }

    pub(crate) fn pool_copy(&self) -> Vec<async_nats::Server> {
        self.pool.lock().expect("client lock").clone()
    }

    pub(crate) fn pool_urls(&self, discovered_only: bool) -> Vec<String> {
        let pool = self.pool.lock().expect("client lock");
        pool.iter()
            .filter(|s| s.is_discovered || !discovered_only)
            .map(|s| redact_url(s.addr.as_url_str()))
            .collect()
    }

    pub(crate) fn error_callback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.error_callback
            .lock()
            .expect("client lock")
            .as_ref()
            .map(|cb| cb.clone_ref(py))
    }

    pub(crate) fn set_error_callback(&self, callback: Option<Py<PyAny>>) {
        *self.error_callback.lock().expect("client lock") = callback;
    }

    /// The engines' counters: every engine this client had.
    pub(crate) fn statistics(&self) -> PyStatistics {
        self.earlier
            .lock()
            .expect("client lock")
            .plus(&self.client().statistics())
    }

    /// The rest of `close()` and `drain()`, once the client is marked closed: flush what
    /// the outbox holds, end the engine's handler with its drain (its only way to end a
    /// connected handler: flush, unsubscribe all, close the socket), and wait for it to
    /// exit and for the event callback to see CLOSED (unless called from inside it).
    pub(crate) async fn shut_down(self: Arc<Self>, wait_for_callback: bool) -> Result<(), Error> {
        let engine = self.engine.current();
        if engine.ending() != Ending::Running || engine.task_exited() {
            // The engine's task died and none took over: nothing is left to stop.
            self.life.finish();
            if wait_for_callback {
                self.life.events.wait_callback_done(CLOSE_WAIT).await;
            }
            return Ok(());
        }
        // The client counts as closed already; the engine's own state says whether
        // there is a connection to flush and close.
        let connected =
            engine.client.connection_state() == async_nats::connection::State::Connected;
        if connected {
            // Publishes still in the outbox go out first, as nats-py flushes its
            // buffer on close; a dead connection would only hold the close up.
            let _ = tokio::time::timeout(CLOSE_WAIT, outbox::publishes_sent(&self.outbox)).await;
        }
        // Fails only if the handler is already gone, which is what we want.
        let _ = engine.client.drain().await;
        if connected {
            self.life.wait_terminated(CLOSE_WAIT).await;
        }
        if wait_for_callback && self.life.is_terminated() {
            self.life.events.wait_callback_done(CLOSE_WAIT).await;
        }
        // A disconnected handler never reads the drain command; the reconnect-delay
        // callback stops it before its next attempt (Lifecycle::stop_handler_if_closed).
        // After a drain the lifeline stays: subscribers still yield what was
        // delivered to them before the connection closed, then end.
        Ok(())
    }

    pub(crate) fn payload_sent(&self, bytes: usize) {
        self.payload_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// `request` sent to `subject` once the publishes queued before it are out (a
    /// request never overtakes them), answered by the first reply. `sent` is its payload
    /// size, for the statistics.
    pub(crate) fn send_request(
        self: &Arc<Self>,
        subject: String,
        request: async_nats::Request,
        sent: usize,
    ) -> impl std::future::Future<Output = Result<async_nats::Message, Error>> + Send + 'static
    {
        let inner = self.clone();
        let ordered = outbox::publishes_sent(&self.outbox);
        async move {
            ordered.await;
            let engine = inner.engine.current();
            inner.payload_sent(sent);
            match engine.client.send_request(subject, request).await {
                Ok(msg) => {
                    inner.payload_received(msg.payload.len());
                    Ok(msg)
                }
                Err(_) if inner.life.is_closed() => Err(Error::closed()),
                Err(err) => Err(Error::from(err)),
            }
        }
    }

    pub(crate) fn payload_received(&self, bytes: usize) {
        self.payload_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Payload bytes (sent, received), as nats-py's `stats` counts them.
    pub(crate) fn payload_bytes(&self) -> (u64, u64) {
        (
            self.payload_sent.load(Ordering::Relaxed),
            self.payload_received.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn connection_state(&self) -> PyConnectionState {
        if self.life.is_closed() {
            return PyConnectionState::CLOSED;
        }
        if self.life.is_engine_down() {
            return PyConnectionState::DISCONNECTED;
        }
        match self.client().connection_state() {
            State::Pending => PyConnectionState::PENDING,
            State::Connected => PyConnectionState::CONNECTED,
            State::Disconnected => PyConnectionState::DISCONNECTED,
        }
    }

    /// The engine's `max_payload` check, made on the calling thread because the engine
    /// sees an outbox message only later, on the drainer's thread.
    pub(crate) fn check_size(&self, size: usize) -> Result<(), Error> {
        let max_payload = self.client().max_payload();
        if size > max_payload {
            return Err(Error::new(
                Kind::MaxPayload,
                format!(
                    "failed to publish message: payload size limit of {max_payload} \
                     exceeded by message size of {size}"
                ),
            ));
        }
        Ok(())
    }

    /// Publish with every check natsrs adds to the engine's, through the outbox.
    pub(crate) fn publish(
        self: &Arc<Self>,
        py: Python<'_>,
        subject: &str,
        payload: PayloadArg<'_>,
        reply: Option<&str>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        // Everything else a fork child calls fails on its way to the runtime; a publish
        // could be queued and lost without this one load.
        runtime::check_not_forked()?;
        let headers = match headers.filter(|h| !h.is_none()) {
            Some(h) => Some(PyHeaderMap::from_py(h)?),
            None => None,
        };
        let checked = (|| {
            self.life.check_open()?;
            if let Some(reply) = reply {
                subject::check_publish(reply, self.skip_subject_validation)?;
            }
            self.check_size(payload.len() + headers.as_ref().map_or(0, PyHeaderMap::wire_len))
        })();
        if let Err(err) = checked {
            return runtime::fail(py, err);
        }
        let size = payload.len();
        let msg = Publish {
            subject,
            reply,
            headers: headers.map(|h| h.to_engine()),
            payload,
        };
        let pushed = self.outbox.push(msg, self.skip_subject_validation, true);
        if pushed.is_ok() {
            self.payload_sent(size);
        }
        match pushed {
            Ok(Pushed::Done) => runtime::ready_none(py),
            Ok(Pushed::Full(seq)) => outbox::wait_for_room(py, &self.outbox, seq),
            Ok(Pushed::Direct(seq, msg)) => outbox::publish_direct(py, &self.outbox, seq, msg),
            Err(err) => runtime::fail(py, err),
        }
    }
}

#[pyclass(
    name = "ConnectionState",
    module = "natsrs",
    eq,
    eq_int,
    frozen,
    skip_from_py_object
)]
#[derive(Clone, Copy, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
pub(crate) enum PyConnectionState {
    PENDING = 0,
    CONNECTED = 1,
    DISCONNECTED = 2,
    CLOSED = 3,
}
#[pyclass(
    name = "Statistics",
    module = "natsrs",
    frozen,
    get_all,
    skip_from_py_object
)]
#[derive(Clone, Default)]
pub(crate) struct PyStatistics {
    pub(crate) in_bytes: u64,
    pub(crate) out_bytes: u64,
    pub(crate) in_messages: u64,
    pub(crate) out_messages: u64,
    pub(crate) connects: u64,
}

impl PyStatistics {
    /// These counters plus an engine's.
    fn plus(&self, s: &async_nats::Statistics) -> PyStatistics {
        let load = |c: &portable_atomic::AtomicU64| c.load(Ordering::Relaxed);
        PyStatistics {
            in_bytes: self.in_bytes + load(&s.in_bytes),
            out_bytes: self.out_bytes + load(&s.out_bytes),
            in_messages: self.in_messages + load(&s.in_messages),
            out_messages: self.out_messages + load(&s.out_messages),
            connects: self.connects + load(&s.connects),
        }
    }
}

#[pymethods]
impl PyStatistics {
    fn __repr__(&self) -> String {
        format!(
            "Statistics(in_bytes={}, out_bytes={}, in_messages={}, out_messages={}, connects={})",
            self.in_bytes, self.out_bytes, self.in_messages, self.out_messages, self.connects
        )
    }
}
