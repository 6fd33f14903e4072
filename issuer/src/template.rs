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

/// A robot certificate's serial: 16 octets, the first 6 the issue time in
/// Unix milliseconds (big-endian), the other 10 from the system's CSPRNG.
///
/// The 80 random bits exceed the CA/Browser Forum's 64 and make the serial
/// unpredictable, as the chosen-prefix defence needs. The time in front
/// makes serials ascend, and their hex with them (fixed width): the
/// registry's serial-keyed B-trees then grow at their right edge, so a
/// small transaction writes a few adjacent pages instead of one random page
/// per certificate (decision 0016). The first octet is 0x01 from 2004 to
/// 2039 and stays below 0x80 until the year 6429: the INTEGER is positive and
/// keeps all 16 octets. The time reveals nothing notBefore does not.
pub fn ordered_serial(now: OffsetDateTime) -> Result<Vec<u8>, ring::error::Unspecified> {
    use ring::rand::SecureRandom;
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ring::error::Unspecified)?;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    if bytes[0] == 0 || bytes[0] >= 0x80 || millis >> 48 != 0 {
        return Err(ring::error::Unspecified);
    }
    ring::rand::SystemRandom::new().fill(&mut bytes[6..])?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used, reason = "test")]
    fn ordered_serials_ascend_with_time_and_keep_80_random_bits() {
        let t = time::macros::datetime!(2026-11-26 04:00:00 UTC);
        let a = ordered_serial(t).unwrap();
        let b = ordered_serial(t).unwrap();
        let later = ordered_serial(t + time::Duration::milliseconds(1)).unwrap();
        assert_eq!(a.len(), 16);
        // Positive, minimally encoded with all 16 octets.
        assert!(a[0] != 0 && a[0] < 0x80, "first octet {:#x}", a[0]);
        // Same millisecond: the same prefix, different random parts.
        assert_eq!(a[..6], b[..6]);
        assert_ne!(a[6..], b[6..]);
        // The next millisecond sorts after both, as bytes and as hex.
        assert!(later > a && later > b);
        assert!(hex::encode(&later) > hex::encode(&a));
        assert_eq!(
            u64::from_be_bytes([0, 0, a[0], a[1], a[2], a[3], a[4], a[5]]),
            u64::try_from(t.unix_timestamp() * 1000).unwrap()
        );
        // Until 2039 the first octet is 0x01; far dates still fit.
        assert_eq!(a[0], 0x01);
        let far = ordered_serial(time::macros::datetime!(6000-12-31 23:59:59 UTC)).unwrap();
        assert!(far[0] < 0x80);
    }
}
