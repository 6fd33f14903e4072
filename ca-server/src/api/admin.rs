//! Operator actions over HTTP: registering manufacturers (with their
//! enrollment credential) and model types, revoking credentials. The rules
//! are the registration authority's (`ra/registration.rs`).

use super::path::PathText;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use robotid_issuer::pem;

use super::AppState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use crate::ra::{NewManufacturer, Operation};

pub use robotid_wire::admin::{
    AddManufacturer, AddModel, CredentialResponse, ModelResponse, RevokedCredential,
};

/// Registers a manufacturer and issues its enrollment credential.
pub async fn add_manufacturer(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<CredentialResponse>), Problem> {
    caller.may(Operation::RegisterManufacturer)?;
    let req: AddManufacturer = body::json(&headers, body, state.limits.max_body).await?;
    let issued = state
        .ra
        .add_manufacturer(
            &caller,
            &NewManufacturer {
                code: &req.code,
                name: &req.name,
                country: &req.country,
                credential_csr: &req.credential_csr,
            },
        )
        .await?;
    let certs = state.ra.certs();
    Ok((
        StatusCode::CREATED,
        Json(CredentialResponse {
            code: req.code,
            serial: issued.serial,
            certificate_pem: pem::encode("CERTIFICATE", &issued.der),
            chain_pem: certs.chain_pem.clone(),
            ca_pem: certs.root_pem.clone(),
        }),
    ))
}

/// Registers a model type with its approved rules.
pub async fn add_model(
    State(state): State<AppState>,
    caller: Caller,
    PathText(code): PathText,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ModelResponse>), Problem> {
    caller.may(Operation::RegisterModel)?;
    let req: AddModel = body::json(&headers, body, state.limits.max_body).await?;
    state
        .ra
        .add_model(&caller, &code, &req.model, &req.rules)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ModelResponse {
            manufacturer: code,
            model: req.model,
        }),
    ))
}

/// `POST /api/v1/credentials/{serial}/revoke`: the credential stops
/// working at once, on open connections too.
pub async fn revoke_credential(
    State(state): State<AppState>,
    caller: Caller,
    PathText(serial): PathText,
) -> Result<Json<RevokedCredential>, Problem> {
    let serial = state.ra.revoke_credential(&caller, &serial).await?;
    // This server stops trusting it at once, on open connections too.
    state.credentials.forget(&serial);
    Ok(Json(RevokedCredential {
        serial,
        revoked: true,
    }))
}
