//! The authorisation matrix: every endpoint of the API against every kind
//! of caller that must be refused — no credential, manufacturer A on B's
//! robot, a manufacturer on an operator action, an expired credential, a
//! revoked credential — answered with the right status and rule, and the
//! registry unchanged afterwards (every table counted, row for row).

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Setup, https, make_credential, serial_of, sqlite_rows};
use robotid_verifier::robot_id::RobotId;

/// Rows of every registry table, read with Python's sqlite3 (an independent
/// reader of the file).
fn snapshot(s: &Setup) -> String {
    [
        "manufacturers",
        "models",
        "credentials",
        "robots",
        "certificates",
        "components",
        "revocations",
        "lifecycle_events",
        "lifecycle_heads",
        "audit_log",
        "crl_numbers",
    ]
    .iter()
    .map(|table| {
        let rows = sqlite_rows(
            s.path(),
            &s.server.data_dir,
            &format!("SELECT * FROM {table} ORDER BY 1"),
        );
        format!("{table}: {rows}")
    })
    .collect()
}

#[derive(Clone, Copy, Debug)]
enum Body {
    None,
    Json(&'static str),
    Csr,
    Batch,
}

/// Method, URL, body, and what manufacturer UBX is answered (status and
/// rule), if it is refused.
type Endpoint = (&'static str, String, Body, Option<(u16, &'static str)>);

