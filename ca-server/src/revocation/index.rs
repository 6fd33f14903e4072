//! The revocation index: every certificate's revocation rows and
//! supersession, kept in memory so that a CRL of a million entries is built
//! without reading the registry, and an OCSP response states the standing
//! this process has seen. Loaded once at start, then kept up to date from
//! the registry's changes (this server's and other servers') by the change
//! follower, its only writer; the OCSP cache and the CRL publisher read it
//! through an [`IndexReader`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::locks::read;
use crate::store::{Reason, RevocationRecord, RevocationState, Standing};

/// A revoked or held certificate, as the CRL lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Why (certificateHold for a hold).
    pub reason: Reason,
    /// Since when, unix seconds.
    pub at: i64,
}

/// Shards of the index. A CRL is built from a [`Snapshot`] that shares the
/// shards; a change while it is built copies only the shard it touches.
const SHARDS: u64 = 1024;

/// One shard: the serials whose hash falls in it.
#[derive(Clone, Debug, Default)]
struct Shard {
    rows: HashMap<String, (RevocationState, Reason, i64)>,
    superseded: HashMap<String, i64>,
}

fn shard_of(serial_hex: &str) -> usize {
    // FNV-1a: the serials are random, any spread of them will do.
    let hash = serial_hex.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    usize::try_from(hash % SHARDS).unwrap_or(0)
}

/// Revocation rows and supersessions by serial (lower-case hex), combined
/// the way [`Standing::of`] combines them.
#[derive(Debug)]
pub struct RevocationIndex {
    shards: Vec<Arc<Shard>>,
    /// Bumped on every change that alters what the CRL lists.
    version: u64,
}

impl Default for RevocationIndex {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Arc::default()).collect(),
            version: 0,
        }
    }
}

/// What the CRL lists at one version of the index, shared with the index
/// rather than copied out of it, so taking it is quick whatever the size.
#[derive(Clone, Debug)]
pub struct Snapshot {
    shards: Vec<Arc<Shard>>,
}

impl RevocationIndex {
    fn shard(&self, serial_hex: &str) -> &Shard {
        &self.shards[shard_of(serial_hex)]
    }

    fn shard_mut(&mut self, serial_hex: &str) -> &mut Shard {
        Arc::make_mut(&mut self.shards[shard_of(serial_hex)])
    }

    /// Applies a revocation row; returns whether the serial's standing changed.
    pub fn apply_row(&mut self, row: &RevocationRecord) -> bool {
        let value = (row.state, row.reason, row.revoked_at);
        // The poller reads recent rows again: an unchanged row leaves the
        // shard alone (and unshared from a CRL being built).
        if self.shard(&row.serial_hex).rows.get(&row.serial_hex) == Some(&value) {
            return false;
        }
        let before = self.standing(&row.serial_hex);
        self.shard_mut(&row.serial_hex)
            .rows
            .insert(row.serial_hex.clone(), value);
        self.changed(&row.serial_hex, before)
    }

    /// Records that `serial_hex` was superseded at `at`; returns whether its
    /// standing changed.
    pub fn apply_superseded(&mut self, serial_hex: &str, at: i64) -> bool {
        if self.shard(serial_hex).superseded.get(serial_hex) == Some(&at) {
            return false;
        }
        let before = self.standing(serial_hex);
        self.shard_mut(serial_hex)
            .superseded
            .insert(serial_hex.to_owned(), at);
        self.changed(serial_hex, before)
    }

    fn changed(&mut self, serial_hex: &str, before: Standing) -> bool {
        let changed = self.standing(serial_hex) != before;
        if changed {
            self.version += 1;
        }
        changed
    }

    /// The standing of a signed certificate.
    pub fn standing(&self, serial_hex: &str) -> Standing {
        let shard = self.shard(serial_hex);
        Standing::of(
            shard.rows.get(serial_hex).copied(),
            shard.superseded.get(serial_hex).copied(),
        )
    }

    /// Changes so far; equal versions list the same entries.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// What the CRL lists now, without copying it.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            shards: self.shards.clone(),
        }
    }

    /// Every listed certificate: serial (hex) and entry.
    pub fn listed(&self) -> Vec<(String, Listed)> {
        let mut out = Vec::new();
        self.snapshot()
            .for_each(|serial, listed| out.push((serial.to_owned(), listed)));
        out
    }
}

/// Read access to the index the change follower writes.
#[derive(Clone, Debug)]
pub struct IndexReader(Arc<RwLock<RevocationIndex>>);

impl IndexReader {
    /// Reads `index`.
    pub fn of(index: &Arc<RwLock<RevocationIndex>>) -> Self {
        Self(Arc::clone(index))
    }

