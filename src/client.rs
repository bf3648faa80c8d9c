//! `natsrs.Client`: publish, request, subscribe, flush, drain and a real close.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::Event;
use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use tokio_util::sync::CancellationToken;

use crate::callbacks::CallbackErrors;
use crate::connector::PyServer;
use crate::error::{Error, Kind};
use crate::events::{EventData, EventHub, EventKind, PyEventStream};
use crate::header::PyHeaderMap;
use crate::message::PyMessage;
use crate::options::{extract_duration, redact_url, Settings};
use crate::outbox::{self, Outbox, PayloadArg, Publish, Pushed};
use crate::runtime::{self, ToPy};
use crate::subject;
use crate::subscriber::PySubscriber;

/// `flush()`'s default limit, nats-py's.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a pool refresh waits for the engine's handler (it answers only when
/// connected).
const POOL_WAIT: Duration = Duration::from_secs(5);

/// How long `close()`/`drain()` wait for the engine's handler to flush and exit.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// `bytes`, `bytearray` or `memoryview`; anything else is a `TypeError`.
pub(crate) struct Payload(pub(crate) Bytes);

impl Default for Payload {
    fn default() -> Self {
        Payload(Bytes::new())
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Payload {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Payload(PayloadArg::extract(obj)?.into_bytes()))
    }
}

/// What the client's owner and the engine's callbacks share about its life.
pub(crate) struct Lifecycle {
    closed: AtomicBool,
    /// Cancelled by `close()`: every operation still waiting fails or ends.
    pub(crate) lifeline: CancellationToken,
    /// Set once the engine's connection handler has exited.
    terminated: tokio::sync::watch::Sender<bool>,
    pub(crate) callback_errors: Arc<CallbackErrors>,
    pub(crate) events: Arc<EventHub>,
    /// The CLOSED event went out (once, whichever way the handler ended).
    finished: AtomicBool,
    draining: AtomicBool,
    /// The last error event's text, and how many errors the server sent.
    last_error: std::sync::Mutex<Option<String>>,
    errors_received: std::sync::atomic::AtomicU64,
    /// The client, once made, so a new connection can refresh its pool copy. Weak: the
    /// engine's handler holds this lifecycle, and a strong client here would keep the
    /// handler's command channel open forever.
    owner: std::sync::OnceLock<std::sync::Weak<ClientInner>>,
}

/// Unwinds the engine's connection handler task; see [`Lifecycle::stop_handler_if_closed`].
struct HandlerStopped;

impl Lifecycle {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Lifecycle {
            closed: AtomicBool::new(false),
            lifeline: CancellationToken::new(),
            terminated: tokio::sync::watch::channel(false).0,
            callback_errors: Arc::default(),
            events: Arc::default(),
            finished: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            last_error: std::sync::Mutex::new(None),
            errors_received: std::sync::atomic::AtomicU64::new(0),
            owner: std::sync::OnceLock::new(),
        })
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
                self.events.emit(EventData::from_engine(&event));
                self.closed.store(true, Ordering::Release);
                self.lifeline.cancel();
                self.finish();
            }
            event => {
                match &event {
                    Event::Connected => self.refresh_pool_soon(),
                    Event::Draining => self.draining.store(true, Ordering::Release),
                    Event::ServerError(err) => {
                        self.errors_received.fetch_add(1, Ordering::Relaxed);
                        *self.last_error.lock().expect("client lock") = Some(err.to_string());
                    }
                    Event::ClientError(err) => {
                        *self.last_error.lock().expect("client lock") = Some(err.to_string());
                    }
                    _ => {}
                }
                self.events.emit(EventData::from_engine(&event));
            }
        }
    }

    /// A connection's INFO may have added servers to the engine's pool. Runs on the
    /// engine's event task, which must not wait for the handler: the read is a task.
    fn refresh_pool_soon(&self) {
        if let Some(inner) = self.owner.get().and_then(std::sync::Weak::upgrade) {
            tokio::spawn(async move { inner.refresh_pool().await });
        }
    }

    /// The handler is gone: report CLOSED once and end the event streams.
    fn finish(&self) {
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

    async fn wait_terminated(&self, limit: Duration) {
        let mut rx = self.terminated.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|done| *done)).await;
    }
}

