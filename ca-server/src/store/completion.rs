//! After signing: recording certificates as issued, and abandoning
//! requests that were recorded but will not be released.

use std::collections::HashMap;

use serde_json::json;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use robotid_verifier::rule::Rule;

use super::audit::{self, NewEntry};
use super::batch::IN_CHUNK;
use super::change_log::ChangeKind;
use super::lifecycle::{Appended, NewEvent};
use super::sql::{self, now, rows_per_statement};
use super::writer::WriteTx;
use super::{CertStatus, Store, StoreError, commit};

impl Store {
    pub(super) async fn complete_once(
        &self,
        items: &[(String, &[u8])],
        actor: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let sql = tx.sql();
        let conn: &mut AnyConnection = &mut tx;
        let mut updated: HashMap<String, String> = HashMap::with_capacity(items.len());
        for chunk in items.chunks(rows_per_statement(2, 1)) {
            let text = format!(
                "UPDATE certificates SET status = 'issued', der = v.column2, issued_at = {} \
                 FROM (VALUES {}) AS v \
                 WHERE certificates.serial_hex = v.column1 AND certificates.status = 'pending' \
                 RETURNING certificates.serial_hex, certificates.robot_id",
                sql.param(1),
                sql.tuples(chunk.len(), 2, 2)
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
            check_already_issued(&mut tx, items, &updated).await?;
        }
        for (serial, _) in items {
            if let Some(robot_id) = updated.get(serial) {
                tx.log(ChangeKind::Issued, robot_id, Some(serial));
            }
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
        audit::append(&mut tx, &entries).await?;
        commit(tx, "complete_issuance").await
    }

    /// One re-issued certificate recorded as issued together with the
    /// lifecycle event that caused it; see
    /// [`Issuance::complete_with_event`](super::roles::Issuance::complete_with_event).
    pub(super) async fn complete_with_event_once(
        &self,
        serial: &str,
        der: &[u8],
        supersedes: Option<&str>,
        event: &NewEvent<'_>,
        payload: &str,
    ) -> Result<Appended, StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut tx;
        let robot: Option<String> = sqlx::query_scalar(
            "UPDATE certificates SET status = 'issued', der = $1, issued_at = $2 \
             WHERE serial_hex = $3 AND status = 'pending' RETURNING robot_id",
        )
        .bind(der)
        .bind(at)
        .bind(serial)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db(
            "complete_issuance: recording the certificate",
        ))?;
        match robot {
            None => {
                return Err(StoreError::Conflict {
                    what: "certificate",
                    detail: format!(
                        "serial {serial} is not pending: only the certificate recorded for \
                         the event can be completed with it"
                    ),
                });
            }
            Some(robot) if robot != event.robot_id => {
                return Err(StoreError::Invalid {
                    what: "lifecycle.robot_id",
                    detail: format!(
                        "certificate {serial} is robot {robot}'s, not {}'s",
                        event.robot_id
                    ),
                });
            }
            Some(_) => {}
        }
        // The event names the certificate it replaces, as the RA read it;
        // the re-issue superseded whatever was live when it was recorded.
        // Should the two differ, the event would lie: refuse it.
        let superseded: Option<String> =
            sqlx::query_scalar("SELECT serial_hex FROM certificates WHERE superseded_by = $1")
                .bind(serial)
                .fetch_optional(&mut *conn)
                .await
                .map_err(StoreError::db(
                    "complete_issuance: reading the superseded certificate",
                ))?;
        if superseded.as_deref() != supersedes {
            return Err(StoreError::Refused {
                rule: Rule::RobotLiveCertificate,
                detail: format!(
                    "robot {}: its live certificate changed while the replacement was issued \
                     (the re-issue superseded {}, the request named {}); submit again",
                    event.robot_id,
                    superseded.as_deref().unwrap_or("none"),
                    supersedes.unwrap_or("none"),
                ),
            });
        }
        tx.log(ChangeKind::Issued, event.robot_id, Some(serial));
        audit::append(
            &mut tx,
            &[NewEntry {
                at,
                actor: event.actor,
                action: "certificate.issue",
                subject: event.robot_id.to_owned(),
                detail: json!({
                    "serial": serial,
                    "der_sha256": hex::encode(ring::digest::digest(&ring::digest::SHA256, der)),
                }),
            }],
        )
        .await?;
        let appended = self.append_in(&mut tx, event, payload, at).await?;
        commit(tx, "complete_issuance with its lifecycle event").await?;
        Ok(appended)
    }

