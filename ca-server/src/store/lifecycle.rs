//! The lifecycle registry: each robot's history, append-only and
//! hash-chained (the format is robotid-verifier's `history` module).
//!
//! An append is one write transaction: it locks the robot, reads the head
//! of its chain, checks the state machine against the head's state, applies
//! the event's effect on the certificate (hold, release, revoke) through the
//! revocation rules, inserts the event chained to the head, and moves the
//! head. Two concurrent appends cannot both pass the check: SQLite's write
//! lock, and on PostgreSQL the robot's row lock, put them one after the
//! other, and the primary key `(robot_id, seq)` would refuse a second event
//! at the same place anyway.
//!
//! A robot's first event, `manufactured`, is written when its history is
//! first touched (an append, a show, an export), dated at the signing of
//! its first certificate and naming that certificate: enrollment, which is
//! on the hot path of production lines, does not pay for it.

pub use robotid_verifier::history::CertificateEffect;
use robotid_verifier::history::{EventFields, EventKind, GENESIS, LifeState, event_hash, states};
use robotid_verifier::rule::Rule;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::change_log::ChangeKind;
use super::revocation::Action;
use super::roles::Lifecycle;
use super::sql::{self, now};
use super::writer::WriteTx;
use super::{Change, Store, StoreError, commit};

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleEvent {
    /// The robot.
    pub robot_id: String,
    /// Position in its history, from 1.
    pub seq: u64,
    /// When, unix seconds.
    pub at: i64,
    /// Who recorded it.
    pub actor: String,
    /// What happened.
    pub kind: EventKind,
    /// Details: JSON text, as hashed.
    pub payload: String,
    /// The hash of the event before.
    pub prev_hash: [u8; 32],
    /// This event's hash.
    pub hash: [u8; 32],
}

/// An event to append.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    /// The robot.
    pub robot_id: &'a str,
    /// What happened.
    pub kind: EventKind,
    /// Who records it.
    pub actor: &'a str,
    /// Details.
    pub payload: serde_json::Value,
}

/// What an append did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The event as stored.
    pub event: LifecycleEvent,
    /// The robot's state after it.
    pub state: LifeState,
    /// The certificate change it made, if any (for OCSP and CRLs).
    pub revocation: Option<Change>,
}

const EVENT_COLUMNS: &str = "robot_id, seq, at, actor, kind, payload, prev_hash, hash";

pub(super) fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.into(),
    }
}

fn hash32(bytes: Vec<u8>, what: &'static str) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| corrupt(what, format!("{} bytes, not 32", b.len())))
}

fn event_from_row(row: &AnyRow) -> Result<LifecycleEvent, StoreError> {
    let f = (|| {
        Ok::<_, sqlx::Error>((
            row.try_get::<String, _>(0)?,
            row.try_get::<i64, _>(1)?,
            row.try_get::<i64, _>(2)?,
            row.try_get::<String, _>(3)?,
            row.try_get::<String, _>(4)?,
            row.try_get::<String, _>(5)?,
            row.try_get::<Vec<u8>, _>(6)?,
            row.try_get::<Vec<u8>, _>(7)?,
        ))
    })()
    .map_err(StoreError::db("decoding a lifecycle event"))?;
    Ok(LifecycleEvent {
        robot_id: f.0,
        seq: u64::try_from(f.1).map_err(|_| corrupt("lifecycle_events.seq", f.1.to_string()))?,
        at: f.2,
        actor: f.3,
        kind: EventKind::parse(&f.4)
            .ok_or_else(|| corrupt("lifecycle_events.kind", f.4.clone()))?,
        payload: f.5,
        prev_hash: hash32(f.6, "lifecycle_events.prev_hash")?,
        hash: hash32(f.7, "lifecycle_events.hash")?,
    })
}

/// The head of a chain as read in a transaction.
struct Head {
    seq: u64,
    hash: [u8; 32],
    state: LifeState,
}

fn refusal(r: &states::Refusal) -> StoreError {
    StoreError::Refused {
        rule: r.rule,
        detail: r.detail.clone(),
    }
}

