//! `robotid admin manufacturer add | model add`: the operator's registry
//! commands.

use robotid_issuer::keys::{self, KeyAlgorithm};
use robotid_verifier::rules::ModelRules;
use robotid_wire::admin::{AddManufacturer, AddModel, CredentialResponse, ModelResponse};

use crate::cli::{ManufacturerAdd, ModelAdd};
use crate::client::Client;
use crate::error::CliError;

/// Registers a manufacturer. Its credential key is made here and never
/// leaves this machine; the server signs a CSR for it.
pub fn add_manufacturer(args: &ManufacturerAdd) -> Result<(), CliError> {
    let out = &args.out_dir;
    if out
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
    {
        return Err(CliError::Refused(format!(
            "{}: already exists and is not empty; refusing to overwrite credentials",
            out.display()
        )));
    }
    let client = Client::new(&args.server.server, &args.server.credentials()?)?;
    let key = keys::generate(KeyAlgorithm::P256)?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, args.code.as_str());
    let csr = params
        .serialize_request(&key)
        .and_then(|c| c.pem())
        .map_err(|e| CliError::Refused(format!("making the credential CSR: {e}")))?;
    let body = AddManufacturer {
        code: args.code.clone(),
        name: args.name.clone(),
        country: args.country.clone(),
        credential_csr: csr,
    };
    let response: CredentialResponse = client.post_json("/api/v1/manufacturers", &body)?;
    std::fs::create_dir_all(out).map_err(|e| CliError::Input(format!("{}: {e}", out.display())))?;
    keys::write_key(&out.join("client.key"), &key)?;
    let write = |name: &str, text: &str| {
        std::fs::write(out.join(name), text)
            .map_err(|e| CliError::Input(format!("{}: {e}", out.join(name).display())))
    };
    write(
        "client.pem",
        &format!("{}{}", response.certificate_pem, response.chain_pem),
    )?;
    write("ca.pem", &response.ca_pem)?;
    println!(
        "{}",
        robotid_verifier::text::terminal(&format!(
            "manufacturer {} registered; credential {} written to {} (client.pem, client.key, ca.pem)",
            args.code,
            response.serial,
            out.display()
        ))
    );
    Ok(())
}

/// Registers a model type with the rules in `--rules`, checked here first.
pub fn add_model(args: &ModelAdd) -> Result<(), CliError> {
    ModelRules::load(&args.rules).map_err(|e| CliError::Input(e.to_string()))?;
    let rules = robotid_verifier::input::FileKind::Policy
        .read_to_string(&args.rules)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let client = Client::new(&args.server.server, &args.server.credentials()?)?;
    let body = AddModel {
        model: args.model.clone(),
        rules,
    };
    let response: ModelResponse = client.post_json(
        &format!("/api/v1/manufacturers/{}/models", args.manufacturer),
        &body,
    )?;
    println!(
        "{}",
        robotid_verifier::text::terminal(&format!(
            "model {} registered for manufacturer {}",
            response.model, response.manufacturer
        ))
    );
    Ok(())
}
