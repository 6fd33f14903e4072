//! The revocation service of the real `robotid-ca`, each figure beside a
//! baseline measured in the same run:
//!
//! - OCSP responses/s under `wrk` (16 keep-alive connections, GET and POST)
//!   against the same `wrk` on nginx serving the same response bytes as a
//!   static file on the same machine;
//! - revoke latency over mutual TLS with a million certificates already
//!   revoked, beside the `/healthz` round trip on the same connection and
//!   one durable SQLite commit on the same disk;
//! - building and signing the full CRL of a million entries, in the server
//!   (its log) and through `Signer::sign_crl` in process, beside `openssl
//!   crl` checking it and signing its bytes once.
//!
//! `cargo build --release --workspace --bins && target/release/bench-revocation [REVOKED [REVOKES [SECONDS]]]`
//! (defaults 1000000, 2000, 8). Installs `wrk` and `nginx` with apt-get if
//! they are missing. `BENCH_OCSP_ONLY=1` stops after the OCSP figures.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use robotid_bench::{Log, Server, count, csrs, https, quantile, register_ubx, start_logged, timed};
use robotid_issuer::ceremony;
use robotid_issuer::signer::{CrlEntry, CrlRequest, SignerConfig};
use robotid_wire::enroll::{BatchRequest, BatchResponse};
use robotid_wire::revocation::{RevocationResponse, RevokeRequest};

type R<T> = Result<T, String>;

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn run(cmd: &mut Command) -> R<String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args([
            "-c",
            &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs wrk and nginx (Debian packages) when missing.
fn ensure_tools() -> R<()> {
    if ["wrk", "nginx", "openssl"].iter().all(|t| have(t)) {
        return Ok(());
    }
    println!("installing wrk, nginx and openssl with apt-get");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "wrk", "nginx", "openssl"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get").args(["update", "-q"]).status();
        if !install() {
            return Err("apt-get install wrk nginx openssl failed".into());
        }
    }
    Ok(())
}

fn nginx_bin() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

fn free_port() -> R<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(s)?
        .port())
}

/// nginx with a configuration of its own in `dir`, serving `body` as the
/// answer to every GET and POST under /ocsp/. Stopped on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Nginx {
    fn start(dir: &Path, body: &[u8]) -> R<Nginx> {
        let www = dir.join("www");
        std::fs::create_dir_all(&www).map_err(s)?;
        std::fs::write(www.join("response.der"), body).map_err(s)?;
        let port = free_port()?;
        let d = dir.display();
        // The strongest static setup we know for one small file: two
        // workers, no access log, the file's descriptor cached, keep-alive
        // connections never closed by a request count.
        let conf = format!(
            "worker_processes 2;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  default_type application/ocsp-response;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             keepalive_requests 1000000000;\n  keepalive_timeout 120s;\n  open_file_cache max=16 inactive=600s;\n\
             open_file_cache_valid 600s;\n\
             server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n\
             location /ocsp {{\n      default_type application/ocsp-response;\n\
             try_files /response.der =404;\n      error_page 405 =200 /response.der;\n    }}\n  }}\n}}\n"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).map_err(s)?;
        let child = Command::new(nginx_bin())
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .stderr(std::fs::File::create(dir.join("stderr.log")).map_err(s)?)
            .spawn()
            .map_err(|e| format!("nginx: {e}"))?;
        let nginx = Nginx {
            child,
            dir: dir.to_path_buf(),
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(nginx);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "nginx did not start: {}{}",
            std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        ))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGKILL to the master would leave its workers serving: ask it.
        let _ = Command::new(nginx_bin())
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(self.dir.join("nginx.conf"))
            .args(["-s", "stop"])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// One wrk run: requests/s and latency percentiles (ms).
struct Wrk {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn wrk_ms(text: &str) -> f64 {
    let (num, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((text, "ms"), |i| text.split_at(i));
    let v: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => v / 1000.0,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => v,
    }
}

/// Runs wrk with 2 threads and 16 keep-alive connections for `secs`
/// seconds; fails on any non-2xx answer or socket error.
fn wrk(url: &str, script: Option<&Path>, secs: usize) -> R<Wrk> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c16", &format!("-d{secs}s"), "--latency"]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = run(cmd.arg(url))?;
    if out.contains("Non-2xx") || out.contains("Socket errors") {
        return Err(format!("wrk saw failures against {url}:\n{out}"));
    }
    let field = |prefix: &str| {
        out.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .ok_or_else(|| format!("wrk output has no {prefix:?}:\n{out}"))
    };
    Ok(Wrk {
        rps: field("Requests/sec:")?.parse().map_err(s)?,
        p50_ms: wrk_ms(field("50%")?),
        p99_ms: wrk_ms(field("99%")?),
    })
}

