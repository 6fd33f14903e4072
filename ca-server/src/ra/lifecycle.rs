//! Lifecycle history: recording an event, showing a robot's history and
//! exporting it as a bundle that `robotid-verify history` checks offline.
//!
//! Who records what: a manufacturer, for its own robots, sales,
//! deployments, maintenance, component replacements (it makes the CSR),
//! decommissioning and recycling; the operator everything but component
//! replacement, and alone recall holds and releases. `manufactured` is
//! written by the CA at first issuance. The state machine
//! (`robotid_verifier::history::states`) is checked here first, so a
//! refusal names the state before any detail is judged, and again by the
//! registry in the transaction that appends the event.

use std::collections::BTreeSet;

use robotid_verifier::history::bundle::{BUNDLE_FORMAT, Bundle, BundleEvent, SignedHead};
use robotid_verifier::history::{EventKind, LifeState, transition};
use robotid_verifier::rule::Rule;
use serde::Deserialize;
use serde_json::{Value, json};

use super::enrollment::{Cause, component_records};
use super::{
    Caller, CsrInput, Delivered, Operation, Refusal, RegistrationAuthority, parse_robot_id,
    registry_refusal,
};
use crate::lifecycle_signer::{LifecycleSigner, LifecycleSignerError};
use crate::store::roles::{Lifecycle, Reads};
use crate::store::{Appended, LifecycleEvent, NewEvent, Store};

/// Longest free-text field.
const MAX_TEXT: usize = 1000;

/// An event recorded.
#[derive(Debug)]
pub struct Recorded {
    /// The robot.
    pub robot_id: String,
    /// The event, the state after it and the revocation it caused.
    pub appended: Appended,
    /// The certificate re-issued by a component replacement.
    pub certificate: Option<Delivered>,
}

impl RegistrationAuthority {
    /// Records event `kind` with `details` in robot `robot_id`'s history.
    /// A component replacement re-issues the certificate from the CSR in
    /// the details (superseding the old one); recycling names the
    /// disposition of every key component.
    pub async fn record_event(
        &self,
        caller: &Caller,
        robot_id: &str,
        kind: &str,
        details: &Value,
    ) -> Result<Recorded, Refusal> {
        caller.may(Operation::RecordEvent)?;
        let id = parse_robot_id(robot_id)?;
        let kind = EventKind::parse(kind).ok_or_else(|| {
            let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            Refusal::new(
                Rule::LifecycleType,
                format!("type must be one of {}", names.join(", ")),
            )
            .at("type", kind.chars().take(64).collect::<String>())
        })?;
        may_record(caller, kind)?;
        self.authorise_robot(caller, id.as_str()).await?;
        let store = self.store();
        precheck(store, id.as_str(), kind).await?;
        let payload = match kind {
            // The re-issue and its event are one transaction: enrollment
            // records both when it completes the new certificate.
            EventKind::ComponentReplaced => {
                return self.replace_component(caller, id.as_str(), details).await;
            }
            EventKind::Recycled => recycled_payload(store, id.as_str(), details).await?,
            _ => simple_payload(kind, details)?,
        };
        let actor = caller.actor();
        let appended = store
            .append_event(&NewEvent {
                robot_id: id.as_str(),
                kind,
                actor: &actor,
                payload,
            })
            .await
            .map_err(|e| registry_refusal(e).at("type", kind.as_str()))?;
        Ok(Recorded {
            robot_id: id.as_str().to_owned(),
            appended,
            certificate: None,
        })
    }

    /// Robot `robot_id`'s history, oldest first, for its manufacturer or
    /// the operator.
    pub async fn history(
        &self,
        caller: &Caller,
        robot_id: &str,
    ) -> Result<(String, Vec<LifecycleEvent>), Refusal> {
        caller.may(Operation::ReadHistory)?;
        let id = parse_robot_id(robot_id)?;
        self.authorise_robot(caller, id.as_str()).await?;
        let events = self
            .store()
            .lifecycle_events(id.as_str())
            .await
            .map_err(registry_refusal)?;
        Ok((id.as_str().to_owned(), events))
    }

    /// Robot `robot_id`'s history as a bundle, its head signed now by the
    /// lifecycle signer.
    pub async fn export_history(&self, caller: &Caller, robot_id: &str) -> Result<Bundle, Refusal> {
        let (robot_id, events) = self.history(caller, robot_id).await?;
        build_bundle(self.store(), &self.lifecycle_signer, &robot_id, events).await
    }

