//! Revocation, holds and releases: `POST /api/v1/robots/{id}/revoke` and
//! `POST /api/v1/certificates/{serial}/revoke` take a [`RevokeRequest`];
//! `POST /api/v1/robots/{id}/hold` and `.../release` take no body. All
//! answer with a [`RevocationResponse`].

use serde::{Deserialize, Serialize};

/// `POST .../revoke`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// RFC 5280 reason name, e.g. `keyCompromise`.
    pub reason: String,
}

/// A certificate's revocation after a revoke, hold or release.
#[derive(Debug, Deserialize, Serialize)]
pub struct RevocationResponse {
    /// The robot.
    pub robot_id: String,
    /// Certificate serial, hex.
    pub serial: String,
    /// `revoked`, `on_hold` or `good`.
    pub status: String,
    /// The reason (certificateHold for a hold or a released hold).
    pub reason: String,
    /// When it was revoked or held, RFC 3339.
    pub revoked_at: String,
    /// Whether this call changed anything (false: it already was so).
    pub changed: bool,
}
