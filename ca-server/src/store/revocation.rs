//! Revocations and holds: the rules of RFC 5280 and the CA/Browser Forum's
//! practice, kept in one transaction per change with its audit entry.
//!
//! - A permanent revocation is final (a database trigger refuses to undo
//!   it); its reason can only be raised to keyCompromise, keeping its date.
//! - A hold (certificateHold) is only put on a live certificate and can be
//!   released; a held certificate can be revoked for good, keeping the date
//!   of the hold.
//! - A superseded certificate counts as revoked (superseded) from the time
//!   it was superseded, with no row needed; a row says more when there is one.

use robotid_verifier::rule::Rule;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::audit::{self, NewEntry};
use super::issuance::with_retries;
use super::roles::Revocations;
use super::sql::{self, normalize_serial, now};
use super::writer::WriteTx;
use super::{CertStatus, Store, StoreError, commit};

/// Why a certificate was revoked: the reason codes of RFC 5280 5.3.1 that
/// apply to end-entity certificates (cACompromise and aACompromise do not;
/// removeFromCRL only exists in delta CRLs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// No reason given (the CRL entry then carries no reason code).
    Unspecified,
    /// The robot's private key is, or may be, known to someone else.
    KeyCompromise,
    /// The robot changed hands in a way that ends what was certified.
    AffiliationChanged,
    /// A new certificate replaced it (component replaced, re-issue).
    Superseded,
    /// The robot was decommissioned or recycled.
    CessationOfOperation,
    /// On hold (recall, investigation); can be released.
    CertificateHold,
    /// The CA withdrew what the certificate asserts.
    PrivilegeWithdrawn,
}

impl Reason {
    /// Every reason, in RFC 5280 order.
    pub const ALL: [Reason; 7] = [
        Reason::Unspecified,
        Reason::KeyCompromise,
        Reason::AffiliationChanged,
        Reason::Superseded,
        Reason::CessationOfOperation,
        Reason::CertificateHold,
        Reason::PrivilegeWithdrawn,
    ];

    /// The RFC 5280 name, e.g. `keyCompromise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unspecified => "unspecified",
            Reason::KeyCompromise => "keyCompromise",
            Reason::AffiliationChanged => "affiliationChanged",
            Reason::Superseded => "superseded",
            Reason::CessationOfOperation => "cessationOfOperation",
            Reason::CertificateHold => "certificateHold",
            Reason::PrivilegeWithdrawn => "privilegeWithdrawn",
        }
    }

    /// The reason named `text` (RFC 5280 spelling), if any.
    pub fn parse(text: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The CRLReason code of RFC 5280 5.3.1.
    pub fn code(self) -> u8 {
        match self {
            Reason::Unspecified => 0,
            Reason::KeyCompromise => 1,
            Reason::AffiliationChanged => 3,
            Reason::Superseded => 4,
            Reason::CessationOfOperation => 5,
            Reason::CertificateHold => 6,
            Reason::PrivilegeWithdrawn => 9,
        }
    }

    fn stored(text: &str) -> Result<Reason, StoreError> {
        Reason::parse(text).ok_or_else(|| StoreError::Corrupt {
            what: "revocations.reason",
            detail: format!("unknown reason {text:?}"),
        })
    }
}

/// Where a revocation row stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevocationState {
    /// Revoked for good.
    Revoked,
    /// On hold.
    Held,
    /// A hold that was released: the certificate is good again.
    Released,
}

impl RevocationState {
    /// `revoked`, `held` or `released`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationState::Revoked => "revoked",
            RevocationState::Held => "held",
            RevocationState::Released => "released",
        }
    }

    fn stored(text: &str) -> Result<Self, StoreError> {
        match text {
            "revoked" => Ok(RevocationState::Revoked),
            "held" => Ok(RevocationState::Held),
            "released" => Ok(RevocationState::Released),
            other => Err(StoreError::Corrupt {
                what: "revocations.state",
                detail: format!("unknown state {other:?}"),
            }),
        }
    }
}

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

/// What relying parties are told about a signed certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Not revoked, not on hold.
    Good,
    /// Revoked for good.
    Revoked {
        /// Why.
        reason: Reason,
        /// Since when, unix seconds.
        at: i64,
    },
    /// On hold (revoked with certificateHold until released).
    Held {
        /// Since when, unix seconds.
        at: i64,
    },
}

impl Standing {
    /// The standing given a revocation row (if any) and, for a superseded
    /// certificate, when it was superseded.
    pub fn of(
        revocation: Option<(RevocationState, Reason, i64)>,
        superseded_at: Option<i64>,
    ) -> Self {
        match (revocation, superseded_at) {
            (Some((RevocationState::Revoked, reason, at)), _) => Standing::Revoked { reason, at },
            (_, Some(at)) => Standing::Revoked {
                reason: Reason::Superseded,
                at,
            },
            (Some((RevocationState::Held, _, at)), None) => Standing::Held { at },
            _ => Standing::Good,
        }
    }

