//! Small helpers that build the SQL text shared by SQLite and PostgreSQL:
//! numbered placeholders and multi-row VALUES lists.

use std::fmt::Write as _;

use sqlx::AssertSqlSafe;
use sqlx::any::{Any, AnyArguments};

use super::{Backend, StoreError};

/// A runtime query through the Any driver.
pub(crate) type AnyQuery = sqlx::query::Query<'static, Any, AnyArguments>;

/// Most bind parameters one statement carries. SQLite allows 32,766 and
/// PostgreSQL 65,535; staying under both lets one statement shape serve both,
/// and big statements amortise the per-statement cost that dominates a
/// 10,000-row batch.
const MAX_PARAMS: usize = 30_000;

/// How many rows of `cols` parameters fit in one statement, minus `fixed`
/// parameters that the statement carries besides the rows.
pub(crate) fn rows_per_statement(cols: usize, fixed: usize) -> usize {
    (MAX_PARAMS.saturating_sub(fixed) / cols.max(1)).max(1)
}

/// The placeholder of the `k`th parameter (1-based).
///
/// Statements built here use `$k` on PostgreSQL but anonymous `?` on
/// SQLite, whose cost of a numbered or named parameter grows with the
/// number of parameters before it (SQLite looks names up in a list, when
/// parsing and again when sqlx binds): a 30,000-parameter statement took
/// seconds with `$k` and takes milliseconds with `?`. Anonymous parameters
/// are bound in the order they appear in the text, so every statement built
/// with these helpers numbers its parameters in text order.
pub(crate) fn param(backend: Backend, k: usize) -> String {
    match backend {
        Backend::Sqlite => "?".to_owned(),
        Backend::Postgres => format!("${k}"),
    }
}

/// Placeholders `first .. first + n`, comma-separated.
pub(crate) fn list(backend: Backend, n: usize, first: usize) -> String {
    let mut out = String::with_capacity(n * 7);
    for k in 0..n {
        if k > 0 {
            out.push_str(", ");
        }
        match backend {
            Backend::Sqlite => out.push('?'),
            // Writing to a String cannot fail.
            Backend::Postgres => {
                let _ = write!(out, "${}", first + k);
            }
        }
    }
    out
}

/// `(p1, ...), (...)`: `rows` tuples of `cols` placeholders from `first`.
pub(crate) fn tuples(backend: Backend, rows: usize, cols: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * (cols * 7 + 4));
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        out.push_str(&list(backend, cols, first + r * cols));
        out.push(')');
    }
    out
}

/// A query from SQL text built at run time. The text only ever holds
/// placeholders and fixed identifiers from this module, never input values.
pub(crate) fn query(sql: String) -> AnyQuery {
    sqlx::query(AssertSqlSafe(sql))
}

/// Serial numbers are kept in lower-case hex so that lookups do not depend
/// on how a caller spelled them.
pub(crate) fn normalize_serial(serial_hex: &str) -> Result<String, StoreError> {
    if serial_hex.is_empty()
        || serial_hex.len() > 64
        || !serial_hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(StoreError::Invalid {
            what: "serial_hex",
            detail: format!("{serial_hex:?} is not 1 to 64 hexadecimal digits"),
        });
    }
    Ok(serial_hex.to_ascii_lowercase())
}

/// The current time, unix seconds.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Reads a 0/1 column as a boolean (booleans are stored as BIGINT so that
/// they travel the same way through the Any driver on both databases).
pub(crate) fn flag(value: i64, what: &'static str) -> Result<bool, StoreError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(StoreError::Corrupt {
            what,
            detail: format!("{other} is not 0 or 1"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_across_rows() {
        assert_eq!(list(Backend::Postgres, 3, 2), "$2, $3, $4");
        assert_eq!(tuples(Backend::Postgres, 2, 2, 1), "($1, $2), ($3, $4)");
        assert_eq!(tuples(Backend::Sqlite, 2, 2, 1), "(?, ?), (?, ?)");
        assert_eq!(param(Backend::Sqlite, 7), "?");
        assert_eq!(rows_per_statement(10, 0), 3000);
    }

    #[test]
    fn serials_are_lower_case_hex() {
        assert_eq!(normalize_serial("0aBC").ok().as_deref(), Some("0abc"));
        assert!(normalize_serial("").is_err());
        assert!(normalize_serial("12:34").is_err());
    }
}
