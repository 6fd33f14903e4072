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
    out.extend(issued_by(cert, issuer));
    out.extend(names_its_key(cert));
    out
}

/// The end entity's subjectKeyIdentifier: present, non-critical, and the
/// RFC 7093 method 1 identifier of its own key (docs/profile). pkilint
/// warns `certificate_skid_end_entity_missing` without it.
fn names_its_key(cert: &X509Certificate<'_>) -> Option<Violation> {
    let found = cert
        .extensions()
        .iter()
        .find(|e| e.oid == profile::x509_oid(&robotid_verifier::oid::ID_CE_SUBJECT_KEY_IDENTIFIER));
    let wanted = crate::extensions::key_identifier(cert.public_key().raw).ok();
    let ok = found.is_some_and(|e| {
        !e.critical
            && matches!(e.parsed_extension(), ParsedExtension::SubjectKeyIdentifier(k)
                if Some(k.0) == wanted.as_deref())
    });
    (!ok).then(|| {
        violation(
            "issuer.subject_key_identifier",
            "subjectKeyIdentifier must be present, non-critical, and the truncated SHA-256 \
             of the subject's key (RFC 7093 method 1)"
                .into(),
        )
    })
}

/// What a certificate the issuer makes for its own services (credentials,
/// the server's TLS certificate, delegated signers) must say, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceProfile {
    /// The kind, for rule details.
    pub kind: &'static str,
    /// The extended key usages, exactly (x509-parser's dotted OIDs).
    pub eku: Vec<String>,
    /// Whether a subjectAltName is required (TLS and client credentials)
    /// or forbidden (delegated signers).
    pub san: bool,
    /// Whether id-pkix-ocsp-nocheck is required (OCSP signer) or forbidden.
    pub ocsp_nocheck: bool,
    /// Longest life, seconds.
    pub max_life: i64,
    /// The subject's public key, DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
}

const OID_EKU_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
const OID_EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
const OID_EKU_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";

impl ServiceProfile {
    /// The EKU OIDs of a parsed extension, dotted, in order.
    fn ekus(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
        let mut out = Vec::new();
        if eku.server_auth {
            out.push(OID_EKU_SERVER_AUTH.to_owned());
        }
        if eku.client_auth {
            out.push(OID_EKU_CLIENT_AUTH.to_owned());
        }
        if eku.ocsp_signing {
            out.push(OID_EKU_OCSP_SIGNING.to_owned());
        }
        if eku.any || eku.code_signing || eku.email_protection || eku.time_stamping {
            out.push("a purpose outside RobotID's".to_owned());
        }
        out.extend(eku.other.iter().map(ToString::to_string));
        out.sort();
        out
    }

    /// The dotted OIDs of server and client authentication, OCSP signing.
    pub fn server_auth() -> String {
        OID_EKU_SERVER_AUTH.to_owned()
    }
    /// See [`ServiceProfile::server_auth`].
    pub fn client_auth() -> String {
        OID_EKU_CLIENT_AUTH.to_owned()
    }
    /// See [`ServiceProfile::server_auth`].
    pub fn ocsp_signing() -> String {
        OID_EKU_OCSP_SIGNING.to_owned()
    }
}

