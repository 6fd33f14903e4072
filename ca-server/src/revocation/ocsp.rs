//! OCSP messages (RFC 6960, RFC 5019 profile): reading requests and
//! building signed responses, through x509-ocsp's types. Nothing here
//! touches the network or the registry.

use const_oid::ObjectIdentifier;
use der::asn1::{BitString, Null, OctetString};
use der::{Any, DateTime, Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::AsExtension;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::serial_number::SerialNumber;
use x509_ocsp::ext::Nonce;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    ResponderId, ResponseData, RevokedInfo, SingleResponse, Version,
};

use super::responder_key::ResponderKey;
use crate::store::{Reason, Standing};

/// id-sha1, the CertID hash of RFC 5019 clients.
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// id-sha256.
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// ecdsa-with-SHA256.
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Most CertIDs answered in one request. RFC 5019 clients send one.
pub const MAX_REQUESTS: usize = 20;
/// Longest nonce echoed (RFC 8954 allows 1 to 32 octets).
pub const MAX_NONCE: usize = 32;

/// Why an OCSP request cannot be answered with certificate statuses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// Not a DER OCSPRequest, or one this responder refuses (answered
    /// with malformedRequest).
    #[error("malformed OCSP request: {0}")]
    Malformed(String),
    /// None of the CertIDs names this responder's issuer (answered with
    /// unauthorized, RFC 5019 2.2.3).
    #[error("no CertID names this responder's issuer")]
    NotOurIssuer,
}

/// Why a response could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building an OCSP response: {0}")]
pub struct ResponseError(pub String);

/// The issuer's name and key hashes, as CertIDs carry them.
#[derive(Clone, Debug)]
pub struct IssuerHashes {
    sha1: (Vec<u8>, Vec<u8>),
    sha256: (Vec<u8>, Vec<u8>),
    /// The CertID of the presigned responses (SHA-1, NULL parameters, as
    /// OpenSSL and RFC 5019 clients send it), without its serial.
    canonical: AlgorithmIdentifierOwned,
    /// The DER of that CertID's fields before the serial: hash algorithm,
    /// issuer name hash, issuer key hash.
    canonical_prefix: Vec<u8>,
}

