//! The lifecycle registry on both databases (the harness and the fixtures
//! are those of tests/store.rs, in tests/harness/): the chain links and
//! hashes, the state machine and the certificate effects in one
//! transaction, concurrent appends, and the database refusing rewrites and
//! a certificate after decommissioning.

// Reason: a test should stop at the first unexpected error, loudly.
#![allow(clippy::unwrap_used)]

use robotid_ca::store::roles::{Issuance, Lifecycle, Reads};
use robotid_ca::store::{NewEvent, Reason, RevocationState, StoreError};
use robotid_verifier::history::{EventFields, EventKind, GENESIS, LifeState, event_hash};
use sqlx::Connection;

#[macro_use]
mod harness;
use harness::TestDb;
use harness::kit::*;

on_both!(
    chain_links_and_hashes,
    state_machine_and_certificate_effects,
    concurrent_appends_serialise,
    database_refuses_rewrites_and_late_certificates,
    a_replacement_and_its_event_are_one_transaction,
);

// ---- fixtures ---------------------------------------------------------------

fn append<'a>(robot: &'a str, kind: EventKind, payload: serde_json::Value) -> NewEvent<'a> {
    NewEvent {
        robot_id: robot,
        kind,
        actor: UBX,
        payload,
    }
}

fn rule_of(e: StoreError) -> (&'static str, String) {
    match e {
        StoreError::Refused { rule, detail } => (rule.as_str(), detail),
        other => panic!("not a refusal: {other}"),
    }
}

// ---- scenarios --------------------------------------------------------------

async fn chain_links_and_hashes(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000101-X";
    // No certificate yet: no history.
    let none = store.lifecycle_events(robot).await;
    assert!(matches!(none, Err(StoreError::NotFound { .. })), "{none:?}");
    let serial = issue(store, intent(robot, "k1", "c1")).await;
    assert_eq!(
        store.lifecycle_state(robot).await.unwrap(),
        Some(LifeState::Manufactured)
    );
    store
        .append_event(&append(
            robot,
            EventKind::Sold,
            serde_json::json!({"new_owner": "A"}),
        ))
        .await
        .unwrap();
    let deployed = store
        .append_event(&append(robot, EventKind::Deployed, serde_json::json!({})))
        .await
        .unwrap();
    assert_eq!(deployed.state, LifeState::InService);
    let events = store.lifecycle_events(robot).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].kind, EventKind::Manufactured);
    assert!(events[0].payload.contains(&serial), "{}", events[0].payload);
    let mut prev = GENESIS;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, u64::try_from(i).unwrap() + 1);
        assert_eq!(e.prev_hash, prev);
        let h = event_hash(&EventFields {
            robot_id: robot,
            seq: e.seq,
            prev_hash: &e.prev_hash,
            kind: e.kind.as_str(),
            at: e.at,
            actor: &e.actor,
            payload: &e.payload,
        });
        assert_eq!(h, e.hash, "event {}", e.seq);
        prev = e.hash;
    }
    // Reading again does not write a second manufactured event.
    assert_eq!(store.lifecycle_events(robot).await.unwrap(), events);
    assert_eq!(
        store.lifecycle_state(robot).await.unwrap(),
        Some(LifeState::InService)
    );
}

