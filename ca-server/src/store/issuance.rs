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

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::json;
use sqlx::AnyConnection;
use sqlx::Row;

use super::audit::{self, NewEntry};
use super::reads::{CERT_COLUMNS, certificate_from_row};
use super::records::rules;
use super::sql::{self, list, normalize_serial, now, param, rows_per_statement, tuples};
use super::{
    Backend, BeginOutcome, CertStatus, CertificateRecord, IssuanceIntent, Store, StoreError, commit,
};

/// How often a batch is re-run after a deadlock, serialization failure or
/// SQLite busy error (the transaction rolled back whole, so it is safe).
const RETRIES: u32 = 4;

/// Most items of an `IN (...)` list in one read.
const IN_CHUNK: usize = 5_000;

/// A live certificate as read before deciding.
struct Live {
    record: CertificateRecord,
    spki_sha256: Vec<u8>,
}

/// The decision for one intent while the transaction runs.
enum Plan {
    /// Decided: not written.
    Done(BeginOutcome),
    /// To be recorded.
    Go {
        new_robot: bool,
        /// The live certificate a declared re-issue supersedes.
        supersedes: Option<String>,
    },
}

fn refused(rule: &'static str, detail: String) -> Plan {
    Plan::Done(BeginOutcome::Refused { rule, detail })
}

/// Runs `f` again while it fails with a transient concurrency error.
async fn with_retries<T, F, Fut>(mut f: F) -> Result<T, StoreError>
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

/// What the robot's live certificate means for an intent.
fn against_live(intent: &IssuanceIntent, live: &Live) -> Plan {
    let current = &live.record;
    if current.csr_sha256 == intent.csr_sha256 {
        // The identical CSR: the same certificate, never a second one.
        return Plan::Done(match current.status {
            CertStatus::Pending => BeginOutcome::InProgress {
                serial_hex: current.serial_hex.clone(),
            },
            _ => BeginOutcome::Existing(current.clone()),
        });
    }
    let key = if live.spki_sha256 == intent.spki_sha256 {
        "the same key but another request"
    } else {
        "a different key"
    };
    match (current.status, intent.reissue) {
        (CertStatus::Pending, true) => refused(
            rules::ISSUANCE_IN_PROGRESS,
            format!(
                "robot {}: certificate {} is being issued for another request; \
                 re-issue once it is issued or abandoned",
                intent.robot_id, current.serial_hex
            ),
        ),
        (CertStatus::Issued, true) => Plan::Go {
            new_robot: false,
            supersedes: Some(current.serial_hex.clone()),
        },
        (status, _) => refused(
            rules::LIVE_CERTIFICATE,
            format!(
                "robot {} holds live certificate {} ({}); this request has {key} \
                 and is not a declared re-issue",
                intent.robot_id,
                current.serial_hex,
                status.as_str()
            ),
        ),
    }
}

/// Reads the live certificates of these robots.
async fn read_live(
    backend: Backend,
    conn: &mut AnyConnection,
    robot_ids: &[&str],
) -> Result<HashMap<String, Live>, StoreError> {
    let mut live = HashMap::new();
    for chunk in robot_ids.chunks(IN_CHUNK) {
        let rows = sql::query(format!(
            "SELECT {CERT_COLUMNS}, spki_sha256 FROM certificates \
             WHERE status IN ('pending', 'issued') AND robot_id IN ({})",
            list(backend, chunk.len(), 1)
        ));
        let rows = chunk
            .iter()
            .fold(rows, |q, id| q.bind(*id))
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::db("begin_issuance: reading live certificates"))?;
        for row in &rows {
            let record = certificate_from_row(row)?;
            let spki_sha256 = row
                .try_get::<Vec<u8>, _>(8)
                .map_err(StoreError::db("begin_issuance: decoding spki_sha256"))?;
            live.insert(
                record.robot_id.clone(),
                Live {
                    record,
                    spki_sha256,
                },
            );
        }
    }
    Ok(live)
}

