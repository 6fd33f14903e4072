//! `robotid-ca` end to end with the real binaries, on SQLite and on
//! PostgreSQL: registering a manufacturer and a model, enrollment one by one
//! and in batches, idempotency, re-issue, authorisation, bad input, races.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Setup, https, make_credential, problem, serial_of, sqlite_rows};
use robotid_tests::{Server, postgres_database, repo_root, run_in, tool_available};

fn enrollment(database_url: Option<&str>) {
    let s = Setup::new(database_url);
    let csr = s.csr("UBX", "WK5", "00001234", "robot.key");
    let csr_arg = csr.display().to_string();
    let out = s
        .robotid(&["submit", "--csr", &csr_arg, "--out", "robot.pem"], "ubx")
        .expect_code(0);
    assert!(
        out.stdout.contains("UBX-WK5-00001234-I issued"),
        "{}",
        out.stdout
    );
    let first = serial_of(&s.path().join("robot.pem"));
    if tool_available("openssl", &["version"]) {
        let anchor = s
            .server
            .data_dir
            .join("ca/root-ca.pem")
            .display()
            .to_string();
        let v = run_in(
            s.path(),
            "openssl",
            &[
                "verify",
                "-x509_strict",
                "-purpose",
                "sslclient",
                "-CAfile",
                &anchor,
                "-untrusted",
                "robot.pem",
                "robot.pem",
            ],
        );
        assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    }
    // The identical CSR again: the same certificate.
    let again = s
        .robotid(&["submit", "--csr", &csr_arg, "--out", "again.pem"], "ubx")
        .expect_code(0);
    assert!(again.stdout.contains("existing"), "{}", again.stdout);
    assert_eq!(serial_of(&s.path().join("again.pem")), first);
    // Another key for the same robot: refused, unless a declared re-issue.
    let other = s
        .csr("UBX", "WK5", "00001234", "other.key")
        .display()
        .to_string();
    let refused = s
        .robotid(&["submit", "--csr", &other, "--out", "other.pem"], "ubx")
        .expect_code(1);
    assert!(
        refused.stderr.contains("robot.live_certificate"),
        "{}",
        refused.stderr
    );
    assert!(!s.path().join("other.pem").exists());
    s.robotid(
        &["submit", "--csr", &other, "--out", "other.pem", "--reissue"],
        "ubx",
    )
    .expect_code(0);
    assert_ne!(serial_of(&s.path().join("other.pem")), first);
    // A robot outside its model's rules: refused naming the rule, field and value.
    let tall = s.csr_with("UBX", "WK5", "00009999", "tall.key", |m| {
        m.replace("height_mm = 1650", "height_mm = 2500")
    });
    let refused = s
        .robotid(
            &[
                "submit",
                "--csr",
                &tall.display().to_string(),
                "--out",
                "tall.pem",
            ],
            "ubx",
        )
        .expect_code(1);
    assert!(
        refused.stderr.contains("422 parameter.range"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("parameters.height_mm") && refused.stderr.contains("2500"),
        "{}",
        refused.stderr
    );
    // Another manufacturer's robot: 403.
    let foreign = s
        .csr("ACME", "X1", "1", "foreign.key")
        .display()
        .to_string();
    let refused = s
        .robotid(
            &["submit", "--csr", &foreign, "--out", "foreign.pem"],
            "ubx",
        )
        .expect_code(1);
    assert!(
        refused.stderr.contains("403 robot.foreign"),
        "{}",
        refused.stderr
    );
    // A manufacturer may not act as the operator.
    let rules = repo_root()
        .join("policies/models/example-wk5.toml")
        .display()
        .to_string();
    let refused = s
        .robotid(
            &[
                "admin",
                "model",
                "add",
                "--manufacturer",
                "UBX",
                "--model",
                "WK6",
                "--rules",
                &rules,
            ],
            "ubx",
        )
        .expect_code(1);
    assert!(
        refused.stderr.contains("403 role.operator_required"),
        "{}",
        refused.stderr
    );
    // The operator does not enroll robots.
    let refused = s
        .robotid(
            &["submit", "--csr", &csr_arg, "--out", "op.pem"],
            "operator",
        )
        .expect_code(1);
    assert!(
        refused.stderr.contains("403 role.manufacturer_required"),
        "{}",
        refused.stderr
    );
}

#[test]
fn enrollment_on_sqlite() {
    enrollment(None);
}

#[test]
fn enrollment_on_postgres() {
    if let Some(url) = postgres_database() {
        enrollment(Some(&url));
    }
}

#[test]
fn batch_enrollment_with_a_bad_csr_among_good_ones() {
    let s = Setup::new(None);
    let batch = s.path().join("batch");
    std::fs::create_dir(&batch).unwrap();
    for i in 0..30 {
        let csr = s.csr("UBX", "WK5", &format!("B{i:04}"), &format!("k{i}.key"));
        std::fs::copy(&csr, batch.join(format!("robot-{i:02}.csr"))).unwrap();
    }
    let foreign = s.csr("ACME", "X1", "77", "f.key");
    std::fs::copy(&foreign, batch.join("robot-foreign.csr")).unwrap();
    std::fs::write(batch.join("robot-garbage.csr"), "not a CSR").unwrap();
    let batch_arg = batch.display().to_string();
    let out = s
        .robotid(
            &["submit", "--batch", &batch_arg, "--out-dir", "certs"],
            "ubx",
        )
        .expect_code(1);
    assert!(
        out.stdout.contains("32 CSRs: 30 issued, 0 already issued"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("robot-foreign.csr") && out.stderr.contains("robot.foreign"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("robot-garbage.csr") && out.stderr.contains("csr."),
        "{}",
        out.stderr
    );
    for i in 0..30 {
        assert!(s.path().join(format!("certs/robot-{i:02}.pem")).exists());
    }
    assert!(!s.path().join("certs/robot-foreign.pem").exists());
    // The same batch again: the same certificates.
    let again = s
        .robotid(
            &["submit", "--batch", &batch_arg, "--out-dir", "certs2"],
            "ubx",
        )
        .expect_code(1);
    assert!(
        again.stdout.contains("0 issued, 30 already issued"),
        "{}",
        again.stdout
    );
    assert_eq!(
        serial_of(&s.path().join("certs/robot-07.pem")),
        serial_of(&s.path().join("certs2/robot-07.pem"))
    );
}

#[test]
fn bad_input_gets_a_problem_document_and_the_server_keeps_serving() {
    let s = Setup::new(None);
    let ubx = https(&s.server, Some(&s.path().join("ubx")));
    let enroll = format!("{}/api/v1/enroll", s.server.api);
    let batch = format!("{}/api/v1/enroll/batch", s.server.api);

    let anonymous = https(&s.server, None);
    let (status, p) = problem(
        anonymous
            .post(&enroll)
            .header("content-type", "application/pkcs10")
            .body(vec![0x30])
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, p["rule"].as_str().unwrap()),
        (401, "credential.missing")
    );

    let (status, p) = problem(
        ubx.post(&enroll)
            .header("content-type", "application/pkcs10")
            .body(vec![0x30, 0x03, 1, 2, 3])
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400, "{p}");
    assert!(p["rule"].as_str().unwrap().starts_with("csr."), "{p}");

    let (status, p) = problem(
        ubx.post(&enroll)
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, p["rule"].as_str().unwrap()),
        (415, "request.content_type")
    );

    let (status, p) = problem(
        ubx.post(&batch)
            .json(&serde_json::json!({"csrs": ["x"], "colour": "red"}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 400, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("colour"), "{p}");

    let too_many: Vec<&str> = vec!["x"; 10_001];
    let (status, p) = problem(
        ubx.post(&batch)
            .json(&serde_json::json!({ "csrs": too_many }))
            .send()
            .unwrap(),
    );
    assert_eq!((status, p["rule"].as_str().unwrap()), (413, "batch.size"));

    let huge = vec![b'A'; 33 * 1024 * 1024];
    let (status, p) = problem(
        ubx.post(&enroll)
            .header("content-type", "application/pkcs10")
            .body(huge)
            .send()
            .unwrap(),
    );
    assert_eq!((status, p["rule"].as_str().unwrap()), (413, "request.size"));

    let (status, _) = problem(
        ubx.get(format!("{}/api/v1/nope", s.server.api))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    let (status, _) = problem(ubx.get(&enroll).send().unwrap());
    assert_eq!(status, 405);

    // A certificate from the CA that is not a registered credential, and an
    // expired one: 401 each, with the reason.
    for (name, days) in [("unregistered", 30i64), ("expired", -1)] {
        let dir = s.path().join(name);
        make_credential(&s.server.data_dir, &dir, days);
        let client = https(&s.server, Some(&dir));
        let (status, p) = problem(
            client
                .post(&enroll)
                .header("content-type", "application/pkcs10")
                .body(vec![0x30])
                .send()
                .unwrap(),
        );
        let want = if days < 0 {
            "credential.expired"
        } else {
            "credential.unknown"
        };
        assert_eq!((status, p["rule"].as_str().unwrap()), (401, want));
    }

    // A revoked credential stops working at once, even on an open connection.
    let ok = ubx
        .post(&enroll)
        .header("content-type", "application/pkcs10")
        .body(vec![0x30])
        .send()
        .unwrap();
    assert_eq!(ok.status().as_u16(), 400);
    let serial = serial_of(&s.path().join("ubx/client.pem"));
    let operator = https(&s.server, Some(&s.server.operator()));
    let revoke = format!("{}/api/v1/credentials/{serial}/revoke", s.server.api);
    let (status, p) = problem(ubx.post(&revoke).send().unwrap());
    assert_eq!(
        (status, p["rule"].as_str().unwrap()),
        (403, "role.operator_required")
    );
    assert_eq!(
        operator.post(&revoke).send().unwrap().status().as_u16(),
        200
    );
    let (status, p) = problem(
        ubx.post(&enroll)
            .header("content-type", "application/pkcs10")
            .body(vec![0x30])
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, p["rule"].as_str().unwrap()),
        (401, "credential.revoked")
    );

    let health = reqwest::blocking::get(format!("{}/healthz", s.server.public)).unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let openapi: serde_json::Value =
        reqwest::blocking::get(format!("{}/openapi.json", s.server.public))
            .unwrap()
            .json()
            .unwrap();
    for path in [
        "/api/v1/enroll",
        "/api/v1/enroll/batch",
        "/api/v1/manufacturers",
        "/api/v1/manufacturers/{code}/models",
        "/api/v1/robots/{robot_id}/revoke",
        "/api/v1/certificates/{serial}/revoke",
        "/api/v1/robots/{robot_id}/hold",
        "/api/v1/robots/{robot_id}/release",
        "/ocsp",
        "/ocsp/{request}",
        "/crl/{file}",
        "/status",
        "/status/{id}",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} missing from /openapi.json"
        );
    }
    let metrics = reqwest::blocking::get(format!("{}/metrics", s.server.public))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("robotid_enroll_refused_total"),
        "{metrics}"
    );
}

