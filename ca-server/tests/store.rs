//! The registry store on both databases: every scenario below runs once on
//! SQLite (a file in a temporary folder) and once on PostgreSQL (a fresh
//! database per test, dropped afterwards, so tests run in parallel and
//! again). PostgreSQL comes from `ROBOTID_TEST_POSTGRES_URL` (default
//! postgres://postgres@127.0.0.1:5432/test); when it is unreachable the
//! PostgreSQL half prints SKIPPED, or fails if `ROBOTID_REQUIRE_TOOLS=1`.
//! Timings are printed (run with `--nocapture` to see them), never asserted.

// Reason: a test should stop at the first unexpected error, loudly.
#![allow(clippy::unwrap_used)]

use robotid_verifier::rule::Rule;
use std::sync::Arc;
use std::time::Instant;

use robotid_ca::store::roles::{Admin, Issuance, Lifecycle, Reads, Revocations};
use robotid_ca::store::{
    Backend, BeginOutcome, CertStatus, Change, Credential, IssuanceIntent, NewEvent, Reason,
    RevocationState, Role, Standing, Store, StoreError,
};
use robotid_verifier::history::{EventKind, LifeState};
use sqlx::Connection;

#[macro_use]
mod harness;
use harness::TestDb;
use harness::kit::*;

on_both!(
    migrations_are_idempotent,
    manufacturers_and_models,
    credentials_and_revocation,
    issuance_happy_path,
    identical_csr_is_in_progress_then_existing,
    different_key_is_refused,
    reissue_supersedes,
    abandon_then_retry,
    stale_pending_is_abandoned,
    batch_with_mixed_outcomes,
    concurrent_requests_for_one_robot,
    robot_id_under_another_manufacturer_is_refused,
    audit_log_records_every_change,
    database_enforces_one_live_certificate_and_append_only_audit,
    serial_collision_is_a_conflict,
    batch_of_ten_thousand,
    revoke_hold_release,
    revocations_are_permanent_in_the_database,
    crl_numbers_only_grow,
    standings_for_status,
    reader_reads_what_the_store_reads,
    change_log_is_dense_and_complete,
    change_log_numbers_concurrent_writers_without_gaps,
);

// ---- fixtures ---------------------------------------------------------------

async fn begin_one(store: &Store, intent: &IssuanceIntent) -> BeginOutcome {
    let mut outcomes = store
        .begin_issuance(std::slice::from_ref(intent), UBX)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0)
}

fn assert_refused(outcome: &BeginOutcome, expected: Rule) {
    match outcome {
        BeginOutcome::Refused { rule, detail } => {
            assert_eq!(*rule, expected, "{detail}");
            assert!(!detail.is_empty());
        }
        other => panic!("expected a refusal by {expected}, got {other:?}"),
    }
}

// ---- scenarios --------------------------------------------------------------

async fn migrations_are_idempotent(db: &TestDb) {
    db.store.health().await.unwrap();
    if db.store.backend() == Backend::Sqlite {
        // WAL is a property of the file: the store set it on its connections.
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        conn.close().await.unwrap();
    }
    db.store
        .add_manufacturer(&manufacturer("UBX"), OPERATOR)
        .await
        .unwrap();
    // Connecting again runs the migrator again: nothing to do, nothing lost.
    for _ in 0..2 {
        let again = Store::connect(&db.url).await.unwrap();
        again.health().await.unwrap();
        assert_eq!(
            again.manufacturer("UBX").await.unwrap(),
            Some(manufacturer("UBX"))
        );
        again.close().await;
    }
}

async fn manufacturers_and_models(db: &TestDb) {
    let store = &db.store;
    store
        .add_manufacturer(&manufacturer("UBX"), OPERATOR)
        .await
        .unwrap();
    assert_eq!(
        store.manufacturer("UBX").await.unwrap(),
        Some(manufacturer("UBX"))
    );
    assert_eq!(store.manufacturer("NOPE").await.unwrap(), None);
    let again = store.add_manufacturer(&manufacturer("UBX"), OPERATOR).await;
    assert!(
        matches!(
            again,
            Err(StoreError::Conflict {
                what: "manufacturer",
                ..
            })
        ),
        "{again:?}"
    );

    store
        .set_manufacturer_active("UBX", false, OPERATOR)
        .await
        .unwrap();
    assert!(!store.manufacturer("UBX").await.unwrap().unwrap().active);
    store
        .set_manufacturer_active("UBX", true, OPERATOR)
        .await
        .unwrap();
    assert!(store.manufacturer("UBX").await.unwrap().unwrap().active);
    let unknown = store.set_manufacturer_active("NOPE", true, OPERATOR).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "{unknown:?}"
    );

    store
        .add_model(&model("UBX", "WK5"), OPERATOR)
        .await
        .unwrap();
    assert_eq!(
        store.model("UBX", "WK5").await.unwrap(),
        Some(model("UBX", "WK5"))
    );
    assert_eq!(store.model("UBX", "WK6").await.unwrap(), None);
    let again = store.add_model(&model("UBX", "WK5"), OPERATOR).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { what: "model", .. })),
        "{again:?}"
    );
    let orphan = store.add_model(&model("NOPE", "WK5"), OPERATOR).await;
    assert!(
        matches!(
            orphan,
            Err(StoreError::NotFound {
                what: "manufacturer",
                ..
            })
        ),
        "{orphan:?}"
    );
}

