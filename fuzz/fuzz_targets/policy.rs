//! Policy files, TOML: model rules (`robotid admin model add --rules`, and
//! the CA vets every request with them) and market-entry policies
//! (`robotid-verify --policy`), each then applied to a sample robot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use robotid_issuer::csr::VerifiedCsr;
use robotid_issuer::vetting;
use robotid_verifier::policy::{Policy, PolicySubject};
use robotid_verifier::profile::KeyAlgorithm;
use robotid_verifier::rules::ModelRules;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let identity = robotid_fuzz::sample_identity();
    match ModelRules::from_toml(text, "fuzz.toml") {
        Ok(rules) => {
            if let Some(identity) = identity.cloned() {
                let request = VerifiedCsr {
                    identity,
                    spki_der: Vec::new(),
                    key_algorithm: KeyAlgorithm::P256,
                    der: Vec::new(),
                };
                let model = robotid_fuzz::model(Some(rules));
                if let Err(r) = vetting::vet(&request, &robotid_fuzz::manufacturer(), Some(&model))
                {
                    let _ = r.to_string();
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match Policy::from_toml(text, "fuzz.toml") {
        Ok(policy) => {
            let policies = [robotid_verifier::oid::ID_ROBOTID];
            for (not_before, at) in [(0, 0), (1_800_000_000, 1_700_000_000), (0, i64::MAX)] {
                let subject = PolicySubject {
                    identity,
                    key_algorithm: Some(KeyAlgorithm::P384),
                    certificate_policies: &policies,
                    not_before,
                    at,
                };
                let _ = policy.evaluate(&subject);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
