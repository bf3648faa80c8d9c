//! The seam between asyncio and tokio: every awaitable natsrs returns, and the per-loop
//! hub that drives operations that have to wait.
//!
//! Two paths, chosen per call:
//!
//! * **Ready** — the engine future is polled once on the calling (Python) thread with a
//!   no-op waker. Most operations finish there (a subscriber usually has a message
//!   queued; a publish only enters the client's outbox, see `outbox.rs`), and the call
//!   returns an already-finished awaitable (`_Ready`, or `_Failed` for an error; see
//!   `awaitable.rs`): no asyncio Future, no other thread woken, no event-loop iteration.
//! * **Pending** — the operation is kept in the running loop's [`LoopHub`], not spawned,
//!   and the caller gets a [`Pending`] awaitable. Its waker, called on whichever thread
//!   completes what it waits for (the engine's handler, a timer), never touches Python:
//!   it queues the operation's id and, only if the hub was idle, writes one byte to a
//!   socket the loop watches (`add_reader`). The loop thread then polls the whole batch
//!   and wakes the Futures awaited on — one wake-up per batch, however many operations
//!   completed. Only connecting, which calls back into the loop synchronously, runs as a
//!   tokio task ([`spawn_on_tokio`]).
//!
//! All three awaitables are coroutines to asyncio (`__await__`, `send`, `throw`,
//! `close`), so `asyncio.create_task`, `TaskGroup.create_task`, `wait_for`, `gather` and
//! `shield` take them as they take nats-py's coroutines. A pending operation's result
//! stays a Rust value until its awaitable takes it, so cancelling the awaitable at any
//! point (before its Task started, while it waits, after the operation finished but
//! before the Task resumed) gives back what the operation took (`ToPy::abandon`).
//!
//! This avoids what makes a naive bridge slow: an asyncio Future, a done callback, two
//! spawns and a `call_soon_threadsafe` with the GIL taken on a tokio thread per call.
//!
//! **Where the engine runs.** By default a client's engine (its socket and the
//! connection handler of async-nats) is a task on natsrs's multi-thread runtime: it
//! reads, parses and writes in parallel with Python, which is what publish bursts and
//! many requests in flight want. The price is two hand-offs between threads per side of
//! a round trip (the loop wakes a tokio worker to write a request; a tokio worker wakes
//! the loop with the reply), each a futex or socket wake-up and a wait for a CPU. With
//! `ConnectOptions.runtime("loop")` the engine runs instead on a current-thread runtime
//! the loop's hub owns and the loop drives (`driven.rs`): the loop watches that
//! runtime's epoll descriptor and runs a turn of it when it is readable (a socket of
//! the engine is ready, or another thread woke one of its tasks), then resolves what
//! the turn finished at once, with no wake-up byte. A lone request or reply is polled
//! first inside a turn ([`poll_on_engine`]): written before the call returns. A request
//! is written and its reply read on the loop's own thread; the round trip costs the
//! wake-ups nats-py's does. BENCHMARKS.md has the figures for both, and the choice.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use futures::FutureExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::{MutexExt, PyOnceLock};
use pyo3::types::PyWeakrefReference;
use pyo3::{PyTraverseError, PyVisit};
use tokio_util::sync::CancellationToken;

use crate::awaitable::{check_send, stop_iteration, thrown};
use crate::error::{Error, Kind};
use crate::wake::{Batch, Completions, WakeSignal};

pub(crate) use crate::process::{
    check_not_forked, register_with_pyo3_async_runtimes, runtime, with_python,
};

// ---------------------------------------------------------------------------------------
// Values that become Python objects on the Python thread

pub(crate) use crate::awaitable::{Done, ToPy};

// ---------------------------------------------------------------------------------------
// Already-finished awaitables

pub(crate) use crate::awaitable::{failed, ready, ready_later, ready_none};

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
    resolve_guarded_on(py, fut, lifeline, false)
}

