//! Arguments as Python passes them, checked and turned into Rust values: durations,
//! capacities, server lists and payloads; and URL redaction for every message that
//! shows a server address.

use std::str::FromStr;
use std::time::Duration;

use async_nats::ServerAddr;
use bytes::Bytes;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyMemoryView, PyString};

use crate::error::{Error, Kind};

pub(crate) const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// Upper bound for any duration option: far beyond any sensible value, and far enough
/// below what tokio's timers can represent.
const MAX_DURATION_SECS: f64 = u32::MAX as f64;

/// Payloads up to this size are copied into the outbox's buffer; larger `bytes` are
/// shared with Python instead (one reference held until the message is written).
pub(crate) const COPY_THRESHOLD: usize = 16 * 1024;

/// A publish's payload as Python gave it; copied at most once, into the outbox.
#[derive(Default)]
pub(crate) enum PayloadArg<'py> {
    #[default]
    Empty,
    Bytes(Bound<'py, PyBytes>),
    Owned(Bytes),
}

impl<'a, 'py> FromPyObject<'a, 'py> for PayloadArg<'py> {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return Ok(PayloadArg::Bytes(bytes.to_owned()));
        }
        if let Ok(array) = obj.cast::<PyByteArray>() {
            return Ok(PayloadArg::Owned(Bytes::from(array.to_vec())));
        }
        if obj.cast::<PyMemoryView>().is_ok() {
            let copy = obj.call_method0("tobytes")?;
            let copy = copy.cast::<PyBytes>()?;
            return Ok(PayloadArg::Owned(Bytes::copy_from_slice(copy.as_bytes())));
        }
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "payload must be bytes, bytearray or memoryview, not {}",
            obj.get_type().name()?
        )))
    }
}

impl PayloadArg<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            PayloadArg::Empty => 0,
            PayloadArg::Bytes(b) => b.as_bytes().len(),
            PayloadArg::Owned(b) => b.len(),
        }
    }

    /// The payload as the engine takes it.
    pub(crate) fn into_bytes(self) -> Bytes {
        match self {
            PayloadArg::Empty => Bytes::new(),
            PayloadArg::Bytes(b) if b.as_bytes().len() <= COPY_THRESHOLD => {
                Bytes::copy_from_slice(b.as_bytes())
            }
            PayloadArg::Bytes(b) => Bytes::from_owner(PyBackedBytes::from(b)),
            PayloadArg::Owned(b) => b,
        }
    }
}

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

/// Seconds (int or float) or a `datetime.timedelta`; rejects negative, NaN, infinite and
/// absurdly large values, and zero unless `allow_zero`.
pub(crate) fn extract_duration(
    value: &Bound<'_, PyAny>,
    what: &str,
    allow_zero: bool,
) -> PyResult<Duration> {
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be seconds (int or float) or a datetime.timedelta, not bool"
        )));
    }
    // Numbers first: probing `total_seconds` on a float raises and discards an
    // AttributeError, which showed in request profiles.
    let seconds: f64 = if let Ok(number) = value.extract::<f64>() {
        number
    } else if let Ok(total) = value.call_method0("total_seconds") {
        total.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{what} must be seconds (int or float) or a datetime.timedelta"
        )));
    };
    if seconds.is_nan() {
        return Err(PyValueError::new_err(format!("{what} must not be NaN")));
    }
    if seconds < 0.0 {
        return Err(PyValueError::new_err(format!(
            "{what} must not be negative"
        )));
    }
    if seconds == 0.0 && !allow_zero {
        return Err(PyValueError::new_err(format!(
            "{what} must be greater than 0"
        )));
    }
    if seconds > MAX_DURATION_SECS {
        return Err(PyValueError::new_err(format!(
            "{what} is out of range (at most {MAX_DURATION_SECS} s)"
        )));
    }
    Ok(Duration::from_secs_f64(seconds))
}

pub(crate) fn extract_capacity(value: usize, what: &str) -> PyResult<usize> {
    if value == 0 {
        return Err(PyValueError::new_err(format!("{what} must be at least 1")));
    }
    Ok(value)
}

/// `None`, one URL, or a sequence of URLs, parsed by the engine's address parser.
pub(crate) fn extract_servers(servers: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(servers) = servers.filter(|s| !s.is_none()) else {
        return Ok(vec![DEFAULT_URL.to_owned()]);
    };
    let urls = extract_server_list(servers)?;
    if urls.is_empty() {
        return Err(Error::new(Kind::InvalidServerAddress, "no server address given").into());
    }
    Ok(urls)
}

/// One URL, a comma-separated list, or a sequence of URLs (possibly empty).
pub(crate) fn extract_server_list(servers: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let wrong_type =
        || PyTypeError::new_err("servers must be a URL string or a sequence of URL strings");
    if let Ok(one) = servers.cast::<PyString>() {
        return Ok(one
            .to_cow()?
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect());
    }
    let mut urls = Vec::new();
    for item in servers.try_iter().map_err(|_| wrong_type())? {
        urls.push(item?.extract::<String>().map_err(|_| wrong_type())?);
    }
    Ok(urls)
}

/// The addresses of `urls`; a list that mixes websocket URLs with others is refused, as
/// the engine refuses it in `set_server_pool` (one pool speaks one transport).
pub(crate) fn parse_servers(urls: &[String]) -> Result<Vec<ServerAddr>, Error> {
    let addrs = urls
        .iter()
        .map(|url| {
            ServerAddr::from_str(url).map_err(|err| {
                Error::new(
                    Kind::InvalidServerAddress,
                    format!("invalid server address {}: {err}", redact_url(url)),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let websockets = addrs.iter().filter(|a| a.is_websocket()).count();
    if websockets != 0 && websockets != addrs.len() {
        return Err(Error::new(
            Kind::ServerPool,
            "mixing websocket and non-websocket URLs in one server list is not allowed",
        ));
    }
    Ok(addrs)
}

/// A URL with any userinfo (`user:password@`, `token@`) replaced, for messages and reprs.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***@{}", &url[..scheme_end], &url[at + 1..])
        }
        (None, Some(at)) => format!("***@{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// `redact_url` for the Python side (nats-py's URL properties and reprs).
#[pyfunction]
pub(crate) fn _redact_url(url: &str) -> String {
    redact_url(url)
}

/// How `connect` reads its `servers` argument, for the Python side.
#[pyfunction]
#[pyo3(signature = (servers = None))]
pub(crate) fn _server_list(servers: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    extract_servers(servers)
}
