//! The conformance matrix (docs/conformance.md): every kind of artefact a
//! running RobotID emits, judged by every independent tool that has a
//! judgement for it: OpenSSL, Python `cryptography`, Go's crypto/x509 and
//! x/crypto/ocsp, rustls-webpki (through rustls's verifiers, not RobotID's
//! code) and pkilint. The test fails on any failing cell, and when the table
//! in docs/conformance.md differs from the one it made; with
//! `ROBOTID_UPDATE_MATRIX=1` it writes the table instead.
//!
//! In CI (`ROBOTID_REQUIRE_TOOLS=1`) a missing tool fails the test.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Setup;
use robotid_tests::{go_available, go_check, repo_root, run_in, tool_available};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};

/// One cell: the tool's verdict on the artefact.
enum Cell {
    Pass(String),
    Fail(String),
    /// The tool has no judgement of its own for this artefact.
    None,
}

impl Cell {
    fn of(ok: bool, note: &str, output: String) -> Cell {
        if ok {
            Cell::Pass(note.to_owned())
        } else {
            Cell::Fail(output)
        }
    }

    fn text(&self) -> String {
        match self {
            Cell::Pass(note) if note.is_empty() => "PASS".into(),
            Cell::Pass(note) => format!("PASS ({note})"),
            Cell::Fail(_) => "FAIL".into(),
            Cell::None => "—".into(),
        }
    }
}

const TOOLS: [&str; 5] = ["OpenSSL", "cryptography", "Go", "webpki", "pkilint"];

struct Files {
    root: String,
    issuing: String,
}

fn script(name: &str) -> String {
    repo_root()
        .join("tests/conformance")
        .join(name)
        .display()
        .to_string()
}

fn first_cert(path: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(path).unwrap()
}

fn openssl(dir: &Path, f: &Files, artifact: &str, file: &str) -> Cell {
    let verify = |purpose: Option<&str>| {
        let mut args = vec!["verify", "-x509_strict"];
        if let Some(p) = purpose {
            args.extend_from_slice(&["-purpose", p]);
        }
        args.extend_from_slice(&["-CAfile", &f.root, "-untrusted", &f.issuing, file]);
        let out = run_in(dir, "openssl", &args);
        Cell::of(
            out.code == 0,
            purpose.unwrap_or(""),
            out.stdout + &out.stderr,
        )
    };
    match artifact {
        "root-ca" | "issuing-ca" => verify(None),
        "robot" | "operator-credential" | "manufacturer-credential" => verify(Some("sslclient")),
        "ocsp-signer" => verify(Some("ocsphelper")),
        "server-tls" => verify(Some("sslserver")),
        "crl" => {
            let out = run_in(
                dir,
                "openssl",
                &[
                    "crl", "-inform", "DER", "-in", file, "-CAfile", &f.issuing, "-noout",
                ],
            );
            let text = out.stdout + &out.stderr;
            Cell::of(
                out.code == 0 && text.contains("verify OK"),
                "signature",
                text,
            )
        }
        "ocsp-response" => {
            let out = run_in(
                dir,
                "openssl",
                &[
                    "ocsp",
                    "-respin",
                    file,
                    "-issuer",
                    &f.issuing,
                    "-cert",
                    "robot.pem",
                    "-CAfile",
                    &f.root,
                ],
            );
            let text = out.stdout + &out.stderr;
            Cell::of(
                out.code == 0 && text.contains("Response verify OK") && text.contains(": good"),
                "verify, good",
                text,
            )
        }
        _ => unreachable!(),
    }
}

fn cryptography(dir: &Path, f: &Files, artifact: &str, file: &str) -> Cell {
    let run = |args: &[&str]| {
        let out = run_in(dir, "python3", args);
        (out.code == 0, out.stdout + &out.stderr)
    };
    let (ok, text, note) = match artifact {
        "robot" | "operator-credential" | "manufacturer-credential" => {
            let (ok, text) = run(&[
                &script("check_chain.py"),
                "--root",
                &f.root,
                "--issuing",
                &f.issuing,
                "--leaf",
                file,
            ]);
            (ok, text, "ClientVerifier")
        }
        "server-tls" => {
            let (ok, text) = run(&[
                &script("check_artifact.py"),
                "server",
                "--root",
                &f.root,
                "--issuing",
                &f.issuing,
                "--leaf",
                file,
                "--host",
                "127.0.0.1",
            ]);
            (ok, text, "ServerVerifier")
        }
        "crl" => {
            let (ok, text) = run(&[
                &script("check_artifact.py"),
                "crl",
                "--crl",
                file,
                "--issuing",
                &f.issuing,
            ]);
            (ok, text, "signature")
        }
        "ocsp-response" => {
            let (ok, text) = run(&[
                &script("check_artifact.py"),
                "ocsp",
                "--response",
                file,
                "--issuing",
                &f.issuing,
                "--status",
                "good",
            ]);
            (ok, text, "signature, good")
        }
        // CA certificates are judged inside every chain above; cryptography
        // has no OCSP-signer purpose.
        _ => return Cell::None,
    };
    Cell::of(ok, note, text)
}