/// [`resolve_guarded`] for a client whose engine may run on the loop's runtime
/// (`on_loop`): its first poll is then [`poll_on_engine`]'s.
pub(crate) fn resolve_guarded_on<F, T>(
    py: Python<'_>,
    fut: F,
    lifeline: &CancellationToken,
    on_loop: bool,
) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: ToPy,
{
    check_not_forked()?;
    let mut fut = Box::pin(fut);
    match poll_on_engine(py, on_loop, fut.as_mut()) {
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

/// [`poll_here`] for a client of engine `on_loop`: with the engine on the running loop's
/// runtime, a lone call's poll runs inside a turn of it, so the engine task it wakes
/// (the connection handler, given a request or a reply) writes to the socket before
/// this returns, with no wake-up through the runtime's driver and no loop iteration
/// first (`Driven::hand_over`).
pub(crate) fn poll_on_engine<F: Future + ?Sized>(
    py: Python<'_>,
    on_loop: bool,
    fut: Pin<&mut F>,
) -> Poll<F::Output> {
    if on_loop {
        // Outside a running loop (a sync caller) there is no turn to run in.
        if let Ok(hub) = LoopHub::current(py) {
            if let Some(driven) = hub.get().driven.get() {
                return driven.hand_over(|| poll_here(fut));
            }
        }
    }
    poll_here(fut)
}

/// A pending operation, polled on its loop's thread whenever its waker fires.
type Op = Pin<Box<dyn Future<Output = Done> + Send>>;

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

/// Return a [`Pending`] awaitable for `fut`'s result. The operation is driven on the
/// loop's own thread: its waker queues it on the loop's hub, and the hub polls it when
/// the loop wakes. Compared with a tokio task per operation, nothing is spawned and no
/// tokio worker is woken to poll it, so a pending request costs one hand-off (the
/// engine's thread to the loop), not two.
pub(crate) fn spawn<F, T>(py: Python<'_>, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: ToPy,
{
    spawn_with(py, fut, false)
}

/// [`spawn`], with the first poll on the loop's next batch rather than in the call: for
/// a result nats-py code must not see finished before the loop ran once (a
/// `publish_async` ack whose answer raced the call on a busy machine).
pub(crate) fn spawn_deferred<F, T>(py: Python<'_>, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: ToPy,
{
    spawn_with(py, fut, true)
}

fn spawn_with<F, T>(py: Python<'_>, fut: F, deferred: bool) -> PyResult<Py<PyAny>>
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
    if !deferred {
        if let Poll::Ready(done) = poll_op(op.as_mut(), &waker) {
            return match done.resolve(py) {
                Ok(value) => ready(py, value),
                Err(err) => failed(py, err),
            };
        }
    }
    let entry = Entry {
        stage: Stage::Running(op, waker.clone()),
        future: None,
        detached: false,
    };
    hub_ref.ops.lock().expect("hub lock").insert(id, entry);
    if deferred {
        waker.wake();
    }
    Ok(Py::new(py, Pending { hub, id })?.into_any())
}

/// Where a pending operation is; its loop's hub keeps it under the operation's id until
/// its awaitable takes the result or gives it up.
enum Stage {
    /// The hub polls the operation whenever its waker fires.
    Running(Op, Waker),
    /// Finished. The result becomes a Python object only when the awaitable takes it,
    /// so an awaitable cancelled first can still give back what the operation took.
    Finished(Done),
}

struct Entry {
    stage: Stage,
    /// Made when the awaitable first has to wait: the asyncio Future its Task sleeps on,
    /// resolved (with `None`) when the operation finishes, which wakes the Task.
    future: Option<Py<PyAny>>,
    /// The awaitable was dropped unfinished: the operation goes on (a `flush()` nobody
    /// awaits still flushes) and what it produces is given back.
    detached: bool,
}

impl Entry {
    /// Ends an operation whose result nobody will take: a running one is dropped (a
    /// request's inbox entry with it), a finished one's result is given back.
    fn give_up(self, py: Python<'_>) {
        if let Some(future) = self.future {
            let _ = future.call_method0(py, pyo3::intern!(py, "cancel"));
        }
        let _guard = runtime().enter();
        match self.stage {
            Stage::Running(op, waker) => drop((op, waker)),
            Stage::Finished(done) => done.abandon(),
        }
    }
}

/// The awaitable of an operation that did not finish during its call; to asyncio, a
/// coroutine (see `awaitable.rs`). Its first step takes the result if the operation
/// finished since the call (still no Future: a `create_task`-wrapped call often gets
/// here); otherwise it makes a Future on the loop and yields it, like an asyncio
/// Future's own iterator, and the hub resolves that Future when the operation finishes.
/// Cancelled (`throw`, `close`) before it took the result, it drops the operation or
/// gives back what it produced (`ToPy::abandon`: a message taken for a cancelled
/// `next_msg` returns to its subscription).
#[pyclass(name = "_Pending", frozen, module = "natsrs._natsrs")]
pub(crate) struct Pending {
    hub: Py<LoopHub>,
    id: u64,
}

#[pymethods]
impl Pending {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.step(py)
    }

    /// Like an asyncio Future's iterator, a sent value is ignored once the awaitable
    /// waits; before that only `None` starts it.
    fn send(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if !self.waiting() {
            check_send(value)?;
        }
        match self.step(py)? {
            Some(future) => Ok(future),
            None => Err(stop_iteration(py, &py.None())?),
        }
    }

    /// Cancellation (and any exception thrown in): the operation is given up, then the
    /// exception goes on.
    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        &self,
        py: Python<'_>,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.give_up(py);
        Err(thrown(typ, val, tb))
    }

    fn close(&self, py: Python<'_>) {
        self.give_up(py);
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.hub)
    }
}

impl Pending {
    fn waiting(&self) -> bool {
        let ops = self.hub.get().ops.lock().expect("hub lock");
        ops.get(&self.id)
            .is_some_and(|entry| entry.future.is_some())
    }

    fn step(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let hub = self.hub.get();
        let mut ops = hub.ops.lock().expect("hub lock");
        let Some(entry) = ops.get(&self.id) else {
            return Err(PyRuntimeError::new_err(
                "cannot reuse already awaited coroutine",
            ));
        };
        if let Stage::Finished(_) = entry.stage {
            let Some(Entry {
                stage: Stage::Finished(done),
                ..
            }) = ops.remove(&self.id)
            else {
                unreachable!("the entry was just seen finished");
            };
            drop(ops);
            let value = done.resolve(py)?;
            if value.is_none(py) {
                return Ok(None);
            }
            return Err(stop_iteration(py, &value)?);
        }
        let future = entry.future.as_ref().map(|future| future.clone_ref(py));
        drop(ops);
        let future = match future {
            None => {
                let future = hub.create_future.bind(py).call0()?;
                if let Some(entry) = hub.ops.lock().expect("hub lock").get_mut(&self.id) {
                    entry.future = Some(future.clone().unbind());
                }
                future
            }
            Some(future) => {
                let future = future.into_bound(py);
                // The hub resolves it only after the operation finished, so it is done
                // here only if someone cancelled it.
                if future
                    .call_method0(pyo3::intern!(py, "done"))?
                    .is_truthy()?
                {
                    self.give_up(py);
                    future.call_method0(pyo3::intern!(py, "result"))?;
                    return Err(PyRuntimeError::new_err("natsrs operation ended early"));
                }
                future
            }
        };
        future.setattr(pyo3::intern!(py, "_asyncio_future_blocking"), true)?;
        Ok(Some(future.unbind()))
    }

    fn give_up(&self, py: Python<'_>) {
        let entry = self
            .hub
            .get()
            .ops
            .lock()
            .expect("hub lock")
            .remove(&self.id);
        if let Some(entry) = entry {
            entry.give_up(py);
        }
    }
}

impl Drop for Pending {
    /// Dropped unfinished: the operation goes on, and a result it already produced, or
    /// produces later, is given back.
    fn drop(&mut self) {
        let hub = self.hub.get();
        let mut ops = hub.ops.lock().unwrap_or_else(|e| e.into_inner());
        let finished = match ops.get_mut(&self.id) {
            None => return,
            Some(Entry {
                stage: Stage::Running(..),
                detached,
                ..
            }) => {
                *detached = true;
                return;
            }
            Some(_) => ops.remove(&self.id),
        };
        drop(ops);
        if let Some(Entry {
            stage: Stage::Finished(done),
            ..
        }) = finished
        {
            let _guard = runtime().enter();
            done.abandon();
        }
    }
}

/// Run `fut` as a tokio task and return an awaitable for its result: for operations
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
    // Giving up the awaitable drops `rx`'s waiter, which aborts the task.
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

/// The Python side of a loop's hub; one per event loop that awaited a pending result.
/// The loop keeps it alive (its wake-up reader's callback, `_drain`), and it keeps the
/// loop (to make Futures); the registry holds it weakly, so a loop that is dropped
/// without being closed is collected with its hub and the hub's sockets.
#[pyclass(name = "_LoopHub", frozen, weakref, module = "natsrs._natsrs")]
pub(crate) struct LoopHub {
    event_loop: Py<PyAny>,
    create_future: Py<PyAny>,
    /// Pending operations by id.
    ops: Mutex<HashMap<u64, Entry>>,
    next_id: AtomicU64,
    queue: Arc<Completions>,
    #[cfg(unix)]
    reader: std::os::unix::net::UnixStream,
    /// The engine runtime this loop drives, made for the first client that asks.
    driven: OnceLock<crate::driven::Driven>,
}

/// A registered hub: its loop's address (compared first; a hub alive holds its loop, so
/// a live hub's address match is that very loop) and a weak reference to the hub.
struct Registered {
    event_loop: usize,
    hub: Py<PyWeakrefReference>,
}

static HUBS: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

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
        self.drain(py, true)
    }

    /// The loop's engine runtime has something ready: run it, then resolve what it
    /// finished. What finishes during the turn sends no wake-up byte (this thread takes
    /// it right after), so the socket is read only if a byte was sent before.
    fn _drive(&self, py: Python<'_>) -> PyResult<()> {
        let byte_waiting = self.queue.begin_driving();
        if let Some(driven) = self.driven.get() {
            driven.turn();
        }
        self.drain(py, byte_waiting)
    }

    /// Timers of the engine runtime are invisible to the loop: turn it now and then.
    fn _tick(slf: Py<Self>, py: Python<'_>) -> PyResult<()> {
        slf.get()._drive(py)?;
        let tick = slf.bind(py).getattr("_tick")?;
        // A closed loop refuses: the ticking ends with it.
        let _ = slf
            .get()
            .event_loop
            .bind(py)
            .call_method1("call_later", (DRIVE_TICK, tick));
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.event_loop)?;
        visit.call(&self.create_future)?;
        // A Future's callbacks can lead back here (a Task, its coroutine, a `_Pending`).
        if let Ok(ops) = self.ops.try_lock() {
            for entry in ops.values() {
                visit.call(&entry.future)?;
            }
        }
        Ok(())
    }
}

