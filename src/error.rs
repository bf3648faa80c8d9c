//! One error type for the extension, mapped onto the `natsrs.errors` tree.
//!
//! Engine errors are converted into [`Error`] wherever they occur, including on tokio
//! threads; the Python exception object is only made when the error reaches the
//! Python thread ([`Error::into_pyerr`]), so no tokio worker ever touches the
//! interpreter.

use std::fmt::Display;

use async_nats::client::{FlushErrorKind, PublishErrorKind, RequestErrorKind, SubscribeErrorKind};
use async_nats::ConnectErrorKind;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::pynames::{self, PyName};

/// Which Python class an [`Error`] becomes: a class of `natsrs.errors`, or the builtin
/// `ValueError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    ConnectionClosed,
    Timeout,
    NoResponders,
    Request,
    BadSubject,
    BadQueue,
    MaxPayload,
    BadHeader,
    NoReplySubject,
    /// A connection attempt failed for a reason none of the kinds below names.
    Connect,
    NoServers,
    ConnectTimeout,
    Authorization,
    Tls,
    InvalidServerAddress,
    InvalidCredentials,
    ServerPool,
    /// The reconnect-to-server callback chose a server the pool does not have.
    ServerNotInPool,
    /// A message from the server that does not parse was dropped (`ProtocolError`).
    Protocol,
    BadSubscription,
    FlushTimeout,
    SlowConsumer,
    StaleConnection,
    /// The connection ended without the client closing it (nats-py's `UnexpectedEOF`).
    UnexpectedEof,
    /// A JetStream API error answer: see [`Error::api`].
    JetStreamApi,
    /// No stream listens on a JetStream publish's subject (nats-py's
    /// `NoStreamResponseError`).
    NoStreamResponse,
    /// `publish_async` waited `wait_stall` for room among the acks in flight.
    TooManyStalledMsgs,
    /// An ack on a message that has no reply subject.
    NotJsMessage,
    /// A second ack (or nak, or term) on one message.
    MsgAlreadyAcked,
    /// The base `natsrs.errors.Error`.
    Other,
    /// An argument error that is not NATS-specific.
    Value,
}

impl Kind {
    fn class(self) -> Option<&'static PyName> {
        Some(match self {
            Kind::ConnectionClosed => &pynames::CONNECTION_CLOSED_ERROR,
            Kind::Timeout => &pynames::TIMEOUT_ERROR,
            Kind::NoResponders => &pynames::NO_RESPONDERS_ERROR,
            Kind::Request => &pynames::REQUEST_ERROR,
            Kind::BadSubject => &pynames::BAD_SUBJECT_ERROR,
            Kind::BadQueue => &pynames::BAD_QUEUE_ERROR,
            Kind::MaxPayload => &pynames::MAX_PAYLOAD_ERROR,
            Kind::BadHeader => &pynames::BAD_HEADER_ERROR,
            Kind::NoReplySubject => &pynames::NO_REPLY_SUBJECT_ERROR,
            Kind::Connect => &pynames::CONNECT_ERROR,
            Kind::NoServers => &pynames::NO_SERVERS_ERROR,
            Kind::ConnectTimeout => &pynames::CONNECT_TIMEOUT_ERROR,
            Kind::Authorization => &pynames::AUTHORIZATION_ERROR,
            Kind::Tls => &pynames::TLS_ERROR,
            Kind::InvalidServerAddress => &pynames::INVALID_SERVER_ADDRESS_ERROR,
            Kind::InvalidCredentials => &pynames::INVALID_CREDENTIALS_ERROR,
            Kind::ServerPool => &pynames::SERVER_POOL_ERROR,
            Kind::ServerNotInPool => &pynames::SERVER_NOT_IN_POOL_ERROR,
            Kind::Protocol => &pynames::PROTOCOL_ERROR,
            Kind::BadSubscription => &pynames::BAD_SUBSCRIPTION_ERROR,
            Kind::FlushTimeout => &pynames::FLUSH_TIMEOUT_ERROR,
            Kind::SlowConsumer => &pynames::SLOW_CONSUMER_ERROR,
            Kind::StaleConnection => &pynames::STALE_CONNECTION_ERROR,
            Kind::UnexpectedEof => &pynames::UNEXPECTED_EOF,
            Kind::JetStreamApi => &pynames::JS_API_ERROR,
            Kind::NoStreamResponse => &pynames::JS_NO_STREAM_RESPONSE_ERROR,
            Kind::TooManyStalledMsgs => &pynames::JS_TOO_MANY_STALLED_MSGS_ERROR,
            Kind::NotJsMessage => &pynames::JS_NOT_JS_MESSAGE_ERROR,
            Kind::MsgAlreadyAcked => &pynames::JS_MSG_ALREADY_ACKD_ERROR,
            Kind::Other => &pynames::ERROR,
            Kind::Value => return None,
        })
    }
}

