//! SoftHSM2 tokens for the tests: a real PKCS#11 module (Debian's
//! softhsm2) with tokens made by `softhsm2-util`, and `pkcs11-tool`
//! (opensc) to look at what is on them.
//!
//! The end-to-end tests run once with software keys and once with the CA's
//! keys on a token: `ROBOTID_TEST_CA_KEYS=token` (with `SOFTHSM2_CONF`
//! naming a SoftHSM store, as `scripts/test`'s token pass sets both) makes
//! [`crate::setup::Setup`] and the conformance chain make their CA on a
//! token of their own in that store. Tests of the token itself (faults,
//! what is on it) make a store of their own with [`SoftHsm::new`].

// Test support: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::process::Run;
use crate::tools::tool_available;

/// Debian's SoftHSM2 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The user PIN of every test token (kept in a file; never in a URI).
pub const PIN: &str = "4711-test-pin";
const SO_PIN: &str = "0815-test-so";

/// Whether this run's CA keys are on a token (`ROBOTID_TEST_CA_KEYS=token`).
pub fn token_keys() -> bool {
    std::env::var("ROBOTID_TEST_CA_KEYS").is_ok_and(|v| v == "token")
}

/// Whether softhsm2-util and pkcs11-tool run (in CI a missing one fails).
pub fn available() -> bool {
    // pkcs11-tool has no --version; loading the module is the probe.
    tool_available("softhsm2-util", &["--version"])
        && tool_available("pkcs11-tool", &["--module", MODULE, "--show-info"])
}

/// Serialises this process's own use of the PKCS#11 module: SoftHSM reads
/// its token folder at C_Initialize, so a token made while this process
/// holds the module open is found only after it lets go.
pub fn in_process() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A SoftHSM2 store: its configuration, its token folder and the PIN file.
pub struct SoftHsm {
    /// Holds the store when it is the test's own.
    _own: Option<tempfile::TempDir>,
    /// The configuration file (SOFTHSM2_CONF).
    pub conf: PathBuf,
    /// The token folder.
    pub tokens: PathBuf,
    /// The file holding [`PIN`].
    pub pin_file: PathBuf,
}

fn write_conf(dir: &Path) -> (PathBuf, PathBuf) {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    (conf, tokens)
}

impl SoftHsm {
    /// A store of the test's own in a fresh folder, or None when SoftHSM is
    /// missing outside CI (the test skips with a notice).
    pub fn new() -> Option<Self> {
        if !available() {
            return None;
        }
        let dir = crate::process::tempdir();
        let (conf, tokens) = write_conf(dir.path());
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
        Some(Self {
            _own: Some(dir),
            conf,
            tokens,
            pin_file,
        })
    }

    /// The store this process's SOFTHSM2_CONF names (the token pass), which
    /// the processes it starts inherit; its PIN file is written beside it.
    pub fn shared() -> Self {
        assert!(
            available(),
            "ROBOTID_TEST_CA_KEYS=token needs SoftHSM2 and pkcs11-tool (see .ci/run)"
        );
        let conf = PathBuf::from(std::env::var_os("SOFTHSM2_CONF").expect(
            "ROBOTID_TEST_CA_KEYS=token needs SOFTHSM2_CONF naming a SoftHSM store (scripts/test sets both)",
        ));
        let text = std::fs::read_to_string(&conf).unwrap();
        let tokens = text
            .lines()
            .find_map(|l| {
                l.split_once('=')
                    .filter(|(k, _)| k.trim() == "directories.tokendir")
            })
            .map(|(_, v)| PathBuf::from(v.trim()))
            .expect("directories.tokendir in SOFTHSM2_CONF");
        let pin_file = conf.with_file_name("robotid-test-pin");
        if !pin_file.exists() {
            std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
        }
        Self {
            _own: None,
            conf,
            tokens,
            pin_file,
        }
    }

    /// A command with this store's configuration.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SOFTHSM2_CONF", &self.conf);
        cmd
    }

    /// The environment a process needs to use this store.
    pub fn env(&self) -> Vec<(String, OsString)> {
        vec![("SOFTHSM2_CONF".into(), self.conf.clone().into_os_string())]
    }

    fn run(&self, program: &str, args: &[&str]) -> Run {
        self.command(program).args(args).output().unwrap().into()
    }

    /// Makes a fresh token with a label unique in this run, and returns
    /// the label.
    pub fn new_token(&self, hint: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let label: String = format!("{hint}-{}-{n}", std::process::id())
            .chars()
            .take(32)
            .collect();
        self.run(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                &label,
                "--so-pin",
                SO_PIN,
                "--pin",
                PIN,
            ],
        )
        .expect_code(0);
        label
    }

    /// The RFC 7512 URI of key `object` on token `token`.
    pub fn uri(&self, token: &str, object: &str) -> String {
        format!(
            "pkcs11:token={token};object={object}?module-path={MODULE}&pin-source=file:{}",
            self.pin_file.display()
        )
    }

    /// `pkcs11-tool --list-objects` on token `token`, logged in.
    pub fn list_objects(&self, token: &str) -> String {
        self.run(
            "pkcs11-tool",
            &[
                "--module",
                MODULE,
                "--token-label",
                token,
                "--login",
                "--pin",
                PIN,
                "--list-objects",
            ],
        )
        .expect_code(0)
        .stdout
    }

    /// The folder SoftHSM keeps token `token` in.
    pub fn token_dir(&self, token: &str) -> PathBuf {
        std::fs::read_dir(&self.tokens)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                std::fs::read(p.join("token.object"))
                    .is_ok_and(|b| b.windows(token.len()).any(|w| w == token.as_bytes()))
            })
            .unwrap_or_else(|| panic!("no token folder labelled {token}"))
    }

    /// Runs `robotid ca init` in `dir` making `ca_dir` with both CA keys on
    /// a fresh token; returns the token's label.
    pub fn ca_init(&self, dir: &Path, ca_dir: &Path, extra: &[&str]) -> String {
        let token = self.new_token("ca");
        let out: Run = self
            .command(crate::process::bin("robotid"))
            .current_dir(dir)
            .args(["ca", "init", "--dir"])
            .arg(ca_dir)
            .args(["--root-key-uri", &self.uri(&token, "root-ca")])
            .args(["--issuing-key-uri", &self.uri(&token, "issuing-ca")])
            .args(extra)
            .output()
            .unwrap()
            .into();
        out.expect_code(0);
        token
    }
}
