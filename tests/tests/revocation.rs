//! The revocation service end to end, with independent clients: `openssl
//! ocsp` and `openssl crl` read what the server publishes, pkilint lints
//! it, and `robotid revoke | hold | release | status` drive it, on SQLite
//! and on PostgreSQL. An acknowledged revocation survives kill -9.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Setup, https, problem, serial_of};
use robotid_tests::{
    Server, go_available, go_check, postgres_database, repo_root, run_in, tool_available,
};
use robotid_verifier::robot_id::RobotId;

/// Enrolls robot `serial` of (code, model) with a key of its own; returns
/// the certificate's path.
fn enroll(s: &Setup, code: &str, model: &str, serial: &str) -> String {
    let csr = s.csr(code, model, serial, &format!("{code}-{serial}.key"));
    let out = format!("{code}-{serial}.pem");
    s.robotid(
        &["submit", "--csr", &csr.display().to_string(), "--out", &out],
        &code.to_lowercase(),
    )
    .expect_code(0);
    out
}

/// `openssl ocsp` against the server for `cert`: stdout and stderr together.
fn openssl_ocsp(s: &Setup, cert: &str, extra: &[&str]) -> String {
    let ca = s.server.data_dir.join("ca");
    let issuer = ca.join("issuing-ca.pem").display().to_string();
    let root = ca.join("root-ca.pem").display().to_string();
    let url = format!("{}/ocsp", s.server.public);
    let mut args = vec![
        "ocsp", "-issuer", &issuer, "-cert", cert, "-url", &url, "-CAfile", &root,
    ];
    args.extend_from_slice(extra);
    let out = run_in(s.path(), "openssl", &args);
    let text = format!("{}{}", out.stdout, out.stderr);
    // openssl warns when the nonce it sent is not echoed, or when the
    // response's times are off.
    assert!(!text.contains("WARNING"), "{text}");
    text
}

/// The issuer id the CRL is published under: the first eight bytes of the
/// issuing CA's subject key identifier, in hex.
fn issuer_id(s: &Setup) -> String {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_file(
        s.server.data_dir.join("ca/issuing-ca.pem"),
    )
    .unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let ski = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .unwrap();
    hex::encode(&ski[..8])
}

/// Fetches the CRL to `crl.der` until `accept` likes `openssl crl -text`
/// of it (the CRL follows a change within a second or so); returns the text.
fn crl_until(s: &Setup, accept: impl Fn(&str) -> bool) -> String {
    let url = format!("{}/crl/{}.crl", s.server.public, issuer_id(s));
    let client = reqwest::blocking::Client::new();
    let issuer = s
        .server
        .data_dir
        .join("ca/issuing-ca.pem")
        .display()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = client.get(&url).send().unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/pkix-crl"
        );
        std::fs::write(s.path().join("crl.der"), response.bytes().unwrap()).unwrap();
        let out = run_in(
            s.path(),
            "openssl",
            &[
                "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", &issuer, "-noout", "-text",
            ],
        );
        let text = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(out.code, 0, "{text}");
        assert!(text.contains("verify OK"), "{text}");
        if accept(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "CRL never matched: {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn pkilint(dir: &Path, args: &[&str]) {
    let lint = repo_root()
        .join("tests/conformance/lint.py")
        .display()
        .to_string();
    let mut full = vec![lint.as_str()];
    full.extend_from_slice(args);
    let out = run_in(dir, "python3", &full);
    assert_eq!(
        out.code, 0,
        "pkilint {args:?}:\n{}{}",
        out.stdout, out.stderr
    );
}

