//! Lifecycle history: a robot with N events (default 10,000) is exported by
//! the real `robotid-ca` over HTTPS (read, sign the head, serialise) and the
//! bundle is verified offline as `robotid-verify history` does (parse,
//! signer path, head signature, every hash and link, the state machine,
//! the certificates). Beside them, in the same run: SHA-256 over the same
//! bundle bytes and one ECDSA P-256 verification.
//!
//! The events are appended through the API first; the data folder is put
//! on /dev/shm when there is one so that setting up does not wait on
//! fsync (the figures measured are reads, not appends).
//!
//! `cargo build --release --workspace --bins && target/release/bench-history [N]`

use rcgen::{CertificateParams, DnType, KeyPair};
use robotid_bench::{Server, https, timed};
use robotid_issuer::csr;
use robotid_verifier::history::bundle;
use robotid_verifier::identity::{
    DateTime, DigestAlgorithm, KeyComponent, Manufacturer, RobotIdentity, TechnicalParameter,
};
use robotid_verifier::robot_id::RobotId;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

fn identity(id: &RobotId) -> RobotIdentity {
    let p = |name: &str, value: i64, unit: &str| TechnicalParameter {
        name: name.into(),
        value,
        unit: unit.into(),
    };
    let c = |kind: &str| KeyComponent {
        kind: kind.into(),
        part_number: "P-1".into(),
        supplier: "Supplier".into(),
        serial: format!("{kind}-1"),
        digests: vec![DigestAlgorithm::Sha256.digest(kind.as_bytes())],
    };
    RobotIdentity {
        robot_id: id.as_str().into(),
        manufacturer: Manufacturer {
            code: "UBX".into(),
            name: "UBX".into(),
            country: "XX".into(),
        },
        model: "WK5".into(),
        production_date: DateTime::new(2026, 11, 20, 0, 0, 0).unwrap_or(DateTime::INFINITY),
        parameters: vec![
            p("height_mm", 1650, "mm"),
            p("mass_g", 58500, "g"),
            p("degrees_of_freedom", 41, "1"),
            p("payload_g", 15000, "g"),
            p("battery_mwh", 960000, "mWh"),
        ],
        components: vec![
            c("main-controller"),
            c("safety-controller"),
            c("battery-pack"),
        ],
    }
}

fn ms(secs: f64) -> String {
    format!("{:>9.1} ms", secs * 1000.0)
}

