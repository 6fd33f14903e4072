//! Proof of possession: the inspector's challenge and the robot's answer.
//!
//! `robotid-verify challenge` writes a [`Challenge`]: 32 fresh random bytes
//! and the time it was made. The inspector keeps it, carries it to the
//! robot, and `robotid prove` signs it there with the robot's key
//! ([`respond`]). The inspector then checks the [`Response`] against the
//! challenge it kept and the certificate's key ([`verify`]).
//!
//! What the robot signs is domain-separated: [`DOMAIN`] (ASCII with a NUL,
//! so it can never be the start of a DER structure such as a certificate or
//! CSR, nor a TLS or HTTP message), the nonce, and the SHA-256 of the
//! robot's own SubjectPublicKeyInfo (so an answer is bound to the key that
//! made it). A robot asked to "prove" therefore never signs anything chosen
//! by the asker beyond 32 bytes inside this fixed frame.
//!
//! A response counts only for the exact nonce the inspector kept (a replayed
//! response from an earlier challenge fails), only with a valid signature by
//! the certificate's key (a forged one fails), and only while the challenge
//! is fresh (an old challenge cannot be answered from a recording).

use std::path::Path;

use der::Encode;
use der::asn1::{BitString, ObjectIdentifier};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self as sig, KeyPair};
use serde::{Deserialize, Serialize};

use crate::profile::KeyAlgorithm;
use crate::report::{Check, rfc3339};

/// The check's name in reports.
pub const CHECK: &str = "possession";

/// The fixed prefix of every signed proof.
pub const DOMAIN: &[u8] = b"RobotID proof-of-possession v1\0";

/// Nonce length in bytes.
pub const NONCE_LEN: usize = 32;

/// How far a challenge's creation time may lie in the future (clocks of two
/// laptops), in seconds.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

const CHALLENGE_TYPE: &str = "robotid-challenge";
const RESPONSE_TYPE: &str = "robotid-challenge-response";
const FORMAT_VERSION: u32 = 1;

/// A challenge or response that cannot be used, or a key that cannot sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a challenge or response of this version.
    #[error("{origin}: {reason}")]
    Format {
        /// The file.
        origin: String,
        /// What is wrong, with the field.
        reason: String,
    },
    /// The private key cannot be used.
    #[error("{origin}: not a PKCS#8 P-256, P-384 or Ed25519 private key: {reason}")]
    Key {
        /// The key file.
        origin: String,
        /// Why.
        reason: String,
    },
    /// The system's random source failed.
    #[error("the system random source failed")]
    Random,
}

/// The inspector's challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    /// Always `robotid-challenge`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Format version, 1.
    pub version: u32,
    /// 32 random bytes, lower-case hex.
    pub nonce: String,
    /// When it was made, RFC 3339.
    pub created: String,
}

/// The robot's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// Always `robotid-challenge-response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Format version, 1.
    pub version: u32,
    /// The nonce answered, as in the challenge.
    pub nonce: String,
    /// The robot's key algorithm: `p256`, `p384` or `ed25519`.
    pub key_algorithm: String,
    /// SHA-256 of the robot's SubjectPublicKeyInfo, lower-case hex.
    pub public_key_sha256: String,
    /// The signature over [`message`], lower-case hex (ASN.1 DER for ECDSA).
    pub signature: String,
}

impl Challenge {
    /// A fresh challenge made at `now` (seconds since the Unix epoch).
    pub fn new(now: i64) -> Result<Self, ChallengeError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| ChallengeError::Random)?;
        Ok(Self {
            kind: CHALLENGE_TYPE.into(),
            version: FORMAT_VERSION,
            nonce: hex::encode(nonce),
            created: rfc3339(now),
        })
    }

    /// Parses a challenge; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ChallengeError> {
        let c: Self = parse_json(text, origin)?;
        check_header(&c.kind, CHALLENGE_TYPE, c.version, origin)?;
        nonce_bytes(&c.nonce, origin)?;
        created_at(&c.created, origin)?;
        Ok(c)
    }

    /// Reads a challenge file.
    pub fn load(path: &Path) -> Result<Self, ChallengeError> {
        Self::from_json(&read(path)?, &path.display().to_string())
    }

    /// The nonce's bytes.
    pub fn nonce(&self) -> Result<[u8; NONCE_LEN], ChallengeError> {
        nonce_bytes(&self.nonce, "challenge")
    }

    /// Creation time, seconds since the Unix epoch.
    pub fn created_at(&self) -> Result<i64, ChallengeError> {
        created_at(&self.created, "challenge")
    }
}

impl Response {
    /// Parses a response; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ChallengeError> {
        let r: Self = parse_json(text, origin)?;
        check_header(&r.kind, RESPONSE_TYPE, r.version, origin)?;
        nonce_bytes(&r.nonce, origin)?;
        for (field, value) in [
            ("public_key_sha256", &r.public_key_sha256),
            ("signature", &r.signature),
        ] {
            hex::decode(value).map_err(|e| ChallengeError::Format {
                origin: origin.into(),
                reason: format!("field {field}: not hexadecimal: {e}"),
            })?;
        }
        Ok(r)
    }

    /// Reads a response file.
    pub fn load(path: &Path) -> Result<Self, ChallengeError> {
        Self::from_json(&read(path)?, &path.display().to_string())
    }
}

