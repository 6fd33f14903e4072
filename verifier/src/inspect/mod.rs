//! The inspection: every check on one robot certificate, in a fixed order,
//! each reported on its own.
//!
//! An [`Inspector`] is prepared once from the trust anchors, intermediates,
//! CRLs, policy and time, then inspects any number of certificates (the
//! command line's single-certificate and `--dir` modes use the same code).
//!
//! # What is cached, and why it is safe
//!
//! The first robot certificate whose path validates (rustls-webpki, full
//! path building from the anchors given) proves its issuing CA valid, for
//! the robot-identity key purpose, at the inspector's fixed time. That CA is
//! then remembered as if it were a trust anchor, and later certificates
//! naming it as issuer are validated by webpki against it alone: webpki
//! still parses each robot certificate strictly, checks its validity, key
//! purpose, basic constraints and its signature by that CA's key, so every
//! robot certificate costs exactly one signature check. What is skipped is
//! re-checking the CA certificate's own signature, validity and key purpose,
//! which depend only on the CA certificate, the anchors and the time — all
//! fixed for the inspector's life. A CA is cached only when its validated
//! path is anchor → CA → robot and neither carries name constraints (a
//! cached anchor would otherwise drop the constraints of the CA above it).
//! If the cached CA does not validate a certificate, full path building runs
//! and its result is reported, so the cache can make a verdict faster but
//! never different. CRL signatures are likewise checked once per (CRL,
//! issuer key); see [`crate::crl`].

mod certificate;
mod chain;
mod checks;
mod issuer_cache;

pub use issuer_cache::{CacheError, IssuerCache};

use certificate::Certificate;
use chain::Issuer;
use checks::{profile_checks, summary};

use std::sync::{Arc, RwLock};

use rustls_pki_types::TrustAnchor;
use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::challenge::{self, Challenge, Response};
use crate::components;
use crate::crl::{self, Crl, IssuerFacts, LeafFacts, Revocation};
use crate::identity::KeyComponent;
use crate::oid;
use crate::policy::{self, Policy, PolicySubject};
use crate::report::{Check, Report, Status, rfc3339};

/// Why an inspector cannot be prepared or a file is not a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// A trust anchor cannot be used.
    #[error("trust anchor {index}: {reason}")]
    Anchor {
        /// Its position among the anchors given.
        index: usize,
        /// webpki's reason.
        reason: String,
    },
    /// No trust anchor was given.
    #[error("no trust anchor given")]
    NoAnchor,
    /// The bytes are not an X.509 certificate.
    #[error("not an X.509 certificate: {0}")]
    NotACertificate(String),
}

/// Everything an inspection is judged by, fixed for the inspector's life.
pub struct InspectorConfig {
    /// Trust anchors (DER).
    pub anchors: Vec<CertificateDer<'static>>,
    /// Intermediate CA certificates to build paths through (DER).
    pub intermediates: Vec<CertificateDer<'static>>,
    /// CRLs to check revocation against.
    pub crls: Vec<Crl>,
    /// The market-entry policy, if any.
    pub policy: Option<Policy>,
    /// The time certificates and CRLs are judged at, seconds since the Unix epoch.
    pub at: i64,
}

/// Evidence the inspector gathered at one robot.
#[derive(Default)]
pub struct RobotEvidence<'a> {
    /// Components measured in the robot.
    pub components: Option<&'a [KeyComponent]>,
    /// A challenge kept by the inspector and the robot's response.
    pub possession: Option<Possession<'a>>,
}

/// A challenge, its response, and the time the response is checked at.
pub struct Possession<'a> {
    /// The challenge the inspector kept.
    pub challenge: &'a Challenge,
    /// The robot's response.
    pub response: &'a Response,
    /// Now, seconds since the Unix epoch (the challenge's age is measured
    /// against the clock, not against `--at`).
    pub now: i64,
}

