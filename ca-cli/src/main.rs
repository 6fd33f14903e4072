//! `robotid`: the command line of RobotID for operators (CA ceremony),
//! manufacturers (robot IDs, keys, CSRs) and distributors.

mod cli;
mod client;
mod commands;
mod error;
mod output;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("robotid: {e}");
            e.exit_code()
        }
    }
}
