//! The issuing CA's signing key, as the signer sees it: something that
//! signs bytes and names its public key and algorithm. Software keys
//! (a PKCS#8 file, [`SoftwareKey`]) and keys on a PKCS#11 token
//! ([`crate::pkcs11::Pkcs11Key`]) implement it; [`IssuingKey`] is either,
//! chosen by the CA folder's settings when it is loaded.
//!
//! The signer never hands the key to rcgen: rcgen builds every certificate
//! and CRL with a placeholder key, the lints read those bytes, and only
//! then does [`CaKey::sign`] sign exactly them. So a key need not be an
//! rcgen key, and a key that cannot sign (a token removed, a session
//! closed) answers with a [`KeyFailure`] instead of panicking.

use std::path::Path;

use rcgen::{KeyPair, PublicKeyData, SigningKey};

use crate::keys::{self, KeyAlgorithm, KeyError};

/// Why a CA key did not sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFailure {
    /// The key cannot be reached (a token absent, a session gone).
    #[error("the CA key is unavailable: {0}")]
    Unavailable(String),
    /// The key was reached and refused or failed to sign.
    #[error("the CA key failed to sign: {0}")]
    Sign(String),
}

/// A key the signer signs with.
pub trait CaKey: Send + Sync {
    /// The key's algorithm: P-256, P-384 or Ed25519.
    fn algorithm(&self) -> KeyAlgorithm;
    /// The subjectPublicKey bits of the key (for EC keys the uncompressed
    /// point), as in the CA certificate's SubjectPublicKeyInfo.
    fn public_key_der(&self) -> &[u8];
    /// Signs `message` with the key's algorithm (ECDSA as a DER
    /// ECDSA-Sig-Value, Ed25519 as 64 bytes).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyFailure>;
}

/// A private key held in memory, read from a PKCS#8 file.
pub struct SoftwareKey {
    key: KeyPair,
    algorithm: KeyAlgorithm,
}

impl SoftwareKey {
    /// Reads a PKCS#8 PEM key file of an accepted algorithm.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let key = keys::read_key(path)?;
        Self::new(key).map_err(|reason| KeyError::Unusable {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Wraps a key pair of an accepted algorithm.
    pub fn new(key: KeyPair) -> Result<Self, String> {
        let algorithm = keys::algorithm_of(&key)
            .ok_or_else(|| "the key is not P-256, P-384 or Ed25519".to_string())?;
        Ok(Self { key, algorithm })
    }

    /// The key pair, for the ceremony to write it to its file.
    pub(crate) fn key_pair(&self) -> &KeyPair {
        &self.key
    }
}

impl CaKey for SoftwareKey {
    fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn public_key_der(&self) -> &[u8] {
        self.key.der_bytes()
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyFailure> {
        self.key
            .sign(message)
            .map_err(|e| KeyFailure::Sign(e.to_string()))
    }
}

/// The issuing key of a loaded CA: a key file or a key on a token.
pub enum IssuingKey {
    /// A PKCS#8 file in the CA folder.
    Software(SoftwareKey),
    /// A key on a PKCS#11 token.
    Token(crate::pkcs11::Pkcs11Key),
}

impl IssuingKey {
    /// Where the key is, for banners and logs: "file" or its URI (which
    /// never holds a PIN).
    pub fn location(&self) -> String {
        match self {
            IssuingKey::Software(_) => "file".into(),
            IssuingKey::Token(k) => k.uri().to_string(),
        }
    }
}

impl CaKey for IssuingKey {
    fn algorithm(&self) -> KeyAlgorithm {
        match self {
            IssuingKey::Software(k) => k.algorithm(),
            IssuingKey::Token(k) => k.algorithm(),
        }
    }

    fn public_key_der(&self) -> &[u8] {
        match self {
            IssuingKey::Software(k) => k.public_key_der(),
            IssuingKey::Token(k) => k.public_key_der(),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyFailure> {
        match self {
            IssuingKey::Software(k) => k.sign(message),
            IssuingKey::Token(k) => k.sign(message),
        }
    }
}

/// A [`CaKey`] as rcgen's signing key, for the ceremony's CA certificates
/// (the root's self-signature and the issuing CA's), whose keys may be on a
/// token, and for test fixtures that forge what the CA never issued.
pub struct AsRcgen<'a, K: CaKey>(pub &'a K);

impl<K: CaKey> PublicKeyData for AsRcgen<'_, K> {
    fn der_bytes(&self) -> &[u8] {
        self.0.public_key_der()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        keys::signature_algorithm(self.0.algorithm())
    }
}

impl<K: CaKey> SigningKey for AsRcgen<'_, K> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        // rcgen's error has no room for a reason; the ceremony reports the
        // token's own error when it opens the key first.
        self.0.sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test")]
mod tests {
    use super::*;

    #[test]
    fn a_software_key_signs_what_its_public_key_verifies() {
        for alg in keys::KEY_ALGORITHMS {
            let key = SoftwareKey::new(keys::generate(alg).unwrap()).unwrap();
            assert_eq!(key.algorithm(), alg);
            let signature = key.sign(b"tbs").unwrap();
            let verify: &dyn ring::signature::VerificationAlgorithm = match alg {
                KeyAlgorithm::P256 => &ring::signature::ECDSA_P256_SHA256_ASN1,
                KeyAlgorithm::P384 => &ring::signature::ECDSA_P384_SHA384_ASN1,
                KeyAlgorithm::Ed25519 => &ring::signature::ED25519,
            };
            ring::signature::UnparsedPublicKey::new(verify, key.public_key_der())
                .verify(b"tbs", &signature)
                .unwrap();
        }
    }
}
