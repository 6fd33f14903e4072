//! Revocations and holds, kept in one transaction per change with its
//! audit entry. The rules (what may follow what) are the pure state
//! machine `robotid_verifier::states::revocation`, run here on the rows
//! read under the certificate's lock; a database trigger also refuses to
//! undo a permanent revocation.

use robotid_verifier::rule::Rule;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::audit::{self, NewEntry};
use super::change_log::ChangeKind;
use super::issuance::with_retries;
use super::roles::Revocations;
use super::sql::{self, normalize_serial, now};
use super::writer::WriteTx;
use super::{CertStatus, Store, StoreError, commit};
use robotid_verifier::states::revocation::{self as machine, Entry, Outcome};
pub use robotid_verifier::states::revocation::{Action, Reason, RevocationState, Standing};

/// A row of the revocations table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationRecord {
    /// Certificate serial, hex (lower case).
    pub serial_hex: String,
    /// Its robot.
    pub robot_id: String,
    /// Revoked, held or released.
    pub state: RevocationState,
    /// The reason (certificateHold for a hold, released or not).
    pub reason: Reason,
    /// When it was revoked or put on hold, unix seconds.
    pub revoked_at: i64,
    /// When the row last changed, unix seconds.
    pub updated_at: i64,
}

/// A signed certificate and what relying parties are told about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateStanding {
    /// Serial, hex (lower case).
    pub serial_hex: String,
    /// Its robot.
    pub robot_id: String,
    /// Issued (live) or superseded.
    pub status: CertStatus,
    /// End of validity, unix seconds.
    pub not_after: i64,
    /// When it was signed, unix seconds.
    pub issued_at: i64,
    /// Revoked, on hold or good.
    pub standing: Standing,
}

/// What a revoke, hold or release did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The registry changed (and the audit log says so).
    Made(RevocationRecord),
    /// It already was so; nothing changed.
    AlreadySo(RevocationRecord),
}

impl Change {
    /// The revocation record after the call.
    pub fn record(&self) -> &RevocationRecord {
        match self {
            Change::Made(r) | Change::AlreadySo(r) => r,
        }
    }
}

pub(super) const STANDING_COLUMNS: &str = "c.serial_hex, c.robot_id, c.status, c.not_after, c.issued_at, \
     c.superseded_at, r.state, r.reason, r.revoked_at";

pub(super) fn standing_from_row(row: &AnyRow) -> Result<CertificateStanding, StoreError> {
    let f = (|| {
        Ok::<_, sqlx::Error>((
            row.try_get::<String, _>(0)?,
            row.try_get::<String, _>(1)?,
            row.try_get::<String, _>(2)?,
            row.try_get::<i64, _>(3)?,
            row.try_get::<Option<i64>, _>(4)?,
            row.try_get::<Option<i64>, _>(5)?,
            row.try_get::<Option<String>, _>(6)?,
            row.try_get::<Option<String>, _>(7)?,
            row.try_get::<Option<i64>, _>(8)?,
        ))
    })()
    .map_err(StoreError::db("decoding a certificate's standing"))?;
    let revocation = match (f.6, f.7, f.8) {
        (Some(state), Some(reason), Some(at)) => {
            Some((stored_state(&state)?, stored_reason(&reason)?, at))
        }
        _ => None,
    };
    let status = super::records::stored_status(&f.2)?;
    Ok(CertificateStanding {
        serial_hex: f.0,
        robot_id: f.1,
        status,
        not_after: f.3,
        issued_at: f.4.unwrap_or_default(),
        standing: Standing::of(revocation, f.5),
    })
}

pub(super) fn record_from_row(row: &AnyRow) -> Result<RevocationRecord, StoreError> {
    let f = (|| {
        Ok::<_, sqlx::Error>((
            row.try_get::<String, _>(0)?,
            row.try_get::<String, _>(1)?,
            row.try_get::<String, _>(2)?,
            row.try_get::<String, _>(3)?,
            row.try_get::<i64, _>(4)?,
            row.try_get::<i64, _>(5)?,
        ))
    })()
    .map_err(StoreError::db("decoding a revocation"))?;
    Ok(RevocationRecord {
        serial_hex: f.0,
        robot_id: f.1,
        state: stored_state(&f.2)?,
        reason: stored_reason(&f.3)?,
        revoked_at: f.4,
        updated_at: f.5,
    })
}