    /// Re-issues the robot's certificate from the new CSR (a declared
    /// re-issue, through enrollment, which supersedes the old certificate)
    /// and records the event in the transaction that completes the new
    /// certificate: both or neither. The event names the old and new
    /// serials and the components the new certificate certifies that the
    /// old one did not.
    async fn replace_component(
        &self,
        caller: &Caller,
        robot_id: &str,
        details: &Value,
    ) -> Result<Recorded, Refusal> {
        let kind = EventKind::ComponentReplaced;
        let d: Replaced = parse(kind, details)?;
        let note = optional(kind, "note", d.note.as_ref())?;
        let verified = robotid_issuer::csr::decode_pem_or_der(d.csr.as_bytes())
            .and_then(|der| robotid_issuer::csr::verify(&der))
            .map_err(|e| {
                Refusal::new(e.rule(), format!("details.csr: {e}")).at("details.csr", "")
            })?;
        if verified.identity.robot_id != robot_id {
            return Err(Refusal::new(
                Rule::LifecycleCsrRobot,
                format!(
                    "the CSR is for robot {}, not {robot_id}",
                    verified.identity.robot_id
                ),
            )
            .at("details.csr", verified.identity.robot_id.clone()));
        }
        let code = caller.manufacturer()?;
        let store = self.store();
        let old = store
            .live_certificate(robot_id)
            .await
            .map_err(Refusal::internal)?
            .map(|c| c.serial_hex);
        let before = match &old {
            Some(serial) => store.components(serial).await.map_err(Refusal::internal)?,
            None => Vec::new(),
        };
        let replaced: Vec<Value> = component_records(&verified.identity.components)
            .into_iter()
            .filter(|c| !before.contains(c))
            .map(|c| {
                json!({ "kind": c.kind, "part_number": c.part_number, "supplier": c.supplier,
                        "serial": c.serial, "digests": c.digests })
            })
            .collect();
        let mut event = serde_json::Map::new();
        if let Some(old) = &old {
            event.insert("old_serial".into(), old.clone().into());
        }
        event.insert("replaced".into(), Value::Array(replaced));
        if !note.is_null() {
            event.insert("note".into(), note);
        }
        let cause = Cause {
            kind,
            supersedes: old,
            details: event,
        };
        // The CSR read above goes to enrollment as it is: it is not
        // decoded and verified a second time.
        let input = CsrInput::verified(verified, code);
        let delivered = self
            .pipeline
            .reissue_for(code, &caller.actor(), input, cause)
            .await?;
        let appended = match delivered.event.clone() {
            Some(appended) => *appended,
            // The identical request was completed before (a retry): its
            // event was recorded with it.
            None => self.recorded_with(robot_id, &delivered.serial).await?,
        };
        Ok(Recorded {
            robot_id: robot_id.to_owned(),
            appended,
            certificate: Some(Delivered {
                event: None,
                ..delivered
            }),
        })
    }

