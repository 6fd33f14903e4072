//! The CA's CSR intake, as the server runs it on a manufacturer's upload:
//! PEM or DER, PKCS#10 parsing, the signature (proof of possession), the
//! RobotIdentity, then vetting against the registry's records. What it
//! accepts is DER: it re-encodes to its very bytes (decision 0025).
#![no_main]

use libfuzzer_sys::fuzz_target;
use robotid_issuer::{csr, vetting};

fuzz_target!(|data: &[u8]| {
    let verified = csr::decode_pem_or_der(data).and_then(|der| csr::verify(&der));
    match verified {
        Ok(request) => {
            use der::{Decode, Encode};
            let again = x509_cert::request::CertReq::from_der(&request.der)
                .and_then(|r| r.to_der())
                .ok();
            assert_eq!(
                again.as_deref(),
                Some(request.der.as_slice()),
                "an accepted CSR must be DER"
            );
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
