//! The registry by role: what a part of the server may do with it.
//!
//! One SQL store implements every role ([`Store`]); a part that only needs
//! one role is handed it as a bound (`impl Reads`, `impl Revocations`), and
//! a part that must not write at all is handed a [`ReadOnlyStore`], which
//! implements [`Reads`] and nothing else. There are no other
//! implementations and no mocks: SQLite and PostgreSQL are the two real
//! ones, and every test runs on both (decision 0019).
//!
//! The methods return `impl Future + Send` rather than being `async fn`,
//! so that callers that spawn the futures (the issuance pipeline, the
//! revocation publisher) can rely on them being `Send`.

use std::collections::HashMap;
use std::future::Future;

use robotid_verifier::history::LifeState;

use super::{
    Appended, AuditEntry, BeginOutcome, CertificateRecord, CertificateStanding, Change,
    ComponentRecord, Credential, IssuanceIntent, LifecycleEvent, LoggedChanges, ManufacturerRecord,
    ModelRecord, NewEvent, ReadOnlyStore, Reason, RevocationRecord, RobotRecord, StoreError,
};

#[cfg(doc)]
use super::Store;

pub(super) mod sealed {
    /// Where a handle's reads go. Sealed (not nameable outside the store),
    /// so that nothing but the store's own handles is [`Reads`](super::Reads).
    pub trait ReadSide: Sync {
        /// The read connections and the dialect.
        fn read_side(&self) -> &super::ReadOnlyStore;
    }
}

