//! Every Python name the extension imports, in one table: a renamed module or attribute
//! fails `tests/test_layout.py`, not the first call that happens to need it.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// One `module.attribute` the extension uses, imported on first use and kept.
pub(crate) struct PyName {
    module: &'static str,
    attribute: &'static str,
    cell: PyOnceLock<Py<PyAny>>,
}

impl PyName {
    const fn new(module: &'static str, attribute: &'static str) -> Self {
        PyName {
            module,
            attribute,
            cell: PyOnceLock::new(),
        }
    }

    pub(crate) fn get<'py>(&'static self, py: Python<'py>) -> PyResult<&'py Bound<'py, PyAny>> {
        self.cell.import(py, self.module, self.attribute)
    }
}

macro_rules! names {
    ($($name:ident = $module:literal, $attribute:literal;)*) => {
        $(pub(crate) static $name: PyName = PyName::new($module, $attribute);)*
        static ALL: &[&PyName] = &[$(&$name),*];
    };
}

names! {
    ASYNCIO_FUTURE = "asyncio", "Future";
    CALL = "natsrs._callbacks", "call";
    CALL_REPORTING = "natsrs._callbacks", "call_reporting";
    IN_EVENT_CALLBACK = "natsrs._callbacks", "in_event_callback";
    LATER = "natsrs._callbacks", "Later";
    WARN = "natsrs._callbacks", "warn";
    HEADERS = "natsrs._headers", "Headers";
    PARSE_URL = "natsrs._info", "parse_url";
    SERVER_VERSION = "natsrs._info", "ServerVersion";
    SSL_CONTEXT_IDENTITY = "natsrs._ssl_context", "client_identity";
    DELIVER = "natsrs.aio.subscription", "deliver";
    HOLD = "natsrs.aio.subscription", "hold";
    HELD_NEXT = "natsrs.aio.subscription", "_held_next";
    HELD_BATCH = "natsrs.aio.subscription", "_held_batch";
    ERROR = "natsrs.errors", "Error";
    CONNECTION_CLOSED_ERROR = "natsrs.errors", "ConnectionClosedError";
    TIMEOUT_ERROR = "natsrs.errors", "TimeoutError";
    NO_RESPONDERS_ERROR = "natsrs.errors", "NoRespondersError";
    REQUEST_ERROR = "natsrs.errors", "RequestError";
    BAD_SUBJECT_ERROR = "natsrs.errors", "BadSubjectError";
    BAD_QUEUE_ERROR = "natsrs.errors", "BadQueueError";
    MAX_PAYLOAD_ERROR = "natsrs.errors", "MaxPayloadError";
    BAD_HEADER_ERROR = "natsrs.errors", "BadHeaderError";
    NO_REPLY_SUBJECT_ERROR = "natsrs.errors", "NoReplySubjectError";
    CONNECT_ERROR = "natsrs.errors", "ConnectError";
    NO_SERVERS_ERROR = "natsrs.errors", "NoServersError";
    CONNECT_TIMEOUT_ERROR = "natsrs.errors", "ConnectTimeoutError";
    AUTHORIZATION_ERROR = "natsrs.errors", "AuthorizationError";
    TLS_ERROR = "natsrs.errors", "TlsError";
    INVALID_SERVER_ADDRESS_ERROR = "natsrs.errors", "InvalidServerAddressError";
    INVALID_CREDENTIALS_ERROR = "natsrs.errors", "InvalidCredentialsError";
    SERVER_POOL_ERROR = "natsrs.errors", "ServerPoolError";
    SERVER_NOT_IN_POOL_ERROR = "natsrs.errors", "ServerNotInPoolError";
    PROTOCOL_ERROR = "natsrs.errors", "ProtocolError";
    BAD_SUBSCRIPTION_ERROR = "natsrs.errors", "BadSubscriptionError";
    FLUSH_TIMEOUT_ERROR = "natsrs.errors", "FlushTimeoutError";
    SLOW_CONSUMER_ERROR = "natsrs.errors", "SlowConsumerError";
    STALE_CONNECTION_ERROR = "natsrs.errors", "StaleConnectionError";
    UNEXPECTED_EOF = "natsrs.errors", "UnexpectedEOF";
    JS_API_ERROR = "natsrs.js.errors", "APIError";
    JS_NO_STREAM_RESPONSE_ERROR = "natsrs.js.errors", "NoStreamResponseError";
    JS_TOO_MANY_STALLED_MSGS_ERROR = "natsrs.js.errors", "TooManyStalledMsgsError";
    JS_NOT_JS_MESSAGE_ERROR = "natsrs.js.errors", "NotJSMessageError";
    JS_MSG_ALREADY_ACKD_ERROR = "natsrs.js.errors", "MsgAlreadyAckdError";
    MSG_METADATA = "natsrs.aio.msg", "_metadata";
    JETSTREAM_CONTEXT = "natsrs.js.client", "JetStreamContext";
    JETSTREAM_MANAGER = "natsrs.js.manager", "JetStreamManager";
}

/// The table, for the test that imports every entry.
#[pyfunction]
pub(crate) fn _imported_names() -> Vec<(&'static str, &'static str)> {
    ALL.iter().map(|n| (n.module, n.attribute)).collect()
}