async fn credentials_and_revocation(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let operator = Credential {
        serial_hex: "0A0B".into(),
        role: Role::Operator,
        manufacturer_code: None,
        subject: "CN=operator".into(),
        not_after: 1_900_000_000,
        revoked: false,
    };
    store.add_credential(&operator, "bootstrap").await.unwrap();
    // Serials are kept in lower case and found in any case.
    let stored = store.credential("0a0b").await.unwrap().unwrap();
    assert_eq!(stored.serial_hex, "0a0b");
    assert_eq!(stored.role, Role::Operator);
    assert_eq!(store.credential("0A0B").await.unwrap(), Some(stored));

    let ubx = Credential {
        serial_hex: "beef".into(),
        role: Role::Manufacturer,
        manufacturer_code: Some("UBX".into()),
        subject: "CN=UBX enrollment".into(),
        not_after: 1_900_000_000,
        revoked: false,
    };
    store.add_credential(&ubx, OPERATOR).await.unwrap();
    assert_eq!(store.credential("beef").await.unwrap(), Some(ubx.clone()));
    let again = store.add_credential(&ubx, OPERATOR).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );

    let foreign = Credential {
        serial_hex: "cafe".into(),
        manufacturer_code: Some("NOPE".into()),
        ..ubx.clone()
    };
    let foreign = store.add_credential(&foreign, OPERATOR).await;
    assert!(
        matches!(foreign, Err(StoreError::NotFound { .. })),
        "{foreign:?}"
    );
    let confused = Credential {
        serial_hex: "cafe".into(),
        role: Role::Operator,
        ..ubx.clone()
    };
    let confused = store.add_credential(&confused, OPERATOR).await;
    assert!(
        matches!(confused, Err(StoreError::Invalid { .. })),
        "{confused:?}"
    );

    store.revoke_credential("BEEF", OPERATOR).await.unwrap();
    assert!(store.credential("beef").await.unwrap().unwrap().revoked);
    store.revoke_credential("beef", OPERATOR).await.unwrap();
    let unknown = store.revoke_credential("dead", OPERATOR).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "{unknown:?}"
    );
    assert_eq!(store.credential("dead").await.unwrap(), None);
}

async fn issuance_happy_path(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000001-A";
    let request = intent(robot, "k1", "c1");
    let serial = request.serial_hex.clone();
    assert_eq!(begin_one(store, &request).await, BeginOutcome::Proceed);

    let pending = store.certificate(&serial).await.unwrap().unwrap();
    assert_eq!(pending.status, CertStatus::Pending);
    assert_eq!(pending.der, None);
    assert_eq!(pending.issued_at, None);
    assert_eq!(pending.robot_id, robot);
    assert_eq!(pending.csr_sha256, request.csr_sha256);
    assert_eq!(
        (pending.not_before, pending.not_after),
        (request.not_before, request.not_after)
    );
    assert_eq!(store.live_certificate(robot).await.unwrap(), Some(pending));
    let robot_record = store.robot(robot).await.unwrap().unwrap();
    assert_eq!(
        (
            robot_record.manufacturer_code.as_str(),
            robot_record.model.as_str()
        ),
        ("UBX", "WK5")
    );
    assert!(robot_record.created_at > 1_700_000_000);
    assert_eq!(store.robot("UBX-WK5-99999999-Z").await.unwrap(), None);
    assert_eq!(store.components(&serial).await.unwrap(), components(robot));

    let der = der_for(&serial);
    store
        .complete_issuance(&[(serial.clone(), der.clone())], UBX)
        .await
        .unwrap();
    let issued = store.certificate(&serial).await.unwrap().unwrap();
    assert_eq!(issued.status, CertStatus::Issued);
    assert_eq!(issued.der.as_deref(), Some(der.as_slice()));
    assert!(issued.issued_at.is_some());
    assert_eq!(store.live_certificate(robot).await.unwrap(), Some(issued));
    assert_eq!(store.count_certificates().await.unwrap(), 1);

    // Completing again with the same certificate is a harmless retry; with
    // another, or for a serial never begun, it is refused.
    store
        .complete_issuance(&[(serial.clone(), der.clone())], UBX)
        .await
        .unwrap();
    let other = store
        .complete_issuance(&[(serial.clone(), b"other".to_vec())], UBX)
        .await;
    assert!(
        matches!(other, Err(StoreError::Conflict { .. })),
        "{other:?}"
    );
    let unknown = store
        .complete_issuance(&[("abcdef".into(), b"x".to_vec())], UBX)
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "{unknown:?}"
    );
}

async fn identical_csr_is_in_progress_then_existing(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000002-B";
    let first = intent(robot, "k1", "c1");
    assert_eq!(begin_one(store, &first).await, BeginOutcome::Proceed);

    // The same CSR again, with the serial a new signing attempt would use.
    let mut again = first.clone();
    again.serial_hex = serial();
    assert_eq!(
        begin_one(store, &again).await,
        BeginOutcome::InProgress {
            serial_hex: first.serial_hex.clone()
        }
    );

    store
        .complete_issuance(
            &[(first.serial_hex.clone(), der_for(&first.serial_hex))],
            UBX,
        )
        .await
        .unwrap();
    again.serial_hex = serial();
    match begin_one(store, &again).await {
        BeginOutcome::Existing(record) => {
            assert_eq!(record.serial_hex, first.serial_hex);
            assert_eq!(record.status, CertStatus::Issued);
            assert_eq!(record.der, Some(der_for(&first.serial_hex)));
        }
        other => panic!("expected Existing, got {other:?}"),
    }
    // Even when declared a re-issue, the identical CSR gets the same certificate.
    again.reissue = true;
    again.serial_hex = serial();
    assert!(matches!(
        begin_one(store, &again).await,
        BeginOutcome::Existing(_)
    ));
    assert_eq!(store.count_certificates().await.unwrap(), 1);
    assert_eq!(store.certificate(&again.serial_hex).await.unwrap(), None);
}

