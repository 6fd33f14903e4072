//! Key pairs and key files. Private keys are written as PKCS#8 PEM, created
//! with mode 0600 and never over an existing file, and never logged.

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
    #[error("{path}: not a PKCS#8 P-256, P-384 or Ed25519 private key: {reason}")]
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

/// Writes `key` as PKCS#8 PEM to a new 0600 file.
pub fn write_key(path: &Path, key: &KeyPair) -> Result<(), KeyError> {
    write_private(path, key.serialize_pem().as_bytes())
}

/// Reads a PKCS#8 PEM private key of an accepted algorithm.
pub fn read_key(path: &Path) -> Result<KeyPair, KeyError> {
    let display = path.display().to_string();
    let pem = robotid_verifier::input::FileKind::Key
        .read_to_string_io(path)
        .map_err(|source| KeyError::Io {
            path: display.clone(),
            source,
        })?;
    let key = KeyPair::from_pem(&pem).map_err(|e| KeyError::Unusable {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    if algorithm_of(&key).is_none() {
        return Err(KeyError::Unusable {
            path: display,
            reason: "unsupported algorithm".into(),
        });
    }
    Ok(key)
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
