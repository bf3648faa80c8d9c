//! The connect flow: from checked settings and server addresses to a connected
//! `natsrs.Client`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::ServerAddr;
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;

use crate::args::{extract_servers, parse_servers};
use crate::auth::UrlCredentials;
use crate::client::PyClient;
use crate::engine::{new_fate, Fate};
use crate::error::{Error, Kind};
use crate::runtime::{self, ToPy};
use crate::settings::{EngineParts, Settings};
use crate::state::{ClientInner, HandlerGuard, Lifecycle};

/// How long `connect()` waits for the engine's CONNECTED event to come through after the
/// connection is up (it is sent from the engine's handler just after).
const FIRST_CONNECT_EVENT_WAIT: Duration = Duration::from_secs(1);

/// Engine deaths within [`DEATH_WINDOW`] beyond this many wait before the next engine is
/// made, doubling from [`FIRST_DEATH_DELAY`] up to [`MAX_DEATH_DELAY`]: a peer that keeps
/// sending what kills the engine costs a slower recovery, never a closed client.
const FREE_DEATHS: usize = 3;
const DEATH_WINDOW: Duration = Duration::from_secs(60);
const FIRST_DEATH_DELAY: Duration = Duration::from_millis(100);
const MAX_DEATH_DELAY: Duration = Duration::from_secs(5);

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
    let plan = Plan {
        locals: settings.callback_locals(py)?,
        on_loop: on_loop_runtime(py, &settings)?,
        settings,
        addrs,
        deaths: Mutex::new(VecDeque::new()),
    };
    launch(py, plan, None)
}

/// Connects a closed `client` again with the settings and servers it was made with
/// (nats-py's `connect()` after `close()`); callbacks run on the loop running now.
fn again(py: Python<'_>, plan: &Plan, client: Py<PyClient>) -> PyResult<Py<PyAny>> {
    let plan = Plan {
        locals: plan.settings.callback_locals(py)?,
        on_loop: on_loop_runtime(py, &plan.settings)?,
        settings: plan.settings.clone(),
        addrs: plan.addrs.clone(),
        deaths: Mutex::new(VecDeque::new()),
    };
    launch(py, plan, Some(client))
}

/// The running loop's engine runtime, for `runtime("loop")`.
fn on_loop_runtime(
    py: Python<'_>,
    settings: &Settings,
) -> PyResult<Option<tokio::runtime::Handle>> {
    if settings.on_loop {
        runtime::driven_handle(py).map(Some)
    } else {
        Ok(None)
    }
}

fn launch(py: Python<'_>, plan: Plan, target: Option<Py<PyClient>>) -> PyResult<Py<PyAny>> {
    let life = Lifecycle::new();
    let fate = new_fate();
    let (guard, armed) = HandlerGuard::new(&life, &fate);
    let parts = EngineParts {
        life: &life,
        locals: plan.locals.as_ref(),
        guard,
        first: true,
    };
    let options = plan
        .settings
        .to_engine(py, parts, UrlCredentials::new(&plan.addrs))?;
    match plan.on_loop.clone() {
        // The engine's socket and handler are made where it connects: on the loop's
        // own runtime, which the loop drives.
        Some(handle) => {
            let task = handle.spawn(connect(plan, options, life, fate, armed, target));
            runtime::spawn(py, async move {
                task.await.unwrap_or_else(|e| {
                    Err(Error::new(
                        Kind::Other,
                        format!("the connect task ended: {e}"),
                    ))
                })
            })
        }
        None => runtime::spawn_on_tokio(py, connect(plan, options, life, fate, armed, target)),
    }
}

/// What a client was connected with, kept to connect again if the engine's connection
/// task dies, or when `connect()` is called after `close()`.
struct Plan {
    settings: Settings,
    addrs: Vec<ServerAddr>,
    locals: Option<TaskLocals>,
    /// With `runtime("loop")`: the connecting loop's runtime, where the engine runs.
    on_loop: Option<tokio::runtime::Handle>,
    /// When the engine died lately, to stop rebuilding one that dies at once each time.
    deaths: Mutex<VecDeque<Instant>>,
}

impl Plan {
    /// Records an engine death; how long to wait before making the next engine.
    fn death_delay(&self) -> Duration {
        let now = Instant::now();
        let mut deaths = self.deaths.lock().expect("plan lock");
        deaths.retain(|at| now.duration_since(*at) < DEATH_WINDOW);
        deaths.push_back(now);
        let over: u32 = deaths
            .len()
            .saturating_sub(FREE_DEATHS)
            .try_into()
            .unwrap_or(u32::MAX);
        match over {
            0 => Duration::ZERO,
            n => FIRST_DEATH_DELAY
                .saturating_mul(2_u32.saturating_pow(n - 1))
                .min(MAX_DEATH_DELAY),
        }
    }
}

