//! `natsrs.ConnectOptions`: the builder, validated per setter, turned into
//! `async_nats::ConnectOptions` at connect time.
//!
//! The settings live in a plain `Clone` struct so one options object can connect many
//! times; the engine's options (which own callbacks) are built fresh for each connect.
//! Auth, TLS and callback options (later issues) slot in as more fields here.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::ServerAddr;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyString, PyTuple};

use crate::callbacks::{self, PyCallback};
use crate::client::{Lifecycle, PyClient};
use crate::connector;
use crate::error::{Error, Kind};
use crate::runtime::{self, ToPy};
use crate::subject;
use crate::tls::{extract_tls, Tls, SSL_CONTEXT_CLIENT_CERT_HINT};

pub(crate) const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// Upper bound for any duration option: far beyond any sensible value, and far enough
/// below what tokio's timers can represent.
const MAX_DURATION_SECS: f64 = u32::MAX as f64;

#[derive(Clone)]
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
    pub(crate) tls_first: bool,
    pub(crate) root_certificates: Vec<PathBuf>,
    pub(crate) client_certificate: Option<(PathBuf, PathBuf)>,
    pub(crate) tls: Option<Tls>,
    pub(crate) auth: AuthSettings,
    pub(crate) event_callback: Option<Arc<Py<PyAny>>>,
    pub(crate) reconnect_delay_callback: Option<Arc<Py<PyAny>>>,
    pub(crate) reconnect_to_server_callback: Option<Arc<Py<PyAny>>>,
}

/// Credentials. Every secret here stays out of `repr`, errors and logs.
#[derive(Clone, Default)]
pub(crate) struct AuthSettings {
    token: Option<String>,
    user_and_password: Option<(String, String)>,
    nkey_seed: Option<String>,
    /// A user JWT and the Python callable that signs the server's nonce.
    jwt: Option<(String, Arc<Py<PyAny>>)>,
    /// The text of a `.creds` file (read and checked when the option was set).
    credentials: Option<String>,
    auth_callback: Option<Arc<Py<PyAny>>>,
}

impl AuthSettings {
    /// Lets the log bridge scrub these values from engine records.
    fn register_secrets(&self) {
        use crate::logging::register_secret;
        self.token.iter().for_each(|t| register_secret(t));
        self.user_and_password
            .iter()
            .for_each(|(_, p)| register_secret(p));
        self.nkey_seed.iter().for_each(|s| register_secret(s));
        if let Some((jwt, _)) = &self.jwt {
            register_secret(jwt);
        }
        if let Some(creds) = &self.credentials {
            // The JWT and seed lines; the armour lines and prose have spaces or dashes.
            creds
                .lines()
                .map(str::trim)
                .filter(|l| l.len() >= 20 && !l.starts_with(['-', '*']) && !l.contains(' '))
                .for_each(register_secret);
        }
    }

    fn is_empty(&self) -> bool {
        self.token.is_none()
            && self.user_and_password.is_none()
            && self.nkey_seed.is_none()
            && self.jwt.is_none()
            && self.credentials.is_none()
            && self.auth_callback.is_none()
    }

