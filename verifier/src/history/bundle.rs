//! The exported history of one robot, and its offline verification.
//!
//! A bundle is one JSON document: the events with their hashes, the chain
//! head signed by the CA's lifecycle signer, the signer's certificate chain
//! (signer, issuing CA) and the robot's certificates. `robotid-verify
//! history BUNDLE --trust root.pem` checks it with no network: the signer's
//! path to the trust anchor, the head signature, every event's hash, their
//! order and links, the head against the last event, the state machine, and
//! that the certificates the events name are in the bundle and the robot's.

use std::collections::HashSet;

use rustls_pki_types::{CertificateDer, UnixTime};
use serde::{Deserialize, Serialize};
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};

use super::states::{self, EventKind};
use super::{EventFields, GENESIS, event_hash, hash_from_hex, head_message};
use crate::chain::{self, Purpose};
use crate::oid;
use crate::report::{Check, Status, Verdict, rfc3339};

/// The `format` of a bundle.
pub const BUNDLE_FORMAT: &str = "robotid-lifecycle-bundle/1";
/// The head signature algorithm.
pub const HEAD_ALGORITHM: &str = "ecdsa-p256-sha256";

static LIFECYCLE_SIGNING: const_oid::ObjectIdentifier = oid::ID_KP_LIFECYCLE_SIGNING;

/// One event as exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEvent {
    /// Position, from 1.
    pub seq: u64,
    /// Unix seconds.
    pub at: i64,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who recorded it.
    pub actor: String,
    /// Details, JSON text exactly as hashed.
    pub payload: String,
    /// The previous event's hash, hex.
    pub prev_hash: String,
    /// This event's hash, hex.
    pub hash: String,
}

impl BundleEvent {
    /// The hash of this event's content, or None if `prev_hash` is not 32
    /// bytes of hex.
    pub fn computed_hash(&self, robot_id: &str) -> Option<[u8; 32]> {
        let prev = hash_from_hex(&self.prev_hash)?;
        Some(event_hash(&EventFields {
            robot_id,
            seq: self.seq,
            prev_hash: &prev,
            kind: &self.kind,
            at: self.at,
            actor: &self.actor,
            payload: &self.payload,
        }))
    }
}

/// The signed chain head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedHead {
    /// The robot.
    pub robot_id: String,
    /// The last event's position.
    pub seq: u64,
    /// The last event's hash, hex.
    pub hash: String,
    /// When the CA signed, unix seconds.
    pub signed_at: i64,
    /// [`HEAD_ALGORITHM`].
    pub algorithm: String,
    /// The signature over [`head_message`], hex (DER ECDSA signature).
    pub signature: String,
}

/// An exported history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// The robot.
    pub robot_id: String,
    /// Every event, in order.
    pub events: Vec<BundleEvent>,
    /// The chain head, signed.
    pub head: SignedHead,
    /// The lifecycle signer's certificate, then the issuing CA, PEM.
    pub signer_chain: Vec<String>,
    /// The robot's signed certificates, PEM, oldest first.
    pub certificates: Vec<String>,
}

/// The report on a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryReport {
    /// Version of this report's schema.
    pub schema_version: u32,
    /// The bundle file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The robot.
    pub robot_id: String,
    /// How many events.
    pub events: usize,
    /// The state after the last event, if the history replays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
    /// `pass` when no check failed.
    pub verdict: Verdict,
}

impl HistoryReport {
    /// The check named `name`, if present.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The human report: a header, one line per check, the verdict.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let p = crate::report::printable;
        let mut out = String::new();
        if let Some(file) = &self.file {
            let _ = writeln!(out, "{:12} {}", "bundle", p(file));
        }
        let _ = writeln!(out, "{:12} {}", "robot", p(&self.robot_id));
        let _ = writeln!(
            out,
            "{:12} {} events, state {}",
            "history",
            self.events,
            self.state.as_deref().unwrap_or("unknown")
        );
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.checks {
            let _ = writeln!(
                out,
                "  {:width$}  {}  {}",
                c.name,
                c.status.label(),
                p(&c.reason)
            );
            for d in &c.details {
                let _ = writeln!(out, "  {:width$}        - {}", "", p(d));
            }
        }
        let failed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        let _ = writeln!(
            out,
            "verdict: {} ({} checks, {failed} failed)",
            match self.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
            },
            self.checks.len()
        );
        out
    }
}

