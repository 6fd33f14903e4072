//! Hostile input (issue 22): what a manifest, a request or a server's
//! answer may contain, at every entry point of the real binaries.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Setup, https, problem};
use robotid_tests::robotid;
use serde_json::{Value, json};

use robotid_tests::tempdir;

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
            .replace("Example Compute Co.", "Good Co\u{202e}gnp.exe");
    common::copy_example_firmware(s.path());
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
    // A wrong-typed field is named too (it was reported as "details").
    let response = ubx
        .post(format!("{}/api/v1/robots/{id}/history", s.server.api))
        .json(&json!({"type": "sold", "details": {"new_owner": 5}}))
        .send()
        .unwrap();
    let (status, p): (u16, Value) = problem(response);
    assert_eq!(
        (status, p["rule"].as_str(), p["field"].as_str()),
        (400, Some("lifecycle.details"), Some("details.new_owner")),
        "{p}"
    );
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

/// A one-shot HTTP server on 127.0.0.1: answers every connection with
/// `answer` (raw bytes, then `then`), counting connections.
fn fake_server(
    answer: Vec<u8>,
    then: fn(&mut std::net::TcpStream),
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = answer.clone();
            std::thread::spawn(move || {
                // Read the request head (and whatever body came with it).
                let mut buf = [0u8; 65536];
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(300)));
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(&answer);
                then(&mut stream);
            });
        }
    });
    (url, hits)
}

/// The CLI's HTTP client: a redirect is not followed (the request is not
/// sent on, here from one server to another over plain HTTP), an endless
/// answer is cut at the limit instead of filling memory, and a refusal's
/// escape sequences and length are tamed.
#[test]
fn the_cli_follows_no_redirect_and_bounds_the_answer() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempdir();
    let status = |server: &str| {
        robotid(
            dir.path(),
            &["status", "--server", server, "UBX-WK5-00001234-I"],
        )
    };

    let (elsewhere, elsewhere_hits) = fake_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"results\": []}"
            .to_vec(),
        |_| {},
    );
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {elsewhere}/status\r\ncontent-length: 0\r\n\r\n"
    );
    let (redirecting, _) = fake_server(redirect.into_bytes(), |_| {});
    let run = status(&redirecting);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("redirects are not followed"),
        "{}",
        run.stderr
    );
    assert_eq!(
        elsewhere_hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the request was sent on to the redirect's target"
    );

    // An endless answer (stopped after 256 MiB, so the test ends even
    // when the client reads it all).
    let (endless, _) = fake_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n[".to_vec(),
        |stream| {
            use std::io::Write;
            let chunk = vec![b' '; 1 << 20];
            for _ in 0..256 {
                if stream.write_all(&chunk).is_err() {
                    return;
                }
            }
        },
    );
    let started = std::time::Instant::now();
    let run = status(&endless);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("longer than 67108864 bytes"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));

    // A refusal of 100 KB with escape sequences.
    let detail = "\u{1b}[2J\u{1b}]0;pwned\u{7}".repeat(8_000);
    let body = serde_json::to_vec(&json!({
        "type": "urn:robotid:problem:status.id", "title": "Bad Request", "status": 400,
        "detail": detail, "rule": "status.id",
    }))
    .unwrap();
    let mut answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend(body);
    let (refusing, _) = fake_server(answer, |_| {});
    let run = status(&refusing);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
    assert!(run.stderr.len() < 3_000, "{} bytes", run.stderr.len());
    assert!(
        run.stderr.contains("more characters not shown"),
        "{}",
        run.stderr
    );
}