    pub(super) async fn abandon_once(
        &self,
        serials: &[String],
        reason: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let sql = tx.sql();
        let conn: &mut AnyConnection = &mut tx;
        let mut entries = Vec::new();
        for chunk in serials.chunks(IN_CHUNK) {
            let text = format!(
                "UPDATE certificates SET status = 'failed', failed_at = {}, failure_reason = {} \
                 WHERE status = 'pending' AND serial_hex IN ({}) \
                 RETURNING serial_hex, robot_id",
                sql.param(1),
                sql.param(2),
                sql.list(chunk.len(), 3)
            );
            let q = chunk
                .iter()
                .fold(sql::query(text).bind(at).bind(reason), |q, s| {
                    q.bind(s.as_str())
                });
            let rows = q
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::db("abandon_issuance: marking failed"))?;
            entries.extend(abandon_entries(&rows, at, actor, reason)?);
        }
        audit::append(&mut tx, &entries).await?;
        commit(tx, "abandon_issuance").await
    }

    pub(super) async fn abandon_stale_once(
        &self,
        created_before: i64,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let at = now();
        let reason = format!("still pending, recorded before {created_before}");
        let mut tx = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut tx;
        let rows = sqlx::query(
            "UPDATE certificates SET status = 'failed', failed_at = $1, failure_reason = $2 \
             WHERE status = 'pending' AND created_at < $3 RETURNING serial_hex, robot_id",
        )
        .bind(at)
        .bind(reason.as_str())
        .bind(created_before)
        .fetch_all(&mut *conn)
        .await
        .map_err(StoreError::db("abandon_stale_issuance: marking failed"))?;
        let entries = abandon_entries(&rows, at, actor, &reason)?;
        audit::append(&mut tx, &entries).await?;
        commit(tx, "abandon_stale_issuance").await?;
        u64::try_from(entries.len()).map_err(|_| StoreError::Invalid {
            what: "abandoned count",
            detail: "does not fit in 64 bits".into(),
        })
    }
}

/// Audit entries for rows returned as `serial_hex, robot_id` by an abandon.
fn abandon_entries<'a>(
    rows: &[AnyRow],
    at: i64,
    actor: &'a str,
    reason: &str,
) -> Result<Vec<NewEntry<'a>>, StoreError> {
    rows.iter()
        .map(|row| {
            let (serial, robot_id) = (|| {
                Ok::<_, sqlx::Error>((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?))
            })()
            .map_err(StoreError::db("abandon_issuance: decoding"))?;
            Ok(NewEntry {
                at,
                actor,
                action: "issuance.abandon",
                subject: robot_id,
                detail: json!({"serial": serial, "reason": reason}),
            })
        })
        .collect()
}

/// For serials that `complete_issuance` did not change: fine if already
/// issued with the same DER (a retried call), else the reason to refuse.
async fn check_already_issued(
    tx: &mut WriteTx,
    items: &[(String, &[u8])],
    updated: &HashMap<String, String>,
) -> Result<(), StoreError> {
    let sql = tx.sql();
    let conn: &mut AnyConnection = tx;
    let rest: Vec<&(String, &[u8])> = items
        .iter()
        .filter(|(s, _)| !updated.contains_key(s))
        .collect();
    for chunk in rest.chunks(IN_CHUNK) {
        let q = sql::query(format!(
            "SELECT serial_hex, status, der FROM certificates WHERE serial_hex IN ({})",
            sql.list(chunk.len(), 1)
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
