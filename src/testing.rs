//! Failures on purpose, for natsrs's own tests: a Rust panic in a call or a task, and
//! an engine connection task that dies. Private names; nothing a server, a peer or an
//! option can reach.

use pyo3::prelude::*;

use crate::client::PyClient;
use crate::runtime;

/// Panics on purpose, in the call (`where_ == "call"`) or in a tokio task (`"task"`), so
/// tests can check that a Rust panic becomes a Python exception and nothing else breaks.
#[pyfunction]
pub(crate) fn _panic_for_tests(py: Python<'_>, where_: &str) -> PyResult<Py<PyAny>> {
    match where_ {
        "call" => panic!("natsrs test panic in a call"),
        _ => runtime::spawn(py, async {
            if true {
                panic!("natsrs test panic in a task");
            }
            Ok(())
        }),
    }
}

/// Makes the engine's connection task of `client` panic (an engine patch), for tests of
/// how natsrs notices that task's death and recovers: nothing a server or a peer sends can
/// panic it (SECURITY.md, "Supervision"). Says whether the engine took the command.
#[pyfunction]
pub(crate) fn _panic_engine_for_tests(client: &PyClient) -> bool {
    client.inner.load().client().panic_connection_for_tests()
}
