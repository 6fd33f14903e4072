//! Enrollment: one CSR per request, or a production line's batch.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use robotid_issuer::pem;
use robotid_verifier::rule::Rule;

use super::AppState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use crate::ra::Delivered;

/// Media types accepted for a single CSR (DER or PEM either way).
const CSR_TYPES: &[&str] = &["application/pkcs10", "application/x-pem-file"];

pub use robotid_wire::enroll::{BatchCertificate, BatchRequest, CertificateResponse};

/// One item's result in a batch, its refusal as this server's [`Problem`].
pub type BatchItem = robotid_wire::enroll::BatchItem<Problem>;
/// The answer to a batch, its refusals as this server's [`Problem`]s.
pub type BatchResponse = robotid_wire::enroll::BatchResponse<Problem>;

fn respond(d: Delivered, chain_pem: &str) -> CertificateResponse {
    CertificateResponse {
        status: if d.new { "issued" } else { "existing" }.into(),
        serial: d.serial,
        robot_id: d.robot_id,
        certificate_pem: pem::encode("CERTIFICATE", &d.der),
        chain_pem: chain_pem.to_owned(),
    }
}

/// `?reissue=true|false`; anything else is refused.
fn reissue_flag(uri: &Uri) -> Result<bool, Problem> {
    let mut reissue = false;
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("reissue", "true")) => reissue = true,
            Some(("reissue", "false")) => reissue = false,
            _ => {
                return Err(Problem::bad_request(
                    Rule::RequestQuery,
                    "the only query parameter is reissue=true|false",
                )
                .at("query", pair));
            }
        }
    }
    Ok(reissue)
}

/// `POST /api/v1/enroll`: one CSR.
pub async fn single(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let code = caller.manufacturer()?;
    state.enroll_rate.check(code, 1)?;
    let reissue = reissue_flag(&uri)?;
    body::require_media_type(&headers, CSR_TYPES)?;
    let bytes = body::read(&headers, body, state.limits.max_body).await?;
    let mut results = state
        .ra
        .enroll(&caller, vec![bytes.to_vec()], reissue)
        .await?;
    let result = results
        .pop()
        .ok_or_else(|| Problem::internal("enrollment returned no result"))?;
    let delivered = result?;
    let status = if delivered.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(respond(delivered, &state.ra.certs().chain_pem)),
    )
        .into_response())
}

/// `POST /api/v1/enroll/batch`: up to `max_batch` CSRs; one bad CSR does
/// not sink the rest.
pub async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchResponse>, Problem> {
    let code = caller.manufacturer()?;
    let request: BatchRequest = body::json(&headers, body, state.limits.max_body).await?;
    if request.csrs.is_empty() {
        return Err(Problem::bad_request(
            Rule::BatchEmpty,
            format!(
                "the batch holds no CSR; a batch holds 1 to {}",
                state.limits.max_batch
            ),
        )
        .at("csrs", "0"));
    }
    if request.csrs.len() > state.limits.max_batch {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Rule::BatchSize,
            format!("a batch holds 1 to {} CSRs", state.limits.max_batch),
        )
        .at("csrs", request.csrs.len().to_string()));
    }
    state.enroll_rate.check(code, request.csrs.len())?;
    let csrs: Vec<Vec<u8>> = request.csrs.into_iter().map(String::into_bytes).collect();
    let results = state.ra.enroll(&caller, csrs, request.reissue).await?;
    let mut response = BatchResponse {
        issued: 0,
        existing: 0,
        refused: 0,
        chain_pem: state.ra.certs().chain_pem.clone(),
        results: Vec::with_capacity(results.len()),
    };
    for (index, result) in results.into_iter().enumerate() {
        response.results.push(match result {
            Ok(d) => {
                if d.new {
                    response.issued += 1;
                } else {
                    response.existing += 1;
                }
                BatchItem {
                    index,
                    certificate: Some(BatchCertificate {
                        status: if d.new { "issued" } else { "existing" }.into(),
                        serial: d.serial,
                        robot_id: d.robot_id,
                        certificate_pem: pem::encode("CERTIFICATE", &d.der),
                    }),
                    problem: None,
                }
            }
            Err(p) => {
                response.refused += 1;
                BatchItem {
                    index,
                    certificate: None,
                    problem: Some(p.into()),
                }
            }
        });
    }
    Ok(Json(response))
}
