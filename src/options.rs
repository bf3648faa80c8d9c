//! `natsrs.ConnectOptions`: the builder, each setter checking its argument.
//!
//! The builder fills a plain `Clone` [`Settings`], so one options object can connect
//! many times; `settings.rs` turns it into the engine's options for each connect.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::args::{extract_capacity, extract_duration, extract_int};
use crate::auth::{check_credentials, check_jwt, invalid_credentials};
use crate::connect;
use crate::error::{Error, Kind};
use crate::settings::Settings;
use crate::subject;
use crate::tls::extract_tls;

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

    fn max_reconnects(
        slf: &Bound<'_, Self>,
        count: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<Self>> {
        let count = match count {
            None => None,
            Some(n) => {
                let n = extract_int(n, "max_reconnects")?;
                Some(usize::try_from(n).map_err(|_| {
                    PyValueError::new_err(format!(
                        "max_reconnects must be a count >= 0, or None for no limit (got {n})"
                    ))
                })?)
            }
        };
        Ok(Self::set(slf, |s| s.max_reconnects = count))
    }

    #[pyo3(signature = (enabled = true))]
    fn ignore_discovered_servers(slf: &Bound<'_, Self>, enabled: bool) -> Py<Self> {
        Self::set(slf, |s| s.ignore_discovered_servers = enabled)
    }

    #[pyo3(signature = (enabled = true))]
    fn retain_servers_order(slf: &Bound<'_, Self>, enabled: bool) -> Py<Self> {
        Self::set(slf, |s| s.retain_servers_order = enabled)
    }

    /// Where the client's engine (its socket, its connection handler) runs: `"threads"`
    /// (the default: natsrs's tokio threads, in parallel with Python) or `"loop"` (the
    /// connecting event loop's own thread: no hand-off between threads per round trip).
    fn runtime(slf: &Bound<'_, Self>, kind: &str) -> PyResult<Py<Self>> {
        let on_loop = match kind {
            "threads" => false,
            "loop" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "runtime must be \"threads\" or \"loop\" (got {other:?})"
                )))
            }
        };
        Ok(Self::set(slf, |s| s.on_loop = on_loop))
    }

    #[pyo3(signature = (enabled = true))]
    fn skip_subject_validation(slf: &Bound<'_, Self>, enabled: bool) -> Py<Self> {
        Self::set(slf, |s| s.skip_subject_validation = enabled)
    }

    fn subscription_capacity(
        slf: &Bound<'_, Self>,
        capacity: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Self>> {
        let c = extract_capacity(capacity, "subscription_capacity")?;
        Ok(Self::set(slf, |s| s.subscription_capacity = c))
    }

    fn client_capacity(slf: &Bound<'_, Self>, capacity: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        let c = extract_capacity(capacity, "client_capacity")?;
        Ok(Self::set(slf, |s| s.client_capacity = c))
    }

    fn custom_inbox_prefix(slf: &Bound<'_, Self>, prefix: String) -> PyResult<Py<Self>> {
        // Every request's SUB and reply subject carry the prefix.
        subject::check_len(
            &prefix,
            subject::MAX_INBOX_PREFIX_LEN,
            "inbox prefix",
            Kind::Value,
        )?;
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
            let (host, port): (String, Bound<'_, PyAny>) = address.extract()?;
            let port = extract_int(&port, "local_address port")?;
            let port = u16::try_from(port).map_err(|_| {
                PyValueError::new_err(format!(
                    "local_address port must be in 0..=65535 (got {port})"
                ))
            })?;
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

    // async-nats's `ConnectOptions::with_*` constructors: a new builder with one
    // credential set by the setter of the same name.

    #[staticmethod]
    fn with_token(py: Python<'_>, token: String) -> PyResult<Py<Self>> {
        Ok(Self::token(&Bound::new(py, Self::new())?, token))
    }

    #[staticmethod]
    fn with_user_and_password(
        py: Python<'_>,
        user: String,
        password: String,
    ) -> PyResult<Py<Self>> {
        Ok(Self::user_and_password(
            &Bound::new(py, Self::new())?,
            user,
            password,
        ))
    }

    #[staticmethod]
    fn with_nkey(py: Python<'_>, seed: String) -> PyResult<Py<Self>> {
        Self::nkey(&Bound::new(py, Self::new())?, seed)
    }

    #[staticmethod]
    fn with_jwt(py: Python<'_>, jwt: String, sign_cb: Py<PyAny>) -> PyResult<Py<Self>> {
        Self::jwt(&Bound::new(py, Self::new())?, jwt, sign_cb)
    }

    #[staticmethod]
    fn with_credentials(py: Python<'_>, creds: String) -> PyResult<Py<Self>> {
        Self::credentials(&Bound::new(py, Self::new())?, creds)
    }

    #[staticmethod]
    fn with_credentials_file(py: Python<'_>, path: PathBuf) -> PyResult<Py<Self>> {
        Self::credentials_file(&Bound::new(py, Self::new())?, path)
    }

    #[staticmethod]
    fn with_auth_callback(py: Python<'_>, callback: Py<PyAny>) -> PyResult<Py<Self>> {
        Self::auth_callback(&Bound::new(py, Self::new())?, callback)
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
        connect::start(py, settings, servers)
    }

    fn __repr__(&self) -> String {
        let s = self.settings.lock().expect("options lock");
        format!(
            "ConnectOptions(name={}, runtime={}, ping_interval={}, connection_timeout={}, \
             request_timeout={}, retry_on_initial_connect={}, max_reconnects={}, \
             ignore_discovered_servers={}, retain_servers_order={}, \
             skip_subject_validation={}, subscription_capacity={}, client_capacity={}, \
             custom_inbox_prefix={:?}, read_buffer_capacity={}, local_address={}, \
             no_echo={}, require_tls={}, tls_first={}, root_certificates={:?}, \
             client_certificate={}, tls={}, auth={}, callbacks=[{}])",
            s.name
                .as_ref()
                .map_or("None".to_owned(), |n| format!("{n:?}")),
            if s.on_loop { "'loop'" } else { "'threads'" },
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