impl Lifecycle for Store {
    async fn append_event(&self, new: &NewEvent<'_>) -> Result<Appended, StoreError> {
        let payload = new.payload.to_string();
        super::issuance::with_retries(|| self.append_once(new, &payload)).await
    }

    async fn lifecycle_events(&self, robot_id: &str) -> Result<Vec<LifecycleEvent>, StoreError> {
        let started: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM lifecycle_heads WHERE robot_id = $1")
                .bind(robot_id)
                .fetch_optional(&self.read.pool)
                .await
                .map_err(StoreError::db("lifecycle: reading the head"))?;
        if started.is_none() {
            super::issuance::with_retries(|| async {
                let mut tx = self.begin_write().await?;
                self.head_or_genesis(&mut tx, robot_id).await?;
                commit(tx, "lifecycle: first event").await
            })
            .await?;
        }
        sqlx::query(
            "SELECT robot_id, seq, at, actor, kind, payload, prev_hash, hash \
             FROM lifecycle_events WHERE robot_id = $1 ORDER BY seq",
        )
        .bind(robot_id)
        .fetch_all(&self.read.pool)
        .await
        .map_err(StoreError::db("lifecycle: reading the history"))?
        .iter()
        .map(event_from_row)
        .collect()
    }
}

impl Store {
    async fn append_once(&self, new: &NewEvent<'_>, payload: &str) -> Result<Appended, StoreError> {
        let mut tx = self.begin_write().await?;
        let appended = self.append_in(&mut tx, new, payload, now()).await?;
        commit(tx, "lifecycle: appending an event").await?;
        Ok(appended)
    }

    /// Appends `new` (its details as `payload`, the JSON text hashed) to
    /// the robot's history within the caller's write transaction, with its
    /// effect on the live certificate; the caller commits. The completion
    /// of a component replacement's certificate uses it, so that the new
    /// certificate and the event that caused it commit together.
    pub(super) async fn append_in(
        &self,
        tx: &mut WriteTx,
        new: &NewEvent<'_>,
        payload: &str,
        at: i64,
    ) -> Result<Appended, StoreError> {
        let head = self.head_or_genesis(tx, new.robot_id).await?;
        let (state, effect) = states::plan(head.state, new.kind).map_err(|r| refusal(&r))?;
        let revocation = match effect {
            CertificateEffect::None => None,
            CertificateEffect::Hold => Some(self.on_live(tx, new, Action::Hold, at).await?),
            CertificateEffect::Release => Some(self.on_live(tx, new, Action::Release, at).await?),
            CertificateEffect::Revoke(reason) => {
                match self.on_live(tx, new, Action::Revoke(reason), at).await {
                    Ok(change) => Some(change),
                    // Revoked for good already (say, keyCompromise): the
                    // robot is decommissioned all the same.
                    Err(StoreError::Refused {
                        rule: Rule::RevocationAlreadyRevoked,
                        ..
                    }) => None,
                    Err(e) => return Err(e),
                }
            }
        };
        let event = self
            .insert_event(
                tx,
                new.robot_id,
                &head,
                new.kind,
                at,
                new.actor,
                payload,
                state,
            )
            .await?;
        Ok(Appended {
            event,
            state,
            revocation,
        })
    }

    /// Applies `action` to the robot's live certificate.
    async fn on_live(
        &self,
        tx: &mut WriteTx,
        new: &NewEvent<'_>,
        action: Action,
        at: i64,
    ) -> Result<Change, StoreError> {
        let conn: &mut AnyConnection = tx;
        let serial: Option<String> = sqlx::query_scalar(
            "SELECT serial_hex FROM certificates WHERE robot_id = $1 AND status = 'issued'",
        )
        .bind(new.robot_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db("lifecycle: reading the live certificate"))?;
        let Some(serial) = serial else {
            return Err(StoreError::Refused {
                rule: Rule::RobotNoLiveCertificate,
                detail: format!(
                    "robot {} holds no live certificate for {} to act on",
                    new.robot_id,
                    new.kind.as_str()
                ),
            });
        };
        self.change_in(tx, &serial, action, new.actor, at).await
    }

