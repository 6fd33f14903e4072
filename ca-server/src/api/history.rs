//! Lifecycle history: record an event, show a robot's history, export it as
//! a bundle that `robotid-verify history` checks offline.
//!
//! Who records what: a manufacturer, for its own robots, sales,
//! deployments, maintenance, component replacements (it makes the CSR),
//! decommissioning and recycling; the operator everything but component
//! replacement, and alone recall holds and releases. `manufactured` is
//! written by the CA at first issuance. The store enforces the state
//! machine in the transaction that appends the event.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use robotid_verifier::history::bundle::{BUNDLE_FORMAT, Bundle, BundleEvent, SignedHead};
use robotid_verifier::history::{EventKind, LifeState, transition};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::body;
use super::problem::Problem;
use super::revoke::{authorise_robot, rfc3339, robot_id, store_problem};
use crate::history_signer::HistorySigner;
use crate::store::{Change, LifecycleEvent, NewEvent, Store, StoreError, lifecycle_rules};

/// Largest record request (a component replacement carries a CSR).
const MAX_BODY: usize = 64 * 1024;
/// Longest free-text field.
const MAX_TEXT: usize = 1000;

/// `POST /api/v1/robots/{robot_id}/history`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRequest {
    /// The event type, e.g. `sold`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its details (docs/lifecycle.md lists them per type).
    #[serde(default)]
    pub details: Value,
}

/// One event, as shown.
#[derive(Debug, Deserialize, Serialize)]
pub struct EventView {
    /// Position, from 1.
    pub seq: u64,
    /// When, RFC 3339.
    pub at: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who recorded it.
    pub actor: String,
    /// Its details.
    pub details: Value,
    /// Its hash, hex.
    pub hash: String,
}

/// The answer to a record request.
#[derive(Debug, Deserialize, Serialize)]
pub struct Recorded {
    /// The robot.
    pub robot_id: String,
    /// Its state after the event.
    pub state: String,
    /// The event.
    pub event: EventView,
    /// A re-issued certificate (component replaced), PEM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_pem: Option<String>,
    /// The chain above it, PEM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_pem: Option<String>,
}

/// `GET /api/v1/robots/{robot_id}/history`.
#[derive(Debug, Deserialize, Serialize)]
pub struct HistoryView {
    /// The robot.
    pub robot_id: String,
    /// Its state.
    pub state: String,
    /// Every event, oldest first.
    pub events: Vec<EventView>,
}

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

fn details_problem(kind: EventKind, detail: String) -> Problem {
    Problem::bad_request("lifecycle.details", detail).at("details", kind.as_str())
}

