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
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// Which Python class an [`Error`] becomes: a class of `natsrs.errors` (named in
/// [`CLASS_NAMES`], same order), or the builtin `ValueError`.
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
    NoServers,
    ConnectTimeout,
    Authorization,
    Tls,
    InvalidServerAddress,
    InvalidCredentials,
    ServerPool,
    BadSubscription,
    FlushTimeout,
    /// The base `natsrs.errors.Error`.
    Other,
    /// An argument error that is not NATS-specific.
    Value,
}

const CLASS_NAMES: [&str; 19] = [
    "ConnectionClosedError",
    "TimeoutError",
    "NoRespondersError",
    "RequestError",
    "BadSubjectError",
    "BadQueueError",
    "MaxPayloadError",
    "BadHeaderError",
    "NoReplySubjectError",
    "NoServersError",
    "ConnectTimeoutError",
    "AuthorizationError",
    "TlsError",
    "InvalidServerAddressError",
    "InvalidCredentialsError",
    "ServerPoolError",
    "BadSubscriptionError",
    "FlushTimeoutError",
    "Error",
];

static CLASSES: [PyOnceLock<Py<PyType>>; CLASS_NAMES.len()] =
    [const { PyOnceLock::new() }; CLASS_NAMES.len()];

/// An error on its way to Python: a kind and a message that never holds a secret.
#[derive(Debug, Clone)]
pub(crate) struct Error {
    pub(crate) kind: Kind,
    pub(crate) message: String,
    /// A Python exception behind this one (raised in a user callback): `__cause__`.
    pub(crate) cause: Option<std::sync::Arc<PyErr>>,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            cause: None,
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

    pub(crate) fn into_pyerr(self, py: Python<'_>) -> PyErr {
        if self.kind == Kind::Value {
            return PyValueError::new_err(self.message);
        }
        let index = self.kind as usize;
        let err = match CLASSES[index].import(py, "natsrs.errors", CLASS_NAMES[index]) {
            Ok(class) => PyErr::from_type(class.clone(), self.message),
            Err(import_error) => return import_error,
        };
        if let Some(cause) = self.cause {
            err.set_cause(py, Some(cause.clone_ref(py)));
        }
        err
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

impl From<async_nats::ConnectError> for Error {
    fn from(err: async_nats::ConnectError) -> Self {
        let kind = match err.kind() {
            ConnectErrorKind::ServerParse => Kind::InvalidServerAddress,
            ConnectErrorKind::Io if is_tls_failure(&err) => Kind::Tls,
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
