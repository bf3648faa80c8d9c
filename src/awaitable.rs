//! The already-finished awaitables (`_Ready`, `_Failed`, `_Taken`), the values that
//! become Python on the loop thread (`ToPy`), and what makes natsrs's awaitables
//! coroutines to asyncio.
//!
//! asyncio's Tasks accept only coroutines (`asyncio.create_task`, `TaskGroup.create_task`,
//! `loop.create_task`): `asyncio.iscoroutine` asks `collections.abc.Coroutine`, whose
//! subclass hook accepts any type defining `__await__`, `send`, `throw` and `close`. A
//! Task drives a coroutine that is not a generator through `send(None)` (or the type's
//! `__next__`, which the C Task calls for `send(None)`) and cancels it through
//! `throw(exc)`, so each of natsrs's awaitables defines the four, and `await` keeps its
//! fast path: `__await__` returns the object itself, and a finished one raises
//! `StopIteration(result)` on its first step, costing no Future and no loop iteration.

use pyo3::exceptions::{PyBaseException, PyStopIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyTuple, PyType};

use crate::error::Error;

/// An awaitable that is already finished: awaiting it returns `value` without yielding
/// to the event loop. It is its own iterator; the first step raises
/// `StopIteration(value)`. A `None` result is a shared, stateless singleton.
#[pyclass(name = "_Ready", frozen, module = "natsrs._natsrs")]
pub(crate) struct Ready {
    value: Option<Py<PyAny>>,
}

#[pymethods]
impl Ready {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &self.value {
            None => Ok(None),
            Some(value) => Err(stop_iteration(py, value)?),
        }
    }

    /// A coroutine's `send`: only `None` starts it, and this one finishes at once.
    fn send(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        check_send(value)?;
        Err(stop_iteration(
            py,
            self.value.as_ref().unwrap_or(&py.None()),
        )?)
    }

    /// The operation already finished: nothing to undo, the exception goes on.
    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        &self,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        Err(thrown(typ, val, tb))
    }

    fn close(&self) {}
}

/// `StopIteration(value)`, which is how an awaited `__next__` hands over its result,
/// made directly: `PyStopIteration::new_err` would set, fetch and normalize it (PyO3
/// normalizes lazy errors on the stable ABI before 3.12), which on the hot path (a
/// message per `async for` step) cost more than making it.
pub(crate) fn stop_iteration(py: Python<'_>, value: &Py<PyAny>) -> PyResult<PyErr> {
    let exc = py
        .get_type::<PyStopIteration>()
        .call1((value.clone_ref(py),))?;
    Ok(PyErr::from_value(exc))
}

/// `send(value)` on a coroutine that has not yielded accepts only `None`, as Python's own
/// coroutines do.
pub(crate) fn check_send(value: &Bound<'_, PyAny>) -> PyResult<()> {
    if value.is_none() {
        Ok(())
    } else {
        Err(PyTypeError::new_err(
            "can't send non-None value to a just-started coroutine",
        ))
    }
}

/// The exception `coroutine.throw(typ, val, tb)` raises, built by the rules Python's
/// coroutines use: an instance as it is (no separate value allowed), a class called with
/// `val` (a tuple spread as arguments), then `tb` attached.
pub(crate) fn thrown(
    typ: &Bound<'_, PyAny>,
    val: Option<&Bound<'_, PyAny>>,
    tb: Option<&Bound<'_, PyAny>>,
) -> PyErr {
    match build_thrown(typ, val, tb) {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

fn build_thrown<'py>(
    typ: &Bound<'py, PyAny>,
    val: Option<&Bound<'py, PyAny>>,
    tb: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let val = val.filter(|v| !v.is_none());
    let exc = if typ.is_instance_of::<PyBaseException>() {
        if val.is_some() {
            return Err(PyTypeError::new_err(
                "instance exception may not have a separate value",
            ));
        }
        typ.clone()
    } else if typ
        .cast::<PyType>()
        .is_ok_and(|t| t.is_subclass_of::<PyBaseException>().unwrap_or(false))
    {
        match val {
            None => typ.call0()?,
            Some(v) if v.is_instance(typ)? => v.clone(),
            Some(v) => match v.cast::<PyTuple>() {
                Ok(args) => typ.call1(args.clone())?,
                Err(_) => typ.call1((v,))?,
            },
        }
    } else {
        return Err(PyTypeError::new_err(format!(
            "exceptions must be classes or instances deriving from BaseException, not {}",
            typ.get_type().name()?
        )));
    };
    if let Some(tb) = tb.filter(|tb| !tb.is_none()) {
        return exc.call_method1("with_traceback", (tb,));
    }
    Ok(exc)
}

/// An awaitable that raises `error` when awaited: errors found during the call surface
/// at the `await`, as they would in an `async def`.
#[pyclass(name = "_Failed", frozen, module = "natsrs._natsrs")]
pub(crate) struct Failed {
    error: Py<PyBaseException>,
}

#[pymethods]
impl Failed {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        Err(PyErr::from_value(self.error.bind(py).clone().into_any()))
    }

    fn send(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        check_send(value)?;
        Err(PyErr::from_value(self.error.bind(py).clone().into_any()))
    }

    /// Nothing ran: the thrown exception replaces the error this would have raised.
    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        &self,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        Err(thrown(typ, val, tb))
    }

    fn close(&self) {}
}