/// Prepared trust, revocation and policy, ready to inspect certificates.
pub struct Inspector {
    anchors_der: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
    anchor_names: Vec<String>,
    intermediates: Vec<CertificateDer<'static>>,
    revocation: Revocation,
    policy: Option<Policy>,
    at: i64,
    /// `at` in RFC 3339, written once: every report carries it.
    at_text: String,
    use_cache: bool,
    issuers: RwLock<Vec<Arc<Issuer>>>,
    /// Proved issuing CAs kept across processes, if asked for.
    persistent: Option<IssuerCache>,
}

static ROBOT_IDENTITY: const_oid::ObjectIdentifier = oid::ID_KP_ROBOT_IDENTITY;

fn key_usage() -> KeyUsage {
    KeyUsage::required(oid::der_content(&ROBOT_IDENTITY))
}

fn unix(t: i64) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(t).unwrap_or(0),
    ))
}

impl Inspector {
    /// Prepares an inspector; fails only if an anchor is unusable.
    pub fn new(config: InspectorConfig) -> Result<Self, InspectError> {
        if config.anchors.is_empty() {
            return Err(InspectError::NoAnchor);
        }
        let mut anchors = Vec::new();
        let mut anchor_names = Vec::new();
        for (index, der) in config.anchors.iter().enumerate() {
            let anchor = anchor_from_trusted_cert(der).map_err(|e| InspectError::Anchor {
                index,
                reason: format!("{e:?}"),
            })?;
            anchors.push(anchor.to_owned());
            anchor_names.push(match X509Certificate::from_der(der) {
                Ok((_, c)) => c.subject().to_string(),
                Err(_) => format!("anchor {index}"),
            });
        }
        let grace = config.policy.as_ref().map_or(0, |p| p.crl_grace_seconds);
        Ok(Self {
            anchors_der: config.anchors,
            anchors,
            anchor_names,
            intermediates: config.intermediates,
            revocation: Revocation::new(config.crls, config.at, grace),
            policy: config.policy,
            at: config.at,
            at_text: rfc3339(config.at),
            use_cache: true,
            issuers: RwLock::new(Vec::new()),
            persistent: None,
        })
    }

    /// The same inspector with the issuer cache turned off: every path is
    /// built in full. For benchmarks and for tests showing the cache never
    /// changes a verdict.
    pub fn without_issuer_cache(mut self) -> Self {
        self.use_cache = false;
        self
    }

    /// The same inspector, also remembering proved issuing CAs in `cache`
    /// across processes (see [`IssuerCache`]). Like the in-process cache,
    /// it can make a verdict faster but never different.
    pub fn with_persistent_cache(mut self, cache: IssuerCache) -> Self {
        self.persistent = Some(cache);
        self
    }

    /// The time certificates are judged at.
    pub fn at(&self) -> i64 {
        self.at
    }