    /// Locks the robot and reads its head, writing the `manufactured` event
    /// first if the history is empty.
    async fn head_or_genesis(&self, tx: &mut WriteTx, robot_id: &str) -> Result<Head, StoreError> {
        let sql = tx.sql();
        let conn: &mut AnyConnection = tx;
        let lock = sql.row_lock();
        let robot = sql::query(format!(
            "SELECT manufacturer_code, model FROM robots WHERE robot_id = $1{lock}"
        ))
        .bind(robot_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db("lifecycle: reading the robot"))?;
        let Some(robot) = robot else {
            return Err(StoreError::NotFound {
                what: "robot",
                key: robot_id.to_owned(),
            });
        };
        let (code, model): (String, String) = (|| Ok((robot.try_get(0)?, robot.try_get(1)?)))()
            .map_err(StoreError::db("lifecycle: decoding the robot"))?;
        let head = sqlx::query("SELECT seq, hash, state FROM lifecycle_heads WHERE robot_id = $1")
            .bind(robot_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(StoreError::db("lifecycle: reading the head"))?;
        if let Some(row) = head {
            let (seq, hash, state) = (|| {
                Ok::<_, sqlx::Error>((
                    row.try_get::<i64, _>(0)?,
                    row.try_get::<Vec<u8>, _>(1)?,
                    row.try_get::<String, _>(2)?,
                ))
            })()
            .map_err(StoreError::db("lifecycle: decoding the head"))?;
            return Ok(Head {
                seq: u64::try_from(seq)
                    .map_err(|_| corrupt("lifecycle_heads.seq", seq.to_string()))?,
                hash: hash32(hash, "lifecycle_heads.hash")?,
                state: LifeState::parse(&state)
                    .ok_or_else(|| corrupt("lifecycle_heads.state", state.clone()))?,
            });
        }
        let first = signed_in_order(tx, robot_id).await?.into_iter().next();
        let Some(first) = first else {
            return Err(StoreError::Refused {
                rule: Rule::LifecycleNotManufactured,
                detail: format!(
                    "robot {robot_id} has no signed certificate yet: its history begins at first issuance"
                ),
            });
        };
        let (serial, issued_at) = (first.serial_hex, first.issued_at);
        let genesis = Head {
            seq: 0,
            hash: GENESIS,
            state: LifeState::Manufactured,
        };
        let payload = json!({ "serial": serial, "manufacturer": code, "model": model }).to_string();
        let event = self
            .insert_event(
                tx,
                robot_id,
                &genesis,
                EventKind::Manufactured,
                issued_at,
                "ca",
                &payload,
                LifeState::Manufactured,
            )
            .await?;
        Ok(Head {
            seq: event.seq,
            hash: event.hash,
            state: LifeState::Manufactured,
        })
    }

    /// Inserts the event after `head` and moves the head (inserting it for
    /// the first event).
    #[allow(clippy::too_many_arguments)] // one event's fields; a struct would only rename them
    async fn insert_event(
        &self,
        tx: &mut WriteTx,
        robot_id: &str,
        head: &Head,
        kind: EventKind,
        at: i64,
        actor: &str,
        payload: &str,
        state: LifeState,
    ) -> Result<LifecycleEvent, StoreError> {
        let sql = tx.sql();
        let conn: &mut AnyConnection = tx;
        let seq = head.seq.saturating_add(1);
        let hash = event_hash(&EventFields {
            robot_id,
            seq,
            prev_hash: &head.hash,
            kind: kind.as_str(),
            at,
            actor,
            payload,
        });
        let seq_db = i64::try_from(seq).map_err(|_| StoreError::Invalid {
            what: "lifecycle.seq",
            detail: "the history is full".into(),
        })?;
        sql::query(format!(
            "INSERT INTO lifecycle_events ({EVENT_COLUMNS}) VALUES ({})",
            sql.list(8, 1)
        ))
        .bind(robot_id)
        .bind(seq_db)
        .bind(at)
        .bind(actor)
        .bind(kind.as_str())
        .bind(payload)
        .bind(head.hash.to_vec())
        .bind(hash.to_vec())
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db("lifecycle: inserting the event"))?;
        let moved = if head.seq == 0 {
            sql::query(format!(
                "INSERT INTO lifecycle_heads (robot_id, seq, hash, state, updated_at) VALUES ({})",
                sql.list(5, 1)
            ))
            .bind(robot_id)
            .bind(seq_db)
            .bind(hash.to_vec())
            .bind(state.as_str())
            .bind(at)
        } else {
            sql::query(
                "UPDATE lifecycle_heads SET seq = $1, hash = $2, state = $3, updated_at = $4 \
                 WHERE robot_id = $5"
                    .to_owned(),
            )
            .bind(seq_db)
            .bind(hash.to_vec())
            .bind(state.as_str())
            .bind(at)
            .bind(robot_id)
        };
        moved
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("lifecycle: moving the head"))?;
        tx.log(ChangeKind::Lifecycle, robot_id, None);
        Ok(LifecycleEvent {
            robot_id: robot_id.to_owned(),
            seq,
            at,
            actor: actor.to_owned(),
            kind,
            payload: payload.to_owned(),
            prev_hash: head.hash,
            hash,
        })
    }
}

