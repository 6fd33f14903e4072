//! The delegated OCSP signer is replaced before it expires, and a key that
//! does not match its certificate (a crash between the two renames) is
//! replaced too; the new certificate is a valid OCSP signer of the issuing CA.

// Reason: a test should stop at the first unexpected error, loudly.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use robotid_ca::delegated::DelegatedSigner;
use robotid_ca::revocation::responder_key::ResponderKey;
use robotid_ca::store::Store;
use robotid_issuer::ceremony::{self, CaConfig, files};
use robotid_issuer::signer::{Signer, SignerConfig};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

fn ca(dir: &Path) -> Signer {
    let config = CaConfig {
        name: "Rotation Test".into(),
        public_url: "http://127.0.0.1:8080".into(),
    };
    ceremony::init(dir, &config).unwrap();
    ceremony::load(dir)
        .unwrap()
        .into_signer(SignerConfig::new(config.public_url))
        .unwrap()
}

/// The OCSP signer of the CA in `dir`, and a registry beside it.
async fn responder(dir: &Path, registry: &Path) -> (DelegatedSigner, Store) {
    let store = Store::connect(&format!(
        "sqlite:{}",
        registry.join("registry.db").display()
    ))
    .await
    .unwrap();
    (DelegatedSigner::ocsp("Rotation Test", dir), store)
}

/// The signer's certificate is signed by the issuing CA and is an OCSP
/// signer (EKU id-kp-OCSPSigning) with ocsp-nocheck.
fn check_issued_by(key: &ResponderKey, signer: &Signer) {
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

#[tokio::test]
async fn the_signer_is_replaced_in_the_last_third_of_its_life() {
    let dir = tempfile::tempdir().unwrap();
    let registry = tempfile::tempdir().unwrap();
    let signer = ca(dir.path());
    let (ocsp, store) = responder(dir.path(), registry.path()).await;
    let now = OffsetDateTime::now_utc();
    let first = ocsp.load().unwrap();
    assert!(!first.due_for_rotation(now.unix_timestamp()));
    let kept = ocsp.load_or_rotate(&signer, &store, now).await.unwrap();
    assert_eq!(kept.key_hash, first.key_hash, "not due: kept");

    let later = now + Duration::days(70);
    assert!(first.due_for_rotation(later.unix_timestamp()));
    let second = ocsp.load_or_rotate(&signer, &store, later).await.unwrap();
    assert_ne!(second.key_hash, first.key_hash, "a new key");
    assert!(second.not_after > first.not_after + 60 * 24 * 3600);
    check_issued_by(&second, &signer);
    // What is on disk is the new pair, and the key is private.
    let reloaded = ocsp.load().unwrap();
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

#[tokio::test]
async fn a_key_that_does_not_match_its_certificate_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let registry = tempfile::tempdir().unwrap();
    let signer = ca(dir.path());
    let (ocsp, store) = responder(dir.path(), registry.path()).await;
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(dir.path().join(files::OCSP_KEY), other.serialize_pem()).unwrap();
    assert!(ocsp.load().is_err());
    let replaced = ocsp
        .load_or_rotate(&signer, &store, OffsetDateTime::now_utc())
        .await
        .unwrap();
    check_issued_by(&replaced, &signer);
    ocsp.load().unwrap();
}

/// A new signer certificate is in the registry, recorded then completed
/// with the DER relying parties receive; the ceremony's, signed before
/// there was a registry, is recorded when the server first loads it.
#[tokio::test]
async fn signer_certificates_are_recorded_in_the_registry() {
    use der::Encode;
    let dir = tempfile::tempdir().unwrap();
    let registry = tempfile::tempdir().unwrap();
    let signer = ca(dir.path());
    let (ocsp, store) = responder(dir.path(), registry.path()).await;
    let now = OffsetDateTime::now_utc();
    let first = ocsp.load_or_rotate(&signer, &store, now).await.unwrap();
    let serial_of =
        |key: &ResponderKey| hex::encode(key.cert.tbs_certificate.serial_number.as_bytes());
    let adopted = store
        .ca_certificate(&serial_of(&first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(adopted.kind, "ocsp_signer");
    assert_eq!(adopted.der, Some(first.cert.to_der().unwrap()));
    let second = ocsp.rotate(&signer, &store, now).await.unwrap();
    let recorded = store
        .ca_certificate(&serial_of(&second))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.kind, "ocsp_signer");
    assert_eq!(recorded.subject, "Rotation Test OCSP Signer");
    assert_eq!(recorded.not_after, second.not_after);
    assert_eq!(recorded.der, Some(second.cert.to_der().unwrap()));
}
