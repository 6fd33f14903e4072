//! The lifecycle state machine: which event may follow which state. The CA
//! enforces it when an event is appended; the offline verifier replays it
//! over an exported history.
//!
//! ```text
//! (none) --manufactured--> manufactured --sold--> sold --deployed--> in_service
//! manufactured --deployed--> in_service         in_service --sold--> sold
//! in_service --recall_hold--> held --recall_release--> in_service
//! any but decommissioned/recycled --decommissioned--> decommissioned --recycled--> recycled
//! maintenance: any living state, unchanged; component_replaced: manufactured, sold, in_service
//! ```

use serde::{Deserialize, Serialize};

use crate::rule::Rule;
use crate::states::revocation::Reason;

/// The kinds of lifecycle event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// First issuance of the robot's certificate (recorded by the CA).
    Manufactured,
    /// Sold, or ownership transferred: the new owner.
    Sold,
    /// Put into service.
    Deployed,
    /// Maintenance: what was done, by whom.
    Maintenance,
    /// A key component replaced: the certificate re-issued, the old one superseded.
    ComponentReplaced,
    /// Safety recall or investigation: the certificate on hold.
    RecallHold,
    /// The recall hold lifted.
    RecallRelease,
    /// Taken out of service for good: the certificate revoked (cessationOfOperation).
    Decommissioned,
    /// Recycled: final; each key component's disposition.
    Recycled,
}

impl EventKind {
    /// Every kind, in lifecycle order.
    pub const ALL: [EventKind; 9] = [
        EventKind::Manufactured,
        EventKind::Sold,
        EventKind::Deployed,
        EventKind::Maintenance,
        EventKind::ComponentReplaced,
        EventKind::RecallHold,
        EventKind::RecallRelease,
        EventKind::Decommissioned,
        EventKind::Recycled,
    ];

    /// The stored and exported name, e.g. `component_replaced`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Manufactured => "manufactured",
            EventKind::Sold => "sold",
            EventKind::Deployed => "deployed",
            EventKind::Maintenance => "maintenance",
            EventKind::ComponentReplaced => "component_replaced",
            EventKind::RecallHold => "recall_hold",
            EventKind::RecallRelease => "recall_release",
            EventKind::Decommissioned => "decommissioned",
            EventKind::Recycled => "recycled",
        }
    }

    /// The kind named `text`, if any.
    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Where a robot is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifeState {
    /// Certified, not yet sold or deployed.
    Manufactured,
    /// Owned, not (or no longer) deployed by its owner.
    Sold,
    /// Deployed.
    InService,
    /// Under a recall hold.
    Held,
    /// Out of service for good.
    Decommissioned,
    /// Recycled: terminal.
    Recycled,
}

impl LifeState {
    /// Every state.
    pub const ALL: [LifeState; 6] = [
        LifeState::Manufactured,
        LifeState::Sold,
        LifeState::InService,
        LifeState::Held,
        LifeState::Decommissioned,
        LifeState::Recycled,
    ];

    /// The stored name, e.g. `in_service`.
    pub fn as_str(self) -> &'static str {
        match self {
            LifeState::Manufactured => "manufactured",
            LifeState::Sold => "sold",
            LifeState::InService => "in_service",
            LifeState::Held => "held",
            LifeState::Decommissioned => "decommissioned",
            LifeState::Recycled => "recycled",
        }
    }

    /// The state named `text`, if any.
    pub fn parse(text: &str) -> Option<LifeState> {
        LifeState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the robot's life is over: no certificate may be issued.
    pub fn is_ended(self) -> bool {
        matches!(self, LifeState::Decommissioned | LifeState::Recycled)
    }
}

/// A refused transition: the rule, and a sentence naming the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The rule that refuses it.
    pub rule: Rule,
    /// The current state, `none` before the first event.
    pub state: &'static str,
    /// What is wrong, naming the state and the event.
    pub detail: String,
}

/// The state after `kind` happens in `state` (`None`: no event yet), or the
/// rule that forbids it.
pub fn transition(state: Option<LifeState>, kind: EventKind) -> Result<LifeState, Refusal> {
    use EventKind as K;
    use LifeState as S;
    let refuse = |rule: Rule, why: &str| Refusal {
        rule,
        state: state.map_or("none", LifeState::as_str),
        detail: format!(
            "{} is refused in state {}: {why}",
            kind.as_str(),
            state.map_or("none", LifeState::as_str)
        ),
    };
    let Some(current) = state else {
        return match kind {
            K::Manufactured => Ok(S::Manufactured),
            _ => Err(refuse(
                Rule::LifecycleFirstEvent,
                "a history begins with manufactured, at first issuance",
            )),
        };
    };
    match (current, kind) {
        (S::Recycled, _) => Err(refuse(
            Rule::LifecycleRecycledFinal,
            "nothing follows recycling",
        )),
        (_, K::Manufactured) => Err(refuse(
            Rule::LifecycleManufacturedOnce,
            "manufactured is recorded once, by the CA at first issuance",
        )),
        (S::Decommissioned, K::Recycled) => Ok(S::Recycled),
        (S::Decommissioned, _) => Err(refuse(
            Rule::LifecycleDecommissioned,
            "after decommissioning only recycling may be recorded (no re-issue, no service)",
        )),
        (_, K::Recycled) => Err(refuse(
            Rule::LifecycleRecycleAfterDecommission,
            "a robot is decommissioned before it is recycled",
        )),
        (_, K::Decommissioned) => Ok(S::Decommissioned),
        (state, K::Maintenance) => Ok(state),
        (S::InService, K::RecallHold) => Ok(S::Held),
        (_, K::RecallHold) => Err(refuse(
            Rule::LifecycleHoldInService,
            "a recall hold is put only on a robot in service",
        )),
        (S::Held, K::RecallRelease) => Ok(S::InService),
        (_, K::RecallRelease) => Err(refuse(
            Rule::LifecycleReleaseHeld,
            "only a robot under a recall hold is released",
        )),
        (S::Held, _) => Err(refuse(
            Rule::LifecycleHeld,
            "a robot under a recall hold is not sold, deployed or re-certified until released",
        )),
        (S::InService, K::Deployed) => Err(refuse(
            Rule::LifecycleAlreadyInService,
            "the robot is in service already",
        )),
        (_, K::Deployed) => Ok(S::InService),
        (_, K::Sold) => Ok(S::Sold),
        (state, K::ComponentReplaced) => Ok(state),
    }
}

