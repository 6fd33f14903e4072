//! Helpers for the end-to-end tests: run the real binaries in a temporary
//! folder, and find the independent tools (OpenSSL, Python `cryptography`,
//! pkilint) that check what RobotID emits.
//!
//! The binaries are those `cargo build --workspace --bins` left beside the
//! test executable (`scripts/test` builds them first).

// Test support: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The folder holding the workspace's built binaries (target/debug).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// The path of binary `name`, which must have been built.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// A command's outcome, with its output as text.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics unless the exit code is `code`, showing the output.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// Runs `program` with `args` in `dir`.
pub fn run_in(dir: &Path, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Run {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("spawn")
        .into()
}

/// Runs the `robotid` binary in `dir`.
pub fn robotid(dir: &Path, args: &[&str]) -> Run {
    run_in(dir, bin("robotid"), args)
}

/// Whether CI demands every external tool (a missing one fails the test).
pub fn tools_required() -> bool {
    std::env::var_os("ROBOTID_REQUIRE_TOOLS").is_some_and(|v| v == "1")
}

/// Whether `program --version`-style probe `args` runs. When it does not:
/// in CI (`ROBOTID_REQUIRE_TOOLS=1`) the test fails; elsewhere it prints why
/// and the caller skips.
pub fn tool_available(program: &str, args: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !tools_required(),
            "{program} is required (ROBOTID_REQUIRE_TOOLS=1) but `{program} {}` failed",
            args.join(" ")
        );
        eprintln!("SKIPPED: {program} not available (install it, or see .ci/run)");
    }
    ok
}

/// A fresh temporary folder.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

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
        use std::io::BufRead;
        let public_listen = public_listen(data_dir);
        let mut cmd = Command::new(bin("robotid-ca"));
        cmd.arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0", "--public-listen", &public_listen])
            .env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(data_dir.with_extension("log")).expect("log file"));
        if let Some(url) = database_url {
            cmd.args(["--database-url", url]);
        }
        cmd.args(extra);
        let mut child = cmd.spawn().expect("spawn robotid-ca");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let (mut api, mut public) = (String::new(), String::new());
        for line in lines.by_ref() {
            let line = line.expect("read stdout");
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
        assert!(
            !api.is_empty() && !public.is_empty(),
            "robotid-ca did not start; log: {}",
            std::fs::read_to_string(data_dir.with_extension("log")).unwrap_or_default()
        );
        Server {
            child,
            api,
            public,
            data_dir: data_dir.to_path_buf(),
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

/// A fresh PostgreSQL database on 127.0.0.1:5432 (trust auth), or None if
/// PostgreSQL is unreachable outside CI (in CI that fails the test). It is
/// dropped when the value is, so runs do not pile databases up on the
/// machine's server.
pub fn postgres_database() -> Option<PostgresDatabase> {
    let base = "postgres://postgres@127.0.0.1:5432/test";
    if !tool_available("psql", &[base, "-c", "SELECT 1"]) {
        return None;
    }
    let name = format!(
        "robotid_e2e_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let created = Command::new("psql")
        .args([base, "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    Some(PostgresDatabase {
        url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
        name,
    })
}

/// A test's own PostgreSQL database; derefs to its URL.
pub struct PostgresDatabase {
    url: String,
    name: String,
}

impl std::ops::Deref for PostgresDatabase {
    type Target = str;

    fn deref(&self) -> &str {
        &self.url
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // FORCE ends the connections of servers that outlived the test.
        let dropped = Command::new("psql")
            .args([
                "postgres://postgres@127.0.0.1:5432/test",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
        if !dropped.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}
