//! The CRL endpoint: the current full CRL of the issuing CA, as the CRL
//! publisher holds it.

use super::path::PathText;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use robotid_verifier::rule::Rule;

use super::AppState;
use super::ocsp::http_date;
use super::problem::Problem;

/// `GET /crl/{issuer_id}.crl`: the issuer's current full CRL, DER.
pub async fn get(
    State(state): State<AppState>,
    PathText(file): PathText,
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
    if id != state.revocation.crl().issuer_id() {
        return Err(not_found());
    }
    let crl = state.revocation.crl().current().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Rule::CrlNotReady,
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
