//! CSR intake: parse a PKCS#10 request with x509-parser (rcgen's own parser
//! refuses unknown extensions such as ours), check its signature — the
//! robot's proof that it holds the key — and decode its `RobotIdentity`.
//!
//! A CA signs what it reads, so it reads strictly (decision 0025): exactly
//! one PEM block; DER only (the `der` crate's decoder of `x509-cert`'s
//! `CertReq` refuses BER: non-minimal lengths, indefinite lengths, unsorted
//! SETs); PKCS#10 version 0 (v1) only; exactly one extensionRequest
//! attribute holding exactly one value; no extension twice in it, so
//! exactly one `RobotIdentity`. Each refusal has its own rule.

use robotid_verifier::identity::{IdentityError, RobotIdentity};
use robotid_verifier::oid;
use robotid_verifier::profile::{KeyAlgorithm, x509_oid};
use robotid_verifier::rule::Rule;
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
    /// More than one PEM block, or a block of another kind.
    #[error("CSR PEM: {0}")]
    PemBlocks(String),
    /// BER where DER is required.
    #[error(
        "CSR is not DER (distinguished encoding): {0}; re-encode it (e.g. `openssl req -outform DER`)"
    )]
    NotDer(String),
    /// A PKCS#10 version other than v1 (0).
    #[error("CSR version is {0}; PKCS#10 defines only version 0 (v1)")]
    Version(u32),
    /// The extensionRequest attribute is repeated, or holds other than one value.
    #[error("CSR extensionRequest: {0}")]
    ExtensionRequest(String),
    /// An extension appears twice in the extensionRequest.
    #[error("CSR extensionRequest holds extension {oid} {count} times; each at most once")]
    ExtensionRepeated {
        /// The extension's OID.
        oid: String,
        /// How many times.
        count: usize,
    },
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
            Self::Malformed(_) | Self::TrailingData(_) | Self::NotDer(_) => Rule::CsrDer,
            Self::PemBlocks(_) => Rule::CsrPem,
            Self::Version(_) => Rule::CsrVersion,
            Self::ExtensionRequest(_) => Rule::CsrExtensionRequest,
            Self::ExtensionRepeated { oid, .. }
                if *oid == oid::ID_PE_ROBOT_IDENTITY.to_string() =>
            {
                Rule::CsrIdentityRepeated
            }
            Self::ExtensionRepeated { .. } => Rule::CsrExtensionRepeated,
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

/// The PEM label of a CSR (RFC 7468).
const PEM_LABEL: &str = "CERTIFICATE REQUEST";

/// The DER of a CSR given as PEM (exactly one `CERTIFICATE REQUEST`
/// block; explanatory text around it is allowed, RFC 7468) or DER.
pub fn decode_pem_or_der(bytes: &[u8]) -> Result<Vec<u8>, CsrError> {
    if bytes.len() > 2 * MAX_CSR_BYTES {
        return Err(CsrError::TooLarge { len: bytes.len() });
    }
    // DER is one SEQUENCE filling the input (or, BER, starts like one and
    // holds no PEM armour: the strict reading names it); text that merely
    // starts with '0' (0x30) is PEM with explanatory text before it.
    use robotid_verifier::input::{is_der, is_pem};
    let der = if is_der(bytes) || (bytes.first() == Some(&0x30) && !is_pem(bytes)) {
        bytes.to_vec()
    } else {
        let blocks = pem::parse_many(bytes).map_err(|e| CsrError::Encoding(e.to_string()))?;
        match blocks.as_slice() {
            [] => {
                return Err(CsrError::Encoding(format!(
                    "no PEM block ({PEM_LABEL}) and not DER"
                )));
            }
            [one] if one.tag() == PEM_LABEL => one.contents().to_vec(),
            [one] => {
                return Err(CsrError::PemBlocks(format!(
                    "the block is {:?}, not {PEM_LABEL:?}",
                    robotid_verifier::text::terminal_cut(one.tag(), 64)
                )));
            }
            many => {
                return Err(CsrError::PemBlocks(format!(
                    "{} PEM blocks; a CSR file holds exactly one (send several CSRs as a batch)",
                    many.len()
                )));
            }
        }
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
    strict(der)?;
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

/// The encoding of any CSR the CA reads (robots' and credentials'): a
/// PKCS#10 v1 request in DER. Returns the request as read.
pub fn strict_der(der: &[u8]) -> Result<x509_cert::request::CertReq, CsrError> {
    use der::Decode;
    let (rest, csr) =
        X509CertificationRequest::from_der(der).map_err(|e| CsrError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CsrError::TrailingData(rest.len()));
    }
    // The version before strict decoding, so a v2 request is named as
    // such rather than as malformed.
    let version = csr.certification_request_info.version.0;
    if version != 0 {
        return Err(CsrError::Version(version));
    }
    // x509-parser, which reads BER, has read the request already, so what
    // the strict decoder refuses here is the encoding: a non-minimal or
    // indefinite length, an unsorted SET, a non-canonical value.
    x509_cert::request::CertReq::from_der(der).map_err(|e| CsrError::NotDer(e.to_string()))
}

/// The strict reading of a robot's request `der`: [`strict_der`], one
/// extensionRequest with one value, no extension in it twice.
fn strict(der: &[u8]) -> Result<(), CsrError> {
    let request = strict_der(der)?;
    let ext_req = const_oid::db::rfc5912::ID_EXTENSION_REQ;
    let requests: Vec<_> = request
        .info
        .attributes
        .iter()
        .filter(|a| a.oid == ext_req)
        .collect();
    let attribute = match requests.as_slice() {
        [] => return Err(CsrError::MissingIdentity),
        [one] => *one,
        many => {
            return Err(CsrError::ExtensionRequest(format!(
                "{} extensionRequest attributes; exactly one is allowed",
                many.len()
            )));
        }
    };
    let [value] = attribute.values.as_slice() else {
        return Err(CsrError::ExtensionRequest(format!(
            "the attribute holds {} values; exactly one (the Extensions) is allowed",
            attribute.values.len()
        )));
    };
    let extensions: Vec<x509_cert::ext::Extension> = value
        .decode_as()
        .map_err(|e| CsrError::ExtensionRequest(format!("its Extensions: {e}")))?;
    for (i, ext) in extensions.iter().enumerate() {
        if extensions[..i].iter().any(|e| e.extn_id == ext.extn_id) {
            continue;
        }
        let count = extensions
            .iter()
            .filter(|e| e.extn_id == ext.extn_id)
            .count();
        if count > 1 {
            return Err(CsrError::ExtensionRepeated {
                oid: ext.extn_id.to_string(),
                count,
            });
        }
    }
    Ok(())
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