/// `robotid-verify --dir` reports every file it cannot read and fails
/// (a dangling link and a FIFO were skipped: "0 unreadable", exit 0).
#[test]
fn verify_dir_reports_unreadable_files() {
    let s = Setup::new(None);
    let csr = s.csr("UBX", "WK5", "00000001", "ubx-1.key");
    let certs = s.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let good = certs.join("a-good.pem");
    s.robotid(
        &[
            "submit",
            "--csr",
            &csr.display().to_string(),
            "--out",
            &good.display().to_string(),
        ],
        "ubx",
    )
    .expect_code(0);
    std::os::unix::fs::symlink(certs.join("missing.pem"), certs.join("b-dangling.pem")).unwrap();
    let fifo = certs.join("c-fifo.pem");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let root = s.server.data_dir.join("ca/root-ca.pem");
    let run = robotid_tests::process::run_in(
        s.path(),
        robotid_tests::process::bin("robotid-verify"),
        &[
            "--dir",
            &certs.display().to_string(),
            "--trust",
            &root.display().to_string(),
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("3 certificates: 1 passed, 0 failed, 2 unreadable"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("c-fifo.pem: is a FIFO"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("b-dangling.pem"), "{}", run.stdout);
}

/// An OCSP request for serial 0 is answered "unknown", signed, like any
/// serial this CA never issued (it was answered internalError and logged
/// an ERROR, on the public port, for anyone). OpenSSL asks.
#[test]
fn ocsp_for_serial_zero_is_unknown_not_an_internal_error() {
    if !robotid_tests::tool_available("openssl", &["version"]) {
        return;
    }
    let s = Setup::new(None);
    let ca = s.server.data_dir.join("ca");
    let issuer = ca.join("issuing-ca.pem").display().to_string();
    let url = format!("{}/ocsp", s.server.public);
    for serial in ["0", "0x00"] {
        let run = robotid_tests::run_in(
            s.path(),
            "openssl",
            &[
                "ocsp",
                "-issuer",
                &issuer,
                "-serial",
                serial,
                "-url",
                &url,
                "-no_nonce",
                "-noverify",
                "-resp_text",
            ],
        );
        let text = format!("{}{}", run.stdout, run.stderr);
        assert!(text.contains("OCSP Response Status: successful"), "{text}");
        assert!(text.contains("Cert Status: unknown"), "{text}");
    }
    let log = s.server.log();
    assert!(!log.contains("ERROR"), "{log}");
}

/// Sends `request` (raw HTTP/1.1) to the public port; the answer's first
/// line, headers and the start of its body, as read within a second.
fn raw_http(server: &str, request: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let addr = server.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.len() > 64 * 1024 {
            break;
        }
    }
    out
}

/// Statuses: an empty batch is 400 (not 413); a body declared too large
/// with `Expect: 100-continue` is refused at once (not `100 Continue`); a
/// path parameter with bad percent-encoding is a problem document (not
/// axum's plain text), and under /ocsp an OCSP malformedRequest.
#[test]
fn statuses_of_empty_batches_huge_bodies_and_unreadable_paths() {
    let s = Setup::new(None);
    let ubx = https(&s.server, Some(&s.creds("ubx")));
    let response = ubx
        .post(format!("{}/api/v1/enroll/batch", s.server.api))
        .json(&json!({"csrs": []}))
        .send()
        .unwrap();
    let (status, p) = problem(response);
    assert_eq!(
        (status, p["rule"].as_str(), p["field"].as_str()),
        (400, Some("batch.empty"), Some("csrs")),
        "{p}"
    );

    let host = s.server.public.trim_start_matches("http://").to_owned();
    for (path, ctype) in [
        ("/status", "application/json"),
        ("/ocsp", "application/ocsp-request"),
    ] {
        let answer = raw_http(
            &s.server.public,
            &format!(
                "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: {ctype}\r\ncontent-length: 1073741824\r\nexpect: 100-continue\r\n\r\n"
            ),
        );
        let text = String::from_utf8_lossy(&answer);
        assert!(!text.starts_with("HTTP/1.1 100"), "{path}: {text}");
        if path == "/ocsp" {
            assert!(text.starts_with("HTTP/1.1 200"), "{path}: {text}");
            assert!(answer.ends_with(b"\x30\x03\x0a\x01\x01"), "{path}: {text}");
        } else {
            assert!(text.starts_with("HTTP/1.1 413"), "{path}: {text}");
            assert!(text.contains("request.size"), "{path}: {text}");
        }
    }

    let client = reqwest::blocking::Client::new();
    for path in ["/status/%ff%fe", "/crl/%ff.crl", "/ca/%c3%28.cer"] {
        let response = client
            .get(format!("{}{path}", s.server.public))
            .send()
            .unwrap();
        let (status, p) = problem(response);
        assert_eq!(
            (status, p["rule"].as_str()),
            (400, Some("request.path")),
            "{path}: {p}"
        );
    }
    for path in [
        "/api/v1/robots/%ff/history",
        "/api/v1/robots/%c3%28/history/export",
        "/api/v1/status/%ff",
    ] {
        let response = ubx.get(format!("{}{path}", s.server.api)).send().unwrap();
        let (status, p) = problem(response);
        assert_eq!(
            (status, p["rule"].as_str()),
            (400, Some("request.path")),
            "{path}: {p}"
        );
    }
    let response = client
        .get(format!("{}/ocsp/%ff%ZZ", s.server.public))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/ocsp-response"
    );
    assert_eq!(response.bytes().unwrap().as_ref(), b"\x30\x03\x0a\x01\x01");
}

/// `robotid submit --batch`: the good CSRs are issued, DER ones included,
/// and each file that cannot be read is named (one unreadable file aborted
/// the whole batch with nothing submitted, and DER was refused).
#[test]
fn a_batch_issues_the_good_csrs_and_names_each_bad_file() {
    use rustls_pki_types::pem::PemObject;
    let s = Setup::new(None);
    let batch = s.path().join("batch");
    std::fs::create_dir(&batch).unwrap();
    let pem = s.csr("UBX", "WK5", "00000021", "k21.key");
    std::fs::copy(&pem, batch.join("a-pem.csr")).unwrap();
    let der = rustls_pki_types::CertificateSigningRequestDer::from_pem_file(
        s.csr("UBX", "WK5", "00000022", "k22.key"),
    )
    .unwrap();
    std::fs::write(batch.join("b-der.csr"), der.as_ref()).unwrap();
    std::os::unix::fs::symlink(batch.join("nowhere"), batch.join("c-dangling.csr")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(batch.join("d-fifo.csr"))
            .status()
            .unwrap()
            .success()
    );
    std::fs::create_dir(batch.join("e-folder.csr")).unwrap();
    let out = s
        .robotid(
            &[
                "submit",
                "--batch",
                &batch.display().to_string(),
                "--out-dir",
                "certs",
            ],
            "ubx",
        )
        .expect_code(1);
    assert!(
        out.stdout.contains(
            "5 CSRs: 2 issued, 0 already issued (same certificate), 0 refused, 3 unreadable"
        ),
        "{}{}",
        out.stdout,
        out.stderr
    );
    for (name, says) in [
        ("c-dangling.csr", "No such file"),
        ("d-fifo.csr", "a FIFO"),
        ("e-folder.csr", "a directory"),
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(name) && l.contains(says)),
            "{name}: {}",
            out.stderr
        );
    }
    assert!(s.path().join("certs/a-pem.pem").exists());
    assert!(s.path().join("certs/b-der.pem").exists());
}

