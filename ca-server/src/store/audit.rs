//! The audit log: appended in the same transaction as the change it
//! records, so a change and its entry commit or vanish together. The table
//! refuses updates and deletes (database triggers).

use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sql::{self, rows_per_statement};
use super::writer::WriteTx;
use super::{AuditEntry, StoreError};

/// An entry to append.
pub(super) struct NewEntry<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'static str,
    pub subject: String,
    pub detail: serde_json::Value,
}

const COLS: usize = 5;

/// Appends entries, many rows per statement.
pub(super) async fn append(tx: &mut WriteTx, entries: &[NewEntry<'_>]) -> Result<(), StoreError> {
    let sql = tx.sql();
    let conn: &mut AnyConnection = tx;
    for chunk in entries.chunks(rows_per_statement(COLS, 0)) {
        let text = format!(
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES {}",
            sql.tuples(chunk.len(), COLS, 1)
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

/// Decodes a row selected as `id, at, actor, action, subject, detail`.
pub(super) fn audit_entry(row: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        id: row.try_get(0)?,
        at: row.try_get(1)?,
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        subject: row.try_get(4)?,
        detail: row.try_get(5)?,
    })
}
