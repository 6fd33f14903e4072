//! The inspector's CRL loading and lookup (`robotid-verify --crl`).
//!
//! The input is a tbsCertList. It is read once as a whole CRL (the outer
//! structure), then signed here with a fixed Ed25519 key so that the CRL
//! passes its signature check and the fuzzer reaches the revocation
//! lookup: scan first, then the by-serial map.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};
use robotid_fuzz::tlv;
use robotid_verifier::crl::{Crl, IssuerFacts, LeafFacts, Revocation};
use x509_parser::prelude::FromDer;

const ED25519_ALGORITHM: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

fuzz_target!(|data: &[u8]| {
    if let Err(e) = Crl::from_der(data, "raw.crl") {
        let _ = e.to_string();
    }
    let Ok(key) = Ed25519KeyPair::from_seed_unchecked(&[7; 32]) else {
        return;
    };
    let mut body = data.to_vec();
    body.extend_from_slice(ED25519_ALGORITHM);
    let mut signature = vec![0];
    signature.extend_from_slice(key.sign(data).as_ref());
    body.extend(tlv(0x03, &signature));
    let der = tlv(0x30, &body);
    let crl = match Crl::from_der(&der, "fuzz.crl") {
        Ok(crl) => crl,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let Ok(parsed) = webpki::BorrowedCertRevocationList::from_der(&der) else {
        return;
    };
    let issuer = webpki::CertRevocationList::from(parsed).issuer().to_vec();
    let mut serials: Vec<Vec<u8>> = vec![vec![1], vec![0x7f, 0x3a, 0x9c], Vec::new()];
    if let Ok((_, list)) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der) {
        serials.extend(
            list.iter_revoked_certificates()
                .map(|e| e.raw_serial().to_vec()),
        );
    }
    let mut spki = ED25519_ALGORITHM.to_vec();
    let mut public = vec![0];
    public.extend_from_slice(key.public_key().as_ref());
    spki.extend(tlv(0x03, &public));
    let spki = tlv(0x30, &spki);
    let uris = vec!["http://crl.example.test/issuing-1.crl".to_owned()];
    let this_update = crl.this_update();
    let revocation = Revocation::new(vec![crl], this_update, i64::MAX);
    let issuer_facts = IssuerFacts {
        spki_der: &spki,
        name: "fuzz CA",
        crl_sign: true,
    };
    for serial in &serials {
        for crl_uris in [None, Some(uris.as_slice())] {
            let leaf = LeafFacts {
                issuer: &issuer,
                serial,
                crl_uris,
            };
            let _ = revocation.check(&leaf, &issuer_facts);
        }
    }
});