    /// The component replacement recorded with certificate `serial`.
    async fn recorded_with(&self, robot_id: &str, serial: &str) -> Result<Appended, Refusal> {
        let store = self.store();
        let events = store
            .lifecycle_events(robot_id)
            .await
            .map_err(registry_refusal)?;
        let state = store
            .lifecycle_state(robot_id)
            .await
            .map_err(Refusal::internal)?;
        let event = events
            .into_iter()
            .rev()
            .find(|e| {
                e.kind == EventKind::ComponentReplaced
                    && serde_json::from_str::<Value>(&e.payload)
                        .ok()
                        .and_then(|p| {
                            p.get("new_serial")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                        .is_some_and(|s| s == serial)
            })
            .ok_or_else(|| {
                Refusal::new(
                    Rule::RobotLiveCertificate,
                    format!(
                        "certificate {serial} of robot {robot_id} was issued for another request, \
                         not a component replacement"
                    ),
                )
            })?;
        Ok(Appended {
            state: state.unwrap_or(LifeState::Manufactured),
            event,
            revocation: None,
        })
    }
}

fn details_problem(kind: EventKind, detail: String) -> Refusal {
    Refusal::new(Rule::LifecycleDetails, detail).at("details", kind.as_str())
}

/// Free text: 1 to [`MAX_TEXT`] characters, and the text policy
/// (`robotid_verifier::text`).
fn text(kind: EventKind, field: &str, value: &str) -> Result<String, Refusal> {
    let value = value.trim();
    if let Err(e) = robotid_verifier::text::check(value) {
        return Err(
            Refusal::new(e.rule(), format!("{} details.{field}: {e}", kind.as_str())).at(
                format!("details.{field}"),
                robotid_verifier::text::terminal_cut(value, 128),
            ),
        );
    }
    if value.is_empty() || value.chars().count() > MAX_TEXT {
        return Err(Refusal::new(
            Rule::LifecycleDetails,
            format!(
                "{} details.{field}: 1 to {MAX_TEXT} characters",
                kind.as_str()
            ),
        )
        .at(
            format!("details.{field}"),
            value.chars().take(128).collect::<String>(),
        ));
    }
    Ok(value.to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sold {
    new_owner: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Deployed {
    site: Option<String>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Maintenance {
    work: String,
    by: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Recall {
    recall: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Note {
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decommissioned {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Replaced {
    csr: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Recycled {
    components: Vec<Disposition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Disposition {
    kind: String,
    serial: String,
    disposition: String,
}

/// What may become of a key component at recycling.
const DISPOSITIONS: [&str; 5] = ["reused", "refurbished", "recycled", "destroyed", "returned"];

fn parse<T: serde::de::DeserializeOwned>(kind: EventKind, details: &Value) -> Result<T, Refusal> {
    let details = if details.is_null() {
        json!({})
    } else {
        details.clone()
    };
    serde_path_to_error::deserialize(details).map_err(|e| {
        // Name the field at fault (`details.new_owner`), not only "details".
        let path = e.path().to_string();
        let e = e.into_inner();
        let problem = details_problem(
            kind,
            format!("{} details: {e} (see docs/lifecycle.md)", kind.as_str()),
        );
        if path == "." {
            problem
        } else {
            problem.at(format!("details.{path}"), "")
        }
    })
}

fn optional(kind: EventKind, field: &str, value: Option<&String>) -> Result<Value, Refusal> {
    Ok(match value {
        Some(v) => Value::String(text(kind, field, v)?),
        None => Value::Null,
    })
}

/// The payload to record for the simple kinds (not component replacement,
/// not recycling), with nulls dropped.
fn simple_payload(kind: EventKind, details: &Value) -> Result<Value, Refusal> {
    let mut payload = match kind {
        EventKind::Sold => {
            let d: Sold = parse(kind, details)?;
            json!({ "new_owner": text(kind, "new_owner", &d.new_owner)?,
                    "note": optional(kind, "note", d.note.as_ref())? })
        }
        EventKind::Deployed => {
            let d: Deployed = parse(kind, details)?;
            json!({ "site": optional(kind, "site", d.site.as_ref())?,
                    "note": optional(kind, "note", d.note.as_ref())? })
        }
        EventKind::Maintenance => {
            let d: Maintenance = parse(kind, details)?;
            json!({ "work": text(kind, "work", &d.work)?, "by": text(kind, "by", &d.by)? })
        }
        EventKind::RecallHold => {
            let d: Recall = parse(kind, details)?;
            json!({ "recall": text(kind, "recall", &d.recall)? })
        }
        EventKind::RecallRelease => {
            let d: Note = parse(kind, details)?;
            json!({ "note": optional(kind, "note", d.note.as_ref())? })
        }
        EventKind::Decommissioned => {
            let d: Decommissioned = parse(kind, details)?;
            json!({ "reason": optional(kind, "reason", d.reason.as_ref())? })
        }
        EventKind::Manufactured | EventKind::ComponentReplaced | EventKind::Recycled => json!({}),
    };
    if let Value::Object(map) = &mut payload {
        map.retain(|_, v| !v.is_null());
    }
    Ok(payload)
}

/// 403 unless `caller` may record `kind` (the robot's ownership is checked
/// separately).
fn may_record(caller: &Caller, kind: EventKind) -> Result<(), Refusal> {
    match (caller, kind) {
        (Caller::Manufacturer { .. }, EventKind::RecallHold | EventKind::RecallRelease) => {
            Err(Refusal::new(
                Rule::LifecycleOperatorOnly,
                format!("only the operator records {}", kind.as_str()),
            )
            .at("type", kind.as_str()))
        }
        (Caller::Operator { .. }, EventKind::ComponentReplaced) => Err(Refusal::new(
            Rule::RoleManufacturerRequired,
            "a component replacement re-issues the certificate from the manufacturer's CSR: \
             the robot's manufacturer records it",
        )
        .at("type", kind.as_str())),
        _ => Ok(()),
    }
}

/// Refuses early, before anything is issued, if the state machine would
/// refuse `kind` now (the append checks again in its transaction).
async fn precheck(store: &Store, robot_id: &str, kind: EventKind) -> Result<(), Refusal> {
    let current = store
        .lifecycle_state(robot_id)
        .await
        .map_err(Refusal::internal)?;
    let Some(current) = current else {
        return Err(Refusal::new(
            Rule::LifecycleNotManufactured,
            format!("robot {robot_id} has no signed certificate yet"),
        ));
    };
    transition(Some(current), kind)
        .map(|_| ())
        .map_err(|r| Refusal::new(r.rule, r.detail).at("type", kind.as_str()))
}

/// Recycling names the disposition of every key component of the robot's
/// last certificate, and no other.
async fn recycled_payload(
    store: &Store,
    robot_id: &str,
    details: &Value,
) -> Result<Value, Refusal> {
    let kind = EventKind::Recycled;
    let d: Recycled = parse(kind, details)?;
    let certs = store
        .signed_certificates(robot_id)
        .await
        .map_err(Refusal::internal)?;
    let required: BTreeSet<(String, String)> = match certs.last() {
        Some((serial, _)) => store
            .components(serial)
            .await
            .map_err(Refusal::internal)?
            .into_iter()
            .map(|c| (c.kind, c.serial))
            .collect(),
        None => BTreeSet::new(),
    };
    let mut given = BTreeSet::new();
    let mut out = Vec::with_capacity(d.components.len());
    for (i, c) in d.components.iter().enumerate() {
        if !DISPOSITIONS.contains(&c.disposition.as_str()) {
            return Err(Refusal::new(
                Rule::LifecycleDisposition,
                format!(
                    "details.components[{i}].disposition must be one of {}",
                    DISPOSITIONS.join(", ")
                ),
            )
            .at(
                format!("details.components[{i}].disposition"),
                c.disposition.chars().take(64).collect::<String>(),
            ));
        }
        let key = (c.kind.clone(), c.serial.clone());
        if !required.contains(&key) {
            return Err(Refusal::new(
                Rule::LifecycleRecycledComponents,
                format!(
                    "component {} {} is not a key component of robot {robot_id}'s certificate",
                    c.kind, c.serial
                ),
            )
            .at(
                format!("details.components[{i}]"),
                format!("{} {}", c.kind, c.serial),
            ));
        }
        given.insert(key);
        out.push(json!({ "kind": c.kind, "serial": c.serial, "disposition": c.disposition }));
    }
    if let Some((kind_name, serial)) = required.difference(&given).next() {
        return Err(Refusal::new(
            Rule::LifecycleRecycledComponents,
            format!(
                "recycling records the disposition of every key component: {kind_name} {serial} is missing"
            ),
        )
        .at("details.components", format!("{kind_name} {serial}")));
    }
    Ok(json!({ "components": out }))
}

/// The bundle of `events` (the robot's whole history), with the head
/// signed now and the robot's certificates.
async fn build_bundle(
    store: &Store,
    signer: &LifecycleSigner,
    robot_id: &str,
    events: Vec<LifecycleEvent>,
) -> Result<Bundle, Refusal> {
    let last = events.last().ok_or_else(|| {
        Refusal::new(
            Rule::LifecycleNotManufactured,
            format!("robot {robot_id} has no history"),
        )
    })?;
    let signed = signer
        .sign_head(robot_id, last.seq, &last.hash)
        .await
        .map_err(|e| match e {
            LifecycleSignerError::KeyUnavailable(reason) => Refusal::key_unavailable(reason),
            other => Refusal::internal(other),
        })?;
    let head = SignedHead {
        robot_id: robot_id.to_owned(),
        seq: last.seq,
        hash: hex::encode(last.hash),
        signed_at: signed.signed_at,
        algorithm: signed.algorithm.to_owned(),
        signature: hex::encode(&signed.signature),
    };
    let certificates = store
        .signed_certificates(robot_id)
        .await
        .map_err(Refusal::internal)?
        .into_iter()
        .map(|(_, der)| robotid_issuer::pem::encode("CERTIFICATE", &der))
        .collect();
    Ok(Bundle {
        format: BUNDLE_FORMAT.to_owned(),
        robot_id: robot_id.to_owned(),
        events: events
            .into_iter()
            .map(|e| BundleEvent {
                seq: e.seq,
                at: e.at,
                kind: e.kind.as_str().to_owned(),
                actor: e.actor,
                payload: e.payload,
                prev_hash: hex::encode(e.prev_hash),
                hash: hex::encode(e.hash),
            })
            .collect(),
        head,
        signer_chain: signed.chain,
        certificates,
    })
}
