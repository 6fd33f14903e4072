//! Shared pieces of the benchmark programs: starting the real `robotid-ca`
//! binary (through the test kit's launcher, `robotid_tests::Server`),
//! HTTPS clients with its credentials (the CLI's TLS setup), timing.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use robotid_wire::admin::{AddManufacturer, AddModel, CredentialResponse};

pub use robotid_tests::Server;

/// The folder of the binaries built beside this one.
pub fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

/// `robotid-ca` built beside this program, on ephemeral ports, serving
/// `data_dir`; `filter` is its `ROBOTID_LOG` setting.
fn server_command(data_dir: &Path, filter: &str) -> Command {
    let mut cmd = Command::new(bin_dir().join("robotid-ca"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0", "--public-listen", "127.0.0.1:0"])
        .env("ROBOTID_LOG", filter);
    cmd
}

fn start_error(e: robotid_tests::StartError) -> String {
    match e {
        robotid_tests::StartError::Spawn(e) => {
            format!("robotid-ca: {e} (build it with --release first)")
        }
        other => other.to_string(),
    }
}

/// Starts the server built beside this program on ephemeral ports, its log
/// passed through.
pub fn start(data_dir: &Path, database_url: Option<&str>) -> Result<Server, String> {
    let filter = std::env::var("ROBOTID_LOG").unwrap_or_else(|_| "warn".into());
    let mut cmd = server_command(data_dir, &filter);
    cmd.stderr(Stdio::inherit());
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    Server::spawn(cmd, data_dir).map_err(start_error)
}

/// CPU seconds (user and system, every thread, living or exited) `server`
/// has used so far.
pub fn cpu_seconds(server: &Server) -> f64 {
    cpu_seconds_of(&format!("/proc/{}/stat", server.pid()))
}

/// CPU seconds (user and system) this process has used so far.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds_of("/proc/self/stat")
}

/// utime + stime of a /proc/PID/stat file, in seconds (0 if unreadable).
/// The fields are counted in USER_HZ, which Linux fixes at 100.
fn cpu_seconds_of(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // The command name may hold spaces; the fields after it are fixed.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the name: state is field 3, so utime (14) and stime (15) are
    // at 11 and 12 here.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u32>().ok())
            .map_or(0.0, f64::from)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// TLS with the credentials in `creds` (client.pem, client.key, ca.pem):
/// the CLI's own setup, without ALPN (HTTP/1.1, as the figures in
/// docs/benchmarks.md were measured).
fn client_tls(creds: &Path) -> Result<rustls::ClientConfig, String> {
    robotid_cli::client::mutual_tls(creds).map_err(|e| e.to_string())
}

/// An HTTPS client with the credentials in `creds` (client.pem, client.key, ca.pem).
pub fn https(creds: &Path) -> Result<reqwest::blocking::Client, String> {
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(client_tls(creds)?)
        .pool_max_idle_per_host(64)
        .timeout(std::time::Duration::from_secs(600))
        .build()
        .map_err(|e| e.to_string())
}

/// [`https`] for async callers: many connections on one thread, where a
/// thread per connection would spend the shared cores on hand-offs.
pub fn https_async(creds: &Path) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(client_tls(creds)?)
        .pool_max_idle_per_host(256)
        .timeout(std::time::Duration::from_secs(600))
        .build()
        .map_err(|e| e.to_string())
}

/// Runs `f` and returns its result with the elapsed seconds.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

/// A count as f64, for rates.
pub fn count(n: usize) -> f64 {
    u32::try_from(n).map(f64::from).unwrap_or(f64::MAX)
}

/// One line of a results table: name, rate, and the ratio to a baseline.
pub fn report(name: &str, per_second: f64, baseline: f64) {
    println!(
        "{name:<58} {per_second:>12.0} /s   {:>6.2}x baseline",
        per_second / baseline
    );
}

/// Lines the server wrote to stderr, kept for the benchmark to read.
pub type Log = Arc<std::sync::Mutex<Vec<String>>>;

/// Like [`start`], with the server's log (stderr) kept in the returned
/// [`Log`] instead of passed through; `filter` is its `ROBOTID_LOG`
/// setting.
pub fn start_logged(data_dir: &Path, filter: &str) -> Result<(Server, Log), String> {
    let log: Log = Arc::default();
    // A pipe of our own: the kit's spawn takes only the server's stdout.
    let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let mut cmd = server_command(data_dir, filter);
    cmd.stderr(writer);
    {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(reader)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(mut l) = log.lock() {
                    l.push(line);
                }
            }
        });
    }
    // The command, and with it our copy of the writing end, is dropped
    // after the spawn: the reader ends when the server does.
    match Server::spawn(cmd, data_dir) {
        Ok(server) => Ok((server, log)),
        Err(e) => {
            let tail = log.lock().map(|l| l.join("\n")).unwrap_or_default();
            Err(format!("{}:\n{tail}", start_error(e)))
        }
    }
}

