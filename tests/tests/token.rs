//! The CA's keys on a PKCS#11 token (SoftHSM2): where the keys are, what
//! the server signs with them, and what it does when the token goes away.
//!
//! Each test makes a SoftHSM store of its own, so that removing a token's
//! folder touches no other test. In CI (`ROBOTID_REQUIRE_TOOLS=1`) missing
//! SoftHSM2 or pkcs11-tool fails the test; elsewhere it skips.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Setup, https, problem, serial_of, sqlite_rows};
use robotid_tests::softhsm::{PIN, SoftHsm};
use robotid_tests::{robotid, run_in, tool_available};

/// Enrolls robot `serial` of UBX WK5 with the CLI; returns the certificate's path.
fn enroll(s: &Setup, serial: &str) -> String {
    let csr = s.csr("UBX", "WK5", serial, &format!("{serial}.key"));
    let out = format!("{serial}.pem");
    s.robotid(
        &["submit", "--csr", &csr.display().to_string(), "--out", &out],
        "ubx",
    )
    .expect_code(0);
    out
}

/// POSTs the CSR of robot `serial` to /api/v1/enroll; status, Retry-After
/// and body.
fn post_enroll(s: &Setup, serial: &str) -> reqwest::blocking::Response {
    let csr = std::fs::read(s.csr("UBX", "WK5", serial, &format!("{serial}.key"))).unwrap();
    https(&s.server, Some(&s.path().join("ubx")))
        .post(format!("{}/api/v1/enroll", s.server.api))
        .header("content-type", "application/pkcs10")
        .body(csr)
        .send()
        .unwrap()
}

/// The answer is 503 server.signer as problem+json with a Retry-After.
fn assert_signer_unavailable(response: reqwest::blocking::Response) {
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = problem(response);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["rule"], "server.signer", "{body}");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert!(!body.to_string().contains(PIN), "{body}");
}

/// The registry's rows for robot `id`'s certificates: status and whether
/// a DER is held.
fn certificate_rows(s: &Setup, id: &str) -> String {
    sqlite_rows(
        s.path(),
        &s.server.data_dir,
        &format!(
            "SELECT status, der IS NOT NULL FROM certificates WHERE robot_id = '{id}' ORDER BY created_at"
        ),
    )
}

/// Retries `f` for up to 20 s until it gives Some.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn openssl_verify(dir: &Path, data: &Path, cert: &str) {
    let root = data.join("ca/root-ca.pem").display().to_string();
    let issuing = data.join("ca/issuing-ca.pem").display().to_string();
    let out = run_in(
        dir,
        "openssl",
        &[
            "verify",
            "-x509_strict",
            "-CAfile",
            &root,
            "-untrusted",
            &issuing,
            "-purpose",
            "sslclient",
            cert,
        ],
    );
    assert!(
        out.code == 0 && out.stdout.contains(": OK"),
        "{cert}: {}{}",
        out.stdout,
        out.stderr
    );
}

