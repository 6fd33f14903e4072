//! Known-answer vectors (verifier/testdata/identity) and the decoder's
//! refusals. Set `ROBOTID_UPDATE_VECTORS=1` to rewrite the valid vectors
//! after a deliberate profile change; review the diff.

use std::path::PathBuf;

use super::*;

fn digest(alg: DigestAlgorithm, fill: u8) -> ComponentDigest {
    ComponentDigest {
        algorithm: alg,
        value: vec![fill; alg.output_len()],
    }
}

fn component(kind: &str, serial: &str, digests: Vec<ComponentDigest>) -> KeyComponent {
    KeyComponent {
        kind: kind.into(),
        part_number: "MC-9000".into(),
        supplier: "Example Compute Co.".into(),
        serial: serial.into(),
        digests,
    }
}

fn minimal() -> RobotIdentity {
    RobotIdentity {
        robot_id: "UBX-WK5-00001234-I".into(),
        manufacturer: Manufacturer {
            code: "UBX".into(),
            name: "Example Robotics Ltd".into(),
            country: "CN".into(),
        },
        model: "WK5".into(),
        production_date: der::DateTime::new(2026, 11, 20, 0, 0, 0).unwrap(),
        parameters: vec![],
        components: vec![component(
            "main-controller",
            "MC9-2026-000812",
            vec![digest(DigestAlgorithm::Sha256, 0xab)],
        )],
    }
}

fn full() -> RobotIdentity {
    let p = |name: &str, value: i64, unit: &str| TechnicalParameter {
        name: name.into(),
        value,
        unit: unit.into(),
    };
    RobotIdentity {
        parameters: vec![
            p("height", 1650, "mm"),
            p("mass", 58500, "g"),
            p("degrees_of_freedom", 41, "1"),
            p("payload", 15000, "g"),
            p("battery_capacity", 960000, "mWh"),
        ],
        components: vec![
            component(
                "main-controller",
                "MC9-2026-000812",
                vec![digest(DigestAlgorithm::Sha256, 0x11)],
            ),
            component(
                "safety-controller",
                "SC-77-0042",
                vec![
                    digest(DigestAlgorithm::Sha256, 0x22),
                    digest(DigestAlgorithm::Sha384, 0x33),
                ],
            ),
            component(
                "battery-pack",
                "BP-Ü-0001",
                vec![digest(DigestAlgorithm::Sha512, 0x44)],
            ),
        ],
        ..minimal()
    }
}

fn vector_path(name: &str, ext: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/identity")
        .join(format!("{name}.{ext}"))
}

fn check_vector(name: &str, identity: &RobotIdentity) {
    let der = identity.to_der().unwrap();
    let json = serde_json::to_string_pretty(identity).unwrap() + "\n";
    let hex_text = hex::encode(&der) + "\n";
    if std::env::var_os("ROBOTID_UPDATE_VECTORS").is_some() {
        std::fs::write(vector_path(name, "der.hex"), &hex_text).unwrap();
        std::fs::write(vector_path(name, "json"), &json).unwrap();
    }
    let stored_hex = std::fs::read_to_string(vector_path(name, "der.hex")).unwrap();
    let stored_json = std::fs::read_to_string(vector_path(name, "json")).unwrap();
    assert_eq!(stored_hex, hex_text, "encoding of {name} changed");
    assert_eq!(stored_json, json, "decoded form of {name} changed");
    let decoded = RobotIdentity::from_der(&hex::decode(stored_hex.trim()).unwrap()).unwrap();
    assert_eq!(&decoded, identity);
}

#[test]
fn minimal_vector() {
    check_vector("minimal", &minimal());
}

#[test]
fn full_vector() {
    check_vector("full", &full());
}

#[test]
fn default_version_is_omitted() {
    let der = minimal().to_der().unwrap();
    // SEQUENCE header, then robotId as PrintableString straight away.
    assert_eq!(der[0], 0x30);
    assert_eq!(
        der[body_offset(&der)],
        0x13,
        "first field must be robotId, not version"
    );
}

/// Where the outer SEQUENCE's contents start.
fn body_offset(der: &[u8]) -> usize {
    use der::{Decode, Encode};
    let mut reader = der::SliceReader::new(der).unwrap();
    der::Header::decode(&mut reader)
        .unwrap()
        .encoded_len()
        .unwrap()
        .try_into()
        .unwrap()
}