/// Reads the manufacturer and model of these robots.
async fn read_robots(
    backend: Backend,
    conn: &mut AnyConnection,
    robot_ids: &[&str],
) -> Result<HashMap<String, (String, String)>, StoreError> {
    let mut robots = HashMap::new();
    for chunk in robot_ids.chunks(IN_CHUNK) {
        let q = sql::query(format!(
            "SELECT robot_id, manufacturer_code, model FROM robots WHERE robot_id IN ({})",
            list(backend, chunk.len(), 1)
        ));
        let rows = chunk
            .iter()
            .fold(q, |q, id| q.bind(*id))
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::db("begin_issuance: reading robots"))?;
        for row in &rows {
            let (id, code, model) = (|| {
                Ok::<_, sqlx::Error>((
                    row.try_get::<String, _>(0)?,
                    row.try_get::<String, _>(1)?,
                    row.try_get::<String, _>(2)?,
                ))
            })()
            .map_err(StoreError::db("begin_issuance: decoding robots"))?;
            robots.insert(id, (code, model));
        }
    }
    Ok(robots)
}

/// Reads the registered models of these manufacturers, with whether the
/// manufacturer is active.
async fn read_models(
    backend: Backend,
    conn: &mut AnyConnection,
    codes: &[&str],
) -> Result<HashMap<(String, String), bool>, StoreError> {
    let mut models = HashMap::new();
    for chunk in codes.chunks(IN_CHUNK) {
        let q = sql::query(format!(
            "SELECT m.manufacturer_code, m.model, f.active FROM models m \
             JOIN manufacturers f ON f.code = m.manufacturer_code \
             WHERE m.manufacturer_code IN ({})",
            list(backend, chunk.len(), 1)
        ));
        let rows = chunk
            .iter()
            .fold(q, |q, code| q.bind(*code))
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::db("begin_issuance: reading models"))?;
        for row in &rows {
            let (code, model, active) = (|| {
                Ok::<_, sqlx::Error>((
                    row.try_get::<String, _>(0)?,
                    row.try_get::<String, _>(1)?,
                    row.try_get::<i64, _>(2)?,
                ))
            })()
            .map_err(StoreError::db("begin_issuance: decoding models"))?;
            models.insert((code, model), active == 1);
        }
    }
    Ok(models)
}

