//! The CRL endpoint: the current full CRL of the issuing CA, as the CRL
//! publisher holds it.

use super::path::PathText;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use robotid_verifier::rule::Rule;

use super::AppState;
use super::conditional::not_modified;
use super::ocsp::http_date;
use super::problem::Problem;

/// `GET /crl/{issuer_id}.crl`: the issuer's current full CRL, DER; 304
/// Not Modified, without the CRL, to a client that names it (its entity
/// tag, or a date at least as new).
pub async fn get(
    State(state): State<AppState>,
    PathText(file): PathText,
    request: HeaderMap,
) -> Result<Response, Problem> {
    let not_found = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            Rule::CrlUnknown,
            format!(
                "no CRL named {file:?}; this CA publishes /crl/{}.crl",
                state.revocation.crl().issuer_id()
            ),
        )
    };
    let Some(id) = file.strip_suffix(".crl") else {
        return Err(not_found());
    };
    if id == "root" {
        return arl(&state).await.ok_or_else(not_found);
    }
    if id != state.revocation.crl().issuer_id() {
        return Err(not_found());
    }
    let crl = state.revocation.crl().current().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Rule::CrlNotReady,
            "the first CRL is being built",
        )
        // The publisher tries again every second (after a token absent at
        // start, as soon as it is back).
        .retry_after(crate::ra::SIGNER_RETRY_AFTER)
    })?;
    // Unique per CRL: numbers come from the registry, shared by servers.
    let etag = format!("\"crl-{}\"", crl.number);
    let mut response = if not_modified(&request, &etag, Some(crl.this_update)) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut full = (StatusCode::OK, crl.der.clone()).into_response();
        full.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/pkix-crl"),
        );
        full
    };
    let headers = response.headers_mut();
    // A CRL changes within seconds of a revocation: caches must ask again.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(v) = http_date(crl.this_update) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    Ok(response)
}

/// `GET /crl/root.crl`: the ARL, read from the CA folder at each request
/// (it is small, asked for rarely, and replaced offline by `robotid ca
/// revoke-issuing` without a restart). None when the CA has no ARL (made
/// before there were ARLs).
async fn arl(state: &AppState) -> Option<Response> {
    let der = tokio::fs::read(&state.arl).await.ok()?;
    let mut response = (StatusCode::OK, der).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-crl"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}
