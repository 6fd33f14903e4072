//! The verifier's strict `RobotIdentity` decoder (a certificate's or a
//! CSR's extension value). What it accepts must re-encode to the very same
//! bytes (DER is canonical), and goes on to vetting and a JSON report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use robotid_issuer::csr::VerifiedCsr;
use robotid_issuer::vetting;
use robotid_verifier::identity::RobotIdentity;
use robotid_verifier::profile::KeyAlgorithm;

fuzz_target!(|data: &[u8]| {
    let identity = match RobotIdentity::from_der(data) {
        Ok(identity) => identity,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let again = identity.to_der();
    assert_eq!(
        again.as_deref().ok(),
        Some(data),
        "a decoded RobotIdentity must re-encode to its own bytes: {again:?}"
    );
    let _ = serde_json::to_string(&identity);
    let request = VerifiedCsr {
        identity,
        spki_der: Vec::new(),
        key_algorithm: KeyAlgorithm::Ed25519,
        der: Vec::new(),
    };
    let model = robotid_fuzz::model(None);
    if let Err(refusal) = vetting::vet(&request, &robotid_fuzz::manufacturer(), Some(&model)) {
        let _ = refusal.to_string();
    }
});