impl Store {
    /// Records a batch of vetted requests before signing, in one
    /// transaction, and returns one outcome per intent, in order. Only
    /// [`BeginOutcome::Proceed`] wrote anything: the robot (if new), the
    /// certificate as pending with its serial and CSR, its components, and an
    /// audit entry; a declared re-issue also marked the robot's issued
    /// certificate superseded. A refused intent does not affect the others.
    ///
    /// Errors concern the whole batch, which is then not recorded at all:
    /// a serial already recorded or repeated in the batch (Conflict, never an
    /// overwrite), invalid serials, database failures.
    pub async fn begin_issuance(
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

    async fn begin_once(
        &self,
        intents: &[IssuanceIntent],
        serials: &[String],
        actor: &str,
    ) -> Result<Vec<BeginOutcome>, StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut tx;
        let backend = self.backend;

        let mut codes: Vec<&str> = intents
            .iter()
            .map(|i| i.manufacturer_code.as_str())
            .collect();
        codes.sort_unstable();
        codes.dedup();
        let mut robot_ids: Vec<&str> = intents.iter().map(|i| i.robot_id.as_str()).collect();
        robot_ids.sort_unstable();
        robot_ids.dedup();
        let models = read_models(backend, conn, &codes).await?;
        let mut robots = read_robots(backend, conn, &robot_ids).await?;
        let live = read_live(backend, conn, &robot_ids).await?;

        // Decide each intent from what was read.
        let mut first_seen: HashMap<&str, usize> = HashMap::with_capacity(intents.len());
        let mut plans: Vec<Plan> = intents
            .iter()
            .enumerate()
            .map(|(index, intent)| {
                if let Some(&first) = first_seen.get(intent.robot_id.as_str()) {
                    return refused(
                        rules::DUPLICATE_IN_BATCH,
                        format!(
                            "robot {} appears again in this batch (items {first} and {index})",
                            intent.robot_id
                        ),
                    );
                }
                first_seen.insert(intent.robot_id.as_str(), index);
                decide(intent, &models, &robots, &live)
            })
            .collect();

        // New robots. One created meanwhile by another transaction is
        // re-read and must agree on manufacturer and model.
        let mut new_robots: Vec<usize> = go_indices(&plans, |new_robot, _| new_robot);
        new_robots.sort_unstable_by(|a, b| intents[*a].robot_id.cmp(&intents[*b].robot_id));
        let inserted = insert_robots(backend, conn, intents, &new_robots, at).await?;
        let raced: Vec<&str> = new_robots
            .iter()
            .map(|&i| intents[i].robot_id.as_str())
            .filter(|id| !inserted.contains(*id))
            .collect();
        if !raced.is_empty() {
            robots.extend(read_robots(backend, conn, &raced).await?);
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
        let superseded = supersede(backend, conn, &reissues, serials, at).await?;
        for (i, old) in &reissues {
            if !superseded.contains(old) {
                plans[*i] = refused(
                    rules::LIVE_CERTIFICATE,
                    format!(
                        "robot {}: its live certificate {old} changed while this request \
                         was recorded; submit again",
                        intents[*i].robot_id
                    ),
                );
            }
        }

        // The certificates. A row the partial unique index turned away lost
        // a race with another transaction: answer from what won.
        let mut go: Vec<usize> = go_indices(&plans, |_, _| true);
        go.sort_unstable_by(|a, b| intents[*a].robot_id.cmp(&intents[*b].robot_id));
        let won = insert_certificates(backend, conn, intents, serials, &go, at).await?;
        let lost: Vec<usize> = go
            .iter()
            .copied()
            .filter(|&i| !won.contains(&serials[i]))
            .collect();
        if !lost.is_empty() {
            let lost_ids: Vec<&str> = lost.iter().map(|&i| intents[i].robot_id.as_str()).collect();
            let live_now = read_live(backend, conn, &lost_ids).await?;
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
                plans[i] = match live_now.get(intent.robot_id.as_str()) {
                    Some(current) => match against_live(intent, current) {
                        Plan::Go { .. } => refused(
                            rules::LIVE_CERTIFICATE,
                            format!(
                                "robot {}: another request recorded certificate {} at the \
                                 same time; submit again",
                                intent.robot_id, current.record.serial_hex
                            ),
                        ),
                        done => done,
                    },
                    None => refused(
                        rules::LIVE_CERTIFICATE,
                        format!(
                            "robot {}: another request for it was being recorded at the \
                             same time; submit again",
                            intent.robot_id
                        ),
                    ),
                };
            }
        }

        let winners: Vec<usize> = go
            .into_iter()
            .filter(|i| won.contains(&serials[*i]))
            .collect();
        insert_components(backend, conn, intents, serials, &winners).await?;

        let mut entries = Vec::with_capacity(winners.len() + reissues.len());
        for (i, old) in &reissues {
            if won.contains(&serials[*i]) {
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
        audit::append(backend, conn, &entries).await?;
        commit(tx, "begin_issuance").await?;

        Ok(plans
            .into_iter()
            .map(|plan| match plan {
                Plan::Done(outcome) => outcome,
                Plan::Go { .. } => BeginOutcome::Proceed,
            })
            .collect())
    }

    /// Records signed certificates as issued (DER and time), in one
    /// transaction, durable when it returns. Completing a certificate again
    /// with the same DER is a no-op. The whole batch is refused, and nothing
    /// recorded, if a serial is unknown (NotFound) or not pending (Conflict:
    /// abandoned, superseded, or issued with another DER).
    pub async fn complete_issuance(
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

    async fn complete_once(
        &self,
        items: &[(String, &[u8])],
        actor: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut tx;
        let backend = self.backend;
        let mut updated: HashMap<String, String> = HashMap::with_capacity(items.len());
        for chunk in items.chunks(rows_per_statement(2, 1)) {
            let text = format!(
                "UPDATE certificates SET status = 'issued', der = v.column2, issued_at = {} \
                 FROM (VALUES {}) AS v \
                 WHERE certificates.serial_hex = v.column1 AND certificates.status = 'pending' \
                 RETURNING certificates.serial_hex, certificates.robot_id",
                param(backend, 1),
                tuples(backend, chunk.len(), 2, 2)
            );
            let q = chunk
                .iter()
                .fold(sql::query(text).bind(at), |q, (serial, der)| {
                    q.bind(serial.as_str()).bind(*der)
                });
            for row in q
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::db("complete_issuance: recording certificates"))?
            {
                let pair = (|| {
                    Ok::<_, sqlx::Error>((
                        row.try_get::<String, _>(0)?,
                        row.try_get::<String, _>(1)?,
                    ))
                })()
                .map_err(StoreError::db("complete_issuance: decoding"))?;
                updated.insert(pair.0, pair.1);
            }
        }
        if updated.len() < items.len() {
            check_already_issued(backend, conn, items, &updated).await?;
        }
        let entries: Vec<NewEntry<'_>> = items
            .iter()
            .filter_map(|(serial, der)| {
                updated.get(serial).map(|robot_id| NewEntry {
                    at,
                    actor,
                    action: "certificate.issue",
                    subject: robot_id.clone(),
                    detail: json!({
                        "serial": serial,
                        "der_sha256": hex::encode(ring::digest::digest(&ring::digest::SHA256, der)),
                    }),
                })
            })
            .collect();
        audit::append(backend, conn, &entries).await?;
        commit(tx, "complete_issuance").await
    }

    /// Marks pending certificates failed (never signed, or signed and never
    /// released), so that their robots can try again. Serials that are not
    /// pending are left as they are: an issued certificate is never undone.
    pub async fn abandon_issuance(
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

    async fn abandon_once(
        &self,
        serials: &[String],
        reason: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut tx;
        let backend = self.backend;
        let mut entries = Vec::new();
        for chunk in serials.chunks(IN_CHUNK) {
            let text = format!(
                "UPDATE certificates SET status = 'failed', failed_at = {}, failure_reason = {} \
                 WHERE status = 'pending' AND serial_hex IN ({}) \
                 RETURNING serial_hex, robot_id",
                param(backend, 1),
                param(backend, 2),
                list(backend, chunk.len(), 3)
            );
            let q = chunk
                .iter()
                .fold(sql::query(text).bind(at).bind(reason), |q, s| {
                    q.bind(s.as_str())
                });
            for row in q
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::db("abandon_issuance: marking failed"))?
            {
                let (serial, robot_id) = (|| {
                    Ok::<_, sqlx::Error>((
                        row.try_get::<String, _>(0)?,
                        row.try_get::<String, _>(1)?,
                    ))
                })()
                .map_err(StoreError::db("abandon_issuance: decoding"))?;
                entries.push(NewEntry {
                    at,
                    actor,
                    action: "issuance.abandon",
                    subject: robot_id,
                    detail: json!({"serial": serial, "reason": reason}),
                });
            }
        }
        audit::append(backend, conn, &entries).await?;
        commit(tx, "abandon_issuance").await
    }
}

/// The decision for an intent that is not a repeat within its batch.
fn decide(
    intent: &IssuanceIntent,
    models: &HashMap<(String, String), bool>,
    robots: &HashMap<String, (String, String)>,
    live: &HashMap<String, Live>,
) -> Plan {
    let key = (intent.manufacturer_code.clone(), intent.model.clone());
    match models.get(&key) {
        None => {
            return refused(
                rules::MODEL_APPROVED,
                format!(
                    "model {} is not registered for manufacturer {}",
                    intent.model, intent.manufacturer_code
                ),
            );
        }
        Some(false) => {
            return refused(
                rules::MANUFACTURER_ACTIVE,
                format!("manufacturer {} is deactivated", intent.manufacturer_code),
            );
        }
        Some(true) => {}
    }
    if let Some(refusal) = robot_mismatch(intent, robots) {
        return refusal;
    }
    match live.get(intent.robot_id.as_str()) {
        Some(current) => against_live(intent, current),
        None => Plan::Go {
            new_robot: !robots.contains_key(intent.robot_id.as_str()),
            supersedes: None,
        },
    }
}

/// A refusal if the robot is registered under another manufacturer or model.
fn robot_mismatch(
    intent: &IssuanceIntent,
    robots: &HashMap<String, (String, String)>,
) -> Option<Plan> {
    let (code, model) = robots.get(intent.robot_id.as_str())?;
    if *code == intent.manufacturer_code && *model == intent.model {
        return None;
    }
    Some(refused(
        rules::ROBOT_MANUFACTURER,
        format!(
            "robot {} is registered under {code}/{model}, not {}/{}",
            intent.robot_id, intent.manufacturer_code, intent.model
        ),
    ))
}

/// Indices of the intents still to be recorded, filtered on
/// `(new_robot, supersedes something)`.
fn go_indices(plans: &[Plan], keep: impl Fn(bool, bool) -> bool) -> Vec<usize> {
    plans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            Plan::Go {
                new_robot,
                supersedes,
            } if keep(*new_robot, supersedes.is_some()) => Some(i),
            _ => None,
        })
        .collect()
}

