//! natsrs: the async-nats engine behind a Python asyncio API.
//!
//! Modules mirror async-nats's (`options`, `client`, `subscriber`, `message`, `header`,
//! `error`); `runtime` is the only place where asyncio and tokio meet.

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

mod callbacks;
mod client;
mod connector;
mod error;
mod events;
mod header;
mod logging;
mod message;
mod nkey;
mod options;
mod outbox;
mod runtime;
mod subject;
mod subscriber;
mod tls;

#[pymodule(gil_used = false)]
fn _natsrs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::watch_forks();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("BUILD_GIL", cfg!(not(Py_GIL_DISABLED)))?;
    m.add("DEFAULT_URL", options::DEFAULT_URL)?;
    m.add_function(wrap_pyfunction!(runtime::set_worker_threads, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::runtime_started, m)?)?;
    m.add_function(wrap_pyfunction!(logging::refresh_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_runtime_alive_tasks, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_python_exiting, m)?)?;
    let exiting = m.getattr("_python_exiting")?;
    m.py()
        .import("atexit")?
        .call_method1("register", (exiting,))?;
    m.add_function(wrap_pyfunction!(nkey::_nkeys_create, m)?)?;
    m.add_function(wrap_pyfunction!(nkey::_nkeys_public_key, m)?)?;
    m.add_function(wrap_pyfunction!(nkey::_nkeys_sign, m)?)?;
    m.add_class::<options::PyConnectOptions>()?;
    m.add_class::<options::PyAuth>()?;
    m.add_class::<tls::PyTlsConfig>()?;
    m.add_class::<events::PyEvent>()?;
    m.add_class::<events::EventKind>()?;
    m.add_class::<events::PyEventStream>()?;
    m.add_class::<connector::PyServer>()?;
    m.add_class::<connector::PyReconnectToServer>()?;
    m.add_class::<client::PyClient>()?;
    m.add_class::<client::PyConnectionState>()?;
    m.add_class::<client::PyServerInfo>()?;
    m.add_class::<client::PyStatistics>()?;
    m.add_class::<subscriber::PySubscriber>()?;
    m.add_class::<message::PyMessage>()?;
    m.add_class::<header::PyHeaderMap>()?;
    Ok(())
}
