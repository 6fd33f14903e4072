//! The web front end: routes, request parsing, authentication and problem
//! documents. It authenticates every call (the client certificate against
//! the registry's credentials), reads the request, and hands it to the
//! registration authority, which decides every rule; reads for the public
//! come from a read-only view of the registry. HTTP statuses and problem
//! documents exist only here.

pub mod admin;
pub mod auth;
pub mod body;
mod conditional;
pub mod crl;
pub mod enroll;
pub mod lifecycle;
pub mod ocsp;
pub mod path;
pub mod problem;
pub mod rate;
pub mod revoke;
pub mod status;
pub mod system;

use robotid_verifier::rule::Rule;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::ra::RegistrationAuthority;
use crate::store::ReadOnlyStore;
use problem::Problem;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The registration authority: every operation that changes the
    /// registry or is signed.
    pub ra: Arc<RegistrationAuthority>,
    /// The registry, for reads.
    pub store: ReadOnlyStore,
    /// Limits on requests.
    pub limits: Limits,
    /// Prometheus exposition.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Recently checked credentials.
    pub credentials: auth::CredentialCache,
    /// Enrollment rate limits per manufacturer.
    pub enroll_rate: rate::RateLimiter,
    /// OCSP, CRLs and the revocation index.
    pub revocation: Arc<crate::revocation::service::Revocation>,
    /// The ARL file (the root's CRL of issuing CAs) in the CA folder,
    /// published as it is: it is signed offline.
    pub arl: std::path::PathBuf,
}

impl FromRef<AppState> for auth::CredentialCache {
    fn from_ref(state: &AppState) -> auth::CredentialCache {
        state.credentials.clone()
    }
}

/// Request limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Most CSRs in one batch.
    pub max_batch: usize,
}

impl FromRef<AppState> for ReadOnlyStore {
    fn from_ref(state: &AppState) -> ReadOnlyStore {
        state.store.clone()
    }
}

async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        Rule::RouteUnknown,
        "no such endpoint; see /openapi.json",
    )
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Rule::RouteMethod,
        "method not allowed on this endpoint; see /openapi.json",
    )
}

/// The mutual-TLS API.
pub fn api_router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/enroll", post(enroll::single))
        .route("/api/v1/enroll/batch", post(enroll::batch))
        .route("/api/v1/manufacturers", post(admin::add_manufacturer))
        .route(
            "/api/v1/manufacturers/{code}/models",
            post(admin::add_model),
        )
        .route(
            "/api/v1/credentials/{serial}/revoke",
            post(admin::revoke_credential),
        )
        .route(
            "/api/v1/certificates/{serial}/revoke",
            post(revoke::revoke_certificate),
        )
        .route(
            "/api/v1/robots/{robot_id}/revoke",
            post(revoke::revoke_robot),
        )
        .route("/api/v1/robots/{robot_id}/hold", post(revoke::hold))
        .route("/api/v1/robots/{robot_id}/release", post(revoke::release))
        .route(
            "/api/v1/robots/{robot_id}/history",
            post(lifecycle::record).get(lifecycle::show),
        )
        .route(
            "/api/v1/robots/{robot_id}/history/export",
            get(lifecycle::export),
        )
        .route("/api/v1/status", post(status::api_bulk))
        .route("/api/v1/status/{id}", get(status::api_one))
        .route("/healthz", get(system::healthz))
        .route("/openapi.json", get(system::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The public plain-HTTP endpoints.
pub fn public_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(system::healthz))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(system::openapi))
        .route("/ca/{file}", get(system::ca_certificate))
        .route("/crl/{file}", get(crl::get))
        .route("/ocsp", post(ocsp::post))
        .route("/ocsp/{*request}", get(ocsp::get))
        // A GET with an empty request is a malformed OCSP request, not a
        // missing page.
        .route("/ocsp/", get(|| async { ocsp::malformed() }))
        .route("/status", post(status::bulk))
        .route("/status/{id}", get(status::one))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}
