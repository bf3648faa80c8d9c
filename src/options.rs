//! `natsrs.ConnectOptions`: the builder, validated per setter, turned into
//! `async_nats::ConnectOptions` at connect time.
//!
//! The settings live in a plain `Clone` struct so one options object can connect many
//! times; the engine's options (which own callbacks) are built fresh for each connect.
//! Auth, TLS and callback options (later issues) slot in as more fields here.

use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::ServerAddr;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString, PyTuple};

use crate::client::{Lifecycle, PyClient};
use crate::error::{Error, Kind};
use crate::runtime::{self, ToPy};
use crate::subject;

pub(crate) const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// Upper bound for any duration option: far beyond any sensible value, and far enough
/// below what tokio's timers can represent.
const MAX_DURATION_SECS: f64 = u32::MAX as f64;

#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) name: Option<String>,
    pub(crate) ping_interval: Duration,
    pub(crate) connection_timeout: Duration,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) retry_on_initial_connect: bool,
    pub(crate) max_reconnects: Option<usize>,
    pub(crate) ignore_discovered_servers: bool,
    pub(crate) retain_servers_order: bool,
    pub(crate) skip_subject_validation: bool,
    pub(crate) subscription_capacity: usize,
    pub(crate) client_capacity: usize,
    pub(crate) custom_inbox_prefix: String,
    pub(crate) read_buffer_capacity: u16,
    pub(crate) local_address: Option<SocketAddr>,
    pub(crate) no_echo: bool,
    pub(crate) require_tls: bool,
}

impl Default for Settings {
    /// The engine's defaults, spelled out so `repr` can show them.
    fn default() -> Self {
        Settings {
            name: None,
            ping_interval: Duration::from_secs(60),
            connection_timeout: Duration::from_secs(5),
            request_timeout: Some(Duration::from_secs(10)),
            retry_on_initial_connect: false,
            max_reconnects: None,
            ignore_discovered_servers: false,
            retain_servers_order: false,
            skip_subject_validation: false,
            subscription_capacity: 65536,
            client_capacity: 2048,
            custom_inbox_prefix: "_INBOX".to_owned(),
            read_buffer_capacity: 65535,
            local_address: None,
            no_echo: false,
            require_tls: false,
        }
    }
}

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

impl Settings {
    /// Engine options for one connection. `life` lets the wrapper stop the engine's
    /// connection handler on `close()`, which the engine cannot do by itself.
    pub(crate) fn to_engine(&self, life: &Arc<Lifecycle>) -> async_nats::ConnectOptions {
        let mut opts = async_nats::ConnectOptions::new()
            .ping_interval(self.ping_interval)
            .connection_timeout(self.connection_timeout)
            .request_timeout(self.request_timeout)
            .max_reconnects(self.max_reconnects)
            .skip_subject_validation(self.skip_subject_validation)
            .subscription_capacity(self.subscription_capacity)
            .client_capacity(self.client_capacity)
            .custom_inbox_prefix(&self.custom_inbox_prefix)
            .read_buffer_capacity(self.read_buffer_capacity)
            .require_tls(self.require_tls);
        if let Some(name) = &self.name {
            opts = opts.name(name);
        }
        if self.retry_on_initial_connect {
            opts = opts.retry_on_initial_connect();
        }
        if self.ignore_discovered_servers {
            opts = opts.ignore_discovered_servers();
        }
        if self.retain_servers_order {
            opts = opts.retain_servers_order();
        }
        if let Some(addr) = self.local_address {
            opts = opts.local_address(addr);
        }
        if self.no_echo {
            opts = opts.no_echo();
        }
        let events = life.clone();
        opts = opts.event_callback(move |event| {
            let events = events.clone();
            async move { events.on_event(event) }
        });
        let delays = life.clone();
        opts.reconnect_delay_callback(move |attempts| {
            delays.stop_handler_if_closed();
            default_reconnect_delay(attempts)
        })
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
    let seconds: f64 = if let Ok(total) = value.call_method0("total_seconds") {
        total.extract()?
    } else {
        value.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be seconds (int or float) or a datetime.timedelta"
            ))
        })?
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

