//! The one path-parameter extractor of the API: a segment that cannot be
//! read (bad percent-encoding, not UTF-8) is refused with a problem
//! document naming the rule, like every other refusal, not with axum's
//! plain-text 400. (The OCSP GET endpoint answers such a path with an OCSP
//! malformedRequest instead: see `ocsp::get`.)

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use robotid_verifier::rule::Rule;

use super::problem::Problem;

/// A path parameter, as text.
pub struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(text)) => Ok(Self(text)),
            Err(rejection) => Err(Problem::bad_request(
                Rule::RequestPath,
                format!(
                    "the path parameter cannot be read: {}",
                    rejection.body_text()
                ),
            )
            .at(
                "path",
                robotid_verifier::text::terminal_cut(parts.uri.path(), 256),
            )),
        }
    }
}