/// A SEQUENCE holding `body`.
fn sequence(body: &[u8]) -> Vec<u8> {
    use der::Encode;
    let mut out = der::Header::new(der::Tag::Sequence, body.len())
        .unwrap()
        .to_der()
        .unwrap();
    out.extend_from_slice(body);
    out
}

fn err(bytes: &[u8]) -> IdentityError {
    RobotIdentity::from_der(bytes).unwrap_err()
}

fn field_of(e: &IdentityError) -> &str {
    e.field()
}

/// Re-encodes `identity` skipping validation, to build invalid inputs.
fn raw(identity: &RobotIdentity) -> Vec<u8> {
    super::encode::to_der(identity).unwrap()
}

#[test]
fn trailing_data_is_refused() {
    let mut der = minimal().to_der().unwrap();
    der.push(0);
    let e = err(&der);
    assert!(
        matches!(e, IdentityError::TrailingData { bytes: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("trailing"));
}

#[test]
fn wrong_tag_names_the_field() {
    let der = minimal().to_der().unwrap();
    // robotId's tag: PrintableString (0x13) -> UTF8String (0x0c).
    let mut wrong = der.clone();
    wrong[body_offset(&der)] = 0x0c;
    let e = err(&wrong);
    assert_eq!(field_of(&e), "robotId", "{e}");
    // The components' [1] tag -> [2].
    let pos = der.iter().rposition(|b| *b == 0xa1).unwrap();
    let mut wrong = der.clone();
    wrong[pos] = 0xa2;
    let e = err(&wrong);
    assert_eq!(field_of(&e), "components", "{e}");
}

#[test]
fn empty_and_oversized_strings_are_refused() {
    let mut id = minimal();
    id.model = String::new();
    let e = err(&raw(&id));
    assert!(
        matches!(&e, IdentityError::Length { field, len: 0, .. } if field == "model"),
        "{e}"
    );

    let mut id = minimal();
    id.components[0].serial = "x".repeat(129);
    let e = err(&raw(&id));
    assert_eq!(field_of(&e), "components[0].serial", "{e}");
    assert!(e.to_string().contains("1..=128"), "{e}");

    let mut id = minimal();
    id.robot_id = "A".repeat(65);
    assert_eq!(field_of(&err(&raw(&id))), "robotId");
}

#[test]
fn unknown_and_explicit_versions_are_refused() {
    let der = minimal().to_der().unwrap();
    for (version, expect_unknown) in [(1u8, true), (0u8, false)] {
        // Insert `INTEGER version` at the start of the SEQUENCE body.
        let mut body = vec![0x02, 0x01, version];
        body.extend_from_slice(&der[body_offset(&der)..]);
        let e = err(&sequence(&body));
        assert_eq!(field_of(&e), "version", "{e}");
        assert_eq!(
            matches!(e, IdentityError::UnknownVersion { found: 1 }),
            expect_unknown
        );
    }
}

#[test]
fn digest_rules() {
    let mut id = minimal();
    id.components[0].digests[0].value.pop();
    let e = err(&raw(&id));
    assert_eq!(field_of(&e), "components[0].digests[0].digest", "{e}");

    let der = minimal().to_der().unwrap();
    // Turn SHA-256's OID (…2.1) into …2.9, an unknown hash.
    let sha256 = DigestAlgorithm::Sha256.oid();
    let oid = sha256.as_bytes();
    let pos = der.windows(oid.len()).position(|w| w == oid).unwrap();
    let mut wrong = der.clone();
    wrong[pos + oid.len() - 1] = 9;
    let e = err(&wrong);
    assert_eq!(field_of(&e), "components[0].digests[0].hashAlg", "{e}");
}

#[test]
fn control_characters_and_bad_country_are_refused() {
    let mut id = minimal();
    id.manufacturer.name = "Evil\u{1b}[2J".into();
    assert_eq!(field_of(&err(&raw(&id))), "manufacturer.name");
    let mut id = minimal();
    id.manufacturer.country = "cn".into();
    assert_eq!(field_of(&err(&raw(&id))), "manufacturer.country");
}

/// Every text field of the identity goes through the one text policy: a
/// bidi override, an isolate or a line separator is refused in each, with
/// the field, the code point and the rule named (they were certified when
/// only `char::is_control` was checked).
#[test]
fn every_text_field_refuses_invisible_and_reordering_characters() {
    type Set = fn(&mut RobotIdentity, String);
    // robotId, model and the codes are PrintableString, which cannot hold
    // these characters at all; every UTF8String field is here.
    let fields: [(&str, Set); 7] = [
        ("manufacturer.name", |id, v| id.manufacturer.name = v),
        ("parameters[0].name", |id, v| id.parameters[0].name = v),
        ("parameters[0].unit", |id, v| id.parameters[0].unit = v),
        ("components[0].kind", |id, v| id.components[0].kind = v),
        ("components[0].partNumber", |id, v| {
            id.components[0].part_number = v
        }),
        ("components[0].supplier", |id, v| {
            id.components[0].supplier = v
        }),
        ("components[0].serial", |id, v| id.components[0].serial = v),
    ];
    for (field, set) in fields {
        for (bad, cp) in [
            ("Good Co\u{202e}gnp.exe", "U+202E"),
            ("a\u{2067}b", "U+2067"),
            ("a\u{2028}b", "U+2028"),
            ("a\u{200d}b", "U+200D"),
        ] {
            let mut id = full();
            set(&mut id, bad.to_owned());
            let e = err(&raw(&id));
            assert_eq!(field_of(&e), field, "{e}");
            assert_eq!(e.rule(), crate::rule::Rule::TextCharacter, "{e}");
            assert!(e.to_string().contains(cp), "{e}");
            // Encoding refuses it too, so `robotid csr new` cannot make it.
            assert!(id.to_der().is_err());
        }
    }
    let mut id = full();
    id.components[0].supplier = "Cafe\u{301}".into();
    let e = err(&raw(&id));
    assert_eq!(e.rule(), crate::rule::Rule::TextNormalization, "{e}");
}

#[test]
fn duplicates_are_refused() {
    let mut id = full();
    id.parameters[1].name = id.parameters[0].name.clone();
    assert_eq!(field_of(&err(&raw(&id))), "parameters[1].name");
    let mut id = full();
    id.components[1] = id.components[0].clone();
    assert_eq!(field_of(&err(&raw(&id))), "components[1]");
}

#[test]
fn truncated_input_names_a_field_and_never_panics() {
    let der = full().to_der().unwrap();
    for len in 0..der.len() {
        let e = err(&der[..len]);
        assert!(!field_of(&e).is_empty());
    }
}

#[test]
fn every_single_byte_change_is_decoded_or_refused_cleanly() {
    let der = full().to_der().unwrap();
    for i in 0..der.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = der.clone();
            b[i] ^= flip;
            // Either a clean decode (e.g. a changed digest byte) or an error.
            let _ = RobotIdentity::from_der(&b);
        }
    }
}