    /// What `repr` may show: which methods are set, the user name, never a secret.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.token.is_some() {
            parts.push("token=***".to_owned());
        }
        if let Some((user, _)) = &self.user_and_password {
            parts.push(format!("user={user:?}, password=***"));
        }
        if self.nkey_seed.is_some() {
            parts.push("nkey=***".to_owned());
        }
        if self.jwt.is_some() {
            parts.push("jwt=***".to_owned());
        }
        if self.credentials.is_some() {
            parts.push("credentials=***".to_owned());
        }
        if self.auth_callback.is_some() {
            parts.push("auth_callback=<callable>".to_owned());
        }
        if parts.is_empty() {
            "None".to_owned()
        } else {
            format!("{{{}}}", parts.join(", "))
        }
    }
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
            tls_first: false,
            root_certificates: Vec::new(),
            client_certificate: None,
            tls: None,
            auth: AuthSettings::default(),
            event_callback: None,
            reconnect_delay_callback: None,
            reconnect_to_server_callback: None,
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
    /// Engine options for one connection, made on the Python thread that connects (the
    /// callbacks bind to its running loop). `life` lets the wrapper stop the engine's
    /// connection handler on `close()`, which the engine cannot do by itself.
    pub(crate) fn to_engine(
        &self,
        py: Python<'_>,
        life: &Arc<Lifecycle>,
        url_auth: Option<UrlAuth>,
    ) -> PyResult<async_nats::ConnectOptions> {
        let auth = &self.auth;
        let needs_loop = auth.jwt.is_some()
            || auth.auth_callback.is_some()
            || self.event_callback.is_some()
            || self.reconnect_delay_callback.is_some()
            || self.reconnect_to_server_callback.is_some();
        let locals = if needs_loop {
            Some(callbacks::current_locals(py).map_err(|_| {
                PyRuntimeError::new_err(
                    "connecting with Python callbacks needs a running event loop",
                )
            })?)
        } else {
            None
        };
        let callback = |func: &Arc<Py<PyAny>>| {
            let locals = locals.as_ref().expect("locals captured for callbacks");
            PyCallback::new(py, func, locals, &life.callback_errors)
        };

        let mut opts = match &auth.auth_callback {
            Some(func) => {
                let cb = callback(func);
                async_nats::ConnectOptions::with_auth_callback(move |nonce: Vec<u8>| {
                    let cb = cb.clone();
                    async move {
                        cb.call(
                            move |py| PyTuple::new(py, [PyBytes::new(py, &nonce)]),
                            extract_auth,
                        )
                        .await
                        .map_err(async_nats::AuthError::new)
                    }
                })
            }
            None => async_nats::ConnectOptions::new(),
        };
        if let Some(token) = &auth.token {
            opts = opts.token(token.clone());
        }
        if let Some((user, password)) = &auth.user_and_password {
            opts = opts.user_and_password(user.clone(), password.clone());
        }
        if let Some(seed) = &auth.nkey_seed {
            opts = opts.nkey(seed.clone());
        }
        if let Some((jwt, func)) = &auth.jwt {
            let cb = callback(func);
            opts = opts.jwt(jwt.clone(), move |nonce: Vec<u8>| {
                let cb = cb.clone();
                async move {
                    cb.call(
                        move |py| PyTuple::new(py, [PyBytes::new(py, &nonce)]),
                        |value| {
                            value.extract::<Vec<u8>>().map_err(|_| {
                                PyTypeError::new_err("the JWT sign callback must return bytes")
                            })
                        },
                    )
                    .await
                    .map_err(async_nats::AuthError::new)
                }
            });
        }
        if let Some(creds) = &auth.credentials {
            opts = opts
                .credentials(creds)
                .map_err(|_| invalid_credentials("malformed credentials"))?;
        }
        if auth.is_empty() {
            // The engine ignores credentials in server URLs; nats-py users rely on them.
            match url_auth {
                Some(UrlAuth::UserPassword(user, password)) => {
                    opts = opts.user_and_password(user, password);
                }
                Some(UrlAuth::Token(token)) => opts = opts.token(token),
                None => {}
            }
        }

        opts = opts
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
        if self.tls_first {
            opts = opts.tls_first();
        }
        for path in &self.root_certificates {
            opts = opts.add_root_certificates(path.clone());
        }
        match &self.tls {
            Some(tls) => {
                let config = tls.client_config(self.client_certificate.as_ref())?;
                opts = opts.tls_client_config(config).require_tls(true);
            }
            None => {
                if let Some((cert, key)) = &self.client_certificate {
                    opts = opts.add_client_certificate(cert.clone(), key.clone());
                }
            }
        }
        if let Some(func) = &self.event_callback {
            life.events.set_callback(callback(func));
        }
        let events = life.clone();
        opts = opts.event_callback(move |event| {
            let events = events.clone();
            async move { events.on_event(event) }
        });
        let delays = life.clone();
        let delay_callback = self.reconnect_delay_callback.as_ref().map(callback);
        opts = opts.reconnect_delay_callback(move |attempts| {
            delays.stop_handler_if_closed();
            delay_callback
                .as_ref()
                .and_then(|cb| connector::reconnect_delay(cb, attempts))
                .unwrap_or_else(|| default_reconnect_delay(attempts))
        });
        // Installed even without a Python callback: it is where a closed client's
        // handler stops before its next connection attempt.
        let chooser = life.clone();
        let choose_callback = self.reconnect_to_server_callback.as_ref().map(callback);
        Ok(opts.reconnect_to_server_callback(move |servers, info| {
            let chooser = chooser.clone();
            let choose_callback = choose_callback.clone();
            async move {
                chooser.stop_handler_if_closed();
                match choose_callback {
                    Some(cb) => connector::choose_server(&cb, servers, info).await,
                    None => None,
                }
            }
        }))
    }
}

