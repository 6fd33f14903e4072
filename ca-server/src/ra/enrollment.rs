//! Enrollment, certificate by certificate: what happens to each CSR, in
//! order. The scheduler (`scheduler.rs`) decides how many go together and
//! overlaps the stages of one run chunk by chunk; this module says what
//! each stage does to each item:
//!
//! 1. **check** the CSR: decode, verify its signature (proof of
//!    possession), the robot ID's manufacturer is the caller ([`intake`]);
//! 2. **vet** it against the registry's facts (manufacturer active, model
//!    approved, parameters and components: `robotid_issuer::vetting`);
//! 3. **prepare and lint** the certificate (`Signer::prepare`: the exact
//!    to-be-signed bytes, linted);
//! 4. **record** the serial and the request durably, deciding under the
//!    registry's lock whether the robot may have it ([`Enrollment::record`]);
//! 5. **sign** the linted bytes with the issuing key (`Signer::issue`,
//!    which checks the signature and the profile of the result);
//! 6. **complete**: record the certificate as issued, durably, before
//!    anything is answered ([`Enrollment::complete`]).
//!
//! That is Boulder's durable order: nothing is signed that the registry
//! does not know, and nothing is released that it has not recorded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use robotid_issuer::csr::{self, VerifiedCsr};
use robotid_issuer::signer::{IssueError, PreparedCertificate, Signer};
use robotid_issuer::vetting::{self, ManufacturerRecord, ModelRecord};
use robotid_verifier::history::{EventKind, LifeState};
use robotid_verifier::robot_id::RobotId;
use time::OffsetDateTime;

use crate::store::roles::{Issuance, Reads};
use robotid_verifier::rule::{Kind, Rule};

use super::facts::Facts;
use super::{Refusal, registry_refusal};
use crate::ca::Ca;
use crate::store::{
    Appended, BeginOutcome, CertStatus, ComponentRecord, IssuanceIntent, NewEvent, Store,
};

/// A certificate given to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// Serial, hex.
    pub serial: String,
    /// Robot ID.
    pub robot_id: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Whether it was issued by this request (false: an identical request
    /// was answered before, and this is the same certificate).
    pub new: bool,
    /// The lifecycle event recorded with it in one transaction, for a
    /// re-issue caused by one (a component replacement).
    pub event: Option<Box<Appended>>,
}

/// The lifecycle event that causes a re-issue (a component replacement):
/// recorded in the transaction that completes the new certificate, so that
/// both are recorded or neither.
#[derive(Clone, Debug)]
pub struct Cause {
    /// What happened.
    pub kind: EventKind,
    /// The certificate the event says is replaced (the robot's live one as
    /// the RA read it); the completion refuses if the re-issue superseded
    /// another.
    pub supersedes: Option<String>,
    /// The event's details but the new certificate's serial, which
    /// completion adds as `new_serial`.
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// The enrollment stages, over the signer (the only holder of the issuing
/// key), the registry and the facts it has read.
pub struct Enrollment {
    signer: Arc<Signer>,
    store: Store,
    facts: Facts,
}

/// How long a request waits for an identical request that is being issued
/// by another request to complete.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(10);

/// One request item on its way through enrollment.
pub(super) enum Item {
    Refused(Refusal),
    Verified(Box<VerifiedCsr>),
    Prepared(Box<(VerifiedCsr, PreparedCertificate, Vec<ComponentRecord>)>),
    Waiting(String),
    /// Signing failed after the serial was recorded: the row is abandoned
    /// and the item answered with the refusal.
    SignFailed(String, Refusal),
    /// The same CSR as an earlier item of this run: it gets that answer.
    SameAs(usize),
    Done(Delivered),
}

/// A CSR handed to [`scheduler::run`](super::scheduler): as received, or already
/// checked by [`Enrollment::check`] (parsed, its signature verified, its
/// robot ID's manufacturer compared with the caller's).
pub struct CsrInput(InputKind);

enum InputKind {
    Raw(Vec<u8>),
    Checked(Item),
}

impl CsrInput {
    /// A CSR (PEM or DER) as received, checked in the run.
    pub fn raw(bytes: Vec<u8>) -> Self {
        Self(InputKind::Raw(bytes))
    }

