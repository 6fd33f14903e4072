//! The lifecycle registry end to end, with the real binaries: a robot's
//! whole life through `robotid history record`, its effect on the
//! certificate (`robotid status`), the state machine's refusals, who may
//! record what, and `robotid-verify history` on an exported bundle, which
//! names each kind of tampering. On SQLite and PostgreSQL.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{Setup, https, problem, serial_of};
use robotid_tests::{Run, bin, postgres_database, run_in};
use robotid_verifier::history::bundle::{Bundle, BundleEvent};
use robotid_verifier::history::{EventFields, event_hash, hash_from_hex};
use robotid_verifier::robot_id::RobotId;
use serde_json::{Value, json};

/// Enrolls robot `serial` of UBX/WK5; returns its ID.
fn enroll(s: &Setup, serial: &str) -> String {
    let csr = s.csr("UBX", "WK5", serial, &format!("ubx-{serial}.key"));
    let out = format!("ubx-{serial}.pem");
    s.robotid(
        &["submit", "--csr", &csr.display().to_string(), "--out", &out],
        "ubx",
    )
    .expect_code(0);
    RobotId::new("UBX", "WK5", serial).unwrap().to_string()
}

fn record(s: &Setup, who: &str, id: &str, kind: &str, extra: &[&str]) -> Run {
    let mut args = vec!["history", "record", id, kind];
    args.extend_from_slice(extra);
    s.robotid(&args, who)
}

fn status_json(s: &Setup, id: &str) -> Value {
    let out = robotid_tests::robotid(
        s.path(),
        &["status", "--server", &s.server.public, id, "--json"],
    );
    serde_json::from_str(&out.stdout).unwrap()
}

