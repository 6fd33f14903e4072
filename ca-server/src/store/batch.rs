//! The bulk reads and writes of `begin_issuance`: many rows per statement,
//! because per-statement cost dominates a batch of 10,000.

use std::collections::{HashMap, HashSet};

use sqlx::AnyConnection;
use sqlx::Row;

use super::decide::Live;
use super::reads::{CERT_COLUMNS, certificate_from_row};
use super::sql::{self, rows_per_statement};
use super::writer::WriteTx;
use super::{CertStatus, IssuanceIntent, StoreError};

/// Most items of an `IN (...)` list in one read.
pub(super) const IN_CHUNK: usize = 5_000;

/// Reads the live certificates of these robots.
pub(super) async fn read_live(
    tx: &mut WriteTx,
    robot_ids: &[&str],
) -> Result<HashMap<String, Live>, StoreError> {
    let sql = tx.sql();
    let conn: &mut AnyConnection = tx;
    let mut live = HashMap::new();
    for chunk in robot_ids.chunks(IN_CHUNK) {
        let rows = sql::query(format!(
            "SELECT {CERT_COLUMNS}, spki_sha256 FROM certificates \
             WHERE status IN ('pending', 'issued') AND robot_id IN ({})",
            sql.list(chunk.len(), 1)
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
pub(super) async fn read_robots(
    tx: &mut WriteTx,
    robot_ids: &[&str],
) -> Result<HashMap<String, (String, String)>, StoreError> {
    let sql = tx.sql();
    let conn: &mut AnyConnection = tx;
    let mut robots = HashMap::new();
    for chunk in robot_ids.chunks(IN_CHUNK) {
        let q = sql::query(format!(
            "SELECT robot_id, manufacturer_code, model FROM robots WHERE robot_id IN ({})",
            sql.list(chunk.len(), 1)
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
pub(super) async fn read_models(
    tx: &mut WriteTx,
    codes: &[&str],
) -> Result<HashMap<(String, String), bool>, StoreError> {
    let sql = tx.sql();
    let conn: &mut AnyConnection = tx;
    let mut models = HashMap::new();
    for chunk in codes.chunks(IN_CHUNK) {
        let q = sql::query(format!(
            "SELECT m.manufacturer_code, m.model, f.active FROM models m \
             JOIN manufacturers f ON f.code = m.manufacturer_code \
             WHERE m.manufacturer_code IN ({})",
            sql.list(chunk.len(), 1)
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

/// Inserts robots (already sorted, so concurrent batches lock rows in one
/// order); returns the IDs actually inserted.
pub(super) async fn insert_robots(
    tx: &mut WriteTx,
    intents: &[IssuanceIntent],
    which: &[usize],
    at: i64,
) -> Result<HashSet<String>, StoreError> {
    let sql = tx.sql();
    let conn: &mut AnyConnection = tx;
    const COLS: usize = 4;
    let mut inserted = HashSet::with_capacity(which.len());
    for chunk in which.chunks(rows_per_statement(COLS, 0)) {
        let text = format!(
            "INSERT INTO robots (robot_id, manufacturer_code, model, created_at) VALUES {} \
             ON CONFLICT (robot_id) DO NOTHING RETURNING robot_id",
            sql.tuples(chunk.len(), COLS, 1)
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
pub(super) async fn supersede(
    tx: &mut WriteTx,
    reissues: &[(usize, String)],
    serials: &[String],
    at: i64,
) -> Result<HashSet<String>, StoreError> {
    let sql = tx.sql();
    let conn: &mut AnyConnection = tx;
    let mut changed = HashSet::with_capacity(reissues.len());
    let mut sorted: Vec<&(usize, String)> = reissues.iter().collect();
    sorted.sort_unstable_by(|a, b| a.1.cmp(&b.1));
    for chunk in sorted.chunks(rows_per_statement(2, 1)) {
        let text = format!(
            "UPDATE certificates SET status = 'superseded', superseded_by = v.column2, \
             superseded_at = {} FROM (VALUES {}) AS v \
             WHERE certificates.serial_hex = v.column1 AND certificates.status = 'issued' \
             RETURNING certificates.serial_hex",
            sql.param(1),
            sql.tuples(chunk.len(), 2, 2)
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
pub(super) async fn insert_certificates(
    tx: &mut WriteTx,
    intents: &[IssuanceIntent],
    serials: &[String],
    which: &[usize],
    at: i64,
) -> Result<HashSet<String>, StoreError> {
    let sql = tx.sql();
    let conn: &mut AnyConnection = tx;
    const COLS: usize = 10;
    let mut won = HashSet::with_capacity(which.len());
    for chunk in which.chunks(rows_per_statement(COLS, 0)) {
        let text = format!(
            "INSERT INTO certificates (serial_hex, robot_id, status, csr_sha256, spki_sha256, \
             csr_der, reissue, not_before, not_after, created_at) VALUES {} \
             ON CONFLICT (robot_id) WHERE status IN ('pending', 'issued') DO NOTHING \
             RETURNING serial_hex",
            sql.tuples(chunk.len(), COLS, 1)
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
pub(super) async fn insert_components(
    tx: &mut WriteTx,
    intents: &[IssuanceIntent],
    serials: &[String],
    which: &[usize],
) -> Result<(), StoreError> {
    let sql = tx.sql();
    let conn: &mut AnyConnection = tx;
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
            sql.tuples(chunk.len(), COLS, 1)
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
