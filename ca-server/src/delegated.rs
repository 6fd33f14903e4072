//! The server's delegated signers: keys that sign for the issuing CA for
//! one purpose each, certified by it from the issuer's template for that
//! purpose, and replaced when a third of their certificate's life is left.
//!
//! - The OCSP signer (id-kp-OCSPSigning, ocsp-nocheck) keeps its key and
//!   certificate in the CA folder, so responses signed before a restart
//!   stay verifiable; a new pair is written beside the old one and renamed
//!   into place, so a crash leaves either pair whole (a mismatched pair is
//!   refused by [`DelegatedSigner::load`] and replaced at the next start).
//! - The lifecycle signer (id-robotid.2.3) lives in memory only: nothing
//!   signed with it needs it again (a bundle carries its certificate), so
//!   each process makes its own.
//!
//! Every new certificate is recorded in the registry before the issuing
//! key signs it, and completed after.

use std::path::{Path, PathBuf};

use der::Decode;
use rcgen::{KeyPair, PublicKeyData, SigningKey};
use robotid_issuer::ceremony::files;
use robotid_issuer::keys::{self, KeyAlgorithm};
use robotid_issuer::signer::Signer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_cert::Certificate;

pub use robotid_issuer::delegated::Purpose;

use crate::store::{CaCertificate, Store, StoreError};

use robotid_issuer::key::KeyFailure;
use robotid_issuer::signer::IssueError;

