//! Extensions rcgen has no field for, encoded with RustCrypto's x509-cert
//! types (no hand-written DER) and handed to rcgen as custom extensions.

use const_oid::ObjectIdentifier;
use der::Encode;
use der::asn1::Ia5String;
use rcgen::CustomExtension;
use robotid_verifier::oid;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, CertificatePolicies, SubjectKeyIdentifier,
};

/// Access methods of RFC 5280's AIA.
const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const ID_AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// An extension could not be encoded (a URL that is not IA5, say).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the {extension} extension: {reason}")]
pub struct ExtensionError {
    /// Which extension.
    pub extension: &'static str,
    /// Why.
    pub reason: String,
}

fn custom(oid: &ObjectIdentifier, content: Vec<u8>, critical: bool) -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(&oid::arcs_u64(oid), content);
    ext.set_criticality(critical);
    ext
}

fn uri(extension: &'static str, url: &str) -> Result<GeneralName, ExtensionError> {
    Ia5String::new(url)
        .map(GeneralName::UniformResourceIdentifier)
        .map_err(|e| ExtensionError {
            extension,
            reason: format!("{url:?}: {e}"),
        })
}

/// Authority information access: the OCSP responder and the issuer's
/// certificate.
pub fn authority_info_access(
    ocsp_url: &str,
    ca_issuers_url: &str,
) -> Result<CustomExtension, ExtensionError> {
    const NAME: &str = "authorityInfoAccess";
    let aia = AuthorityInfoAccessSyntax(vec![
        AccessDescription {
            access_method: ID_AD_OCSP,
            access_location: uri(NAME, ocsp_url)?,
        },
        AccessDescription {
            access_method: ID_AD_CA_ISSUERS,
            access_location: uri(NAME, ca_issuers_url)?,
        },
    ]);
    let content = aia.to_der().map_err(|e| ExtensionError {
        extension: NAME,
        reason: e.to_string(),
    })?;
    Ok(custom(&oid::ID_PE_AUTHORITY_INFO_ACCESS, content, false))
}

/// Certificate policies: the policy OIDs given, without qualifiers.
pub fn certificate_policies(
    policies: &[ObjectIdentifier],
) -> Result<CustomExtension, ExtensionError> {
    let cp = CertificatePolicies(
        policies
            .iter()
            .map(|p| PolicyInformation {
                policy_identifier: *p,
                policy_qualifiers: None,
            })
            .collect(),
    );
    let content = cp.to_der().map_err(|e| ExtensionError {
        extension: "certificatePolicies",
        reason: e.to_string(),
    })?;
    Ok(custom(&oid::ID_CE_CERTIFICATE_POLICIES, content, false))
}

/// The RobotIdentity extension, non-critical so generic verifiers accept
/// the certificate.
pub fn robot_identity(encoded: Vec<u8>) -> CustomExtension {
    custom(&oid::ID_PE_ROBOT_IDENTITY, encoded, false)
}

/// id-pkix-ocsp-nocheck: the OCSP signer's own status is not checked
/// (RFC 6960 4.2.2.2.1); its value is NULL.
pub fn ocsp_nocheck() -> Result<CustomExtension, ExtensionError> {
    let content = der::asn1::Null.to_der().map_err(|e| ExtensionError {
        extension: "ocspNoCheck",
        reason: e.to_string(),
    })?;
    Ok(custom(&oid::ID_PKIX_OCSP_NOCHECK, content, false))
}

/// The key identifier of the public key in `spki_der` (a DER
/// SubjectPublicKeyInfo) by RFC 7093 section 2 method 1: the leftmost 160
/// bits of the SHA-256 of the subjectPublicKey bits. pkilint recognises the
/// method, and it is what docs/profile promises.
pub fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>, ExtensionError> {
    use der::Decode;
    let spki = x509_cert::spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|e| {
        ExtensionError {
            extension: "subjectKeyIdentifier",
            reason: format!("the subject's public key does not parse: {e}"),
        }
    })?;
    let digest = ring::digest::digest(&ring::digest::SHA256, spki.subject_public_key.raw_bytes());
    Ok(digest.as_ref()[..20].to_vec())
}

/// subjectKeyIdentifier (RFC 5280 4.2.1.2, non-critical) for the key in
/// `spki_der`: every certificate RobotID issues carries one, end entities
/// included, so relying parties and pkilint find the key by its identifier.
pub fn subject_key_identifier(spki_der: &[u8]) -> Result<CustomExtension, ExtensionError> {
    const NAME: &str = "subjectKeyIdentifier";
    let id =
        der::asn1::OctetString::new(key_identifier(spki_der)?).map_err(|e| ExtensionError {
            extension: NAME,
            reason: e.to_string(),
        })?;
    let content = SubjectKeyIdentifier(id)
        .to_der()
        .map_err(|e| ExtensionError {
            extension: NAME,
            reason: e.to_string(),
        })?;
    Ok(custom(&oid::ID_CE_SUBJECT_KEY_IDENTIFIER, content, false))
}
