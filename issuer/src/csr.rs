//! CSR intake: parse a PKCS#10 request with x509-parser (rcgen's own parser
//! refuses unknown extensions such as ours), check its signature — the
//! robot's proof that it holds the key — and decode its `RobotIdentity`.

use robotid_verifier::identity::{IdentityError, RobotIdentity};
use robotid_verifier::oid;
use robotid_verifier::profile::{KeyAlgorithm, x509_oid};
use robotid_verifier::rule::Rule;
use rustls_pki_types::CertificateSigningRequestDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::prelude::{FromDer, X509CertificationRequest};

/// Largest CSR accepted, in bytes (DER). A robot's CSR is about 1 KiB; 64 KiB
/// leaves room for 256 components without letting a request eat memory.
pub const MAX_CSR_BYTES: usize = 64 * 1024;

/// Why a CSR is refused. [`CsrError::rule`] gives a stable rule id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    /// Larger than [`MAX_CSR_BYTES`].
    #[error("CSR is {len} bytes; at most {MAX_CSR_BYTES} are accepted")]
    TooLarge {
        /// Its size.
        len: usize,
    },
    /// Neither PEM (`CERTIFICATE REQUEST`) nor DER.
    #[error("CSR is neither PEM nor DER: {0}")]
    Encoding(String),
    /// Not a PKCS#10 structure.
    #[error("CSR is not a valid PKCS#10 request: {0}")]
    Malformed(String),
    /// Bytes after the request.
    #[error("CSR has {0} bytes of trailing data")]
    TrailingData(usize),
    /// The signature does not verify with the request's own key.
    #[error("CSR signature does not verify with its public key (no proof of possession): {0}")]
    Signature(String),
    /// The key is not P-256, P-384 or Ed25519.
    #[error("CSR public key algorithm {0} is not supported; use p256, p384 or ed25519")]
    UnsupportedKey(String),
    /// No `RobotIdentity` in the extensionRequest.
    #[error("CSR carries no RobotIdentity extension in its extensionRequest attribute")]
    MissingIdentity,
    /// The `RobotIdentity` is malformed.
    #[error("CSR {0}")]
    Identity(#[from] IdentityError),
}

impl CsrError {
    /// Stable rule id, for problem documents and logs.
    pub fn rule(&self) -> Rule {
        match self {
            Self::TooLarge { .. } => Rule::CsrSize,
            Self::Encoding(_) => Rule::CsrEncoding,
            Self::Malformed(_) | Self::TrailingData(_) => Rule::CsrDer,
            Self::Signature(_) => Rule::CsrSignature,
            Self::UnsupportedKey(_) => Rule::CsrKeyAlgorithm,
            Self::MissingIdentity => Rule::CsrIdentityMissing,
            Self::Identity(e) => e.rule(),
        }
    }
}

/// A request whose signature verified and whose identity decoded. Nothing
/// in it is vetted yet: see [`crate::vetting`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCsr {
    /// The requested identity, as the requester states it.
    pub identity: RobotIdentity,
    /// The robot's SubjectPublicKeyInfo, DER.
    pub spki_der: Vec<u8>,
    /// The robot's key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// The request itself, DER.
    pub der: Vec<u8>,
}

/// The DER of a CSR given as PEM or DER.
pub fn decode_pem_or_der(bytes: &[u8]) -> Result<Vec<u8>, CsrError> {
    if bytes.len() > 2 * MAX_CSR_BYTES {
        return Err(CsrError::TooLarge { len: bytes.len() });
    }
    let der = if bytes.first() == Some(&0x30) {
        bytes.to_vec()
    } else {
        CertificateSigningRequestDer::from_pem_slice(bytes)
            .map_err(|e| CsrError::Encoding(e.to_string()))?
            .as_ref()
            .to_vec()
    };
    if der.len() > MAX_CSR_BYTES {
        return Err(CsrError::TooLarge { len: der.len() });
    }
    Ok(der)
}

/// Parses `der`, checks its signature and key, and decodes its identity.
pub fn verify(der: &[u8]) -> Result<VerifiedCsr, CsrError> {
    if der.len() > MAX_CSR_BYTES {
        return Err(CsrError::TooLarge { len: der.len() });
    }
    let (rest, csr) =
        X509CertificationRequest::from_der(der).map_err(|e| CsrError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CsrError::TrailingData(rest.len()));
    }
    let info = &csr.certification_request_info;
    let key_algorithm = KeyAlgorithm::of_spki(&info.subject_pki).ok_or_else(|| {
        CsrError::UnsupportedKey(info.subject_pki.algorithm.algorithm.to_id_string())
    })?;
    csr.verify_signature()
        .map_err(|e| CsrError::Signature(e.to_string()))?;
    let wanted = x509_oid(&oid::ID_PE_ROBOT_IDENTITY);
    let value = info
        .iter_attributes()
        .filter_map(|attr| match attr.parsed_attribute() {
            ParsedCriAttribute::ExtensionRequest(req) => Some(&req.extensions),
            _ => None,
        })
        .flatten()
        .find(|ext| ext.oid == wanted)
        .map(|ext| ext.value)
        .ok_or(CsrError::MissingIdentity)?;
    Ok(VerifiedCsr {
        identity: RobotIdentity::from_der(value)?,
        spki_der: info.subject_pki.raw.to_vec(),
        key_algorithm,
        der: der.to_vec(),
    })
}

/// Makes the CSR a robot sends: its key, a subject naming the robot ID, and
/// the `RobotIdentity` in the extensionRequest attribute.
pub fn create(identity: &RobotIdentity, key: &rcgen::KeyPair) -> Result<Vec<u8>, CsrError> {
    let encoded = identity.to_der()?;
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, identity.robot_id.as_str());
    params.distinguished_name = dn;
    params.custom_extensions = vec![crate::extensions::robot_identity(encoded)];
    let csr = params
        .serialize_request(key)
        .map_err(|e| CsrError::Malformed(e.to_string()))?;
    Ok(csr.der().as_ref().to_vec())
}
