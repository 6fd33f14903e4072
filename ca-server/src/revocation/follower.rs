//! The change follower: the one place that knows how the registry's
//! revocation changes are read. It applies them to the revocation index
//! (of which it is the only writer), then tells the OCSP cache which
//! responses to sign and the CRL publisher that the listing changed.
//!
//! Changes are followed by time: every second it reads the revocation rows,
//! supersessions and issuances stamped at or after its last round, less a
//! five-second overlap, so changes made by other server processes on the
//! same registry reach this one too. Changes this process makes are applied
//! at once as well ([`ChangeFollower::applied`]), before they are
//! acknowledged.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::crl_publisher::CrlPublisher;
use super::index::RevocationIndex;
use super::ocsp_cache::{OcspCache, OcspCacheError};
use crate::locks::write;
use crate::store::{RevocationRecord, Standing, Store, StoreError};

/// How often the registry is polled for changes.
const POLL: Duration = Duration::from_secs(1);
/// How far back each poll looks again, for transactions that committed
/// after a later poll started (their rows carry an earlier time).
const POLL_OVERLAP: i64 = 5;

/// Why changes were not followed.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// Reading the registry's changes.
    #[error("following revocation changes: {0}")]
    Read(#[from] StoreError),
    /// Signing the responses the changes call for.
    #[error("following revocation changes: {0}")]
    Sign(#[from] OcspCacheError),
}

/// One read of the registry's changes.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// Revocation rows changed.
    pub rows: Vec<RevocationRecord>,
    /// Certificates superseded: serial (hex) and when.
    pub superseded: Vec<(String, i64)>,
    /// Certificates issued: serial (hex).
    pub issued: Vec<String>,
}

/// The change follower; see the module documentation.
pub struct ChangeFollower {
    store: Store,
    index: Arc<RwLock<RevocationIndex>>,
    cache: Arc<OcspCache>,
    crl: Arc<CrlPublisher>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl ChangeFollower {
    /// Follows `store`'s changes into `index`, telling `cache` and `crl`.
    pub fn new(
        store: Store,
        index: Arc<RwLock<RevocationIndex>>,
        cache: Arc<OcspCache>,
        crl: Arc<CrlPublisher>,
    ) -> Self {
        Self {
            store,
            index,
            cache,
            crl,
        }
    }

    /// Reads the whole registry into the index; returns the responses to
    /// sign (every signed certificate's), which the caller signs when it
    /// sees fit (at start, in the background).
    pub async fn load_all(&self) -> Result<Vec<(String, Standing)>, FollowError> {
        let changes = self.read(0).await?;
        Ok(self.apply(&changes))
    }

    /// Applies a change this process made (after it committed): the index,
    /// a freshly signed OCSP response, and a CRL soon.
    pub async fn applied(&self, record: &RevocationRecord) {
        let standing = {
            let mut index = write(&self.index);
            index.apply_row(record);
            index.standing(&record.serial_hex)
        };
        if let Err(e) = self
            .cache
            .sign_now(record.serial_hex.clone(), standing)
            .await
        {
            // The poller signs it on its next round.
            tracing::error!(error = %e, serial = %record.serial_hex, "OCSP response not re-signed");
        }
        self.crl.changed();
    }

    /// Reads the registry's changes stamped at or after `since`.
    async fn read(&self, since: i64) -> Result<Changes, StoreError> {
        Ok(Changes {
            rows: self.store.revocations_changed_since(since).await?,
            superseded: self.store.superseded_since(since).await?,
            issued: self.store.issued_since(since).await?,
        })
    }

    /// Applies `changes` to the index and tells the CRL publisher if the
    /// listing changed; returns the responses to sign (new certificates,
    /// changed standings), sorted by serial.
    pub fn apply(&self, changes: &Changes) -> Vec<(String, Standing)> {
        let mut changed = false;
        let mut resign = {
            let mut index = write(&self.index);
            for row in &changes.rows {
                changed |= index.apply_row(row);
            }
            for (serial, at) in &changes.superseded {
                changed |= index.apply_superseded(serial, *at);
            }
            // Compared with the cache while the index is held, so a change
            // applied meanwhile cannot be signed with a standing older
            // than the one it set.
            let index = &*index;
            self.cache.needing_signature(
                changes
                    .rows
                    .iter()
                    .map(|r| &r.serial_hex)
                    .chain(changes.superseded.iter().map(|(s, _)| s))
                    .chain(changes.issued.iter())
                    .map(|serial| (serial, index.standing(serial))),
            )
        };
        resign.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        resign.dedup_by(|a, b| a.0 == b.0);
        if changed {
            self.crl.changed();
        }
        resign
    }

    /// Reads, applies and signs the changes since `since`.
    async fn follow(&self, since: i64) -> Result<(), FollowError> {
        let changes = self.read(since).await?;
        let resign = self.apply(&changes);
        self.cache.sign_in_background(resign).await?;
        Ok(())
    }

    /// Polls every [`POLL`] for as long as the process runs.
    pub async fn run(self: Arc<Self>) {
        let mut last = now();
        loop {
            tokio::time::sleep(POLL).await;
            let started = now();
            if let Err(e) = self.follow(last - POLL_OVERLAP).await {
                tracing::error!(error = %e, "revocation poll failed; retrying");
                continue;
            }
            last = started;
        }
    }
}
