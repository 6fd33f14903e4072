//! Problem documents (RFC 9457): every refusal names its rule, and where
//! there is one, the field and the value.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use robotid_verifier::rule::{Kind, Rule};
use robotid_wire::ProblemDocument;
use serde::Serialize;

use crate::ra::Refusal;

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A refusal or error, as returned to the client. Serialized as an RFC 9457
/// document whose `type` is `urn:robotid:problem:<rule>` and whose `title`
/// is the status's reason phrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// The rule, e.g. `parameter.range`.
    pub rule: Rule,
    /// What exactly is wrong, with values.
    pub detail: String,
    /// The request field concerned, if any.
    pub field: Option<String>,
    /// The value found there, if any.
    pub value: Option<String>,
    /// Seconds after which a retry may succeed (429, 503): Retry-After.
    pub retry_after: Option<u64>,
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ProblemDocument {
            kind: ProblemDocument::type_of(self.rule.as_str()),
            title: self
                .status_code()
                .canonical_reason()
                .unwrap_or("Error")
                .to_owned(),
            status: self.status,
            detail: self.detail.clone(),
            rule: self.rule.as_str().to_owned(),
            field: self.field.clone(),
            value: self.value.clone(),
        }
        .serialize(s)
    }
}

impl Problem {
    /// A problem with `status`, `rule` and `detail`.
    pub fn new(status: StatusCode, rule: Rule, detail: impl Into<String>) -> Self {
        Self {
            status: status.as_u16(),
            detail: detail.into(),
            rule,
            field: None,
            value: None,
            retry_after: None,
        }
    }

    /// Says when to retry (the Retry-After header).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Names the field and value concerned.
    pub fn at(mut self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self.value = Some(value.into());
        self
    }

    /// 400 Bad Request.
    pub fn bad_request(rule: Rule, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, rule, detail)
    }

    /// 401: no usable credential.
    pub fn unauthorized(rule: Rule, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, rule, detail)
    }

    /// 403: the credential may not do this.
    pub fn forbidden(rule: Rule, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, rule, detail)
    }

    /// 500, for failures of the CA itself; details go to the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Refusal::internal(detail).into()
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The HTTP status of each kind of refusal: the one place where the CA's
/// refusals meet HTTP.
pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::Malformed => StatusCode::BAD_REQUEST,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::Unacceptable => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::TooMany => StatusCode::TOO_MANY_REQUESTS,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Refusal> for Problem {
    fn from(r: Refusal) -> Self {
        Self {
            status: status_of(r.kind).as_u16(),
            rule: r.rule,
            detail: r.detail,
            field: r.field,
            value: r.value,
            retry_after: r.retry_after,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = header::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the oversized body is never read, so the
            // connection cannot carry another request: tell the client
            // not to reuse it (hyper drops this header on HTTP/2).
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        response
    }
}