/// Pretty JSON with a final newline, as written to files.
pub fn to_json<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}

/// The bytes a robot signs for `nonce` with the key whose
/// SubjectPublicKeyInfo hashes to `spki_sha256`.
pub fn message(nonce: &[u8; NONCE_LEN], spki_sha256: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + NONCE_LEN + spki_sha256.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(nonce);
    m.extend_from_slice(spki_sha256);
    m
}

/// Answers `challenge` with the PKCS#8 private key in `key_pem` (as
/// `robotid key new` writes it); `origin` names the key file in errors.
pub fn respond(
    key_pem: &[u8],
    origin: &str,
    challenge: &Challenge,
) -> Result<Response, ChallengeError> {
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;
    let key_error = |reason: String| ChallengeError::Key {
        origin: origin.into(),
        reason,
    };
    let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(key_pem)
        .map_err(|e| key_error(format!("no PEM `PRIVATE KEY` block: {e}")))?;
    let key = SigningKey::from_pkcs8(pkcs8.secret_pkcs8_der()).map_err(key_error)?;
    let nonce = challenge.nonce()?;
    let spki = key.spki_der().map_err(key_error)?;
    let spki_sha256 = ring::digest::digest(&ring::digest::SHA256, &spki);
    let signature = key
        .sign(&message(&nonce, spki_sha256.as_ref()))
        .map_err(key_error)?;
    Ok(Response {
        kind: RESPONSE_TYPE.into(),
        version: FORMAT_VERSION,
        nonce: challenge.nonce.clone(),
        key_algorithm: key.algorithm().name().into(),
        public_key_sha256: hex::encode(spki_sha256),
        signature: hex::encode(signature),
    })
}

/// Checks `response` against the `challenge` the inspector kept and the
/// robot certificate's key, at `now`; `max_age` is how old (seconds) the
/// challenge may be.
pub fn verify(
    challenge: &Challenge,
    response: &Response,
    spki_der: &[u8],
    key_algorithm: KeyAlgorithm,
    now: i64,
    max_age: i64,
) -> Check {
    let (Ok(nonce), Ok(created)) = (challenge.nonce(), challenge.created_at()) else {
        return Check::fail(CHECK, "malformed", "the challenge is malformed");
    };
    if response.nonce != challenge.nonce {
        return Check::fail(
            CHECK,
            "replayed",
            format!(
                "the response answers another challenge (nonce {}…), not this one ({}…): replayed or mixed up",
                prefix(&response.nonce),
                prefix(&challenge.nonce)
            ),
        );
    }
    if created > now + CLOCK_SKEW_SECONDS {
        return Check::fail(
            CHECK,
            "challenge_future",
            format!(
                "the challenge was made in the future ({})",
                challenge.created
            ),
        );
    }
    if now - created > max_age {
        return Check::fail(
            CHECK,
            "challenge_expired",
            format!(
                "the challenge is {} s old, at most {max_age} s accepted: make a new one",
                now - created
            ),
        );
    }
    let spki_sha256 = ring::digest::digest(&ring::digest::SHA256, spki_der);
    if response.public_key_sha256 != hex::encode(spki_sha256) {
        return Check::fail(
            CHECK,
            "wrong_key",
            "the response was made with another key than the certificate's",
        );
    }
    let Ok(signature) = hex::decode(&response.signature) else {
        return Check::fail(CHECK, "malformed", "the signature is not hexadecimal");
    };
    let message = message(&nonce, spki_sha256.as_ref());
    let verified = match x509_parser::prelude::FromDer::from_der(spki_der) {
        Ok((_, spki)) => {
            let spki: x509_parser::x509::SubjectPublicKeyInfo<'_> = spki;
            sig::UnparsedPublicKey::new(
                verification_algorithm(key_algorithm),
                &spki.subject_public_key.data,
            )
            .verify(&message, &signature)
            .is_ok()
        }
        Err(_) => false,
    };
    if verified {
        Check::pass(
            CHECK,
            format!(
                "the robot signed this challenge (made {}) with the certificate's {key_algorithm} key",
                challenge.created
            ),
        )
    } else {
        Check::fail(
            CHECK,
            "forged",
            "the signature does not verify with the certificate's key: forged, or another robot",
        )
    }
}

fn verification_algorithm(alg: KeyAlgorithm) -> &'static dyn sig::VerificationAlgorithm {
    match alg {
        KeyAlgorithm::P256 => &sig::ECDSA_P256_SHA256_ASN1,
        KeyAlgorithm::P384 => &sig::ECDSA_P384_SHA384_ASN1,
        KeyAlgorithm::Ed25519 => &sig::ED25519,
    }
}

