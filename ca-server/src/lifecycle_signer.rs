//! The lifecycle signer: the key that signs the head of a robot's history
//! chain when it is exported, and its certificate from the issuing CA
//! (key purpose id-robotid.2.3, lifecycle signing), so that an inspector
//! checks the signature offline against the root alone.
//!
//! Each server process makes its own key at start and keeps it in memory
//! only ([`DelegatedSigner::lifecycle`]): nothing signed with it needs it
//! again (a bundle carries the certificate), so there is no file to
//! protect or rotate in place. The certificate lives 90 days and is
//! replaced when a third of that is left.

use std::sync::{Arc, RwLock};

use robotid_verifier::history::bundle::HEAD_ALGORITHM;
use time::OffsetDateTime;

use crate::ca::Ca;
use crate::delegated::{DelegatedError, DelegatedKey, DelegatedSigner};

/// Life of a lifecycle signer certificate.
pub const SIGNER_VALIDITY: time::Duration = robotid_issuer::delegated::VALIDITY;

/// Why the signer could not be made or could not sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleSignerError {
    /// The issuing CA's key is unavailable to certify a new signer.
    #[error("lifecycle signer: {0}")]
    KeyUnavailable(String),
    /// Any other failure.
    #[error("lifecycle signer: {0}")]
    Other(String),
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
pub struct LifecycleSigner {
    authority: Arc<Ca>,
    delegated: DelegatedSigner,
    /// None while the issuing key was unavailable to certify one (a
    /// token absent at start): the first head signed certifies it.
    current: RwLock<Option<Arc<DelegatedKey>>>,
}

fn err(e: impl std::fmt::Display) -> LifecycleSignerError {
    LifecycleSignerError::Other(e.to_string())
}

fn rotation_err(e: DelegatedError) -> LifecycleSignerError {
    match e {
        DelegatedError::KeyUnavailable { .. } => {
            LifecycleSignerError::KeyUnavailable(e.to_string())
        }
        other => err(other),
    }
}

impl LifecycleSigner {
    /// Makes a key and has the issuing CA certify it (recorded in the
    /// registry first). If the issuing key is unavailable (its token
    /// absent) the server starts anyway and the first head signed once the
    /// token is back certifies a key.
    pub async fn start(authority: Arc<Ca>) -> Result<Self, LifecycleSignerError> {
        let delegated = DelegatedSigner::lifecycle(authority.certs.name.clone());
        let current = match delegated
            .rotate(
                &authority.signer,
                &authority.store,
                OffsetDateTime::now_utc(),
            )
            .await
            .map_err(rotation_err)
        {
            Ok(key) => Some(Arc::new(key)),
            Err(LifecycleSignerError::KeyUnavailable(reason)) => {
                tracing::warn!(%reason, "lifecycle signer not certified yet: the issuing CA key is unavailable");
                None
            }
            Err(e) => return Err(e),
        };
        Ok(Self {
            authority,
            delegated,
            current: RwLock::new(current),
        })
    }

    async fn current(
        &self,
        now: OffsetDateTime,
    ) -> Result<Arc<DelegatedKey>, LifecycleSignerError> {
        let held = self
            .current
            .read()
            .map_err(|_| err("lock poisoned"))?
            .clone();
        if let Some(held) = held
            && !held.due_for_rotation(now.unix_timestamp())
        {
            return Ok(held);
        }
        let fresh = Arc::new(
            self.delegated
                .rotate(&self.authority.signer, &self.authority.store, now)
                .await
                .map_err(rotation_err)?,
        );
        *self.current.write().map_err(|_| err("lock poisoned"))? = Some(Arc::clone(&fresh));
        tracing::info!("lifecycle signer certificate replaced");
        Ok(fresh)
    }

    /// Signs the head `(robot_id, seq, hash)` now.
    pub async fn sign_head(
        &self,
        robot_id: &str,
        seq: u64,
        hash: &[u8; 32],
    ) -> Result<HeadSignature, LifecycleSignerError> {
        let now = OffsetDateTime::now_utc();
        let current = self.current(now).await?;
        let signed_at = now.unix_timestamp();
        let message = robotid_verifier::history::head_message(robot_id, seq, hash, signed_at);
        let signature = current.sign(&message).map_err(err)?;
        Ok(HeadSignature {
            signed_at,
            algorithm: HEAD_ALGORITHM,
            signature,
            chain: vec![current.cert_pem(), self.authority.certs.chain_pem.clone()],
        })
    }
}
