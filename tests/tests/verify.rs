//! `robotid-verify` and `robotid prove` end to end: a CA made by the real
//! `robotid ca init`, a robot key and CSR made by `robotid key new` and
//! `robotid csr new` from the example manifest, the certificate from the
//! issuance core (the server is not needed), CRLs signed with the issuing
//! CA's key, and the inspector's commands run as an inspector would.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use rcgen::{
    CertificateRevocationListParams, CrlDistributionPoint, CrlIssuingDistributionPoint, Issuer,
    KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use robotid_issuer::ceremony;
use robotid_issuer::signer::{Signer, SignerConfig};
use robotid_issuer::vetting::{self, ManufacturerRecord, ModelRecord};
use robotid_issuer::{csr, pem};
use robotid_tests::{Run, bin, repo_root, robotid, run_in, tempdir};
use robotid_verifier::rules::ModelRules;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

fn verify(dir: &Path, args: &[&str]) -> Run {
    run_in(dir, bin("robotid-verify"), args)
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The check named `name` of a JSON report: (status, code).
fn check(report: &serde_json::Value, name: &str) -> (String, Option<String>) {
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"));
    (
        c["status"].as_str().unwrap().to_owned(),
        c["code"].as_str().map(str::to_owned),
    )
}

/// A CA in `dir/ca`, the example robot's key and certificate in `dir`.
struct Setup {
    dir: PathBuf,
    serial: Vec<u8>,
    crl_url: String,
}

fn setup(dir: &Path, name: &str) -> Setup {
    robotid(dir, &["ca", "init", "--dir", "ca", "--name", name]).expect_code(0);
    let example = repo_root().join("examples/wk5");
    std::fs::create_dir_all(dir.join("firmware")).unwrap();
    for f in ["main-controller.bin", "safety-controller.bin"] {
        std::fs::copy(
            example.join("firmware").join(f),
            dir.join("firmware").join(f),
        )
        .unwrap();
    }
    std::fs::copy(example.join("manifest.toml"), dir.join("manifest.toml")).unwrap();
    robotid(dir, &["key", "new", "--out", "robot.key"]).expect_code(0);
    robotid(
        dir,
        &[
            "csr",
            "new",
            "--manifest",
            "manifest.toml",
            "--key",
            "robot.key",
            "--out",
            "robot.csr",
        ],
    )
    .expect_code(0);

    let ca = ceremony::load(&dir.join("ca")).unwrap();
    let signer = Signer::new(
        ca.issuing_der.clone(),
        robotid_issuer::key::SoftwareKey::read(
            &dir.join("ca")
                .join(robotid_issuer::ceremony::files::ISSUING_KEY),
        )
        .unwrap(),
        vec![ca.root_der.clone()],
        SignerConfig::new(ca.config.public_url),
    )
    .unwrap();
    let request = csr::verify(
        &csr::decode_pem_or_der(&std::fs::read(dir.join("robot.csr")).unwrap()).unwrap(),
    )
    .unwrap();
    let model = ModelRecord {
        manufacturer_code: "UBX".into(),
        model: "WK5".into(),
        rules: ModelRules::load(&repo_root().join("policies/models/example-wk5.toml")).unwrap(),
    };
    let manufacturer = ManufacturerRecord {
        code: "UBX".into(),
        name: "Example Robotics Ltd".into(),
        country: "CN".into(),
        active: true,
    };
    let vetted = vetting::vet(&request, &manufacturer, Some(&model)).unwrap();
    let issued = signer
        .issue(signer.prepare(&vetted, OffsetDateTime::now_utc()).unwrap())
        .unwrap();
    std::fs::write(
        dir.join("robot.pem"),
        pem::encode("CERTIFICATE", &issued.der),
    )
    .unwrap();
    // The measured components: the manifest's tables, as an inspector's tool would write them.
    let manifest = std::fs::read_to_string(dir.join("manifest.toml")).unwrap();
    let tables = &manifest[manifest.find("[[components]]").unwrap()..];
    std::fs::write(dir.join("measured.toml"), tables).unwrap();
    Setup {
        dir: dir.to_owned(),
        serial: issued.serial,
        crl_url: signer.urls().crl.clone(),
    }
}

impl Setup {
    /// A CRL in `name` (PEM), signed by the issuing CA, listing `entries`,
    /// whose nextUpdate is `next_update` from now.
    fn crl(&self, name: &str, entries: &[(Vec<u8>, RevocationReason)], next_update: Duration) {
        let ca = ceremony::load(&self.dir.join("ca")).unwrap();
        let issuer = Issuer::from_ca_cert_der(
            &CertificateDer::from(ca.issuing_der),
            robotid_issuer::keys::read_key(
                &self
                    .dir
                    .join("ca")
                    .join(robotid_issuer::ceremony::files::ISSUING_KEY),
            )
            .unwrap(),
        )
        .unwrap();
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::days(2),
            next_update: now + next_update,
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: Some(CrlIssuingDistributionPoint {
                distribution_point: CrlDistributionPoint {
                    uris: vec![self.crl_url.clone()],
                },
                scope: None,
            }),
            revoked_certs: entries
                .iter()
                .map(|(serial, reason)| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(serial),
                    revocation_time: now - Duration::days(1),
                    reason_code: Some(*reason),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&issuer).unwrap();
        std::fs::write(self.dir.join(name), crl.pem().unwrap()).unwrap();
    }
}

const BASE: [&str; 6] = [
    "--cert",
    "robot.pem",
    "--trust",
    "ca/root-ca.pem",
    "--chain",
    "ca/issuing-ca.pem",
];

fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    BASE.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn a_genuine_robot_passes_with_full_evidence_under_the_strict_policy() {
    let tmp = tempdir();
    let s = setup(tmp.path(), "E2E Good");
    let d = &s.dir;
    s.crl(
        "ca.crl",
        &[(vec![0x05; 16], RevocationReason::KeyCompromise)],
        Duration::days(5),
    );
    // Without evidence: a plain human report that passes.
    let run = verify(d, &BASE).expect_code(0);
    assert!(
        run.stdout.contains("robot        UBX-WK5-00001234-I"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("verdict: PASS"), "{}", run.stdout);
    // The chain may come in the certificate's own file instead of --chain.
    let bundle = [
        std::fs::read_to_string(d.join("robot.pem")).unwrap(),
        std::fs::read_to_string(d.join("ca/issuing-ca.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(d.join("bundle.pem"), bundle).unwrap();
    verify(d, &["--cert", "bundle.pem", "--trust", "ca/root-ca.pem"]).expect_code(0);
    verify(d, &["--cert", "robot.pem", "--trust", "ca/root-ca.pem"]).expect_code(1);
    // With everything the strict policy demands.
    verify(d, &["challenge", "--out", "challenge.json"]).expect_code(0);
    robotid(
        d,
        &[
            "prove",
            "--key",
            "robot.key",
            "--challenge",
            "challenge.json",
            "--out",
            "response.json",
        ],
    )
    .expect_code(0);
    let policy = repo_root().join("policies/market-entry/strict.toml");
    let args = with(&[
        "--crl",
        "ca.crl",
        "--components",
        "measured.toml",
        "--challenge",
        "challenge.json",
        "--response",
        "response.json",
        "--policy",
        policy.to_str().unwrap(),
        "--json",
    ]);
    let run = verify(d, &args).expect_code(0);
    let report = json(&run);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["policy"], "strict");
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "pass", "{c}");
    }
    // The human form of the same: one line per check, then the verdict.
    let args: Vec<&str> = args.into_iter().filter(|a| *a != "--json").collect();
    let run = verify(d, &args).expect_code(0);
    assert!(
        run.stdout
            .contains("  possession                 PASS  the robot signed this challenge"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("verdict: PASS (16 passed, 0 failed, 0 skipped)\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn failures_exit_1_and_name_their_check() {
    let tmp = tempdir();
    let s = setup(tmp.path(), "E2E Bad");
    let d = &s.dir;
    let code = |args: &[&str], name: &str| {
        let run = verify(d, &with(&[args, &["--json"]].concat())).expect_code(1);
        let report = json(&run);
        assert_eq!(report["verdict"], "fail");
        check(&report, name)
    };
    // Revoked and on hold.
    s.crl(
        "revoked.crl",
        &[(s.serial.clone(), RevocationReason::KeyCompromise)],
        Duration::days(5),
    );
    s.crl(
        "held.crl",
        &[(s.serial.clone(), RevocationReason::CertificateHold)],
        Duration::days(5),
    );
    s.crl("stale.crl", &[], Duration::hours(-1));
    let fail = |code: &str| ("fail".to_owned(), Some(code.to_owned()));
    assert_eq!(
        code(&["--crl", "revoked.crl"], "revocation"),
        fail("revoked")
    );
    assert_eq!(code(&["--crl", "held.crl"], "revocation"), fail("on_hold"));
    assert_eq!(
        code(&["--crl", "stale.crl"], "revocation"),
        fail("stale_crl")
    );
    // Expired and not yet valid.
    assert_eq!(
        code(&["--at", "2040-01-01T00:00:00Z"], "validity"),
        fail("expired")
    );
    assert_eq!(
        code(&["--at", "2020-01-01T00:00:00Z"], "validity"),
        fail("not_yet_valid")
    );
    // A firmware image changed after certification.
    std::fs::write(d.join("firmware/main-controller.bin"), b"patched").unwrap();
    assert_eq!(
        code(&["--components", "measured.toml"], "components"),
        fail("component_mismatch")
    );
    // A response kept from an earlier challenge.
    verify(d, &["challenge", "--out", "old.json"]).expect_code(0);
    robotid(
        d,
        &[
            "prove",
            "--key",
            "robot.key",
            "--challenge",
            "old.json",
            "--out",
            "old-response.json",
        ],
    )
    .expect_code(0);
    verify(d, &["challenge", "--out", "new.json"]).expect_code(0);
    assert_eq!(
        code(
            &["--challenge", "new.json", "--response", "old-response.json"],
            "possession"
        ),
        fail("replayed")
    );
    // Another robot's key cannot answer for this one.
    robotid(d, &["key", "new", "--alg", "p384", "--out", "other.key"]).expect_code(0);
    robotid(
        d,
        &[
            "prove",
            "--key",
            "other.key",
            "--challenge",
            "new.json",
            "--out",
            "other.json",
        ],
    )
    .expect_code(0);
    assert_eq!(
        code(
            &["--challenge", "new.json", "--response", "other.json"],
            "possession"
        ),
        fail("wrong_key")
    );
    // A tampered certificate: one bit of the signature flipped.
    let mut der = rustls_pki_types::pem::PemObject::from_pem_file(d.join("robot.pem"))
        .map(|c: CertificateDer<'static>| c.to_vec())
        .unwrap();
    let last = der.len() - 1;
    der[last] ^= 1;
    std::fs::write(d.join("tampered.der"), &der).unwrap();
    let run = verify(
        d,
        &[
            "--cert",
            "tampered.der",
            "--trust",
            "ca/root-ca.pem",
            "--chain",
            "ca/issuing-ca.pem",
            "--json",
        ],
    )
    .expect_code(1);
    assert_eq!(check(&json(&run), "chain"), fail("bad_signature"));
    // Another CA's root.
    let other = tempdir();
    robotid(other.path(), &["ca", "init", "--dir", "ca"]).expect_code(0);
    let root = other.path().join("ca/root-ca.pem");
    let run = verify(
        d,
        &[
            "--cert",
            "robot.pem",
            "--trust",
            root.to_str().unwrap(),
            "--chain",
            "ca/issuing-ca.pem",
            "--json",
        ],
    )
    .expect_code(1);
    assert_eq!(check(&json(&run), "chain"), fail("unknown_issuer"));
}

#[test]
fn unusable_input_exits_2_and_names_the_file() {
    let tmp = tempdir();
    let s = setup(tmp.path(), "E2E Input");
    let d = &s.dir;
    let run = verify(d, &["--cert", "missing.pem", "--trust", "ca/root-ca.pem"]).expect_code(2);
    assert!(run.stderr.contains("missing.pem"), "{}", run.stderr);
    std::fs::write(
        d.join("bad.toml"),
        "schema_version = 1\nname = \"x\"\n[certificate]\nkey_algorithms = [\"rsa\"]\n",
    )
    .unwrap();
    let run = verify(d, &with(&["--policy", "bad.toml"])).expect_code(2);
    assert!(
        run.stderr
            .contains("bad.toml: field certificate.key_algorithms[0]"),
        "{}",
        run.stderr
    );
    std::fs::write(
        d.join("junk.crl"),
        "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n",
    )
    .unwrap();
    let run = verify(d, &with(&["--crl", "junk.crl"])).expect_code(2);
    assert!(
        run.stderr.contains("junk.crl: not a usable CRL"),
        "{}",
        run.stderr
    );
    verify(d, &with(&["--at", "yesterday"])).expect_code(2);
    verify(d, &with(&["--challenge", "x.json"])).expect_code(2);
    verify(d, &with(&["--no-such-flag"])).expect_code(2);
    let run = verify(d, &["--cert", "manifest.toml", "--trust", "ca/root-ca.pem"]).expect_code(2);
    assert!(
        run.stderr.contains("manifest.toml: holds no certificate"),
        "{}",
        run.stderr
    );
    // A challenge is never overwritten; a bad key cannot prove.
    verify(d, &["challenge", "--out", "c.json"]).expect_code(0);
    verify(d, &["challenge", "--out", "c.json"]).expect_code(1);
    let run = robotid(
        d,
        &[
            "prove",
            "--key",
            "manifest.toml",
            "--challenge",
            "c.json",
            "--out",
            "r.json",
        ],
    )
    .expect_code(2);
    assert!(run.stderr.contains("manifest.toml"), "{}", run.stderr);
    assert!(!d.join("r.json").exists());
}

#[test]
fn a_folder_of_certificates_is_summarised() {
    let tmp = tempdir();
    let s = setup(tmp.path(), "E2E Dir");
    let d = &s.dir;
    std::fs::create_dir(d.join("shipment")).unwrap();
    std::fs::copy(d.join("robot.pem"), d.join("shipment/a-good.pem")).unwrap();
    std::fs::copy(d.join("ca/issuing-ca.pem"), d.join("shipment/b-ca.crt")).unwrap();
    std::fs::write(d.join("shipment/c-junk.pem"), "not a certificate").unwrap();
    std::fs::write(d.join("shipment/notes.txt"), "ignored").unwrap();
    s.crl("ca.crl", &[], Duration::days(1));
    let args = [
        "--dir",
        "shipment",
        "--trust",
        "ca/root-ca.pem",
        "--chain",
        "ca/issuing-ca.pem",
        "--crl",
        "ca.crl",
    ];
    let run = verify(d, &args).expect_code(1);
    assert!(
        run.stdout
            .contains("PASS  shipment/a-good.pem  UBX-WK5-00001234-I"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("FAIL  shipment/b-ca.crt"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ERROR shipment/c-junk.pem"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("summary: 3 certificates: 1 passed, 1 failed, 1 unreadable\n"),
        "{}",
        run.stdout
    );
    // Not a terminal: no progress bar drawn.
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let run = verify(d, &[&args[..], &["--json"]].concat()).expect_code(1);
    let report = json(&run);
    assert_eq!(report["summary"]["total"], 3);
    assert_eq!(report["summary"]["passed"], 1);
    assert_eq!(report["reports"].as_array().unwrap().len(), 2);
    assert_eq!(report["unreadable"][0]["file"], "shipment/c-junk.pem");
    // All good: exit 0.
    std::fs::remove_file(d.join("shipment/b-ca.crt")).unwrap();
    std::fs::remove_file(d.join("shipment/c-junk.pem")).unwrap();
    verify(d, &args).expect_code(0);
}

#[test]
fn openssl_agrees_on_revocation_from_the_same_crls() {
    if !robotid_tests::tool_available("openssl", &["version"]) {
        return;
    }
    let tmp = tempdir();
    let s = setup(tmp.path(), "E2E OpenSSL");
    let d = &s.dir;
    s.crl("good.crl", &[], Duration::days(1));
    s.crl(
        "revoked.crl",
        &[(s.serial.clone(), RevocationReason::KeyCompromise)],
        Duration::days(1),
    );
    s.crl(
        "held.crl",
        &[(s.serial.clone(), RevocationReason::CertificateHold)],
        Duration::days(1),
    );
    for (crl, ours, openssl_ok) in [
        ("good.crl", 0, true),
        ("revoked.crl", 1, false),
        ("held.crl", 1, false),
    ] {
        verify(d, &with(&["--crl", crl])).expect_code(ours);
        let theirs = run_in(
            d,
            "openssl",
            &[
                "verify",
                "-x509_strict",
                "-purpose",
                "sslclient",
                "-crl_check",
                "-CAfile",
                "ca/root-ca.pem",
                "-untrusted",
                "ca/issuing-ca.pem",
                "-CRLfile",
                crl,
                "robot.pem",
            ],
        );
        assert_eq!(
            theirs.code == 0,
            openssl_ok,
            "{crl}: {} {}",
            theirs.stdout,
            theirs.stderr
        );
        if !openssl_ok {
            assert!(
                theirs.stdout.contains("certificate revoked")
                    || theirs.stderr.contains("certificate revoked")
            );
        }
    }
}

#[test]
fn a_verification_cache_is_reused_across_processes_and_must_be_private() {
    let tmp = tempdir();
    let s = setup(tmp.path(), "E2E Cache");
    let d = &s.dir;
    let reason = |run: &Run| {
        json(run)["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "chain")
            .unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let cached = with(&["--cache", "cache", "--json"]);
    let first = verify(d, &cached).expect_code(0);
    assert!(!reason(&first).contains("earlier run"), "{}", first.stdout);
    let second = verify(d, &cached).expect_code(0);
    assert!(reason(&second).contains("earlier run"), "{}", second.stdout);
    // The same through the environment.
    let by_env = Run::from(
        std::process::Command::new(bin("robotid-verify"))
            .args(with(&["--json"]))
            .env("ROBOTID_VERIFY_CACHE", "cache")
            .current_dir(d)
            .output()
            .unwrap(),
    )
    .expect_code(0);
    assert!(reason(&by_env).contains("earlier run"), "{}", by_env.stdout);
    // Another root's CA is not vouched for by the entry: it still fails.
    let other = tempdir();
    let o = setup(other.path(), "E2E Cache");
    std::fs::copy(o.dir.join("robot.pem"), d.join("stranger.pem")).unwrap();
    let stranger = verify(
        d,
        &[
            "--cert",
            "stranger.pem",
            "--trust",
            "ca/root-ca.pem",
            "--chain",
            "ca/issuing-ca.pem",
            "--cache",
            "cache",
            "--json",
        ],
    )
    .expect_code(1);
    assert_eq!(check(&json(&stranger), "chain").0, "fail");

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.join("cache"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = verify(d, &cached).expect_code(2);
    assert!(
        refused.stderr.contains("cache.permissions"),
        "{}",
        refused.stderr
    );
}
