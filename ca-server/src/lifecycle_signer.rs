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
use crate::delegated::{DelegatedKey, DelegatedSigner};

/// Life of a lifecycle signer certificate.
pub const SIGNER_VALIDITY: time::Duration = robotid_issuer::delegated::VALIDITY;

/// Why the signer could not be made or could not sign.
#[derive(Debug, thiserror::Error)]
#[error("lifecycle signer: {0}")]
pub struct LifecycleSignerError(String);

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
    current: RwLock<Arc<DelegatedKey>>,
}

fn err(e: impl std::fmt::Display) -> LifecycleSignerError {
    LifecycleSignerError(e.to_string())
}

impl LifecycleSigner {
    /// Makes a key and has the issuing CA certify it (recorded in the
    /// registry first).
    pub async fn start(authority: Arc<Ca>) -> Result<Self, LifecycleSignerError> {
        let delegated = DelegatedSigner::lifecycle(authority.certs.name.clone());
        let current = delegated
            .rotate(
                &authority.signer,
                &authority.store,
                OffsetDateTime::now_utc(),
            )
            .await
            .map_err(err)?;
        Ok(Self {
            authority,
            delegated,
            current: RwLock::new(Arc::new(current)),
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
        if !held.due_for_rotation(now.unix_timestamp()) {
            return Ok(held);
        }
        let fresh = Arc::new(
            self.delegated
                .rotate(&self.authority.signer, &self.authority.store, now)
                .await
                .map_err(err)?,
        );
        *self.current.write().map_err(|_| err("lock poisoned"))? = Arc::clone(&fresh);
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