impl Drop for LoopHub {
    /// Engine values may need the runtime's context when dropped (a subscription's UNSUB).
    fn drop(&mut self) {
        let ops = std::mem::take(self.ops.get_mut().unwrap_or_else(|e| e.into_inner()));
        let _guard = runtime().enter();
        for (_, entry) in ops {
            match entry.stage {
                Stage::Running(op, waker) => drop((op, waker)),
                Stage::Finished(done) => done.abandon(),
            }
        }
    }
}

/// How often the loop turns its engine runtime for timers, in seconds.
const DRIVE_TICK: f64 = 0.005;

/// The engine runtime of the running loop (made on first use, and registered with the
/// loop): a client connected on it runs its engine on the loop's thread.
pub(crate) fn driven_handle(py: Python<'_>) -> PyResult<tokio::runtime::Handle> {
    let hub = LoopHub::current(py)?;
    let hub_ref = hub.get();
    if let Some(driven) = hub_ref.driven.get() {
        return Ok(driven.handle().clone());
    }
    // The process runtime first: it must not be the epoll descriptor found new.
    let _ = runtime();
    let driven = crate::driven::Driven::new()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot make a loop-driven runtime: {e}")))?;
    let fd = driven.fd();
    let handle = driven.handle().clone();
    if hub_ref.driven.set(driven).is_err() {
        return Ok(hub_ref.driven.get().expect("set").handle().clone());
    }
    let event_loop = hub_ref.event_loop.bind(py);
    event_loop.call_method1("add_reader", (fd, hub.bind(py).getattr("_drive")?))?;
    event_loop.call_method1("call_later", (DRIVE_TICK, hub.bind(py).getattr("_tick")?))?;
    Ok(handle)
}

