//! The robot certificate profile: the rules every robot certificate meets.
//!
//! The CA runs [`check_robot_certificate`] on every precertificate and every
//! final certificate before release; the inspector's verifier runs the same
//! function. Each broken rule is reported on its own, named by a stable id
//! (`robot_id.check_character`, `subject.common_name`, ...) listed in
//! docs/profile/README.md.

use std::borrow::Cow;
use std::fmt;

use const_oid::ObjectIdentifier;
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::oid_registry::{self, Oid};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::identity::RobotIdentity;
use crate::oid;
use crate::robot_id::RobotId;

/// The key algorithms a robot may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256.
    P256,
    /// ECDSA on NIST P-384.
    P384,
    /// Ed25519.
    Ed25519,
}

impl KeyAlgorithm {
    /// The name used on the command line and in policies.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "p256",
            Self::P384 => "p384",
            Self::Ed25519 => "ed25519",
        }
    }

    /// The algorithm of a parsed SubjectPublicKeyInfo, if accepted.
    pub fn of_spki(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Option<Self> {
        let alg = &spki.algorithm.algorithm;
        if *alg == oid_registry::OID_SIG_ED25519 {
            return Some(Self::Ed25519);
        }
        if *alg != oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY {
            return None;
        }
        let curve = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
        if curve == oid_registry::OID_EC_P256 {
            Some(Self::P256)
        } else if curve == oid_registry::OID_NIST_EC_P384 {
            Some(Self::P384)
        } else {
            None
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule: its id and what was found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// Stable rule id, e.g. `subject.common_name`.
    pub rule: &'static str,
    /// What was found, with the values.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.detail)
    }
}

/// Every rule a certificate broke (never empty).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a valid robot certificate: {}", list(.0))]
pub struct ProfileError(pub Vec<Violation>);

fn list(v: &[Violation]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ProfileError {
    /// Whether `rule` is among the broken rules.
    pub fn breaks(&self, rule: &str) -> bool {
        self.0.iter().any(|v| v.rule == rule)
    }
}

/// What a conforming robot certificate says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RobotCertificate {
    /// The decoded `RobotIdentity`.
    pub identity: RobotIdentity,
    /// The robot ID, checked.
    pub robot_id: RobotId,
    /// Serial number, big-endian content octets.
    pub serial: Vec<u8>,
    /// notBefore, seconds since the Unix epoch.
    pub not_before: i64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    /// The robot's key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// The robot's SubjectPublicKeyInfo, DER.
    pub spki_der: Vec<u8>,
}

/// The x509-parser form of one of our OIDs.
pub fn x509_oid(oid: &ObjectIdentifier) -> Oid<'_> {
    Oid::new(Cow::Borrowed(oid.as_bytes()))
}

/// Smallest serial, in content octets, that carries 64 random bits.
pub const MIN_SERIAL_BYTES: usize = 8;

/// Checks `der` against every rule of the robot certificate profile.
pub fn check_robot_certificate(der: &[u8]) -> Result<RobotCertificate, ProfileError> {
    let cert = match X509Certificate::from_der(der) {
        Ok(([], cert)) => cert,
        Ok((rest, _)) => {
            return Err(one(
                "x509.der",
                format!("{} bytes of trailing data", rest.len()),
            ));
        }
        Err(e) => return Err(one("x509.der", format!("not an X.509 certificate: {e}"))),
    };
    check_parsed(&cert)
}

/// [`check_robot_certificate`] on a certificate already parsed (the CA's
/// lints parse each precertificate once).
pub fn check_parsed(cert: &X509Certificate<'_>) -> Result<RobotCertificate, ProfileError> {
    let analysis = analyse(cert);
    match analysis {
        ProfileAnalysis {
            violations,
            identity: Some(identity),
            robot_id: Some(robot_id),
            key_algorithm: Some(key_algorithm),
        } if violations.is_empty() => Ok(RobotCertificate {
            identity,
            robot_id,
            serial: cert.raw_serial().to_vec(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            key_algorithm,
            spki_der: cert.public_key().raw.to_vec(),
        }),
        ProfileAnalysis { violations, .. } => Err(ProfileError(violations)),
    }
}

/// Everything the profile rules found in a parsed certificate, kept even
/// when some rule is broken, so an inspector can report each rule on its
/// own and still compare the identity with a policy or measured components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileAnalysis {
    /// Every broken rule, in the order checked; empty if the certificate conforms.
    pub violations: Vec<Violation>,
    /// The decoded `RobotIdentity`, if present and well formed.
    pub identity: Option<RobotIdentity>,
    /// The robot ID, if well formed with a valid check character.
    pub robot_id: Option<RobotId>,
    /// The robot's key algorithm, if accepted.
    pub key_algorithm: Option<KeyAlgorithm>,
}