pub(super) const RECORD_COLUMNS: &str =
    "serial_hex, robot_id, state, reason, revoked_at, updated_at";

fn refuse(rule: Rule, detail: String) -> StoreError {
    StoreError::Refused { rule, detail }
}

fn stored_reason(text: &str) -> Result<Reason, StoreError> {
    Reason::parse(text).ok_or_else(|| StoreError::Corrupt {
        what: "revocations.reason",
        detail: format!("unknown reason {text:?}"),
    })
}

fn stored_state(text: &str) -> Result<RevocationState, StoreError> {
    RevocationState::parse(text).ok_or_else(|| StoreError::Corrupt {
        what: "revocations.state",
        detail: format!("unknown state {text:?}"),
    })
}

impl Revocations for Store {
    async fn revoke(
        &self,
        serial_hex: &str,
        reason: Reason,
        actor: &str,
    ) -> Result<Change, StoreError> {
        if reason == Reason::CertificateHold {
            return Err(StoreError::Invalid {
                what: Rule::RevocationReason.as_str(),
                detail: "certificateHold is a hold, not a revocation: use hold".into(),
            });
        }
        self.change(serial_hex, Action::Revoke(reason), actor).await
    }

    async fn hold(&self, serial_hex: &str, actor: &str) -> Result<Change, StoreError> {
        self.change(serial_hex, Action::Hold, actor).await
    }

    async fn release(&self, serial_hex: &str, actor: &str) -> Result<Change, StoreError> {
        self.change(serial_hex, Action::Release, actor).await
    }

    async fn revocations_changed_since(
        &self,
        since: i64,
    ) -> Result<Vec<RevocationRecord>, StoreError> {
        sql::query(format!(
            "SELECT {RECORD_COLUMNS} FROM revocations WHERE updated_at >= $1"
        ))
        .bind(since)
        .fetch_all(&self.read.pool)
        .await
        .map_err(StoreError::db("reading changed revocations"))?
        .iter()
        .map(record_from_row)
        .collect()
    }

    async fn superseded_since(&self, since: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sql::query(
            "SELECT serial_hex, superseded_at FROM certificates \
             WHERE superseded_at IS NOT NULL AND superseded_at >= $1"
                .to_owned(),
        )
        .bind(since)
        .fetch_all(&self.read.pool)
        .await
        .map_err(StoreError::db("reading superseded certificates"))?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::db("decoding superseded certificates"))
    }

    async fn issued_since(&self, since: i64) -> Result<Vec<String>, StoreError> {
        let rows = sql::query(
            "SELECT serial_hex FROM certificates WHERE issued_at IS NOT NULL AND issued_at >= $1"
                .to_owned(),
        )
        .bind(since)
        .fetch_all(&self.read.pool)
        .await
        .map_err(StoreError::db("reading issued certificates"))?;
        rows.iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::db("decoding issued certificates"))
    }

    async fn change_log_size(&self) -> Result<i64, StoreError> {
        super::change_log::size(&self.read.pool).await
    }

    async fn certificate_changes_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<super::LoggedChanges, StoreError> {
        super::change_log::certificate_changes_after(&self.read.pool, self.read.sql, after, limit)
            .await
    }

    async fn next_crl_number(&self, issuer_id: &str) -> Result<i64, StoreError> {
        with_retries(|| async {
            let mut tx = self.begin_write().await?;
            let conn: &mut AnyConnection = &mut tx;
            sql::query(
                "INSERT INTO crl_numbers (issuer_id, number) VALUES ($1, 1) \
                 ON CONFLICT (issuer_id) DO UPDATE SET number = crl_numbers.number + 1"
                    .to_owned(),
            )
            .bind(issuer_id)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db("advancing the CRL number"))?;
            let number: i64 =
                sqlx::query_scalar("SELECT number FROM crl_numbers WHERE issuer_id = $1")
                    .bind(issuer_id)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(StoreError::db("reading the CRL number"))?;
            commit(tx, "next_crl_number").await?;
            Ok(number)
        })
        .await
    }
}

impl Store {
    async fn change(
        &self,
        serial_hex: &str,
        action: Action,
        actor: &str,
    ) -> Result<Change, StoreError> {
        let serial = normalize_serial(serial_hex)?;
        with_retries(|| self.change_once(&serial, action, actor)).await
    }

