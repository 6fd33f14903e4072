//! The CA's delegated signers: keys of the server that sign on the issuing
//! CA's behalf for one purpose each, certified by it for that purpose only.
//! This module owns their templates; [`crate::signer::Signer::prepare_delegated`]
//! is the only way to have one certified.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose,
    SerialNumber,
};
use robotid_verifier::oid;
use time::{Duration, OffsetDateTime};

use crate::extensions::{self, ExtensionError};
use crate::template::random_serial;

/// What a delegated signer signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// OCSP responses (id-kp-OCSPSigning, with ocsp-nocheck, RFC 6960).
    Ocsp,
    /// The heads of robots' lifecycle chains (id-robotid.2.3,
    /// docs/lifecycle.md).
    Lifecycle,
}

/// Life of a delegated signer's certificate; the server replaces it when a
/// third of that is left.
pub const VALIDITY: Duration = Duration::days(90);

/// How far a delegated signer's notBefore is set back, for relying parties
/// whose clocks are slightly behind.
pub const BACKDATE: Duration = Duration::minutes(1);

impl Purpose {
    /// The common name's suffix after the CA's name.
    pub fn title(self) -> &'static str {
        match self {
            Purpose::Ocsp => "OCSP Signer",
            Purpose::Lifecycle => "Lifecycle Signer",
        }
    }
}

/// The parameters of a delegated signer's certificate valid from `now`
/// (set back by [`BACKDATE`]) for [`VALIDITY`].
pub(crate) fn params(
    purpose: Purpose,
    ca_name: &str,
    now: OffsetDateTime,
) -> Result<CertificateParams, ExtensionError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, ca_name);
    dn.push(DnType::CommonName, format!("{ca_name} {}", purpose.title()));
    params.distinguished_name = dn;
    params.serial_number = Some(SerialNumber::from_slice(&random_serial().map_err(
        |_| ExtensionError {
            extension: "serialNumber",
            reason: "random source failed".into(),
        },
    )?));
    params.not_before = now - BACKDATE;
    params.not_after = now + VALIDITY;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    match purpose {
        Purpose::Ocsp => {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
            params.custom_extensions = vec![extensions::ocsp_nocheck()?];
        }
        Purpose::Lifecycle => {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(oid::arcs_u64(
                &oid::ID_KP_LIFECYCLE_SIGNING,
            ))];
        }
    }
    Ok(params)
}