/// Applies every rule of the profile to an already parsed certificate; the
/// same rules, in the same order, as [`check_robot_certificate`].
pub fn analyse(cert: &X509Certificate<'_>) -> ProfileAnalysis {
    let mut v = Checker::default();
    let identity = identity(cert, &mut v);
    let robot_id = identity.as_ref().and_then(|id| robot_id(id, &mut v));
    if let Some(id) = &identity {
        subject(cert, id, &mut v);
        san(cert, id, &mut v);
        // Midnight UTC and the earliest date are checked when the identity
        // is decoded; the day after issuance needs the certificate.
        if let Err(e) = crate::identity::check_production_date_at(
            &id.production_date,
            cert.validity().not_before.timestamp(),
        ) {
            v.fail("identity.production_date", e.to_string());
        }
    }
    structure(cert, &mut v);
    extensions(cert, &mut v);
    let key_algorithm = KeyAlgorithm::of_spki(cert.public_key());
    if key_algorithm.is_none() {
        v.fail(
            "key.algorithm",
            format!(
                "{} is not P-256, P-384 or Ed25519",
                cert.public_key().algorithm.algorithm
            ),
        );
    }
    ProfileAnalysis {
        violations: v.0,
        identity,
        robot_id,
        key_algorithm,
    }
}

fn one(rule: &'static str, detail: String) -> ProfileError {
    ProfileError(vec![Violation { rule, detail }])
}

#[derive(Default)]
struct Checker(Vec<Violation>);

impl Checker {
    fn fail(&mut self, rule: &'static str, detail: impl Into<String>) {
        self.0.push(Violation {
            rule,
            detail: detail.into(),
        });
    }

    fn require(&mut self, ok: bool, rule: &'static str, detail: impl FnOnce() -> String) {
        if !ok {
            self.fail(rule, detail());
        }
    }
}

fn identity(cert: &X509Certificate<'_>, v: &mut Checker) -> Option<RobotIdentity> {
    let wanted = x509_oid(&oid::ID_PE_ROBOT_IDENTITY);
    let found: Vec<&X509Extension<'_>> = cert
        .extensions()
        .iter()
        .filter(|e| e.oid == wanted)
        .collect();
    let ext = match found.as_slice() {
        [ext] => *ext,
        [] => {
            v.fail("identity.present", "the RobotIdentity extension is missing");
            return None;
        }
        _ => {
            v.fail(
                "identity.present",
                "the RobotIdentity extension appears more than once",
            );
            return None;
        }
    };
    v.require(!ext.critical, "identity.critical", || {
        "the RobotIdentity extension must be non-critical".into()
    });
    RobotIdentity::from_der(ext.value)
        .map_err(|e| v.fail("identity.decode", e.to_string()))
        .ok()
}

fn robot_id(id: &RobotIdentity, v: &mut Checker) -> Option<RobotId> {
    let robot_id = RobotId::parse(&id.robot_id)
        .map_err(|e| v.fail("robot_id.format", e.to_string()))
        .ok()?;
    v.require(
        robot_id.manufacturer_code() == id.manufacturer.code,
        "robot_id.manufacturer",
        || {
            format!(
                "robot ID {} carries code {:?} but the manufacturer is {:?}",
                robot_id,
                robot_id.manufacturer_code(),
                id.manufacturer.code
            )
        },
    );
    v.require(robot_id.model() == id.model, "robot_id.model", || {
        format!(
            "robot ID {} carries model {:?} but the model is {:?}",
            robot_id,
            robot_id.model(),
            id.model
        )
    });
    Some(robot_id)
}