    /// The standing of a signed certificate.
    pub fn standing(&self, serial_hex: &str) -> Standing {
        read(&self.0).standing(serial_hex)
    }

    /// Changes so far (see [`RevocationIndex::version`]).
    pub fn version(&self) -> u64 {
        read(&self.0).version()
    }

    /// What the CRL lists now, and the version it is of, taken together.
    pub fn snapshot(&self) -> (u64, Snapshot) {
        let index = read(&self.0);
        (index.version(), index.snapshot())
    }
}

impl Snapshot {
    /// Listed certificates, an upper bound.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.rows.len() + s.superseded.len())
            .sum()
    }

    /// Whether nothing could be listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with every listed certificate: serial (hex) and entry.
    pub fn for_each(&self, mut f: impl FnMut(&str, Listed)) {
        for shard in &self.shards {
            for (serial, (state, reason, at)) in &shard.rows {
                match (state, shard.superseded.get(serial)) {
                    (RevocationState::Revoked, _) => f(
                        serial,
                        Listed {
                            reason: *reason,
                            at: *at,
                        },
                    ),
                    (_, Some(_)) => {} // listed below, as superseded
                    (RevocationState::Held, None) => f(
                        serial,
                        Listed {
                            reason: Reason::CertificateHold,
                            at: *at,
                        },
                    ),
                    (RevocationState::Released, None) => {}
                }
            }
            for (serial, at) in &shard.superseded {
                let revoked_for_good = matches!(
                    shard.rows.get(serial),
                    Some((RevocationState::Revoked, _, _))
                );
                if !revoked_for_good {
                    f(
                        serial,
                        Listed {
                            reason: Reason::Superseded,
                            at: *at,
                        },
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_listing_follows_holds_releases_and_supersession() {
        let mut index = RevocationIndex::default();
        assert!(index.apply_row(&row(
            "01",
            RevocationState::Held,
            Reason::CertificateHold,
            5
        )));
        assert!(index.apply_row(&row(
            "02",
            RevocationState::Revoked,
            Reason::KeyCompromise,
            6
        )));
        assert!(index.apply_superseded("03", 7));
        // Re-reading the same change is not a change.
        assert!(!index.apply_row(&row(
            "02",
            RevocationState::Revoked,
            Reason::KeyCompromise,
            6
        )));
        let mut listed = index.listed();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            listed,
            vec![
                (
                    "01".into(),
                    Listed {
                        reason: Reason::CertificateHold,
                        at: 5
                    }
                ),
                (
                    "02".into(),
                    Listed {
                        reason: Reason::KeyCompromise,
                        at: 6
                    }
                ),
                (
                    "03".into(),
                    Listed {
                        reason: Reason::Superseded,
                        at: 7
                    }
                ),
            ]
        );
        let before = index.version();
        assert!(index.apply_row(&row(
            "01",
            RevocationState::Released,
            Reason::CertificateHold,
            5
        )));
        assert!(index.version() > before);
        assert!(index.listed().iter().all(|(s, _)| s != "01"));
        // A superseded certificate later revoked for key compromise is listed once.
        assert!(index.apply_row(&row(
            "03",
            RevocationState::Revoked,
            Reason::KeyCompromise,
            7
        )));
        let threes: Vec<_> = index
            .listed()
            .into_iter()
            .filter(|(s, _)| s == "03")
            .collect();
        assert_eq!(
            threes,
            vec![(
                "03".into(),
                Listed {
                    reason: Reason::KeyCompromise,
                    at: 7
                }
            )]
        );
    }

    #[test]
    fn a_snapshot_keeps_its_version_while_the_index_changes() {
        let mut index = RevocationIndex::default();
        for i in 0..5000 {
            index.apply_row(&row(
                &format!("{i:x}"),
                RevocationState::Revoked,
                Reason::KeyCompromise,
                i,
            ));
        }
        let snapshot = index.snapshot();
        assert!(index.apply_row(&row(
            "ffff1",
            RevocationState::Held,
            Reason::CertificateHold,
            9
        )));
        // Revoked for good already: superseding it changes nothing listed.
        assert!(!index.apply_superseded("3", 10));
        assert!(index.apply_superseded("abcde", 11));
        let mut then = Vec::new();
        snapshot.for_each(|s, l| then.push((s.to_owned(), l)));
        then.sort_by(|a, b| a.0.cmp(&b.0));
        let mut want: Vec<_> = (0..5000)
            .map(|i| {
                (
                    format!("{i:x}"),
                    Listed {
                        reason: Reason::KeyCompromise,
                        at: i,
                    },
                )
            })
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(then, want);
        // The index itself moved on: one hold and one supersession more.
        assert_eq!(index.listed().len(), 5002);
        assert_eq!(index.snapshot().len(), 5003);
    }
}
