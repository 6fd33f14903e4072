//! `robotid prove`: on the robot, answer an inspector's challenge with the
//! robot's key. The signing (and what exactly is signed) lives in
//! `robotid_verifier::challenge`, beside the check that reads it.

use robotid_verifier::challenge::{self, Challenge};

use crate::cli::Prove;
use crate::error::CliError;
use crate::output::write_file;

pub fn run(args: &Prove) -> Result<(), CliError> {
    let challenge = Challenge::load(&args.challenge).map_err(|e| CliError::Input(e.to_string()))?;
    let key = robotid_verifier::input::FileKind::Key
        .read(&args.key)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let response = challenge::respond(&key, &args.key.display().to_string(), &challenge)
        .map_err(|e| CliError::Input(e.to_string()))?;
    write_file(
        &args.out,
        challenge::to_json(&response).as_bytes(),
        args.force,
    )?;
    println!(
        "response ({} key) to challenge {}… written to {}",
        response.key_algorithm,
        challenge.nonce.get(..12).unwrap_or_default(),
        args.out.display()
    );
    Ok(())
}
