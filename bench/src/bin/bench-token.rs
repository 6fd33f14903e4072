//! Issuance with the issuing CA's key on a PKCS#11 token (SoftHSM2),
//! beside the token's own raw signing rate measured in the same run (a
//! C_Sign loop over the same pool of sessions), and the same issuance with
//! a software key.
//!
//! `cargo build --release --workspace --bins && target/release/bench-token [N] [SESSIONS]`
//!
//! It makes a SoftHSM store of its own in a temporary folder and runs
//! itself again with SOFTHSM2_CONF naming it (the module reads the
//! variable when it is loaded). Phases:
//! - raw: `Pkcs11Key::sign_raw` (SHA-256 in software, C_Sign with
//!   CKM_ECDSA) from SESSIONS threads over SESSIONS sessions;
//! - issue: the signer's `issue` (the token signs the linted TBS, the
//!   signature is checked, the final profile check) from SESSIONS threads,
//!   token then software key;
//! - batch: the real `robotid-ca` over HTTPS, 10,000 CSRs per request,
//!   `--pkcs11-sessions SESSIONS`, token then software key.

use std::path::Path;

use robotid_bench::{count, csrs, register_ubx, timed};
use robotid_issuer::ceremony::{self, TokenOptions};
use robotid_issuer::csr;
use robotid_issuer::keys::KeyAlgorithm;
use robotid_issuer::pkcs11::{KeyUri, Pkcs11Key};
use robotid_issuer::signer::SignerConfig;
use robotid_issuer::vetting::{self, ManufacturerRecord, ModelRecord};
use robotid_tests::Server;
use robotid_tests::softhsm::SoftHsm;
use robotid_verifier::rules::ModelRules;
use robotid_wire::enroll::{BatchRequest, BatchResponse};

const CHILD: &str = "ROBOTID_BENCH_TOKEN_CHILD";

fn e(x: &dyn std::fmt::Display) -> String {
    x.to_string()
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if std::env::var_os(CHILD).is_none() {
        let hsm = SoftHsm::new().ok_or("SoftHSM2 and pkcs11-tool are needed (see .ci/run)")?;
        let exe = std::env::current_exe().map_err(|x| e(&x))?;
        let status = hsm
            .command(exe)
            .args(&args)
            .env(CHILD, "1")
            .status()
            .map_err(|x| e(&x))?;
        return if status.success() {
            Ok(())
        } else {
            Err(format!("bench-token: {status}"))
        };
    }
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let sessions: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let hsm = SoftHsm::shared();
    let dir = tempfile::tempdir().map_err(|x| e(&x))?;
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| format!("http://{a}"))
            .map_err(|x| e(&x))
    };
    let token_data = dir.path().join("token");
    let soft_data = dir.path().join("soft");
    std::fs::create_dir_all(&token_data).map_err(|x| e(&x))?;
    std::fs::create_dir_all(&soft_data).map_err(|x| e(&x))?;
    hsm.ca_init(
        dir.path(),
        &token_data.join("ca"),
        &["--public-url", &free_port()?],
    );
    robotid_tests::robotid(
        dir.path(),
        &[
            "ca",
            "init",
            "--dir",
            &soft_data.join("ca").display().to_string(),
            "--public-url",
            &free_port()?,
        ],
    )
    .expect_code(0);
    println!(
        "machine: {} cores; N = {n}; {sessions} sessions / threads",
        std::thread::available_parallelism().map_or(1, usize::from)
    );

    // Raw: the token's own signing rate over the pool.
    let uri: KeyUri = std::fs::read_to_string(token_data.join("ca/issuing-ca.uri"))
        .map_err(|x| e(&x))?
        .trim()
        .parse()
        .map_err(|x| e(&x))?;
    let raw = {
        let key = Pkcs11Key::open(uri, KeyAlgorithm::P256, sessions).map_err(|x| e(&x))?;
        // About the size of a robot certificate's TBS.
        let message = vec![0x5a; 900];
        let (signed, secs) = timed(|| {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..sessions)
                    .map(|_| {
                        scope.spawn(|| {
                            (0..n / sessions)
                                .filter(|_| key.sign_raw(&message).is_ok())
                                .count()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or(0))
                    .sum::<usize>()
            })
        });
        if signed != n / sessions * sessions {
            return Err(format!("raw: {signed} signatures"));
        }
        count(signed) / secs
    };
    println!(
        "{:<64} {raw:>10.0} /s",
        "token raw C_Sign (CKM_ECDSA, P-256)"
    );

    let ratio = |rate: f64| rate / raw;
    for (label, data) in [("token", &token_data), ("software key", &soft_data)] {
        let rate = issue_in_process(data, n, sessions)?;
        println!(
            "{:<64} {rate:>10.0} /s   {:>5.2}x token raw",
            format!("issue in process ({label}): sign TBS, check, final profile"),
            ratio(rate)
        );
    }
    for (label, data, env) in [
        ("token", &token_data, hsm.env()),
        ("software key", &soft_data, Vec::new()),
    ] {
        let rate = batch_over_https(data, n, sessions, &env)?;
        println!(
            "{:<64} {rate:>10.0} /s   {:>5.2}x token raw",
            format!("batch issuance over HTTPS ({label}), 10,000/request"),
            ratio(rate)
        );
    }
    Ok(())
}

