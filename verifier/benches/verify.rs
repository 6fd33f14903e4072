//! Verification throughput, with same-run baselines.
//!
//!     cargo bench -p robotid-verifier --bench verify          (release build)
//!
//! Issues robot certificates with the real issuance core, a CRL signed by the
//! issuing CA (10,000 revoked serials plus 1% of the robots), and measures on
//! one core: raw ring P-256 signature verification (the floor: every chain
//! needs one); bulk in-process verification with the CRL and the baseline
//! policy, with and without the issuer cache; `openssl verify` over the same
//! certificates in one process; and one process per certificate for
//! `robotid-verify` and `openssl verify`. Figures go to docs/benchmarks.md.
//! Set ROBOTID_BENCH_ROBOTS to change the number of robots (default 2000),
//! and ROBOTID_BENCH_IN_PROCESS_ONLY=1 to measure only the baseline and the
//! cached in-process rate (for a profiler); ROBOTID_BENCH_KEEP=1 keeps the
//! generated files and prints where. Rates are given per second of CPU time
//! (the benchmark thread's, or the spawned processes') and per second of
//! wall-clock time: on a shared machine the first is the one-core figure.

// Benchmark code: a panic with the cause is the report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    CertificateRevocationListParams, CrlDistributionPoint, CrlIssuingDistributionPoint, Issuer,
    KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use robotid_issuer::ceremony::{self, CaConfig};
use robotid_issuer::signer::{Signer, SignerConfig};
use robotid_issuer::vetting::{self, ManufacturerRecord, ModelRecord};
use robotid_issuer::{csr, keys, pem};
use robotid_verifier::crl::Crl;
use robotid_verifier::identity::{
    DigestAlgorithm, KeyComponent, Manufacturer, RobotIdentity, TechnicalParameter,
};
use robotid_verifier::inspect::{Inspector, InspectorConfig, RobotEvidence};
use robotid_verifier::policy::Policy;
use robotid_verifier::profile::KeyAlgorithm;
use robotid_verifier::report::Verdict;
use robotid_verifier::robot_id::RobotId;
use robotid_verifier::rules::ModelRules;
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

const URL: &str = "http://127.0.0.1:8080";

fn identity(i: usize) -> RobotIdentity {
    let id = RobotId::new("UBX", "WK5", &format!("{i:08}")).unwrap();
    let component = |kind: &str, n: usize| KeyComponent {
        kind: kind.into(),
        part_number: "P-1".into(),
        supplier: "Example Supplier".into(),
        serial: format!("{kind}-{n}"),
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
        production_date: der::DateTime::new(2026, 11, 20, 0, 0, 0).unwrap(),
        parameters: vec![
            TechnicalParameter {
                name: "height_mm".into(),
                value: 1650,
                unit: "mm".into(),
            },
            TechnicalParameter {
                name: "mass_g".into(),
                value: 58500,
                unit: "g".into(),
            },
        ],
        components: ["main-controller", "safety-controller", "battery-pack"]
            .iter()
            .map(|k| component(k, i))
            .collect(),
    }
}

/// A rate two ways: per second of CPU time (of this thread, or of the
/// children for spawned processes), which a loaded machine does not
/// change much, and per second of wall-clock time, which it does.
#[derive(Clone, Copy)]
struct Rate {
    cpu: f64,
    wall: f64,
}

/// CPU time (user + system) in seconds from a /proc stat file: this
/// thread's (`utime`, `stime`) or its waited-for children's (`cutime`,
/// `cstime`). The kernel counts in 10 ms ticks, fine over seconds.
fn cpu_seconds(children: bool) -> f64 {
    let (file, first) = if children {
        ("/proc/self/stat", 13)
    } else {
        ("/proc/thread-self/stat", 11)
    };
    let stat = std::fs::read_to_string(file).unwrap();
    // Fields after the command name, which may hold spaces: state is the first.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 =
        fields[first].parse::<u64>().unwrap() + fields[first + 1].parse::<u64>().unwrap();
    f64::from(u32::try_from(ticks).unwrap()) / 100.0
}

