//! The HTTPS client for `--server` commands: mutual TLS with the
//! credentials folder (client.pem, client.key, ca.pem), problem documents
//! turned into messages that name the rule, field and value.
//!
//! A server's answer is outside input, and the client bounds it
//! (decision 0025, README "Limits"):
//!
//! - no redirect is followed: a 3xx answer is an error naming where it
//!   pointed (a redirect from https to http would otherwise carry the CSR
//!   in the clear, and the public endpoints have no reason to redirect);
//! - [`CONNECT_TIMEOUT`] to connect, [`READ_TIMEOUT`] for the answer to
//!   start and for each read of its body, [`TOTAL_TIMEOUT`] for the whole
//!   exchange, body included;
//! - at most [`MAX_ANSWER_BYTES`] of a successful answer and
//!   [`MAX_PROBLEM_BYTES`] of a refusal are read; a longer one is an error,
//!   not buffered until memory runs out.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use robotid_verifier::input::FileKind;
use robotid_wire::ProblemDocument;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CliError;

/// Longest wait for a TCP and TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the answer to start, and for each read of its body.
/// A batch of 10,000 CSRs is answered in seconds (docs/benchmarks.md); two
/// minutes leaves a loaded server room.
pub const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest whole exchange, answer body included.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest successful answer read: a batch answer of 10,000 certificates
/// is about 25 MiB, a bulk status answer of 100,000 IDs about 15 MiB.
pub const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;
/// Largest refusal (problem document or error text) read.
pub const MAX_PROBLEM_BYTES: u64 = 1024 * 1024;

/// The client certificate and its chain, in a credentials folder.
pub const CLIENT_CERT: &str = "client.pem";
/// The client's private key, in a credentials folder.
pub const CLIENT_KEY: &str = "client.key";
/// The trust anchors (the CA's root), in a credentials folder.
pub const TRUST_ANCHORS: &str = "ca.pem";

/// Why no TLS client could be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A credential or trust-anchor file is missing, unreadable or unusable.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS: {0}")]
    Config(String),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
}