fn revocation(database_url: Option<&str>) {
    let tools = tool_available("openssl", &["version"]);
    let lint = tool_available("python3", &["-c", "import pkilint"]);
    let mut s = Setup::new(database_url);
    let ubx = enroll(&s, "UBX", "WK5", "00001234");
    let ubx2 = enroll(&s, "UBX", "WK5", "00001235");
    let acme = enroll(&s, "ACME", "X1", "00000077");
    let ubx_id = RobotId::new("UBX", "WK5", "00001234").unwrap().to_string();
    let ubx2_id = RobotId::new("UBX", "WK5", "00001235").unwrap().to_string();
    let acme_id = RobotId::new("ACME", "X1", "00000077").unwrap().to_string();
    let ubx_serial = serial_of(&s.path().join(&ubx));

    // Good, with a nonce (openssl's default: signed on demand) and without
    // (the presigned response).
    if tools {
        for extra in [&[][..], &["-no_nonce"][..]] {
            let text = openssl_ocsp(&s, &ubx, extra);
            assert!(text.contains("Response verify OK"), "{text}");
            assert!(text.contains(&format!("{ubx}: good")), "{text}");
        }
    }
    let public = s.server.public.clone();
    let status = |ids: &[&str]| {
        let mut args = vec!["status", "--server", public.as_str()];
        args.extend_from_slice(ids);
        robotid_tests::robotid(s.path(), &args)
    };
    let out = status(&[&ubx_id, &acme_id]).expect_code(0);
    assert!(
        out.stdout.contains(&format!("{ubx_id}  good")),
        "{}",
        out.stdout
    );

    // Authorisation: a manufacturer only revokes its own robots, only the
    // operator holds, and nobody acts without a credential.
    let refused = s
        .robotid(
            &["revoke", "--robot", &ubx_id, "--reason", "keyCompromise"],
            "acme",
        )
        .expect_code(1);
    assert!(
        refused.stderr.contains("403 robot.foreign"),
        "{}",
        refused.stderr
    );
    let refused = s
        .robotid(
            &[
                "revoke",
                "--serial",
                &ubx_serial,
                "--reason",
                "keyCompromise",
            ],
            "acme",
        )
        .expect_code(1);
    assert!(refused.stderr.contains("403"), "{}", refused.stderr);
    let refused = s
        .robotid(&["hold", "--robot", &ubx2_id], "ubx")
        .expect_code(1);
    assert!(
        refused.stderr.contains("403 role.operator_required"),
        "{}",
        refused.stderr
    );
    let anonymous = https(&s.server, None)
        .post(format!("{}/api/v1/robots/{ubx_id}/revoke", s.server.api))
        .json(&serde_json::json!({"reason": "keyCompromise"}))
        .send();
    if let Ok(response) = anonymous {
        assert_eq!(problem(response).0, 401);
    }
    let bad = s
        .robotid(
            &["revoke", "--robot", &ubx_id, "--reason", "certificateHold"],
            "ubx",
        )
        .expect_code(2);
    assert!(bad.stderr.contains("revocation.reason"), "{}", bad.stderr);
    status(&[&ubx_id]).expect_code(0);

    // The manufacturer revokes its robot; OCSP and the CRL say so.
    let out = s
        .robotid(
            &["revoke", "--robot", &ubx_id, "--reason", "keyCompromise"],
            "ubx",
        )
        .expect_code(0);
    assert!(
        out.stdout.contains("revoked (keyCompromise)"),
        "{}",
        out.stdout
    );
    // Revoking again is acknowledged and changes nothing.
    let again = s
        .robotid(
            &["revoke", "--robot", &ubx_id, "--reason", "keyCompromise"],
            "ubx",
        )
        .expect_code(0);
    assert!(again.stdout.contains("already so"), "{}", again.stdout);
    // A revoked certificate's reason only moves to keyCompromise.
    let refused = s
        .robotid(
            &["revoke", "--robot", &ubx_id, "--reason", "superseded"],
            "ubx",
        )
        .expect_code(1);
    assert!(
        refused.stderr.contains("409 revocation.already_revoked"),
        "{}",
        refused.stderr
    );
    let out = s
        .robotid(
            &[
                "revoke",
                "--serial",
                &ubx_serial,
                "--reason",
                "keyCompromise",
            ],
            "ubx",
        )
        .expect_code(0);
    assert!(out.stdout.contains("already so"), "{}", out.stdout);
    let out = status(&[&ubx_id, &ubx_serial]).expect_code(1);
    assert!(
        out.stdout
            .contains(&format!("{ubx_id}  revoked  keyCompromise")),
        "{}",
        out.stdout
    );
    if tools {
        for extra in [&[][..], &["-no_nonce"][..]] {
            let text = openssl_ocsp(&s, &ubx, extra);
            assert!(text.contains("Response verify OK"), "{text}");
            assert!(text.contains(&format!("{ubx}: revoked")), "{text}");
            assert!(text.contains("Reason: keyCompromise"), "{text}");
        }
        let serial_upper = ubx_serial.to_uppercase();
        let text = crl_until(&s, |t| t.contains(&serial_upper));
        assert!(text.contains("Key Compromise"), "{text}");
        assert!(text.contains("Issuing Distribution Point"), "{text}");
        if lint {
            pkilint(s.path(), &["--artifact", "crl", "crl", "crl.der"]);
            openssl_ocsp(&s, &ubx, &["-no_nonce", "-respout", "ocsp.der"]);
            pkilint(
                s.path(),
                &["--artifact", "ocsp-response", "ocsp", "ocsp.der"],
            );
        }
        if go_available() {
            // Go's crypto/x509 and x/crypto/ocsp: the CRL parses and its
            // signature checks; the OCSP response parses for its
            // certificate, signed by the delegated responder.
            let issuer = s.server.data_dir.join("ca/issuing-ca.pem");
            let issuer = issuer.display().to_string();
            let out = go_check(s.path(), &["crl", "crl.der", &issuer]);
            assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
            openssl_ocsp(&s, &ubx, &["-no_nonce", "-respout", "ocsp-go.der"]);
            let out = go_check(s.path(), &["ocsp", "ocsp-go.der", &ubx, &issuer, "revoked"]);
            assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
            openssl_ocsp(&s, &acme, &["-respout", "ocsp-good.der"]);
            let out = go_check(s.path(), &["ocsp", "ocsp-good.der", &acme, &issuer, "good"]);
            assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        }
    }

    // The operator holds and releases the other robot.
    let out = s
        .robotid(&["hold", "--robot", &ubx2_id], "operator")
        .expect_code(0);
    assert!(out.stdout.contains("on hold"), "{}", out.stdout);
    let out = status(&[&ubx2_id]).expect_code(1);
    assert!(
        out.stdout.contains("on_hold  certificateHold"),
        "{}",
        out.stdout
    );
    let ubx2_serial = serial_of(&s.path().join(&ubx2)).to_uppercase();
    if tools {
        let text = openssl_ocsp(&s, &ubx2, &["-no_nonce"]);
        assert!(text.contains("Reason: certificateHold"), "{text}");
        let text = crl_until(&s, |t| t.contains(&ubx2_serial));
        assert!(text.contains("Certificate Hold"), "{text}");
    }
    s.robotid(&["release", "--robot", &ubx2_id], "operator")
        .expect_code(0);
    status(&[&ubx2_id]).expect_code(0);
    if tools {
        let text = openssl_ocsp(&s, &ubx2, &["-no_nonce"]);
        assert!(text.contains(&format!("{ubx2}: good")), "{text}");
        crl_until(&s, |t| !t.contains(&ubx2_serial));
    }
    let again = s
        .robotid(&["release", "--robot", &ubx2_id], "operator")
        .expect_code(0);
    assert!(again.stdout.contains("already so"), "{}", again.stdout);
    let refused = s
        .robotid(&["release", "--robot", &acme_id], "operator")
        .expect_code(1);
    assert!(
        refused.stderr.contains("409 revocation.not_on_hold"),
        "{}",
        refused.stderr
    );

    // Acknowledged, then killed: the revocation is still there.
    let out = s
        .robotid(
            &[
                "revoke",
                "--robot",
                &acme_id,
                "--reason",
                "cessationOfOperation",
            ],
            "acme",
        )
        .expect_code(0);
    assert!(
        out.stdout.contains("cessationOfOperation"),
        "{}",
        out.stdout
    );
    s.server.kill();
    s.server = Server::start(&s.server.data_dir.clone(), database_url);
    let public = s.server.public.clone();
    let out = robotid_tests::robotid(
        s.path(),
        &["status", "--server", &public, &acme_id, "--json"],
    )
    .expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["results"][0]["status"], "revoked", "{json}");
    assert_eq!(
        json["results"][0]["reason"], "cessationOfOperation",
        "{json}"
    );
    if tools {
        let text = openssl_ocsp(&s, &acme, &["-no_nonce"]);
        assert!(text.contains("Reason: cessationOfOperation"), "{text}");
        let text = openssl_ocsp(&s, &ubx, &["-no_nonce"]);
        assert!(text.contains("Reason: keyCompromise"), "{text}");
    }
}

