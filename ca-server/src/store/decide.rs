//! The registry's side of the certificate state machine
//! (`robotid_verifier::states::certificate`, where the rules are): the rows
//! the issuance transaction read under lock are shown to the machine, and
//! its decisions become what the transaction writes or answers.

use std::collections::HashMap;

use robotid_verifier::states::certificate::{self as machine, Decision, Known};

use super::{BeginOutcome, CertStatus, CertificateRecord, IssuanceIntent};

/// A live certificate as read before deciding.
pub(super) struct Live {
    pub(super) record: CertificateRecord,
    pub(super) spki_sha256: Vec<u8>,
}

impl Live {
    fn view(&self) -> machine::Live<'_> {
        machine::Live {
            serial_hex: &self.record.serial_hex,
            status: self.record.status,
            csr_sha256: &self.record.csr_sha256,
            spki_sha256: &self.spki_sha256,
        }
    }
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

fn request(intent: &IssuanceIntent) -> machine::Request<'_> {
    machine::Request {
        robot_id: &intent.robot_id,
        manufacturer_code: &intent.manufacturer_code,
        model: &intent.model,
        csr_sha256: &intent.csr_sha256,
        spki_sha256: &intent.spki_sha256,
        reissue: intent.reissue,
    }
}

/// The plan for a decision; `live` is the certificate it was decided
/// against, which an identical request is answered with.
fn plan(decision: Decision, live: Option<&Live>) -> Plan {
    match decision {
        Decision::Go {
            new_robot,
            supersedes,
        } => Plan::Go {
            new_robot,
            supersedes,
        },
        Decision::Refused(r) => Plan::Done(BeginOutcome::Refused {
            rule: r.rule,
            detail: r.detail,
        }),
        Decision::Same {
            serial_hex,
            in_progress,
        } => Plan::Done(match live {
            Some(live) if !in_progress && live.record.status != CertStatus::Pending => {
                BeginOutcome::Existing(live.record.clone())
            }
            _ => BeginOutcome::InProgress { serial_hex },
        }),
    }
}

/// The plan for each intent of a batch, in order.
pub(super) fn decide_batch(
    intents: &[IssuanceIntent],
    models: &HashMap<(String, String), bool>,
    robots: &HashMap<String, (String, String)>,
    live: &HashMap<String, Live>,
) -> Vec<Plan> {
    let requests: Vec<machine::Request<'_>> = intents.iter().map(request).collect();
    let views: HashMap<String, machine::Live<'_>> =
        live.iter().map(|(id, l)| (id.clone(), l.view())).collect();
    let known = Known {
        models,
        robots,
        live: &views,
    };
    machine::decide_batch(&requests, known)
        .into_iter()
        .zip(intents)
        .map(|(decision, intent)| plan(decision, live.get(intent.robot_id.as_str())))
        .collect()
}

/// A declared re-issue whose live certificate `old` was no longer issued
/// when the transaction came to supersede it.
pub(super) fn live_changed(intent: &IssuanceIntent, old: &str) -> Plan {
    plan(machine::live_changed(&request(intent), old), None)
}

/// The answer to an intent whose certificate the live-certificate index
/// turned away (another transaction won the robot), from the robot's live
/// certificate as re-read, if any.
pub(super) fn after_lost_race(intent: &IssuanceIntent, live_now: Option<&Live>) -> Plan {
    let view = live_now.map(Live::view);
    plan(
        machine::after_lost_race(&request(intent), view.as_ref()),
        live_now,
    )
}

/// A refusal if the robot is registered under another manufacturer or model.
pub(super) fn robot_mismatch(
    intent: &IssuanceIntent,
    robots: &HashMap<String, (String, String)>,
) -> Option<Plan> {
    machine::robot_mismatch(&request(intent), robots).map(|d| plan(d, None))
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

    fn intent(robot: &str, csr: u8) -> IssuanceIntent {
        IssuanceIntent {
            robot_id: robot.into(),
            manufacturer_code: "UBX".into(),
            model: "WK5".into(),
            serial_hex: format!("0{csr}"),
            csr_sha256: vec![csr],
            spki_sha256: vec![1],
            csr_der: Vec::new(),
            reissue: false,
            not_before: 0,
            not_after: 1,
            components: Vec::new(),
        }
    }

    fn live(status: CertStatus, csr: u8) -> Live {
        Live {
            record: CertificateRecord {
                serial_hex: "aa".into(),
                robot_id: "R1".into(),
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

    #[test]
    fn the_identical_request_is_answered_with_the_live_certificate() {
        let models = HashMap::from([(("UBX".to_owned(), "WK5".to_owned()), true)]);
        let robots = HashMap::from([("R1".to_owned(), ("UBX".to_owned(), "WK5".to_owned()))]);
        let issued = HashMap::from([("R1".to_owned(), live(CertStatus::Issued, 1))]);
        let plans = decide_batch(&[intent("R1", 1)], &models, &robots, &issued);
        assert!(matches!(&plans[0], Plan::Done(BeginOutcome::Existing(r)) if r.serial_hex == "aa"));
        let pending = HashMap::from([("R1".to_owned(), live(CertStatus::Pending, 1))]);
        let plans = decide_batch(&[intent("R1", 1)], &models, &robots, &pending);
        assert!(matches!(
            &plans[0],
            Plan::Done(BeginOutcome::InProgress { serial_hex }) if serial_hex == "aa"
        ));
        let race = after_lost_race(&intent("R1", 1), Some(&live(CertStatus::Issued, 1)));
        assert!(matches!(race, Plan::Done(BeginOutcome::Existing(_))));
    }
}