/// After the engine's connection task died: report it, then put a fresh engine
/// connection (same servers, options and callbacks) in its place, with every live
/// subscription moved over. The new engine connects in the background, with the usual
/// reconnect backoff, and reports CONNECTED as for any reconnect.
async fn recover(inner: Arc<ClientInner>, plan: Arc<Plan>, reason: String) {
    let life = inner.life.clone();
    tracing::error!(
        target: "natsrs",
        "the engine's connection task died ({reason}); connecting again"
    );
    life.report_death(&reason);
    if life.is_closed() {
        return;
    }
    let delay = plan.death_delay();
    if !delay.is_zero() {
        let waited = life
            .lifeline
            .run_until_cancelled(tokio::time::sleep(delay))
            .await;
        if waited.is_none() {
            return;
        }
    }
    let fate = new_fate();
    let (guard, armed) = HandlerGuard::new(&life, &fate);
    let options = runtime::with_python(|py| {
        let parts = EngineParts {
            life: &life,
            locals: plan.locals.as_ref(),
            guard,
            first: false,
        };
        plan.settings
            .to_engine(py, parts, UrlCredentials::new(&plan.addrs))
    });
    let Some(Ok(options)) = options else {
        life.give_up();
        return;
    };
    // Returns at once; the new engine connects and reconnects on its own.
    match async_nats::connect_with_options(plan.addrs.clone(), options.retry_on_initial_connect())
        .await
    {
        Ok(client) => {
            armed.store(true, Ordering::Release);
            if life.is_closed() {
                let _ = client.drain().await;
                return;
            }
            inner.take_over(client, fate).await;
        }
        Err(err) => {
            tracing::error!(target: "natsrs", "could not connect again: {}", Error::from(err));
            life.give_up();
        }
    }
}

/// A connected engine client on its way to becoming a Python `Client`.
struct Connected {
    client: async_nats::Client,
    fate: Fate,
    life: Arc<Lifecycle>,
    plan: Arc<Plan>,
    pool: Vec<async_nats::Server>,
    /// The closed client this connection is for (`connect()` again), if any.
    target: Option<Py<PyClient>>,
}

impl ToPy for Connected {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let settings = &self.plan.settings;
        let inner = ClientInner::new(
            self.client,
            self.fate,
            self.life,
            settings.skip_subject_validation,
            settings.subscription_capacity,
            self.pool,
            self.plan.on_loop.is_some(),
        );
        let weak = Arc::downgrade(&inner);
        let plan = self.plan.clone();
        inner.life.set_recovery(Box::new(move |reason| {
            if let Some(inner) = weak.upgrade() {
                let recovering = recover(inner, plan.clone(), reason);
                match &plan.on_loop {
                    Some(handle) => drop(handle.spawn(recovering)),
                    None => drop(runtime::runtime().spawn(recovering)),
                }
            }
        }));
        match self.target {
            Some(client) => {
                client.get().reopened(inner);
                Ok(py.None())
            }
            None => {
                let plan = self.plan;
                let again =
                    Box::new(move |py: Python<'_>, client: Py<PyClient>| again(py, &plan, client));
                Ok(Py::new(py, PyClient::new(inner, again))?.into_any())
            }
        }
    }
}

async fn connect(
    plan: Plan,
    options: async_nats::ConnectOptions,
    life: Arc<Lifecycle>,
    fate: Fate,
    armed: Arc<AtomicBool>,
    target: Option<Py<PyClient>>,
) -> Result<Connected, Error> {
    let settings = &plan.settings;
    match async_nats::connect_with_options(plan.addrs.clone(), options).await {
        Ok(client) => {
            armed.store(true, Ordering::Release);
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
                fate,
                life,
                plan: Arc::new(plan),
                pool,
                target,
            })
        }
        // An exception in a Python callback is what made the connect fail: keep it.
        Err(err) => {
            let mut err = Error::from(err).caused_by(life.callback_errors.take());
            if err.kind == Kind::Tls {
                if let Some(hint) = missing_certificate_hint(settings, &err.message) {
                    err.message
                        .push_str("; the server asks for a client certificate, and ");
                    err.message.push_str(hint);
                }
            }
            Err(err)
        }
    }
}

/// What to say when the server wanted a client certificate an `ssl.SSLContext` did not
/// give (it has none, or it could not be read out of it).
fn missing_certificate_hint(settings: &Settings, message: &str) -> Option<&'static str> {
    let hint = settings
        .tls
        .as_ref()
        .filter(|tls| !tls.has_client_certificate() && settings.client_certificate.is_none())
        .and_then(|tls| tls.missing_certificate_hint)?;
    ["CertificateRequired", "HandshakeFailure", "BadCertificate"]
        .iter()
        .any(|alert| message.contains(alert))
        .then_some(hint)
}