impl From<TlsError> for CliError {
    /// A credential that cannot be used is bad input: exit 2.
    fn from(e: TlsError) -> Self {
        CliError::Input(e.to_string())
    }
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// A credential or anchor file, bounded and regular (see `FileKind`).
fn read(kind: FileKind, path: &Path) -> Result<Vec<u8>, TlsError> {
    kind.read_io(path).map_err(|e| file_error(path, e))
}

/// The one TLS setup of every client of the CA's API (this CLI, the
/// end-to-end tests, the benchmarks): rustls with ring, trusting the
/// certificates in the PEM file `anchors`, and presenting the credential in
/// the folder `identity` (client.pem, client.key) when one is given. The
/// credential is read before the anchors, so a missing folder is reported
/// by its certificate's path. No ALPN is set: each caller picks its
/// protocols.
pub fn tls_config(
    anchors: &Path,
    identity: Option<&Path>,
) -> Result<rustls::ClientConfig, TlsError> {
    let credential = match identity {
        Some(dir) => {
            let cert_path = dir.join(CLIENT_CERT);
            let key_path = dir.join(CLIENT_KEY);
            let cert_pem = read(FileKind::Certificate, &cert_path)?;
            let chain = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_error(&cert_path, e))?;
            let key = PrivateKeyDer::from_pem_slice(&read(FileKind::Key, &key_path)?)
                .map_err(|e| file_error(&key_path, e))?;
            Some((cert_path, chain, key))
        }
        None => None,
    };
    let mut roots = rustls::RootCertStore::empty();
    let anchors_pem = read(FileKind::TrustAnchors, anchors)?;
    for anchor in CertificateDer::pem_slice_iter(&anchors_pem) {
        roots
            .add(anchor.map_err(|e| file_error(anchors, e))?)
            .map_err(|e| file_error(anchors, e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots);
    match credential {
        Some((cert_path, chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| file_error(&cert_path, e)),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// [`tls_config`] for a credentials folder: its own ca.pem as the anchors,
/// its client.pem and client.key as the credential.
pub fn mutual_tls(dir: &Path) -> Result<rustls::ClientConfig, TlsError> {
    tls_config(&dir.join(TRUST_ANCHORS), Some(dir))
}

/// A problem document as one line that names the status, rule, field and
/// value: `refused (403 robot.foreign): ... [field robot_id = "..."]`.
pub fn describe(problem: &ProblemDocument) -> String {
    let mut text = format!(
        "refused ({} {}): {}",
        problem.status, problem.rule, problem.detail
    );
    if let Some(field) = &problem.field {
        match &problem.value {
            Some(v) if !v.is_empty() => text.push_str(&format!(" [field {field} = {v:?}]")),
            _ => text.push_str(&format!(" [field {field}]")),
        }
    }
    text
}

/// The client settings every connection shares: no redirects, the
/// timeouts above. (reqwest's blocking `timeout` bounds the wait for the
/// answer to start and each read of its body; [`read_bounded`] adds the
/// total.)
fn builder() -> reqwest::blocking::ClientBuilder {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(READ_TIMEOUT)
}

/// Why an answer's body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// Longer than allowed.
    #[error("the answer is longer than {limit} bytes; not read further")]
    TooLong {
        /// The limit.
        limit: u64,
    },
    /// The whole exchange took too long.
    #[error("the answer took longer than {} s in all; given up", TOTAL_TIMEOUT.as_secs())]
    TooSlow,
    /// The connection failed or a read timed out.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads `body` up to `limit` bytes, before `deadline`.
pub fn read_bounded(
    mut body: impl std::io::Read,
    limit: u64,
    deadline: Instant,
) -> Result<Vec<u8>, AnswerError> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(AnswerError::TooSlow);
        }
        let n = match body.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        let total = u64::try_from(out.len() + n).unwrap_or(u64::MAX);
        if total > limit {
            return Err(AnswerError::TooLong { limit });
        }
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
}

/// A connection to the CA server.
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
}

impl Client {
    /// Connects to `server` (https://host:port) with the credentials in `dir`.
    pub fn new(server: &str, dir: &Path) -> Result<Self, CliError> {
        if !server.starts_with("https://") {
            return Err(CliError::Input(format!(
                "--server {server:?}: the API is served over https://"
            )));
        }
        let mut tls = mutual_tls(dir)?;
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let http = builder()
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| TlsError::Http(e.to_string()))?;
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
        let http = builder()
            .build()
            .map_err(|e| TlsError::Http(e.to_string()))?;
        Ok(Self {
            http,
            base: server.trim_end_matches('/').to_owned(),
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether this client talks to the mutual-TLS API.
    pub fn is_api(&self) -> bool {
        self.base.starts_with("https://")
    }

    fn finish<R: DeserializeOwned>(
        &self,
        response: reqwest::Result<reqwest::blocking::Response>,
    ) -> Result<R, CliError> {
        let started = Instant::now();
        let response = response.map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            return Err(CliError::Refused(format!(
                "the CA server at {} answered {status} redirecting to {to:?}; redirects are not followed (give the server's own URL)",
                self.base
            )));
        }
        let limit = if status.is_success() {
            MAX_ANSWER_BYTES
        } else {
            MAX_PROBLEM_BYTES
        };
        let bytes = read_bounded(response, limit, started + TOTAL_TIMEOUT).map_err(|e| {
            let message = format!("reading the answer of {}: {e}", self.base);
            // A connection lost or too slow decided nothing (exit 3); an
            // answer too long is the server's refusal to behave (exit 1).
            match e {
                AnswerError::TooLong { .. } => CliError::Refused(message),
                _ => CliError::Unreachable(message),
            }
        })?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|e| {
                CliError::Refused(format!("unexpected answer from {}: {e}", self.base))
            })
        } else {
            let message = match serde_json::from_slice::<ProblemDocument>(&bytes) {
                Ok(p) => describe(&p),
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
        body: &impl Serialize,
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

/// Why a request to `base` got no answer, as the user can act on it (exit
/// 3): the innermost cause reqwest reports, and what it usually means for
/// RobotID's two ports.
fn unreachable(base: &str, e: &reqwest::Error) -> CliError {
    let mut causes = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let refused = causes
        .iter()
        .any(|c| c.contains("Connection refused") || c.contains("os error 111"));
    let all = causes.join(": ");
    let tls_port_mismatch = all.contains("InvalidContentType")
        || all.contains("corrupt message")
        || all.contains("wrong version number");
    let hint = if e.is_timeout() {
        "the server did not answer in time".to_owned()
    } else if refused {
        "connection refused: is robotid-ca running, and listening on that address?".to_owned()
    } else if base.starts_with("https://") && tls_port_mismatch {
        "the server did not answer in TLS: is this the public port (plain http://)? \
         The mutual-TLS API is on the other port (8443 by default)"
            .to_owned()
    } else if base.starts_with("http://") && e.is_request() {
        "the server closed the connection: is this the mutual-TLS API port? It needs https:// \
         and --credentials"
            .to_owned()
    } else if all.contains("certificate") || all.contains("Certificate") {
        "TLS failed: the server's certificate is not from the CA in --credentials' ca.pem, \
         or the credential was refused"
            .to_owned()
    } else {
        "the request did not complete".to_owned()
    };
    CliError::Unreachable(format!(
        "cannot talk to the CA server at {base}: {hint} ({})",
        causes.last().map_or("", String::as_str)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(field: Option<&str>, value: Option<&str>) -> ProblemDocument {
        ProblemDocument {
            kind: ProblemDocument::type_of("robot.foreign"),
            title: "Forbidden".into(),
            status: 403,
            detail: "not yours".into(),
            rule: "robot.foreign".into(),
            field: field.map(str::to_owned),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn a_problem_is_described_with_its_status_rule_field_and_value() {
        assert_eq!(
            describe(&problem(None, None)),
            "refused (403 robot.foreign): not yours"
        );
        assert_eq!(
            describe(&problem(Some("robot_id"), Some("ACME-X1-1-A"))),
            "refused (403 robot.foreign): not yours [field robot_id = \"ACME-X1-1-A\"]"
        );
        assert_eq!(
            describe(&problem(Some("csr"), Some(""))),
            "refused (403 robot.foreign): not yours [field csr]"
        );
    }

    /// A folder without credentials is reported by its certificate's path
    /// (the first file read), as bad input.
    #[test]
    fn a_missing_credentials_folder_names_its_client_certificate() {
        let dir = std::env::temp_dir().join(format!("robotid-cli-none-{}", std::process::id()));
        let e = mutual_tls(&dir)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with(&dir.join(CLIENT_CERT).display().to_string()),
            "{e}"
        );
        let cli: CliError = TlsError::Config("x".into()).into();
        assert_eq!(cli.exit_code(), std::process::ExitCode::from(2));
    }
}