/// The rules of model UBX WK5 that [`register_ubx`] registers and
/// [`identity`] fits.
pub const UBX_RULES: &str = "[parameters.height_mm]\nmin=1500\nmax=1800\n[parameters.mass_g]\nmin=40000\nmax=80000\n[parameters.degrees_of_freedom]\nmin=20\nmax=60\n[parameters.payload_g]\nmin=0\nmax=25000\n[parameters.battery_mwh]\nmin=100000\nmax=2000000\n[components]\nrequired=[\"main-controller\",\"safety-controller\",\"battery-pack\"]\n";

/// Registers manufacturer UBX (credentials written to `creds`) and its
/// model WK5 (five parameters, three components) with the operator's
/// credentials; returns an HTTPS client with UBX's credentials.
pub fn register_ubx(server: &Server, creds: &Path) -> Result<reqwest::blocking::Client, String> {
    let operator = https(&server.data_dir.join("operator"))?;
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name.push(rcgen::DnType::CommonName, "UBX");
    let credential_csr = p
        .serialize_request(&key)
        .and_then(|c| c.pem())
        .map_err(|e| e.to_string())?;
    let created: CredentialResponse = operator
        .post(format!("{}/api/v1/manufacturers", server.api))
        .json(&AddManufacturer {
            code: "UBX".into(),
            name: "Example Robotics Ltd".into(),
            country: "CN".into(),
            credential_csr,
        })
        .send()
        .and_then(|r| r.json())
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(creds).map_err(|e| e.to_string())?;
    std::fs::write(
        creds.join("client.pem"),
        created.certificate_pem + &created.chain_pem,
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(creds.join("client.key"), key.serialize_pem()).map_err(|e| e.to_string())?;
    std::fs::write(creds.join("ca.pem"), created.ca_pem).map_err(|e| e.to_string())?;
    let rules = UBX_RULES;
    let status = operator
        .post(format!("{}/api/v1/manufacturers/UBX/models", server.api))
        .json(&AddModel {
            model: "WK5".into(),
            rules: rules.into(),
        })
        .send()
        .map_err(|e| e.to_string())?
        .status();
    if !status.is_success() {
        return Err(format!("adding model WK5: {status}"));
    }
    https(creds)
}

/// The identity of robot UBX-WK5-`serial`, fitting [`register_ubx`]'s rules.
pub fn identity(serial: usize) -> Result<robotid_verifier::identity::RobotIdentity, String> {
    use robotid_verifier::identity::{
        DateTime, DigestAlgorithm, KeyComponent, Manufacturer, RobotIdentity, TechnicalParameter,
    };
    let id = robotid_verifier::robot_id::RobotId::new("UBX", "WK5", &format!("{serial:08}"))
        .map_err(|e| e.to_string())?;
    let p = |name: &str, value: i64, unit: &str| TechnicalParameter {
        name: name.into(),
        value,
        unit: unit.into(),
    };
    let c = |kind: &str| KeyComponent {
        kind: kind.into(),
        part_number: "P-1".into(),
        supplier: "Supplier".into(),
        serial: format!("{kind}-{serial}"),
        digests: vec![DigestAlgorithm::Sha256.digest(kind.as_bytes())],
    };
    Ok(RobotIdentity {
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
    })
}

/// PEM CSRs for robots `from..from + n` (one key for all of them).
pub fn csrs(from: usize, n: usize) -> Result<Vec<String>, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    (from..from + n)
        .map(|i| {
            let der =
                robotid_issuer::csr::create(&identity(i)?, &key).map_err(|e| e.to_string())?;
            Ok(robotid_issuer::pem::encode("CERTIFICATE REQUEST", &der))
        })
        .collect()
}

/// The `q` quantile (0 to 1) of `sorted` (ascending), nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let last = sorted.len() - 1;
    let rank = (q * count(last)).ceil();
    let i = (0..=last).find(|i| count(*i) >= rank).unwrap_or(last);
    sorted[i]
}
