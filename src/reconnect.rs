//! The engine-side wrappers of the reconnect callbacks (which server next, how long to
//! wait), their fallback backoff, and `natsrs.ReconnectToServer`.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::ServerAddr;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::args::{extract_duration, redact_url};
use crate::callbacks::{self, PyCallback};
use crate::server::{PyServer, PyServerInfo};

/// A zero delay reconnects at once the first time; after a failure against the same
/// server it waits at least this long, so a callback that always answers "now" cannot
/// spin a core against a dead server.
const MIN_RETRY_DELAY: Duration = Duration::from_millis(50);

/// How long the engine may wait for the synchronous delay callback to run on the loop.
const DELAY_CALLBACK_LIMIT: Duration = Duration::from_secs(5);

/// The engine's default backoff (`connector::reconnect_delay_callback_default`, which is
/// not public): nothing before the first attempt, then 2^(n-1) ms capped at 4 s.
pub(crate) fn default_reconnect_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        Duration::ZERO
    } else {
        let exp: u32 = (attempts - 1).try_into().unwrap_or(u32::MAX);
        Duration::from_millis(2_u64.saturating_pow(exp)).min(Duration::from_secs(4))
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
        // A loop-driven engine runs on the loop's own thread: the loop cannot run the
        // callback for it, so it is called here, and must be a plain function.
        return crate::runtime::with_python(|py| {
            let args = PyTuple::new(py, [attempts])?;
            match callback.call_in_place(py, args)? {
                Some(value) => extract_duration(&value, "reconnect delay", true).map(Some),
                None => {
                    callbacks::warn(
                        "a client with runtime(\"loop\") needs a plain (not async) \
                         reconnect delay callback; using the default delay",
                    );
                    Ok(None)
                }
            }
        })
        .and_then(|result: PyResult<Option<Duration>>| {
            result.unwrap_or_else(|err| {
                callbacks::warn(&format!("reconnect delay callback failed: {err}"));
                None
            })
        });
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

/// The engine's own server order, one server per call: a pass over the pool (shuffled,
/// fewest failed attempts first, unless the order is kept), then the next pass. Used where
/// natsrs must name each server the engine tries (per-URL credentials) and no Python
/// callback chose one.
#[derive(Clone, Default)]
pub(crate) struct EngineOrder {
    pass: Arc<Mutex<VecDeque<ServerAddr>>>,
}

impl EngineOrder {
    pub(crate) fn next(
        &self,
        servers: &[async_nats::Server],
        retain_order: bool,
    ) -> Option<async_nats::ReconnectToServer> {
        let mut pass = self.pass.lock().unwrap_or_else(|e| e.into_inner());
        // Servers removed from the pool since the pass began are skipped.
        while let Some(addr) = pass.pop_front() {
            if servers.iter().any(|s| s.addr == addr) {
                return Some(async_nats::ReconnectToServer { addr, delay: None });
            }
        }
        let mut order: Vec<&async_nats::Server> = servers.iter().collect();
        if !retain_order {
            let seed = std::collections::hash_map::RandomState::new();
            order.sort_by_key(|s| (s.failed_attempts, seed.hash_one(s.addr.as_url_str())));
        }
        pass.extend(order.into_iter().map(|s| s.addr.clone()));
        let addr = pass.pop_front()?;
        Some(async_nats::ReconnectToServer { addr, delay: None })
    }
}

/// The pool's own entry for a server a callback named: the same URL, or the same host
/// and port (a callback may name a server without its credentials, or as the redacted
/// URL it was shown).
pub(crate) fn pool_entry(servers: &[async_nats::Server], addr: &ServerAddr) -> Option<ServerAddr> {
    servers
        .iter()
        .find(|s| s.addr == *addr)
        .or_else(|| {
            servers
                .iter()
                .find(|s| s.addr.host() == addr.host() && s.addr.port() == addr.port())
        })
        .map(|s| s.addr.clone())
}
