//! NATS nkeys (ed25519 keys with typed, checksummed encodings) for Python: enough to
//! sign a server nonce in an auth callback and to issue test credentials.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

fn pair(seed: &str) -> PyResult<nkeys::KeyPair> {
    nkeys::KeyPair::from_seed(seed.trim()).map_err(|_| PyValueError::new_err("malformed nkey seed"))
}

/// A new key pair of `kind` ("user", "account", "operator", "server", "cluster"):
/// `(seed, public_key)`.
#[pyfunction]
pub(crate) fn _nkeys_create(kind: &str) -> PyResult<(String, String)> {
    let kind = match kind {
        "user" => nkeys::KeyPairType::User,
        "account" => nkeys::KeyPairType::Account,
        "operator" => nkeys::KeyPairType::Operator,
        "server" => nkeys::KeyPairType::Server,
        "cluster" => nkeys::KeyPairType::Cluster,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown nkey kind {other:?}: expected user, account, operator, server or cluster"
            )))
        }
    };
    let pair = nkeys::KeyPair::new(kind);
    let seed = pair
        .seed()
        .map_err(|_| PyValueError::new_err("cannot encode the new seed"))?;
    Ok((seed, pair.public_key()))
}

/// The public key of a seed.
#[pyfunction]
pub(crate) fn _nkeys_public_key(seed: &str) -> PyResult<String> {
    Ok(pair(seed)?.public_key())
}

/// The ed25519 signature of `data` by the seed's key.
#[pyfunction]
pub(crate) fn _nkeys_sign<'py>(
    py: Python<'py>,
    seed: &str,
    data: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let signature = pair(seed)?
        .sign(data)
        .map_err(|_| PyValueError::new_err("signing failed"))?;
    Ok(PyBytes::new(py, &signature))
}