fn verify(dir: &Path, bundle: &str, trust: &Path) -> (Run, Value) {
    let out: Run = run_in(
        dir,
        bin("robotid-verify"),
        &[
            "history",
            bundle,
            "--trust",
            &trust.display().to_string(),
            "--json",
        ],
    );
    let json = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    (out, json)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

/// A robot's whole life, from first issuance to recycling.
fn whole_life(database_url: Option<&str>) {
    let s = Setup::new(database_url);
    let id = enroll(&s, "00001234");
    let first_serial = serial_of(&s.path().join("ubx-00001234.pem"));

    record(
        &s,
        "ubx",
        &id,
        "sold",
        &["--detail", "new_owner=Harbour Logistics BV"],
    )
    .expect_code(0);
    record(
        &s,
        "ubx",
        &id,
        "deployed",
        &["--detail", "site=Rotterdam DC3"],
    )
    .expect_code(0);
    record(
        &s,
        "ubx",
        &id,
        "maintenance",
        &[
            "--detail",
            "work=gearbox service, left knee",
            "--detail",
            "by=UBX Service NL",
        ],
    )
    .expect_code(0);

    // Component replaced: a new CSR with the new main controller, re-issued
    // through enrollment; the old certificate is superseded.
    let csr = s.csr_with("UBX", "WK5", "00001234", "ubx-00001234.key", |m| {
        m.replace("MC9-2026-000812", "MC9-2027-000999")
    });
    let out = record(
        &s,
        "ubx",
        &id,
        "component_replaced",
        &[
            "--csr",
            &csr.display().to_string(),
            "--out",
            "replaced.pem",
            "--json",
        ],
    )
    .expect_code(0);
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    let new_serial = serial_of(&s.path().join("replaced.pem"));
    assert_ne!(new_serial, first_serial);
    let details = &answer["event"]["details"];
    assert_eq!(details["old_serial"], first_serial.as_str(), "{answer}");
    assert_eq!(details["new_serial"], new_serial.as_str(), "{answer}");
    assert_eq!(
        details["replaced"][0]["serial"], "MC9-2027-000999",
        "{answer}"
    );
    // The same replacement sent again (its answer was lost) is answered
    // with the same certificate and the event recorded with it, not a
    // second event.
    let csr_text = std::fs::read_to_string(&csr).unwrap();
    let (status, again) = post_event(
        &s,
        Some("ubx"),
        &id,
        json!({"type": "component_replaced", "details": {"csr": csr_text}}),
    )
    .unwrap();
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["event"], answer["event"], "{again}");
    let history = s
        .robotid(&["history", "show", &id, "--json"], "ubx")
        .expect_code(0);
    let history: Value = serde_json::from_str(&history.stdout).unwrap();
    let replacements = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "component_replaced")
        .count();
    assert_eq!(replacements, 1, "{history}");
    let old = robotid_tests::robotid(
        s.path(),
        &[
            "status",
            "--server",
            &s.server.public,
            &first_serial,
            "--json",
        ],
    );
    let old: Value = serde_json::from_str(&old.stdout).unwrap();
    assert_eq!(old["results"][0]["reason"], "superseded", "{old}");

    // Recall: the operator holds and releases; the certificate follows.
    record(
        &s,
        "operator",
        &id,
        "recall_hold",
        &["--detail", "recall=RC-2027-014 actuator"],
    )
    .expect_code(0);
    assert_eq!(status_json(&s, &id)["results"][0]["status"], "on_hold");
    record(
        &s,
        "ubx",
        &id,
        "maintenance",
        &[
            "--detail",
            "work=actuator firmware 4.2",
            "--detail",
            "by=UBX recall team",
        ],
    )
    .expect_code(0);
    record(&s, "operator", &id, "recall_release", &[]).expect_code(0);
    assert_eq!(status_json(&s, &id)["results"][0]["status"], "good");

    // Decommissioned: revoked, cessationOfOperation; no re-issue after.
    record(
        &s,
        "ubx",
        &id,
        "decommissioned",
        &["--detail", "reason=end of life"],
    )
    .expect_code(0);
    let st = status_json(&s, &id);
    assert_eq!(st["results"][0]["status"], "revoked", "{st}");
    assert_eq!(st["results"][0]["reason"], "cessationOfOperation", "{st}");
    let again = s.csr_with("UBX", "WK5", "00001234", "ubx-00001234.key", |m| {
        m.replace("MC9-2026-000812", "MC9-2028-000001")
    });
    let refused = s
        .robotid(
            &[
                "submit",
                "--csr",
                &again.display().to_string(),
                "--out",
                "after.pem",
                "--reissue",
            ],
            "ubx",
        )
        .expect_code(1);
    assert!(
        refused.stderr.contains("409 lifecycle.decommissioned")
            && refused.stderr.contains("decommissioned"),
        "{}",
        refused.stderr
    );

    // Recycled: every key component's disposition, and nothing after.
    let incomplete = record(
        &s,
        "ubx",
        &id,
        "recycled",
        &["--component", "main-controller:MC9-2027-000999=refurbished"],
    )
    .expect_code(1);
    assert!(
        incomplete.stderr.contains("lifecycle.recycled_components"),
        "{}",
        incomplete.stderr
    );
    record(
        &s,
        "ubx",
        &id,
        "recycled",
        &[
            "--component",
            "main-controller:MC9-2027-000999=refurbished",
            "--component",
            "safety-controller:SC77-000042=destroyed",
            "--component",
            "battery-pack:BP-2026-55501=recycled",
        ],
    )
    .expect_code(0);
    let after = record(
        &s,
        "ubx",
        &id,
        "maintenance",
        &["--detail", "work=x", "--detail", "by=y"],
    )
    .expect_code(1);
    assert!(
        after.stderr.contains("409 lifecycle.recycled_final") && after.stderr.contains("recycled"),
        "{}",
        after.stderr
    );

    // The timeline, human and JSON.
    let shown = s.robotid(&["history", "show", &id], "ubx").expect_code(0);
    assert!(
        shown.stdout.contains("10 events  now recycled"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("new_owner=Harbour Logistics BV"),
        "{}",
        shown.stdout
    );
    let shown = s
        .robotid(&["history", "show", &id, "--json"], "operator")
        .expect_code(0);
    let view: Value = serde_json::from_str(&shown.stdout).unwrap();
    let kinds: Vec<&str> = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "manufactured",
            "sold",
            "deployed",
            "maintenance",
            "component_replaced",
            "recall_hold",
            "maintenance",
            "recall_release",
            "decommissioned",
            "recycled"
        ],
        "{view}"
    );
    assert_eq!(
        view["events"][0]["details"]["serial"],
        first_serial.as_str()
    );

    // Export and check offline.
    s.robotid(&["history", "export", &id, "--out", "history.json"], "ubx")
        .expect_code(0);
    let root = s.server.data_dir.join("ca/root-ca.pem");
    let (out, report) = verify(s.path(), "history.json", &root);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(report["verdict"], "pass", "{report}");
    assert_eq!(report["state"], "recycled", "{report}");
    assert_eq!(report["events"], 10, "{report}");
    let text = run_in(
        s.path(),
        bin("robotid-verify"),
        &[
            "history",
            "history.json",
            "--trust",
            &root.display().to_string(),
        ],
    )
    .expect_code(0);
    assert!(
        text.stdout.contains("head_signature  PASS"),
        "{}",
        text.stdout
    );
}

