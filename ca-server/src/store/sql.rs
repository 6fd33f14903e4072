//! The SQL text shared by SQLite and PostgreSQL: the [`Dialect`] (the one
//! place where the two differ), multi-row VALUES lists, and small helpers.

use std::fmt::{self, Write as _};

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

/// The SQL that differs between SQLite and PostgreSQL, produced here and
/// nowhere else: generated placeholders, row locks and the statement that
/// begins a write transaction. The store and each write transaction hold
/// one, so no query function is told which database it runs on.
///
/// Every statement written out in full uses numbered `$N` placeholders,
/// which both databases accept. Statements generated with many rows take
/// their placeholders from [`Dialect::list`] and [`Dialect::tuples`]:
/// `$k` on PostgreSQL, but anonymous `?` on SQLite, whose cost of a
/// numbered or named parameter grows with the number of parameters before
/// it (SQLite looks names up in a list, when parsing and again when sqlx
/// binds): a 30,000-parameter statement took seconds with `$k` and takes
/// milliseconds with `?`. Anonymous parameters are bound in the order they
/// appear in the text, so every generated statement numbers its parameters
/// in text order and takes all of them, the fixed ones too
/// ([`Dialect::param`]), from here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dialect {
    backend: Backend,
}

impl Dialect {
    /// The dialect of `backend`.
    pub(crate) fn of(backend: Backend) -> Self {
        Dialect { backend }
    }

    /// Which database this is.
    pub(crate) fn backend(self) -> Backend {
        self.backend
    }

    /// The placeholder of the `k`th parameter (1-based) of a generated
    /// statement. Written into the statement's text where it is formatted,
    /// so it costs no allocation of its own.
    pub(crate) fn param(self, k: usize) -> Placeholder {
        Placeholder {
            backend: self.backend,
            k,
        }
    }

    /// Placeholders `first .. first + n`, comma-separated.
    pub(crate) fn list(self, n: usize, first: usize) -> String {
        let mut out = String::with_capacity(n * 7);
        self.push_list(&mut out, n, first);
        out
    }

    /// `(p1, ...), (...)`: `rows` tuples of `cols` placeholders from `first`,
    /// written into one string (a 10,000-row statement makes no string per
    /// row).
    pub(crate) fn tuples(self, rows: usize, cols: usize, first: usize) -> String {
        let mut out = String::with_capacity(rows * (cols * 7 + 4));
        for r in 0..rows {
            if r > 0 {
                out.push_str(", ");
            }
            out.push('(');
            self.push_list(&mut out, cols, first + r * cols);
            out.push(')');
        }
        out
    }

    fn push_list(self, out: &mut String, n: usize, first: usize) {
        for k in 0..n {
            if k > 0 {
                out.push_str(", ");
            }
            match self.backend {
                Backend::Sqlite => out.push('?'),
                // Writing to a String cannot fail.
                Backend::Postgres => {
                    let _ = write!(out, "${}", first + k);
                }
            }
        }
    }

    /// What follows a SELECT that reads rows the transaction is about to
    /// change. PostgreSQL: ` FOR UPDATE`, a row lock, because many server
    /// processes may write at once under READ COMMITTED. SQLite: nothing;
    /// the write transaction holds the database's one write lock from its
    /// first statement ([`Dialect::begin_write`]).
    pub(crate) fn row_lock(self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// The statement that begins a write transaction. SQLite: `BEGIN
    /// IMMEDIATE` takes the write lock at once; a deferred transaction that
    /// reads first and then writes can fail with SQLITE_BUSY without waiting
    /// when another writer got in between, and the busy timeout cannot help
    /// it. PostgreSQL: a plain `BEGIN` (row locks do the rest).
    pub(crate) fn begin_write(self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }
}

/// One placeholder of a generated statement ([`Dialect::param`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Placeholder {
    backend: Backend,
    k: usize,
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.backend {
            Backend::Sqlite => f.write_str("?"),
            Backend::Postgres => write!(f, "${}", self.k),
        }
    }
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
        let postgres = Dialect::of(Backend::Postgres);
        let sqlite = Dialect::of(Backend::Sqlite);
        assert_eq!(postgres.list(3, 2), "$2, $3, $4");
        assert_eq!(postgres.tuples(2, 2, 1), "($1, $2), ($3, $4)");
        assert_eq!(sqlite.tuples(2, 2, 1), "(?, ?), (?, ?)");
        assert_eq!(sqlite.param(7).to_string(), "?");
        assert_eq!(postgres.param(7).to_string(), "$7");
        assert_eq!(rows_per_statement(10, 0), 3000);
    }

    #[test]
    fn locks_and_transaction_begin_follow_the_database() {
        let postgres = Dialect::of(Backend::Postgres);
        let sqlite = Dialect::of(Backend::Sqlite);
        assert_eq!(postgres.row_lock(), " FOR UPDATE");
        assert_eq!(sqlite.row_lock(), "");
        assert_eq!(postgres.begin_write(), "BEGIN");
        assert_eq!(sqlite.begin_write(), "BEGIN IMMEDIATE");
        assert_eq!(sqlite.backend(), Backend::Sqlite);
    }

    #[test]
    fn serials_are_lower_case_hex() {
        assert_eq!(normalize_serial("0aBC").ok().as_deref(), Some("0abc"));
        assert!(normalize_serial("").is_err());
        assert!(normalize_serial("12:34").is_err());
    }
}
