//! `natsrs.HeaderMap`: multi-valued, order- and case-preserving headers.
//!
//! The engine's `HeaderMap` is a `HashMap`, so it forgets the order of names, and its
//! `insert`/`append` panic on invalid input. natsrs keeps its own ordered list, validates
//! every name and value through the engine's fallible parsers (raising `BadHeaderError`),
//! and converts to the engine type only when a message is sent. The order of values of
//! one name survives the wire; the order of different names does not, because the
//! engine serializes from its hash map.

use std::str::FromStr;

use async_nats::header::{HeaderName, HeaderValue};
use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyMapping, PyString};

use crate::error::{Error, Kind};

/// `natsrs._headers.Headers`, the `dict` subclass received headers come as.
fn headers_class(py: Python<'_>) -> PyResult<&Bound<'_, pyo3::types::PyType>> {
    Ok(crate::pynames::HEADERS
        .get(py)?
        .cast::<pyo3::types::PyType>()?)
}

#[pyclass(name = "HeaderMap", module = "natsrs", mapping, skip_from_py_object)]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PyHeaderMap {
    /// Names in first-insertion order, each with its values in order.
    entries: Vec<(String, Vec<String>)>,
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || HeaderName::from_str(name).is_err() {
        return Err(Error::new(
            Kind::BadHeader,
            format!("invalid header name {name:?}: it must be printable ASCII without ':'"),
        ));
    }
    Ok(())
}

/// CR/LF would break the framing; leading or trailing blanks would not survive it (the
/// wire format trims them), so they are refused rather than silently changed.
fn check_value(value: &str) -> Result<(), Error> {
    if HeaderValue::from_str(value).is_err() {
        return Err(Error::new(
            Kind::BadHeader,
            "invalid header value: it must not contain CR or LF",
        ));
    }
    // The engine's parser trims Unicode whitespace (`str::trim`), not only blanks.
    if value.trim() != value {
        return Err(Error::new(
            Kind::BadHeader,
            "invalid header value: leading or trailing whitespace is trimmed on the wire",
        ));
    }
    Ok(())
}

impl PyHeaderMap {
    fn position(&self, name: &str) -> Option<usize> {
        self.entries.iter().position(|(n, _)| n == name)
    }

    pub(crate) fn push(&mut self, name: String, value: String) -> Result<(), Error> {
        check_name(&name)?;
        check_value(&value)?;
        match self.position(&name) {
            Some(i) => self.entries[i].1.push(value),
            None => self.entries.push((name, vec![value])),
        }
        Ok(())
    }

    /// Size on the wire ("NATS/1.0\r\n", a "name: value\r\n" line per value, "\r\n"),
    /// which counts against the server's `max_payload`; an empty map sends none.
    pub(crate) fn wire_len(&self) -> usize {
        if self.entries.is_empty() {
            return 0;
        }
        let lines: usize = self
            .entries
            .iter()
            .map(|(name, values)| {
                values
                    .iter()
                    .map(|v| name.len() + v.len() + 4)
                    .sum::<usize>()
            })
            .sum();
        "NATS/1.0\r\n\r\n".len() + lines
    }

    /// The engine's header map; every entry was validated when it was added.
    pub(crate) fn to_engine(&self) -> async_nats::HeaderMap {
        let mut map = async_nats::HeaderMap::new();
        for (name, values) in &self.entries {
            let Ok(name) = HeaderName::from_str(name) else {
                continue;
            };
            for value in values {
                if let Ok(value) = HeaderValue::from_str(value) {
                    map.append(name.clone(), value);
                }
            }
        }
        map
    }

    pub(crate) fn from_engine(map: &async_nats::HeaderMap) -> Self {
        let entries = map
            .iter()
            .map(|(name, values)| {
                (
                    name.to_string(),
                    values.iter().map(|v| v.as_str().to_owned()).collect(),
                )
            })
            .collect();
        PyHeaderMap { entries }
    }

    /// A received message's headers as Python sees them: a `natsrs.Headers` dict.
    pub(crate) fn to_headers(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let from_entries = headers_class(py)?.getattr(pyo3::intern!(py, "_from_entries"))?;
        Ok(from_entries.call1((self.entries.clone(),))?.unbind())
    }