/// Why a bundle cannot be judged at all.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not a bundle.
    #[error("not a lifecycle bundle: {0}")]
    Parse(String),
    /// A bundle of another format version.
    #[error("format {0:?} is not {BUNDLE_FORMAT}")]
    Format(String),
}

/// Reads a bundle from JSON.
pub fn parse(json: &[u8]) -> Result<Bundle, BundleError> {
    // The path of the field at fault (`events[2].seq`), beside serde's
    // line and column.
    let mut reader = serde_json::Deserializer::from_slice(json);
    let bundle: Bundle = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let path = e.path().to_string();
        BundleError::Parse(format!("field {path}: {}", e.into_inner()))
    })?;
    if bundle.format != BUNDLE_FORMAT {
        return Err(BundleError::Format(bundle.format));
    }
    Ok(bundle)
}

/// Checks `bundle` against the trust `anchors`.
pub fn verify(bundle: &Bundle, anchors: &[CertificateDer<'_>]) -> HistoryReport {
    let signer = signer_checks(bundle, anchors);
    let events_check = events_check(bundle);
    let head = head_check(bundle);
    let (transitions, state) = transitions_check(bundle);
    let certificates = certificates_check(bundle, anchors);
    let mut checks = signer;
    checks.extend([events_check, head, transitions, certificates]);
    let verdict = if checks.iter().any(|c| c.status == Status::Fail) {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    HistoryReport {
        schema_version: 1,
        file: None,
        robot_id: bundle.robot_id.clone(),
        events: bundle.events.len(),
        state,
        checks,
        verdict,
    }
}

fn pem_certs(pems: &[String]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut out = Vec::with_capacity(pems.len());
    for (i, text) in pems.iter().enumerate() {
        let certs = crate::input::certificates_from(
            text.as_bytes(),
            std::path::Path::new("bundle certificate"),
        )
        .map_err(|e| format!("entry {i}: {e}"))?;
        out.extend(certs);
    }
    Ok(out)
}

/// `signer` (path of the lifecycle signer to an anchor, at signing time)
/// and `head_signature`.
fn signer_checks(bundle: &Bundle, anchors: &[CertificateDer<'_>]) -> Vec<Check> {
    let skip_sig = |why: &str| Check::skip("head_signature", why.to_owned());
    let chain = match pem_certs(&bundle.signer_chain) {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => {
            return vec![
                Check::fail("signer", "signer_missing", "the bundle has no signer chain"),
                skip_sig("no signer"),
            ];
        }
        Err(e) => {
            return vec![
                Check::fail("signer", "signer_unreadable", e),
                skip_sig("no signer"),
            ];
        }
    };
    let trust = match anchors
        .iter()
        .map(anchor_from_trusted_cert)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(t) => t,
        Err(e) => {
            return vec![
                Check::fail("signer", "anchor_unusable", format!("trust anchor: {e}")),
                skip_sig("no trusted signer"),
            ];
        }
    };
    let ee = match EndEntityCert::try_from(&chain[0]) {
        Ok(ee) => ee,
        Err(e) => {
            return vec![
                Check::fail(
                    "signer",
                    "signer_unreadable",
                    format!("signer certificate: {e}"),
                ),
                skip_sig("no signer"),
            ];
        }
    };
    let at = u64::try_from(bundle.head.signed_at).unwrap_or(0);
    let path = ee.verify_for_usage(
        chain::SIGNATURE_ALGORITHMS,
        &trust,
        &chain[1..],
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(at)),
        KeyUsage::required(oid::der_content(&LIFECYCLE_SIGNING)),
        None,
        None,
    );
    let signer = match path {
        Ok(_) => Check::pass(
            "signer",
            format!(
                "the lifecycle signer chains to the trust anchor at signing time {}",
                rfc3339(bundle.head.signed_at)
            ),
        ),
        Err(e) => {
            return vec![
                Check::fail(
                    "signer",
                    "signer_untrusted",
                    format!(
                        "the lifecycle signer has no valid path to the trust anchor at {}: {e}",
                        rfc3339(bundle.head.signed_at)
                    ),
                ),
                skip_sig("the signer is not trusted"),
            ];
        }
    };
    let head = &bundle.head;
    let signature = hex::decode(&head.signature).unwrap_or_default();
    let message = hash_from_hex(&head.hash)
        .map(|h| head_message(&head.robot_id, head.seq, &h, head.signed_at));
    let verified = match (head.algorithm.as_str(), message) {
        (HEAD_ALGORITHM, Some(m)) => ee
            .verify_signature(webpki::ring::ECDSA_P256_SHA256, &m, &signature)
            .is_ok(),
        _ => false,
    };
    let sig = if !verified {
        Check::fail(
            "head_signature",
            "signature_invalid",
            format!(
                "the head signature ({}) does not verify with the lifecycle signer's key: \
                 robot, sequence, hash or time were changed, or it was forged",
                head.algorithm
            ),
        )
    } else if head.robot_id != bundle.robot_id {
        Check::fail(
            "head_signature",
            "robot_mismatch",
            format!(
                "the signed head is robot {}'s, the bundle says {}",
                head.robot_id, bundle.robot_id
            ),
        )
    } else {
        Check::pass(
            "head_signature",
            format!(
                "the CA signed event {} of robot {} at {}",
                head.seq,
                head.robot_id,
                rfc3339(head.signed_at)
            ),
        )
    };
    vec![signer, sig]
}

/// `events`: each event's own hash, their order and their links. The first
/// failure decides the code (altered, inserted, reordered, removed,
/// chain_broken, in that priority); details name every finding.
fn events_check(bundle: &Bundle) -> Check {
    let robot = bundle.robot_id.as_str();
    let mut altered = Vec::new();
    let mut inserted = Vec::new();
    let mut reordered = Vec::new();
    let mut removed = Vec::new();
    let mut broken = Vec::new();
    let mut seen = HashSet::with_capacity(bundle.events.len());
    let mut highest = 0u64;
    let mut prev_hash: Option<&str> = None;
    for e in &bundle.events {
        match e.computed_hash(robot) {
            Some(h) if hex::encode(h) == e.hash.to_ascii_lowercase() => {}
            _ => altered.push(format!(
                "event {} ({}) does not match its hash: altered",
                e.seq, e.kind
            )),
        }
        if !seen.insert(e.seq) {
            inserted.push(format!(
                "event {} appears twice: an event was inserted",
                e.seq
            ));
        } else if e.seq < highest {
            reordered.push(format!(
                "event {} comes after event {}: out of order",
                e.seq, highest
            ));
        } else if e.seq > highest.saturating_add(1) {
            removed.push(format!(
                "events {} to {} are missing: removed",
                highest.saturating_add(1),
                e.seq.saturating_sub(1)
            ));
        }
        highest = highest.max(e.seq);
        let expected_prev = prev_hash.map_or_else(|| hex::encode(GENESIS), str::to_owned);
        if e.prev_hash.to_ascii_lowercase() != expected_prev {
            broken.push(format!(
                "event {} does not follow the event before it (prev_hash {}…)",
                e.seq,
                e.prev_hash.get(..12).unwrap_or(&e.prev_hash)
            ));
        }
        prev_hash = Some(e.hash.as_str());
    }
    let findings: [(&'static str, &Vec<String>); 5] = [
        ("event_altered", &altered),
        ("event_inserted", &inserted),
        ("event_reordered", &reordered),
        ("event_removed", &removed),
        ("chain_broken", &broken),
    ];
    if bundle.events.is_empty() {
        return Check::fail("events", "event_removed", "the bundle has no events");
    }
    match findings.iter().find(|(_, f)| !f.is_empty()) {
        None => Check::pass(
            "events",
            format!(
                "{} events, each matching its hash and linked to the one before",
                bundle.events.len()
            ),
        ),
        Some((code, first)) => {
            let details: Vec<String> = findings
                .iter()
                .flat_map(|(_, f)| f.iter().cloned())
                .take(50)
                .collect();
            Check::fail("events", code, first[0].clone()).with_details(details)
        }
    }
}

/// `head`: the signed head is the last event.
fn head_check(bundle: &Bundle) -> Check {
    let head = &bundle.head;
    let Some(last) = bundle.events.last() else {
        return Check::fail("head", "event_removed", "no event for the signed head");
    };
    let count = u64::try_from(bundle.events.len()).unwrap_or(u64::MAX);
    if head.seq > last.seq || head.seq > count {
        return Check::fail(
            "head",
            "event_removed",
            format!(
                "the CA signed {} events; the bundle ends at event {} ({} events): events were removed",
                head.seq,
                last.seq,
                bundle.events.len()
            ),
        );
    }
    if head.seq < last.seq || head.seq < count {
        return Check::fail(
            "head",
            "event_inserted",
            format!(
                "the CA signed {} events; the bundle has {} ending at event {}: events were added",
                head.seq,
                bundle.events.len(),
                last.seq
            ),
        );
    }
    if !head.hash.eq_ignore_ascii_case(&last.hash) {
        return Check::fail(
            "head",
            "event_altered",
            format!(
                "event {} is not the event the CA signed (hash differs): the history was rewritten",
                last.seq
            ),
        );
    }
    Check::pass(
        "head",
        format!("the signed head is event {}, the last one", last.seq),
    )
}

/// `transitions`: the history obeys the state machine.
fn transitions_check(bundle: &Bundle) -> (Check, Option<String>) {
    let mut kinds = Vec::with_capacity(bundle.events.len());
    for e in &bundle.events {
        match EventKind::parse(&e.kind) {
            Some(k) => kinds.push(k),
            None => {
                return (
                    Check::fail(
                        "transitions",
                        "event_type",
                        format!("event {} has unknown type {:?}", e.seq, e.kind),
                    ),
                    None,
                );
            }
        }
    }
    match states::replay(kinds) {
        Ok(state) => (
            Check::pass(
                "transitions",
                format!(
                    "every event is allowed where it stands; now {}",
                    state.as_str()
                ),
            ),
            Some(state.as_str().to_owned()),
        ),
        Err((i, r)) => {
            let seq = bundle.events.get(i).map_or(0, |e| e.seq);
            (
                Check::fail(
                    "transitions",
                    "transition_refused",
                    format!("event {seq}: {} ({})", r.detail, r.rule),
                ),
                None,
            )
        }
    }
}

/// Serials named in event payloads (`serial`, `old_serial`, `new_serial`).
fn named_serials(bundle: &Bundle) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for e in &bundle.events {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&e.payload) else {
            continue;
        };
        for key in ["serial", "old_serial", "new_serial"] {
            if let Some(serde_json::Value::String(s)) = map.get(key) {
                out.push((e.seq, s.to_ascii_lowercase()));
            }
        }
    }
    out
}

