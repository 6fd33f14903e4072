//! The inspection against real parts: certificates from the issuance core,
//! CRLs signed by the issuing CA's key, the shipped market-entry policies,
//! and proofs of possession made with the robots' own keys. Every failure
//! the issue lists fails and names its check.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{FIRMWARE, Pki, identity, now, shipped_policy};
use rcgen::RevocationReason;
use robotid_verifier::challenge::{self, Challenge};
use robotid_verifier::identity::DigestAlgorithm;
use robotid_verifier::inspect::{Inspector, Possession, RobotEvidence};
use robotid_verifier::oid;
use robotid_verifier::profile::KeyAlgorithm;
use robotid_verifier::report::{Report, Status, Verdict};
use time::{Duration, OffsetDateTime};

fn inspect(inspector: &Inspector, der: &[u8]) -> Report {
    inspector
        .inspect(der, &[], &RobotEvidence::default())
        .unwrap()
}

/// Asserts `check` failed with `code`, and nothing else that should pass did.
fn assert_fails(report: &Report, check: &str, code: &str) {
    let c = report
        .check(check)
        .unwrap_or_else(|| panic!("no check {check}:\n{}", report.to_text()));
    assert_eq!(c.status, Status::Fail, "{}", report.to_text());
    assert_eq!(c.code, Some(code), "{}", report.to_text());
    assert_eq!(report.verdict, Verdict::Fail);
}

fn status(report: &Report, check: &str) -> Status {
    report.check(check).unwrap().status
}

#[test]
fn good_robots_pass_every_check_with_full_evidence() {
    let pki = Pki::new("Good");
    for alg in [
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
    ] {
        let robot = pki.issue(&identity("00001234"), alg);
        let crl = pki.fresh_crl(&[(vec![0x01; 16], Some(RevocationReason::KeyCompromise))]);
        let inspector = pki.inspector(&[crl], Some(shipped_policy("baseline")), now());
        let challenge = Challenge::new(now()).unwrap();
        let response =
            challenge::respond(robot.key_pem().as_bytes(), "robot.key", &challenge).unwrap();
        let evidence = RobotEvidence {
            components: Some(&robot.identity.components),
            possession: Some(Possession {
                challenge: &challenge,
                response: &response,
                now: now(),
            }),
        };
        let report = inspector.inspect(&robot.der, &[], &evidence).unwrap();
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "{alg}:\n{}",
            report.to_text()
        );
        assert_eq!(report.count(Status::Fail), 0);
        for name in [
            "chain",
            "validity",
            "identity",
            "robot_id",
            "names",
            "profile",
            "revocation",
            "policy.certificate_policy",
            "policy.key_algorithm",
            "policy.certificate_age",
            "policy.manufacturer",
            "policy.model",
            "policy.parameters",
            "policy.components",
            "components",
            "possession",
        ] {
            assert_eq!(
                status(&report, name),
                Status::Pass,
                "{alg} {name}:\n{}",
                report.to_text()
            );
        }
        let c = report.certificate.as_ref().unwrap();
        assert_eq!(
            c.robot_id.as_deref(),
            Some(robot.identity.robot_id.as_str())
        );
        assert_eq!(c.key_algorithm, alg.name());
    }
}

#[test]
fn without_evidence_the_optional_checks_skip_and_the_robot_passes() {
    let pki = Pki::new("Skip");
    let robot = pki.issue(&identity("00000002"), KeyAlgorithm::P256);
    let report = inspect(&pki.inspector(&[], None, now()), &robot.der);
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.to_text());
    for name in ["revocation", "policy", "components", "possession"] {
        assert_eq!(status(&report, name), Status::Skip, "{name}");
    }
    let text = report.to_text();
    assert!(
        text.contains("  chain       PASS  path to trust anchor"),
        "{text}"
    );
    assert!(
        text.ends_with("verdict: PASS (6 passed, 0 failed, 4 skipped)\n"),
        "{text}"
    );
}

