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
    /// Any other rule of the profile.
    #[error("RobotIdentity field {field}: {rule}")]
    Invalid {
        /// Path of the field.
        field: String,
        /// The rule broken, with the value.
        rule: String,
    },
}
