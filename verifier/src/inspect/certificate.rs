//! What the inspection reads of one certificate: from the fast reader when
//! the certificate conforms to the profile ([`crate::conforming`]), and
//! otherwise from x509-parser's parse and the full profile analysis, which
//! names every broken rule. Both give the same facts for a conforming
//! certificate (tests/conforming.rs).

use const_oid::ObjectIdentifier;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use super::InspectError;
use crate::conforming;
use crate::crl;
use crate::policy;
use crate::profile::{self, ProfileAnalysis};

pub(super) struct Certificate<'a> {
    /// The profile's findings (none for a conforming certificate).
    pub(super) analysis: ProfileAnalysis,
    /// The serial's content octets.
    pub(super) serial: &'a [u8],
    /// The issuer's Name, DER; formatted only when a report needs it.
    issuer: &'a [u8],
    /// notBefore, seconds since the Unix epoch.
    pub(super) not_before: i64,
    /// notAfter, seconds since the Unix epoch.
    pub(super) not_after: i64,
    /// The whole SubjectPublicKeyInfo, DER.
    pub(super) spki: &'a [u8],
    /// See [`crl::distribution_point_uris`].
    pub(super) crl_uris: Option<Vec<String>>,
    /// The certificate policies asserted.
    pub(super) policies: Vec<ObjectIdentifier>,
    /// The OID of a key algorithm the profile does not accept.
    pub(super) unsupported_key: Option<String>,
}

impl<'a> Certificate<'a> {
    pub(super) fn read(der: &'a [u8]) -> Result<Self, InspectError> {
        if let Some(c) = conforming::read(der) {
            return Ok(Self {
                analysis: ProfileAnalysis {
                    violations: Vec::new(),
                    identity: Some(c.identity),
                    robot_id: Some(c.robot_id),
                    key_algorithm: Some(c.key_algorithm),
                },
                serial: c.serial,
                issuer: c.issuer,
                not_before: c.not_before,
                not_after: c.not_after,
                spki: c.spki,
                crl_uris: Some(c.crl_uris),
                policies: c.policies,
                unsupported_key: None,
            });
        }
        let cert = match X509Certificate::from_der(der) {
            Ok(([], cert)) => cert,
            Ok((rest, _)) => {
                return Err(InspectError::NotACertificate(format!(
                    "{} bytes of trailing data",
                    rest.len()
                )));
            }
            Err(e) => return Err(InspectError::NotACertificate(e.to_string())),
        };
        let analysis = profile::analyse(&cert);
        let unsupported_key = analysis
            .key_algorithm
            .is_none()
            .then(|| cert.public_key().algorithm.algorithm.to_id_string());
        Ok(Self {
            analysis,
            serial: cert.raw_serial(),
            issuer: cert.tbs_certificate.issuer.as_raw(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            spki: cert.tbs_certificate.subject_pki.raw,
            crl_uris: crl::distribution_point_uris(&cert),
            policies: policy::certificate_policies(&cert),
            unsupported_key,
        })
    }

    /// The issuer's distinguished name, as x509-parser writes it.
    pub(super) fn issuer_name(&self) -> String {
        match X509Name::from_der(self.issuer) {
            Ok((_, name)) => name.to_string(),
            Err(_) => String::new(),
        }
    }
}