#[test]
fn revocation_on_sqlite() {
    revocation(None);
}

#[test]
fn revocation_on_postgres() {
    if let Some(url) = postgres_database() {
        revocation(Some(&url));
    }
}

/// A DER OCSP request for `cert` made by openssl.
fn request_for(s: &Setup, cert: &str) -> Vec<u8> {
    let issuer = s
        .server
        .data_dir
        .join("ca/issuing-ca.pem")
        .display()
        .to_string();
    run_in(
        s.path(),
        "openssl",
        &[
            "ocsp",
            "-issuer",
            &issuer,
            "-cert",
            cert,
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    )
    .expect_code(0);
    std::fs::read(s.path().join("req.der")).unwrap()
}

const MALFORMED: &[u8] = b"\x30\x03\x0a\x01\x01";
const UNAUTHORIZED: &[u8] = b"\x30\x03\x0a\x01\x06";

fn ocsp_bytes(response: reqwest::blocking::Response) -> Vec<u8> {
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/ocsp-response"
    );
    response.bytes().unwrap().to_vec()
}

#[test]
fn malformed_and_foreign_requests_get_ocsp_statuses_never_error_pages() {
    if !tool_available("openssl", &["version"]) {
        return;
    }
    let s = Setup::new(None);
    let cert = enroll(&s, "UBX", "WK5", "00000001");
    let client = reqwest::blocking::Client::new();
    let url = format!("{}/ocsp", s.server.public);
    let b64 = base64::engine::general_purpose::STANDARD;
    for body in [&b""[..], b"hello", b"\x30\x80", b"\x30\x03\x30\x01\x00"] {
        let r = client.post(&url).body(body.to_vec()).send().unwrap();
        assert_eq!(ocsp_bytes(r), MALFORMED, "POST {body:?}");
        let r = client
            .get(format!("{url}/{}", b64.encode(body)))
            .send()
            .unwrap();
        assert_eq!(ocsp_bytes(r), MALFORMED, "GET {body:?}");
    }
    let r = client.get(format!("{url}/not%20base64!")).send().unwrap();
    assert_eq!(ocsp_bytes(r), MALFORMED);
    let r = client.post(&url).body(vec![0x30; 100_000]).send().unwrap();
    assert_eq!(ocsp_bytes(r), MALFORMED);

    // GET with the request in the path (RFC 6960 A.1) answers like POST.
    let request = request_for(&s, &cert);
    let by_post = ocsp_bytes(client.post(&url).body(request.clone()).send().unwrap());
    let encoded = b64.encode(&request);
    let path_safe = encoded
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let by_get = client.get(format!("{url}/{path_safe}")).send().unwrap();
    let cache_control = by_get.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache_control.contains("max-age="), "{cache_control}");
    assert_eq!(
        ocsp_bytes(by_get),
        by_post,
        "the presigned response, both ways"
    );
    std::fs::write(s.path().join("resp.der"), &by_post).unwrap();
    let root = s
        .server
        .data_dir
        .join("ca/root-ca.pem")
        .display()
        .to_string();
    let issuer = s
        .server
        .data_dir
        .join("ca/issuing-ca.pem")
        .display()
        .to_string();
    let out = run_in(
        s.path(),
        "openssl",
        &[
            "ocsp", "-respin", "resp.der", "-CAfile", &root, "-issuer", &issuer, "-cert", &cert,
        ],
    );
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("Response verify OK") && text.contains(": good"),
        "{text}"
    );

    // A serial this CA never signed: unknown, signed.
    let out = run_in(
        s.path(),
        "openssl",
        &[
            "ocsp",
            "-issuer",
            &issuer,
            "-serial",
            "0x0123456789abcdef",
            "-url",
            &url,
            "-CAfile",
            &root,
        ],
    );
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("Response verify OK") && text.contains("unknown"),
        "{text}"
    );

    // Another issuer's CertID: unauthorized.
    let foreign = run_in(
        s.path(),
        "openssl",
        &[
            "ocsp",
            "-issuer",
            &root,
            "-serial",
            "0x01",
            "-no_nonce",
            "-reqout",
            "foreign.der",
        ],
    )
    .expect_code(0);
    drop(foreign);
    let r = client
        .post(&url)
        .body(std::fs::read(s.path().join("foreign.der")).unwrap())
        .send()
        .unwrap();
    assert_eq!(ocsp_bytes(r), UNAUTHORIZED);
}

