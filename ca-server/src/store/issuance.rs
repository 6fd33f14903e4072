//! Issuance: the serial and the request are recorded (pending) before the
//! signer runs, the certificate is recorded (issued) before it is returned,
//! and a request that dies in between is marked failed.
//!
//! One live certificate per robot is the database's job: a partial unique
//! index on `certificates(robot_id) WHERE status IN ('pending','issued')`.
//! The code reads first to give good answers, then inserts with
//! `ON CONFLICT ... DO NOTHING` and treats a row that did not go in as a
//! lost race, re-reading what won. On SQLite `BEGIN IMMEDIATE` serialises
//! writers, so the race is only ever lost on PostgreSQL (many server
//! processes), where READ COMMITTED makes each statement see what other
//! transactions committed before it.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use super::audit::{self, NewEntry};
use super::batch::{
    insert_certificates, insert_components, insert_robots, read_live, read_models, read_robots,
    supersede,
};
use super::change_log::ChangeKind;
use super::decide::{
    Plan, after_lost_race, decide_batch, go_indices, live_changed, robot_mismatch,
};
use super::roles::Issuance;
use super::sql::{normalize_serial, now};
use super::{Appended, BeginOutcome, IssuanceIntent, NewEvent, Store, StoreError, commit};

/// How often a batch is re-run after a deadlock, serialization failure or
/// SQLite busy error (the transaction rolled back whole, so it is safe).
const RETRIES: u32 = 4;

/// Runs `f` again while it fails with a transient concurrency error.
pub(super) async fn with_retries<T, F, Fut>(mut f: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempt: u32 = 0;
    loop {
        match f().await {
            Err(e) if e.is_retryable() && attempt < RETRIES => {
                attempt += 1;
                // Back off a little so that the transactions that collided
                // do not collide again in lockstep.
                tokio::time::sleep(Duration::from_millis(10u64 << attempt)).await;
            }
            other => return other,
        }
    }
}

impl Issuance for Store {
    async fn begin_issuance(
        &self,
        intents: &[IssuanceIntent],
        actor: &str,
    ) -> Result<Vec<BeginOutcome>, StoreError> {
        let mut serials = Vec::with_capacity(intents.len());
        let mut seen = HashSet::with_capacity(intents.len());
        for intent in intents {
            let serial = normalize_serial(&intent.serial_hex)?;
            if !seen.insert(serial.clone()) {
                return Err(StoreError::Conflict {
                    what: "certificate serial",
                    detail: format!("serial {serial} appears twice in the batch"),
                });
            }
            if intent.robot_id.is_empty() {
                return Err(StoreError::Invalid {
                    what: "robot_id",
                    detail: format!("empty for serial {serial}"),
                });
            }
            serials.push(serial);
        }
        if intents.is_empty() {
            return Ok(Vec::new());
        }
        with_retries(|| self.begin_once(intents, &serials, actor)).await
    }

    async fn complete_issuance(
        &self,
        done: &[(String, Vec<u8>)],
        actor: &str,
    ) -> Result<(), StoreError> {
        let mut items: Vec<(String, &[u8])> = Vec::with_capacity(done.len());
        let mut seen = HashSet::with_capacity(done.len());
        for (serial, der) in done {
            let serial = normalize_serial(serial)?;
            if der.is_empty() {
                return Err(StoreError::Invalid {
                    what: "certificate DER",
                    detail: format!("empty for serial {serial}"),
                });
            }
            if !seen.insert(serial.clone()) {
                return Err(StoreError::Invalid {
                    what: "serial_hex",
                    detail: format!("serial {serial} appears twice in the batch"),
                });
            }
            items.push((serial, der.as_slice()));
        }
        if items.is_empty() {
            return Ok(());
        }
        // A fixed order keeps two overlapping batches from deadlocking.
        items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        with_retries(|| self.complete_once(&items, actor)).await
    }

    async fn complete_with_event(
        &self,
        serial_hex: &str,
        der: &[u8],
        supersedes: Option<&str>,
        event: &NewEvent<'_>,
    ) -> Result<Appended, StoreError> {
        let serial = normalize_serial(serial_hex)?;
        if der.is_empty() {
            return Err(StoreError::Invalid {
                what: "certificate DER",
                detail: format!("empty for serial {serial}"),
            });
        }
        let supersedes = supersedes.map(normalize_serial).transpose()?;
        let payload = event.payload.to_string();
        with_retries(|| {
            self.complete_with_event_once(&serial, der, supersedes.as_deref(), event, &payload)
        })
        .await
    }

    async fn abandon_issuance(
        &self,
        serials: &[String],
        reason: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let mut serials: Vec<String> = serials.iter().map(|s| s.to_ascii_lowercase()).collect();
        serials.sort_unstable();
        serials.dedup();
        if serials.is_empty() {
            return Ok(());
        }
        with_retries(|| self.abandon_once(&serials, reason, actor)).await
    }

    async fn abandon_stale_issuance(
        &self,
        created_before: i64,
        actor: &str,
    ) -> Result<u64, StoreError> {
        with_retries(|| self.abandon_stale_once(created_before, actor)).await
    }
}

impl Store {
    async fn begin_once(
        &self,
        intents: &[IssuanceIntent],
        serials: &[String],
        actor: &str,
    ) -> Result<Vec<BeginOutcome>, StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;