fn subject(cert: &X509Certificate<'_>, id: &RobotIdentity, v: &mut Checker) {
    let name = cert.subject();
    let values = |oid: &Oid<'_>| -> Vec<String> {
        name.iter_by_oid(oid)
            .map(|a| a.as_str().map(str::to_owned).unwrap_or_default())
            .collect()
    };
    let mut expect = |rule: &'static str, oid: Oid<'_>, want: &str| {
        let got = values(&oid);
        v.require(got.len() == 1 && got[0] == want, rule, || {
            format!("subject has {got:?}, the profile requires exactly [{want:?}]")
        });
    };
    expect(
        "subject.common_name",
        oid_registry::OID_X509_COMMON_NAME,
        &id.robot_id,
    );
    expect(
        "subject.serial_number",
        x509_oid(&oid::ID_AT_SERIAL_NUMBER),
        &id.robot_id,
    );
    expect(
        "subject.organization",
        oid_registry::OID_X509_ORGANIZATION_NAME,
        &id.manufacturer.name,
    );
    expect(
        "subject.country",
        oid_registry::OID_X509_COUNTRY_NAME,
        &id.manufacturer.country,
    );
}

/// The SAN URI that names robot `id`.
pub fn robot_uri(robot_id: &str) -> String {
    format!("urn:robotid:{robot_id}")
}

fn san(cert: &X509Certificate<'_>, id: &RobotIdentity, v: &mut Checker) {
    let want = robot_uri(&id.robot_id);
    match cert.subject_alternative_name() {
        Ok(Some(san)) => {
            let names = &san.value.general_names;
            v.require(
                matches!(names.as_slice(), [GeneralName::URI(u)] if *u == want),
                "san.uri",
                || format!("subjectAltName is {names:?}, the profile requires exactly URI {want}"),
            );
        }
        Ok(None) => v.fail(
            "san.uri",
            format!("subjectAltName is missing; requires URI {want}"),
        ),
        Err(e) => v.fail("san.uri", format!("subjectAltName is malformed: {e}")),
    }
}

fn structure(cert: &X509Certificate<'_>, v: &mut Checker) {
    v.require(cert.version().0 == 2, "x509.version", || {
        format!(
            "version {} (v{}); the profile requires v3",
            cert.version().0,
            cert.version().0 + 1
        )
    });
    let serial = cert.raw_serial();
    v.require(
        serial.len() >= MIN_SERIAL_BYTES && serial.len() <= 20 && serial[0] & 0x80 == 0,
        "serial.entropy",
        || {
            format!(
                "serial {} has {} octets; requires a positive serial of {MIN_SERIAL_BYTES}..=20 octets (64 random bits)",
                hex::encode(serial),
                serial.len()
            )
        },
    );
    let validity = cert.validity();
    v.require(
        validity.not_before < validity.not_after,
        "validity.order",
        || {
            format!(
                "notBefore {} is not before notAfter {}",
                validity.not_before, validity.not_after
            )
        },
    );
}

/// The extensions a robot certificate may carry, and whether each may be
/// critical: RFC 5280 requires AKI, SKI, AIA and (with a subject)
/// subjectAltName to be non-critical, and the profile fixes the rest.
/// Anything else is refused, so that an extension no relying party of the
/// profile knows (a critical NameConstraints, say) cannot slip through the
/// CA's own check (issue 17, finding 5).
const ALLOWED_EXTENSIONS: [(&ObjectIdentifier, bool); 10] = [
    (&KEY_USAGE, true),
    (&EXT_KEY_USAGE, false),
    (&SUBJECT_ALT_NAME, false),
    (&BASIC_CONSTRAINTS, true),
    (&oid::ID_CE_CERTIFICATE_POLICIES, false),
    (&oid::ID_PE_AUTHORITY_INFO_ACCESS, false),
    (&CRL_DISTRIBUTION_POINTS, false),
    (&AUTHORITY_KEY_IDENTIFIER, false),
    (&oid::ID_CE_SUBJECT_KEY_IDENTIFIER, false),
    (&oid::ID_PE_ROBOT_IDENTITY, false),
];
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const CRL_DISTRIBUTION_POINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

