//! The checks read off the profile analysis, and the report's header.

use super::certificate::Certificate;
use super::chain::Issuer;
use crate::profile::{self, ProfileAnalysis, Violation};
use crate::report::{CertificateSummary, Check};

/// Splits the profile's findings into the checks an inspector reads.
pub(super) fn profile_checks(analysis: &ProfileAnalysis) -> [Check; 4] {
    let group = |pred: &dyn Fn(&str) -> bool| -> Vec<&Violation> {
        analysis
            .violations
            .iter()
            .filter(|v| pred(v.rule))
            .collect()
    };
    let failed = |name: &'static str, code: &'static str, found: &[&Violation]| {
        let first = found.first().map(|v| v.to_string()).unwrap_or_default();
        let reason = if found.len() > 1 {
            format!("{first} (and {} more)", found.len() - 1)
        } else {
            first
        };
        Check::fail(name, code, reason).with_details(found.iter().map(|v| v.to_string()).collect())
    };
    let identity = group(&|r| r.starts_with("identity."));
    let robot_id = group(&|r| r.starts_with("robot_id."));
    let names = group(&|r| r.starts_with("subject.") || r.starts_with("san."));
    let rest = group(&|r| {
        !(r.starts_with("identity.")
            || r.starts_with("robot_id.")
            || r.starts_with("subject.")
            || r.starts_with("san."))
    });
    let identity_check = match &analysis.identity {
        Some(id) if identity.is_empty() => Check::pass(
            "identity",
            format!(
                "RobotIdentity present and well formed: {} components, {} parameters",
                id.components.len(),
                id.parameters.len()
            ),
        ),
        _ => failed("identity", "identity", &identity),
    };
    let (robot_id_check, names_check) = match &analysis.identity {
        None => (
            Check::skip("robot_id", "no readable RobotIdentity"),
            Check::skip("names", "no readable RobotIdentity"),
        ),
        Some(id) => (
            if robot_id.is_empty() {
                Check::pass(
                    "robot_id",
                    format!(
                        "{}: check character right; manufacturer {} and model {} agree",
                        id.robot_id, id.manufacturer.code, id.model
                    ),
                )
            } else {
                let code = if robot_id
                    .iter()
                    .any(|v| v.detail.contains("check character ("))
                {
                    "check_character"
                } else {
                    "robot_id"
                };
                failed("robot_id", code, &robot_id)
            },
            if names.is_empty() {
                Check::pass(
                    "names",
                    format!(
                        "subject CN and serialNumber, O, C and SAN {} agree with the identity",
                        profile::robot_uri(&id.robot_id)
                    ),
                )
            } else {
                failed("names", "names", &names)
            },
        ),
    };
    let profile_check = if rest.is_empty() {
        Check::pass(
            "profile",
            "key usage, extended key usage, policies, AIA, CRL distribution point, serial and key as the profile requires",
        )
    } else {
        failed("profile", "profile", &rest)
    };
    [identity_check, robot_id_check, names_check, profile_check]
}

/// The report's header. The issuer's name comes from the validated issuer
/// when there is one (the same name, formatted once).
pub(super) fn summary(
    der: &[u8],
    cert: &Certificate<'_>,
    issuer: Option<&Issuer>,
    (not_before, not_after): (String, String),
) -> CertificateSummary {
    let id = cert.analysis.identity.as_ref();
    CertificateSummary {
        robot_id: id.map(|i| i.robot_id.clone()),
        manufacturer: id.map(|i| {
            format!(
                "{} {} ({})",
                i.manufacturer.code, i.manufacturer.name, i.manufacturer.country
            )
        }),
        model: id.map(|i| i.model.clone()),
        serial: hex::encode(cert.serial),
        issuer: issuer.map_or_else(|| cert.issuer_name(), |i| i.name.clone()),
        not_before,
        not_after,
        key_algorithm: cert.analysis.key_algorithm.map_or_else(
            || cert.unsupported_key.clone().unwrap_or_default(),
            |a| a.name().to_owned(),
        ),
        sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, der)),
    }
}
