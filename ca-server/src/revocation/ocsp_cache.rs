//! The OCSP response cache: a response for every signed certificate is
//! signed ahead of any request and kept in memory, re-signed when the
//! certificate's standing changes (the change follower says so) and when it
//! is a day old (responses are valid for three), so answering the usual
//! request (one SHA-1 CertID, no nonce, RFC 5019) is a map lookup. Requests
//! with a nonce, a SHA-256 CertID or several CertIDs are signed on demand,
//! a bounded number at a time.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::background::{self, BackgroundError};
use super::index::IndexReader;
use super::ocsp::{self, IssuerHashes, RequestError, ResponseError, Status};
use super::responder_key::{ResponderKey, ResponderKeyError};
use crate::ca::Ca;
use crate::delegated::DelegatedSigner;
use crate::locks::{read, write};
use crate::store::roles::Reads;
use crate::store::{Standing, StoreError};

/// How long an OCSP response is valid (thisUpdate to nextUpdate).
pub const OCSP_VALIDITY: i64 = 3 * 24 * 3600;
/// Age at which a response is signed again.
pub const OCSP_REFRESH_AGE: i64 = 24 * 3600;
/// How often old responses are looked for (and the signer's age checked).
const REFRESH_EVERY: Duration = Duration::from_secs(60);
/// Responses signed per blocking task when signing ahead.
const SIGN_CHUNK: usize = 512;
/// Responses signed on demand at one time; more get tryLater.
const ON_DEMAND: usize = 64;