fn go(dir: &Path, f: &Files, artifact: &str, file: &str) -> Cell {
    let (args, note): (Vec<&str>, &str) = match artifact {
        "robot" | "operator-credential" | "manufacturer-credential" => (
            vec!["chain", &f.root, &f.issuing, file, "client"],
            "ExtKeyUsageClientAuth",
        ),
        "server-tls" => (
            vec!["chain", &f.root, &f.issuing, file, "server"],
            "ExtKeyUsageServerAuth",
        ),
        "ocsp-signer" => (vec!["chain", &f.root, &f.issuing, file, "any"], "chain"),
        "crl" => (vec!["crl", file, &f.issuing], "signature"),
        "ocsp-response" => (
            vec!["ocsp", file, "robot.pem", &f.issuing, "good"],
            "ParseResponseForCert, good",
        ),
        _ => return Cell::None,
    };
    let out = go_check(dir, &args);
    Cell::of(out.code == 0, note, out.stdout + &out.stderr)
}

/// rustls's WebPki verifiers (rustls-webpki), configured only with the
/// root: nothing of RobotID's own validation code is involved.
fn webpki(dir: &Path, f: &Files, artifact: &str, file: &str) -> Cell {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(first_cert(&dir.join(&f.root))).unwrap();
    let roots = Arc::new(roots);
    let issuing = [first_cert(&dir.join(&f.issuing))];
    let now = UnixTime::now();
    let crl = || CertificateRevocationListDer::from(std::fs::read(dir.join("crl.der")).unwrap());
    match artifact {
        "robot" | "operator-credential" | "manufacturer-credential" | "crl" => {
            let leaf = if artifact == "crl" { "robot.pem" } else { file };
            let mut builder =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider);
            if artifact == "crl" {
                // The robot's status; the issuing CA's would need the root's
                // ARL, which the development CA does not publish.
                builder = builder
                    .with_crls([crl()])
                    .only_check_end_entity_revocation();
            }
            let verifier = builder.build().unwrap();
            let result = verifier.verify_client_cert(&first_cert(&dir.join(leaf)), &issuing, now);
            let note = if artifact == "crl" {
                "robot checked against it"
            } else {
                "client"
            };
            Cell::of(result.is_ok(), note, format!("{result:?}"))
        }
        "server-tls" => {
            let verifier =
                rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .unwrap();
            let result = verifier.verify_server_cert(
                &first_cert(&dir.join(file)),
                &issuing,
                &ServerName::try_from("127.0.0.1").unwrap(),
                &[],
                now,
            );
            Cell::of(result.is_ok(), "server, 127.0.0.1", format!("{result:?}"))
        }
        _ => Cell::None,
    }
}

fn pkilint(dir: &Path, artifact: &str, file: &str) -> Cell {
    let kind = match artifact {
        "crl" => "crl",
        "ocsp-response" => "ocsp",
        _ => "cert",
    };
    let out = run_in(
        dir,
        "python3",
        &[&script("lint.py"), "--artifact", artifact, kind, file],
    );
    let allowed: Vec<String> = out
        .stdout
        .lines()
        .filter(|l| l.contains("(allowed:"))
        .filter_map(|l| {
            l.split(' ')
                .find(|w| w.starts_with("pkix.") || w.starts_with("ocsp.") || w.starts_with("crl."))
        })
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let note = if allowed.is_empty() {
        String::new()
    } else {
        format!("allowed: {}", allowed.join(", "))
    };
    Cell::of(out.code == 0, &note, out.stdout + &out.stderr)
}

