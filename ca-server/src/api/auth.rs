//! Who is calling: the client certificate from the TLS handshake, looked up
//! in the registry's credentials on every request (so a revoked credential
//! stops working at once, even on an open connection).

use robotid_verifier::rule::Rule;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::problem::Problem;
pub use crate::ra::Caller;
use crate::store::roles::Reads;
use crate::store::{Credential, ReadOnlyStore, Role};

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

impl<S> FromRequestParts<S> for Caller
where
    ReadOnlyStore: FromRef<S>,
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
                    Rule::CredentialMissing,
                    "no client certificate: use the credentials written by `robotid admin manufacturer add` or by the server's first start",
                )
            })?;
        let (_, parsed) = X509Certificate::from_der(&cert).map_err(|_| {
            Problem::unauthorized(
                Rule::CredentialMalformed,
                "the client certificate cannot be parsed",
            )
        })?;
        let serial = hex::encode(parsed.raw_serial());
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if parsed.validity().not_after.timestamp() < now {
            return Err(Problem::unauthorized(
                Rule::CredentialExpired,
                format!(
                    "the client certificate {serial} expired at {}",
                    parsed.validity().not_after
                ),
            ));
        }
        if parsed.validity().not_before.timestamp() > now {
            return Err(Problem::unauthorized(
                Rule::CredentialNotYetValid,
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
            None => ReadOnlyStore::from_ref(state)
                .credential(&serial)
                .await
                .map_err(Problem::internal)?,
        };
        if let Some(c) = &found {
            cache.put(c);
        }
        let record = found.ok_or_else(|| {
            Problem::unauthorized(
                Rule::CredentialUnknown,
                format!("client certificate {serial} is not a registered credential"),
            )
        })?;
        if record.revoked {
            return Err(Problem::unauthorized(
                Rule::CredentialRevoked,
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
