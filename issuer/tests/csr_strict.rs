//! CSR intake reads strictly (issue 22, class 7): every lenient reading the
//! hostile-input review found certified is refused with its own rule.

// Test helpers unwrap: a panic with the error is the failure report.
#![allow(clippy::unwrap_used)]

use der::{Decode, Encode};
use rcgen::SigningKey;
use robotid_issuer::csr::{self, CsrError};
use robotid_verifier::identity::{DigestAlgorithm, KeyComponent, Manufacturer, RobotIdentity};
use robotid_verifier::rule::Rule;
use x509_cert::request::{CertReq, CertReqInfo};

fn identity() -> RobotIdentity {
    RobotIdentity {
        robot_id: "UBX-WK5-00001234-I".into(),
        manufacturer: Manufacturer {
            code: "UBX".into(),
            name: "UBX".into(),
            country: "XX".into(),
        },
        model: "WK5".into(),
        production_date: der::DateTime::new(2026, 11, 20, 0, 0, 0).unwrap(),
        parameters: vec![],
        components: vec![KeyComponent {
            kind: "main-controller".into(),
            part_number: "MC-9000".into(),
            supplier: "Example Compute Co.".into(),
            serial: "MC9-2026-000812".into(),
            digests: vec![DigestAlgorithm::Sha256.digest(b"firmware")],
        }],
    }
}

fn good() -> (Vec<u8>, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let der = csr::create(&identity(), &key).unwrap();
    csr::verify(&der).unwrap();
    (der, key)
}

/// `info` (DER, possibly patched) signed by `key` into a request, with the
/// good request's algorithm.
fn sign(info_der: &[u8], key: &rcgen::KeyPair, like: &CertReq) -> Vec<u8> {
    let signature = key.sign(info_der).unwrap();
    let mut body = info_der.to_vec();
    body.extend(like.algorithm.to_der().unwrap());
    body.extend(
        der::asn1::BitString::from_bytes(&signature)
            .unwrap()
            .to_der()
            .unwrap(),
    );
    let mut out = der::Header::new(der::Tag::Sequence, body.len())
        .unwrap()
        .to_der()
        .unwrap();
    out.extend(body);
    out
}

fn resign(edit: impl FnOnce(&mut CertReqInfo)) -> Vec<u8> {
    let (der, key) = good();
    let mut request = CertReq::from_der(&der).unwrap();
    edit(&mut request.info);
    sign(&request.info.to_der().unwrap(), &key, &request)
}

fn rule_of(der: &[u8]) -> (Rule, String) {
    let e = csr::decode_pem_or_der(der)
        .and_then(|d| csr::verify(&d))
        .unwrap_err();
    (e.rule(), e.to_string())
}

#[test]
fn a_ber_length_is_refused_as_not_der() {
    let (der, _) = good();
    // The outer SEQUENCE's length in one more byte than needed: BER, and
    // the signature (over the request info) still verifies.
    assert_eq!(der[1], 0x82, "a CSR of 256 to 65535 bytes");
    let mut ber = vec![0x30, 0x83, 0x00];
    ber.extend_from_slice(&der[2..]);
    let (rule, message) = rule_of(&ber);
    assert_eq!(rule, Rule::CsrDer, "{message}");
    assert!(message.contains("not DER"), "{message}");
}

#[test]
fn a_ber_length_inside_the_signed_info_is_refused() {
    let (der, key) = good();
    let request = CertReq::from_der(&der).unwrap();
    let info = request.info.to_der().unwrap();
    // The info's own length, non-minimal, and signed as such.
    assert_eq!(info[1], 0x82);
    let mut ber = vec![0x30, 0x83, 0x00];
    ber.extend_from_slice(&info[2..]);
    let (rule, message) = rule_of(&sign(&ber, &key, &request));
    assert_eq!(rule, Rule::CsrDer, "{message}");
}

#[test]
fn a_version_other_than_v1_is_refused_by_name() {
    let (der, key) = good();
    let request = CertReq::from_der(&der).unwrap();
    let mut info = request.info.to_der().unwrap();
    // SEQUENCE (30 82 LL LL) then INTEGER 0 (02 01 00).
    assert_eq!(&info[4..7], &[0x02, 0x01, 0x00]);
    for version in [1u8, 2] {
        info[6] = version;
        let (rule, message) = rule_of(&sign(&info, &key, &request));
        assert_eq!(rule, Rule::CsrVersion, "{message}");
        assert!(
            message.contains(&format!("version is {version}")),
            "{message}"
        );
    }
}

#[test]
fn two_robot_identities_are_refused() {
    let key = rcgen::KeyPair::generate().unwrap();
    let encoded = identity().to_der().unwrap();
    let mut other = identity();
    other.components[0].serial = "OTHER".into();
    let mut params = rcgen::CertificateParams::default();
    let arcs: Vec<u64> = robotid_verifier::oid::ID_PE_ROBOT_IDENTITY
        .arcs()
        .map(u64::from)
        .collect();
    params.custom_extensions = vec![
        rcgen::CustomExtension::from_oid_content(&arcs, encoded),
        rcgen::CustomExtension::from_oid_content(&arcs, other.to_der().unwrap()),
    ];
    let der = params.serialize_request(&key).unwrap().der().to_vec();
    let (rule, message) = rule_of(&der);
    assert_eq!(rule, Rule::CsrIdentityRepeated, "{message}");
    assert!(message.contains("2 times"), "{message}");
}

#[test]
fn two_extension_requests_are_refused() {
    let der = resign(|info| {
        let first = info.attributes.iter().next().unwrap().clone();
        // A second extensionRequest with another extension, so the SET's
        // members differ (DER forbids equal ones anyway).
        let mut second = first.clone();
        let ext = x509_cert::ext::Extension {
            extn_id: const_oid::db::rfc5280::ID_CE_KEY_USAGE,
            critical: false,
            extn_value: der::asn1::OctetString::new(vec![0x03, 0x02, 0x07, 0x80]).unwrap(),
        };
        second.values =
            der::asn1::SetOfVec::try_from(vec![der::asn1::Any::encode_from(&vec![ext]).unwrap()])
                .unwrap();
        info.attributes.insert(second).unwrap();
        assert_eq!(info.attributes.len(), 2);
    });
    let (rule, message) = rule_of(&der);
    assert_eq!(rule, Rule::CsrExtensionRequest, "{message}");
    assert!(message.contains("2 extensionRequest"), "{message}");
}

#[test]
fn two_pem_blocks_are_refused_and_one_with_text_around_it_is_read() {
    let (der, _) = good();
    let block = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der.clone()));
    let two = format!("{block}{block}");
    let (rule, message) = rule_of(two.as_bytes());
    assert_eq!(rule, Rule::CsrPem, "{message}");
    assert!(message.contains("2 PEM blocks"), "{message}");
    let explained = format!("Robot UBX-WK5-00001234-I\n{block}");
    assert_eq!(csr::decode_pem_or_der(explained.as_bytes()).unwrap(), der);
    let wrong = pem::encode(&pem::Pem::new("CERTIFICATE", der));
    assert_eq!(rule_of(wrong.as_bytes()).0, Rule::CsrPem);
}

/// The good request passes every check, so the refusals above are the
/// edits' doing.
#[test]
fn a_good_request_passes() {
    let (der, _) = good();
    let verified = csr::verify(&der).unwrap();
    assert_eq!(verified.identity, identity());
    assert!(matches!(
        csr::verify(&der[..der.len() - 1]),
        Err(CsrError::Malformed(_))
    ));
}
