//! Credentials: the auth settings a `ConnectOptions` holds (kept out of `repr`, errors
//! and logs), credentials found in server URLs, `natsrs.Auth`, and the checks made when
//! an option is set.

use std::sync::{Arc, Mutex};

use async_nats::ServerAddr;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::callbacks::PyCallback;
use crate::error::{Error, Kind};

/// Credentials. Every secret here stays out of `repr`, errors and logs.
#[derive(Clone, Default)]
pub(crate) struct AuthSettings {
    pub(crate) token: Option<String>,
    pub(crate) user_and_password: Option<(String, String)>,
    pub(crate) nkey_seed: Option<String>,
    /// A user JWT and the Python callable that signs the server's nonce.
    pub(crate) jwt: Option<(String, Arc<Py<PyAny>>)>,
    /// The text of a `.creds` file (read and checked when the option was set).
    pub(crate) credentials: Option<String>,
    pub(crate) auth_callback: Option<Arc<Py<PyAny>>>,
}

impl AuthSettings {
    /// Lets the log bridge scrub these values from engine records.
    pub(crate) fn register_secrets(&self) {
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

    /// The engine options that carry these credentials, or those found in a server URL
    /// when none are set. `callback` binds a Python callable to the connecting loop.
    pub(crate) fn to_engine(
        &self,
        callback: &dyn Fn(&Arc<Py<PyAny>>) -> PyCallback,
        url_auth: Option<UrlCredentials>,
    ) -> PyResult<async_nats::ConnectOptions> {
        let auth = self;
        if auth.is_empty() {
            if let Some(url_auth) = url_auth {
                // The engine ignores credentials in server URLs; nats-py users rely on
                // them, each server with its own.
                return Ok(async_nats::ConnectOptions::with_auth_callback(
                    move |_nonce: Vec<u8>| {
                        let answer = url_auth.for_current_server();
                        async move { Ok(answer) }
                    },
                ));
            }
        }
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
        Ok(opts)
    }

    /// Any credential needs the connecting loop: a Python callable signs or answers.
    pub(crate) fn needs_loop(&self) -> bool {
        self.jwt.is_some() || self.auth_callback.is_some()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.token.is_none()
            && self.user_and_password.is_none()
            && self.nkey_seed.is_none()
            && self.jwt.is_none()
            && self.credentials.is_none()
            && self.auth_callback.is_none()
    }

    /// What `repr` may show: which methods are set, the user name, never a secret.
    pub(crate) fn describe(&self) -> String {
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

/// Credentials found in a server URL (`nats://user:pass@host`, `nats://token@host`).
#[derive(Clone)]
enum UrlAuth {
    UserPassword(String, String),
    Token(String),
}

impl UrlAuth {
    fn of(addr: &ServerAddr) -> Option<UrlAuth> {
        let user = addr.username().filter(|u| !u.is_empty())?;
        let user = percent_decode(user);
        Some(match addr.password() {
            Some(password) => UrlAuth::UserPassword(user, percent_decode(password)),
            None => UrlAuth::Token(user),
        })
    }

    fn to_engine(&self) -> async_nats::Auth {
        let mut auth = async_nats::Auth::new();
        match self {
            UrlAuth::UserPassword(user, password) => {
                auth.username = Some(user.clone());
                auth.password = Some(password.clone());
            }
            UrlAuth::Token(token) => auth.token = Some(token.clone()),
        }
        auth
    }
}

/// The credentials of the server URLs, answered per connection attempt as nats-py does:
/// those of the server being tried. The reconnect-to-server chooser names that server
/// (`set_current`) before each attempt it picks; until it first does (the first
/// connect, where the engine walks the pool itself), the first URL with credentials
/// answers for every server. A server without userinfo (one the cluster announced) gets
/// none, as in nats-py.
#[derive(Clone)]
pub(crate) struct UrlCredentials {
    first: UrlAuth,
    current: Arc<Mutex<Option<ServerAddr>>>,
}

impl UrlCredentials {
    /// `None` when no URL carries credentials.
    pub(crate) fn new(addrs: &[ServerAddr]) -> Option<Self> {
        Some(UrlCredentials {
            first: addrs.iter().find_map(UrlAuth::of)?,
            current: Arc::new(Mutex::new(None)),
        })
    }

    /// The engine calls the chooser and then connects to its choice one after the other
    /// on its connector task, so the next auth answer is for this server.
    pub(crate) fn set_current(&self, addr: Option<ServerAddr>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = addr;
    }

    fn for_current_server(&self) -> async_nats::Auth {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            Some(addr) => UrlAuth::of(addr).map_or_else(async_nats::Auth::new, |a| a.to_engine()),
            None => self.first.to_engine(),
        }
    }
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

pub(crate) fn invalid_credentials(message: &str) -> PyErr {
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

/// A JWT is three base64url sections; the content is the server's to judge.
pub(crate) fn check_jwt(jwt: &str) -> PyResult<()> {
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

pub(crate) fn check_credentials(creds: &str) -> PyResult<()> {
    async_nats::ConnectOptions::with_credentials(creds)
        .map(drop)
        .map_err(|_| {
            invalid_credentials(
                "malformed credentials: expected a .creds text with a user JWT and an nkey seed",
            )
        })
}