/// State shared by a client, its subscribers, messages and in-flight operations.
pub(crate) struct ClientInner {
    pub(crate) client: async_nats::Client,
    pub(crate) life: Arc<Lifecycle>,
    pub(crate) skip_subject_validation: bool,
    pub(crate) subscription_capacity: usize,
    /// nats-py's `error_cb`: where callback subscriptions report their errors.
    error_callback: std::sync::Mutex<Option<Py<PyAny>>>,
    /// Publishes on their way to the engine.
    pub(crate) outbox: Outbox,
    /// The engine's server pool as last read, for the synchronous `servers` and
    /// `connected_url`: the engine answers pool queries only through its handler, which
    /// is busy exactly while reconnecting. The pool changes only when a connection is
    /// made (its INFO announces servers) or `set_server_pool` replaces it, and is read
    /// again after each.
    pool: std::sync::Mutex<Vec<async_nats::Server>>,
}

impl ClientInner {
    async fn refresh_pool(&self) {
        let read = tokio::time::timeout(POOL_WAIT, self.client.server_pool());
        let read = self.life.lifeline.run_until_cancelled(read).await;
        if let Some(Ok(Ok(pool))) = read {
            *self.pool.lock().expect("client lock") = pool;
        }
    }

    /// The pool entry of the server connected to, with credentials redacted. Matched on
    /// the port the server announces, then its host (which may be a wildcard address);
    /// a server the pool does not know yet is shown as its announced host and port.
    fn connected_url(&self) -> Option<String> {
        if self.life.is_closed() || self.client.connection_state() != State::Connected {
            return None;
        }
        let info = self.client.try_server_info()?;
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

    fn pool_urls(&self, discovered_only: bool) -> Vec<String> {
        let pool = self.pool.lock().expect("client lock");
        pool.iter()
            .filter(|s| s.is_discovered || !discovered_only)
            .map(|s| redact_url(s.addr.as_url_str()))
            .collect()
    }

    fn error_callback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.error_callback
            .lock()
            .expect("client lock")
            .as_ref()
            .map(|cb| cb.clone_ref(py))
    }

