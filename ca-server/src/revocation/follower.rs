//! The change follower: the one place that knows how the registry's
//! revocation changes are read. It applies them to the revocation index
//! (of which it is the only writer), then tells the OCSP cache which
//! responses to sign and the CRL publisher that the listing changed.
//!
//! Changes are followed by index, never by time: at start it notes the
//! registry's change log size and reads the whole registry; then, every
//! half second, it reads the log's entries after the last index it applied
//! and the rows they name as they stand now. An index is never visible
//! before a smaller one (the log's sequencer orders commits), so a change
//! that committed late (a row lock held for seconds) or on a server whose
//! clock is off is read all the same, by this server and by every other
//! on the same registry (decision 0028). Changes this process makes are
//! applied at once as well ([`ChangeFollower::applied`]), before they are
//! acknowledged.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::crl_publisher::CrlPublisher;
use super::index::RevocationIndex;
use super::ocsp_cache::{OcspCache, OcspCacheError};
use crate::locks::write;
use crate::store::roles::Revocations;
use crate::store::{RevocationRecord, Standing, Store, StoreError};

/// How often the change log is read.
const POLL: Duration = Duration::from_millis(500);
/// Most log entries read at once; a longer stretch is read in several.
const READ_LIMIT: i64 = 10_000;

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
    /// The last index of the change log applied.
    cursor: AtomicI64,
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
            cursor: AtomicI64::new(0),
        }
    }

    /// The last index of the change log this follower applied.
    pub fn cursor(&self) -> i64 {
        self.cursor.load(Ordering::Acquire)
    }

    /// Reads the whole registry into the index; returns the responses to
    /// sign (every signed certificate's), which the caller signs when it
    /// sees fit (at start, in the background).
    pub async fn load_all(&self) -> Result<Vec<(String, Standing)>, FollowError> {
        // The log's size first: a change that commits while the registry
        // is read is then read twice (applying is idempotent), never missed.
        let head = self.store.change_log_size().await?;
        let changes = self.read_all().await?;
        let resign = self.apply(&changes);
        self.cursor.fetch_max(head, Ordering::AcqRel);
        Ok(resign)
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

    /// Reads every revocation row, supersession and issuance.
    async fn read_all(&self) -> Result<Changes, StoreError> {
        Ok(Changes {
            rows: self.store.revocations_changed_since(0).await?,
            superseded: self.store.superseded_since(0).await?,
            issued: self.store.issued_since(0).await?,
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

    /// Reads, applies and signs the changes logged after the cursor (at
    /// most [`READ_LIMIT`] entries), then moves the cursor; whether it read
    /// anything.
    pub async fn follow(&self) -> Result<bool, FollowError> {
        let after = self.cursor();
        let logged = self
            .store
            .certificate_changes_after(after, READ_LIMIT)
            .await?;
        if logged.through <= after {
            return Ok(false);
        }
        let changes = Changes {
            rows: logged.rows,
            superseded: logged.superseded,
            issued: logged.issued,
        };
        let resign = self.apply(&changes);
        self.cache.sign_in_background(resign).await?;
        // Moved only once applied and signed: a failure reads them again.
        self.cursor.fetch_max(logged.through, Ordering::AcqRel);
        Ok(true)
    }

    /// Follows the change log every [`POLL`] for as long as the process
    /// runs.
    pub async fn run(self: Arc<Self>) {
        loop {
            tokio::time::sleep(POLL).await;
            loop {
                match self.follow().await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "following the change log failed; retrying");
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails on the first error")]

    use x509_ocsp::CertStatus;

    use super::*;
    use crate::revocation::index::IndexReader;
    use crate::revocation::testing::{authority, request, status};
    use crate::store::{Reason, RevocationState};

    struct Parts {
        follower: ChangeFollower,
        cache: Arc<OcspCache>,
        crl: Arc<CrlPublisher>,
        index: IndexReader,
        authority: Arc<crate::ca::Ca>,
    }

    async fn parts(dir: &std::path::Path) -> Parts {
        let (authority, ca_dir) = authority(dir).await;
        let index = Arc::new(RwLock::new(RevocationIndex::default()));
        let reader = IndexReader::of(&index);
        let cache = Arc::new(
            OcspCache::start(Arc::clone(&authority), ca_dir, reader.clone())
                .await
                .unwrap(),
        );
        let crl = Arc::new(CrlPublisher::new(Arc::clone(&authority), reader.clone()));
        let follower = ChangeFollower::new(
            authority.store.clone(),
            index,
            Arc::clone(&cache),
            Arc::clone(&crl),
        );
        Parts {
            follower,
            cache,
            crl,
            index: reader,
            authority,
        }
    }

    fn row(serial: &str, state: RevocationState, reason: Reason, at: i64) -> RevocationRecord {
        RevocationRecord {
            serial_hex: serial.into(),
            robot_id: "R".into(),
            state,
            reason,
            revoked_at: at,
            updated_at: at,
        }
    }

    #[tokio::test]
    async fn the_cache_and_the_crl_state_a_revocation_the_follower_applied() {
        let dir = tempfile::tempdir().unwrap();
        let p = parts(dir.path()).await;
        // An empty registry: nothing to load, nothing to sign.
        assert!(p.follower.load_all().await.unwrap().is_empty());
        // A certificate issued (as another server's poll would read it).
        let issued = Changes {
            issued: vec!["0a".into()],
            ..Changes::default()
        };
        let resign = p.follower.apply(&issued);
        assert_eq!(resign, vec![("0a".to_owned(), Standing::Good)]);
        p.cache.sign_in_background(resign).await.unwrap();
        let usual = request(&p.authority, "0a", None);
        assert!(matches!(
            status(&p.cache.answer(&usual).await.der),
            CertStatus::Good(_)
        ));
        assert!(p.crl.publish().await.unwrap());
        assert_eq!(p.crl.current().unwrap().entries, 0);

        // This process revokes it: the next answer says so, at once.
        let revoked = row(
            "0a",
            RevocationState::Revoked,
            Reason::KeyCompromise,
            1_700_000_000,
        );
        p.follower.applied(&revoked).await;
        assert!(matches!(
            status(&p.cache.answer(&usual).await.der),
            CertStatus::Revoked(info) if info.revocation_time.0.to_unix_duration().as_secs() == 1_700_000_000
        ));
        assert!(p.crl.publish().await.unwrap());
        assert_eq!(p.crl.current().unwrap().entries, 1);

        // Another round reads the same row again: nothing to sign,
        // nothing new for the CRL.
        let version = p.index.version();
        let again = Changes {
            rows: vec![revoked],
            ..Changes::default()
        };
        assert!(p.follower.apply(&again).is_empty());
        assert_eq!(p.index.version(), version);
        assert!(!p.crl.publish().await.unwrap());
    }

    #[tokio::test]
    async fn changes_read_from_another_server_are_signed_once_each_in_serial_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = parts(dir.path()).await;
        let changes = Changes {
            rows: vec![row("0c", RevocationState::Held, Reason::CertificateHold, 7)],
            superseded: vec![("0b".into(), 8)],
            // Issued in the same round as their change: one response each.
            issued: vec!["0c".into(), "0b".into(), "0a".into()],
        };
        assert_eq!(
            p.follower.apply(&changes),
            vec![
                ("0a".to_owned(), Standing::Good),
                (
                    "0b".to_owned(),
                    Standing::Revoked {
                        reason: Reason::Superseded,
                        at: 8
                    }
                ),
                ("0c".to_owned(), Standing::Held { at: 7 }),
            ]
        );
        assert_eq!(p.index.standing("0c"), Standing::Held { at: 7 });
        // A release read later: only that certificate is signed again.
        let later = Changes {
            rows: vec![row(
                "0c",
                RevocationState::Released,
                Reason::CertificateHold,
                7,
            )],
            ..Changes::default()
        };
        let resign = p.follower.apply(&later);
        assert_eq!(resign, vec![("0c".to_owned(), Standing::Good)]);
    }
}
