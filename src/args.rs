//! Arguments as Python passes them, checked and turned into Rust values: durations,
//! capacities, server lists and payloads; and URL redaction for every message that
//! shows a server address.

use std::str::FromStr;
use std::time::Duration;

use async_nats::ServerAddr;
use bytes::Bytes;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
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
/// absurdly large values, and zero unless `allow_zero`. Zero includes a positive value
/// below a nanosecond, the resolution of the engine's `Duration`: it would round to a
/// zero period (tokio's `interval` panics on one).
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
    let duration = Duration::from_secs_f64(seconds);
    if duration.is_zero() && !allow_zero {
        return Err(PyValueError::new_err(format!(
            "{what} must be at least 1 ns (got {seconds:?} s)"
        )));
    }
    Ok(duration)
}

/// Upper bound for the capacity options (messages per subscription, commands toward the
/// connection): 16 Mi entries. The engine's channels are tokio's, whose semaphore panics
/// above `Semaphore::MAX_PERMITS` (`usize::MAX >> 3`, only 2^29 on 32-bit targets); this
/// bound is far below that on every target, and far above any useful buffer (a full
/// subscription of 16 Mi small messages is already gigabytes).
pub(crate) const MAX_CAPACITY: i128 = 1 << 24;

/// An integer (anything with `__index__`) as a wide signed integer, so that negative and
/// huge values become a `ValueError` naming the option rather than PyO3's
/// `OverflowError` from an unsigned conversion.
pub(crate) fn extract_int(value: &Bound<'_, PyAny>, what: &str) -> PyResult<i128> {
    value.extract::<i128>().map_err(|err| {
        if err.is_instance_of::<PyOverflowError>(value.py()) {
            PyValueError::new_err(format!("{what} is out of range"))
        } else {
            err
        }
    })
}

/// A capacity option: an int in `1..=MAX_CAPACITY`.
pub(crate) fn extract_capacity(value: &Bound<'_, PyAny>, what: &str) -> PyResult<usize> {
    let n = extract_int(value, what)?;
    if !(1..=MAX_CAPACITY).contains(&n) {
        return Err(PyValueError::new_err(format!(
            "{what} must be in 1..={MAX_CAPACITY} (got {n})"
        )));
    }
    Ok(n as usize)
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
        return Ok(split_server_list(&one.to_cow()?));
    }
    let mut urls = Vec::new();
    for item in servers.try_iter().map_err(|_| wrong_type())? {
        urls.push(item?.extract::<String>().map_err(|_| wrong_type())?);
    }
    Ok(urls)
}

/// Splits a comma-separated server list at the commas between URLs only.
///
/// A URL's userinfo (`user:password@`) may hold commas (RFC 3986 allows them there, and
/// passwords do); a host, a port or a scheme cannot. So in each URL the commas before the
/// last `@` of its authority (which ends at the first `/`, `?` or `#` after the scheme)
/// belong to it, unless a comma is followed by a `scheme://` (a new URL). Splitting a
/// password would send half of it as a server address, to be shown in an error.
fn split_server_list(list: &str) -> Vec<String> {
    let mut urls = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let end = url_end(rest);
        let url = rest[..end].trim();
        if !url.is_empty() {
            urls.push(url.to_owned());
        }
        rest = rest.get(end + 1..).unwrap_or("");
    }
    urls
}

/// Where the first URL of `list` ends: the index of the comma after it, or `list.len()`.
fn url_end(list: &str) -> usize {
    // Commas followed by a scheme always start a new URL.
    let mut limit = list.len();
    for (i, _) in list.match_indices(',') {
        if starts_with_scheme(list[i + 1..].trim_start()) {
            limit = i;
            break;
        }
    }
    let head = &list[..limit];
    let authority_start = match head.find("://") {
        Some(i) if !head[..i].contains([',', '@', '/']) => i + 3,
        _ => 0,
    };
    let authority_end = head[authority_start..]
        .find(['/', '?', '#'])
        .map_or(head.len(), |i| authority_start + i);
    let host_start = head[authority_start..authority_end]
        .rfind('@')
        .map_or(authority_start, |at| authority_start + at + 1);
    head[host_start..]
        .find(',')
        .map_or(limit, |comma| host_start + comma)
}

/// `scheme://…` (RFC 3986: a letter, then letters, digits, `+`, `-` or `.`).
fn starts_with_scheme(text: &str) -> bool {
    let Some(colon) = text.find("://") else {
        return false;
    };
    let scheme = &text[..colon];
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
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

/// A batch call's `max` (`None`: 1024) and `timeout` (`None`: no limit).
pub(crate) fn extract_batch_limits(
    max: Option<&Bound<'_, PyAny>>,
    timeout: Option<&Bound<'_, PyAny>>,
) -> PyResult<(usize, Option<Duration>)> {
    let max = usize::try_from(extract_count(max, "max", 1024)?).unwrap_or(usize::MAX);
    let timeout = match timeout.filter(|t| !t.is_none()) {
        Some(t) => Some(extract_duration(t, "timeout", true)?),
        None => None,
    };
    Ok((max, timeout))
}

/// A count (`None`: `default`): negative or huge is a `ValueError`, as for options.
pub(crate) fn extract_count(
    value: Option<&Bound<'_, PyAny>>,
    what: &str,
    default: u64,
) -> PyResult<u64> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(default);
    };
    let n = extract_int(value, what)?;
    u64::try_from(n)
        .map_err(|_| PyValueError::new_err(format!("{what} must be in 0..=2**64-1 (got {n})")))
}
