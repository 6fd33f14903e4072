//! Load and abuse: per-manufacturer enrollment rate limits, and ten
//! thousand connections held open against the public port, which must
//! neither exhaust the server's memory nor stop it answering others.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Setup, https};
use robotid_tests::{repo_root, tool_available};

#[test]
fn enrollment_is_rate_limited_per_manufacturer() {
    let s = Setup::with_flags(None, &["--enroll-rate", "1", "--enroll-burst", "2"]);
    let url = format!("{}/api/v1/enroll", s.server.api);
    let ubx_csr = s.csr("UBX", "WK5", "00000001", "ubx.key");
    let acme_csr = s.csr("ACME", "X1", "00000001", "acme.key");
    let submit = |who: &str| {
        let csr = if who == "ubx" { &ubx_csr } else { &acme_csr };
        https(&s.server, Some(&s.path().join(who)))
            .post(&url)
            .header("content-type", "application/pkcs10")
            .body(std::fs::read(csr).unwrap())
            .send()
            .unwrap()
    };
    // The burst: two requests (the same CSR twice is answered alike).
    assert_eq!(submit("ubx").status().as_u16(), 201);
    assert_eq!(submit("ubx").status().as_u16(), 200);
    let limited = submit("ubx");
    assert_eq!(limited.status().as_u16(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let problem: serde_json::Value = limited.json().unwrap();
    assert_eq!(problem["rule"], "rate.enrollment");
    // Another manufacturer has its own allowance.
    assert_eq!(submit("acme").status().as_u16(), 201);
    // After the wait, UBX goes on.
    std::thread::sleep(std::time::Duration::from_secs(retry));
    assert_eq!(submit("ubx").status().as_u16(), 200);
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn ten_thousand_connections_to_the_public_port() {
    if !tool_available("python3", &["--version"]) {
        return;
    }
    let s = Setup::new(None);
    let public = s.server.public.trim_start_matches("http://").to_owned();
    let (host, port) = public.rsplit_once(':').unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let healthz = format!("{}/healthz", s.server.public);
    assert_eq!(client.get(&healthz).send().unwrap().status().as_u16(), 200);
    let before = rss_kib(s.server.pid());

    let script = repo_root().join("tests/load/connections.py");
    let mut holder = Command::new("python3")
        .arg(&script)
        .args([host, port, "10000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("ready 10000"),
        "could not hold 10,000 connections: {line:?} {}",
        {
            let mut err = String::new();
            if let Some(mut e) = holder.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            err
        }
    );
    // With 10,000 connections held, others are still answered.
    for _ in 0..50 {
        let response = client.get(&healthz).send().unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let during = rss_kib(s.server.pid());
    eprintln!("server RSS: {before} KiB before, {during} KiB with 10,000 connections");
    assert!(
        during.saturating_sub(before) < 512 * 1024,
        "10,000 idle connections cost {} KiB",
        during - before
    );
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    assert_eq!(client.get(&healthz).send().unwrap().status().as_u16(), 200);
}
