//! The decision for each request of a batch, from what the transaction
//! read: pure functions, so that the rules read in one place.

use std::collections::HashMap;

use super::records::rules;
use super::{BeginOutcome, CertStatus, CertificateRecord, IssuanceIntent};

/// A live certificate as read before deciding.
pub(super) struct Live {
    pub(super) record: CertificateRecord,
    pub(super) spki_sha256: Vec<u8>,
}

/// The decision for one intent while the transaction runs.
pub(super) enum Plan {
    /// Decided: not written.
    Done(BeginOutcome),
    /// To be recorded.
    Go {
        new_robot: bool,
        /// The live certificate a declared re-issue supersedes.
        supersedes: Option<String>,
    },
}

pub(super) fn refused(rule: &'static str, detail: String) -> Plan {
    Plan::Done(BeginOutcome::Refused { rule, detail })
}

/// What the robot's live certificate means for an intent.
pub(super) fn against_live(intent: &IssuanceIntent, live: &Live) -> Plan {
    let current = &live.record;
    if current.csr_sha256 == intent.csr_sha256 {
        // The identical CSR: the same certificate, never a second one.
        return Plan::Done(match current.status {
            CertStatus::Pending => BeginOutcome::InProgress {
                serial_hex: current.serial_hex.clone(),
            },
            _ => BeginOutcome::Existing(current.clone()),
        });
    }
    let key = if live.spki_sha256 == intent.spki_sha256 {
        "the same key but another request"
    } else {
        "a different key"
    };
    match (current.status, intent.reissue) {
        (CertStatus::Pending, true) => refused(
            rules::ISSUANCE_IN_PROGRESS,
            format!(
                "robot {}: certificate {} is being issued for another request; \
                 re-issue once it is issued or abandoned",
                intent.robot_id, current.serial_hex
            ),
        ),
        (CertStatus::Issued, true) => Plan::Go {
            new_robot: false,
            supersedes: Some(current.serial_hex.clone()),
        },
        (status, _) => refused(
            rules::LIVE_CERTIFICATE,
            format!(
                "robot {} holds live certificate {} ({}); this request has {key} \
                 and is not a declared re-issue",
                intent.robot_id,
                current.serial_hex,
                status.as_str()
            ),
        ),
    }
}

/// The decision for an intent that is not a repeat within its batch.
pub(super) fn decide(
    intent: &IssuanceIntent,
    models: &HashMap<(String, String), bool>,
    robots: &HashMap<String, (String, String)>,
    live: &HashMap<String, Live>,
) -> Plan {
    let key = (intent.manufacturer_code.clone(), intent.model.clone());
    match models.get(&key) {
        None => {
            return refused(
                rules::MODEL_APPROVED,
                format!(
                    "model {} is not registered for manufacturer {}",
                    intent.model, intent.manufacturer_code
                ),
            );
        }
        Some(false) => {
            return refused(
                rules::MANUFACTURER_ACTIVE,
                format!("manufacturer {} is deactivated", intent.manufacturer_code),
            );
        }
        Some(true) => {}
    }
    if let Some(refusal) = robot_mismatch(intent, robots) {
        return refusal;
    }
    match live.get(intent.robot_id.as_str()) {
        Some(current) => against_live(intent, current),
        None => Plan::Go {
            new_robot: !robots.contains_key(intent.robot_id.as_str()),
            supersedes: None,
        },
    }
}

/// A refusal if the robot is registered under another manufacturer or model.
pub(super) fn robot_mismatch(
    intent: &IssuanceIntent,
    robots: &HashMap<String, (String, String)>,
) -> Option<Plan> {
    let (code, model) = robots.get(intent.robot_id.as_str())?;
    if *code == intent.manufacturer_code && *model == intent.model {
        return None;
    }
    Some(refused(
        rules::ROBOT_MANUFACTURER,
        format!(
            "robot {} is registered under {code}/{model}, not {}/{}",
            intent.robot_id, intent.manufacturer_code, intent.model
        ),
    ))
}

/// Indices of the intents still to be recorded, filtered on
/// `(new_robot, supersedes something)`.
pub(super) fn go_indices(plans: &[Plan], keep: impl Fn(bool, bool) -> bool) -> Vec<usize> {
    plans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            Plan::Go {
                new_robot,
                supersedes,
            } if keep(*new_robot, supersedes.is_some()) => Some(i),
            _ => None,
        })
        .collect()
}
