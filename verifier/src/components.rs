//! Measured components against the certified ones.
//!
//! A component is identified by its kind and serial (the profile allows each
//! pair once). The inspector's file lists what was found in the robot, with
//! digests of what it runs; every certified component must be found with the
//! same part number, supplier and digests, and nothing else may be found.
//! Digests are compared per algorithm: for each algorithm the inspector
//! measured, the set of digests must equal the certified set for it, so an
//! inspector who hashes only with SHA-256 still checks a component certified
//! with SHA-256 and SHA-384 digests.

use std::collections::BTreeSet;

use crate::identity::{ComponentDigest, KeyComponent};
use crate::report::Check;

/// The check's name in reports.
pub const CHECK: &str = "components";

/// Compares `measured` with `certified`, naming each mismatched, missing
/// and extra component.
pub fn compare(certified: &[KeyComponent], measured: &[KeyComponent]) -> Check {
    let mut findings = Vec::new();
    for c in certified {
        match measured
            .iter()
            .find(|m| m.kind == c.kind && m.serial == c.serial)
        {
            None => findings.push(format!(
                "missing: {} {} ({} {}) is certified but was not measured",
                c.kind, c.serial, c.supplier, c.part_number
            )),
            Some(m) => findings.extend(differences(c, m)),
        }
    }
    for m in measured {
        if !certified
            .iter()
            .any(|c| c.kind == m.kind && c.serial == m.serial)
        {
            findings.push(format!(
                "extra: {} {} ({} {}) was measured but is not certified",
                m.kind, m.serial, m.supplier, m.part_number
            ));
        }
    }
    if findings.is_empty() {
        Check::pass(
            CHECK,
            format!(
                "all {} certified components measured with matching digests",
                certified.len()
            ),
        )
    } else {
        Check::fail(
            CHECK,
            "component_mismatch",
            format!(
                "{} difference{} between measured and certified components",
                findings.len(),
                if findings.len() == 1 { "" } else { "s" }
            ),
        )
        .with_details(findings)
    }
}

fn differences(certified: &KeyComponent, measured: &KeyComponent) -> Vec<String> {
    let name = format!("{} {}", certified.kind, certified.serial);
    let mut out = Vec::new();
    if certified.part_number != measured.part_number {
        out.push(format!(
            "mismatch: {name}: part number {:?} measured, {:?} certified",
            measured.part_number, certified.part_number
        ));
    }
    if certified.supplier != measured.supplier {
        out.push(format!(
            "mismatch: {name}: supplier {:?} measured, {:?} certified",
            measured.supplier, certified.supplier
        ));
    }
    let algorithms: BTreeSet<_> = measured.digests.iter().map(|d| d.algorithm).collect();
    for alg in algorithms {
        let of = |list: &[ComponentDigest]| -> BTreeSet<String> {
            list.iter()
                .filter(|d| d.algorithm == alg)
                .map(ToString::to_string)
                .collect()
        };
        let (m, c) = (of(&measured.digests), of(&certified.digests));
        if m != c {
            out.push(format!(
                "mismatch: {name}: measured {} but certified {}",
                list(&m),
                if c.is_empty() {
                    format!("no {} digest", alg.name())
                } else {
                    list(&c)
                }
            ));
        }
    }
    out
}

fn list(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::DigestAlgorithm;

    fn component(kind: &str, serial: &str, firmware: &[u8]) -> KeyComponent {
        KeyComponent {
            kind: kind.into(),
            part_number: "P-1".into(),
            supplier: "S".into(),
            serial: serial.into(),
            digests: vec![DigestAlgorithm::Sha256.digest(firmware)],
        }
    }

    #[test]
    fn names_each_mismatched_missing_and_extra_component() {
        let certified = vec![
            component("main-controller", "A", b"fw1"),
            component("battery-pack", "B", b"cells"),
            component("safety-controller", "C", b"fw2"),
        ];
        assert_eq!(
            compare(&certified, &certified).status,
            crate::report::Status::Pass
        );
        let measured = vec![
            component("main-controller", "A", b"fw1-patched"),
            component("safety-controller", "C", b"fw2"),
            component("battery-pack", "Z", b"cells"),
        ];
        let check = compare(&certified, &measured);
        assert_eq!(check.code, Some("component_mismatch"));
        assert_eq!(check.details.len(), 3, "{:?}", check.details);
        assert!(check.details[0].starts_with("mismatch: main-controller A: measured sha256:"));
        assert!(check.details[1].starts_with("missing: battery-pack B"));
        assert!(check.details[2].starts_with("extra: battery-pack Z"));
    }

    #[test]
    fn an_unmeasured_algorithm_is_not_a_mismatch() {
        let mut certified = component("main-controller", "A", b"fw");
        certified
            .digests
            .push(DigestAlgorithm::Sha384.digest(b"fw"));
        let measured = component("main-controller", "A", b"fw");
        assert_eq!(
            compare(&[certified], &[measured]).status,
            crate::report::Status::Pass
        );
    }
}