/// `certificates`: each is the robot's, issued under the trust anchor, and
/// every certificate an event names is present.
fn certificates_check(bundle: &Bundle, anchors: &[CertificateDer<'_>]) -> Check {
    let certs = match pem_certs(&bundle.certificates) {
        Ok(c) => c,
        Err(e) => return Check::fail("certificates", "certificate_unreadable", e),
    };
    let intermediates =
        pem_certs(bundle.signer_chain.get(1..).unwrap_or_default()).unwrap_or_default();
    let mut serials = HashSet::new();
    let mut problems = Vec::new();
    for der in &certs {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            problems.push("a certificate cannot be parsed".to_owned());
            continue;
        };
        let serial = hex::encode(cert.raw_serial());
        match crate::profile::check_parsed(&cert) {
            Ok(robot) if robot.robot_id.as_str() == bundle.robot_id => {}
            Ok(robot) => problems.push(format!(
                "certificate {serial} is robot {}'s",
                robot.robot_id.as_str()
            )),
            Err(e) => problems.push(format!("certificate {serial}: {e}")),
        }
        let at = u64::try_from(cert.validity().not_before.timestamp()).unwrap_or(0);
        if let Err(e) = chain::verify_path(der, &intermediates, anchors, at, Purpose::RobotIdentity)
        {
            problems.push(format!("certificate {serial}: {e}"));
        }
        serials.insert(serial);
    }
    for (seq, serial) in named_serials(bundle) {
        if !serials.contains(&serial) {
            problems.push(format!(
                "event {seq} names certificate {serial}, which is not in the bundle"
            ));
        }
    }
    if problems.is_empty() {
        Check::pass(
            "certificates",
            format!(
                "{} certificates of robot {}, issued under the trust anchor; every one the events name is here",
                certs.len(),
                bundle.robot_id
            ),
        )
    } else {
        Check::fail("certificates", "certificate_mismatch", problems[0].clone())
            .with_details(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field out of range is named by its path (it was reported by line
    /// and column only).
    #[test]
    fn a_bad_field_is_named_by_its_path() {
        let event = r#"{"seq": 1, "at": 0, "type": "manufactured", "actor": "ca",
            "payload": "{}", "prev_hash": "", "hash": ""}"#;
        let bad = event.replace("\"seq\": 1", "\"seq\": -1");
        let json = format!(
            r#"{{"format": "x", "robot_id": "R", "events": [{event}, {bad}], "head": {{}}}}"#
        );
        let e = parse(json.as_bytes()).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("field events[1].seq"), "{e}");
        assert!(e.contains("-1"), "{e}");
    }
}