#[test]
fn expired_and_not_yet_valid_fail_validity_but_still_show_a_genuine_chain() {
    let pki = Pki::new("Time");
    let robot = pki.issue(&identity("00000003"), KeyAlgorithm::P256);
    let later = now() + 11 * 365 * 86_400;
    let report = inspect(&pki.inspector(&[], None, later), &robot.der);
    assert_fails(&report, "validity", "expired");
    // Genuine but expired: the chain itself is fine, checked at notAfter.
    assert_eq!(
        status(&report, "chain"),
        Status::Pass,
        "{}",
        report.to_text()
    );
    let earlier = now() - 86_400;
    let report = inspect(&pki.inspector(&[], None, earlier), &robot.der);
    assert_fails(&report, "validity", "not_yet_valid");
}

#[test]
fn a_certificate_of_another_ca_has_no_path_to_the_anchor() {
    let ours = Pki::new("Ours");
    let theirs = Pki::new("Theirs");
    let robot = theirs.issue(&identity("00000004"), KeyAlgorithm::P256);
    let report = inspect(&ours.inspector(&[], None, now()), &robot.der);
    assert_fails(&report, "chain", "unknown_issuer");
    // Same names, other keys: "Ours" again is a different CA.
    let twin = Pki::new("Ours");
    let robot = twin.issue(&identity("00000004"), KeyAlgorithm::P256);
    let report = inspect(&ours.inspector(&[], None, now()), &robot.der);
    assert_eq!(
        status(&report, "chain"),
        Status::Fail,
        "{}",
        report.to_text()
    );
}

#[test]
fn a_tampered_certificate_fails_the_chain() {
    let pki = Pki::new("Tamper");
    let robot = pki.issue(&identity("00000005"), KeyAlgorithm::P256);
    let inspector = pki.inspector(&[], None, now());
    // Flip a bit of the signature, then a byte of the signed identity.
    let mut der = robot.der.clone();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    assert_fails(&inspect(&inspector, &der), "chain", "bad_signature");
    let mut der = robot.der.clone();
    let at = der.windows(6).position(|w| w == b"SC77-1").unwrap();
    der[at + 5] = b'2';
    let report = inspect(&inspector, &der);
    assert_fails(&report, "chain", "bad_signature");
    assert_eq!(status(&report, "identity"), Status::Pass);
}

#[test]
fn a_certificate_without_the_identity_extension_fails_identity() {
    let pki = Pki::new("Missing");
    let robot = pki.hand_made(&identity("00000006"), false, None);
    let report = inspect(&pki.inspector(&[], None, now()), &robot.der);
    assert_fails(&report, "identity", "identity");
    assert!(report.check("identity").unwrap().reason.contains("missing"));
    assert_eq!(
        status(&report, "chain"),
        Status::Pass,
        "{}",
        report.to_text()
    );
    assert_eq!(status(&report, "robot_id"), Status::Skip);
}

#[test]
fn a_bad_check_character_fails_robot_id() {
    let pki = Pki::new("Check");
    let mut id = identity("00000007");
    let good = id.robot_id.clone();
    let wrong = if good.ends_with('A') { 'B' } else { 'A' };
    id.robot_id = format!("{}{wrong}", &good[..good.len() - 1]);
    id.manufacturer.name = "Example Robotics Ltd".into();
    id.manufacturer.country = "CN".into();
    let robot = pki.hand_made(&id, true, None);
    let report = inspect(&pki.inspector(&[], None, now()), &robot.der);
    assert_fails(&report, "robot_id", "check_character");
    assert_eq!(
        status(&report, "names"),
        Status::Pass,
        "{}",
        report.to_text()
    );
    assert_eq!(status(&report, "chain"), Status::Pass);
}

#[test]
fn revoked_and_on_hold_are_told_apart() {
    let pki = Pki::new("Revoke");
    let revoked = pki.issue(&identity("00000008"), KeyAlgorithm::P256);
    let held = pki.issue(&identity("00000009"), KeyAlgorithm::P384);
    let fine = pki.issue(&identity("00000010"), KeyAlgorithm::Ed25519);
    let crl = pki.fresh_crl(&[
        (revoked.serial(), Some(RevocationReason::KeyCompromise)),
        (held.serial(), Some(RevocationReason::CertificateHold)),
    ]);
    let inspector = pki.inspector(&[crl], None, now());
    let report = inspect(&inspector, &revoked.der);
    assert_fails(&report, "revocation", "revoked");
    assert!(
        report
            .check("revocation")
            .unwrap()
            .reason
            .starts_with("revoked (keyCompromise)")
    );
    let report = inspect(&inspector, &held.der);
    assert_fails(&report, "revocation", "on_hold");
    assert!(
        report
            .check("revocation")
            .unwrap()
            .reason
            .starts_with("on hold")
    );
    let report = inspect(&inspector, &fine.der);
    assert_eq!(report.verdict, Verdict::Pass, "{}", report.to_text());
    assert!(
        report
            .check("revocation")
            .unwrap()
            .reason
            .starts_with("not revoked per CRL crl-0.crl number 7")
    );
}

