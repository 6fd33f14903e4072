//! The public revocation endpoints: the OCSP responder (RFC 6960 over HTTP,
//! RFC 5019: POST, and GET with the base64 request in the path) and the
//! CRL. Every answer to an OCSP request is an OCSP response, never an HTML
//! or JSON error page.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::AppState;
use super::problem::Problem;
use crate::revocation::service::OcspAnswer;

/// Largest OCSP request accepted (RFC 5019 requests are about 100 bytes).
const MAX_REQUEST: usize = 16 * 1024;

const OCSP_RESPONSE: HeaderValue = HeaderValue::from_static("application/ocsp-response");

fn http_date(unix: i64) -> Option<HeaderValue> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let text = time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()?
        .format(&format)
        .ok()?;
    HeaderValue::from_str(&text).ok()
}

fn ocsp_response(answer: OcspAnswer) -> Response {
    let mut response = (StatusCode::OK, answer.der).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, OCSP_RESPONSE);
    if let Some((this_update, next_update)) = answer.times {
        // RFC 5019 6.2: caches may keep the response until nextUpdate.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let max_age = (next_update - now).max(0);
        if let Ok(v) = HeaderValue::from_str(&format!(
            "max-age={max_age}, public, no-transform, must-revalidate"
        )) {
            headers.insert(header::CACHE_CONTROL, v);
        }
        if let Some(v) = http_date(this_update) {
            headers.insert(header::LAST_MODIFIED, v);
        }
        if let Some(v) = http_date(next_update) {
            headers.insert(header::EXPIRES, v);
        }
    } else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A malformedRequest OCSP response.
pub fn malformed() -> Response {
    ocsp_response(OcspAnswer {
        der: Bytes::from(crate::revocation::ocsp::error_response(
            x509_ocsp::OcspResponse::malformed_request(),
        )),
        times: None,
    })
}

/// `POST /ocsp`: the DER request is the body.
pub async fn post(State(state): State<AppState>, body: Body) -> Response {
    match axum::body::to_bytes(body, MAX_REQUEST).await {
        Ok(der) => ocsp_response(state.revocation.answer(&der).await),
        Err(_) => {
            // The rest of an oversized body is not read: close the
            // connection rather than leave it unusable for the next request.
            let mut response = malformed();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// `GET /ocsp/{base64 request}` (RFC 6960 appendix A.1; the path may hold
/// `/` from the base64 alphabet, and is percent-decoded first).
pub async fn get(State(state): State<AppState>, Path(encoded): Path<String>) -> Response {
    if encoded.len() > MAX_REQUEST {
        return malformed();
    }
    let engine = base64::engine::general_purpose::STANDARD;
    // Some clients leave the padding off; both spellings are accepted.
    let decoded = engine.decode(encoded.as_bytes()).or_else(|_| {
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded.trim_end_matches('='))
    });
    match decoded {
        Ok(der) => ocsp_response(state.revocation.answer(&der).await),
        Err(_) => malformed(),
    }
}

/// `GET /crl/{issuer_id}.crl`: the issuer's current full CRL, DER.
pub async fn crl(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, Problem> {
    let not_found = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "crl.unknown",
            format!(
                "no CRL named {file:?}; this CA publishes /crl/{}.crl",
                state.revocation.issuer_id()
            ),
        )
    };
    let Some(id) = file.strip_suffix(".crl") else {
        return Err(not_found());
    };
    if id != state.revocation.issuer_id() {
        return Err(not_found());
    }
    let crl = state.revocation.crl().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "crl.not_ready",
            "the first CRL is being built",
        )
    })?;
    let mut response = (StatusCode::OK, crl.der.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-crl"),
    );
    // A CRL changes within seconds of a revocation: caches must ask again.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(v) = http_date(crl.this_update) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"crl-{}\"", crl.number)) {
        headers.insert(header::ETAG, v);
    }
    Ok(response)
}
