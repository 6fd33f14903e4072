//! The production date's rules (issue 22, class 4): midnight UTC, not
//! before the profile's earliest date, not after issuance plus one day;
//! the offline verifier fails a certificate that breaks them (a robot
//! dated 9999-12-31 passed under the baseline policy).

// Test helpers unwrap: a panic with the error is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Pki, identity, now, shipped_policy};
use robotid_issuer::csr;
use robotid_issuer::vetting::{self, ModelRecord};
use robotid_verifier::inspect::RobotEvidence;
use robotid_verifier::report::{Status, Verdict};
use robotid_verifier::rules::ModelRules;

#[test]
fn a_certificate_dated_after_its_issuance_fails_the_profile() {
    let pki = Pki::new("Dates");
    let mut id = identity("00000001");
    id.production_date = der::DateTime::new(9999, 12, 31, 0, 0, 0).unwrap();
    let robot = pki.hand_made(&id, true, None);
    let inspector = pki.inspector(&[], Some(shipped_policy("baseline")), now());
    let report = inspector
        .inspect(&robot.der, &[], &RobotEvidence::default())
        .unwrap();
    assert_eq!(report.verdict, Verdict::Fail, "{}", report.to_text());
    let text = report.to_text();
    assert!(text.contains("identity.production_date"), "{text}");
    assert!(text.contains("9999-12-31"), "{text}");
    assert_eq!(
        report.check("chain").unwrap().status,
        Status::Pass,
        "{text}"
    );
}

#[test]
fn the_issuance_core_refuses_a_date_after_tomorrow() {
    let pki = Pki::new("Dates");
    let today = time::OffsetDateTime::now_utc().date();
    let day = |d: time::Date| {
        der::DateTime::new(
            u16::try_from(d.year()).unwrap(),
            u8::from(d.month()),
            d.day(),
            0,
            0,
            0,
        )
        .unwrap()
    };
    // Tomorrow (UTC) is allowed: the manufacturer's day may have begun.
    let mut id = identity("00000002");
    id.production_date = day(today.next_day().unwrap());
    pki.issue(&id, robotid_verifier::profile::KeyAlgorithm::P256);
    for date in [
        day(today.next_day().unwrap().next_day().unwrap()),
        der::DateTime::new(2099, 1, 1, 0, 0, 0).unwrap(),
        der::DateTime::new(9999, 12, 31, 0, 0, 0).unwrap(),
    ] {
        let e = robotid_verifier::identity::check_production_date_at(&date, now()).unwrap_err();
        assert_eq!(
            e.rule(),
            robotid_verifier::rule::Rule::IdentityProductionDate,
            "{e}"
        );
        // The CA's vetting refuses it, naming the rule and the field.
        let mut id = identity("00000003");
        id.production_date = date;
        let key = rcgen::KeyPair::generate().unwrap();
        let request = csr::verify(&csr::create(&id, &key).unwrap()).unwrap();
        let model = ModelRecord {
            manufacturer_code: "UBX".into(),
            model: "WK5".into(),
            rules: ModelRules::from_toml(common::RULES, "test").unwrap(),
        };
        let refusal = vetting::vet(&request, &common::manufacturer(), Some(&model)).unwrap_err();
        assert_eq!(refusal.rule, "identity.production_date", "{refusal}");
        assert_eq!(refusal.field, "production_date", "{refusal}");
    }
}