/// An error on its way to Python: a kind and a message that never holds a secret.
#[derive(Debug, Clone)]
pub(crate) struct Error {
    pub(crate) kind: Kind,
    pub(crate) message: String,
    /// The subscription of a slow-consumer error (`SlowConsumerError.sid`) or of a
    /// dropped malformed message (`ProtocolError.sid`).
    pub(crate) sid: Option<u64>,
    /// A Python exception behind this one (raised in a user callback): `__cause__`.
    pub(crate) cause: Option<std::sync::Arc<PyErr>>,
    /// The server's error of a JetStream API answer ([`Kind::JetStreamApi`]).
    pub(crate) api: Option<Box<ApiError>>,
}

/// The `error` object of a JetStream API answer. The class it becomes is chosen by
/// `code` (and `err_code`) in `natsrs.js.errors.APIError.from_error`, never by text.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    #[serde(default)]
    pub(crate) err_code: Option<u64>,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            sid: None,
            cause: None,
            api: None,
        }
    }

    pub(crate) fn api(api: ApiError) -> Self {
        let message = api.description.clone().unwrap_or_default();
        Error {
            api: Some(Box::new(api)),
            ..Error::new(Kind::JetStreamApi, message)
        }
    }

    pub(crate) fn caused_by(mut self, cause: Option<PyErr>) -> Self {
        self.cause = cause.map(std::sync::Arc::new);
        self
    }

    pub(crate) fn closed() -> Self {
        Error::new(Kind::ConnectionClosed, "the connection is closed")
    }

    pub(crate) fn value(message: impl Into<String>) -> Self {
        Error::new(Kind::Value, message)
    }

    /// The engine's message followed by its source chain, which is where async-nats
    /// keeps the detail (`invalid subject: ...`).
    fn with_chain(kind: Kind, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(inner) = source {
            let text = inner.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = inner.source();
        }
        Error::new(kind, message)
    }

    /// The error an engine event reports, or `None` for an event that is not one.
    ///
    /// The engine keeps two kinds as text. A connection attempt that failed reaches the
    /// event as its `ConnectErrorKind`'s display text alone, so it is matched against
    /// the display of each kind, which changes with the engine's wording. A server's
    /// `-ERR` is the server's protocol text; the one natsrs types is `Stale Connection`.
    pub(crate) fn from_event(event: &async_nats::Event) -> Option<Self> {
        use async_nats::{ClientError, Event, ServerError};
        let slow_consumer = |sid: u64, message: String| Error {
            sid: Some(sid),
            ..Error::new(Kind::SlowConsumer, message)
        };
        Some(match event {
            Event::SlowConsumer(sid) => {
                slow_consumer(*sid, format!("subscription {sid} is a slow consumer"))
            }
            Event::ServerError(err @ ServerError::SlowConsumer(sid)) => {
                slow_consumer(*sid, err.to_string())
            }
            Event::ServerError(err @ ServerError::AuthorizationViolation) => {
                Error::new(Kind::Authorization, err.to_string())
            }
            Event::ServerError(err @ ServerError::Other(text)) => {
                let kind = if text
                    .trim_matches('\'')
                    .eq_ignore_ascii_case("stale connection")
                {
                    Kind::StaleConnection
                } else {
                    Kind::Other
                };
                Error::new(kind, err.to_string())
            }
            Event::ClientError(err @ ClientError::MaxReconnects) => {
                Error::new(Kind::NoServers, err.to_string())
            }
            Event::ClientError(err @ ClientError::ServerNotInPool) => {
                Error::new(Kind::ServerNotInPool, err.to_string())
            }
            Event::ClientError(err @ ClientError::MalformedMessage { sid, .. }) => Error {
                sid: Some(*sid),
                ..Error::new(Kind::Protocol, err.to_string())
            },
            Event::ClientError(err @ ClientError::Other(text)) => {
                Error::new(connect_failure_kind(text), err.to_string())
            }
            Event::Connected
            | Event::Disconnected
            | Event::LameDuckMode
            | Event::Draining
            | Event::Closed
            | Event::DiscoveredServers => return None,
        })
    }

    pub(crate) fn into_pyerr(self, py: Python<'_>) -> PyErr {
        if let Some(api) = &self.api {
            return api_error(py, api);
        }
        let Some(name) = self.kind.class() else {
            return PyValueError::new_err(self.message);
        };
        let class = match name.get(py).and_then(|c| Ok(c.cast::<PyType>()?.clone())) {
            Ok(class) => class,
            Err(import_error) => return import_error,
        };
        let err = PyErr::from_type(class, self.message);
        if let Some(sid) = self.sid {
            if let Err(set_error) = err.value(py).setattr("sid", sid) {
                return set_error;
            }
        }
        if let Some(cause) = self.cause {
            err.set_cause(py, Some(cause.clone_ref(py)));
        }
        err
    }
}