async fn different_key_is_refused(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000003-C";
    let first = intent(robot, "k1", "c1");
    assert_eq!(begin_one(store, &first).await, BeginOutcome::Proceed);
    // While the first is pending...
    assert_refused(
        &begin_one(store, &intent(robot, "k2", "c1")).await,
        Rule::RobotLiveCertificate,
    );
    store
        .complete_issuance(
            &[(first.serial_hex.clone(), der_for(&first.serial_hex))],
            UBX,
        )
        .await
        .unwrap();
    // ... and once it is issued: another key, or the same key in another
    // request, needs a declared re-issue.
    let other_key = intent(robot, "k2", "c1");
    assert_refused(
        &begin_one(store, &other_key).await,
        Rule::RobotLiveCertificate,
    );
    assert_refused(
        &begin_one(store, &intent(robot, "k1", "c2")).await,
        Rule::RobotLiveCertificate,
    );
    assert_eq!(
        store.certificate(&other_key.serial_hex).await.unwrap(),
        None
    );
    let live = store.live_certificate(robot).await.unwrap().unwrap();
    assert_eq!(live.serial_hex, first.serial_hex);
    assert_eq!(store.count_certificates().await.unwrap(), 1);
}

async fn reissue_supersedes(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000004-D";
    let old = issue(store, intent(robot, "k1", "c1")).await;

    let mut new = intent(robot, "k2", "c1");
    new.reissue = true;
    assert_eq!(begin_one(store, &new).await, BeginOutcome::Proceed);
    let superseded = store.certificate(&old).await.unwrap().unwrap();
    assert_eq!(superseded.status, CertStatus::Superseded);
    // The superseded row keeps its certificate.
    assert_eq!(superseded.der, Some(der_for(&old)));
    let live = store.live_certificate(robot).await.unwrap().unwrap();
    assert_eq!(
        (live.serial_hex.as_str(), live.status),
        (new.serial_hex.as_str(), CertStatus::Pending)
    );

    // A re-issue while another request is being signed waits its turn.
    let mut third = intent(robot, "k3", "c1");
    third.reissue = true;
    assert_refused(
        &begin_one(store, &third).await,
        Rule::RobotIssuanceInProgress,
    );

    store
        .complete_issuance(&[(new.serial_hex.clone(), der_for(&new.serial_hex))], UBX)
        .await
        .unwrap();
    let audit = store.audit(Some(robot), 100).await.unwrap();
    let supersede = audit
        .iter()
        .find(|e| e.action == "certificate.supersede")
        .unwrap();
    assert!(supersede.detail.contains(&old) && supersede.detail.contains(&new.serial_hex));

    // A re-issue of a robot that has no certificate is a first issuance.
    let mut fresh = intent("UBX-WK5-00000005-E", "k1", "c1");
    fresh.reissue = true;
    assert_eq!(begin_one(store, &fresh).await, BeginOutcome::Proceed);
    assert_eq!(store.count_certificates().await.unwrap(), 3);
}

async fn abandon_then_retry(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000006-F";
    let first = intent(robot, "k1", "c1");
    assert_eq!(begin_one(store, &first).await, BeginOutcome::Proceed);
    store
        .abandon_issuance(
            std::slice::from_ref(&first.serial_hex),
            "signer failed",
            UBX,
        )
        .await
        .unwrap();
    let failed = store.certificate(&first.serial_hex).await.unwrap().unwrap();
    assert_eq!(failed.status, CertStatus::Failed);
    assert_eq!(store.live_certificate(robot).await.unwrap(), None);

    // The same CSR again proceeds, under a new serial.
    let mut retry = first.clone();
    retry.serial_hex = serial();
    assert_eq!(begin_one(store, &retry).await, BeginOutcome::Proceed);
    store
        .complete_issuance(
            &[(retry.serial_hex.clone(), der_for(&retry.serial_hex))],
            UBX,
        )
        .await
        .unwrap();
    // Abandoning an issued certificate does not undo it; completing a failed
    // one is refused.
    store
        .abandon_issuance(&[retry.serial_hex.clone()], "late", UBX)
        .await
        .unwrap();
    assert_eq!(
        store
            .certificate(&retry.serial_hex)
            .await
            .unwrap()
            .unwrap()
            .status,
        CertStatus::Issued
    );
    let late = store
        .complete_issuance(
            &[(first.serial_hex.clone(), der_for(&first.serial_hex))],
            UBX,
        )
        .await;
    assert!(matches!(late, Err(StoreError::Conflict { .. })), "{late:?}");
    assert_eq!(
        store
            .certificate(&first.serial_hex)
            .await
            .unwrap()
            .unwrap()
            .status,
        CertStatus::Failed
    );
}

async fn stale_pending_is_abandoned(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000007-G";
    let issued = issue(store, intent("UBX-WK5-00000008-H", "k1", "c1")).await;
    let stuck = intent(robot, "k1", "c1");
    assert_eq!(begin_one(store, &stuck).await, BeginOutcome::Proceed);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // Nothing is older than an hour ago; everything is older than a second
    // from now, as after a restart.
    assert_eq!(
        store
            .abandon_stale_issuance(now - 3600, OPERATOR)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .abandon_stale_issuance(now + 1, OPERATOR)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .certificate(&stuck.serial_hex)
            .await
            .unwrap()
            .unwrap()
            .status,
        CertStatus::Failed
    );
    assert_eq!(
        store.certificate(&issued).await.unwrap().unwrap().status,
        CertStatus::Issued
    );
    let last = store.audit(Some(robot), 1).await.unwrap();
    assert_eq!(
        (last[0].actor.as_str(), last[0].action.as_str()),
        (OPERATOR, "issuance.abandon")
    );
    // The robot can enroll again.
    let mut retry = stuck.clone();
    retry.serial_hex = serial();
    assert_eq!(begin_one(store, &retry).await, BeginOutcome::Proceed);
}

