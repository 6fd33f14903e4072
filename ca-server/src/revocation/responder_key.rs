//! The delegated OCSP signer: a short-lived certificate from the issuing CA
//! (id-kp-OCSPSigning, ocsp-nocheck) and its key, in the CA folder. The
//! server replaces it when a third of its life is left, so that no response
//! outlives the certificate that signs it.

use std::path::{Path, PathBuf};

use der::Decode;
use rcgen::{KeyPair, SigningKey};
use robotid_issuer::ceremony::{self, CaConfig, files};
use robotid_issuer::keys::{self, KeyAlgorithm};
use robotid_issuer::signer::Signer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_cert::Certificate;

/// Why the OCSP signer could not be loaded or replaced.
#[derive(Debug, thiserror::Error)]
#[error("OCSP signer {path}: {reason}")]
pub struct ResponderKeyError {
    /// The file or folder.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// The OCSP signer's key and certificate.
pub struct ResponderKey {
    /// Signs responses.
    pub key: KeyPair,
    /// Its certificate, included in every response.
    pub cert: Certificate,
    /// SHA-1 of its public key: the responder ID (byKey, RFC 5019).
    pub key_hash: [u8; 20],
    /// notAfter of its certificate, unix seconds.
    pub not_after: i64,
    /// notBefore of its certificate, unix seconds.
    pub not_before: i64,
}

fn error(path: &Path, reason: impl std::fmt::Display) -> ResponderKeyError {
    ResponderKeyError {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl ResponderKey {
    /// Loads the signer from the CA folder, checking that the key belongs
    /// to the certificate.
    pub fn load(ca_dir: &Path) -> Result<Self, ResponderKeyError> {
        let cert_path = ca_dir.join(files::OCSP_CERT);
        let key_path = ca_dir.join(files::OCSP_KEY);
        let pem = std::fs::read(&cert_path).map_err(|e| error(&cert_path, e))?;
        let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem)
            .map_err(|e| error(&cert_path, e))?;
        let cert = Certificate::from_der(der.as_ref()).map_err(|e| error(&cert_path, e))?;
        let key = keys::read_key(&key_path).map_err(|e| error(&key_path, e))?;
        let public = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        if public != rcgen::PublicKeyData::der_bytes(&key) {
            return Err(error(
                &key_path,
                "the key does not belong to the OCSP signer certificate",
            ));
        }
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, public);
        let mut key_hash = [0u8; 20];
        key_hash.copy_from_slice(digest.as_ref());
        let validity = &cert.tbs_certificate.validity;
        let secs = |t: &x509_cert::time::Time| -> i64 {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        Ok(Self {
            not_after: secs(&validity.not_after),
            not_before: secs(&validity.not_before),
            key,
            cert,
            key_hash,
        })
    }

    /// Whether the certificate is in the last third of its life at `now`.
    pub fn due_for_rotation(&self, now: i64) -> bool {
        let life = self.not_after.saturating_sub(self.not_before);
        now >= self.not_after.saturating_sub(life / 3)
    }

    /// Signs `message` (ECDSA P-256 with SHA-256, DER signature).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key.sign(message)
    }
}

/// Makes a new OCSP signer key and certificate with the issuing CA and puts
/// them in place of the old ones: written beside them, then renamed, so a
/// crash leaves either pair whole (a mismatched pair is refused by
/// [`ResponderKey::load`] and replaced again at the next start).
pub fn rotate<K: SigningKey>(
    ca_dir: &Path,
    signer: &Signer<K>,
    now: OffsetDateTime,
) -> Result<ResponderKey, ResponderKeyError> {
    let config_path = ca_dir.join(files::CONFIG);
    let config_text = std::fs::read_to_string(&config_path).map_err(|e| error(&config_path, e))?;
    let config: CaConfig = toml::from_str(&config_text).map_err(|e| error(&config_path, e))?;
    let key = keys::generate(KeyAlgorithm::P256).map_err(|e| error(ca_dir, e))?;
    // Backdated a minute, like the CA's other certificates, for relying
    // parties whose clocks are slightly behind.
    let params = ceremony::ocsp_signer_params(&config, now - time::Duration::minutes(1))
        .map_err(|e| error(ca_dir, e))?;
    let der = signer
        .sign_ocsp_signer(params, &key)
        .map_err(|e| error(ca_dir, e))?;
    let pem = robotid_issuer::pem::encode("CERTIFICATE", &der);
    let staged = |name: &str| -> PathBuf { ca_dir.join(format!("{name}.new")) };
    let (key_new, cert_new) = (staged(files::OCSP_KEY), staged(files::OCSP_CERT));
    for stale in [&key_new, &cert_new] {
        match std::fs::remove_file(stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(error(stale, e)),
            _ => {}
        }
    }
    keys::write_key(&key_new, &key).map_err(|e| error(&key_new, e))?;
    keys::write_private(&cert_new, pem.as_bytes()).map_err(|e| error(&cert_new, e))?;
    for (from, to) in [
        (&key_new, ca_dir.join(files::OCSP_KEY)),
        (&cert_new, ca_dir.join(files::OCSP_CERT)),
    ] {
        std::fs::rename(from, &to).map_err(|e| error(&to, e))?;
    }
    ResponderKey::load(ca_dir)
}

/// Loads the OCSP signer, replacing it first if it is due, unusable or
/// does not match its key.
pub fn load_or_rotate<K: SigningKey>(
    ca_dir: &Path,
    signer: &Signer<K>,
    now: OffsetDateTime,
) -> Result<ResponderKey, ResponderKeyError> {
    match ResponderKey::load(ca_dir) {
        Ok(key) if !key.due_for_rotation(now.unix_timestamp()) => Ok(key),
        Ok(_) => {
            tracing::info!("OCSP signer certificate is due for rotation; replacing it");
            rotate(ca_dir, signer, now)
        }
        Err(e) => {
            tracing::warn!(error = %e, "OCSP signer unusable; issuing a new one");
            rotate(ca_dir, signer, now)
        }
    }
}
