//! Lints run on the precertificate before the real signature: the
//! verifier's own profile rules, plus what only the issuer can check (that
//! the certificate says exactly what was vetted, and fits under the issuer).

use robotid_verifier::profile::{self, Violation};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::X509Certificate;

use crate::vetting::VettedRequest;

fn violation(rule: &'static str, detail: String) -> Violation {
    Violation { rule, detail }
}

/// What the lints need to know of the issuing CA, parsed once.
#[derive(Clone, Debug)]
pub struct IssuerFacts {
    /// Its subject, DER.
    pub subject: Vec<u8>,
    /// Its subjectKeyIdentifier.
    pub key_id: Option<Vec<u8>>,
    /// Its notBefore, Unix seconds.
    pub not_before: i64,
    /// Its notAfter, Unix seconds.
    pub not_after: i64,
}

impl IssuerFacts {
    /// The facts of a parsed issuing CA certificate.
    pub fn of(issuer: &X509Certificate<'_>) -> Self {
        Self {
            subject: issuer.subject().as_raw().to_vec(),
            key_id: issuer
                .extensions()
                .iter()
                .find_map(|e| match e.parsed_extension() {
                    ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                    _ => None,
                }),
            not_before: issuer.validity().not_before.timestamp(),
            not_after: issuer.validity().not_after.timestamp(),
        }
    }
}

/// Every broken rule of the parsed precertificate (empty when it may be
/// signed).
pub fn lint(
    cert: &X509Certificate<'_>,
    issuer: &IssuerFacts,
    vetted: &VettedRequest,
) -> Vec<Violation> {
    let robot = match profile::check_parsed(cert) {
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
    if cert.issuer().as_raw() != issuer.subject.as_slice() {
        out.push(violation(
            "issuer.name",
            format!("issuer {} is not the issuing CA's subject", cert.issuer()),
        ));
    }
    let validity = cert.validity();
    if validity.not_after.timestamp() > issuer.not_after
        || validity.not_before.timestamp() < issuer.not_before
    {
        out.push(violation(
            "issuer.validity",
            format!(
                "validity {}..{} is outside the issuing CA's (Unix {}..{})",
                validity.not_before, validity.not_after, issuer.not_before, issuer.not_after
            ),
        ));
    }
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    if issuer.key_id.is_none() || issuer.key_id != aki {
        out.push(violation(
            "issuer.key_identifier",
            "authorityKeyIdentifier does not match the issuing CA's subjectKeyIdentifier".into(),
        ));
    }
    out
}