    /// A CSR decoded and verified already (by the RA, to read its robot
    /// ID), for manufacturer `owner`: the run does not decode it again.
    pub fn verified(csr: VerifiedCsr, owner: &str) -> Self {
        Self(InputKind::Checked(owned(csr, owner)))
    }
}

/// Fewest items [`par_map`] spreads over the cores. Each item is a CSR
/// check, a preparation or a signature (20-75 µs); eight are worth the
/// threads' start (tens of µs). With 64, the runs of single-CSR requests
/// (typically 5-30 items) used one core while the other idled: 10-18 %
/// fewer certificates/s at 64 connections (decision 0007).
const PAR_MIN: usize = 8;

/// Runs `f` over `items` on every core, keeping order.
fn par_map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if items.len() < PAR_MIN || threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut iter = items.into_iter().peekable();
    while iter.peek().is_some() {
        chunks.push(iter.by_ref().take(chunk).collect());
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(move || c.into_iter().map(f).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

impl Enrollment {
    /// Enrollment through the CA's signer into its registry.
    pub fn new(ca: &Ca) -> Self {
        Self {
            signer: Arc::clone(&ca.signer),
            store: ca.store.clone(),
            facts: Facts::default(),
        }
    }

    /// The registered, active-when-read manufacturer `code`, or a refusal.
    pub(super) async fn manufacturer(
        &self,
        code: &str,
    ) -> Result<Arc<ManufacturerRecord>, Refusal> {
        self.facts
            .manufacturer(&self.store, code)
            .await
            .map_err(Refusal::internal)?
            .ok_or_else(|| {
                Refusal::new(
                    Rule::ManufacturerRegistered,
                    format!("manufacturer {code} is not registered"),
                )
            })
    }

    /// Checks a CSR for manufacturer `code` ahead of its run: parse,
    /// signature (proof of possession), the robot ID's manufacturer; then,
    /// if the manufacturer and model are known from earlier runs
    /// ([`Facts`]), vetting and the certificate's preparation. The pipeline
    /// does this for small requests as they arrive, on their own tasks, so
    /// that a run of single-CSR requests starts with the registry's writer
    /// rather than with its members' checks (decision 0007).
    pub fn check(&self, bytes: &[u8], code: &str) -> CsrInput {
        let item = match intake(bytes, code) {
            Item::Verified(v) => {
                let known = self.facts.known_manufacturer(code).and_then(|m| {
                    let model = self.facts.known_model(code, &v.identity.model)?;
                    Some((m, model))
                });
                match known {
                    Some((m, model)) => {
                        self.vet_and_prepare(*v, &m, Some(&model), OffsetDateTime::now_utc())
                    }
                    None => Item::Verified(v),
                }
            }
            other => other,
        };
        CsrInput(InputKind::Checked(item))
    }

    /// Vets a verified CSR against the registry's facts and prepares its
    /// certificate.
    fn vet_and_prepare(
        &self,
        v: VerifiedCsr,
        manufacturer: &ManufacturerRecord,
        model: Option<&ModelRecord>,
        now: OffsetDateTime,
    ) -> Item {
        match vetting::vet(&v, manufacturer, model) {
            Err(r) => Item::Refused(Refusal::from(&r)),
            Ok(vetted) => match self.signer.prepare(&vetted, now) {
                Ok(p) => {
                    let components = component_records(&vetted.identity().components);
                    Item::Prepared(Box::new((v, p, components)))
                }
                Err(e) => Item::Refused(issue_problem(&e)),
            },
        }
    }

    /// The answers of a run, in request order: a certificate, a refusal,
    /// or the answer of an identical request (the first of the run, or one
    /// being issued by another run).
    pub(super) async fn answer(&self, slots: Vec<Option<Item>>) -> Vec<Result<Delivered, Refusal>> {
        let signed: Vec<Item> = slots
            .into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| Item::Refused(Refusal::internal("enrollment lost an item")))
            })
            .collect();
        let mut results = Vec::with_capacity(signed.len());
        for item in signed {
            results.push(match item {
                Item::Done(d) => Ok(d),
                Item::Refused(p) => {
                    metrics::counter!("robotid_enroll_refused_total", "rule" => p.rule.as_str())
                        .increment(1);
                    Err(p)
                }
                Item::SignFailed(_, refusal) => Err(refusal),
                Item::Waiting(serial) => self.wait_for(&serial).await,
                Item::SameAs(first) => match results.get(first) {
                    Some(Ok(d)) => Ok(Delivered {
                        new: false,
                        event: None,
                        ..Clone::clone(d)
                    }),
                    Some(Err(p)) => Err(Clone::clone(p)),
                    None => Err(Refusal::internal("a repeated CSR refers to a later item")),
                },
                Item::Verified(_) | Item::Prepared(_) => {
                    Err(Refusal::internal("enrollment left an item unfinished"))
                }
            });
        }
        results
    }