/// `openssl ocsp` as a responder for `cert` (an index of one valid
/// certificate, the CA's delegated signer): responses/s to 16 concurrent
/// clients POSTing `request`. It answers one request per connection and
/// signs each response.
fn openssl_responder(dir: &Path, ca: &Path, cert: &Path, request: &Path, secs: usize) -> R<f64> {
    let serial = run(Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(cert))?;
    let serial = serial
        .trim()
        .strip_prefix("serial=")
        .ok_or_else(|| format!("openssl x509 -serial printed {serial:?}"))?
        .to_owned();
    let index = dir.join("openssl-index.txt");
    std::fs::write(
        &index,
        format!("V\t491231235959Z\t\t{serial}\tunknown\t/CN=robot\n"),
    )
    .map_err(s)?;
    std::fs::write(dir.join("openssl-index.txt.attr"), "unique_subject = no\n").map_err(s)?;
    let port = free_port()?;
    let mut child = Command::new("openssl")
        .args(["ocsp", "-index"])
        .arg(&index)
        .args(["-port", &port.to_string(), "-rsigner"])
        .arg(ca.join("ocsp-signer.pem"))
        .arg("-rkey")
        .arg(ca.join("ocsp-signer.key"))
        .arg("-CA")
        .arg(ca.join("issuing-ca.pem"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("openssl ocsp responder: {e}"))?;
    let url = format!("http://127.0.0.1:{port}/");
    // Ready when it says so. (Probing the port would hang it: a client
    // that connects and closes without a byte stops openssl's responder.)
    let stderr = child.stderr.take().ok_or("openssl ocsp: no stderr")?;
    let ready = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .any(|line| line.contains("waiting for OCSP client connections"));
    if !ready {
        let _ = child.kill();
        return Err("openssl ocsp responder did not start".into());
    }
    // wrk gets no answer from openssl's one-request-per-connection HTTP
    // server, so 16 client threads POST over a new connection each time.
    let request = std::fs::read(request).map_err(s)?;
    let until = std::time::Instant::now() + Duration::from_secs(u64::try_from(secs).unwrap_or(8));
    let answered: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..16)
            .map(|_| {
                let (url, request) = (&url, &request);
                scope.spawn(move || {
                    let Ok(client) = reqwest::blocking::Client::builder()
                        .pool_max_idle_per_host(0)
                        .build()
                    else {
                        return 0;
                    };
                    let mut ok = 0usize;
                    while std::time::Instant::now() < until {
                        let answer = client
                            .post(url.as_str())
                            .header("content-type", "application/ocsp-request")
                            .body(request.clone())
                            .send();
                        if answer.is_ok_and(|r| r.status().is_success()) {
                            ok += 1;
                        }
                    }
                    ok
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let _ = child.kill();
    let _ = child.wait();
    if answered == 0 {
        return Err("openssl ocsp answered no request".into());
    }
    Ok(f64::from(u32::try_from(answered).unwrap_or(u32::MAX))
        / f64::from(u32::try_from(secs).unwrap_or(8)))
}

/// A wrk script that POSTs `body` as an OCSP request.
fn post_script(path: &Path, body: &[u8]) -> R<()> {
    let escaped: String = body.iter().map(|b| format!("\\{b}")).collect();
    let script = format!(
        "wrk.method = \"POST\"\nwrk.body = \"{escaped}\"\n\
         wrk.headers[\"Content-Type\"] = \"application/ocsp-request\"\n"
    );
    std::fs::write(path, script).map_err(s)
}

/// Fetches `url` (GET, or POST of `post`) and checks a 200 with `want`.
fn check_answer(url: &str, post: Option<&[u8]>, want: &[u8]) -> R<()> {
    let client = reqwest::blocking::Client::new();
    let req = match post {
        Some(body) => client
            .post(url)
            .header("content-type", "application/ocsp-request")
            .body(body.to_vec()),
        None => client.get(url),
    };
    let resp = req.send().map_err(s)?;
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.bytes().map_err(s)?;
    if status != 200 || ctype != "application/ocsp-response" || body.as_ref() != want {
        return Err(format!(
            "{url}: {status} {ctype}, {} bytes, not the expected {} bytes",
            body.len(),
            want.len()
        ));
    }
    Ok(())
}

fn ocsp_part(server: &Server, dir: &Path, cert_pem: &str, secs: usize) -> R<()> {
    let ca = server.data_dir.join("ca");
    let cert = dir.join("robot.pem");
    std::fs::write(&cert, cert_pem).map_err(s)?;
    let req_path = dir.join("ocsp-request.der");
    run(Command::new("openssl")
        .args(["ocsp", "-no_nonce", "-issuer"])
        .arg(ca.join("issuing-ca.pem"))
        .arg("-cert")
        .arg(&cert)
        .arg("-reqout")
        .arg(&req_path))?;
    let request = std::fs::read(&req_path).map_err(s)?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&request);
    let get_url = format!("{}/ocsp/{b64}", server.public);
    let post_url = format!("{}/ocsp", server.public);

    // The response must be right before it is timed: openssl checks it.
    let response = reqwest::blocking::get(&get_url)
        .and_then(|r| r.bytes())
        .map_err(s)?;
    let resp_path = dir.join("ocsp-response.der");
    std::fs::write(&resp_path, &response).map_err(s)?;
    let verdict = run(Command::new("openssl")
        .args(["ocsp", "-respin"])
        .arg(&resp_path)
        .arg("-issuer")
        .arg(ca.join("issuing-ca.pem"))
        .arg("-verify_other")
        .arg(ca.join("issuing-ca.pem"))
        .arg("-CAfile")
        .arg(ca.join("root-ca.pem"))
        .arg("-cert")
        .arg(&cert))?;
    if !verdict.contains("Response verify OK") || !verdict.contains(": good") {
        return Err(format!("openssl does not accept the response:\n{verdict}"));
    }
    check_answer(&get_url, None, &response)?;
    check_answer(&post_url, Some(&request), &response)?;
    let nginx = Nginx::start(&dir.join("nginx"), &response)?;
    let nginx_url = format!("{}/ocsp/{b64}", nginx.url);
    check_answer(&nginx_url, None, &response)?;
    check_answer(&format!("{}/ocsp", nginx.url), Some(&request), &response)?;
    let script = dir.join("post.lua");
    post_script(&script, &request)?;

    println!(
        "\nOCSP: request {} bytes (SHA-1 CertID, no nonce, from openssl), response {} bytes; \
         wrk -t2 -c16 -d{secs}s, keep-alive",
        request.len(),
        response.len()
    );
    println!(
        "{:<6} {:>12} {:>12} {:>8} {:>12} {:>8} {:>7} {:>7}",
        "round", "nginx GET/s", "robotid GET", "ratio", "robotid POST", "ratio", "p99 ms", "nginx"
    );
    let (mut gets, mut posts, mut bases) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=3 {
        let base = wrk(&nginx_url, None, secs)?;
        let get = wrk(&get_url, None, secs)?;
        let post = wrk(&post_url, Some(&script), secs)?;
        println!(
            "{round:<6} {:>12.0} {:>12.0} {:>7.2}x {:>12.0} {:>7.2}x {:>7.2} {:>7.2}",
            base.rps,
            get.rps,
            get.rps / base.rps,
            post.rps,
            post.rps / base.rps,
            get.p99_ms,
            base.p99_ms
        );
        let _ = (base.p50_ms, get.p50_ms);
        bases.push(base.rps);
        gets.push(get.rps);
        posts.push(post.rps);
    }
    let total = |v: &[f64]| v.iter().sum::<f64>();
    let openssl = openssl_responder(dir, &ca, &cert, &req_path, secs)?;
    println!(
        "baseline: `openssl ocsp` as a responder (signs every response), POST: {openssl:.0}/s; \
         robotid POST is {:.1}x that",
        total(&posts) / 3.0 / openssl
    );
    println!(
        "all rounds: nginx {:.0}/s, robotid GET {:.0}/s ({:.2}x), POST {:.0}/s ({:.2}x)",
        total(&bases) / 3.0,
        total(&gets) / 3.0,
        total(&gets) / total(&bases),
        total(&posts) / 3.0,
        total(&posts) / total(&bases)
    );
    Ok(())
}

/// Puts `n` revoked certificates (with their robots and audit entries)
/// straight into the stopped server's SQLite registry, in one transaction.
fn seed(db: &Path, n: usize) -> R<()> {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(s)?;
    rt.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", db.display()))
            .await
            .map_err(s)?;
        let t0 = time::OffsetDateTime::now_utc().unix_timestamp() - 40 * 86_400;
        let seq = format!(
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n})"
        );
        // Serials: 16 octets, first octet 0x10 to 0x7f, unique by the last eight.
        let serial = "printf('%08x%08x%016x', 268435456 + (i * 2654435761) % 1879048191, \
                      (i * 40503 + 12345) % 4294967296, i)";
        let robot = "printf('UBX-WK5-S%07d', i)";
        let revoked_at = format!("{t0} + 86400 + i % (30 * 86400)");
        let reason = "CASE i % 5 WHEN 0 THEN 'keyCompromise' WHEN 1 THEN 'cessationOfOperation' \
                      WHEN 2 THEN 'unspecified' WHEN 3 THEN 'affiliationChanged' \
                      ELSE 'privilegeWithdrawn' END";
        let statements = [
            "PRAGMA foreign_keys = ON".to_owned(),
            "PRAGMA cache_size = -2000000".to_owned(),
            "BEGIN IMMEDIATE".to_owned(),
            format!(
                "{seq} INSERT INTO robots (robot_id, manufacturer_code, model, created_at) \
                 SELECT {robot}, 'UBX', 'WK5', {t0} FROM seq"
            ),
            format!(
                "{seq} INSERT INTO certificates (serial_hex, robot_id, status, der, csr_sha256, \
                 spki_sha256, csr_der, reissue, not_before, not_after, created_at, issued_at) \
                 SELECT {serial}, {robot}, 'issued', X'3000', X'00', X'00', X'3000', 0, {t0}, \
                 {t0} + 3650 * 86400, {t0}, {t0} FROM seq"
            ),
            format!(
                "{seq} INSERT INTO revocations (serial_hex, robot_id, state, reason, revoked_at, \
                 updated_at) SELECT {serial}, {robot}, 'revoked', {reason}, {revoked_at}, \
                 {revoked_at} FROM seq"
            ),
            format!(
                "{seq} INSERT INTO audit_log (at, actor, action, subject, detail) \
                 SELECT {revoked_at}, 'operator', 'certificate.revoke', {robot}, \
                 json_object('serial', {serial}, 'reason', {reason}, 'state', 'revoked', \
                 'revoked_at', {revoked_at}) FROM seq"
            ),
            "COMMIT".to_owned(),
            "PRAGMA wal_checkpoint(TRUNCATE)".to_owned(),
        ];
        for sql in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .map_err(|e| format!("{e}: {sql}"))?;
        }
        conn.close().await.map_err(s)
    })
}

