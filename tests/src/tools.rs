//! The independent tools (OpenSSL, Python `cryptography`, pkilint, psql)
//! that check what RobotID emits: present, or skipped outside CI.

use std::process::Command;

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

/// Where Debian's golang-golang-x-crypto-dev puts golang.org/x/crypto: the
/// GOPATH `tests/conformance/go/check.go` builds against (no network).
pub const DEBIAN_GOPATH: &str = "/usr/share/gocode";

/// Whether Go and golang.org/x/crypto/ocsp are installed (see
/// [`tool_available`] for what happens when not).
pub fn go_available() -> bool {
    if !tool_available("go", &["version"]) {
        return false;
    }
    let ocsp = std::path::Path::new(DEBIAN_GOPATH).join("src/golang.org/x/crypto/ocsp");
    let ok = ocsp.is_dir();
    if !ok {
        assert!(
            !tools_required(),
            "golang.org/x/crypto/ocsp is required (ROBOTID_REQUIRE_TOOLS=1) but {} is missing \
             (apt-get install golang-golang-x-crypto-dev)",
            ocsp.display()
        );
        eprintln!("SKIPPED: golang.org/x/crypto/ocsp not installed (see .ci/run)");
    }
    ok
}

/// Runs `tests/conformance/go/check.go ARGS` in `dir` with Go's crypto/x509
/// and x/crypto/ocsp (GOPATH mode against [`DEBIAN_GOPATH`]).
pub fn go_check(dir: &std::path::Path, args: &[&str]) -> crate::Run {
    let script = crate::repo_root().join("tests/conformance/go/check.go");
    Command::new("go")
        .arg("run")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .env("GO111MODULE", "off")
        .env("GOPATH", DEBIAN_GOPATH)
        .env("GOFLAGS", "")
        .output()
        .map(crate::Run::from)
        .unwrap_or_else(|e| crate::Run {
            code: -1,
            stdout: String::new(),
            stderr: format!("go run: {e}"),
        })
}
