//! What the fuzz targets share: fixed registry records and a robot to
//! judge, so that an input that parses is also used the way the CA and the
//! inspector use it.

use std::sync::OnceLock;

use robotid_issuer::vetting::{ManufacturerRecord, ModelRecord};
use robotid_verifier::identity::RobotIdentity;
use robotid_verifier::rules::ModelRules;

/// The full identity test vector (verifier/testdata/identity/full.der.hex).
pub fn sample_identity() -> Option<&'static RobotIdentity> {
    static SAMPLE: OnceLock<Option<RobotIdentity>> = OnceLock::new();
    SAMPLE
        .get_or_init(|| {
            let hex: String = include_str!("../../verifier/testdata/identity/full.der.hex")
                .split_whitespace()
                .collect();
            RobotIdentity::from_der(&hex_decode(&hex)?).ok()
        })
        .as_ref()
}

/// The registry's record of the test vectors' manufacturer.
pub fn manufacturer() -> ManufacturerRecord {
    ManufacturerRecord {
        code: "UBX".into(),
        name: "Example Robotics Ltd".into(),
        country: "CN".into(),
        active: true,
    }
}

/// The example model, with `rules` (the shipped example if `None`).
pub fn model(rules: Option<ModelRules>) -> ModelRecord {
    static EXAMPLE: OnceLock<ModelRules> = OnceLock::new();
    let rules = rules.unwrap_or_else(|| {
        EXAMPLE
            .get_or_init(|| {
                ModelRules::from_toml(
                    include_str!("../../policies/models/example-wk5.toml"),
                    "example-wk5.toml",
                )
                .unwrap_or_default()
            })
            .clone()
    });
    ModelRecord {
        manufacturer_code: "UBX".into(),
        model: "WK5".into(),
        rules,
    }
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A DER TLV with tag `tag` around `content` (definite length).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}