/// Credentials found in a server URL (`nats://user:pass@host`, `nats://token@host`).
pub(crate) enum UrlAuth {
    UserPassword(String, String),
    Token(String),
}

fn url_auth(addrs: &[ServerAddr]) -> Option<UrlAuth> {
    addrs.iter().find_map(|addr| {
        let user = addr.username().filter(|u| !u.is_empty())?;
        let user = percent_decode(user);
        Some(match addr.password() {
            Some(password) => UrlAuth::UserPassword(user, percent_decode(password)),
            None => UrlAuth::Token(user),
        })
    })
}

/// URL userinfo is percent-encoded (`p%40ss` for `p@ss`).
fn percent_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn extract_auth(value: &Bound<'_, PyAny>) -> PyResult<async_nats::Auth> {
    let auth = value
        .cast::<PyAuth>()
        .map_err(|_| PyTypeError::new_err("the auth callback must return a natsrs.Auth"))?;
    let a = auth.get();
    let mut out = async_nats::Auth::new();
    out.username = a.username.clone();
    out.password = a.password.clone();
    out.token = a.token.clone();
    out.jwt = a.jwt.clone();
    out.nkey = a.nkey.clone();
    out.signature = a.signature.clone();
    Ok(out)
}

fn invalid_credentials(message: &str) -> PyErr {
    Error::new(Kind::InvalidCredentials, message).into()
}

/// What an auth callback returns: any combination the server's auth setup expects.
#[pyclass(name = "Auth", module = "natsrs", frozen)]
pub(crate) struct PyAuth {
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    jwt: Option<String>,
    nkey: Option<String>,
    signature: Option<Vec<u8>>,
}

#[pymethods]
impl PyAuth {
    #[new]
    #[pyo3(signature = (*, username = None, password = None, token = None, jwt = None, nkey = None, signature = None))]
    fn new(
        username: Option<String>,
        password: Option<String>,
        token: Option<String>,
        jwt: Option<String>,
        nkey: Option<String>,
        signature: Option<Vec<u8>>,
    ) -> Self {
        PyAuth {
            username,
            password,
            token,
            jwt,
            nkey,
            signature,
        }
    }

    #[getter]
    fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    #[getter]
    fn nkey(&self) -> Option<&str> {
        self.nkey.as_deref()
    }