fn main() -> Result<(), String> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm")
    } else {
        tempfile::tempdir()
    }
    .map_err(|x| e(&x))?;
    let server = Server::start(&dir.path().join("data"), None)?;
    let operator = https(&server.data_dir.join("operator"))?;
    let key = KeyPair::generate().map_err(|x| e(&x))?;
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, "UBX");
    let credential_csr = p
        .serialize_request(&key)
        .and_then(|c| c.pem())
        .map_err(|x| e(&x))?;
    let created: serde_json::Value = operator
        .post(format!("{}/api/v1/manufacturers", server.api))
        .json(&serde_json::json!({"code": "UBX", "name": "Example Robotics Ltd", "country": "CN", "credential_csr": credential_csr}))
        .send()
        .and_then(|r| r.json())
        .map_err(|x| e(&x))?;
    let creds = dir.path().join("ubx");
    std::fs::create_dir_all(&creds).map_err(|x| e(&x))?;
    let field = |k: &str| created[k].as_str().unwrap_or_default().to_owned();
    std::fs::write(
        creds.join("client.pem"),
        field("certificate_pem") + &field("chain_pem"),
    )
    .map_err(|x| e(&x))?;
    std::fs::write(creds.join("client.key"), key.serialize_pem()).map_err(|x| e(&x))?;
    std::fs::write(creds.join("ca.pem"), field("ca_pem")).map_err(|x| e(&x))?;
    let rules = "[parameters.height_mm]\nmin=1500\nmax=1800\n[parameters.mass_g]\nmin=40000\nmax=80000\n[parameters.degrees_of_freedom]\nmin=20\nmax=60\n[parameters.payload_g]\nmin=0\nmax=25000\n[parameters.battery_mwh]\nmin=100000\nmax=2000000\n[components]\nrequired=[\"main-controller\",\"safety-controller\",\"battery-pack\"]\n";
    operator
        .post(format!("{}/api/v1/manufacturers/UBX/models", server.api))
        .json(&serde_json::json!({"model": "WK5", "rules": rules}))
        .send()
        .map_err(|x| e(&x))?;
    let ubx = https(&creds)?;

    let id = RobotId::new("UBX", "WK5", "00000001").map_err(|x| e(&x))?;
    let robot_key = KeyPair::generate().map_err(|x| e(&x))?;
    let der = csr::create(&identity(&id), &robot_key).map_err(|x| e(&x))?;
    let enrolled = ubx
        .post(format!("{}/api/v1/enroll", server.api))
        .header("content-type", "application/pkcs10")
        .body(der)
        .send()
        .map_err(|x| e(&x))?;
    if !enrolled.status().is_success() {
        return Err(format!(
            "enrollment: {}",
            enrolled.text().unwrap_or_default()
        ));
    }
    let history = format!("{}/api/v1/robots/{id}/history", server.api);
    let (appended, append_secs) = timed(|| -> Result<(), String> {
        for i in 1..n {
            let r = ubx
                .post(&history)
                .json(&serde_json::json!({"type": "maintenance",
                    "details": {"work": format!("scheduled service {i}: joints, firmware, battery check"),
                                "by": "UBX Service NL"}}))
                .send()
                .map_err(|x| e(&x))?;
            if !r.status().is_success() {
                return Err(format!("event {i}: {}", r.text().unwrap_or_default()));
            }
        }
        Ok(())
    });
    appended?;

    println!(
        "machine: {} cores; one robot, {n} events (the first is manufactured)",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!(
        "setup: {} events appended over HTTPS in {:.1} s ({:.0} /s, registry on {})",
        n - 1,
        append_secs,
        robotid_bench::count(n - 1) / append_secs,
        if dir.path().starts_with("/dev/shm") {
            "tmpfs"
        } else {
            "disk"
        }
    );

    let export = format!("{history}/export");
    let mut bytes = Vec::new();
    let mut export_best = f64::MAX;
    for _ in 0..5 {
        let (got, secs) = timed(|| {
            ubx.get(&export)
                .send()
                .and_then(|r| r.error_for_status())
                .and_then(|r| r.bytes())
        });
        bytes = got.map_err(|x| e(&x))?.to_vec();
        export_best = export_best.min(secs);
    }
    let root =
        CertificateDer::from_pem_file(server.data_dir.join("ca/root-ca.pem")).map_err(|x| e(&x))?;
    let mut verify_best = f64::MAX;
    let mut verdict = None;
    for _ in 0..5 {
        let (report, secs) = timed(|| {
            bundle::parse(&bytes).map(|b| bundle::verify(&b, std::slice::from_ref(&root)))
        });
        verdict = Some(report.map_err(|x| e(&x))?);
        verify_best = verify_best.min(secs);
    }
    let report = verdict.ok_or("no verification ran")?;
    if report.verdict != robotid_verifier::report::Verdict::Pass || report.events != n {
        return Err(format!("the bundle did not verify:\n{}", report.to_text()));
    }

    // Baselines on the same bytes, in the same run.
    let (_, sha_secs) = timed(|| robotid_verifier::history::sha256(&bytes));
    let ecdsa = {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .map_err(|x| e(&x))?;
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .map_err(|x| e(&x))?;
        let sig = pair.sign(&rng, b"head").map_err(|x| e(&x))?;
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            ring::signature::KeyPair::public_key(&pair)
                .as_ref()
                .to_vec(),
        );
        let (ok, secs) = timed(|| public.verify(b"head", sig.as_ref()));
        ok.map_err(|x| e(&x))?;
        secs
    };
    println!("bundle: {} bytes", bytes.len());
    println!(
        "{:<60} {}",
        "export over HTTPS (read, sign head, JSON), best of 5",
        ms(export_best)
    );
    println!(
        "{:<60} {}",
        "offline verification (parse + every check), best of 5",
        ms(verify_best)
    );
    println!(
        "{:<60} {}",
        "baseline: SHA-256 of the same bundle bytes",
        ms(sha_secs)
    );
    println!(
        "{:<60} {}",
        "baseline: one ECDSA P-256 verification",
        ms(ecdsa)
    );
    println!(
        "{:<60} {}",
        "export + verification",
        ms(export_best + verify_best)
    );
    Ok(())
}