impl IssuerHashes {
    /// Hashes of the issuing CA certificate `issuer_der`.
    pub fn of(issuer_der: &[u8]) -> Result<Self, ResponseError> {
        let cert = Certificate::from_der(issuer_der).map_err(|e| ResponseError(e.to_string()))?;
        let name = cert
            .tbs_certificate
            .subject
            .to_der()
            .map_err(|e| ResponseError(e.to_string()))?;
        let key = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let pair = |alg| {
            (
                ring::digest::digest(alg, &name).as_ref().to_vec(),
                ring::digest::digest(alg, key).as_ref().to_vec(),
            )
        };
        Self::from_hashes(
            pair(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
            pair(&ring::digest::SHA256),
        )
    }

    /// From the SHA-1 and SHA-256 (name, key) hashes.
    fn from_hashes(
        sha1: (Vec<u8>, Vec<u8>),
        sha256: (Vec<u8>, Vec<u8>),
    ) -> Result<Self, ResponseError> {
        let fail = |e: der::Error| ResponseError(e.to_string());
        let canonical = AlgorithmIdentifierOwned {
            oid: SHA1,
            parameters: Some(Any::from(Null)),
        };
        let mut canonical_prefix = canonical.to_der().map_err(fail)?;
        for hash in [&sha1.0, &sha1.1] {
            canonical_prefix.extend(
                OctetString::new(hash.as_slice())
                    .and_then(|o| o.to_der())
                    .map_err(fail)?,
            );
        }
        Ok(Self {
            sha1,
            sha256,
            canonical,
            canonical_prefix,
        })
    }

    /// The serial asked about when `request` is, byte for byte, the usual
    /// RFC 5019 request for a presigned response: an unsigned DER
    /// OCSPRequest with one canonical CertID of this issuer, no nonce and
    /// no extension (what `openssl ocsp -no_nonce` sends). `None` for any
    /// other request, which [`read_request`] then reads in full.
    ///
    /// Whatever this accepts, [`read_request`] reads as one CertID for
    /// which [`IssuerHashes::is_canonical`] holds, with the same serial and
    /// no nonce: every length is checked to fit exactly (short form, as DER
    /// requires below 128 octets) and the serial is a minimal INTEGER of at
    /// most 21 octets, as x509-cert decodes it.
    pub fn canonical_serial<'a>(&self, request: &'a [u8]) -> Option<&'a [u8]> {
        // OCSPRequest, TBSRequest, requestList, Request, CertID: each the
        // only field of the one around it.
        let mut rest = request;
        for _ in 0..5 {
            rest = match rest {
                [0x30, len, body @ ..] if *len < 0x80 && usize::from(*len) == body.len() => body,
                _ => return None,
            };
        }
        let serial = match rest.strip_prefix(self.canonical_prefix.as_slice())? {
            [0x02, len, serial @ ..] if *len < 0x80 && usize::from(*len) == serial.len() => serial,
            _ => return None,
        };
        let minimal = match serial {
            [] => false,
            [0x00, next, ..] => *next >= 0x80,
            [0xff, next, ..] => *next < 0x80,
            _ => true,
        };
        (minimal && serial.len() <= 21).then_some(serial)
    }

    /// Whether `id` names this issuer (by SHA-1 or SHA-256 hashes).
    pub fn matches(&self, id: &CertId) -> bool {
        let (name, key) = match id.hash_algorithm.oid {
            SHA1 => &self.sha1,
            SHA256 => &self.sha256,
            _ => return false,
        };
        id.issuer_name_hash.as_bytes() == name.as_slice()
            && id.issuer_key_hash.as_bytes() == key.as_slice()
    }

    /// Whether `id` is exactly the CertID a presigned response carries, so
    /// that response answers it byte for byte.
    pub fn is_canonical(&self, id: &CertId) -> bool {
        id.hash_algorithm == self.canonical && self.matches(id)
    }

    /// The canonical CertID of `serial`.
    pub fn canonical_id(&self, serial: &[u8]) -> Result<CertId, ResponseError> {
        let octets = |b: &[u8]| OctetString::new(b).map_err(|e| ResponseError(e.to_string()));
        Ok(CertId {
            hash_algorithm: self.canonical.clone(),
            issuer_name_hash: octets(&self.sha1.0)?,
            issuer_key_hash: octets(&self.sha1.1)?,
            serial_number: SerialNumber::new(serial).map_err(|e| ResponseError(e.to_string()))?,
        })
    }
}

/// A request, read.
#[derive(Debug)]
pub struct Request {
    /// The CertIDs asked about, at least one.
    pub ids: Vec<CertId>,
    /// The client's nonce, if it sent one.
    pub nonce: Option<Nonce>,
}

/// Reads a DER OCSPRequest. Signed requests are accepted and their
/// signature ignored (RFC 5019 responders need not check it).
pub fn read_request(der: &[u8]) -> Result<Request, RequestError> {
    let request = OcspRequest::from_der(der).map_err(|e| RequestError::Malformed(e.to_string()))?;
    let tbs = request.tbs_request;
    if tbs.request_list.is_empty() {
        return Err(RequestError::Malformed("the request list is empty".into()));
    }
    if tbs.request_list.len() > MAX_REQUESTS {
        return Err(RequestError::Malformed(format!(
            "{} CertIDs in one request; at most {MAX_REQUESTS}",
            tbs.request_list.len()
        )));
    }
    let nonce = tbs.nonce();
    if let Some(n) = &nonce
        && (n.0.as_bytes().is_empty() || n.0.as_bytes().len() > MAX_NONCE)
    {
        return Err(RequestError::Malformed(format!(
            "a nonce of {} octets; 1 to {MAX_NONCE} are accepted (RFC 8954)",
            n.0.as_bytes().len()
        )));
    }
    Ok(Request {
        ids: tbs.request_list.into_iter().map(|r| r.req_cert).collect(),
        nonce,
    })
}

