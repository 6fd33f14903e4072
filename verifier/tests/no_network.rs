//! The verifier runs on an inspector's offline laptop and must not link any
//! network code or async runtime: this checks its whole normal dependency
//! tree (library and `robotid-verify`) with `cargo tree`.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

use std::process::Command;

/// Crates that open sockets, speak a network protocol or run async tasks.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "mio",
    "hyper",
    "hyper-util",
    "h2",
    "h3",
    "reqwest",
    "ureq",
    "socket2",
    "rustls",
    "native-tls",
    "openssl",
    "curl",
    "isahc",
    "surf",
    "attohttpc",
    "async-std",
    "async-io",
    "smol",
    "futures-executor",
    "tower",
    "axum",
    "tonic",
    "quinn",
    "trust-dns-resolver",
    "hickory-resolver",
    "sqlx",
];

/// `cargo tree` of the verifier's normal dependencies, with `extra` flags:
/// the crate names, and the text for failure messages.
fn tree(extra: &[&str]) -> (Vec<String>, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "robotid-verifier",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let names = text
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    (names, text)
}

#[test]
fn the_dependency_tree_has_no_network_code_or_async_runtime() {
    let (names, tree) = tree(&[]);
    assert!(
        names.iter().any(|n| n == "robotid-verifier") && names.iter().any(|n| n == "ring"),
        "{tree}"
    );
    let found: Vec<&String> = names
        .iter()
        .filter(|n| FORBIDDEN.contains(&n.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "network or async crates in the verifier: {found:?}\n{tree}"
    );
}

/// The inspector's command line (clap, indicatif) comes with the `cli`
/// feature only: the library's users (issuer, CA server, robotid) build
/// without it.
#[test]
fn the_library_without_its_cli_feature_has_no_command_line_crates() {
    let (library, text) = tree(&["--no-default-features"]);
    assert!(library.iter().any(|n| n == "robotid-verifier"), "{text}");
    let cli_crates: Vec<&String> = library
        .iter()
        .filter(|n| *n == "clap" || *n == "indicatif")
        .collect();
    assert!(
        cli_crates.is_empty(),
        "{cli_crates:?} in the library\n{text}"
    );
    // With the default features (the binary), they are there: the check
    // above looks at the right names.
    let (with_cli, text) = tree(&[]);
    assert!(with_cli.iter().any(|n| n == "clap"), "{text}");
    assert!(with_cli.iter().any(|n| n == "indicatif"), "{text}");
}
