//! The registration authority and signer working together for enrollment:
//! CSR intake and vetting (robotid-issuer), the registry (store), and the
//! durable order Boulder uses: the serial and request are committed before
//! signing, and the certificate before it is returned.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use rcgen::KeyPair;
use robotid_issuer::csr::{self, VerifiedCsr};
use robotid_issuer::signer::{IssueError, PreparedCertificate, Signer};
use robotid_issuer::vetting::{self, ModelRecord, Refusal};
use robotid_verifier::robot_id::RobotId;
use time::OffsetDateTime;

use crate::api::problem::Problem;
use crate::store::{BeginOutcome, CertStatus, ComponentRecord, IssuanceIntent, Store};

/// The CA's certificates, as clients need them.
#[derive(Clone, Debug)]
pub struct CaCertificates {
    /// The CA's name.
    pub name: String,
    /// Trust anchor, DER.
    pub root_der: Vec<u8>,
    /// Issuing CA, DER.
    pub issuing_der: Vec<u8>,
    /// The chain above a robot certificate (issuing CA), PEM.
    pub chain_pem: String,
    /// The trust anchor, PEM.
    pub root_pem: String,
}

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
}

/// The CA server's issuing side.
pub struct Authority {
    /// The signer, the only holder of the issuing key.
    pub signer: Signer<KeyPair>,
    /// The registry.
    pub store: Store,
    /// The CA's certificates.
    pub certs: CaCertificates,
}

/// How long a request waits for an identical request that is being issued
/// by another request to complete.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(10);