#[test]
fn whole_life_on_sqlite() {
    whole_life(None);
}

#[test]
fn whole_life_on_postgres() {
    if let Some(url) = postgres_database() {
        whole_life(Some(&url));
    }
}

/// POSTs an event as `who` and returns the status and body.
fn post_event(s: &Setup, who: Option<&str>, id: &str, body: Value) -> Option<(u16, Value)> {
    let creds = who.map(|w| s.creds(w));
    let response = https(&s.server, creds.as_deref())
        .post(format!("{}/api/v1/robots/{id}/history", s.server.api))
        .json(&body)
        .send()
        .ok()?;
    let status = response.status().as_u16();
    if status >= 400 {
        return Some(problem(response));
    }
    Some((status, response.json().unwrap()))
}

fn refused(s: &Setup, who: &str, id: &str, body: Value, rule: &str, state: &str) {
    let (status, p) = post_event(s, Some(who), id, body.clone()).unwrap();
    assert_eq!(status, 409, "{body}: {p}");
    assert_eq!(p["rule"], rule, "{body}: {p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("state {state}")),
        "{body}: the refusal must name state {state}: {p}"
    );
}

#[test]
fn every_refusal_of_the_state_machine_names_state_and_rule() {
    let s = Setup::new(None);
    let id = enroll(&s, "00000001");
    let ev = |kind: &str, details: Value| json!({ "type": kind, "details": details });
    let maintenance = || ev("maintenance", json!({"work": "w", "by": "b"}));
    refused(
        &s,
        "operator",
        &id,
        ev("recall_hold", json!({"recall": "R1"})),
        "lifecycle.hold_in_service",
        "manufactured",
    );
    refused(
        &s,
        "operator",
        &id,
        ev("recall_release", json!({})),
        "lifecycle.release_held",
        "manufactured",
    );
    refused(
        &s,
        "ubx",
        &id,
        ev("recycled", json!({"components": []})),
        "lifecycle.recycle_after_decommission",
        "manufactured",
    );
    refused(
        &s,
        "ubx",
        &id,
        ev("manufactured", json!({})),
        "lifecycle.manufactured_once",
        "manufactured",
    );
    assert_eq!(
        post_event(&s, Some("ubx"), &id, ev("deployed", json!({})))
            .unwrap()
            .0,
        201
    );
    refused(
        &s,
        "ubx",
        &id,
        ev("deployed", json!({})),
        "lifecycle.already_in_service",
        "in_service",
    );
    assert_eq!(
        post_event(
            &s,
            Some("operator"),
            &id,
            ev("recall_hold", json!({"recall": "R1"}))
        )
        .unwrap()
        .0,
        201
    );
    refused(
        &s,
        "ubx",
        &id,
        ev("sold", json!({"new_owner": "X"})),
        "lifecycle.held",
        "held",
    );
    let csr = s.csr_with("UBX", "WK5", "00000001", "ubx-00000001.key", |m| {
        m.replace("SC77-000042", "SC77-000043")
    });
    let csr_text = std::fs::read_to_string(&csr).unwrap();
    refused(
        &s,
        "ubx",
        &id,
        ev("component_replaced", json!({"csr": csr_text})),
        "lifecycle.held",
        "held",
    );
    assert_eq!(
        post_event(&s, Some("ubx"), &id, maintenance()).unwrap().0,
        201
    );
    assert_eq!(
        post_event(&s, Some("ubx"), &id, ev("decommissioned", json!({})))
            .unwrap()
            .0,
        201
    );
    refused(
        &s,
        "ubx",
        &id,
        ev("deployed", json!({})),
        "lifecycle.decommissioned",
        "decommissioned",
    );
    refused(
        &s,
        "ubx",
        &id,
        ev("component_replaced", json!({"csr": csr_text})),
        "lifecycle.decommissioned",
        "decommissioned",
    );
    refused(
        &s,
        "operator",
        &id,
        ev("recall_release", json!({})),
        "lifecycle.decommissioned",
        "decommissioned",
    );
    // The certificate was on hold, then revoked for good by decommissioning.
    let st = status_json(&s, &id);
    assert_eq!(st["results"][0]["reason"], "cessationOfOperation", "{st}");

    // A declared re-issue in a batch is refused for that robot only.
    let id2 = enroll(&s, "00000002");
    let csr2 = s.csr_with("UBX", "WK5", "00000002", "ubx-00000002.key", |m| {
        m.replace("SC77-000042", "SC77-000044")
    });
    let batch = https(&s.server, Some(&s.creds("ubx")))
        .post(format!("{}/api/v1/enroll/batch", s.server.api))
        .json(
            &json!({"csrs": [csr_text, std::fs::read_to_string(&csr2).unwrap()], "reissue": true}),
        )
        .send()
        .unwrap();
    let batch: Value = batch.json().unwrap();
    assert_eq!(
        batch["results"][0]["problem"]["rule"], "lifecycle.decommissioned",
        "{batch}"
    );
    assert_eq!(batch["results"][1]["status"], "issued", "{batch}");
    let _ = id2;

    // Bad input: a 400 naming the field and rule, CLI exit 2.
    let (status, p) = post_event(&s, Some("ubx"), &id, ev("teleported", json!({}))).unwrap();
    assert_eq!(
        (status, p["rule"].as_str()),
        (400, Some("lifecycle.type")),
        "{p}"
    );
    let (status, p) = post_event(
        &s,
        Some("ubx"),
        &enroll(&s, "00000003"),
        ev("sold", json!({"owner": "X"})),
    )
    .unwrap();
    // The field at fault is named (issue 22).
    assert_eq!(
        (status, p["rule"].as_str(), p["field"].as_str()),
        (400, Some("lifecycle.details"), Some("details.owner")),
        "{p}"
    );
    let out = record(&s, "ubx", &id, "sold", &["--detail", "no-equals-sign"]).expect_code(2);
    assert!(out.stderr.contains("KEY=VALUE"), "{}", out.stderr);
}

