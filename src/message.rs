//! `natsrs.Message`: an engine message, converted to Python attribute by attribute on
//! access, so a message whose payload is never read costs no Python object for it.

use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::PayloadArg;
use crate::error::{Error, Kind};
use crate::header::PyHeaderMap;
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

    fn __repr__(&self) -> String {
        const SHOWN: usize = 64;
        let payload = &self.msg.payload;
        let shown = String::from_utf8_lossy(&payload[..payload.len().min(SHOWN)]);
        let more = if payload.len() > SHOWN { "..." } else { "" };
        format!(
            "<natsrs.Message subject={:?} reply={:?} payload={:?}{} ({} bytes){}>",
            self.msg.subject.as_str(),
            self.msg.reply.as_ref().map(|r| r.as_str()),
            shown,
            more,
            payload.len(),
            self.msg
                .status
                .map_or(String::new(), |s| format!(" status={}", s.as_u16())),
        )
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
