//! `robotid`: parses the command line and runs it with the library
//! (`robotid_cli`); a failure is printed and becomes the exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = robotid_cli::cli::Cli::parse();
    match robotid_cli::commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("robotid: {}", e.for_terminal());
            e.exit_code()
        }
    }
}
