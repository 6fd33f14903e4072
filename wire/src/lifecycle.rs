//! Lifecycle history: `POST /api/v1/robots/{id}/history` ([`RecordRequest`],
//! [`Recorded`]) and `GET /api/v1/robots/{id}/history` ([`HistoryView`]).
//! `GET .../history/export` answers with the verifier's
//! `history::bundle::Bundle`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_pem: Option<String>,
    /// The chain above it, PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