#[test]
fn a_stale_crl_fails_unless_the_policy_grants_grace() {
    let pki = Pki::new("Stale");
    let robot = pki.issue(&identity("00000011"), KeyAlgorithm::P256);
    let t = OffsetDateTime::now_utc();
    let crl = pki.crl(&[], t - Duration::days(3), t - Duration::hours(2), None);
    let report = inspect(
        &pki.inspector(std::slice::from_ref(&crl), None, now()),
        &robot.der,
    );
    assert_fails(&report, "revocation", "stale_crl");
    // baseline grants 24 h; strict none.
    let report = inspect(
        &pki.inspector(
            std::slice::from_ref(&crl),
            Some(shipped_policy("baseline")),
            now(),
        ),
        &robot.der,
    );
    let c = report.check("revocation").unwrap();
    assert_eq!(c.status, Status::Pass, "{}", report.to_text());
    assert!(
        c.reason.contains("within the policy's grace of 24h"),
        "{}",
        c.reason
    );
    let report = inspect(
        &pki.inspector(&[crl], Some(shipped_policy("strict")), now()),
        &robot.der,
    );
    assert_fails(&report, "revocation", "stale_crl");
    // A CRL from the future cannot say anything about now.
    let future = pki.crl(&[], t + Duration::hours(2), t + Duration::days(2), None);
    let report = inspect(&pki.inspector(&[future], None, now()), &robot.der);
    assert_fails(&report, "revocation", "crl_not_yet_valid");
}

#[test]
fn a_crl_signed_by_another_key_fails_and_is_not_used() {
    let pki = Pki::new("Forged CRL");
    let robot = pki.issue(&identity("00000012"), KeyAlgorithm::P256);
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let t = OffsetDateTime::now_utc();
    let forged = pki.crl(
        &[],
        t - Duration::hours(1),
        t + Duration::days(1),
        Some(other),
    );
    let report = inspect(&pki.inspector(&[forged], None, now()), &robot.der);
    assert_fails(&report, "revocation", "crl_signature");
    // A genuine CRL of another CA does not cover this robot.
    let stranger = Pki::new("Stranger");
    let theirs = stranger.fresh_crl(&[]);
    let report = inspect(&pki.inspector(&[theirs], None, now()), &robot.der);
    assert_fails(&report, "revocation", "crl_missing");
}

#[test]
fn measured_components_are_compared_and_each_difference_named() {
    let pki = Pki::new("Components");
    let robot = pki.issue(&identity("00000013"), KeyAlgorithm::P256);
    let inspector = pki.inspector(&[], None, now());
    let mut measured = robot.identity.components.clone();
    measured[0].digests = vec![DigestAlgorithm::Sha256.digest(b"patched firmware")];
    measured.remove(2);
    let mut extra = measured[1].clone();
    extra.serial = "SC77-9".into();
    measured.push(extra);
    let evidence = RobotEvidence {
        components: Some(&measured),
        possession: None,
    };
    let report = inspector.inspect(&robot.der, &[], &evidence).unwrap();
    assert_fails(&report, "components", "component_mismatch");
    let details = &report.check("components").unwrap().details;
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(
        details[0].starts_with("mismatch: main-controller MC9-1"),
        "{details:?}"
    );
    assert!(
        details[1].starts_with("missing: battery-pack BP-1"),
        "{details:?}"
    );
    assert!(
        details[2].starts_with("extra: safety-controller SC77-9"),
        "{details:?}"
    );
    assert_eq!(FIRMWARE.len(), robot.identity.components.len());
}

