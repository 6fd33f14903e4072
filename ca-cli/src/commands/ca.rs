//! `robotid ca init`: the CA ceremony.

use robotid_issuer::ceremony::{self, CaConfig, KeyPlacement, files};
use robotid_issuer::pkcs11::KeyUri;

use crate::cli::{CaInit, CaRevokeIssuing};
use crate::error::CliError;

pub fn init(args: &CaInit) -> Result<(), CliError> {
    check_ca_dir(&args.dir)?;
    let config = CaConfig {
        name: args.name.clone(),
        public_url: args.public_url.clone(),
    };
    // The message names the flag and the attribute, never the value: a
    // refused URI may carry a PIN.
    let uri = |flag: &str, value: &Option<String>| -> Result<Option<KeyUri>, CliError> {
        value
            .as_deref()
            .map(|v| {
                v.parse()
                    .map_err(|e| CliError::Input(format!("{flag}: {e}")))
            })
            .transpose()
    };
    let placement = KeyPlacement {
        root: uri("--root-key-uri", &args.root_key_uri)?,
        issuing: uri("--issuing-key-uri", &args.issuing_key_uri)?,
    };
    let paths = ceremony::init_with_keys(&args.dir, &config, &placement)?;
    println!("CA created in {}", paths.dir.display());
    println!(
        "  trust anchor (root CA):   {}",
        paths.file(files::ROOT_CERT).display()
    );
    match &args.root_key_uri {
        Some(uri) => println!("  root CA key (on the token; keep the token offline): {uri}"),
        None => println!(
            "  root CA key (move it offline): {}",
            paths.file(files::ROOT_KEY).display()
        ),
    }
    println!(
        "  issuing CA certificate:   {}",
        paths.file(files::ISSUING_CERT).display()
    );
    match &args.issuing_key_uri {
        Some(uri) => println!("  issuing CA key (on the token): {uri}"),
        None => println!(
            "  issuing CA key:           {}",
            paths.file(files::ISSUING_KEY).display()
        ),
    }
    println!(
        "  OCSP signer certificate:  {}",
        paths.file(files::OCSP_CERT).display()
    );
    println!(
        "  chain (issuing + root):   {}",
        paths.file(files::CHAIN).display()
    );
    Ok(())
}

/// `robotid ca revoke-issuing`: the ARL revoking the folder's issuing CA.
pub fn revoke_issuing(args: &CaRevokeIssuing) -> Result<(), CliError> {
    let reason: ceremony::IssuingRevocationReason = args
        .reason
        .parse()
        .map_err(|e| CliError::Input(format!("--reason: {e}")))?;
    let root_key = args
        .root_key_uri
        .as_deref()
        .map(|v| {
            v.parse::<KeyUri>()
                .map_err(|e| CliError::Input(format!("--root-key-uri: {e}")))
        })
        .transpose()?;
    let done = ceremony::revoke_issuing(&args.dir, root_key.as_ref(), reason)?;
    println!(
        "issuing CA {} revoked in ARL number {}: {}",
        done.serial_hex,
        done.number,
        done.arl.display()
    );
    println!(
        "  copy it to the server's CA folder (robotid-data/ca/{}); the server publishes it at {}",
        files::ARL,
        ceremony::ARL_PATH
    );
    Ok(())
}

/// A usage error (exit 2) naming `--dir` if the ceremony could not make
/// its folder there: the ceremony makes only the last folder, next to
/// which it first writes its work in progress.
fn check_ca_dir(dir: &std::path::Path) -> Result<(), CliError> {
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::Input(format!(
            "--dir {}: exists and is not a folder",
            dir.display()
        )));
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !parent.is_dir() {
        return Err(CliError::Input(format!(
            "--dir {}: the folder {} does not exist; create it first (the ceremony makes only {})",
            dir.display(),
            parent.display(),
            dir.file_name().map_or_else(
                || dir.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        )));
    }
    Ok(())
}
