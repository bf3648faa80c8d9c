//! natsrs: the async-nats engine behind a Python asyncio API.
//!
//! Modules mirror async-nats's (`options`, `client`, `subscriber`, `message`, `header`,
//! `error`); `runtime` is the only place where asyncio and tokio meet.

use pyo3::prelude::*;

mod client;
mod error;
mod header;
mod message;
mod options;
mod runtime;
mod subject;
mod subscriber;

#[pymodule(gil_used = false)]
fn _natsrs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("BUILD_GIL", cfg!(not(Py_GIL_DISABLED)))?;
    m.add("DEFAULT_URL", options::DEFAULT_URL)?;
    m.add_function(wrap_pyfunction!(runtime::set_worker_threads, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::runtime_started, m)?)?;
    m.add_class::<options::PyConnectOptions>()?;
    m.add_class::<client::PyClient>()?;
    m.add_class::<client::PyConnectionState>()?;
    m.add_class::<client::PyServerInfo>()?;
    m.add_class::<client::PyStatistics>()?;
    m.add_class::<subscriber::PySubscriber>()?;
    m.add_class::<message::PyMessage>()?;
    m.add_class::<header::PyHeaderMap>()?;
    Ok(())
}