/// Why the cache could not start, sign or refresh.
#[derive(Debug, thiserror::Error)]
pub enum OcspCacheError {
    /// Loading or replacing the delegated OCSP signer.
    #[error(transparent)]
    ResponderKey(#[from] ResponderKeyError),
    /// The issuing CA's certificate, read for the CertID hashes.
    #[error("OCSP cache: the issuing CA certificate: {0}")]
    Issuer(ResponseError),
    /// A serial held that is not hex.
    #[error("OCSP cache: serial {serial:?} is not hex")]
    Serial {
        /// The serial.
        serial: String,
    },
    /// Building or signing a response.
    #[error("OCSP cache: {0}")]
    Response(#[from] ResponseError),
    /// Bulk signing on a background thread.
    #[error("OCSP cache: {0}")]
    Background(#[from] BackgroundError),
    /// The registry, asked which serials it signed.
    #[error("OCSP cache: {0}")]
    Store(#[from] StoreError),
}

/// Whether signing ahead is on a request's path or bulk work.
#[derive(Clone, Copy, Debug)]
enum Urgency {
    /// A revoke waits for it: on the caller's thread.
    Now,
    /// New certificates, refreshes, the start: lower priority.
    Background,
}

/// A presigned OCSP response.
#[derive(Clone, Debug)]
pub struct Cached {
    /// The OCSPResponse, DER.
    pub der: Bytes,
    /// Its thisUpdate, unix seconds.
    pub this_update: i64,
    /// Its nextUpdate, unix seconds.
    pub next_update: i64,
    /// The standing it states.
    pub standing: Standing,
    /// Its entity tag ([`tag_of`]), made once when it is signed.
    pub tag: [u8; 16],
}

/// The entity tag of a signed response: the first 16 bytes of its SHA-256,
/// computed once when it is signed, so a request that revalidates a
/// presigned response costs no hash (RFC 5019 6.2).
pub fn tag_of(der: &[u8]) -> [u8; 16] {
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&ring::digest::digest(&ring::digest::SHA256, der).as_ref()[..16]);
    tag
}

/// An OCSP answer: the body, and for a successful response the times the
/// HTTP caching headers are derived from.
#[derive(Clone, Debug)]
pub struct OcspAnswer {
    /// The OCSPResponse, DER.
    pub der: Bytes,
    /// thisUpdate and nextUpdate of a successful response.
    pub times: Option<(i64, i64)>,
    /// The entity tag of a successful response.
    pub tag: Option<[u8; 16]>,
}

/// The OCSP response cache; see the module documentation.
pub struct OcspCache {
    authority: Arc<Ca>,
    ca_dir: PathBuf,
    hashes: IssuerHashes,
    key: RwLock<Arc<ResponderKey>>,
    cache: RwLock<HashMap<String, Cached>>,
    index: IndexReader,
    on_demand: Semaphore,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl OcspCache {
    /// Loads the delegated OCSP signer from `ca_dir` (replacing it if due),
    /// with nothing presigned yet; `index` gives the standings it signs.
    pub async fn start(
        authority: Arc<Ca>,
        ca_dir: PathBuf,
        index: IndexReader,
    ) -> Result<Self, OcspCacheError> {
        let key = DelegatedSigner::ocsp(authority.certs.name.clone(), &ca_dir)
            .load_or_rotate(
                &authority.signer,
                &authority.store,
                time::OffsetDateTime::now_utc(),
            )
            .await?;
        let hashes =
            IssuerHashes::of(authority.signer.issuer_der()).map_err(OcspCacheError::Issuer)?;
        Ok(Self {
            authority,
            ca_dir,
            hashes,
            key: RwLock::new(Arc::new(key)),
            cache: RwLock::new(HashMap::new()),
            index,
            on_demand: Semaphore::new(ON_DEMAND),
        })
    }

    /// Presigned responses held.
    pub fn presigned(&self) -> usize {
        read(&self.cache).len()
    }

    /// Of `candidates` (serial, standing now), those whose presigned
    /// response is missing or states another standing, copied out.
    pub fn needing_signature<'a>(
        &self,
        candidates: impl IntoIterator<Item = (&'a String, Standing)>,
    ) -> Vec<(String, Standing)> {
        let cache = read(&self.cache);
        candidates
            .into_iter()
            .filter(|(serial, standing)| {
                cache
                    .get(serial.as_str())
                    .is_none_or(|c| c.standing != *standing)
            })
            .map(|(serial, standing)| (serial.clone(), standing))
            .collect()
    }

    /// Signs the response of one certificate whose standing this process
    /// just changed, on the caller's thread: the change is acknowledged
    /// only after it.
    pub async fn sign_now(&self, serial: String, standing: Standing) -> Result<(), OcspCacheError> {
        self.sign_ahead(vec![(serial, standing)], Urgency::Now)
            .await
    }

    /// Signs responses for `items` (serial, standing) on lower-priority
    /// threads, a chunk at a time, so that serving goes on meanwhile.
    pub async fn sign_in_background(
        &self,
        items: Vec<(String, Standing)>,
    ) -> Result<(), OcspCacheError> {
        self.sign_ahead(items, Urgency::Background).await
    }

    /// Answers a DER OCSP request.
    pub async fn answer(&self, request: &[u8]) -> OcspAnswer {
        if let Some(answer) = self.presigned_answer(request) {
            return answer;
        }
        let parsed = match ocsp::read_request(request) {
            Ok(p) => p,
            Err(e) => return error_answer(&e),
        };
        let at = now();
        if parsed.nonce.is_none()
            && let [id] = parsed.ids.as_slice()
            && self.hashes.is_canonical(id)
            && let Some(hit) = read(&self.cache).get(&ocsp::serial_hex(id))
            && fresh(hit, at)
        {
            return OcspAnswer {
                der: hit.der.clone(),
                times: Some((hit.this_update, hit.next_update)),
                tag: Some(hit.tag),
            };
        }
        if !parsed.ids.iter().any(|id| self.hashes.matches(id)) {
            return error_answer(&RequestError::NotOurIssuer);
        }
        let Ok(_permit) = self.on_demand.try_acquire() else {
            return OcspAnswer {
                der: Bytes::from(ocsp::error_response(x509_ocsp::OcspResponse::try_later())),
                times: None,
                tag: None,
            };
        };
        match self.sign_on_demand(parsed, at).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::error!(error = %e, "OCSP response could not be signed");
                OcspAnswer {
                    der: Bytes::from(ocsp::error_response(
                        x509_ocsp::OcspResponse::internal_error(),
                    )),
                    times: None,
                    tag: None,
                }
            }
        }
    }

    /// The presigned response to the usual request (see
    /// [`IssuerHashes::canonical_serial`]), read without decoding it in
    /// full; `None` sends the request the long way, which answers it the
    /// same way when a fresh presigned response is held.
    ///
    /// [`IssuerHashes::canonical_serial`]: ocsp::IssuerHashes::canonical_serial
    fn presigned_answer(&self, request: &[u8]) -> Option<OcspAnswer> {
        let serial = self.hashes.canonical_serial(request)?;
        let mut buf = [0u8; 42];
        let serial = ocsp::serial_hex_in(serial, &mut buf)?;
        let at = now();
        let cache = read(&self.cache);
        let hit = cache.get(serial)?;
        fresh(hit, at).then(|| OcspAnswer {
            der: hit.der.clone(),
            times: Some((hit.this_update, hit.next_update)),
            tag: Some(hit.tag),
        })
    }

    async fn sign_on_demand(
        &self,
        request: ocsp::Request,
        at: i64,
    ) -> Result<OcspAnswer, OcspCacheError> {
        let serials: Vec<String> = request
            .ids
            .iter()
            .filter(|id| self.hashes.matches(id))
            .filter_map(ocsp::issuable_serial_hex)
            .collect();
        let known = self.authority.store.standing_of_serials(&serials).await?;
        let next = at + OCSP_VALIDITY;
        let cacheable = request.nonce.is_none()
            && request.ids.len() == 1
            && request.ids.iter().all(|id| self.hashes.is_canonical(id));
        let mut singles = Vec::with_capacity(request.ids.len());
        let mut first_standing = None;
        for id in request.ids {
            let issuable = ocsp::issuable_serial_hex(&id).filter(|_| self.hashes.matches(&id));
            let status = if let Some(serial) = issuable {
                match known.get(&serial) {
                    // The index is as fresh as the registry's changes this
                    // process has seen; the registry row may be a poll behind.
                    Some(_) => Status::Known(self.index.standing(&serial)),
                    None => Status::Unknown,
                }
            } else {
                Status::Unknown
            };
            if let Status::Known(s) = status {
                first_standing.get_or_insert(s);
            }
            singles.push(ocsp::single(id, status, at, next)?);
        }
        let key = Arc::clone(&read(&self.key));
        let der = Bytes::from(ocsp::signed_response(
            &key,
            singles,
            request.nonce.as_ref(),
            at,
        )?);
        let tag = tag_of(&der);
        if cacheable && let (Some(standing), [serial]) = (first_standing, serials.as_slice()) {
            write(&self.cache).insert(
                serial.clone(),
                Cached {
                    der: der.clone(),
                    this_update: at,
                    next_update: next,
                    standing,
                    tag,
                },
            );
        }
        Ok(OcspAnswer {
            der,
            times: Some((at, next)),
            tag: Some(tag),
        })
    }

    /// Signs canonical responses for `items` (serial, standing) and keeps
    /// them: bulk work a chunk per lower-priority thread, so that serving
    /// goes on meanwhile; a revoke's one response on the caller's thread.
    async fn sign_ahead(
        &self,
        items: Vec<(String, Standing)>,
        urgency: Urgency,
    ) -> Result<(), OcspCacheError> {
        for chunk in items.chunks(SIGN_CHUNK) {
            let chunk = chunk.to_vec();
            let key = Arc::clone(&read(&self.key));
            let hashes = self.hashes.clone();
            let sign = move || {
                let at = now();
                chunk
                    .into_iter()
                    .map(|(serial, standing)| {
                        let Ok(bytes) = hex::decode(&serial) else {
                            return Err(OcspCacheError::Serial { serial });
                        };
                        let id = hashes.canonical_id(&bytes)?;
                        let single =
                            ocsp::single(id, Status::Known(standing), at, at + OCSP_VALIDITY)?;
                        let der = ocsp::signed_response(&key, vec![single], None, at)?;
                        Ok((
                            serial,
                            Cached {
                                tag: tag_of(&der),
                                der: Bytes::from(der),
                                this_update: at,
                                next_update: at + OCSP_VALIDITY,
                                standing,
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>, OcspCacheError>>()
            };
            let signed = match urgency {
                // One response: a signature of some tens of microseconds,
                // cheaper here than a hand-off to another thread.
                Urgency::Now => sign(),
                Urgency::Background => background::run("ocsp-presign", sign).await?,
            }?;
            let mut cache = write(&self.cache);
            for (serial, cached) in signed {
                cache.insert(serial, cached);
            }
        }
        Ok(())
    }

    /// Responses older than [`OCSP_REFRESH_AGE`], or all of them.
    fn stale(&self, all: bool) -> Vec<(String, Standing)> {
        let cutoff = now() - OCSP_REFRESH_AGE;
        read(&self.cache)
            .iter()
            .filter(|(_, c)| all || c.this_update <= cutoff)
            .map(|(s, c)| (s.clone(), c.standing))
            .collect()
    }

    /// Re-signs old responses, and replaces the OCSP signer when it is due
    /// (then every response is signed again with the new one). Of several
    /// servers sharing the CA folder, the first to take the folder's
    /// rotation lock rotates; the others find its new pair, not due, and
    /// take it.
    pub async fn refresh(&self) -> Result<(), OcspCacheError> {
        let due = read(&self.key).due_for_rotation(now());
        if due {
            let authority = &self.authority;
            let key = DelegatedSigner::ocsp(authority.certs.name.clone(), &self.ca_dir)
                .load_or_rotate(
                    &authority.signer,
                    &authority.store,
                    time::OffsetDateTime::now_utc(),
                )
                .await?;
            tracing::info!(not_after = key.not_after, "OCSP signer replaced");
            *write(&self.key) = Arc::new(key);
        }
        let stale = self.stale(due);
        self.sign_ahead(stale, Urgency::Background).await
    }

    /// Refreshes once a minute, for as long as the process runs.
    pub async fn run(self: Arc<Self>) {
        loop {
            tokio::time::sleep(REFRESH_EVERY).await;
            if let Err(e) = self.refresh().await {
                tracing::error!(error = %e, "OCSP refresh failed; retrying");
            }
        }
    }
}

/// Whether a presigned response may still be served: it is re-signed when
/// a day old, so one that is an hour past that was missed by a refresh and
/// is signed again on demand rather than served.
fn fresh(hit: &Cached, at: i64) -> bool {
    hit.next_update - at > OCSP_VALIDITY - OCSP_REFRESH_AGE - 3600
}

fn error_answer(e: &RequestError) -> OcspAnswer {
    let response = match e {
        RequestError::Malformed(_) => x509_ocsp::OcspResponse::malformed_request(),
        RequestError::NotOurIssuer => x509_ocsp::OcspResponse::unauthorized(),
    };
    OcspAnswer {
        der: Bytes::from(ocsp::error_response(response)),
        times: None,
        tag: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails on the first error")]

    use std::sync::{Arc, RwLock};

    use x509_ocsp::CertStatus;

    use super::*;
    use crate::revocation::index::RevocationIndex;
    use crate::revocation::testing::{authority, request, status};
    use crate::store::Reason;

    async fn cache(dir: &std::path::Path) -> (OcspCache, Arc<Ca>) {
        let (authority, ca_dir) = authority(dir).await;
        let index = Arc::new(RwLock::new(RevocationIndex::default()));
        let cache = OcspCache::start(Arc::clone(&authority), ca_dir, IndexReader::of(&index))
            .await
            .unwrap();
        (cache, authority)
    }

    #[tokio::test]
    async fn a_presigned_response_is_served_as_signed_and_replaced_when_the_standing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, authority) = cache(dir.path()).await;
        let usual = request(&authority, "0a", None);
        cache.sign_now("0a".into(), Standing::Good).await.unwrap();
        assert_eq!(cache.presigned(), 1);
        let first = cache.answer(&usual).await;
        assert!(matches!(status(&first.der), CertStatus::Good(_)));
        let (this_update, next_update) = first.times.unwrap();
        assert_eq!(next_update - this_update, OCSP_VALIDITY);
        // The same bytes again: a lookup, no signature.
        assert_eq!(cache.answer(&usual).await.der, first.der);

        let revoked = Standing::Revoked {
            reason: Reason::KeyCompromise,
            at: 1_700_000_000,
        };
        let (a, b) = ("0a".to_owned(), "0b".to_owned());
        assert_eq!(
            cache.needing_signature([(&a, Standing::Good), (&a, revoked), (&b, Standing::Good)]),
            vec![(a.clone(), revoked), (b, Standing::Good)]
        );
        cache.sign_in_background(vec![(a, revoked)]).await.unwrap();
        assert!(matches!(
            status(&cache.answer(&usual).await.der),
            CertStatus::Revoked(info) if info.revocation_time.0.to_unix_duration().as_secs() == 1_700_000_000
        ));
        assert_eq!(cache.presigned(), 1);
    }

    #[tokio::test]
    async fn requests_the_cache_cannot_answer_are_signed_on_demand_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, authority) = cache(dir.path()).await;
        cache.sign_now("0a".into(), Standing::Good).await.unwrap();
        // A serial the registry never signed: unknown, signed on demand.
        let unknown = cache.answer(&request(&authority, "0c", None)).await;
        assert!(matches!(status(&unknown.der), CertStatus::Unknown(_)));
        // A nonce: signed on demand, so not the presigned bytes.
        let presigned = cache.answer(&request(&authority, "0a", None)).await;
        let with_nonce = cache
            .answer(&request(&authority, "0a", Some(b"0123456789abcdef")))
            .await;
        assert_ne!(with_nonce.der, presigned.der);
        assert!(with_nonce.times.is_some());
        assert_eq!(cache.presigned(), 1);
        // Not an OCSP request at all.
        let garbage = cache.answer(b"not DER").await;
        assert!(garbage.times.is_none());
        assert_eq!(
            garbage.der.as_ref(),
            ocsp::error_response(x509_ocsp::OcspResponse::malformed_request())
        );
    }

    #[tokio::test]
    async fn a_refresh_re_signs_only_responses_a_day_old() {
        let dir = tempfile::tempdir().unwrap();
        let (cache, _) = cache(dir.path()).await;
        cache.sign_now("0a".into(), Standing::Good).await.unwrap();
        cache.sign_now("0b".into(), Standing::Good).await.unwrap();
        assert!(cache.stale(false).is_empty());
        assert_eq!(cache.stale(true).len(), 2);
        // Age one response by a day.
        let old = {
            let mut held = write(&cache.cache);
            let entry = held.get_mut("0a").unwrap();
            entry.this_update -= OCSP_REFRESH_AGE;
            entry.next_update -= OCSP_REFRESH_AGE;
            entry.der.clone()
        };
        assert_eq!(cache.stale(false), vec![("0a".to_owned(), Standing::Good)]);
        let kept = read(&cache.cache).get("0b").unwrap().der.clone();
        cache.refresh().await.unwrap();
        assert!(cache.stale(false).is_empty());
        let held = read(&cache.cache);
        assert_ne!(held.get("0a").unwrap().der, old);
        assert_eq!(held.get("0b").unwrap().der, kept);
    }
}
