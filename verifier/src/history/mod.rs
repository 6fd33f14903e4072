//! A robot's lifecycle history: the events, the rules that order them, and
//! the hash chain that makes the history checkable offline.
//!
//! This module owns the format. The CA server appends events and signs the
//! chain head with the functions here; `robotid-verify history` recomputes
//! the same bytes from an exported bundle (see [`bundle`]). The encoding is
//! described in docs/lifecycle.md and docs/decisions/0010-lifecycle-chain.md.
//!
//! **Event hash.** SHA-256 over
//! `"RobotID lifecycle event v1\0" || str(robot_id) || u64(seq) ||
//! prev_hash[32] || str(type) || i64(at) || str(actor) || str(payload)`,
//! where `u64`/`i64` are 8 bytes big-endian and `str(x)` is the 4-byte
//! big-endian length of the UTF-8 bytes of `x` followed by them. Every
//! field has a fixed width or a length prefix, so no two different events
//! encode alike; the payload is hashed as the exact JSON text stored and
//! exported (never re-serialised). The first event's `prev_hash` is 32 zero
//! bytes.
//!
//! **Head.** The CA signs `"RobotID lifecycle head v1\0" || str(robot_id) ||
//! u64(seq) || hash[32] || i64(signed_at)`: the last event commits to every
//! earlier one, so one signature covers the whole history up to `seq`.

pub mod bundle;
pub mod states;

pub use states::{CertificateEffect, EventKind, LifeState, Refusal, plan, transition};

/// Domain separation of event hashes: cannot begin any DER structure.
pub const EVENT_DOMAIN: &[u8] = b"RobotID lifecycle event v1\0";
/// Domain separation of signed heads.
pub const HEAD_DOMAIN: &[u8] = b"RobotID lifecycle head v1\0";
/// The `prev_hash` of a robot's first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// The hashed fields of one event.
#[derive(Clone, Copy, Debug)]
pub struct EventFields<'a> {
    /// The robot.
    pub robot_id: &'a str,
    /// Position in the robot's history, from 1.
    pub seq: u64,
    /// The hash of event `seq - 1` ([`GENESIS`] for the first).
    pub prev_hash: &'a [u8; 32],
    /// The event type, e.g. `sold`.
    pub kind: &'a str,
    /// When it was recorded, unix seconds.
    pub at: i64,
    /// Who recorded it, e.g. `manufacturer:UBX:<serial>`.
    pub actor: &'a str,
    /// The event's details: JSON text, hashed as is.
    pub payload: &'a str,
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    // A string longer than 4 GiB cannot be stored or exported; saturating
    // keeps the function total without a lossy cast.
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// The bytes hashed for an event.
pub fn event_bytes(e: &EventFields<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        EVENT_DOMAIN.len() + 64 + e.robot_id.len() + e.kind.len() + e.actor.len() + e.payload.len(),
    );
    out.extend_from_slice(EVENT_DOMAIN);
    put_str(&mut out, e.robot_id);
    out.extend_from_slice(&e.seq.to_be_bytes());
    out.extend_from_slice(e.prev_hash);
    put_str(&mut out, e.kind);
    out.extend_from_slice(&e.at.to_be_bytes());
    put_str(&mut out, e.actor);
    put_str(&mut out, e.payload);
    out
}

/// The hash of an event.
pub fn event_hash(e: &EventFields<'_>) -> [u8; 32] {
    sha256(&event_bytes(e))
}

/// The bytes the CA signs for a chain head.
pub fn head_message(robot_id: &str, seq: u64, hash: &[u8; 32], signed_at: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD_DOMAIN.len() + 56 + robot_id.len());
    out.extend_from_slice(HEAD_DOMAIN);
    put_str(&mut out, robot_id);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(hash);
    out.extend_from_slice(&signed_at.to_be_bytes());
    out
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// 32 bytes from 64 hex digits.
pub fn hash_from_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(payload: &'a str, prev: &'a [u8; 32]) -> EventFields<'a> {
        EventFields {
            robot_id: "UBX-WK5-00001234-I",
            seq: 2,
            prev_hash: prev,
            kind: "sold",
            at: 1_800_000_000,
            actor: "manufacturer:UBX:0a",
            payload,
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = fields(r#"{"new_owner":"A"}"#, &GENESIS);
        let h = event_hash(&base);
        let other_prev = [1u8; 32];
        let variants = [
            EventFields {
                robot_id: "UBX-WK5-00001235-G",
                ..base
            },
            EventFields { seq: 3, ..base },
            EventFields {
                prev_hash: &other_prev,
                ..base
            },
            EventFields {
                kind: "deployed",
                ..base
            },
            EventFields { at: 1, ..base },
            EventFields {
                actor: "operator:0b",
                ..base
            },
            EventFields {
                payload: r#"{"new_owner":"B"}"#,
                ..base
            },
        ];
        for v in variants {
            assert_ne!(event_hash(&v), h, "{v:?}");
        }
    }

    #[test]
    fn length_prefixes_keep_fields_apart() {
        // Moving a character from the actor to the payload must not
        // produce the same bytes.
        let a = EventFields {
            actor: "ab",
            payload: "c",
            ..fields("", &GENESIS)
        };
        let b = EventFields {
            actor: "a",
            payload: "bc",
            ..fields("", &GENESIS)
        };
        assert_ne!(event_bytes(&a), event_bytes(&b));
        assert_eq!(
            hash_from_hex(&hex::encode(event_hash(&a))),
            Some(event_hash(&a))
        );
        assert_eq!(hash_from_hex("00"), None);
    }
}
