//! The CA's CSR intake, as the server runs it on a manufacturer's upload:
//! PEM or DER, PKCS#10 parsing, the signature (proof of possession), the
//! RobotIdentity, then vetting against the registry's records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use robotid_issuer::{csr, vetting};

fuzz_target!(|data: &[u8]| {
    let verified = csr::decode_pem_or_der(data).and_then(|der| csr::verify(&der));
    match verified {
        Ok(request) => {
            let model = robotid_fuzz::model(None);
            match vetting::vet(&request, &robotid_fuzz::manufacturer(), Some(&model)) {
                Ok(vetted) => {
                    let _ = vetted.identity().to_der();
                }
                Err(refusal) => {
                    let _ = refusal.to_string();
                }
            }
        }
        Err(e) => {
            let _ = (e.rule(), e.to_string());
        }
    }
});