/// `natsrs.js.errors.APIError.from_error(...)`: the subclass for the answer's code.
fn api_error(py: Python<'_>, api: &ApiError) -> PyErr {
    let made = (|| {
        let fields = pyo3::types::PyDict::new(py);
        fields.set_item("code", api.code)?;
        fields.set_item("err_code", api.err_code)?;
        fields.set_item("description", api.description.as_deref())?;
        let class = pynames::JS_API_ERROR.get(py)?;
        class.call_method1("from_error", (fields,))
    })();
    match made {
        Ok(exception) => PyErr::from_value(exception),
        Err(err) => err,
    }
}

/// The kind of a failed connection attempt that the engine reported by its
/// `ConnectErrorKind`'s display text (see [`Error::from_event`]).
fn connect_failure_kind(text: &str) -> Kind {
    use async_nats::ConnectErrorKind as K;
    let engine_kinds = [
        K::ServerParse,
        K::Dns,
        K::Authentication,
        K::AuthorizationViolation,
        K::TimedOut,
        K::Tls,
        K::Io,
        K::MaxReconnects,
    ];
    let Some(engine_kind) = engine_kinds.into_iter().find(|k| k.to_string() == text) else {
        return Kind::Connect;
    };
    match engine_kind {
        K::Authentication | K::AuthorizationViolation => Kind::Authorization,
        K::TimedOut => Kind::ConnectTimeout,
        K::Tls => Kind::Tls,
        K::MaxReconnects => Kind::NoServers,
        K::ServerParse | K::Dns | K::Io => Kind::Connect,
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        Python::attach(|py| err.into_pyerr(py))
    }
}

impl From<async_nats::client::PublishError> for Error {
    fn from(err: async_nats::client::PublishError) -> Self {
        let kind = match err.kind() {
            PublishErrorKind::MaxPayloadExceeded => Kind::MaxPayload,
            PublishErrorKind::InvalidSubject => Kind::BadSubject,
            // The command channel is closed only once the connection handler has exited.
            PublishErrorKind::Send => return Error::closed(),
        };
        Error::with_chain(kind, &err)
    }
}