/// Reads: certificates, robots, components, their standing for relying
/// parties, lifecycle states, operator records and the audit log. Nothing
/// here writes. Implemented by [`Store`] and by its read-only handle
/// [`ReadOnlyStore`] ([`Store::reader`]), from the same code.
pub trait Reads: sealed::ReadSide {
    /// Whether the database answers.
    fn health(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A certificate by serial (any case of hex), whatever its status.
    fn certificate(
        &self,
        serial_hex: &str,
    ) -> impl Future<Output = Result<Option<CertificateRecord>, StoreError>> + Send;

    /// The robot's live certificate: issued, or pending (being signed).
    /// Superseded and failed ones are history, not live.
    fn live_certificate(
        &self,
        robot_id: &str,
    ) -> impl Future<Output = Result<Option<CertificateRecord>, StoreError>> + Send;

    /// A robot by ID.
    fn robot(
        &self,
        robot_id: &str,
    ) -> impl Future<Output = Result<Option<RobotRecord>, StoreError>> + Send;

    /// The key components certified in a certificate, in request order.
    fn components(
        &self,
        serial_hex: &str,
    ) -> impl Future<Output = Result<Vec<ComponentRecord>, StoreError>> + Send;

    /// How many certificates the registry holds, in any status (pending,
    /// issued, failed, superseded): every serial ever recorded.
    fn count_certificates(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// A manufacturer by code.
    fn manufacturer(
        &self,
        code: &str,
    ) -> impl Future<Output = Result<Option<ManufacturerRecord>, StoreError>> + Send;

    /// A model type approved for a manufacturer.
    fn model(
        &self,
        manufacturer_code: &str,
        model: &str,
    ) -> impl Future<Output = Result<Option<ModelRecord>, StoreError>> + Send;

    /// A client credential by serial (any case of hex).
    fn credential(
        &self,
        serial_hex: &str,
    ) -> impl Future<Output = Result<Option<Credential>, StoreError>> + Send;

    /// The last `limit` entries of the audit log, for one subject or for
    /// all, oldest first (newest last).
    fn audit(
        &self,
        subject: Option<&str>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    /// The robot's state: from its head, `manufactured` if it has a signed
    /// certificate but no history yet, None if it has neither.
    fn lifecycle_state(
        &self,
        robot_id: &str,
    ) -> impl Future<Output = Result<Option<LifeState>, StoreError>> + Send;

    /// The recorded states of those of `robot_ids` that have a history.
    fn lifecycle_states(
        &self,
        robot_ids: &[String],
    ) -> impl Future<Output = Result<Vec<(String, LifeState)>, StoreError>> + Send;

    /// The robot's signed certificates (serial, DER) in the order they
    /// were issued: each before the one that superseded it, so the last is
    /// the robot's current certificate.
    fn signed_certificates(
        &self,
        robot_id: &str,
    ) -> impl Future<Output = Result<Vec<(String, Vec<u8>)>, StoreError>> + Send;

    /// The revocation row of `serial_hex`, if it was ever revoked or held.
    fn revocation(
        &self,
        serial_hex: &str,
    ) -> impl Future<Output = Result<Option<RevocationRecord>, StoreError>> + Send;

    /// The standing of each signed certificate among `serials` (hex, any
    /// case); serials not signed by this CA are absent from the answer.
    fn standing_of_serials(
        &self,
        serials: &[String],
    ) -> impl Future<Output = Result<HashMap<String, CertificateStanding>, StoreError>> + Send;

    /// The current certificate of each robot among `robot_ids`: its live
    /// certificate, else its most recently signed one. Robots with no
    /// signed certificate are absent from the answer.
    fn standing_of_robots(
        &self,
        robot_ids: &[String],
    ) -> impl Future<Output = Result<HashMap<String, CertificateStanding>, StoreError>> + Send;
}

/// Issuance: the serial and the request are recorded (pending) before the
/// signer runs, the certificate is recorded (issued) before it is
/// returned, and a request that dies in between is marked failed.
pub trait Issuance {
    /// Records a batch of vetted requests before signing, in one
    /// transaction, and returns one outcome per intent, in order. Only
    /// [`BeginOutcome::Proceed`] wrote anything: the robot (if new), the
    /// certificate as pending with its serial and CSR, its components, and an
    /// audit entry; a declared re-issue also marked the robot's issued
    /// certificate superseded. A refused intent does not affect the others.
    ///
    /// Errors concern the whole batch, which is then not recorded at all:
    /// a serial already recorded or repeated in the batch (Conflict, never an
    /// overwrite), invalid serials, database failures.
    fn begin_issuance(
        &self,
        intents: &[IssuanceIntent],
        actor: &str,
    ) -> impl Future<Output = Result<Vec<BeginOutcome>, StoreError>> + Send;

    /// Records signed certificates as issued (DER and time), in one
    /// transaction, durable when it returns. Completing a certificate again
    /// with the same DER is a no-op. The whole batch is refused, and nothing
    /// recorded, if a serial is unknown (NotFound) or not pending (Conflict:
    /// abandoned, superseded, or issued with another DER).
    fn complete_issuance(
        &self,
        done: &[(String, Vec<u8>)],
        actor: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records one re-issued certificate as issued and appends the
    /// lifecycle event that caused it (a component replacement), in one
    /// transaction: both or neither. The event goes through the lifecycle
    /// state machine as [`Lifecycle::append_event`] would; `supersedes`
    /// names the certificate the event says was replaced, and the
    /// transaction is refused (`robot.live_certificate`) unless the re-issue
    /// superseded exactly that one. On any refusal the certificate stays
    /// pending, never released; the caller abandons it.
    fn complete_with_event(
        &self,
        serial_hex: &str,
        der: &[u8],
        supersedes: Option<&str>,
        event: &NewEvent<'_>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// Marks pending certificates failed (never signed, or signed and never
    /// released), so that their robots can try again. Serials that are not
    /// pending are left as they are: an issued certificate is never undone.
    fn abandon_issuance(
        &self,
        serials: &[String],
        reason: &str,
        actor: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks failed every certificate still pending that was recorded
    /// before `created_before` (unix seconds), and returns how many. A
    /// crash between recording and completing leaves rows pending, and a
    /// pending row blocks its robot; at start a single server passes "now",
    /// servers sharing a PostgreSQL pass a time older than any request
    /// could take. Should such a certificate have been signed after all,
    /// completing it is refused: it was never released.
    fn abandon_stale_issuance(
        &self,
        created_before: i64,
        actor: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// Revocations and holds of robot certificates, the feed of changes that
/// OCSP and CRLs follow, and CRL numbers.
pub trait Revocations {
    /// Revokes the certificate `serial_hex` for good. Idempotent for the
    /// same reason; a revoked certificate's reason can only be raised to
    /// keyCompromise. certificateHold is refused: use [`Revocations::hold`].
    fn revoke(
        &self,
        serial_hex: &str,
        reason: Reason,
        actor: &str,
    ) -> impl Future<Output = Result<Change, StoreError>> + Send;

    /// Puts the live certificate `serial_hex` on hold. Idempotent.
    fn hold(
        &self,
        serial_hex: &str,
        actor: &str,
    ) -> impl Future<Output = Result<Change, StoreError>> + Send;

    /// Releases the hold on `serial_hex`: it is good again. Idempotent for a
    /// hold already released.
    fn release(
        &self,
        serial_hex: &str,
        actor: &str,
    ) -> impl Future<Output = Result<Change, StoreError>> + Send;

    /// Revocation rows changed at or after `since` (unix seconds).
    fn revocations_changed_since(
        &self,
        since: i64,
    ) -> impl Future<Output = Result<Vec<RevocationRecord>, StoreError>> + Send;

    /// Certificates superseded at or after `since`: serial and when.
    fn superseded_since(
        &self,
        since: i64,
    ) -> impl Future<Output = Result<Vec<(String, i64)>, StoreError>> + Send;

    /// Serials of certificates signed at or after `since` (unix seconds).
    fn issued_since(
        &self,
        since: i64,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The change log's size: the index of its last entry (0: empty).
    fn change_log_size(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// The certificate changes logged after index `after` (at most `limit`
    /// entries of the log), with the rows they name as they stand now, and
    /// the last index read. Servers follow the registry with this, by
    /// index, so no change is missed however late it committed.
    fn certificate_changes_after(
        &self,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<LoggedChanges, StoreError>> + Send;

    /// The next CRL number of `issuer_id`: one more than any number handed
    /// out before, by this server or another on the same registry.
    fn next_crl_number(
        &self,
        issuer_id: &str,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
}

/// The lifecycle registry: each robot's hash-chained history.
pub trait Lifecycle {
    /// Appends an event to the robot's history if the state machine allows
    /// it, with its effect on the live certificate, in one transaction.
    /// Refusals are [`StoreError::Refused`] with the rule and a detail
    /// naming the current state.
    fn append_event(
        &self,
        new: &NewEvent<'_>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// The robot's whole history, oldest first, writing its `manufactured`
    /// event first if it has none yet (which is why it is not a
    /// [`Reads`] method). NotFound for an unknown robot; Refused
    /// (`lifecycle.not_manufactured`) for one never certified.
    fn lifecycle_events(
        &self,
        robot_id: &str,
    ) -> impl Future<Output = Result<Vec<LifecycleEvent>, StoreError>> + Send;
}

/// The operator's records: manufacturers, model types and API credentials.
/// (Looking them up is [`Reads`].)
pub trait Admin {
    /// Registers a manufacturer. Conflict if its code is taken.
    fn add_manufacturer(
        &self,
        m: &ManufacturerRecord,
        actor: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Activates or deactivates a manufacturer; NotFound if unknown. Setting
    /// the state it already has changes nothing and logs nothing.
    fn set_manufacturer_active(
        &self,
        code: &str,
        active: bool,
        actor: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Approves a model type for a manufacturer. Conflict if it exists;
    /// NotFound if the manufacturer is unknown.
    fn add_model(
        &self,
        m: &ModelRecord,
        actor: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a client credential the CA issued. Conflict if the serial is
    /// taken; NotFound if its manufacturer is unknown; Invalid if the role
    /// and the manufacturer code disagree (a manufacturer credential names
    /// its manufacturer, an operator credential none).
    fn add_credential(
        &self,
        c: &Credential,
        actor: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Revokes a client credential; NotFound if unknown. Revoking it again
    /// changes nothing and keeps the first revocation time.
    fn revoke_credential(
        &self,
        serial_hex: &str,
        actor: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl sealed::ReadSide for ReadOnlyStore {
    fn read_side(&self) -> &ReadOnlyStore {
        self
    }
}

impl sealed::ReadSide for super::Store {
    fn read_side(&self) -> &ReadOnlyStore {
        &self.read
    }
}