    /// The engine's `max_payload` check, made on the calling thread because the engine
    /// sees an outbox message only later, on the drainer's thread.
    fn check_size(&self, size: usize) -> Result<(), Error> {
        let max_payload = self.client.max_payload();
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
            return runtime::failed(py, err.into_pyerr(py));
        }
        let msg = Publish {
            subject,
            reply,
            headers: headers.map(|h| h.to_engine()),
            payload,
        };
        match self
            .outbox
            .push(self, msg, self.skip_subject_validation, true)
        {
            Ok(Pushed::Done) => runtime::ready_none(py),
            Ok(Pushed::Full(seq)) => outbox::wait_for_room(py, self, seq),
            Ok(Pushed::Direct(seq, msg)) => outbox::publish_direct(py, self, seq, msg),
            Err(err) => runtime::failed(py, err.into_pyerr(py)),
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

#[pyclass(name = "ServerInfo", module = "natsrs", frozen, get_all)]
pub(crate) struct PyServerInfo {
    server_id: String,
    server_name: String,
    host: String,
    port: u16,
    version: String,
    auth_required: bool,
    tls_required: bool,
    max_payload: usize,
    proto: i8,
    client_id: u64,
    go: String,
    nonce: String,
    connect_urls: Vec<String>,
    client_ip: String,
    headers: bool,
    lame_duck_mode: bool,
    cluster: Option<String>,
    domain: Option<String>,
    jetstream: bool,
}

#[pymethods]
impl PyServerInfo {
    fn __repr__(&self) -> String {
        format!(
            "ServerInfo(server_id={:?}, server_name={:?}, host={:?}, port={}, version={:?}, \
             max_payload={}, client_id={})",
            self.server_id,
            self.server_name,
            self.host,
            self.port,
            self.version,
            self.max_payload,
            self.client_id
        )
    }
}

impl From<async_nats::ServerInfo> for PyServerInfo {
    fn from(i: async_nats::ServerInfo) -> Self {
        PyServerInfo {
            server_id: i.server_id,
            server_name: i.server_name,
            host: i.host,
            port: i.port,
            version: i.version,
            auth_required: i.auth_required,
            tls_required: i.tls_required,
            max_payload: i.max_payload,
            proto: i.proto,
            client_id: i.client_id,
            go: i.go,
            nonce: i.nonce,
            connect_urls: i.connect_urls,
            client_ip: i.client_ip,
            headers: i.headers,
            lame_duck_mode: i.lame_duck_mode,
            cluster: i.cluster,
            domain: i.domain,
            jetstream: i.jetstream,
        }
    }
}

#[pyclass(name = "Statistics", module = "natsrs", frozen, get_all)]
pub(crate) struct PyStatistics {
    in_bytes: u64,
    out_bytes: u64,
    in_messages: u64,
    out_messages: u64,
    connects: u64,
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

#[pyclass(name = "Client", module = "natsrs", frozen)]
pub(crate) struct PyClient {
    inner: Arc<ClientInner>,
}

impl PyClient {
    pub(crate) fn new(
        client: async_nats::Client,
        life: Arc<Lifecycle>,
        settings: &Settings,
        pool: Vec<async_nats::Server>,
    ) -> Self {
        let inner = Arc::new(ClientInner {
            client,
            life,
            skip_subject_validation: settings.skip_subject_validation,
            subscription_capacity: settings.subscription_capacity,
            error_callback: std::sync::Mutex::new(None),
            outbox: Outbox::new(),
            pool: std::sync::Mutex::new(pool),
        });
        let _ = inner.life.owner.set(Arc::downgrade(&inner));
        if inner.pool.lock().expect("client lock").is_empty() {
            // A CONNECTED event may have come before the owner was set.
            let refresh = inner.clone();
            runtime::runtime().spawn(async move { refresh.refresh_pool().await });
        }
        PyClient { inner }
    }

    fn subscribe_impl(
        &self,
        py: Python<'_>,
        subject: String,
        queue: Option<String>,
        max_msgs: u64,
        delivery: Option<CallbackDelivery>,
    ) -> PyResult<Py<PyAny>> {
        let checked = (|| {
            self.inner.life.check_open()?;
            subject::check(&subject)?;
            if let Some(q) = &queue {
                subject::check_queue(q)?;
            }
            Ok::<_, Error>(())
        })();
        if let Err(err) = checked {
            return runtime::failed(py, err.into_pyerr(py));
        }
        let inner = self.inner.clone();
        let ordered = outbox::publishes_sent(&self.inner);
        let fut = async move {
            ordered.await;
            let mut sub = match &queue {
                None => inner.client.subscribe(subject.clone()).await?,
                Some(q) => {
                    inner
                        .client
                        .queue_subscribe(subject.clone(), q.clone())
                        .await?
                }
            };
            if max_msgs > 0 {
                sub.unsubscribe_after(max_msgs).await?;
            }
            Ok(NewSubscriber {
                sub,
                subject,
                queue,
                client: inner,
                delivery,
            })
        };
        runtime::resolve_guarded(py, fut, &self.inner.life.lifeline)
    }

    /// Shared by `close()` and `drain()`: the engine's drain is its only way to end a
    /// connected handler (flush, unsubscribe all, close the socket).
    fn shutdown(&self, py: Python<'_>, graceful: bool) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        let was_closed = inner.life.closed.swap(true, Ordering::AcqRel);
        if !graceful {
            // Pending operations and `async for` loops end now.
            inner.life.lifeline.cancel();
        }
        if was_closed && *inner.life.terminated.borrow() {
            return runtime::ready_none(py);
        }
        let fut = async move {
            let connected = inner.client.connection_state() == State::Connected;
            if connected {
                // Publishes still in the outbox go out first, as nats-py flushes its
                // buffer on close; a dead connection would only hold the close up.
                let _ = tokio::time::timeout(CLOSE_WAIT, outbox::publishes_sent(&inner)).await;
            }
            // Fails only if the handler is already gone, which is what we want.
            let _ = inner.client.drain().await;
            if connected {
                inner.life.wait_terminated(CLOSE_WAIT).await;
            }
            // A disconnected handler never reads the drain command; the reconnect-delay
            // callback stops it before its next attempt (Lifecycle::stop_handler_if_closed).
            // After a drain the lifeline stays: subscribers still yield what was
            // delivered to them before the connection closed, then end.
            Ok(())
        };
        runtime::spawn(py, fut)
    }
}

struct Seconds(f64);

impl ToPy for Seconds {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(pyo3::types::PyFloat::new(py, self.0).into_any().unbind())
    }
}

/// nats-py's version of a server it has not talked to.
const UNKNOWN_VERSION: &str = "0.0.0-unknown";

/// URLs as nats-py shows them: `urllib.parse.ParseResult`s with the default port.
fn parse_urls(py: Python<'_>, urls: impl IntoIterator<Item = String>) -> PyResult<Vec<Py<PyAny>>> {
    static PARSE: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let parse = PARSE.import(py, "natsrs._info", "parse_url")?;
    urls.into_iter()
        .map(|url| Ok(parse.call1((url,))?.unbind()))
        .collect()
}

struct Pool(Vec<async_nats::Server>);

impl ToPy for Pool {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let servers = self
            .0
            .iter()
            .map(|s| Py::new(py, PyServer::from(s)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(pyo3::types::PyList::new(py, servers)?.into_any().unbind())
    }
}

/// nats-py-style delivery of a subscription's messages: handed to
/// `natsrs._compat.deliver`, which runs it as an asyncio task on the subscribing loop.
struct CallbackDelivery {
    cb: Option<Py<PyAny>>,
    future: Option<Py<PyAny>>,
    pending_msgs_limit: Option<i64>,
    pending_bytes_limit: Option<i64>,
}

struct NewSubscriber {
    sub: async_nats::Subscriber,
    subject: String,
    queue: Option<String>,
    client: Arc<ClientInner>,
    delivery: Option<CallbackDelivery>,
}

impl ToPy for NewSubscriber {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let error_callback = self.client.error_callback(py);
        let sub = PySubscriber::new(self.sub, self.subject, self.queue, self.client);
        let sub = Py::new(py, sub)?.into_any();
        if let Some(d) = self.delivery {
            static DELIVER: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
            DELIVER.import(py, "natsrs._compat", "deliver")?.call1((
                sub.clone_ref(py),
                d.cb,
                d.future,
                d.pending_msgs_limit,
                d.pending_bytes_limit,
                error_callback,
            ))?;
        }
        Ok(sub)
    }
}

/// A reply on its way to becoming a `Message`.
pub(crate) struct Reply {
    pub(crate) msg: async_nats::Message,
    pub(crate) client: Arc<ClientInner>,
}

impl ToPy for Reply {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PyMessage::new(self.msg, Some(self.client)))?.into_any())
    }
}

