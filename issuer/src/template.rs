//! Certificate templates: rcgen parameters built from vetted data and the
//! issuer's settings, never from a CSR's own fields.

use rcgen::{
    CertificateParams, CrlDistributionPoint, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType, SerialNumber,
};
use robotid_verifier::identity::RobotIdentity;
use robotid_verifier::oid;
use robotid_verifier::profile::robot_uri;
use time::OffsetDateTime;

use crate::extensions::{self, ExtensionError};

/// Where relying parties find the issuer's OCSP responder, certificate and
/// CRL; all derived from the CA's public base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrls {
    /// OCSP responder.
    pub ocsp: String,
    /// The issuing CA's certificate (DER).
    pub ca_issuers: String,
    /// The issuer's CRL.
    pub crl: String,
}

impl PublicUrls {
    /// The URLs under `base` (e.g. `http://127.0.0.1:8080`) for the issuer
    /// whose id is `issuer_id`.
    pub fn new(base: &str, issuer_id: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            ocsp: format!("{base}/ocsp"),
            ca_issuers: format!("{base}/ca/{issuer_id}.cer"),
            crl: format!("{base}/crl/{issuer_id}.crl"),
        }
    }
}

/// A serial number of 16 octets from the system's CSPRNG: 127 random bits
/// (the top bit is cleared so the INTEGER is positive, and the first octet is
/// made non-zero so the encoding keeps all 16 octets).
pub fn random_serial() -> Result<Vec<u8>, ring::error::Unspecified> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes)?;
    bytes[0] &= 0x7f;
    if bytes[0] == 0 {
        bytes[0] = 0x01;
    }
    Ok(bytes.to_vec())
}

fn printable(s: &str) -> DnValue {
    match rcgen::string::PrintableString::try_from(s) {
        Ok(p) => DnValue::PrintableString(p),
        Err(_) => DnValue::Utf8String(s.to_owned()),
    }
}

/// The parameters of a robot's certificate.
pub fn robot(
    identity: &RobotIdentity,
    encoded_identity: Vec<u8>,
    serial: &[u8],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    urls: &PublicUrls,
) -> Result<CertificateParams, ExtensionError> {
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        printable(&identity.manufacturer.country),
    );
    dn.push(
        DnType::OrganizationName,
        identity.manufacturer.name.as_str(),
    );
    dn.push(
        DnType::CustomDnType(oid::arcs_u64(&oid::ID_AT_SERIAL_NUMBER)),
        printable(&identity.robot_id),
    );
    dn.push(DnType::CommonName, identity.robot_id.as_str());

    let uri = rcgen::string::Ia5String::try_from(robot_uri(&identity.robot_id)).map_err(|e| {
        ExtensionError {
            extension: "subjectAltName",
            reason: e.to_string(),
        }
    })?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = not_before;
    params.not_after = not_after;
    params.subject_alt_names = vec![SanType::URI(uri)];
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::Other(oid::arcs_u64(&oid::ID_KP_ROBOT_IDENTITY)),
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![urls.crl.clone()],
    }];
    params.use_authority_key_identifier_extension = true;
    params.custom_extensions = vec![
        extensions::authority_info_access(&urls.ocsp, &urls.ca_issuers)?,
        extensions::certificate_policies(&[oid::ID_CP_MARKET_ENTRY_V1])?,
        extensions::robot_identity(encoded_identity),
    ];
    Ok(params)
}
