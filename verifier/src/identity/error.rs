//! What can be wrong with a `RobotIdentity`.

/// A `RobotIdentity` that cannot be decoded or breaks a profile limit.
/// Every variant names the field, as a path such as `components[2].serial`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The DER is malformed or has the wrong tag at `field`.
    #[error("RobotIdentity field {field}: malformed DER: {source}")]
    Der {
        /// Path of the field being decoded.
        field: String,
        /// The decoder's complaint, with its byte position.
        source: der::Error,
    },
    /// Bytes follow the end of `field`.
    #[error("RobotIdentity field {field}: {bytes} bytes of trailing data")]
    TrailingData {
        /// Path of the field that should have ended.
        field: String,
        /// How many bytes were left over.
        bytes: u32,
    },
    /// A version this verifier does not know.
    #[error(
        "RobotIdentity field version: version {found} is not supported (this profile is version 0)"
    )]
    UnknownVersion {
        /// The version found.
        found: i64,
    },
    /// A string or list is empty or too long.
    #[error("RobotIdentity field {field}: length {len} is outside {min}..={max}")]
    Length {
        /// Path of the field.
        field: String,
        /// Its length (characters for strings, entries for lists).
        len: usize,
        /// Smallest length allowed.
        min: usize,
        /// Largest length allowed.
        max: usize,
    },
    /// A string breaks the text policy ([`crate::text`]).
    #[error("RobotIdentity field {field}: {source}")]
    Text {
        /// Path of the field.
        field: String,
        /// The character or form refused.
        source: crate::text::TextError,
    },
    /// The production date breaks the profile's rules: midnight UTC, not
    /// before the earliest date, not after issuance plus a day.
    #[error("RobotIdentity field productionDate: {rule} (identity.production_date)")]
    ProductionDate {
        /// The rule broken, with the value.
        rule: String,
    },
    /// Any other rule of the profile.
    #[error("RobotIdentity field {field}: {rule}")]
    Invalid {
        /// Path of the field.
        field: String,
        /// The rule broken, with the value.
        rule: String,
    },
}

impl IdentityError {
    /// The catalogue's rule: the text policy's own for a refused string,
    /// `csr.identity` for everything else.
    pub fn rule(&self) -> crate::rule::Rule {
        match self {
            Self::Text { source, .. } => source.rule(),
            Self::ProductionDate { .. } => crate::rule::Rule::IdentityProductionDate,
            _ => crate::rule::Rule::CsrIdentity,
        }
    }

    /// The path of the field concerned, e.g. `components[2].supplier`.
    pub fn field(&self) -> &str {
        match self {
            Self::Der { field, .. }
            | Self::TrailingData { field, .. }
            | Self::Length { field, .. }
            | Self::Text { field, .. }
            | Self::Invalid { field, .. } => field,
            Self::UnknownVersion { .. } => "version",
            Self::ProductionDate { .. } => "productionDate",
        }
    }
}
