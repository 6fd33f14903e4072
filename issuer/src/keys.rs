//! Key pairs and key files. Private keys are written as PKCS#8 v1 PEM
//! (RFC 5208 `PrivateKeyInfo`), created with mode 0600 and never over an
//! existing file, and never logged.
//!
//! Why v1: ring generates Ed25519 keys as PKCS#8 v2 (RFC 5958, with the
//! public key), which OpenSSL 3.0 and Python `cryptography` refuse to load,
//! so a robot could not use the key it enrolled with for mutual TLS. Every
//! reader (ring, OpenSSL, cryptography, Go) takes v1. Reading accepts v1,
//! v2 and SEC1 `EC PRIVATE KEY` (what `openssl ecparam -genkey` writes).

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519};

pub use robotid_verifier::profile::KeyAlgorithm;

/// Key file errors, each naming the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file exists; keys are never overwritten.
    #[error("{path}: already exists; refusing to overwrite a key")]
    Exists {
        /// The file.
        path: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a usable private key.
    #[error(
        "{path}: not a PKCS#8 or SEC1 (EC PRIVATE KEY) P-256, P-384 or Ed25519 private key: {reason}"
    )]
    Unusable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Key generation failed (the system's random source).
    #[error("key generation failed: {0}")]
    Generate(String),
}

/// Parses `p256`, `p384`, `ed25519`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmName(pub KeyAlgorithm);

impl FromStr for AlgorithmName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            KeyAlgorithm::P256,
            KeyAlgorithm::P384,
            KeyAlgorithm::Ed25519,
        ]
        .into_iter()
        .find(|a| a.name() == s)
        .map(AlgorithmName)
        .ok_or_else(|| format!("{s:?} is not one of p256, p384, ed25519"))
    }
}

impl fmt::Display for AlgorithmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

/// Every accepted key algorithm.
pub const KEY_ALGORITHMS: [KeyAlgorithm; 3] = [
    KeyAlgorithm::P256,
    KeyAlgorithm::P384,
    KeyAlgorithm::Ed25519,
];

/// rcgen's signature algorithm for keys of `alg`.
pub fn signature_algorithm(alg: KeyAlgorithm) -> &'static rcgen::SignatureAlgorithm {
    match alg {
        KeyAlgorithm::P256 => &PKCS_ECDSA_P256_SHA256,
        KeyAlgorithm::P384 => &PKCS_ECDSA_P384_SHA384,
        KeyAlgorithm::Ed25519 => &PKCS_ED25519,
    }
}

/// The algorithm of an rcgen key pair.
pub fn algorithm_of(key: &KeyPair) -> Option<KeyAlgorithm> {
    let alg = key.algorithm();
    [
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Ed25519,
    ]
    .into_iter()
    .find(|a| signature_algorithm(*a) == alg)
}

/// A fresh key pair.
pub fn generate(alg: KeyAlgorithm) -> Result<KeyPair, KeyError> {
    KeyPair::generate_for(signature_algorithm(alg)).map_err(|e| KeyError::Generate(e.to_string()))
}

/// Writes `contents` to a new file readable by its owner only. Fails if the
/// file exists, so a key or a CA is never replaced by accident.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let display = path.display().to_string();
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: display.clone(),
            }
        } else {
            KeyError::Io {
                path: display.clone(),
                source,
            }
        }
    })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|source| KeyError::Io {
            path: display,
            source,
        })
}

/// Writes `key` as PKCS#8 v1 PEM to a new 0600 file.
pub fn write_key(path: &Path, key: &KeyPair) -> Result<(), KeyError> {
    let der = pkcs8_v1(key).map_err(|reason| KeyError::Unusable {
        path: path.display().to_string(),
        reason,
    })?;
    write_private(path, crate::pem::encode(PKCS8_LABEL, &der).as_bytes())
}

/// The PEM label of a PKCS#8 private key (RFC 7468 section 10).
const PKCS8_LABEL: &str = "PRIVATE KEY";
/// The PEM label of a SEC1 EC private key (RFC 5915), as OpenSSL writes it.
const SEC1_LABEL: &str = "EC PRIVATE KEY";
/// The PEM label OpenSSL puts before a SEC1 key (`openssl ecparam -genkey`);
/// the curve is in the key itself, so this block is skipped.
const EC_PARAMETERS_LABEL: &str = "EC PARAMETERS";

/// `key`'s private key as a PKCS#8 v1 `PrivateKeyInfo`: the v2
/// `OneAsymmetricKey` ring makes for Ed25519 without its optional public
/// key (which ring recomputes and checks on reading anyway).
pub fn pkcs8_v1(key: &KeyPair) -> Result<Vec<u8>, String> {
    use der::{Decode, Encode};
    let serialized = key.serialize_der();
    let mut info = pkcs8::PrivateKeyInfo::from_der(&serialized)
        .map_err(|e| format!("the key does not encode as PKCS#8: {e}"))?;
    info.public_key = None;
    info.to_der()
        .map_err(|e| format!("the key does not encode as PKCS#8 v1: {e}"))
}