/// Inserts robots (already sorted, so concurrent batches lock rows in one
/// order); returns the IDs actually inserted.
async fn insert_robots(
    backend: Backend,
    conn: &mut AnyConnection,
    intents: &[IssuanceIntent],
    which: &[usize],
    at: i64,
) -> Result<HashSet<String>, StoreError> {
    const COLS: usize = 4;
    let mut inserted = HashSet::with_capacity(which.len());
    for chunk in which.chunks(rows_per_statement(COLS, 0)) {
        let text = format!(
            "INSERT INTO robots (robot_id, manufacturer_code, model, created_at) VALUES {} \
             ON CONFLICT (robot_id) DO NOTHING RETURNING robot_id",
            tuples(backend, chunk.len(), COLS, 1)
        );
        let q = chunk.iter().fold(sql::query(text), |q, &i| {
            let intent = &intents[i];
            q.bind(intent.robot_id.as_str())
                .bind(intent.manufacturer_code.as_str())
                .bind(intent.model.as_str())
                .bind(at)
        });
        for row in q
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::db("begin_issuance: inserting robots"))?
        {
            inserted.insert(
                row.try_get::<String, _>(0)
                    .map_err(StoreError::db("begin_issuance: decoding robots"))?,
            );
        }
    }
    Ok(inserted)
}

