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