    /// Accepts a `HeaderMap` or a mapping of `str` to `str` or a sequence of `str`.
    pub(crate) fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(map) = obj.cast::<PyHeaderMap>() {
            return Ok(map.borrow().clone());
        }
        let mut headers = PyHeaderMap::default();
        let py = obj.py();
        let items = if obj.is_instance(headers_class(py)?)? {
            // Every value of a repeated name, not only the dict's first.
            obj.call_method0(pyo3::intern!(py, "to_dict"))?
                .cast_into::<PyDict>()?
                .items()
        } else if let Ok(dict) = obj.cast::<PyDict>() {
            dict.items()
        } else if let Ok(mapping) = obj.cast::<PyMapping>() {
            mapping.items()?
        } else {
            return Err(PyTypeError::new_err(
                "headers must be a natsrs.HeaderMap or a mapping of str to str or list of str",
            ));
        };
        for item in items.iter() {
            let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let name: String = name
                .extract()
                .map_err(|_| PyTypeError::new_err("header names must be str"))?;
            if let Ok(value) = value.cast::<PyString>() {
                headers.push(name, value.to_cow()?.into_owned())?;
            } else if value.is_instance_of::<PyList>()
                || value.is_instance_of::<pyo3::types::PyTuple>()
            {
                for v in value.try_iter()? {
                    let v: String = v?
                        .extract()
                        .map_err(|_| PyTypeError::new_err("header values must be str"))?;
                    headers.push(name.clone(), v)?;
                }
            } else {
                return Err(PyTypeError::new_err(
                    "header values must be str or a list of str",
                ));
            }
        }
        Ok(headers)
    }
}

#[pymethods]
impl PyHeaderMap {
    #[new]
    #[pyo3(signature = (headers = None))]
    fn new(headers: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        match headers {
            None => Ok(PyHeaderMap::default()),
            Some(h) => PyHeaderMap::from_py(h),
        }
    }

    #[pyo3(signature = (name, default = None))]
    fn get(&self, name: &str, default: Option<String>) -> Option<String> {
        self.position(name)
            .and_then(|i| self.entries[i].1.first().cloned())
            .or(default)
    }

    fn get_all(&self, name: &str) -> Vec<String> {
        self.position(name)
            .map(|i| self.entries[i].1.clone())
            .unwrap_or_default()
    }

    fn insert(&mut self, name: String, value: String) -> PyResult<()> {
        check_name(&name)?;
        check_value(&value)?;
        match self.position(&name) {
            Some(i) => self.entries[i].1 = vec![value],
            None => self.entries.push((name, vec![value])),
        }
        Ok(())
    }

    fn append(&mut self, name: String, value: String) -> PyResult<()> {
        Ok(self.push(name, value)?)
    }

    fn keys(&self) -> Vec<String> {
        self.entries.iter().map(|(n, _)| n.clone()).collect()
    }

    fn values(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|(_, v)| v.first().cloned())
            .collect()
    }

    fn items(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .flat_map(|(n, vs)| vs.iter().map(move |v| (n.clone(), v.clone())))
            .collect()
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, values) in &self.entries {
            dict.set_item(name, values)?;
        }
        Ok(dict)
    }

    fn __getitem__(&self, name: &str) -> PyResult<String> {
        self.get(name, None)
            .ok_or_else(|| PyKeyError::new_err(name.to_owned()))
    }

    fn __setitem__(&mut self, name: String, value: String) -> PyResult<()> {
        self.insert(name, value)
    }

    fn __delitem__(&mut self, name: &str) -> PyResult<()> {
        match self.position(name) {
            Some(i) => {
                self.entries.remove(i);
                Ok(())
            }
            None => Err(PyKeyError::new_err(name.to_owned())),
        }
    }

    fn __contains__(&self, name: &Bound<'_, PyAny>) -> bool {
        name.extract::<String>()
            .map(|n| self.position(&n).is_some())
            .unwrap_or(false)
    }

    /// Equal to another `HeaderMap` with the same entries, or to a mapping that would
    /// build one (`{"K": "v"}` as nats-py's headers dict, or `{"K": ["v", "w"]}`).
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        PyHeaderMap::from_py(other).is_ok_and(|other| {
            other.entries.len() == self.entries.len()
                && other.entries.iter().all(|(name, values)| {
                    self.position(name)
                        .is_some_and(|i| self.entries[i].1 == *values)
                })
        })
    }

    fn __len__(&self) -> usize {
        self.entries.len()
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let keys = PyList::new(py, self.keys())?;
        Ok(keys.try_iter()?.into_any().unbind())
    }

    fn __repr__(&self) -> String {
        let body: Vec<String> = self
            .entries
            .iter()
            .map(|(n, vs)| format!("{n:?}: {vs:?}"))
            .collect();
        format!("HeaderMap({{{}}})", body.join(", "))
    }
}
