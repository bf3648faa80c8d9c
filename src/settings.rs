//! `Settings`, what a `ConnectOptions` holds, and how it becomes
//! `async_nats::ConnectOptions` for one connection.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;

use crate::auth::{AuthSettings, UrlCredentials};
use crate::callbacks::{self, PyCallback};
use crate::reconnect::{self, default_reconnect_delay, EngineOrder};
use crate::state::{HandlerGuard, Lifecycle};
use crate::tls::Tls;

#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) name: Option<String>,
    /// The engine runs on the connecting event loop's own thread (`runtime("loop")`),
    /// not on natsrs's tokio threads.
    pub(crate) on_loop: bool,
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

impl Default for Settings {
    /// The engine's defaults, spelled out so `repr` can show them.
    fn default() -> Self {
        Settings {
            name: None,
            on_loop: std::env::var("NATSRS_RUNTIME").is_ok_and(|v| v.trim() == "loop"),
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

/// What ties one engine connection's options to the client.
pub(crate) struct EngineParts<'a> {
    pub(crate) life: &'a Arc<Lifecycle>,
    pub(crate) locals: Option<&'a TaskLocals>,
    pub(crate) guard: HandlerGuard,
    pub(crate) first: bool,
}

impl Settings {
    /// The running loop's task locals when a Python callback will need them (they run
    /// on the loop that connected); taken on the Python thread that connects.
    pub(crate) fn callback_locals(&self, py: Python<'_>) -> PyResult<Option<TaskLocals>> {
        let needs_loop = self.auth.needs_loop()
            || self.event_callback.is_some()
            || self.reconnect_delay_callback.is_some()
            || self.reconnect_to_server_callback.is_some();
        if !needs_loop {
            return Ok(None);
        }
        callbacks::current_locals(py).map(Some).map_err(|_| {
            PyRuntimeError::new_err("connecting with Python callbacks needs a running event loop")
        })
    }

    /// Engine options for one engine connection. `life` lets the wrapper stop the
    /// engine's connection handler on `close()`, which the engine cannot do by itself;
    /// `guard` goes with the handler and tells when it ends. `first` is false for the
    /// connections that replace a dead one: the event callback is installed once.
    pub(crate) fn to_engine(
        &self,
        py: Python<'_>,
        engine: EngineParts<'_>,
        url_auth: Option<UrlCredentials>,
    ) -> PyResult<async_nats::ConnectOptions> {
        let EngineParts {
            life,
            locals,
            guard,
            first,
        } = engine;
        let auth = &self.auth;
        let callback = |func: &Arc<Py<PyAny>>| -> PyCallback {
            let locals = locals.expect("locals captured for callbacks");
            PyCallback::new(py, func, locals, &life.callback_errors)
        };

        let mut opts = auth.to_engine(&callback, url_auth.clone())?;
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
        if let Some(func) = self.event_callback.as_ref().filter(|_| first) {
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
            // Owned here, the guard is dropped with the engine's connection task.
            let _guard = &guard;
            delays.stop_handler_if_closed();
            delay_callback
                .as_ref()
                .and_then(|cb| reconnect::reconnect_delay(cb, attempts))
                .unwrap_or_else(|| default_reconnect_delay(attempts))
        });
        // Installed even without a Python callback: it is where a closed client's
        // handler stops before its next connection attempt.
        // With credentials in the URLs it also names each server it lets the engine try,
        // so that server's credentials answer.
        let chooser = life.clone();
        let choose_callback = self.reconnect_to_server_callback.as_ref().map(callback);
        let url_auth = if auth.is_empty() { url_auth } else { None };
        let engine_order = EngineOrder::default();
        let retain_order = self.retain_servers_order;
        Ok(opts.reconnect_to_server_callback(move |servers, info| {
            let chooser = chooser.clone();
            let choose_callback = choose_callback.clone();
            let url_auth = url_auth.clone();
            let engine_order = engine_order.clone();
            async move {
                chooser.stop_handler_if_closed();
                let choice = match choose_callback {
                    Some(cb) => reconnect::choose_server(&cb, servers.clone(), info.clone()).await,
                    None => None,
                };
                let Some(url_auth) = url_auth else {
                    return choice;
                };
                let choice = match choice {
                    Some(mut choice) => {
                        // An unknown server stays as chosen: the engine reports it.
                        let entry = reconnect::pool_entry(&servers, &choice.addr);
                        if let Some(addr) = entry.clone() {
                            choice.addr = addr;
                        }
                        url_auth.set_current(entry);
                        return Some(choice);
                    }
                    // The first connect (no server reached yet, so no INFO): the engine
                    // walks the pool itself, with the first URL's credentials.
                    None if info.server_id.is_empty() => None,
                    None => engine_order.next(&servers, retain_order),
                };
                url_auth.set_current(choice.as_ref().map(|c| c.addr.clone()));
                choice
            }
        }))
    }
}