/// Durable SQLite commits (WAL, synchronous=FULL), one INSERT each, on
/// the same disk as the registry: the baseline of one revoke's commit.
struct RawCommit {
    rt: tokio::runtime::Runtime,
    conn: sqlx::SqliteConnection,
    n: i64,
}

impl RawCommit {
    fn open(path: &Path) -> R<RawCommit> {
        use sqlx::Connection;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(s)?;
        let conn = rt.block_on(async {
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("sqlite:{}?mode=rwc", path.display()))
                    .await
                    .map_err(s)?;
            for sql in [
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = FULL",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, serial TEXT NOT NULL, at INTEGER NOT NULL)",
            ] {
                sqlx::raw_sql(sql).execute(&mut conn).await.map_err(s)?;
            }
            Ok::<_, String>(conn)
        })?;
        Ok(RawCommit { rt, conn, n: 0 })
    }

    fn commit(&mut self) -> R<()> {
        self.n += 1;
        let (conn, n) = (&mut self.conn, self.n);
        self.rt.block_on(async {
            sqlx::query("INSERT INTO t (serial, at) VALUES ($1, $2)")
                .bind(format!("{n:032x}"))
                .bind(n)
                .execute(conn)
                .await
                .map(|_| ())
                .map_err(s)
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn latency_line(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "{name:<52} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        quantile(&v, 0.5),
        quantile(&v, 0.9),
        quantile(&v, 0.99),
        v.last().copied().unwrap_or(f64::NAN)
    );
}

/// "CRL published" lines of the log: (entries, milliseconds).
fn crl_lines(log: &Log) -> Vec<(usize, f64)> {
    let lines = log.lock().map(|l| l.clone()).unwrap_or_default();
    lines
        .iter()
        .map(|l| strip_ansi(l))
        .filter(|l| l.contains("CRL published"))
        .filter_map(|l| {
            let field = |k: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(k))
                    .map(|v| v.trim_matches(|c: char| !c.is_ascii_digit() && c != '.'))
            };
            Some((
                field("entries=")?.parse().ok()?,
                field("elapsed_ms=")?.parse().ok()?,
            ))
        })
        .collect()
}

