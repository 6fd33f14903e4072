//! Object identifiers of the RobotID profile.
//!
//! The arc is derived from the UUID `8bff3a8d-dbfa-43c8-8ce3-8dfc882427f5`
//! under Microsoft's GUID arc (1.2.840.113556.1.8000.2554), which needs no
//! registration and, unlike the `2.25.<uuid>` form, keeps every arc within
//! 32 bits so rcgen, RustCrypto's `der` and Go's `crypto/x509` can all
//! handle it. See docs/decisions/0002-oid-arc.md.

use const_oid::ObjectIdentifier;

/// The root of RobotID's OID arc.
pub const ID_ROBOTID: ObjectIdentifier = ObjectIdentifier::new_unwrap(
    "1.2.840.113556.1.8000.2554.35839.14989.56314.17352.36067.9305224.2369525",
);

/// Extension carrying the `RobotIdentity` (id-robotid.1.1), non-critical.
pub const ID_PE_ROBOT_IDENTITY: ObjectIdentifier = ObjectIdentifier::new_unwrap(
    "1.2.840.113556.1.8000.2554.35839.14989.56314.17352.36067.9305224.2369525.1.1",
);

/// Key purpose: robot identity (id-robotid.2.1).
pub const ID_KP_ROBOT_IDENTITY: ObjectIdentifier = ObjectIdentifier::new_unwrap(
    "1.2.840.113556.1.8000.2554.35839.14989.56314.17352.36067.9305224.2369525.2.1",
);

/// Key purpose: manufacturer enrollment client (id-robotid.2.2).
pub const ID_KP_MANUFACTURER_ENROLLMENT: ObjectIdentifier = ObjectIdentifier::new_unwrap(
    "1.2.840.113556.1.8000.2554.35839.14989.56314.17352.36067.9305224.2369525.2.2",
);

/// Key purpose: lifecycle history signing, the CA's signature on a robot's
/// history chain head (id-robotid.2.3).
pub const ID_KP_LIFECYCLE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap(
    "1.2.840.113556.1.8000.2554.35839.14989.56314.17352.36067.9305224.2369525.2.3",
);

/// Certificate policy: market entry, version 1 (id-robotid.3.1).
pub const ID_CP_MARKET_ENTRY_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap(
    "1.2.840.113556.1.8000.2554.35839.14989.56314.17352.36067.9305224.2369525.3.1",
);

/// SHA-256 (NIST hash algorithm 1).
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// SHA-384 (NIST hash algorithm 2).
pub const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// SHA-512 (NIST hash algorithm 3).
pub const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// id-kp-clientAuth (RFC 5280).
pub const ID_KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
/// id-kp-OCSPSigning (RFC 5280).
pub const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
/// id-pkix-ocsp-nocheck (RFC 6960).
pub const ID_PKIX_OCSP_NOCHECK: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");
/// id-pe-authorityInfoAccess (RFC 5280).
pub const ID_PE_AUTHORITY_INFO_ACCESS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
/// id-ce-certificatePolicies (RFC 5280).
pub const ID_CE_CERTIFICATE_POLICIES: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32");
/// id-ce-subjectKeyIdentifier (RFC 5280).
pub const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.14");
/// id-at-serialNumber (X.520), which carries the robot ID in the subject.
pub const ID_AT_SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");

/// The arcs of `oid` as `u64`s, the form rcgen takes for custom OIDs.
pub fn arcs_u64(oid: &ObjectIdentifier) -> Vec<u64> {
    oid.arcs().map(u64::from).collect()
}

/// The DER content octets of `oid` (no tag or length), the form rustls-webpki
/// takes for a required key purpose.
pub fn der_content(oid: &ObjectIdentifier) -> &[u8] {
    oid.as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_oids_sit_under_the_arc() {
        for oid in [
            ID_PE_ROBOT_IDENTITY,
            ID_KP_ROBOT_IDENTITY,
            ID_KP_MANUFACTURER_ENROLLMENT,
            ID_CP_MARKET_ENTRY_V1,
        ] {
            assert_eq!(oid.parent().and_then(|p| p.parent()), Some(ID_ROBOTID));
        }
    }

    #[test]
    fn arcs_fit_32_bits_and_round_trip() {
        let arcs = arcs_u64(&ID_PE_ROBOT_IDENTITY);
        assert_eq!(arcs.len(), 16);
        assert!(arcs.iter().all(|a| *a <= u64::from(u32::MAX)));
        let text = arcs
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        assert_eq!(text, ID_PE_ROBOT_IDENTITY.to_string());
    }
}
