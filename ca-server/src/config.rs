//! Settings, from flags or the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// robotid-ca: RobotID's certificate authority, registry and revocation
/// service. With no flags: a SQLite registry and a development CA under
/// ./robotid-data, the mutual-TLS API on 127.0.0.1:8443 and the public
/// endpoints on 127.0.0.1:8080.
#[derive(Debug, Clone, Parser)]
#[command(name = "robotid-ca", version, about)]
pub struct Config {
    /// Folder for the CA, the server's TLS key, the operator's credentials
    /// and the SQLite registry; created on first start.
    #[arg(long, env = "ROBOTID_DATA_DIR", default_value = "robotid-data")]
    pub data_dir: PathBuf,
    /// Registry database: `sqlite:PATH` or `postgres://...`. Default: the
    /// SQLite file `registry.sqlite` in the data folder.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address of the mutual-TLS API.
    #[arg(long, env = "ROBOTID_LISTEN", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Address of the public plain-HTTP endpoints (OCSP, CRLs, status).
    #[arg(long, env = "ROBOTID_PUBLIC_LISTEN", default_value = "127.0.0.1:8080")]
    pub public_listen: SocketAddr,
    /// Base URL of the public endpoints, written into certificates when the
    /// development CA is created. Default: http://<public listen address>.
    #[arg(long, env = "ROBOTID_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Most CSRs in one batch request.
    #[arg(long, env = "ROBOTID_MAX_BATCH", default_value_t = 10_000)]
    pub max_batch: usize,
    /// Largest request body, in bytes (a full batch of 10,000 PEM CSRs is
    /// about 15 MB).
    #[arg(long, env = "ROBOTID_MAX_BODY", default_value_t = 32 * 1024 * 1024)]
    pub max_body: usize,
    /// Enrollment rate per manufacturer, certificates per second
    /// (beyond it: 429 with Retry-After).
    #[arg(long, env = "ROBOTID_ENROLL_RATE", default_value_t = 50_000)]
    pub enroll_rate: u32,
    /// Certificates a manufacturer may request at once before the rate
    /// applies.
    #[arg(long, env = "ROBOTID_ENROLL_BURST", default_value_t = 100_000)]
    pub enroll_burst: u32,
    /// Most connections open at once on each port; more wait in the
    /// kernel's backlog.
    #[arg(long, env = "ROBOTID_MAX_CONNECTIONS", default_value_t = 16_384)]
    pub max_connections: usize,
    /// PKCS#11 sessions the CA's token signs on at once, when the issuing
    /// key is on a token (`robotid ca init --issuing-key-uri`). More
    /// sessions let a token with several cores sign in parallel.
    #[arg(long, env = "ROBOTID_PKCS11_SESSIONS", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub pkcs11_sessions: u16,
    /// Log format.
    #[arg(long, env = "ROBOTID_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How logs are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// The registry URL in use.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite:{}", self.data_dir.join("registry.sqlite").display())
        })
    }

    /// The public base URL in use.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.public_listen))
    }
}

/// `url` with any password replaced, for printing.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite:x.db"), "sqlite:x.db");
    }
}
