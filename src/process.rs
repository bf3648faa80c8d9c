//! natsrs's tokio runtime and the process around it: one multi-thread runtime per
//! process, started lazily; a child forked after it started is refused; runtime threads
//! stop entering Python once the interpreter exits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use tokio::runtime::Runtime;

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
pub(crate) fn register_with_pyo3_async_runtimes() {
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