async fn state_machine_and_certificate_effects(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000102-X";
    let serial = issue(store, intent(robot, "k1", "c1")).await;
    let (rule, detail) = rule_of(
        store
            .append_event(&append(robot, EventKind::RecallHold, serde_json::json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(rule, "lifecycle.hold_in_service");
    assert!(detail.contains("state manufactured"), "{detail}");
    store
        .append_event(&append(robot, EventKind::Deployed, serde_json::json!({})))
        .await
        .unwrap();
    let held = store
        .append_event(&append(
            robot,
            EventKind::RecallHold,
            serde_json::json!({"recall": "R"}),
        ))
        .await
        .unwrap();
    assert_eq!(held.state, LifeState::Held);
    assert!(held.revocation.is_some());
    let row = store.revocation(&serial).await.unwrap().unwrap();
    assert_eq!(row.state, RevocationState::Held);
    store
        .append_event(&append(
            robot,
            EventKind::RecallRelease,
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(
        store.revocation(&serial).await.unwrap().unwrap().state,
        RevocationState::Released
    );
    store
        .append_event(&append(
            robot,
            EventKind::Decommissioned,
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    let row = store.revocation(&serial).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.reason),
        (RevocationState::Revoked, Reason::CessationOfOperation)
    );
    for kind in [
        EventKind::Deployed,
        EventKind::RecallHold,
        EventKind::ComponentReplaced,
    ] {
        let (rule, detail) = rule_of(
            store
                .append_event(&append(robot, kind, serde_json::json!({})))
                .await
                .unwrap_err(),
        );
        assert_eq!(rule, "lifecycle.decommissioned", "{kind:?}");
        assert!(detail.contains("state decommissioned"), "{detail}");
    }
    store
        .append_event(&append(
            robot,
            EventKind::Recycled,
            serde_json::json!({"components": []}),
        ))
        .await
        .unwrap();
    let (rule, _) = rule_of(
        store
            .append_event(&append(
                robot,
                EventKind::Maintenance,
                serde_json::json!({}),
            ))
            .await
            .unwrap_err(),
    );
    assert_eq!(rule, "lifecycle.recycled_final");
    // A refused append wrote nothing.
    assert_eq!(store.lifecycle_events(robot).await.unwrap().len(), 6);
}

async fn concurrent_appends_serialise(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000103-X";
    issue(store, intent(robot, "k1", "c1")).await;
    store
        .append_event(&append(robot, EventKind::Sold, serde_json::json!({})))
        .await
        .unwrap();
    // Twenty deployments at once: one passes, the others see in_service.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .append_event(&append(robot, EventKind::Deployed, serde_json::json!({})))
                    .await
            })
        })
        .collect();
    let mut passed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => passed += 1,
            Err(e) => assert_eq!(rule_of(e).0, "lifecycle.already_in_service"),
        }
    }
    assert_eq!(passed, 1);
    // Forty maintenance events at once: all in, one chain.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .append_event(&append(
                        robot,
                        EventKind::Maintenance,
                        serde_json::json!({"work": i}),
                    ))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let events = store.lifecycle_events(robot).await.unwrap();
    assert_eq!(events.len(), 43);
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
}

