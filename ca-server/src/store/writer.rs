//! Write transactions. On PostgreSQL they come from the pool, one server
//! process among many. On a SQLite file every write goes through one
//! connection the store holds itself, behind a queue (a fair mutex).
//!
//! Why not a pool of one: sqlx hands a connection back to its pool from a
//! spawned task that first pings it, a round trip to the connection's
//! thread. The next writer waits for that task, the ping and its wake-up:
//! measured at 0.75 ms of the median 2.4 ms of a small issuance
//! transaction on the 2-core machine (decision 0017). Holding the
//! connection, the next writer gets it as soon as the last one committed.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use super::StoreError;
use super::change_log::{self, ChangeKind, NewChange};
use super::sql::Dialect;

/// Where write transactions come from, and the dialect they speak.
#[derive(Clone, Debug)]
pub(super) struct Writer {
    source: Source,
    sql: Dialect,
}

/// The connections behind a [`Writer`].
#[derive(Clone, Debug)]
enum Source {
    /// A pool (PostgreSQL, or an in-memory SQLite database).
    Pool(AnyPool),
    /// One SQLite connection, held by the store (None once closed).
    Own {
        conn: Arc<Mutex<Option<AnyConnection>>>,
        /// A transaction was dropped without commit (an error, or a
        /// cancelled request): the next one rolls it back first.
        left_open: Arc<AtomicBool>,
    },
}

/// An open write transaction; dropping it without [`WriteTx::commit`]
/// rolls it back. It carries the store's [`Dialect`], so that the query
/// functions it is handed to need nothing else to write their SQL.
pub(super) struct WriteTx {
    conn: Held,
    sql: Dialect,
    /// Changes noted for the change log, appended at commit.
    changes: Vec<NewChange>,
}

/// The connection of a [`WriteTx`].
enum Held {
    /// From a pool: sqlx's own transaction.
    Pooled(Transaction<'static, Any>),
    /// On the held connection.
    Own {
        conn: OwnedMappedMutexGuard<Option<AnyConnection>, AnyConnection>,
        left_open: Arc<AtomicBool>,
    },
}

fn closed() -> StoreError {
    StoreError::Database {
        context: "starting a write transaction".into(),
        source: sqlx::Error::PoolClosed,
    }
}

impl Writer {
    /// Takes `conn` (SQLite) as the one writer.
    pub(super) fn own(conn: AnyConnection, sql: Dialect) -> Self {
        Writer {
            source: Source::Own {
                conn: Arc::new(Mutex::new(Some(conn))),
                left_open: Arc::new(AtomicBool::new(false)),
            },
            sql,
        }
    }

    /// Write transactions from `pool`.
    pub(super) fn pool(pool: AnyPool, sql: Dialect) -> Self {
        Writer {
            source: Source::Pool(pool),
            sql,
        }
    }

    /// Whether this writer holds a connection of its own.
    #[cfg(test)]
    fn is_own(&self) -> bool {
        matches!(self.source, Source::Own { .. })
    }

    /// Starts a transaction that will write, with the dialect's
    /// [`Dialect::begin_write`] (on SQLite it takes the write lock at once).
    pub(super) async fn begin(&self) -> Result<WriteTx, StoreError> {
        let statement = self.sql.begin_write();
        let sql = self.sql;
        match &self.source {
            Source::Pool(pool) => pool
                .begin_with(statement)
                .await
                .map(|tx| WriteTx {
                    conn: Held::Pooled(tx),
                    sql,
                    changes: Vec::new(),
                })
                .map_err(StoreError::db("starting a write transaction")),
            Source::Own { conn, left_open } => {
                let guard: OwnedMutexGuard<Option<AnyConnection>> =
                    Arc::clone(conn).lock_owned().await;
                let mut conn =
                    OwnedMutexGuard::try_map(guard, Option::as_mut).map_err(|_| closed())?;
                if left_open.load(Ordering::Acquire) {
                    // Fails harmlessly when SQLite already rolled it back.
                    if let Err(e) = conn.execute("ROLLBACK").await {
                        tracing::debug!(error = %e, "rolling back a transaction left open");
                    }
                    left_open.store(false, Ordering::Release);
                }
                // Marked open before the BEGIN is sent: a cancelled BEGIN
                // may still have started the transaction.
                left_open.store(true, Ordering::Release);
                conn.execute(statement)
                    .await
                    .map_err(StoreError::db("starting a write transaction"))?;
                Ok(WriteTx {
                    conn: Held::Own {
                        conn,
                        left_open: Arc::clone(left_open),
                    },
                    sql,
                    changes: Vec::new(),
                })
            }
        }
    }

