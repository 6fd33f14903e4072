//! The revocation service of one server process: the OCSP response cache,
//! the CRL publisher and the change follower that feeds both, assembled
//! and started in the order serving needs. It holds no logic of its own.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::crl_publisher::{CrlError, CrlPublisher};
use super::follower::{ChangeFollower, FollowError};
use super::index::{IndexReader, RevocationIndex};
use super::ocsp_cache::{OcspCache, OcspCacheError};
use crate::ca::Ca;
use crate::store::RevocationRecord;

/// Why the revocation service could not start.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// The OCSP response cache (its signer, most likely).
    #[error(transparent)]
    Cache(#[from] OcspCacheError),
    /// The first CRL.
    #[error(transparent)]
    Crl(#[from] CrlError),
    /// Reading the registry into the index.
    #[error(transparent)]
    Follow(#[from] FollowError),
}

/// The revocation service; see the module documentation.
pub struct Revocation {
    ocsp: Arc<OcspCache>,
    crl: Arc<CrlPublisher>,
    follower: Arc<ChangeFollower>,
}

impl Revocation {
    /// Loads the OCSP signer (replacing it if due), the revocation index
    /// and the first CRL, then starts following changes, publishing CRLs
    /// and refreshing responses.
    pub async fn start(authority: Arc<Ca>, ca_dir: PathBuf) -> Result<Arc<Self>, RevocationError> {
        let index = Arc::new(RwLock::new(RevocationIndex::default()));
        let ocsp = Arc::new(
            OcspCache::start(Arc::clone(&authority), ca_dir, IndexReader::of(&index)).await?,
        );
        let crl = Arc::new(CrlPublisher::new(
            Arc::clone(&authority),
            IndexReader::of(&index),
        ));
        let follower = Arc::new(ChangeFollower::new(
            authority.store.clone(),
            index,
            Arc::clone(&ocsp),
            Arc::clone(&crl),
        ));
        // The whole index, then the first CRL, before serving: the CRL
        // endpoint never answers "not yet". Responses are signed ahead in
        // the background (a million take about a minute); until a
        // certificate's is ready, its requests are signed on demand.
        let resign = follower.load_all().await?;
        // A token absent at start leaves no CRL yet: the endpoint answers
        // 503 (crl.not_ready) and the publisher retries every second.
        match crl.publish().await {
            Ok(_) => {}
            Err(e @ CrlError::Signing { .. }) => {
                tracing::warn!(error = %e, "first CRL not signed; retrying until the CA key is available");
                crl.changed();
            }
            Err(e) => return Err(e.into()),
        }
        let presigner = Arc::clone(&ocsp);
        tokio::spawn(async move {
            let count = resign.len();
            match presigner.sign_in_background(resign).await {
                Ok(()) => tracing::info!(count, "OCSP responses signed ahead"),
                Err(e) => {
                    tracing::error!(error = %e, "signing OCSP responses ahead failed; they are signed on demand when asked")
                }
            }
        });
        tokio::spawn(Arc::clone(&follower).run());
        tokio::spawn(Arc::clone(&crl).run());
        tokio::spawn(Arc::clone(&ocsp).run());
        Ok(Arc::new(Self {
            ocsp,
            crl,
            follower,
        }))
    }

    /// The OCSP responses.
    pub fn ocsp(&self) -> &OcspCache {
        &self.ocsp
    }

    /// The CRL.
    pub fn crl(&self) -> &CrlPublisher {
        &self.crl
    }

    /// Applies a change this process made (after it committed), before it
    /// is acknowledged; see [`ChangeFollower::applied`].
    pub async fn changed(&self, record: &RevocationRecord) {
        self.follower.applied(record).await;
    }
}