#[test]
fn a_wrong_certificate_policy_fails_the_policy() {
    let pki = Pki::new("Policy");
    let mut id = identity("00000014");
    id.manufacturer.name = "Example Robotics Ltd".into();
    id.manufacturer.country = "CN".into();
    let other_policy = const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.1.1");
    let robot = pki.hand_made(&id, true, Some(&other_policy));
    let report = inspect(
        &pki.inspector(&[], Some(shipped_policy("baseline")), now()),
        &robot.der,
    );
    assert_fails(&report, "policy.certificate_policy", "wrong_policy");
    // The profile requires the market-entry policy too.
    assert_eq!(status(&report, "profile"), Status::Fail);

    // A genuine robot against a policy requiring another certificate policy.
    let robot = pki.issue(&identity("00000015"), KeyAlgorithm::P256);
    let mut policy = shipped_policy("baseline");
    policy.certificate_policy = Some(oid::ID_ROBOTID);
    let report = inspect(&pki.inspector(&[], Some(policy), now()), &robot.der);
    assert_fails(&report, "policy.certificate_policy", "wrong_policy");
}

#[test]
fn the_strict_policy_names_every_rule_a_robot_breaks() {
    let pki = Pki::new("Strict");
    let mut id = identity("00000016");
    id.components.pop();
    id.parameters[0].value = 1790;
    let robot = pki.issue(&id, KeyAlgorithm::Ed25519);
    let mut policy = shipped_policy("strict");
    policy.parameters.get_mut("height_mm").unwrap().max = 1700;
    let report = inspect(&pki.inspector(&[], Some(policy), now()), &robot.der);
    assert_fails(&report, "policy.key_algorithm", "key_algorithm");
    assert_fails(&report, "policy.components", "component_kind");
    assert_fails(&report, "policy.parameters", "parameter_range");
    assert_eq!(
        report.check("policy.parameters").unwrap().details,
        ["height_mm = 1790 mm is outside 1000..=1700"]
    );
    // strict demands the evidence the inspector did not bring.
    for name in ["revocation", "components", "possession"] {
        assert_fails(&report, name, "evidence_missing");
    }
    assert_eq!(status(&report, "policy.manufacturer"), Status::Pass);
    // Another manufacturer's model is not type-approved.
    let mut policy = shipped_policy("strict");
    policy.models = Some(vec!["UBX-WK6".into()]);
    let report = inspect(&pki.inspector(&[], Some(policy), now()), &robot.der);
    assert_fails(&report, "policy.model", "model");
    // Older than five years.
    let report = inspect(
        &pki.inspector(
            &[],
            Some(shipped_policy("strict")),
            now() + 6 * 365 * 86_400,
        ),
        &robot.der,
    );
    assert_fails(&report, "policy.certificate_age", "too_old");
}

#[test]
fn replayed_forged_and_stale_proofs_of_possession_fail() {
    let pki = Pki::new("Possession");
    let robot = pki.issue(&identity("00000017"), KeyAlgorithm::P256);
    let other = pki.issue(&identity("00000018"), KeyAlgorithm::P256);
    let inspector = pki.inspector(&[], None, now());
    let check = |challenge: &Challenge, response: &challenge::Response, at: i64| {
        let evidence = RobotEvidence {
            components: None,
            possession: Some(Possession {
                challenge,
                response,
                now: at,
            }),
        };
        inspector.inspect(&robot.der, &[], &evidence).unwrap()
    };
    let old = Challenge::new(now()).unwrap();
    let old_answer = challenge::respond(robot.key_pem().as_bytes(), "k", &old).unwrap();
    let fresh = Challenge::new(now()).unwrap();
    // Replayed: a genuine answer to an earlier challenge.
    assert_fails(&check(&fresh, &old_answer, now()), "possession", "replayed");
    // Forged: the right nonce, the certificate's key hash, a made-up signature.
    let mut forged = challenge::respond(robot.key_pem().as_bytes(), "k", &fresh).unwrap();
    let other_answer = challenge::respond(other.key_pem().as_bytes(), "k", &fresh).unwrap();
    forged.signature = other_answer.signature.clone();
    assert_fails(&check(&fresh, &forged, now()), "possession", "forged");
    // Another robot's genuine answer is for another key.
    assert_fails(
        &check(&fresh, &other_answer, now()),
        "possession",
        "wrong_key",
    );
    // A challenge kept too long.
    let good = challenge::respond(robot.key_pem().as_bytes(), "k", &fresh).unwrap();
    assert_eq!(
        status(&check(&fresh, &good, now()), "possession"),
        Status::Pass
    );
    assert_fails(
        &check(&fresh, &good, now() + 3600),
        "possession",
        "challenge_expired",
    );
}

