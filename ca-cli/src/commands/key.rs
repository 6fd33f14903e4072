//! `robotid key new`.

use robotid_issuer::keys;

use crate::cli::KeyNew;
use crate::error::CliError;

pub fn new(args: &KeyNew) -> Result<(), CliError> {
    // A folder is a usage error (exit 2), not a key that exists already.
    if args.out.is_dir() {
        return Err(CliError::Input(format!(
            "--out {}: is a folder; name the key file to write",
            args.out.display()
        )));
    }
    let key = keys::generate(args.alg.0)?;
    keys::write_key(&args.out, &key)?;
    println!(
        "{} key written to {} (mode 0600)",
        args.alg,
        args.out.display()
    );
    Ok(())
}
