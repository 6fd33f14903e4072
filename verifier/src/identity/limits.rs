//! The profile's limits on every field, and the check that applies them.

use super::{IdentityError, RobotIdentity};

/// Inclusive length limits, in characters for strings and entries for lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Smallest length allowed.
    pub min: usize,
    /// Largest length allowed.
    pub max: usize,
}

impl Limits {
    const fn new(min: usize, max: usize) -> Self {
        Self { min, max }
    }

    /// `robotId`.
    pub const ROBOT_ID: Limits = Limits::new(1, 64);
    /// `manufacturer.code`.
    pub const MANUFACTURER_CODE: Limits = Limits::new(1, 8);
    /// `manufacturer.name`.
    pub const MANUFACTURER_NAME: Limits = Limits::new(1, 128);
    /// `manufacturer.country`.
    pub const COUNTRY: Limits = Limits::new(2, 2);
    /// `model`.
    pub const MODEL: Limits = Limits::new(1, 64);
    /// `parameters`, when present.
    pub const PARAMETERS: Limits = Limits::new(1, 64);
    /// `parameters[i].name`.
    pub const PARAMETER_NAME: Limits = Limits::new(1, 64);
    /// `parameters[i].unit`.
    pub const PARAMETER_UNIT: Limits = Limits::new(1, 16);
    /// `components`.
    pub const COMPONENTS: Limits = Limits::new(1, 256);
    /// `components[i].kind`.
    pub const COMPONENT_KIND: Limits = Limits::new(1, 64);
    /// `components[i].partNumber`, `.supplier` and `.serial`.
    pub const COMPONENT_TEXT: Limits = Limits::new(1, 128);
    /// `components[i].digests`.
    pub const DIGESTS: Limits = Limits::new(1, 16);

    /// Checks `len` of `field` against these limits.
    pub fn check(self, field: impl Fn() -> String, len: usize) -> Result<(), IdentityError> {
        if (self.min..=self.max).contains(&len) {
            Ok(())
        } else {
            Err(IdentityError::Length {
                field: field(),
                len,
                min: self.min,
                max: self.max,
            })
        }
    }
}

/// A text field: length within limits and the text policy
/// ([`crate::text::check`]), so nothing certified can rewrite an
/// inspector's terminal or log line, or show other than it reads.
fn text(field: impl Fn() -> String, value: &str, limits: Limits) -> Result<(), IdentityError> {
    limits.check(&field, value.chars().count())?;
    crate::text::check(value).map_err(|source| IdentityError::Text {
        field: field(),
        source,
    })
}

fn invalid(field: impl Into<String>, rule: String) -> IdentityError {
    IdentityError::Invalid {
        field: field.into(),
        rule,
    }
}

pub(super) fn validate(id: &RobotIdentity) -> Result<(), IdentityError> {
    text(|| "robotId".into(), &id.robot_id, Limits::ROBOT_ID)?;
    let m = &id.manufacturer;
    text(
        || "manufacturer.code".into(),
        &m.code,
        Limits::MANUFACTURER_CODE,
    )?;
    text(
        || "manufacturer.name".into(),
        &m.name,
        Limits::MANUFACTURER_NAME,
    )?;
    text(
        || "manufacturer.country".into(),
        &m.country,
        Limits::COUNTRY,
    )?;
    if !m.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            "manufacturer.country",
            format!(
                "{:?} is not an ISO 3166-1 alpha-2 code (two capital letters)",
                m.country
            ),
        ));
    }
    text(|| "model".into(), &id.model, Limits::MODEL)?;
    production_date(&id.production_date)?;
    validate_parameters(id)?;
    validate_components(id)
}

/// The production date is a day: midnight UTC, not before the earliest.
fn production_date(t: &der::DateTime) -> Result<(), IdentityError> {
    let rule = |rule: String| IdentityError::ProductionDate { rule };
    if (t.hour(), t.minutes(), t.seconds()) != (0, 0, 0) {
        return Err(rule(format!(
            "{} is not midnight UTC; the production date is a day",
            super::date_text(t)
        )));
    }
    let (y, m, d) = super::EARLIEST_PRODUCTION_DATE;
    if (t.year(), t.month(), t.day()) < (y, m, d) {
        return Err(rule(format!(
            "{} is before the earliest production date {y:04}-{m:02}-{d:02}",
            super::date_text(t)
        )));
    }
    Ok(())
}

fn validate_parameters(id: &RobotIdentity) -> Result<(), IdentityError> {
    if id.parameters.is_empty() {
        return Ok(());
    }
    Limits::PARAMETERS.check(|| "parameters".into(), id.parameters.len())?;
    // Repeats are found by scanning the entries before: the lists are
    // bounded (64 parameters, 256 components, 16 digests), and real ones
    // are a handful long, where a scan is cheaper than hashing.
    for (i, p) in id.parameters.iter().enumerate() {
        text(
            || format!("parameters[{i}].name"),
            &p.name,
            Limits::PARAMETER_NAME,
        )?;
        text(
            || format!("parameters[{i}].unit"),
            &p.unit,
            Limits::PARAMETER_UNIT,
        )?;
        if id.parameters[..i].iter().any(|q| q.name == p.name) {
            return Err(invalid(
                format!("parameters[{i}].name"),
                format!("{:?} appears more than once", p.name),
            ));
        }
    }
    Ok(())
}

fn validate_components(id: &RobotIdentity) -> Result<(), IdentityError> {
    Limits::COMPONENTS.check(|| "components".into(), id.components.len())?;
    for (i, c) in id.components.iter().enumerate() {
        text(
            || format!("components[{i}].kind"),
            &c.kind,
            Limits::COMPONENT_KIND,
        )?;
        for (name, value) in [
            ("partNumber", &c.part_number),
            ("supplier", &c.supplier),
            ("serial", &c.serial),
        ] {
            text(
                || format!("components[{i}].{name}"),
                value,
                Limits::COMPONENT_TEXT,
            )?;
        }
        Limits::DIGESTS.check(|| format!("components[{i}].digests"), c.digests.len())?;
        for (j, d) in c.digests.iter().enumerate() {
            if d.value.len() != d.algorithm.output_len() {
                return Err(invalid(
                    format!("components[{i}].digests[{j}].digest"),
                    format!(
                        "{} bytes for {}, which needs {}",
                        d.value.len(),
                        d.algorithm.name(),
                        d.algorithm.output_len()
                    ),
                ));
            }
            if c.digests[..j].contains(d) {
                return Err(invalid(
                    format!("components[{i}].digests[{j}]"),
                    format!("{d} appears more than once"),
                ));
            }
        }
        if id.components[..i]
            .iter()
            .any(|o| o.kind == c.kind && o.serial == c.serial)
        {
            return Err(invalid(
                format!("components[{i}]"),
                format!(
                    "{} with serial {:?} appears more than once",
                    c.kind, c.serial
                ),
            ));
        }
    }
    Ok(())
}
