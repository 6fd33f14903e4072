//! The HTTPS client for `--server` commands: mutual TLS with the
//! credentials folder (client.pem, client.key, ca.pem), problem documents
//! turned into messages that name the rule, field and value.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::CliError;

/// A problem document from the server.
#[derive(Debug, Deserialize)]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// Rule id.
    pub rule: String,
    /// What is wrong.
    pub detail: String,
    /// Field, if any.
    pub field: Option<String>,
    /// Value, if any.
    pub value: Option<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refused ({} {}): {}",
            self.status, self.rule, self.detail
        )?;
        if let Some(field) = &self.field {
            write!(f, " [field {field}")?;
            match &self.value {
                Some(v) if !v.is_empty() => write!(f, " = {v:?}]"),
                _ => write!(f, "]"),
            }?;
        }
        Ok(())
    }
}

/// A connection to the CA server.
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
}

fn input(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Input(format!("{}: {e}", path.display()))
}

impl Client {
    /// Connects to `server` (https://host:port) with the credentials in `dir`.
    pub fn new(server: &str, dir: &Path) -> Result<Self, CliError> {
        if !server.starts_with("https://") {
            return Err(CliError::Input(format!(
                "--server {server:?}: the API is served over https://"
            )));
        }
        let cert_path = dir.join("client.pem");
        let key_path = dir.join("client.key");
        let ca_path = dir.join("ca.pem");
        let chain = CertificateDer::pem_file_iter(&cert_path)
            .map_err(|e| input(&cert_path, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| input(&cert_path, e))?;
        let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| input(&key_path, e))?;
        let mut roots = rustls::RootCertStore::empty();
        for anchor in CertificateDer::pem_file_iter(&ca_path).map_err(|e| input(&ca_path, e))? {
            roots
                .add(anchor.map_err(|e| input(&ca_path, e))?)
                .map_err(|e| input(&ca_path, e))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| CliError::Input(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| input(&cert_path, e))?;
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let http = reqwest::blocking::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| CliError::Input(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: server.trim_end_matches('/').to_owned(),
        })
    }

    /// A client of the public endpoints (`http://host:port`): no credentials.
    pub fn public(server: &str) -> Result<Self, CliError> {
        if !server.starts_with("http://") {
            return Err(CliError::Input(format!(
                "--server {server:?}: the public endpoints are served over http://"
            )));
        }
        // reqwest wants a TLS provider even for plain HTTP; ring, as for
        // the API. Installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| CliError::Input(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: server.trim_end_matches('/').to_owned(),
        })
    }

    /// Whether this client talks to the mutual-TLS API.
    pub fn is_api(&self) -> bool {
        self.base.starts_with("https://")
    }

    fn finish<R: DeserializeOwned>(
        &self,
        response: reqwest::Result<reqwest::blocking::Response>,
    ) -> Result<R, CliError> {
        let response = response.map_err(|e| {
            CliError::Refused(format!("cannot reach the CA server at {}: {e}", self.base))
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .map_err(|e| CliError::Refused(format!("reading the answer of {}: {e}", self.base)))?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|e| {
                CliError::Refused(format!("unexpected answer from {}: {e}", self.base))
            })
        } else {
            let message = match serde_json::from_slice::<Problem>(&bytes) {
                Ok(p) => p.to_string(),
                Err(_) => format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)),
            };
            // The request itself was unusable: exit 2, like any bad input.
            if matches!(status.as_u16(), 400 | 413 | 415) {
                Err(CliError::Input(message))
            } else {
                Err(CliError::Refused(message))
            }
        }
    }

    /// POSTs JSON to `path`.
    pub fn post_json<R: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<R, CliError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send();
        self.finish(response)
    }

    /// GETs JSON from `path`.
    pub fn get_json<R: DeserializeOwned>(&self, path: &str) -> Result<R, CliError> {
        let response = self.http.get(format!("{}{path}", self.base)).send();
        self.finish(response)
    }

    /// POSTs a CSR (PEM or DER) to `path`.
    pub fn post_csr<R: DeserializeOwned>(&self, path: &str, csr: Vec<u8>) -> Result<R, CliError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/pkcs10")
            .body(csr)
            .send();
        self.finish(response)
    }
}
