//! x509-limbo (C2SP), vendored the way rustls-webpki vendors it: a pinned,
//! robot-shaped copy of its test cases (`tests/x509-limbo/limbo-robot.json`,
//! made by `generate.py` from limbo's own generator; see the README there)
//! run through the inspector's chain validation, validity and CRL checks,
//! exactly what `robotid-verify` judges a path by.
//!
//! `expected-results.json` holds RobotID's outcome for every case, so the
//! test fails on an unexpected pass as well as an unexpected failure; and
//! every case where that outcome differs from limbo's own expectation must
//! be named in `divergences.toml` with the reason, and nothing else may be.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use robotid_verifier::crl::Crl;
use robotid_verifier::inspect::{Inspector, InspectorConfig, RobotEvidence};
use robotid_verifier::report::Status;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use serde::Deserialize;

#[derive(Deserialize)]
struct Limbo {
    testcases: Vec<Testcase>,
}

#[derive(Deserialize)]
struct Testcase {
    id: String,
    features: Vec<String>,
    trusted_certs: Vec<String>,
    untrusted_intermediates: Vec<String>,
    peer_certificate: String,
    validation_time: Option<String>,
    signature_algorithms: Vec<String>,
    key_usage: Vec<String>,
    expected_result: String,
    crls: Vec<String>,
}

#[derive(Deserialize)]
struct Divergences {
    divergence: Vec<Divergence>,
}

#[derive(Deserialize)]
struct Divergence {
    id: String,
    limbo: String,
    robotid: String,
    reason: String,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/x509-limbo")
}

/// What the verifier does with `tc`: `SUCCESS`, `FAILURE`, or `SKIPPED` for
/// what it has no input for (with why).
fn run(tc: &Testcase) -> (String, String) {
    if tc.features.iter().any(|f| f == "max-chain-depth") {
        return ("SKIPPED".into(), "no chain-depth limit to set".into());
    }
    if !tc.signature_algorithms.is_empty() || !tc.key_usage.is_empty() {
        return (
            "SKIPPED".into(),
            "constrains signature algorithms or key usage, which the verifier fixes".into(),
        );
    }
    let certs = |pems: &[String]| -> Result<Vec<CertificateDer<'static>>, String> {
        pems.iter()
            .map(|p| {
                CertificateDer::from_pem_slice(p.as_bytes())
                    .map(CertificateDer::into_owned)
                    .map_err(|e| format!("PEM: {e}"))
            })
            .collect()
    };
    let outcome = (|| -> Result<(), String> {
        let anchors = certs(&tc.trusted_certs)?;
        let intermediates = certs(&tc.untrusted_intermediates)?;
        let crls = tc
            .crls
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let der = CertificateRevocationListDer::from_pem_slice(p.as_bytes())
                    .map_err(|e| format!("CRL PEM: {e}"))?;
                Crl::from_der(der.as_ref(), &format!("crl-{i}")).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let at = match &tc.validation_time {
            Some(t) => {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| format!("validation_time {t}: {e}"))?
                    .unix_timestamp()
            }
            None => time::OffsetDateTime::now_utc().unix_timestamp(),
        };
        let inspector = Inspector::new(InspectorConfig {
            anchors,
            intermediates,
            crls,
            policy: None,
            at,
        })
        .map_err(|e| e.to_string())?;
        let leaf = CertificateDer::from_pem_slice(tc.peer_certificate.as_bytes())
            .map_err(|e| format!("leaf PEM: {e}"))?;
        let report = inspector
            .inspect(&leaf, &[], &RobotEvidence::default())
            .map_err(|e| e.to_string())?;
        // Path validation, the leaf's validity, and revocation when CRLs
        // are given: the robot profile's own checks are not limbo's subject.
        let mut wanted = vec!["chain", "validity"];
        if !tc.crls.is_empty() {
            wanted.push("revocation");
        }
        for name in wanted {
            match report.check(name) {
                Some(c) if c.status == Status::Pass => {}
                Some(c) => return Err(format!("{name}: {:?} {:?} {}", c.status, c.code, c.reason)),
                None => return Err(format!("no {name} check")),
            }
        }
        Ok(())
    })();
    match outcome {
        Ok(()) => ("SUCCESS".into(), String::new()),
        Err(e) => ("FAILURE".into(), e),
    }
}