/// Marks issued certificates superseded by the new serials; returns the old
/// serials actually changed.
async fn supersede(
    backend: Backend,
    conn: &mut AnyConnection,
    reissues: &[(usize, String)],
    serials: &[String],
    at: i64,
) -> Result<HashSet<String>, StoreError> {
    let mut changed = HashSet::with_capacity(reissues.len());
    let mut sorted: Vec<&(usize, String)> = reissues.iter().collect();
    sorted.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    for chunk in sorted.chunks(rows_per_statement(2, 1)) {
        let text = format!(
            "UPDATE certificates SET status = 'superseded', superseded_by = v.column2, \
             superseded_at = {} FROM (VALUES {}) AS v \
             WHERE certificates.serial_hex = v.column1 AND certificates.status = 'issued' \
             RETURNING certificates.serial_hex",
            param(backend, 1),
            tuples(backend, chunk.len(), 2, 2)
        );
        let q = chunk.iter().fold(sql::query(text).bind(at), |q, (i, old)| {
            q.bind(old.as_str()).bind(serials[*i].as_str())
        });
        for row in q
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::db("begin_issuance: superseding"))?
        {
            changed.insert(
                row.try_get::<String, _>(0)
                    .map_err(StoreError::db("begin_issuance: decoding superseded"))?,
            );
        }
    }
    Ok(changed)
}

/// Inserts pending certificates; returns the serials that went in. A row
/// that would make a second live certificate for its robot is skipped by
/// the partial unique index; a serial already taken is a Conflict.
async fn insert_certificates(
    backend: Backend,
    conn: &mut AnyConnection,
    intents: &[IssuanceIntent],
    serials: &[String],
    which: &[usize],
    at: i64,
) -> Result<HashSet<String>, StoreError> {
    const COLS: usize = 10;
    let mut won = HashSet::with_capacity(which.len());
    for chunk in which.chunks(rows_per_statement(COLS, 0)) {
        let text = format!(
            "INSERT INTO certificates (serial_hex, robot_id, status, csr_sha256, spki_sha256, \
             csr_der, reissue, not_before, not_after, created_at) VALUES {} \
             ON CONFLICT (robot_id) WHERE status IN ('pending', 'issued') DO NOTHING \
             RETURNING serial_hex",
            tuples(backend, chunk.len(), COLS, 1)
        );
        let q = chunk.iter().fold(sql::query(text), |q, &i| {
            let intent = &intents[i];
            q.bind(serials[i].as_str())
                .bind(intent.robot_id.as_str())
                .bind(CertStatus::Pending.as_str())
                .bind(intent.csr_sha256.as_slice())
                .bind(intent.spki_sha256.as_slice())
                .bind(intent.csr_der.as_slice())
                .bind(i64::from(intent.reissue))
                .bind(intent.not_before)
                .bind(intent.not_after)
                .bind(at)
        });
        let rows = q.fetch_all(&mut *conn).await.map_err(|source| {
            let e = StoreError::db("begin_issuance: inserting certificates")(source);
            if e.is_unique_violation() {
                // The live-certificate index is handled by ON CONFLICT, so
                // only the primary key is left to violate: a serial already
                // recorded. Never overwritten; the whole batch is refused.
                StoreError::Conflict {
                    what: "certificate serial",
                    detail: format!(
                        "a serial of this batch is already recorded; a serial is never reused: {e}"
                    ),
                }
            } else {
                e
            }
        })?;
        for row in rows {
            won.insert(
                row.try_get::<String, _>(0)
                    .map_err(StoreError::db("begin_issuance: decoding serials"))?,
            );
        }
    }
    Ok(won)
}

