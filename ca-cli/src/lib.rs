//! The library behind `robotid`, the command line of RobotID for operators
//! (CA ceremony), manufacturers (robot IDs, keys, CSRs) and distributors.
//!
//! [`cli`] declares every command and flag, [`commands::run`] carries one
//! out, [`client`] is the one mutual-TLS client of the CA's API (the
//! end-to-end tests and the benchmarks use it too), and [`error`] says
//! what failed and with which exit code. The request and answer bodies are
//! `robotid_wire`'s, the same types the server uses.

pub mod cli;
pub mod client;
pub mod commands;
pub mod error;
mod output;

pub use error::CliError;
