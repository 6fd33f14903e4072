//! SQLite WAL checkpoints off the commit path.
//!
//! SQLite's automatic checkpoint runs inside whichever commit pushes the
//! WAL past its threshold: that request then copies the WAL into the
//! database file and waits for its fsync, and becomes a latency outlier
//! (a revoke's p99, a batch's slowest chunk). Here a background task
//! checkpoints every [`CHECKPOINT_EVERY`] in PASSIVE mode, which waits for
//! no reader or writer, and the automatic checkpoint is kept only as a
//! backstop ([`AUTOCHECKPOINT_PAGES`]) in case the task falls behind.
//! Checkpointing moves committed pages between two durable files; it never
//! decides whether a commit is durable, so moving it changes no guarantee.

use std::time::Duration;

use sqlx::AnyPool;

/// How often the background checkpoint runs.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// WAL pages after which a commit checkpoints inline anyway (4 KiB pages:
/// 64 MiB), should the background task fall behind.
pub(super) const AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// Runs the background checkpoint while alive; stops it when dropped (with
/// the last clone of the store that owns it).
#[derive(Debug)]
pub(super) struct Checkpointer {
    task: tokio::task::AbortHandle,
}

impl Checkpointer {
    /// Starts checkpointing `pool` on the current runtime.
    pub(super) fn start(pool: AnyPool) -> Self {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if pool.is_closed() {
                    return;
                }
                // A busy or failed checkpoint is retried at the next tick;
                // the backstop keeps the WAL bounded meanwhile.
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::debug!(error = %e, "background WAL checkpoint");
                }
            }
        });
        Checkpointer {
            task: task.abort_handle(),
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails on the first error")]

    use super::super::Store;

    /// Pages committed to the WAL reach the database file within a few
    /// checkpoint periods, though the automatic checkpoint (at 16,384
    /// pages) never fires for this few.
    #[tokio::test]
    async fn committed_pages_reach_the_database_file_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.sqlite");
        let store = Store::connect(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        let wal_pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.read.pool)
            .await
            .unwrap();
        assert_eq!(wal_pages, i64::from(super::AUTOCHECKPOINT_PAGES));
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&store.read.pool)
            .await
            .unwrap();
        assert_eq!(page_size, i64::from(super::super::SQLITE_PAGE_SIZE));
        tokio::time::sleep(super::CHECKPOINT_EVERY * 4).await;
        let before = std::fs::metadata(&path).unwrap().len();

        sqlx::query("CREATE TABLE filler (b BLOB NOT NULL)")
            .execute(&store.read.pool)
            .await
            .unwrap();
        // About 2 MB: some 500 pages, far below the automatic threshold.
        for _ in 0..2_000 {
            sqlx::query("INSERT INTO filler (b) VALUES (zeroblob(1000))")
                .execute(&store.read.pool)
                .await
                .unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let after = std::fs::metadata(&path).unwrap().len();
            if after >= before + 2_000_000 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "database file still {after} bytes (was {before}): nothing checkpointed"
            );
            tokio::time::sleep(super::CHECKPOINT_EVERY).await;
        }
    }
}
