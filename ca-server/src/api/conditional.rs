//! Conditional GET (RFC 9110 13): a client that already holds the current
//! representation (its entity tag, or a copy at least as new) gets 304 Not
//! Modified and no body. A CRL of a million entries is 46 MB; a relying
//! party that checks it every few minutes should download it only when it
//! changed.

use axum::http::{HeaderMap, header};

/// Whether the request's preconditions say the client's copy is current:
/// `If-None-Match` naming `etag` (or `*`), or, only when the request has no
/// `If-None-Match` (RFC 9110 13.1.3), `If-Modified-Since` at or after
/// `last_modified` (unix seconds).
pub(super) fn not_modified(headers: &HeaderMap, etag: &str, last_modified: Option<i64>) -> bool {
    let mut tags = headers.get_all(header::IF_NONE_MATCH).iter().peekable();
    if tags.peek().is_some() {
        return tags.filter_map(|v| v.to_str().ok()).any(|list| {
            list.split(',').map(str::trim).any(|tag| {
                // Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
                tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag
            })
        });
    }
    let (Some(since), Some(modified)) = (headers.get(header::IF_MODIFIED_SINCE), last_modified)
    else {
        return false;
    };
    let Some(since) = since
        .to_str()
        .ok()
        .and_then(|s| httpdate::parse_http_date(s).ok())
    else {
        // An invalid date is ignored (RFC 9110 13.1.3).
        return false;
    };
    since
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .is_some_and(|since| since >= modified)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn entity_tags_decide_before_dates() {
        let tag = "\"crl-7\"";
        let modified = Some(1_700_000_000);
        assert!(!not_modified(&HeaderMap::new(), tag, modified));
        assert!(not_modified(
            &headers(&[(header::IF_NONE_MATCH, "\"crl-7\"")]),
            tag,
            modified
        ));
        assert!(not_modified(
            &headers(&[(header::IF_NONE_MATCH, "\"crl-6\", W/\"crl-7\"")]),
            tag,
            modified
        ));
        assert!(not_modified(
            &headers(&[(header::IF_NONE_MATCH, "*")]),
            tag,
            modified
        ));
        // An old tag: modified, whatever the date says.
        assert!(!not_modified(
            &headers(&[
                (header::IF_NONE_MATCH, "\"crl-6\""),
                (header::IF_MODIFIED_SINCE, "Sun, 01 Jan 2040 00:00:00 GMT"),
            ]),
            tag,
            modified
        ));
        // 1,700,000,000 is Tue, 14 Nov 2023 22:13:20 GMT.
        assert!(not_modified(
            &headers(&[(header::IF_MODIFIED_SINCE, "Tue, 14 Nov 2023 22:13:20 GMT")]),
            tag,
            modified
        ));
        assert!(!not_modified(
            &headers(&[(header::IF_MODIFIED_SINCE, "Tue, 14 Nov 2023 22:13:19 GMT")]),
            tag,
            modified
        ));
        assert!(!not_modified(
            &headers(&[(header::IF_MODIFIED_SINCE, "yesterday")]),
            tag,
            modified
        ));
    }
}
