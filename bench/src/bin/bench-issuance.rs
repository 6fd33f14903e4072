//! Issuance throughput of the real `robotid-ca` over HTTPS with mutual TLS
//! and durable SQLite (WAL, synchronous=FULL), beside the raw rcgen signing
//! rate measured in the same run.
//!
//! `cargo build --release --workspace --bins && target/release/bench-issuance [N] [PHASE...]`
//!
//! PHASE is `batch` or `single` (both if none is named): one alone is
//! easier to profile.

use std::path::Path;
use std::sync::Arc;

use rcgen::{CertificateParams, DnType, Issuer, KeyPair};
use robotid_bench::{
    Server, count, cpu_seconds, csrs, https_async, own_cpu_seconds, register_ubx, report, start,
    timed,
};
use robotid_wire::enroll::{BatchRequest, BatchResponse};

/// Baseline: rcgen building and signing simple P-256 leaf certificates.
fn rcgen_signing_rate(n: usize) -> Result<f64, String> {
    let ca_key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut ca = CertificateParams::default();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().map_err(|e| e.to_string())?;
    let (done, secs) = timed(|| {
        (0..n)
            .map(|i| {
                let mut p = CertificateParams::default();
                p.distinguished_name
                    .push(DnType::CommonName, format!("robot {i}"));
                p.signed_by(&leaf_key, &issuer).is_ok()
            })
            .filter(|ok| *ok)
            .count()
    });
    Ok(count(done) / secs)
}

/// CPU used by the server and by this client over one phase, to show
/// where the two cores' time per certificate goes.
struct CpuMeter {
    server: f64,
    client: f64,
}

impl CpuMeter {
    fn start(server: &Server) -> Self {
        Self {
            server: cpu_seconds(server),
            client: own_cpu_seconds(),
        }
    }

    fn report(&self, server: &Server, n: usize) {
        let per = |secs: f64| secs * 1e6 / count(n);
        println!(
            "  CPU per certificate: server {:.0} us, client {:.0} us",
            per(cpu_seconds(server) - self.server),
            per(own_cpu_seconds() - self.client)
        );
    }
}

fn main() -> Result<(), String> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let phases: Vec<String> = std::env::args().skip(2).collect();
    let wanted = |phase: &str| phases.is_empty() || phases.iter().any(|p| p == phase);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let server = start(&dir.path().join("data"), None)?;
    let creds = dir.path().join("ubx");
    let ubx = register_ubx(&server, &creds)?;

    println!(
        "machine: {} cores; N = {n}",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let baseline = rcgen_signing_rate(n)?;
    report(
        "baseline: rcgen sign a P-256 leaf, one core",
        baseline,
        baseline,
    );

    if wanted("batch") {
        batch(&server, &ubx, n, baseline)?;
    }
    // One CSR per request over keep-alive connections: 16 in parallel,
    // then 64 (more stations of a production line submitting at once). Each
    // round enrolls robots of its own.
    if wanted("single") {
        let single_n = n / 4;
        for (round, connections) in [16, 64].into_iter().enumerate() {
            let first = n + round * single_n;
            single_requests(
                &server,
                &creds,
                csrs(first, single_n)?,
                connections,
                baseline,
            )?;
        }
    }
    Ok(())
}

/// Enrolls `n` CSRs in requests of 10,000 and reports the rate.
fn batch(
    server: &Server,
    ubx: &reqwest::blocking::Client,
    n: usize,
    baseline: f64,
) -> Result<(), String> {
    let batch_csrs = csrs(0, n)?;
    let cpu = CpuMeter::start(server);
    let (issued, secs) = timed(|| {
        batch_csrs
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
        return Err(format!("batch issued {issued} of {n}"));
    }
    report(
        "batch issuance over HTTPS, durable SQLite (10,000/request)",
        count(n) / secs,
        baseline,
    );
    cpu.report(server, n);
    Ok(())
}

/// Enrolls each of `csrs` with its own request, over `connections`
/// keep-alive connections in parallel (one task each, all on one client
/// thread), and reports the rate.
fn single_requests(
    server: &Server,
    creds: &Path,
    csrs: Vec<String>,
    connections: usize,
    baseline: f64,
) -> Result<(), String> {
    let n = csrs.len();
    let client = https_async(creds)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let csrs = Arc::new(csrs);
    let url = format!("{}/api/v1/enroll", server.api);
    let cpu = CpuMeter::start(server);
    let (ok, secs) = timed(|| {
        runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for t in 0..connections {
                let (client, csrs, url) = (client.clone(), Arc::clone(&csrs), url.clone());
                tasks.spawn(async move {
                    let mut ok = 0;
                    for csr in csrs.iter().skip(t).step_by(connections) {
                        let sent = client
                            .post(&url)
                            .header("content-type", "application/x-pem-file")
                            .body(csr.clone())
                            .send()
                            .await;
                        if sent.is_ok_and(|r| r.status().as_u16() == 201) {
                            ok += 1;
                        }
                    }
                    ok
                });
            }
            let mut ok = 0;
            while let Some(done) = tasks.join_next().await {
                ok += done.unwrap_or(0);
            }
            ok
        })
    });
    if ok != n {
        return Err(format!("single enrollment issued {ok} of {n}"));
    }
    report(
        &format!("one CSR per request, keep-alive, {connections} connections"),
        count(n) / secs,
        baseline,
    );
    cpu.report(server, n);
    Ok(())
}
