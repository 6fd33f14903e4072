//! The fixtures the registry tests share: two registered manufacturers,
//! requests of robots with their components, and certificates issued
//! through the store's own issuance calls (begin, then complete).

// Reason: each test binary uses its own part of the kit.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use robotid_ca::store::roles::{Admin, Issuance};
use robotid_ca::store::{
    BeginOutcome, ComponentRecord, IssuanceIntent, ManufacturerRecord, ModelRecord, Store,
};
use robotid_verifier::rules::ModelRules;

use super::random_hex;

/// The operator's actor name in the audit log.
pub const OPERATOR: &str = "operator:0a0b";
/// Manufacturer UBX's actor name.
pub const UBX: &str = "manufacturer:UBX";

/// A fresh serial: random, as the signer makes them.
pub fn serial() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}{:08x}",
        random_hex(8),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn sha256(text: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .to_vec()
}

pub fn model_rules() -> ModelRules {
    ModelRules::from_toml(
        "[parameters.height_mm]\nmin = 1500\nmax = 1800\n\n\
         [components]\nrequired = [\"main-controller\", \"battery-pack\"]\n",
        "test rules",
    )
    .unwrap()
}

pub fn manufacturer(code: &str) -> ManufacturerRecord {
    ManufacturerRecord {
        code: code.into(),
        name: format!("{code} Robotics"),
        country: "DE".into(),
        active: true,
    }
}

pub fn model(code: &str, model: &str) -> ModelRecord {
    ModelRecord {
        manufacturer_code: code.into(),
        model: model.into(),
        rules: model_rules(),
    }
}

/// Manufacturers UBX (model WK5) and ACM (model X1).
pub async fn registered(store: &Store) {
    for (code, m) in [("UBX", "WK5"), ("ACM", "X1")] {
        store
            .add_manufacturer(&manufacturer(code), OPERATOR)
            .await
            .unwrap();
        store.add_model(&model(code, m), OPERATOR).await.unwrap();
    }
}

pub fn components(robot: &str) -> Vec<ComponentRecord> {
    ["main-controller", "battery-pack", "safety-controller"]
        .iter()
        .map(|kind| ComponentRecord {
            kind: (*kind).into(),
            part_number: format!("{kind}-9000"),
            supplier: "Example Parts Co.".into(),
            serial: format!("{robot}/{kind}"),
            digests: vec![format!(
                "sha256:{}",
                hex::encode(sha256(&format!("{robot}{kind}")))
            )],
        })
        .collect()
}

/// A request of robot `robot` (UBX/WK5) with key `key`; `csr` tells
/// requests of the same key apart.
pub fn intent(robot: &str, key: &str, csr: &str) -> IssuanceIntent {
    intent_for(robot, "UBX", "WK5", key, csr)
}

pub fn intent_for(robot: &str, code: &str, model: &str, key: &str, csr: &str) -> IssuanceIntent {
    IssuanceIntent {
        robot_id: robot.into(),
        manufacturer_code: code.into(),
        model: model.into(),
        serial_hex: serial(),
        csr_sha256: sha256(&format!("csr/{robot}/{key}/{csr}")),
        spki_sha256: sha256(&format!("key/{key}")),
        csr_der: format!("CSR of {robot} {key} {csr}").into_bytes(),
        reissue: false,
        not_before: 1_800_000_000,
        not_after: 1_900_000_000,
        components: components(robot),
    }
}

pub fn der_for(serial: &str) -> Vec<u8> {
    format!("certificate {serial}").into_bytes()
}

/// Begins and completes one intent; returns its serial.
pub async fn issue(store: &Store, intent: IssuanceIntent) -> String {
    let outcomes = store
        .begin_issuance(std::slice::from_ref(&intent), UBX)
        .await
        .unwrap();
    assert_eq!(outcomes, vec![BeginOutcome::Proceed]);
    let serial = intent.serial_hex;
    store
        .complete_issuance(&[(serial.clone(), der_for(&serial))], UBX)
        .await
        .unwrap();
    serial
}
