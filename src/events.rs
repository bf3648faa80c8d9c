//! Connection events: `natsrs.Event`, the event callback, and `client.events()`.
//!
//! The engine sends events through a bounded channel with `try_send`, so a slow consumer
//! loses them. natsrs takes each event off that channel at once (a plain Rust push) and
//! fans it out over unbounded queues: one per `events()` iterator and one feeding the
//! Python callback, which a single task calls in order, one event at a time. Nothing is
//! dropped however slowly Python reads.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;

use crate::callbacks::PyCallback;
use crate::error::{Error, Kind};
use crate::runtime::{self, ToPy};

#[pyclass(
    name = "EventKind",
    module = "natsrs",
    eq,
    eq_int,
    frozen,
    skip_from_py_object
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    #[pyo3(name = "CONNECTED")]
    Connected = 0,
    #[pyo3(name = "DISCONNECTED")]
    Disconnected = 1,
    #[pyo3(name = "LAME_DUCK_MODE")]
    LameDuckMode = 2,
    #[pyo3(name = "DRAINING")]
    Draining = 3,
    #[pyo3(name = "CLOSED")]
    Closed = 4,
    #[pyo3(name = "SLOW_CONSUMER")]
    SlowConsumer = 5,
    #[pyo3(name = "SERVER_ERROR")]
    ServerError = 6,
    #[pyo3(name = "CLIENT_ERROR")]
    ClientError = 7,
    #[pyo3(name = "DISCOVERED_SERVERS")]
    DiscoveredServers = 8,
}

impl EventKind {
    fn py_name(self) -> &'static str {
        match self {
            EventKind::Connected => "CONNECTED",
            EventKind::Disconnected => "DISCONNECTED",
            EventKind::LameDuckMode => "LAME_DUCK_MODE",
            EventKind::Draining => "DRAINING",
            EventKind::Closed => "CLOSED",
            EventKind::SlowConsumer => "SLOW_CONSUMER",
            EventKind::ServerError => "SERVER_ERROR",
            EventKind::ClientError => "CLIENT_ERROR",
            EventKind::DiscoveredServers => "DISCOVERED_SERVERS",
        }
    }
}

/// An event as Rust carries it; it becomes a Python `Event` on the loop thread.
#[derive(Clone, Debug)]
pub(crate) struct EventData {
    pub(crate) kind: EventKind,
    /// What went wrong, for the error kinds; typed, so Python never reads the text.
    pub(crate) error: Option<Error>,
}

impl EventData {
    pub(crate) fn new(kind: EventKind) -> Self {
        EventData { kind, error: None }
    }

    /// A CLIENT_ERROR event for a failure natsrs itself reports (a callback that raised).
    pub(crate) fn client_error(message: impl Into<String>) -> Self {
        EventData {
            kind: EventKind::ClientError,
            error: Some(Error::new(Kind::Other, message)),
        }
    }

    pub(crate) fn from_engine(event: &async_nats::Event) -> Self {
        use async_nats::Event as E;
        let kind = match event {
            E::Connected => EventKind::Connected,
            E::Disconnected => EventKind::Disconnected,
            E::LameDuckMode => EventKind::LameDuckMode,
            E::Draining => EventKind::Draining,
            E::Closed => EventKind::Closed,
            E::SlowConsumer(_) => EventKind::SlowConsumer,
            E::ServerError(_) => EventKind::ServerError,
            E::ClientError(_) => EventKind::ClientError,
            E::DiscoveredServers => EventKind::DiscoveredServers,
        };
        EventData {
            kind,
            error: Error::from_event(event),
        }
    }
}

impl ToPy for EventData {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PyEvent { data: self })?.into_any())
    }
}

#[pyclass(name = "Event", module = "natsrs", frozen)]
pub(crate) struct PyEvent {
    data: EventData,
}

#[pymethods]
impl PyEvent {
    #[getter]
    fn kind(&self) -> EventKind {
        self.data.kind
    }

    /// The subscription of a slow-consumer event, or of a dropped malformed message.
    #[getter]
    fn sid(&self) -> Option<u64> {
        self.data.error.as_ref().and_then(|e| e.sid)
    }

    /// Detail of error events.
    #[getter]
    fn message(&self) -> Option<&str> {
        self.data.error.as_ref().map(|e| e.message.as_str())
    }

