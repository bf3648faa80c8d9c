//! `natsrs.PubAck`: a stream's answer to a JetStream publish, parsed from its JSON here
//! (unknown fields ignored, an `error` object made the typed API error) rather than in
//! Python.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::{ApiError, Error, Kind};
use crate::runtime::ToPy;

/// The server's answer to a JetStream publish (nats-py's `nats.js.api.PubAck`).
#[pyclass(
    name = "PubAck",
    module = "natsrs",
    frozen,
    eq,
    hash,
    skip_from_py_object
)]
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, serde::Deserialize)]
pub(crate) struct PyPubAck {
    /// The stream that stored the message.
    #[pyo3(get)]
    stream: String,
    /// Its sequence in the stream.
    #[pyo3(get)]
    seq: u64,
    /// The JetStream domain of the stream, when it has one.
    #[pyo3(get)]
    #[serde(default)]
    domain: Option<String>,
    /// `True` when the stream already had a message with this `Nats-Msg-Id`.
    #[pyo3(get)]
    #[serde(default)]
    duplicate: Option<bool>,
    /// An atomic batch's id (the server's `batch`).
    #[pyo3(get)]
    #[serde(default, rename = "batch")]
    batch_id: Option<String>,
    /// An atomic batch's size (the server's `count`).
    #[pyo3(get)]
    #[serde(default, rename = "count")]
    batch_size: Option<u64>,
    /// A counter stream's new value, as the server's decimal string.
    #[pyo3(get)]
    #[serde(default)]
    val: Option<String>,
}

#[pymethods]
impl PyPubAck {
    #[new]
    #[pyo3(signature = (stream, seq, domain = None, duplicate = None, batch_id = None, batch_size = None, val = None))]
    fn new(
        stream: String,
        seq: u64,
        domain: Option<String>,
        duplicate: Option<bool>,
        batch_id: Option<String>,
        batch_size: Option<u64>,
        val: Option<String>,
    ) -> Self {
        PyPubAck {
            stream,
            seq,
            domain,
            duplicate,
            batch_id,
            batch_size,
            val,
        }
    }

    /// The sequence under async-nats's name.
    #[getter]
    fn sequence(&self) -> u64 {
        self.seq
    }

    /// nats-py's constructor from a decoded server answer; unknown fields are ignored.
    #[classmethod]
    fn from_response(
        _cls: &Bound<'_, pyo3::types::PyType>,
        resp: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        let get = |names: &[&str]| -> PyResult<Option<Bound<'_, PyAny>>> {
            for name in names {
                if let Some(value) = resp.get_item(name)?.filter(|v| !v.is_none()) {
                    return Ok(Some(value));
                }
            }
            Ok(None)
        };
        let required = |name: &str| -> PyResult<Bound<'_, PyAny>> {
            get(&[name])?.ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(name.to_owned()))
        };
        Ok(PyPubAck {
            stream: required("stream")?.extract()?,
            seq: required("seq")?.extract()?,
            domain: get(&["domain"])?.map(|v| v.extract()).transpose()?,
            duplicate: get(&["duplicate"])?.map(|v| v.extract()).transpose()?,
            batch_id: get(&["batch_id", "batch"])?
                .map(|v| v.extract())
                .transpose()?,
            batch_size: get(&["batch_size", "count"])?
                .map(|v| v.extract())
                .transpose()?,
            val: get(&["val"])?.map(|v| v.extract()).transpose()?,
        })
    }

    /// A copy with the given fields replaced (nats-py's `evolve`).
    #[pyo3(signature = (**params))]
    fn evolve(slf: &Bound<'_, Self>, params: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let fields = slf.get().as_dict(slf.py(), true)?;
        if let Some(params) = params {
            fields.update(params.as_mapping())?;
        }
        let type_ = slf.get_type();
        Self::from_response(&type_, &fields)
    }

    /// The wire form nats-py's `as_dict` gives: unset fields left out, the batch fields
    /// under the server's names.
    #[pyo3(name = "as_dict")]
    fn py_as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.as_dict(py, false)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let fields = self.as_dict(py, true)?;
        let mut parts = Vec::new();
        for (name, value) in fields.iter() {
            parts.push(format!("{}={}", name, value.repr()?));
        }
        Ok(format!("PubAck({})", parts.join(", ")))
    }
}

impl PyPubAck {
    /// Every field by its Python name (`python_names`) or the set ones by the server's.
    fn as_dict<'py>(&self, py: Python<'py>, python_names: bool) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("stream", &self.stream)?;
        dict.set_item("seq", self.seq)?;
        let optional: [(&str, &str, Bound<'py, PyAny>); 5] = [
            (
                "domain",
                "domain",
                self.domain.as_deref().into_pyobject(py)?.into_any(),
            ),
            (
                "duplicate",
                "duplicate",
                self.duplicate.into_pyobject(py)?.into_any(),
            ),
            (
                "batch_id",
                "batch",
                self.batch_id.as_deref().into_pyobject(py)?.into_any(),
            ),
            (
                "batch_size",
                "count",
                self.batch_size.into_pyobject(py)?.into_any(),
            ),
            (
                "val",
                "val",
                self.val.as_deref().into_pyobject(py)?.into_any(),
            ),
        ];
        for (python_name, wire_name, value) in optional {
            if python_names {
                dict.set_item(python_name, value)?;
            } else if !value.is_none() {
                dict.set_item(wire_name, value)?;
            }
        }
        Ok(dict)
    }
}

impl ToPy for PyPubAck {
    fn to_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, self)?.into_any())
    }
}

/// The `PubAck` in a publish's reply, or the API error it carries.
pub(crate) fn pub_ack(payload: &[u8]) -> Result<PyPubAck, Error> {
    #[derive(serde::Deserialize)]
    struct Answer {
        error: Option<ApiError>,
        #[serde(flatten)]
        ack: Option<PyPubAck>,
    }
    let invalid = || Error::new(Kind::Other, "invalid JetStream publish answer");
    let answer: Answer = serde_json::from_slice(payload).map_err(|_| invalid())?;
    if let Some(err) = answer.error {
        return Err(Error::api(err));
    }
    answer.ack.ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pub_ack_reads_the_answer_and_ignores_unknown_fields() {
        let ack = pub_ack(br#"{"stream":"S","seq":7,"duplicate":true,"future":{"x":1}}"#)
            .expect("an ack");
        assert_eq!(
            (ack.stream.as_str(), ack.seq, ack.duplicate),
            ("S", 7, Some(true))
        );
        let batch = pub_ack(br#"{"stream":"S","seq":9,"batch":"b","count":3}"#).expect("an ack");
        assert_eq!(
            (batch.batch_id.as_deref(), batch.batch_size),
            (Some("b"), Some(3))
        );
    }

    #[test]
    fn pub_ack_gives_the_api_error_or_refuses_garbage() {
        let err = pub_ack(
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"}}"#,
        )
        .expect_err("an API error");
        let api = err.api.expect("the server's error");
        assert_eq!((api.code, api.err_code), (400, Some(10071)));
        for garbage in [&b"not json"[..], b"{}", br#"{"stream":"S"}"#, b"[]"] {
            let err = pub_ack(garbage).expect_err("refused");
            assert!(err.api.is_none() && err.kind == Kind::Other);
        }
    }
}
