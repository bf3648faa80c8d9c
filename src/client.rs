//! `natsrs.Client`: publish, request, subscribe, flush, drain and a real close.

use std::sync::Arc;

use arc_swap::ArcSwap;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;

use crate::args::{
    extract_count, extract_duration, extract_server_list, parse_servers, Payload, PayloadArg,
};
use crate::error::{Error, Kind};
use crate::events::PyEventStream;
use crate::header::PyHeaderMap;
use crate::jetstream::publish::PyJetStream;
use crate::message::Reply;
use crate::outbox::{self, Publish, Pushed};
use crate::pynames;
use crate::runtime::{self, ToPy};
use crate::server::{PyServer, PyServerInfo};
use crate::state::{ClientInner, PyConnectionState, PyStatistics};
use crate::subject;
use crate::subscriber::PySubscriber;

/// `flush()`'s default limit, nats-py's.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

#[pyclass(name = "Client", module = "natsrs", frozen)]
pub(crate) struct PyClient {
    /// The connection: replaced when `connect()` connects a closed client again.
    pub(crate) inner: ArcSwap<ClientInner>,
    again: ConnectAgain,
}

/// Connects a closed client again with what it was made with; the awaitable resolves to
/// `None` once [`PyClient::reopened`] has its new connection. Made by the connect flow,
/// which knows the settings and servers (and imports this module, not the reverse).
pub(crate) type ConnectAgain =
    Box<dyn Fn(Python<'_>, Py<PyClient>) -> PyResult<Py<PyAny>> + Send + Sync>;

impl PyClient {
    pub(crate) fn new(inner: Arc<ClientInner>, again: ConnectAgain) -> Self {
        PyClient {
            inner: ArcSwap::new(inner),
            again,
        }
    }

    /// Puts a new connection in place of a closed one (`connect()`).
    pub(crate) fn reopened(&self, inner: Arc<ClientInner>) {
        self.inner.store(inner);
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
            self.inner.load().life.check_open()?;
            subject::check(&subject)?;
            if let Some(q) = &queue {
                subject::check_queue(q)?;
            }
            Ok::<_, Error>(())
        })();
        if let Err(err) = checked {
            return runtime::fail(py, err);
        }
        let inner = self.inner.load_full();
        let ordered = outbox::publishes_sent(&self.inner.load().outbox);
        let fut = async move {
            ordered.await;
            let engine = inner.engine.current();
            let mut sub = match &queue {
                None => engine.client.subscribe(subject.clone()).await?,
                Some(q) => {
                    engine
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
                max_msgs,
                client: inner,
                delivery,
            })
        };
        runtime::resolve_guarded(py, fut, &self.inner.load().life.lifeline)
    }

    /// Shared by `close()` and `drain()`: the engine's drain is its only way to end a
    /// connected handler (flush, unsubscribe all, close the socket).
    fn shutdown(&self, py: Python<'_>, graceful: bool) -> PyResult<Py<PyAny>> {
        let inner = self.inner.load_full();
        let was_closed = inner.life.mark_closed();
        if graceful {
            inner.life.mark_draining();
        } else {
            // Pending operations and `async for` loops end now.
            inner.life.lifeline.cancel();
        }
        if was_closed && inner.life.is_terminated() {
            return runtime::ready_none(py);
        }
        // Called from the event callback itself, waiting for it would wait for itself.
        let wait_for_callback = !pynames::IN_EVENT_CALLBACK
            .get(py)?
            .call_method0("get")?
            .is_truthy()?;
        runtime::spawn(py, inner.shut_down(wait_for_callback))
    }
}

struct Seconds(f64);

impl ToPy for Seconds {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(pyo3::types::PyFloat::new(py, self.0).into_any().unbind())
    }
}

/// URLs as nats-py shows them: `urllib.parse.ParseResult`s with the default port.
fn parse_urls(py: Python<'_>, urls: impl IntoIterator<Item = String>) -> PyResult<Vec<Py<PyAny>>> {
    let parse = pynames::PARSE_URL.get(py)?;
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
    max_msgs: u64,
    client: Arc<ClientInner>,
    delivery: Option<CallbackDelivery>,
}