#[test]
fn non_printable_robot_id_cannot_be_encoded() {
    let mut id = minimal();
    id.robot_id = "UBX_WK5*".into();
    let e = id.to_der().unwrap_err();
    assert_eq!(field_of(&e), "robotId");
}

#[test]
fn digest_text_form() {
    let d: ComponentDigest = format!("sha256:{}", "AB".repeat(32)).parse().unwrap();
    assert_eq!(d.to_string(), format!("sha256:{}", "ab".repeat(32)));
    assert!("sha256:abcd".parse::<ComponentDigest>().is_err());
    assert!("md5:00".parse::<ComponentDigest>().is_err());
    assert!("sha256".parse::<ComponentDigest>().is_err());
}

/// A production date is a day at midnight UTC, on or after 2000-01-01; a
/// date before 1970, which `der`'s time type cannot hold, is named as too
/// early, not as malformed DER.
#[test]
fn production_dates_are_midnight_utc_and_not_too_early() {
    use crate::rule::Rule;
    let mut id = minimal();
    id.production_date = der::DateTime::new(2026, 11, 20, 13, 45, 0).unwrap();
    let e = err(&raw(&id));
    assert_eq!(e.rule(), Rule::IdentityProductionDate, "{e}");
    assert!(e.to_string().contains("not midnight UTC"), "{e}");
    assert!(id.to_der().is_err());

    let mut id = minimal();
    id.production_date = der::DateTime::new(1999, 12, 31, 0, 0, 0).unwrap();
    let e = err(&raw(&id));
    assert_eq!(e.rule(), Rule::IdentityProductionDate, "{e}");
    assert!(
        e.to_string()
            .contains("earliest production date 2000-01-01"),
        "{e}"
    );

    // 1969-07-20: same length as any GeneralizedTime, patched in place.
    let der = minimal().to_der().unwrap();
    let at = der
        .windows(15)
        .position(|w| w == b"20261120000000Z")
        .unwrap();
    let mut early = der.clone();
    early[at..at + 15].copy_from_slice(b"19690720000000Z");
    let e = err(&early);
    assert_eq!(e.rule(), Rule::IdentityProductionDate, "{e}");
    assert_eq!(field_of(&e), "productionDate");
    assert!(e.to_string().contains("19690720"), "{e}");
    assert!(!e.to_string().contains("malformed DER"), "{e}");

    // Still malformed: a time that is not one.
    let mut broken = der;
    broken[at..at + 15].copy_from_slice(b"2026112000000XZ");
    assert!(matches!(err(&broken), IdentityError::Der { .. }));
}

