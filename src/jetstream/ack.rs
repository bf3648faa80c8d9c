//! Acknowledging a message JetStream delivered: each kind of ack is a payload published
//! to the message's reply subject (`$JS.ACK.…`), which the server routes to the consumer.

use std::time::Duration;

use bytes::Bytes;

/// What a consumer tells the server about one delivered message.
pub(crate) enum AckKind {
    /// Processed; not to be delivered again.
    Ack,
    /// Not processed; deliver again, after `delay` if given.
    Nak(Option<Duration>),
    /// Still being worked on: restarts the ack wait. May be sent many times.
    Progress,
    /// Never deliver again; the reason is kept in the server's advisory.
    Term(Option<String>),
}

impl AckKind {
    pub(crate) fn payload(&self) -> Bytes {
        match self {
            AckKind::Ack => Bytes::from_static(b"+ACK"),
            AckKind::Nak(None) => Bytes::from_static(b"-NAK"),
            // The server takes the delay in nanoseconds.
            AckKind::Nak(Some(delay)) => {
                Bytes::from(format!("-NAK {{\"delay\": {}}}", delay.as_nanos()))
            }
            AckKind::Progress => Bytes::from_static(b"+WPI"),
            AckKind::Term(None) => Bytes::from_static(b"+TERM"),
            AckKind::Term(Some(reason)) => Bytes::from(format!("+TERM {reason}")),
        }
    }

    /// Whether the message is settled afterwards, so a second settling ack is an error.
    pub(crate) fn settles(&self) -> bool {
        !matches!(self, AckKind::Progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_the_servers_ack_protocol() {
        assert_eq!(&AckKind::Ack.payload()[..], b"+ACK");
        assert_eq!(&AckKind::Nak(None).payload()[..], b"-NAK");
        assert_eq!(
            &AckKind::Nak(Some(Duration::from_millis(1500))).payload()[..],
            b"-NAK {\"delay\": 1500000000}"
        );
        assert_eq!(&AckKind::Progress.payload()[..], b"+WPI");
        assert_eq!(
            &AckKind::Term(Some("bad".into())).payload()[..],
            b"+TERM bad"
        );
        assert!(!AckKind::Progress.settles());
        assert!(AckKind::Term(None).settles());
    }
}
