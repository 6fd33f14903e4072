//! The fast reader of conforming certificates (`robotid_verifier::conforming`)
//! against the full profile analysis on x509-parser, which the inspector
//! falls back to: the reader must accept what the issuance core issues, and
//! whatever it accepts, the full analysis must find conforming with the same
//! facts. Checked on certificates of each key algorithm, on every
//! single-byte change and truncation of one, and on hand-made certificates
//! that break a rule.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Pki, identity};
use robotid_verifier::conforming;
use robotid_verifier::identity::RobotIdentity;
use robotid_verifier::profile::{self, KeyAlgorithm};
use robotid_verifier::robot_id::RobotId;
use robotid_verifier::{crl, policy};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// Everything the inspector reads of a conforming certificate.
#[derive(Debug, PartialEq, Eq)]
struct Facts {
    identity: RobotIdentity,
    robot_id: RobotId,
    key_algorithm: KeyAlgorithm,
    serial: Vec<u8>,
    issuer: String,
    not_before: i64,
    not_after: i64,
    spki: Vec<u8>,
    crl_uris: Option<Vec<String>>,
    policies: Vec<const_oid::ObjectIdentifier>,
}

fn issuer_name(raw: &[u8]) -> String {
    X509Name::from_der(raw).unwrap().1.to_string()
}

fn fast(der: &[u8]) -> Option<Facts> {
    let c = conforming::read(der)?;
    Some(Facts {
        identity: c.identity,
        robot_id: c.robot_id,
        key_algorithm: c.key_algorithm,
        serial: c.serial.to_vec(),
        issuer: issuer_name(c.issuer),
        not_before: c.not_before,
        not_after: c.not_after,
        spki: c.spki.to_vec(),
        crl_uris: Some(c.crl_uris),
        policies: c.policies,
    })
}

/// The full analysis' facts, if it finds the certificate conforming.
fn full(der: &[u8]) -> Option<Facts> {
    let Ok(([], cert)) = X509Certificate::from_der(der) else {
        return None;
    };
    let analysis = profile::analyse(&cert);
    if !analysis.violations.is_empty() {
        return None;
    }
    Some(Facts {
        identity: analysis.identity?,
        robot_id: analysis.robot_id?,
        key_algorithm: analysis.key_algorithm?,
        serial: cert.raw_serial().to_vec(),
        issuer: issuer_name(cert.tbs_certificate.issuer.as_raw()),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        spki: cert.public_key().raw.to_vec(),
        crl_uris: crl::distribution_point_uris(&cert),
        policies: policy::certificate_policies(&cert),
    })
}

#[test]
fn accepts_what_the_issuance_core_issues_with_the_same_facts() {
    let pki = Pki::new("Reader");
    for alg in [
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
    ] {
        let robot = pki.issue(&identity("00004321"), alg);
        let facts = fast(&robot.der);
        assert!(
            facts.is_some(),
            "{alg}: the reader refuses a real certificate"
        );
        assert_eq!(facts, full(&robot.der), "{alg}");
        assert_eq!(facts.unwrap().key_algorithm, alg);
    }
}

#[test]
fn accepts_no_change_the_full_analysis_refuses() {
    let pki = Pki::new("Mutations");
    for alg in [KeyAlgorithm::P256, KeyAlgorithm::Ed25519] {
        let der = pki.issue(&identity("00004322"), alg).der;
        let mut accepted = 0;
        for i in 0..der.len() {
            for flip in [0x01, 0x20, 0x80, 0xff] {
                let mut changed = der.clone();
                changed[i] ^= flip;
                if let Some(facts) = fast(&changed) {
                    accepted += 1;
                    assert_eq!(
                        Some(facts),
                        full(&changed),
                        "{alg}: byte {i} ^ {flip:#04x} accepted by the reader only"
                    );
                }
            }
        }
        for len in 0..der.len() {
            assert_eq!(fast(&der[..len]), None, "{alg}: truncated to {len}");
        }
        // Changes inside the key, the signature, the serial and the
        // component digests keep a certificate conforming (its signature
        // is path validation's business): both sides saw some.
        assert!(accepted > 100, "{alg}: only {accepted} changes accepted");
    }
}

#[test]
fn leaves_certificates_that_break_a_rule_to_the_full_analysis() {
    let pki = Pki::new("Broken");
    let missing = pki.hand_made(&identity("00000006"), false, None);
    let mut bad_check = identity("00000007");
    let good = bad_check.robot_id.clone();
    let wrong = if good.ends_with('A') { 'B' } else { 'A' };
    bad_check.robot_id = format!("{}{wrong}", &good[..good.len() - 1]);
    let bad_check = pki.hand_made(&bad_check, true, None);
    let other_policy = const_oid::ObjectIdentifier::new_unwrap("1.2.3.4");
    let wrong_policy = pki.hand_made(&identity("00000008"), true, Some(&other_policy));
    for (what, robot) in [
        ("no identity", missing),
        ("bad check character", bad_check),
        ("another certificate policy", wrong_policy),
    ] {
        assert_eq!(fast(&robot.der), None, "{what}");
        assert_eq!(full(&robot.der), None, "{what}");
    }
}