/// Calls `f` over `items` round after round for at least `min`.
fn rate<T>(items: &[T], min: Duration, mut f: impl FnMut(&T)) -> Rate {
    let cpu = cpu_seconds(false);
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < min {
        for item in items {
            f(item);
        }
        done += items.len();
    }
    let elapsed = start.elapsed();
    Rate {
        cpu: count(done) / (cpu_seconds(false) - cpu),
        wall: per_second(done, elapsed),
    }
}

// The two timed calls, kept out of line so that a profiler can count them
// alone: `valgrind --tool=callgrind --toggle-collect='*timed_inspect*'
// --toggle-collect='*ring_verify*'` (with ROBOTID_BENCH_IN_PROCESS_ONLY=1)
// gives instructions per call, without the warm-up pass before the timing.
#[inline(never)]
fn ring_verify(key: &ring::signature::UnparsedPublicKey<&Vec<u8>>, tbs: &[u8], sig: &[u8]) {
    key.verify(tbs, sig).unwrap();
}

#[inline(never)]
fn timed_inspect(inspector: &Inspector, der: &[u8], evidence: &RobotEvidence<'_>) {
    std::hint::black_box(inspector.inspect(der, &[], evidence).unwrap());
}

fn count(n: usize) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

fn per_second(n: usize, elapsed: Duration) -> f64 {
    count(n) / elapsed.as_secs_f64()
}

fn line(what: &str, rate: Rate, note: &str) {
    println!("| {what} | {:.0} | {:.0} | {note} |", rate.cpu, rate.wall);
}