#[test]
fn the_day_after_issuance_is_the_latest_production_date() {
    use crate::rule::Rule;
    // Issued at 2026-11-20T23:00:00Z.
    let at = 1_795_215_600;
    let day = |d| der::DateTime::new(2026, 11, d, 0, 0, 0).unwrap();
    assert_eq!(check_production_date_at(&day(20), at), Ok(()));
    assert_eq!(check_production_date_at(&day(21), at), Ok(()));
    let e = check_production_date_at(&day(22), at).unwrap_err();
    assert_eq!(e.rule(), Rule::IdentityProductionDate);
    assert!(e.to_string().contains("2026-11-22"), "{e}");
    let far = der::DateTime::new(9999, 12, 31, 0, 0, 0).unwrap();
    assert!(check_production_date_at(&far, at).is_err());
}

/// `minimal()` with a `[0]` parameters block of `entries` (DER each)
/// inserted after the production date.
fn with_parameters_block(entries: &[Vec<u8>]) -> Vec<u8> {
    let der = raw(&minimal());
    let body = &der[body_offset(&der)..];
    let at = body
        .windows(15)
        .position(|w| w == b"20261120000000Z")
        .unwrap()
        + 15;
    let content: Vec<u8> = entries.concat();
    let mut block = vec![0xa0, u8::try_from(content.len()).unwrap()];
    block.extend(content);
    let mut new_body = body[..at].to_vec();
    new_body.extend(block);
    new_body.extend_from_slice(&body[at..]);
    sequence(&new_body)
}

fn parameter_der(value: &[u8]) -> Vec<u8> {
    let mut body = vec![0x0c, 9];
    body.extend(b"height_mm");
    body.extend([0x02, u8::try_from(value.len()).unwrap()]);
    body.extend(value);
    body.extend([0x0c, 2, b'm', b'm']);
    sequence(&body)
}

/// An integer beyond 64 bits is said to be out of range, not "not
/// canonically encoded"; an empty parameter list is said to be empty, not
/// left to be reported as a missing parameter.
#[test]
fn parameter_values_beyond_64_bits_and_empty_lists_are_named() {
    // The block itself decodes with a value that fits.
    let ok =
        RobotIdentity::from_der(&with_parameters_block(&[parameter_der(&[0x06, 0x72])])).unwrap();
    assert_eq!(ok.parameters[0].value, 1650);
    let negative =
        RobotIdentity::from_der(&with_parameters_block(&[parameter_der(&[0xff, 0x38])])).unwrap();
    assert_eq!(negative.parameters[0].value, -200);
    let max = RobotIdentity::from_der(&with_parameters_block(&[parameter_der(&[
        0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ])]))
    .unwrap();
    assert_eq!(max.parameters[0].value, i64::MAX);

    let big = [0x01, 0, 0, 0, 0, 0, 0, 0, 0];
    let e = err(&with_parameters_block(&[parameter_der(&big)]));
    assert_eq!(field_of(&e), "parameters[0].value", "{e}");
    assert!(e.to_string().contains("64-bit range"), "{e}");
    assert!(!e.to_string().contains("canonical"), "{e}");

    let e = err(&with_parameters_block(&[]));
    assert_eq!(field_of(&e), "parameters", "{e}");
    assert!(e.to_string().contains("empty list"), "{e}");
}