async fn batch_with_mixed_outcomes(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    store
        .add_manufacturer(&manufacturer("OFF"), OPERATOR)
        .await
        .unwrap();
    store
        .add_model(&model("OFF", "Z1"), OPERATOR)
        .await
        .unwrap();
    store
        .set_manufacturer_active("OFF", false, OPERATOR)
        .await
        .unwrap();

    let existing = intent("UBX-WK5-00000010-A", "k1", "c1");
    issue(store, existing.clone()).await;
    let pending = intent("UBX-WK5-00000011-B", "k1", "c1");
    assert_eq!(begin_one(store, &pending).await, BeginOutcome::Proceed);
    issue(store, intent("UBX-WK5-00000012-C", "k1", "c1")).await;
    issue(store, intent("UBX-WK5-00000015-H", "k1", "c1")).await;

    let mut again_existing = existing.clone();
    again_existing.serial_hex = serial();
    let mut again_pending = pending.clone();
    again_pending.serial_hex = serial();
    let batch = vec![
        intent("UBX-WK5-00000013-D", "k1", "c1"),
        again_existing,
        again_pending,
        intent("UBX-WK5-00000012-C", "k2", "c1"),
        intent_for("UBX-WK5-00000015-H", "ACM", "X1", "k9", "c1"),
        intent_for("UBX-WK6-00000001-E", "UBX", "WK6", "k1", "c1"),
        intent_for("OFF-Z1-00000001-F", "OFF", "Z1", "k1", "c1"),
        intent("UBX-WK5-00000013-D", "k1", "c1"),
        intent("UBX-WK5-00000014-G", "k1", "c1"),
    ];
    let outcomes = store.begin_issuance(&batch, UBX).await.unwrap();
    assert_eq!(outcomes.len(), batch.len());
    assert_eq!(outcomes[0], BeginOutcome::Proceed);
    assert!(
        matches!(&outcomes[1], BeginOutcome::Existing(r) if r.serial_hex == existing.serial_hex),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(
        outcomes[2],
        BeginOutcome::InProgress {
            serial_hex: pending.serial_hex.clone()
        }
    );
    assert_refused(&outcomes[3], Rule::RobotLiveCertificate);
    assert_refused(&outcomes[4], Rule::RobotManufacturer);
    assert_refused(&outcomes[5], Rule::ModelApproved);
    assert_refused(&outcomes[6], Rule::ManufacturerActive);
    assert_refused(&outcomes[7], Rule::RobotDuplicateInBatch);
    assert_eq!(outcomes[8], BeginOutcome::Proceed);

    for (intent, outcome) in batch.iter().zip(&outcomes) {
        let recorded = store.certificate(&intent.serial_hex).await.unwrap();
        match outcome {
            BeginOutcome::Proceed => {
                assert_eq!(recorded.unwrap().status, CertStatus::Pending);
                assert_eq!(
                    store.components(&intent.serial_hex).await.unwrap(),
                    intent.components
                );
            }
            _ => assert_eq!(recorded, None, "{outcome:?} must record nothing"),
        }
    }
    assert_eq!(store.robot("UBX-WK6-00000001-E").await.unwrap(), None);
    assert_eq!(store.robot("OFF-Z1-00000001-F").await.unwrap(), None);
    assert_eq!(store.count_certificates().await.unwrap(), 6);
}

/// How fifty requests for one robot fared.
enum Race {
    /// Fifty copies of one CSR.
    SameCsr,
    /// Fifty keys, first issuance.
    DifferentKeys,
    /// Fifty keys, each a declared re-issue of an issued certificate.
    Reissues,
}

async fn concurrent_requests_for_one_robot(db: &TestDb) {
    registered(&db.store).await;
    // Two pools on one database, as two server processes would have.
    let stores = [db.store.clone(), Store::connect(&db.url).await.unwrap()];
    let reissued = "UBX-WK5-00000022-C";
    let old = issue(&db.store, intent(reissued, "k-old", "c1")).await;

    for (robot, race) in [
        ("UBX-WK5-00000020-A", Race::SameCsr),
        ("UBX-WK5-00000021-B", Race::DifferentKeys),
        (reissued, Race::Reissues),
    ] {
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let mut tasks = Vec::new();
        for n in 0..50 {
            let store = stores[n % 2].clone();
            let barrier = barrier.clone();
            let mut request = match race {
                Race::SameCsr => intent(robot, "k1", "c1"),
                _ => intent(robot, &format!("k{n}"), "c1"),
            };
            request.reissue = matches!(race, Race::Reissues);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let outcome = store
                    .begin_issuance(std::slice::from_ref(&request), UBX)
                    .await;
                (request.serial_hex, outcome)
            }));
        }
        let mut winners = Vec::new();
        let mut others = Vec::new();
        for task in tasks {
            let (serial, outcome) = task.await.unwrap();
            match outcome.unwrap().remove(0) {
                BeginOutcome::Proceed => winners.push(serial),
                other => others.push(other),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one Proceed for {robot}");
        let live = db.store.live_certificate(robot).await.unwrap().unwrap();
        assert_eq!(live.serial_hex, winners[0]);
        for other in &others {
            match race {
                Race::SameCsr => assert_eq!(
                    *other,
                    BeginOutcome::InProgress {
                        serial_hex: winners[0].clone()
                    }
                ),
                Race::DifferentKeys => assert_refused(other, Rule::RobotLiveCertificate),
                // Refused either way: by the race, or, read after the
                // winner committed, because it is still being signed.
                Race::Reissues => match other {
                    BeginOutcome::Refused { rule, .. }
                        if *rule == Rule::RobotLiveCertificate
                            || *rule == Rule::RobotIssuanceInProgress => {}
                    other => panic!("a losing re-issue got {other:?}"),
                },
            }
        }
    }
    // The re-issued robot's old certificate was superseded once, by the winner.
    let live = db.store.live_certificate(reissued).await.unwrap().unwrap();
    assert_eq!(
        db.store.certificate(&old).await.unwrap().unwrap().status,
        CertStatus::Superseded
    );
    let supersedes: Vec<_> = db
        .store
        .audit(Some(reissued), 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "certificate.supersede")
        .collect();
    assert_eq!(supersedes.len(), 1);
    assert!(supersedes[0].detail.contains(&live.serial_hex));
    assert_eq!(db.store.count_certificates().await.unwrap(), 4);
    stores[1].close().await;
}