fn main() {
    let robots: usize = std::env::var("ROBOTID_BENCH_ROBOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let work = tempfile::tempdir().unwrap();
    let ca_dir = work.path().join("ca");
    ceremony::init(
        &ca_dir,
        &CaConfig {
            name: "Bench".into(),
            public_url: URL.into(),
        },
    )
    .unwrap();
    let ca = ceremony::load(&ca_dir).unwrap();
    let crl_key =
        robotid_issuer::keys::read_key(&ca_dir.join(robotid_issuer::ceremony::files::ISSUING_KEY))
            .unwrap();
    let signer = Signer::new(
        ca.issuing_der.clone(),
        robotid_issuer::key::SoftwareKey::read(
            &ca_dir.join(robotid_issuer::ceremony::files::ISSUING_KEY),
        )
        .unwrap(),
        vec![ca.root_der.clone()],
        SignerConfig::new(URL),
    )
    .unwrap();
    let manufacturer = ManufacturerRecord {
        code: "UBX".into(),
        name: "Example Robotics Ltd".into(),
        country: "CN".into(),
        active: true,
    };
    let model = ModelRecord {
        manufacturer_code: "UBX".into(),
        model: "WK5".into(),
        rules: ModelRules::from_toml(
            "[parameters.height_mm]\nmin = 1\nmax = 3000\n[parameters.mass_g]\nmin = 1\nmax = 300000\n",
            "bench",
        )
        .unwrap(),
    };
    let started = Instant::now();
    let certs: Vec<Vec<u8>> = (0..robots)
        .map(|i| {
            let key = keys::generate(KeyAlgorithm::P256).unwrap();
            let request = csr::verify(&csr::create(&identity(i), &key).unwrap()).unwrap();
            let vetted = vetting::vet(&request, &manufacturer, Some(&model)).unwrap();
            let prepared = signer.prepare(&vetted, OffsetDateTime::now_utc()).unwrap();
            signer.issue(prepared).unwrap().der
        })
        .collect();
    eprintln!(
        "issued {robots} robot certificates in {:.1?}",
        started.elapsed()
    );

    // A CRL with 10,000 other revoked serials and every 100th robot.
    let now = OffsetDateTime::now_utc();
    let mut revoked: Vec<Vec<u8>> = (0u32..10_000)
        .map(|i| {
            let mut s = vec![0x11; 12];
            s.extend_from_slice(&i.to_be_bytes());
            s
        })
        .collect();
    revoked.extend(certs.iter().step_by(100).map(|c| {
        X509Certificate::from_der(c)
            .unwrap()
            .1
            .raw_serial()
            .to_vec()
    }));
    let crl_params = CertificateRevocationListParams {
        this_update: now - time::Duration::hours(1),
        next_update: now + time::Duration::days(1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: Some(CrlIssuingDistributionPoint {
            distribution_point: CrlDistributionPoint {
                uris: vec![signer.urls().crl.clone()],
            },
            scope: Some(rcgen::CrlScope::UserCertsOnly),
        }),
        revoked_certs: revoked
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from_slice(s),
                revocation_time: now - time::Duration::hours(2),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl_issuer =
        Issuer::from_ca_cert_der(&CertificateDer::from(ca.issuing_der.clone()), crl_key).unwrap();
    let crl_der = crl_params.signed_by(&crl_issuer).unwrap().der().to_vec();
    let small_crl_der = CertificateRevocationListParams {
        revoked_certs: crl_params.revoked_certs[..20].to_vec(),
        ..crl_params.clone()
    }
    .signed_by(&crl_issuer)
    .unwrap()
    .der()
    .to_vec();
    let expected_pass = robots - certs.iter().step_by(100).count();

    let policy_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/market-entry/baseline.toml");
    let inspector = |cache: bool| {
        let i = Inspector::new(InspectorConfig {
            anchors: vec![CertificateDer::from(ca.root_der.clone())],
            intermediates: vec![CertificateDer::from(ca.issuing_der.clone())],
            crls: vec![Crl::from_der(&crl_der, "bench.crl").unwrap()],
            policy: Some(Policy::load(&policy_path).unwrap()),
            at: now.unix_timestamp(),
        })
        .unwrap();
        if cache { i } else { i.without_issuer_cache() }
    };

    let min = Duration::from_secs(3);
    let crl_loads = rate(&[()], Duration::from_secs(1), |()| {
        std::hint::black_box(Crl::from_der(&crl_der, "bench.crl").unwrap());
    });
    let webpki_loads = rate(&[()], Duration::from_secs(1), |()| {
        std::hint::black_box(
            webpki::BorrowedCertRevocationList::from_der(&crl_der)
                .unwrap()
                .to_owned()
                .unwrap(),
        );
    });
    let parser_loads = rate(&[()], Duration::from_secs(1), |()| {
        std::hint::black_box(
            x509_parser::revocation_list::CertificateRevocationList::from_der(&crl_der).unwrap(),
        );
    });
    eprintln!(
        "CRL loads per CPU second: ours {:.0}, webpki owned {:.0}, x509-parser {:.0}",
        crl_loads.cpu, webpki_loads.cpu, parser_loads.cpu
    );
    println!();
    println!(
        "{robots} robot certificates (P-256 keys, issuing CA P-256, root P-384), CRL of {} entries ({} KiB), baseline policy",
        revoked.len(),
        crl_der.len() / 1024
    );
    println!();
    println!("| what (one core) | per CPU second | per wall second | note |");
    println!("|---|---|---|---|");

    // Baseline: ring's P-256 verification of each robot certificate's
    // signature, nothing else (parsed beforehand).
    let (_, issuing) = X509Certificate::from_der(&ca.issuing_der).unwrap();
    let issuing_key = issuing.public_key().subject_public_key.data.to_vec();
    let signed: Vec<(Vec<u8>, Vec<u8>)> = certs
        .iter()
        .map(|c| {
            let (_, x) = X509Certificate::from_der(c).unwrap();
            (
                x.tbs_certificate.as_ref().to_vec(),
                x.signature_value.data.to_vec(),
            )
        })
        .collect();
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        &issuing_key,
    );
    let ring_rate = rate(&signed, min, |(tbs, sig)| ring_verify(&key, tbs, sig));
    line(
        "ring ECDSA P-256 verify (baseline)",
        ring_rate,
        "raw signature check only",
    );

    let profile_rate = rate(&certs, min, |der| {
        let (_, cert) = X509Certificate::from_der(der).unwrap();
        std::hint::black_box(robotid_verifier::profile::analyse(&cert));
    });
    line(
        "profile rules alone (x509-parser parse + RobotIdentity decode + rules)",
        profile_rate,
        "part of every chain below",
    );
    let profiling = std::env::var_os("ROBOTID_BENCH_IN_PROCESS_ONLY").is_some();
    for (cache, label) in [(true, "cached issuing CA"), (false, "full path every time")] {
        if profiling && !cache {
            continue;
        }
        let inspector = inspector(cache);
        let evidence = RobotEvidence::default();
        let passed = certs
            .iter()
            .filter(|der| inspector.inspect(der, &[], &evidence).unwrap().verdict == Verdict::Pass)
            .count();
        assert_eq!(passed, expected_pass, "verdicts");
        let r = rate(&certs, min, |der| timed_inspect(&inspector, der, &evidence));
        line(
            &format!("robotid-verifier in process, CRL + policy, {label}"),
            r,
            &format!(
                "{:.0}% of the ring verify rate ({:.0}% by wall clock)",
                100.0 * r.cpu / ring_rate.cpu,
                100.0 * r.wall / ring_rate.wall
            ),
        );
    }

    if profiling {
        return;
    }
    // Files for the external programs.
    let dir = work.path().join("certs");
    std::fs::create_dir(&dir).unwrap();
    let write = |name: &str, text: String| {
        let p = work.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let root = write("root.pem", pem::encode("CERTIFICATE", &ca.root_der));
    let issuing_pem = write("issuing.pem", pem::encode("CERTIFICATE", &ca.issuing_der));
    // DER, as the CA publishes CRLs (and both programs read).
    let crl = work.path().join("issuing.crl");
    std::fs::write(&crl, &crl_der).unwrap();
    let small_crl = work.path().join("small.crl");
    std::fs::write(&small_crl, &small_crl_der).unwrap();
    let files: Vec<std::path::PathBuf> = certs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = dir.join(format!("robot-{i:05}.pem"));
            std::fs::write(&p, pem::encode("CERTIFICATE", c)).unwrap();
            p
        })
        .collect();

    let openssl_ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let openssl_args = |certs: &[std::path::PathBuf], crl: &std::path::PathBuf| {
        let mut a: Vec<std::ffi::OsString> = [
            "verify",
            "-x509_strict",
            "-purpose",
            "sslclient",
            "-crl_check",
        ]
        .iter()
        .map(Into::into)
        .collect();
        for (flag, path) in [
            ("-CAfile", &root),
            ("-untrusted", &issuing_pem),
            ("-CRLfile", crl),
        ] {
            a.push(flag.into());
            a.push(path.into());
        }
        a.extend(certs.iter().map(|c| c.as_os_str().to_owned()));
        a
    };
    if openssl_ok {
        let cpu = cpu_seconds(true);
        let start = Instant::now();
        let out = Command::new("openssl")
            .args(openssl_args(&files, &crl))
            .output()
            .unwrap();
        let elapsed = start.elapsed();
        let oks = String::from_utf8_lossy(&out.stdout).matches(": OK").count();
        assert_eq!(oks, expected_pass, "openssl verify accepted {oks}");
        line(
            "openssl verify, all certificates in one process, CRL",
            Rate {
                cpu: count(robots) / (cpu_seconds(true) - cpu),
                wall: per_second(robots, elapsed),
            },
            "full chain per certificate (root P-384 signature each time)",
        );
    }

    // One process per certificate.
    let exe = env!("CARGO_BIN_EXE_robotid-verify");
    let sample = &files[..files.len().min(300)];
    // CPU time here is the children's: the processes' own cost, without
    // the parent's fork and wait.
    let spawn_rate = |make: &dyn Fn(&Path) -> Command| {
        let cpu = cpu_seconds(true);
        let start = Instant::now();
        for f in sample {
            let status = make(f)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.code().is_some());
        }
        let elapsed = start.elapsed();
        Rate {
            cpu: count(sample.len()) / (cpu_seconds(true) - cpu),
            wall: per_second(sample.len(), elapsed),
        }
    };
    let true_rate = spawn_rate(&|_| Command::new("true"));
    line(
        "spawn `true` (process start floor)",
        true_rate,
        "fork + exec + wait",
    );
    let version_rate = spawn_rate(&|_| {
        let mut c = Command::new(exe);
        c.arg("--version");
        c
    });
    line(
        "`robotid-verify --version` (the same binary, starting and parsing its flags only)",
        version_rate,
        "process start floor of this binary",
    );
    for (crl, label) in [(&crl, "10k-entry CRL"), (&small_crl, "20-entry CRL")] {
        let ours = spawn_rate(&|f| {
            let mut c = Command::new(exe);
            c.arg("--cert")
                .arg(f)
                .arg("--trust")
                .arg(&root)
                .arg("--chain")
                .arg(&issuing_pem)
                .arg("--crl")
                .arg(crl)
                .arg("--policy")
                .arg(&policy_path)
                .arg("--json");
            c
        });
        line(
            &format!("robotid-verify, one process per certificate, {label} + policy, --json"),
            ours,
            "checks the root's P-384 signature on the issuing CA every time",
        );
        if openssl_ok {
            let theirs = spawn_rate(&|f| {
                let mut c = Command::new("openssl");
                c.args(openssl_args(std::slice::from_ref(&f.to_path_buf()), crl));
                c
            });
            line(
                &format!("openssl verify, one process per certificate, {label}"),
                theirs,
                "same inputs",
            );
        }
    }
    // The issuing CA pinned as the trust anchor: no P-384 signature to check.
    let pinned = spawn_rate(&|f| {
        let mut c = Command::new(exe);
        c.arg("--cert")
            .arg(f)
            .arg("--trust")
            .arg(&issuing_pem)
            .arg("--crl")
            .arg(&small_crl)
            .arg("--policy")
            .arg(&policy_path)
            .arg("--json");
        c
    });
    line(
        "robotid-verify, one process per certificate, issuing CA pinned as --trust, 20-entry CRL + policy",
        pinned,
        "no root signature to check",
    );
    // The root as anchor, with --cache: the first run proves the issuing
    // CA under the root and writes it down, the rest reuse the proof.
    let cache_dir = work.path().join("verify-cache");
    let cached = spawn_rate(&|f| {
        let mut c = Command::new(exe);
        c.arg("--cert")
            .arg(f)
            .arg("--trust")
            .arg(&root)
            .arg("--chain")
            .arg(&issuing_pem)
            .arg("--cache")
            .arg(&cache_dir)
            .arg("--crl")
            .arg(&small_crl)
            .arg("--policy")
            .arg(&policy_path)
            .arg("--json");
        c
    });
    line(
        "robotid-verify, one process per certificate, root as --trust with --cache, 20-entry CRL + policy",
        cached,
        "root's signature on the issuing CA checked in the first run only",
    );
    // Built by `cargo build --release`, not by this bench: measured when present.
    let robotid = Path::new(exe).with_file_name("robotid");
    if robotid.exists() {
        let id_check = spawn_rate(&|_| {
            let mut c = Command::new(&robotid);
            c.args(["id", "check", "UBX-WK5-00001234-I"]);
            c
        });
        line(
            "`robotid id check` (a Rust binary doing almost nothing)",
            id_check,
            "process start floor of a Rust binary",
        );
    }
    println!();
    if std::env::var_os("ROBOTID_BENCH_KEEP").is_some() {
        eprintln!("files kept in {}", work.keep().display());
    }
}
