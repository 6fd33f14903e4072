//! Who is calling: the client certificate from the TLS handshake, looked up
//! in the registry's credentials on every request (so a revoked credential
//! stops working at once, even on an open connection).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::problem::Problem;
use crate::store::roles::Reads;
use crate::store::{Credential, Role, Store};

/// How long a credential looked up in the registry is trusted without
/// asking again. Revocation through this server clears it at once; another
/// server process sharing the registry sees a revocation within this time.
const CACHE_TTL: Duration = Duration::from_secs(2);

/// Recently looked-up credentials, so a keep-alive production line does not
/// cost a registry read per request.
#[derive(Clone, Default)]
pub struct CredentialCache(Arc<Mutex<HashMap<String, (Credential, Instant)>>>);

impl CredentialCache {
    fn get(&self, serial: &str) -> Option<Credential> {
        let map = self.0.lock().ok()?;
        map.get(serial)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(c, _)| c.clone())
    }

    fn put(&self, credential: &Credential) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() > 10_000 {
                map.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            }
            map.insert(
                credential.serial_hex.clone(),
                (credential.clone(), Instant::now()),
            );
        }
    }

    /// Forgets `serial` (after its revocation).
    pub fn forget(&self, serial: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&serial.to_ascii_lowercase());
        }
    }
}

/// The client certificate of the connection, if one was presented.
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Option<Arc<Vec<u8>>>);

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The platform operator.
    Operator {
        /// Credential serial, hex.
        serial: String,
    },
    /// A manufacturer.
    Manufacturer {
        /// Credential serial, hex.
        serial: String,
        /// Its code: it may act only on robot IDs carrying it.
        code: String,
    },
}

impl Caller {
    /// The audit log's name for the caller.
    pub fn actor(&self) -> String {
        match self {
            Self::Operator { serial } => format!("operator:{serial}"),
            Self::Manufacturer { code, serial } => format!("manufacturer:{code}:{serial}"),
        }
    }

    /// The manufacturer code, or 403 for anyone else.
    pub fn manufacturer(&self) -> Result<&str, Problem> {
        match self {
            Self::Manufacturer { code, .. } => Ok(code),
            Self::Operator { .. } => Err(Problem::forbidden(
                "role.manufacturer_required",
                "this action is for manufacturer credentials",
            )),
        }
    }

    /// Ok for the operator, 403 for anyone else.
    pub fn operator(&self) -> Result<(), Problem> {
        match self {
            Self::Operator { .. } => Ok(()),
            Self::Manufacturer { .. } => Err(Problem::forbidden(
                "role.operator_required",
                "this action is for the operator's credential",
            )),
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Store: FromRef<S>,
    CredentialCache: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let cert = parts
            .extensions
            .get::<PeerCertificate>()
            .and_then(|p| p.0.clone())
            .ok_or_else(|| {
                Problem::unauthorized(
                    "credential.missing",
                    "no client certificate: use the credentials written by `robotid admin manufacturer add` or by the server's first start",
                )
            })?;
        let (_, parsed) = X509Certificate::from_der(&cert).map_err(|_| {
            Problem::unauthorized(
                "credential.malformed",
                "the client certificate cannot be parsed",
            )
        })?;
        let serial = hex::encode(parsed.raw_serial());
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if parsed.validity().not_after.timestamp() < now {
            return Err(Problem::unauthorized(
                "credential.expired",
                format!(
                    "the client certificate {serial} expired at {}",
                    parsed.validity().not_after
                ),
            ));
        }
        if parsed.validity().not_before.timestamp() > now {
            return Err(Problem::unauthorized(
                "credential.not_yet_valid",
                format!(
                    "the client certificate {serial} is valid only from {}",
                    parsed.validity().not_before
                ),
            ));
        }
        let cache = CredentialCache::from_ref(state);
        let cached = cache.get(&serial);
        let found = match cached {
            Some(c) => Some(c),
            None => Store::from_ref(state)
                .credential(&serial)
                .await
                .map_err(Problem::internal)?,
        };
        if let Some(c) = &found {
            cache.put(c);
        }
        let record = found.ok_or_else(|| {
            Problem::unauthorized(
                "credential.unknown",
                format!("client certificate {serial} is not a registered credential"),
            )
        })?;
        if record.revoked {
            return Err(Problem::unauthorized(
                "credential.revoked",
                format!("client certificate {serial} has been revoked"),
            ));
        }
        match (record.role, record.manufacturer_code) {
            (Role::Operator, _) => Ok(Caller::Operator { serial }),
            (Role::Manufacturer, Some(code)) => Ok(Caller::Manufacturer { serial, code }),
            (Role::Manufacturer, None) => Err(Problem::internal(format!(
                "credential {serial} has the manufacturer role but no code"
            ))),
        }
    }
}