async fn robot_id_under_another_manufacturer_is_refused(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    store
        .add_model(&model("UBX", "WK6"), OPERATOR)
        .await
        .unwrap();
    let robot = "UBX-WK5-00000030-A";
    issue(store, intent(robot, "k1", "c1")).await;

    for (code, m) in [("ACM", "X1"), ("UBX", "WK6")] {
        let mut request = intent_for(robot, code, m, "k2", "c1");
        request.reissue = true;
        assert_refused(&begin_one(store, &request).await, Rule::RobotManufacturer);
    }
    let record = store.robot(robot).await.unwrap().unwrap();
    assert_eq!(
        (record.manufacturer_code.as_str(), record.model.as_str()),
        ("UBX", "WK5")
    );
    // A robot ID whose certificate failed is still taken by its manufacturer.
    let other = "UBX-WK5-00000031-B";
    let first = intent(other, "k1", "c1");
    assert_eq!(begin_one(store, &first).await, BeginOutcome::Proceed);
    store
        .abandon_issuance(&[first.serial_hex], "test", UBX)
        .await
        .unwrap();
    assert_refused(
        &begin_one(store, &intent_for(other, "ACM", "X1", "k1", "c1")).await,
        Rule::RobotManufacturer,
    );
}

async fn audit_log_records_every_change(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    store
        .set_manufacturer_active("ACM", false, OPERATOR)
        .await
        .unwrap();
    store
        .set_manufacturer_active("ACM", true, OPERATOR)
        .await
        .unwrap();
    let credential = Credential {
        serial_hex: "c0ffee".into(),
        role: Role::Manufacturer,
        manufacturer_code: Some("UBX".into()),
        subject: "CN=UBX".into(),
        not_after: 1_900_000_000,
        revoked: false,
    };
    store.add_credential(&credential, OPERATOR).await.unwrap();
    store.revoke_credential("c0ffee", OPERATOR).await.unwrap();
    let robot = "UBX-WK5-00000040-A";
    let old = issue(store, intent(robot, "k1", "c1")).await;
    let mut reissue = intent(robot, "k2", "c1");
    reissue.reissue = true;
    assert_eq!(begin_one(store, &reissue).await, BeginOutcome::Proceed);
    store
        .abandon_issuance(&[reissue.serial_hex.clone()], "signer down", UBX)
        .await
        .unwrap();

    let all = store.audit(None, 1000).await.unwrap();
    let actions: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            (OPERATOR, "manufacturer.add", "UBX"),
            (OPERATOR, "model.add", "UBX/WK5"),
            (OPERATOR, "manufacturer.add", "ACM"),
            (OPERATOR, "model.add", "ACM/X1"),
            (OPERATOR, "manufacturer.deactivate", "ACM"),
            (OPERATOR, "manufacturer.activate", "ACM"),
            (OPERATOR, "credential.add", "c0ffee"),
            (OPERATOR, "credential.revoke", "c0ffee"),
            (UBX, "issuance.begin", robot),
            (UBX, "certificate.issue", robot),
            (UBX, "certificate.supersede", robot),
            (UBX, "issuance.begin", robot),
            (UBX, "issuance.abandon", robot),
        ]
    );
    assert!(
        all.windows(2)
            .all(|w| w[0].id < w[1].id && w[0].at <= w[1].at)
    );
    for entry in &all {
        let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
        assert!(detail.is_object(), "{}", entry.detail);
    }
    assert!(all[8].detail.contains(&old));
    assert!(all[12].detail.contains("signer down"));

    // Per subject, and the newest last when limited.
    let of_robot = store.audit(Some(robot), 2).await.unwrap();
    let tail: Vec<&str> = of_robot.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(tail, vec!["issuance.begin", "issuance.abandon"]);
    assert_eq!(store.audit(Some("nobody"), 10).await.unwrap(), vec![]);
    assert_eq!(store.audit(None, 0).await.unwrap(), vec![]);
}

async fn database_enforces_one_live_certificate_and_append_only_audit(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000050-A";
    issue(store, intent(robot, "k1", "c1")).await;

    // Straight to the database, past the store's checks.
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let second = sqlx::query(
        "INSERT INTO certificates (serial_hex, robot_id, status, csr_sha256, spki_sha256, \
         csr_der, reissue, not_before, not_after, created_at) \
         VALUES ($1, $2, 'pending', $3, $4, $5, 0, 0, 1, 0)",
    )
    .bind(serial())
    .bind(robot)
    .bind(vec![1u8; 32])
    .bind(vec![2u8; 32])
    .bind(vec![3u8; 8])
    .execute(&mut conn)
    .await;
    match second {
        Err(sqlx::Error::Database(e)) => assert!(e.is_unique_violation(), "{e}"),
        other => panic!("a second live certificate was accepted: {other:?}"),
    }
    for statement in [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
    ] {
        let changed = sqlx::query(statement).execute(&mut conn).await;
        assert!(changed.is_err(), "{statement} was accepted");
    }
    conn.close().await.unwrap();
    assert!(
        store
            .audit(None, 100)
            .await
            .unwrap()
            .iter()
            .all(|e| e.actor != "mallory")
    );
}

