//! Python callbacks invoked by the engine from tokio threads.
//!
//! A callback always runs on the event loop that called `connect()` (captured as
//! pyo3-async-runtimes `TaskLocals`), whether it is a plain function or a coroutine
//! function: `natsrs._callbacks.call` is scheduled there and awaited from tokio. These
//! are connection-time paths (auth, signing), so the cost of taking the interpreter on a
//! tokio thread to hand over arguments and read the result is paid rarely.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3_async_runtimes::TaskLocals;

use crate::pynames::{self, PyName};

/// A user callable and the loop it must run on.
#[derive(Clone)]
pub(crate) struct PyCallback {
    func: Arc<Py<PyAny>>,
    locals: TaskLocals,
    /// Where the last exception raised by a callback of this client is kept, so the
    /// connect error can carry it as `__cause__`.
    errors: Arc<CallbackErrors>,
}

#[derive(Default)]
pub(crate) struct CallbackErrors {
    last: Mutex<Option<PyErr>>,
}

impl CallbackErrors {
    pub(crate) fn take(&self) -> Option<PyErr> {
        self.last.lock().expect("callback error lock").take()
    }

    fn store(&self, err: PyErr) {
        *self.last.lock().expect("callback error lock") = Some(err);
    }
}

impl PyCallback {
    /// Binds `func` to the running loop; fails outside one.
    pub(crate) fn new(
        py: Python<'_>,
        func: &Py<PyAny>,
        locals: &TaskLocals,
        errors: &Arc<CallbackErrors>,
    ) -> Self {
        PyCallback {
            func: Arc::new(func.clone_ref(py)),
            locals: locals.clone(),
            errors: errors.clone(),
        }
    }

    /// Runs `natsrs._callbacks.<helper>(*leading, func, *args)` on the callback's loop
    /// and hands the outcome to `finish` with the interpreter attached, all inside one
    /// spawned task: the future the engine stores must be `Sync`, and a `JoinHandle` is.
    /// `None` when the interpreter is shutting down.
    async fn run<A, F, R>(
        &self,
        helper: &'static PyName,
        leading: Option<&'static str>,
        args: A,
        finish: F,
    ) -> Option<R>
    where
        A: for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>> + Send + 'static,
        F: for<'py> FnOnce(Python<'py>, PyResult<Py<PyAny>>) -> R + Send + 'static,
        R: Send + 'static,
    {
        let this = self.clone();
        let task = tokio::spawn(async move {
            let pending = crate::runtime::with_python(|py| {
                let later = pynames::LATER.get(py)?;
                let call = helper.get(py)?;
                let mut all: Vec<Bound<'_, PyAny>> = vec![call.clone()];
                all.extend(leading.map(|text| pyo3::types::PyString::new(py, text).into_any()));
                all.push(this.func.clone_ref(py).into_bound(py));
                all.extend(args(py)?.iter());
                let awaitable = later.call1(PyTuple::new(py, all)?)?;
                schedule(&this.locals, awaitable)
            })?;
            let result = match pending {
                Ok(fut) => fut.await,
                Err(err) => Err(err),
            };
            crate::runtime::with_python(|py| finish(py, result))
        });
        task.await.ok().flatten()
    }

    /// Calls the callback here, on this thread, which must be its loop's (a loop-driven
    /// engine's task): a plain function's result, or `None` for a coroutine function,
    /// whose coroutine cannot be awaited from inside the loop's own step and is closed.
    pub(crate) fn call_in_place<'py>(
        &self,
        py: Python<'py>,
        args: Bound<'py, PyTuple>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let value = self.func.bind(py).call1(args)?;
        if value.hasattr(pyo3::intern!(py, "__await__"))? {
            if value.hasattr(pyo3::intern!(py, "close"))? {
                value.call_method0(pyo3::intern!(py, "close"))?;
            }
            return Ok(None);
        }
        Ok(Some(value))
    }

    /// Runs the callback on its loop with `args` and converts the result with
    /// `extract`. A Python exception is recorded for the connect error and returned as
    /// its message.
    pub(crate) async fn call<T, A, E>(&self, args: A, extract: E) -> Result<T, String>
    where
        A: for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>> + Send + 'static,
        E: for<'py> FnOnce(&Bound<'py, PyAny>) -> PyResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let outcome = self
            .run(&pynames::CALL, None, args, |py, result| {
                result.and_then(|value| extract(value.bind(py)))
            })
            .await;
        match outcome {
            Some(Ok(value)) => Ok(value),
            Some(Err(err)) => {
                let message = err.to_string();
                self.errors.store(err);
                Err(message)
            }
            None => Err("the interpreter is shutting down".to_owned()),
        }
    }

    /// Runs a callback whose exceptions are only reported: logged on the `natsrs`
    /// logger by Python, and returned as text for an event.
    pub(crate) async fn call_reporting<A>(&self, what: &'static str, args: A) -> Result<(), String>
    where
        A: for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>> + Send + 'static,
    {
        let outcome = self
            .run(
                &pynames::CALL_REPORTING,
                Some(what),
                args,
                move |py, result| {
                    match result {
                        Ok(value) if value.is_none(py) => Ok(()),
                        Ok(description) => Err(description.bind(py).to_string()),
                        // The loop is gone (closed) or the call could not be made.
                        Err(err) => Err(format!("the {what} could not run: {err}")),
                    }
                },
            )
            .await;
        outcome.unwrap_or_else(|| {
            Err(format!(
                "the {what} could not run: interpreter shutting down"
            ))
        })
    }
}

/// Hands `awaitable` (a `natsrs._callbacks.Later`, whose coroutine is made only on the
/// loop) to its loop, unless that loop is closed already.
fn schedule(
    locals: &TaskLocals,
    awaitable: Bound<'_, PyAny>,
) -> PyResult<impl std::future::Future<Output = PyResult<Py<PyAny>>> + Send> {
    let closed = locals
        .event_loop(awaitable.py())
        .call_method0("is_closed")
        .and_then(|c| c.is_truthy())
        .unwrap_or(true);
    if closed {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "the event loop that connected is closed",
        ));
    }
    pyo3_async_runtimes::into_future_with_locals(locals, awaitable)
}

/// A warning on the `natsrs` logger (rare paths: a callback that failed).
pub(crate) fn warn(message: &str) {
    crate::runtime::with_python(|py| {
        if let Ok(warn) = pynames::WARN.get(py) {
            let _ = warn.call1((message,));
        }
    });
}

/// Task locals of the running loop, for callbacks; `None` outside a running loop.
pub(crate) fn current_locals(py: Python<'_>) -> PyResult<TaskLocals> {
    TaskLocals::with_running_loop(py)?.copy_context(py)
}
