//! The decision for each request of a batch, from what the transaction
//! read: pure functions, so that the rules read in one place. The issuance
//! transaction (issuance.rs) reads under lock, calls these, and writes what
//! they decided; they take rows, never a connection, so they can move to the
//! registration authority as they are.

use std::collections::HashMap;

use robotid_verifier::rule::Rule;

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

pub(super) fn refused(rule: Rule, detail: String) -> Plan {
    Plan::Done(BeginOutcome::Refused { rule, detail })
}

/// What the robot's live certificate means for an intent.
fn against_live(intent: &IssuanceIntent, live: &Live) -> Plan {
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
            Rule::RobotIssuanceInProgress,
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
            Rule::RobotLiveCertificate,
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

/// The decision for each intent of a batch, in order: a robot that appears
/// again in the batch is refused, every other intent is [`decide`]d.
pub(super) fn decide_batch(
    intents: &[IssuanceIntent],
    models: &HashMap<(String, String), bool>,
    robots: &HashMap<String, (String, String)>,
    live: &HashMap<String, Live>,
) -> Vec<Plan> {
    let mut first_seen: HashMap<&str, usize> = HashMap::with_capacity(intents.len());
    intents
        .iter()
        .enumerate()
        .map(|(index, intent)| {
            if let Some(&first) = first_seen.get(intent.robot_id.as_str()) {
                return refused(
                    Rule::RobotDuplicateInBatch,
                    format!(
                        "robot {} appears again in this batch (items {first} and {index})",
                        intent.robot_id
                    ),
                );
            }
            first_seen.insert(intent.robot_id.as_str(), index);
            decide(intent, models, robots, live)
        })
        .collect()
}

/// A declared re-issue whose live certificate `old` was no longer issued
/// when the transaction came to supersede it.
pub(super) fn live_changed(intent: &IssuanceIntent, old: &str) -> Plan {
    refused(
        Rule::RobotLiveCertificate,
        format!(
            "robot {}: its live certificate {old} changed while this request \
             was recorded; submit again",
            intent.robot_id
        ),
    )
}

/// The answer to an intent whose certificate the live-certificate index
/// turned away (another transaction won the robot), from the robot's live
/// certificate as re-read, if any.
pub(super) fn after_lost_race(intent: &IssuanceIntent, live_now: Option<&Live>) -> Plan {
    match live_now {
        Some(current) => match against_live(intent, current) {
            Plan::Go { .. } => refused(
                Rule::RobotLiveCertificate,
                format!(
                    "robot {}: another request recorded certificate {} at the \
                     same time; submit again",
                    intent.robot_id, current.record.serial_hex
                ),
            ),
            done => done,
        },
        None => refused(
            Rule::RobotLiveCertificate,
            format!(
                "robot {}: another request for it was being recorded at the \
                 same time; submit again",
                intent.robot_id
            ),
        ),
    }
}

/// The decision for an intent that is not a repeat within its batch.
fn decide(
    intent: &IssuanceIntent,
    models: &HashMap<(String, String), bool>,
    robots: &HashMap<String, (String, String)>,
    live: &HashMap<String, Live>,
) -> Plan {
    let key = (intent.manufacturer_code.clone(), intent.model.clone());
    match models.get(&key) {
        None => {
            return refused(
                Rule::ModelApproved,
                format!(
                    "model {} is not registered for manufacturer {}",
                    intent.model, intent.manufacturer_code
                ),
            );
        }
        Some(false) => {
            return refused(
                Rule::ManufacturerActive,
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
        Rule::RobotManufacturer,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(robot: &str, csr: u8, reissue: bool) -> IssuanceIntent {
        IssuanceIntent {
            robot_id: robot.into(),
            manufacturer_code: "UBX".into(),
            model: "WK5".into(),
            serial_hex: format!("0{csr}"),
            csr_sha256: vec![csr],
            spki_sha256: vec![1],
            csr_der: Vec::new(),
            reissue,
            not_before: 0,
            not_after: 1,
            components: Vec::new(),
        }
    }

    fn live(robot: &str, status: CertStatus, csr: u8) -> Live {
        Live {
            record: CertificateRecord {
                serial_hex: "aa".into(),
                robot_id: robot.into(),
                status,
                der: None,
                csr_sha256: vec![csr],
                not_before: 0,
                not_after: 1,
                issued_at: None,
            },
            spki_sha256: vec![1],
        }
    }

    fn rule(plan: &Plan) -> Option<Rule> {
        match plan {
            Plan::Done(BeginOutcome::Refused { rule, .. }) => Some(*rule),
            _ => None,
        }
    }

    #[test]
    fn a_batch_is_decided_from_the_rows_read() {
        let models = HashMap::from([
            (("UBX".to_owned(), "WK5".to_owned()), true),
            (("OFF".to_owned(), "X".to_owned()), false),
        ]);
        let robots = HashMap::from([("R2".to_owned(), ("ACM".to_owned(), "X1".to_owned()))]);
        let live_rows = HashMap::from([("R3".to_owned(), live("R3", CertStatus::Issued, 7))]);
        let mut off = intent("R4", 4, false);
        off.manufacturer_code = "OFF".into();
        off.model = "X".into();
        let mut unknown = intent("R5", 5, false);
        unknown.model = "NOPE".into();
        let batch = [
            intent("R1", 1, false),
            intent("R1", 2, false),
            intent("R2", 3, false),
            intent("R3", 4, false),
            intent("R3b", 5, false),
            off,
            unknown,
        ];
        let plans = decide_batch(&batch, &models, &robots, &live_rows);
        assert!(matches!(
            plans[0],
            Plan::Go {
                new_robot: true,
                supersedes: None
            }
        ));
        assert_eq!(rule(&plans[1]), Some(Rule::RobotDuplicateInBatch));
        assert_eq!(rule(&plans[2]), Some(Rule::RobotManufacturer));
        assert_eq!(rule(&plans[3]), Some(Rule::RobotLiveCertificate));
        assert!(matches!(plans[4], Plan::Go { .. }));
        assert_eq!(rule(&plans[5]), Some(Rule::ManufacturerActive));
        assert_eq!(rule(&plans[6]), Some(Rule::ModelApproved));
    }

    #[test]
    fn a_lost_race_is_answered_from_the_winner() {
        let mine = intent("R1", 1, false);
        let same_csr = live("R1", CertStatus::Pending, 1);
        assert!(matches!(
            after_lost_race(&mine, Some(&same_csr)),
            Plan::Done(BeginOutcome::InProgress { .. })
        ));
        let other = live("R1", CertStatus::Issued, 9);
        assert_eq!(
            rule(&after_lost_race(&mine, Some(&other))),
            Some(Rule::RobotLiveCertificate)
        );
        // A re-issue would have gone ahead against the winner: still refused.
        let reissue = intent("R1", 2, true);
        assert_eq!(
            rule(&after_lost_race(&reissue, Some(&other))),
            Some(Rule::RobotLiveCertificate)
        );
        assert_eq!(
            rule(&after_lost_race(&mine, None)),
            Some(Rule::RobotLiveCertificate)
        );
        assert_eq!(
            rule(&live_changed(&reissue, "aa")),
            Some(Rule::RobotLiveCertificate)
        );
    }
}
