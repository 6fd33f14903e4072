//! Lints run on the precertificate before the real signature: the
//! verifier's own profile rules, plus what only the issuer can check (that
//! the certificate says exactly what was vetted, and fits under the issuer).

use robotid_verifier::profile::{self, Violation};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::vetting::VettedRequest;

fn violation(rule: &'static str, detail: String) -> Violation {
    Violation { rule, detail }
}

/// Every broken rule of `precert` (empty when it may be signed).
pub fn lint(
    precert: &[u8],
    issuer: &X509Certificate<'_>,
    vetted: &VettedRequest,
) -> Vec<Violation> {
    let robot = match profile::check_robot_certificate(precert) {
        Ok(robot) => robot,
        Err(e) => return e.0,
    };
    let mut out = Vec::new();
    if &robot.identity != vetted.identity() {
        out.push(violation(
            "issuer.identity_as_vetted",
            "the certificate's RobotIdentity differs from the vetted one".into(),
        ));
    }
    if robot.spki_der != vetted.spki_der() {
        out.push(violation(
            "issuer.key_as_vetted",
            "the certificate's public key differs from the requester's".into(),
        ));
    }
    let Ok((_, cert)) = X509Certificate::from_der(precert) else {
        return out;
    };
    if cert.issuer().as_raw() != issuer.subject().as_raw() {
        out.push(violation(
            "issuer.name",
            format!(
                "issuer {} is not the issuing CA's subject {}",
                cert.issuer(),
                issuer.subject()
            ),
        ));
    }
    let issuer_validity = issuer.validity();
    if cert.validity().not_after > issuer_validity.not_after
        || cert.validity().not_before < issuer_validity.not_before
    {
        out.push(violation(
            "issuer.validity",
            format!(
                "validity {}..{} is outside the issuing CA's {}..{}",
                cert.validity().not_before,
                cert.validity().not_after,
                issuer_validity.not_before,
                issuer_validity.not_after
            ),
        ));
    }
    let ski = issuer
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
            _ => None,
        });
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0)
            }
            _ => None,
        });
    if ski.is_none() || ski != aki {
        out.push(violation(
            "issuer.key_identifier",
            "authorityKeyIdentifier does not match the issuing CA's subjectKeyIdentifier".into(),
        ));
    }
    out
}
