//! The CRL publisher: builds and signs the issuer's full CRL from the
//! revocation index, off the request path, and holds the current one for
//! the CRL endpoint. A CRL is built within a second of a change and a day
//! before its nextUpdate, paced so that builds take at most a quarter of a
//! core (decision 0008).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use super::background::{self, BackgroundError};
use super::index::{IndexReader, Snapshot};
use crate::ca::Ca;
use crate::locks::{read, write};
use crate::store::StoreError;
use crate::store::roles::Revocations;
use robotid_issuer::signer::{CrlEntry, CrlRequest};

/// How long a CRL is valid.
pub const CRL_VALIDITY: i64 = 7 * 24 * 3600;
/// Age at which an unchanged CRL is issued again.
pub const CRL_REFRESH_AGE: i64 = 24 * 3600;
/// Longest pause between two CRL builds (see [`CrlPublisher::run`]).
const CRL_MAX_PAUSE: Duration = Duration::from_secs(10);
/// Changes arriving within this time go into one CRL.
const CRL_DEBOUNCE: Duration = Duration::from_millis(200);

/// Why a CRL was not published.
#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    /// The registry, asked for the next CRL number.
    #[error("CRL publisher: {0}")]
    Store(#[from] StoreError),
    /// The build on its background thread.
    #[error("CRL publisher: {0}")]
    Background(#[from] BackgroundError),
    /// A time outside what a CRL can state.
    #[error("CRL publisher: time {0} cannot be stated")]
    Time(i64),
    /// A CRL number the registry handed out below zero.
    #[error("CRL publisher: CRL number {0} is negative")]
    Number(i64),
    /// A listed serial that is not hex.
    #[error("CRL publisher: serial {serial:?} is not hex")]
    Serial {
        /// The serial.
        serial: String,
    },
    /// The signer refused or failed.
    #[error("CRL publisher: signing CRL {number}: {reason}")]
    Signing {
        /// The CRL number.
        number: i64,
        /// Why.
        reason: String,
    },
}

/// The current CRL.
#[derive(Clone, Debug)]
pub struct PublishedCrl {
    /// DER.
    pub der: Bytes,
    /// Its CRL number.
    pub number: i64,
    /// thisUpdate, unix seconds.
    pub this_update: i64,
    /// nextUpdate, unix seconds.
    pub next_update: i64,
    /// Entries listed.
    pub entries: usize,
    /// The index version it was built from.
    version: u64,
}

/// The CRL publisher; see the module documentation.
pub struct CrlPublisher {
    authority: Arc<Ca>,
    index: IndexReader,
    current: RwLock<Option<Arc<PublishedCrl>>>,
    due: Notify,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl CrlPublisher {
    /// A publisher of the CRL of `index`, signed by the authority's
    /// issuing CA, with no CRL yet.
    pub fn new(authority: Arc<Ca>, index: IndexReader) -> Self {
        Self {
            authority,
            index,
            current: RwLock::new(None),
            due: Notify::new(),
        }
    }

    /// The current CRL; `None` before the first is published.
    pub fn current(&self) -> Option<Arc<PublishedCrl>> {
        read(&self.current).clone()
    }

    /// The issuer id the CRL is published under.
    pub fn issuer_id(&self) -> &str {
        self.authority.signer.issuer_id()
    }

    /// Says the index changed: [`CrlPublisher::run`] builds a CRL soon.
    pub fn changed(&self) {
        self.due.notify_one();
    }

    /// Builds and signs a CRL from the index if it changed or is due;
    /// returns whether one was published.
    pub async fn publish(&self) -> Result<bool, CrlError> {
        let started = Instant::now();
        let at = now();
        if let Some(current) = self.current()
            && current.version == self.index.version()
            && at - current.this_update < CRL_REFRESH_AGE
        {
            return Ok(false);
        }
        let (version, listed) = self.index.snapshot();
        let number = self
            .authority
            .store
            .next_crl_number(self.issuer_id())
            .await?;
        let authority = Arc::clone(&self.authority);
        let (der, entries) =
            background::run("crl", move || build_crl(&authority, &listed, number, at)).await??;
        let elapsed_ms = started.elapsed().as_millis();
        tracing::info!(number, entries, elapsed_ms, "CRL published");
        *write(&self.current) = Some(Arc::new(PublishedCrl {
            der: Bytes::from(der),
            number,
            this_update: at,
            next_update: at + CRL_VALIDITY,
            entries,
            version,
        }));
        Ok(true)
    }

    /// Publishes after every change (changes within [`CRL_DEBOUNCE`] share
    /// a CRL) and a day after the last CRL, for as long as the process runs.
    pub async fn run(self: Arc<Self>) {
        loop {
            let wait = self.current().map_or(0, |c| {
                (c.this_update + CRL_REFRESH_AGE - now()).clamp(0, CRL_REFRESH_AGE)
            });
            let wait = Duration::from_secs(u64::try_from(wait).unwrap_or(0));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.due.notified() => {
                    tokio::time::sleep(CRL_DEBOUNCE).await;
                }
            }
            let started = Instant::now();
            let published = self.publish().await;
            // A large CRL takes a core for a second or more: rebuilding it
            // back to back during a burst of revocations would take that
            // core from the revocations themselves. After each build, wait
            // three times as long as it took (at most ten seconds), so a
            // change still reaches the CRL within seconds and the builds
            // use at most a quarter of a core.
            let pause = started.elapsed().saturating_mul(3).min(CRL_MAX_PAUSE);
            if pause > CRL_DEBOUNCE {
                tokio::time::sleep(pause - CRL_DEBOUNCE).await;
            }
            if let Err(e) = published {
                tracing::error!(error = %e, "CRL not published; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.due.notify_one();
            }
        }
    }
}

/// Signs the CRL of `listed`; returns its DER and number of entries.
fn build_crl(
    authority: &Ca,
    listed: &Snapshot,
    number: i64,
    at: i64,
) -> Result<(Vec<u8>, usize), CrlError> {
    let time = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).map_err(|_| CrlError::Time(t));
    let mut entries = Vec::with_capacity(listed.len());
    let mut failed = None;
    listed.for_each(|serial, l| {
        let entry = hex::decode(serial)
            .map_err(|_| CrlError::Serial {
                serial: serial.to_owned(),
            })
            .and_then(|serial| {
                Ok(CrlEntry {
                    serial,
                    revoked_at: time(l.at)?,
                    reason: Some(l.reason.code()),
                })
            });
        match entry {
            Ok(e) => entries.push(e),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let count = entries.len();
    let der = authority
        .signer
        .sign_crl(CrlRequest {
            number: u64::try_from(number).map_err(|_| CrlError::Number(number))?,
            this_update: time(at)?,
            next_update: time(at + CRL_VALIDITY)?,
            entries,
        })
        .map_err(|e| CrlError::Signing {
            number,
            reason: e.to_string(),
        })?;
    Ok((der, count))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails on the first error")]

    use std::sync::{Arc, RwLock};

    use der::Decode;
    use x509_cert::crl::CertificateList;

    use super::*;
    use crate::revocation::index::RevocationIndex;
    use crate::revocation::testing::authority;
    use crate::store::{Reason, RevocationRecord, RevocationState};

    fn listed_serials(crl: &PublishedCrl) -> Vec<String> {
        let list = CertificateList::from_der(&crl.der).unwrap();
        list.tbs_cert_list
            .revoked_certificates
            .unwrap_or_default()
            .iter()
            .map(|r| hex::encode(r.serial_number.as_bytes()))
            .collect()
    }

    #[tokio::test]
    async fn a_crl_is_built_on_change_only_and_its_number_grows() {
        let dir = tempfile::tempdir().unwrap();
        let (authority, _) = authority(dir.path()).await;
        let index = Arc::new(RwLock::new(RevocationIndex::default()));
        let publisher = CrlPublisher::new(Arc::clone(&authority), IndexReader::of(&index));
        assert!(publisher.current().is_none());
        assert!(publisher.publish().await.unwrap());
        let first = publisher.current().unwrap();
        assert_eq!((first.entries, listed_serials(&first).len()), (0, 0));
        assert_eq!(first.next_update - first.this_update, CRL_VALIDITY);
        // Nothing changed and the CRL is fresh: kept as it is.
        assert!(!publisher.publish().await.unwrap());
        assert_eq!(publisher.current().unwrap().number, first.number);

        write(&index).apply_row(&RevocationRecord {
            serial_hex: "0a".into(),
            robot_id: "R".into(),
            state: RevocationState::Revoked,
            reason: Reason::KeyCompromise,
            revoked_at: 1_700_000_000,
            updated_at: 1_700_000_000,
        });
        assert!(publisher.publish().await.unwrap());
        let second = publisher.current().unwrap();
        assert!(second.number > first.number);
        assert_eq!(second.entries, 1);
        assert_eq!(listed_serials(&second), vec!["0a".to_owned()]);
        // The registry hands out the numbers: a second publisher on the
        // same registry (another server process) continues the sequence.
        let other = CrlPublisher::new(authority, IndexReader::of(&index));
        assert!(other.publish().await.unwrap());
        assert!(other.current().unwrap().number > second.number);
    }
}