/// Every broken rule of a parsed service certificate (empty when it may be
/// signed or released): an end entity (no cA, key usage digitalSignature
/// only), exactly the profile's key purposes, the requester's key, issued
/// by the issuing CA (name and key identifier), inside its validity and no
/// longer than the profile allows, with a serial of at least 64 random
/// bits, and a subjectKeyIdentifier of its key.
pub fn lint_service(
    cert: &X509Certificate<'_>,
    issuer: &IssuerFacts,
    expected: &ServiceProfile,
) -> Vec<Violation> {
    let kind = expected.kind;
    let mut out = Vec::new();
    let mut broke = |rule: &'static str, detail: String| {
        out.push(violation(rule, format!("{kind}: {detail}")));
    };
    if cert.version() != x509_parser::x509::X509Version::V3 {
        broke("service.version", "not an X.509 v3 certificate".into());
    }
    if cert.raw_serial().len() < profile::MIN_SERIAL_BYTES || cert.raw_serial()[0] & 0x80 != 0 {
        broke(
            "service.serial",
            "the serial must be positive with at least 64 random bits".into(),
        );
    }
    match cert.basic_constraints() {
        Ok(None) => {}
        Ok(Some(bc)) if !bc.value.ca => {}
        _ => broke("service.basic_constraints", "must not be a CA".into()),
    }
    match cert.key_usage() {
        Ok(Some(ku)) if ku.critical && ku.value.flags == 1 => {}
        _ => broke(
            "service.key_usage",
            "key usage must be critical and digitalSignature only".into(),
        ),
    }
    match cert.extended_key_usage() {
        Ok(Some(eku)) => {
            let found = ServiceProfile::ekus(eku.value);
            let mut wanted = expected.eku.clone();
            wanted.sort();
            if found != wanted {
                broke(
                    "service.extended_key_usage",
                    format!("extended key usage {found:?}, expected {wanted:?}"),
                );
            }
        }
        _ => broke(
            "service.extended_key_usage",
            "no extended key usage extension".into(),
        ),
    }
    let san = cert.subject_alternative_name();
    match (&san, expected.san) {
        (Ok(Some(s)), true) if !s.value.general_names.is_empty() => {}
        (Ok(None), false) => {}
        _ => broke(
            "service.subject_alt_name",
            if expected.san {
                "a subjectAltName naming its holder or hosts is required".into()
            } else {
                "no subjectAltName is allowed".into()
            },
        ),
    }
    let nocheck = cert
        .extensions()
        .iter()
        .any(|e| e.oid == profile::x509_oid(&robotid_verifier::oid::ID_PKIX_OCSP_NOCHECK));
    if nocheck != expected.ocsp_nocheck {
        broke(
            "service.ocsp_nocheck",
            format!(
                "id-pkix-ocsp-nocheck is {} and must be {}",
                if nocheck { "present" } else { "absent" },
                if expected.ocsp_nocheck {
                    "present"
                } else {
                    "absent"
                }
            ),
        );
    }
    if cert.public_key().raw != expected.spki_der.as_slice() {
        broke(
            "service.key_as_requested",
            "the certificate's public key is not the requester's".into(),
        );
    }
    if cert.subject().iter_common_name().next().is_none() {
        broke("service.subject", "the subject has no common name".into());
    }
    let validity = cert.validity();
    let (not_before, not_after) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    if not_after <= not_before || not_after - not_before > expected.max_life {
        broke(
            "service.validity",
            format!(
                "life {}..{} is empty or longer than {} seconds",
                not_before, not_after, expected.max_life
            ),
        );
    }
    out.extend(issued_by(cert, issuer));
    out.extend(names_its_key(cert));
    out
}

