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

use rcgen::KeyPair;
use robotid_bench::{identity, register_ubx, start, timed};
use robotid_issuer::csr;
use robotid_verifier::history::bundle;
use robotid_verifier::robot_id::RobotId;
use robotid_wire::lifecycle::RecordRequest;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

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
    let server = start(&dir.path().join("data"), None)?;
    let ubx = register_ubx(&server, &dir.path().join("ubx"))?;

    // Robot 1 of the kit's identities: UBX-WK5-00000001.
    let robot = identity(1)?;
    let id = RobotId::parse(&robot.robot_id).map_err(|x| e(&x))?;
    let robot_key = KeyPair::generate().map_err(|x| e(&x))?;
    let der = csr::create(&robot, &robot_key).map_err(|x| e(&x))?;
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
                .json(&RecordRequest {
                    kind: "maintenance".into(),
                    details: serde_json::json!({
                        "work": format!("scheduled service {i}: joints, firmware, battery check"),
                        "by": "UBX Service NL"}),
                })
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