async fn serial_collision_is_a_conflict(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let first = issue(store, intent("UBX-WK5-00000060-A", "k1", "c1")).await;

    let mut clash = intent("UBX-WK5-00000061-B", "k1", "c1");
    clash.serial_hex = first.to_uppercase();
    let fresh = intent("UBX-WK5-00000062-C", "k1", "c1");
    let result = store.begin_issuance(&[fresh.clone(), clash], UBX).await;
    assert!(
        matches!(
            result,
            Err(StoreError::Conflict {
                what: "certificate serial",
                ..
            })
        ),
        "{result:?}"
    );
    // Nothing of the batch was recorded, and the first certificate is intact.
    assert_eq!(store.certificate(&fresh.serial_hex).await.unwrap(), None);
    assert_eq!(store.robot("UBX-WK5-00000061-B").await.unwrap(), None);
    let kept = store.certificate(&first).await.unwrap().unwrap();
    assert_eq!(
        (kept.robot_id.as_str(), kept.status),
        ("UBX-WK5-00000060-A", CertStatus::Issued)
    );

    let twice = intent("UBX-WK5-00000063-D", "k1", "c1");
    let mut twin = intent("UBX-WK5-00000064-E", "k1", "c1");
    twin.serial_hex = twice.serial_hex.clone();
    let result = store.begin_issuance(&[twice, twin], UBX).await;
    assert!(
        matches!(result, Err(StoreError::Conflict { .. })),
        "{result:?}"
    );
    let bad = IssuanceIntent {
        serial_hex: "not hex".into(),
        ..intent("UBX-WK5-00000065-F", "k1", "c1")
    };
    let result = store.begin_issuance(&[bad], UBX).await;
    assert!(
        matches!(result, Err(StoreError::Invalid { .. })),
        "{result:?}"
    );
    assert_eq!(store.count_certificates().await.unwrap(), 1);
}

async fn batch_of_ten_thousand(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let backend = store.backend().as_str();
    // Sizes as in real use: a CSR with its RobotIdentity is some 700
    // bytes, a certificate some 900.
    let batch: Vec<IssuanceIntent> = (0..10_000)
        .map(|n| {
            let mut request = intent(&format!("UBX-WK5-{n:08}-X"), &format!("k{n}"), "c1");
            request.csr_der.resize(700, 0x5a);
            request
        })
        .collect();

    let started = Instant::now();
    let outcomes = store.begin_issuance(&batch, UBX).await.unwrap();
    let begin = started.elapsed();
    assert!(outcomes.iter().all(|o| *o == BeginOutcome::Proceed));

    let done: Vec<(String, Vec<u8>)> = batch
        .iter()
        .map(|i| {
            let mut der = der_for(&i.serial_hex);
            der.resize(900, 0xa5);
            (i.serial_hex.clone(), der)
        })
        .collect();
    let started = Instant::now();
    store.complete_issuance(&done, UBX).await.unwrap();
    let complete = started.elapsed();

    // The same batch again (new serials, identical CSRs): all Existing.
    let again: Vec<IssuanceIntent> = batch
        .iter()
        .map(|i| IssuanceIntent {
            serial_hex: serial(),
            ..i.clone()
        })
        .collect();
    let started = Instant::now();
    let outcomes = store.begin_issuance(&again, UBX).await.unwrap();
    let existing = started.elapsed();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, BeginOutcome::Existing(r) if r.status == CertStatus::Issued))
    );

    let started = Instant::now();
    let abandon: Vec<String> = again.iter().map(|i| i.serial_hex.clone()).collect();
    store.abandon_issuance(&abandon, "test", UBX).await.unwrap();
    let abandoned = started.elapsed();

    println!(
        "{backend}: 10,000 intents (3 components each): begin_issuance {begin:?}, \
         complete_issuance {complete:?}, identical batch again (all Existing) {existing:?}, \
         abandon of 10,000 unknown serials {abandoned:?}"
    );
    assert_eq!(store.count_certificates().await.unwrap(), 10_000);
    let sample = &batch[4_321];
    let record = store
        .certificate(&sample.serial_hex)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, CertStatus::Issued);
    assert_eq!(
        store.components(&sample.serial_hex).await.unwrap(),
        sample.components
    );
    assert_eq!(
        store.audit(None, 100_000).await.unwrap().len(),
        4 + 2 * 10_000
    );
}

// ---- revocation -------------------------------------------------------------

fn conflict_rule(e: StoreError) -> Rule {
    match e {
        StoreError::Refused { rule, .. } => rule,
        other => panic!("not a refusal: {other}"),
    }
}

async fn revoke_hold_release(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000060-A";
    let serial = issue(store, intent(robot, "k1", "c1")).await;

    let held = store.hold(&serial, OPERATOR).await.unwrap();
    assert!(matches!(held, Change::Made(ref r) if r.state == RevocationState::Held));
    assert!(matches!(
        store.hold(&serial, OPERATOR).await.unwrap(),
        Change::AlreadySo(_)
    ));
    let released = store.release(&serial, OPERATOR).await.unwrap();
    assert_eq!(released.record().state, RevocationState::Released);
    assert!(matches!(
        store.release(&serial, OPERATOR).await.unwrap(),
        Change::AlreadySo(_)
    ));
    let revoked = store
        .revoke(&serial, Reason::CessationOfOperation, UBX)
        .await
        .unwrap();
    assert!(matches!(revoked, Change::Made(ref r) if r.reason == Reason::CessationOfOperation));
    let refused = store.hold(&serial, OPERATOR).await.unwrap_err();
    assert_eq!(conflict_rule(refused), Rule::RevocationAlreadyRevoked);
    let refused = store
        .revoke(&serial, Reason::Superseded, UBX)
        .await
        .unwrap_err();
    assert_eq!(conflict_rule(refused), Rule::RevocationAlreadyRevoked);
    let raised = store
        .revoke(&serial, Reason::KeyCompromise, UBX)
        .await
        .unwrap();
    assert_eq!(raised.record().reason, Reason::KeyCompromise);
    assert_eq!(raised.record().revoked_at, revoked.record().revoked_at);

    // Not a revocation reason; unknown and unsigned certificates.
    assert!(matches!(
        store.revoke(&serial, Reason::CertificateHold, UBX).await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        store
            .revoke(&crate::serial(), Reason::KeyCompromise, UBX)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let pending = intent("UBX-WK5-00000061-B", "k2", "c2");
    assert_eq!(begin_one(store, &pending).await, BeginOutcome::Proceed);
    let refused = store
        .revoke(&pending.serial_hex, Reason::KeyCompromise, UBX)
        .await
        .unwrap_err();
    assert_eq!(conflict_rule(refused), Rule::CertificateNotIssued);

    // Every change is in the audit log, in order.
    let actions: Vec<String> = store
        .audit(Some(robot), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("certificate.") && a != "certificate.issue")
        .collect();
    assert_eq!(
        actions,
        [
            "certificate.hold",
            "certificate.release",
            "certificate.revoke",
            "certificate.revoke"
        ]
    );
    let changed = store.revocations_changed_since(0).await.unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].state, RevocationState::Revoked);
}