#[pymethods]
impl PyClient {
    /// `reply` and `headers` may also be given positionally, and an empty `reply`
    /// means none, as in nats-py.
    #[pyo3(
        signature = (subject, payload = PayloadArg::default(), reply = None, headers = None),
        text_signature = "($self, subject, payload=b'', reply=None, headers=None)"
    )]
    fn publish(
        &self,
        py: Python<'_>,
        subject: PyBackedStr,
        payload: PayloadArg<'_>,
        reply: Option<PyBackedStr>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let reply = reply.as_deref().filter(|r| !r.is_empty());
        self.inner.publish(py, &subject, payload, reply, headers)
    }

    #[pyo3(
        signature = (subject, reply, payload = PayloadArg::default()),
        text_signature = "($self, subject, reply, payload=b'')"
    )]
    fn publish_with_reply(
        &self,
        py: Python<'_>,
        subject: PyBackedStr,
        reply: PyBackedStr,
        payload: PayloadArg<'_>,
    ) -> PyResult<Py<PyAny>> {
        self.inner
            .publish(py, &subject, payload, Some(&reply), None)
    }

    #[pyo3(
        signature = (subject, headers, payload = PayloadArg::default()),
        text_signature = "($self, subject, headers, payload=b'')"
    )]
    fn publish_with_headers(
        &self,
        py: Python<'_>,
        subject: PyBackedStr,
        headers: &Bound<'_, PyAny>,
        payload: PayloadArg<'_>,
    ) -> PyResult<Py<PyAny>> {
        self.inner
            .publish(py, &subject, payload, None, Some(headers))
    }

    #[pyo3(
        signature = (subject, reply, headers, payload = PayloadArg::default()),
        text_signature = "($self, subject, reply, headers, payload=b'')"
    )]
    fn publish_with_reply_and_headers(
        &self,
        py: Python<'_>,
        subject: PyBackedStr,
        reply: PyBackedStr,
        headers: &Bound<'_, PyAny>,
        payload: PayloadArg<'_>,
    ) -> PyResult<Py<PyAny>> {
        self.inner
            .publish(py, &subject, payload, Some(&reply), Some(headers))
    }

    /// Publishes many messages in one call: `messages` is an iterable of
    /// `(subject, payload)`, queued in order behind earlier publishes. The batch path
    /// to the engine's speed; on an error, the messages before it were published. Like
    /// `publish`, it waits only when the outbox is past its limits.
    fn publish_many(&self, py: Python<'_>, messages: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let inner = &self.inner;
        if let Err(err) = inner.life.check_open() {
            return runtime::failed(py, err.into_pyerr(py));
        }
        let mut last = Pushed::Done;
        for item in messages.try_iter()? {
            let item = item?;
            let (subject, payload): (PyBackedStr, PayloadArg<'_>) =
                item.extract().map_err(|err| {
                    pyo3::exceptions::PyTypeError::new_err(format!(
                        "publish_many takes (subject: str, payload: bytes) pairs: {err}"
                    ))
                })?;
            if let Err(err) = inner.check_size(payload.len()) {
                return runtime::failed(py, err.into_pyerr(py));
            }
            let msg = Publish {
                subject: &subject,
                reply: None,
                headers: None,
                payload,
            };
            // Never directly: each message queues behind the one before it.
            match inner
                .outbox
                .push(inner, msg, inner.skip_subject_validation, false)
            {
                Ok(pushed) => last = pushed,
                Err(err) => return runtime::failed(py, err.into_pyerr(py)),
            }
        }
        match last {
            Pushed::Full(seq) => outbox::wait_for_room(py, inner, seq),
            _ => runtime::ready_none(py),
        }
    }

    /// nats-py's positional order (`timeout`, `old_style`, `headers`) works too;
    /// `old_style=True` waits on a dedicated inbox subscription, like `inbox=`.
    #[pyo3(
        signature = (subject, payload = Payload::default(), timeout = None, old_style = false, headers = None, *, inbox = None),
        text_signature = "($self, subject, payload=b'', timeout=None, old_style=False, headers=None, *, inbox=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        py: Python<'_>,
        subject: String,
        payload: Payload,
        timeout: Option<&Bound<'_, PyAny>>,
        old_style: bool,
        headers: Option<&Bound<'_, PyAny>>,
        inbox: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let inbox = match inbox {
            None if old_style => Some(self.inner.client.new_inbox()),
            other => other,
        };
        let checked = (|| {
            self.inner.life.check_open()?;
            subject::check(&subject)?;
            if let Some(inbox) = &inbox {
                subject::check(inbox)?;
            }
            Ok::<_, Error>(())
        })();
        if let Err(err) = checked {
            return runtime::failed(py, err.into_pyerr(py));
        }
        let mut request = async_nats::Request::new().payload(payload.0);
        if let Some(h) = headers.filter(|h| !h.is_none()) {
            request = request.headers(PyHeaderMap::from_py(h)?.to_engine());
        }
        if let Some(t) = timeout.filter(|t| !t.is_none()) {
            request = request.timeout(Some(extract_duration(t, "timeout", false)?));
        }
        if let Some(inbox) = inbox {
            request = request.inbox(inbox);
        }
        let inner = self.inner.clone();
        let ordered = outbox::publishes_sent(&self.inner);
        let fut = async move {
            ordered.await;
            match inner.client.send_request(subject, request).await {
                Ok(msg) => Ok(Reply {
                    msg,
                    client: inner.clone(),
                }),
                Err(_) if inner.life.is_closed() => Err(Error::closed()),
                Err(err) => Err(Error::from(err)),
            }
        };
        runtime::resolve_guarded(py, fut, &self.inner.life.lifeline)
    }

    /// nats-py's parameters work too: `cb` (a coroutine function called for each
    /// message, one at a time), `future` (resolved with the first message), `max_msgs`
    /// (unsubscribe after that many), and the pending limits of a callback
    /// subscription. An empty `queue` means none.
    #[pyo3(signature = (subject, queue = None, cb = None, future = None, max_msgs = 0, pending_msgs_limit = None, pending_bytes_limit = None))]
    #[allow(clippy::too_many_arguments)]
    fn subscribe(
        &self,
        py: Python<'_>,
        subject: String,
        queue: Option<String>,
        cb: Option<Py<PyAny>>,
        future: Option<Py<PyAny>>,
        max_msgs: u64,
        pending_msgs_limit: Option<i64>,
        pending_bytes_limit: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        let queue = queue.filter(|q| !q.is_empty());
        let delivery = match (cb, future) {
            (None, None) => None,
            (cb, future) => Some(CallbackDelivery {
                cb,
                future,
                pending_msgs_limit,
                pending_bytes_limit,
            }),
        };
        self.subscribe_impl(py, subject, queue, max_msgs, delivery)
    }

    fn queue_subscribe(
        &self,
        py: Python<'_>,
        subject: String,
        queue: String,
    ) -> PyResult<Py<PyAny>> {
        self.subscribe_impl(py, subject, Some(queue), 0, None)
    }

    /// Waits until the server has processed everything sent before (a round trip, as
    /// in nats-py): a subscription made before `flush()` is live on the server after it.
    #[pyo3(signature = (timeout = None))]
    fn flush(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.life.check_open() {
            return runtime::failed(py, err.into_pyerr(py));
        }
        let limit = match timeout.filter(|t| !t.is_none()) {
            Some(t) => extract_duration(t, "timeout", false)?,
            None => FLUSH_TIMEOUT,
        };
        let inner = self.inner.clone();
        let ordered = outbox::publishes_sent(&self.inner);
        let fut = async move {
            let timed_out = || Error::new(Kind::FlushTimeout, "flush timed out");
            tokio::time::timeout(limit, async {
                ordered.await;
                inner.client.flush().await
            })
            .await
            .map_err(|_| timed_out())?
            .map_err(Error::from)?;
            // The engine's flush only empties the write buffer. A request to a subject
            // nobody listens on comes back as "no responders" once the server got to it,
            // and the server handles a connection's commands in order.
            let probe = async_nats::Request::new().timeout(Some(limit));
            match inner
                .client
                .send_request(inner.client.new_inbox(), probe)
                .await
            {
                Ok(_) => Ok(()),
                Err(err) => match err.kind() {
                    async_nats::client::RequestErrorKind::NoResponders => Ok(()),
                    async_nats::client::RequestErrorKind::TimedOut => Err(timed_out()),
                    _ if inner.life.is_closed() => Err(Error::closed()),
                    _ => Err(Error::from(err)),
                },
            }
        };
        runtime::resolve_guarded(py, fut, &self.inner.life.lifeline)
    }

    fn drain(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.life.check_open() {
            return runtime::failed(py, err.into_pyerr(py));
        }
        self.shutdown(py, true)
    }

    fn close(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.shutdown(py, false)
    }

    /// The coroutine function that callback subscriptions report errors to (nats-py's
    /// `error_cb`), or `None`.
    #[getter(_error_callback)]
    fn get_error_callback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.inner.error_callback(py)
    }

    #[setter(_error_callback)]
    fn set_error_callback(&self, callback: Option<Py<PyAny>>) {
        *self.inner.error_callback.lock().expect("client lock") = callback;
    }

    /// Every connection event from now on, as an async iterator; ends after CLOSED.
    fn events(&self) -> PyEventStream {
        PyEventStream::new(self.inner.life.events.listen())
    }

    /// Drop the connection and reconnect (to the next server of the pool).
    fn force_reconnect(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.life.check_open() {
            return runtime::failed(py, err.into_pyerr(py));
        }
        let inner = self.inner.clone();
        let fut = async move {
            inner
                .client
                .force_reconnect()
                .await
                .map_err(|_| Error::closed())
        };
        runtime::resolve_guarded(py, fut, &self.inner.life.lifeline)
    }

    /// The servers the client knows, with their connection history.
    fn server_pool(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.life.check_open() {
            return runtime::failed(py, err.into_pyerr(py));
        }
        let inner = self.inner.clone();
        let fut = async move {
            let servers = inner
                .client
                .server_pool()
                .await
                .map_err(|_| Error::closed())?;
            Ok(Pool(servers))
        };
        runtime::resolve_guarded(py, fut, &self.inner.life.lifeline)
    }

    /// Replace the pool; servers in both keep their state, the attempt counter resets.
    fn set_server_pool(&self, py: Python<'_>, servers: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.life.check_open() {
            return runtime::failed(py, err.into_pyerr(py));
        }
        let urls = crate::options::extract_server_list(servers)?;
        let addrs = match crate::options::parse_servers(&urls) {
            Ok(addrs) => addrs,
            Err(err) => return runtime::failed(py, err.into_pyerr(py)),
        };
        let inner = self.inner.clone();
        let fut = async move {
            inner
                .client
                .set_server_pool(addrs)
                .await
                .map_err(Error::from)?;
            inner.refresh_pool().await;
            Ok(())
        };
        runtime::resolve_guarded(py, fut, &self.inner.life.lifeline)
    }

    fn new_inbox(&self) -> String {
        self.inner.client.new_inbox()
    }

    fn statistics(&self) -> PyStatistics {
        let s = self.inner.client.statistics();
        PyStatistics {
            in_bytes: s.in_bytes.load(Ordering::Relaxed),
            out_bytes: s.out_bytes.load(Ordering::Relaxed),
            in_messages: s.in_messages.load(Ordering::Relaxed),
            out_messages: s.out_messages.load(Ordering::Relaxed),
            connects: s.connects.load(Ordering::Relaxed),
        }
    }

    fn is_server_compatible(&self, major: i64, minor: i64, patch: i64) -> bool {
        self.inner.client.is_server_compatible(major, minor, patch)
    }

    /// The pool's URLs (configured and discovered), credentials replaced by `***`.
    #[getter]
    fn servers(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        parse_urls(py, self.inner.pool_urls(false))
    }

    /// The servers of the pool that the cluster announced.
    #[getter]
    fn discovered_servers(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        parse_urls(py, self.inner.pool_urls(true))
    }

    #[getter]
    fn connected_url(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.inner.connected_url() {
            Some(url) => Ok(parse_urls(py, [url])?.pop()),
            None => Ok(None),
        }
    }

    #[getter]
    fn connected_server_version(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        static VERSION: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
        let version = match self.inner.client.try_server_info() {
            Some(info) if !info.version.is_empty() => info.version,
            _ => UNKNOWN_VERSION.to_owned(),
        };
        Ok(VERSION
            .import(py, "natsrs._info", "ServerVersion")?
            .call1((version,))?
            .unbind())
    }

    #[getter]
    fn server_info(&self) -> Option<PyServerInfo> {
        self.inner.client.try_server_info().map(PyServerInfo::from)
    }

    #[getter]
    fn connection_state(&self) -> PyConnectionState {
        if self.inner.life.is_closed() {
            return PyConnectionState::CLOSED;
        }
        match self.inner.client.connection_state() {
            State::Pending => PyConnectionState::PENDING,
            State::Connected => PyConnectionState::CONNECTED,
            State::Disconnected => PyConnectionState::DISCONNECTED,
        }
    }

    #[getter]
    fn is_closed(&self) -> bool {
        self.inner.life.is_closed()
    }

    /// nats-py's state flags, from `connection_state`.
    #[getter]
    fn is_connected(&self) -> bool {
        self.connection_state() == PyConnectionState::CONNECTED
    }

    #[getter]
    fn is_reconnecting(&self) -> bool {
        self.connection_state() == PyConnectionState::DISCONNECTED
    }

    #[getter]
    fn is_connecting(&self) -> bool {
        self.connection_state() == PyConnectionState::PENDING
    }

    #[getter]
    fn is_draining(&self) -> bool {
        let life = &self.inner.life;
        life.draining.load(Ordering::Acquire) && !life.finished.load(Ordering::Acquire)
    }

    /// The text of the last error event (server or client), or `None`.
    #[getter]
    fn last_error(&self) -> Option<String> {
        self.inner
            .life
            .last_error
            .lock()
            .expect("client lock")
            .clone()
    }

    #[getter]
    fn client_id(&self) -> Option<u64> {
        self.inner.client.try_server_info().map(|i| i.client_id)
    }

    #[getter]
    fn client_ip(&self) -> Option<String> {
        self.inner.client.try_server_info().map(|i| i.client_ip)
    }

    /// nats-py's `stats` dict: in/out messages and bytes, reconnects, server errors.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let s = self.inner.client.statistics();
        let dict = pyo3::types::PyDict::new(py);
        dict.set_item("in_msgs", s.in_messages.load(Ordering::Relaxed))?;
        dict.set_item("out_msgs", s.out_messages.load(Ordering::Relaxed))?;
        dict.set_item("in_bytes", s.in_bytes.load(Ordering::Relaxed))?;
        dict.set_item("out_bytes", s.out_bytes.load(Ordering::Relaxed))?;
        dict.set_item(
            "reconnects",
            s.connects.load(Ordering::Relaxed).saturating_sub(1),
        )?;
        dict.set_item(
            "errors_received",
            self.inner.life.errors_received.load(Ordering::Relaxed),
        )?;
        Ok(dict)
    }

    /// Round-trip time to the server in seconds, timed over `flush()`'s round trip.
    fn rtt(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.life.check_open() {
            return runtime::failed(py, err.into_pyerr(py));
        }
        let inner = self.inner.clone();
        let fut = async move {
            let started = std::time::Instant::now();
            let probe = async_nats::Request::new().timeout(Some(FLUSH_TIMEOUT));
            match inner
                .client
                .send_request(inner.client.new_inbox(), probe)
                .await
            {
                Ok(_) => {}
                Err(err) if err.kind() == async_nats::client::RequestErrorKind::NoResponders => {}
                Err(err) => return Err(Error::from(err)),
            }
            Ok(Seconds(started.elapsed().as_secs_f64()))
        };
        runtime::resolve_guarded(py, fut, &self.inner.life.lifeline)
    }

    /// Payload bytes published but not yet handed to the engine (nats-py's
    /// `pending_data_size`).
    #[getter]
    fn pending_data_size(&self) -> usize {
        self.inner.outbox.unsent_bytes()
    }

    #[getter]
    fn max_payload(&self) -> usize {
        self.inner.client.max_payload()
    }

    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.inner.client.timeout().map(|d| d.as_secs_f64())
    }

    fn __aenter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        runtime::ready(py, slf.into_any())
    }

    #[pyo3(signature = (*_exc_info))]
    fn __aexit__(
        &self,
        py: Python<'_>,
        _exc_info: &Bound<'_, pyo3::types::PyTuple>,
    ) -> PyResult<Py<PyAny>> {
        self.close(py)
    }

    fn __repr__(&self) -> String {
        let state = match self.connection_state() {
            PyConnectionState::PENDING => "pending",
            PyConnectionState::CONNECTED => "connected",
            PyConnectionState::DISCONNECTED => "disconnected",
            PyConnectionState::CLOSED => "closed",
        };
        match self.inner.client.try_server_info() {
            Some(info) => format!(
                "<natsrs.Client {state} to {}:{} (server {})>",
                info.host, info.port, info.server_name
            ),
            None => format!("<natsrs.Client {state}>"),
        }
    }
}
