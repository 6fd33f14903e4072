//! The registry: manufacturers, model types, API credentials, robots,
//! certificates, components, revocations, lifecycle histories and the audit
//! log, on SQLite (the embedded default) or PostgreSQL, through the same code.
//!
//! One code path serves both databases: sqlx's Any driver, runtime queries
//! with `$N` placeholders, times as BIGINT unix seconds, booleans as 0/1,
//! blobs as BLOB/BYTEA; what the two databases' SQL differs in (generated
//! placeholders, row locks, how a write transaction begins) comes from one
//! `sql::Dialect`. Each database has its own migration folder because
//! their DDL differs (identity columns, triggers, STRICT tables).
//!
//! The store's operations are grouped by role in [`roles`]: [`roles::Reads`],
//! [`roles::Issuance`], [`roles::Revocations`], [`roles::Lifecycle`] and
//! [`roles::Admin`], all implemented by [`Store`]; [`Store::reader`] hands out
//! a [`ReadOnlyStore`], which implements only [`roles::Reads`].
//!
//! Durability: every method that changes something commits before it
//! returns; SQLite runs in WAL mode with `synchronous=FULL`, so an
//! acknowledged write survives a crash or power loss.
//!
//! Races: the database, not the code, guarantees one live certificate per
//! robot (a partial unique index), so parallel requests and several server
//! processes on one PostgreSQL cannot both win. See
//! [`roles::Issuance::begin_issuance`].

mod admin;
mod audit;
mod batch;
mod ca_certificates;
mod change_log;
mod checkpoint;
mod completion;
mod decide;
mod error;
mod issuance;
mod lifecycle;
mod reads;
mod records;
mod revocation;
pub mod roles;
mod sql;
mod writer;

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

use sql::Dialect;

pub use ca_certificates::CaCertificate;
pub use change_log::{ChangeKind, LoggedChanges};
pub use error::StoreError;
pub use lifecycle::{Appended, CertificateEffect, LifecycleEvent, NewEvent};
pub use records::{
    AuditEntry, BeginOutcome, CertStatus, CertificateRecord, ComponentRecord, Credential,
    IssuanceIntent, RobotRecord, Role,
};
pub use revocation::{
    CertificateStanding, Change, Reason, RevocationRecord, RevocationState, Standing,
};
pub use robotid_issuer::vetting::{ManufacturerRecord, ModelRecord};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a SQLite connection waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// SQLite connections for reads (writes have one of their own).
const SQLITE_READERS: u32 = 8;

/// Page size of a new SQLite registry, bytes.
const SQLITE_PAGE_SIZE: u32 = 16 * 1024;

/// Page cache of each SQLite connection, KiB.
const SQLITE_CACHE_KIB: u32 = 32 * 1024;

/// Which database the registry is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite: one file, no set-up.
    Sqlite,
    /// PostgreSQL: production and scale-out.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            other => Err(StoreError::UnsupportedUrl {
                scheme: other.chars().take(32).collect(),
            }),
        }
    }
}

/// The registry store: every role of [`roles`]. Cheap to clone: clones
/// share one connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads, with the pool (on PostgreSQL, everything goes through it) and
    /// the dialect.
    read: ReadOnlyStore,
    /// Write transactions ([`Store::begin_write`]). On a SQLite file, one
    /// connection the store holds (writer.rs): SQLite admits one writer at
    /// a time anyway, and here writers queue in order, woken the moment the
    /// connection is free, instead of polling the file lock in the busy
    /// handler's growing sleeps; and the one writer's page cache stays
    /// valid from one transaction to the next, where a pool connection's is
    /// thrown away whenever another connection wrote. Elsewhere, `pool`.
    writer: writer::Writer,
}

/// A handle on the registry that can only read: it implements
/// [`roles::Reads`] and no other role, so a part of the server given one
/// (an HTTP handler, say) cannot change the registry, and the compiler
/// says so. It reads through the store's own pool, with the same code as
/// [`Store`]. Cheap to clone.
///
/// ```no_run
/// # async fn f(store: robotid_ca::store::Store) {
/// use robotid_ca::store::roles::Reads;
/// let reader = store.reader();
/// let _ = reader.certificate("0a").await;
/// # }
/// ```
///
/// A write does not compile:
///
/// ```compile_fail,E0599
/// # async fn f(store: robotid_ca::store::Store) {
/// use robotid_ca::store::roles::Revocations;
/// let reader = store.reader();
/// let _ = reader.hold("0a", "operator").await;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ReadOnlyStore {
    pool: AnyPool,
    sql: Dialect,
    /// SQLite files only: the background WAL checkpoint, stopped with the
    /// last clone of the store or of a reader.
    _checkpointer: Option<std::sync::Arc<checkpoint::Checkpointer>>,
}

