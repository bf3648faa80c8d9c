//! The server pool as Python sees it: `natsrs.Server` and `natsrs.ReconnectToServer`,
//! and the engine-side wrappers of the reconnect callbacks.

use std::str::FromStr;
use std::time::Duration;

use async_nats::ServerAddr;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::callbacks::{self, PyCallback};
use crate::client::PyServerInfo;
use crate::options::{extract_duration, redact_url};

/// A zero delay reconnects at once the first time; after a failure against the same
/// server it waits at least this long, so a callback that always answers "now" cannot
/// spin a core against a dead server.
const MIN_RETRY_DELAY: Duration = Duration::from_millis(50);

/// How long the engine may wait for the synchronous delay callback to run on the loop.
const DELAY_CALLBACK_LIMIT: Duration = Duration::from_secs(5);

#[pyclass(name = "Server", module = "natsrs", frozen, get_all)]
pub(crate) struct PyServer {
    /// The URL, with any credentials replaced by `***`.
    addr: String,
    failed_attempts: usize,
    did_connect: bool,
    is_discovered: bool,
    last_error: Option<String>,
}

impl From<&async_nats::Server> for PyServer {
    fn from(s: &async_nats::Server) -> Self {
        PyServer {
            addr: redact_url(s.addr.as_url_str()),
            failed_attempts: s.failed_attempts,
            did_connect: s.did_connect,
            is_discovered: s.is_discovered,
            last_error: s.last_error.clone(),
        }
    }
}

#[pymethods]
impl PyServer {
    fn __repr__(&self) -> String {
        format!(
            "Server(addr={:?}, failed_attempts={}, did_connect={}, is_discovered={}, last_error={:?})",
            self.addr, self.failed_attempts, self.did_connect, self.is_discovered, self.last_error
        )
    }
}

/// What a reconnect-to-server callback returns: the server to try next, and optionally
/// how long to wait first (default: the reconnect backoff).
#[pyclass(name = "ReconnectToServer", module = "natsrs", frozen)]
pub(crate) struct PyReconnectToServer {
    #[pyo3(get)]
    addr: String,
    delay: Option<Duration>,
}

#[pymethods]
impl PyReconnectToServer {
    #[new]
    #[pyo3(signature = (addr, delay = None))]
    fn new(addr: String, delay: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let delay = match delay.filter(|d| !d.is_none()) {
            Some(d) => Some(extract_duration(d, "delay", true)?),
            None => None,
        };
        Ok(PyReconnectToServer { addr, delay })
    }

    #[getter]
    fn delay(&self) -> Option<f64> {
        self.delay.map(|d| d.as_secs_f64())
    }

    fn __repr__(&self) -> String {
        format!(
            "ReconnectToServer(addr={:?}, delay={:?})",
            redact_url(&self.addr),
            self.delay.map(|d| d.as_secs_f64())
        )
    }
}

/// Asks the Python callback which server to try next. Failures (an exception, a bad
/// return value) are logged and fall back to the engine's own selection.
pub(crate) async fn choose_server(
    callback: &PyCallback,
    servers: Vec<async_nats::Server>,
    info: async_nats::ServerInfo,
) -> Option<async_nats::ReconnectToServer> {
    let snapshot: Vec<(String, usize)> = servers
        .iter()
        .map(|s| (s.addr.as_url_str().to_owned(), s.failed_attempts))
        .collect();
    let choice = callback
        .call(
            move |py| {
                let pool = PyList::new(py, servers.iter().map(PyServer::from))?;
                let info = Py::new(py, PyServerInfo::from(info))?;
                PyTuple::new(py, [pool.into_any(), info.into_bound(py).into_any()])
            },
            |value| {
                if value.is_none() {
                    return Ok(None);
                }
                let choice = value.cast::<PyReconnectToServer>().map_err(|_| {
                    pyo3::exceptions::PyTypeError::new_err(
                        "the reconnect-to-server callback must return a natsrs.ReconnectToServer or None",
                    )
                })?;
                let choice = choice.get();
                Ok(Some((choice.addr.clone(), choice.delay)))
            },
        )
        .await;
    let (addr, delay) = match choice {
        Ok(Some(choice)) => choice,
        Ok(None) => return None,
        Err(message) => {
            callbacks::warn(&format!("reconnect-to-server callback failed: {message}"));
            return None;
        }
    };
    let Ok(addr) = ServerAddr::from_str(&addr) else {
        callbacks::warn("the reconnect-to-server callback returned an invalid address");
        return None;
    };
    let failed_before = snapshot
        .iter()
        .find(|(url, _)| url == addr.as_url_str())
        .is_some_and(|(_, failed)| *failed > 0);
    let delay = match delay {
        Some(d) if failed_before => Some(d.max(MIN_RETRY_DELAY)),
        other => other,
    };
    Some(async_nats::ReconnectToServer { addr, delay })
}

/// The synchronous delay callback, run on the connecting loop while this tokio worker
/// steps aside (`block_in_place`). Falls back to the engine's backoff on any failure.
pub(crate) fn reconnect_delay(callback: &PyCallback, attempts: usize) -> Option<Duration> {
    let handle = tokio::runtime::Handle::try_current().ok()?;
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return None;
    }
    let call = callback.call(
        move |py| PyTuple::new(py, [attempts]),
        |value| extract_duration(value, "reconnect delay", true),
    );
    let result = tokio::task::block_in_place(|| {
        handle.block_on(tokio::time::timeout(DELAY_CALLBACK_LIMIT, call))
    });
    match result {
        Ok(Ok(delay)) => Some(delay),
        Ok(Err(message)) => {
            callbacks::warn(&format!("reconnect delay callback failed: {message}"));
            None
        }
        Err(_) => {
            callbacks::warn("the reconnect delay callback did not return in time");
            None
        }
    }
}
