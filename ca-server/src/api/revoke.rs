//! Revoking robot certificates, and putting them on hold and releasing them.
//!
//! A manufacturer may revoke its own robots' certificates, for the reasons
//! that are its to give; the operator may revoke anyone's for any reason,
//! and alone puts certificates on hold and releases them. A change is
//! committed (with its audit entry) before it is acknowledged.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use robotid_verifier::robot_id::RobotId;

use super::AppState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use crate::store::{Change, Reason, RevocationRecord, Standing, StoreError};

/// Largest revoke request body.
const MAX_BODY: usize = 4096;

pub use robotid_wire::revocation::{RevocationResponse, RevokeRequest};

/// Reasons a manufacturer may give; privilegeWithdrawn is the CA's call.
const MANUFACTURER_REASONS: [Reason; 5] = [
    Reason::Unspecified,
    Reason::KeyCompromise,
    Reason::AffiliationChanged,
    Reason::Superseded,
    Reason::CessationOfOperation,
];

pub(super) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

pub(super) fn store_problem(e: StoreError) -> Problem {
    match e {
        StoreError::Conflict { what, .. } => {
            Problem::new(StatusCode::CONFLICT, what, e.to_string())
        }
        StoreError::NotFound { what, .. } => Problem::new(
            StatusCode::NOT_FOUND,
            &format!("{what}.not_found"),
            e.to_string(),
        ),
        StoreError::Invalid { what, .. } => Problem::bad_request(what, e.to_string()),
        other => Problem::internal(other),
    }
}

fn invalid(field: &str, value: &str, rule: &str, detail: String) -> Problem {
    Problem::bad_request(rule, detail).at(field, value.chars().take(128).collect::<String>())
}

pub(super) fn robot_id(text: &str) -> Result<RobotId, Problem> {
    RobotId::parse(text).map_err(|e| {
        invalid(
            "robot_id",
            text,
            "robot_id.format",
            format!("robot_id: {e}"),
        )
    })
}

fn serial(text: &str) -> Result<String, Problem> {
    if text.is_empty() || text.len() > 40 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            "serial",
            text,
            "serial.format",
            "serial must be 1 to 40 hexadecimal digits".into(),
        ));
    }
    Ok(text.to_ascii_lowercase())
}

fn reason(text: &str) -> Result<Reason, Problem> {
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    match Reason::parse(text) {
        Some(Reason::CertificateHold) => Err(invalid(
            "reason",
            text,
            "revocation.reason",
            "certificateHold is not a revocation reason: put the certificate on hold instead"
                .into(),
        )),
        Some(r) => Ok(r),
        None => Err(invalid(
            "reason",
            text,
            "revocation.reason",
            format!("reason must be one of {}", names.join(", ")),
        )),
    }
}

/// 403 unless the caller is the operator or the robot's manufacturer (by
/// the registry's record, not only by the robot ID's prefix).
pub(super) async fn authorise_robot(
    state: &AppState,
    caller: &Caller,
    robot_id: &str,
) -> Result<(), Problem> {
    let Caller::Manufacturer { code, .. } = caller else {
        return Ok(());
    };
    let foreign = || {
        Problem::forbidden(
            "robot.foreign",
            format!("robot {robot_id} is not one of manufacturer {code}'s robots"),
        )
        .at("robot_id", robot_id)
    };
    let record = state
        .authority
        .store
        .robot(robot_id)
        .await
        .map_err(Problem::internal)?;
    match record {
        Some(r) if &r.manufacturer_code == code => Ok(()),
        Some(_) => Err(foreign()),
        // An unknown robot of one's own is 404; someone else's is 403
        // either way, so the answer tells nothing about other registries.
        None if robot_id.starts_with(&format!("{code}-")) => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "robot.not_found",
            format!("robot {robot_id} is not registered"),
        )),
        None => Err(foreign()),
    }
}

/// The robot's live certificate serial, or 404.
async fn live_serial(state: &AppState, robot_id: &str) -> Result<String, Problem> {
    state
        .authority
        .store
        .live_certificate(robot_id)
        .await
        .map_err(Problem::internal)?
        .map(|c| c.serial_hex)
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "robot.no_live_certificate",
                format!(
                    "robot {robot_id} holds no live certificate; name an older one by --serial"
                ),
            )
            .at("robot_id", robot_id)
        })
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

async fn revoke_serial(
    state: &AppState,
    caller: &Caller,
    serial: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<RevocationResponse>, Problem> {
    let req: RevokeRequest = body::json(headers, body, MAX_BODY).await?;
    let reason = reason(&req.reason)?;
    if matches!(caller, Caller::Manufacturer { .. }) && !MANUFACTURER_REASONS.contains(&reason) {
        return Err(Problem::forbidden(
            "revocation.reason_operator_only",
            format!("only the operator revokes for {}", reason.as_str()),
        )
        .at("reason", reason.as_str()));
    }
    let change = state
        .authority
        .store
        .revoke(serial, reason, &caller.actor())
        .await
        .map_err(store_problem)?;
    Ok(respond(state, change).await)
}

/// `POST /api/v1/robots/{robot_id}/revoke`: revokes the robot's live
/// certificate.
pub async fn revoke_robot(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RevocationResponse>, Problem> {
    let id = robot_id(&id)?;
    authorise_robot(&state, &caller, id.as_str()).await?;
    let serial = live_serial(&state, id.as_str()).await?;
    revoke_serial(&state, &caller, &serial, &headers, body).await
}

/// `POST /api/v1/certificates/{serial}/revoke`: revokes one certificate,
/// live or not.
pub async fn revoke_certificate(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial_text): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RevocationResponse>, Problem> {
    let serial = serial(&serial_text)?;
    let cert = state
        .authority
        .store
        .certificate(&serial)
        .await
        .map_err(Problem::internal)?;
    match (&caller, cert) {
        (_, Some(cert)) => authorise_robot(&state, &caller, &cert.robot_id).await?,
        // Whether a serial exists is only the operator's to learn here.
        (Caller::Manufacturer { .. }, None) => {
            return Err(Problem::forbidden(
                "certificate.foreign",
                format!("certificate {serial} is not one of your robots' certificates"),
            )
            .at("serial", serial));
        }
        (Caller::Operator { .. }, None) => {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "certificate.not_found",
                format!("certificate {serial} is not in the registry"),
            )
            .at("serial", serial));
        }
    }
    revoke_serial(&state, &caller, &serial, &headers, body).await
}

/// Which way a hold goes.
#[derive(Clone, Copy)]
enum HoldAction {
    Hold,
    Release,
}

async fn hold_or_release(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: HoldAction,
) -> Result<Json<RevocationResponse>, Problem> {
    caller.operator()?;
    let id = robot_id(id)?;
    let serial = live_serial(state, id.as_str()).await?;
    let store = &state.authority.store;
    let change = match action {
        HoldAction::Hold => store.hold(&serial, &caller.actor()).await,
        HoldAction::Release => store.release(&serial, &caller.actor()).await,
    }
    .map_err(store_problem)?;
    Ok(respond(state, change).await)
}

/// `POST /api/v1/robots/{robot_id}/hold`: puts the live certificate on
/// hold (recall, investigation). Operator only.
pub async fn hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RevocationResponse>, Problem> {
    hold_or_release(&state, &caller, &id, HoldAction::Hold).await
}

/// `POST /api/v1/robots/{robot_id}/release`: lifts the hold on the live
/// certificate. Operator only.
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RevocationResponse>, Problem> {
    hold_or_release(&state, &caller, &id, HoldAction::Release).await
}
