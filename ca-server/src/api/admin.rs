//! Operator actions: registering manufacturers (with their enrollment
//! credential) and model types.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use robotid_issuer::credentials::CredentialKind;
use robotid_issuer::pem;
use robotid_issuer::vetting::{ManufacturerRecord, ModelRecord};
use robotid_verifier::profile::KeyAlgorithm;
use robotid_verifier::robot_id::RobotId;
use robotid_verifier::rules::ModelRules;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509CertificationRequest};

use super::AppState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use crate::store::{Credential, Role, StoreError};

/// `POST /api/v1/manufacturers`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddManufacturer {
    /// Code: 2 to 8 of A-Z and 0-9, the first segment of its robot IDs.
    pub code: String,
    /// Legal name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// PEM CSR for the manufacturer's enrollment credential; its key stays
    /// with whoever made it.
    pub credential_csr: String,
}

/// The new manufacturer's credential.
#[derive(Debug, Deserialize, Serialize)]
pub struct CredentialResponse {
    /// Manufacturer code.
    pub code: String,
    /// Credential serial, hex.
    pub serial: String,
    /// The client certificate, PEM.
    pub certificate_pem: String,
    /// Its chain (issuing CA), PEM.
    pub chain_pem: String,
    /// The trust anchor, PEM.
    pub ca_pem: String,
}

fn store_problem(e: StoreError) -> Problem {
    match e {
        StoreError::Conflict { .. } => {
            Problem::new(StatusCode::CONFLICT, "registry.conflict", e.to_string())
        }
        StoreError::NotFound { .. } => {
            Problem::new(StatusCode::NOT_FOUND, "registry.not_found", e.to_string())
        }
        other => Problem::internal(other),
    }
}

fn invalid(field: &str, value: &str, detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!("{field}.format"),
        detail,
    )
    .at(field, value)
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), Problem> {
    let len = value.chars().count();
    if len == 0 || len > max || value.chars().any(char::is_control) || value.trim() != value {
        return Err(invalid(
            field,
            value,
            format!("{field} must be 1..={max} printable characters without surrounding spaces"),
        ));
    }
    Ok(())
}

/// The SubjectPublicKeyInfo of a CSR whose signature verifies.
fn credential_key(pem_text: &str) -> Result<Vec<u8>, Problem> {
    let der = robotid_issuer::csr::decode_pem_or_der(pem_text.as_bytes())
        .map_err(|e| Problem::bad_request(e.rule(), e.to_string()).at("credential_csr", ""))?;
    let (_, csr) = X509CertificationRequest::from_der(&der).map_err(|e| {
        Problem::bad_request("csr.der", format!("credential_csr: {e}")).at("credential_csr", "")
    })?;
    csr.verify_signature().map_err(|e| {
        Problem::bad_request(
            "csr.signature",
            format!("credential_csr signature does not verify: {e}"),
        )
        .at("credential_csr", "")
    })?;
    let spki = &csr.certification_request_info.subject_pki;
    if KeyAlgorithm::of_spki(spki).is_none() {
        return Err(Problem::bad_request(
            "csr.key_algorithm",
            "credential keys must be P-256, P-384 or Ed25519",
        )
        .at("credential_csr", ""));
    }
    Ok(spki.raw.to_vec())
}