    /// `good`, `revoked` or `on_hold`.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Good => "good",
            Standing::Revoked { .. } => "revoked",
            Standing::Held { .. } => "on_hold",
        }
    }
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

/// The request to change a certificate's revocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    Revoke(Reason),
    Hold,
    Release,
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
        (Some(state), Some(reason), Some(at)) => Some((
            RevocationState::stored(&state)?,
            Reason::stored(&reason)?,
            at,
        )),
        _ => None,
    };
    let status = CertStatus::parse(&f.2)?;
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
        state: RevocationState::stored(&f.2)?,
        reason: Reason::stored(&f.3)?,
        revoked_at: f.4,
        updated_at: f.5,
    })
}

pub(super) const RECORD_COLUMNS: &str =
    "serial_hex, robot_id, state, reason, revoked_at, updated_at";

fn refuse(rule: Rule, detail: String) -> StoreError {
    StoreError::Refused { rule, detail }
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
        let status = CertStatus::parse(&status)?;
        if matches!(status, CertStatus::Pending | CertStatus::Failed) {
            return Err(refuse(
                Rule::CertificateNotIssued,
                format!(
                    "certificate {serial} was never issued (it is {})",
                    status.as_str()
                ),
            ));
        }
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

        let next = decide(
            serial,
            &robot_id,
            status,
            superseded_at,
            existing,
            action,
            at,
        )?;
        let record = match next {
            Change::AlreadySo(record) => return Ok(Change::AlreadySo(record)),
            Change::Made(record) => record,
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

/// The row after `action`, or why it is refused.
fn decide(
    serial: &str,
    robot_id: &str,
    status: CertStatus,
    superseded_at: Option<i64>,
    existing: Option<RevocationRecord>,
    action: Action,
    at: i64,
) -> Result<Change, StoreError> {
    let made = |state, reason, revoked_at| {
        Change::Made(RevocationRecord {
            serial_hex: serial.to_owned(),
            robot_id: robot_id.to_owned(),
            state,
            reason,
            revoked_at,
            updated_at: at,
        })
    };
    let already_revoked = |r: &RevocationRecord| {
        refuse(
            Rule::RevocationAlreadyRevoked,
            format!(
                "certificate {serial} is already revoked ({}) since {}",
                r.reason.as_str(),
                r.revoked_at
            ),
        )
    };
    // A superseded certificate with no row is revoked (superseded) already.
    let existing = existing.or_else(|| {
        superseded_at.map(|since| RevocationRecord {
            serial_hex: serial.to_owned(),
            robot_id: robot_id.to_owned(),
            state: RevocationState::Revoked,
            reason: Reason::Superseded,
            revoked_at: since,
            updated_at: since,
        })
    });
    match (action, existing) {
        (Action::Revoke(reason), Some(r)) if r.state == RevocationState::Revoked => {
            if r.reason == reason {
                Ok(Change::AlreadySo(r))
            } else if reason == Reason::KeyCompromise {
                Ok(made(RevocationState::Revoked, reason, r.revoked_at))
            } else {
                Err(already_revoked(&r))
            }
        }
        (Action::Revoke(reason), Some(r)) if r.state == RevocationState::Held => {
            Ok(made(RevocationState::Revoked, reason, r.revoked_at))
        }
        (Action::Revoke(reason), _) => Ok(made(RevocationState::Revoked, reason, at)),
        (Action::Hold, Some(r)) if r.state == RevocationState::Revoked => Err(already_revoked(&r)),
        (Action::Hold, Some(r)) if r.state == RevocationState::Held => Ok(Change::AlreadySo(r)),
        (Action::Hold, _) if status != CertStatus::Issued => Err(refuse(
            Rule::RevocationHoldNotLive,
            format!(
                "certificate {serial} is {}, not live: only a live certificate is put on hold",
                status.as_str()
            ),
        )),
        (Action::Hold, _) => Ok(made(RevocationState::Held, Reason::CertificateHold, at)),
        (Action::Release, Some(r)) if r.state == RevocationState::Held => Ok(made(
            RevocationState::Released,
            Reason::CertificateHold,
            r.revoked_at,
        )),
        (Action::Release, Some(r)) if r.state == RevocationState::Released => {
            Ok(Change::AlreadySo(r))
        }
        (Action::Release, Some(r)) => Err(already_revoked(&r)),
        (Action::Release, None) => Err(refuse(
            Rule::RevocationNotOnHold,
            format!("certificate {serial} is not on hold"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: RevocationState, reason: Reason) -> RevocationRecord {
        RevocationRecord {
            serial_hex: "0a".into(),
            robot_id: "R".into(),
            state,
            reason,
            revoked_at: 100,
            updated_at: 100,
        }
    }

    fn run(
        status: CertStatus,
        superseded_at: Option<i64>,
        existing: Option<RevocationRecord>,
        action: Action,
    ) -> Result<Change, StoreError> {
        decide("0a", "R", status, superseded_at, existing, action, 200)
    }

    fn rule_of(e: StoreError) -> Rule {
        match e {
            StoreError::Refused { rule, .. } => rule,
            other => panic!("not a refusal: {other}"),
        }
    }

    #[test]
    fn a_permanent_revocation_only_moves_to_key_compromise() {
        let revoked = row(RevocationState::Revoked, Reason::CessationOfOperation);
        let same = run(
            CertStatus::Issued,
            None,
            Some(revoked.clone()),
            Action::Revoke(Reason::CessationOfOperation),
        );
        assert!(matches!(same, Ok(Change::AlreadySo(_))));
        let raised = run(
            CertStatus::Issued,
            None,
            Some(revoked.clone()),
            Action::Revoke(Reason::KeyCompromise),
        )
        .map(|c| c.record().clone());
        assert!(
            matches!(raised, Ok(ref r) if r.reason == Reason::KeyCompromise && r.revoked_at == 100)
        );
        let other = run(
            CertStatus::Issued,
            None,
            Some(revoked.clone()),
            Action::Revoke(Reason::AffiliationChanged),
        );
        assert_eq!(
            other.map_err(rule_of).err(),
            Some(Rule::RevocationAlreadyRevoked)
        );
        for action in [Action::Hold, Action::Release] {
            let refused = run(CertStatus::Issued, None, Some(revoked.clone()), action);
            assert_eq!(
                refused.map_err(rule_of).err(),
                Some(Rule::RevocationAlreadyRevoked)
            );
        }
    }

    #[test]
    fn holds_are_put_on_live_certificates_and_released() {
        let held = run(CertStatus::Issued, None, None, Action::Hold).map(|c| c.record().clone());
        assert!(
            matches!(held, Ok(ref r) if r.state == RevocationState::Held && r.revoked_at == 200)
        );
        let superseded = run(CertStatus::Superseded, Some(150), None, Action::Hold);
        assert_eq!(
            superseded.map_err(rule_of).err(),
            Some(Rule::RevocationAlreadyRevoked)
        );
        let release = run(
            CertStatus::Issued,
            None,
            Some(row(RevocationState::Held, Reason::CertificateHold)),
            Action::Release,
        )
        .map(|c| c.record().clone());
        assert!(matches!(release, Ok(ref r) if r.state == RevocationState::Released));
        let not_held = run(CertStatus::Issued, None, None, Action::Release);
        assert_eq!(
            not_held.map_err(rule_of).err(),
            Some(Rule::RevocationNotOnHold)
        );
        let again = run(
            CertStatus::Issued,
            None,
            Some(row(RevocationState::Released, Reason::CertificateHold)),
            Action::Hold,
        )
        .map(|c| c.record().clone());
        assert!(
            matches!(again, Ok(ref r) if r.state == RevocationState::Held && r.revoked_at == 200)
        );
    }

    #[test]
    fn revoking_a_held_certificate_keeps_the_date_of_the_hold() {
        let r = run(
            CertStatus::Issued,
            None,
            Some(row(RevocationState::Held, Reason::CertificateHold)),
            Action::Revoke(Reason::KeyCompromise),
        )
        .map(|c| c.record().clone());
        assert!(
            matches!(r, Ok(ref r) if r.state == RevocationState::Revoked && r.revoked_at == 100)
        );
    }

    #[test]
    fn a_superseded_certificate_is_revoked_already() {
        let same = run(
            CertStatus::Superseded,
            Some(150),
            None,
            Action::Revoke(Reason::Superseded),
        );
        assert!(matches!(same, Ok(Change::AlreadySo(ref r)) if r.revoked_at == 150));
        let compromised = run(
            CertStatus::Superseded,
            Some(150),
            None,
            Action::Revoke(Reason::KeyCompromise),
        )
        .map(|c| c.record().clone());
        assert!(
            matches!(compromised, Ok(ref r) if r.reason == Reason::KeyCompromise && r.revoked_at == 150)
        );
    }

    #[test]
    fn standing_prefers_the_row_over_supersession() {
        assert_eq!(Standing::of(None, None), Standing::Good);
        assert_eq!(
            Standing::of(None, Some(5)),
            Standing::Revoked {
                reason: Reason::Superseded,
                at: 5
            }
        );
        assert_eq!(
            Standing::of(
                Some((RevocationState::Released, Reason::CertificateHold, 3)),
                None
            ),
            Standing::Good
        );
        assert_eq!(
            Standing::of(
                Some((RevocationState::Held, Reason::CertificateHold, 3)),
                None
            ),
            Standing::Held { at: 3 }
        );
        // A held certificate that was then replaced is revoked (superseded).
        assert_eq!(
            Standing::of(
                Some((RevocationState::Held, Reason::CertificateHold, 3)),
                Some(9)
            ),
            Standing::Revoked {
                reason: Reason::Superseded,
                at: 9
            }
        );
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
    }
}
