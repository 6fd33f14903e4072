//! Revocations and holds: the rules of RFC 5280 and the CA/Browser Forum's
//! practice.
//!
//! - A permanent revocation is final; its reason can only be raised to
//!   keyCompromise, keeping its date.
//! - A hold (certificateHold) is only put on a live certificate and can be
//!   released; a held certificate can be revoked for good, keeping the date
//!   of the hold.
//! - A superseded certificate counts as revoked (superseded) from the time
//!   it was superseded, with no entry needed; an entry says more when there
//!   is one.
//! - A certificate that was never issued (pending, failed) has nothing to
//!   revoke.

use serde::{Deserialize, Serialize};

use super::Refusal;
use super::certificate::CertStatus;
use crate::rule::Rule;

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
}

/// Where a certificate's revocation entry stands.
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
    /// Every state.
    pub const ALL: [RevocationState; 3] = [
        RevocationState::Revoked,
        RevocationState::Held,
        RevocationState::Released,
    ];

    /// `revoked`, `held` or `released`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationState::Revoked => "revoked",
            RevocationState::Held => "held",
            RevocationState::Released => "released",
        }
    }

    /// The state named `text`, if any.
    pub fn parse(text: &str) -> Option<RevocationState> {
        RevocationState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A certificate's revocation entry: its state, reason and date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Revoked, held or released.
    pub state: RevocationState,
    /// The reason (certificateHold for a hold, released or not).
    pub reason: Reason,
    /// When it was revoked or put on hold, unix seconds.
    pub revoked_at: i64,
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
    /// The standing given a revocation entry (if any) and, for a superseded
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

/// A request to change a certificate's revocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Revoke for good, for this reason (not certificateHold).
    Revoke(Reason),
    /// Put on hold.
    Hold,
    /// Lift the hold.
    Release,
}

/// What an action leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The entry becomes this.
    Made(Entry),
    /// It already was so: nothing changes.
    AlreadySo(Entry),
}

fn refuse(rule: Rule, detail: String) -> Refusal {
    Refusal {
        rule,
        state: "",
        detail,
    }
}

