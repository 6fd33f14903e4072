//! `robotid key new`.

use robotid_issuer::keys;

use crate::cli::KeyNew;
use crate::error::CliError;

pub fn new(args: &KeyNew) -> Result<(), CliError> {
    let key = keys::generate(args.alg.0)?;
    keys::write_key(&args.out, &key)?;
    println!(
        "{} key written to {} (mode 0600)",
        args.alg,
        args.out.display()
    );
    Ok(())
}
