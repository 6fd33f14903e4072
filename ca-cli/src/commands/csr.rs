//! `robotid csr new`: a robot's CSR from its manifest and key.

use robotid_issuer::{csr, keys, pem};
use robotid_verifier::manifest::Manifest;

use crate::cli::CsrNew;
use crate::error::CliError;
use crate::output::write_file;

pub fn new(args: &CsrNew) -> Result<(), CliError> {
    let manifest = Manifest::load(&args.manifest)?;
    let key = keys::read_key(&args.key)?;
    let der = csr::create(&manifest.to_identity(), &key)
        .map_err(|e| CliError::Input(format!("{}: {e}", args.manifest.display())))?;
    let pem = pem::encode("CERTIFICATE REQUEST", &der);
    // Check our own output as the CA will, before anyone sees it.
    csr::verify(&der)
        .map_err(|e| CliError::Refused(format!("internal: the CSR made does not verify: {e}")))?;
    write_file(&args.out, pem.as_bytes(), args.force)?;
    println!(
        "CSR for {} ({} components) written to {}",
        manifest.robot_id,
        manifest.components.len(),
        args.out.display()
    );
    Ok(())
}
