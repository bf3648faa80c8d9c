//! The engine's `tracing` records on Python's `logging`, under the `natsrs` logger.
//!
//! Cheap when disabled: the level this layer accepts is the `natsrs` logger's effective
//! level, read on the Python thread at each connect (and by `natsrs.refresh_log_level()`),
//! stored in an atomic and handed to `tracing` as its global maximum, so a disabled
//! callsite costs one relaxed load. Enabled records are formatted on the tokio thread,
//! scrubbed of credentials, and logged with the interpreter attached.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, Once};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// 0 = off, 1 = error … 5 = trace.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);

/// Every credential natsrs was given; scrubbed from log text before it reaches Python.
static SECRETS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

pub(crate) fn register_secret(secret: &str) {
    // Very short strings would blank out ordinary words.
    if secret.len() >= 4 {
        SECRETS
            .lock()
            .expect("secrets lock")
            .insert(secret.to_owned());
    }
}

fn level_rank(level: Level) -> u8 {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn python_level(level: Level) -> u8 {
    match level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

struct PythonLogging;

impl<S: Subscriber> Layer<S> for PythonLogging {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        level_rank(*metadata.level()) <= MAX_LEVEL.load(Ordering::Relaxed)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match MAX_LEVEL.load(Ordering::Relaxed) {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = Message::default();
        event.record(&mut text);
        let mut line = text.message;
        if !text.fields.is_empty() {
            line.push_str(" (");
            line.push_str(text.fields.trim_start());
            line.push(')');
        }
        let line = scrub(&line);
        let level = python_level(*event.metadata().level());
        let target = event.metadata().target().to_owned();
        // Not during interpreter shutdown, and never from a thread that cannot attach.
        crate::runtime::with_python(|py| {
            static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            let logger = LOGGER.get_or_try_init(py, || {
                py.import("logging")?
                    .call_method1("getLogger", ("natsrs",))
                    .map(Bound::unbind)
            });
            if let Ok(logger) = logger {
                let _ = logger.call_method1(py, "log", (level, "%s [%s]", line, target));
            }
        });
    }
}

#[derive(Default)]
struct Message {
    message: String,
    fields: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// Removes registered secrets and URL userinfo (`scheme://user:pass@host`).
fn scrub(text: &str) -> String {
    let mut out = text.to_owned();
    for secret in SECRETS.lock().expect("secrets lock").iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(start) = rest.find("://") {
        let (head, tail) = rest.split_at(start + 3);
        result.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == ')' || c == ',')
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                result.push_str("***");
                result.push_str(&tail[at..end]);
            }
            None => result.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    result.push_str(rest);
    result
}

/// Installs the layer as the process's tracing subscriber (once; if another extension
/// got there first, natsrs's records go to that one instead).
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(PythonLogging);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Re-reads the `natsrs` logger's effective level; called at every connect.
pub(crate) fn refresh(py: Python<'_>) -> PyResult<()> {
    install();
    let level: u32 = py
        .import("logging")?
        .call_method1("getLogger", ("natsrs",))?
        .call_method0("getEffectiveLevel")?
        .extract()?;
    let rank = match level {
        0..=5 => 5,
        6..=10 => 4,
        11..=20 => 3,
        21..=30 => 2,
        31..=40 => 1,
        _ => 0,
    };
    if MAX_LEVEL.swap(rank, Ordering::Relaxed) != rank {
        tracing::callsite::rebuild_interest_cache();
    }
    Ok(())
}

/// Make engine records follow the `natsrs` logger's current level (natsrs reads it at
/// every connect; call this after changing it for clients already connected).
#[pyfunction]
pub(crate) fn refresh_log_level(py: Python<'_>) -> PyResult<()> {
    refresh(py)
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn scrubs_url_userinfo() {
        assert_eq!(
            scrub("connecting to nats://bob:hunter2@127.0.0.1:4222/x"),
            "connecting to nats://***@127.0.0.1:4222/x"
        );
        assert_eq!(
            scrub("tls://h:1 and ws://t0k@h"),
            "tls://h:1 and ws://***@h"
        );
    }
}
