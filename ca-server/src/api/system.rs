//! Health, metrics, the API description and the CA's certificates.

use super::path::PathText;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use robotid_verifier::rule::Rule;

use super::AppState;
use super::problem::Problem;
use crate::store::roles::Reads;

/// The OpenAPI description of every endpoint.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// `GET /healthz`: 200 when the registry answers.
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.health().await {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ok"}"#,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Rule::ServerRegistry,
                "the registry does not answer",
            )
            .into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /ca/{issuer id}.cer` and `/ca/root.cer`: DER certificates, the
/// caIssuers URL of every robot certificate.
pub async fn ca_certificate(
    State(state): State<AppState>,
    request: axum::http::HeaderMap,
    PathText(file): PathText,
) -> Response {
    let certs = state.ra.certs();
    let issuing = format!("{}.cer", state.revocation.crl().issuer_id());
    let der = if file == issuing {
        certs.issuing_der.clone()
    } else if file == "root.cer" {
        certs.root_der.clone()
    } else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            Rule::RouteUnknown,
            format!("no CA certificate {file:?}"),
        )
        .into_response();
    };
    // CA certificates change only at a ceremony: an entity tag of their
    // bytes lets a relying party revalidate without downloading them.
    let tag = format!(
        "\"{}\"",
        hex::encode(&ring::digest::digest(&ring::digest::SHA256, &der).as_ref()[..16])
    );
    let mut response = if super::conditional::not_modified(&request, &tag, None) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/pkix-cert")], der).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}
