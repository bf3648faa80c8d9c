//! A Key-Value watcher's entries made in Rust: the messages of the watcher's ordered
//! push consumer become `KeyValue.Entry` objects in one pass per batch, each read from
//! its subject (the key), its ack subject (revision, delta, timestamp) and its headers
//! (the operation), with no `Message` object in between.

use std::sync::Arc;

use async_nats::header::{HeaderMap, HeaderName};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyType};

use crate::args::extract_batch_limits;
use crate::message::{Convert, Reply};
use crate::runtime::ToPy;
use crate::state::ClientInner;
use crate::subscriber::PySubscriber;

/// What a delete or purge marker carries (nats-py's `KV_OP`).
const KV_OPERATION: HeaderName = HeaderName::from_static("KV-Operation");
/// What nats-server 2.11+ puts on the markers of what it removed itself (a TTL, max age).
const MARKER_REASON: HeaderName = HeaderName::from_static("Nats-Marker-Reason");

/// What a JetStream ack subject says of one delivery.
#[derive(Debug, PartialEq)]
struct Delivery {
    stream_seq: u64,
    consumer_seq: u64,
    /// When the message was stored, in nanoseconds since the epoch.
    stamp: u64,
    /// How many messages the consumer had still to deliver after this one.
    pending: u64,
}

