//! Panics on natsrs's runtime threads: kept off stderr, logged on the `natsrs` logger,
//! and remembered per thread so that the guard of an engine connection task that died of
//! one (`state::HandlerGuard`) can say why.
//!
//! The published engine's connection task panicked on some malformed input; natsrs's
//! engine patches fix every case known (SECURITY.md), and this stays for any other. tokio
//! catches the unwind at the task boundary, so the process lives on, but the default hook
//! would print a backtrace to stderr that the user cannot silence or route.

use std::cell::{Cell, RefCell};
use std::sync::Once;

/// The name of natsrs's tokio threads (`runtime.rs` names them).
const RUNTIME_THREAD: &str = "natsrs-tokio";

thread_local! {
    /// An event loop's thread is running its engine runtime (`driven.rs`).
    static DRIVING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Installs the hook once per process, in front of whatever hook was there: panics on
/// other threads still reach it.
pub(crate) fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_runtime =
                std::thread::current().name() == Some(RUNTIME_THREAD) || DRIVING.with(Cell::get);
            // A panic while logging one goes the default way, not round again.
            if !on_runtime || IN_HOOK.with(|busy| busy.replace(true)) {
                previous(info);
                return;
            }
            let text = match info.payload().downcast_ref::<&str>() {
                Some(text) => (*text).to_owned(),
                None => info
                    .payload()
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| "a panic without a message".to_owned()),
            };
            let place = info
                .location()
                .map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
            let text = format!("{text}{place}");
            tracing::error!(target: "natsrs", "panic on natsrs's runtime: {text}");
            LAST_PANIC.with(|last| *last.borrow_mut() = Some(text));
            IN_HOOK.with(|busy| busy.set(false));
        }));
    });
}

/// The text of the last panic on this thread, taken (the unwind in progress, for a
/// guard dropped by it).
pub(crate) fn take_panic_text() -> Option<String> {
    LAST_PANIC.with(|last| last.borrow_mut().take())
}

/// Runs `turn` as natsrs's runtime: a panic in it is one of natsrs's, kept off stderr.
pub(crate) fn as_runtime<T>(turn: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            DRIVING.with(|d| d.set(self.0));
        }
    }
    let _reset = Reset(DRIVING.with(|d| d.replace(true)));
    turn()
}