async fn revocations_are_permanent_in_the_database(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let serial = issue(store, intent("UBX-WK5-00000062-C", "k1", "c1")).await;
    store
        .revoke(&serial, Reason::KeyCompromise, OPERATOR)
        .await
        .unwrap();
    // Straight to the database, past the store's rules.
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for statement in [
        "UPDATE revocations SET state = 'released'",
        "UPDATE revocations SET state = 'held', reason = 'certificateHold'",
        "DELETE FROM revocations",
    ] {
        let changed = sqlx::query(statement).execute(&mut conn).await;
        assert!(changed.is_err(), "{statement} was accepted");
    }
    conn.close().await.unwrap();
    let row = store.revocation(&serial).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.reason),
        (RevocationState::Revoked, Reason::KeyCompromise)
    );
}

async fn crl_numbers_only_grow(db: &TestDb) {
    let store = Arc::new(db.store.clone());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.next_crl_number("issuer-a").await.unwrap() })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<i64>>(), "each number once");
    assert_eq!(store.next_crl_number("issuer-b").await.unwrap(), 1);
    assert_eq!(store.next_crl_number("issuer-a").await.unwrap(), 21);
}

async fn standings_for_status(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let id = |n: &str| format!("UBX-WK5-{n}-X");
    let (good, held, replaced) = (id("00000070"), id("00000071"), id("00000072"));
    let good_serial = issue(store, intent(&good, "k1", "c1")).await;
    let held_serial = issue(store, intent(&held, "k2", "c2")).await;
    store.hold(&held_serial, OPERATOR).await.unwrap();
    let old = issue(store, intent(&replaced, "k3", "c3")).await;
    let mut again = intent(&replaced, "k4", "c4");
    again.reissue = true;
    let new = issue(store, again).await;

    let by_robot = store
        .standing_of_robots(&[good.clone(), held.clone(), replaced.clone(), id("00000099")])
        .await
        .unwrap();
    assert_eq!(by_robot.len(), 3, "an unknown robot has no answer");
    assert_eq!(by_robot[&good].standing, Standing::Good);
    assert_eq!(by_robot[&good].serial_hex, good_serial);
    assert!(matches!(by_robot[&held].standing, Standing::Held { .. }));
    // A robot's current certificate is its live one, not the superseded one.
    assert_eq!(by_robot[&replaced].serial_hex, new);
    assert_eq!(by_robot[&replaced].standing, Standing::Good);

    let by_serial = store
        .standing_of_serials(&[old.to_uppercase(), new.clone()])
        .await
        .unwrap();
    assert!(matches!(
        by_serial[&old].standing,
        Standing::Revoked {
            reason: Reason::Superseded,
            ..
        }
    ));
    assert_eq!(store.superseded_since(0).await.unwrap().len(), 1);
    let issued = store.issued_since(0).await.unwrap();
    assert_eq!(issued.len(), 4);
}

/// Everything a reader can be asked, in one printable answer, through the
/// read role alone (so the same function serves the store and its reader).
async fn everything_read(r: &impl Reads, robot: &str, serial: &str, credential: &str) -> String {
    r.health().await.unwrap();
    let ids = [robot.to_owned()];
    let serials = [serial.to_owned()];
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        r.certificate(serial).await.unwrap(),
        r.live_certificate(robot).await.unwrap(),
        r.robot(robot).await.unwrap(),
        r.components(serial).await.unwrap(),
        r.count_certificates().await.unwrap(),
        r.manufacturer("UBX").await.unwrap(),
        r.model("UBX", "WK5").await.unwrap(),
        r.credential(credential).await.unwrap(),
        r.audit(Some(robot), 100).await.unwrap(),
        r.audit(None, 1_000).await.unwrap(),
        r.lifecycle_state(robot).await.unwrap(),
        r.lifecycle_states(&ids).await.unwrap(),
        r.signed_certificates(robot).await.unwrap(),
        r.revocation(serial).await.unwrap(),
        r.standing_of_serials(&serials)
            .await
            .unwrap()
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
        r.standing_of_robots(&ids)
            .await
            .unwrap()
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
}

