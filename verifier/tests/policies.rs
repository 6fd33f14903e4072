//! The shipped market-entry rule sets load, say what they are documented to
//! say, and the example robot of README.md passes the baseline.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use robotid_verifier::oid;
use robotid_verifier::policy::Policy;
use robotid_verifier::profile::KeyAlgorithm;

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/market-entry")
}

#[test]
fn every_shipped_market_entry_policy_loads() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let policy = Policy::load(&path).unwrap();
            assert_eq!(
                Some(policy.name.as_str()),
                path.file_stem().and_then(|s| s.to_str()),
                "{}: name should match the file",
                path.display()
            );
            assert_eq!(policy.certificate_policy, Some(oid::ID_CP_MARKET_ENTRY_V1));
            assert!(!policy.description.is_empty());
            names.push(policy.name);
        }
    }
    names.sort();
    assert_eq!(names, ["baseline", "strict"]);
}

#[test]
fn strict_is_stricter_than_baseline() {
    let baseline = common::shipped_policy("baseline");
    let strict = common::shipped_policy("strict");
    assert!(!baseline.evidence.crl && strict.evidence.crl);
    assert!(strict.evidence.possession && strict.evidence.components);
    assert_eq!(baseline.crl_grace_seconds, 24 * 3600);
    assert_eq!(strict.crl_grace_seconds, 0);
    assert!(strict.max_age_days < baseline.max_age_days);
    assert_eq!(
        strict.key_algorithms.as_deref(),
        Some(&[KeyAlgorithm::P256, KeyAlgorithm::P384][..])
    );
    assert!(baseline.manufacturers.is_none() && strict.manufacturers.is_some());
    for kind in &baseline.required_components {
        assert!(strict.required_components.contains(kind));
    }
}

#[test]
fn the_example_robot_meets_both_rule_sets() {
    let manifest = robotid_verifier::manifest::Manifest::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wk5/manifest.toml"),
    )
    .unwrap();
    let pki = common::Pki::new("Example");
    let robot = pki.issue(&manifest.to_identity(), KeyAlgorithm::P256);
    for name in ["baseline", "strict"] {
        let inspector = pki.inspector(&[], Some(common::shipped_policy(name)), common::now());
        let report = inspector
            .inspect(&robot.der, &[], &Default::default())
            .unwrap();
        let policy_failures: Vec<_> = report
            .failed()
            .into_iter()
            .filter(|n| n.starts_with("policy."))
            .collect();
        assert!(policy_failures.is_empty(), "{name}:\n{}", report.to_text());
    }
}