/// Free text: 1 to [`MAX_TEXT`] characters, no control characters.
fn text(kind: EventKind, field: &str, value: &str) -> Result<String, Problem> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(Problem::bad_request(
            "lifecycle.details",
            format!(
                "{} details.{field}: 1 to {MAX_TEXT} characters, no control characters",
                kind.as_str()
            ),
        )
        .at(
            format!("details.{field}"),
            value.chars().take(128).collect::<String>(),
        ));
    }
    Ok(value.to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sold {
    new_owner: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Deployed {
    site: Option<String>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Maintenance {
    work: String,
    by: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Recall {
    recall: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Note {
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decommissioned {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Replaced {
    csr: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Recycled {
    components: Vec<Disposition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Disposition {
    kind: String,
    serial: String,
    disposition: String,
}

/// What may become of a key component at recycling.
const DISPOSITIONS: [&str; 5] = ["reused", "refurbished", "recycled", "destroyed", "returned"];

fn parse<T: serde::de::DeserializeOwned>(kind: EventKind, details: &Value) -> Result<T, Problem> {
    let details = if details.is_null() {
        json!({})
    } else {
        details.clone()
    };
    serde_json::from_value(details).map_err(|e| {
        details_problem(
            kind,
            format!("{} details: {e} (see docs/lifecycle.md)", kind.as_str()),
        )
    })
}

fn optional(kind: EventKind, field: &str, value: Option<&String>) -> Result<Value, Problem> {
    Ok(match value {
        Some(v) => Value::String(text(kind, field, v)?),
        None => Value::Null,
    })
}

/// The payload to record for the simple kinds (not component replacement,
/// not recycling), with nulls dropped.
fn simple_payload(kind: EventKind, details: &Value) -> Result<Value, Problem> {
    let mut payload = match kind {
        EventKind::Sold => {
            let d: Sold = parse(kind, details)?;
            json!({ "new_owner": text(kind, "new_owner", &d.new_owner)?,
                    "note": optional(kind, "note", d.note.as_ref())? })
        }
        EventKind::Deployed => {
            let d: Deployed = parse(kind, details)?;
            json!({ "site": optional(kind, "site", d.site.as_ref())?,
                    "note": optional(kind, "note", d.note.as_ref())? })
        }
        EventKind::Maintenance => {
            let d: Maintenance = parse(kind, details)?;
            json!({ "work": text(kind, "work", &d.work)?, "by": text(kind, "by", &d.by)? })
        }
        EventKind::RecallHold => {
            let d: Recall = parse(kind, details)?;
            json!({ "recall": text(kind, "recall", &d.recall)? })
        }
        EventKind::RecallRelease => {
            let d: Note = parse(kind, details)?;
            json!({ "note": optional(kind, "note", d.note.as_ref())? })
        }
        EventKind::Decommissioned => {
            let d: Decommissioned = parse(kind, details)?;
            json!({ "reason": optional(kind, "reason", d.reason.as_ref())? })
        }
        EventKind::Manufactured | EventKind::ComponentReplaced | EventKind::Recycled => json!({}),
    };
    if let Value::Object(map) = &mut payload {
        map.retain(|_, v| !v.is_null());
    }
    Ok(payload)
}

/// 403 unless `caller` may record `kind` (the robot's ownership is checked
/// separately).
fn may_record(caller: &Caller, kind: EventKind) -> Result<(), Problem> {
    match (caller, kind) {
        (Caller::Manufacturer { .. }, EventKind::RecallHold | EventKind::RecallRelease) => {
            Err(Problem::forbidden(
                "lifecycle.operator_only",
                format!("only the operator records {}", kind.as_str()),
            )
            .at("type", kind.as_str()))
        }
        (Caller::Operator { .. }, EventKind::ComponentReplaced) => Err(Problem::forbidden(
            "role.manufacturer_required",
            "a component replacement re-issues the certificate from the manufacturer's CSR: \
             the robot's manufacturer records it",
        )
        .at("type", kind.as_str())),
        _ => Ok(()),
    }
}

fn lifecycle_problem(e: StoreError, kind: EventKind) -> Problem {
    store_problem(e).at("type", kind.as_str())
}

/// `POST /api/v1/robots/{robot_id}/history`: records one event.
pub async fn record(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let id = robot_id(&id)?;
    let request: RecordRequest = body::json(&headers, body, MAX_BODY).await?;
    let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = EventKind::parse(&request.kind).ok_or_else(|| {
        Problem::bad_request(
            "lifecycle.type",
            format!("type must be one of {}", names.join(", ")),
        )
        .at("type", request.kind.chars().take(64).collect::<String>())
    })?;
    may_record(&caller, kind)?;
    authorise_robot(&state, &caller, id.as_str()).await?;
    let store = &state.authority.store;
    // The state machine first, so a refusal names the state before any
    // detail is judged; the append checks again in its transaction.
    precheck(store, id.as_str(), kind).await?;
    let mut certificate = None;
    let payload = match kind {
        EventKind::ComponentReplaced => {
            let (payload, pem) = replace_component(&state, &caller, id.as_str(), &request).await?;
            certificate = Some(pem);
            payload
        }
        EventKind::Recycled => recycled_payload(store, id.as_str(), &request.details).await?,
        _ => simple_payload(kind, &request.details)?,
    };
    let actor = caller.actor();
    let appended = store
        .append_event(&NewEvent {
            robot_id: id.as_str(),
            kind,
            actor: &actor,
            payload,
        })
        .await
        .map_err(|e| {
            if certificate.is_some() {
                // The re-issue committed but its event did not (a
                // decommissioning won the race, or the registry failed):
                // say so where the operator looks (decision 0010).
                tracing::error!(robot_id = id.as_str(), error = %e,
                    "certificate re-issued for a component replacement, but the event was not recorded");
            }
            lifecycle_problem(e, kind)
        })?;
    if let Some(Change::Made(record)) = &appended.revocation {
        state.revocation.changed(record).await;
    }
    metrics::counter!("robotid_lifecycle_events_total", "type" => kind.as_str()).increment(1);
    let answer = Recorded {
        robot_id: id.as_str().to_owned(),
        state: appended.state.as_str().to_owned(),
        event: view(&appended.event),
        chain_pem: certificate
            .as_ref()
            .map(|_| state.authority.certs.chain_pem.clone()),
        certificate_pem: certificate,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Refuses early, before anything is issued, if the state machine would
/// refuse `kind` now (the append checks again in its transaction).
async fn precheck(store: &Store, robot_id: &str, kind: EventKind) -> Result<(), Problem> {
    let current = store
        .lifecycle_state(robot_id)
        .await
        .map_err(Problem::internal)?;
    let Some(current) = current else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            lifecycle_rules::NOT_MANUFACTURED,
            format!("robot {robot_id} has no signed certificate yet"),
        ));
    };
    transition(Some(current), kind)
        .map(|_| ())
        .map_err(|r| Problem::new(StatusCode::CONFLICT, r.rule, r.detail).at("type", kind.as_str()))
}

/// Re-issues the robot's certificate from the new CSR (a declared
/// re-issue, through enrollment, which supersedes the old certificate) and
/// returns the event's payload and the new certificate.
async fn replace_component(
    state: &AppState,
    caller: &Caller,
    robot_id: &str,
    request: &RecordRequest,
) -> Result<(Value, String), Problem> {
    let kind = EventKind::ComponentReplaced;
    let d: Replaced = parse(kind, &request.details)?;
    let note = optional(kind, "note", d.note.as_ref())?;
    let der = robotid_issuer::csr::decode_pem_or_der(d.csr.as_bytes())
        .and_then(|der| robotid_issuer::csr::verify(&der).map(|v| (der, v)));
    let (_, verified) = der.map_err(|e| {
        Problem::bad_request(e.rule(), format!("details.csr: {e}")).at("details.csr", "")
    })?;
    if verified.identity.robot_id != robot_id {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "lifecycle.csr_robot",
            format!(
                "the CSR is for robot {}, not {robot_id}",
                verified.identity.robot_id
            ),
        )
        .at("details.csr", verified.identity.robot_id.clone()));
    }
    let store = &state.authority.store;
    precheck(store, robot_id, kind).await?;
    let old = store
        .live_certificate(robot_id)
        .await
        .map_err(Problem::internal)?
        .map(|c| c.serial_hex);
    let code = caller.manufacturer()?.to_owned();
    let mut results = state
        .pipeline
        .enroll(&code, &caller.actor(), vec![d.csr.into_bytes()], true)
        .await?;
    let delivered = results
        .pop()
        .ok_or_else(|| Problem::internal("enrollment returned no result"))??;
    let before = match &old {
        Some(serial) => store.components(serial).await.map_err(Problem::internal)?,
        None => Vec::new(),
    };
    let after = store
        .components(&delivered.serial)
        .await
        .map_err(Problem::internal)?;
    let replaced: Vec<Value> = after
        .iter()
        .filter(|c| !before.contains(c))
        .map(|c| {
            json!({ "kind": c.kind, "part_number": c.part_number, "supplier": c.supplier,
                    "serial": c.serial, "digests": c.digests })
        })
        .collect();
    let mut payload = json!({
        "old_serial": old,
        "new_serial": delivered.serial,
        "replaced": replaced,
        "note": note,
    });
    if let Value::Object(map) = &mut payload {
        map.retain(|_, v| !v.is_null());
    }
    Ok((
        payload,
        robotid_issuer::pem::encode("CERTIFICATE", &delivered.der),
    ))
}

/// Recycling names the disposition of every key component of the robot's
/// last certificate, and no other.
async fn recycled_payload(
    store: &Store,
    robot_id: &str,
    details: &Value,
) -> Result<Value, Problem> {
    let kind = EventKind::Recycled;
    let d: Recycled = parse(kind, details)?;
    let certs = store
        .signed_certificates(robot_id)
        .await
        .map_err(Problem::internal)?;
    let required: BTreeSet<(String, String)> = match certs.last() {
        Some((serial, _)) => store
            .components(serial)
            .await
            .map_err(Problem::internal)?
            .into_iter()
            .map(|c| (c.kind, c.serial))
            .collect(),
        None => BTreeSet::new(),
    };
    let mut given = BTreeSet::new();
    let mut out = Vec::with_capacity(d.components.len());
    for (i, c) in d.components.iter().enumerate() {
        if !DISPOSITIONS.contains(&c.disposition.as_str()) {
            return Err(Problem::bad_request(
                "lifecycle.disposition",
                format!(
                    "details.components[{i}].disposition must be one of {}",
                    DISPOSITIONS.join(", ")
                ),
            )
            .at(
                format!("details.components[{i}].disposition"),
                c.disposition.chars().take(64).collect::<String>(),
            ));
        }
        let key = (c.kind.clone(), c.serial.clone());
        if !required.contains(&key) {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "lifecycle.recycled_components",
                format!(
                    "component {} {} is not a key component of robot {robot_id}'s certificate",
                    c.kind, c.serial
                ),
            )
            .at(
                format!("details.components[{i}]"),
                format!("{} {}", c.kind, c.serial),
            ));
        }
        given.insert(key);
        out.push(json!({ "kind": c.kind, "serial": c.serial, "disposition": c.disposition }));
    }
    if let Some((kind_name, serial)) = required.difference(&given).next() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "lifecycle.recycled_components",
            format!(
                "recycling records the disposition of every key component: {kind_name} {serial} is missing"
            ),
        )
        .at("details.components", format!("{kind_name} {serial}")));
    }
    Ok(json!({ "components": out }))
}

async fn history_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(String, Vec<LifecycleEvent>), Problem> {
    let id = robot_id(id)?;
    authorise_robot(state, caller, id.as_str()).await?;
    let events = state
        .authority
        .store
        .lifecycle_events(id.as_str())
        .await
        .map_err(store_problem)?;
    Ok((id.as_str().to_owned(), events))
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
    Path(id): Path<String>,
) -> Result<Json<HistoryView>, Problem> {
    let (robot_id, events) = history_of(&state, &caller, &id).await?;
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
    Path(id): Path<String>,
) -> Result<Json<Bundle>, Problem> {
    let (robot_id, events) = history_of(&state, &caller, &id).await?;
    let bundle = build_bundle(
        &state.authority.store,
        &state.history_signer,
        &robot_id,
        events,
    )
    .await?;
    Ok(Json(bundle))
}

/// The bundle of `events` (the robot's whole history), with the head
/// signed now and the robot's certificates.
pub async fn build_bundle(
    store: &Store,
    signer: &HistorySigner,
    robot_id: &str,
    events: Vec<LifecycleEvent>,
) -> Result<Bundle, Problem> {
    let last = events.last().ok_or_else(|| {
        Problem::new(
            StatusCode::CONFLICT,
            lifecycle_rules::NOT_MANUFACTURED,
            format!("robot {robot_id} has no history"),
        )
    })?;
    let signed = signer
        .sign_head(robot_id, last.seq, &last.hash)
        .await
        .map_err(Problem::internal)?;
    let head = SignedHead {
        robot_id: robot_id.to_owned(),
        seq: last.seq,
        hash: hex::encode(last.hash),
        signed_at: signed.signed_at,
        algorithm: signed.algorithm.to_owned(),
        signature: hex::encode(&signed.signature),
    };
    let certificates = store
        .signed_certificates(robot_id)
        .await
        .map_err(Problem::internal)?
        .into_iter()
        .map(|(_, der)| robotid_issuer::pem::encode("CERTIFICATE", &der))
        .collect();
    Ok(Bundle {
        format: BUNDLE_FORMAT.to_owned(),
        robot_id: robot_id.to_owned(),
        events: events
            .into_iter()
            .map(|e| BundleEvent {
                seq: e.seq,
                at: e.at,
                kind: e.kind.as_str().to_owned(),
                actor: e.actor,
                payload: e.payload,
                prev_hash: hex::encode(e.prev_hash),
                hash: hex::encode(e.hash),
            })
            .collect(),
        head,
        signer_chain: signed.chain,
        certificates,
    })
}

/// For a declared re-issue: a refusal for each CSR whose robot's life has
/// ended (decommissioned or recycled), naming the state and the rule. CSRs
/// that cannot be read are left to enrollment, which refuses them itself.
pub(super) async fn ended_refusals(
    store: &Store,
    csrs: &[Vec<u8>],
) -> Result<Vec<Option<Problem>>, Problem> {
    let ids: Vec<Option<String>> = csrs
        .iter()
        .map(|bytes| {
            robotid_issuer::csr::decode_pem_or_der(bytes)
                .and_then(|der| robotid_issuer::csr::verify(&der))
                .ok()
                .map(|v| v.identity.robot_id)
        })
        .collect();
    let wanted: Vec<String> = ids.iter().flatten().cloned().collect();
    let ended: std::collections::HashMap<String, LifeState> = store
        .lifecycle_states(&wanted)
        .await
        .map_err(Problem::internal)?
        .into_iter()
        .filter(|(_, s)| s.is_ended())
        .collect();
    Ok(ids
        .iter()
        .map(|id| {
            let id = id.as_ref()?;
            let state = ended.get(id)?;
            Some(
                Problem::new(
                    StatusCode::CONFLICT,
                    robotid_verifier::history::states::rules::DECOMMISSIONED,
                    format!(
                        "robot {id} is {}: no certificate is issued after decommissioning",
                        state.as_str()
                    ),
                )
                .at("robot_id", id.clone()),
            )
        })
        .collect())
}
