//! The change log: every change that what relying parties are told depends
//! on (a certificate issued, superseded, revoked, held or released; a
//! lifecycle event), numbered densely in the order the changes committed.
//!
//! A write transaction notes its changes as it makes them
//! ([`WriteTx::log`]); they are appended last, just before the commit: the
//! transaction advances the log's head by the number of changes (taking the
//! head's row lock on PostgreSQL; SQLite's write lock already orders
//! writers) and inserts them under the indexes it got. The lock is held
//! only from there to the commit, so a transaction that waited long for
//! another lock (a certificate's row) does not hold up every writer
//! meanwhile. Because the head's lock orders the appends, a transaction
//! with a larger index commits after every smaller one: a reader that has
//! seen index n has seen everything below it, which is what lets servers
//! follow by index and never lose a late commit (decision 0028).

use std::collections::HashSet;

use sqlx::{AnyConnection, Row};

use super::revocation::{RECORD_COLUMNS, record_from_row};
use super::sql::{self, now, rows_per_statement};
use super::writer::WriteTx;
use super::{RevocationRecord, StoreError};

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// A certificate was recorded as issued.
    Issued,
    /// A certificate was superseded by a re-issue.
    Superseded,
    /// A certificate was revoked (or its reason raised).
    Revoked,
    /// A certificate was put on hold.
    Held,
    /// A hold was released.
    Released,
    /// A lifecycle event was appended to a robot's history.
    Lifecycle,
}

impl ChangeKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Issued => "issued",
            ChangeKind::Superseded => "superseded",
            ChangeKind::Revoked => "revoked",
            ChangeKind::Held => "held",
            ChangeKind::Released => "released",
            ChangeKind::Lifecycle => "lifecycle",
        }
    }
}

/// A change noted by a transaction, appended when it commits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct NewChange {
    pub(super) kind: ChangeKind,
    pub(super) robot_id: String,
    pub(super) serial_hex: Option<String>,
}

/// What the certificate views must take in from a stretch of the log: the
/// revocation rows, supersessions and issuances it names, as they stand
/// now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoggedChanges {
    /// The last index read (the cursor for the next read); the cursor
    /// given if nothing was read.
    pub through: i64,
    /// Revocation rows of the certificates revoked, held or released.
    pub rows: Vec<RevocationRecord>,
    /// Certificates superseded: serial (hex) and when.
    pub superseded: Vec<(String, i64)>,
    /// Certificates issued: serial (hex).
    pub issued: Vec<String>,
}

const COLS: usize = 5;

/// Appends `changes` at the end of the log within `tx`; the caller commits
/// at once.
pub(super) async fn append(tx: &mut WriteTx, changes: &[NewChange]) -> Result<(), StoreError> {
    let Ok(count) = i64::try_from(changes.len()) else {
        return Err(StoreError::Invalid {
            what: "change_log",
            detail: "too many changes in one transaction".into(),
        });
    };
    if count == 0 {
        return Ok(());
    }
    let at = now();
    let sql = tx.sql();
    let conn: &mut AnyConnection = tx;
    let end: i64 = sqlx::query_scalar(
        "UPDATE change_log_head SET size = size + $1 WHERE id = 1 RETURNING size",
    )
    .bind(count)
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::db("change log: advancing the head"))?;
    let mut seq = end - count;
    for chunk in changes.chunks(rows_per_statement(COLS, 0)) {
        let text = format!(
            "INSERT INTO change_log (seq, at, kind, robot_id, serial_hex) VALUES {}",
            sql.tuples(chunk.len(), COLS, 1)
        );
        let mut q = sql::query(text);
        for c in chunk {
            seq += 1;
            q = q
                .bind(seq)
                .bind(at)
                .bind(c.kind.as_str())
                .bind(c.robot_id.as_str())
                .bind(c.serial_hex.as_deref());
        }
        q.execute(&mut *conn)
            .await
            .map_err(StoreError::db("change log: appending"))?;
    }
    Ok(())
}

/// The log's size: the index of its last entry, 0 when empty.
pub(super) async fn size(pool: &sqlx::AnyPool) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT size FROM change_log_head WHERE id = 1")
        .fetch_one(pool)
        .await
        .map_err(StoreError::db("change log: reading the head"))
}

/// The certificate changes of the log after index `after`, at most `limit`
/// entries, with the rows they name as they stand now.
pub(super) async fn certificate_changes_after(
    pool: &sqlx::AnyPool,
    sql: super::sql::Dialect,
    after: i64,
    limit: i64,
) -> Result<LoggedChanges, StoreError> {
    let entries = sqlx::query(
        "SELECT seq, kind, serial_hex FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("change log: reading"))?;
    let mut out = LoggedChanges {
        through: after,
        ..LoggedChanges::default()
    };
    let mut revoked: Vec<String> = Vec::new();
    let mut superseded: Vec<String> = Vec::new();
    let mut seen: HashSet<(String, &'static str)> = HashSet::new();
    for row in &entries {
        let (seq, kind, serial) = (|| {
            Ok::<_, sqlx::Error>((
                row.try_get::<i64, _>(0)?,
                row.try_get::<String, _>(1)?,
                row.try_get::<Option<String>, _>(2)?,
            ))
        })()
        .map_err(StoreError::db("change log: decoding"))?;
        out.through = seq;
        let Some(serial) = serial else { continue };
        let (list, key) = match kind.as_str() {
            "issued" => (&mut out.issued, "issued"),
            "superseded" => (&mut superseded, "superseded"),
            "revoked" | "held" | "released" => (&mut revoked, "revocation"),
            _ => continue,
        };
        if seen.insert((serial.clone(), key)) {
            list.push(serial);
        }
    }
    let select = format!("SELECT {RECORD_COLUMNS} FROM revocations WHERE serial_hex IN");
    for row in &with_serials(
        pool,
        sql,
        &select,
        &revoked,
        "change log: reading revocations",
    )
    .await?
    {
        out.rows.push(record_from_row(row)?);
    }
    let select = "SELECT serial_hex, superseded_at FROM certificates \
                  WHERE superseded_at IS NOT NULL AND serial_hex IN";
    let what = "change log: reading supersessions";
    for row in &with_serials(pool, sql, select, &superseded, what).await? {
        out.superseded.push(
            (|| Ok::<_, sqlx::Error>((row.try_get(0)?, row.try_get(1)?)))()
                .map_err(StoreError::db("change log: decoding supersessions"))?,
        );
    }
    Ok(out)
}

/// The rows `select` (a query ending in `IN`) finds for `serials`, read in
/// chunks of [`IN_CHUNK`](super::batch::IN_CHUNK) placeholders.
async fn with_serials(
    pool: &sqlx::AnyPool,
    sql: super::sql::Dialect,
    select: &str,
    serials: &[String],
    what: &'static str,
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    let mut rows = Vec::new();
    for chunk in serials.chunks(super::batch::IN_CHUNK) {
        let q = sql::query(format!("{select} ({})", sql.list(chunk.len(), 1)));
        rows.extend(
            chunk
                .iter()
                .fold(q, |q, s| q.bind(s.as_str()))
                .fetch_all(pool)
                .await
                .map_err(StoreError::db(what))?,
        );
    }
    Ok(rows)
}