impl LoopHub {
    /// Resolves the operations whose wakers fired; `read_socket`: first empties the
    /// wake-up socket (a byte left there only costs a spurious `_drain`, but a byte
    /// read after the take would lose a later batch's wake-up).
    fn drain(&self, py: Python<'_>, read_socket: bool) -> PyResult<()> {
        #[cfg(not(unix))]
        let _ = read_socket;
        #[cfg(unix)]
        if read_socket {
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
            let mut ops = self.ops.lock().expect("hub lock");
            let Some(entry) = ops.get_mut(&id) else {
                continue; // taken or given up already; a late wake
            };
            let Stage::Running(op, waker) = &mut entry.stage else {
                continue; // finished already; a repeated wake
            };
            let Poll::Ready(done) = poll_op(op.as_mut(), waker) else {
                continue;
            };
            let (future, old, unwanted) = if entry.detached {
                let entry = ops.remove(&id).expect("the entry was just polled");
                (entry.future, entry.stage, Some(done))
            } else {
                let old = std::mem::replace(&mut entry.stage, Stage::Finished(done));
                (entry.future.as_ref().map(|f| f.clone_ref(py)), old, None)
            };
            drop(ops);
            {
                let _guard = runtime().enter();
                drop(old);
                if let Some(done) = unwanted {
                    done.abandon();
                }
            }
            // Wake whoever waits on the Future; the result stays here until taken.
            if let Some(future) = future.map(|f| f.into_bound(py)) {
                if !future
                    .call_method0(pyo3::intern!(py, "done"))?
                    .is_truthy()?
                {
                    future.call_method1(pyo3::intern!(py, "set_result"), (py.None(),))?;
                }
            }
        }
        Ok(())
    }

