//! Revoking robot certificates, and putting them on hold and releasing
//! them, over HTTP. Who may revoke what, and for which reason, is the
//! registration authority's (`ra/revocation.rs`); a change it made is
//! handed to the revocation publisher at once, so this server's OCSP and
//! CRL answer it without waiting for the change feed.

use super::path::PathText;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;

use super::AppState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use crate::store::{Change, RevocationRecord, Standing};

/// Largest revoke request body.
const MAX_BODY: usize = 4096;

pub use robotid_wire::revocation::{RevocationResponse, RevokeRequest};

pub(super) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

async fn respond(state: &AppState, change: Change) -> Json<RevocationResponse> {
    let changed = matches!(change, Change::Made(_));
    let record = change.record().clone();
    if changed {
        state.revocation.changed(&record).await;
        metrics::counter!("robotid_revocation_changes_total", "state" => record.state.as_str())
            .increment(1);
    }
    Json(response(&record, changed))
}

fn response(record: &RevocationRecord, changed: bool) -> RevocationResponse {
    let standing =
        crate::store::Standing::of(Some((record.state, record.reason, record.revoked_at)), None);
    RevocationResponse {
        robot_id: record.robot_id.clone(),
        serial: record.serial_hex.clone(),
        status: match standing {
            Standing::Good => "good",
            Standing::Revoked { .. } => "revoked",
            Standing::Held { .. } => "on_hold",
        }
        .to_owned(),
        reason: record.reason.as_str().to_owned(),
        revoked_at: rfc3339(record.revoked_at),
        changed,
    }
}

/// `POST /api/v1/robots/{robot_id}/revoke`: revokes the robot's live
/// certificate.
pub async fn revoke_robot(
    State(state): State<AppState>,
    caller: Caller,
    PathText(id): PathText,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RevocationResponse>, Problem> {
    let req: RevokeRequest = body::json(&headers, body, MAX_BODY).await?;
    let change = state.ra.revoke_robot(&caller, &id, &req.reason).await?;
    Ok(respond(&state, change).await)
}

/// `POST /api/v1/certificates/{serial}/revoke`: revokes one certificate,
/// live or not.
pub async fn revoke_certificate(
    State(state): State<AppState>,
    caller: Caller,
    PathText(serial): PathText,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RevocationResponse>, Problem> {
    let req: RevokeRequest = body::json(&headers, body, MAX_BODY).await?;
    let change = state
        .ra
        .revoke_certificate(&caller, &serial, &req.reason)
        .await?;
    Ok(respond(&state, change).await)
}

/// `POST /api/v1/robots/{robot_id}/hold`: puts the live certificate on
/// hold (recall, investigation). Operator only.
pub async fn hold(
    State(state): State<AppState>,
    caller: Caller,
    PathText(id): PathText,
) -> Result<Json<RevocationResponse>, Problem> {
    let change = state.ra.hold(&caller, &id).await?;
    Ok(respond(&state, change).await)
}

/// `POST /api/v1/robots/{robot_id}/release`: lifts the hold on the live
/// certificate. Operator only.
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    PathText(id): PathText,
) -> Result<Json<RevocationResponse>, Problem> {
    let change = state.ra.release(&caller, &id).await?;
    Ok(respond(&state, change).await)
}
