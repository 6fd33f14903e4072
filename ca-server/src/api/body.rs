//! Request bodies: a size limit answered with 413, content types answered
//! with 415, and JSON that refuses unknown fields with the field's name.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use robotid_verifier::rule::Rule;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// Whether the client declared a body longer than `limit` and waits for
/// `100 Continue` before sending it. Such a request is refused before the
/// body is read, so the client is told at once and sends nothing (hyper
/// answers 100 only when the body is first read). A client that sends its
/// body straight away is answered after `limit` bytes, as before: refusing
/// it earlier would break its pipe mid-write before it read the answer.
pub fn waits_to_send_too_much(headers: &HeaderMap, limit: usize) -> bool {
    let expects = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    let declared: Option<u64> = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    expects && declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        Rule::RequestSize,
        format!("request body exceeds {limit} bytes"),
    )
}

/// Reads the whole body, refusing more than `limit` bytes with 413 (see
/// [`waits_to_send_too_much`] for a body declared larger).
pub async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Problem> {
    if waits_to_send_too_much(headers, limit) {
        return Err(too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            too_large(limit)
        } else {
            Problem::bad_request(
                Rule::RequestBody,
                format!("request body could not be read: {inner}"),
            )
        }
    })
}

/// The request's media type without parameters, lower case.
pub fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// 415 unless the media type is one of `allowed`.
pub fn require_media_type(headers: &HeaderMap, allowed: &[&str]) -> Result<(), Problem> {
    let found = media_type(headers);
    if allowed.contains(&found.as_str()) {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rule::RequestContentType,
            format!(
                "Content-Type {found:?} is not accepted here; use {}",
                allowed.join(" or ")
            ),
        )
        .at("Content-Type", found))
    }
}

/// Parses a JSON body (Content-Type application/json) into `T`, whose
/// fields are `deny_unknown_fields`.
pub async fn json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, Problem> {
    require_media_type(headers, &["application/json"])?;
    let bytes = read(headers, body, limit).await?;
    let mut reader = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let path = e.path().to_string();
        let e = e.into_inner();
        let problem = Problem::bad_request(
            Rule::RequestJson,
            format!("the JSON body is not valid for this endpoint: {e}"),
        );
        // `.` is the whole body: no one field to name.
        if path == "." {
            problem
        } else {
            problem.at(path, "")
        }
    })
}