    /// The hub of the running loop, made and registered with the loop on first use.
    fn current(py: Python<'_>) -> PyResult<Py<LoopHub>> {
        let event_loop = get_running_loop(py)?;
        let key = event_loop.as_ptr() as usize;
        // Python runs while the registry is held (`is_closed`, `add_reader`) and may let
        // another thread take the GIL; that thread must wait for the registry detached,
        // or each would hold what the other needs.
        let mut hubs = HUBS.lock_py_attached(py).expect("hub registry lock");
        for registered in hubs.iter().filter(|r| r.event_loop == key) {
            if let Some(hub) = registered.hub.bind(py).upgrade_as::<LoopHub>()? {
                if hub.get().event_loop.as_ptr() == event_loop.as_ptr() {
                    return Ok(hub.unbind());
                }
            }
        }
        // A miss is rare (a new loop): forget hubs that are gone, or whose loops closed.
        hubs.retain(|registered| {
            registered
                .hub
                .bind(py)
                .upgrade_as::<LoopHub>()
                .ok()
                .flatten()
                .is_some_and(|hub| {
                    !hub.get()
                        .event_loop
                        .bind(py)
                        .call_method0("is_closed")
                        .and_then(|closed| closed.is_truthy())
                        .unwrap_or(true)
                })
        });
        let hub = Self::register(py, &event_loop)?;
        hubs.push(Registered {
            event_loop: key,
            hub: PyWeakrefReference::new(hub.bind(py))?.unbind(),
        });
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
                ops: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                queue: Arc::new(Completions {
                    state: Mutex::new(Batch::default()),
                    wake: WakeSignal { writer },
                }),
                reader,
                driven: OnceLock::new(),
            },
        )?;
        let drain = hub.bind(py).getattr("_drain")?;
        event_loop.call_method1("add_reader", (fd, drain))?;
        Ok(hub)
    }

    /// Here nothing but its own `drain` holds the hub while no operation is pending; that
    /// cycle through Rust is invisible to the collector, so the hub lives on, as before.
    #[cfg(not(unix))]
    fn register(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Py<LoopHub>> {
        let hub = Py::new(
            py,
            LoopHub {
                event_loop: event_loop.clone().unbind(),
                create_future: event_loop.getattr("create_future")?.unbind(),
                ops: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                queue: Arc::new(Completions {
                    state: Mutex::new(Batch::default()),
                    wake: WakeSignal {
                        call_soon_threadsafe: event_loop.getattr("call_soon_threadsafe")?.unbind(),
                        drain: OnceLock::new(),
                    },
                }),
                driven: OnceLock::new(),
            },
        )?;
        let drain = hub.bind(py).getattr("_drain")?.unbind();
        let _ = hub.get().queue.wake.drain.set(drain);
        Ok(hub)
    }
}
