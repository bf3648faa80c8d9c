//! An engine runtime driven by an asyncio event loop (prototype): a current-thread tokio
//! runtime whose tasks (a client's engine connection handler, its socket) run on the
//! loop's own thread, so a round trip needs no hand-off between threads.
//!
//! The loop watches the runtime's epoll descriptor (`add_reader`): it is readable when a
//! socket the runtime waits on is ready, or when a task of the runtime was woken from
//! another thread (tokio then signals its driver). Each readiness runs one non-blocking
//! turn of the runtime (`turn`): ready tasks, a zero-timeout poll of the driver, the
//! tasks that poll woke. Timers are not visible to the loop, so a coarse tick turns the
//! runtime too. A lone call that hands the engine work (a request, a publish such as a
//! reply) makes its first poll inside a turn (`hand_over`): the handler is woken on
//! this thread's scheduler rather than through the driver, and writes before the call
//! returns; a burst of them is left to the next turn, which writes them at once. What
//! finishes during a turn is resolved right after it, with no wake-up byte
//! (`Completions::begin_driving`).

use std::cell::Cell;
use std::collections::HashSet;
use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

thread_local! {
    /// This thread is dropping a loop's engine runtime, and the tasks on it.
    static ENDING: Cell<bool> = const { Cell::new(false) };
    /// This thread is inside a loop runtime's turn.
    static TURNING: Cell<bool> = const { Cell::new(false) };
}

/// Whether a task being dropped here goes with its loop's runtime: a client whose engine
/// ends so is closed (`Lifecycle::handler_ended`), nothing will run it again.
pub(crate) fn runtime_ending() -> bool {
    ENDING.with(Cell::get)
}

/// The open file descriptors of this process that are epoll instances.
fn epoll_fds() -> io::Result<HashSet<i32>> {
    let mut fds = HashSet::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let entry = entry?;
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if target.as_os_str() == "anon_inode:[eventpoll]" {
            if let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                fds.insert(fd);
            }
        }
    }
    Ok(fds)
}

pub(crate) struct Driven {
    /// Always `Some` until dropped.
    rt: Option<tokio::runtime::Runtime>,
    epfd: i32,
    /// When [`Driven::hand_over`] last ran its call in a turn.
    last_handover: Mutex<Option<Instant>>,
}

/// Calls handing the engine work closer together than this are a burst (many requests
/// in flight): they are left to the loop's next turn, which gives the handler all of
/// them at once (one write), instead of a turn and a write each.
const BURST_GAP: Duration = Duration::from_micros(50);

impl Driven {
    /// A new current-thread runtime and the epoll descriptor its driver waits on.
    pub(crate) fn new() -> io::Result<Self> {
        let before = epoll_fds()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut new: Vec<i32> = epoll_fds()?.difference(&before).copied().collect();
        // mio keeps a duplicate of its epoll descriptor (its registry): both name the
        // same epoll instance.
        new.sort_unstable();
        let inode = |fd: &i32| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(format!("/proc/self/fd/{fd}")).map(|m| m.ino())
        };
        let first = new.first().map(inode).transpose()?;
        let same = match first {
            Some(ino) => new.iter().all(|fd| inode(fd).ok() == Some(ino)),
            None => false,
        };
        if !same {
            rt.shutdown_background();
            return Err(io::Error::other(format!(
                "cannot tell the runtime's epoll descriptor (new: {new:?})"
            )));
        }
        Ok(Driven {
            rt: Some(rt),
            epfd: new.remove(0),
            last_handover: Mutex::new(None),
        })
    }

    pub(crate) fn fd(&self) -> i32 {
        self.epfd
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("runtime until dropped")
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        self.rt().handle()
    }

    /// Runs what is ready, without blocking: tasks, a zero-timeout driver poll, the
    /// tasks it woke, and one more driver poll for what they started.
    pub(crate) fn turn(&self) {
        self.run(|| ());
    }

    /// `f`, a call that hands the engine work: alone, [`run`](Self::run) (the work is
    /// on the socket when this returns); in a burst, just `f` (the handler, woken through
    /// the driver, takes the whole burst in the loop's next turn).
    pub(crate) fn hand_over<R>(&self, f: impl FnOnce() -> R) -> R {
        let now = Instant::now();
        let lone = {
            let mut last = self.last_handover.lock().unwrap_or_else(|e| e.into_inner());
            let lone = last.is_none_or(|at| now.duration_since(at) >= BURST_GAP);
            *last = Some(now);
            lone
        };
        if lone {
            self.run(f)
        } else {
            f()
        }
    }

    /// Runs `f` inside the runtime, then a [`turn`](Self::turn). An engine task that `f`
    /// wakes (the connection handler, given a request or a reply) is then scheduled here
    /// and runs at once, instead of being signalled through the runtime's driver: no
    /// eventfd write, and no loop iteration before its bytes reach the socket. Nested in
    /// a turn (a callback called in place), `f` just runs.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                TURNING.with(|t| t.set(false));
            }
        }
        if TURNING.with(|t| t.replace(true)) {
            return f();
        }
        let _reset = Reset;
        crate::supervise::as_runtime(|| {
            self.rt().block_on(async {
                let out = f();
                // Each yield runs the ready tasks, then polls the driver without
                // waiting. One is not enough: a task woken by the last poll stays
                // queued with nothing to tell the loop (it waits for the next
                // readiness or the tick), and a reply often lands in the first.
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                out
            })
        })
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        // A runtime must not be dropped inside another's context (the hub may go with
        // a loop dropped anywhere); shutdown_background never blocks.
        if let Some(rt) = self.rt.take() {
            let was = ENDING.with(|e| e.replace(true));
            rt.shutdown_background();
            ENDING.with(|e| e.set(was));
        }
    }
}