#[test]
fn who_may_record_what() {
    let s = Setup::new(None);
    let id = enroll(&s, "00000010");
    let ev = json!({"type": "sold", "details": {"new_owner": "X"}});
    let (status, p) = post_event(&s, Some("acme"), &id, ev.clone()).unwrap();
    assert_eq!(
        (status, p["rule"].as_str()),
        (403, Some("robot.foreign")),
        "{p}"
    );
    if let Some((status, _)) = post_event(&s, None, &id, ev) {
        assert_eq!(status, 401);
    }
    let hold = json!({"type": "recall_hold", "details": {"recall": "R"}});
    let (status, p) = post_event(&s, Some("ubx"), &id, hold).unwrap();
    assert_eq!(
        (status, p["rule"].as_str()),
        (403, Some("lifecycle.operator_only")),
        "{p}"
    );
    let out = record(&s, "ubx", &id, "recall_release", &[]).expect_code(1);
    assert!(
        out.stderr.contains("403 lifecycle.operator_only"),
        "{}",
        out.stderr
    );
    let replaced = json!({"type": "component_replaced", "details": {"csr": "x"}});
    let (status, p) = post_event(&s, Some("operator"), &id, replaced).unwrap();
    assert_eq!(
        (status, p["rule"].as_str()),
        (403, Some("role.manufacturer_required")),
        "{p}"
    );
    let out = s.robotid(&["history", "show", &id], "acme").expect_code(1);
    assert!(out.stderr.contains("403 robot.foreign"), "{}", out.stderr);
    let out = s
        .robotid(&["history", "export", &id, "--out", "x.json"], "acme")
        .expect_code(1);
    assert!(out.stderr.contains("403"), "{}", out.stderr);
    assert!(!s.path().join("x.json").exists());
}

/// Writes `bundle` to `name` and verifies it; returns the report.
fn tampered(s: &Setup, name: &str, bundle: &Bundle) -> Value {
    std::fs::write(s.path().join(name), serde_json::to_vec(bundle).unwrap()).unwrap();
    let (out, report) = verify(s.path(), name, &s.server.data_dir.join("ca/root-ca.pem"));
    assert_eq!(out.code, 1, "{name}: {}{}", out.stdout, out.stderr);
    assert_eq!(report["verdict"], "fail", "{name}: {report}");
    report
}

fn rehash(robot_id: &str, e: &mut BundleEvent) {
    let prev = hash_from_hex(&e.prev_hash).unwrap();
    e.hash = hex::encode(event_hash(&EventFields {
        robot_id,
        seq: e.seq,
        prev_hash: &prev,
        kind: &e.kind,
        at: e.at,
        actor: &e.actor,
        payload: &e.payload,
    }));
}