/// The read-only handle reads what the store reads, on the store's own
/// pool: a write through the store is seen through a reader taken before
/// it. (That a reader cannot write is checked by the compiler: see the
/// `compile_fail` example on `ReadOnlyStore`.)
async fn reader_reads_what_the_store_reads(db: &TestDb) {
    let store = &db.store;
    let reader = store.reader();
    assert_eq!(reader.backend(), store.backend());
    registered(store).await;
    let credential = Credential {
        serial_hex: "c0de".into(),
        role: Role::Manufacturer,
        manufacturer_code: Some("UBX".into()),
        subject: "CN=UBX enrollment".into(),
        not_after: 1_900_000_000,
        revoked: false,
    };
    store.add_credential(&credential, OPERATOR).await.unwrap();
    let robot = "UBX-WK5-00000080-X";
    let serial = issue(store, intent(robot, "k1", "c1")).await;
    let before = everything_read(store, robot, &serial, "c0de").await;
    assert_eq!(
        everything_read(&reader, robot, &serial, "c0de").await,
        before
    );
    assert!(before.contains(&serial), "{before}");

    store.hold(&serial, OPERATOR).await.unwrap();
    store
        .append_event(&NewEvent {
            robot_id: robot,
            kind: EventKind::Sold,
            actor: UBX,
            payload: serde_json::json!({"new_owner": "A"}),
        })
        .await
        .unwrap();
    let after = everything_read(store, robot, &serial, "c0de").await;
    assert_ne!(after, before, "the hold and the event are read");
    assert_eq!(
        everything_read(&reader, robot, &serial, "c0de").await,
        after
    );
    let held = reader
        .standing_of_serials(std::slice::from_ref(&serial))
        .await
        .unwrap();
    assert!(matches!(held[&serial].standing, Standing::Held { .. }));
    assert_eq!(
        reader.lifecycle_state(robot).await.unwrap(),
        Some(LifeState::Sold)
    );
    // A reader outlives the store it came from.
    let clone = reader.clone();
    drop(reader);
    assert_eq!(everything_read(&clone, robot, &serial, "c0de").await, after);
}

/// The change log's entries as stored: (seq, kind, serial).
async fn change_log(db: &TestDb) -> Vec<(i64, String, Option<String>)> {
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let rows: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT seq, kind, serial_hex FROM change_log ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    rows
}

async fn change_log_is_dense_and_complete(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    assert_eq!(store.change_log_size().await.unwrap(), 0);
    let robot = "UBX-WK5-00000601-K";
    let first = issue(store, intent(robot, "k1", "c1")).await;
    let mut reissue = intent(robot, "k2", "c2");
    reissue.reissue = true;
    let second = issue(store, reissue).await;
    store.hold(&second, UBX).await.unwrap();
    store.release(&second, UBX).await.unwrap();
    // Refused or no change at all: nothing logged, no index used.
    assert!(matches!(
        store.release(&second, UBX).await,
        Ok(Change::AlreadySo(_))
    ));
    assert!(matches!(
        store.hold(&first, UBX).await,
        Err(StoreError::Refused { .. })
    ));
    store
        .revoke(&second, Reason::KeyCompromise, UBX)
        .await
        .unwrap();
    assert!(matches!(
        store.revoke(&second, Reason::KeyCompromise, UBX).await,
        Ok(Change::AlreadySo(_))
    ));
    store
        .append_event(&NewEvent {
            robot_id: robot,
            kind: EventKind::Decommissioned,
            actor: UBX,
            payload: serde_json::json!({}),
        })
        .await
        .unwrap();
    let log = change_log(db).await;
    let kinds: Vec<(&str, Option<&str>)> = log
        .iter()
        .map(|(_, k, s)| (k.as_str(), s.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("issued", Some(first.as_str())),
            ("superseded", Some(first.as_str())),
            ("issued", Some(second.as_str())),
            ("held", Some(second.as_str())),
            ("released", Some(second.as_str())),
            ("revoked", Some(second.as_str())),
            // The robot's history begins (manufactured) when first touched,
            // then the decommissioning.
            ("lifecycle", None),
            ("lifecycle", None),
        ]
    );
    let seqs: Vec<i64> = log.iter().map(|(seq, _, _)| *seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<i64>>());
    assert_eq!(store.change_log_size().await.unwrap(), 8);

    // Read in stretches by index, the rows as they stand now.
    let head = store.certificate_changes_after(0, 3).await.unwrap();
    assert_eq!(head.through, 3);
    assert_eq!(head.issued, [first.clone(), second.clone()]);
    assert_eq!(head.superseded.len(), 1);
    assert_eq!(head.superseded[0].0, first);
    let rest = store.certificate_changes_after(3, 100).await.unwrap();
    assert_eq!(rest.through, 8);
    assert_eq!(rest.rows.len(), 1, "one row per certificate, as it stands");
    assert_eq!(rest.rows[0].state, RevocationState::Revoked);
    let none = store.certificate_changes_after(8, 100).await.unwrap();
    assert_eq!(none.through, 8);
    assert!(none.rows.is_empty() && none.issued.is_empty());

    // Append-only, whoever writes to the database.
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for statement in [
        "UPDATE change_log SET kind = 'issued'",
        "DELETE FROM change_log",
        "UPDATE change_log_head SET size = 2",
        "DELETE FROM change_log_head",
    ] {
        let changed = sqlx::query(statement).execute(&mut conn).await;
        assert!(changed.is_err(), "{statement} was accepted");
    }
    conn.close().await.unwrap();
}

/// Two stores on one database (two server processes) revoking and holding
/// at once: every change gets an index, none twice, none skipped.
async fn change_log_numbers_concurrent_writers_without_gaps(db: &TestDb) {
    registered(&db.store).await;
    let stores = [db.store.clone(), Store::connect(&db.url).await.unwrap()];
    let mut serials = Vec::new();
    for n in 0..20 {
        serials.push(
            issue(
                &db.store,
                intent(&format!("UBX-WK5-0000070{n}-X"), "k", "c"),
            )
            .await,
        );
    }
    let before = db.store.change_log_size().await.unwrap();
    let tasks: Vec<_> = serials
        .iter()
        .enumerate()
        .map(|(n, serial)| {
            let (store, serial) = (stores[n % 2].clone(), serial.clone());
            tokio::spawn(async move {
                if n % 3 == 0 {
                    store.hold(&serial, UBX).await.map(|_| ())
                } else {
                    store
                        .revoke(&serial, Reason::Unspecified, UBX)
                        .await
                        .map(|_| ())
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let log = change_log(db).await;
    let seqs: Vec<i64> = log.iter().map(|(seq, _, _)| *seq).collect();
    let expected: Vec<i64> = (1..=before + 20).collect();
    assert_eq!(seqs, expected);
    assert_eq!(db.store.change_log_size().await.unwrap(), before + 20);
}