        let mut codes: Vec<&str> = intents
            .iter()
            .map(|i| i.manufacturer_code.as_str())
            .collect();
        codes.sort_unstable();
        codes.dedup();
        let mut robot_ids: Vec<&str> = intents.iter().map(|i| i.robot_id.as_str()).collect();
        robot_ids.sort_unstable();
        robot_ids.dedup();
        let models = read_models(&mut tx, &codes).await?;
        let mut robots = read_robots(&mut tx, &robot_ids).await?;
        let live = read_live(&mut tx, &robot_ids).await?;

        // Decide each intent from what was read (pure: decide.rs).
        let mut plans = decide_batch(intents, &models, &robots, &live);

        // New robots. One created meanwhile by another transaction is
        // re-read and must agree on manufacturer and model.
        let mut new_robots: Vec<usize> = go_indices(&plans, |new_robot, _| new_robot);
        new_robots.sort_unstable_by(|a, b| intents[*a].robot_id.cmp(&intents[*b].robot_id));
        let inserted = insert_robots(&mut tx, intents, &new_robots, at).await?;
        let raced: Vec<&str> = new_robots
            .iter()
            .map(|&i| intents[i].robot_id.as_str())
            .filter(|id| !inserted.contains(*id))
            .collect();
        if !raced.is_empty() {
            robots.extend(read_robots(&mut tx, &raced).await?);
            for &i in &new_robots {
                if !inserted.contains(intents[i].robot_id.as_str()) {
                    plans[i] = robot_mismatch(&intents[i], &robots).unwrap_or(Plan::Go {
                        new_robot: false,
                        supersedes: None,
                    });
                }
            }
        }

        // Declared re-issues: supersede the issued certificate, unless it
        // changed since it was read.
        let reissues: Vec<(usize, String)> = plans
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Plan::Go {
                    supersedes: Some(old),
                    ..
                } => Some((i, old.clone())),
                _ => None,
            })
            .collect();
        let superseded = supersede(&mut tx, &reissues, serials, at).await?;
        for (i, old) in &reissues {
            if !superseded.contains(old) {
                plans[*i] = live_changed(&intents[*i], old);
            }
        }

        // The certificates. A row the partial unique index turned away lost
        // a race with another transaction: answer from what won.
        let mut go: Vec<usize> = go_indices(&plans, |_, _| true);
        go.sort_unstable_by(|a, b| intents[*a].robot_id.cmp(&intents[*b].robot_id));
        let won = insert_certificates(&mut tx, intents, serials, &go, at).await?;
        let lost: Vec<usize> = go
            .iter()
            .copied()
            .filter(|&i| !won.contains(&serials[i]))
            .collect();
        if !lost.is_empty() {
            let lost_ids: Vec<&str> = lost.iter().map(|&i| intents[i].robot_id.as_str()).collect();
            let live_now = read_live(&mut tx, &lost_ids).await?;
            for &i in &lost {
                let intent = &intents[i];
                if let Plan::Go {
                    supersedes: Some(old),
                    ..
                } = &plans[i]
                {
                    // Cannot happen: the superseded row stays locked by this
                    // transaction, so no other can make a live certificate
                    // for the robot meanwhile. Refuse to commit rather than
                    // leave the robot with none.
                    return Err(StoreError::Conflict {
                        what: "live certificate",
                        detail: format!(
                            "robot {}: a live certificate appeared after {old} was superseded",
                            intent.robot_id
                        ),
                    });
                }
                plans[i] = after_lost_race(intent, live_now.get(intent.robot_id.as_str()));
            }
        }

        let winners: Vec<usize> = go
            .into_iter()
            .filter(|i| won.contains(&serials[*i]))
            .collect();
        insert_components(&mut tx, intents, serials, &winners).await?;

        let mut entries = Vec::with_capacity(winners.len() + reissues.len());
        for (i, old) in &reissues {
            if won.contains(&serials[*i]) {
                tx.log(ChangeKind::Superseded, &intents[*i].robot_id, Some(old));
                entries.push(NewEntry {
                    at,
                    actor,
                    action: "certificate.supersede",
                    subject: intents[*i].robot_id.clone(),
                    detail: json!({"serial": old, "superseded_by": serials[*i]}),
                });
            }
        }
        for &i in &winners {
            let intent = &intents[i];
            let new_robot = matches!(
                plans[i],
                Plan::Go {
                    new_robot: true,
                    ..
                }
            );
            entries.push(NewEntry {
                at,
                actor,
                action: "issuance.begin",
                subject: intent.robot_id.clone(),
                // The request's particulars (hashes, CSR, validity) are in
                // the certificate row, which is never deleted; the entry
                // stays small because a batch writes ten thousand of them.
                detail: json!({
                    "serial": serials[i],
                    "reissue": intent.reissue,
                    "new_robot": new_robot,
                }),
            });
        }
        audit::append(&mut tx, &entries).await?;
        commit(tx, "begin_issuance").await?;

        Ok(plans
            .into_iter()
            .map(|plan| match plan {
                Plan::Done(outcome) => outcome,
                Plan::Go { .. } => BeginOutcome::Proceed,
            })
            .collect())
    }
}