#[test]
fn tampering_with_an_exported_history_is_detected_and_named() {
    let s = Setup::new(None);
    let id = enroll(&s, "00000020");
    record(&s, "ubx", &id, "sold", &["--detail", "new_owner=A"]).expect_code(0);
    record(&s, "ubx", &id, "deployed", &[]).expect_code(0);
    for i in 0..3 {
        record(
            &s,
            "ubx",
            &id,
            "maintenance",
            &["--detail", &format!("work=service {i}"), "--detail", "by=B"],
        )
        .expect_code(0);
    }
    s.robotid(&["history", "export", &id, "--out", "good.json"], "ubx")
        .expect_code(0);
    let good: Bundle =
        serde_json::from_slice(&std::fs::read(s.path().join("good.json")).unwrap()).unwrap();
    assert_eq!(good.events.len(), 6);
    let (out, _) = verify(
        s.path(),
        "good.json",
        &s.server.data_dir.join("ca/root-ca.pem"),
    );
    assert_eq!(out.code, 0, "{}", out.stdout);

    // Altered: a payload changed (its hash left as it was).
    let mut b = good.clone();
    b.events[1].payload = r#"{"new_owner":"Mallory"}"#.into();
    let r = tampered(&s, "altered.json", &b);
    assert_eq!(check(&r, "events")["code"], "event_altered", "{r}");
    assert!(
        check(&r, "events")["reason"]
            .as_str()
            .unwrap()
            .contains("event 2"),
        "{r}"
    );

    // Altered and re-hashed: the next event's link breaks.
    let mut b = good.clone();
    b.events[1].payload = r#"{"new_owner":"Mallory"}"#.into();
    rehash(&id, &mut b.events[1]);
    let r = tampered(&s, "rehashed.json", &b);
    assert_eq!(check(&r, "events")["code"], "chain_broken", "{r}");

    // Removed: an event in the middle.
    let mut b = good.clone();
    b.events.remove(2);
    let r = tampered(&s, "removed.json", &b);
    assert_eq!(check(&r, "events")["code"], "event_removed", "{r}");

    // Removed at the end: only the signed head can tell.
    let mut b = good.clone();
    b.events.pop();
    let r = tampered(&s, "truncated.json", &b);
    assert_eq!(check(&r, "head")["code"], "event_removed", "{r}");
    assert_eq!(check(&r, "events")["status"], "pass", "{r}");

    // Reordered: two events swapped.
    let mut b = good.clone();
    b.events.swap(3, 4);
    let r = tampered(&s, "reordered.json", &b);
    assert_eq!(check(&r, "events")["code"], "event_reordered", "{r}");

    // Inserted: a forged event, hashed correctly, slipped in after event 3.
    let mut b = good.clone();
    let mut forged = b.events[3].clone();
    forged.kind = "maintenance".into();
    forged.payload = r#"{"by":"Mallory","work":"nothing"}"#.into();
    forged.prev_hash = b.events[2].hash.clone();
    forged.seq = 4;
    rehash(&id, &mut forged);
    b.events.insert(3, forged);
    let r = tampered(&s, "inserted.json", &b);
    assert_eq!(check(&r, "events")["code"], "event_inserted", "{r}");

    // Appended at the end, hashed and linked correctly: not what the CA signed.
    let mut b = good.clone();
    let mut extra = b.events[5].clone();
    extra.seq = 7;
    extra.prev_hash = b.events[5].hash.clone();
    rehash(&id, &mut extra);
    b.events.push(extra);
    let r = tampered(&s, "appended.json", &b);
    assert_eq!(check(&r, "head")["code"], "event_inserted", "{r}");

    // A forged head signature, and a head moved to cover a rewrite.
    let mut b = good.clone();
    let mut sig = hex::decode(&b.head.signature).unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    b.head.signature = hex::encode(sig);
    let r = tampered(&s, "forged.json", &b);
    assert_eq!(
        check(&r, "head_signature")["code"],
        "signature_invalid",
        "{r}"
    );
    let mut b = good.clone();
    b.events.pop();
    b.head.seq = 5;
    b.head.hash = b.events[4].hash.clone();
    let r = tampered(&s, "moved-head.json", &b);
    assert_eq!(
        check(&r, "head_signature")["code"],
        "signature_invalid",
        "{r}"
    );

    // Another CA's root: the signer is not trusted.
    let other = robotid_tests::tempdir();
    robotid_tests::robotid(other.path(), &["ca", "init", "--dir", "ca"]).expect_code(0);
    let (out, r) = verify(s.path(), "good.json", &other.path().join("ca/root-ca.pem"));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(check(&r, "signer")["code"], "signer_untrusted", "{r}");

    // Not a bundle at all: exit 2.
    std::fs::write(s.path().join("junk.json"), b"{\"format\": 3}").unwrap();
    let (out, _) = verify(
        s.path(),
        "junk.json",
        &s.server.data_dir.join("ca/root-ca.pem"),
    );
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
}
