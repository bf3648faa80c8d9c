//! The connect flow: from checked settings and server addresses to a connected
//! `natsrs.Client`.

use std::sync::Arc;
use std::time::Duration;

use async_nats::ServerAddr;
use pyo3::prelude::*;

use crate::args::{extract_servers, parse_servers};
use crate::auth::UrlCredentials;
use crate::client::PyClient;
use crate::error::{Error, Kind};
use crate::runtime::{self, ToPy};
use crate::settings::Settings;
use crate::state::Lifecycle;
use crate::tls::SSL_CONTEXT_CLIENT_CERT_HINT;

/// How long `connect()` waits for the engine's CONNECTED event to come through after the
/// connection is up (it is sent from the engine's handler just after).
const FIRST_CONNECT_EVENT_WAIT: Duration = Duration::from_secs(1);

/// Connects with `settings` to `servers` (`None`, a URL, a comma-separated list or a
/// sequence): the awaitable resolves to a `Client`.
pub(crate) fn start(
    py: Python<'_>,
    settings: Settings,
    servers: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let urls = extract_servers(servers)?;
    let addrs = match parse_servers(&urls) {
        Ok(addrs) => addrs,
        Err(err) => return runtime::fail(py, err),
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
    let options = settings.to_engine(py, &life, UrlCredentials::new(&addrs))?;
    runtime::spawn_on_tokio(py, connect(settings, addrs, options, life))
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
            PyClient::new(
                self.client,
                self.life,
                self.settings.skip_subject_validation,
                self.settings.subscription_capacity,
                self.pool,
            ),
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
            if client.connection_state() == async_nats::connection::State::Connected {
                life.wait_first_connect(FIRST_CONNECT_EVENT_WAIT).await;
            }
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