/// A signed certificate of a robot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Signed {
    pub(super) serial_hex: String,
    pub(super) der: Vec<u8>,
    issued_at: i64,
    superseded_by: Option<String>,
}

/// The robot's signed certificates in issue order.
pub(super) async fn signed_in_order(
    conn: &mut AnyConnection,
    robot_id: &str,
) -> Result<Vec<Signed>, StoreError> {
    let rows = sqlx::query(
        "SELECT serial_hex, der, issued_at, superseded_by FROM certificates \
         WHERE robot_id = $1 AND der IS NOT NULL AND issued_at IS NOT NULL",
    )
    .bind(robot_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(StoreError::db("lifecycle: reading certificates"))?;
    let certs = rows
        .iter()
        .map(|row| {
            Ok(Signed {
                serial_hex: row.try_get(0)?,
                der: row.try_get(1)?,
                issued_at: row.try_get(2)?,
                superseded_by: row.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(StoreError::db("lifecycle: decoding certificates"))?;
    Ok(issue_order(certs))
}

/// Sorts by signing time and, within a second (a re-issue can follow at
/// once), by how many certificates the supersession chain puts before each.
fn issue_order(mut certs: Vec<Signed>) -> Vec<Signed> {
    let index: std::collections::HashMap<&str, usize> = certs
        .iter()
        .enumerate()
        .map(|(i, c)| (c.serial_hex.as_str(), i))
        .collect();
    let mut before = vec![0usize; certs.len()];
    for c in &certs {
        let mut next = c.superseded_by.as_deref();
        // Bounded: a chain visits each certificate at most once.
        for _ in 0..certs.len() {
            let Some(&i) = next.and_then(|s| index.get(s)) else {
                break;
            };
            before[i] += 1;
            next = certs[i].superseded_by.as_deref();
        }
    }
    let mut keyed: Vec<(i64, usize, usize)> = certs
        .iter()
        .enumerate()
        .map(|(i, c)| (c.issued_at, before[i], i))
        .collect();
    keyed.sort_unstable();
    let mut slots: Vec<Option<Signed>> = certs.drain(..).map(Some).collect();
    keyed
        .into_iter()
        .filter_map(|(_, _, i)| slots.get_mut(i).and_then(Option::take))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(serial: &str, at: i64, next: Option<&str>) -> Signed {
        Signed {
            serial_hex: serial.into(),
            der: Vec::new(),
            issued_at: at,
            superseded_by: next.map(str::to_owned),
        }
    }

    #[test]
    fn re_issues_in_one_second_keep_their_order() {
        // Serials are random: "ff" was issued first and superseded by "00",
        // which "80" superseded, all in one second.
        let certs = vec![
            cert("80", 5, None),
            cert("00", 5, Some("80")),
            cert("ff", 5, Some("00")),
            cert("11", 3, Some("ff")),
        ];
        let order: Vec<String> = issue_order(certs)
            .into_iter()
            .map(|c| c.serial_hex)
            .collect();
        assert_eq!(order, ["11", "ff", "00", "80"]);
    }
}