/// An Ed448 credential CSR is refused as an unsupported key, naming the
/// algorithm (it was reported as a bad signature). OpenSSL makes it.
#[test]
fn an_ed448_credential_is_an_unsupported_key() {
    if !robotid_tests::tool_available("openssl", &["version"]) {
        return;
    }
    let s = Setup::new(None);
    robotid_tests::run_in(
        s.path(),
        "openssl",
        &["genpkey", "-algorithm", "ed448", "-out", "ed448.key"],
    )
    .expect_code(0);
    robotid_tests::run_in(
        s.path(),
        "openssl",
        &[
            "req",
            "-new",
            "-key",
            "ed448.key",
            "-subj",
            "/CN=ed448",
            "-out",
            "ed448.csr",
        ],
    )
    .expect_code(0);
    let credential_csr = std::fs::read_to_string(s.path().join("ed448.csr")).unwrap();
    let response = https(&s.server, Some(&s.creds("operator")))
        .post(format!("{}/api/v1/manufacturers", s.server.api))
        .json(&json!({
            "code": "EDX", "name": "Ed448 Ltd", "country": "DE",
            "credential_csr": credential_csr,
        }))
        .send()
        .unwrap();
    let (status, p) = problem(response);
    assert_eq!(
        (status, p["rule"].as_str(), p["field"].as_str()),
        (400, Some("csr.key_algorithm"), Some("credential_csr")),
        "{p}"
    );
    assert!(p["detail"].as_str().unwrap().contains("1.3.101.113"), "{p}");
}

/// A folder that cannot hold what a command writes is a usage error (exit
/// 2) naming the flag: `ca init` under a missing folder exited 1 naming its
/// own temporary file, and `key new --out <folder>` exited 1 as if a key
/// were there.
#[test]
fn a_missing_or_wrong_folder_is_a_usage_error_naming_the_flag() {
    let dir = tempdir();
    let missing = dir.path().join("missing/sub/ca").display().to_string();
    let run = robotid(dir.path(), &["ca", "init", "--dir", &missing]).expect_code(2);
    assert!(run.stderr.contains("--dir"), "{}", run.stderr);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    assert!(!run.stderr.contains(".ceremony"), "{}", run.stderr);
    assert!(!dir.path().join("missing").exists());

    std::fs::write(dir.path().join("plain"), "not a folder").unwrap();
    let run = robotid(dir.path(), &["ca", "init", "--dir", "plain"]).expect_code(2);
    assert!(run.stderr.contains("not a folder"), "{}", run.stderr);

    std::fs::create_dir(dir.path().join("keys")).unwrap();
    let run = robotid(dir.path(), &["key", "new", "--out", "keys"]).expect_code(2);
    assert!(
        run.stderr.contains("--out keys: is a folder"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("keys")).unwrap().count(),
        0
    );
}

/// A server that cannot be reached or talked to is exit 3, not 1 (the code
/// of a refusal), with the cause and what it usually means: nothing
/// listening, the public (plain HTTP) port given as https, the mutual-TLS
/// API port given as http. Before, all three were `error sending request`
/// with exit 1.
#[test]
fn an_unreachable_server_is_exit_3_with_the_cause() {
    let s = Setup::new(None);
    let creds = s.creds("ubx").display().to_string();
    let id = robotid_verifier::robot_id::RobotId::new("UBX", "WK5", "00000001")
        .unwrap()
        .to_string();
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = |server: &str| {
        robotid(
            s.path(),
            &["status", "--server", server, "--credentials", &creds, &id],
        )
        .expect_code(3)
    };
    let nobody = run(&format!("http://{free}"));
    assert!(
        nobody.stderr.contains("connection refused"),
        "{}",
        nobody.stderr
    );
    let public_as_https = s.server.public.replace("http://", "https://");
    let tls = run(&public_as_https);
    assert!(
        tls.stderr.contains("is this the public port"),
        "{}",
        tls.stderr
    );
    let api_as_http = s.server.api.replace("https://", "http://");
    let plain = run(&api_as_http);
    assert!(plain.stderr.contains("needs https://"), "{}", plain.stderr);
}