/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>`,
/// or the newer form with a domain and an account hash before the stream (and maybe
/// more tokens after the pending count). `None` for anything else.
fn parse_ack(reply: &str) -> Option<Delivery> {
    let mut tokens = [""; 9];
    let mut count = 0;
    for token in reply.strip_prefix("$JS.ACK.")?.split('.') {
        if count == tokens.len() {
            break;
        }
        tokens[count] = token;
        count += 1;
    }
    let fields = match count {
        7 => &tokens[3..7],
        9 => &tokens[5..9],
        _ => return None,
    };
    let number = |i: usize| fields[i].parse::<u64>().ok();
    Some(Delivery {
        stream_seq: number(0)?,
        consumer_seq: number(1)?,
        stamp: number(2)?,
        pending: number(3)?,
    })
}

/// An entry's operation, as its headers tell it.
#[derive(Debug, PartialEq)]
enum Operation<'a> {
    Put,
    Delete,
    Purge,
    /// A `KV-Operation` this client does not know, passed on as it is (nats-py's way).
    Other(&'a str),
    /// A marker for a reason a later server gives: not an entry, and not a value either.
    Unknown,
}

fn operation(headers: Option<&HeaderMap>) -> Operation<'_> {
    let Some(headers) = headers else {
        return Operation::Put;
    };
    if let Some(op) = headers.get(KV_OPERATION) {
        return match op.as_str() {
            "DEL" => Operation::Delete,
            "PURGE" => Operation::Purge,
            other => Operation::Other(other),
        };
    }
    match headers.get(MARKER_REASON).map(|reason| reason.as_str()) {
        None => Operation::Put,
        Some("MaxAge" | "Purge") => Operation::Purge,
        Some("Remove") => Operation::Delete,
        Some(_) => Operation::Unknown,
    }
}

/// How one watcher makes its entries; fixed when the watch starts.
struct Shape {
    bucket: Py<PyString>,
    /// `$KV.<bucket>.`: a subject minus this is the key.
    prefix: String,
    entry_class: Py<PyType>,
    /// `object.__new__`: an entry is made without its class's `__init__`, then filled.
    new: Py<PyAny>,
    ignore_deletes: bool,
}

/// Makes a watcher's entries (`natsrs.js.kv.KeyValue.KeyWatcher`) from its consumer's
/// deliver subscription, a batch at a time.
#[pyclass(name = "KvWatchReader", module = "natsrs", frozen)]
pub(crate) struct PyKvWatchReader {
    shape: Arc<Shape>,
}

#[pymethods]
impl PyKvWatchReader {
    /// Entries of `bucket` whose subjects start with `prefix`, made as instances of
    /// `entry_class` (a class with the `KeyValue.Entry` fields, `created` read from
    /// `_stamp`); delete and purge markers left out with `ignore_deletes`.
    #[new]
    fn new(
        bucket: Bound<'_, PyString>,
        prefix: String,
        entry_class: Bound<'_, PyType>,
        ignore_deletes: bool,
    ) -> PyResult<Self> {
        let py = bucket.py();
        let object = py
            .import(pyo3::intern!(py, "builtins"))?
            .getattr("object")?;
        let new = object.getattr(pyo3::intern!(py, "__new__"))?.unbind();
        Ok(PyKvWatchReader {
            shape: Arc::new(Shape {
                bucket: bucket.unbind(),
                prefix,
                entry_class: entry_class.unbind(),
                new,
                ignore_deletes,
            }),
        })
    }

    /// The next batch of `sub` (waiting for the first message only, at most `timeout`),
    /// as `(entries, taken, consumer_seq, stream_seq, marker_sent, stop)`, or `None`
    /// once the subscription has ended.
    ///
    /// `consumer_seq` is the consumer sequence expected next; `marker_sent` whether the
    /// `None` that ends the initial values has gone out (else it is put among the entries
    /// after the first delivery with nothing pending). The batch stops at a control
    /// message, which is `stop` (the rest waits for the next call), or at a gap in the
    /// consumer sequences, where `stop` is `True` (the rest is the lost consumer's and
    /// is dropped). `taken` counts the data messages read, `consumer_seq` is the one
    /// expected next, `stream_seq` the last one read (0: none).
    #[pyo3(
        signature = (sub, consumer_seq, marker_sent, max = None, timeout = None),
        text_signature = "($self, sub, consumer_seq, marker_sent, max=1024, timeout=None)"
    )]
    fn take(
        &self,
        sub: &Bound<'_, PySubscriber>,
        consumer_seq: u64,
        marker_sent: bool,
        max: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (max, timeout) = extract_batch_limits(max, timeout)?;
        let reading = Reading {
            shape: self.shape.clone(),
            consumer_seq,
            marker_sent,
        };
        sub.get()
            .converted(sub.py(), max, Box::new(reading), timeout)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<natsrs.KvWatchReader {}>", self.shape.bucket.bind(py))
    }
}

/// One `take`: the reader's shape and where its consumer's sequence stood.
struct Reading {
    shape: Arc<Shape>,
    consumer_seq: u64,
    marker_sent: bool,
}

impl Convert for Reading {
    fn convert(
        self: Box<Self>,
        py: Python<'_>,
        msgs: &mut std::vec::IntoIter<async_nats::Message>,
        client: &Arc<ClientInner>,
    ) -> PyResult<Py<PyAny>> {
        if msgs.len() == 0 {
            return Ok(py.None());
        }
        let shape = &*self.shape;
        let make = Maker {
            py,
            shape,
            class: shape.entry_class.bind(py),
            new: shape.new.bind(py),
            bucket: shape.bucket.bind(py),
        };
        let entries = PyList::empty(py);
        let (mut consumer_seq, mut marker_sent) = (self.consumer_seq, self.marker_sent);
        let (mut stream_seq, mut taken) = (0u64, 0usize);
        let mut stop = py.None();
        while let Some(msg) = msgs.next() {
            if msg.status.is_some() {
                let client = client.clone();
                stop = Reply { msg, client }.to_py(py)?;
                break;
            }
            let Some(delivery) = msg.reply.as_deref().and_then(parse_ack) else {
                // Not a stream message: nothing a bucket holds.
                taken += 1;
                continue;
            };
            if delivery.consumer_seq != consumer_seq {
                msgs.for_each(drop);
                stop = true.into_pyobject(py)?.to_owned().into_any().unbind();
                break;
            }
            taken += 1;
            consumer_seq += 1;
            stream_seq = delivery.stream_seq;
            let op = operation(msg.headers.as_ref());
            let deleted = matches!(op, Operation::Delete | Operation::Purge);
            if !(op == Operation::Unknown || (deleted && shape.ignore_deletes)) {
                entries.append(make.entry(&msg, &delivery, op)?)?;
            }
            if delivery.pending == 0 && !marker_sent {
                entries.append(py.None())?;
                marker_sent = true;
            }
        }
        let result = (entries, taken, consumer_seq, stream_seq, marker_sent, stop);
        Ok(result.into_pyobject(py)?.into_any().unbind())
    }
}

/// What making one entry needs, bound once per batch.
struct Maker<'a, 'py> {
    py: Python<'py>,
    shape: &'a Shape,
    class: &'a Bound<'py, PyType>,
    new: &'a Bound<'py, PyAny>,
    bucket: &'a Bound<'py, PyString>,
}

impl<'py> Maker<'_, 'py> {
    fn entry(
        &self,
        msg: &async_nats::Message,
        delivery: &Delivery,
        op: Operation<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let subject = msg.subject.as_str();
        let key = subject.strip_prefix(&self.shape.prefix).unwrap_or(subject);
        let operation = match op {
            Operation::Delete => pyo3::intern!(py, "DEL").clone().into_any(),
            Operation::Purge => pyo3::intern!(py, "PURGE").clone().into_any(),
            Operation::Other(name) => PyString::new(py, name).into_any(),
            Operation::Put | Operation::Unknown => py.None().into_bound(py),
        };
        let entry = self.new.call1((self.class,))?;
        entry.setattr(pyo3::intern!(py, "bucket"), self.bucket)?;
        entry.setattr(pyo3::intern!(py, "key"), key)?;
        entry.setattr(pyo3::intern!(py, "value"), PyBytes::new(py, &msg.payload))?;
        entry.setattr(pyo3::intern!(py, "revision"), delivery.stream_seq)?;
        entry.setattr(pyo3::intern!(py, "delta"), delivery.pending)?;
        entry.setattr(pyo3::intern!(py, "_stamp"), delivery.stamp)?;
        entry.setattr(pyo3::intern!(py, "operation"), operation)?;
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_subjects_in_both_forms() {
        let expected = Delivery {
            stream_seq: 12,
            consumer_seq: 3,
            stamp: 1_700_000_000_000_000_000,
            pending: 7,
        };
        let v1 = "$JS.ACK.KV_b.c.1.12.3.1700000000000000000.7";
        assert_eq!(parse_ack(v1), Some(expected));
        let v2 = "$JS.ACK._.ACCHASH.KV_b.c.1.12.3.1700000000000000000.0.rand";
        assert_eq!(
            parse_ack(v2).map(|d| (d.stream_seq, d.pending)),
            Some((12, 0))
        );
        let v2_short = "$JS.ACK.hub.ACCHASH.KV_b.c.1.12.3.1700000000000000000.0";
        assert_eq!(parse_ack(v2_short).map(|d| d.consumer_seq), Some(3));
    }

    #[test]
    fn other_subjects_are_not_deliveries() {
        for reply in [
            "",
            "_INBOX.abc",
            "$JS.ACK.KV_b.c.1.12.3.1700000000000000000",
            "$JS.ACK.x.KV_b.c.1.12.3.1700000000000000000.7",
            "$JS.ACK.KV_b.c.1.twelve.3.1700000000000000000.7",
            "$JS.NAK.KV_b.c.1.12.3.1700000000000000000.7",
        ] {
            assert_eq!(parse_ack(reply), None, "{reply}");
        }
    }

    #[test]
    fn operations_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(operation(None), Operation::Put);
        assert_eq!(operation(Some(&headers)), Operation::Put);
        headers.insert("KV-Operation", "DEL");
        assert_eq!(operation(Some(&headers)), Operation::Delete);
        headers.insert("KV-Operation", "PURGE");
        assert_eq!(operation(Some(&headers)), Operation::Purge);
        headers.insert("KV-Operation", "PUT");
        assert_eq!(operation(Some(&headers)), Operation::Other("PUT"));
        let mut marker = HeaderMap::new();
        marker.insert("Nats-Marker-Reason", "MaxAge");
        assert_eq!(operation(Some(&marker)), Operation::Purge);
        marker.insert("Nats-Marker-Reason", "Remove");
        assert_eq!(operation(Some(&marker)), Operation::Delete);
        marker.insert("Nats-Marker-Reason", "Later");
        assert_eq!(operation(Some(&marker)), Operation::Unknown);
    }
}