#[test]
fn every_endpoint_refuses_every_caller_it_must() {
    let s = Setup::new(None);
    // ACME's robot, certified; UBX will try to act on it.
    let acme_robot = RobotId::new("ACME", "X1", "00000001").unwrap().to_string();
    let csr = s.csr("ACME", "X1", "00000001", "acme.key");
    s.robotid(
        &[
            "submit",
            "--csr",
            &csr.display().to_string(),
            "--out",
            "acme.pem",
        ],
        "acme",
    )
    .expect_code(0);
    let acme_serial = serial_of(&s.path().join("acme.pem"));
    let csr_pem = std::fs::read_to_string(&csr).unwrap();
    // A revoked manufacturer credential and an expired one.
    s.robotid(
        &[
            "admin",
            "manufacturer",
            "add",
            "--code",
            "REV",
            "--name",
            "Revoked Ltd",
            "--country",
            "DE",
            "--out-dir",
            "rev",
        ],
        "operator",
    )
    .expect_code(0);
    let rev_serial = serial_of(&s.path().join("rev/client.pem"));
    let operator = https(&s.server, Some(&s.server.operator()));
    let revoked = operator
        .post(format!(
            "{}/api/v1/credentials/{rev_serial}/revoke",
            s.server.api
        ))
        .send()
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);
    make_credential(&s.server.data_dir, &s.path().join("expired"), -1);
    let ubx_serial = serial_of(&s.path().join("ubx/client.pem"));

    let before = snapshot(&s);

    let api = &s.server.api;
    // (method, path, body, operator only?, UBX's answer: status and rule)
    let endpoints: Vec<Endpoint> = vec![
        (
            "POST",
            format!("{api}/api/v1/enroll"),
            Body::Csr,
            Some((403, "robot.foreign")),
        ),
        (
            "POST",
            format!("{api}/api/v1/enroll/batch"),
            Body::Batch,
            None,
        ),
        (
            "POST",
            format!("{api}/api/v1/manufacturers"),
            Body::Json(r#"{"code":"EVIL","name":"Evil","country":"DE","credential_csr":"x"}"#),
            Some((403, "role.operator_required")),
        ),
        (
            "POST",
            format!("{api}/api/v1/manufacturers/ACME/models"),
            Body::Json(r#"{"model":"X2","rules_toml":"x"}"#),
            Some((403, "role.operator_required")),
        ),
        (
            "POST",
            format!("{api}/api/v1/credentials/{ubx_serial}/revoke"),
            Body::None,
            Some((403, "role.operator_required")),
        ),
        (
            "POST",
            format!("{api}/api/v1/robots/{acme_robot}/revoke"),
            Body::Json(r#"{"reason":"keyCompromise"}"#),
            Some((403, "robot.foreign")),
        ),
        (
            "POST",
            format!("{api}/api/v1/certificates/{acme_serial}/revoke"),
            Body::Json(r#"{"reason":"keyCompromise"}"#),
            Some((403, "robot.foreign")),
        ),
        (
            "POST",
            format!("{api}/api/v1/robots/{acme_robot}/hold"),
            Body::None,
            Some((403, "role.operator_required")),
        ),
        (
            "POST",
            format!("{api}/api/v1/robots/{acme_robot}/release"),
            Body::None,
            Some((403, "role.operator_required")),
        ),
        (
            "POST",
            format!("{api}/api/v1/robots/{acme_robot}/history"),
            Body::Json(r#"{"type":"sold","details":{"owner":"Mallory"}}"#),
            Some((403, "robot.foreign")),
        ),
        (
            "POST",
            format!("{api}/api/v1/robots/{acme_robot}/history"),
            Body::Json(r#"{"type":"recall_hold","details":{"reason":"x"}}"#),
            Some((403, "lifecycle.operator_only")),
        ),
        (
            "GET",
            format!("{api}/api/v1/robots/{acme_robot}/history"),
            Body::None,
            Some((403, "robot.foreign")),
        ),
        (
            "GET",
            format!("{api}/api/v1/robots/{acme_robot}/history/export"),
            Body::None,
            Some((403, "robot.foreign")),
        ),
        (
            "GET",
            format!("{api}/api/v1/status/{acme_robot}"),
            Body::None,
            None,
        ),
        (
            "POST",
            format!("{api}/api/v1/status"),
            Body::Json(r#"{"ids":["x"]}"#),
            None,
        ),
    ];

    let callers: Vec<(&str, reqwest::blocking::Client, (u16, &str))> = vec![
        (
            "no credential",
            https(&s.server, None),
            (401, "credential.missing"),
        ),
        (
            "expired",
            https(&s.server, Some(&s.path().join("expired"))),
            (401, "credential.expired"),
        ),
        (
            "revoked",
            https(&s.server, Some(&s.path().join("rev"))),
            (401, "credential.revoked"),
        ),
    ];
    let ubx = https(&s.server, Some(&s.path().join("ubx")));

    let send = |client: &reqwest::blocking::Client, method: &str, url: &str, body: Body| {
        let request = if method == "GET" {
            client.get(url)
        } else {
            client.post(url)
        };
        let request = match body {
            Body::None => request,
            Body::Json(text) => request
                .header("content-type", "application/json")
                .body(text.to_owned()),
            Body::Csr => request
                .header("content-type", "application/pkcs10")
                .body(csr_pem.clone()),
            Body::Batch => request.json(&serde_json::json!({ "csrs": [csr_pem.clone()] })),
        };
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let json: serde_json::Value = response.json().unwrap_or(serde_json::Value::Null);
        (status, json)
    };

    let mut failures = Vec::new();
    for (method, url, body, _) in &endpoints {
        for (who, client, (want_status, want_rule)) in &callers {
            let (status, json) = send(client, method, url, *body);
            let rule = json["rule"].as_str().unwrap_or("");
            if status != *want_status || !rule.starts_with(want_rule.split('.').next().unwrap()) {
                failures.push(format!("{who} {method} {url}: {status} {json}"));
            }
        }
    }
    for (method, url, body, answer) in &endpoints {
        let (status, json) = send(&ubx, method, url, *body);
        match answer {
            Some((want_status, want_rule)) => {
                if status != *want_status || json["rule"] != *want_rule {
                    failures.push(format!("UBX {method} {url}: {status} {json}"));
                }
            }
            None if url.ends_with("/enroll/batch") => {
                // A batch answers per item: the foreign robot is refused.
                let item = &json["results"][0]["problem"];
                if status != 200 || item["status"] != 403 || item["rule"] != "robot.foreign" {
                    failures.push(format!("UBX {method} {url}: {status} {json}"));
                }
            }
            None => {
                // Status is for every credential: UBX may read it.
                if status != 200 {
                    failures.push(format!("UBX {method} {url}: {status} {json}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(snapshot(&s), before, "the registry changed");

    // The public port has no write endpoint at all.
    let public = reqwest::blocking::Client::new();
    for path in [
        "/api/v1/enroll",
        "/api/v1/robots/x/revoke",
        "/api/v1/manufacturers",
    ] {
        let status = public
            .post(format!("{}{path}", s.server.public))
            .body("{}")
            .send()
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 404, "{path} on the public port");
    }
    assert_eq!(snapshot(&s), before, "the registry changed");

    // The snapshot does see a change: the operator's hold is one.
    let held = operator
        .post(format!("{}/api/v1/robots/{acme_robot}/hold", s.server.api))
        .send()
        .unwrap();
    assert_eq!(held.status().as_u16(), 200);
    assert_ne!(snapshot(&s), before);
}