/// The entry after `action` at time `at` on certificate `serial` (for the
/// messages), which is in `status`, was superseded at `superseded_at` if
/// it was, and has the entry `existing` if any; or why it is refused.
pub fn decide(
    serial: &str,
    status: CertStatus,
    superseded_at: Option<i64>,
    existing: Option<Entry>,
    action: Action,
    at: i64,
) -> Result<Outcome, Refusal> {
    if !matches!(status, CertStatus::Issued | CertStatus::Superseded) {
        return Err(refuse(
            Rule::CertificateNotIssued,
            format!(
                "certificate {serial} was never issued (it is {})",
                status.as_str()
            ),
        ));
    }
    let made = |state, reason, revoked_at| {
        Outcome::Made(Entry {
            state,
            reason,
            revoked_at,
        })
    };
    let already_revoked = |e: &Entry| {
        refuse(
            Rule::RevocationAlreadyRevoked,
            format!(
                "certificate {serial} is already revoked ({}) since {}",
                e.reason.as_str(),
                e.revoked_at
            ),
        )
    };
    // A superseded certificate with no entry is revoked (superseded) already.
    let existing = existing.or_else(|| {
        superseded_at.map(|since| Entry {
            state: RevocationState::Revoked,
            reason: Reason::Superseded,
            revoked_at: since,
        })
    });
    match (action, existing) {
        (Action::Revoke(Reason::CertificateHold), _) => Err(refuse(
            Rule::RevocationReason,
            "certificateHold is a hold, not a revocation: use hold".into(),
        )),
        (Action::Revoke(reason), Some(e)) if e.state == RevocationState::Revoked => {
            if e.reason == reason {
                Ok(Outcome::AlreadySo(e))
            } else if reason == Reason::KeyCompromise {
                Ok(made(RevocationState::Revoked, reason, e.revoked_at))
            } else {
                Err(already_revoked(&e))
            }
        }
        (Action::Revoke(reason), Some(e)) if e.state == RevocationState::Held => {
            Ok(made(RevocationState::Revoked, reason, e.revoked_at))
        }
        (Action::Revoke(reason), _) => Ok(made(RevocationState::Revoked, reason, at)),
        (Action::Hold, Some(e)) if e.state == RevocationState::Revoked => Err(already_revoked(&e)),
        (Action::Hold, Some(e)) if e.state == RevocationState::Held => Ok(Outcome::AlreadySo(e)),
        (Action::Hold, _) if status != CertStatus::Issued => Err(refuse(
            Rule::RevocationHoldNotLive,
            format!(
                "certificate {serial} is {}, not live: only a live certificate is put on hold",
                status.as_str()
            ),
        )),
        (Action::Hold, _) => Ok(made(RevocationState::Held, Reason::CertificateHold, at)),
        (Action::Release, Some(e)) if e.state == RevocationState::Held => Ok(made(
            RevocationState::Released,
            Reason::CertificateHold,
            e.revoked_at,
        )),
        (Action::Release, Some(e)) if e.state == RevocationState::Released => {
            Ok(Outcome::AlreadySo(e))
        }
        (Action::Release, Some(e)) => Err(already_revoked(&e)),
        (Action::Release, None) => Err(refuse(
            Rule::RevocationNotOnHold,
            format!("certificate {serial} is not on hold"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: RevocationState, reason: Reason) -> Entry {
        Entry {
            state,
            reason,
            revoked_at: 100,
        }
    }

    fn run(
        status: CertStatus,
        superseded_at: Option<i64>,
        existing: Option<Entry>,
        action: Action,
    ) -> Result<Outcome, Refusal> {
        decide("0a", status, superseded_at, existing, action, 200)
    }

    fn made(outcome: Result<Outcome, Refusal>) -> Option<Entry> {
        match outcome {
            Ok(Outcome::Made(e)) => Some(e),
            _ => None,
        }
    }

    fn rule_of(outcome: Result<Outcome, Refusal>) -> Option<Rule> {
        outcome.err().map(|r| r.rule)
    }

    #[test]
    fn a_permanent_revocation_only_moves_to_key_compromise() {
        let revoked = entry(RevocationState::Revoked, Reason::CessationOfOperation);
        let same = run(
            CertStatus::Issued,
            None,
            Some(revoked),
            Action::Revoke(Reason::CessationOfOperation),
        );
        assert!(matches!(same, Ok(Outcome::AlreadySo(_))));
        let raised = made(run(
            CertStatus::Issued,
            None,
            Some(revoked),
            Action::Revoke(Reason::KeyCompromise),
        ));
        assert!(
            matches!(raised, Some(e) if e.reason == Reason::KeyCompromise && e.revoked_at == 100)
        );
        let other = run(
            CertStatus::Issued,
            None,
            Some(revoked),
            Action::Revoke(Reason::AffiliationChanged),
        );
        assert_eq!(rule_of(other), Some(Rule::RevocationAlreadyRevoked));
        for action in [Action::Hold, Action::Release] {
            let refused = run(CertStatus::Issued, None, Some(revoked), action);
            assert_eq!(rule_of(refused), Some(Rule::RevocationAlreadyRevoked));
        }
    }

    #[test]
    fn holds_are_put_on_live_certificates_and_released() {
        let held = made(run(CertStatus::Issued, None, None, Action::Hold));
        assert!(matches!(held, Some(e) if e.state == RevocationState::Held && e.revoked_at == 200));
        let superseded = run(CertStatus::Superseded, Some(150), None, Action::Hold);
        assert_eq!(rule_of(superseded), Some(Rule::RevocationAlreadyRevoked));
        let release = made(run(
            CertStatus::Issued,
            None,
            Some(entry(RevocationState::Held, Reason::CertificateHold)),
            Action::Release,
        ));
        assert!(matches!(release, Some(e) if e.state == RevocationState::Released));
        let not_held = run(CertStatus::Issued, None, None, Action::Release);
        assert_eq!(rule_of(not_held), Some(Rule::RevocationNotOnHold));
        let again = made(run(
            CertStatus::Issued,
            None,
            Some(entry(RevocationState::Released, Reason::CertificateHold)),
            Action::Hold,
        ));
        assert!(
            matches!(again, Some(e) if e.state == RevocationState::Held && e.revoked_at == 200)
        );
    }

    #[test]
    fn revoking_a_held_certificate_keeps_the_date_of_the_hold() {
        let e = made(run(
            CertStatus::Issued,
            None,
            Some(entry(RevocationState::Held, Reason::CertificateHold)),
            Action::Revoke(Reason::KeyCompromise),
        ));
        assert!(matches!(e, Some(e) if e.state == RevocationState::Revoked && e.revoked_at == 100));
    }

    #[test]
    fn a_superseded_certificate_is_revoked_already() {
        let same = run(
            CertStatus::Superseded,
            Some(150),
            None,
            Action::Revoke(Reason::Superseded),
        );
        assert!(matches!(same, Ok(Outcome::AlreadySo(e)) if e.revoked_at == 150));
        let compromised = made(run(
            CertStatus::Superseded,
            Some(150),
            None,
            Action::Revoke(Reason::KeyCompromise),
        ));
        assert!(
            matches!(compromised, Some(e) if e.reason == Reason::KeyCompromise && e.revoked_at == 150)
        );
    }

    #[test]
    fn a_certificate_never_issued_has_nothing_to_revoke_and_a_hold_is_no_reason() {
        for status in [CertStatus::Pending, CertStatus::Failed] {
            for action in [
                Action::Revoke(Reason::KeyCompromise),
                Action::Hold,
                Action::Release,
            ] {
                assert_eq!(
                    rule_of(run(status, None, None, action)),
                    Some(Rule::CertificateNotIssued)
                );
            }
        }
        assert_eq!(
            rule_of(run(
                CertStatus::Issued,
                None,
                None,
                Action::Revoke(Reason::CertificateHold)
            )),
            Some(Rule::RevocationReason)
        );
    }

    #[test]
    fn standing_prefers_the_entry_over_supersession() {
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
        for s in RevocationState::ALL {
            assert_eq!(RevocationState::parse(s.as_str()), Some(s));
        }
    }
}
