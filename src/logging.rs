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

/// Every credential natsrs was given, as given and as `Debug` renders it (escaped);
/// scrubbed from log text before it reaches Python.
static SECRETS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Secrets shorter than this are scrubbed only where they stand alone as a quoted value
/// (`"x9Q"`): replacing every occurrence of two or three characters would blank out
/// ordinary words. Values of the fields in [`SECRET_FIELDS`] are scrubbed at any length.
const MIN_SUBSTRING_SECRET: usize = 4;

/// Field names whose quoted value is a credential wherever a record renders them:
/// `url::Url`'s `Debug` (`password: Some("...")`, the engine logs server addresses that
/// way), async-nats's `ConnectInfo` (`pass`, `auth_token`, `user_jwt`, `signature`) and
/// `Auth` (`password`, `token`, `jwt`, `signature`), and `name="..."` record fields.
const SECRET_FIELDS: &[&str] = &[
    "auth_token",
    "credentials",
    "creds",
    "jwt",
    "nkey_seed",
    "pass",
    "passwd",
    "password",
    "seed",
    "sig",
    "signature",
    "token",
    "user_jwt",
];

pub(crate) fn register_secret(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let escaped = format!("{secret:?}");
    let escaped = &escaped[1..escaped.len() - 1];
    let mut secrets = SECRETS.lock().expect("secrets lock");
    secrets.insert(secret.to_owned());
    if escaped != secret {
        secrets.insert(escaped.to_owned());
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

/// Removes credentials: every registered secret of [`MIN_SUBSTRING_SECRET`] characters
/// or more wherever it appears, every registered secret standing alone as a quoted value,
/// the quoted value of every field named in [`SECRET_FIELDS`], and URL userinfo
/// (`scheme://user:pass@host`).
fn scrub(text: &str) -> String {
    let mut out = text.to_owned();
    {
        let secrets = SECRETS.lock().expect("secrets lock");
        // Longest first: a secret inside a longer one must not leave the rest behind.
        let mut by_length: Vec<&String> = secrets.iter().collect();
        by_length.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in by_length {
            if secret.len() >= MIN_SUBSTRING_SECRET {
                if out.contains(secret.as_str()) {
                    out = out.replace(secret.as_str(), "***");
                }
            } else {
                let quoted = format!("\"{secret}\"");
                if out.contains(&quoted) {
                    out = out.replace(&quoted, "\"***\"");
                }
            }
        }
    }
    scrub_userinfo(&scrub_fields(&out))
}

/// Replaces the quoted value after `field: "`, `field: Some("`, `field="` and
/// `"field":"` for every field in [`SECRET_FIELDS`].
fn scrub_fields(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        let (head, tail) = rest.split_at(open + 1);
        out.push_str(head);
        if names_secret_field(&out[..out.len() - 1]) {
            match literal_len(tail) {
                Some(len) => {
                    out.push_str("***\"");
                    rest = &tail[len + 1..];
                }
                // An unterminated value: nothing after it can be shown safely.
                None => return out + "***",
            }
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Whether `before` (the text up to an opening quote) ends with a secret field's name
/// and its separator.
fn names_secret_field(before: &str) -> bool {
    let before = before.strip_suffix("Some(").unwrap_or(before);
    let Some(name) = before
        .strip_suffix(": ")
        .or_else(|| before.strip_suffix('='))
        .or_else(|| before.strip_suffix(':'))
    else {
        return false;
    };
    let name = name.strip_suffix('"').unwrap_or(name);
    let start = name
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let name = &name[start..];
    SECRET_FIELDS
        .iter()
        .any(|field| field.eq_ignore_ascii_case(name))
}

/// The length of a `Debug`-escaped string literal's content, up to its closing quote.
fn literal_len(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// Replaces the userinfo of every `scheme://user:pass@host` with `***`. The authority
/// runs to a `/`, whitespace, a quote or a parenthesis: commas may be part of a password.
fn scrub_userinfo(text: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (head, tail) = rest.split_at(start + 3);
        result.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == ')')
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
    use super::{register_secret, scrub};

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
        assert_eq!(scrub("nats://dave:hunter2,x@h:1"), "nats://***@h:1");
    }

    #[test]
    fn scrubs_secret_fields_at_any_length() {
        assert_eq!(
            scrub(r#"Url { username: "bob", password: Some("x9Q"), host: Some(Domain("h")) }"#),
            r#"Url { username: "bob", password: Some("***"), host: Some(Domain("h")) }"#
        );
        assert_eq!(
            scrub(r#"ConnectInfo { pass: Some("a\"b"), auth_token: Some("t"), name: None }"#),
            r#"ConnectInfo { pass: Some("***"), auth_token: Some("***"), name: None }"#
        );
        assert_eq!(scrub(r#"x token="ab" y"#), r#"x token="***" y"#);
        assert_eq!(
            scrub(r#"{"pass":"zz","user":"u"}"#),
            r#"{"pass":"***","user":"u"}"#
        );
        // Not a field of that name, and a stray quote before a field.
        assert_eq!(scrub(r#"mytokens: "ab""#), r#"mytokens: "ab""#);
        assert_eq!(
            scrub(r#"a " b password: Some("pw") c"#),
            r#"a " b password: Some("***") c"#
        );
    }

    #[test]
    fn scrubs_short_secrets_standing_alone_only() {
        register_secret("q7");
        assert_eq!(scrub(r#"username: "q7", host"#), r#"username: "***", host"#);
        assert_eq!(scrub("q7 in a word: aq7b"), "q7 in a word: aq7b");
        register_secret("long-secret");
        assert_eq!(scrub("x long-secret y"), "x *** y");
    }
}