#[test]
fn idle_and_slow_clients_do_not_stop_the_responder() {
    if !tool_available("openssl", &["version"]) {
        return;
    }
    let s = Setup::new(None);
    let cert = enroll(&s, "UBX", "WK5", "00000002");
    let request = request_for(&s, &cert);
    let addr = s.server.public.trim_start_matches("http://").to_owned();
    // Clients that connect and close without a byte, and ones that stay
    // connected saying nothing.
    for _ in 0..50 {
        drop(TcpStream::connect(&addr).unwrap());
    }
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    // A client that sends its request a byte a second.
    let slow_addr = addr.clone();
    let slow = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(&slow_addr).unwrap();
        for b in b"GET /healthz HTTP/1.1\r\n" {
            if stream.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = format!("{}/ocsp", s.server.public);
    let started = Instant::now();
    for _ in 0..20 {
        let body = ocsp_bytes(client.post(&url).body(request.clone()).send().unwrap());
        assert!(body.len() > 100);
        std::thread::sleep(Duration::from_millis(100));
    }
    // The answers did not wait for the slow client.
    assert!(started.elapsed() < Duration::from_secs(15));
    drop(idle);
    slow.join().unwrap();
    // And after all that, a plain HTTP/1.1 exchange still works.
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn bulk_status_answers_each_of_100000_ids() {
    let s = Setup::new(None);
    let cert = enroll(&s, "UBX", "WK5", "00000003");
    let known = RobotId::new("UBX", "WK5", "00000003").unwrap().to_string();
    let serial = serial_of(&s.path().join(&cert));
    let mut ids: Vec<String> = (10_000..109_997)
        .map(|n| {
            RobotId::new("UBX", "WK5", &format!("{n:08}"))
                .unwrap()
                .to_string()
        })
        .collect();
    ids.push(known.clone());
    ids.push(serial.clone());
    ids.push("not an id".into());
    assert_eq!(ids.len(), 100_000);
    let client = reqwest::blocking::Client::new();
    let url = format!("{}/status", s.server.public);
    let response = client
        .post(&url)
        .json(&serde_json::json!({ "ids": ids }))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let json: serde_json::Value = response.json().unwrap();
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 100_000);
    assert_eq!(results[0]["status"], "unknown");
    assert_eq!(results[0]["id"], ids[0].as_str());
    assert_eq!(results[99_997]["status"], "good");
    assert_eq!(results[99_997]["serial"], serial.as_str());
    assert_eq!(results[99_998]["status"], "good");
    assert_eq!(results[99_998]["robot_id"], known.as_str());
    assert_eq!(results[99_999]["status"], "invalid");

    ids.push(known);
    let response = client
        .post(&url)
        .json(&serde_json::json!({ "ids": ids }))
        .send()
        .unwrap();
    let (code, body) = problem(response);
    assert_eq!(code, 413);
    assert_eq!(body["rule"], "status.too_many");

    let response = client
        .get(format!("{}/status/not-an-id", s.server.public))
        .send()
        .unwrap();
    assert_eq!(problem(response).0, 400);
}

/// `curl` fetching `url` into `dir`: with `compare`, conditionally on the
/// entity tag it saved before (`--etag-compare`), else saving it. Returns
/// the status and the body's size.
fn curl_etag(dir: &Path, url: &str, compare: bool) -> (String, u64) {
    let mut args = vec![
        "-sS",
        "-o",
        "body.bin",
        "-w",
        "%{http_code} %{size_download}",
    ];
    args.extend(if compare {
        ["--etag-compare", "etag.txt"]
    } else {
        ["--etag-save", "etag.txt"]
    });
    args.push(url);
    let out = run_in(dir, "curl", &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (status, size) = out.stdout.split_once(' ').unwrap();
    (status.to_owned(), size.trim().parse::<u64>().unwrap())
}

/// `curl` revalidating the CRL, an OCSP response (GET) and a CA
/// certificate with the entity tag it saved: 304 and no body while they
/// are the same; the new CRL and OCSP response once a revocation changed
/// them.
#[test]
fn revalidations_download_nothing_until_the_answer_changes() {
    if !tool_available("curl", &["--version"]) || !tool_available("openssl", &["version"]) {
        return;
    }
    let s = Setup::new(None);
    let cert = enroll(&s, "UBX", "WK5", "00000555");
    let serial = serial_of(&s.path().join(&cert));
    let crl = format!("{}/crl/{}.crl", s.server.public, issuer_id(&s));
    let b64 = base64::engine::general_purpose::STANDARD.encode(request_for(&s, &cert));
    let ocsp = format!(
        "{}/ocsp/{}",
        s.server.public,
        b64.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    let root = format!("{}/ca/root.cer", s.server.public);
    let dir = s.path();
    let deadline = Instant::now() + Duration::from_secs(15);
    while curl_etag(dir, &crl, false).0 != "200" {
        assert!(Instant::now() < deadline, "no first CRL");
        std::thread::sleep(Duration::from_millis(200));
    }
    let etag = std::fs::read_to_string(dir.join("etag.txt")).unwrap();
    assert!(etag.starts_with("\"crl-"), "{etag}");
    assert_eq!(curl_etag(dir, &crl, true), ("304".into(), 0));

    // A CA certificate: the same bytes until the next ceremony.
    assert_eq!(curl_etag(dir, &root, false).0, "200");
    assert_eq!(curl_etag(dir, &root, true), ("304".into(), 0));

    // The OCSP response (GET) for the certificate, while it stays the same.
    assert_eq!(curl_etag(dir, &ocsp, false).0, "200");
    let good = std::fs::read(dir.join("body.bin")).unwrap();
    assert_eq!(curl_etag(dir, &ocsp, true), ("304".into(), 0));

    s.robotid(
        &["revoke", "--serial", &serial, "--reason", "keyCompromise"],
        "operator",
    )
    .expect_code(0);
    // The response changed at once (this server made the change).
    let (status, size) = curl_etag(dir, &ocsp, true);
    assert_eq!(status, "200");
    assert!(size > 0);
    assert_ne!(std::fs::read(dir.join("body.bin")).unwrap(), good);

    // The CRL changes within a second or so.
    assert_eq!(curl_etag(dir, &crl, false).0, "200");
    let before = std::fs::read_to_string(dir.join("etag.txt")).unwrap();
    loop {
        let (status, size) = curl_etag(dir, &crl, true);
        if status == "200" {
            assert!(size > 0);
            break;
        }
        assert_eq!(status, "304");
        assert!(
            Instant::now() < deadline,
            "the CRL never changed ({before})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Asks `openssl ocsp` of `s`'s server until the answer for `cert` says
/// `want` (`good`, `revoked`) or `wait` has passed; returns how long it took.
fn ocsp_until(s: &Setup, cert: &str, want: &str, wait: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let text = openssl_ocsp(s, cert, &["-no_nonce"]);
        if text.contains(&format!("{cert}: {want}")) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < wait,
            "{} still answers otherwise after {:?}: {text}",
            s.server.public,
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Two servers on one PostgreSQL: a revocation whose transaction commits
/// ten seconds after it started (a row lock held meanwhile from psql)
/// reaches the other server's OCSP responses and CRL. Followed by time,
/// it never did: its row carried a time older than the other server's
/// window when it became visible. Followed by the change log's index, the
/// other server reads it within its next round.
#[test]
fn a_revocation_that_commits_late_reaches_the_other_server() {
    let Some(url) = postgres_database() else {
        return;
    };
    if !tool_available("openssl", &["version"]) {
        return;
    }
    let mut s = Setup::new(Some(&url));
    let mut other = Server::start(&s.server.data_dir, Some(&url));
    let cert = enroll(&s, "UBX", "WK5", "00000777");
    let serial = serial_of(&s.path().join(&cert));
    std::mem::swap(&mut s.server, &mut other);
    ocsp_until(&s, &cert, "good", Duration::from_secs(15));
    std::mem::swap(&mut s.server, &mut other);

    // psql holds the certificate's row for ten seconds; the revocation,
    // sent to the first server, waits for it, then commits.
    let lock = std::process::Command::new("psql")
        .args([
            &*url,
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            &format!(
                "BEGIN; SELECT serial_hex FROM certificates WHERE serial_hex = '{serial}' \
                 FOR UPDATE; SELECT pg_sleep(10); COMMIT;"
            ),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    s.robotid(
        &["revoke", "--serial", &serial, "--reason", "keyCompromise"],
        "operator",
    )
    .expect_code(0);
    let waited = started.elapsed();
    assert!(lock.wait_with_output().unwrap().status.success());
    assert!(
        waited > Duration::from_secs(5),
        "the revocation did not wait for the row lock ({waited:?}): the test proves nothing"
    );

    std::mem::swap(&mut s.server, &mut other);
    let took = ocsp_until(&s, &cert, "revoked", Duration::from_secs(10));
    eprintln!("the other server's OCSP said revoked {took:?} after the late commit");
    crl_until(&s, |text| text.contains(&serial.to_ascii_uppercase()));
    std::mem::swap(&mut s.server, &mut other);
}

/// Two servers on one PostgreSQL, one with its clock ten seconds behind
/// (libfaketime): what it revokes and holds reaches the other server.
/// Followed by time, the other server never saw it (the rows carried times
/// ten seconds older than its window).
#[test]
fn a_server_with_a_skewed_clock_loses_no_change() {
    let Some(url) = postgres_database() else {
        return;
    };
    if !tool_available("openssl", &["version"])
        || !tool_available("faketime", &["-f", "+0s", "true"])
    {
        return;
    }
    let mut s = Setup::new(Some(&url));
    let data_dir = s.server.data_dir.clone();
    let public = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    // libfaketime preloaded into robotid-ca itself, as `faketime` does,
    // but without `faketime`'s own process in between: killing that one
    // left the server running after the test.
    let Some(libfaketime) = std::fs::read_dir("/usr/lib").ok().and_then(|dirs| {
        dirs.filter_map(Result::ok)
            .map(|d| d.path().join("faketime/libfaketime.so.1"))
            .find(|p| p.exists())
    }) else {
        assert!(
            !robotid_tests::tools_required(),
            "libfaketime.so.1 not found under /usr/lib/*/faketime (apt-get install faketime)"
        );
        return;
    };
    let mut cmd = std::process::Command::new(robotid_tests::bin("robotid-ca"));
    cmd.env("LD_PRELOAD", &libfaketime)
        .env("FAKETIME", "-10s")
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--listen", "127.0.0.1:0", "--public-listen", &public])
        .args(["--database-url", &url])
        .env_remove("DATABASE_URL")
        .stderr(std::fs::File::create(s.path().join("skewed.log")).unwrap());
    let mut skewed = Server::spawn(cmd, &data_dir).unwrap();
    let revoked = enroll(&s, "UBX", "WK5", "00000888");
    let held = enroll(&s, "UBX", "WK5", "00000889");
    let revoked_serial = serial_of(&s.path().join(&revoked));
    let held_serial = serial_of(&s.path().join(&held));

    // The skewed server revokes one and holds the other.
    std::mem::swap(&mut s.server, &mut skewed);
    s.robotid(
        &[
            "revoke",
            "--serial",
            &revoked_serial,
            "--reason",
            "keyCompromise",
        ],
        "operator",
    )
    .expect_code(0);
    s.robotid(
        &[
            "hold",
            "--robot",
            &RobotId::new("UBX", "WK5", "00000889").unwrap().to_string(),
        ],
        "operator",
    )
    .expect_code(0);
    std::mem::swap(&mut s.server, &mut skewed);

    // The server with the right time hears of both.
    ocsp_until(&s, &revoked, "revoked", Duration::from_secs(10));
    ocsp_until(&s, &held, "revoked", Duration::from_secs(10));
    let text = crl_until(&s, |text| {
        text.contains(&revoked_serial.to_ascii_uppercase())
            && text.contains(&held_serial.to_ascii_uppercase())
    });
    assert!(text.contains("Certificate Hold"), "{text}");
}

/// The URI of the first CRL distribution point of the PEM certificate `pem`.
fn cdp(s: &Setup, pem: &Path) -> String {
    let out = run_in(
        s.path(),
        "openssl",
        &[
            "x509",
            "-in",
            &pem.display().to_string(),
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
    )
    .expect_code(0)
    .stdout;
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("URI:"))
        .unwrap_or_else(|| panic!("no CDP in {}: {out}", pem.display()))
        .to_owned()
}

/// rustls-webpki's verdict on `leaf` (client auth) with revocation checked
/// at every depth of the chain (RevocationCheckDepth::Chain, unknown status
/// refused) against the CRLs now published at `urls`.
fn webpki_every_link(s: &Setup, leaf: &str, urls: &[&str]) -> Result<(), webpki::Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, UnixTime};
    let ca = s.server.data_dir.join("ca");
    let pem = |p: &Path| CertificateDer::from_pem_file(p).unwrap();
    let root = pem(&ca.join("root-ca.pem"));
    let issuing = pem(&ca.join("issuing-ca.pem"));
    let leaf = pem(&s.path().join(leaf));
    let ders: Vec<Vec<u8>> = urls
        .iter()
        .map(|u| {
            reqwest::blocking::get(*u)
                .unwrap()
                .bytes()
                .unwrap()
                .to_vec()
        })
        .collect();
    let crls: Vec<webpki::CertRevocationList<'_>> = ders
        .iter()
        .map(|d| {
            webpki::BorrowedCertRevocationList::from_der(d)
                .unwrap()
                .into()
        })
        .collect();
    let crl_refs: Vec<&webpki::CertRevocationList<'_>> = crls.iter().collect();
    let revocation = webpki::RevocationOptionsBuilder::new(&crl_refs)
        .unwrap()
        .with_depth(webpki::RevocationCheckDepth::Chain)
        .with_status_policy(webpki::UnknownStatusPolicy::Deny)
        .build();
    let anchors = [webpki::anchor_from_trusted_cert(&root).unwrap()];
    let cert = webpki::EndEntityCert::try_from(&leaf).unwrap();
    cert.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &[issuing],
        UnixTime::now(),
        webpki::KeyUsage::client_auth(),
        Some(revocation),
        None,
    )
    .map(drop)
}

/// `openssl verify -crl_check_all` of `leaf` with the CRLs now published
/// at `urls`: its output.
fn verify_every_link(s: &Setup, leaf: &str, urls: &[&str]) -> String {
    let mut pem = String::new();
    for (i, url) in urls.iter().enumerate() {
        let der = reqwest::blocking::get(*url).unwrap();
        assert_eq!(der.status().as_u16(), 200, "{url}");
        let file = s.path().join(format!("link-{i}.crl"));
        std::fs::write(&file, der.bytes().unwrap()).unwrap();
        pem += &run_in(
            s.path(),
            "openssl",
            &["crl", "-inform", "DER", "-in", &file.display().to_string()],
        )
        .expect_code(0)
        .stdout;
    }
    std::fs::write(s.path().join("links.pem"), pem).unwrap();
    let ca = s.server.data_dir.join("ca");
    let out = run_in(
        s.path(),
        "openssl",
        &[
            "verify",
            "-crl_check_all",
            "-CAfile",
            &ca.join("root-ca.pem").display().to_string(),
            "-untrusted",
            &ca.join("issuing-ca.pem").display().to_string(),
            "-CRLfile",
            "links.pem",
            leaf,
        ],
    );
    format!("{}{}", out.stdout, out.stderr)
}

/// The ARL (the root's CRL of issuing CAs): the issuing CA's CRL
/// distribution point names it on the public port, so `openssl verify
/// -crl_check_all`, which wants a CRL for every link, accepts a robot.
/// `robotid ca revoke-issuing` (offline, with the root key, here on the
/// server's CA folder) signs a new ARL listing the issuing CA; once it is
/// published the same robot is refused as revoked.
#[test]
fn the_arl_checks_every_link_and_revokes_the_issuing_ca() {
    if !tool_available("openssl", &["version"]) {
        return;
    }
    let s = Setup::new(None);
    let leaf = enroll(&s, "UBX", "WK5", "00004242");
    let ca = s.server.data_dir.join("ca");
    let arl_url = cdp(&s, &ca.join("issuing-ca.pem"));
    assert_eq!(arl_url, format!("{}/crl/root.crl", s.server.public));
    let leaf_crl = cdp(&s, &s.path().join(&leaf));
    let ok = verify_every_link(&s, &leaf, &[&leaf_crl, &arl_url]);
    assert!(ok.contains(": OK"), "{ok}");
    // webpki with revocation at every depth: the issuing CA's status
    // comes from the ARL; without the ARL it is unknown, and refused.
    webpki_every_link(&s, &leaf, &[&leaf_crl, &arl_url]).unwrap();
    assert!(webpki_every_link(&s, &leaf, &[&leaf_crl]).is_err());

    let ca_arg = ca.display().to_string();
    let mut args = vec![
        "ca",
        "revoke-issuing",
        "--dir",
        &ca_arg,
        "--reason",
        "keyCompromise",
    ];
    let root_uri = s
        .hsm
        .as_ref()
        .map(|hsm| hsm.uri(s.token.as_deref().unwrap(), "root-ca"));
    if let Some(uri) = &root_uri {
        args.extend(["--root-key-uri", uri]);
    }
    let mut cmd = std::process::Command::new(robotid_tests::bin("robotid"));
    cmd.args(&args).current_dir(s.path());
    if let Some(hsm) = &s.hsm {
        cmd.envs(hsm.env());
    }
    let out: robotid_tests::Run = cmd.output().unwrap().into();
    let out = out.expect_code(0);
    assert!(out.stdout.contains("ARL number 2"), "{}", out.stdout);
    let refused = verify_every_link(&s, &leaf, &[&leaf_crl, &arl_url]);
    assert!(!refused.contains(": OK"), "{refused}");
    assert!(refused.contains("certificate revoked"), "{refused}");
    assert_eq!(
        webpki_every_link(&s, &leaf, &[&leaf_crl, &arl_url]),
        Err(webpki::Error::CertRevoked)
    );
}