fn race(database_url: Option<&str>) {
    let s = Setup::new(database_url);
    let enroll = format!("{}/api/v1/enroll", s.server.api);
    // 50 different keys for one robot at once: exactly one certificate.
    let csrs: Vec<Vec<u8>> = (0..50)
        .map(|i| std::fs::read(s.csr("UBX", "WK5", "RACE1", &format!("race{i}.key"))).unwrap())
        .collect();
    let client = https(&s.server, Some(&s.path().join("ubx")));
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = csrs
            .iter()
            .map(|csr| {
                let (client, enroll) = (&client, &enroll);
                scope.spawn(move || {
                    client
                        .post(enroll)
                        .header("content-type", "application/pkcs10")
                        .body(csr.clone())
                        .send()
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );

    // 50 submissions of one identical CSR at once: one certificate, given to all.
    let csr = std::fs::read(s.csr("UBX", "WK5", "RACE2", "same.key")).unwrap();
    let serials: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let (client, enroll, csr) = (&client, &enroll, &csr);
                scope.spawn(move || {
                    let r = client
                        .post(enroll)
                        .header("content-type", "application/pkcs10")
                        .body(csr.clone())
                        .send()
                        .unwrap();
                    let status = r.status();
                    let body = r.json::<serde_json::Value>().unwrap();
                    assert!(status.is_success(), "{status}: {body}");
                    body["serial"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(serials.iter().all(|x| *x == serials[0]), "{serials:?}");
}

#[test]
fn concurrent_submissions_for_one_robot_on_sqlite() {
    race(None);
}

#[test]
fn concurrent_submissions_for_one_robot_on_postgres() {
    if let Some(url) = postgres_database() {
        race(Some(&url));
    }
}

#[test]
fn two_servers_on_one_postgres_issue_without_duplicates() {
    let Some(url) = postgres_database() else {
        return;
    };
    let s = Setup::new(Some(&url));
    let second = Server::start(&s.server.data_dir, Some(&url));
    let csrs: Vec<String> = (0..60)
        .map(|i| {
            std::fs::read_to_string(s.csr("UBX", "WK5", &format!("TWO{i}"), &format!("two{i}.key")))
                .unwrap()
        })
        .collect();
    let body = serde_json::json!({ "csrs": csrs });
    let results: Vec<serde_json::Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = [&s.server, &second]
            .into_iter()
            .flat_map(|server| [server, server])
            .map(|server| {
                let client = https(server, Some(&s.path().join("ubx")));
                let (url, body) = (format!("{}/api/v1/enroll/batch", server.api), &body);
                scope.spawn(move || {
                    client
                        .post(url)
                        .json(body)
                        .send()
                        .unwrap()
                        .json::<serde_json::Value>()
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut by_robot = std::collections::HashMap::new();
    for r in &results {
        assert_eq!(r["refused"], 0, "{r}");
        for item in r["results"].as_array().unwrap() {
            let serial = item["serial"].as_str().unwrap().to_owned();
            let robot = item["robot_id"].as_str().unwrap().to_owned();
            let seen = by_robot.entry(robot).or_insert_with(|| serial.clone());
            assert_eq!(*seen, serial, "two certificates for one robot");
        }
    }
    assert_eq!(by_robot.len(), 60);
    let issued: u64 = results.iter().map(|r| r["issued"].as_u64().unwrap()).sum();
    assert_eq!(
        issued, 60,
        "each robot issued exactly once across both servers"
    );
}

/// Finding 9 of issue 17: a POST the server refuses before reading its
/// body (415 for the media type, 403 for the role, 413 for the size) must
/// reach the client as the problem document, over HTTP/2 as over
/// HTTP/1.1, while the client is still sending. curl 7.88 over HTTP/2 lost
/// about 40% of them to `(92)` stream resets (RST_STREAM CANCEL); HTTP/1.1
/// clients saw `Broken pipe` when the server closed with the body unread.
#[test]
fn curl_reads_every_early_refusal_over_http2_and_http1() {
    if !tool_available("curl", &["--version"]) {
        return;
    }
    let s = Setup::new(None);
    let ubx = s.path().join("ubx");
    let root = s.server.data_dir.join("ca/root-ca.pem");
    // 4 MB: more than flow-control windows and socket buffers hold, so the
    // client is still sending when the answer comes.
    std::fs::write(s.path().join("body.bin"), vec![b'A'; 4 * 1024 * 1024]).unwrap();
    std::fs::write(s.path().join("huge.bin"), vec![b'A'; 33 * 1024 * 1024]).unwrap();
    let cases = [
        (
            "/api/v1/enroll",
            "text/plain",
            "body.bin",
            415,
            "request.content_type",
        ),
        (
            "/api/v1/manufacturers",
            "application/json",
            "body.bin",
            403,
            "role.operator_required",
        ),
        (
            "/api/v1/enroll",
            "application/pkcs10",
            "huge.bin",
            413,
            "request.size",
        ),
    ];
    for version in ["--http2", "--http1.1"] {
        for round in 0..10 {
            for (path, ctype, file, status, rule) in cases {
                let out = run_in(
                    s.path(),
                    "curl",
                    &[
                        version,
                        "-sS",
                        "--cacert",
                        &root.display().to_string(),
                        "--cert",
                        &ubx.join("client.pem").display().to_string(),
                        "--key",
                        &ubx.join("client.key").display().to_string(),
                        "-H",
                        &format!("content-type: {ctype}"),
                        "--data-binary",
                        &format!("@{file}"),
                        "-o",
                        "answer.json",
                        "-w",
                        "%{http_code} %{http_version}",
                        &format!("{}{path}", s.server.api),
                    ],
                );
                assert_eq!(
                    out.code, 0,
                    "{version} round {round} {path} ({status}): curl failed: {}{}",
                    out.stdout, out.stderr
                );
                let want_version = if version == "--http2" { "2" } else { "1.1" };
                assert_eq!(out.stdout, format!("{status} {want_version}"), "{path}");
                let answer = std::fs::read_to_string(s.path().join("answer.json")).unwrap();
                let p: serde_json::Value = serde_json::from_str(&answer).unwrap();
                assert_eq!(p["rule"], rule, "{version} {path}: {answer}");
            }
        }
    }
}

/// Two servers starting at once on one CA folder while its OCSP signer
/// must be replaced (its pair gone, as when it is due or was left broken):
/// both start, and the pair on disk is one key and its certificate. The
/// folder's rotation lock makes one server rotate and the other load what
/// it wrote; before it, 9 of 32 such rounds lost a server and some left a
/// mismatched pair.
#[test]
fn two_servers_starting_while_the_ocsp_signer_is_replaced_both_start() {
    let Some(url) = postgres_database() else {
        return;
    };
    if !tool_available("openssl", &["version"]) {
        return;
    }
    let mut s = Setup::new(Some(&url));
    s.server.kill();
    let data = s.server.data_dir.clone();
    let ca = data.join("ca");
    for round in 0..20 {
        for file in ["ocsp-signer.key", "ocsp-signer.pem"] {
            std::fs::remove_file(ca.join(file)).unwrap();
        }
        let started: Vec<Result<Server, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (data, url) = (&data, &url);
                    scope.spawn(move || {
                        let log = data.with_extension(format!("{round}-{i}.log"));
                        let mut cmd = std::process::Command::new(robotid_tests::bin("robotid-ca"));
                        cmd.arg("--data-dir")
                            .arg(data)
                            .args(["--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0"])
                            .args(["--database-url", url])
                            .stderr(std::fs::File::create(&log).unwrap());
                        Server::spawn(cmd, data).map_err(|e| {
                            format!("{e}: {}", std::fs::read_to_string(&log).unwrap_or_default())
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for server in &started {
            assert!(server.is_ok(), "round {round}: {:?}", server.as_ref().err());
        }
        let key_pub = run_in(
            s.path(),
            "openssl",
            &[
                "pkey",
                "-in",
                &ca.join("ocsp-signer.key").display().to_string(),
                "-pubout",
            ],
        )
        .expect_code(0)
        .stdout;
        let cert_pub = run_in(
            s.path(),
            "openssl",
            &[
                "x509",
                "-in",
                &ca.join("ocsp-signer.pem").display().to_string(),
                "-noout",
                "-pubkey",
            ],
        )
        .expect_code(0)
        .stdout;
        assert_eq!(
            key_pub, cert_pub,
            "round {round}: the key is not its certificate's"
        );
        drop(started);
    }
}

/// SIGTERM while a production line's batch is being issued: the server
/// stops accepting (a new connection is refused), finishes the batch (every
/// certificate answered and recorded), closes the registry and exits 0.
/// Before, SIGTERM ended the process in milliseconds with the batch cut.
#[test]
fn sigterm_finishes_the_requests_in_flight_and_exits_0() {
    use std::time::{Duration, Instant};
    let mut s = Setup::new(None);
    let n = 3000;
    let csrs = s.batch_csrs("UBX", "WK5", "TM", n);
    let client = https(&s.server, Some(&s.path().join("ubx")));
    let url = format!("{}/api/v1/enroll/batch", s.server.api);
    let api = s.server.api.trim_start_matches("https://").to_owned();
    let (answer, status) = std::thread::scope(|scope| {
        // The answer is read as it comes: the server finishes a request
        // only once its answer has been taken.
        let request = scope.spawn(|| {
            let response = client
                .post(&url)
                .json(&serde_json::json!({ "csrs": csrs }))
                .send()
                .unwrap();
            let status = response.status().as_u16();
            (status, response.text())
        });
        // The batch is in the server (its serials being recorded or
        // signed): stop it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !request.is_finished() {
            let pending = sqlite_rows(
                s.path(),
                &s.server.data_dir,
                "SELECT count(*) FROM certificates WHERE robot_id LIKE 'UBX-WK5-TM%'",
            );
            if pending.trim() != "0" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the batch never reached the registry"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            !request.is_finished(),
            "the batch finished before SIGTERM: the test proves nothing"
        );
        let status = s.server.terminate(Duration::from_secs(60));
        (request.join().unwrap(), status)
    });
    let (code, text) = answer;
    assert_eq!(code, 200);
    let text = text.unwrap_or_else(|e| panic!("the answer was cut: {e}; log: {}", s.server.log()));
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["issued"], n, "{}", body["refused"]);
    let status = status.expect("the server did not exit within 60 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", s.server.log());
    let issued = sqlite_rows(
        s.path(),
        &s.server.data_dir,
        "SELECT count(*) FROM certificates WHERE robot_id LIKE 'UBX-WK5-TM%' AND status = 'issued'",
    );
    assert_eq!(issued.trim(), n.to_string());
    assert!(
        std::net::TcpStream::connect(&api).is_err(),
        "a stopped server still accepts connections"
    );
}
