//! The revocation service of one server process.
//!
//! - OCSP: a response for every signed certificate is signed ahead of any
//!   request and kept in memory, re-signed when the certificate's standing
//!   changes and when it is a day old (responses are valid for three), so
//!   answering the usual request (one SHA-1 CertID, no nonce, RFC 5019)
//!   is a map lookup. Requests with a nonce, a SHA-256 CertID or several
//!   CertIDs are signed on demand, a bounded number at a time.
//! - CRL: rebuilt from the in-memory index, off the request path, within a
//!   second of a change and a day before its nextUpdate.
//! - A poller reads the registry's changes every second, so changes made
//!   by other server processes on the same registry reach this one too.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use tokio::sync::{Notify, Semaphore};

use super::background;
use super::index::{CrlIndex, Snapshot};
use super::ocsp::{self, IssuerHashes, RequestError, Status};
use super::responder_key::{ResponderKey, ResponderKeyError};
use crate::ca::Ca;
use crate::delegated::DelegatedSigner;
use crate::locks::{read, write};
use crate::store::roles::{Reads, Revocations};
use crate::store::{RevocationRecord, Standing, StoreError};
use robotid_issuer::signer::{CrlEntry, CrlRequest};

/// How long an OCSP response is valid (thisUpdate to nextUpdate).
pub const OCSP_VALIDITY: i64 = 3 * 24 * 3600;
/// Age at which a response is signed again.
pub const OCSP_REFRESH_AGE: i64 = 24 * 3600;
/// How long a CRL is valid.
pub const CRL_VALIDITY: i64 = 7 * 24 * 3600;
/// Age at which an unchanged CRL is issued again.
pub const CRL_REFRESH_AGE: i64 = 24 * 3600;
/// How often the registry is polled for changes.
const POLL: Duration = Duration::from_secs(1);
/// How far back each poll looks again, for transactions that committed
/// after a later poll started (their rows carry an earlier time).
const POLL_OVERLAP: i64 = 5;
/// Longest pause between two CRL builds (see `crl_loop`).
const CRL_MAX_PAUSE: Duration = Duration::from_secs(10);
/// Changes arriving within this time go into one CRL.
const CRL_DEBOUNCE: Duration = Duration::from_millis(200);
/// Responses signed per blocking task when signing ahead.
const SIGN_CHUNK: usize = 512;
/// Responses signed on demand at one time; more get tryLater.
const ON_DEMAND: usize = 64;

