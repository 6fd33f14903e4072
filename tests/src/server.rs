//! A running `robotid-ca` on ephemeral ports, killed when dropped.

// Test support: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::bin;

/// The public address for a server on `data_dir`: the one its CA's URLs
/// name if the CA exists (a restart) and the port is free, else a free port. The public URL is
/// written into every certificate (OCSP, CRL and CA issuer URLs), so it
/// must be a real port, not 0.
fn public_listen(data_dir: &Path) -> String {
    let settings = std::fs::read_to_string(data_dir.join("ca/ca.toml")).unwrap_or_default();
    let recorded = settings.lines().find_map(|line| {
        let url = line.strip_prefix("public_url = \"")?.strip_suffix('"')?;
        url.strip_prefix("http://").map(str::to_owned)
    });
    // Another server on the same CA folder may hold the recorded port.
    let free = |addr: &String| std::net::TcpListener::bind(addr.as_str()).is_ok();
    recorded.filter(free).unwrap_or_else(|| {
        // The port is free once the listener is dropped; another process
        // could take it in between, which would fail the start loudly.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        listener.local_addr().expect("local address").to_string()
    })
}

/// Why [`Server::spawn`] has no server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The program could not be started.
    #[error("robotid-ca could not be started: {0}")]
    Spawn(std::io::Error),
    /// It exited or closed its output before naming both addresses.
    #[error("robotid-ca did not start")]
    NoAddresses,
}

/// A running `robotid-ca`, killed when dropped.
pub struct Server {
    child: std::process::Child,
    /// `https://127.0.0.1:PORT` of the mutual-TLS API.
    pub api: String,
    /// `http://127.0.0.1:PORT` of the public endpoints.
    pub public: String,
    /// The data folder.
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `robotid-ca` on ephemeral ports with `data_dir` and, if given,
    /// a database URL; waits until it prints its addresses.
    pub fn start(data_dir: &Path, database_url: Option<&str>) -> Server {
        Self::start_with(data_dir, database_url, &[])
    }

    /// As [`Server::start`], with more command-line flags.
    pub fn start_with(data_dir: &Path, database_url: Option<&str>, extra: &[&str]) -> Server {
        Self::start_with_env(data_dir, database_url, extra, &[])
    }

    /// As [`Server::start_with`], with more environment (a SoftHSM store's
    /// configuration, say).
    pub fn start_with_env(
        data_dir: &Path,
        database_url: Option<&str>,
        extra: &[&str],
        env: &[(String, std::ffi::OsString)],
    ) -> Server {
        let public_listen = public_listen(data_dir);
        let mut cmd = Command::new(bin("robotid-ca"));
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0", "--public-listen", &public_listen])
            .env_remove("DATABASE_URL")
            .stderr(std::fs::File::create(data_dir.with_extension("log")).expect("log file"));
        if let Some(url) = database_url {
            cmd.args(["--database-url", url]);
        }
        cmd.args(extra);
        Self::spawn(cmd, data_dir).unwrap_or_else(|e| {
            panic!(
                "{e}; log: {}",
                std::fs::read_to_string(data_dir.with_extension("log")).unwrap_or_default()
            )
        })
    }

    /// Spawns `cmd`, a `robotid-ca` command line serving `data_dir` (its
    /// standard output is taken here), and waits until the server prints
    /// both its addresses. The tests and the benchmarks start their servers
    /// through this.
    pub fn spawn(mut cmd: Command, data_dir: &Path) -> Result<Server, StartError> {
        use std::io::BufRead;
        cmd.stdout(Stdio::piped());
        let mut child = cmd.spawn().map_err(StartError::Spawn)?;
        let (mut api, mut public) = (String::new(), String::new());
        if let Some(stdout) = child.stdout.take() {
            let mut lines = std::io::BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
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
            // Keep draining so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
        }
        let started = !api.is_empty() && !public.is_empty();
        let server = Server {
            child,
            api,
            public,
            data_dir: data_dir.to_path_buf(),
        };
        // Dropping a server that did not start kills what is left of it.
        if started {
            Ok(server)
        } else {
            Err(StartError::NoAddresses)
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The operator's credentials folder.
    pub fn operator(&self) -> PathBuf {
        self.data_dir.join("operator")
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM (as a service manager stopping it) and waits up to
    /// `within` for the process to end; its exit status, or None if it is
    /// still running.
    pub fn terminate(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM failed");
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.with_extension("log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A program that exits without naming its addresses is no server,
    /// and one that cannot be started says so.
    #[test]
    fn spawn_refuses_what_names_no_addresses() {
        let dir = std::env::temp_dir();
        let mut quiet = Command::new("sh");
        quiet.args(["-c", "echo listening on https://127.0.0.1:1"]);
        assert!(matches!(
            Server::spawn(quiet, &dir),
            Err(StartError::NoAddresses)
        ));
        let missing = Command::new(dir.join("robotid-ca-that-is-not-there"));
        assert!(matches!(
            Server::spawn(missing, &dir),
            Err(StartError::Spawn(_))
        ));
        let mut both = Command::new("sh");
        both.args([
            "-c",
            "echo 'API: https://127.0.0.1:1'; echo 'public endpoints: http://127.0.0.1:2'; sleep 5",
        ]);
        let server = Server::spawn(both, &dir).unwrap();
        assert_eq!(
            (server.api.as_str(), server.public.as_str()),
            ("https://127.0.0.1:1", "http://127.0.0.1:2")
        );
    }
}
