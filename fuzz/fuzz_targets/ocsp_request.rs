//! The OCSP responder's request reader (robotid-ca): the bytes any client
//! POSTs, or puts base64-encoded in a GET path. What it accepts asks about
//! 1 to 20 CertIDs with a nonce of 1 to 32 octets, if any, and each
//! CertID's serial renders as hex.
#![no_main]

use libfuzzer_sys::fuzz_target;
use robotid_ca::revocation::ocsp::{MAX_NONCE, MAX_REQUESTS, read_request, serial_hex};

fuzz_target!(|data: &[u8]| {
    match read_request(data) {
        Ok(request) => {
            assert!((1..=MAX_REQUESTS).contains(&request.ids.len()));
            if let Some(nonce) = &request.nonce {
                assert!((1..=MAX_NONCE).contains(&nonce.0.as_bytes().len()));
            }
            for id in &request.ids {
                let hex = serial_hex(id);
                assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