#[allow(clippy::too_many_lines)]
fn main() -> R<()> {
    let revoked = arg(1, 1_000_000);
    let revokes = arg(2, 2_000);
    let secs = arg(3, 8);
    // Plain-HTTP clients too need a TLS provider to be built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    ensure_tools()?;
    let uptime = run(&mut Command::new("uptime")).unwrap_or_default();
    println!(
        "machine: {} cores; {}",
        std::thread::available_parallelism().map_or(1, usize::from),
        uptime.trim()
    );
    let dir = tempfile::tempdir().map_err(s)?;
    let data = dir.path().join("data");
    let filter = "warn,robotid_ca::revocation=info";
    let (server, _) = start_logged(&data, filter)?;
    let ubx = register_ubx(&server, &dir.path().join("ubx"))?;

    // Certificates: one for OCSP, one per timed revoke.
    let n = revokes + 1;
    let batch: BatchResponse = ubx
        .post(format!("{}/api/v1/enroll/batch", server.api))
        .json(&BatchRequest {
            csrs: csrs(0, n)?,
            reissue: false,
        })
        .send()
        .and_then(|r| r.json())
        .map_err(s)?;
    let refusals: Vec<String> = batch
        .results
        .iter()
        .filter_map(|r| r.problem.as_ref().map(|p| p.detail.clone()))
        .collect();
    let issued: Vec<(String, String)> = batch
        .results
        .into_iter()
        .filter_map(|r| r.certificate.map(|c| (c.serial, c.certificate_pem)))
        .collect();
    if issued.len() != n {
        return Err(format!("issued {} of {n}: {refusals:?}", issued.len()));
    }
    // The responder signs new certificates' responses within a poll.
    std::thread::sleep(Duration::from_secs(3));

    ocsp_part(&server, dir.path(), &issued[0].1, secs)?;
    if std::env::var("BENCH_OCSP_ONLY").is_ok() {
        return Ok(());
    }

    // Revocation: a million revoked certificates, then the server again.
    drop(server);
    println!("\nseeding {revoked} revoked certificates into the registry");
    let (seeded, seed_secs) = timed(|| seed(&data.join("registry.sqlite"), revoked));
    seeded?;
    let (started, start_secs) = timed(|| start_logged(&data, filter));
    let (server, log) = started?;
    println!(
        "seeded in {seed_secs:.1} s; restart (index load, {} OCSP responses signed ahead, \
         first CRL) {start_secs:.1} s",
        revoked + n
    );

    let operator = https(&data.join("operator"))?;
    let health = |c: &reqwest::blocking::Client| -> R<()> {
        let r = c.get(format!("{}/healthz", server.api)).send().map_err(s)?;
        if r.status() != 200 {
            return Err(format!("healthz: {}", r.status()));
        }
        Ok(())
    };
    for _ in 0..20 {
        health(&operator)?;
    }
    let mut raw = RawCommit::open(&dir.path().join("baseline.sqlite"))?;
    let (mut t_health, mut t_revoke, mut t_raw) = (Vec::new(), Vec::new(), Vec::new());
    let begun = Instant::now();
    for (serial, _) in issued.iter().skip(1) {
        let t = Instant::now();
        health(&operator)?;
        t_health.push(ms(t.elapsed()));

        let t = Instant::now();
        let r = operator
            .post(format!(
                "{}/api/v1/certificates/{serial}/revoke",
                server.api
            ))
            .json(&RevokeRequest {
                reason: "keyCompromise".into(),
            })
            .send()
            .map_err(s)?;
        let status = r.status();
        let body: RevocationResponse = r.json().map_err(s)?;
        t_revoke.push(ms(t.elapsed()));
        if status != 200 || !body.changed || body.status != "revoked" {
            return Err(format!("revoking {serial}: {status} {body:?}"));
        }

        let t = Instant::now();
        raw.commit()?;
        t_raw.push(ms(t.elapsed()));
    }
    let run_secs = begun.elapsed().as_secs_f64();
    println!(
        "\nRevoke over mutual TLS (keep-alive), {} sequential calls with {revoked} already \
         revoked ({run_secs:.1} s in all)",
        t_revoke.len()
    );
    println!(
        "{:<52} {:>8} {:>8} {:>8} {:>8}",
        "ms", "p50", "p90", "p99", "max"
    );
    latency_line("POST /api/v1/certificates/{serial}/revoke", t_revoke);
    latency_line("baseline: GET /healthz (same connection)", t_health);
    latency_line("baseline: one durable SQLite INSERT + commit", t_raw);

    // CRL: wait for the one listing every revocation.
    let want = revoked + revokes;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !crl_lines(&log).iter().any(|(e, _)| *e == want) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let crls = crl_lines(&log);
    println!("\nCRL built and signed by the server (its log): entries, seconds");
    for (entries, ms) in &crls {
        println!("  {entries:>9} entries  {:>6.2} s", ms / 1000.0);
    }
    if !crls.iter().any(|(e, _)| *e == want) {
        return Err(format!("no CRL with {want} entries was published"));
    }

    let ca = ceremony::load(&data.join("ca")).map_err(s)?;
    let issuing_pem = data.join("ca").join("issuing-ca.pem");
    let public_url = ca.config.public_url.clone();
    let signer = ca.into_signer(SignerConfig::new(public_url)).map_err(s)?;
    let crl = reqwest::blocking::get(format!("{}/crl/{}.crl", server.public, signer.issuer_id()))
        .and_then(|r| r.bytes())
        .map_err(s)?;
    let crl_path = dir.path().join("full.crl");
    std::fs::write(&crl_path, &crl).map_err(s)?;
    let (verified, openssl_secs) = timed(|| {
        run(Command::new("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-in"])
            .arg(&crl_path)
            .arg("-CAfile")
            .arg(&issuing_pem))
    });
    let verified = verified?;
    if !verified.contains("verify OK") {
        return Err(format!("openssl crl: {verified}"));
    }
    drop(server);

    let now = time::OffsetDateTime::now_utc();
    let entries: Vec<CrlEntry> = (0..want)
        .map(|i| {
            let mut serial = ring_digest(i);
            serial[0] = 0x10 | (serial[0] & 0x6f);
            CrlEntry {
                serial: serial.to_vec(),
                revoked_at: now - time::Duration::seconds(i64::try_from(i % 86_400).unwrap_or(0)),
                reason: Some([0, 1, 3, 5, 9][i % 5]),
            }
        })
        .collect();
    let (signed, sign_secs) = timed(|| {
        signer.sign_crl(CrlRequest {
            number: 1_000_000,
            this_update: now,
            next_update: now + time::Duration::days(7),
            entries,
        })
    });
    let signed = signed.map_err(s)?;
    // The raw signing rate beside it: the key file read directly, as only
    // a benchmark does.
    let key = robotid_issuer::keys::read_key(&data.join("ca").join(ceremony::files::ISSUING_KEY))
        .map_err(s)?;
    let (_, raw_sign_secs) = timed(|| rcgen::SigningKey::sign(&key, &signed));
    println!(
        "\nFull CRL, {want} entries ({:.1} MB served, {:.1} MB in process)",
        count(crl.len()) / 1e6,
        count(signed.len()) / 1e6
    );
    println!("{:<62} {:>8}", "what", "seconds");
    if let Some((_, ms)) = crls.iter().rev().find(|(e, _)| *e == want) {
        println!(
            "{:<62} {:>8.2}",
            "robotid-ca: index listing + build + sign (log)",
            ms / 1000.0
        );
    }
    println!(
        "{:<62} {:>8.2}",
        "Signer::sign_crl in process (build + sign)", sign_secs
    );
    println!(
        "{:<62} {:>8.2}",
        "baseline: openssl crl -noout -CAfile (parse + verify it)", openssl_secs
    );
    println!(
        "{:<62} {:>8.2}",
        "baseline: ECDSA P-256 signature over the CRL's bytes", raw_sign_secs
    );
    let _ = std::io::stdout().flush();
    Ok(())
}

/// `line` without terminal colour sequences (ESC [ ... m).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn ring_digest(i: usize) -> [u8; 16] {
    let d = ring::digest::digest(&ring::digest::SHA256, &i.to_le_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&d.as_ref()[..16]);
    out
}
