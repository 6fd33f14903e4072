//! Certificates for the people and machines that talk to the CA server: the
//! operator's and manufacturers' client credentials and the server's own TLS
//! certificate. The templates live here, so a caller names a kind of
//! credential and never passes certificate parameters of its own.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose,
    SanType, SerialNumber,
};
use robotid_verifier::oid;
use time::{Duration, OffsetDateTime};

use crate::template::random_serial;

/// What a credential lets its holder do; carried in the subject's OU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// The platform operator (administration of the registry).
    Operator {
        /// The operator's name (CN).
        name: String,
    },
    /// A manufacturer's enrollment client.
    Manufacturer {
        /// Manufacturer code (CN).
        code: String,
        /// Manufacturer name (O).
        name: String,
    },
    /// The CA server's own TLS certificate.
    Server {
        /// Host names and IP addresses it answers on.
        hosts: Vec<String>,
    },
}

/// The OU of operator credentials.
pub const OU_OPERATOR: &str = "operator";
/// The OU of manufacturer credentials.
pub const OU_MANUFACTURER: &str = "manufacturer";

/// How long credentials are valid.
pub const CREDENTIAL_VALIDITY: Duration = Duration::days(365);

/// The subjectAltName URI of a client credential:
/// `urn:robotid:<role>:<name>`, the name percent-encoded outside RFC 3986's
/// unreserved characters. Client verifiers (Python `cryptography`'s
/// ClientVerifier among them) require a SAN on every leaf; the subject
/// stays what the server authenticates.
pub fn credential_uri(role: &str, name: &str) -> String {
    let mut out = format!("urn:robotid:{role}:");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn urn(role: &str, name: &str) -> Result<SanType, String> {
    rcgen::string::Ia5String::try_from(credential_uri(role, name))
        .map(SanType::URI)
        .map_err(|e| format!("{role} {name:?}: {e}"))
}

/// The certificate parameters of `kind`, valid from `now`.
pub(crate) fn params(
    kind: &CredentialKind,
    ca_name: &str,
    now: OffsetDateTime,
) -> Result<CertificateParams, String> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    match kind {
        CredentialKind::Operator { name } => {
            dn.push(DnType::OrganizationName, ca_name);
            dn.push(DnType::OrganizationalUnitName, OU_OPERATOR);
            dn.push(DnType::CommonName, name.as_str());
            params.subject_alt_names = vec![urn(OU_OPERATOR, name)?];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        CredentialKind::Manufacturer { code, name } => {
            dn.push(DnType::OrganizationName, name.as_str());
            dn.push(DnType::OrganizationalUnitName, OU_MANUFACTURER);
            dn.push(DnType::CommonName, code.as_str());
            params.subject_alt_names = vec![urn(OU_MANUFACTURER, code)?];
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ClientAuth,
                ExtendedKeyUsagePurpose::Other(oid::arcs_u64(&oid::ID_KP_MANUFACTURER_ENROLLMENT)),
            ];
        }
        CredentialKind::Server { hosts } => {
            dn.push(DnType::OrganizationName, ca_name);
            dn.push(DnType::CommonName, format!("{ca_name} server"));
            params.subject_alt_names = hosts
                .iter()
                .map(|h| match h.parse() {
                    Ok(ip) => Ok(SanType::IpAddress(ip)),
                    Err(_) => rcgen::string::Ia5String::try_from(h.as_str())
                        .map(SanType::DnsName)
                        .map_err(|e| format!("host {h:?}: {e}")),
                })
                .collect::<Result<_, _>>()?;
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
    }
    params.distinguished_name = dn;
    params.serial_number = Some(SerialNumber::from_slice(
        &random_serial().map_err(|_| "random source failed".to_string())?,
    ));
    params.not_before = now - Duration::minutes(1);
    params.not_after = now + CREDENTIAL_VALIDITY;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_uris_escape_what_a_urn_cannot_hold() {
        assert_eq!(
            credential_uri(OU_MANUFACTURER, "UBX"),
            "urn:robotid:manufacturer:UBX"
        );
        assert_eq!(
            credential_uri(OU_OPERATOR, "Ops team/1 é"),
            "urn:robotid:operator:Ops%20team%2F1%20%C3%A9"
        );
    }
}
