//! Shared pieces of the benchmark programs: starting the real `robotid-ca`
//! binary, HTTPS clients with its credentials, timing.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The folder of the binaries built beside this one.
pub fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

/// A running `robotid-ca`, killed on drop.
pub struct Server {
    child: Child,
    /// API base URL.
    pub api: String,
    /// Public base URL.
    pub public: String,
    /// Data folder.
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts the server built beside this program on ephemeral ports.
    pub fn start(data_dir: &Path, database_url: Option<&str>) -> Result<Server, String> {
        let mut cmd = Command::new(bin_dir().join("robotid-ca"));
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0"])
            .env(
                "ROBOTID_LOG",
                std::env::var("ROBOTID_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = database_url {
            cmd.args(["--database-url", url]);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("robotid-ca: {e} (build it with --release first)"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let (mut api, mut public) = (String::new(), String::new());
        for line in lines.by_ref() {
            let line = line.map_err(|e| e.to_string())?;
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("https://")) {
                api = url.to_owned();
            }
            if line.contains("public endpoints:") {
                public = line
                    .split_whitespace()
                    .last()
                    .unwrap_or_default()
                    .to_owned();
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        if api.is_empty() {
            return Err("robotid-ca did not start".into());
        }
        Ok(Server {
            child,
            api,
            public,
            data_dir: data_dir.to_path_buf(),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTPS client with the credentials in `creds` (client.pem, client.key, ca.pem).
pub fn https(creds: &Path) -> Result<reqwest::blocking::Client, String> {
    let s = |e: &dyn std::fmt::Display| e.to_string();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(creds.join("ca.pem")).map_err(|e| s(&e))?)
        .map_err(|e| s(&e))?;
    let chain = CertificateDer::pem_file_iter(creds.join("client.pem"))
        .map_err(|e| s(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| s(&e))?;
    let key = PrivateKeyDer::from_pem_file(creds.join("client.key")).map_err(|e| s(&e))?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| s(&e))?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .map_err(|e| s(&e))?;
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .pool_max_idle_per_host(64)
        .timeout(std::time::Duration::from_secs(600))
        .build()
        .map_err(|e| s(&e))
}

/// Runs `f` and returns its result with the elapsed seconds.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

/// A count as f64, for rates.
pub fn count(n: usize) -> f64 {
    u32::try_from(n).map(f64::from).unwrap_or(f64::MAX)
}

/// One line of a results table: name, rate, and the ratio to a baseline.
pub fn report(name: &str, per_second: f64, baseline: f64) {
    println!(
        "{name:<58} {per_second:>12.0} /s   {:>6.2}x baseline",
        per_second / baseline
    );
}
