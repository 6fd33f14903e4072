//! The lifecycle signer: the key that signs the head of a robot's history
//! chain when it is exported, and its certificate from the issuing CA
//! (key purpose id-robotid.2.3, lifecycle signing), so that an inspector
//! checks the signature offline against the root alone.
//!
//! Each server process makes its own key at start and keeps it in memory
//! only: nothing signed with it needs it again (a bundle carries the
//! certificate), so there is no file to protect or rotate in place. The
//! certificate lives 90 days and is replaced when a third of that is left.

use std::sync::{Arc, RwLock};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SerialNumber, SigningKey,
};
use robotid_issuer::keys::{self, KeyAlgorithm};
use robotid_verifier::history::bundle::HEAD_ALGORITHM;
use robotid_verifier::oid;
use time::{Duration, OffsetDateTime};

use crate::ca::Ca;

/// Life of a lifecycle signer certificate.
pub const SIGNER_VALIDITY: Duration = Duration::days(90);

/// Why the signer could not be made or could not sign.
#[derive(Debug, thiserror::Error)]
#[error("lifecycle signer: {0}")]
pub struct HistorySignerError(String);

struct Current {
    key: KeyPair,
    cert_pem: String,
    not_before: i64,
    not_after: i64,
}

/// A signed chain head.
#[derive(Clone, Debug)]
pub struct HeadSignature {
    /// When it was signed, unix seconds.
    pub signed_at: i64,
    /// [`HEAD_ALGORITHM`].
    pub algorithm: &'static str,
    /// DER ECDSA signature.
    pub signature: Vec<u8>,
    /// The signer's certificate, then the issuing CA, PEM.
    pub chain: Vec<String>,
}

/// Signs chain heads for one server process.
pub struct HistorySigner {
    authority: Arc<Ca>,
    current: RwLock<Arc<Current>>,
}

fn err(e: impl std::fmt::Display) -> HistorySignerError {
    HistorySignerError(e.to_string())
}

fn issue(authority: &Ca, now: OffsetDateTime) -> Result<Current, HistorySignerError> {
    let key = keys::generate(KeyAlgorithm::P256).map_err(err)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, authority.certs.name.as_str());
    dn.push(
        DnType::CommonName,
        format!("{} Lifecycle Signer", authority.certs.name),
    );
    params.distinguished_name = dn;
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
        .map_err(|_| err("random source failed"))?;
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    // Backdated a minute, like the CA's other certificates.
    params.not_before = now - Duration::minutes(1);
    params.not_after = now + SIGNER_VALIDITY;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(oid::arcs_u64(
        &oid::ID_KP_LIFECYCLE_SIGNING,
    ))];
    params.use_authority_key_identifier_extension = true;
    let not_before = params.not_before.unix_timestamp();
    let not_after = params.not_after.unix_timestamp();
    let der = authority
        .signer
        .sign_ocsp_signer(params, &key)
        .map_err(err)?;
    Ok(Current {
        key,
        cert_pem: robotid_issuer::pem::encode("CERTIFICATE", &der),
        not_before,
        not_after,
    })
}

impl HistorySigner {
    /// Makes a key and has the issuing CA certify it.
    pub fn start(authority: Arc<Ca>) -> Result<Self, HistorySignerError> {
        let current = issue(&authority, OffsetDateTime::now_utc())?;
        Ok(Self {
            authority,
            current: RwLock::new(Arc::new(current)),
        })
    }

    fn current(&self, now: OffsetDateTime) -> Result<Arc<Current>, HistorySignerError> {
        let held = self
            .current
            .read()
            .map_err(|_| err("lock poisoned"))?
            .clone();
        let life = held.not_after.saturating_sub(held.not_before);
        if now.unix_timestamp() < held.not_after.saturating_sub(life / 3) {
            return Ok(held);
        }
        let fresh = Arc::new(issue(&self.authority, now)?);
        *self.current.write().map_err(|_| err("lock poisoned"))? = Arc::clone(&fresh);
        tracing::info!("lifecycle signer certificate replaced");
        Ok(fresh)
    }

    /// Signs the head `(robot_id, seq, hash)` now.
    pub fn sign_head(
        &self,
        robot_id: &str,
        seq: u64,
        hash: &[u8; 32],
    ) -> Result<HeadSignature, HistorySignerError> {
        let now = OffsetDateTime::now_utc();
        let current = self.current(now)?;
        let signed_at = now.unix_timestamp();
        let message = robotid_verifier::history::head_message(robot_id, seq, hash, signed_at);
        let signature = current.key.sign(&message).map_err(err)?;
        Ok(HeadSignature {
            signed_at,
            algorithm: HEAD_ALGORITHM,
            signature,
            chain: vec![
                current.cert_pem.clone(),
                self.authority.certs.chain_pem.clone(),
            ],
        })
    }
}