fn rustls_pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[test]
fn conformance_matrix_shows_no_finding_but_the_allow_list() {
    let have = [
        tool_available("openssl", &["version"]),
        tool_available("python3", &["-c", "import cryptography.x509.verification"]),
        go_available(),
        true,
        tool_available("python3", &["-c", "import pkilint"]),
    ];
    if have.iter().any(|h| !h) {
        // Outside CI a partial matrix would differ from the recorded one.
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let s = Setup::new(None);
    let d = s.path();
    let ca = s.server.data_dir.join("ca");
    // The first certificate of each file (credentials and the TLS file
    // carry their chain after it), as PEM.
    let copy = |from: &Path, to: &str| {
        let der = first_cert(from);
        std::fs::write(d.join(to), rustls_pem("CERTIFICATE", der.as_ref())).unwrap();
    };
    copy(&ca.join("root-ca.pem"), "root.pem");
    copy(&ca.join("issuing-ca.pem"), "issuing.pem");
    copy(&ca.join("ocsp-signer.pem"), "ocsp-signer.pem");
    copy(&s.server.operator().join("client.pem"), "operator.pem");
    copy(&d.join("ubx/client.pem"), "manufacturer.pem");
    copy(&s.server.data_dir.join("tls/server.pem"), "server.pem");
    let csr = s.csr("UBX", "WK5", "00001234", "robot.key");
    s.robotid(
        &[
            "submit",
            "--csr",
            &csr.display().to_string(),
            "--out",
            "robot-chain.pem",
        ],
        "ubx",
    )
    .expect_code(0);
    copy(&d.join("robot-chain.pem"), "robot.pem");

    // The CRL (published within a second or so) and a good OCSP response.
    let crl_url = {
        let der = first_cert(&d.join("robot.pem"));
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        cert.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::CRLDistributionPoints(dps) => {
                    dps.iter().find_map(|dp| match &dp.distribution_point {
                        Some(x509_parser::extensions::DistributionPointName::FullName(n)) => {
                            n.iter().find_map(|g| match g {
                                x509_parser::extensions::GeneralName::URI(u) => Some(u.to_string()),
                                _ => None,
                            })
                        }
                        _ => None,
                    })
                }
                _ => None,
            })
            .unwrap()
    };
    // The certificate names the configured public URL; fetch from the
    // server's real public address.
    let path = crl_url.split("/crl/").nth(1).unwrap();
    let url = format!("{}/crl/{path}", s.server.public);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = reqwest::blocking::get(&url).unwrap();
        if response.status().as_u16() == 200 {
            std::fs::write(d.join("crl.der"), response.bytes().unwrap()).unwrap();
            break;
        }
        assert!(Instant::now() < deadline, "no CRL at {url}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let ocsp_url = format!("{}/ocsp", s.server.public);
    run_in(
        d,
        "openssl",
        &[
            "ocsp",
            "-issuer",
            "issuing.pem",
            "-cert",
            "robot.pem",
            "-url",
            &ocsp_url,
            "-CAfile",
            "root.pem",
            "-no_nonce",
            "-respout",
            "ocsp.der",
        ],
    )
    .expect_code(0);

    let files = Files {
        root: "root.pem".into(),
        issuing: "issuing.pem".into(),
    };
    let artifacts = [
        ("root-ca", "root.pem", "root CA certificate"),
        ("issuing-ca", "issuing.pem", "issuing CA certificate"),
        ("robot", "robot.pem", "robot certificate (P-256)"),
        ("operator-credential", "operator.pem", "operator credential"),
        (
            "manufacturer-credential",
            "manufacturer.pem",
            "manufacturer credential",
        ),
        ("server-tls", "server.pem", "CA server TLS certificate"),
        ("ocsp-signer", "ocsp-signer.pem", "delegated OCSP signer"),
        ("crl", "crl.der", "CRL"),
        ("ocsp-response", "ocsp.der", "OCSP response (good)"),
    ];
    let mut table = String::from("| artefact | ");
    table.push_str(&TOOLS.join(" | "));
    table.push_str(" |\n|---|");
    table.push_str(&"---|".repeat(TOOLS.len()));
    table.push('\n');
    let mut failures = Vec::new();
    for (artifact, file, title) in artifacts {
        let cells = [
            openssl(d, &files, artifact, file),
            cryptography(d, &files, artifact, file),
            go(d, &files, artifact, file),
            webpki(d, &files, artifact, file),
            pkilint(d, artifact, file),
        ];
        table.push_str(&format!("| {title} (`{artifact}`) |"));
        for (tool, cell) in TOOLS.iter().zip(&cells) {
            table.push_str(&format!(" {} |", cell.text()));
            if let Cell::Fail(output) = cell {
                failures.push(format!("{tool} on {artifact}:\n{output}"));
            }
        }
        table.push('\n');
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    let doc = repo_root().join("docs/conformance.md");
    let (begin, end) = ("<!-- matrix:begin -->\n", "<!-- matrix:end -->");
    let text = std::fs::read_to_string(&doc).unwrap();
    let (Some(a), Some(b)) = (text.find(begin), text.find(end)) else {
        panic!("{} lacks the matrix markers", doc.display());
    };
    let recorded = &text[a + begin.len()..b];
    if std::env::var_os("ROBOTID_UPDATE_MATRIX").is_some() {
        let updated = format!("{}{table}{}", &text[..a + begin.len()], &text[b..]);
        std::fs::write(&doc, updated).unwrap();
    } else {
        assert_eq!(
            recorded, table,
            "docs/conformance.md is out of date: run this test with ROBOTID_UPDATE_MATRIX=1"
        );
    }
}
