//! Crash test: `robotid-ca` is killed (SIGKILL) at random moments while a
//! client submits batches and another revokes what it received, twenty
//! rounds on SQLite and twenty on PostgreSQL. After each restart: every
//! certificate a client received is in the registry with the same DER,
//! every acknowledged revocation is still there, and no robot holds two
//! live certificates.

// Test code: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Setup, https};
use robotid_tests::{Server, postgres_database, repo_root, run_in};
use robotid_verifier::manifest::Manifest;
use robotid_verifier::robot_id::RobotId;
use rustls_pki_types::pem::PemObject;

const ROUNDS: usize = 20;
const BATCH: usize = 50;

/// A pseudo-random number below `n` (the clock's nanoseconds): the moment
/// of each kill only needs to vary.
fn random_below(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) % n
}

/// Runs `query` on the registry, one row per line, columns joined by `|`.
fn sql(s: &Setup, database_url: Option<&str>, sqlite: &str, postgres: &str) -> String {
    match database_url {
        Some(url) => {
            run_in(s.path(), "psql", &[url, "-At", "-c", postgres])
                .expect_code(0)
                .stdout
        }
        None => common::sqlite_rows(s.path(), &s.server.data_dir, sqlite),
    }
}

struct Seen {
    /// Serial -> DER of every certificate a client received.
    received: Mutex<HashMap<String, String>>,
    /// Serials whose revocation was acknowledged.
    revoked: Mutex<Vec<String>>,
}

fn crash_rounds(database_url: Option<&str>) {
    let mut s = Setup::new(database_url);
    let manifest = Manifest::load(&repo_root().join("examples/wk5/manifest.toml")).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let seen = Arc::new(Seen {
        received: Mutex::new(HashMap::new()),
        revoked: Mutex::new(Vec::new()),
    });
    let mut next_robot = 0usize;
    for round in 0..ROUNDS {
        let csrs: Vec<Vec<String>> = (0..40)
            .map(|_| {
                (0..BATCH)
                    .map(|_| {
                        next_robot += 1;
                        let mut identity = manifest.to_identity();
                        identity.robot_id = RobotId::new("UBX", "WK5", &format!("{next_robot:08}"))
                            .unwrap()
                            .to_string();
                        let der = robotid_issuer::csr::create(&identity, &key).unwrap();
                        robotid_issuer::pem::encode("CERTIFICATE REQUEST", &der)
                    })
                    .collect()
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let ubx = https(&s.server, Some(&s.path().join("ubx")));
        let api = s.server.api.clone();
        let submitter = {
            let (seen, stop, ubx, api) = (
                Arc::clone(&seen),
                Arc::clone(&stop),
                ubx.clone(),
                api.clone(),
            );
            std::thread::spawn(move || {
                for batch in csrs {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(response) = ubx
                        .post(format!("{api}/api/v1/enroll/batch"))
                        .json(&serde_json::json!({ "csrs": batch }))
                        .send()
                    else {
                        return;
                    };
                    let Ok(json) = response.json::<serde_json::Value>() else {
                        return;
                    };
                    for item in json["results"].as_array().into_iter().flatten() {
                        if let (Some(serial), Some(pem)) =
                            (item["serial"].as_str(), item["certificate_pem"].as_str())
                        {
                            let der =
                                rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
                                    .unwrap()
                                    .to_vec();
                            seen.received
                                .lock()
                                .unwrap()
                                .insert(serial.to_owned(), hex::encode(der));
                        }
                    }
                }
            })
        };
        let revoker = {
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let next = {
                        let received = seen.received.lock().unwrap();
                        let revoked = seen.revoked.lock().unwrap();
                        received.keys().find(|k| !revoked.contains(k)).cloned()
                    };
                    let Some(serial) = next else {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    let Ok(response) = ubx
                        .post(format!("{api}/api/v1/certificates/{serial}/revoke"))
                        .json(&serde_json::json!({ "reason": "keyCompromise" }))
                        .send()
                    else {
                        return;
                    };
                    if response.status().as_u16() == 200 {
                        seen.revoked.lock().unwrap().push(serial);
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(200 + random_below(1_500)));
        s.server.kill();
        stop.store(true, Ordering::Relaxed);
        submitter.join().unwrap();
        revoker.join().unwrap();
        let data_dir = s.server.data_dir.clone();
        s.server = Server::start(&data_dir, database_url);

        // Every certificate received is recorded, with the same DER.
        let recorded: HashMap<String, String> = sql(
            &s,
            database_url,
            "SELECT serial_hex, lower(hex(der)) FROM certificates WHERE der IS NOT NULL",
            "SELECT serial_hex, encode(der, 'hex') FROM certificates WHERE der IS NOT NULL",
        )
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let received = seen.received.lock().unwrap().clone();
        for (serial, der) in &received {
            assert_eq!(
                recorded.get(serial),
                Some(der),
                "round {round}: certificate {serial} was received but is not recorded as sent"
            );
        }
        // Every acknowledged revocation survived.
        let revoked: Vec<String> = sql(
            &s,
            database_url,
            "SELECT serial_hex FROM revocations WHERE state = 'revoked'",
            "SELECT serial_hex FROM revocations WHERE state = 'revoked'",
        )
        .lines()
        .map(str::to_owned)
        .collect();
        for serial in seen.revoked.lock().unwrap().iter() {
            assert!(
                revoked.contains(serial),
                "round {round}: acknowledged revocation of {serial} was lost"
            );
        }
        // No robot holds two live certificates.
        let doubled = sql(
            &s,
            database_url,
            "SELECT robot_id FROM certificates WHERE status IN ('pending', 'issued') \
             GROUP BY robot_id HAVING COUNT(*) > 1",
            "SELECT robot_id FROM certificates WHERE status IN ('pending', 'issued') \
             GROUP BY robot_id HAVING COUNT(*) > 1",
        );
        assert!(doubled.trim().is_empty(), "round {round}: {doubled}");
        // The restarted server answers for what was revoked before the crash.
        if let Some(serial) = seen.revoked.lock().unwrap().last() {
            let status: serde_json::Value =
                reqwest::blocking::get(format!("{}/status/{serial}", s.server.public))
                    .unwrap()
                    .json()
                    .unwrap();
            assert_eq!(status["status"], "revoked", "round {round}: {status}");
        }
    }
    let (received, revoked) = (
        seen.received.lock().unwrap().len(),
        seen.revoked.lock().unwrap().len(),
    );
    eprintln!(
        "{ROUNDS} kills: {received} certificates received, {revoked} revocations acknowledged, all in the registry"
    );
    assert!(received > 0 && revoked > 0, "the rounds did no work");
}

#[test]
fn kill_9_during_issuance_and_revocation_on_sqlite() {
    crash_rounds(None);
}

#[test]
fn kill_9_during_issuance_and_revocation_on_postgres() {
    if let Some(url) = postgres_database() {
        crash_rounds(Some(&url));
    }
}