impl From<async_nats::client::RequestError> for Error {
    fn from(err: async_nats::client::RequestError) -> Self {
        let kind = match err.kind() {
            RequestErrorKind::TimedOut => return Error::new(Kind::Timeout, "request timed out"),
            RequestErrorKind::NoResponders => {
                return Error::new(Kind::NoResponders, "no responders for the request subject")
            }
            RequestErrorKind::InvalidSubject => Kind::BadSubject,
            RequestErrorKind::MaxPayloadExceeded => Kind::MaxPayload,
            RequestErrorKind::Other => Kind::Request,
        };
        Error::with_chain(kind, &err)
    }
}

impl From<async_nats::SubscribeError> for Error {
    fn from(err: async_nats::SubscribeError) -> Self {
        let kind = match err.kind() {
            SubscribeErrorKind::InvalidSubject => Kind::BadSubject,
            SubscribeErrorKind::InvalidQueueName => Kind::BadQueue,
            SubscribeErrorKind::Other => return Error::closed(),
        };
        Error::with_chain(kind, &err)
    }
}

impl From<async_nats::client::FlushError> for Error {
    fn from(err: async_nats::client::FlushError) -> Self {
        match err.kind() {
            FlushErrorKind::SendError => Error::closed(),
            // The handler dropped the flush observer: the connection went away under it.
            FlushErrorKind::FlushError => Error::with_chain(Kind::Other, &err),
        }
    }
}

/// The engine reports a failed TLS handshake (bad certificate, alert) as an I/O error
/// wrapping rustls' error; find it in the chain.
fn is_tls_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<async_nats::rustls::Error>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<async_nats::rustls::Error>())
            {
                return true;
            }
        }
        current = e.source();
    }
    false
}

/// Whether a failed connection attempt never reached a server: the engine reports both
/// "nothing listens there" and "the server answered wrongly (no INFO, a malformed one,
/// the connection dropped mid-handshake)" as `ConnectErrorKind::Io`; the socket error's
/// kind in the source chain tells them apart.
fn is_unreachable(err: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind as K;
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::NetworkUnreachable
                    | K::HostUnreachable
                    | K::AddrNotAvailable
                    | K::AddrInUse
                    | K::NetworkDown
            );
        }
        current = e.source();
    }
    false
}

impl From<async_nats::ConnectError> for Error {
    fn from(err: async_nats::ConnectError) -> Self {
        let kind = match err.kind() {
            ConnectErrorKind::ServerParse => Kind::InvalidServerAddress,
            ConnectErrorKind::Io if is_tls_failure(&err) => Kind::Tls,
            ConnectErrorKind::Io if !is_unreachable(&err) => Kind::Connect,
            ConnectErrorKind::Dns | ConnectErrorKind::Io | ConnectErrorKind::MaxReconnects => {
                Kind::NoServers
            }
            ConnectErrorKind::TimedOut => Kind::ConnectTimeout,
            ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                Kind::Authorization
            }
            ConnectErrorKind::Tls => Kind::Tls,
        };
        Error::with_chain(kind, &err)
    }
}

impl From<async_nats::client::SetServerPoolError> for Error {
    fn from(err: async_nats::client::SetServerPoolError) -> Self {
        use async_nats::client::SetServerPoolErrorKind as K;
        let kind = match err.kind() {
            K::Send => return Error::closed(),
            K::InvalidAddress => Kind::InvalidServerAddress,
            K::MixedSchemes | K::EmptyPool => Kind::ServerPool,
        };
        Error::with_chain(kind, &err)
    }
}

impl From<async_nats::UnsubscribeError> for Error {
    fn from(_: async_nats::UnsubscribeError) -> Self {
        Error::closed()
    }
}

impl From<async_nats::client::DrainError> for Error {
    fn from(_: async_nats::client::DrainError) -> Self {
        Error::closed()
    }
}
