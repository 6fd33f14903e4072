//! The delegated OCSP signer is replaced before it expires, and a key that
//! does not match its certificate (a crash between the two renames) is
//! replaced too; the new certificate is a valid OCSP signer of the issuing CA.

// Reason: a test should stop at the first unexpected error, loudly.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use robotid_ca::revocation::responder_key::{ResponderKey, load_or_rotate};
use robotid_issuer::ceremony::{self, CaConfig, files};
use robotid_issuer::signer::{Signer, SignerConfig};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

fn ca(dir: &Path) -> Signer<rcgen::KeyPair> {
    let config = CaConfig {
        name: "Rotation Test".into(),
        public_url: "http://127.0.0.1:8080".into(),
    };
    ceremony::init(dir, &config).unwrap();
    let loaded = ceremony::load(dir).unwrap();
    Signer::new(
        loaded.issuing_der,
        loaded.issuing_key,
        vec![loaded.root_der],
        SignerConfig::new(config.public_url),
    )
    .unwrap()
}

/// The signer's certificate is signed by the issuing CA and is an OCSP
/// signer (EKU id-kp-OCSPSigning) with ocsp-nocheck.
fn check_issued_by(key: &ResponderKey, signer: &Signer<rcgen::KeyPair>) {
    use der::Encode;
    let der = key.cert.to_der().unwrap();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let (_, issuer) = X509Certificate::from_der(signer.issuer_der()).unwrap();
    cert.verify_signature(Some(issuer.public_key())).unwrap();
    let eku = cert.extended_key_usage().unwrap().unwrap();
    assert!(eku.value.ocsp_signing);
    assert!(
        cert.extensions()
            .iter()
            .any(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.48.1.5"),
        "ocsp-nocheck"
    );
}

#[test]
fn the_signer_is_replaced_in_the_last_third_of_its_life() {
    let dir = tempfile::tempdir().unwrap();
    let signer = ca(dir.path());
    let now = OffsetDateTime::now_utc();
    let first = ResponderKey::load(dir.path()).unwrap();
    assert!(!first.due_for_rotation(now.unix_timestamp()));
    let kept = load_or_rotate(dir.path(), &signer, now).unwrap();
    assert_eq!(kept.key_hash, first.key_hash, "not due: kept");

    let later = now + Duration::days(70);
    assert!(first.due_for_rotation(later.unix_timestamp()));
    let second = load_or_rotate(dir.path(), &signer, later).unwrap();
    assert_ne!(second.key_hash, first.key_hash, "a new key");
    assert!(second.not_after > first.not_after + 60 * 24 * 3600);
    check_issued_by(&second, &signer);
    // What is on disk is the new pair, and the key is private.
    let reloaded = ResponderKey::load(dir.path()).unwrap();
    assert_eq!(reloaded.key_hash, second.key_hash);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(files::OCSP_KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let signer = ca(dir.path());
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(dir.path().join(files::OCSP_KEY), other.serialize_pem()).unwrap();
    assert!(ResponderKey::load(dir.path()).is_err());
    let replaced = load_or_rotate(dir.path(), &signer, OffsetDateTime::now_utc()).unwrap();
    check_issued_by(&replaced, &signer);
    ResponderKey::load(dir.path()).unwrap();
}