fn refusal_problem(r: &Refusal) -> Problem {
    let status = match r.rule {
        "manufacturer.active" | "robot_id.manufacturer" | "manufacturer.code" => {
            StatusCode::FORBIDDEN
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Problem::new(status, r.rule, r.detail.clone()).at(r.field.clone(), r.value.clone())
}

fn csr_problem(e: &csr::CsrError) -> Problem {
    Problem::bad_request(e.rule(), e.to_string()).at("csr", "")
}

/// One request item on its way through enrollment.
enum Item {
    Refused(Problem),
    Verified(Box<VerifiedCsr>),
    Prepared(Box<(VerifiedCsr, PreparedCertificate, Vec<ComponentRecord>)>),
    Waiting(String),
    SignFailed(String),
    /// The same CSR as an earlier item of this run: it gets that answer.
    SameAs(usize),
    Done(Delivered),
}

/// Runs `f` over `items` on every core, keeping order.
fn par_map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if items.len() < 64 || threads == 1 {
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

impl Authority {
    /// Enrolls `csrs` (PEM or DER each) for manufacturer `code`; one result
    /// per CSR, in order. Err only for failures of the CA itself.
    pub async fn enroll(
        self: &Arc<Self>,
        code: &str,
        actor: &str,
        csrs: Vec<Vec<u8>>,
        reissue: bool,
    ) -> Result<Vec<Result<Delivered, Problem>>, Problem> {
        let owner = code.to_owned();
        let started = std::time::Instant::now();
        let count = csrs.len();
        let items = blocking(move || par_map(csrs, |bytes| intake(&bytes, &owner))).await?;
        let models = self.models_for(code, &items).await?;
        let manufacturer = self
            .store
            .manufacturer(code)
            .await
            .map_err(Problem::internal)?
            .ok_or_else(|| {
                Problem::forbidden(
                    "manufacturer.registered",
                    format!("manufacturer {code} is not registered"),
                )
            })?;

        let this = Arc::clone(self);
        let intake_done = started.elapsed();
        let items = blocking(move || {
            let now = OffsetDateTime::now_utc();
            par_map(items, |item| match item {
                Item::Verified(v) => {
                    let model = models.get(&v.identity.model);
                    match vetting::vet(&v, &manufacturer, model) {
                        Err(r) => Item::Refused(refusal_problem(&r)),
                        Ok(vetted) => match this.signer.prepare(&vetted, now) {
                            Ok(p) => {
                                let components = component_records(&vetted);
                                Item::Prepared(Box::new((*v, p, components)))
                            }
                            Err(e) => Item::Refused(issue_problem(&e)),
                        },
                    }
                }
                other => other,
            })
        })
        .await?;

        // Identical CSRs in one run (a client retrying while its first
        // request is still queued) are issued once and answered alike.
        let mut first_of: HashMap<Vec<u8>, usize> = HashMap::new();
        let items: Vec<Item> = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Item::Prepared(b) => match first_of.entry(sha256(&b.0.der)) {
                    std::collections::hash_map::Entry::Occupied(first) => {
                        Item::SameAs(*first.get())
                    }
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(i);
                        Item::Prepared(b)
                    }
                },
                other => other,
            })
            .collect();
        let intents: Vec<IssuanceIntent> = items
            .iter()
            .filter_map(|item| match item {
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
        let prepared_done = started.elapsed();
        let outcomes = if intents.is_empty() {
            Vec::new()
        } else {
            self.store
                .begin_issuance(&intents, actor)
                .await
                .map_err(Problem::internal)?
        };
        let mut outcomes = outcomes.into_iter();
        let mut staged = Vec::with_capacity(items.len());
        for item in items {
            staged.push(match item {
                Item::Prepared(b) => match outcomes.next() {
                    Some(BeginOutcome::Proceed) => Item::Prepared(b),
                    Some(BeginOutcome::Existing(record)) => match record.der {
                        Some(der) => Item::Done(Delivered {
                            serial: record.serial_hex,
                            robot_id: record.robot_id,
                            der,
                            new: false,
                        }),
                        None => Item::Waiting(record.serial_hex),
                    },
                    Some(BeginOutcome::InProgress { serial_hex }) => Item::Waiting(serial_hex),
                    Some(BeginOutcome::Refused { rule, detail }) => Item::Refused(
                        Problem::new(StatusCode::CONFLICT, rule, detail)
                            .at("robot_id", b.1.robot_id().to_owned()),
                    ),
                    None => Item::Refused(Problem::internal(
                        "the registry returned fewer outcomes than intents",
                    )),
                },
                other => other,
            });
        }

        let this = Arc::clone(self);
        let recorded_done = started.elapsed();
        let signed = blocking(move || {
            par_map(staged, |item| match item {
                Item::Prepared(b) => {
                    let (_, prepared, _) = *b;
                    let serial = hex::encode(prepared.serial());
                    let robot_id = prepared.robot_id().to_owned();
                    match this.signer.issue(prepared) {
                        Ok(issued) => Item::Done(Delivered { serial, robot_id, der: issued.der, new: true }),
                        Err(e) => {
                            tracing::error!(%serial, error = %e, "signing failed after the serial was recorded");
                            Item::SignFailed(serial)
                        }
                    }
                }
                other => other,
            })
        })
        .await?;

        let done: Vec<(String, Vec<u8>)> = signed
            .iter()
            .filter_map(|i| match i {
                Item::Done(d) if d.new => Some((d.serial.clone(), d.der.clone())),
                _ => None,
            })
            .collect();
        let failed: Vec<String> = signed
            .iter()
            .filter_map(|i| match i {
                Item::SignFailed(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let signed_done = started.elapsed();
        if !done.is_empty() {
            self.store
                .complete_issuance(&done, actor)
                .await
                .map_err(Problem::internal)?;
            metrics::counter!("robotid_certificates_issued_total")
                .increment(u64::try_from(done.len()).unwrap_or(0));
        }
        if !failed.is_empty() {
            self.store
                .abandon_issuance(&failed, "signing failed", actor)
                .await
                .map_err(Problem::internal)?;
        }

        tracing::debug!(
            count,
            intake_ms = intake_done.as_millis(),
            vet_prepare_ms = (prepared_done - intake_done).as_millis(),
            record_ms = (recorded_done - prepared_done).as_millis(),
            sign_ms = (signed_done - recorded_done).as_millis(),
            complete_ms = (started.elapsed() - signed_done).as_millis(),
            "enrollment phases"
        );
        let mut results = Vec::with_capacity(signed.len());
        for item in signed {
            results.push(match item {
                Item::Done(d) => Ok(d),
                Item::Refused(p) => {
                    metrics::counter!("robotid_enroll_refused_total", "rule" => p.rule.clone())
                        .increment(1);
                    Err(p)
                }
                Item::SignFailed(s) => {
                    Err(Problem::internal(format!("signing failed for serial {s}")))
                }
                Item::Waiting(serial) => self.wait_for(&serial).await,
                Item::SameAs(first) => match results.get(first) {
                    Some(Ok(d)) => Ok(Delivered {
                        new: false,
                        ..Clone::clone(d)
                    }),
                    Some(Err(p)) => Err(Clone::clone(p)),
                    None => Err(Problem::internal("a repeated CSR refers to a later item")),
                },
                Item::Verified(_) | Item::Prepared(_) => {
                    Err(Problem::internal("enrollment left an item unfinished"))
                }
            });
        }
        Ok(results)
    }

    async fn models_for(
        &self,
        code: &str,
        items: &[Item],
    ) -> Result<HashMap<String, ModelRecord>, Problem> {
        let mut models = HashMap::new();
        for item in items {
            if let Item::Verified(v) = item {
                let name = &v.identity.model;
                if !models.contains_key(name)
                    && let Some(m) = self
                        .store
                        .model(code, name)
                        .await
                        .map_err(Problem::internal)?
                {
                    models.insert(name.clone(), m);
                }
            }
        }
        Ok(models)
    }

    /// Waits for an identical request being issued elsewhere to finish.
    async fn wait_for(&self, serial: &str) -> Result<Delivered, Problem> {
        let deadline = tokio::time::Instant::now() + IN_PROGRESS_WAIT;
        loop {
            let record = self
                .store
                .certificate(serial)
                .await
                .map_err(Problem::internal)?;
            match record {
                Some(r) if r.status == CertStatus::Issued => {
                    if let Some(der) = r.der {
                        return Ok(Delivered {
                            serial: r.serial_hex,
                            robot_id: r.robot_id,
                            der,
                            new: false,
                        });
                    }
                }
                Some(r) if r.status == CertStatus::Pending => {}
                _ => {
                    return Err(Problem::new(
                        StatusCode::CONFLICT,
                        "robot.in_progress_failed",
                        "an identical request was being issued and did not complete; submit again",
                    ));
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Problem::new(
                    StatusCode::CONFLICT,
                    "robot.in_progress",
                    "an identical request is still being issued; submit again shortly",
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn intake(bytes: &[u8], owner: &str) -> Item {
    let der = match csr::decode_pem_or_der(bytes) {
        Ok(der) => der,
        Err(e) => return Item::Refused(csr_problem(&e)),
    };
    let verified = match csr::verify(&der) {
        Ok(v) => v,
        Err(e) => return Item::Refused(csr_problem(&e)),
    };
    // A robot ID of another manufacturer is an authorisation failure (403),
    // checked before any vetting detail is revealed.
    if let Ok(id) = RobotId::parse(&verified.identity.robot_id)
        && id.manufacturer_code() != owner
    {
        return Item::Refused(
            Problem::forbidden(
                "robot.foreign",
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

fn component_records(vetted: &vetting::VettedRequest) -> Vec<ComponentRecord> {
    vetted
        .identity()
        .components
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

fn issue_problem(e: &IssueError) -> Problem {
    match e {
        IssueError::Identity(inner) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "identity.profile",
            inner.to_string(),
        ),
        IssueError::Lint(v) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "certificate.lint",
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => Problem::internal(other),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Problem::internal)
}
