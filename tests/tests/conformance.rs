//! Independent implementations judge what RobotID emits: OpenSSL, Python
//! `cryptography`'s verifier and pkilint's RFC 5280 linters, on a chain made
//! by the real `robotid` binary (CA ceremony, key, CSR for the README's
//! example robot) and the issuance core with the example model rules.
//!
//! In CI (`ROBOTID_REQUIRE_TOOLS=1`) a missing tool fails the test.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use robotid_issuer::ceremony;
use robotid_issuer::signer::SignerConfig;
use robotid_issuer::vetting::{self, ManufacturerRecord, ModelRecord};
use robotid_issuer::{csr, pem};
use robotid_tests::{go_available, go_check, repo_root, robotid, run_in, tempdir, tool_available};
use robotid_verifier::oid;
use robotid_verifier::rules::ModelRules;

/// A CA made by `robotid ca init` and a robot certificate for a key of
/// `alg`, written as PEM files in `dir`: root.pem, issuing.pem, leaf.pem.
fn chain(dir: &Path, alg: &str) -> PathBuf {
    // The token pass (ROBOTID_TEST_CA_KEYS=token): the CA's keys on a
    // SoftHSM token, the robot signed through it.
    let token = robotid_tests::softhsm::token_keys();
    if token {
        robotid_tests::softhsm::SoftHsm::shared().ca_init(
            dir,
            &dir.join("ca"),
            &["--name", "Conformance"],
        );
    } else {
        robotid(dir, &["ca", "init", "--dir", "ca", "--name", "Conformance"]).expect_code(0);
    }
    let manifest = repo_root()
        .join("examples/wk5/manifest.toml")
        .display()
        .to_string();
    robotid(dir, &["key", "new", "--alg", alg, "--out", "robot.key"]).expect_code(0);
    robotid(
        dir,
        &[
            "csr",
            "new",
            "--manifest",
            &manifest,
            "--key",
            "robot.key",
            "--out",
            "robot.csr",
        ],
    )
    .expect_code(0);

    let _module = token.then(robotid_tests::softhsm::in_process);
    let ca = ceremony::load(&dir.join("ca")).unwrap();
    let (root_der, issuing_der) = (ca.root_der.clone(), ca.issuing_der.clone());
    let config = SignerConfig::new(ca.config.public_url.clone());
    let signer = ca.into_signer(config).unwrap();
    let request = csr::verify(
        &csr::decode_pem_or_der(&std::fs::read(dir.join("robot.csr")).unwrap()).unwrap(),
    )
    .unwrap();
    let manufacturer = ManufacturerRecord {
        code: "UBX".into(),
        name: "Example Robotics Ltd".into(),
        country: "CN".into(),
        active: true,
    };
    let model = ModelRecord {
        manufacturer_code: "UBX".into(),
        model: "WK5".into(),
        rules: ModelRules::load(&repo_root().join("policies/models/example-wk5.toml")).unwrap(),
    };
    let vetted = vetting::vet(&request, &manufacturer, Some(&model)).unwrap();
    let prepared = signer.prepare(&vetted, time_now()).unwrap();
    let issued = signer.issue(prepared).unwrap();
    std::fs::write(dir.join("root.pem"), pem::encode("CERTIFICATE", &root_der)).unwrap();
    std::fs::write(
        dir.join("issuing.pem"),
        pem::encode("CERTIFICATE", &issuing_der),
    )
    .unwrap();
    std::fs::write(
        dir.join("leaf.pem"),
        pem::encode("CERTIFICATE", &issued.der),
    )
    .unwrap();
    dir.to_path_buf()
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn conformance_script(name: &str) -> String {
    repo_root()
        .join("tests/conformance")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn openssl_verifies_root_issuing_robot_strictly_for_client_auth() {
    if !tool_available("openssl", &["version"]) {
        return;
    }
    for alg in ["p256", "p384", "ed25519"] {
        let dir = tempdir();
        let d = chain(dir.path(), alg);
        let out = run_in(
            &d,
            "openssl",
            &[
                "verify",
                "-x509_strict",
                "-purpose",
                "sslclient",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "issuing.pem",
                "leaf.pem",
            ],
        )
        .expect_code(0);
        assert!(
            out.stdout.contains("leaf.pem: OK"),
            "{alg}: {}{}",
            out.stdout,
            out.stderr
        );
        // The delegated OCSP signer chains too, for OCSP signing.
        let out = run_in(
            &d,
            "openssl",
            &[
                "verify",
                "-x509_strict",
                "-purpose",
                "ocsphelper",
                "-CAfile",
                "ca/root-ca.pem",
                "-untrusted",
                "ca/issuing-ca.pem",
                "ca/ocsp-signer.pem",
            ],
        );
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    }
}

#[test]
fn openssl_rejects_a_robot_under_another_root() {
    if !tool_available("openssl", &["version"]) {
        return;
    }
    let (a, b) = (tempdir(), tempdir());
    chain(a.path(), "p256");
    chain(b.path(), "p256");
    let other_root = b.path().join("root.pem").display().to_string();
    let out = run_in(
        a.path(),
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-purpose",
            "sslclient",
            "-CAfile",
            &other_root,
            "-untrusted",
            "issuing.pem",
            "leaf.pem",
        ],
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
}

#[test]
fn python_cryptography_client_verifier_accepts_the_chain() {
    if !tool_available("python3", &["-c", "import cryptography.x509.verification"]) {
        return;
    }
    for alg in ["p256", "p384", "ed25519"] {
        let dir = tempdir();
        let d = chain(dir.path(), alg);
        let robot_eku = oid::ID_KP_ROBOT_IDENTITY.to_string();
        let out = run_in(
            &d,
            "python3",
            &[
                &conformance_script("check_chain.py"),
                "--root",
                "root.pem",
                "--issuing",
                "issuing.pem",
                "--leaf",
                "leaf.pem",
                "--eku",
                &robot_eku,
                "--eku",
                "1.3.6.1.5.5.7.3.2",
            ],
        );
        assert_eq!(out.code, 0, "{alg}: {}{}", out.stdout, out.stderr);
    }
}

#[test]
fn python_cryptography_rejects_a_robot_under_another_root() {
    if !tool_available("python3", &["-c", "import cryptography.x509.verification"]) {
        return;
    }
    let (a, b) = (tempdir(), tempdir());
    chain(a.path(), "p256");
    chain(b.path(), "p256");
    let other_root = b.path().join("root.pem").display().to_string();
    let out = run_in(
        a.path(),
        "python3",
        &[
            &conformance_script("check_chain.py"),
            "--root",
            &other_root,
            "--issuing",
            "issuing.pem",
            "--leaf",
            "leaf.pem",
        ],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
}

/// pkilint's gate: no FATAL, ERROR or WARNING but what
/// `tests/conformance/pkilint-allow.toml` allows for the artifact, with its
/// reason, and every allowed finding still reported.
#[test]
fn pkilint_finds_nothing_outside_the_allow_list_in_any_certificate_or_link() {
    if !tool_available("python3", &["-c", "import pkilint"]) {
        return;
    }
    let dir = tempdir();
    let d = chain(dir.path(), "p256");
    let lint = conformance_script("lint.py");
    let check = |artifact: &str, args: &[&str]| {
        let mut full = vec![lint.as_str(), "--artifact", artifact];
        full.extend_from_slice(args);
        let out = run_in(&d, "python3", &full);
        assert_eq!(
            out.code, 0,
            "pkilint {args:?}:\n{}{}",
            out.stdout, out.stderr
        );
    };
    for (artifact, cert) in [
        ("robot", "leaf.pem"),
        ("issuing-ca", "issuing.pem"),
        ("root-ca", "root.pem"),
        ("ocsp-signer", "ca/ocsp-signer.pem"),
    ] {
        check(artifact, &["cert", cert]);
    }
    check("chain", &["chain", "issuing.pem", "leaf.pem"]);
    check("chain", &["chain", "root.pem", "issuing.pem"]);
    check("chain", &["chain", "issuing.pem", "ca/ocsp-signer.pem"]);
}

#[test]
fn openssl_reads_subject_san_aia_and_policy() {
    if !tool_available("openssl", &["version"]) {
        return;
    }
    let dir = tempdir();
    let d = chain(dir.path(), "p256");
    let text = run_in(
        &d,
        "openssl",
        &["x509", "-in", "leaf.pem", "-noout", "-text"],
    )
    .expect_code(0)
    .stdout;
    assert!(
        text.contains("URI:urn:robotid:UBX-WK5-00001234-I"),
        "{text}"
    );
    assert!(
        text.contains("CA Issuers - URI:http://127.0.0.1:8080/ca/"),
        "{text}"
    );
    assert!(
        text.contains("OCSP - URI:http://127.0.0.1:8080/ocsp"),
        "{text}"
    );
    assert!(
        text.contains(&oid::ID_CP_MARKET_ENTRY_V1.to_string()),
        "{text}"
    );
    assert!(text.contains("Subject: C = CN, O = Example Robotics Ltd, serialNumber = UBX-WK5-00001234-I, CN = UBX-WK5-00001234-I"), "{text}");
}

/// Finding 1 of issue 17: a key `robotid key new` writes must load in
/// OpenSSL and Python `cryptography`, which refuse the PKCS#8 v2 Ed25519
/// keys ring makes; otherwise a robot cannot use its key for mutual TLS.
#[test]
fn openssl_and_cryptography_load_every_key_robotid_writes() {
    let openssl = tool_available("openssl", &["version"]);
    let python = tool_available("python3", &["-c", "import cryptography"]);
    if !openssl && !python {
        return;
    }
    for alg in ["p256", "p384", "ed25519"] {
        let dir = tempdir();
        let d = dir.path();
        robotid(d, &["key", "new", "--alg", alg, "--out", "robot.key"]).expect_code(0);
        if openssl {
            let out = run_in(
                d,
                "openssl",
                &["pkey", "-in", "robot.key", "-noout", "-text"],
            );
            assert_eq!(
                out.code, 0,
                "{alg}: openssl pkey: {}{}",
                out.stdout, out.stderr
            );
            // `openssl asn1parse` shows the first INTEGER: 0 is PKCS#8 v1.
            let parsed = run_in(d, "openssl", &["asn1parse", "-in", "robot.key"]).expect_code(0);
            let version = parsed.stdout.lines().nth(1).unwrap_or_default();
            assert!(
                version.contains("INTEGER") && version.ends_with(":00"),
                "{alg}: {}",
                parsed.stdout
            );
        }
        if python {
            let out = run_in(
                d,
                "python3",
                &[
                    "-c",
                    "import sys; from cryptography.hazmat.primitives import serialization as s; \
                     k = s.load_pem_private_key(open('robot.key','rb').read(), None); \
                     print(type(k).__name__)",
                ],
            );
            assert_eq!(
                out.code, 0,
                "{alg}: cryptography: {}{}",
                out.stdout, out.stderr
            );
        }
    }
    // The CA's own keys are written the same way.
    let dir = tempdir();
    robotid(dir.path(), &["ca", "init", "--dir", "ca", "--name", "Keys"]).expect_code(0);
    for key in ["ca/root-ca.key", "ca/issuing-ca.key", "ca/ocsp-signer.key"] {
        if openssl {
            let out = run_in(dir.path(), "openssl", &["pkey", "-in", key, "-noout"]);
            assert_eq!(out.code, 0, "{key}: {}{}", out.stdout, out.stderr);
        }
    }
}

/// Finding 2 of issue 17: a relying party can require the market-entry
/// policy in standard path validation, which needs the issuing CA to
/// assert it too; a policy the chain does not carry is refused.
#[test]
fn openssl_requires_the_market_entry_policy_explicitly() {
    if !tool_available("openssl", &["version"]) {
        return;
    }
    let dir = tempdir();
    let d = chain(dir.path(), "p256");
    let verify = |policy: &str| {
        run_in(
            &d,
            "openssl",
            &[
                "verify",
                "-x509_strict",
                "-policy",
                policy,
                "-explicit_policy",
                "-policy_check",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "issuing.pem",
                "leaf.pem",
            ],
        )
    };
    let market_entry = oid::ID_CP_MARKET_ENTRY_V1.to_string();
    let out = verify(&market_entry);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("leaf.pem: OK"), "{}", out.stdout);
    // Another policy (the arc's id-robotid.3.2) is not in the chain.
    let other = format!("{}.2", oid::ID_CP_MARKET_ENTRY_V1.parent().unwrap());
    let out = verify(&other);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

/// Go's crypto/x509 verifies the robot chain for ExtKeyUsageClientAuth
/// (and the OCSP signer for any purpose), and refuses another CA's robot.
#[test]
fn go_crypto_x509_verifies_the_chain_for_client_auth() {
    if !go_available() {
        return;
    }
    for alg in ["p256", "p384", "ed25519"] {
        let dir = tempdir();
        let d = chain(dir.path(), alg);
        let out = go_check(
            &d,
            &["chain", "root.pem", "issuing.pem", "leaf.pem", "client"],
        );
        assert_eq!(out.code, 0, "{alg}: {}{}", out.stdout, out.stderr);
        let out = go_check(
            &d,
            &[
                "chain",
                "root.pem",
                "issuing.pem",
                "ca/ocsp-signer.pem",
                "any",
            ],
        );
        assert_eq!(out.code, 0, "{alg}: {}{}", out.stdout, out.stderr);
    }
    let (a, b) = (tempdir(), tempdir());
    chain(a.path(), "p256");
    chain(b.path(), "p256");
    let other_root = b.path().join("root.pem").display().to_string();
    let out = go_check(
        a.path(),
        &["chain", &other_root, "issuing.pem", "leaf.pem", "client"],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
}
