//! The operator's registry: `POST /api/v1/manufacturers`
//! ([`AddManufacturer`], [`CredentialResponse`]),
//! `POST /api/v1/manufacturers/{code}/models` ([`AddModel`],
//! [`ModelResponse`]) and `POST /api/v1/credentials/{serial}/revoke`
//! (no body, [`RevokedCredential`]).

use serde::{Deserialize, Serialize};

/// `POST /api/v1/manufacturers`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddManufacturer {
    /// Code: 2 to 8 of A-Z and 0-9, the first segment of its robot IDs.
    pub code: String,
    /// Legal name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// PEM CSR for the manufacturer's enrollment credential; its key stays
    /// with whoever made it.
    pub credential_csr: String,
}

/// The new manufacturer's credential.
#[derive(Debug, Deserialize, Serialize)]
pub struct CredentialResponse {
    /// Manufacturer code.
    pub code: String,
    /// Credential serial, hex.
    pub serial: String,
    /// The client certificate, PEM.
    pub certificate_pem: String,
    /// Its chain (issuing CA), PEM.
    pub chain_pem: String,
    /// The trust anchor, PEM.
    pub ca_pem: String,
}

/// `POST /api/v1/manufacturers/{code}/models`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddModel {
    /// Model code: 1 to 16 of A-Z and 0-9, the second segment of robot IDs.
    pub model: String,
    /// The model rules, as TOML (policies/README.md).
    pub rules: String,
}

/// The registered model.
#[derive(Debug, Deserialize, Serialize)]
pub struct ModelResponse {
    /// Manufacturer code.
    pub manufacturer: String,
    /// Model code.
    pub model: String,
}

/// The revoked credential.
#[derive(Debug, Deserialize, Serialize)]
pub struct RevokedCredential {
    /// Credential serial, hex.
    pub serial: String,
    /// Always true.
    pub revoked: bool,
}
