//! The OCSP responder (RFC 6960 over HTTP, RFC 5019: POST, and GET with
//! the base64 request in the path). Every answer to an OCSP request is an
//! OCSP response, never an HTML or JSON error page.

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::AppState;
use crate::revocation::ocsp_cache::OcspAnswer;

/// Largest OCSP request accepted (RFC 5019 requests are about 100 bytes).
const MAX_REQUEST: usize = 16 * 1024;

const OCSP_RESPONSE: HeaderValue = HeaderValue::from_static("application/ocsp-response");

/// The HTTP date (IMF-fixdate) of `unix`, as a header value.
pub(super) fn http_date(unix: i64) -> Option<HeaderValue> {
    if let Some(date) = imf_fixdate(unix) {
        return HeaderValue::from_bytes(&date).ok();
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let text = time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()?
        .format(&format)
        .ok()?;
    HeaderValue::from_str(&text).ok()
}

/// The HTTP date (IMF-fixdate, RFC 9110 5.6.7) of `unix` for the years
/// 1970 to 9999, without the time crate's general formatter: the OCSP
/// responder writes two per response. Days to civil dates as in Howard
/// Hinnant's `civil_from_days`.
fn imf_fixdate(unix: i64) -> Option<[u8; 29]> {
    const WEEKDAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let unix = u64::try_from(unix).ok().filter(|u| *u < 253_402_300_800)?;
    let (days, secs) = (unix / 86_400, unix % 86_400);
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 2 } else { mp - 10 }; // 0-based
    let year = yoe + era * 400 + u64::from(month < 2);
    let weekday = WEEKDAYS[usize::try_from((days + 4) % 7).ok()?];
    let month = MONTHS[usize::try_from(month).ok()?];
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(weekday);
    out[8..11].copy_from_slice(month);
    let mut digits = |at: usize, width: u32, value: u64| -> Option<()> {
        for i in 0..width {
            let digit = u8::try_from(value / 10u64.pow(width - 1 - i) % 10).ok()?;
            *out.get_mut(at + usize::try_from(i).ok()?)? = b'0' + digit;
        }
        Some(())
    };
    digits(5, 2, day)?;
    digits(12, 4, year)?;
    digits(17, 2, secs / 3600)?;
    digits(20, 2, secs / 60 % 60)?;
    digits(23, 2, secs % 60)?;
    Some(out)
}

/// `max-age=N, public, no-transform, must-revalidate`.
fn cache_control(max_age: i64) -> Option<HeaderValue> {
    use std::io::Write;
    let mut buf = [0u8; 80];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(
        cursor,
        "max-age={max_age}, public, no-transform, must-revalidate"
    )
    .ok()?;
    let len = usize::try_from(cursor.position()).ok()?;
    HeaderValue::from_bytes(buf.get(..len)?).ok()
}

fn ocsp_response(answer: OcspAnswer) -> Response {
    let mut response = (StatusCode::OK, answer.der).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, OCSP_RESPONSE);
    if let Some((this_update, next_update)) = answer.times {
        // RFC 5019 6.2: caches may keep the response until nextUpdate.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let max_age = (next_update - now).max(0);
        if let Some(v) = cache_control(max_age) {
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
        tag: None,
    })
}

/// `POST /ocsp`: the DER request is the body.
pub async fn post(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    // A body declared too large is refused unread (no `100 Continue`).
    let body = if super::body::waits_to_send_too_much(&headers, MAX_REQUEST) {
        Err(())
    } else {
        axum::body::to_bytes(body, MAX_REQUEST)
            .await
            .map_err(|_| ())
    };
    match body {
        Ok(der) => ocsp_response(state.revocation.ocsp().answer(&der).await),
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
/// `/` from the base64 alphabet, and is percent-decoded first). A signed
/// response carries its entity tag (RFC 5019 6.2); a client that names it,
/// or holds a copy at least as new, gets 304 Not Modified and no body.
pub async fn get(
    State(state): State<AppState>,
    request: axum::http::HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    // A path that is not valid percent-encoding is a malformed OCSP
    // request, answered as such (not with axum's plain-text 400).
    let Ok(Path(encoded)) = path else {
        return malformed();
    };
    if encoded.len() > MAX_REQUEST {
        return malformed();
    }
    let engine = base64::engine::general_purpose::STANDARD;
    // Some clients leave the padding off; both spellings are accepted.
    let decoded = engine.decode(encoded.as_bytes()).or_else(|_| {
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded.trim_end_matches('='))
    });
    let Ok(der) = decoded else {
        return malformed();
    };
    let answer = state.revocation.ocsp().answer(&der).await;
    let (Some(tag), Some((this_update, _))) = (answer.tag, answer.times) else {
        return ocsp_response(answer);
    };
    let tag = format!("\"{}\"", hex::encode(tag));
    let current = super::conditional::not_modified(&request, &tag, Some(this_update));
    let mut response = ocsp_response(answer);
    if let Ok(v) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if current {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        *response.body_mut() = axum::body::Body::empty();
        response.headers_mut().remove(header::CONTENT_TYPE);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_time_crate(unix: i64) -> Option<String> {
        let format = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        time::OffsetDateTime::from_unix_timestamp(unix)
            .ok()?
            .format(&format)
            .ok()
    }

    #[test]
    fn http_dates_are_those_of_the_time_crate() {
        // Every day from 1970 to 2200 at a varying time of day, the last
        // second of 9999, and the edges either side of the fast range.
        let mut times: Vec<i64> = (0..84_000)
            .map(|d: i64| d * 86_400 + (d * 7_919) % 86_400)
            .collect();
        times.extend([0, 86_399, 951_782_400, 253_402_300_799, 253_402_300_800, -1]);
        for unix in times {
            let fast = imf_fixdate(unix).map(|d| String::from_utf8_lossy(&d).into_owned());
            if let Some(fast) = &fast {
                assert_eq!(Some(fast.clone()), by_time_crate(unix), "{unix}");
            }
            let header = http_date(unix).and_then(|v| v.to_str().ok().map(str::to_owned));
            assert_eq!(header, by_time_crate(unix), "{unix}");
        }
        assert!(imf_fixdate(-1).is_none() && imf_fixdate(253_402_300_800).is_none());
        assert_eq!(
            cache_control(259_200).and_then(|v| v.to_str().ok().map(str::to_owned)),
            Some("max-age=259200, public, no-transform, must-revalidate".to_owned())
        );
    }
}
