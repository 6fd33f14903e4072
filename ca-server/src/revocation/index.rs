//! What the CRL lists, kept in memory so that a CRL of a million entries is
//! built without reading the registry: loaded once at start, then kept up
//! to date from the registry's changes (this server's and other servers').

use std::collections::HashMap;

use crate::store::{Reason, RevocationRecord, RevocationState, Standing};

/// A revoked or held certificate, as the CRL lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Why (certificateHold for a hold).
    pub reason: Reason,
    /// Since when, unix seconds.
    pub at: i64,
}

/// Revocation rows and supersessions by serial (lower-case hex), combined
/// the way [`Standing::of`] combines them.
#[derive(Debug, Default)]
pub struct CrlIndex {
    rows: HashMap<String, (RevocationState, Reason, i64)>,
    superseded: HashMap<String, i64>,
    /// Bumped on every change that alters what the CRL lists.
    version: u64,
}

impl CrlIndex {
    /// Applies a revocation row; returns whether the serial's standing changed.
    pub fn apply_row(&mut self, row: &RevocationRecord) -> bool {
        let before = self.standing(&row.serial_hex);
        self.rows.insert(
            row.serial_hex.clone(),
            (row.state, row.reason, row.revoked_at),
        );
        self.changed(&row.serial_hex, before)
    }

    /// Records that `serial_hex` was superseded at `at`; returns whether its
    /// standing changed.
    pub fn apply_superseded(&mut self, serial_hex: &str, at: i64) -> bool {
        let before = self.standing(serial_hex);
        self.superseded.insert(serial_hex.to_owned(), at);
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
        Standing::of(
            self.rows.get(serial_hex).copied(),
            self.superseded.get(serial_hex).copied(),
        )
    }

    /// Changes so far; equal versions list the same entries.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Every listed certificate: serial (hex) and entry.
    pub fn listed(&self) -> Vec<(String, Listed)> {
        let mut out = Vec::with_capacity(self.rows.len() + self.superseded.len());
        for (serial, (state, reason, at)) in &self.rows {
            match (state, self.superseded.get(serial)) {
                (RevocationState::Revoked, _) => out.push((
                    serial.clone(),
                    Listed {
                        reason: *reason,
                        at: *at,
                    },
                )),
                (_, Some(_)) => {} // listed below, as superseded
                (RevocationState::Held, None) => out.push((
                    serial.clone(),
                    Listed {
                        reason: Reason::CertificateHold,
                        at: *at,
                    },
                )),
                (RevocationState::Released, None) => {}
            }
        }
        for (serial, at) in &self.superseded {
            let revoked_for_good = matches!(
                self.rows.get(serial),
                Some((RevocationState::Revoked, _, _))
            );
            if !revoked_for_good {
                out.push((
                    serial.clone(),
                    Listed {
                        reason: Reason::Superseded,
                        at: *at,
                    },
                ));
            }
        }
        out
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
        let mut index = CrlIndex::default();
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
}
