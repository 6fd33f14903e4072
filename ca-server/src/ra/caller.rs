//! Who asks: the operator or a manufacturer, as authenticated by the web
//! front end from the client certificate and the registry's credentials.
//! The RA decides what each may do.

use robotid_verifier::rule::Rule;

use super::Refusal;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The platform operator.
    Operator {
        /// Credential serial, hex.
        serial: String,
    },
    /// A manufacturer.
    Manufacturer {
        /// Credential serial, hex.
        serial: String,
        /// Its code: it may act only on robot IDs carrying it.
        code: String,
    },
}

/// The RA's operations, as far as the caller's role decides whether it may
/// ask for them at all. Whether it may act on a given robot is decided by
/// the operation itself, from the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Enroll or re-issue robot certificates: manufacturers.
    Enroll,
    /// Register a manufacturer: the operator.
    RegisterManufacturer,
    /// Register a model type: the operator.
    RegisterModel,
    /// Revoke a credential: the operator.
    RevokeCredential,
    /// Revoke a robot certificate: its manufacturer or the operator.
    Revoke,
    /// Put a certificate on hold: the operator.
    Hold,
    /// Release a hold: the operator.
    Release,
    /// Record a lifecycle event: its manufacturer or the operator.
    RecordEvent,
    /// Show or export a history: its manufacturer or the operator.
    ReadHistory,
}

impl Caller {
    /// A refusal unless the caller's role may ask for `operation`. The web
    /// front end asks before it reads a request's body, so a body is never
    /// parsed for a caller who may not send it; each operation asks again.
    pub fn may(&self, operation: Operation) -> Result<(), Refusal> {
        use Operation as O;
        match operation {
            O::Enroll => self.manufacturer().map(|_| ()),
            O::RegisterManufacturer
            | O::RegisterModel
            | O::RevokeCredential
            | O::Hold
            | O::Release => self.operator(),
            O::Revoke | O::RecordEvent | O::ReadHistory => Ok(()),
        }
    }

    /// The audit log's name for the caller.
    pub fn actor(&self) -> String {
        match self {
            Self::Operator { serial } => format!("operator:{serial}"),
            Self::Manufacturer { code, serial } => format!("manufacturer:{code}:{serial}"),
        }
    }

    /// The manufacturer's code, or a refusal for the operator.
    pub fn manufacturer(&self) -> Result<&str, Refusal> {
        match self {
            Self::Manufacturer { code, .. } => Ok(code),
            Self::Operator { .. } => Err(Refusal::new(
                Rule::RoleManufacturerRequired,
                "this action is for manufacturer credentials",
            )),
        }
    }

    /// A refusal unless the caller is the operator.
    pub fn operator(&self) -> Result<(), Refusal> {
        match self {
            Self::Operator { .. } => Ok(()),
            Self::Manufacturer { .. } => Err(Refusal::new(
                Rule::RoleOperatorRequired,
                "this action is for the operator's credential",
            )),
        }
    }
}
