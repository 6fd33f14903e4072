//! The persistent issuer cache (`robotid-verify --cache DIR`): a later run
//! skips the root's signature on an issuing CA proved in an earlier one,
//! without ever changing a verdict, and a directory others could write is
//! refused.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Pki, identity, now, shipped_policy};
use rcgen::RevocationReason;
use robotid_verifier::inspect::{Inspector, IssuerCache, RobotEvidence};
use robotid_verifier::profile::KeyAlgorithm;
use robotid_verifier::report::{Report, Status, Verdict};

const EARLIER_RUN: &str = "proved in an earlier run";

fn inspect(inspector: &Inspector, der: &[u8]) -> Report {
    inspector
        .inspect(der, &[], &RobotEvidence::default())
        .unwrap()
}

/// A check's name, status and failure code.
type Outcome = (String, Status, Option<&'static str>);

/// Everything a report decides: the verdict and each check's outcome.
fn outcome(report: &Report) -> (Verdict, Vec<Outcome>) {
    (
        report.verdict,
        report
            .checks
            .iter()
            .map(|c| (c.name.to_string(), c.status, c.code))
            .collect(),
    )
}

fn chain_reason(report: &Report) -> String {
    report.check("chain").unwrap().reason.clone()
}

fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn a_later_run_uses_the_proof_and_reaches_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let pki = Pki::new("Persist");
    let other = Pki::new("Stranger");
    let revoked = pki.issue(&identity("00000031"), KeyAlgorithm::P256);
    let crl = pki.fresh_crl(&[(revoked.serial(), Some(RevocationReason::KeyCompromise))]);
    let mut tampered = pki.issue(&identity("00000032"), KeyAlgorithm::P256).der;
    let last = tampered.len() - 1;
    tampered[last] ^= 0x40;
    let good = pki.issue(&identity("00000033"), KeyAlgorithm::P256).der;
    let certs = [
        good.clone(),
        tampered,
        revoked.der.clone(),
        other.issue(&identity("00000034"), KeyAlgorithm::P256).der,
        pki.hand_made(&identity("00000035"), false, None).der,
    ];
    let with_cache = |at: i64| {
        pki.inspector(
            std::slice::from_ref(&crl),
            Some(shipped_policy("baseline")),
            at,
        )
        .with_persistent_cache(IssuerCache::open(&cache_dir).unwrap())
    };
    let plain = |at: i64| {
        pki.inspector(
            std::slice::from_ref(&crl),
            Some(shipped_policy("baseline")),
            at,
        )
        .without_issuer_cache()
    };

    // The first run proves the path in full and writes one private entry.
    let first = inspect(&with_cache(now()), &good);
    assert_eq!(first.verdict, Verdict::Pass, "{}", first.to_text());
    assert!(!chain_reason(&first).contains(EARLIER_RUN));
    let written = entries(&cache_dir);
    assert_eq!(written.len(), 1, "{written:?}");
    let mode = std::fs::metadata(&written[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "entry mode {mode:o}");
    let dir_mode = std::fs::metadata(&cache_dir).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o077, 0, "directory mode {dir_mode:o}");

    // Later runs (a new inspector each, as a new process) use it, and every
    // verdict and check is the one a run without any cache reaches.
    for at in [now(), now() + 11 * 365 * 86_400] {
        for der in &certs {
            let cached = inspect(&with_cache(at), der);
            let full = inspect(&plain(at), der);
            assert_eq!(outcome(&cached), outcome(&full), "{}", cached.to_text());
        }
    }
    let second = inspect(&with_cache(now()), &good);
    assert_eq!(second.verdict, Verdict::Pass);
    assert!(
        chain_reason(&second).contains(EARLIER_RUN),
        "{}",
        second.to_text()
    );
    // Outside the issuing CA's validity the entry vouches for nothing.
    let late = inspect(&with_cache(now() + 40 * 365 * 86_400), &good);
    assert!(!chain_reason(&late).contains(EARLIER_RUN));
    assert_eq!(late.verdict, Verdict::Fail);
}

#[test]
fn an_entry_for_another_anchor_or_a_damaged_entry_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let pki = Pki::new("Damage");
    let good = pki.issue(&identity("00000036"), KeyAlgorithm::P256).der;
    let run = || {
        let inspector = pki
            .inspector(&[], None, now())
            .with_persistent_cache(IssuerCache::open(&cache_dir).unwrap());
        chain_reason(&inspect(&inspector, &good))
    };
    assert!(!run().contains(EARLIER_RUN));
    let entry = entries(&cache_dir).remove(0);

    // Damaged content: a miss, and the full path writes a good entry back.
    std::fs::write(&entry, b"robotid-verify issuing CA proved\n").unwrap();
    assert!(!run().contains(EARLIER_RUN));
    assert!(run().contains(EARLIER_RUN));

    // An entry others could have written is not trusted either.
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(!run().contains(EARLIER_RUN));

    // The same CA under another anchor was never proved.
    let other = Pki::new("Damage");
    let stranger = other.issue(&identity("00000037"), KeyAlgorithm::P256).der;
    let inspector = other
        .inspector(&[], None, now())
        .with_persistent_cache(IssuerCache::open(&cache_dir).unwrap());
    assert!(!chain_reason(&inspect(&inspector, &stranger)).contains(EARLIER_RUN));
}

#[test]
fn a_directory_others_may_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let open_dir = dir.path().join("shared");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = IssuerCache::open(&open_dir).unwrap_err();
    assert_eq!(e.rule(), "cache.permissions");
    assert!(e.to_string().contains("lets others write"), "{e}");

    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    assert_eq!(IssuerCache::open(&file).unwrap_err().rule(), "cache.io");
}