pub(crate) fn ready_none(py: Python<'_>) -> PyResult<Py<PyAny>> {
    static NONE: PyOnceLock<Py<Ready>> = PyOnceLock::new();
    let ready = NONE.get_or_try_init(py, || Py::new(py, Ready { value: None }))?;
    Ok(ready.clone_ref(py).into_any())
}

/// An already-finished awaitable for `value`; the shared singleton for `None`.
pub(crate) fn ready(py: Python<'_>, value: Py<PyAny>) -> PyResult<Py<PyAny>> {
    if value.is_none(py) {
        return ready_none(py);
    }
    Ok(Py::new(py, Ready { value: Some(value) })?.into_any())
}

pub(crate) fn failed(py: Python<'_>, err: PyErr) -> PyResult<Py<PyAny>> {
    let error = err.into_value(py);
    Ok(Py::new(py, Failed { error })?.into_any())
}

// ---------------------------------------------------------------------------------------
// Values that become Python objects on the Python thread

/// A Rust value that a tokio task may produce and the loop thread turns into Python.
pub(crate) trait ToPy: Send + 'static {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>>;

    /// Called instead of `to_py` when nobody is waiting any more (the future was
    /// cancelled while the result was on its way). A value that must not be lost, such
    /// as a message taken from a subscription, goes back where it came from.
    fn abandon(self)
    where
        Self: Sized,
    {
    }
}

impl ToPy for () {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(py.None())
    }
}

/// A finished operation, converted to Python only once it reaches the loop thread.
pub(crate) trait Completion: Send {
    fn resolve(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>>;
    fn abandon(self: Box<Self>);
}

impl<T: ToPy> Completion for Result<T, Error> {
    fn resolve(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match *self {
            Ok(value) => value.to_py(py),
            Err(err) => Err(err.into_pyerr(py)),
        }
    }

    fn abandon(self: Box<Self>) {
        if let Ok(value) = *self {
            value.abandon();
        }
    }
}

pub(crate) type Done = Box<dyn Completion>;

/// An operation that finished at the call with a value that must not be lost (messages
/// taken from a subscription): the value becomes Python only when the awaitable is
/// stepped, and one dropped or cancelled before that (a Task cancelled before it ran,
/// `wait_for(..., 0)`) gives it back (`ToPy::abandon`). Costs what `_Ready` costs.
#[pyclass(name = "_Taken", frozen, module = "natsrs._natsrs")]
pub(crate) struct Taken {
    value: std::sync::Mutex<Option<Done>>,
}

impl Taken {
    fn take(&self) -> Option<Done> {
        self.value.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn step(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.take() {
            Some(done) => Err(stop_iteration(py, &done.resolve(py)?)?),
            None => Err(pyo3::exceptions::PyRuntimeError::new_err(
                "cannot reuse an already awaited natsrs awaitable",
            )),
        }
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let Some(done) = self.take() {
            done.abandon();
        }
    }
}

#[pymethods]
impl Taken {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.step(py)
    }

    fn send(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        check_send(value)?;
        self.step(py)
    }

    /// Cancelled before it ran: what it took goes back.
    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        &self,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if let Some(done) = self.take() {
            done.abandon();
        }
        Err(thrown(typ, val, tb))
    }

    fn close(&self) {
        if let Some(done) = self.take() {
            done.abandon();
        }
    }
}

/// An already-finished awaitable for `value`, made Python only when awaited (see
/// [`Taken`]).
pub(crate) fn ready_later<T: ToPy>(py: Python<'_>, value: T) -> PyResult<Py<PyAny>> {
    let done: Done = Box::new(Ok::<T, Error>(value));
    Ok(Py::new(
        py,
        Taken {
            value: std::sync::Mutex::new(Some(done)),
        },
    )?
    .into_any())
}