    async fn change_once(
        &self,
        serial: &str,
        action: Action,
        actor: &str,
    ) -> Result<Change, StoreError> {
        let mut tx = self.begin_write().await?;
        let change = self
            .change_in(&mut tx, serial, action, actor, now())
            .await?;
        if matches!(change, Change::Made(_)) {
            commit(tx, "revocation").await?;
        }
        Ok(change)
    }

    /// Applies `action` to `serial` (normalised) within the caller's write
    /// transaction, with its audit entry; the caller commits. The lifecycle
    /// registry uses it so that an event and its revocation commit together.
    pub(super) async fn change_in(
        &self,
        tx: &mut WriteTx,
        serial: &str,
        action: Action,
        actor: &str,
        at: i64,
    ) -> Result<Change, StoreError> {
        let sql = tx.sql();
        let conn: &mut AnyConnection = tx;
        // On PostgreSQL the certificate's row lock serialises changes to one
        // certificate across server processes; SQLite's write lock already does.
        let lock = sql.row_lock();
        let cert = sql::query(format!(
            "SELECT robot_id, status, superseded_at FROM certificates WHERE serial_hex = $1{lock}"
        ))
        .bind(serial)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db("revocation: reading the certificate"))?;
        let Some(cert) = cert else {
            return Err(StoreError::NotFound {
                what: "certificate",
                key: serial.to_owned(),
            });
        };
        let (robot_id, status, superseded_at) = (|| {
            Ok::<_, sqlx::Error>((
                cert.try_get::<String, _>(0)?,
                cert.try_get::<String, _>(1)?,
                cert.try_get::<Option<i64>, _>(2)?,
            ))
        })()
        .map_err(StoreError::db("revocation: decoding the certificate"))?;
        let status = super::records::stored_status(&status)?;
        let existing = sql::query(format!(
            "SELECT {RECORD_COLUMNS} FROM revocations WHERE serial_hex = $1"
        ))
        .bind(serial)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db("revocation: reading the revocation"))?
        .as_ref()
        .map(record_from_row)
        .transpose()?;

        let outcome = machine::decide(
            serial,
            status,
            superseded_at,
            existing.as_ref().map(|r| Entry {
                state: r.state,
                reason: r.reason,
                revoked_at: r.revoked_at,
            }),
            action,
            at,
        )
        .map_err(|r| refuse(r.rule, r.detail))?;
        let record_of = |e: Entry, updated_at| RevocationRecord {
            serial_hex: serial.to_owned(),
            robot_id: robot_id.clone(),
            state: e.state,
            reason: e.reason,
            revoked_at: e.revoked_at,
            updated_at,
        };
        let record = match outcome {
            Outcome::AlreadySo(e) => {
                let updated_at = existing.map_or(e.revoked_at, |r| r.updated_at);
                return Ok(Change::AlreadySo(record_of(e, updated_at)));
            }
            Outcome::Made(e) => record_of(e, at),
        };
        sql::query(format!(
            "INSERT INTO revocations ({RECORD_COLUMNS}) VALUES ({}) \
             ON CONFLICT (serial_hex) DO UPDATE SET state = excluded.state, \
             reason = excluded.reason, revoked_at = excluded.revoked_at, \
             updated_at = excluded.updated_at",
            sql.list(6, 1)
        ))
        .bind(record.serial_hex.as_str())
        .bind(record.robot_id.as_str())
        .bind(record.state.as_str())
        .bind(record.reason.as_str())
        .bind(record.revoked_at)
        .bind(record.updated_at)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db("revocation: recording"))?;
        let kind = match record.state {
            RevocationState::Revoked => ChangeKind::Revoked,
            RevocationState::Held => ChangeKind::Held,
            RevocationState::Released => ChangeKind::Released,
        };
        tx.log(kind, &robot_id, Some(serial));
        let verb = match action {
            Action::Revoke(_) => "certificate.revoke",
            Action::Hold => "certificate.hold",
            Action::Release => "certificate.release",
        };
        audit::append(
            tx,
            &[NewEntry {
                at,
                actor,
                action: verb,
                subject: robot_id.clone(),
                detail: json!({
                    "serial": serial,
                    "reason": record.reason.as_str(),
                    "state": record.state.as_str(),
                    "revoked_at": record.revoked_at,
                }),
            }],
        )
        .await?;
        Ok(Change::Made(record))
    }
}

/// Which of a robot's signed certificates is its current one: the live one,
/// else the latest.
pub(super) fn current_rank(c: &CertificateStanding) -> (bool, i64) {
    (c.status == CertStatus::Issued, c.issued_at)
}
