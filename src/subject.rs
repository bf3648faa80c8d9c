//! Subject and queue-name validation, stricter than the engine's on publish.
//!
//! async-nats checks publish subjects for protocol framing only (non-empty, no
//! whitespace). natsrs also rejects structurally invalid subjects (`a..b`, a leading or
//! trailing dot, `>` before the last token) on every path, unless the client was built
//! with `skip_subject_validation`, which restores the engine's framing-only check for
//! publishes.
//!
//! Lengths are bounded on every path, `skip_subject_validation` or not: the server takes
//! a protocol line (`PUB`, `HPUB`, `SUB` with their arguments) of at most its
//! `max_control_line`, and answers a longer one with -ERR and a disconnect, after which
//! the engine would replay the same `SUB` on every reconnect.

use crate::error::{Error, Kind};

/// The server's default `max_control_line`, in bytes.
pub(crate) const SERVER_MAX_CONTROL_LINE: usize = 4096;

/// The longest subject, reply subject or queue group accepted, in bytes. The longest
/// lines carry two of them: `HPUB <subject> <reply> <header size> <total size>`, whose
/// other fields take at most 50 bytes with the CRLF, and `SUB <subject> <queue> <sid>`
/// (28). Two fields of 2000 bytes leave those lines under the server's default limit,
/// with room to spare; a server configured with a smaller `max_control_line` can still
/// refuse lines this lets through.
pub(crate) const MAX_SUBJECT_LEN: usize = 2000;

/// The longest custom inbox prefix, in bytes: an inbox made from it (the prefix, a dot,
/// a 22-character NUID, and a request's own dot and 22-character token) stays within
/// [`MAX_SUBJECT_LEN`].
pub(crate) const MAX_INBOX_PREFIX_LEN: usize = MAX_SUBJECT_LEN - 64;

/// How much of an over-long value an error message shows.
const PREVIEW_CHARS: usize = 32;

fn preview(s: &str) -> String {
    let cut: String = s.chars().take(PREVIEW_CHARS).collect();
    format!("{cut:?}...")
}

/// `Ok` when `value` fits in `max` bytes; the error names `what` and the limit.
pub(crate) fn check_len(value: &str, max: usize, what: &str, kind: Kind) -> Result<(), Error> {
    if value.len() <= max {
        return Ok(());
    }
    Err(Error::new(
        kind,
        format!(
            "{what} too long: {} bytes, at most {max} (a protocol line must fit the \
             server's max_control_line, {SERVER_MAX_CONTROL_LINE} bytes by default): {}",
            value.len(),
            preview(value)
        ),
    ))
}

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
    check_len(subject, MAX_SUBJECT_LEN, "subject", Kind::BadSubject)?;
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
        check_len(subject, MAX_SUBJECT_LEN, "subject", Kind::BadSubject)?;
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
    check_len(queue, MAX_SUBJECT_LEN, "queue group name", Kind::BadQueue)?;
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
    use super::{check, check_publish, check_queue, is_valid, MAX_SUBJECT_LEN};

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

    #[test]
    fn length() {
        let longest = "a".repeat(MAX_SUBJECT_LEN);
        let over = "a".repeat(MAX_SUBJECT_LEN + 1);
        assert!(check(&longest).is_ok());
        assert!(check(&over).is_err());
        assert!(check_publish(&over, true).is_err());
        assert!(check_queue(&longest).is_ok());
        assert!(check_queue(&over).is_err());
        // Two fields at the limit and the other fields of an HPUB line fit.
        let hpub = format!("HPUB {longest} {longest} {} {}\r\n", u64::MAX, u64::MAX);
        assert!(
            hpub.len() <= super::SERVER_MAX_CONTROL_LINE,
            "{}",
            hpub.len()
        );
    }
}