    fn __repr__(&self) -> String {
        let secret = |v: bool| if v { "***" } else { "None" };
        format!(
            "Auth(username={}, password={}, token={}, jwt={}, nkey={}, signature={})",
            self.username
                .as_ref()
                .map_or("None".to_owned(), |u| format!("{u:?}")),
            secret(self.password.is_some()),
            secret(self.token.is_some()),
            secret(self.jwt.is_some()),
            self.nkey
                .as_ref()
                .map_or("None".to_owned(), |n| format!("{n:?}")),
            secret(self.signature.is_some()),
        )
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

    #[pyo3(signature = (enabled = true))]
    fn tls_first(slf: &Bound<'_, Self>, enabled: bool) -> Py<Self> {
        Self::set(slf, |s| s.tls_first = enabled)
    }

    /// Trust the CA certificates in a PEM file (it may hold several); repeatable.
    fn add_root_certificates(slf: &Bound<'_, Self>, path: PathBuf) -> PyResult<Py<Self>> {
        readable_file(&path, "root certificates")?;
        Ok(Self::set(slf, |s| s.root_certificates.push(path)))
    }

    /// Present this client certificate and key (PEM files) for mutual TLS.
    fn add_client_certificate(
        slf: &Bound<'_, Self>,
        cert_path: PathBuf,
        key_path: PathBuf,
    ) -> PyResult<Py<Self>> {
        readable_file(&cert_path, "client certificate")?;
        readable_file(&key_path, "client key")?;
        Ok(Self::set(slf, |s| {
            s.client_certificate = Some((cert_path, key_path))
        }))
    }

    /// TLS from a `natsrs.TlsConfig` or an `ssl.SSLContext`; implies `require_tls`.
    fn tls(slf: &Bound<'_, Self>, config: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let tls = extract_tls(config)?;
        Ok(Self::set(slf, |s| s.tls = Some(tls)))
    }

    fn token(slf: &Bound<'_, Self>, token: String) -> Py<Self> {
        Self::set(slf, |s| s.auth.token = Some(token))
    }

    fn user_and_password(slf: &Bound<'_, Self>, user: String, password: String) -> Py<Self> {
        Self::set(slf, |s| s.auth.user_and_password = Some((user, password)))
    }

    /// Authenticate with a user nkey seed (`SU...`); the nonce is signed in Rust.
    fn nkey(slf: &Bound<'_, Self>, seed: String) -> PyResult<Py<Self>> {
        match nkeys::KeyPair::from_seed(seed.trim()) {
            Ok(pair) if pair.public_key().starts_with('U') => {}
            _ => {
                return Err(invalid_credentials(
                    "malformed nkey seed: expected a user seed (SU...)",
                ))
            }
        }
        Ok(Self::set(slf, |s| {
            s.auth.nkey_seed = Some(seed.trim().to_owned())
        }))
    }

    /// Authenticate with a user JWT; `sign_cb(nonce: bytes) -> bytes` (plain or async)
    /// signs the server's nonce with the user's nkey.
    fn jwt(slf: &Bound<'_, Self>, jwt: String, sign_cb: Py<PyAny>) -> PyResult<Py<Self>> {
        check_jwt(&jwt)?;
        if !sign_cb.bind(slf.py()).is_callable() {
            return Err(PyTypeError::new_err("sign_cb must be callable"));
        }
        Ok(Self::set(slf, |s| {
            s.auth.jwt = Some((jwt, Arc::new(sign_cb)))
        }))
    }

    /// Authenticate with the contents of a `.creds` file.
    fn credentials(slf: &Bound<'_, Self>, creds: String) -> PyResult<Py<Self>> {
        check_credentials(&creds)?;
        Ok(Self::set(slf, |s| s.auth.credentials = Some(creds)))
    }

    /// Authenticate with a `.creds` file, read and checked now.
    fn credentials_file(slf: &Bound<'_, Self>, path: PathBuf) -> PyResult<Py<Self>> {
        let creds = std::fs::read_to_string(&path).map_err(|err| {
            invalid_credentials(&format!(
                "cannot read credentials file {}: {err}",
                path.display()
            ))
        })?;
        check_credentials(&creds)?;
        Ok(Self::set(slf, |s| s.auth.credentials = Some(creds)))
    }

    /// `async cb(nonce: bytes) -> natsrs.Auth` (or a plain function), called on every
    /// connect and reconnect.
    fn auth_callback(slf: &Bound<'_, Self>, callback: Py<PyAny>) -> PyResult<Py<Self>> {
        if !callback.bind(slf.py()).is_callable() {
            return Err(PyTypeError::new_err("the auth callback must be callable"));
        }
        Ok(Self::set(slf, |s| {
            s.auth.auth_callback = Some(Arc::new(callback))
        }))
    }

    /// `cb(event)` (plain or async) for every connection event, in order, on the
    /// connecting loop. An exception in it is logged and reported, never fatal.
    fn event_callback(slf: &Bound<'_, Self>, callback: Py<PyAny>) -> PyResult<Py<Self>> {
        let callback = checked_callable(slf.py(), callback, "event callback")?;
        Ok(Self::set(slf, |s| s.event_callback = Some(callback)))
    }

    /// `cb(attempts) -> float | timedelta`: the wait before a reconnect attempt.
    fn reconnect_delay_callback(slf: &Bound<'_, Self>, callback: Py<PyAny>) -> PyResult<Py<Self>> {
        let callback = checked_callable(slf.py(), callback, "reconnect delay callback")?;
        Ok(Self::set(slf, |s| {
            s.reconnect_delay_callback = Some(callback)
        }))
    }

    /// `async cb(servers, info) -> ReconnectToServer | None`: which server to try next.
    fn reconnect_to_server_callback(
        slf: &Bound<'_, Self>,
        callback: Py<PyAny>,
    ) -> PyResult<Py<Self>> {
        let callback = checked_callable(slf.py(), callback, "reconnect-to-server callback")?;
        Ok(Self::set(slf, |s| {
            s.reconnect_to_server_callback = Some(callback)
        }))
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
        crate::logging::refresh(py)?;
        settings.auth.register_secrets();
        for addr in &addrs {
            if let Some(password) = addr.password() {
                crate::logging::register_secret(password);
            }
            if let Some(user) = addr.username().filter(|_| addr.password().is_none()) {
                crate::logging::register_secret(user);
            }
        }
        let life = Lifecycle::new();
        let options = settings.to_engine(py, &life, url_auth(&addrs))?;
        runtime::spawn_on_tokio(py, connect(settings, addrs, options, life))
    }

    fn __repr__(&self) -> String {
        let s = self.settings.lock().expect("options lock");
        format!(
            "ConnectOptions(name={}, ping_interval={}, connection_timeout={}, \
             request_timeout={}, retry_on_initial_connect={}, max_reconnects={}, \
             ignore_discovered_servers={}, retain_servers_order={}, \
             skip_subject_validation={}, subscription_capacity={}, client_capacity={}, \
             custom_inbox_prefix={:?}, read_buffer_capacity={}, local_address={}, \
             no_echo={}, require_tls={}, tls_first={}, root_certificates={:?}, \
             client_certificate={}, tls={}, auth={}, callbacks=[{}])",
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
            py_bool(s.tls_first),
            s.root_certificates,
            s.client_certificate
                .as_ref()
                .map_or("None".to_owned(), |(c, k)| format!("({c:?}, {k:?})")),
            s.tls.as_ref().map_or("None", |t| t.describe.as_str()),
            s.auth.describe(),
            [
                ("event_callback", s.event_callback.is_some()),
                (
                    "reconnect_delay_callback",
                    s.reconnect_delay_callback.is_some()
                ),
                (
                    "reconnect_to_server_callback",
                    s.reconnect_to_server_callback.is_some()
                ),
            ]
            .iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", "),
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
    pool: Vec<async_nats::Server>,
}

impl ToPy for Connected {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(
            py,
            PyClient::new(self.client, self.life, &self.settings, self.pool),
        )?
        .into_any())
    }
}

