//! Which certificate a robot may hold: one live certificate at a time
//! (pending while it is signed, then issued); the identical request gets
//! the same certificate, never a second one; another request needs a
//! declared re-issue, which supersedes the issued certificate.

use std::collections::HashMap;

use crate::rule::Rule;

use super::Refusal;

/// Where a certificate is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertStatus {
    /// Serial and request recorded; being signed.
    Pending,
    /// Signed and recorded; live.
    Issued,
    /// Abandoned before or during signing; never released.
    Failed,
    /// Replaced by a declared re-issue.
    Superseded,
}

impl CertStatus {
    /// Every status.
    pub const ALL: [CertStatus; 4] = [
        CertStatus::Pending,
        CertStatus::Issued,
        CertStatus::Failed,
        CertStatus::Superseded,
    ];

    /// The stored code: `pending`, `issued`, `failed` or `superseded`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Pending => "pending",
            CertStatus::Issued => "issued",
            CertStatus::Failed => "failed",
            CertStatus::Superseded => "superseded",
        }
    }

    /// The status whose code is `text`, if any.
    pub fn parse(text: &str) -> Option<CertStatus> {
        CertStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a certificate in this status is the robot's live one.
    pub fn is_live(self) -> bool {
        matches!(self, CertStatus::Pending | CertStatus::Issued)
    }
}

/// A request for a robot's certificate, as far as the rules need it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The robot.
    pub robot_id: &'a str,
    /// Its manufacturer's code.
    pub manufacturer_code: &'a str,
    /// Its model.
    pub model: &'a str,
    /// SHA-256 of the CSR: the identical CSR gets the same certificate.
    pub csr_sha256: &'a [u8],
    /// SHA-256 of the robot's public key.
    pub spki_sha256: &'a [u8],
    /// A declared re-issue: supersedes the robot's issued certificate.
    pub reissue: bool,
}

/// The robot's live certificate, as read.
#[derive(Clone, Copy, Debug)]
pub struct Live<'a> {
    /// Its serial, hex.
    pub serial_hex: &'a str,
    /// Pending or issued.
    pub status: CertStatus,
    /// SHA-256 of the CSR it was issued from.
    pub csr_sha256: &'a [u8],
    /// SHA-256 of its public key.
    pub spki_sha256: &'a [u8],
}

/// What the registry knows that a request is decided against.
#[derive(Clone, Copy, Debug)]
pub struct Known<'k, 'a> {
    /// Registered models, by (manufacturer code, model): whether the
    /// manufacturer is active.
    pub models: &'k HashMap<(String, String), bool>,
    /// Registered robots: (manufacturer code, model) by robot ID.
    pub robots: &'k HashMap<String, (String, String)>,
    /// Live certificates by robot ID.
    pub live: &'k HashMap<String, Live<'a>>,
}

/// The decision for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Record it (a pending certificate), creating the robot if it is new
    /// and superseding the issued certificate named.
    Go {
        /// The robot is not registered yet.
        new_robot: bool,
        /// The live certificate a declared re-issue supersedes.
        supersedes: Option<String>,
    },
    /// The identical request made the live certificate: answer with it
    /// (`in_progress`: it is still being signed).
    Same {
        /// Its serial.
        serial_hex: String,
        /// Still pending.
        in_progress: bool,
    },
    /// Refused.
    Refused(Refusal),
}

fn refused(rule: Rule, detail: String) -> Decision {
    Decision::Refused(Refusal {
        rule,
        state: "",
        detail,
    })
}