/// The rules every certificate of the issuer keeps: its issuer name, key
/// identifier and validity are the issuing CA's.
fn issued_by(cert: &X509Certificate<'_>, issuer: &IssuerFacts) -> Vec<Violation> {
    let mut out = Vec::new();
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

/// What a CRL must say: the issuing CA's name and key identifier, the CRL
/// number and times asked for, an issuing distribution point naming the
/// issuer's CRL URL for end-entity certificates only, and every entry.
#[derive(Clone, Debug)]
pub struct CrlProfile {
    /// The CRL number.
    pub number: u64,
    /// thisUpdate, Unix seconds.
    pub this_update: i64,
    /// nextUpdate, Unix seconds.
    pub next_update: i64,
    /// The issuer's CRL URL.
    pub url: String,
    /// How many entries.
    pub entries: usize,
}

/// Every broken rule of a parsed CRL (empty when it may be signed).
pub fn lint_crl(
    crl: &x509_parser::revocation_list::CertificateRevocationList<'_>,
    issuer: &IssuerFacts,
    expected: &CrlProfile,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if crl.version() != Some(x509_parser::x509::X509Version::V2) {
        out.push(violation("crl.version", "not a v2 CRL".into()));
    }
    if crl.issuer().as_raw() != issuer.subject.as_slice() {
        out.push(violation(
            "crl.issuer",
            format!("issuer {} is not the issuing CA's subject", crl.issuer()),
        ));
    }
    let aki = crl
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
            "crl.key_identifier",
            "authorityKeyIdentifier does not match the issuing CA's subjectKeyIdentifier".into(),
        ));
    }
    let number = crl.crl_number().and_then(|n| u64::try_from(n).ok());
    if number != Some(expected.number) {
        out.push(violation(
            "crl.number",
            format!("CRL number {number:?}, expected {}", expected.number),
        ));
    }
    let next = crl.next_update().map(|t| t.timestamp());
    if crl.last_update().timestamp() != expected.this_update
        || next != Some(expected.next_update)
        || expected.next_update <= expected.this_update
    {
        out.push(violation(
            "crl.times",
            format!(
                "thisUpdate {} nextUpdate {next:?}, expected {}..{}",
                crl.last_update().timestamp(),
                expected.this_update,
                expected.next_update
            ),
        ));
    }
    let idp = crl
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::IssuingDistributionPoint(p) => Some((e.critical, p)),
            _ => None,
        });
    let names_url = |p: &x509_parser::extensions::IssuingDistributionPoint<'_>| match &p
        .distribution_point
    {
        Some(x509_parser::extensions::DistributionPointName::FullName(names)) => names.iter().any(
            |n| matches!(n, x509_parser::extensions::GeneralName::URI(u) if *u == expected.url),
        ),
        _ => false,
    };
    match idp {
        Some((true, p)) if p.only_contains_user_certs && names_url(p) => {}
        _ => out.push(violation(
            "crl.issuing_distribution_point",
            format!(
                "a critical issuing distribution point for end-entity certificates at {} is required",
                expected.url
            ),
        )),
    }
    let count = crl.iter_revoked_certificates().count();
    if count != expected.entries {
        out.push(violation(
            "crl.entries",
            format!("{count} entries, expected {}", expected.entries),
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test")]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    /// The issuing CA's own certificate, linted as if it were an OCSP
    /// signer's, breaks each rule that tells a CA from a delegated signer.
    #[test]
    fn a_ca_certificate_fails_the_service_profile_rule_by_rule() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::ceremony::CaConfig {
            name: "Lint".into(),
            public_url: "http://127.0.0.1:8080".into(),
        };
        crate::ceremony::init(&dir.path().join("ca"), &config).unwrap();
        let loaded = crate::ceremony::load(&dir.path().join("ca")).unwrap();
        let (_, root) = X509Certificate::from_der(&loaded.root_der).unwrap();
        let (_, issuing) = X509Certificate::from_der(&loaded.issuing_der).unwrap();
        let profile = ServiceProfile {
            kind: "ocsp_signer",
            eku: vec![ServiceProfile::ocsp_signing()],
            san: false,
            ocsp_nocheck: true,
            max_life: 90 * 86_400,
            spki_der: issuing.public_key().raw.to_vec(),
        };
        let rules: Vec<&str> = lint_service(&issuing, &IssuerFacts::of(&root), &profile)
            .iter()
            .map(|v| v.rule)
            .collect();
        for rule in [
            "service.basic_constraints",
            "service.key_usage",
            "service.extended_key_usage",
            "service.ocsp_nocheck",
            "service.validity",
        ] {
            assert!(rules.contains(&rule), "{rule} not in {rules:?}");
        }
        // Issued under the root, it passes the issuer checks against the
        // root, and fails them against itself.
        assert!(!rules.contains(&"issuer.name"), "{rules:?}");
        let against_itself = lint_service(&issuing, &IssuerFacts::of(&issuing), &profile);
        assert!(against_itself.iter().any(|v| v.rule == "issuer.name"));
    }
}
