//! Lifecycle history over HTTP: record an event, show a robot's history,
//! export it as a bundle that `robotid-verify history` checks offline. Who
//! may record what, and every rule of the details, is the registration
//! authority's (`ra/lifecycle.rs`).

use super::path::PathText;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use robotid_verifier::history::LifeState;
use robotid_verifier::history::bundle::Bundle;
use serde_json::Value;

use super::AppState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use super::revoke::rfc3339;
use crate::store::{Change, LifecycleEvent};

/// Largest record request (a component replacement carries a CSR).
const MAX_BODY: usize = 64 * 1024;

pub use robotid_wire::lifecycle::{EventView, HistoryView, RecordRequest, Recorded};

fn view(e: &LifecycleEvent) -> EventView {
    EventView {
        seq: e.seq,
        at: rfc3339(e.at),
        kind: e.kind.as_str().to_owned(),
        actor: e.actor.clone(),
        details: serde_json::from_str(&e.payload).unwrap_or(Value::String(e.payload.clone())),
        hash: hex::encode(e.hash),
    }
}

/// `POST /api/v1/robots/{robot_id}/history`: records one event.
pub async fn record(
    State(state): State<AppState>,
    caller: Caller,
    PathText(id): PathText,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let request: RecordRequest = body::json(&headers, body, MAX_BODY).await?;
    let recorded = state
        .ra
        .record_event(&caller, &id, &request.kind, &request.details)
        .await?;
    let appended = &recorded.appended;
    if let Some(Change::Made(record)) = &appended.revocation {
        state.revocation.changed(record).await;
    }
    metrics::counter!("robotid_lifecycle_events_total", "type" => appended.event.kind.as_str())
        .increment(1);
    let answer = Recorded {
        robot_id: recorded.robot_id.clone(),
        state: appended.state.as_str().to_owned(),
        event: view(&appended.event),
        chain_pem: recorded
            .certificate
            .as_ref()
            .map(|_| state.ra.certs().chain_pem.clone()),
        certificate_pem: recorded
            .certificate
            .as_ref()
            .map(|d| robotid_issuer::pem::encode("CERTIFICATE", &d.der)),
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

fn state_after(events: &[LifecycleEvent]) -> String {
    robotid_verifier::history::states::replay(events.iter().map(|e| e.kind)).map_or_else(
        |_| "unknown".to_owned(),
        |s: LifeState| s.as_str().to_owned(),
    )
}

/// `GET /api/v1/robots/{robot_id}/history`: the timeline.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    PathText(id): PathText,
) -> Result<Json<HistoryView>, Problem> {
    let (robot_id, events) = state.ra.history(&caller, &id).await?;
    Ok(Json(HistoryView {
        robot_id,
        state: state_after(&events),
        events: events.iter().map(view).collect(),
    }))
}

/// `GET /api/v1/robots/{robot_id}/history/export`: the signed bundle.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    PathText(id): PathText,
) -> Result<Json<Bundle>, Problem> {
    Ok(Json(state.ra.export_history(&caller, &id).await?))
}