/// Inserts the components of the recorded certificates.
async fn insert_components(
    backend: Backend,
    conn: &mut AnyConnection,
    intents: &[IssuanceIntent],
    serials: &[String],
    which: &[usize],
) -> Result<(), StoreError> {
    const COLS: usize = 7;
    let mut rows = Vec::new();
    for &i in which {
        for (position, c) in intents[i].components.iter().enumerate() {
            let position = i64::try_from(position).map_err(|_| StoreError::Invalid {
                what: "components",
                detail: format!("too many for serial {}", serials[i]),
            })?;
            let digests = serde_json::to_string(&c.digests).map_err(|e| StoreError::Invalid {
                what: "component digests",
                detail: e.to_string(),
            })?;
            rows.push((serials[i].as_str(), position, c, digests));
        }
    }
    for chunk in rows.chunks(rows_per_statement(COLS, 0)) {
        let text = format!(
            "INSERT INTO components (serial_hex, position, kind, part_number, supplier, serial, \
             digests) VALUES {}",
            tuples(backend, chunk.len(), COLS, 1)
        );
        chunk
            .iter()
            .fold(sql::query(text), |q, (serial, position, c, digests)| {
                q.bind(*serial)
                    .bind(*position)
                    .bind(c.kind.as_str())
                    .bind(c.part_number.as_str())
                    .bind(c.supplier.as_str())
                    .bind(c.serial.as_str())
                    .bind(digests.as_str())
            })
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("begin_issuance: inserting components"))?;
    }
    Ok(())
}

/// For serials that `complete_issuance` did not change: fine if already
/// issued with the same DER (a retried call), else the reason to refuse.
async fn check_already_issued(
    backend: Backend,
    conn: &mut AnyConnection,
    items: &[(String, &[u8])],
    updated: &HashMap<String, String>,
) -> Result<(), StoreError> {
    let rest: Vec<&(String, &[u8])> = items
        .iter()
        .filter(|(s, _)| !updated.contains_key(s))
        .collect();
    for chunk in rest.chunks(IN_CHUNK) {
        let q = sql::query(format!(
            "SELECT serial_hex, status, der FROM certificates WHERE serial_hex IN ({})",
            list(backend, chunk.len(), 1)
        ));
        let rows = chunk
            .iter()
            .fold(q, |q, (s, _)| q.bind(s.as_str()))
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::db("complete_issuance: reading certificates"))?;
        let mut found: HashMap<String, (String, Option<Vec<u8>>)> = HashMap::new();
        for row in rows {
            let (serial, status, der) = (|| {
                Ok::<_, sqlx::Error>((
                    row.try_get::<String, _>(0)?,
                    row.try_get::<String, _>(1)?,
                    row.try_get::<Option<Vec<u8>>, _>(2)?,
                ))
            })()
            .map_err(StoreError::db("complete_issuance: decoding"))?;
            found.insert(serial, (status, der));
        }
        for (serial, der) in chunk {
            match found.get(serial.as_str()) {
                None => {
                    return Err(StoreError::NotFound {
                        what: "pending certificate",
                        key: serial.clone(),
                    });
                }
                Some((status, Some(stored)))
                    if status == CertStatus::Issued.as_str() && stored.as_slice() == *der => {}
                Some((status, _)) => {
                    return Err(StoreError::Conflict {
                        what: "certificate",
                        detail: format!(
                            "serial {serial} is {status}{}; only a pending certificate can be completed",
                            if status == CertStatus::Issued.as_str() {
                                " with another DER"
                            } else {
                                ""
                            }
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}
