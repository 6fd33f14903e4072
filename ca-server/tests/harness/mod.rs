//! The harness of the registry tests: a fresh registry per test on
//! SQLite (a file in a temporary folder) and on PostgreSQL (a database of
//! its own, dropped afterwards), and `on_both!`, which runs each scenario
//! once on each; and [`kit`], the fixtures the registry tests share.

pub mod kit;

use std::time::Duration;

use robotid_ca::store::{Backend, Store};
use sqlx::Connection;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A registry for one test, removed when the test ends (also on panic).
pub struct TestDb {
    pub url: String,
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the admin URL and the test database's name.
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("registry.db").display());
        let store = Store::connect(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        TestDb {
            url,
            store,
            _dir: Some(dir),
            postgres: None,
        }
    }

    pub async fn postgres() -> Option<TestDb> {
        sqlx::any::install_default_drivers();
        let admin =
            std::env::var("ROBOTID_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
        let connected =
            tokio::time::timeout(Duration::from_secs(5), sqlx::AnyConnection::connect(&admin))
                .await;
        let mut conn = match connected {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return unreachable_postgres(&admin, &e.to_string()),
            Err(_) => return unreachable_postgres(&admin, "timed out after 5 s"),
        };
        let name = format!("robotid_test_{}", random_hex(8));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        let store = Store::connect(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        Some(TestDb {
            url,
            store,
            _dir: None,
            postgres: Some((admin, name)),
        })
    }
}

fn unreachable_postgres(url: &str, why: &str) -> Option<TestDb> {
    if std::env::var("ROBOTID_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("PostgreSQL at {url} is unreachable and ROBOTID_REQUIRE_TOOLS=1: {why}");
    }
    eprintln!("SKIPPED: the PostgreSQL half of this test: {url} is unreachable: {why}");
    None
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // drop the database from a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut conn = sqlx::AnyConnection::connect(&admin).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a PostgreSQL test database: {dropped:?}");
        }
    }
}

/// Each scenario once per database.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::TestDb::sqlite().await;
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = super::TestDb::postgres().await else { return };
                    super::$name(&db).await;
                }
            )*
        }
    };
}

/// `bytes` random bytes, hex.
pub fn random_hex(bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("the system's random source");
    hex::encode(buf)
}
