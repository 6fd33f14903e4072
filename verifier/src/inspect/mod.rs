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

use std::sync::{Arc, RwLock};

use rustls_pki_types::TrustAnchor;
use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::chain::SIGNATURE_ALGORITHMS;
use crate::challenge::{self, Challenge, Response};
use crate::components;
use crate::crl::{self, Crl, IssuerFacts, LeafFacts, Revocation};
use crate::identity::KeyComponent;
use crate::oid;
use crate::policy::{self, Policy, PolicySubject};
use crate::profile::{self, ProfileAnalysis, Violation};
use crate::report::{CertificateSummary, Check, Report, Status, rfc3339};

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

/// An issuing CA found on a validated path.
struct Issuer {
    der: CertificateDer<'static>,
    /// Its subject in webpki's form, compared with a robot's issuer.
    subject: Vec<u8>,
    /// Set when the CA may stand in for its path (see the module docs).
    as_anchor: Option<TrustAnchor<'static>>,
    name: String,
    spki_der: Vec<u8>,
    crl_sign: bool,
    /// The chain check's reason, written once.
    reason: String,
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
        })
    }

    /// The same inspector with the issuer cache turned off: every path is
    /// built in full. For benchmarks and for tests showing the cache never
    /// changes a verdict.
    pub fn without_issuer_cache(mut self) -> Self {
        self.use_cache = false;
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
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();
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
        checks.push(self.validity(not_before, not_after));
        checks.extend(profile_checks(&analysis));
        checks.push(self.revocation(&cert, ee.as_ref().ok(), issuer.as_deref()));
        let cert_policies = policy::certificate_policies(&cert);
        match &self.policy {
            Some(p) => checks.extend(p.evaluate(&PolicySubject {
                identity: analysis.identity.as_ref(),
                key_algorithm: analysis.key_algorithm,
                certificate_policies: &cert_policies,
                not_before,
                at: self.at,
            })),
            None => checks.push(Check::skip("policy", "no --policy given")),
        }
        checks.push(match (evidence.components, &analysis.identity) {
            (None, _) => Check::skip(components::CHECK, "no --components given"),
            (Some(_), None) => Check::skip(components::CHECK, "no readable RobotIdentity"),
            (Some(measured), Some(id)) => components::compare(&id.components, measured),
        });
        checks.push(self.possession(&cert, &analysis, evidence.possession.as_ref()));
        self.require_evidence(&mut checks);
        Ok(Report::new(
            self.at_text.clone(),
            self.policy.as_ref().map(|p| p.name.clone()),
            Some(summary(der, &cert, &analysis, issuer.as_deref())),
            checks,
        ))
    }

    fn validity(&self, not_before: i64, not_after: i64) -> Check {
        const NAME: &str = "validity";
        let at = &self.at_text;
        if self.at < not_before {
            Check::fail(
                NAME,
                "not_yet_valid",
                format!(
                    "not yet valid: valid from {}, checked at {at}",
                    rfc3339(not_before)
                ),
            )
        } else if self.at > not_after {
            Check::fail(
                NAME,
                "expired",
                format!(
                    "expired: valid until {}, checked at {at}",
                    rfc3339(not_after)
                ),
            )
        } else {
            Check::pass(
                NAME,
                format!(
                    "valid {} to {}, checked at {at}",
                    rfc3339(not_before),
                    rfc3339(not_after)
                ),
            )
        }
    }

    /// Path validation. A certificate outside its validity is still checked
    /// for a path, at the nearest instant it was valid, so that the report
    /// tells a genuine expired robot from a forged one (the validity check
    /// fails it either way).
    fn chain(
        &self,
        ee: &EndEntityCert<'_>,
        not_before: i64,
        not_after: i64,
        extra: &[CertificateDer<'_>],
    ) -> (Check, Option<Arc<Issuer>>) {
        const NAME: &str = "chain";
        let in_validity = (not_before..=not_after).contains(&self.at);
        let time = self.at.clamp(not_before, not_after.max(not_before));
        if in_validity
            && self.use_cache
            && let Some(issuer) = self.cached_issuer(ee)
        {
            return (Check::pass(NAME, issuer.reason.clone()), Some(issuer));
        }
        let joined: Vec<CertificateDer<'_>>;
        let intermediates: &[CertificateDer<'_>] = if extra.is_empty() {
            &self.intermediates
        } else {
            joined = self.intermediates.iter().chain(extra).cloned().collect();
            &joined
        };
        let path = ee.verify_for_usage(
            SIGNATURE_ALGORITHMS,
            &self.anchors,
            intermediates,
            unix(time),
            key_usage(),
            None,
            None,
        );
        match path {
            Ok(path) => {
                let anchor = path.anchor();
                let anchor_index = self.anchors.iter().position(|a| {
                    a.subject == anchor.subject
                        && a.subject_public_key_info == anchor.subject_public_key_info
                });
                let anchor_name = anchor_index
                    .and_then(|i| self.anchor_names.get(i))
                    .cloned()
                    .unwrap_or_default();
                let mut inters = path.intermediate_certificates();
                let issuer_der = match inters.next() {
                    Some(c) => c.der().into_owned(),
                    None => match anchor_index.and_then(|i| self.anchors_der.get(i)) {
                        Some(d) => d.clone(),
                        None => return (Check::pass(NAME, "path to a trust anchor"), None),
                    },
                };
                // Cacheable: anchor -> CA -> robot, at the inspector's time,
                // and no name constraints anywhere above the robot.
                let cacheable = in_validity
                    && anchor_index.is_some_and(|i| self.anchors_der.get(i) != Some(&issuer_der))
                    && inters.next().is_none()
                    && anchor.name_constraints.is_none();
                let mut issuer = match issuer_facts(issuer_der, &anchor_name) {
                    Some(i) => i,
                    None => return (Check::pass(NAME, "path to a trust anchor"), None),
                };
                if !in_validity {
                    issuer.reason.push_str(&format!(
                        " (checked at {}, the nearest time the certificate was valid)",
                        rfc3339(time)
                    ));
                }
                let issuer = Arc::new(issuer);
                if cacheable
                    && self.use_cache
                    && issuer.as_anchor.is_some()
                    && let Ok(mut cache) = self.issuers.write()
                    && !cache.iter().any(|c| c.der == issuer.der)
                {
                    cache.push(issuer.clone());
                }
                (Check::pass(NAME, issuer.reason.clone()), Some(issuer))
            }
            Err(e) => {
                let (code, reason) = chain_failure(&e);
                (Check::fail(NAME, code, reason), None)
            }
        }
    }

    fn cached_issuer(&self, ee: &EndEntityCert<'_>) -> Option<Arc<Issuer>> {
        let cache = self.issuers.read().ok()?;
        cache
            .iter()
            .filter(|i| i.subject == ee.issuer())
            .find(|i| {
                i.as_anchor.as_ref().is_some_and(|anchor| {
                    ee.verify_for_usage(
                        SIGNATURE_ALGORITHMS,
                        std::slice::from_ref(anchor),
                        &[],
                        unix(self.at),
                        key_usage(),
                        None,
                        None,
                    )
                    .is_ok()
                })
            })
            .cloned()
    }

    fn revocation(
        &self,
        cert: &X509Certificate<'_>,
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
        let uris = crl::distribution_point_uris(cert);
        self.revocation.check(
            &LeafFacts {
                issuer: ee.issuer(),
                serial: ee.serial(),
                crl_uris: uris.as_deref(),
            },
            &IssuerFacts {
                spki_der: &issuer.spki_der,
                name: &issuer.name,
                crl_sign: issuer.crl_sign,
            },
        )
    }

    fn possession(
        &self,
        cert: &X509Certificate<'_>,
        analysis: &ProfileAnalysis,
        evidence: Option<&Possession<'_>>,
    ) -> Check {
        let Some(p) = evidence else {
            return Check::skip(challenge::CHECK, "no --challenge and --response given");
        };
        let Some(alg) = analysis.key_algorithm else {
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
        challenge::verify(
            p.challenge,
            p.response,
            cert.public_key().raw,
            alg,
            p.now,
            max_age,
        )
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

fn issuer_facts(der: CertificateDer<'static>, anchor_name: &str) -> Option<Issuer> {
    let (_, cert) = X509Certificate::from_der(&der).ok()?;
    let subject = {
        let wcert = EndEntityCert::try_from(&der).ok()?;
        wcert.subject().to_vec()
    };
    let crl_sign = match cert.key_usage() {
        Ok(Some(ku)) => ku.value.crl_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    let name = cert.subject().to_string();
    let as_anchor = anchor_from_trusted_cert(&der)
        .ok()
        .filter(|a| a.name_constraints.is_none())
        .map(|a| a.to_owned());
    Some(Issuer {
        reason: format!(
            "path to trust anchor {anchor_name} via {name}, for key purpose robot identity"
        ),
        subject,
        as_anchor,
        spki_der: cert.public_key().raw.to_vec(),
        crl_sign,
        name,
        der,
    })
}

fn chain_failure(e: &webpki::Error) -> (&'static str, String) {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => (
            "unknown_issuer",
            "no path to a trust anchor: the issuer is neither an anchor nor among the intermediates given (wrong anchor, or --chain missing)".into(),
        ),
        E::InvalidSignatureForPublicKey => (
            "bad_signature",
            "a signature on the path does not verify: the certificate was altered, or its issuer's key did not sign it".into(),
        ),
        E::RequiredEkuNotFoundContext(_) => (
            "key_purpose",
            "the robot-identity key purpose is missing from the certificate or a CA above it".into(),
        ),
        E::CertExpired { .. } | E::CertNotValidYet { .. } => (
            "ca_validity",
            format!("a CA certificate on the path is outside its validity: {e:?}"),
        ),
        E::CaUsedAsEndEntity => (
            "not_end_entity",
            "the certificate is a CA certificate, not a robot's".into(),
        ),
        other => ("path", format!("no valid path to a trust anchor: {other:?}")),
    }
}

/// Splits the profile's findings into the checks an inspector reads.
fn profile_checks(analysis: &ProfileAnalysis) -> [Check; 4] {
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
                    .any(|v| v.detail.contains("check character is"))
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
fn summary(
    der: &[u8],
    cert: &X509Certificate<'_>,
    analysis: &ProfileAnalysis,
    issuer: Option<&Issuer>,
) -> CertificateSummary {
    let id = analysis.identity.as_ref();
    CertificateSummary {
        robot_id: id.map(|i| i.robot_id.clone()),
        manufacturer: id.map(|i| {
            format!(
                "{} {} ({})",
                i.manufacturer.code, i.manufacturer.name, i.manufacturer.country
            )
        }),
        model: id.map(|i| i.model.clone()),
        serial: hex::encode(cert.raw_serial()),
        issuer: issuer.map_or_else(|| cert.issuer().to_string(), |i| i.name.clone()),
        not_before: rfc3339(cert.validity().not_before.timestamp()),
        not_after: rfc3339(cert.validity().not_after.timestamp()),
        key_algorithm: analysis.key_algorithm.map_or_else(
            || cert.public_key().algorithm.algorithm.to_id_string(),
            |a| a.name().to_owned(),
        ),
        sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, der)),
    }
}
