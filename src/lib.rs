//! natsrs: the async-nats engine behind a Python asyncio API.
//!
//! Modules mirror async-nats's (`options`, `client`, `subscriber`, `message`, `header`,
//! `error`); `runtime` is the only place where asyncio and tokio meet. Imports run one
//! way, from the Python-facing builder down to the seams:
//! options → connect → client → subscriber → message → state → settings' parts (auth,
//! reconnect, events) → (outbox, server, logging, callbacks) → (runtime, args, subject,
//! header) → (process, awaitable, error, tls, nkey) → pynames.

#![deny(unsafe_code)]

use pyo3::prelude::*;

#[cfg(all(feature = "ring", feature = "aws-lc-rs"))]
compile_error!(
    "enable exactly one rustls crypto provider: for aws-lc-rs or fips build with \
     --no-default-features --features aws-lc-rs (or fips)"
);
#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!(
    "enable one rustls crypto provider: the `ring` (default), `aws-lc-rs` or `fips` feature"
);

mod args;
mod auth;
mod awaitable;
mod callbacks;
mod client;
mod connect;
mod driven;
mod engine;
mod error;
mod events;
mod header;
mod jetstream;
mod logging;
mod message;
mod nkey;
mod options;
mod outbox;
mod process;
mod pynames;
mod reconnect;
mod runtime;
mod server;
mod settings;
mod state;
mod subject;
mod subscriber;
mod supervise;
mod testing;
mod tls;
mod wake;

#[pymodule(gil_used = false)]
fn _natsrs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    process::watch_forks();
    supervise::install_panic_hook();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("BUILD_GIL", cfg!(not(Py_GIL_DISABLED)))?;
    m.add("DEFAULT_URL", args::DEFAULT_URL)?;
    m.add_function(wrap_pyfunction!(process::set_worker_threads, m)?)?;
    m.add_function(wrap_pyfunction!(process::runtime_started, m)?)?;
    m.add_function(wrap_pyfunction!(logging::refresh_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(process::_runtime_alive_tasks, m)?)?;
    m.add_function(wrap_pyfunction!(testing::_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(testing::_panic_engine_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(process::_python_exiting, m)?)?;
    let exiting = m.getattr("_python_exiting")?;
    m.py()
        .import("atexit")?
        .call_method1("register", (exiting,))?;
    m.add_function(wrap_pyfunction!(pynames::_imported_names, m)?)?;
    m.add_function(wrap_pyfunction!(args::_redact_url, m)?)?;
    m.add_function(wrap_pyfunction!(args::_server_list, m)?)?;
    m.add_function(wrap_pyfunction!(nkey::_nkeys_create, m)?)?;
    m.add_function(wrap_pyfunction!(nkey::_nkeys_public_key, m)?)?;
    m.add_function(wrap_pyfunction!(nkey::_nkeys_sign, m)?)?;
    m.add_class::<options::PyConnectOptions>()?;
    m.add_class::<auth::PyAuth>()?;
    m.add_class::<tls::PyTlsConfig>()?;
    m.add_class::<events::PyEvent>()?;
    m.add_class::<events::EventKind>()?;
    m.add_class::<events::PyEventStream>()?;
    m.add_class::<server::PyServer>()?;
    m.add_class::<server::PyServerInfo>()?;
    m.add_class::<reconnect::PyReconnectToServer>()?;
    m.add_class::<client::PyClient>()?;
    m.add_class::<state::PyConnectionState>()?;
    m.add_class::<state::PyStatistics>()?;
    m.add_class::<subscriber::PySubscriber>()?;
    m.add_class::<message::PyMessage>()?;
    m.add_class::<header::PyHeaderMap>()?;
    m.add_class::<jetstream::pub_ack::PyPubAck>()?;
    m.add_class::<jetstream::publish::PyJetStream>()?;
    m.add_class::<jetstream::kv_watch::PyKvWatchReader>()?;
    Ok(())
}