fn extensions(cert: &X509Certificate<'_>, v: &mut Checker) {
    let mut seen = std::collections::HashSet::new();
    for ext in cert.extensions() {
        v.require(seen.insert(ext.oid.clone()), "extensions.unique", || {
            format!("extension {} appears more than once", ext.oid)
        });
        match ALLOWED_EXTENSIONS
            .iter()
            .find(|(allowed, _)| ext.oid == x509_oid(allowed))
        {
            None => v.fail(
                "extensions.allowed",
                format!(
                    "extension {} ({}) is not one the robot profile allows",
                    ext.oid,
                    if ext.critical {
                        "critical"
                    } else {
                        "non-critical"
                    }
                ),
            ),
            Some((allowed, may_be_critical)) => v.require(
                !ext.critical || *may_be_critical,
                "extensions.critical",
                || format!("extension {allowed} must be non-critical in a robot certificate"),
            ),
        }
    }
    match cert.basic_constraints() {
        Ok(Some(bc)) => v.require(!bc.value.ca, "basic_constraints", || {
            "a robot certificate must not be a CA".into()
        }),
        Ok(None) => {}
        Err(e) => v.fail("basic_constraints", format!("malformed: {e}")),
    }
    match cert.key_usage() {
        Ok(Some(ku)) => v.require(ku.critical && ku.value.flags == 1, "key_usage", || {
            format!(
                "keyUsage is {} (critical: {}); requires exactly digitalSignature, critical",
                ku.value, ku.critical
            )
        }),
        Ok(None) => v.fail(
            "key_usage",
            "keyUsage is missing; requires digitalSignature",
        ),
        Err(e) => v.fail("key_usage", format!("malformed: {e}")),
    }
    let robot_eku = x509_oid(&oid::ID_KP_ROBOT_IDENTITY);
    match cert.extended_key_usage() {
        Ok(Some(eku)) => {
            let e = &eku.value;
            v.require(
                e.client_auth
                    && e.other.contains(&robot_eku)
                    && !e.any
                    && !e.server_auth
                    && !e.code_signing
                    && !e.ocsp_signing,
                "extended_key_usage",
                || format!("extKeyUsage is {e:?}; requires robot identity and clientAuth only"),
            );
        }
        Ok(None) => v.fail("extended_key_usage", "extKeyUsage is missing"),
        Err(e) => v.fail("extended_key_usage", format!("malformed: {e}")),
    }
    let mut has = |rule: &'static str, check: &dyn Fn(&ParsedExtension<'_>) -> Option<bool>| {
        let ok = cert
            .extensions()
            .iter()
            .find_map(|e| check(e.parsed_extension()));
        match ok {
            Some(true) => {}
            Some(false) => v.fail(rule, "present but incomplete or malformed"),
            None => v.fail(rule, "missing"),
        }
    };
    let market_entry = x509_oid(&oid::ID_CP_MARKET_ENTRY_V1);
    has("certificate_policies", &|p| match p {
        ParsedExtension::CertificatePolicies(list) => {
            Some(list.iter().any(|pi| pi.policy_id == market_entry))
        }
        _ => None,
    });
    has("authority_info_access", &|p| match p {
        ParsedExtension::AuthorityInfoAccess(aia) => {
            let http = |m: &Oid<'_>| {
                aia.accessdescs.iter().any(|d| {
                    d.access_method == *m
                        && matches!(d.access_location, GeneralName::URI(u) if u.starts_with("http://"))
                })
            };
            Some(
                http(&oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP)
                    && http(&oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS),
            )
        }
        _ => None,
    });
    has("crl_distribution_points", &|p| {
        match p {
        ParsedExtension::CRLDistributionPoints(dps) => Some(dps.iter().any(|dp| {
            matches!(&dp.distribution_point,
                Some(x509_parser::extensions::DistributionPointName::FullName(names))
                    if names.iter().any(|n| matches!(n, GeneralName::URI(u) if u.starts_with("http://"))))
        })),
        _ => None,
    }
    });
    has("authority_key_identifier", &|p| match p {
        ParsedExtension::AuthorityKeyIdentifier(aki) => Some(aki.key_identifier.is_some()),
        _ => None,
    });
}
