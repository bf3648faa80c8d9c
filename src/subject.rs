//! Subject and queue-name validation, stricter than the engine's on publish.
//!
//! async-nats checks publish subjects for protocol framing only (non-empty, no
//! whitespace). natsrs also rejects structurally invalid subjects (`a..b`, a leading or
//! trailing dot, `>` before the last token) on every path, unless the client was built
//! with `skip_subject_validation`, which restores the engine's framing-only check for
//! publishes.

use crate::error::{Error, Kind};

fn has_whitespace(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// True when `subject` is non-empty, whitespace-free, has no empty token, and uses `>`
/// only as its last token.
pub(crate) fn is_valid(subject: &str) -> bool {
    if subject.is_empty() || has_whitespace(subject) {
        return false;
    }
    let mut tokens = subject.split('.').peekable();
    while let Some(token) = tokens.next() {
        if token.is_empty() || (token == ">" && tokens.peek().is_some()) {
            return false;
        }
    }
    true
}

pub(crate) fn check(subject: &str) -> Result<(), Error> {
    if is_valid(subject) {
        Ok(())
    } else {
        Err(Error::new(
            Kind::BadSubject,
            format!("invalid subject {subject:?}"),
        ))
    }
}

/// The check a publish gets: full, or framing-only with `skip_subject_validation`.
pub(crate) fn check_publish(subject: &str, skip_validation: bool) -> Result<(), Error> {
    if skip_validation {
        if subject.is_empty() || has_whitespace(subject) {
            return Err(Error::new(
                Kind::BadSubject,
                format!("invalid subject {subject:?}"),
            ));
        }
        Ok(())
    } else {
        check(subject)
    }
}

pub(crate) fn check_queue(queue: &str) -> Result<(), Error> {
    if queue.is_empty() || has_whitespace(queue) {
        Err(Error::new(
            Kind::BadQueue,
            format!("invalid queue group name {queue:?}"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn structure() {
        for ok in ["a", "a.b", "a.*", "a.>", ">", "*.b", "_INBOX.x.y"] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in [
            "", " ", "a b", "a..b", ".a", "a.", "a.>.b", "a\tb", "a\r\nb",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
