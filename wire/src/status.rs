//! Status: `GET /status/{id}` (an [`IdStatus`]) and `POST /status`
//! ([`BulkRequest`], [`BulkResponse`]); the same under `/api/v1/`.

use serde::{Deserialize, Serialize};

/// `POST /status`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Robot IDs or certificate serials (hex), mixed as wanted.
    pub ids: Vec<String>,
}

/// One ID's status.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct IdStatus {
    /// The ID as asked.
    pub id: String,
    /// `good`, `revoked`, `on_hold`, `unknown` (not a certificate or robot
    /// of this CA) or `invalid` (neither a robot ID nor a serial).
    pub status: String,
    /// Revocation reason (RFC 5280 name), when revoked or on hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was revoked or put on hold, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// The certificate the answer is about, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Its robot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robot_id: Option<String>,
    /// End of the certificate's validity, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Why an ID is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /status` answer, in request order.
#[derive(Debug, Deserialize, Serialize)]
pub struct BulkResponse {
    /// One entry per requested ID.
    pub results: Vec<IdStatus>,
}
