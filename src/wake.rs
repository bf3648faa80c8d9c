//! A loop hub's wake-up: the operations to poll again, and the one signal per batch
//! that tells the loop (a byte on a socket it watches, or `call_soon_threadsafe` where
//! it has no `add_reader`). Called from any thread; never touches Python on Unix.

use std::sync::Mutex;
#[cfg(not(unix))]
use std::sync::OnceLock;

#[cfg(not(unix))]
use pyo3::prelude::*;

#[cfg(not(unix))]
use crate::process::with_python;

/// The thread-safe side of a loop's hub: operations to poll again, and the wake-up.
pub(crate) struct Completions {
    pub(crate) state: Mutex<Batch>,
    pub(crate) wake: WakeSignal,
}

#[derive(Default)]
pub(crate) struct Batch {
    ready: Vec<u64>,
    /// A wake-up is on its way; later operations ride along with it.
    scheduled: bool,
    /// The loop is turning its engine runtime and takes the batch right after: no
    /// wake-up is needed until it has.
    driving: bool,
}

impl Completions {
    pub(crate) fn poll_again(&self, id: u64) {
        let must_wake = {
            let mut batch = self.state.lock().expect("hub lock");
            batch.ready.push(id);
            !batch.driving && !std::mem::replace(&mut batch.scheduled, true)
        };
        if must_wake {
            self.wake.wake();
        }
    }

    /// Until the next [`take`](Self::take), operations finishing need no wake-up: the
    /// loop's own thread takes them next. Returns whether a wake-up may be waiting to
    /// be read (one was sent since the last take).
    pub(crate) fn begin_driving(&self) -> bool {
        let mut batch = self.state.lock().expect("hub lock");
        batch.driving = true;
        batch.scheduled
    }

    pub(crate) fn take(&self) -> Vec<u64> {
        let mut batch = self.state.lock().expect("hub lock");
        batch.scheduled = false;
        batch.driving = false;
        std::mem::take(&mut batch.ready)
    }
}

#[cfg(unix)]
pub(crate) struct WakeSignal {
    pub(crate) writer: std::os::unix::net::UnixStream,
}

#[cfg(unix)]
impl WakeSignal {
    pub(crate) fn wake(&self) {
        use std::io::Write;
        // WouldBlock means bytes are already waiting to be read: the loop will wake.
        let _ = (&self.writer).write(&[1]);
    }
}

/// Without `add_reader` (Windows' proactor loop) the wake is a `call_soon_threadsafe`,
/// still once per batch.
#[cfg(not(unix))]
pub(crate) struct WakeSignal {
    pub(crate) call_soon_threadsafe: Py<PyAny>,
    pub(crate) drain: OnceLock<Py<PyAny>>,
}

#[cfg(not(unix))]
impl WakeSignal {
    pub(crate) fn wake(&self) {
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