/// Reads a private key of an accepted algorithm: PEM `PRIVATE KEY`
/// (PKCS#8 v1 or v2) or `EC PRIVATE KEY` (SEC1, optionally after an
/// `EC PARAMETERS` block).
pub fn read_key(path: &Path) -> Result<KeyPair, KeyError> {
    let display = path.display().to_string();
    let text = robotid_verifier::input::FileKind::Key
        .read_to_string_io(path)
        .map_err(|source| KeyError::Io {
            path: display.clone(),
            source,
        })?;
    let unusable = |reason: String| KeyError::Unusable {
        path: display.clone(),
        reason,
    };
    let blocks = pem::parse_many(&text).map_err(|e| unusable(format!("not PEM: {e}")))?;
    let keys: Vec<&pem::Pem> = blocks
        .iter()
        .filter(|b| b.tag() != EC_PARAMETERS_LABEL)
        .collect();
    let [block] = keys.as_slice() else {
        return Err(unusable(format!(
            "expected one PEM private key block, found {}",
            keys.len()
        )));
    };
    let pkcs8_der = match block.tag() {
        PKCS8_LABEL => block.contents().to_vec(),
        SEC1_LABEL => sec1_to_pkcs8(block.contents()).map_err(unusable)?,
        other => {
            return Err(unusable(format!(
                "a PEM block labelled {other:?}; expected {PKCS8_LABEL:?} or {SEC1_LABEL:?} \
                 (encrypted keys are not read)"
            )));
        }
    };
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8_der);
    let key = KeyPair::try_from(&der).map_err(|e| unusable(e.to_string()))?;
    if algorithm_of(&key).is_none() {
        return Err(unusable("unsupported algorithm".into()));
    }
    Ok(key)
}

/// A SEC1 `ECPrivateKey` (RFC 5915) wrapped as the PKCS#8 v1 key ring
/// reads: the algorithm names the key's curve, the private key is the SEC1
/// structure itself (RFC 5915 section 2 is that nesting).
fn sec1_to_pkcs8(sec1_der: &[u8]) -> Result<Vec<u8>, String> {
    use der::{Decode, Encode};
    let ec = sec1::EcPrivateKey::from_der(sec1_der)
        .map_err(|e| format!("EC PRIVATE KEY: not a SEC1 ECPrivateKey: {e}"))?;
    let curve = match ec.parameters {
        Some(sec1::EcParameters::NamedCurve(curve)) => curve,
        None => {
            return Err(
                "EC PRIVATE KEY: no curve named in its parameters (RFC 5915 [0])".to_string(),
            );
        }
    };
    // ring computes nothing it is not given: the public key must be there,
    // as OpenSSL always writes it.
    if ec.public_key.is_none() {
        return Err("EC PRIVATE KEY: no public key (RFC 5915 [1])".to_string());
    }
    let info = pkcs8::PrivateKeyInfo {
        algorithm: pkcs8::AlgorithmIdentifierRef {
            oid: const_oid::db::rfc5912::ID_EC_PUBLIC_KEY,
            parameters: Some(der::asn1::AnyRef::from(&curve)),
        },
        private_key: sec1_der,
        public_key: None,
    };
    info.to_der()
        .map_err(|e| format!("EC PRIVATE KEY: cannot rewrap as PKCS#8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        for alg in [
            KeyAlgorithm::P256,
            KeyAlgorithm::P384,
            KeyAlgorithm::Ed25519,
        ] {
            let path = dir.path().join(format!("{alg}.key"));
            let key = generate(alg).unwrap();
            write_key(&path, &key).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            // PKCS#8 v1: what OpenSSL and cryptography read (issue 17).
            let text = std::fs::read_to_string(&path).unwrap();
            let block = pem::parse(&text).unwrap();
            assert_eq!(block.tag(), "PRIVATE KEY");
            let info = <pkcs8::PrivateKeyInfo as der::Decode>::from_der(block.contents()).unwrap();
            assert_eq!(info.version(), pkcs8::Version::V1, "{alg}");
            let back = read_key(&path).unwrap();
            assert_eq!(back.public_key_raw(), key.public_key_raw());
            assert_eq!(algorithm_of(&back), Some(alg));
            let again = write_key(&path, &generate(alg).unwrap());
            assert!(matches!(again, Err(KeyError::Exists { .. })));
            assert_eq!(
                read_key(&path).unwrap().public_key_raw(),
                key.public_key_raw()
            );
        }
    }

    #[test]
    fn garbage_is_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.key");
        std::fs::write(&path, "not a key").unwrap();
        let e = read_key(&path).unwrap_err().to_string();
        assert!(e.contains("junk.key"), "{e}");
    }
}
