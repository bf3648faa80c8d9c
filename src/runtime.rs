//! The seam between asyncio and tokio: natsrs's tokio runtime, and every awaitable natsrs
//! returns.
//!
//! Two paths, chosen per call:
//!
//! * **Ready** — the engine future is polled once on the calling (Python) thread with a
//!   no-op waker. Most operations finish there (a subscriber usually has a message
//!   queued; a publish only enters the client's outbox, see `outbox.rs`), and the call
//!   returns an already-finished awaitable ([`Ready`]): no asyncio Future, no other
//!   thread woken, no event-loop iteration.
//! * **Pending** — the caller gets an `asyncio.Future` from the running loop and the
//!   operation is kept in the loop's [`LoopHub`], not spawned. Its waker, called on
//!   whichever thread completes what it waits for (the engine's handler, a timer), never
//!   touches Python: it queues the operation's id and, only if the hub was idle, writes
//!   one byte to a socket the loop watches (`add_reader`). The loop thread then polls the
//!   whole batch, converts results to Python objects and resolves the futures — one
//!   wake-up per batch, however many operations completed. Only connecting, which calls
//!   back into the loop synchronously, runs as a tokio task ([`spawn_on_tokio`]).
//!
//! This avoids what makes a naive bridge slow (an asyncio Future, a done callback, two
//! spawns and a `call_soon_threadsafe` with the GIL taken on a tokio thread per call;
//! see `shared/design-notes.md`).

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use futures::FutureExt;
use pyo3::exceptions::{PyRuntimeError, PyStopIteration, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::{MutexExt, PyOnceLock};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Kind};

// ---------------------------------------------------------------------------------------
// The process-wide runtime

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
/// 0: not configured (environment variable, else tokio's default of one per core).
static WORKER_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Set in a child process forked after the runtime started: its worker threads did not
/// survive the fork, so nothing spawned there would ever run.
static FORKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn after_fork_in_child() {
    if RUNTIME.get().is_some() {
        FORKED.store(true, Ordering::Relaxed);
    }
}

/// Registers the fork hook (module import).
pub(crate) fn watch_forks() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: registers a handler that only stores to an atomic, which is
            // async-signal-safe as a fork child handler must be.
            #[allow(unsafe_code)]
            unsafe {
                libc::pthread_atfork(None, None, Some(after_fork_in_child));
            }
        });
    }
}

/// Fails in a child forked from a process whose runtime had started.
pub(crate) fn check_not_forked() -> PyResult<()> {
    if FORKED.load(Ordering::Relaxed) {
        return Err(PyRuntimeError::new_err(
            "natsrs cannot be used in a process forked after it started its runtime: the \
             runtime's threads and connections stay in the parent. Connect in the child \
             only (use multiprocessing's 'spawn' or 'forkserver' start method, or fork \
             before the first connect)",
        ));
    }
    Ok(())
}