/// The serial a CertID asks about, as lower-case hex without leading zeros.
pub fn serial_hex(id: &CertId) -> String {
    let bytes = id.serial_number.as_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    hex::encode(&bytes[first..])
}

/// [`serial_hex`] of a serial this CA could have issued: positive and at
/// most 20 octets (RFC 5280 4.1.2.2). Zero, a negative serial (whose hex
/// would otherwise read as a positive one's) and an overlong one are
/// `None`: answered "unknown" without asking the registry.
pub fn issuable_serial_hex(id: &CertId) -> Option<String> {
    let bytes = id.serial_number.as_bytes();
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let hex = serial_hex(id);
    (!negative && !hex.is_empty() && hex.len() <= 40).then_some(hex)
}

/// [`serial_hex`] of the serial's INTEGER content `bytes` (at most 21
/// octets), written into `buf` without allocating.
pub fn serial_hex_in<'b>(bytes: &[u8], buf: &'b mut [u8; 42]) -> Option<&'b str> {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let bytes = &bytes[first..];
    let out = buf.get_mut(..bytes.len() * 2)?;
    hex::encode_to_slice(bytes, out).ok()?;
    std::str::from_utf8(out).ok()
}

/// What one CertID is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A certificate this CA signed, with its standing.
    Known(Standing),
    /// Not a certificate this CA signed (RFC 6960 2.2 "unknown").
    Unknown,
}

fn time(unix: i64) -> Result<OcspGeneralizedTime, ResponseError> {
    let secs =
        u64::try_from(unix).map_err(|_| ResponseError(format!("time {unix} before 1970")))?;
    DateTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .map(OcspGeneralizedTime::from)
        .map_err(|e| ResponseError(e.to_string()))
}

fn crl_reason(reason: Reason) -> Option<CrlReason> {
    match reason {
        // CA/Browser Forum BR 7.3: unspecified is said by leaving the code out.
        Reason::Unspecified => None,
        Reason::KeyCompromise => Some(CrlReason::KeyCompromise),
        Reason::AffiliationChanged => Some(CrlReason::AffiliationChanged),
        Reason::Superseded => Some(CrlReason::Superseded),
        Reason::CessationOfOperation => Some(CrlReason::CessationOfOperation),
        Reason::CertificateHold => Some(CrlReason::CertificateHold),
        Reason::PrivilegeWithdrawn => Some(CrlReason::PrivilegeWithdrawn),
    }
}

/// One SingleResponse.
pub fn single(
    id: CertId,
    status: Status,
    this_update: i64,
    next_update: i64,
) -> Result<SingleResponse, ResponseError> {
    let revoked = |at, reason| -> Result<CertStatus, ResponseError> {
        Ok(CertStatus::revoked(RevokedInfo {
            revocation_time: time(at)?,
            revocation_reason: reason,
        }))
    };
    let cert_status = match status {
        Status::Unknown => CertStatus::unknown(),
        Status::Known(Standing::Good) => CertStatus::good(),
        Status::Known(Standing::Revoked { reason, at }) => revoked(at, crl_reason(reason))?,
        Status::Known(Standing::Held { at }) => revoked(at, Some(CrlReason::CertificateHold))?,
    };
    Ok(SingleResponse {
        cert_id: id,
        cert_status,
        this_update: time(this_update)?,
        next_update: Some(time(next_update)?),
        single_extensions: None,
    })
}

/// A successful OCSPResponse with `responses`, signed by `key` at
/// `produced_at`, echoing `nonce`; DER.
pub fn signed_response(
    key: &ResponderKey,
    responses: Vec<SingleResponse>,
    nonce: Option<&Nonce>,
    produced_at: i64,
) -> Result<Vec<u8>, ResponseError> {
    let fail = |e: der::Error| ResponseError(e.to_string());
    let response_extensions = match nonce {
        Some(n) => Some(vec![
            n.to_extension(&key.cert.tbs_certificate.subject, &[])
                .map_err(fail)?,
        ]),
        None => None,
    };
    let tbs = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(key.key_hash).map_err(fail)?),
        produced_at: time(produced_at)?,
        responses,
        response_extensions,
    };
    let signature = key
        .sign(&tbs.to_der().map_err(fail)?)
        .map_err(|e| ResponseError(e.to_string()))?;
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(&signature).map_err(fail)?,
        certs: Some(vec![key.cert.clone()]),
    };
    OcspResponse::successful(basic)
        .and_then(|r| r.to_der())
        .map_err(fail)
}