#[test]
fn x509_limbo_outcomes_are_as_recorded() {
    let limbo: Limbo =
        serde_json::from_slice(&std::fs::read(dir().join("limbo-robot.json")).unwrap()).unwrap();
    let actual: BTreeMap<String, (String, String)> = limbo
        .testcases
        .iter()
        .map(|tc| (tc.id.clone(), run(tc)))
        .collect();

    if std::env::var_os("ROBOTID_LIMBO_RECORD").is_some() {
        // Print what would be recorded, for a person to review and commit.
        let record: BTreeMap<&str, &str> = actual
            .iter()
            .map(|(id, (o, _))| (id.as_str(), o.as_str()))
            .collect();
        println!("{}", serde_json::to_string_pretty(&record).unwrap());
        for tc in &limbo.testcases {
            let (o, why) = &actual[&tc.id];
            if o != "SKIPPED" && *o != tc.expected_result {
                let leaf = CertificateDer::from_pem_slice(tc.peer_certificate.as_bytes()).unwrap();
                let rules: Vec<&str> = x509_parser::parse_x509_certificate(&leaf)
                    .map(|(_, c)| {
                        robotid_verifier::profile::analyse(&c)
                            .violations
                            .iter()
                            .map(|v| v.rule)
                            .filter(|r| !r.starts_with("identity."))
                            .collect()
                    })
                    .unwrap_or_default();
                println!(
                    "DIVERGES {} limbo={} robotid={o} intermediates={} profile={}: {why}",
                    tc.id,
                    tc.expected_result,
                    tc.untrusted_intermediates.len(),
                    rules.join(",")
                );
            }
        }
    }

    let expected: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(dir().join("expected-results.json")).unwrap())
            .unwrap();
    let divergences: Divergences =
        toml::from_str(&std::fs::read_to_string(dir().join("divergences.toml")).unwrap()).unwrap();
    let divergences: BTreeMap<&str, &Divergence> = divergences
        .divergence
        .iter()
        .map(|d| (d.id.as_str(), d))
        .collect();

    let mut problems = Vec::new();
    for tc in &limbo.testcases {
        let (outcome, why) = &actual[&tc.id];
        match expected.get(&tc.id) {
            None => problems.push(format!("{}: not in expected-results.json", tc.id)),
            Some(want) if want != outcome => problems.push(format!(
                "{}: UNEXPECTED {outcome} (recorded {want}; limbo expects {}): {why}",
                tc.id, tc.expected_result
            )),
            Some(_) => {}
        }
        let diverges = outcome != "SKIPPED" && *outcome != tc.expected_result;
        match (diverges, divergences.get(tc.id.as_str())) {
            (true, None) => problems.push(format!(
                "{}: {outcome} where limbo expects {}, and divergences.toml does not say why: {why}",
                tc.id, tc.expected_result
            )),
            (false, Some(_)) => problems.push(format!(
                "{}: listed in divergences.toml but the verifier now agrees with limbo",
                tc.id
            )),
            (true, Some(d)) => {
                if d.limbo != tc.expected_result || d.robotid != *outcome || d.reason.trim().is_empty() {
                    problems.push(format!("{}: divergences.toml entry does not match", tc.id));
                }
            }
            (false, None) => {}
        }
    }
    for id in expected.keys() {
        if !actual.contains_key(id) {
            problems.push(format!(
                "{id}: in expected-results.json but not a vendored case"
            ));
        }
    }
    for id in divergences.keys() {
        if !actual.contains_key(*id) {
            problems.push(format!("{id}: in divergences.toml but not a vendored case"));
        }
    }
    let counts = |o: &str| actual.values().filter(|(a, _)| a == o).count();
    println!(
        "x509-limbo: {} cases: {} SUCCESS, {} FAILURE, {} SKIPPED; {} deliberate divergences",
        actual.len(),
        counts("SUCCESS"),
        counts("FAILURE"),
        counts("SKIPPED"),
        divergences.len()
    );
    assert!(problems.is_empty(), "x509-limbo:\n{}", problems.join("\n"));
}
