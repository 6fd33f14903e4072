//! The `RobotIdentity` extension: what a robot certificate says about the robot.
//!
//! The ASN.1 module is docs/profile/robotid.asn1; every field, limit and
//! unit is described in docs/profile/README.md. Encoding goes through `der`'s
//! derive (see `encode`); decoding walks the same structure field by field so
//! that every error names the field it found wrong (see `decode`).

mod decode;
mod digest;
mod encode;
mod error;
mod limits;

/// The time type of `productionDate`, re-exported so callers need not depend on `der`.
pub use der::DateTime;
pub use digest::{ComponentDigest, DigestAlgorithm};
pub use error::IdentityError;
pub use limits::Limits;

/// `RobotIdentity.version` for this profile (v1, encoded as the DEFAULT 0).
pub const PROFILE_VERSION: i64 = 0;

/// The earliest production date the profile accepts (year, month, day):
/// no robot certified under it was built before 2000.
pub const EARLIEST_PRODUCTION_DATE: (u16, u8, u8) = (2000, 1, 1);

/// How far after issuance (the certificate's notBefore) the production
/// date may lie, in seconds: one day, for manufacturers in time zones
/// ahead of UTC, whose day has begun before UTC's.
pub const PRODUCTION_DATE_SKEW_SECONDS: i64 = 86_400;

/// The production-date rule that needs a time: `date` is not after
/// `at` (seconds since the Unix epoch; the issuance) plus
/// [`PRODUCTION_DATE_SKEW_SECONDS`]. Midnight UTC and the earliest date
/// are checked by [`RobotIdentity::validate`].
pub fn check_production_date_at(date: &der::DateTime, at: i64) -> Result<(), IdentityError> {
    let seconds = i64::try_from(date.unix_duration().as_secs()).unwrap_or(i64::MAX);
    if seconds > at.saturating_add(PRODUCTION_DATE_SKEW_SECONDS) {
        let day = time::OffsetDateTime::from_unix_timestamp(at)
            .map(|t| t.date().to_string())
            .unwrap_or_else(|_| at.to_string());
        return Err(IdentityError::ProductionDate {
            rule: format!(
                "{} is after the day of issuance {day} plus one day",
                date_text(date)
            ),
        });
    }
    Ok(())
}

/// `2026-11-20`, or the full time if not midnight.
pub(crate) fn date_text(t: &der::DateTime) -> String {
    if (t.hour(), t.minutes(), t.seconds()) == (0, 0, 0) {
        format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
    } else {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minutes(),
            t.seconds()
        )
    }
}

/// Everything the certificate binds to the robot's key.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RobotIdentity {
    /// The robot ID, e.g. `UBX-WK5-00001234-K` (see [`crate::robot_id`]).
    pub robot_id: String,
    /// Who built the robot.
    pub manufacturer: Manufacturer,
    /// The manufacturer's model code, as registered with the operator.
    pub model: String,
    /// Day of manufacture, midnight UTC.
    #[serde(serialize_with = "serialize_date_time")]
    pub production_date: der::DateTime,
    /// Technical parameters in fixed units; empty means the field is absent.
    pub parameters: Vec<TechnicalParameter>,
    /// The key components and the digests of their firmware or identity.
    pub components: Vec<KeyComponent>,
}

/// The manufacturer as registered with the operator.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Manufacturer {
    /// Short code, the first segment of every robot ID it issues.
    pub code: String,
    /// Legal name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

/// One technical parameter: an integer in the unit named.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TechnicalParameter {
    /// Parameter name, e.g. `height_mm`.
    pub name: String,
    /// Value in `unit`.
    pub value: i64,
    /// Unit, e.g. `mm`, `g`, `mWh`.
    pub unit: String,
}

/// A key component of the robot, identified by the digests of what it runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyComponent {
    /// Component kind, e.g. `main-controller`.
    pub kind: String,
    /// The supplier's part number.
    pub part_number: String,
    /// The supplier's name.
    pub supplier: String,
    /// The component's own serial number.
    pub serial: String,
    /// Digests of the component (like TCG DICE FWIDs).
    pub digests: Vec<ComponentDigest>,
}

impl RobotIdentity {
    /// DER encoding of the extension value, after checking every limit.
    pub fn to_der(&self) -> Result<Vec<u8>, IdentityError> {
        self.validate()?;
        encode::to_der(self)
    }

    /// Strict DER decoding: wrong tags, trailing data, out-of-range strings,
    /// unknown versions and unknown digest algorithms are all refused with
    /// the name of the field.
    pub fn from_der(bytes: &[u8]) -> Result<Self, IdentityError> {
        let identity = decode::from_der(bytes)?;
        identity.validate()?;
        Ok(identity)
    }

    /// Checks every field against the profile's limits.
    pub fn validate(&self) -> Result<(), IdentityError> {
        limits::validate(self)
    }

    /// The parameter named `name`, if present.
    pub fn parameter(&self, name: &str) -> Option<&TechnicalParameter> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

/// RFC 3339, as JSON reports and test vectors show times.
fn serialize_date_time<S: serde::Serializer>(t: &der::DateTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minutes(),
        t.seconds()
    ))
}

#[cfg(test)]
mod tests;
