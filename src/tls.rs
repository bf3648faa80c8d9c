//! `natsrs.TlsConfig` and `ssl.SSLContext` support: a rustls `ClientConfig` built in
//! Rust from what Python can describe (rustls' config cannot cross into Python).
//!
//! Verification is on unless turned off by name (`danger_accept_invalid_certs`, or an
//! `SSLContext` with `verify_mode=CERT_NONE`). A server-name override verifies the
//! certificate against that name instead of the URL's host; an `SSLContext` with
//! `check_hostname=False` verifies the chain but not the name. An `SSLContext`'s client
//! certificate and key come from `natsrs._ssl_context`, which reads them out of its
//! OpenSSL context where the interpreter allows it.

use std::path::PathBuf;
use std::sync::Arc;

use async_nats::rustls;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PySlice, PyString, PyTuple};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::pynames::SSL_CONTEXT_IDENTITY;

fn provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "aws-lc-rs"))]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

/// How the server's certificate is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verify {
    /// Chain and name (the default).
    Full,
    /// Chain only (`SSLContext.check_hostname = False`).
    ChainOnly,
    /// Nothing: development only.
    Nothing,
}

#[derive(Debug)]
struct Verifier {
    inner: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
    override_name: Option<ServerName<'static>>,
    chain_only: bool,
    accept_anything: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.accept_anything {
            return Ok(ServerCertVerified::assertion());
        }
        let name = self.override_name.as_ref().unwrap_or(server_name);
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.chain_only => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A PEM source: a file path or the PEM text itself.
enum Pem {
    Path(PathBuf),
    Data(Vec<u8>),
}

impl Pem {
    fn extract(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Self> {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return Ok(Pem::Data(bytes.as_bytes().to_vec()));
        }
        if let Ok(text) = obj.cast::<PyString>() {
            let text = text.to_cow()?;
            if text.contains("-----BEGIN") {
                return Ok(Pem::Data(text.as_bytes().to_vec()));
            }
        }
        obj.extract::<PathBuf>()
            .map(Pem::Path)
            .map_err(|_| PyTypeError::new_err(format!("{what} must be a path or PEM bytes")))
    }

    fn read(&self, what: &str) -> PyResult<Vec<u8>> {
        match self {
            Pem::Data(data) => Ok(data.clone()),
            Pem::Path(path) => std::fs::read(path)
                .map_err(|err| value_error(format!("{what} file {}: {err}", path.display()))),
        }
    }
}

fn certificates(data: &[u8], what: &str) -> PyResult<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| value_error(format!("{what}: invalid PEM: {err}")))?;
    if certs.is_empty() {
        return Err(value_error(format!("{what}: no certificate found")));
    }
    Ok(certs)
}

fn native_roots(store: &mut RootCertStore) {
    let found = rustls_native_certs::load_native_certs();
    store.add_parsable_certificates(found.certs);
}

/// The pieces of a client TLS configuration, before they become a rustls config.
#[derive(Default)]
struct Spec {
    /// DER CA certificates; none means the platform's trust store.
    roots: Vec<CertificateDer<'static>>,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    server_name: Option<ServerName<'static>>,
    verify: Option<Verify>,
}

impl Clone for Spec {
    fn clone(&self) -> Self {
        Spec {
            roots: self.roots.clone(),
            client: self
                .client
                .as_ref()
                .map(|(chain, key)| (chain.clone(), key.clone_key())),
            server_name: self.server_name.clone(),
            verify: self.verify,
        }
    }
}

