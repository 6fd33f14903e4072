//! One module per command group; each turns parsed flags into library calls.

mod ca;
mod csr;
mod id;
mod key;
mod prove;

use crate::cli::{CaCommand, Cli, Command, CsrCommand, IdCommand, KeyCommand};
use crate::error::CliError;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Ca(CaCommand::Init(args)) => ca::init(&args),
        Command::Id(IdCommand::New(args)) => id::new(&args),
        Command::Id(IdCommand::Check(args)) => id::check(&args),
        Command::Key(KeyCommand::New(args)) => key::new(&args),
        Command::Csr(CsrCommand::New(args)) => csr::new(&args),
        Command::Prove(args) => prove::run(&args),
    }
}