async fn database_refuses_rewrites_and_late_certificates(db: &TestDb) {
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000104-X";
    issue(store, intent(robot, "k1", "c1")).await;
    store
        .append_event(&append(
            robot,
            EventKind::Decommissioned,
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for statement in [
        "UPDATE lifecycle_events SET actor = 'mallory'",
        "DELETE FROM lifecycle_events",
        "UPDATE lifecycle_heads SET seq = seq + 5",
        "UPDATE lifecycle_heads SET state = 'in_service'",
        "DELETE FROM lifecycle_heads",
    ] {
        let changed = sqlx::query(statement).execute(&mut conn).await;
        assert!(changed.is_err(), "{statement} was accepted");
    }
    conn.close().await.unwrap();
    // A re-issue past the API's check is refused by the database; the
    // whole batch rolls back.
    let mut late = intent(robot, "k2", "c2");
    late.reissue = true;
    let refused = store
        .begin_issuance(std::slice::from_ref(&late), UBX)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("lifecycle.decommissioned"),
        "{refused}"
    );
    assert!(store.certificate(&late.serial_hex).await.unwrap().is_none());
    let events = store.lifecycle_events(robot).await.unwrap();
    assert!(events.iter().all(|e| e.actor != "mallory"));
    assert_eq!(events.len(), 2);
}

/// Begins a declared re-issue of `robot` with key `key`; returns its serial.
async fn begin_reissue(store: &robotid_ca::store::Store, robot: &str, key: &str) -> String {
    let mut reissue = intent(robot, key, "replacement");
    reissue.reissue = true;
    let outcomes = store
        .begin_issuance(std::slice::from_ref(&reissue), UBX)
        .await
        .unwrap();
    assert_eq!(outcomes, vec![robotid_ca::store::BeginOutcome::Proceed]);
    reissue.serial_hex
}

async fn a_replacement_and_its_event_are_one_transaction(db: &TestDb) {
    use robotid_ca::store::CertStatus;
    let store = &db.store;
    registered(store).await;
    let robot = "UBX-WK5-00000105-X";
    let old = issue(store, intent(robot, "k1", "c1")).await;
    store
        .append_event(&append(robot, EventKind::Deployed, serde_json::json!({})))
        .await
        .unwrap();
    let new = begin_reissue(store, robot, "k2").await;
    let replaced = |supersedes: &str| NewEvent {
        robot_id: robot,
        kind: EventKind::ComponentReplaced,
        actor: UBX,
        payload: serde_json::json!({ "old_serial": supersedes, "new_serial": new }),
    };
    let status =
        |serial: String| async move { store.certificate(&serial).await.unwrap().unwrap().status };

    // The event names a certificate the re-issue did not supersede: neither
    // the certificate nor the event is recorded.
    let other = serial();
    let (rule, detail) = rule_of(
        store
            .complete_with_event(&new, &der_for(&new), Some(&other), &replaced(&other))
            .await
            .unwrap_err(),
    );
    assert_eq!(rule, "robot.live_certificate");
    assert!(detail.contains(&old), "{detail}");
    assert_eq!(status(new.clone()).await, CertStatus::Pending);
    assert_eq!(store.lifecycle_events(robot).await.unwrap().len(), 2);

    // Both, in one transaction.
    let appended = store
        .complete_with_event(&new, &der_for(&new), Some(&old), &replaced(&old))
        .await
        .unwrap();
    assert_eq!(appended.event.kind, EventKind::ComponentReplaced);
    assert_eq!(appended.state, LifeState::InService);
    assert!(
        appended.event.payload.contains(&new),
        "{}",
        appended.event.payload
    );
    assert_eq!(status(new.clone()).await, CertStatus::Issued);
    assert_eq!(status(old.clone()).await, CertStatus::Superseded);
    let events = store.lifecycle_events(robot).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2], appended.event);
    // Completing it again is refused: it is issued, and its event recorded.
    assert!(
        store
            .complete_with_event(&new, &der_for(&new), Some(&old), &replaced(&old))
            .await
            .is_err()
    );
    assert_eq!(store.lifecycle_events(robot).await.unwrap().len(), 3);

    // The state machine refuses the event (a robot under a recall hold is
    // not re-certified): the certificate stays pending, never issued.
    let held = "UBX-WK5-00000106-X";
    let held_serial = issue(store, intent(held, "k1", "c1")).await;
    for kind in [EventKind::Deployed, EventKind::RecallHold] {
        store
            .append_event(&append(held, kind, serde_json::json!({"recall": "R-1"})))
            .await
            .unwrap();
    }
    let blocked = begin_reissue(store, held, "k2").await;
    let event = NewEvent {
        robot_id: held,
        kind: EventKind::ComponentReplaced,
        actor: UBX,
        payload: serde_json::json!({ "old_serial": held_serial }),
    };
    let (rule, _) = rule_of(
        store
            .complete_with_event(&blocked, &der_for(&blocked), Some(&held_serial), &event)
            .await
            .unwrap_err(),
    );
    assert_eq!(rule, "lifecycle.held");
    assert_eq!(status(blocked).await, CertStatus::Pending);
    assert_eq!(store.lifecycle_events(held).await.unwrap().len(), 3);
}