impl ToPy for NewSubscriber {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let error_callback = self.client.error_callback(py);
        let sub = PySubscriber::new(
            self.sub,
            self.subject,
            self.queue,
            self.max_msgs,
            self.client,
        );
        let sub = Py::new(py, sub)?.into_any();
        if let Some(d) = self.delivery {
            if d.cb.is_none() && d.future.is_none() {
                // Pending limits without a callback: queued under them in Python.
                pynames::HOLD.get(py)?.call1((
                    sub.clone_ref(py),
                    d.pending_msgs_limit,
                    d.pending_bytes_limit,
                    error_callback,
                ))?;
            } else {
                pynames::DELIVER.get(py)?.call1((
                    sub.clone_ref(py),
                    d.cb,
                    d.future,
                    d.pending_msgs_limit,
                    d.pending_bytes_limit,
                    error_callback,
                ))?;
            }
        }
        Ok(sub)
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
        self.inner
            .load()
            .publish(py, &subject, payload, reply, headers)
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
            .load()
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
            .load()
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
            .load()
            .publish(py, &subject, payload, Some(&reply), Some(headers))
    }

    /// Publishes many messages in one call: `messages` is an iterable of
    /// `(subject, payload)`, queued in order behind earlier publishes. The batch path
    /// to the engine's speed; on an error, the messages before it were published. Like
    /// `publish`, it waits only when the outbox is past its limits.
    fn publish_many(&self, py: Python<'_>, messages: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        runtime::check_not_forked()?;
        let inner = self.inner.load();
        if let Err(err) = inner.life.check_open() {
            return runtime::fail(py, err);
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
                return runtime::fail(py, err);
            }
            let size = payload.len();
            let msg = Publish {
                subject: &subject,
                reply: None,
                headers: None,
                payload,
            };
            // Never directly: each message queues behind the one before it.
            match inner.outbox.push(msg, inner.skip_subject_validation, false) {
                Ok(pushed) => {
                    inner.payload_sent(size);
                    last = pushed;
                }
                Err(err) => return runtime::fail(py, err),
            }
        }
        match last {
            Pushed::Full(seq) => outbox::wait_for_room(py, &inner.outbox, seq),
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
            None if old_style => Some(self.inner.load().client().new_inbox()),
            other => other,
        };
        let checked = (|| {
            self.inner.load().life.check_open()?;
            subject::check(&subject)?;
            if let Some(inbox) = &inbox {
                subject::check(inbox)?;
            }
            Ok::<_, Error>(())
        })();
        if let Err(err) = checked {
            return runtime::fail(py, err);
        }
        let sent = payload.0.len();
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
        // One connection for the whole call: the request, its reply's client, its lifeline.
        let inner = self.inner.load_full();
        let reply = inner.send_request(subject, request, sent);
        let (lifeline, on_loop) = (inner.life.lifeline.clone(), inner.outbox.on_loop);
        let fut = async move {
            let msg = reply.await?;
            Ok(Reply { msg, client: inner })
        };
        runtime::resolve_guarded_on(py, fut, &lifeline, on_loop)
    }

    /// nats-py's parameters work too: `cb` (a coroutine function called for each
    /// message, one at a time), `future` (resolved with the first message), `max_msgs`
    /// (unsubscribe after that many), and the pending limits of a callback
    /// subscription. An empty `queue` means none.
    #[pyo3(signature = (subject, queue = None, cb = None, future = None, max_msgs = None, pending_msgs_limit = None, pending_bytes_limit = None))]
    #[allow(clippy::too_many_arguments)]
    fn subscribe(
        &self,
        py: Python<'_>,
        subject: String,
        queue: Option<String>,
        cb: Option<Py<PyAny>>,
        future: Option<Py<PyAny>>,
        max_msgs: Option<&Bound<'_, PyAny>>,
        pending_msgs_limit: Option<i64>,
        pending_bytes_limit: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        let max_msgs = extract_count(max_msgs, "max_msgs", 0)?;
        if let Some(future) = &future {
            if !future
                .bind(py)
                .is_instance(pynames::ASYNCIO_FUTURE.get(py)?)?
            {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "future must be an asyncio.Future",
                ));
            }
        }
        let queue = queue.filter(|q| !q.is_empty());
        let delivery = match (cb, future) {
            (None, None) if pending_msgs_limit.is_none() && pending_bytes_limit.is_none() => None,
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
        if let Err(err) = self.inner.load().life.check_open() {
            return runtime::fail(py, err);
        }
        let limit = match timeout.filter(|t| !t.is_none()) {
            Some(t) => extract_duration(t, "timeout", false)?,
            None => FLUSH_TIMEOUT,
        };
        let inner = self.inner.load_full();
        let ordered = outbox::publishes_sent(&self.inner.load().outbox);
        let fut = async move {
            let started = tokio::time::Instant::now();
            tokio::time::timeout(limit, ordered)
                .await
                .map_err(|_| Error::new(Kind::FlushTimeout, "flush timed out"))?;
            let left = limit.saturating_sub(started.elapsed());
            match inner.engine.current().round_trip(left).await {
                Err(_) if inner.life.is_closed() => Err(Error::closed()),
                other => other,
            }
        };
        runtime::resolve_guarded(py, fut, &self.inner.load().life.lifeline)
    }

    /// nats-py's `connect()` on the object `natsrs.connect()` returned: connects a
    /// closed client again, with the servers and options it was made with (subscriptions
    /// of the closed connection stay closed). On a client that is not closed it does
    /// nothing: it is connected, or reconnecting on its own.
    fn connect(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let this = slf.get();
        if !this.inner.load().life.is_closed() {
            return runtime::ready(py, py.None());
        }
        (this.again)(py, slf.clone_ref(py))
    }

    fn drain(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.load().life.check_open() {
            return runtime::fail(py, err);
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
        self.inner.load().error_callback(py)
    }

    #[setter(_error_callback)]
    fn set_error_callback(&self, callback: Option<Py<PyAny>>) {
        self.inner.load().set_error_callback(callback);
    }

    /// Every connection event from now on, as an async iterator; ends after CLOSED.
    fn events(&self) -> PyEventStream {
        PyEventStream::new(self.inner.load().life.events.listen())
    }

    /// Drop the connection and reconnect (to the next server of the pool).
    fn force_reconnect(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.load().life.check_open() {
            return runtime::fail(py, err);
        }
        self.inner.load().life.reconnect_asked();
        let inner = self.inner.load_full();
        let fut = async move {
            let engine = inner.engine.current();
            engine
                .client
                .force_reconnect()
                .await
                .map_err(|_| Error::closed())
        };
        runtime::resolve_guarded(py, fut, &self.inner.load().life.lifeline)
    }

    /// The servers the client knows, with their connection history. The engine answers
    /// only while connected; otherwise (reconnecting, for as long as an outage lasts)
    /// this is the pool as last read.
    fn server_pool(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.load().life.check_open() {
            return runtime::fail(py, err);
        }
        if self.inner.load().connection_state() != PyConnectionState::CONNECTED {
            return runtime::ready(py, Pool(self.inner.load().pool_copy()).to_py(py)?);
        }
        let inner = self.inner.load_full();
        let fut = async move {
            inner.refresh_pool().await;
            Ok(Pool(inner.pool_copy()))
        };
        runtime::resolve_guarded(py, fut, &self.inner.load().life.lifeline)
    }

    /// Replace the pool; servers in both keep their state, the attempt counter resets.
    fn set_server_pool(&self, py: Python<'_>, servers: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.load().life.check_open() {
            return runtime::fail(py, err);
        }
        let urls = extract_server_list(servers)?;
        let addrs = match parse_servers(&urls) {
            Ok(addrs) => addrs,
            Err(err) => return runtime::fail(py, err),
        };
        let inner = self.inner.load_full();
        let fut = async move {
            let engine = inner.engine.current();
            engine
                .client
                .set_server_pool(addrs)
                .await
                .map_err(Error::from)?;
            inner.refresh_pool().await;
            Ok(())
        };
        runtime::resolve_guarded(py, fut, &self.inner.load().life.lifeline)
    }

    fn new_inbox(&self) -> String {
        self.inner.load().client().new_inbox()
    }

    /// A JetStream context (`natsrs.js.JetStreamContext`): publishing with acks, pull
    /// and push consumers, and the management calls of `jsm()`.
    #[pyo3(signature = (**options))]
    fn jetstream(
        slf: &Bound<'_, Self>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let context = pynames::JETSTREAM_CONTEXT.get(slf.py())?;
        Ok(context.call((slf,), options)?.unbind())
    }

    /// JetStream's management calls alone (`natsrs.js.JetStreamManager`).
    #[pyo3(signature = (**options))]
    fn jsm(slf: &Bound<'_, Self>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        let manager = pynames::JETSTREAM_MANAGER.get(slf.py())?;
        Ok(manager.call((slf,), options)?.unbind())
    }

    /// The Rust half of a `JetStreamContext` on this client: its publishes.
    fn _jetstream_core(
        &self,
        timeout: &Bound<'_, PyAny>,
        max_pending: &Bound<'_, PyAny>,
    ) -> PyResult<PyJetStream> {
        PyJetStream::new(self.inner.load_full(), timeout, max_pending)
    }

    fn statistics(&self) -> PyStatistics {
        self.inner.load().statistics()
    }

    fn is_server_compatible(&self, major: i64, minor: i64, patch: i64) -> bool {
        self.inner
            .load()
            .client()
            .is_server_compatible(major, minor, patch)
    }

    /// The pool's URLs (configured and discovered), credentials replaced by `***`.
    #[getter]
    fn servers(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        parse_urls(py, self.inner.load().pool_urls(false))
    }

    /// The servers of the pool that the cluster announced.
    #[getter]
    fn discovered_servers(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        parse_urls(py, self.inner.load().pool_urls(true))
    }

    #[getter]
    fn connected_url(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.inner.load().connected_url() {
            Some(url) => Ok(parse_urls(py, [url])?.pop()),
            None => Ok(None),
        }
    }

    #[getter]
    fn connected_server_version(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let version = pynames::SERVER_VERSION.get(py)?;
        Ok(match self.inner.load().client().try_server_info() {
            Some(info) if !info.version.is_empty() => version.call1((info.version,))?,
            // `ServerVersion()` is nats-py's version of a server it has not talked to.
            _ => version.call0()?,
        }
        .unbind())
    }

    #[getter]
    fn server_info(&self) -> Option<PyServerInfo> {
        self.inner
            .load()
            .client()
            .try_server_info()
            .map(PyServerInfo::from)
    }

    #[getter]
    fn connection_state(&self) -> PyConnectionState {
        self.inner.load().connection_state()
    }

    #[getter]
    fn is_closed(&self) -> bool {
        self.inner.load().life.is_closed()
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
        self.inner.load().life.is_draining()
    }

    /// The text of the last error event (server or client), or `None`.
    #[getter]
    fn last_error(&self) -> Option<String> {
        self.inner.load().life.last_error().map(|err| err.message)
    }

    /// The last error event's error as its typed exception (nats-py's `last_error`), or
    /// `None`.
    #[getter]
    fn last_exception(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let err = self.inner.load().life.last_error()?;
        Some(err.into_pyerr(py).into_value(py).into_any())
    }

    #[getter]
    fn client_id(&self) -> Option<u64> {
        self.inner
            .load()
            .client()
            .try_server_info()
            .map(|i| i.client_id)
    }

    #[getter]
    fn client_ip(&self) -> Option<String> {
        self.inner
            .load()
            .client()
            .try_server_info()
            .map(|i| i.client_ip)
    }

    /// nats-py's `stats` dict: in/out messages and bytes, reconnects, server errors.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let s = self.inner.load().statistics();
        let dict = pyo3::types::PyDict::new(py);
        dict.set_item("in_msgs", s.in_messages)?;
        dict.set_item("out_msgs", s.out_messages)?;
        // Payload bytes, as nats-py counts them (`statistics()` has the wire bytes).
        let (sent, received) = self.inner.load().payload_bytes();
        dict.set_item("in_bytes", received)?;
        dict.set_item("out_bytes", sent)?;
        dict.set_item("reconnects", s.connects.saturating_sub(1))?;
        dict.set_item("errors_received", self.inner.load().life.errors_received())?;
        Ok(dict)
    }

    /// Round-trip time to the server in seconds, timed over `flush()`'s round trip
    /// (without waiting for earlier publishes).
    fn rtt(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Err(err) = self.inner.load().life.check_open() {
            return runtime::fail(py, err);
        }
        let inner = self.inner.load_full();
        let fut = async move {
            let started = std::time::Instant::now();
            inner.engine.current().round_trip(FLUSH_TIMEOUT).await?;
            Ok(Seconds(started.elapsed().as_secs_f64()))
        };
        runtime::resolve_guarded(py, fut, &self.inner.load().life.lifeline)
    }

    /// Payload bytes published but not yet handed to the engine (nats-py's
    /// `pending_data_size`).
    #[getter]
    fn pending_data_size(&self) -> usize {
        self.inner.load().outbox.unsent_bytes()
    }

    #[getter]
    fn max_payload(&self) -> usize {
        self.inner.load().client().max_payload()
    }

    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.inner
            .load()
            .client()
            .timeout()
            .map(|d| d.as_secs_f64())
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
        match self.inner.load().client().try_server_info() {
            Some(info) => format!(
                "<natsrs.Client {state} to {}:{} (server {})>",
                info.host, info.port, info.server_name
            ),
            None => format!("<natsrs.Client {state}>"),
        }
    }
}
