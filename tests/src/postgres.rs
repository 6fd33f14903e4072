//! A PostgreSQL database of a test's own, dropped when the test ends.

// Test support: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use crate::tools::tool_available;

/// A fresh PostgreSQL database on 127.0.0.1:5432 (trust auth), or None if
/// PostgreSQL is unreachable outside CI (in CI that fails the test). It is
/// dropped when the value is, so runs do not pile databases up on the
/// machine's server.
pub fn postgres_database() -> Option<PostgresDatabase> {
    let base = "postgres://postgres@127.0.0.1:5432/test";
    if !tool_available("psql", &[base, "-c", "SELECT 1"]) {
        return None;
    }
    let name = format!(
        "robotid_e2e_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let created = Command::new("psql")
        .args([base, "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    Some(PostgresDatabase {
        url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
        name,
    })
}

/// A test's own PostgreSQL database; derefs to its URL.
pub struct PostgresDatabase {
    url: String,
    name: String,
}

impl std::ops::Deref for PostgresDatabase {
    type Target = str;

    fn deref(&self) -> &str {
        &self.url
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // FORCE ends the connections of servers that outlived the test.
        let dropped = Command::new("psql")
            .args([
                "postgres://postgres@127.0.0.1:5432/test",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
        if !dropped.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}