    /// The exception an error event stands for (a `natsrs.errors` class chosen by the
    /// error's kind); for DISCONNECTED, `UnexpectedEOF` when the connection was lost
    /// (not closed, drained or asked to reconnect); `None` otherwise.
    #[getter]
    fn error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let err = self.data.error.clone()?;
        Some(err.into_pyerr(py).into_value(py).into_any())
    }

    fn __repr__(&self) -> String {
        let mut text = format!("<natsrs.Event {}", self.data.kind.py_name());
        if let Some(sid) = self.sid() {
            text.push_str(&format!(" sid={sid}"));
        }
        if let Some(message) = self.message() {
            text.push_str(&format!(" {message:?}"));
        }
        text.push('>');
        text
    }
}

/// Fans events out to iterators and to the Python callback.
pub(crate) struct EventHub {
    listeners: Mutex<Vec<UnboundedSender<EventData>>>,
    callback: Mutex<Option<UnboundedSender<EventData>>>,
    /// The callback task has handled every event up to the last one (CLOSED) and ended;
    /// true while there is no callback.
    callback_done: Arc<watch::Sender<bool>>,
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub {
            listeners: Mutex::default(),
            callback: Mutex::default(),
            callback_done: Arc::new(watch::channel(true).0),
        }
    }
}

impl EventHub {
    pub(crate) fn emit(&self, event: EventData) {
        if let Some(tx) = self.callback.lock().expect("event lock").as_ref() {
            let _ = tx.send(event.clone());
        }
        self.listeners
            .lock()
            .expect("event lock")
            .retain(|tx| tx.send(event.clone()).is_ok());
    }

    /// Only to iterators: an exception in the callback must not feed the callback.
    fn emit_to_listeners(&self, event: EventData) {
        self.listeners
            .lock()
            .expect("event lock")
            .retain(|tx| tx.send(event.clone()).is_ok());
    }

    /// No more events: iterators end after what they hold, the callback task finishes.
    pub(crate) fn close(&self) {
        self.listeners.lock().expect("event lock").clear();
        self.callback.lock().expect("event lock").take();
    }

    pub(crate) fn listen(&self) -> UnboundedReceiver<EventData> {
        let (tx, rx) = unbounded_channel();
        self.listeners.lock().expect("event lock").push(tx);
        rx
    }

    /// Waits (up to `limit`) until the callback has handled CLOSED, so that `close()`
    /// returns after the user's callback has seen it, as nats-py's does.
    pub(crate) async fn wait_callback_done(&self, limit: std::time::Duration) {
        let mut done = self.callback_done.subscribe();
        let _ = tokio::time::timeout(limit, done.wait_for(|done| *done)).await;
    }

    /// Starts the task that calls `callback` for each event, in order.
    pub(crate) fn set_callback(self: &Arc<Self>, callback: PyCallback) {
        let (tx, mut rx) = unbounded_channel::<EventData>();
        *self.callback.lock().expect("event lock") = Some(tx);
        let hub = Arc::downgrade(self);
        let done = self.callback_done.clone();
        done.send_replace(false);
        runtime::runtime().spawn(async move {
            while let Some(event) = rx.recv().await {
                let result = callback
                    .call_reporting("event callback", move |py| {
                        PyTuple::new(py, [event.to_py(py)?])
                    })
                    .await;
                if let (Err(message), Some(hub)) = (result, hub.upgrade()) {
                    hub.emit_to_listeners(EventData::client_error(message));
                }
            }
            done.send_replace(true);
        });
    }
}

/// `client.events()`: every event from the moment it was made, none dropped.
#[pyclass(name = "EventStream", module = "natsrs", frozen)]
pub(crate) struct PyEventStream {
    rx: Arc<tokio::sync::Mutex<UnboundedReceiver<EventData>>>,
    /// An event a cancelled waiter had already taken; delivered first.
    returned: Arc<Mutex<Option<EventData>>>,
}

impl PyEventStream {
    pub(crate) fn new(rx: UnboundedReceiver<EventData>) -> Self {
        PyEventStream {
            rx: Arc::new(tokio::sync::Mutex::new(rx)),
            returned: Arc::default(),
        }
    }
}

struct NextEvent {
    event: Option<EventData>,
    returned: Arc<Mutex<Option<EventData>>>,
}

impl ToPy for NextEvent {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.event {
            Some(event) => event.to_py(py),
            None => Err(pyo3::exceptions::PyStopAsyncIteration::new_err(())),
        }
    }

    fn abandon(self) {
        if let Some(event) = self.event {
            *self.returned.lock().expect("event lock") = Some(event);
        }
    }
}

#[pymethods]
impl PyEventStream {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Some(event) = self.returned.lock().expect("event lock").take() {
            return runtime::ready(py, event.to_py(py)?);
        }
        let rx = self.rx.clone();
        let returned = self.returned.clone();
        runtime::resolve(py, async move {
            let event = rx.lock().await.recv().await;
            Ok(NextEvent { event, returned })
        })
    }
}