/// A robot's private key, as ring reads it.
enum SigningKey {
    Ecdsa(sig::EcdsaKeyPair, KeyAlgorithm),
    Ed25519(sig::Ed25519KeyPair),
}

/// id-ecPublicKey, prime256v1, secp384r1 and id-Ed25519.
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// RFC 5280 AlgorithmIdentifier with an OID parameter (the curve) or none.
#[derive(der::Sequence)]
struct AlgorithmIdentifier {
    algorithm: ObjectIdentifier,
    parameters: Option<ObjectIdentifier>,
}

/// RFC 5280 SubjectPublicKeyInfo.
#[derive(der::Sequence)]
struct SubjectPublicKeyInfo {
    algorithm: AlgorithmIdentifier,
    subject_public_key: BitString,
}

impl SigningKey {
    fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, String> {
        let rng = SystemRandom::new();
        for (alg, signing) in [
            (KeyAlgorithm::P256, &sig::ECDSA_P256_SHA256_ASN1_SIGNING),
            (KeyAlgorithm::P384, &sig::ECDSA_P384_SHA384_ASN1_SIGNING),
        ] {
            if let Ok(key) = sig::EcdsaKeyPair::from_pkcs8(signing, pkcs8, &rng) {
                return Ok(Self::Ecdsa(key, alg));
            }
        }
        sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map(Self::Ed25519)
            .map_err(|e| e.to_string())
    }

    fn algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::Ecdsa(_, alg) => *alg,
            Self::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The key's SubjectPublicKeyInfo, DER-encoded as in its certificate.
    fn spki_der(&self) -> Result<Vec<u8>, String> {
        let (algorithm, parameters, key) = match self {
            Self::Ecdsa(k, KeyAlgorithm::P384) => {
                (ID_EC_PUBLIC_KEY, Some(ID_P384), k.public_key().as_ref())
            }
            Self::Ecdsa(k, _) => (ID_EC_PUBLIC_KEY, Some(ID_P256), k.public_key().as_ref()),
            Self::Ed25519(k) => (ID_ED25519, None, k.public_key().as_ref()),
        };
        SubjectPublicKeyInfo {
            algorithm: AlgorithmIdentifier {
                algorithm,
                parameters,
            },
            subject_public_key: BitString::from_bytes(key).map_err(|e| e.to_string())?,
        }
        .to_der()
        .map_err(|e| e.to_string())
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Self::Ecdsa(k, _) => k
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "ECDSA signing failed".into()),
            Self::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }
}

fn read(path: &Path) -> Result<String, ChallengeError> {
    crate::input::FileKind::Challenge
        .read_to_string_io(path)
        .map_err(|source| ChallengeError::Io {
            path: path.display().to_string(),
            source,
        })
}

fn parse_json<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
) -> Result<T, ChallengeError> {
    serde_json::from_str(text).map_err(|e| ChallengeError::Format {
        origin: origin.into(),
        reason: e.to_string(),
    })
}

fn check_header(kind: &str, want: &str, version: u32, origin: &str) -> Result<(), ChallengeError> {
    if kind != want || version != FORMAT_VERSION {
        return Err(ChallengeError::Format {
            origin: origin.into(),
            reason: format!(
                "field type/version: found {kind:?} version {version}, expected {want:?} version {FORMAT_VERSION}"
            ),
        });
    }
    Ok(())
}

fn nonce_bytes(text: &str, origin: &str) -> Result<[u8; NONCE_LEN], ChallengeError> {
    let bytes = hex::decode(text)
        .ok()
        .and_then(|b| <[u8; NONCE_LEN]>::try_from(b).ok());
    bytes.ok_or_else(|| ChallengeError::Format {
        origin: origin.into(),
        reason: format!("field nonce: must be {NONCE_LEN} bytes in hexadecimal"),
    })
}

fn created_at(text: &str, origin: &str) -> Result<i64, ChallengeError> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp)
        .map_err(|e| ChallengeError::Format {
            origin: origin.into(),
            reason: format!("field created: {text:?} is not an RFC 3339 time: {e}"),
        })
}

fn prefix(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_message_cannot_be_der_and_carries_the_nonce() {
        let m = message(&[7; NONCE_LEN], &[9; 32]);
        assert_ne!(m[0], 0x30);
        assert!(m.starts_with(DOMAIN));
        assert_eq!(m.len(), DOMAIN.len() + 64);
    }

    #[test]
    fn challenge_files_are_checked_by_field() {
        let c = Challenge::new(1_800_000_000).unwrap();
        let back = Challenge::from_json(&to_json(&c), "c.json").unwrap();
        assert_eq!(back, c);
        assert_ne!(Challenge::new(0).unwrap().nonce, c.nonce);
        let short = to_json(&c).replace(&c.nonce, "abcd");
        let e = Challenge::from_json(&short, "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.json") && e.contains("field nonce"), "{e}");
        let e = Response::from_json(&to_json(&c), "r.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("r.json"), "{e}");
    }
}