#[test]
fn the_issuer_cache_never_changes_a_verdict() {
    let pki = Pki::new("Cache");
    let other = Pki::new("Other");
    let revoked = pki.issue(&identity("00000019"), KeyAlgorithm::P256);
    let crl = pki.fresh_crl(&[(revoked.serial(), Some(RevocationReason::Superseded))]);
    let mut tampered = pki.issue(&identity("00000020"), KeyAlgorithm::P384).der;
    let last = tampered.len() - 1;
    tampered[last] ^= 0x40;
    let certs = vec![
        pki.issue(&identity("00000021"), KeyAlgorithm::P256).der,
        tampered,
        revoked.der.clone(),
        other.issue(&identity("00000022"), KeyAlgorithm::P256).der,
        pki.hand_made(&identity("00000023"), false, None).der,
        pki.issue(&identity("00000024"), KeyAlgorithm::Ed25519).der,
    ];
    for at in [now(), now() + 11 * 365 * 86_400] {
        let cached = pki.inspector(
            std::slice::from_ref(&crl),
            Some(shipped_policy("baseline")),
            at,
        );
        let uncached = pki
            .inspector(
                std::slice::from_ref(&crl),
                Some(shipped_policy("baseline")),
                at,
            )
            .without_issuer_cache();
        for _ in 0..2 {
            for der in &certs {
                assert_eq!(inspect(&cached, der), inspect(&uncached, der));
            }
        }
    }
}

#[test]
fn revocation_agrees_with_rustls_webpki() {
    use rustls_pki_types::{CertificateDer, UnixTime};
    use webpki::{
        BorrowedCertRevocationList, CertRevocationList, EndEntityCert, ExpirationPolicy, KeyUsage,
        RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy,
    };
    let pki = Pki::new("Agree");
    let revoked = pki.issue(&identity("00000025"), KeyAlgorithm::P256);
    let fine = pki.issue(&identity("00000026"), KeyAlgorithm::P256);
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let t = OffsetDateTime::now_utc();
    let entries = [(revoked.serial(), Some(RevocationReason::KeyCompromise))];
    let crls = [
        pki.fresh_crl(&entries),
        pki.crl(
            &entries,
            t - Duration::hours(1),
            t + Duration::days(1),
            Some(other),
        ),
        Pki::new("Elsewhere").fresh_crl(&[]),
    ];
    let anchors =
        [
            webpki::anchor_from_trusted_cert(&CertificateDer::from(pki.root_der.as_slice()))
                .unwrap()
                .to_owned(),
        ];
    let inters = [CertificateDer::from(pki.issuing_der.clone())];
    for crl_der in &crls {
        let crl = CertRevocationList::from(BorrowedCertRevocationList::from_der(crl_der).unwrap());
        let list = [&crl];
        let options = RevocationOptionsBuilder::new(&list)
            .unwrap()
            .with_depth(RevocationCheckDepth::EndEntity)
            .with_status_policy(UnknownStatusPolicy::Deny)
            .with_expiration_policy(ExpirationPolicy::Enforce)
            .build();
        let inspector = pki.inspector(std::slice::from_ref(crl_der), None, now());
        for robot in [&revoked, &fine] {
            let der = CertificateDer::from(robot.der.as_slice());
            let ee = EndEntityCert::try_from(&der).unwrap();
            let theirs = ee.verify_for_usage(
                robotid_verifier::chain::SIGNATURE_ALGORITHMS,
                &anchors,
                &inters,
                UnixTime::now(),
                KeyUsage::required(oid::ID_KP_ROBOT_IDENTITY.as_bytes()),
                Some(options),
                None,
            );
            let ours = inspect(&inspector, &robot.der);
            assert_eq!(
                theirs.is_ok(),
                status(&ours, "revocation") == Status::Pass,
                "webpki {:?} vs ours:\n{}",
                theirs.err(),
                ours.to_text()
            );
        }
    }
}