impl Spec {
    fn build(self) -> PyResult<ClientConfig> {
        let provider = provider();
        let mut store = RootCertStore::empty();
        if self.roots.is_empty() {
            native_roots(&mut store);
        } else {
            for cert in self.roots {
                store
                    .add(cert)
                    .map_err(|err| value_error(format!("cannot use CA certificate: {err}")))?;
            }
        }
        let verify = self.verify.unwrap_or(Verify::Full);
        // An empty store cannot build a verifier; with nothing trusted, nothing verifies.
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
            .build()
            .map_err(|err| value_error(format!("cannot build the certificate verifier: {err}")))?;
        let verifier = Verifier {
            inner,
            provider: provider.clone(),
            override_name: self.server_name,
            chain_only: verify == Verify::ChainOnly,
            accept_anything: verify == Verify::Nothing,
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| value_error(format!("TLS configuration: {err}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        match self.client {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|err| value_error(format!("client certificate and key: {err}"))),
            None => Ok(builder.with_no_client_auth()),
        }
    }
}

/// A checked client TLS configuration, turned into rustls' per connect.
#[derive(Clone)]
pub(crate) struct Tls {
    spec: Arc<Spec>,
    pub(crate) describe: String,
    /// Built from an `ssl.SSLContext` without a client certificate: what a handshake
    /// failure for want of one adds to its message.
    pub(crate) missing_certificate_hint: Option<&'static str>,
}

impl Tls {
    fn new(
        spec: Spec,
        describe: String,
        missing_certificate_hint: Option<&'static str>,
    ) -> PyResult<Self> {
        // Build once now so that every mistake surfaces where the option is set.
        spec.clone().build()?;
        Ok(Tls {
            spec: Arc::new(spec),
            describe,
            missing_certificate_hint,
        })
    }

    /// The rustls configuration; a certificate given with `add_client_certificate`
    /// completes one that has none.
    pub(crate) fn client_config(
        &self,
        client_certificate: Option<&(PathBuf, PathBuf)>,
    ) -> PyResult<ClientConfig> {
        let mut spec = (*self.spec).clone();
        if let (None, Some((cert, key))) = (&spec.client, client_certificate) {
            let chain = certificates(
                &Pem::Path(cert.clone()).read("client certificate")?,
                "client certificate",
            )?;
            let key = PrivateKeyDer::from_pem_slice(&Pem::Path(key.clone()).read("client key")?)
                .map_err(|_| value_error("client key: no PEM private key found"))?;
            spec.client = Some((chain, key));
        }
        spec.build()
    }

    pub(crate) fn has_client_certificate(&self) -> bool {
        self.spec.client.is_some()
    }
}

#[pyclass(name = "TlsConfig", module = "natsrs", frozen)]
pub(crate) struct PyTlsConfig {
    pub(crate) tls: Tls,
}

#[pymethods]
impl PyTlsConfig {
    #[new]
    #[pyo3(signature = (*, ca = None, cert = None, key = None, server_name = None, danger_accept_invalid_certs = false))]
    fn new(
        ca: Option<&Bound<'_, PyAny>>,
        cert: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        server_name: Option<String>,
        danger_accept_invalid_certs: bool,
    ) -> PyResult<Self> {
        let mut spec = Spec::default();
        let mut describe = Vec::new();
        if let Some(ca) = ca.filter(|c| !c.is_none()) {
            let sources: Vec<Bound<'_, PyAny>> =
                if ca.is_instance_of::<PyList>() || ca.is_instance_of::<PyTuple>() {
                    ca.try_iter()?.collect::<PyResult<_>>()?
                } else {
                    vec![ca.clone()]
                };
            for source in &sources {
                let data = Pem::extract(source, "ca")?.read("ca")?;
                spec.roots.extend(certificates(&data, "ca")?);
            }
            describe.push(format!("ca=<{} certificate(s)>", spec.roots.len()));
        }
        match (cert, key) {
            (Some(cert), Some(key)) => {
                let chain = certificates(&Pem::extract(cert, "cert")?.read("cert")?, "cert")?;
                let key_data = Pem::extract(key, "key")?.read("key")?;
                let key = PrivateKeyDer::from_pem_slice(&key_data)
                    .map_err(|_| value_error("key: no PEM private key found"))?;
                spec.client = Some((chain, key));
                describe.push("cert=<set>, key=<set>".to_owned());
            }
            (None, None) => {}
            _ => {
                return Err(value_error(
                    "cert and key go together: give both or neither",
                ))
            }
        }
        if let Some(name) = server_name {
            spec.server_name = Some(parse_server_name(name.clone())?);
            describe.push(format!("server_name={name:?}"));
        }
        if danger_accept_invalid_certs {
            spec.verify = Some(Verify::Nothing);
            describe.push("danger_accept_invalid_certs=True".to_owned());
        }
        Ok(PyTlsConfig {
            tls: Tls::new(spec, format!("TlsConfig({})", describe.join(", ")), None)?,
        })
    }

    /// What natsrs makes of an `ssl.SSLContext`, verified against `server_name` (if
    /// given) instead of the URL's host.
    #[staticmethod]
    #[pyo3(signature = (context, *, server_name = None))]
    fn from_ssl_context(context: &Bound<'_, PyAny>, server_name: Option<String>) -> PyResult<Self> {
        Ok(PyTlsConfig {
            tls: ssl_context(context, server_name)?,
        })
    }

    fn __repr__(&self) -> String {
        self.tls.describe.clone()
    }
}

/// `TlsConfig` or `ssl.SSLContext` → a rustls configuration.
pub(crate) fn extract_tls(obj: &Bound<'_, PyAny>) -> PyResult<Tls> {
    if let Ok(config) = obj.cast::<PyTlsConfig>() {
        return Ok(config.get().tls.clone());
    }
    ssl_context(obj, None)
}

fn parse_server_name(name: String) -> PyResult<ServerName<'static>> {
    ServerName::try_from(name.clone())
        .map_err(|_| value_error(format!("invalid server name {name:?}")))
}

fn ssl_context(obj: &Bound<'_, PyAny>, name: Option<String>) -> PyResult<Tls> {
    let py = obj.py();
    let ssl_context = py.import("ssl")?.getattr("SSLContext")?;
    if !obj.is_instance(&ssl_context)? {
        return Err(PyTypeError::new_err(
            "tls must be a natsrs.TlsConfig or an ssl.SSLContext",
        ));
    }
    let cert_none = py.import("ssl")?.getattr("CERT_NONE")?;
    let verify_none = obj.getattr("verify_mode")?.eq(cert_none)?;
    let check_hostname: bool = obj.getattr("check_hostname")?.extract()?;
    let mut spec = Spec {
        verify: Some(if verify_none {
            Verify::Nothing
        } else if check_hostname {
            Verify::Full
        } else {
            Verify::ChainOnly
        }),
        ..Spec::default()
    };
    // Only CAs loaded from a file or data can be read back; a context that relies on
    // the default paths reads back nothing and gets the platform's store instead.
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("binary_form", true)?;
    let cas = obj.call_method("get_ca_certs", (), Some(&kwargs))?;
    for der in cas.try_iter()? {
        let der = der?;
        let der = der.cast::<PyBytes>()?;
        spec.roots
            .push(CertificateDer::from(der.as_bytes().to_vec()));
    }
    let mut describe = format!(
        "ssl.SSLContext(ca=<{} certificate(s)>, verify={}, check_hostname={}",
        spec.roots.len(),
        if verify_none { "none" } else { "required" },
        if check_hostname { "True" } else { "False" },
    );
    let missing_certificate_hint = match client_identity(obj)? {
        ContextIdentity::Present(chain, key) => {
            describe.push_str(&format!(
                ", cert=<{} certificate(s)>, key=<set>",
                chain.len()
            ));
            spec.client = Some((chain, key));
            None
        }
        ContextIdentity::Absent => Some(SSL_CONTEXT_NO_CLIENT_CERT_HINT),
        ContextIdentity::Unreadable => {
            describe.push_str(", cert=<unreadable>");
            Some(SSL_CONTEXT_CLIENT_CERT_HINT)
        }
    };
    if let Some(name) = name {
        spec.server_name = Some(parse_server_name(name.clone())?);
        describe.push_str(&format!(", server_name={name:?}"));
    }
    describe.push(')');
    Tls::new(spec, describe, missing_certificate_hint)
}

/// The client certificate an `SSLContext` holds, as far as it can be read.
enum ContextIdentity {
    Present(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    Absent,
    Unreadable,
}

fn client_identity(context: &Bound<'_, PyAny>) -> PyResult<ContextIdentity> {
    let found = SSL_CONTEXT_IDENTITY.get(context.py())?.call1((context,))?;
    if found.is_none() {
        return Ok(ContextIdentity::Unreadable);
    }
    let (chain, key): (Vec<Bound<'_, PyBytes>>, Option<Bound<'_, PyByteArray>>) =
        found.extract()?;
    let Some(key) = key else {
        return Ok(ContextIdentity::Absent);
    };
    let der = key.to_vec();
    // Same-length slice assignment overwrites the bytearray in place: the key is then
    // left only in the rustls configuration.
    let zeros = PyBytes::new(context.py(), &vec![0; der.len()]);
    key.set_item(PySlice::full(context.py()), zeros)?;
    let chain = chain
        .iter()
        .map(|cert| CertificateDer::from(cert.as_bytes().to_vec()))
        .collect();
    Ok(ContextIdentity::Present(
        chain,
        PrivateKeyDer::Pkcs8(der.into()),
    ))
}

/// The hint an mTLS failure gets when an `SSLContext`'s certificate could not be read.
const SSL_CONTEXT_CLIENT_CERT_HINT: &str =
    "an ssl.SSLContext's client certificate and key cannot be read out of it on this \
     interpreter: pass them with ConnectOptions.add_client_certificate(cert_path, key_path) \
     or natsrs.TlsConfig(cert=..., key=...)";

/// The hint an mTLS failure gets when the `SSLContext` holds no client certificate.
const SSL_CONTEXT_NO_CLIENT_CERT_HINT: &str =
    "the ssl.SSLContext holds no client certificate: load one with \
     load_cert_chain(certfile, keyfile), or pass ConnectOptions.add_client_certificate(\
     cert_path, key_path)";