/// The decision for each request of a batch, in order: a robot that
/// appears again in the batch is refused, every other request is decided
/// against what the registry knows.
pub fn decide_batch(requests: &[Request<'_>], known: Known<'_, '_>) -> Vec<Decision> {
    let mut first_seen: HashMap<&str, usize> = HashMap::with_capacity(requests.len());
    requests
        .iter()
        .enumerate()
        .map(|(index, request)| {
            if let Some(&first) = first_seen.get(request.robot_id) {
                return refused(
                    Rule::RobotDuplicateInBatch,
                    format!(
                        "robot {} appears again in this batch (items {first} and {index})",
                        request.robot_id
                    ),
                );
            }
            first_seen.insert(request.robot_id, index);
            decide(request, known)
        })
        .collect()
}

/// The decision for a request that is not a repeat within its batch.
pub fn decide(request: &Request<'_>, known: Known<'_, '_>) -> Decision {
    let key = (
        request.manufacturer_code.to_owned(),
        request.model.to_owned(),
    );
    match known.models.get(&key) {
        None => {
            return refused(
                Rule::ModelApproved,
                format!(
                    "model {} is not registered for manufacturer {}",
                    request.model, request.manufacturer_code
                ),
            );
        }
        Some(false) => {
            return refused(
                Rule::ManufacturerActive,
                format!("manufacturer {} is deactivated", request.manufacturer_code),
            );
        }
        Some(true) => {}
    }
    if let Some(refusal) = robot_mismatch(request, known.robots) {
        return refusal;
    }
    match known.live.get(request.robot_id) {
        Some(current) => against_live(request, current),
        None => Decision::Go {
            new_robot: !known.robots.contains_key(request.robot_id),
            supersedes: None,
        },
    }
}

/// What the robot's live certificate means for a request.
pub fn against_live(request: &Request<'_>, live: &Live<'_>) -> Decision {
    if live.csr_sha256 == request.csr_sha256 {
        // The identical CSR: the same certificate, never a second one.
        return Decision::Same {
            serial_hex: live.serial_hex.to_owned(),
            in_progress: live.status == CertStatus::Pending,
        };
    }
    let key = if live.spki_sha256 == request.spki_sha256 {
        "the same key but another request"
    } else {
        "a different key"
    };
    match (live.status, request.reissue) {
        (CertStatus::Pending, true) => refused(
            Rule::RobotIssuanceInProgress,
            format!(
                "robot {}: certificate {} is being issued for another request; \
                 re-issue once it is issued or abandoned",
                request.robot_id, live.serial_hex
            ),
        ),
        (CertStatus::Issued, true) => Decision::Go {
            new_robot: false,
            supersedes: Some(live.serial_hex.to_owned()),
        },
        (status, reissue) => refused(
            Rule::RobotLiveCertificate,
            format!(
                "robot {} holds live certificate {} ({}); this request has {key} \
                 and {}",
                request.robot_id,
                live.serial_hex,
                status.as_str(),
                if reissue {
                    "cannot supersede it"
                } else {
                    "is not a declared re-issue (submit it with --reissue to supersede the live certificate)"
                }
            ),
        ),
    }
}

/// A refusal if the robot is registered under another manufacturer or model.
pub fn robot_mismatch(
    request: &Request<'_>,
    robots: &HashMap<String, (String, String)>,
) -> Option<Decision> {
    let (code, model) = robots.get(request.robot_id)?;
    if code == request.manufacturer_code && model == request.model {
        return None;
    }
    Some(refused(
        Rule::RobotManufacturer,
        format!(
            "robot {} is registered under {code}/{model}, not {}/{}",
            request.robot_id, request.manufacturer_code, request.model
        ),
    ))
}

/// A declared re-issue whose live certificate `old` was no longer issued
/// when the registry came to supersede it.
pub fn live_changed(request: &Request<'_>, old: &str) -> Decision {
    refused(
        Rule::RobotLiveCertificate,
        format!(
            "robot {}: its live certificate {old} changed while this request \
             was recorded; submit again",
            request.robot_id
        ),
    )
}

/// The answer to a request whose certificate another transaction beat to
/// the robot, from the robot's live certificate as re-read, if any.
pub fn after_lost_race(request: &Request<'_>, live_now: Option<&Live<'_>>) -> Decision {
    match live_now {
        Some(current) => match against_live(request, current) {
            Decision::Go { .. } => refused(
                Rule::RobotLiveCertificate,
                format!(
                    "robot {}: another request recorded certificate {} at the \
                     same time; submit again",
                    request.robot_id, current.serial_hex
                ),
            ),
            done => done,
        },
        None => refused(
            Rule::RobotLiveCertificate,
            format!(
                "robot {}: another request for it was being recorded at the \
                 same time; submit again",
                request.robot_id
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(robot: &'a str, csr: &'a [u8], reissue: bool) -> Request<'a> {
        Request {
            robot_id: robot,
            manufacturer_code: "UBX",
            model: "WK5",
            csr_sha256: csr,
            spki_sha256: &[1],
            reissue,
        }
    }

    fn live<'a>(status: CertStatus, csr: &'a [u8]) -> Live<'a> {
        Live {
            serial_hex: "aa",
            status,
            csr_sha256: csr,
            spki_sha256: &[1],
        }
    }

    fn rule(decision: &Decision) -> Option<Rule> {
        match decision {
            Decision::Refused(r) => Some(r.rule),
            _ => None,
        }
    }

    #[test]
    fn a_batch_is_decided_from_what_the_registry_knows() {
        let models = HashMap::from([
            (("UBX".to_owned(), "WK5".to_owned()), true),
            (("OFF".to_owned(), "X".to_owned()), false),
        ]);
        let robots = HashMap::from([("R2".to_owned(), ("ACM".to_owned(), "X1".to_owned()))]);
        let live_rows = HashMap::from([("R3".to_owned(), live(CertStatus::Issued, &[7]))]);
        let known = Known {
            models: &models,
            robots: &robots,
            live: &live_rows,
        };
        let mut off = request("R4", &[4], false);
        off.manufacturer_code = "OFF";
        off.model = "X";
        let mut unknown = request("R5", &[5], false);
        unknown.model = "NOPE";
        let batch = [
            request("R1", &[1], false),
            request("R1", &[2], false),
            request("R2", &[3], false),
            request("R3", &[4], false),
            request("R3b", &[5], false),
            off,
            unknown,
        ];
        let decisions = decide_batch(&batch, known);
        assert_eq!(
            decisions[0],
            Decision::Go {
                new_robot: true,
                supersedes: None
            }
        );
        assert_eq!(rule(&decisions[1]), Some(Rule::RobotDuplicateInBatch));
        assert_eq!(rule(&decisions[2]), Some(Rule::RobotManufacturer));
        assert_eq!(rule(&decisions[3]), Some(Rule::RobotLiveCertificate));
        assert!(matches!(decisions[4], Decision::Go { .. }));
        assert_eq!(rule(&decisions[5]), Some(Rule::ManufacturerActive));
        assert_eq!(rule(&decisions[6]), Some(Rule::ModelApproved));
    }

    #[test]
    fn a_re_issue_supersedes_only_an_issued_certificate() {
        assert_eq!(
            against_live(&request("R1", &[2], true), &live(CertStatus::Issued, &[1])),
            Decision::Go {
                new_robot: false,
                supersedes: Some("aa".into())
            }
        );
        assert_eq!(
            rule(&against_live(
                &request("R1", &[2], true),
                &live(CertStatus::Pending, &[1])
            )),
            Some(Rule::RobotIssuanceInProgress)
        );
        let refused = against_live(&request("R1", &[2], false), &live(CertStatus::Issued, &[1]));
        match refused {
            Decision::Refused(r) => {
                assert_eq!(r.rule, Rule::RobotLiveCertificate);
                assert!(r.detail.contains("--reissue"), "{}", r.detail);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(
            against_live(
                &request("R1", &[1], false),
                &live(CertStatus::Pending, &[1])
            ),
            Decision::Same {
                serial_hex: "aa".into(),
                in_progress: true
            }
        );
    }

    #[test]
    fn a_lost_race_is_answered_from_the_winner() {
        let mine = request("R1", &[1], false);
        assert!(matches!(
            after_lost_race(&mine, Some(&live(CertStatus::Pending, &[1]))),
            Decision::Same {
                in_progress: true,
                ..
            }
        ));
        let other = live(CertStatus::Issued, &[9]);
        assert_eq!(
            rule(&after_lost_race(&mine, Some(&other))),
            Some(Rule::RobotLiveCertificate)
        );
        // A re-issue would have gone ahead against the winner: still refused.
        let reissue = request("R1", &[2], true);
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

    #[test]
    fn statuses_round_trip_through_their_codes() {
        for s in CertStatus::ALL {
            assert_eq!(CertStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(CertStatus::parse("revoked"), None);
    }
}