/// Set by an `atexit` hook: from then on no runtime thread enters the interpreter. A
/// thread that waits for the GIL while Python finalizes is ended with `pthread_exit`,
/// whose forced unwind through Rust frames aborts the process.
static PYTHON_EXITING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Runtime threads inside, or about to enter, [`with_python`].
static ATTACHED: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` with the interpreter attached, from a runtime thread; `None` once Python is
/// exiting. Every tokio-side entry into Python goes through here.
pub(crate) fn with_python<F, R>(f: F) -> Option<R>
where
    F: for<'py> FnOnce(Python<'py>) -> R,
{
    ATTACHED.fetch_add(1, Ordering::SeqCst);
    let result = if PYTHON_EXITING.load(Ordering::SeqCst) {
        None
    } else {
        Python::try_attach(f)
    };
    ATTACHED.fetch_sub(1, Ordering::SeqCst);
    result
}

/// The `atexit` hook: stop runtime threads from entering Python, and wait (briefly, with
/// the GIL released) for those already on their way in to leave.
#[pyfunction]
pub(crate) fn _python_exiting(py: Python<'_>) {
    PYTHON_EXITING.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while ATTACHED.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
}

/// Tasks alive on the runtime (0 before it starts); for leak tests.
#[pyfunction]
pub(crate) fn _runtime_alive_tasks() -> usize {
    RUNTIME.get().map_or(0, |rt| rt.metrics().num_alive_tasks())
}

/// Panics on purpose, in the call (`where_ == "call"`) or in a tokio task (`"task"`), so
/// tests can check that a Rust panic becomes a Python exception and nothing else breaks.
#[pyfunction]
pub(crate) fn _panic_for_tests(py: Python<'_>, where_: &str) -> PyResult<Py<PyAny>> {
    match where_ {
        "call" => panic!("natsrs test panic in a call"),
        _ => spawn(py, async {
            if true {
                panic!("natsrs test panic in a task");
            }
            Ok(())
        }),
    }
}

pub(crate) fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.enable_all().thread_name("natsrs-tokio");
        let configured = WORKER_THREADS.load(Ordering::Acquire);
        let from_env = std::env::var("NATSRS_WORKER_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0);
        if let Some(n) = Some(configured).filter(|n| *n > 0).or(from_env) {
            builder.worker_threads(n);
        }
        builder
            .build()
            .expect("natsrs: cannot start the tokio runtime")
    })
}

/// Share the runtime with pyo3-async-runtimes, so its helpers and ours run on one pool.
fn register_with_pyo3_async_runtimes() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only when someone registered a runtime first; then both still work.
        let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime());
    });
}

/// Set how many tokio worker threads natsrs's runtime starts (before the first use).
#[pyfunction]
pub(crate) fn set_worker_threads(count: usize) -> PyResult<()> {
    if count == 0 {
        return Err(PyValueError::new_err(
            "worker thread count must be at least 1",
        ));
    }
    if RUNTIME.get().is_some() {
        return Err(PyRuntimeError::new_err(
            "the natsrs runtime has already started; set worker threads before connecting",
        ));
    }
    WORKER_THREADS.store(count, Ordering::Release);
    Ok(())
}

/// Whether natsrs's tokio runtime has started.
#[pyfunction]
pub(crate) fn runtime_started() -> bool {
    RUNTIME.get().is_some()
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
trait Completion: Send {
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

type Done = Box<dyn Completion>;

// ---------------------------------------------------------------------------------------
// Already-finished awaitables

/// An awaitable that is already finished: awaiting it returns `value` without yielding
/// to the event loop. It is its own iterator; the first `__next__` raises
/// `StopIteration(value)`. A `None` result is a shared, stateless singleton.
///
/// Deliberately not coroutine-like (no `send`/`throw`/`close`): `collections.abc`
/// would then call it a Coroutine, and Python 3.9's tasks cannot drive it.
/// `asyncio.ensure_future` wraps it as the awaitable it is.
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
}

/// `StopIteration(value)`, which is how an awaited `__next__` hands over its result,
/// made directly: `PyStopIteration::new_err` would set, fetch and normalize it (PyO3
/// normalizes lazy errors on the stable ABI before 3.12), which on the hot path (a
/// message per `async for` step) cost more than making it.
fn stop_iteration(py: Python<'_>, value: &Py<PyAny>) -> PyResult<PyErr> {
    let exc = py
        .get_type::<PyStopIteration>()
        .call1((value.clone_ref(py),))?;
    Ok(PyErr::from_value(exc))
}

/// An awaitable that raises `error` when awaited: errors found during the call surface
/// at the `await`, as they would in an `async def`.
#[pyclass(name = "_Failed", frozen, module = "natsrs._natsrs")]
pub(crate) struct Failed {
    error: Py<pyo3::exceptions::PyBaseException>,
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

/// An already-failed awaitable for `err`: how an operation ends at once with an error.
pub(crate) fn fail(py: Python<'_>, err: Error) -> PyResult<Py<PyAny>> {
    failed(py, err.into_pyerr(py))
}

fn finished<T: ToPy>(py: Python<'_>, result: Result<T, Error>) -> PyResult<Py<PyAny>> {
    match result {
        Ok(value) => ready(py, value.to_py(py)?),
        Err(err) => fail(py, err),
    }
}

// ---------------------------------------------------------------------------------------
// Entry points used by the rest of the extension

/// Poll `fut` once here; finished → an already-finished awaitable, else an asyncio
/// Future resolved from tokio.
pub(crate) fn resolve<F, T>(py: Python<'_>, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: ToPy,
{
    check_not_forked()?;
    let mut fut = Box::pin(fut);
    match poll_here(fut.as_mut()) {
        Poll::Ready(result) => finished(py, result),
        Poll::Pending => spawn(py, fut),
    }
}

/// [`resolve`], and if the operation has to wait, it ends with `ConnectionClosedError`
/// as soon as `lifeline` is cancelled (the client was closed).
pub(crate) fn resolve_guarded<F, T>(
    py: Python<'_>,
    fut: F,
    lifeline: &CancellationToken,
) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: ToPy,
{
    check_not_forked()?;
    let mut fut = Box::pin(fut);
    match poll_here(fut.as_mut()) {
        Poll::Ready(result) => finished(py, result),
        Poll::Pending => {
            let lifeline = lifeline.clone();
            spawn(py, async move {
                tokio::select! {
                    biased;
                    result = fut => result,
                    () = lifeline.cancelled() => Err(Error::closed()),
                }
            })
        }
    }
}

/// Poll once on this thread with a no-op waker, inside the runtime's context (tokio
/// timers and spawns need it).
pub(crate) fn poll_here<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    let _guard = runtime().enter();
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A pending operation, polled on its loop's thread whenever its waker fires.
type Op = Pin<Box<dyn Future<Output = Done> + Send>>;

/// A pending operation with the asyncio future it resolves and its waker.
type PendingOp = (Py<PyAny>, Op, Waker);

/// Wakes a pending operation: its id goes into the hub's queue and, if the hub was idle,
/// one byte wakes the loop. Called from whichever thread completed what the operation
/// waits for (the engine's handler, a timer); never touches Python.
struct OpWaker {
    queue: Arc<Completions>,
    id: u64,
}

impl std::task::Wake for OpWaker {
    fn wake(self: Arc<Self>) {
        self.queue.poll_again(self.id);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.queue.poll_again(self.id);
    }
}

/// Poll with panics caught: a panic in an operation becomes its error.
fn poll_op(op: Pin<&mut (dyn Future<Output = Done> + Send)>, waker: &Waker) -> Poll<Done> {
    let _guard = runtime().enter();
    let mut cx = Context::from_waker(waker);
    match std::panic::catch_unwind(AssertUnwindSafe(|| op.poll(&mut cx))) {
        Ok(poll) => poll,
        Err(panic) => Poll::Ready(Box::new(Err::<(), Error>(Error::new(
            Kind::Other,
            panic_message(&panic),
        )))),
    }
}

/// Return an asyncio Future for `fut`'s result. The future is driven on the loop's own
/// thread: its waker queues it on the loop's hub, and the hub polls it when the loop
/// wakes. Compared with a tokio task per operation, nothing is spawned and no tokio
/// worker is woken to poll it, so a pending request costs one hand-off (the engine's
/// thread to the loop), not two.
pub(crate) fn spawn<F, T>(py: Python<'_>, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: ToPy,
{
    check_not_forked()?;
    register_with_pyo3_async_runtimes();
    let hub = LoopHub::current(py)?;
    let hub_ref = hub.get();
    let id = hub_ref.next_id.fetch_add(1, Ordering::Relaxed);
    let waker = Waker::from(Arc::new(OpWaker {
        queue: hub_ref.queue.clone(),
        id,
    }));
    let mut op: Op = Box::pin(async move { Box::new(fut.await) as Done });
    // The caller's poll used a no-op waker; this one registers the real one.
    if let Poll::Ready(done) = poll_op(op.as_mut(), &waker) {
        return match done.resolve(py) {
            Ok(value) => ready(py, value),
            Err(err) => failed(py, err),
        };
    }
    let future = hub_ref.create_future.bind(py).call0()?;
    hub_ref
        .futures
        .lock()
        .expect("hub lock")
        .insert(id, (future.clone().unbind(), op, waker));
    // A bound method made per call: cached on the hub, it would keep the hub (and its
    // wake-up sockets) alive forever through a reference cycle.
    let on_done = hub.bind(py).getattr(pyo3::intern!(py, "_on_done"))?;
    future.call_method1(pyo3::intern!(py, "add_done_callback"), (on_done,))?;
    hub_ref
        .by_future
        .lock()
        .expect("hub lock")
        .insert(future.as_ptr() as usize, id);
    Ok(future.unbind())
}

/// Run `fut` as a tokio task and return an asyncio Future for its result: for operations
/// that may call back into the loop synchronously (connecting runs the user's
/// reconnect-delay callback, which waits for the loop), so they must not be polled on
/// the loop's thread.
pub(crate) fn spawn_on_tokio<F, T>(py: Python<'_>, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: ToPy,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = runtime().spawn(async move {
        let result = match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => Err(Error::new(Kind::Other, panic_message(&panic))),
        };
        if let Err(Ok(unwanted)) = tx.send(result) {
            unwanted.abandon();
        }
    });
    // Cancelling the asyncio future drops `rx`'s waiter, which aborts the task.
    let abort = task.abort_handle();
    spawn(py, async move {
        let _abort_on_drop = AbortOnDrop(abort);
        rx.await
            .unwrap_or_else(|_| Err(Error::new(Kind::Other, "internal task ended")))
    })
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("internal error in natsrs (please report): {detail}")
}

// ---------------------------------------------------------------------------------------
// Per-event-loop completion hub

/// The thread-safe side of a loop's hub: operations to poll again, and the wake-up.
struct Completions {
    state: Mutex<Batch>,
    wake: WakeSignal,
}

#[derive(Default)]
struct Batch {
    ready: Vec<u64>,
    /// A wake-up is on its way; later operations ride along with it.
    scheduled: bool,
}

impl Completions {
    fn poll_again(&self, id: u64) {
        let must_wake = {
            let mut batch = self.state.lock().expect("hub lock");
            batch.ready.push(id);
            !std::mem::replace(&mut batch.scheduled, true)
        };
        if must_wake {
            self.wake.wake();
        }
    }

    fn take(&self) -> Vec<u64> {
        let mut batch = self.state.lock().expect("hub lock");
        batch.scheduled = false;
        std::mem::take(&mut batch.ready)
    }
}

#[cfg(unix)]
struct WakeSignal {
    writer: std::os::unix::net::UnixStream,
}

#[cfg(unix)]
impl WakeSignal {
    fn wake(&self) {
        use std::io::Write;
        // WouldBlock means bytes are already waiting to be read: the loop will wake.
        let _ = (&self.writer).write(&[1]);
    }
}

/// Without `add_reader` (Windows' proactor loop) the wake is a `call_soon_threadsafe`,
/// still once per batch.
#[cfg(not(unix))]
struct WakeSignal {
    call_soon_threadsafe: Py<PyAny>,
    drain: OnceLock<Py<PyAny>>,
}

#[cfg(not(unix))]
impl WakeSignal {
    fn wake(&self) {
        with_python(|py| {
            if let Some(drain) = self.drain.get() {
                if let Err(err) = self.call_soon_threadsafe.call1(py, (drain.clone_ref(py),)) {
                    // The loop is closed; nobody is left to resolve.
                    drop(err);
                }
            }
        });
    }
}

/// The Python side of a loop's hub; one per event loop that awaited a pending result.
#[pyclass(name = "_LoopHub", frozen, module = "natsrs._natsrs")]
pub(crate) struct LoopHub {
    event_loop: Py<PyAny>,
    create_future: Py<PyAny>,
    /// Pending operations: the asyncio future, the operation and its waker.
    futures: Mutex<HashMap<u64, PendingOp>>,
    /// The asyncio future's address → its operation, for the done callback.
    by_future: Mutex<HashMap<usize, u64>>,
    next_id: AtomicU64,
    queue: Arc<Completions>,
    #[cfg(unix)]
    reader: std::os::unix::net::UnixStream,
}

static HUBS: Mutex<Vec<Py<LoopHub>>> = Mutex::new(Vec::new());

fn get_running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP
        .import(py, "asyncio", "get_running_loop")?
        .call0()
        .map_err(|_| {
            PyRuntimeError::new_err(
                "natsrs operations that wait must be awaited inside a running asyncio event loop",
            )
        })
}

#[pymethods]
impl LoopHub {
    /// Called by the event loop when the wake-up socket is readable.
    fn _drain(&self, py: Python<'_>) -> PyResult<()> {
        #[cfg(unix)]
        {
            use std::io::Read;
            // Read before taking the batch: a byte written after the take must stay
            // for the next round, or its wake-up would be lost.
            let mut sink = [0u8; 256];
            while let Ok(n) = (&self.reader).read(&mut sink) {
                if n < sink.len() {
                    break;
                }
            }
        }
        for id in self.queue.take() {
            let entry = self.futures.lock().expect("hub lock").remove(&id);
            let Some((future, mut op, waker)) = entry else {
                continue; // finished or cancelled already; a late or repeated wake
            };
            let done = match poll_op(op.as_mut(), &waker) {
                Poll::Pending => {
                    self.futures
                        .lock()
                        .expect("hub lock")
                        .insert(id, (future, op, waker));
                    continue;
                }
                Poll::Ready(done) => done,
            };
            drop_in_runtime(op);
            self.by_future
                .lock()
                .expect("hub lock")
                .remove(&(future.as_ptr() as usize));
            let future = future.into_bound(py);
            if future
                .call_method0(pyo3::intern!(py, "done"))?
                .is_truthy()?
            {
                done.abandon();
                continue;
            }
            match done.resolve(py) {
                Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,))?,
                Err(err) => future
                    .call_method1(pyo3::intern!(py, "set_exception"), (err.into_value(py),))?,
            };
        }
        Ok(())
    }

    /// The asyncio future's done callback: a cancelled future drops its operation (the
    /// engine future with it, so a cancelled request leaves no inbox entry behind).
    fn _on_done(&self, future: &Bound<'_, PyAny>) {
        let id = self
            .by_future
            .lock()
            .expect("hub lock")
            .remove(&(future.as_ptr() as usize));
        if let Some(id) = id {
            let entry = self.futures.lock().expect("hub lock").remove(&id);
            if let Some((_, op, _)) = entry {
                drop_in_runtime(op);
            }
        }
    }
}

/// Engine values may need the runtime's context when dropped (a subscription's UNSUB).
fn drop_in_runtime<T>(value: T) {
    let _guard = runtime().enter();
    drop(value);
}

impl Drop for LoopHub {
    fn drop(&mut self) {
        let pending = std::mem::take(self.futures.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !pending.is_empty() {
            drop_in_runtime(pending);
        }
    }
}

impl LoopHub {
    /// The hub of the running loop, made and registered with the loop on first use.
    fn current(py: Python<'_>) -> PyResult<Py<LoopHub>> {
        let event_loop = get_running_loop(py)?;
        // Python runs while the registry is held (`is_closed`, `add_reader`) and may let
        // another thread take the GIL; that thread must wait for the registry detached,
        // or each would hold what the other needs.
        let mut hubs = HUBS.lock_py_attached(py).expect("hub registry lock");
        if let Some(hub) = hubs
            .iter()
            .find(|hub| hub.get().event_loop.as_ptr() == event_loop.as_ptr())
        {
            return Ok(hub.clone_ref(py));
        }
        // A miss is rare (a new loop): forget hubs of loops that were closed since.
        hubs.retain(|hub| {
            !hub.get()
                .event_loop
                .bind(py)
                .call_method0("is_closed")
                .and_then(|closed| closed.is_truthy())
                .unwrap_or(true)
        });
        let hub = Self::register(py, &event_loop)?;
        hubs.push(hub.clone_ref(py));
        Ok(hub)
    }

    #[cfg(unix)]
    fn register(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Py<LoopHub>> {
        use std::os::fd::AsRawFd;
        let (reader, writer) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot create wake-up socket: {e}")))?;
        reader.set_nonblocking(true).ok();
        writer.set_nonblocking(true).ok();
        let fd = reader.as_raw_fd();
        let hub = Py::new(
            py,
            LoopHub {
                event_loop: event_loop.clone().unbind(),
                create_future: event_loop.getattr("create_future")?.unbind(),
                futures: Mutex::new(HashMap::new()),
                by_future: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                queue: Arc::new(Completions {
                    state: Mutex::new(Batch::default()),
                    wake: WakeSignal { writer },
                }),
                reader,
            },
        )?;
        let drain = hub.bind(py).getattr("_drain")?;
        event_loop.call_method1("add_reader", (fd, drain))?;
        Ok(hub)
    }

    #[cfg(not(unix))]
    fn register(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Py<LoopHub>> {
        let hub = Py::new(
            py,
            LoopHub {
                event_loop: event_loop.clone().unbind(),
                create_future: event_loop.getattr("create_future")?.unbind(),
                futures: Mutex::new(HashMap::new()),
                by_future: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                queue: Arc::new(Completions {
                    state: Mutex::new(Batch::default()),
                    wake: WakeSignal {
                        call_soon_threadsafe: event_loop.getattr("call_soon_threadsafe")?.unbind(),
                        drain: OnceLock::new(),
                    },
                }),
            },
        )?;
        let drain = hub.bind(py).getattr("_drain")?.unbind();
        let _ = hub.get().queue.wake.drain.set(drain);
        Ok(hub)
    }
}