/// Registers a manufacturer and issues its enrollment credential.
pub async fn add_manufacturer(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<CredentialResponse>), Problem> {
    caller.operator()?;
    let req: AddManufacturer = body::json(&headers, body, state.limits.max_body).await?;
    RobotId::new(&req.code, "M", "0").map_err(|e| {
        invalid(
            "code",
            &req.code,
            format!("not usable as a robot ID's manufacturer code: {e}"),
        )
    })?;
    check_text("name", &req.name, 128)?;
    if req.country.len() != 2 || !req.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            "country",
            &req.country,
            "country must be an ISO 3166-1 alpha-2 code, two capitals",
        ));
    }
    let spki = credential_key(&req.credential_csr)?;
    let authority = &state.authority;
    let record = ManufacturerRecord {
        code: req.code.clone(),
        name: req.name.clone(),
        country: req.country.clone(),
        active: true,
    };
    authority
        .store
        .add_manufacturer(&record, &caller.actor())
        .await
        .map_err(store_problem)?;
    let kind = CredentialKind::Manufacturer {
        code: req.code.clone(),
        name: req.name.clone(),
    };
    // Recorded before it is signed, like every certificate of the CA.
    let prepared = authority
        .signer
        .prepare_credential(
            &kind,
            &authority.certs.name,
            &spki,
            time::OffsetDateTime::now_utc(),
        )
        .map_err(Problem::internal)?;
    let record = crate::store::CaCertificate::of(&prepared);
    let serial = record.serial_hex.clone();
    let credential = Credential {
        serial_hex: serial.clone(),
        role: Role::Manufacturer,
        manufacturer_code: Some(req.code.clone()),
        subject: format!("manufacturer {}", req.code),
        not_after: time::OffsetDateTime::now_utc().unix_timestamp()
            + robotid_issuer::credentials::CREDENTIAL_VALIDITY.whole_seconds(),
        revoked: false,
    };
    authority
        .store
        .add_credential(&credential, &caller.actor())
        .await
        .map_err(store_problem)?;
    authority
        .store
        .record_ca_certificate(&record)
        .await
        .map_err(store_problem)?;
    let issued = authority
        .signer
        .issue(prepared)
        .map_err(Problem::internal)?;
    authority
        .store
        .complete_ca_certificate(&serial, &issued.der)
        .await
        .map_err(store_problem)?;
    Ok((
        StatusCode::CREATED,
        Json(CredentialResponse {
            code: req.code,
            serial,
            certificate_pem: pem::encode("CERTIFICATE", &issued.der),
            chain_pem: authority.certs.chain_pem.clone(),
            ca_pem: authority.certs.root_pem.clone(),
        }),
    ))
}

/// `POST /api/v1/manufacturers/{code}/models`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddModel {
    /// Model code: 1 to 16 of A-Z and 0-9, the second segment of robot IDs.
    pub model: String,
    /// The model rules, as TOML (policies/README.md).
    pub rules: String,
}

/// The registered model.
#[derive(Debug, Deserialize, Serialize)]
pub struct ModelResponse {
    /// Manufacturer code.
    pub manufacturer: String,
    /// Model code.
    pub model: String,
}

/// Registers a model type with its approved rules.
pub async fn add_model(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ModelResponse>), Problem> {
    caller.operator()?;
    let req: AddModel = body::json(&headers, body, state.limits.max_body).await?;
    RobotId::new(&code, &req.model, "0").map_err(|e| {
        invalid(
            "model",
            &req.model,
            format!("manufacturer {code:?} / model {:?}: {e}", req.model),
        )
    })?;
    let rules = ModelRules::from_toml(&req.rules, "rules").map_err(|e| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rules.invalid",
            e.to_string(),
        )
        .at("rules", "")
    })?;
    let record = ModelRecord {
        manufacturer_code: code.clone(),
        model: req.model.clone(),
        rules,
    };
    state
        .authority
        .store
        .add_model(&record, &caller.actor())
        .await
        .map_err(store_problem)?;
    Ok((
        StatusCode::CREATED,
        Json(ModelResponse {
            manufacturer: code,
            model: req.model,
        }),
    ))
}

/// The revoked credential.
#[derive(Debug, Deserialize, Serialize)]
pub struct RevokedCredential {
    /// Credential serial, hex.
    pub serial: String,
    /// Always true.
    pub revoked: bool,
}

/// `POST /api/v1/credentials/{serial}/revoke`: the credential stops
/// working at once, on open connections too.
pub async fn revoke_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Result<Json<RevokedCredential>, Problem> {
    caller.operator()?;
    if serial.is_empty() || serial.len() > 40 || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            "serial",
            &serial,
            "serial must be 1..=40 hexadecimal digits",
        ));
    }
    if let Caller::Operator { serial: own } = &caller
        && own.eq_ignore_ascii_case(&serial)
    {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "credential.self",
            "the operator's credential cannot revoke itself; that would lock the registry",
        ));
    }
    state
        .authority
        .store
        .revoke_credential(&serial, &caller.actor())
        .await
        .map_err(store_problem)?;
    state.credentials.forget(&serial);
    Ok(Json(RevokedCredential {
        serial: serial.to_ascii_lowercase(),
        revoked: true,
    }))
}