impl Store {
    /// Opens the registry at `url` (`sqlite:PATH` or `postgres://...`) and
    /// brings its schema up to date. A SQLite file is created if missing.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let (url, options) = match backend {
            Backend::Sqlite => sqlite_pool(url, SQLITE_READERS),
            Backend::Postgres => (url.to_owned(), postgres_pool()),
        };
        let pool = options.connect(&url).await.map_err(StoreError::db(format!(
            "connecting to the {} registry",
            backend.as_str()
        )))?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: backend.as_str(),
                source,
            })?;
        let file = backend == Backend::Sqlite && !is_memory(&url);
        let sql = Dialect::of(backend);
        let writer = if file {
            let (_, options) = sqlite_pool(&url, 1);
            // A pool of one only to run the connection's pragmas; the
            // connection then leaves it for good.
            let fail = || StoreError::db("connecting the sqlite registry's writer");
            let one = options.connect(&url).await.map_err(fail())?;
            let conn = one.acquire().await.map_err(fail())?.detach();
            writer::Writer::own(conn, sql)
        } else {
            writer::Writer::pool(pool.clone(), sql)
        };
        let _checkpointer =
            file.then(|| std::sync::Arc::new(checkpoint::Checkpointer::start(pool.clone())));
        Ok(Store {
            read: ReadOnlyStore {
                pool,
                sql,
                _checkpointer,
            },
            writer,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.read.sql.backend()
    }

    /// A handle that can only read, through this store's pool.
    pub fn reader(&self) -> ReadOnlyStore {
        self.read.clone()
    }

    /// Closes every connection, waiting for those in use to come back.
    pub async fn close(&self) {
        self.writer.close().await;
        self.read.pool.close().await;
    }

    /// Starts a transaction that will write (`writer::Writer::begin` says
    /// how); it carries the dialect.
    async fn begin_write(&self) -> Result<writer::WriteTx, StoreError> {
        self.writer.begin().await
    }
}

impl ReadOnlyStore {
    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.sql.backend()
    }
}

/// Commits, saying what was being committed when it fails.
async fn commit(tx: writer::WriteTx, what: &str) -> Result<(), StoreError> {
    tx.commit(what).await
}

fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// SQLite: create the file if missing, and on every connection WAL (readers
/// do not block the writer), synchronous=FULL (a commit is on disk before it
/// is acknowledged), a busy timeout (writers queue instead of failing),
/// foreign keys (SQLite leaves them off by default) and a larger page cache.
fn sqlite_pool(url: &str, connections: u32) -> (String, AnyPoolOptions) {
    let url = if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    // An in-memory database lives and dies with its one connection.
    let memory = is_memory(&url);
    let options = AnyPoolOptions::new()
        .max_connections(if memory { 1 } else { connections })
        .idle_timeout(if memory {
            None
        } else {
            Some(Duration::from_secs(600))
        })
        .max_lifetime(if memory {
            None
        } else {
            Some(Duration::from_secs(1800))
        })
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in [
                    // Only a new, empty file takes it (before WAL is on);
                    // an existing registry keeps its page size. A robot's
                    // certificate row (CSR, then the certificate) is about
                    // 2.5 KB: 16 KiB pages split less often as rows grow at
                    // completion (batch issuance 12-28% faster in alternated
                    // runs, revoke p99 unchanged; docs/benchmarks.md).
                    format!("PRAGMA page_size = {SQLITE_PAGE_SIZE}"),
                    "PRAGMA journal_mode = WAL".to_owned(),
                    "PRAGMA synchronous = FULL".to_owned(),
                    format!(
                        "PRAGMA wal_autocheckpoint = {}",
                        checkpoint::AUTOCHECKPOINT_PAGES
                    ),
                    format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"),
                    "PRAGMA foreign_keys = ON".to_owned(),
                    // 32 MiB of page cache (the default is 2 MiB): a batch of
                    // 10,000 requests touches some 20 MB of pages, and a cache
                    // that small spills and re-reads pages in the middle of
                    // the transaction (measured: a third fewer page writes
                    // and half the reads with 64 MiB).
                    format!("PRAGMA cache_size = -{SQLITE_CACHE_KIB}"),
                ] {
                    sql::query(pragma).execute(&mut *conn).await?;
                }
                Ok(())
            })
        });
    (url, options)
}

/// PostgreSQL: a commit is durable unless the server was told otherwise; a
/// server configured with `synchronous_commit = off` would acknowledge
/// commits that a crash can lose, so our sessions turn it back on.
fn postgres_pool() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(10)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                let setting: String =
                    sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
                        .fetch_one(&mut *conn)
                        .await?;
                if setting == "off" {
                    sqlx::query("SET synchronous_commit = on")
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
}