/// What an event does to the robot's live certificate, in the same
/// registry transaction as the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateEffect {
    /// Nothing (sale, deployment, maintenance, recycling; a component
    /// replacement's re-issue is made by enrollment, in the transaction
    /// that completes the new certificate).
    None,
    /// certificateHold.
    Hold,
    /// Lift the hold.
    Release,
    /// Revoke for good, for this reason.
    Revoke(Reason),
}

impl CertificateEffect {
    /// The effect the lifecycle gives an event of `kind`.
    pub fn of(kind: EventKind) -> Self {
        match kind {
            EventKind::RecallHold => CertificateEffect::Hold,
            EventKind::RecallRelease => CertificateEffect::Release,
            EventKind::Decommissioned => CertificateEffect::Revoke(Reason::CessationOfOperation),
            _ => CertificateEffect::None,
        }
    }
}

/// What appending an event of `kind` to a history whose head is in `state`
/// leads to: the state after it and its effect on the live certificate, or
/// the rule that forbids it.
pub fn plan(state: LifeState, kind: EventKind) -> Result<(LifeState, CertificateEffect), Refusal> {
    let next = transition(Some(state), kind)?;
    Ok((next, CertificateEffect::of(kind)))
}

/// The state after a sequence of events, or the index of the first refused
/// one with its refusal.
pub fn replay(kinds: impl IntoIterator<Item = EventKind>) -> Result<LifeState, (usize, Refusal)> {
    let mut state = None;
    for (i, kind) in kinds.into_iter().enumerate() {
        state = Some(transition(state, kind).map_err(|r| (i, r))?);
    }
    state.ok_or((
        0,
        Refusal {
            rule: Rule::LifecycleFirstEvent,
            state: "none",
            detail: "the history is empty".into(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind as K;
    use LifeState as S;

    #[test]
    fn an_event_is_planned_from_the_head_state() {
        assert_eq!(
            plan(S::InService, K::RecallHold),
            Ok((S::Held, CertificateEffect::Hold))
        );
        assert_eq!(
            plan(S::InService, K::Decommissioned),
            Ok((
                S::Decommissioned,
                CertificateEffect::Revoke(Reason::CessationOfOperation)
            ))
        );
        assert_eq!(
            plan(S::Decommissioned, K::Deployed).map_err(|r| r.rule),
            Err(Rule::LifecycleDecommissioned)
        );
    }

    #[test]
    fn a_whole_life() {
        let life = [
            K::Manufactured,
            K::Sold,
            K::Deployed,
            K::Maintenance,
            K::ComponentReplaced,
            K::RecallHold,
            K::Maintenance,
            K::RecallRelease,
            K::Sold,
            K::Deployed,
            K::Decommissioned,
            K::Recycled,
        ];
        assert_eq!(replay(life), Ok(S::Recycled));
    }

    #[test]
    fn refusals_name_state_and_rule() {
        let cases = [
            (None, K::Sold, Rule::LifecycleFirstEvent),
            (
                Some(S::Sold),
                K::Manufactured,
                Rule::LifecycleManufacturedOnce,
            ),
            (
                Some(S::Recycled),
                K::Maintenance,
                Rule::LifecycleRecycledFinal,
            ),
            (
                Some(S::Decommissioned),
                K::ComponentReplaced,
                Rule::LifecycleDecommissioned,
            ),
            (
                Some(S::Decommissioned),
                K::Deployed,
                Rule::LifecycleDecommissioned,
            ),
            (
                Some(S::Manufactured),
                K::RecallHold,
                Rule::LifecycleHoldInService,
            ),
            (Some(S::Sold), K::RecallHold, Rule::LifecycleHoldInService),
            (
                Some(S::InService),
                K::RecallRelease,
                Rule::LifecycleReleaseHeld,
            ),
            (Some(S::Held), K::ComponentReplaced, Rule::LifecycleHeld),
            (Some(S::Held), K::Sold, Rule::LifecycleHeld),
            (
                Some(S::InService),
                K::Deployed,
                Rule::LifecycleAlreadyInService,
            ),
            (
                Some(S::InService),
                K::Recycled,
                Rule::LifecycleRecycleAfterDecommission,
            ),
        ];
        for (state, kind, rule) in cases {
            let r = transition(state, kind).expect_err("refused");
            assert_eq!(r.rule, rule, "{state:?} {kind:?}");
            let name = state.map_or("none", LifeState::as_str);
            assert_eq!(r.state, name);
            assert!(r.detail.contains(name) && r.detail.contains(kind.as_str()));
        }
        assert_eq!(
            replay([K::Manufactured, K::RecallHold]).map_err(|(i, r)| (i, r.rule)),
            Err((1, Rule::LifecycleHoldInService))
        );
    }

    #[test]
    fn names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        for s in LifeState::ALL {
            assert_eq!(LifeState::parse(s.as_str()), Some(s));
        }
        assert!(S::Decommissioned.is_ended() && !S::Held.is_ended());
    }
}
