//! The one kit of the end-to-end tests: run the real binaries in a
//! temporary folder ([`process`]), a running server ([`server`]) with
//! manufacturers registered and HTTPS clients ([`setup`]), a PostgreSQL
//! database of a test's own ([`postgres`]), and the independent tools
//! (OpenSSL, Python `cryptography`, pkilint) that check what RobotID emits
//! ([`tools`]), and SoftHSM2 tokens for the CA's keys ([`softhsm`]). `tests/common/mod.rs` only re-exports [`setup`].
//!
//! The binaries are those `cargo build --workspace --bins` left beside the
//! test executable (`scripts/test` builds them first).

pub mod postgres;
pub mod process;
pub mod server;
pub mod setup;
pub mod softhsm;
pub mod tools;

pub use postgres::{PostgresDatabase, postgres_database};
pub use process::{Run, bin, bin_dir, repo_root, robotid, run_in, tempdir};
pub use server::{Server, StartError};
pub use tools::{go_available, go_check, tool_available, tools_required};