/// Why the revocation service could not start.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// The OCSP signer.
    #[error(transparent)]
    ResponderKey(#[from] ResponderKeyError),
    /// The registry.
    #[error("revocation service: {0}")]
    Store(#[from] StoreError),
    /// Signing a CRL or a response.
    #[error("revocation service: {0}")]
    Signing(String),
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
}

/// The current CRL.
#[derive(Clone, Debug)]
pub struct PublishedCrl {
    /// DER.
    pub der: Bytes,
    /// Its CRL number.
    pub number: i64,
    /// thisUpdate, unix seconds.
    pub this_update: i64,
    /// nextUpdate, unix seconds.
    pub next_update: i64,
    /// Entries listed.
    pub entries: usize,
    /// The index version it was built from.
    version: u64,
}

/// An OCSP answer: the body, and for a successful response the times the
/// HTTP caching headers are derived from.
#[derive(Clone, Debug)]
pub struct OcspAnswer {
    /// The OCSPResponse, DER.
    pub der: Bytes,
    /// thisUpdate and nextUpdate of a successful response.
    pub times: Option<(i64, i64)>,
}

/// The revocation service; see the module documentation.
pub struct Revocation {
    authority: Arc<Ca>,
    ca_dir: PathBuf,
    hashes: IssuerHashes,
    key: RwLock<Arc<ResponderKey>>,
    cache: RwLock<HashMap<String, Cached>>,
    index: RwLock<CrlIndex>,
    crl: RwLock<Option<Arc<PublishedCrl>>>,
    crl_due: Notify,
    poll_now: Notify,
    on_demand: Semaphore,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Revocation {
    /// Loads the OCSP signer (replacing it if due), the revocation index
    /// and the first CRL, then starts the poller and the CRL publisher.
    pub async fn start(authority: Arc<Ca>, ca_dir: PathBuf) -> Result<Arc<Self>, RevocationError> {
        let key = DelegatedSigner::ocsp(authority.certs.name.clone(), &ca_dir)
            .load_or_rotate(
                &authority.signer,
                &authority.store,
                time::OffsetDateTime::now_utc(),
            )
            .await?;
        let hashes = IssuerHashes::of(authority.signer.issuer_der())
            .map_err(|e| RevocationError::Signing(e.to_string()))?;
        let service = Arc::new(Self {
            authority,
            ca_dir,
            hashes,
            key: RwLock::new(Arc::new(key)),
            cache: RwLock::new(HashMap::new()),
            index: RwLock::new(CrlIndex::default()),
            crl: RwLock::new(None),
            crl_due: Notify::new(),
            poll_now: Notify::new(),
            on_demand: Semaphore::new(ON_DEMAND),
        });
        // The whole index, then the first CRL, before serving: the CRL
        // endpoint never answers "not yet". Responses are signed ahead in
        // the background (a million take about a minute); until a
        // certificate's is ready, its requests are signed on demand.
        let resign = service.apply_changes(0).await?;
        service.publish_crl().await?;
        let presigner = Arc::clone(&service);
        tokio::spawn(async move {
            let count = resign.len();
            match presigner.sign_ahead(resign, Urgency::Background).await {
                Ok(()) => tracing::info!(count, "OCSP responses signed ahead"),
                Err(e) => {
                    tracing::error!(error = %e, "signing OCSP responses ahead failed; they are signed on demand when asked")
                }
            }
        });
        tokio::spawn(Arc::clone(&service).poll_loop());
        tokio::spawn(Arc::clone(&service).crl_loop());
        Ok(service)
    }

    /// The current CRL.
    pub fn crl(&self) -> Option<Arc<PublishedCrl>> {
        read(&self.crl).clone()
    }

    /// The issuer id the CRL is published under.
    pub fn issuer_id(&self) -> &str {
        self.authority.signer.issuer_id()
    }

    /// Presigned responses held.
    pub fn presigned(&self) -> usize {
        read(&self.cache).len()
    }

    /// Applies a change this process made (after it committed): the index,
    /// a freshly signed OCSP response, and a CRL soon.
    pub async fn changed(&self, record: &RevocationRecord) {
        let standing = {
            let mut index = write(&self.index);
            index.apply_row(record);
            index.standing(&record.serial_hex)
        };
        if let Err(e) = self
            .sign_ahead(vec![(record.serial_hex.clone(), standing)], Urgency::Now)
            .await
        {
            // The poller signs it on its next round.
            tracing::error!(error = %e, serial = %record.serial_hex, "OCSP response not re-signed");
        }
        self.crl_due.notify_one();
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
            && hit.next_update - at > OCSP_VALIDITY - OCSP_REFRESH_AGE - 3600
        {
            return OcspAnswer {
                der: hit.der.clone(),
                times: Some((hit.this_update, hit.next_update)),
            };
        }
        if !parsed.ids.iter().any(|id| self.hashes.matches(id)) {
            return error_answer(&RequestError::NotOurIssuer);
        }
        let Ok(_permit) = self.on_demand.try_acquire() else {
            return OcspAnswer {
                der: Bytes::from(ocsp::error_response(x509_ocsp::OcspResponse::try_later())),
                times: None,
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
        (hit.next_update - at > OCSP_VALIDITY - OCSP_REFRESH_AGE - 3600).then(|| OcspAnswer {
            der: hit.der.clone(),
            times: Some((hit.this_update, hit.next_update)),
        })
    }

    async fn sign_on_demand(
        &self,
        request: ocsp::Request,
        at: i64,
    ) -> Result<OcspAnswer, RevocationError> {
        let serials: Vec<String> = request
            .ids
            .iter()
            .filter(|id| self.hashes.matches(id))
            .map(ocsp::serial_hex)
            .collect();
        let known = self.authority.store.standing_of_serials(&serials).await?;
        let next = at + OCSP_VALIDITY;
        let cacheable = request.nonce.is_none()
            && request.ids.len() == 1
            && request.ids.iter().all(|id| self.hashes.is_canonical(id));
        let mut singles = Vec::with_capacity(request.ids.len());
        let mut first_standing = None;
        for id in request.ids {
            let status = if self.hashes.matches(&id) {
                let serial = ocsp::serial_hex(&id);
                match known.get(&serial) {
                    // The index is as fresh as the registry's changes this
                    // process has seen; the registry row may be a poll behind.
                    Some(_) => Status::Known(read(&self.index).standing(&serial)),
                    None => Status::Unknown,
                }
            } else {
                Status::Unknown
            };
            if let Status::Known(s) = status {
                first_standing.get_or_insert(s);
            }
            singles.push(
                ocsp::single(id, status, at, next)
                    .map_err(|e| RevocationError::Signing(e.to_string()))?,
            );
        }
        let key = Arc::clone(&read(&self.key));
        let der = ocsp::signed_response(&key, singles, request.nonce.as_ref(), at)
            .map_err(|e| RevocationError::Signing(e.to_string()))?;
        let der = Bytes::from(der);
        if cacheable && let (Some(standing), [serial]) = (first_standing, serials.as_slice()) {
            write(&self.cache).insert(
                serial.clone(),
                Cached {
                    der: der.clone(),
                    this_update: at,
                    next_update: next,
                    standing,
                },
            );
        }
        Ok(OcspAnswer {
            der,
            times: Some((at, next)),
        })
    }

    /// Signs canonical responses for `items` (serial, standing) and keeps
    /// them: bulk work a chunk per lower-priority thread, so that serving
    /// goes on meanwhile; a revoke's one response on the caller's thread.
    async fn sign_ahead(
        &self,
        items: Vec<(String, Standing)>,
        urgency: Urgency,
    ) -> Result<(), RevocationError> {
        for chunk in items.chunks(SIGN_CHUNK) {
            let chunk = chunk.to_vec();
            let key = Arc::clone(&read(&self.key));
            let hashes = self.hashes.clone();
            let sign = move || {
                let at = now();
                chunk
                    .into_iter()
                    .map(|(serial, standing)| {
                        let bytes = hex::decode(&serial).map_err(|e| e.to_string())?;
                        let id = hashes.canonical_id(&bytes).map_err(|e| e.to_string())?;
                        let single =
                            ocsp::single(id, Status::Known(standing), at, at + OCSP_VALIDITY)
                                .map_err(|e| e.to_string())?;
                        let der = ocsp::signed_response(&key, vec![single], None, at)
                            .map_err(|e| e.to_string())?;
                        Ok((
                            serial,
                            Cached {
                                der: Bytes::from(der),
                                this_update: at,
                                next_update: at + OCSP_VALIDITY,
                                standing,
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>, String>>()
            };
            let signed = match urgency {
                // One response: a signature of some tens of microseconds,
                // cheaper here than a hand-off to another thread.
                Urgency::Now => sign(),
                Urgency::Background => background::run("ocsp-presign", sign).await?,
            }
            .map_err(RevocationError::Signing)?;
            let mut cache = write(&self.cache);
            for (serial, cached) in signed {
                cache.insert(serial, cached);
            }
        }
        Ok(())
    }

    /// Reads the registry's changes since `since` into the index, and signs
    /// responses for new certificates and changed standings.
    async fn load_changes(&self, since: i64) -> Result<(), RevocationError> {
        let resign = self.apply_changes(since).await?;
        self.sign_ahead(resign, Urgency::Background).await
    }

    /// Reads the registry's changes since `since` into the index; returns
    /// the responses to sign (new certificates, changed standings).
    async fn apply_changes(&self, since: i64) -> Result<Vec<(String, Standing)>, RevocationError> {
        let store = &self.authority.store;
        let rows = store.revocations_changed_since(since).await?;
        let superseded = store.superseded_since(since).await?;
        let issued = store.issued_since(since).await?;
        let mut resign = Vec::new();
        let mut changed = false;
        {
            let mut index = write(&self.index);
            for row in &rows {
                changed |= index.apply_row(row);
            }
            for (serial, at) in &superseded {
                changed |= index.apply_superseded(serial, *at);
            }
            let cache = read(&self.cache);
            for serial in rows
                .iter()
                .map(|r| &r.serial_hex)
                .chain(superseded.iter().map(|(s, _)| s))
                .chain(issued.iter())
            {
                let standing = index.standing(serial);
                if cache.get(serial).is_none_or(|c| c.standing != standing) {
                    resign.push((serial.clone(), standing));
                }
            }
        }
        resign.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        resign.dedup_by(|a, b| a.0 == b.0);
        if changed {
            self.crl_due.notify_one();
        }
        Ok(resign)
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

    async fn poll_loop(self: Arc<Self>) {
        let mut last = now();
        let mut last_refresh = last;
        loop {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = self.poll_now.notified() => {}
            }
            let started = now();
            if let Err(e) = self.load_changes(last - POLL_OVERLAP).await {
                tracing::error!(error = %e, "revocation poll failed; retrying");
                continue;
            }
            last = started;
            if started - last_refresh >= 60 {
                last_refresh = started;
                if let Err(e) = self.refresh().await {
                    tracing::error!(error = %e, "OCSP refresh failed; retrying");
                }
            }
        }
    }

    /// Re-signs old responses, and replaces the OCSP signer when it is due
    /// (then every response is signed again with the new one).
    async fn refresh(&self) -> Result<(), RevocationError> {
        let due = read(&self.key).due_for_rotation(now());
        if due {
            let authority = &self.authority;
            let key = DelegatedSigner::ocsp(authority.certs.name.clone(), &self.ca_dir)
                .rotate(
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

    async fn crl_loop(self: Arc<Self>) {
        loop {
            let wait = self.crl().map_or(0, |c| {
                (c.this_update + CRL_REFRESH_AGE - now()).clamp(0, CRL_REFRESH_AGE)
            });
            let wait = Duration::from_secs(u64::try_from(wait).unwrap_or(0));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.crl_due.notified() => {
                    tokio::time::sleep(CRL_DEBOUNCE).await;
                }
            }
            let started = std::time::Instant::now();
            let published = self.publish_crl().await;
            // A large CRL takes a core for a second or more: rebuilding it
            // back to back during a burst of revocations would take that
            // core from the revocations themselves. After each build, wait
            // three times as long as it took (at most ten seconds), so a
            // change still reaches the CRL within seconds and the builds
            // use at most a quarter of a core.
            let pause = started.elapsed().saturating_mul(3).min(CRL_MAX_PAUSE);
            if pause > CRL_DEBOUNCE {
                tokio::time::sleep(pause - CRL_DEBOUNCE).await;
            }
            if let Err(e) = published {
                tracing::error!(error = %e, "CRL not published; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.crl_due.notify_one();
            }
        }
    }

    /// Builds and signs a CRL from the index if it changed or is due.
    pub async fn publish_crl(&self) -> Result<(), RevocationError> {
        let started = std::time::Instant::now();
        let at = now();
        let (version, listed) = {
            let index = read(&self.index);
            let version = index.version();
            if let Some(current) = self.crl()
                && current.version == version
                && at - current.this_update < CRL_REFRESH_AGE
            {
                return Ok(());
            }
            (version, index.snapshot())
        };
        let number = self
            .authority
            .store
            .next_crl_number(self.issuer_id())
            .await?;
        let authority = Arc::clone(&self.authority);
        let (der, entries) =
            background::run("crl", move || build_crl(&authority, &listed, number, at)).await??;
        let elapsed_ms = started.elapsed().as_millis();
        tracing::info!(number, entries, elapsed_ms, "CRL published");
        *write(&self.crl) = Some(Arc::new(PublishedCrl {
            der: Bytes::from(der),
            number,
            this_update: at,
            next_update: at + CRL_VALIDITY,
            entries,
            version,
        }));
        Ok(())
    }
}

/// Signs the CRL of `listed`; returns its DER and number of entries.
fn build_crl(
    authority: &Ca,
    listed: &Snapshot,
    number: i64,
    at: i64,
) -> Result<(Vec<u8>, usize), RevocationError> {
    let time = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map_err(|e| RevocationError::Signing(e.to_string()))
    };
    let mut entries = Vec::with_capacity(listed.len());
    let mut failed = None;
    listed.for_each(|serial, l| {
        let entry = hex::decode(serial)
            .map_err(|e| RevocationError::Signing(e.to_string()))
            .and_then(|serial| {
                Ok(CrlEntry {
                    serial,
                    revoked_at: time(l.at)?,
                    reason: Some(l.reason.code()),
                })
            });
        match entry {
            Ok(e) => entries.push(e),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let count = entries.len();
    let der = authority
        .signer
        .sign_crl(CrlRequest {
            number: u64::try_from(number).map_err(|e| RevocationError::Signing(e.to_string()))?,
            this_update: time(at)?,
            next_update: time(at + CRL_VALIDITY)?,
            entries,
        })
        .map_err(|e| RevocationError::Signing(e.to_string()))?;
    Ok((der, count))
}

fn error_answer(e: &RequestError) -> OcspAnswer {
    let response = match e {
        RequestError::Malformed(_) => x509_ocsp::OcspResponse::malformed_request(),
        RequestError::NotOurIssuer => x509_ocsp::OcspResponse::unauthorized(),
    };
    OcspAnswer {
        der: Bytes::from(ocsp::error_response(response)),
        times: None,
    }
}
