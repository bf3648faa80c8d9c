//! `natsrs.Message`: an engine message, converted to Python attribute by attribute on
//! access, so a message whose payload is never read costs no Python object for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::{extract_duration, PayloadArg};
use crate::error::{Error, Kind};
use crate::header::PyHeaderMap;
use crate::jetstream::ack::AckKind;
use crate::pynames;
use crate::runtime::{self, ToPy};
use crate::state::ClientInner;

#[pyclass(name = "Message", module = "natsrs", frozen)]
pub(crate) struct PyMessage {
    msg: async_nats::Message,
    /// The client it arrived on, for `respond`.
    client: Option<Arc<ClientInner>>,
    /// The payload as Python `bytes`, made on first access: one copy at most.
    payload: OnceLock<Py<PyBytes>>,
    /// The headers as a `natsrs.Headers` dict, made on first access and kept, so
    /// changes to it stay (as with nats-py's dict). Messages are not tracked by the
    /// garbage collector (that would cost every message), so a message stored inside its
    /// own headers dict is a cycle that is never freed.
    headers: OnceLock<Option<Py<PyAny>>>,
    /// JetStream: an ack, nak or term was sent (nats-py's `_ackd`).
    acked: AtomicBool,
    /// JetStream: the delivery facts in the reply subject, parsed on first access.
    metadata: OnceLock<Py<PyAny>>,
}

/// `cell`'s value, made by `make` if it has none yet. Not `PyOnceLock`: its first
/// initialization detaches from the interpreter (a GIL release and re-take), which per
/// message costs more than the rest of reading the payload. Here `make` runs outside the
/// cell's lock; two threads racing keep the first value and drop the other.
fn get_or_make<T>(cell: &OnceLock<T>, make: impl FnOnce() -> PyResult<T>) -> PyResult<&T> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let _ = cell.set(make()?);
    Ok(cell.get().expect("just set"))
}

impl PyMessage {
    pub(crate) fn new(msg: async_nats::Message, client: Option<Arc<ClientInner>>) -> Self {
        PyMessage {
            msg,
            client,
            payload: OnceLock::new(),
            headers: OnceLock::new(),
            acked: AtomicBool::new(false),
            metadata: OnceLock::new(),
        }
    }

    /// The reply subject and client an ack needs, or why there is none. A settling ack
    /// marks the message acked here, before it is sent, so two racing acks send one.
    fn ack_target(&self, kind: &AckKind) -> Result<(&str, &Arc<ClientInner>), Error> {
        let (Some(reply), Some(client)) = (&self.msg.reply, &self.client) else {
            return Err(Error::new(
                Kind::NotJsMessage,
                "the message has no reply subject to acknowledge",
            ));
        };
        if reply.is_empty() {
            return Err(Error::new(
                Kind::NotJsMessage,
                "the message has no reply subject to acknowledge",
            ));
        }
        if kind.settles() && self.acked.swap(true, Ordering::AcqRel) {
            return Err(Error::new(Kind::MsgAlreadyAcked, "already acknowledged"));
        }
        Ok((reply.as_str(), client))
    }

    fn acknowledge(slf: &Bound<'_, Self>, kind: AckKind) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        match slf.get().ack_target(&kind) {
            Ok((reply, client)) => {
                client.publish(py, reply, PayloadArg::Owned(kind.payload()), None, None)
            }
            Err(err) => refuse(slf, err),
        }
    }

    /// An ack the server confirms: a request to the reply subject.
    fn acknowledge_sync(
        slf: &Bound<'_, Self>,
        timeout: Option<&Bound<'_, PyAny>>,
        default_timeout: Duration,
        keep_reply: bool,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let timeout = match timeout.filter(|t| !t.is_none()) {
            Some(t) => extract_duration(t, "timeout", false)?,
            None => default_timeout,
        };
        let (reply, client) = match slf.get().ack_target(&AckKind::Ack) {
            Ok(target) => target,
            Err(err) => return refuse(slf, err),
        };
        let payload = AckKind::Ack.payload();
        let sent = payload.len();
        let request = async_nats::Request::new()
            .payload(payload)
            .timeout(Some(timeout));
        let confirmed = client.send_request(reply.to_owned(), request, sent);
        let client = client.clone();
        let lifeline = client.life.lifeline.clone();
        if keep_reply {
            let fut = async move {
                let msg = confirmed.await?;
                Ok(Reply { msg, client })
            };
            runtime::resolve_guarded(py, fut, &lifeline)
        } else {
            let fut = async move { confirmed.await.map(|_| ()) };
            runtime::resolve_guarded(py, fut, &lifeline)
        }
    }
}