/// The signer's `issue` for `n` prepared robots from `threads` threads.
fn issue_in_process(data: &Path, n: usize, threads: usize) -> Result<f64, String> {
    let ca = ceremony::load_with(&data.join("ca"), TokenOptions { sessions: threads })
        .map_err(|x| e(&x))?;
    let config = SignerConfig::new(ca.config.public_url.clone());
    let signer = ca.into_signer(config).map_err(|x| e(&x))?;
    let manufacturer = ManufacturerRecord {
        code: "UBX".into(),
        name: "Example".into(),
        country: "CN".into(),
        active: true,
    };
    let rules = ModelRules::from_toml(robotid_bench::UBX_RULES, "bench").map_err(|x| e(&x))?;
    let model = ModelRecord {
        manufacturer_code: "UBX".into(),
        model: "WK5".into(),
        rules,
    };
    let key = rcgen::KeyPair::generate().map_err(|x| e(&x))?;
    let now = time::OffsetDateTime::now_utc();
    let mut prepared = Vec::with_capacity(n);
    for i in 0..n {
        let identity = robotid_bench::identity(i)?;
        let der = csr::create(&identity, &key).map_err(|x| e(&x))?;
        let verified = csr::verify(&der).map_err(|x| e(&x))?;
        let vetted = vetting::vet(&verified, &manufacturer, Some(&model)).map_err(|x| e(&x))?;
        prepared.push(signer.prepare(&vetted, now).map_err(|x| e(&x))?);
    }
    let per = n.div_ceil(threads);
    let mut chunks: Vec<Vec<_>> = Vec::new();
    let mut rest = prepared.into_iter();
    for _ in 0..threads {
        chunks.push(rest.by_ref().take(per).collect());
    }
    let (issued, secs) = timed(|| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    let signer = &signer;
                    scope.spawn(move || {
                        chunk
                            .into_iter()
                            .filter_map(|p| signer.issue(p).ok())
                            .count()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(0))
                .sum::<usize>()
        })
    });
    if issued != n {
        return Err(format!("issue: {issued} of {n}"));
    }
    Ok(count(n) / secs)
}

/// The real server on `data`, batch enrollment of `n` CSRs.
fn batch_over_https(
    data: &Path,
    n: usize,
    sessions: usize,
    env: &[(String, std::ffi::OsString)],
) -> Result<f64, String> {
    let sessions = sessions.to_string();
    let server = Server::start_with_env(data, None, &["--pkcs11-sessions", &sessions], env);
    let creds = data.with_extension("ubx");
    let ubx = register_ubx(&server, &creds)?;
    let batch = csrs(0, n)?;
    let (issued, secs) = timed(|| {
        batch
            .chunks(10_000)
            .map(|chunk| {
                ubx.post(format!("{}/api/v1/enroll/batch", server.api))
                    .json(&BatchRequest {
                        csrs: chunk.to_vec(),
                        reissue: false,
                    })
                    .send()
                    .and_then(|r| r.json::<BatchResponse>())
                    .map(|answer| answer.issued)
                    .unwrap_or(0)
            })
            .sum::<usize>()
    });
    if issued != n {
        return Err(format!(
            "batch issued {issued} of {n}; log: {}",
            server.log()
        ));
    }
    Ok(count(n) / secs)
}
