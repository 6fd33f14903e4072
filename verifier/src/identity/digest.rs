//! Component digests: the algorithm and the value, written `sha256:<hex>`.

use std::fmt;
use std::str::FromStr;

use const_oid::ObjectIdentifier;

use super::IdentityError;
use crate::oid;

/// A hash algorithm accepted for component digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    /// SHA-256, 32 bytes.
    Sha256,
    /// SHA-384, 48 bytes.
    Sha384,
    /// SHA-512, 64 bytes.
    Sha512,
}

impl DigestAlgorithm {
    /// Every accepted algorithm.
    pub const ALL: [DigestAlgorithm; 3] = [Self::Sha256, Self::Sha384, Self::Sha512];

    /// The algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha256 => oid::ID_SHA256,
            Self::Sha384 => oid::ID_SHA384,
            Self::Sha512 => oid::ID_SHA512,
        }
    }

    /// The algorithm named by `oid`, if accepted.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.oid() == *oid)
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The lower-case name used in manifests, e.g. `sha256`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// The digest of `data` under this algorithm.
    pub fn digest(self, data: &[u8]) -> ComponentDigest {
        let alg = match self {
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        };
        ComponentDigest {
            algorithm: self,
            value: ring::digest::digest(alg, data).as_ref().to_vec(),
        }
    }
}

/// One digest of a key component.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentDigest {
    /// The hash algorithm.
    pub algorithm: DigestAlgorithm,
    /// The digest value; its length matches the algorithm.
    pub value: Vec<u8>,
}

impl serde::Serialize for ComponentDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for ComponentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), hex::encode(&self.value))
    }
}

impl FromStr for ComponentDigest {
    type Err = IdentityError;

    /// Parses `sha256:<64 lower- or upper-case hex digits>` and the like.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |rule: String| IdentityError::Invalid {
            field: "digest".into(),
            rule,
        };
        let (name, hex_value) = s
            .split_once(':')
            .ok_or_else(|| invalid(format!("{s:?} is not of the form sha256:<hex>")))?;
        let algorithm = DigestAlgorithm::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                invalid(format!(
                    "algorithm {name:?} is not one of sha256, sha384, sha512"
                ))
            })?;
        let value = hex::decode(hex_value)
            .map_err(|e| invalid(format!("{name} value is not hexadecimal: {e}")))?;
        if value.len() != algorithm.output_len() {
            return Err(invalid(format!(
                "{name} digest has {} bytes, must have {}",
                value.len(),
                algorithm.output_len()
            )));
        }
        Ok(ComponentDigest { algorithm, value })
    }
}