/// `robotid ca init --root-key-uri --issuing-key-uri` generates both keys
/// on the token (pkcs11-tool sees them private, sensitive and never
/// extractable), writes no key file for them, and the server signs robots,
/// credentials and CRLs with the token's issuing key: OpenSSL verifies
/// each against the root.
#[test]
fn the_ca_keys_are_on_the_token_and_sign_what_the_server_issues() {
    let Some(hsm) = SoftHsm::new() else { return };
    if !tool_available("openssl", &["version"]) {
        return;
    }
    let s = Setup::on_token(hsm, &[]);
    let hsm = s.hsm.as_ref().unwrap();
    let token = s.token.clone().unwrap();
    let ca = s.server.data_dir.join("ca");

    let objects = hsm.list_objects(&token);
    for label in ["root-ca", "issuing-ca"] {
        let private = objects
            .split("Private Key Object")
            .skip(1)
            .find(|o| o.contains(&format!("label:      {label}\n")))
            .unwrap_or_else(|| panic!("no private key {label} on the token:\n{objects}"));
        let access = private
            .lines()
            .find(|l| l.trim_start().starts_with("Access:"))
            .unwrap();
        assert!(access.contains("sensitive"), "{label}: {access}");
        assert!(access.contains("never extractable"), "{label}: {access}");
        assert!(
            !access
                .replace("never extractable", "")
                .contains("extractable"),
            "{label}: {access}"
        );
    }
    // No private key file for either CA key: only the delegated OCSP
    // signer's (a software key by design, docs/decisions/0026).
    let keys: Vec<String> = std::fs::read_dir(&ca)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".key"))
        .collect();
    assert_eq!(keys, ["ocsp-signer.key"], "key files in the CA folder");
    let uri = std::fs::read_to_string(ca.join("issuing-ca.uri")).unwrap();
    assert!(uri.starts_with("pkcs11:token="), "{uri}");
    assert!(!uri.contains(PIN), "{uri}");
    // Nothing the server says names the PIN.
    assert!(!s.server.log().contains(PIN));

    // A robot, the operator's credential and a CRL, signed by the token.
    let cert = enroll(&s, "TOKEN001");
    openssl_verify(s.path(), &s.server.data_dir, &cert);
    let operator = s.server.operator().join("client.pem");
    openssl_verify(
        s.path(),
        &s.server.data_dir,
        &operator.display().to_string(),
    );
    let crl_path = crl_name(&s, &s.path().join(&cert));
    let crl = reqwest::blocking::get(format!("{}/crl/{crl_path}", s.server.public))
        .unwrap()
        .bytes()
        .unwrap();
    std::fs::write(s.path().join("ca.crl"), &crl).unwrap();
    let issuing = ca.join("issuing-ca.pem").display().to_string();
    let out = run_in(
        s.path(),
        "openssl",
        &[
            "crl", "-inform", "DER", "-in", "ca.crl", "-CAfile", &issuing, "-noout",
        ],
    );
    assert!(
        out.stderr.contains("verify OK") || out.stdout.contains("verify OK"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let serial = serial_of(&s.path().join(&cert));
    assert!(!serial.is_empty());
}

/// The CRL's path on the public port, as certificate `cert`'s CDP names it.
fn crl_name(s: &Setup, cert: &Path) -> String {
    let out = run_in(
        s.path(),
        "openssl",
        &[
            "x509",
            "-in",
            &cert.display().to_string(),
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
    )
    .expect_code(0)
    .stdout;
    let url = out
        .split_whitespace()
        .find_map(|w| w.strip_prefix("URI:"))
        .unwrap()
        .to_owned();
    url.rsplit("/crl/").next().unwrap().to_owned()
}

/// The token goes away while the server runs (its folder removed, as an
/// HSM unplugged): enrollment answers 503 server.signer with Retry-After,
/// the registry holds no certificate for the robot (its row is marked
/// failed, with no DER), and once the folder is back the same request is
/// issued without restarting the server. A batch in flight gets the same
/// answer per item.
#[test]
fn a_token_that_goes_away_gives_503_and_the_server_recovers() {
    let Some(hsm) = SoftHsm::new() else { return };
    let s = Setup::on_token(hsm, &[]);
    let hsm = s.hsm.as_ref().unwrap();
    let token = s.token.clone().unwrap();
    enroll(&s, "BEFORE01");

    let folder = hsm.token_dir(&token);
    // Out of the token folder: SoftHSM reads every folder in it.
    let aside = folder.parent().unwrap().with_file_name("token-away");
    std::fs::rename(&folder, &aside).unwrap();
    assert_signer_unavailable(post_enroll(&s, "DURING01"));
    let id = robotid_verifier::robot_id::RobotId::new("UBX", "WK5", "DURING01")
        .unwrap()
        .to_string();
    let rows = certificate_rows(&s, &id);
    assert!(
        !rows.lines().any(|r| r.starts_with("issued")) && !rows.contains("|1"),
        "nothing is recorded as signed: {rows}"
    );
    // A batch: every item refused the same way, none issued.
    let batch = s.path().join("batch");
    std::fs::create_dir(&batch).unwrap();
    for i in 0..5 {
        let csr = s.csr("UBX", "WK5", &format!("BATCH{i:03}"), &format!("b{i}.key"));
        std::fs::copy(&csr, batch.join(format!("r{i}.csr"))).unwrap();
    }
    let batch_arg = batch.display().to_string();
    let out = s
        .robotid(
            &["submit", "--batch", &batch_arg, "--out-dir", "certs"],
            "ubx",
        )
        .expect_code(1);
    assert!(out.stdout.contains("0 issued"), "{}", out.stdout);
    assert!(out.stderr.contains("server.signer"), "{}", out.stderr);

    std::fs::rename(&aside, &folder).unwrap();
    let response = eventually("issuance after the token is back", || {
        let r = post_enroll(&s, "DURING01");
        (r.status().as_u16() == 201).then_some(r)
    });
    assert_eq!(response.status().as_u16(), 201);
    enroll(&s, "AFTER001");
    assert!(!s.server.log().contains(PIN));
}

/// A wrong PIN, and a token absent when the server starts: the server
/// starts (its TLS certificate and credentials exist), answers 503 with
/// Retry-After, names neither PIN in its log, and issues once the PIN file
/// is corrected and the token is back, without a restart.
#[test]
fn a_wrong_pin_or_an_absent_token_at_start_gives_503_until_fixed() {
    let Some(hsm) = SoftHsm::new() else { return };
    let mut s = Setup::on_token(hsm, &[]);
    let (pin_file, folder) = {
        let hsm = s.hsm.as_ref().unwrap();
        (
            hsm.pin_file.clone(),
            hsm.token_dir(s.token.as_deref().unwrap()),
        )
    };

    // Wrong PIN in the file, then a restart.
    let wrong = "9999-not-the-pin";
    std::fs::write(&pin_file, format!("{wrong}\n")).unwrap();
    s.restart();
    assert_signer_unavailable(post_enroll(&s, "PIN00001"));
    let log = s.server.log();
    assert!(log.contains("PIN is incorrect"), "{log}");
    assert!(!log.contains(wrong) && !log.contains(PIN), "{log}");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    eventually("issuance after the PIN is corrected", || {
        (post_enroll(&s, "PIN00001").status().as_u16() == 201).then_some(())
    });

    // The token absent at start.
    // Out of the token folder: SoftHSM reads every folder in it.
    let aside = folder.parent().unwrap().with_file_name("token-away");
    s.server.kill();
    std::fs::rename(&folder, &aside).unwrap();
    s.restart();
    assert_signer_unavailable(post_enroll(&s, "ABSENT01"));
    std::fs::rename(&aside, &folder).unwrap();
    let issued: serde_json::Value = eventually("issuance after the token is back", || {
        let r = post_enroll(&s, "ABSENT01");
        (r.status().as_u16() == 201).then(|| r.json().unwrap())
    });
    // The CRL, not signed at start (503 crl.not_ready meanwhile), is
    // published once the token is back.
    let cert = s.path().join("ABSENT01.pem");
    std::fs::write(&cert, issued["certificate_pem"].as_str().unwrap()).unwrap();
    let url = format!("{}/crl/{}", s.server.public, crl_name(&s, &cert));
    eventually("the CRL once the token is back", || {
        let r = reqwest::blocking::get(&url).unwrap();
        (r.status().as_u16() == 200).then_some(())
    });
}

/// `robotid ca init` refuses a PIN in the URI (exit 2, naming pin-value,
/// not echoing the PIN) and a URI without a module.
#[test]
fn ca_init_refuses_a_pin_in_the_uri() {
    let dir = robotid_tests::tempdir();
    let secret = "s3cret-PIN-77";
    let out = robotid(
        dir.path(),
        &[
            "ca",
            "init",
            "--dir",
            "ca",
            "--issuing-key-uri",
            &format!(
                "pkcs11:token=T;object=issuing-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value={secret}"
            ),
        ],
    )
    .expect_code(2);
    assert!(out.stderr.contains("pin-value"), "{}", out.stderr);
    assert!(!out.stderr.contains(secret), "{}", out.stderr);
    let out = robotid(
        dir.path(),
        &[
            "ca",
            "init",
            "--dir",
            "ca",
            "--root-key-uri",
            "pkcs11:token=T;object=root",
        ],
    )
    .expect_code(2);
    assert!(out.stderr.contains("module-path"), "{}", out.stderr);
    assert!(!dir.path().join("ca").exists());
}

/// The banner of `robotid-ca` on `data` (stdout up to the public address)
/// and its log, after which the server is stopped.
fn banner(data: &Path, env: &[(String, std::ffi::OsString)]) -> (String, String) {
    use std::io::BufRead;
    let log = data.with_extension("log");
    let mut child = std::process::Command::new(robotid_tests::bin("robotid-ca"))
        .arg("--data-dir")
        .arg(data)
        .args(["--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut text = String::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        text.push_str(&line);
        text.push('\n');
        if line.contains("public endpoints:") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    (text, std::fs::read_to_string(&log).unwrap())
}

/// The development CA's first start (and every start while its root key
/// is in the data folder) says in the banner and the log that the root key
/// is on this machine and how to run the offline ceremony instead; a CA
/// whose keys are on a token says no such thing, and names its key's URI.
#[test]
fn the_development_ca_says_its_root_key_is_on_this_machine() {
    let dir = robotid_tests::tempdir();
    let data = dir.path().join("data");
    let (out, log) = banner(&data, &[]);
    assert!(data.join("ca/root-ca.key").exists());
    for text in [&out, &log] {
        assert!(text.contains("root CA key is on this machine"), "{text}");
        assert!(text.contains("robotid ca init"), "{text}");
        assert!(text.contains("--root-key-uri"), "{text}");
    }
    assert!(out.contains("issuing CA key:          file"), "{out}");

    let Some(hsm) = SoftHsm::new() else { return };
    let tokened = dir.path().join("tokened");
    std::fs::create_dir(&tokened).unwrap();
    hsm.ca_init(dir.path(), &tokened.join("ca"), &[]);
    let (out, log) = banner(&tokened, &hsm.env());
    assert!(!out.contains("root CA key is on this machine"), "{out}");
    assert!(!log.contains("root CA key is on this machine"), "{log}");
    assert!(
        out.contains("issuing CA key:          pkcs11:token="),
        "{out}"
    );
    assert!(!out.contains(PIN) && !log.contains(PIN));
}

/// The token goes away in the middle of a batch (its folder removed once
/// the batch's serials are recorded, while they are being signed): every
/// item is answered, either with its certificate or with server.signer;
/// the registry holds a certificate for exactly the items answered with
/// one, marks the others failed with no DER, and leaves nothing pending.
#[test]
fn a_token_lost_mid_batch_records_only_what_was_signed() {
    let Some(hsm) = SoftHsm::new() else { return };
    let s = Setup::on_token(hsm, &[]);
    let hsm = s.hsm.as_ref().unwrap();
    let folder = hsm.token_dir(s.token.as_deref().unwrap());
    let aside = folder.parent().unwrap().with_file_name("token-away");

    // Large enough that signing takes a good part of a second even on a
    // fast machine: the token is taken away within a few milliseconds of
    // the serials being recorded, so the cut falls inside the signing.
    // With 800 and a quarter-second poll, a fast run signed everything
    // before the token went (a flaky test, seen on main).
    let n = 4000;
    let csrs = s.batch_csrs("UBX", "WK5", "MB", n);

    let client = https(&s.server, Some(&s.path().join("ubx")));
    let url = format!("{}/api/v1/enroll/batch", s.server.api);
    let answer = std::thread::scope(|scope| {
        let request = scope.spawn(|| {
            client
                .post(&url)
                .json(&serde_json::json!({ "csrs": csrs, "reissue": false }))
                .send()
                .unwrap()
        });
        // Once the batch's serials are recorded (pending), signing is
        // under way: take the token away.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let pending = sqlite_rows(
                s.path(),
                &s.server.data_dir,
                "SELECT count(*) FROM certificates WHERE robot_id LIKE 'UBX-WK5-MB%' AND status = 'pending'",
            );
            if pending.trim() != "0" || request.is_finished() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the batch's serials were never recorded"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::fs::rename(&folder, &aside).unwrap();
        request.join().unwrap()
    });
    assert_eq!(answer.status().as_u16(), 200);
    let body: serde_json::Value = answer.json().unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), n);
    let answered: std::collections::BTreeSet<String> = results
        .iter()
        .filter_map(|r| r["serial"].as_str().map(str::to_owned))
        .collect();
    let refused = results
        .iter()
        .filter(|r| r["problem"]["rule"] == "server.signer")
        .count();
    assert_eq!(answered.len() + refused, n, "every item answered: {body}");
    assert!(
        refused > 0,
        "the token went away before the batch was signed"
    );
    let rows = sqlite_rows(
        s.path(),
        &s.server.data_dir,
        "SELECT serial_hex, status, der IS NOT NULL FROM certificates WHERE robot_id LIKE 'UBX-WK5-MB%'",
    );
    let mut issued = std::collections::BTreeSet::new();
    for row in rows.lines() {
        let cols: Vec<&str> = row.split('|').collect();
        match (cols[1], cols[2]) {
            ("issued", "1") => {
                issued.insert(cols[0].to_owned());
            }
            ("failed", "0") => {}
            other => panic!("row {row}: {other:?}"),
        }
    }
    assert_eq!(issued, answered, "the registry holds what was answered");
    println!("mid-batch: {} issued, {refused} refused", answered.len());
    std::fs::rename(&aside, &folder).unwrap();
}
