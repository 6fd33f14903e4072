//! Path validation to a trust anchor, by rustls-webpki, for the robot
//! identity key purpose (checked along the whole path).

use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};

use crate::oid;

/// Signature algorithms accepted anywhere on a path: ECDSA with matching
/// digests and Ed25519. RSA is not part of the profile.
pub static SIGNATURE_ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
];

static ROBOT_IDENTITY: const_oid::ObjectIdentifier = oid::ID_KP_ROBOT_IDENTITY;
static MANUFACTURER_ENROLLMENT: const_oid::ObjectIdentifier = oid::ID_KP_MANUFACTURER_ENROLLMENT;

/// The key purpose a path is validated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A robot's identity certificate.
    RobotIdentity,
    /// A manufacturer's enrollment client certificate.
    ManufacturerEnrollment,
}

impl Purpose {
    fn key_usage(self) -> KeyUsage {
        match self {
            Self::RobotIdentity => KeyUsage::required(oid::der_content(&ROBOT_IDENTITY)),
            Self::ManufacturerEnrollment => {
                KeyUsage::required(oid::der_content(&MANUFACTURER_ENROLLMENT))
            }
        }
    }
}

/// Why no valid path was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A trust anchor certificate is unusable.
    #[error("trust anchor {index}: {error}")]
    Anchor {
        /// Position among the anchors given.
        index: usize,
        /// webpki's reason.
        error: webpki::Error,
    },
    /// The end-entity certificate cannot be parsed.
    #[error("certificate cannot be parsed for path validation: {0}")]
    Parse(webpki::Error),
    /// No path to an anchor is valid at the time given.
    #[error("no valid path to a trust anchor: {0}")]
    Path(webpki::Error),
    /// A CA certificate on the path breaks RFC 5280's rules for CAs.
    #[error("{0}")]
    CaProfile(String),
    /// The only paths found end at a trust anchor outside its validity.
    #[error("the trust anchor is outside its validity")]
    AnchorExpired,
}

/// Validates `cert` through `intermediates` to one of `anchors` at `time`
/// (seconds since the Unix epoch) for `purpose`.
pub fn verify_path(
    cert: &[u8],
    intermediates: &[CertificateDer<'_>],
    anchors: &[CertificateDer<'_>],
    time: u64,
    purpose: Purpose,
) -> Result<(), ChainError> {
    let anchors_der = anchors;
    let anchors = anchors
        .iter()
        .enumerate()
        .map(|(index, a)| {
            anchor_from_trusted_cert(a).map_err(|error| ChainError::Anchor { index, error })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let der = CertificateDer::from(cert);
    let ee = EndEntityCert::try_from(&der).map_err(ChainError::Parse)?;
    ee.verify_for_usage(
        SIGNATURE_ALGORITHMS,
        &anchors,
        intermediates,
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(time)),
        purpose.key_usage(),
        None,
        None,
    )
    .map_err(ChainError::Path)
    .and_then(|path| {
        // webpki never looks at an anchor's validity (an anchor is a name
        // and a key to it); an expired root is refused here, as OpenSSL and
        // Go refuse it (x509-limbo `expired-root`).
        let anchor = path.anchor();
        let mut same = anchors_der.iter().filter(|der| {
            anchor_from_trusted_cert(der).is_ok_and(|a| {
                a.subject == anchor.subject
                    && a.subject_public_key_info == anchor.subject_public_key_info
            })
        });
        let expired = same.all(|der| !valid_at(der, time));
        if expired {
            return Err(ChainError::AnchorExpired);
        }
        for ca in path.intermediate_certificates() {
            issuing_ca_conforms(&ca.der()).map_err(ChainError::CaProfile)?;
        }
        Ok(())
    })
}

/// The RFC 5280 rules for a CA certificate below the trust anchor that
/// rustls-webpki leaves unchecked: subject non-empty (4.1.2.6);
/// subjectKeyIdentifier present (4.2.1.2) and authorityKeyIdentifier with a
/// key identifier present (4.2.1.1), both non-critical; basicConstraints,
/// nameConstraints and policyConstraints critical (4.2.1.9, 4.2.1.10,
/// 4.2.1.11); nameConstraints with at least one subtree list (4.2.1.10).
/// x509-limbo expects each refused. The trust anchor is not judged: it is
/// the relying party's choice of a name and a key, checked for its validity
/// only.
pub fn issuing_ca_conforms(der: &[u8]) -> Result<(), String> {
    use x509_parser::extensions::ParsedExtension;
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|e| format!("a CA certificate on the path does not parse: {e}"))?;
    let name = cert.subject().to_string();
    let fail = |rule: &str| Err(format!("CA {name:?}: {rule}"));
    if cert.subject().iter().next().is_none() {
        return fail("the subject is empty (RFC 5280 4.1.2.6)");
    }
    let mut ski = false;
    let mut aki = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(_) => {
                if ext.critical {
                    return fail("subjectKeyIdentifier is critical (RFC 5280 4.2.1.2)");
                }
                ski = true;
            }
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                if ext.critical {
                    return fail("authorityKeyIdentifier is critical (RFC 5280 4.2.1.1)");
                }
                aki = a.key_identifier.is_some();
            }
            ParsedExtension::BasicConstraints(_) if !ext.critical => {
                return fail("basicConstraints is not critical (RFC 5280 4.2.1.9)");
            }
            ParsedExtension::NameConstraints(nc) => {
                if !ext.critical {
                    return fail("nameConstraints is not critical (RFC 5280 4.2.1.10)");
                }
                let empty = |s: &Option<Vec<_>>| s.as_ref().is_none_or(Vec::is_empty);
                if empty(&nc.permitted_subtrees) && empty(&nc.excluded_subtrees) {
                    return fail("nameConstraints has no subtree (RFC 5280 4.2.1.10)");
                }
            }
            ParsedExtension::PolicyConstraints(_) if !ext.critical => {
                return fail("policyConstraints is not critical (RFC 5280 4.2.1.11)");
            }
            ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::ParseError { .. }
                if ext.oid == x509_parser::oid_registry::OID_X509_EXT_NAME_CONSTRAINTS =>
            {
                return fail("nameConstraints is malformed (RFC 5280 4.2.1.10)");
            }
            _ => {}
        }
    }
    if !ski {
        return fail("no subjectKeyIdentifier (RFC 5280 4.2.1.2)");
    }
    if !aki {
        return fail("no authorityKeyIdentifier with a key identifier (RFC 5280 4.2.1.1)");
    }
    Ok(())
}

/// Whether certificate `der` is within its validity at `time` (Unix
/// seconds); an unparsable certificate is not.
fn valid_at(der: &[u8], time: u64) -> bool {
    use x509_parser::prelude::FromDer;
    let Ok(time) = i64::try_from(time) else {
        return false;
    };
    x509_parser::certificate::X509Certificate::from_der(der).is_ok_and(|(_, c)| {
        let v = c.validity();
        (v.not_before.timestamp()..=v.not_after.timestamp()).contains(&time)
    })
}