/// The DER of an unsigned error response (malformedRequest, unauthorized,
/// tryLater, internalError).
pub fn error_response(response: OcspResponse) -> Vec<u8> {
    // An error response is two fixed bytes of content; encoding it cannot
    // fail, but if it did an empty body is still not an HTML page.
    response.to_der().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x00",
            b"\x30\x03\x30\x01\x00",
            b"hello",
        ] {
            assert!(matches!(
                read_request(input),
                Err(RequestError::Malformed(_))
            ));
        }
    }

    #[test]
    fn error_responses_are_the_two_byte_statuses() {
        assert_eq!(
            error_response(OcspResponse::malformed_request()),
            b"\x30\x03\x0a\x01\x01"
        );
        assert_eq!(
            error_response(OcspResponse::unauthorized()),
            b"\x30\x03\x0a\x01\x06"
        );
    }

    #[test]
    fn serials_are_hex_without_leading_zeros() {
        let hashes =
            IssuerHashes::from_hashes((vec![1; 20], vec![2; 20]), (vec![3; 32], vec![4; 32]))
                .unwrap_or_else(|_| unreachable!());
        let id = hashes.canonical_id(&[0x7f, 0x01]).map_err(|e| e.0);
        assert_eq!(id.as_ref().map(serial_hex), Ok("7f01".to_owned()));
        assert!(id.as_ref().is_ok_and(|id| hashes.is_canonical(id)));
        let mut other = id.clone();
        if let Ok(o) = other.as_mut() {
            o.issuer_key_hash = OctetString::new(vec![9u8; 20]).unwrap_or_else(|_| unreachable!());
        }
        assert!(other.is_ok_and(|id| !hashes.matches(&id)));
    }

    /// Serial 0 (whose hex was empty, which the registry refused: the
    /// responder answered internalError and logged an ERROR), negative and
    /// overlong serials are not looked up; they are answered "unknown".
    #[test]
    fn only_issuable_serials_are_looked_up() {
        let hashes =
            IssuerHashes::from_hashes((vec![1; 20], vec![2; 20]), (vec![3; 32], vec![4; 32]))
                .unwrap_or_else(|_| unreachable!());
        let hex = |serial: &[u8]| {
            let id = hashes.canonical_id(serial).map_err(|e| e.0);
            id.map(|id| issuable_serial_hex(&id))
        };
        assert_eq!(hex(&[0x00]), Ok(None));
        assert_eq!(hex(&[0x01]), Ok(Some("01".to_owned())));
        assert_eq!(hex(&[0x00, 0xff]), Ok(Some("ff".to_owned())));
        assert_eq!(hex(&[0x7f; 20]), Ok(Some("7f".repeat(20))));
        // A negative serial as a request carries it (canonical_id makes
        // every serial positive).
        let mut negative = hashes.canonical_id(&[0x01]).map_err(|e| e.0);
        if let (Ok(id), Ok(serial)) = (
            negative.as_mut(),
            <SerialNumber as der::Decode>::from_der(&[0x02, 0x01, 0xff]),
        ) {
            id.serial_number = serial;
        }
        assert_eq!(negative.map(|id| issuable_serial_hex(&id)), Ok(None));
        if let Ok(long) = hex(&[0x7f; 21]) {
            assert_eq!(long, None);
        }
    }

    fn request(ids: Vec<CertId>, nonce: Option<&[u8]>) -> Vec<u8> {
        use x509_ocsp::{Request, TbsRequest};
        let request_extensions = nonce.map(|n| {
            let name = x509_cert::name::Name::default();
            vec![
                Nonce::new(n)
                    .and_then(|n| n.to_extension(&name, &[]))
                    .unwrap_or_else(|_| unreachable!()),
            ]
        });
        OcspRequest {
            tbs_request: TbsRequest {
                version: Version::V1,
                requestor_name: None,
                request_list: ids
                    .into_iter()
                    .map(|req_cert| Request {
                        req_cert,
                        single_request_extensions: None,
                    })
                    .collect(),
                request_extensions,
            },
            optional_signature: None,
        }
        .to_der()
        .unwrap_or_else(|_| unreachable!())
    }

    /// What the full reading makes of `der`, as the fast path should see
    /// it: the hex serial of a lone canonical CertID without a nonce.
    fn by_full_reading(hashes: &IssuerHashes, der: &[u8]) -> Option<String> {
        let r = read_request(der).ok()?;
        match (r.ids.as_slice(), r.nonce) {
            ([id], None) if hashes.is_canonical(id) => Some(serial_hex(id)),
            _ => None,
        }
    }

    fn by_fast_path(hashes: &IssuerHashes, der: &[u8]) -> Option<String> {
        let mut buf = [0u8; 42];
        hashes
            .canonical_serial(der)
            .and_then(|s| serial_hex_in(s, &mut buf).map(str::to_owned))
    }

    #[test]
    fn the_fast_path_reads_requests_exactly_as_the_full_reading() {
        let hashes =
            IssuerHashes::from_hashes((vec![1; 20], vec![2; 20]), (vec![3; 32], vec![4; 32]))
                .unwrap_or_else(|_| unreachable!());
        let id = |serial: &[u8]| {
            hashes
                .canonical_id(serial)
                .unwrap_or_else(|_| unreachable!())
        };
        let mut sha256 = id(&[0x42]);
        sha256.hash_algorithm.oid = SHA256;
        sha256.issuer_name_hash =
            OctetString::new(vec![3u8; 32]).unwrap_or_else(|_| unreachable!());
        sha256.issuer_key_hash = OctetString::new(vec![4u8; 32]).unwrap_or_else(|_| unreachable!());
        let mut no_params = id(&[0x42]);
        no_params.hash_algorithm.parameters = None;
        let mut inputs = vec![
            request(vec![id(&[0x42])], None),
            request(vec![id(&[0x7f; 16])], None),
            request(vec![id(&[0x80, 1, 2])], None),
            request(vec![id(&[0xff; 19])], None),
            request(vec![id(&[0x00])], None),
            request(vec![id(&[0x42])], Some(b"0123456789abcdef")),
            request(vec![id(&[0x42]), id(&[0x43])], None),
            request(vec![sha256], None),
            request(vec![no_params], None),
        ];
        let expected = [Some("42"), Some(&"7f".repeat(16)[..]), Some("800102")];
        for (input, want) in inputs.iter().zip(expected) {
            assert_eq!(by_fast_path(&hashes, input).as_deref(), want);
        }
        assert!(
            inputs[5..]
                .iter()
                .all(|i| by_fast_path(&hashes, i).is_none())
        );
        // Every single-byte change, truncation and extension of these
        // requests: whatever the fast path accepts, the full reading reads
        // the same way.
        let seeds = inputs.clone();
        for seed in &seeds {
            for i in 0..seed.len() {
                for v in [0x00, 0x01, 0x02, 0x30, 0x7f, 0x80, 0x81, 0xff] {
                    let mut m = seed.clone();
                    m[i] = v;
                    inputs.push(m);
                }
                inputs.push(seed[..i].to_vec());
            }
            let mut longer = seed.clone();
            longer.push(0);
            inputs.push(longer);
        }
        let mut accepted = 0;
        for input in &inputs {
            if let Some(fast) = by_fast_path(&hashes, input) {
                accepted += 1;
                assert_eq!(by_full_reading(&hashes, input), Some(fast), "{input:02x?}");
            }
        }
        assert!(accepted >= 4);
    }
}