#[pymethods]
impl PyMessage {
    #[getter]
    fn subject(&self) -> &str {
        self.msg.subject.as_str()
    }

    /// `""` when the message has none, as nats-py's `Msg.reply`.
    #[getter]
    fn reply(&self) -> &str {
        self.msg.reply.as_ref().map_or("", |r| r.as_str())
    }

    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let made = get_or_make(&self.payload, || {
            Ok(PyBytes::new(py, &self.msg.payload).unbind())
        });
        made.expect("making bytes does not fail").bind(py).clone()
    }

    /// The payload under nats-py's name.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.payload(py)
    }

    #[getter]
    fn headers(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let headers = get_or_make(&self.headers, || match &self.msg.headers {
            None => Ok(None),
            Some(map) => Ok(Some(PyHeaderMap::from_engine(map).to_headers(py)?)),
        })?;
        Ok(headers.as_ref().map(|h| h.clone_ref(py)))
    }

    /// The headers under nats-py's other name.
    #[getter]
    fn header(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.headers(py)
    }

    #[getter]
    fn status(&self) -> Option<u16> {
        self.msg.status.map(|s| s.as_u16())
    }

    #[getter]
    fn description(&self) -> Option<&str> {
        self.msg.description.as_deref()
    }

    #[getter]
    fn length(&self) -> usize {
        self.msg.length
    }

    /// Publish to this message's reply subject.
    #[pyo3(
        signature = (payload = PayloadArg::default(), *, headers = None),
        text_signature = "($self, payload=b'', *, headers=None)"
    )]
    fn respond(
        &self,
        py: Python<'_>,
        payload: PayloadArg<'_>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (Some(reply), Some(client)) = (&self.msg.reply, &self.client) else {
            let err = Error::new(Kind::NoReplySubject, "the message has no reply subject");
            return runtime::fail(py, err);
        };
        client.publish(py, reply.as_str(), payload, None, headers)
    }

    /// JetStream: acknowledge the message (it is not delivered again).
    ///
    /// Raises `NotJSMessageError` for a message without a reply subject and
    /// `MsgAlreadyAckdError` when it was already acked, nacked or terminated.
    fn ack(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Self::acknowledge(slf, AckKind::Ack)
    }

    /// JetStream: acknowledge and wait for the server to confirm it (nats-py); resolves
    /// to the server's reply.
    #[pyo3(signature = (timeout = None), text_signature = "($self, timeout=1.0)")]
    fn ack_sync(slf: &Bound<'_, Self>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        Self::acknowledge_sync(slf, timeout, Duration::from_secs(1), true)
    }

    /// JetStream: acknowledge and wait for the server to confirm it (async-nats).
    #[pyo3(signature = (timeout = None), text_signature = "($self, timeout=5.0)")]
    fn double_ack(
        slf: &Bound<'_, Self>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        Self::acknowledge_sync(slf, timeout, Duration::from_secs(5), false)
    }

    /// JetStream: ask for the message again, after `delay` (seconds or a `timedelta`).
    #[pyo3(signature = (delay = None))]
    fn nak(slf: &Bound<'_, Self>, delay: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let delay = match delay.filter(|d| !d.is_none()) {
            Some(d) => Some(extract_duration(d, "delay", true)?).filter(|d| !d.is_zero()),
            None => None,
        };
        Self::acknowledge(slf, AckKind::Nak(delay))
    }

    /// JetStream: still working on it; the server waits another ack-wait. Can repeat.
    fn in_progress(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Self::acknowledge(slf, AckKind::Progress)
    }

    /// JetStream: never deliver this message again.
    #[pyo3(signature = (reason = None))]
    fn term(slf: &Bound<'_, Self>, reason: Option<String>) -> PyResult<Py<PyAny>> {
        if let Some(reason) = &reason {
            if reason.contains(['\r', '\n']) {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "reason must not contain CR or LF",
                ));
            }
        }
        Self::acknowledge(slf, AckKind::Term(reason))
    }

    /// JetStream: whether an ack, nak or term was sent.
    #[getter]
    fn is_acked(&self) -> bool {
        self.acked.load(Ordering::Acquire)
    }

    /// nats-py's name for `is_acked`.
    #[getter]
    fn _ackd(&self) -> bool {
        self.is_acked()
    }

    /// JetStream: the delivery facts (stream, consumer, sequences, delivered count,
    /// pending, timestamp, domain) from the reply subject.
    ///
    /// Raises `NotJSMessageError` when the reply subject is not a JetStream ack subject.
    #[getter]
    fn metadata(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let made = get_or_make(&self.metadata, || {
            let parse = pynames::MSG_METADATA.get(py)?;
            Ok(parse.call1((self.reply(),))?.unbind())
        })?;
        Ok(made.clone_ref(py))
    }

    fn __repr__(&self) -> String {
        const SHOWN: usize = 64;
        let payload = &self.msg.payload;
        let shown = String::from_utf8_lossy(&payload[..payload.len().min(SHOWN)]);
        let more = if payload.len() > SHOWN { "..." } else { "" };
        format!(
            "<natsrs.Message subject={:?} reply={:?} payload={:?}{} ({} bytes){}>",
            self.msg.subject.as_str(),
            self.msg.reply.as_ref().map_or("", |r| r.as_str()),
            shown,
            more,
            payload.len(),
            self.msg
                .status
                .map_or(String::new(), |s| format!(" status={}", s.as_u16())),
        )
    }
}

