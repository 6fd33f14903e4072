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

/// Issue 17 finding 4 (x509-limbo `expired-root`): a root outside its
/// validity anchors nothing, as OpenSSL says "certificate has expired" at
/// depth 2. The expired root here has the real root's name and key, so
/// every signature on the path verifies and only its dates are wrong.
#[test]
fn an_expired_root_anchors_nothing() {
    let pki = Pki::new("Expired root");
    let robot = pki.issue(&identity("00001234"), KeyAlgorithm::P256);
    let root_key = robotid_issuer::keys::read_key(
        &pki.dir
            .path()
            .join("ca")
            .join(robotid_issuer::ceremony::files::ROOT_KEY),
    )
    .unwrap();
    let expired_root = {
        use der::{Decode, Encode};
        use rcgen::SigningKey;
        let mut cert = x509_cert::Certificate::from_der(&pki.root_der).unwrap();
        let at = |year: u64| {
            x509_cert::time::Time::UtcTime(
                der::asn1::UtcTime::from_unix_duration(std::time::Duration::from_secs(
                    (year - 1970) * 365 * 86_400 + 30 * 86_400,
                ))
                .unwrap(),
            )
        };
        cert.tbs_certificate.validity.not_before = at(2000);
        cert.tbs_certificate.validity.not_after = at(2001);
        let tbs = cert.tbs_certificate.to_der().unwrap();
        cert.signature = der::asn1::BitString::from_bytes(&root_key.sign(&tbs).unwrap()).unwrap();
        cert.to_der().unwrap()
    };
    let inspector =
        robotid_verifier::inspect::Inspector::new(robotid_verifier::inspect::InspectorConfig {
            anchors: vec![expired_root.clone().into()],
            intermediates: vec![pki.issuing_der.clone().into()],
            crls: vec![],
            policy: None,
            at: now(),
        })
        .unwrap();
    let report = inspect(&inspector, &robot.der);
    assert_fails(&report, "chain", "ca_validity");
    // The path validation the CA uses says the same.
    let e = robotid_verifier::chain::verify_path(
        &robot.der,
        &[pki.issuing_der.clone().into()],
        &[expired_root.into()],
        u64::try_from(now()).unwrap(),
        robotid_verifier::chain::Purpose::RobotIdentity,
    )
    .unwrap_err();
    assert_eq!(e, robotid_verifier::chain::ChainError::AnchorExpired);
    // The real root still anchors it.
    let report = inspect(&pki.inspector(&[], None, now()), &robot.der);
    assert_eq!(
        status(&report, "chain"),
        Status::Pass,
        "{}",
        report.to_text()
    );
}

/// Issue 17 finding 5: the profile allows only its own extensions, and
/// only those RFC 5280 lets be critical may be.
#[test]
fn extensions_outside_the_profile_fail_it() {
    let pki = Pki::new("Extensions");
    let id = identity("00001234");
    // A critical NameConstraints (permitted DNS example.com).
    let name_constraints = rcgen::CustomExtension::from_oid_content(
        &[2, 5, 29, 30],
        vec![
            0x30, 0x0f, 0xa0, 0x0d, 0x30, 0x0b, 0x82, 0x09, b'r', b'o', b'b', b'o', b't', b'.',
            b'o', b'r', b'g',
        ],
    );
    let mut critical_nc = name_constraints;
    critical_nc.set_criticality(true);
    let robot = pki.hand_made_with(&id, |p| p.custom_extensions.push(critical_nc));
    let report = inspect(&pki.inspector(&[], None, now()), &robot.der);
    assert_fails(&report, "profile", "profile");
    assert!(
        report.to_text().contains("extensions.allowed"),
        "{}",
        report.to_text()
    );
    let v = robotid_verifier::profile::check_robot_certificate(&robot.der).unwrap_err();
    assert!(v.breaks("extensions.allowed"), "{v}");

    // A critical SAN beside a non-empty subject: RFC 5280 4.2.1.6 wants it
    // non-critical.
    let robot = pki.hand_made_with(&id, |p| {
        let san = std::mem::take(&mut p.subject_alt_names);
        let rcgen::SanType::URI(uri) = &san[0] else {
            unreachable!()
        };
        let content = yasna_san(uri.as_str());
        let mut ext = rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 17], content);
        ext.set_criticality(true);
        p.custom_extensions.push(ext);
    });
    let v = robotid_verifier::profile::check_robot_certificate(&robot.der).unwrap_err();
    assert!(v.breaks("extensions.critical"), "{v}");

    // The template itself passes.
    let robot = pki.hand_made_with(&id, |_| {});
    robotid_verifier::profile::check_robot_certificate(&robot.der).unwrap();
}

/// DER of a subjectAltName holding one URI.
fn yasna_san(uri: &str) -> Vec<u8> {
    let bytes = uri.as_bytes();
    let len = u8::try_from(bytes.len()).unwrap();
    let mut out = vec![0x30, len + 2, 0x86, len];
    out.extend_from_slice(bytes);
    out
}

/// Issue 17 finding 6: a CRL without CRLNumber, or with a critical one, is
/// not trusted (RFC 5280 5.2.3; OpenSSL error 36 for the critical one).
#[test]
fn a_crl_without_a_non_critical_number_is_refused() {
    let pki = Pki::new("CRL number");
    let good = pki.fresh_crl(&[]);
    robotid_verifier::crl::Crl::from_der(&good, "good.crl").unwrap();
    let missing = resign_crl(&pki, &good, |exts| {
        exts.retain(|e| e.extn_id != const_oid::db::rfc5280::ID_CE_CRL_NUMBER);
    });
    let critical = resign_crl(&pki, &good, |exts| {
        for e in exts.iter_mut() {
            if e.extn_id == const_oid::db::rfc5280::ID_CE_CRL_NUMBER {
                e.critical = true;
            }
        }
    });
    for (name, crl) in [("missing", missing), ("critical", critical)] {
        let e = robotid_verifier::crl::Crl::from_der(&crl, name).unwrap_err();
        assert!(e.reason.contains("CRLNumber"), "{name}: {}", e.reason);
    }
}

/// `crl` with its extensions edited, signed again with the issuing CA's key.
fn resign_crl(
    pki: &Pki,
    crl: &[u8],
    edit: impl FnOnce(&mut Vec<x509_cert::ext::Extension>),
) -> Vec<u8> {
    use der::{Decode, Encode};
    use rcgen::SigningKey;
    let mut list = x509_cert::crl::CertificateList::from_der(crl).unwrap();
    let mut exts = list.tbs_cert_list.crl_extensions.take().unwrap_or_default();
    edit(&mut exts);
    list.tbs_cert_list.crl_extensions = Some(exts);
    let tbs = list.tbs_cert_list.to_der().unwrap();
    let signature = pki.issuer.key().sign(&tbs).unwrap();
    list.signature = der::asn1::BitString::from_bytes(&signature).unwrap();
    list.to_der().unwrap()
}
