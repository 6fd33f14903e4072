//! One module per command group; each turns parsed flags into library calls.

mod admin;
mod ca;
mod csr;
mod history;
mod id;
mod key;
mod prove;
mod revoke;
mod status;
mod submit;

use crate::cli::{
    AdminCommand, CaCommand, Cli, Command, CsrCommand, HistoryCommand, IdCommand, KeyCommand,
    ManufacturerCommand, ModelCommand,
};
use crate::error::CliError;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Ca(CaCommand::Init(args)) => ca::init(&args),
        Command::Ca(CaCommand::RevokeIssuing(args)) => ca::revoke_issuing(&args),
        Command::Id(IdCommand::New(args)) => id::new(&args),
        Command::Id(IdCommand::Check(args)) => id::check(&args),
        Command::Key(KeyCommand::New(args)) => key::new(&args),
        Command::Csr(CsrCommand::New(args)) => csr::new(&args),
        Command::Prove(args) => prove::run(&args),
        Command::Submit(args) => submit::run(&args),
        Command::Revoke(args) => revoke::revoke(&args),
        Command::Hold(args) => revoke::hold(&args),
        Command::Release(args) => revoke::release(&args),
        Command::Status(args) => status::run(&args),
        Command::Admin(AdminCommand::Manufacturer(ManufacturerCommand::Add(args))) => {
            admin::add_manufacturer(&args)
        }
        Command::Admin(AdminCommand::Model(ModelCommand::Add(args))) => admin::add_model(&args),
        Command::History(HistoryCommand::Record(args)) => history::record(&args),
        Command::History(HistoryCommand::Show(args)) => history::show(&args),
        Command::History(HistoryCommand::Export(args)) => history::export(&args),
    }
}
