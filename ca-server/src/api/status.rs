//! Status for customs and distributors: one robot ID or serial, or a bulk
//! request of up to 100,000, each answered on its own (status, reason,
//! time, serial). Public, like OCSP: a certificate's standing is meant to
//! be checked by anyone who meets the robot.

use super::path::PathText;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use robotid_verifier::robot_id::RobotId;
use robotid_verifier::rule::Rule;

use super::AppState;
use super::body;
use super::problem::Problem;
use super::revoke::rfc3339;
use crate::store::roles::Reads;
use crate::store::{CertificateStanding, Standing};

/// Most IDs in one bulk request.
pub const MAX_IDS: usize = 100_000;
/// Largest bulk request body: 100,000 IDs of up to 40 characters in JSON.
const MAX_BODY: usize = 8 * 1024 * 1024;

pub use robotid_wire::status::{BulkRequest, BulkResponse, IdStatus};

enum Key {
    Robot(String),
    Serial(String),
    Invalid(String),
}

fn classify(id: &str) -> Key {
    match RobotId::parse(id) {
        Ok(r) => Key::Robot(r.as_str().to_owned()),
        Err(robot_error) => {
            if !id.is_empty() && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                Key::Serial(id.to_ascii_lowercase())
            } else {
                Key::Invalid(format!(
                    "neither a robot ID ({robot_error}) nor a serial (1 to 40 hexadecimal digits)"
                ))
            }
        }
    }
}

fn answer(id: &str, found: Option<&CertificateStanding>) -> IdStatus {
    let mut out = IdStatus {
        id: id.to_owned(),
        status: "unknown".into(),
        reason: None,
        revoked_at: None,
        serial: None,
        robot_id: None,
        not_after: None,
        error: None,
    };
    let Some(c) = found else { return out };
    out.status = c.standing.as_str().to_owned();
    match c.standing {
        Standing::Good => {}
        Standing::Revoked { reason, at } => {
            out.reason = Some(reason.as_str().to_owned());
            out.revoked_at = Some(rfc3339(at));
        }
        Standing::Held { at } => {
            out.reason = Some("certificateHold".to_owned());
            out.revoked_at = Some(rfc3339(at));
        }
    }
    out.serial = Some(c.serial_hex.clone());
    out.robot_id = Some(c.robot_id.clone());
    out.not_after = Some(rfc3339(c.not_after));
    out
}

async fn lookup(state: &AppState, ids: &[String]) -> Result<Vec<IdStatus>, Problem> {
    let keys: Vec<Key> = ids.iter().map(|id| classify(id)).collect();
    let robots: Vec<String> = keys
        .iter()
        .filter_map(|k| match k {
            Key::Robot(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    let serials: Vec<String> = keys
        .iter()
        .filter_map(|k| match k {
            Key::Serial(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let store = &state.store;
    let by_robot = store
        .standing_of_robots(&robots)
        .await
        .map_err(Problem::internal)?;
    let by_serial = store
        .standing_of_serials(&serials)
        .await
        .map_err(Problem::internal)?;
    Ok(ids
        .iter()
        .zip(keys)
        .map(|(id, key)| match key {
            Key::Robot(r) => answer(id, by_robot.get(&r)),
            Key::Serial(s) => answer(id, by_serial.get(&s)),
            Key::Invalid(why) => IdStatus {
                status: "invalid".into(),
                error: Some(why),
                ..answer(id, None)
            },
        })
        .collect())
}

/// `GET /status/{id}`: one robot ID or serial.
pub async fn one(
    State(state): State<AppState>,
    PathText(id): PathText,
) -> Result<Json<IdStatus>, Problem> {
    if let Key::Invalid(why) = classify(&id) {
        return Err(Problem::bad_request(Rule::StatusId, why)
            .at("id", id.chars().take(128).collect::<String>()));
    }
    let mut results = lookup(&state, std::slice::from_ref(&id)).await?;
    results
        .pop()
        .map(Json)
        .ok_or_else(|| Problem::internal("no answer for the ID"))
}

/// `POST /status`: many IDs, each answered.
pub async fn bulk(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BulkResponse>, Problem> {
    let req: BulkRequest = body::json(&headers, body, MAX_BODY).await?;
    if req.ids.len() > MAX_IDS {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Rule::StatusTooMany,
            format!("{} IDs in one request; at most {MAX_IDS}", req.ids.len()),
        )
        .at("ids", req.ids.len().to_string()));
    }
    let results = lookup(&state, &req.ids).await?;
    metrics::counter!("robotid_status_ids_total")
        .increment(u64::try_from(results.len()).unwrap_or(0));
    Ok(Json(BulkResponse { results }))
}

/// `GET /api/v1/status/{id}`: as [`one`], for any API credential (the API
/// port answers nobody without one).
pub async fn api_one(
    state: State<AppState>,
    _caller: super::auth::Caller,
    id: PathText,
) -> Result<Json<IdStatus>, Problem> {
    one(state, id).await
}

/// `POST /api/v1/status`: as [`bulk`], for any API credential.
pub async fn api_bulk(
    state: State<AppState>,
    _caller: super::auth::Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BulkResponse>, Problem> {
    bulk(state, headers, body).await
}