/// An ack refused at the call: `MsgAlreadyAckdError` carries the message itself (nats-py's
/// `_msg`), the other refusals are plain errors.
fn refuse(msg: &Bound<'_, PyMessage>, err: Error) -> PyResult<Py<PyAny>> {
    let py = msg.py();
    if err.kind != Kind::MsgAlreadyAcked {
        return runtime::fail(py, err);
    }
    let exception = pynames::JS_MSG_ALREADY_ACKD_ERROR.get(py)?.call1((msg,))?;
    runtime::failed(py, PyErr::from_value(exception))
}

/// Makes one Python value of a batch of messages taken from a subscription. It takes
/// messages from the front of `msgs` as it goes; the subscription gets back what it
/// leaves, first in line.
pub(crate) trait Convert: Send + 'static {
    fn convert(
        self: Box<Self>,
        py: Python<'_>,
        msgs: &mut std::vec::IntoIter<async_nats::Message>,
        client: &Arc<ClientInner>,
    ) -> PyResult<Py<PyAny>>;
}

/// A batch as a list of `Message`s (`Subscriber.next_batch`).
pub(crate) struct MessageList;

impl Convert for MessageList {
    fn convert(
        self: Box<Self>,
        py: Python<'_>,
        msgs: &mut std::vec::IntoIter<async_nats::Message>,
        client: &Arc<ClientInner>,
    ) -> PyResult<Py<PyAny>> {
        let list = pyo3::types::PyList::empty(py);
        for msg in msgs {
            list.append(Py::new(py, PyMessage::new(msg, Some(client.clone())))?)?;
        }
        Ok(list.into_any().unbind())
    }
}

/// A batch appended to a `cb=` subscription's queue (`natsrs._compat._Pending`) under
/// nats-py's pending limits, checked as each message arrives (`max_msgs` against the
/// queue's length, `max_bytes` against its payload bytes; 0 means no limit), on the
/// event loop thread, where the callback's worker also takes from it. Makes how many
/// were dropped, or `None` once the subscription has ended (no messages).
pub(crate) struct Held(pub(crate) Py<PyAny>);

impl Convert for Held {
    fn convert(
        self: Box<Self>,
        py: Python<'_>,
        msgs: &mut std::vec::IntoIter<async_nats::Message>,
        client: &Arc<ClientInner>,
    ) -> PyResult<Py<PyAny>> {
        if msgs.len() == 0 {
            return Ok(py.None());
        }
        let held = self.0.bind(py);
        let queue = held.getattr(pyo3::intern!(py, "queue"))?;
        let max_msgs: usize = held.getattr(pyo3::intern!(py, "max_msgs"))?.extract()?;
        let max_bytes: usize = held.getattr(pyo3::intern!(py, "max_bytes"))?.extract()?;
        let mut queued: usize = queue.len()?;
        let mut bytes: usize = held.getattr(pyo3::intern!(py, "bytes"))?.extract()?;
        let append = queue.getattr(pyo3::intern!(py, "append"))?;
        let mut dropped = 0usize;
        for msg in msgs {
            let size = msg.payload.len();
            if (max_msgs > 0 && queued >= max_msgs) || (max_bytes > 0 && bytes + size > max_bytes) {
                dropped += 1;
                continue;
            }
            append.call1((Py::new(py, PyMessage::new(msg, Some(client.clone())))?,))?;
            queued += 1;
            bytes += size;
        }
        held.setattr(pyo3::intern!(py, "bytes"), bytes)?;
        Ok(dropped.into_pyobject(py)?.into_any().unbind())
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
