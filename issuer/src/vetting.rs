//! The registration authority's checks: a verified CSR against the registry's
//! facts. [`vet`] is the only way to make a [`VettedRequest`], and the signer
//! takes nothing else.

use std::fmt;

use robotid_verifier::identity::{Manufacturer, RobotIdentity};
use robotid_verifier::profile::KeyAlgorithm;
use robotid_verifier::robot_id::RobotId;
use robotid_verifier::rule::Rule;
use robotid_verifier::rules::ModelRules;

use crate::csr::VerifiedCsr;

/// A manufacturer as the registry knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManufacturerRecord {
    /// Code, the first segment of its robot IDs.
    pub code: String,
    /// Legal name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// Whether it may enroll robots.
    pub active: bool,
}

/// A model type approved for a manufacturer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelRecord {
    /// The manufacturer it is approved for.
    pub manufacturer_code: String,
    /// Model code.
    pub model: String,
    /// Approved parameter ranges and required components.
    pub rules: ModelRules,
}

/// A refusal: the rule, the field and the value, for a problem document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The rule broken, e.g. `parameter.range`.
    pub rule: Rule,
    /// The field of the request, e.g. `parameters.height_mm`.
    pub field: String,
    /// The value found.
    pub value: String,
    /// A sentence saying what is wrong.
    pub detail: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}: {}): {}",
            self.rule, self.field, self.value, self.detail
        )
    }
}

impl std::error::Error for Refusal {}

fn refuse(
    rule: Rule,
    field: impl Into<String>,
    value: impl fmt::Display,
    detail: String,
) -> Refusal {
    Refusal {
        rule,
        field: field.into(),
        value: value.to_string(),
        detail,
    }
}

/// A request the registration authority approved: the identity to certify
/// (with the registry's manufacturer details) and the robot's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VettedRequest {
    identity: RobotIdentity,
    robot_id: RobotId,
    spki_der: Vec<u8>,
    key_algorithm: KeyAlgorithm,
}

impl VettedRequest {
    /// The identity to certify.
    pub fn identity(&self) -> &RobotIdentity {
        &self.identity
    }
    /// The robot ID.
    pub fn robot_id(&self) -> &RobotId {
        &self.robot_id
    }
    /// The robot's SubjectPublicKeyInfo, DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
    /// The robot's key algorithm.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key_algorithm
    }
}

/// Checks `csr` for `manufacturer` (the authenticated caller) against the
/// model record (`None` if the model is not registered for it).
pub fn vet(
    csr: &VerifiedCsr,
    manufacturer: &ManufacturerRecord,
    model: Option<&ModelRecord>,
) -> Result<VettedRequest, Refusal> {
    let id = &csr.identity;
    if !manufacturer.active {
        return Err(refuse(
            Rule::ManufacturerActive,
            "manufacturer",
            &manufacturer.code,
            format!(
                "manufacturer {} is not active and may not enroll robots",
                manufacturer.code
            ),
        ));
    }
    let robot_id = RobotId::parse(&id.robot_id)
        .map_err(|e| refuse(Rule::RobotIdFormat, "robot_id", &id.robot_id, e.to_string()))?;
    if robot_id.manufacturer_code() != manufacturer.code {
        return Err(refuse(
            Rule::RobotIdManufacturer,
            "robot_id",
            &robot_id,
            format!(
                "robot ID does not carry manufacturer code {}",
                manufacturer.code
            ),
        ));
    }
    if id.manufacturer.code != manufacturer.code {
        return Err(refuse(
            Rule::ManufacturerCode,
            "manufacturer.code",
            &id.manufacturer.code,
            format!(
                "the request names manufacturer {:?}, the caller is {}",
                id.manufacturer.code, manufacturer.code
            ),
        ));
    }
    if robot_id.model() != id.model {
        return Err(refuse(
            Rule::RobotIdModel,
            "model",
            &id.model,
            format!(
                "model differs from the robot ID's model segment {}",
                robot_id.model()
            ),
        ));
    }
    let model = model
        .filter(|m| m.model == id.model && m.manufacturer_code == manufacturer.code)
        .ok_or_else(|| {
            refuse(
                Rule::ModelApproved,
                "model",
                &id.model,
                format!(
                    "model {} is not registered and approved for manufacturer {}",
                    id.model, manufacturer.code
                ),
            )
        })?;
    // The production date against the time of vetting, which is the time
    // of issuance give or take the seconds of one run (the certificate's
    // notBefore is set by the signer moments later).
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    robotid_verifier::identity::check_production_date_at(&id.production_date, now).map_err(
        |e| {
            refuse(
                Rule::IdentityProductionDate,
                "production_date",
                id.production_date,
                e.to_string(),
            )
        },
    )?;
    check_parameters(id, &model.rules)?;
    check_components(id, &model.rules)?;
    let identity = RobotIdentity {
        manufacturer: Manufacturer {
            code: manufacturer.code.clone(),
            name: manufacturer.name.clone(),
            country: manufacturer.country.clone(),
        },
        ..id.clone()
    };
    identity.validate().map_err(|e| {
        // The registry's name for the manufacturer enters the identity
        // here; a text policy refusal keeps its own rule.
        let rule = match e {
            robotid_verifier::identity::IdentityError::Text { .. } => e.rule(),
            _ => Rule::IdentityProfile,
        };
        refuse(rule, e.field(), &id.robot_id, e.to_string())
    })?;
    Ok(VettedRequest {
        identity,
        robot_id,
        spki_der: csr.spki_der.clone(),
        key_algorithm: csr.key_algorithm,
    })
}

fn check_parameters(id: &RobotIdentity, rules: &ModelRules) -> Result<(), Refusal> {
    for p in &id.parameters {
        let field = format!("parameters.{}", p.name);
        let Some(range) = rules.parameters.get(&p.name) else {
            return Err(refuse(
                Rule::ParameterApproved,
                field,
                p.value,
                format!(
                    "parameter {} is not approved for model {}",
                    p.name, id.model
                ),
            ));
        };
        let spec = robotid_verifier::parameters::lookup(&p.name);
        if spec.map(|s| s.unit) != Some(p.unit.as_str()) {
            return Err(refuse(
                Rule::ParameterUnit,
                field,
                &p.unit,
                format!("unit {:?} is not the profile's unit for {}", p.unit, p.name),
            ));
        }
        if !(range.min..=range.max).contains(&p.value) {
            return Err(refuse(
                Rule::ParameterRange,
                field,
                p.value,
                format!(
                    "{} is outside the approved range {}..={} {}",
                    p.value, range.min, range.max, p.unit
                ),
            ));
        }
    }
    if let Some(missing) = rules
        .parameters
        .keys()
        .find(|name| id.parameter(name).is_none())
    {
        return Err(refuse(
            Rule::ParameterRequired,
            format!("parameters.{missing}"),
            "(absent)",
            format!("model {} requires parameter {missing}", id.model),
        ));
    }
    Ok(())
}

fn check_components(id: &RobotIdentity, rules: &ModelRules) -> Result<(), Refusal> {
    let missing = rules
        .components
        .required
        .iter()
        .find(|kind| !id.components.iter().any(|c| &c.kind == *kind));
    match missing {
        Some(kind) => Err(refuse(
            Rule::ComponentRequired,
            "components",
            kind,
            format!("model {} requires a {kind} component", id.model),
        )),
        None => Ok(()),
    }
}
