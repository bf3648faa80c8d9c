//! The server pool's values as Python sees them: `natsrs.Server` and
//! `natsrs.ServerInfo`.

use pyo3::prelude::*;

use crate::args::redact_url;

#[pyclass(name = "Server", module = "natsrs", frozen, get_all)]
pub(crate) struct PyServer {
    /// The URL, with any credentials replaced by `***`.
    addr: String,
    failed_attempts: usize,
    did_connect: bool,
    is_discovered: bool,
    last_error: Option<String>,
}

impl From<&async_nats::Server> for PyServer {
    fn from(s: &async_nats::Server) -> Self {
        PyServer {
            addr: redact_url(s.addr.as_url_str()),
            failed_attempts: s.failed_attempts,
            did_connect: s.did_connect,
            is_discovered: s.is_discovered,
            last_error: s.last_error.clone(),
        }
    }
}

#[pymethods]
impl PyServer {
    fn __repr__(&self) -> String {
        format!(
            "Server(addr={:?}, failed_attempts={}, did_connect={}, is_discovered={}, last_error={:?})",
            self.addr, self.failed_attempts, self.did_connect, self.is_discovered, self.last_error
        )
    }
}

#[pyclass(name = "ServerInfo", module = "natsrs", frozen, get_all)]
pub(crate) struct PyServerInfo {
    server_id: String,
    server_name: String,
    host: String,
    port: u16,
    version: String,
    auth_required: bool,
    tls_required: bool,
    max_payload: usize,
    proto: i8,
    client_id: u64,
    go: String,
    nonce: String,
    connect_urls: Vec<String>,
    client_ip: String,
    headers: bool,
    lame_duck_mode: bool,
    cluster: Option<String>,
    domain: Option<String>,
    jetstream: bool,
}

#[pymethods]
impl PyServerInfo {
    fn __repr__(&self) -> String {
        format!(
            "ServerInfo(server_id={:?}, server_name={:?}, host={:?}, port={}, version={:?}, \
             max_payload={}, client_id={})",
            self.server_id,
            self.server_name,
            self.host,
            self.port,
            self.version,
            self.max_payload,
            self.client_id
        )
    }
}

impl From<async_nats::ServerInfo> for PyServerInfo {
    fn from(i: async_nats::ServerInfo) -> Self {
        PyServerInfo {
            server_id: i.server_id,
            server_name: i.server_name,
            host: i.host,
            port: i.port,
            version: i.version,
            auth_required: i.auth_required,
            tls_required: i.tls_required,
            max_payload: i.max_payload,
            proto: i.proto,
            client_id: i.client_id,
            go: i.go,
            nonce: i.nonce,
            connect_urls: i.connect_urls,
            client_ip: i.client_ip,
            headers: i.headers,
            lame_duck_mode: i.lame_duck_mode,
            cluster: i.cluster,
            domain: i.domain,
            jetstream: i.jetstream,
        }
    }
}
