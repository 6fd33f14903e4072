//! The audit log: appended in the same transaction as the change it
//! records, so a change and its entry commit or vanish together. The table
//! refuses updates and deletes (database triggers).

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{Row, query};

use super::sql::{self, rows_per_statement, tuples};
use super::{AuditEntry, Backend, Store, StoreError};

/// An entry to append.
pub(crate) struct NewEntry<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'static str,
    pub subject: String,
    pub detail: serde_json::Value,
}

const COLS: usize = 5;

/// Appends entries, many rows per statement.
pub(crate) async fn append(
    backend: Backend,
    conn: &mut AnyConnection,
    entries: &[NewEntry<'_>],
) -> Result<(), StoreError> {
    for chunk in entries.chunks(rows_per_statement(COLS, 0)) {
        let text = format!(
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES {}",
            tuples(backend, chunk.len(), COLS, 1)
        );
        let mut q = sql::query(text);
        for e in chunk {
            q = q
                .bind(e.at)
                .bind(e.actor)
                .bind(e.action)
                .bind(e.subject.as_str())
                .bind(e.detail.to_string());
        }
        q.execute(&mut *conn)
            .await
            .map_err(StoreError::db("appending to the audit log"))?;
    }
    Ok(())
}

fn entry(row: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        id: row.try_get(0)?,
        at: row.try_get(1)?,
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        subject: row.try_get(4)?,
        detail: row.try_get(5)?,
    })
}

impl Store {
    /// The last `limit` entries of the audit log, for one subject or for
    /// all, oldest first (newest last).
    pub async fn audit(
        &self,
        subject: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let rows = match subject {
            Some(subject) => query(
                "SELECT id, at, actor, action, subject, detail FROM audit_log \
                 WHERE subject = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(subject)
            .bind(limit),
            None => query(
                "SELECT id, at, actor, action, subject, detail FROM audit_log \
                 ORDER BY id DESC LIMIT $1",
            )
            .bind(limit),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("reading the audit log"))?;
        let mut entries = rows
            .iter()
            .map(entry)
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::db("decoding the audit log"))?;
        entries.reverse();
        Ok(entries)
    }
}
