//! Market-entry policies: the rules a market applies to robots at its
//! border, in TOML (schema: policies/README.md). Model rules say what the
//! operator approved for a model; a market-entry policy says what one market
//! accepts, whichever the model: manufacturers, models, key algorithms,
//! parameter ranges, component kinds, the certificate policy, certificate
//! age, CRL grace, and which evidence the inspector must bring.
//!
//! Each rule is reported as its own check, named `policy.<rule>`.

use std::collections::BTreeMap;
use std::path::Path;

use const_oid::ObjectIdentifier;
use serde::Deserialize;

use crate::identity::RobotIdentity;
use crate::parameters;
use crate::profile::KeyAlgorithm;
use crate::report::Check;
use crate::rules::Range;

/// The only schema version this verifier reads.
pub const POLICY_SCHEMA_VERSION: u32 = 1;

/// A policy file that cannot be used; names the file and the field. Policy
/// files and model-rule files fail in the same ways, so they share one type.
pub use crate::rules::RulesError as PolicyError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    schema_version: u32,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    robots: RobotsFile,
    #[serde(default)]
    certificate: CertificateFile,
    #[serde(default)]
    revocation: RevocationFile,
    #[serde(default)]
    parameters: BTreeMap<String, Range>,
    #[serde(default)]
    components: ComponentsFile,
    #[serde(default)]
    evidence: EvidenceFile,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RobotsFile {
    manufacturers: Option<Vec<String>>,
    models: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateFile {
    policy: Option<String>,
    key_algorithms: Option<Vec<String>>,
    max_age_days: Option<u32>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationFile {
    #[serde(default)]
    grace_hours: u32,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentsFile {
    #[serde(default)]
    required: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceFile {
    #[serde(default)]
    crl: bool,
    #[serde(default)]
    possession: bool,
    #[serde(default)]
    components: bool,
    challenge_max_age_minutes: Option<u32>,
}

/// What the inspector must bring; a check without its evidence fails
/// instead of being skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// A CRL covering the robot (`--crl`).
    pub crl: bool,
    /// A challenge answered by the robot (`--challenge --response`).
    pub possession: bool,
    /// Measured components (`--components`).
    pub components: bool,
}

/// A checked market-entry policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The policy's name, e.g. `baseline`.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Manufacturer codes accepted; `None` accepts any.
    pub manufacturers: Option<Vec<String>>,
    /// Models accepted, as `CODE-MODEL`; `None` accepts any.
    pub models: Option<Vec<String>>,
    /// The certificate policy every robot certificate must assert.
    pub certificate_policy: Option<ObjectIdentifier>,
    /// Robot key algorithms accepted; `None` accepts the profile's three.
    pub key_algorithms: Option<Vec<KeyAlgorithm>>,
    /// Largest age of a certificate (from notBefore), in days.
    pub max_age_days: Option<u32>,
    /// How long past nextUpdate a CRL is still accepted, in seconds.
    pub crl_grace_seconds: i64,
    /// Parameters every robot must state, with their accepted ranges.
    pub parameters: BTreeMap<String, Range>,
    /// Component kinds every robot must carry.
    pub required_components: Vec<String>,
    /// Evidence the inspector must bring.
    pub evidence: Evidence,
    /// How old a challenge may be when its response is checked, in seconds.
    pub challenge_max_age_seconds: i64,
    /// `certificate_policy` and its dotted form, written once when loaded:
    /// every report names it (used while it still matches the field).
    certificate_policy_text: Option<(ObjectIdentifier, String)>,
}

/// How old a challenge may be by default: long enough to walk to the robot
/// and back, short enough that an old answer cannot be kept for later.
pub const DEFAULT_CHALLENGE_MAX_AGE_SECONDS: i64 = 15 * 60;

impl Policy {
    /// Parses and checks a policy; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError::Syntax {
            path: origin.into(),
            message: e.to_string().trim_end().into(),
        })?;
        let field = |field: String, rule: String| PolicyError::Field {
            path: origin.into(),
            field,
            rule,
        };
        if file.schema_version != POLICY_SCHEMA_VERSION {
            return Err(field(
                "schema_version".into(),
                format!(
                    "version {} is not supported; this verifier reads version {POLICY_SCHEMA_VERSION}",
                    file.schema_version
                ),
            ));
        }
        if file.name.trim().is_empty() || crate::text::check(&file.name).is_err() {
            return Err(field(
                "name".into(),
                "must be printable and not empty".into(),
            ));
        }
        let certificate_policy = file
            .certificate
            .policy
            .as_deref()
            .map(|text| {
                parse_oid(text).map_err(|e| {
                    field(
                        "certificate.policy".into(),
                        format!("{text:?} is not an OID: {e}"),
                    )
                })
            })
            .transpose()?;
        let key_algorithms = file
            .certificate
            .key_algorithms
            .map(|names| {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        key_algorithm(n).ok_or_else(|| {
                            field(
                                format!("certificate.key_algorithms[{i}]"),
                                format!("{n:?} is not one of p256, p384, ed25519"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        for (name, range) in &file.parameters {
            if parameters::lookup(name).is_none() {
                return Err(field(
                    format!("parameters.{name}"),
                    format!("unknown parameter; known: {}", parameters::known_names()),
                ));
            }
            if range.min > range.max {
                return Err(field(
                    format!("parameters.{name}"),
                    format!("min {} is greater than max {}", range.min, range.max),
                ));
            }
        }
        let lists = [
            ("robots.manufacturers", &file.robots.manufacturers),
            ("robots.models", &file.robots.models),
        ];
        for (name, list) in lists {
            if list.as_ref().is_some_and(Vec::is_empty) {
                return Err(field(
                    name.into(),
                    "an empty list would refuse every robot; leave the key out to accept any"
                        .into(),
                ));
            }
        }
        Ok(Self {
            certificate_policy_text: certificate_policy.map(|o| (o, o.to_string())),
            name: file.name,
            description: file.description,
            manufacturers: file.robots.manufacturers,
            models: file.robots.models,
            certificate_policy,
            key_algorithms,
            max_age_days: file.certificate.max_age_days,
            crl_grace_seconds: i64::from(file.revocation.grace_hours) * 3_600,
            parameters: file.parameters,
            required_components: file.components.required,
            evidence: Evidence {
                crl: file.evidence.crl,
                possession: file.evidence.possession,
                components: file.evidence.components,
            },
            challenge_max_age_seconds: file
                .evidence
                .challenge_max_age_minutes
                .map_or(DEFAULT_CHALLENGE_MAX_AGE_SECONDS, |m| i64::from(m) * 60),
        })
    }

    /// Reads a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let origin = path.display().to_string();
        let text = crate::input::FileKind::Policy
            .read_to_string_io(path)
            .map_err(|source| PolicyError::Read {
                path: origin.clone(),
                source,
            })?;
        Self::from_toml(&text, &origin)
    }

    /// Every rule of the policy applied to one robot certificate, one check
    /// each. `identity` is `None` when the certificate has no readable
    /// RobotIdentity (the identity check reports why).
    pub fn evaluate(&self, robot: &PolicySubject<'_>) -> Vec<Check> {
        let mut checks = Vec::with_capacity(7);
        checks.push(self.certificate_policy(robot));
        checks.push(self.key_algorithm(robot));
        checks.push(self.certificate_age(robot));
        let Some(identity) = robot.identity else {
            for name in [
                "policy.manufacturer",
                "policy.model",
                "policy.parameters",
                "policy.components",
            ] {
                checks.push(Check::skip(name, "no readable RobotIdentity"));
            }
            return checks;
        };
        checks.push(self.manufacturer(identity));
        checks.push(self.model(identity));
        checks.push(self.parameters(identity));
        checks.push(self.components(identity));
        checks
    }

    fn certificate_policy(&self, robot: &PolicySubject<'_>) -> Check {
        const NAME: &str = "policy.certificate_policy";
        let Some(want) = &self.certificate_policy else {
            return Check::skip(NAME, "the policy names no certificate policy");
        };
        if robot.certificate_policies.contains(want) {
            let reason = match &self.certificate_policy_text {
                Some((oid, text)) if oid == want => format!("certificate asserts policy {text}"),
                _ => format!("certificate asserts policy {want}"),
            };
            Check::pass(NAME, reason)
        } else {
            Check::fail(
                NAME,
                "wrong_policy",
                format!(
                    "certificate asserts [{}], the policy requires {want}",
                    join(robot.certificate_policies.iter())
                ),
            )
        }
    }

    fn key_algorithm(&self, robot: &PolicySubject<'_>) -> Check {
        const NAME: &str = "policy.key_algorithm";
        let Some(alg) = robot.key_algorithm else {
            return Check::fail(
                NAME,
                "key_algorithm",
                "the robot's key algorithm is not supported",
            );
        };
        match &self.key_algorithms {
            Some(allowed) if !allowed.contains(&alg) => Check::fail(
                NAME,
                "key_algorithm",
                format!(
                    "{alg} keys are not accepted; accepted: {}",
                    join(allowed.iter())
                ),
            ),
            _ => Check::pass(NAME, format!("{alg} is accepted")),
        }
    }

    fn certificate_age(&self, robot: &PolicySubject<'_>) -> Check {
        const NAME: &str = "policy.certificate_age";
        let Some(days) = self.max_age_days else {
            return Check::skip(NAME, "the policy sets no maximum age");
        };
        let age = robot.at - robot.not_before;
        let max = i64::from(days) * 86_400;
        if age <= max {
            Check::pass(
                NAME,
                format!("issued {} days ago; at most {days} accepted", age / 86_400),
            )
        } else {
            Check::fail(
                NAME,
                "too_old",
                format!("issued {} days ago; at most {days} accepted", age / 86_400),
            )
        }
    }

    fn manufacturer(&self, id: &RobotIdentity) -> Check {
        const NAME: &str = "policy.manufacturer";
        let code = &id.manufacturer.code;
        match &self.manufacturers {
            Some(list) if !list.contains(code) => Check::fail(
                NAME,
                "manufacturer",
                format!(
                    "manufacturer {code} is not accepted; accepted: {}",
                    list.join(", ")
                ),
            ),
            Some(_) => Check::pass(NAME, format!("manufacturer {code} is accepted")),
            None => Check::pass(NAME, format!("any manufacturer accepted ({code})")),
        }
    }

    fn model(&self, id: &RobotIdentity) -> Check {
        const NAME: &str = "policy.model";
        let model = format!("{}-{}", id.manufacturer.code, id.model);
        match &self.models {
            Some(list) if !list.contains(&model) => Check::fail(
                NAME,
                "model",
                format!(
                    "model {model} is not accepted; accepted: {}",
                    list.join(", ")
                ),
            ),
            Some(_) => Check::pass(NAME, format!("model {model} is accepted")),
            None => Check::pass(NAME, format!("any model accepted ({model})")),
        }
    }

    fn parameters(&self, id: &RobotIdentity) -> Check {
        const NAME: &str = "policy.parameters";
        if self.parameters.is_empty() {
            return Check::skip(NAME, "the policy sets no parameter ranges");
        }
        let mut problems = Vec::new();
        for (name, range) in &self.parameters {
            match id.parameter(name) {
                None => problems.push(format!(
                    "{name} is not stated; required {}..={}",
                    range.min, range.max
                )),
                Some(p) if p.value < range.min || p.value > range.max => problems.push(format!(
                    "{name} = {} {} is outside {}..={}",
                    p.value, p.unit, range.min, range.max
                )),
                Some(_) => {}
            }
        }
        if problems.is_empty() {
            Check::pass(
                NAME,
                format!("{} parameters within range", self.parameters.len()),
            )
        } else {
            Check::fail(
                NAME,
                "parameter_range",
                format!(
                    "{} of {} parameters out of range or missing",
                    problems.len(),
                    self.parameters.len()
                ),
            )
            .with_details(problems)
        }
    }

    fn components(&self, id: &RobotIdentity) -> Check {
        const NAME: &str = "policy.components";
        if self.required_components.is_empty() {
            return Check::skip(NAME, "the policy requires no component kinds");
        }
        let missing: Vec<String> = self
            .required_components
            .iter()
            .filter(|kind| !id.components.iter().any(|c| &&c.kind == kind))
            .cloned()
            .collect();
        if missing.is_empty() {
            Check::pass(
                NAME,
                format!(
                    "carries every required kind: {}",
                    self.required_components.join(", ")
                ),
            )
        } else {
            Check::fail(
                NAME,
                "component_kind",
                format!("required component kinds missing: {}", missing.join(", ")),
            )
        }
    }
}

/// What a policy looks at in a certificate.
pub struct PolicySubject<'a> {
    /// The decoded identity, if readable.
    pub identity: Option<&'a RobotIdentity>,
    /// The robot's key algorithm, if supported.
    pub key_algorithm: Option<KeyAlgorithm>,
    /// The certificate policies asserted.
    pub certificate_policies: &'a [ObjectIdentifier],
    /// notBefore, seconds since the Unix epoch.
    pub not_before: i64,
    /// The time checked, seconds since the Unix epoch.
    pub at: i64,
}

fn key_algorithm(name: &str) -> Option<KeyAlgorithm> {
    [
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
    ]
    .into_iter()
    .find(|a| a.name() == name)
}

/// A dotted OID. const-oid 0.9 keeps arcs in a u32 and multiplies without
/// checking, so a larger arc panics (with overflow checks) or silently
/// becomes another OID (without); it also recurses once per character. So
/// the length and every arc are checked here first. Its encoder also gets
/// some arcs wrong (128 and others whose base-128 digits start with 0x80)
/// and accepts arcs its decoder refuses (and whose display then panics), so
/// an OID that does not decode back to the same text is refused too.
fn parse_oid(text: &str) -> Result<ObjectIdentifier, String> {
    /// Far more than the 39 bytes const-oid can encode ever need in text.
    const MAX_CHARS: usize = 256;
    if text.len() > MAX_CHARS {
        return Err(format!("longer than {MAX_CHARS} characters"));
    }
    // const-oid's text parser overflows (a panic in debug builds) on a
    // long run of digits that ends in some other character, so every arc
    // must be a decimal number before it sees the text.
    if let Some(arc) = text
        .split('.')
        .find(|arc| arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()))
    {
        let shown: String = arc.chars().take(40).collect();
        return Err(format!("arc {shown:?} is not a decimal number"));
    }
    let too_large = text.split('.').find(|arc| arc.parse::<u32>().is_err());
    if let Some(arc) = too_large {
        return Err(format!("arc {arc} is larger than {}", u32::MAX));
    }
    let oid = ObjectIdentifier::new(text).map_err(|e| e.to_string())?;
    // Displaying an OID whose bytes do not decode panics; from_bytes checks.
    let oid = ObjectIdentifier::from_bytes(oid.as_bytes())
        .map_err(|e| format!("it cannot be encoded: {e}"))?;
    if oid.to_string() != text {
        return Err(format!(
            "it is not in canonical form or cannot be encoded (reads back as {oid})"
        ));
    }
    Ok(oid)
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// The certificate policy OIDs a certificate asserts.
pub fn certificate_policies(
    cert: &x509_parser::certificate::X509Certificate<'_>,
) -> Vec<ObjectIdentifier> {
    use x509_parser::extensions::ParsedExtension;
    cert.extensions()
        .iter()
        .filter_map(|e| match e.parsed_extension() {
            ParsedExtension::CertificatePolicies(list) => Some(
                list.iter()
                    .filter_map(|p| ObjectIdentifier::from_bytes(p.policy_id.as_bytes()).ok())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz/regressions/policy): an arc above u32::MAX
    /// overflowed inside const-oid, a panic in debug builds and another OID
    /// in release builds.
    #[test]
    fn oid_arcs_beyond_u32_are_refused() {
        let found = include_str!("../../fuzz/regressions/policy/oid-arc-over-u32.toml");
        let e = Policy::from_toml(found, "t.toml").unwrap_err().to_string();
        assert!(e.contains("certificate.policy"), "{e}");
        // A long arc with a non-digit in it (fuzzing, second finding).
        let found = include_str!("../../fuzz/regressions/policy/oid-arc-with-a-non-digit.toml");
        let e = Policy::from_toml(found, "t.toml").unwrap_err().to_string();
        assert!(
            e.contains("certificate.policy") && e.contains("not a decimal number"),
            "{e}"
        );
        for oid in [
            "1.2.3x",
            "1..2",
            "1.2.",
            "1.2.4294967296",
            "1.2.99999999999999999999999",
            "1.2.777777777777777777777777777777?7777",
            "2.4294967295.1",
        ] {
            let text =
                format!("schema_version = 1\nname = \"t\"\n[certificate]\npolicy = \"{oid}\"\n");
            let e = Policy::from_toml(&text, "t.toml").unwrap_err().to_string();
            assert!(e.contains("certificate.policy"), "{oid}: {e}");
        }
        let long = format!("1.2.{}", "1.".repeat(100_000));
        let text =
            format!("schema_version = 1\nname = \"t\"\n[certificate]\npolicy = \"{long}3\"\n");
        assert!(Policy::from_toml(&text, "t.toml").is_err());
        let oid = "1.2.840.113556.1.8000.2554.35839.14989.56314.17352.36067.9305224.2369525.3.1";
        let ok = format!("schema_version = 1\nname = \"t\"\n[certificate]\npolicy = \"{oid}\"\n");
        let policy = Policy::from_toml(&ok, "t.toml").unwrap();
        assert_eq!(
            policy.certificate_policy.map(|o| o.to_string()).as_deref(),
            Some(oid)
        );
    }

    #[test]
    fn refuses_bad_fields_by_name() {
        let base = "schema_version = 1\nname = \"t\"\n";
        assert!(Policy::from_toml(base, "t").is_ok());
        let cases = [
            ("schema_version = 2\nname = \"t\"\n", "schema_version"),
            (
                &format!("{base}[certificate]\nkey_algorithms = [\"rsa\"]\n"),
                "certificate.key_algorithms[0]",
            ),
            (
                &format!("{base}[certificate]\npolicy = \"not-an-oid\"\n"),
                "certificate.policy",
            ),
            (
                &format!("{base}[parameters.height_cm]\nmin = 1\nmax = 2\n"),
                "parameters.height_cm",
            ),
            (
                &format!("{base}[parameters.height_mm]\nmin = 3\nmax = 2\n"),
                "parameters.height_mm",
            ),
            (
                &format!("{base}[robots]\nmanufacturers = []\n"),
                "robots.manufacturers",
            ),
            (&format!("{base}[evidence]\ncrls = true\n"), "crls"),
        ];
        for (text, field) in cases {
            let e = Policy::from_toml(text, "t.toml").unwrap_err().to_string();
            assert!(
                e.starts_with("t.toml:") && e.contains(field),
                "{field}: {e}"
            );
        }
    }
}