    /// Records one chunk of prepared items before signing; items the
    /// registry does not let proceed get their answer here.
    pub(super) async fn record(
        &self,
        chunk: Vec<(usize, Item)>,
        code: &str,
        actor: &str,
        reissue: bool,
    ) -> Vec<(usize, Item)> {
        let chunk = if reissue {
            self.refuse_ended(chunk).await
        } else {
            chunk
        };
        let intents: Vec<IssuanceIntent> = chunk
            .iter()
            .filter_map(|(_, item)| match item {
                Item::Prepared(b) => {
                    let (v, p, components) = &**b;
                    Some(IssuanceIntent {
                        robot_id: p.robot_id().to_owned(),
                        manufacturer_code: code.to_owned(),
                        model: v.identity.model.clone(),
                        serial_hex: hex::encode(p.serial()),
                        csr_sha256: sha256(&v.der),
                        spki_sha256: sha256(&v.spki_der),
                        csr_der: v.der.clone(),
                        reissue,
                        not_before: p.not_before().unix_timestamp(),
                        not_after: p.not_after().unix_timestamp(),
                        components: components.clone(),
                    })
                }
                _ => None,
            })
            .collect();
        let outcomes = match self.store.begin_issuance(&intents, actor).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                // Nothing of this chunk was recorded, so nothing was signed.
                let problem = Refusal::internal(e);
                return chunk
                    .into_iter()
                    .map(|(i, _)| (i, Item::Refused(problem.clone())))
                    .collect();
            }
        };
        let mut outcomes = outcomes.into_iter();
        chunk
            .into_iter()
            .map(|(i, item)| {
                let item = match item {
                    Item::Prepared(b) => match outcomes.next() {
                        Some(BeginOutcome::Proceed) => Item::Prepared(b),
                        Some(BeginOutcome::Existing(record)) => match record.der {
                            Some(der) => Item::Done(Delivered {
                                serial: record.serial_hex,
                                robot_id: record.robot_id,
                                der,
                                new: false,
                                event: None,
                            }),
                            None => Item::Waiting(record.serial_hex),
                        },
                        Some(BeginOutcome::InProgress { serial_hex }) => Item::Waiting(serial_hex),
                        Some(BeginOutcome::Refused { rule, detail }) => Item::Refused(
                            Refusal::new(rule, detail)
                                .as_kind(Kind::Conflict)
                                .at("robot_id", b.1.robot_id().to_owned()),
                        ),
                        None => Item::Refused(Refusal::internal(
                            "the registry returned fewer outcomes than intents",
                        )),
                    },
                    other => other,
                };
                (i, item)
            })
            .collect()
    }

    /// A declared re-issue for a robot whose life has ended (decommissioned
    /// or recycled) is refused, naming the state and the rule: no
    /// certificate is issued after decommissioning.
    async fn refuse_ended(&self, chunk: Vec<(usize, Item)>) -> Vec<(usize, Item)> {
        let ids: Vec<String> = chunk
            .iter()
            .filter_map(|(_, item)| match item {
                Item::Prepared(b) => Some(b.1.robot_id().to_owned()),
                _ => None,
            })
            .collect();
        if ids.is_empty() {
            return chunk;
        }
        let ended: HashMap<String, LifeState> = match self.store.lifecycle_states(&ids).await {
            Ok(states) => states.into_iter().filter(|(_, s)| s.is_ended()).collect(),
            Err(e) => {
                let refusal = Refusal::internal(e);
                return chunk
                    .into_iter()
                    .map(|(i, _)| (i, Item::Refused(refusal.clone())))
                    .collect();
            }
        };
        chunk
            .into_iter()
            .map(|(i, item)| match item {
                Item::Prepared(b) => match ended.get(b.1.robot_id()) {
                    Some(state) => {
                        let id = b.1.robot_id().to_owned();
                        let refusal = Refusal::new(
                            Rule::LifecycleDecommissioned,
                            format!(
                                "robot {id} is {}: no certificate is issued after decommissioning",
                                state.as_str()
                            ),
                        )
                        .at("robot_id", id);
                        (i, Item::Refused(refusal))
                    }
                    None => (i, Item::Prepared(b)),
                },
                other => (i, other),
            })
            .collect()
    }

    /// Signs the recorded items of one chunk, on every core.
    pub(super) fn sign(&self, chunk: Vec<(usize, Item)>) -> Vec<(usize, Item)> {
        par_map(chunk, |(i, item)| {
            let item = match item {
                Item::Prepared(b) => {
                    let (_, prepared, _) = *b;
                    let serial = hex::encode(prepared.serial());
                    let robot_id = prepared.robot_id().to_owned();
                    match self.signer.issue(prepared) {
                        Ok(issued) => Item::Done(Delivered {
                            serial,
                            robot_id,
                            der: issued.der,
                            new: true,
                            event: None,
                        }),
                        Err(e) => {
                            tracing::error!(%serial, error = %e, "signing failed after the serial was recorded");
                            Item::SignFailed(serial, Refusal::signing(&e))
                        }
                    }
                }
                other => other,
            };
            (i, item)
        })
    }

    /// Records the signed certificates of one chunk as issued (durably,
    /// before any is answered) and abandons those whose signing failed.
    pub(super) async fn complete(
        &self,
        chunk: Vec<(usize, Item)>,
        actor: &str,
        cause: Option<&Cause>,
    ) -> Vec<(usize, Item)> {
        if let Some(cause) = cause {
            return self.complete_caused(chunk, actor, cause).await;
        }
        let done: Vec<(String, Vec<u8>)> = chunk
            .iter()
            .filter_map(|(_, i)| match i {
                Item::Done(d) if d.new => Some((d.serial.clone(), d.der.clone())),
                _ => None,
            })
            .collect();
        let failed: Vec<String> = chunk
            .iter()
            .filter_map(|(_, i)| match i {
                Item::SignFailed(s, _) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let mut not_recorded: Option<Refusal> = None;
        if !done.is_empty() {
            match self.store.complete_issuance(&done, actor).await {
                Ok(()) => {
                    metrics::counter!("robotid_certificates_issued_total")
                        .increment(u64::try_from(done.len()).unwrap_or(0));
                }
                // Signed but not recorded as issued: never released; the
                // rows stay pending until marked failed.
                Err(e) => not_recorded = Some(Refusal::internal(e)),
            }
        }
        if !failed.is_empty()
            && let Err(e) = self
                .store
                .abandon_issuance(&failed, "signing failed", actor)
                .await
        {
            tracing::error!(error = %e, "could not mark failed signings as abandoned");
        }
        match not_recorded {
            None => chunk,
            Some(problem) => chunk
                .into_iter()
                .map(|(i, item)| match item {
                    Item::Done(d) if d.new => (i, Item::Refused(problem.clone())),
                    other => (i, other),
                })
                .collect(),
        }
    }

    /// Completes the re-issue of a run caused by a lifecycle event (one
    /// CSR, in a run of its own): the certificate is recorded as issued and
    /// the event appended in one transaction. If the registry refuses the
    /// event, the certificate is never released and is abandoned at once.
    async fn complete_caused(
        &self,
        chunk: Vec<(usize, Item)>,
        actor: &str,
        cause: &Cause,
    ) -> Vec<(usize, Item)> {
        let mut out = Vec::with_capacity(chunk.len());
        for (i, item) in chunk {
            let item = match item {
                Item::Done(d) if d.new => {
                    let mut details = cause.details.clone();
                    details.insert("new_serial".into(), d.serial.clone().into());
                    let event = NewEvent {
                        robot_id: &d.robot_id,
                        kind: cause.kind,
                        actor,
                        payload: serde_json::Value::Object(details),
                    };
                    match self
                        .store
                        .complete_with_event(&d.serial, &d.der, cause.supersedes.as_deref(), &event)
                        .await
                    {
                        Ok(appended) => {
                            metrics::counter!("robotid_certificates_issued_total").increment(1);
                            Item::Done(Delivered {
                                event: Some(Box::new(appended)),
                                ..d
                            })
                        }
                        Err(e) => {
                            let refusal = registry_refusal(e);
                            let reason = format!(
                                "{} refused with the certificate: {}",
                                cause.kind.as_str(),
                                refusal.rule.as_str()
                            );
                            if let Err(e) = self
                                .store
                                .abandon_issuance(std::slice::from_ref(&d.serial), &reason, actor)
                                .await
                            {
                                tracing::error!(serial = %d.serial, error = %e,
                                    "could not abandon a certificate whose event was refused");
                            }
                            Item::Refused(refusal)
                        }
                    }
                }
                Item::SignFailed(serial, refusal) => {
                    if let Err(e) = self
                        .store
                        .abandon_issuance(std::slice::from_ref(&serial), "signing failed", actor)
                        .await
                    {
                        tracing::error!(error = %e, "could not mark a failed signing as abandoned");
                    }
                    Item::SignFailed(serial, refusal)
                }
                other => other,
            };
            out.push((i, item));
        }
        out
    }

    /// Checks and prepares one chunk of requests on every core: CSR intake,
    /// vetting against the registry's facts, the certificate's preparation;
    /// items checked and prepared ahead pass through. A failure of the CA
    /// refuses the chunk's requests (500) rather than the run, of which
    /// earlier chunks may already be recorded.
    pub(super) async fn prepare_chunk(
        self: &Arc<Self>,
        chunk: Vec<(usize, CsrInput)>,
        code: &str,
        manufacturer: &Arc<ManufacturerRecord>,
    ) -> Vec<(usize, Item)> {
        let indices: Vec<usize> = chunk.iter().map(|(i, _)| *i).collect();
        let refuse_all = |indices: Vec<usize>, problem: Refusal| -> Vec<(usize, Item)> {
            indices
                .into_iter()
                .map(|i| (i, Item::Refused(problem.clone())))
                .collect()
        };
        let owner = code.to_owned();
        let check = move |(i, input): (usize, CsrInput)| match input.0 {
            InputKind::Raw(bytes) => (i, intake(&bytes, &owner)),
            InputKind::Checked(item) => (i, item),
        };
        let all_checked = chunk
            .iter()
            .all(|(_, input)| matches!(input.0, InputKind::Checked(_)));
        let items = match if all_checked {
            Ok(chunk.into_iter().map(check).collect())
        } else {
            blocking(move || par_map(chunk, check)).await
        } {
            Ok(items) => items,
            Err(problem) => return refuse_all(indices, problem),
        };
        if !items
            .iter()
            .any(|(_, item)| matches!(item, Item::Verified(_)))
        {
            return items;
        }
        let models = match self.load_models(code, &items).await {
            Ok(models) => models,
            Err(problem) => return refuse_all(indices, problem),
        };
        let manufacturer = Arc::clone(manufacturer);
        let this = Arc::clone(self);
        let prepared = blocking(move || {
            let now = OffsetDateTime::now_utc();
            par_map(items, |(i, item)| {
                let item = match item {
                    Item::Verified(v) => {
                        let model = models.get(&v.identity.model).map(|m| &**m);
                        this.vet_and_prepare(*v, &manufacturer, model, now)
                    }
                    other => other,
                };
                (i, item)
            })
        })
        .await;
        prepared.unwrap_or_else(|problem| refuse_all(indices, problem))
    }

    /// The registered models of the verified `items` (absent if not
    /// registered).
    async fn load_models(
        &self,
        code: &str,
        items: &[(usize, Item)],
    ) -> Result<HashMap<String, Arc<ModelRecord>>, Refusal> {
        let mut models = HashMap::new();
        for (_, item) in items {
            if let Item::Verified(v) = item {
                let name = &v.identity.model;
                if !models.contains_key(name)
                    && let Some(m) = self
                        .facts
                        .model(&self.store, code, name)
                        .await
                        .map_err(Refusal::internal)?
                {
                    models.insert(name.clone(), m);
                }
            }
        }
        Ok(models)
    }

    /// Waits for an identical request being issued elsewhere to finish.
    async fn wait_for(&self, serial: &str) -> Result<Delivered, Refusal> {
        let deadline = tokio::time::Instant::now() + IN_PROGRESS_WAIT;
        loop {
            let record = self
                .store
                .certificate(serial)
                .await
                .map_err(Refusal::internal)?;
            match record {
                Some(r) if r.status == CertStatus::Issued => {
                    if let Some(der) = r.der {
                        return Ok(Delivered {
                            serial: r.serial_hex,
                            robot_id: r.robot_id,
                            der,
                            new: false,
                            event: None,
                        });
                    }
                }
                Some(r) if r.status == CertStatus::Pending => {}
                _ => {
                    return Err(Refusal::new(
                        Rule::RobotInProgressFailed,
                        "an identical request was being issued and did not complete; submit again",
                    ));
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Refusal::new(
                    Rule::RobotInProgress,
                    "an identical request is still being issued; submit again shortly",
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What a run has seen so far of the requests it lets through, in order:
/// identical CSRs in one run (a client retrying while its first request is
/// still queued) are issued once and answered alike; one robot with two
/// different requests in one run goes on with the first, and the others
/// are refused, for the whole run, since the run is recorded in several
/// transactions.
#[derive(Default)]
pub(super) struct Repeats {
    first_of_csr: HashMap<Vec<u8>, usize>,
    first_of_robot: HashMap<String, usize>,
}

impl Repeats {
    /// Sorts out a prepared chunk (in request order, after every earlier
    /// chunk): the items to record are returned, the others' answers go in
    /// `slots`.
    pub(super) fn sort_out(
        &mut self,
        chunk: Vec<(usize, Item)>,
        slots: &mut [Option<Item>],
    ) -> Vec<(usize, Item)> {
        let mut to_record = Vec::with_capacity(chunk.len());
        for (i, item) in chunk {
            let item = match item {
                Item::Prepared(b) => self.check(i, b),
                other => other,
            };
            match item {
                Item::Prepared(_) => to_record.push((i, item)),
                other => {
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = Some(other);
                    }
                }
            }
        }
        to_record
    }

    fn check(
        &mut self,
        i: usize,
        b: Box<(VerifiedCsr, PreparedCertificate, Vec<ComponentRecord>)>,
    ) -> Item {
        use std::collections::hash_map::Entry;
        match self.first_of_csr.entry(sha256(&b.0.der)) {
            Entry::Occupied(first) => return Item::SameAs(*first.get()),
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
        let robot_id = b.1.robot_id();
        match self.first_of_robot.get(robot_id) {
            Some(first) => Item::Refused(
                Refusal::new(
                    Rule::RobotDuplicateInBatch,
                    format!("robot {robot_id} appears again in this batch (items {first} and {i})"),
                )
                .at("robot_id", robot_id.to_owned()),
            ),
            None => {
                self.first_of_robot.insert(robot_id.to_owned(), i);
                Item::Prepared(b)
            }
        }
    }
}

fn intake(bytes: &[u8], owner: &str) -> Item {
    let der = match csr::decode_pem_or_der(bytes) {
        Ok(der) => der,
        Err(e) => return Item::Refused(Refusal::from(&e)),
    };
    match csr::verify(&der) {
        Ok(v) => owned(v, owner),
        Err(e) => Item::Refused(Refusal::from(&e)),
    }
}

/// A verified CSR goes on only if its robot ID carries the caller's code:
/// another manufacturer's robot ID is an authorisation failure, decided
/// before any vetting detail is revealed.
fn owned(verified: VerifiedCsr, owner: &str) -> Item {
    if let Ok(id) = RobotId::parse(&verified.identity.robot_id)
        && id.manufacturer_code() != owner
    {
        return Item::Refused(
            Refusal::new(
                Rule::RobotForeign,
                format!(
                    "robot ID {id} carries manufacturer code {}, not yours ({owner})",
                    id.manufacturer_code()
                ),
            )
            .at("robot_id", id.as_str()),
        );
    }
    Item::Verified(Box::new(verified))
}

/// The registry's records of the key components `components` certify.
pub(super) fn component_records(
    components: &[robotid_verifier::identity::KeyComponent],
) -> Vec<ComponentRecord> {
    components
        .iter()
        .map(|c| ComponentRecord {
            kind: c.kind.clone(),
            part_number: c.part_number.clone(),
            supplier: c.supplier.clone(),
            serial: c.serial.clone(),
            digests: c.digests.iter().map(ToString::to_string).collect(),
        })
        .collect()
}

fn issue_problem(e: &IssueError) -> Refusal {
    match e {
        IssueError::Identity(inner) => Refusal::new(Rule::IdentityProfile, inner.to_string()),
        IssueError::Lint(v) => Refusal::new(
            Rule::CertificateLint,
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => Refusal::internal(other),
    }
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Refusal::internal)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::ca::CaCertificates;
    use crate::ra::scheduler::run;
    use crate::store::roles::Admin;
    use rcgen::KeyPair;
    use robotid_issuer::ceremony::{self, CaConfig};
    use robotid_issuer::signer::SignerConfig;
    use robotid_issuer::vetting::ManufacturerRecord;
    use robotid_verifier::identity::{
        DateTime, DigestAlgorithm, KeyComponent, Manufacturer, RobotIdentity, TechnicalParameter,
    };
    use robotid_verifier::rules::ModelRules;

    fn csr(serial: &str, key: &KeyPair) -> Vec<u8> {
        csr_of_height(serial, key, 1650)
    }

    fn csr_of_height(serial: &str, key: &KeyPair, height_mm: i64) -> Vec<u8> {
        let id = RobotId::new("UBX", "WK5", serial).unwrap();
        let identity = RobotIdentity {
            robot_id: id.as_str().into(),
            manufacturer: Manufacturer {
                code: "UBX".into(),
                name: "UBX".into(),
                country: "CN".into(),
            },
            model: "WK5".into(),
            production_date: DateTime::new(2026, 11, 20, 0, 0, 0).unwrap(),
            parameters: vec![TechnicalParameter {
                name: "height_mm".into(),
                value: height_mm,
                unit: "mm".into(),
            }],
            components: vec![KeyComponent {
                kind: "main-controller".into(),
                part_number: "P-1".into(),
                supplier: "Supplier".into(),
                serial: format!("mc-{serial}"),
                digests: vec![DigestAlgorithm::Sha256.digest(b"fw")],
            }],
        };
        csr::create(&identity, key).unwrap()
    }

    /// An authority on a new CA and SQLite registry in `dir`, with
    /// manufacturer UBX and its model WK5 (height 1-2000 mm).
    async fn authority(dir: &std::path::Path) -> Arc<Enrollment> {
        let config = CaConfig {
            name: "Test".into(),
            public_url: "http://127.0.0.1:8080".into(),
        };
        ceremony::init(&dir.join("ca"), &config).unwrap();
        let ca = ceremony::load(&dir.join("ca")).unwrap();
        let (issuing_der, root_der) = (ca.issuing_der.clone(), ca.root_der.clone());
        let signer = ca
            .into_signer(SignerConfig::new(config.public_url))
            .unwrap();
        let url = format!("sqlite:{}", dir.join("registry.db").display());
        let store = Store::connect(&url).await.unwrap();
        store
            .add_manufacturer(
                &ManufacturerRecord {
                    code: "UBX".into(),
                    name: "Example Robotics Ltd".into(),
                    country: "CN".into(),
                    active: true,
                },
                "test",
            )
            .await
            .unwrap();
        let rules =
            ModelRules::from_toml("[parameters.height_mm]\nmin=1\nmax=2000\n", "test").unwrap();
        store
            .add_model(
                &ModelRecord {
                    manufacturer_code: "UBX".into(),
                    model: "WK5".into(),
                    rules,
                },
                "test",
            )
            .await
            .unwrap();
        Arc::new(Enrollment::new(&Ca {
            signer: Arc::new(signer),
            store,
            certs: CaCertificates {
                name: "Test".into(),
                root_der,
                issuing_der,
                chain_pem: String::new(),
                root_pem: String::new(),
            },
        }))
    }

    /// A run recorded in chunks of two: every answer in order, duplicates
    /// and repeats refused or answered alike across chunks, every issued
    /// certificate recorded as issued.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_in_chunks_answers_each_request_as_one_transaction_would() {
        let dir = tempfile::tempdir().unwrap();
        let authority = authority(dir.path()).await;
        let (a, b) = (KeyPair::generate().unwrap(), KeyPair::generate().unwrap());
        let first = csr("00000001", &a);
        let csrs = vec![
            first.clone(),
            csr("00000002", &a),
            csr("00000003", &a),
            first, // the same CSR as item 0
            b"garbage".to_vec(),
            csr("00000002", &b), // robot of item 1, another key
            csr("00000004", &a),
            csr("00000005", &a),
        ];
        // Checked ahead (as the pipeline does for small requests) or in the
        // run: the answers are the same.
        let inputs = csrs
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    authority.check(&c, "UBX")
                } else {
                    CsrInput::raw(c)
                }
            })
            .collect();
        let results = run(&authority, "UBX", "test", inputs, false, None, Some(2))
            .await
            .unwrap();
        assert_eq!(results.len(), 8);
        let ok = |i: usize| results[i].as_ref().unwrap();
        for i in [0, 1, 2, 6, 7] {
            assert!(ok(i).new, "item {i}");
            let record = authority.store.certificate(&ok(i).serial).await.unwrap();
            let record = record.unwrap();
            assert_eq!(record.status, CertStatus::Issued);
            assert_eq!(record.der.as_deref(), Some(ok(i).der.as_slice()));
        }
        assert_eq!(ok(3).serial, ok(0).serial);
        assert!(!ok(3).new);
        assert_eq!(results[4].as_ref().unwrap_err().rule, "csr.encoding");
        let duplicate = results[5].as_ref().unwrap_err();
        assert_eq!(duplicate.rule, Rule::RobotDuplicateInBatch);
        assert_eq!(duplicate.kind, Kind::Conflict);
        assert_eq!(authority.store.count_certificates().await.unwrap(), 5);
    }

    /// Once a run has read the manufacturer and model, a CSR checked ahead
    /// is vetted and prepared ahead too, refusals included, and a run of
    /// such CSRs answers as one that did the work itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn csrs_checked_ahead_are_prepared_once_the_facts_are_known() {
        let dir = tempfile::tempdir().unwrap();
        let authority = authority(dir.path()).await;
        let key = KeyPair::generate().unwrap();
        let prepared = |input: &CsrInput| matches!(input.0, InputKind::Checked(Item::Prepared(_)));

        let cold = authority.check(&csr("00000001", &key), "UBX");
        assert!(!prepared(&cold), "nothing is known before the first run");
        let first = run(&authority, "UBX", "test", vec![cold], false, None, None)
            .await
            .unwrap();
        assert!(first[0].as_ref().unwrap().new);
        assert!(authority.facts.known_manufacturer("UBX").is_some());
        assert!(authority.facts.known_model("UBX", "WK5").is_some());

        let again = csr("00000002", &key);
        // The model allows at most 2000 mm.
        let too_tall = csr_of_height("00000003", &key, 2500);
        let inputs: Vec<CsrInput> = [again.clone(), too_tall, again]
            .iter()
            .map(|c| authority.check(c, "UBX"))
            .collect();
        assert!(matches!(inputs[1].0, InputKind::Checked(Item::Refused(_))));
        assert!(prepared(&inputs[0]) && prepared(&inputs[2]));
        let results = run(&authority, "UBX", "test", inputs, false, None, None)
            .await
            .unwrap();
        let issued = results[0].as_ref().unwrap();
        assert!(issued.new);
        let record = authority
            .store
            .certificate(&issued.serial)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.der.as_deref(), Some(issued.der.as_slice()));
        let refusal = results[1].as_ref().unwrap_err();
        assert_eq!(refusal.kind, Kind::Unacceptable);
        assert!(
            refusal.rule.as_str().starts_with("parameter"),
            "{}",
            refusal.rule
        );
        let repeat = results[2].as_ref().unwrap();
        assert_eq!(
            (repeat.serial.as_str(), repeat.new),
            (issued.serial.as_str(), false)
        );
        assert_eq!(authority.store.count_certificates().await.unwrap(), 2);

        // Deactivated after it was kept: still refused, by the transaction
        // that would record the issuance.
        authority
            .store
            .set_manufacturer_active("UBX", false, "test")
            .await
            .unwrap();
        let late = authority.check(&csr("00000004", &key), "UBX");
        assert!(prepared(&late), "the kept facts say active");
        let results = run(&authority, "UBX", "test", vec![late], false, None, None)
            .await
            .unwrap();
        assert_eq!(
            results[0].as_ref().unwrap_err().rule,
            Rule::ManufacturerActive
        );
        assert_eq!(authority.store.count_certificates().await.unwrap(), 2);
    }
}