async fn connect(
    settings: Settings,
    addrs: Vec<ServerAddr>,
    options: async_nats::ConnectOptions,
    life: Arc<Lifecycle>,
) -> Result<Connected, Error> {
    match async_nats::connect_with_options(addrs, options).await {
        Ok(client) => {
            // Connected now, the handler answers at once. Otherwise (connecting in the
            // background, or lost already) the CONNECTED event reads it.
            let mut pool = Vec::new();
            if client.connection_state() == async_nats::connection::State::Connected {
                let read = tokio::time::timeout(Duration::from_secs(1), client.server_pool());
                if let Ok(Ok(servers)) = read.await {
                    pool = servers;
                }
            }
            Ok(Connected {
                client,
                life,
                settings,
                pool,
            })
        }
        // An exception in a Python callback is what made the connect fail: keep it.
        Err(err) => {
            let mut err = Error::from(err).caused_by(life.callback_errors.take());
            if err.kind == Kind::Tls && missing_ssl_context_certificate(&settings, &err.message) {
                err.message
                    .push_str("; the server asks for a client certificate, and ");
                err.message.push_str(SSL_CONTEXT_CLIENT_CERT_HINT);
            }
            Err(err)
        }
    }
}

/// The server wanted a client certificate the `ssl.SSLContext` may hold but cannot give.
fn missing_ssl_context_certificate(settings: &Settings, message: &str) -> bool {
    let from_context_without_cert = settings
        .tls
        .as_ref()
        .is_some_and(|tls| tls.from_ssl_context && !tls.has_client_certificate())
        && settings.client_certificate.is_none();
    from_context_without_cert
        && ["CertificateRequired", "HandshakeFailure", "BadCertificate"]
            .iter()
            .any(|alert| message.contains(alert))
}

fn checked_callable(py: Python<'_>, callback: Py<PyAny>, what: &str) -> PyResult<Arc<Py<PyAny>>> {
    if callback.bind(py).is_callable() {
        Ok(Arc::new(callback))
    } else {
        Err(PyTypeError::new_err(format!("the {what} must be callable")))
    }
}

fn readable_file(path: &std::path::Path, what: &str) -> PyResult<()> {
    std::fs::metadata(path)
        .map(drop)
        .map_err(|err| PyValueError::new_err(format!("{what} file {}: {err}", path.display())))
}

/// A JWT is three base64url sections; the content is the server's to judge.
fn check_jwt(jwt: &str) -> PyResult<()> {
    let parts: Vec<&str> = jwt.trim().split('.').collect();
    let base64url = |p: &&str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
    };
    if parts.len() == 3 && parts.iter().all(base64url) {
        Ok(())
    } else {
        Err(invalid_credentials(
            "malformed JWT: expected three base64url sections separated by '.'",
        ))
    }
}

fn check_credentials(creds: &str) -> PyResult<()> {
    async_nats::ConnectOptions::with_credentials(creds)
        .map(drop)
        .map_err(|_| {
            invalid_credentials(
                "malformed credentials: expected a .creds text with a user JWT and an nkey seed",
            )
        })
}