fn extract_capacity(value: usize, what: &str) -> PyResult<usize> {
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
    let urls: Vec<String> = if let Ok(one) = servers.cast::<PyString>() {
        one.to_cow()?
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        let mut urls = Vec::new();
        for item in servers.try_iter().map_err(|_| {
            PyTypeError::new_err("servers must be a URL string or a sequence of URL strings")
        })? {
            urls.push(item?.extract::<String>().map_err(|_| {
                PyTypeError::new_err("servers must be a URL string or a sequence of URL strings")
            })?);
        }
        urls
    };
    if urls.is_empty() {
        return Err(Error::new(Kind::InvalidServerAddress, "no server address given").into());
    }
    Ok(urls)
}

pub(crate) fn parse_servers(urls: &[String]) -> Result<Vec<ServerAddr>, Error> {
    urls.iter()
        .map(|url| {
            ServerAddr::from_str(url).map_err(|err| {
                Error::new(
                    Kind::InvalidServerAddress,
                    format!("invalid server address {}: {err}", redact_url(url)),
                )
            })
        })
        .collect()
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

fn fmt_duration(d: Duration) -> String {
    format!("{:?}", d.as_secs_f64())
}

#[pyclass(name = "ConnectOptions", module = "natsrs", frozen)]
pub(crate) struct PyConnectOptions {
    settings: Mutex<Settings>,
}

impl PyConnectOptions {
    fn set(slf: &Bound<'_, Self>, f: impl FnOnce(&mut Settings)) -> Py<Self> {
        f(&mut slf.get().settings.lock().expect("options lock"));
        slf.clone().unbind()
    }
}

#[pymethods]
impl PyConnectOptions {
    #[new]
    fn new() -> Self {
        PyConnectOptions {
            settings: Mutex::new(Settings::default()),
        }
    }

    fn name(slf: &Bound<'_, Self>, name: String) -> Py<Self> {
        Self::set(slf, |s| s.name = Some(name))
    }

    fn ping_interval(slf: &Bound<'_, Self>, interval: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let d = extract_duration(interval, "ping_interval", false)?;
        Ok(Self::set(slf, |s| s.ping_interval = d))
    }

    fn connection_timeout(slf: &Bound<'_, Self>, timeout: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let d = extract_duration(timeout, "connection_timeout", false)?;
        Ok(Self::set(slf, |s| s.connection_timeout = d))
    }

    fn request_timeout(slf: &Bound<'_, Self>, timeout: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let d = if timeout.is_none() {
            None
        } else {
            Some(extract_duration(timeout, "request_timeout", false)?)
        };
        Ok(Self::set(slf, |s| s.request_timeout = d))
    }

    #[pyo3(signature = (enabled = true))]
    fn retry_on_initial_connect(slf: &Bound<'_, Self>, enabled: bool) -> Py<Self> {
        Self::set(slf, |s| s.retry_on_initial_connect = enabled)
    }

    fn max_reconnects(slf: &Bound<'_, Self>, count: Option<usize>) -> Py<Self> {
        Self::set(slf, |s| s.max_reconnects = count)
    }

    #[pyo3(signature = (enabled = true))]
    fn ignore_discovered_servers(slf: &Bound<'_, Self>, enabled: bool) -> Py<Self> {
        Self::set(slf, |s| s.ignore_discovered_servers = enabled)
    }

    #[pyo3(signature = (enabled = true))]
    fn retain_servers_order(slf: &Bound<'_, Self>, enabled: bool) -> Py<Self> {
        Self::set(slf, |s| s.retain_servers_order = enabled)
    }

    #[pyo3(signature = (enabled = true))]
    fn skip_subject_validation(slf: &Bound<'_, Self>, enabled: bool) -> Py<Self> {
        Self::set(slf, |s| s.skip_subject_validation = enabled)
    }

    fn subscription_capacity(slf: &Bound<'_, Self>, capacity: usize) -> PyResult<Py<Self>> {
        let c = extract_capacity(capacity, "subscription_capacity")?;
        Ok(Self::set(slf, |s| s.subscription_capacity = c))
    }

    fn client_capacity(slf: &Bound<'_, Self>, capacity: usize) -> PyResult<Py<Self>> {
        let c = extract_capacity(capacity, "client_capacity")?;
        Ok(Self::set(slf, |s| s.client_capacity = c))
    }

    fn custom_inbox_prefix(slf: &Bound<'_, Self>, prefix: String) -> PyResult<Py<Self>> {
        if !subject::is_valid(&prefix) || prefix.contains('*') || prefix.contains('>') {
            return Err(Error::value(format!(
                "invalid inbox prefix {prefix:?}: it must be a subject without wildcards"
            ))
            .into());
        }
        Ok(Self::set(slf, |s| s.custom_inbox_prefix = prefix))
    }

    fn read_buffer_capacity(slf: &Bound<'_, Self>, capacity: usize) -> PyResult<Py<Self>> {
        let c = u16::try_from(capacity)
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| PyValueError::new_err("read_buffer_capacity must be in 1..=65535"))?;
        Ok(Self::set(slf, |s| s.read_buffer_capacity = c))
    }

    fn local_address(slf: &Bound<'_, Self>, address: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let addr: SocketAddr = if let Ok(text) = address.extract::<String>() {
            text.parse().map_err(|_| {
                PyValueError::new_err(format!("invalid local address {text:?}: expected ip:port"))
            })?
        } else if address.is_instance_of::<PyTuple>() {
            let (host, port): (String, u16) = address.extract()?;
            (host.as_str(), port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| {
                    PyValueError::new_err(format!("invalid local address ({host:?}, {port})"))
                })?
        } else {
            return Err(PyTypeError::new_err(
                "local_address must be 'ip:port' or a (host, port) tuple",
            ));
        };
        Ok(Self::set(slf, |s| s.local_address = Some(addr)))
    }

    #[pyo3(signature = (enabled = true))]
    fn no_echo(slf: &Bound<'_, Self>, enabled: bool) -> Py<Self> {
        Self::set(slf, |s| s.no_echo = enabled)
    }

    #[pyo3(signature = (enabled = true))]
    fn require_tls(slf: &Bound<'_, Self>, enabled: bool) -> Py<Self> {
        Self::set(slf, |s| s.require_tls = enabled)
    }

    /// Connect; the awaitable resolves to a `Client`.
    #[pyo3(signature = (servers = None))]
    fn connect(&self, py: Python<'_>, servers: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let settings = self.settings.lock().expect("options lock").clone();
        let urls = extract_servers(servers)?;
        let addrs = match parse_servers(&urls) {
            Ok(addrs) => addrs,
            Err(err) => return runtime::failed(py, err.into_pyerr(py)),
        };
        runtime::spawn(py, connect(settings, addrs))
    }

    fn __repr__(&self) -> String {
        let s = self.settings.lock().expect("options lock");
        format!(
            "ConnectOptions(name={}, ping_interval={}, connection_timeout={}, \
             request_timeout={}, retry_on_initial_connect={}, max_reconnects={}, \
             ignore_discovered_servers={}, retain_servers_order={}, \
             skip_subject_validation={}, subscription_capacity={}, client_capacity={}, \
             custom_inbox_prefix={:?}, read_buffer_capacity={}, local_address={}, \
             no_echo={}, require_tls={})",
            s.name
                .as_ref()
                .map_or("None".to_owned(), |n| format!("{n:?}")),
            fmt_duration(s.ping_interval),
            fmt_duration(s.connection_timeout),
            s.request_timeout.map_or("None".to_owned(), fmt_duration),
            py_bool(s.retry_on_initial_connect),
            s.max_reconnects
                .map_or("None".to_owned(), |n| n.to_string()),
            py_bool(s.ignore_discovered_servers),
            py_bool(s.retain_servers_order),
            py_bool(s.skip_subject_validation),
            s.subscription_capacity,
            s.client_capacity,
            s.custom_inbox_prefix,
            s.read_buffer_capacity,
            s.local_address
                .map_or("None".to_owned(), |a| format!("'{a}'")),
            py_bool(s.no_echo),
            py_bool(s.require_tls),
        )
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A connected engine client on its way to becoming a Python `Client`.
struct Connected {
    client: async_nats::Client,
    life: Arc<Lifecycle>,
    settings: Settings,
}

impl ToPy for Connected {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PyClient::new(self.client, self.life, &self.settings))?.into_any())
    }
}

async fn connect(settings: Settings, addrs: Vec<ServerAddr>) -> Result<Connected, Error> {
    let life = Lifecycle::new();
    let options = settings.to_engine(&life);
    let client = async_nats::connect_with_options(addrs, options).await?;
    Ok(Connected {
        client,
        life,
        settings,
    })
}
