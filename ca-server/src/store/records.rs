//! The records the registry keeps and hands out, and the codes they are
//! stored under.

use robotid_verifier::rule::Rule;

use super::StoreError;

/// What a client credential allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The platform operator: every administrative action.
    Operator,
    /// A manufacturer: enrollment of its own robots.
    Manufacturer,
}

impl Role {
    /// The stored code: `operator` or `manufacturer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Manufacturer => "manufacturer",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "operator" => Ok(Role::Operator),
            "manufacturer" => Ok(Role::Manufacturer),
            other => Err(StoreError::Corrupt {
                what: "credentials.role",
                detail: format!("unknown role {other:?}"),
            }),
        }
    }
}

/// An API client certificate the CA issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// Serial number of the client certificate, hex (kept in lower case).
    pub serial_hex: String,
    /// What it may do.
    pub role: Role,
    /// For [`Role::Manufacturer`]: whose credential it is; `None` for the operator.
    pub manufacturer_code: Option<String>,
    /// The certificate's subject, for the audit log and for people.
    pub subject: String,
    /// End of validity, unix seconds.
    pub not_after: i64,
    /// Whether it has been revoked.
    pub revoked: bool,
}

pub use robotid_verifier::states::certificate::CertStatus;

/// The status stored as `text`.
pub(super) fn stored_status(text: &str) -> Result<CertStatus, StoreError> {
    CertStatus::parse(text).ok_or_else(|| StoreError::Corrupt {
        what: "certificates.status",
        detail: format!("unknown status {text:?}"),
    })
}

/// A robot certificate as the registry knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Serial number, hex (lower case).
    pub serial_hex: String,
    /// The robot it was issued to.
    pub robot_id: String,
    /// Where it is in its life.
    pub status: CertStatus,
    /// The certificate, once signed (issued or superseded).
    pub der: Option<Vec<u8>>,
    /// SHA-256 of the CSR it was issued from.
    pub csr_sha256: Vec<u8>,
    /// Start of validity, unix seconds.
    pub not_before: i64,
    /// End of validity, unix seconds.
    pub not_after: i64,
    /// When it was recorded as issued, unix seconds.
    pub issued_at: Option<i64>,
}

/// A robot: its ID is unique for ever, under one manufacturer and model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RobotRecord {
    /// The robot ID.
    pub robot_id: String,
    /// Its manufacturer's code.
    pub manufacturer_code: String,
    /// Its model.
    pub model: String,
    /// When it was first enrolled, unix seconds.
    pub created_at: i64,
}

/// A key component as certified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComponentRecord {
    /// Kind, e.g. `main-controller`.
    pub kind: String,
    /// Part number.
    pub part_number: String,
    /// Supplier.
    pub supplier: String,
    /// The component's serial number.
    pub serial: String,
    /// Digests, each `sha256:<hex>`.
    pub digests: Vec<String>,
}

/// One entry of the audit log: who did what to which thing, when.
///
/// Subjects: a manufacturer's code, `CODE/MODEL` for a model, a credential's
/// serial (hex), a robot ID for issuance events (the detail names the
/// certificate serial). The detail is a JSON object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log (increasing).
    pub id: i64,
    /// When, unix seconds.
    pub at: i64,
    /// Who, e.g. `operator:<serial hex>` or `manufacturer:UBX`.
    pub actor: String,
    /// What, e.g. `manufacturer.add`, `issuance.begin`, `certificate.issue`.
    pub action: String,
    /// To what (see above).
    pub subject: String,
    /// Particulars, a JSON object.
    pub detail: String,
}

/// A vetted request, to be recorded before it is signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuanceIntent {
    /// The robot ID.
    pub robot_id: String,
    /// The manufacturer's code.
    pub manufacturer_code: String,
    /// The model.
    pub model: String,
    /// The new certificate's serial, chosen by the signer (hex).
    pub serial_hex: String,
    /// SHA-256 of the CSR DER: the identical CSR gets the same certificate.
    pub csr_sha256: Vec<u8>,
    /// SHA-256 of the robot's public key (SubjectPublicKeyInfo DER).
    pub spki_sha256: Vec<u8>,
    /// The request, kept for the record.
    pub csr_der: Vec<u8>,
    /// A declared re-issue: supersedes the robot's live certificate.
    pub reissue: bool,
    /// Start of validity, unix seconds.
    pub not_before: i64,
    /// End of validity, unix seconds.
    pub not_after: i64,
    /// The key components to certify.
    pub components: Vec<ComponentRecord>,
}

/// What [`Issuance::begin_issuance`](super::roles::Issuance::begin_issuance) decided for one intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeginOutcome {
    /// Recorded as pending: the caller may sign now, then complete or abandon.
    Proceed,
    /// The identical CSR was already issued: return this certificate.
    Existing(CertificateRecord),
    /// The identical CSR is being issued by another request right now: wait
    /// and re-read [`Reads::certificate`](super::roles::Reads::certificate).
    InProgress {
        /// The serial being issued.
        serial_hex: String,
    },
    /// Not recorded; the rule (see [`rules`]) and why.
    Refused {
        /// The rule, e.g. `robot.live_certificate`.
        rule: Rule,
        /// A sentence naming the robot and the conflicting record.
        detail: String,
    },
}