    /// The policy applied, if any.
    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }

    /// Inspects one certificate (DER). `extra` are intermediates that came
    /// with it (a PEM file holding the robot's certificate and its chain).
    pub fn inspect(
        &self,
        der: &[u8],
        extra: &[CertificateDer<'_>],
        evidence: &RobotEvidence<'_>,
    ) -> Result<Report, InspectError> {
        let cert = Certificate::read(der)?;
        let (not_before, not_after) = (cert.not_before, cert.not_after);
        // Written once for the validity check and the report's header.
        let validity_text = (rfc3339(not_before), rfc3339(not_after));
        let leaf_der = CertificateDer::from(der);
        let ee = EndEntityCert::try_from(&leaf_der);

        let mut checks = Vec::with_capacity(16);
        let (chain_check, issuer) = match &ee {
            Ok(ee) => self.chain(ee, not_before, not_after, extra),
            Err(e) => (
                Check::fail(
                    "chain",
                    "malformed",
                    format!("rustls-webpki refuses to parse the certificate: {e:?}"),
                ),
                None,
            ),
        };
        checks.push(chain_check);
        checks.push(self.validity(not_before, not_after, &validity_text));
        checks.extend(profile_checks(&cert.analysis));
        checks.push(self.revocation(&cert, ee.as_ref().ok(), issuer.as_deref()));
        match &self.policy {
            Some(p) => checks.extend(p.evaluate(&PolicySubject {
                identity: cert.analysis.identity.as_ref(),
                key_algorithm: cert.analysis.key_algorithm,
                certificate_policies: &cert.policies,
                not_before,
                at: self.at,
            })),
            None => checks.push(Check::skip("policy", "no --policy given")),
        }
        checks.push(match (evidence.components, &cert.analysis.identity) {
            (None, _) => Check::skip(components::CHECK, "no --components given"),
            (Some(_), None) => Check::skip(components::CHECK, "no readable RobotIdentity"),
            (Some(measured), Some(id)) => components::compare(&id.components, measured),
        });
        checks.push(self.possession(&cert, evidence.possession.as_ref()));
        self.require_evidence(&mut checks);
        Ok(Report::new(
            self.at_text.clone(),
            self.policy.as_ref().map(|p| p.name.clone()),
            Some(summary(der, &cert, issuer.as_deref(), validity_text)),
            checks,
        ))
    }

    /// `text` is (notBefore, notAfter) in RFC 3339.
    fn validity(&self, not_before: i64, not_after: i64, text: &(String, String)) -> Check {
        const NAME: &str = "validity";
        let at = &self.at_text;
        let (from, until) = text;
        if self.at < not_before {
            Check::fail(
                NAME,
                "not_yet_valid",
                format!("not yet valid: valid from {from}, checked at {at}"),
            )
        } else if self.at > not_after {
            Check::fail(
                NAME,
                "expired",
                format!("expired: valid until {until}, checked at {at}"),
            )
        } else {
            Check::pass(NAME, format!("valid {from} to {until}, checked at {at}"))
        }
    }

    fn revocation(
        &self,
        cert: &Certificate<'_>,
        ee: Option<&EndEntityCert<'_>>,
        issuer: Option<&Issuer>,
    ) -> Check {
        if self.revocation.is_empty() {
            return Check::skip(crl::CHECK, "no CRL given (--crl)");
        }
        let (Some(ee), Some(issuer)) = (ee, issuer) else {
            return Check::skip(
                crl::CHECK,
                "no validated issuer to check a CRL's signature against (see chain)",
            );
        };
        self.revocation.check(
            &LeafFacts {
                issuer: ee.issuer(),
                serial: ee.serial(),
                crl_uris: cert.crl_uris.as_deref(),
            },
            &IssuerFacts {
                spki_der: &issuer.spki_der,
                name: &issuer.name,
                crl_sign: issuer.crl_sign,
            },
        )
    }

    fn possession(&self, cert: &Certificate<'_>, evidence: Option<&Possession<'_>>) -> Check {
        let Some(p) = evidence else {
            return Check::skip(challenge::CHECK, "no --challenge and --response given");
        };
        let Some(alg) = cert.analysis.key_algorithm else {
            return Check::fail(
                challenge::CHECK,
                "key_algorithm",
                "the certificate's key algorithm is not supported",
            );
        };
        let max_age = self
            .policy
            .as_ref()
            .map_or(policy::DEFAULT_CHALLENGE_MAX_AGE_SECONDS, |pol| {
                pol.challenge_max_age_seconds
            });
        challenge::verify(p.challenge, p.response, cert.spki, alg, p.now, max_age)
    }

    /// A policy may demand evidence; its absence then fails, not skips.
    fn require_evidence(&self, checks: &mut [Check]) {
        let Some(policy) = &self.policy else { return };
        let demands = [
            (
                crl::CHECK,
                policy.evidence.crl,
                "a CRL covering the robot (--crl)",
            ),
            (
                challenge::CHECK,
                policy.evidence.possession,
                "a proof of possession (--challenge, --response)",
            ),
            (
                components::CHECK,
                policy.evidence.components,
                "measured components (--components)",
            ),
        ];
        for (name, required, what) in demands {
            if !required {
                continue;
            }
            if let Some(c) = checks
                .iter_mut()
                .find(|c| c.name == name && c.status == Status::Skip)
            {
                *c = Check::fail(
                    name,
                    "evidence_missing",
                    format!("policy {} requires {what}; {}", policy.name, c.reason),
                );
            }
        }
    }
}
