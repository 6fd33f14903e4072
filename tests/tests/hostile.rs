//! Hostile input (issue 22): what a manifest, a request or a server's
//! answer may contain, at every entry point of the real binaries.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Setup, https, problem};
use robotid_tests::robotid;
use serde_json::{Value, json};

/// The text policy at every entry point: a bidi override, an isolate or a
/// line separator is refused by `robotid csr new` (manifests), by the admin
/// API (a manufacturer's name, which becomes every robot's subject O) and
/// by the lifecycle API (event details), each naming the rule, the field
/// and the code point. Before the policy, all three were accepted.
#[test]
fn invisible_and_reordering_characters_are_refused_at_every_entry_point() {
    let s = Setup::new(None);

    // Manifests: `robotid csr new` refuses the supplier, exit 2.
    let manifest =
        std::fs::read_to_string(robotid_tests::repo_root().join("examples/wk5/manifest.toml"))
            .unwrap()
            .replace("Example Compute Co.", "Good Co\u{202e}gnp.exe")
            .replace(
                "firmware/",
                &format!(
                    "{}/",
                    robotid_tests::repo_root()
                        .join("examples/wk5/firmware")
                        .display()
                ),
            );
    std::fs::write(s.path().join("bidi.toml"), manifest).unwrap();
    robotid(s.path(), &["key", "new", "--out", "bidi.key"]).expect_code(0);
    let run = robotid(
        s.path(),
        &[
            "csr",
            "new",
            "--manifest",
            "bidi.toml",
            "--key",
            "bidi.key",
            "--out",
            "bidi.csr",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    for part in ["components[0].supplier", "U+202E", "text.character"] {
        assert!(run.stderr.contains(part), "{part}: {}", run.stderr);
    }
    // The character itself never reaches the terminal.
    assert!(!run.stderr.contains('\u{202e}'), "{}", run.stderr);
    assert!(!s.path().join("bidi.csr").exists());

    // The admin API: a manufacturer's name.
    let operator = https(&s.server, Some(&s.creds("operator")));
    let credential_csr = std::fs::read_to_string(s.csr("UBX", "WK5", "00000009", "x.key")).unwrap();
    for (name, cp) in [
        ("Evil\u{2066}Corp\u{2069}", "U+2066"),
        ("Line\u{2028}Break Ltd", "U+2028"),
    ] {
        let response = operator
            .post(format!("{}/api/v1/manufacturers", s.server.api))
            .json(&json!({
                "code": "EVL",
                "name": name,
                "country": "DE",
                "credential_csr": credential_csr,
            }))
            .send()
            .unwrap();
        let (status, p) = problem(response);
        assert_eq!(
            (status, p["rule"].as_str(), p["field"].as_str()),
            (400, Some("text.character"), Some("name")),
            "{p}"
        );
        assert!(p["detail"].as_str().unwrap().contains(cp), "{p}");
        assert!(!p["value"].as_str().unwrap().contains(name), "{p}");
    }

    // The lifecycle API: event details, on a robot with a history.
    let csr = s.csr("UBX", "WK5", "00000001", "ubx-1.key");
    s.robotid(
        &[
            "submit",
            "--csr",
            &csr.display().to_string(),
            "--out",
            "ubx-1.pem",
        ],
        "ubx",
    )
    .expect_code(0);
    let id = robotid_verifier::robot_id::RobotId::new("UBX", "WK5", "00000001")
        .unwrap()
        .to_string();
    let ubx = https(&s.server, Some(&s.creds("ubx")));
    for (details, field, cp) in [
        (
            json!({"new_owner": "Owner\u{202e}gnp.exe"}),
            "details.new_owner",
            "U+202E",
        ),
        (
            json!({"new_owner": "X", "note": "a\u{2029}b"}),
            "details.note",
            "U+2029",
        ),
    ] {
        let response = ubx
            .post(format!("{}/api/v1/robots/{id}/history", s.server.api))
            .json(&json!({"type": "sold", "details": details}))
            .send()
            .unwrap();
        let (status, p): (u16, Value) = problem(response);
        assert_eq!(
            (status, p["rule"].as_str(), p["field"].as_str()),
            (400, Some("text.character"), Some(field)),
            "{p}"
        );
        assert!(p["detail"].as_str().unwrap().contains(cp), "{p}");
    }
}

/// `robotid status --file`: a shipment file's lines come back in the
/// server's answer; an escape sequence in one reaches the terminal escaped.
#[test]
fn a_shipment_file_cannot_drive_the_terminal() {
    let s = Setup::new(None);
    std::fs::write(
        s.path().join("shipment.txt"),
        "UBX-WK5-00000001-K\u{1b}[2J\u{1b}]0;title\u{7}\n\u{202e}ABC\n",
    )
    .unwrap();
    let run = robotid(
        s.path(),
        &[
            "status",
            "--server",
            &s.server.public,
            "--file",
            "shipment.txt",
        ],
    );
    let all = format!("{}{}", run.stdout, run.stderr);
    for c in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(!all.contains(c), "{c:?} reached the terminal: {all:?}");
    }
    assert!(all.contains("\\u{1b}[2J"), "{all}");
}