    /// Closes the writer's connections, waiting for one in use.
    pub(super) async fn close(&self) {
        match &self.source {
            Source::Pool(pool) => pool.close().await,
            Source::Own { conn, .. } => {
                let conn = conn.lock().await.take();
                if let Some(conn) = conn
                    && let Err(e) = conn.close().await
                {
                    tracing::warn!(error = %e, "closing the registry's writer");
                }
            }
        }
    }
}

impl WriteTx {
    /// The dialect of the database this transaction runs on.
    pub(super) fn sql(&self) -> Dialect {
        self.sql
    }

    /// Notes a change for the change log; it is appended, with its index,
    /// when the transaction commits, and vanishes with it otherwise.
    pub(super) fn log(&mut self, kind: ChangeKind, robot_id: &str, serial_hex: Option<&str>) {
        self.changes.push(NewChange {
            kind,
            robot_id: robot_id.to_owned(),
            serial_hex: serial_hex.map(str::to_owned),
        });
    }

    /// Appends the changes noted to the change log, then commits, saying
    /// what was being committed when it fails.
    pub(super) async fn commit(mut self, what: &str) -> Result<(), StoreError> {
        let changes = std::mem::take(&mut self.changes);
        change_log::append(&mut self, &changes).await?;
        let context = format!("{what}: commit");
        match self.conn {
            Held::Pooled(tx) => tx.commit().await.map_err(StoreError::db(context)),
            Held::Own {
                mut conn,
                left_open,
            } => {
                conn.execute("COMMIT")
                    .await
                    .map_err(StoreError::db(context))?;
                left_open.store(false, Ordering::Release);
                Ok(())
            }
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.conn {
            Held::Pooled(tx) => tx,
            Held::Own { conn, .. } => conn,
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.conn {
            Held::Pooled(tx) => tx,
            Held::Own { conn, .. } => conn,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails on the first error")]

    use sqlx::Executor;

    use super::super::Store;

    async fn count(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM scratch")
            .fetch_one(&store.read.pool)
            .await
            .unwrap()
    }

    /// A write transaction dropped without commit (an error, or a request
    /// cancelled mid-way) leaves nothing behind, and the next one starts
    /// on the same held connection and commits.
    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back_before_the_next_begins() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("registry.sqlite").display());
        let store = Store::connect(&url).await.unwrap();
        assert!(store.writer.is_own());
        let mut tx = store.begin_write().await.unwrap();
        tx.execute("CREATE TABLE scratch (n INTEGER)")
            .await
            .unwrap();
        tx.commit("create").await.unwrap();

        let mut tx = store.begin_write().await.unwrap();
        tx.execute("INSERT INTO scratch VALUES (1)").await.unwrap();
        drop(tx);
        // Another connection never sees the abandoned row.
        assert_eq!(count(&store).await, 0);

        let mut tx = store.begin_write().await.unwrap();
        tx.execute("INSERT INTO scratch VALUES (2)").await.unwrap();
        tx.commit("insert").await.unwrap();
        assert_eq!(count(&store).await, 1);

        // A write future cancelled while its transaction is open: dropped
        // once its row is in.
        let (inserted, row_in) = tokio::sync::oneshot::channel();
        let work = async {
            let mut tx = store.begin_write().await.unwrap();
            tx.execute("INSERT INTO scratch VALUES (3)").await.unwrap();
            inserted.send(()).unwrap();
            std::future::pending::<()>().await;
        };
        tokio::select! {
            () = work => {}
            answer = row_in => answer.unwrap(),
        }
        let mut tx = store.begin_write().await.unwrap();
        tx.execute("INSERT INTO scratch VALUES (4)").await.unwrap();
        tx.commit("insert").await.unwrap();
        let rows: Vec<i64> = sqlx::query_scalar("SELECT n FROM scratch ORDER BY n")
            .fetch_all(&store.read.pool)
            .await
            .unwrap();
        assert_eq!(rows, [2, 4]);

        // Closed: no more write transactions, and an error says so.
        store.close().await;
        let e = store.writer.begin().await.err().unwrap();
        assert!(
            e.to_string().contains("starting a write transaction"),
            "{e}"
        );
    }
}