/// The lock file beside the OCSP signer's pair in the CA folder.
const ROTATION_LOCK: &str = "ocsp-signer.lock";
/// How long a server waits for another to finish rotating (a key, one
/// signature and two registry writes; far less in practice).
const ROTATION_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Why a delegated signer could not be loaded, certified or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DelegatedError {
    /// A file of the signer is missing, unreadable or does not match.
    #[error("{purpose:?} signer {path}: {reason}")]
    File {
        /// Which signer.
        purpose: Purpose,
        /// The file or folder.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The issuing CA refused to certify the key.
    #[error("{purpose:?} signer: certifying a new key: {reason}")]
    Certify {
        /// Which signer.
        purpose: Purpose,
        /// Why.
        reason: String,
    },
    /// The issuing CA's key is unavailable (its token absent or its
    /// session lost); nothing was signed.
    #[error("{purpose:?} signer: the issuing CA key is unavailable: {reason}")]
    KeyUnavailable {
        /// Which signer.
        purpose: Purpose,
        /// Why (names the token, never its PIN).
        reason: String,
    },
    /// The registry did not record the certificate; nothing was signed
    /// unless it failed on completion.
    #[error("{purpose:?} signer: recording its certificate: {source}")]
    Record {
        /// Which signer.
        purpose: Purpose,
        /// Why.
        source: StoreError,
    },
}

/// A delegated signer's key and certificate, loaded.
pub struct DelegatedKey {
    key: KeyPair,
    /// Its certificate, as relying parties receive it.
    pub cert: Certificate,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// SHA-1 of its public key (an OCSP responder ID byKey, RFC 5019).
    pub key_hash: [u8; 20],
    /// notAfter of its certificate, unix seconds.
    pub not_after: i64,
    /// notBefore of its certificate, unix seconds.
    pub not_before: i64,
}

impl DelegatedKey {
    /// The pair of `key` and the certificate `der`, checked to belong
    /// together.
    fn of(key: KeyPair, der: Vec<u8>) -> Result<Self, String> {
        let cert = Certificate::from_der(&der).map_err(|e| e.to_string())?;
        let public = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        if public != key.der_bytes() {
            return Err("the key does not belong to the certificate".into());
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
            cert_der: der,
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

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> String {
        robotid_issuer::pem::encode("CERTIFICATE", &self.cert_der)
    }
}

/// One delegated signer: its purpose, the CA's name for its subject, and
/// where its key lives.
#[derive(Clone, Debug)]
pub struct DelegatedSigner {
    purpose: Purpose,
    ca_name: String,
    /// The CA folder holding the key and certificate; `None`: memory only.
    folder: Option<PathBuf>,
}

impl DelegatedSigner {
    /// The OCSP signer of the CA `ca_name`, whose files are in `ca_dir`.
    pub fn ocsp(ca_name: impl Into<String>, ca_dir: &Path) -> Self {
        Self {
            purpose: Purpose::Ocsp,
            ca_name: ca_name.into(),
            folder: Some(ca_dir.to_path_buf()),
        }
    }

    /// The lifecycle signer of the CA `ca_name`, in memory.
    pub fn lifecycle(ca_name: impl Into<String>) -> Self {
        Self {
            purpose: Purpose::Lifecycle,
            ca_name: ca_name.into(),
            folder: None,
        }
    }

    /// What it signs.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    fn file_error(&self, path: &Path, reason: impl std::fmt::Display) -> DelegatedError {
        DelegatedError::File {
            purpose: self.purpose,
            path: path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The key and certificate files, for a signer kept in a folder.
    fn paths(&self) -> Option<(PathBuf, PathBuf)> {
        self.folder
            .as_ref()
            .map(|dir| (dir.join(files::OCSP_KEY), dir.join(files::OCSP_CERT)))
    }

    /// Loads the signer from its folder, checking that the key belongs to
    /// the certificate. A signer in memory has nothing to load.
    pub fn load(&self) -> Result<DelegatedKey, DelegatedError> {
        let Some((key_path, cert_path)) = self.paths() else {
            return Err(self.file_error(Path::new("(memory)"), "kept in memory only"));
        };
        let pem = std::fs::read(&cert_path).map_err(|e| self.file_error(&cert_path, e))?;
        let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem)
            .map_err(|e| self.file_error(&cert_path, e))?;
        let key = keys::read_key(&key_path).map_err(|e| self.file_error(&key_path, e))?;
        DelegatedKey::of(key, der.as_ref().to_vec()).map_err(|e| self.file_error(&key_path, e))
    }

    /// Makes a new key, has the issuing CA certify it (recorded in
    /// `store` before it is signed) and, for a signer in a folder, puts the
    /// pair in place of the old one.
    pub async fn rotate(
        &self,
        signer: &Signer,
        store: &Store,
        now: OffsetDateTime,
    ) -> Result<DelegatedKey, DelegatedError> {
        let purpose = self.purpose;
        let certify = |e: &dyn std::fmt::Display| DelegatedError::Certify {
            purpose,
            reason: e.to_string(),
        };
        let record = |source| DelegatedError::Record { purpose, source };
        let key = keys::generate(KeyAlgorithm::P256).map_err(|e| certify(&e))?;
        let prepared = signer
            .prepare_delegated(purpose, &self.ca_name, &key.subject_public_key_info(), now)
            .map_err(|e| certify(&e))?;
        let recorded = CaCertificate::of(&prepared);
        store
            .record_ca_certificate(&recorded)
            .await
            .map_err(record)?;
        let issued = signer.issue(prepared).map_err(|e| match e {
            IssueError::Key(KeyFailure::Unavailable(reason)) => {
                DelegatedError::KeyUnavailable { purpose, reason }
            }
            other => certify(&other),
        })?;
        store
            .complete_ca_certificate(&recorded.serial_hex, &issued.der)
            .await
            .map_err(record)?;
        let Some((key_path, cert_path)) = self.paths() else {
            return DelegatedKey::of(key, issued.der).map_err(|e| certify(&e));
        };
        let pem = robotid_issuer::pem::encode("CERTIFICATE", &issued.der);
        let staged = |p: &Path| -> PathBuf { PathBuf::from(format!("{}.new", p.display())) };
        let (key_new, cert_new) = (staged(&key_path), staged(&cert_path));
        for stale in [&key_new, &cert_new] {
            match std::fs::remove_file(stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(self.file_error(stale, e));
                }
                _ => {}
            }
        }
        keys::write_key(&key_new, &key).map_err(|e| self.file_error(&key_new, e))?;
        keys::write_private(&cert_new, pem.as_bytes())
            .map_err(|e| self.file_error(&cert_new, e))?;
        for (from, to) in [(&key_new, &key_path), (&cert_new, &cert_path)] {
            std::fs::rename(from, to).map_err(|e| self.file_error(to, e))?;
        }
        self.load()
    }

    /// Takes the CA folder's rotation lock: an exclusive `flock` on
    /// `ocsp-signer.lock`, held until the returned file is dropped. Several
    /// servers share one CA folder; the lock makes one of them rotate and
    /// the others wait, then load the pair it wrote, so no server reads a
    /// half-replaced pair and no two write one (issue 16, item 6).
    async fn rotation_lock(&self) -> Result<Option<std::fs::File>, DelegatedError> {
        let Some(dir) = &self.folder else {
            return Ok(None);
        };
        let path = dir.join(ROTATION_LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| self.file_error(&path, e))?;
        let deadline = std::time::Instant::now() + ROTATION_LOCK_WAIT;
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(Some(file)),
                Err(rustix::io::Errno::WOULDBLOCK) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
                Err(e) => return Err(self.file_error(&path, format!("locking for rotation: {e}"))),
            }
        }
    }

    /// Loads the signer, replacing it first if it is due, unusable or does
    /// not match its key, or if it is kept in memory. A loaded certificate
    /// the registry does not know (the ceremony's, signed before there was
    /// a registry) is recorded as found. For a signer in a folder this runs
    /// under the folder's rotation lock: of several servers sharing the
    /// folder one rotates, and the others load what it wrote.
    pub async fn load_or_rotate(
        &self,
        signer: &Signer,
        store: &Store,
        now: OffsetDateTime,
    ) -> Result<DelegatedKey, DelegatedError> {
        if self.folder.is_none() {
            return self.rotate(signer, store, now).await;
        }
        let _lock = self.rotation_lock().await?;
        match self.load() {
            Ok(key) if !key.due_for_rotation(now.unix_timestamp()) => {
                self.adopt(&key, store).await?;
                Ok(key)
            }
            Ok(key) => {
                tracing::info!(purpose = ?self.purpose, "delegated signer certificate is due for rotation; replacing it");
                match self.rotate(signer, store, now).await {
                    // Due is not expired: with the issuing key's token
                    // away, the current signer serves until it is back.
                    Err(e @ DelegatedError::KeyUnavailable { .. })
                        if key.not_after > now.unix_timestamp() =>
                    {
                        tracing::warn!(error = %e, "delegated signer kept until the issuing CA key is available");
                        self.adopt(&key, store).await?;
                        Ok(key)
                    }
                    other => other,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "delegated signer unusable; issuing a new one");
                self.rotate(signer, store, now).await
            }
        }
    }

    /// Records a certificate found on disk that the registry lacks.
    async fn adopt(&self, key: &DelegatedKey, store: &Store) -> Result<(), DelegatedError> {
        adopt(
            store,
            &key.cert_der,
            robotid_issuer::signer::CertificateKind::OcspSigner,
        )
        .await
        .map_err(|source| DelegatedError::Record {
            purpose: self.purpose,
            source,
        })
    }
}

/// Records in the registry a certificate of the CA's own that was signed
/// before the registry could record it (by the ceremony, or by a server
/// from before certificates of this kind were recorded). Nothing if it is
/// recorded already.
pub async fn adopt(
    store: &Store,
    der: &[u8],
    kind: robotid_issuer::signer::CertificateKind,
) -> Result<(), StoreError> {
    let invalid = |detail: String| StoreError::Invalid {
        what: "CA certificate",
        detail,
    };
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| invalid(e.to_string()))?;
    let serial_hex = hex::encode(cert.raw_serial());
    if store.ca_certificate(&serial_hex).await?.is_some() {
        return Ok(());
    }
    let subject = robotid_issuer::signer::common_name(&cert);
    store
        .record_ca_certificate(&CaCertificate {
            serial_hex: serial_hex.clone(),
            kind: kind.as_str().to_owned(),
            subject,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            der: None,
        })
        .await?;
    store.complete_ca_certificate(&serial_hex, der).await
}
