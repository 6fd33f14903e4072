//! CA keys on a PKCS#11 token (an HSM, or SoftHSM in tests), through the
//! `cryptoki` crate.
//!
//! A key is named by an RFC 7512 URI, the convention of OpenSSL's pkcs11
//! provider, p11-kit and step-ca:
//!
//! ```text
//! pkcs11:token=RobotID;object=issuing-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/robotid/pin
//! ```
//!
//! The PIN is read from the `pin-source` file each time the token is
//! logged in to, so it is never on a command line, in the environment or
//! in a URI that is printed; a URI carrying `pin-value` is refused. The PIN
//! is held as a `secrecy` string and appears in no message.
//!
//! [`Pkcs11Key`] signs through a pool of sessions (PKCS#11 sessions are
//! single-threaded; several let the token sign concurrently). When the
//! token goes away (removed, its session lost, an error mid-batch) the
//! signature fails with [`KeyFailure::Unavailable`], the connection is torn
//! down once every session is back, and the next signature after a short
//! pause connects again: the library is finalised and initialised anew, so
//! a token that returns is found again, and a PIN file that was wrong and
//! was corrected is read again.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use der::{Decode, Encode};

use crate::key::{CaKey, KeyFailure};
use crate::keys::KeyAlgorithm;

/// How long after a failed connection the key answers "unavailable" at
/// once instead of trying the token again: a batch of thousands of
/// signatures against an absent token costs one attempt, not thousands.
pub const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Why a PKCS#11 URI is refused. Each names the attribute and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("PKCS#11 URI {attribute}: {rule}")]
pub struct UriError {
    /// The attribute (`scheme`, `token`, `object`, `module-path`, ...).
    pub attribute: String,
    /// The rule broken.
    pub rule: String,
}

fn uri_error(attribute: &str, rule: impl Into<String>) -> UriError {
    UriError {
        attribute: attribute.to_owned(),
        rule: rule.into(),
    }
}

/// A key named by an RFC 7512 PKCS#11 URI.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyUri {
    /// The token's label (`token=`).
    pub token: String,
    /// The key's label (`object=`).
    pub object: String,
    /// The PKCS#11 module (`module-path=`).
    pub module_path: PathBuf,
    /// The file holding the user PIN (`pin-source=`).
    pub pin_source: Option<PathBuf>,
}

fn percent_decode(attribute: &str, value: &str) -> Result<String, UriError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| uri_error(attribute, "a '%' is not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| uri_error(attribute, "the value is not UTF-8"))
}

/// Percent-encodes what RFC 7512 does not allow unencoded in a value.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl FromStr for KeyUri {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Self, UriError> {
        let rest = s
            .strip_prefix("pkcs11:")
            .ok_or_else(|| uri_error("scheme", "a PKCS#11 URI begins with \"pkcs11:\""))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut token, mut object) = (None, None);
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| uri_error(attr, "a path attribute is name=value"))?;
            let value = percent_decode(name, value)?;
            let slot = match name {
                "token" => &mut token,
                "object" => &mut object,
                "type" if value == "private" => continue,
                "type" => {
                    return Err(uri_error(
                        "type",
                        format!("{value:?}: a CA key is a private key (type=private)"),
                    ));
                }
                // Narrowing by manufacturer, model, serial or slot is not
                // needed to find a token by label; refusing them beats
                // silently ignoring what the operator meant.
                other => {
                    return Err(uri_error(
                        other,
                        "not supported: name the key by token= and object=",
                    ));
                }
            };
            if slot.replace(value).is_some() {
                return Err(uri_error(name, "given twice"));
            }
        }
        let (mut module_path, mut pin_source) = (None, None);
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| uri_error(attr, "a query attribute is name=value"))?;
            match name {
                "module-path" => {
                    module_path = Some(PathBuf::from(percent_decode(name, value)?));
                }
                "pin-source" => {
                    let value = percent_decode(name, value)?;
                    let path = value.strip_prefix("file:").unwrap_or(&value);
                    let path = path.strip_prefix("//").unwrap_or(path);
                    if !path.starts_with('/') {
                        return Err(uri_error(
                            "pin-source",
                            "must be an absolute file path or file: URI",
                        ));
                    }
                    pin_source = Some(PathBuf::from(path));
                }
                // The PIN in the URI would be in argv, shell history and
                // every place the URI is printed.
                "pin-value" => {
                    return Err(uri_error(
                        "pin-value",
                        "refused: the PIN never goes in a URI; put it in a file and name it with pin-source",
                    ));
                }
                other => {
                    return Err(uri_error(
                        other,
                        "not supported: use module-path and pin-source",
                    ));
                }
            }
        }
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| uri_error("token", "required: the token's label"))?;
        let object = object
            .filter(|o| !o.is_empty())
            .ok_or_else(|| uri_error("object", "required: the key's label"))?;
        let module_path = module_path.ok_or_else(|| {
            uri_error(
                "module-path",
                "required: the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so",
            )
        })?;
        Ok(Self {
            token,
            object,
            module_path,
            pin_source,
        })
    }
}

impl fmt::Display for KeyUri {
    /// The URI as parsed; it never holds a PIN, only where to read it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pkcs11:token={};object={}?module-path={}",
            percent_encode(&self.token),
            percent_encode(&self.object),
            percent_encode(&self.module_path.display().to_string())
        )?;
        if let Some(pin) = &self.pin_source {
            write!(
                f,
                "&pin-source=file:{}",
                percent_encode(&pin.display().to_string())
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl KeyUri {
    /// Reads the PIN from `pin-source` (one line; the newline is not part
    /// of it). No PIN source: the token needs no login.
    fn pin(&self) -> Result<Option<AuthPin>, KeyFailure> {
        let Some(path) = &self.pin_source else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| KeyFailure::Unavailable(format!("pin-source {}: {e}", path.display())))?;
        let pin = text.strip_suffix('\n').unwrap_or(&text);
        let pin = pin.strip_suffix('\r').unwrap_or(pin);
        Ok(Some(AuthPin::from(pin.to_owned())))
    }
}

/// The module's library, loaded once per process: a PKCS#11 library is
/// process-global, so two keys on one module share its initialisation.
struct Module {
    ctx: Pkcs11,
    /// Connections using it; the last one to let go finalises it, so the
    /// next connection re-reads the token (SoftHSM finds a restored token
    /// directory only on C_Initialize).
    users: usize,
}

fn modules() -> MutexGuard<'static, HashMap<PathBuf, Module>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Module>>> = OnceLock::new();
    MODULES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn acquire_module(path: &Path) -> Result<Pkcs11, KeyFailure> {
    let mut modules = modules();
    if let Some(m) = modules.get_mut(path) {
        m.users += 1;
        return Ok(m.ctx.clone());
    }
    let ctx = Pkcs11::new(path)
        .map_err(|e| KeyFailure::Unavailable(format!("PKCS#11 module {}: {e}", path.display())))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(KeyFailure::Unavailable(format!(
                "PKCS#11 module {}: C_Initialize: {e}",
                path.display()
            )));
        }
    }
    modules.insert(
        path.to_path_buf(),
        Module {
            ctx: ctx.clone(),
            users: 1,
        },
    );
    Ok(ctx)
}

fn release_module(path: &Path) {
    let mut modules = modules();
    let last = modules.get_mut(path).is_some_and(|m| {
        m.users = m.users.saturating_sub(1);
        m.users == 0
    });
    if last && let Some(m) = modules.remove(path) {
        // Every session of it is closed by now; finalising lets the next
        // C_Initialize see the token as it is then.
        let _ = m.ctx.finalize();
    }
}

/// An open connection to the token: the module, the slot, the key's handle
/// and the sessions not in use.
struct Connection {
    ctx: Pkcs11,
    slot: Slot,
    key: ObjectHandle,
    idle: Vec<Session>,
}

struct State {
    conn: Option<Connection>,
    /// Sessions open, idle or lent out.
    open: usize,
    /// Bumped when the connection is torn down, so sessions lent out
    /// before are closed when they come back, not reused.
    generation: u64,
    /// Set when the connection failed: no new session is lent until every
    /// lent one is back and the connection is closed.
    broken: bool,
    /// Until when to answer "unavailable" without trying again.
    retry_after: Option<Instant>,
    /// Why the last connection failed, repeated while pausing.
    last_failure: String,
}

/// A CA key on a PKCS#11 token.
pub struct Pkcs11Key {
    uri: KeyUri,
    algorithm: KeyAlgorithm,
    /// The public key the key must have (the CA certificate's, or read from
    /// the token when the key was generated or opened).
    public_key: Vec<u8>,
    sessions: usize,
    state: Mutex<State>,
    returned: Condvar,
}

fn curve_oid(alg: KeyAlgorithm) -> Result<const_oid::ObjectIdentifier, KeyFailure> {
    match alg {
        KeyAlgorithm::P256 => Ok(const_oid::db::rfc5912::SECP_256_R_1),
        KeyAlgorithm::P384 => Ok(const_oid::db::rfc5912::SECP_384_R_1),
        KeyAlgorithm::Ed25519 => Err(KeyFailure::Sign(
            "Ed25519 keys are not supported on a token; use p256 or p384".into(),
        )),
    }
}

/// The uncompressed point from CKA_EC_POINT, which PKCS#11 wraps in a DER
/// OCTET STRING (some modules give the bare point).
fn ec_point(raw: &[u8], alg: KeyAlgorithm) -> Result<Vec<u8>, KeyFailure> {
    let len = match alg {
        KeyAlgorithm::P256 => 65,
        KeyAlgorithm::P384 => 97,
        KeyAlgorithm::Ed25519 => 32,
    };
    if raw.len() == len && raw[0] == 0x04 {
        return Ok(raw.to_vec());
    }
    let point = der::asn1::OctetString::from_der(raw)
        .map_err(|e| KeyFailure::Sign(format!("CKA_EC_POINT is not an OCTET STRING: {e}")))?;
    let point = point.as_bytes();
    if point.len() != len || point[0] != 0x04 {
        return Err(KeyFailure::Sign(format!(
            "CKA_EC_POINT is not an uncompressed {alg} point"
        )));
    }
    Ok(point.to_vec())
}

/// An ECDSA-Sig-Value (RFC 3279), what X.509 carries, from the token's
/// r || s.
#[derive(der::Sequence)]
struct EcdsaSig<'a> {
    r: der::asn1::UintRef<'a>,
    s: der::asn1::UintRef<'a>,
}

fn ecdsa_der(raw: &[u8]) -> Result<Vec<u8>, KeyFailure> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(KeyFailure::Sign(format!(
            "the token returned a {}-byte ECDSA signature",
            raw.len()
        )));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let bad = |e: der::Error| KeyFailure::Sign(format!("ECDSA signature: {e}"));
    EcdsaSig {
        r: der::asn1::UintRef::new(r).map_err(bad)?,
        s: der::asn1::UintRef::new(s).map_err(bad)?,
    }
    .to_der()
    .map_err(bad)
}

/// Whether an error means the token or the session is gone (reconnect), as
/// opposed to a refusal of this one operation.
fn is_lost(e: &CkError) -> bool {
    match e {
        CkError::Pkcs11(rv, _) => !matches!(
            rv,
            RvError::MechanismInvalid
                | RvError::MechanismParamInvalid
                | RvError::DataInvalid
                | RvError::DataLenRange
                | RvError::KeyTypeInconsistent
                | RvError::KeyFunctionNotPermitted
                | RvError::ArgumentsBad
        ),
        _ => true,
    }
}

fn find_one(
    session: &Session,
    uri: &KeyUri,
    class: ObjectClass,
) -> Result<Option<ObjectHandle>, CkError> {
    let found = session.find_objects(&[
        Attribute::Class(class),
        Attribute::Label(uri.object.as_bytes().to_vec()),
    ])?;
    Ok(found.first().copied())
}

fn find_slot(ctx: &Pkcs11, uri: &KeyUri) -> Result<Slot, KeyFailure> {
    let unavailable = |e: CkError| KeyFailure::Unavailable(format!("token {:?}: {e}", uri.token));
    for slot in ctx.get_slots_with_token().map_err(unavailable)? {
        // A slot whose token cannot be read (another being set up, a
        // faulty one) is not ours to fail on: look at the others.
        match ctx.get_token_info(slot) {
            Ok(info) if info.label().trim_end() == uri.token => return Ok(slot),
            _ => {}
        }
    }
    Err(KeyFailure::Unavailable(format!(
        "token {:?} is not present",
        uri.token
    )))
}

/// Opens a session and logs in (once per application: PKCS#11 sessions of
/// one process share the login).
fn open_session(
    ctx: &Pkcs11,
    slot: Slot,
    uri: &KeyUri,
    login: bool,
) -> Result<Session, KeyFailure> {
    let session = ctx.open_rw_session(slot).map_err(|e| {
        KeyFailure::Unavailable(format!("token {:?}: C_OpenSession: {e}", uri.token))
    })?;
    if login && let Some(pin) = uri.pin()? {
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            // The message names the PIN's file, never the PIN.
            Err(e) => {
                let source = uri
                    .pin_source
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                return Err(KeyFailure::Unavailable(format!(
                    "token {:?}: login with the PIN from {source} failed: {e}",
                    uri.token
                )));
            }
        }
    }
    Ok(session)
}

fn read_public_key(
    session: &Session,
    uri: &KeyUri,
    alg: KeyAlgorithm,
) -> Result<Vec<u8>, KeyFailure> {
    let public = find_one(session, uri, ObjectClass::PUBLIC_KEY)
        .map_err(|e| KeyFailure::Unavailable(format!("{uri}: C_FindObjects: {e}")))?
        .ok_or_else(|| KeyFailure::Sign(format!("{uri}: no public key object of that label")))?;
    let attrs = session
        .get_attributes(public, &[AttributeType::EcPoint])
        .map_err(|e| KeyFailure::Unavailable(format!("{uri}: C_GetAttributeValue: {e}")))?;
    match attrs.first() {
        Some(Attribute::EcPoint(p)) => ec_point(p, alg),
        _ => Err(KeyFailure::Sign(format!(
            "{uri}: the public key has no EC point"
        ))),
    }
}

/// What [`Pkcs11Key::generate`] refuses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// The token already has a key of that label: keys are never replaced.
    #[error("{0}: the token already holds a key of that label; refusing to make another")]
    Exists(String),
    /// The token could not be used.
    #[error(transparent)]
    Key(#[from] KeyFailure),
}

impl Pkcs11Key {
    /// A key on the token named by `uri`, which must have `public_key` (of
    /// `algorithm`): the CA certificate's. Nothing is opened yet, so a
    /// server starts while its token is absent and answers "unavailable"
    /// until it is there. `sessions` (at least 1) sessions sign at once.
    pub fn expecting(
        uri: KeyUri,
        algorithm: KeyAlgorithm,
        public_key: Vec<u8>,
        sessions: usize,
    ) -> Self {
        Self {
            uri,
            algorithm,
            public_key,
            sessions: sessions.max(1),
            state: Mutex::new(State {
                conn: None,
                open: 0,
                generation: 0,
                broken: false,
                retry_after: None,
                last_failure: String::new(),
            }),
            returned: Condvar::new(),
        }
    }

    /// Opens the key on its token now and reads its public key from there.
    pub fn open(uri: KeyUri, algorithm: KeyAlgorithm, sessions: usize) -> Result<Self, KeyFailure> {
        let ctx = acquire_module(&uri.module_path)?;
        let read = (|| {
            let slot = find_slot(&ctx, &uri)?;
            let session = open_session(&ctx, slot, &uri, true)?;
            read_public_key(&session, &uri, algorithm)
        })();
        release_module(&uri.module_path);
        Ok(Self::expecting(uri, algorithm, read?, sessions))
    }

    /// Generates a key pair of `algorithm` on the token, labelled with the
    /// URI's object: the private key sensitive, not extractable, for
    /// signing only. Refused if a key of that label exists.
    pub fn generate(uri: KeyUri, algorithm: KeyAlgorithm) -> Result<Self, GenerateError> {
        let params = curve_oid(algorithm)?
            .to_der()
            .map_err(|e| KeyFailure::Sign(format!("curve: {e}")))?;
        let ctx = acquire_module(&uri.module_path)?;
        let made = (|| -> Result<(), GenerateError> {
            let slot = find_slot(&ctx, &uri)?;
            let session = open_session(&ctx, slot, &uri, true)?;
            let lookup = |class| {
                find_one(&session, &uri, class)
                    .map_err(|e| KeyFailure::Unavailable(format!("{uri}: C_FindObjects: {e}")))
            };
            if lookup(ObjectClass::PRIVATE_KEY)?.is_some()
                || lookup(ObjectClass::PUBLIC_KEY)?.is_some()
            {
                return Err(GenerateError::Exists(uri.to_string()));
            }
            let label = uri.object.as_bytes().to_vec();
            let id = ring_id(&label);
            let public = [
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Verify(true),
                Attribute::Encrypt(false),
                Attribute::Wrap(false),
                Attribute::KeyType(KeyType::EC),
                Attribute::EcParams(params.clone()),
                Attribute::Label(label.clone()),
                Attribute::Id(id.clone()),
            ];
            let private = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Decrypt(false),
                Attribute::Unwrap(false),
                Attribute::Derive(false),
                Attribute::KeyType(KeyType::EC),
                Attribute::Label(label),
                Attribute::Id(id),
            ];
            session
                .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
                .map_err(|e| KeyFailure::Sign(format!("{uri}: C_GenerateKeyPair: {e}")))?;
            Ok(())
        })();
        release_module(&uri.module_path);
        made?;
        Ok(Self::open(uri, algorithm, 1)?)
    }

    /// The key's URI (no PIN in it).
    pub fn uri(&self) -> &KeyUri {
        &self.uri
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connects: the module, the token's slot, a logged-in session, the
    /// key, and a check that the token's key is the one expected.
    fn connect(&self) -> Result<(Connection, Session), KeyFailure> {
        let ctx = acquire_module(&self.uri.module_path)?;
        let connected = (|| {
            let slot = find_slot(&ctx, &self.uri)?;
            let session = open_session(&ctx, slot, &self.uri, true)?;
            let key = find_one(&session, &self.uri, ObjectClass::PRIVATE_KEY)
                .map_err(|e| KeyFailure::Unavailable(format!("{}: C_FindObjects: {e}", self.uri)))?
                .ok_or_else(|| {
                    KeyFailure::Unavailable(format!("{}: no private key of that label", self.uri))
                })?;
            let public = read_public_key(&session, &self.uri, self.algorithm)?;
            if public != self.public_key {
                return Err(KeyFailure::Sign(format!(
                    "{}: the token's key is not the CA certificate's key",
                    self.uri
                )));
            }
            Ok((
                Connection {
                    ctx: ctx.clone(),
                    slot,
                    key,
                    idle: Vec::new(),
                },
                session,
            ))
        })();
        if connected.is_err() {
            release_module(&self.uri.module_path);
        }
        connected
    }

    /// Lends a session (connecting if need be), waiting while all are lent.
    fn checkout(&self) -> Result<(Session, ObjectHandle, u64), KeyFailure> {
        let mut state = self.lock();
        loop {
            if state.broken {
                return Err(KeyFailure::Unavailable(format!(
                    "{}: the token connection failed and is being reset",
                    self.uri
                )));
            }
            let (open, generation) = (state.open, state.generation);
            if let Some(conn) = state.conn.as_mut() {
                if let Some(session) = conn.idle.pop() {
                    return Ok((session, conn.key, generation));
                }
                if open < self.sessions {
                    let session = open_session(&conn.ctx, conn.slot, &self.uri, false);
                    let key = conn.key;
                    return match session {
                        Ok(s) => {
                            state.open += 1;
                            Ok((s, key, generation))
                        }
                        Err(e) => {
                            self.fail(&mut state, &e);
                            Err(e)
                        }
                    };
                }
                state = self
                    .returned
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            if let Some(until) = state.retry_after
                && Instant::now() < until
            {
                return Err(KeyFailure::Unavailable(state.last_failure.clone()));
            }
            // Connecting holds the lock: others wait for its outcome rather
            // than each trying the token.
            return match self.connect() {
                Ok((conn, session)) => {
                    state.retry_after = None;
                    let key = conn.key;
                    state.conn = Some(conn);
                    state.open = 1;
                    Ok((session, key, state.generation))
                }
                Err(e) => {
                    state.retry_after = Some(Instant::now() + RECONNECT_PAUSE);
                    state.last_failure = e.to_string();
                    Err(e)
                }
            };
        }
    }

    /// Marks the connection failed; it is closed once no session is lent.
    fn fail(&self, state: &mut State, e: &KeyFailure) {
        state.broken = true;
        state.generation += 1;
        state.retry_after = Some(Instant::now() + RECONNECT_PAUSE);
        state.last_failure = e.to_string();
        if let Some(conn) = state.conn.as_mut() {
            state.open -= conn.idle.len();
            conn.idle.clear();
        }
        self.close_if_idle(state);
    }

    fn close_if_idle(&self, state: &mut State) {
        if state.broken && state.open == 0 {
            if state.conn.take().is_some() {
                release_module(&self.uri.module_path);
            }
            state.broken = false;
        }
    }

    /// Takes a lent session back; `lost` closes it and the connection.
    fn checkin(&self, session: Session, generation: u64, lost: Option<&KeyFailure>) {
        let mut state = self.lock();
        if generation == state.generation
            && lost.is_none()
            && let Some(conn) = state.conn.as_mut()
        {
            conn.idle.push(session);
            self.returned.notify_one();
            return;
        }
        drop(session);
        state.open = state.open.saturating_sub(1);
        if let Some(e) = lost
            && generation == state.generation
        {
            self.fail(&mut state, e);
        }
        self.close_if_idle(&mut state);
        self.returned.notify_all();
    }

    /// Hashes `message` and has the token sign the digest (CKM_ECDSA, which
    /// every module has; SoftHSM has no CKM_ECDSA_SHA256), returning the
    /// token's r || s. The benchmark's raw C_Sign rate is this call.
    pub fn sign_raw(&self, message: &[u8]) -> Result<Vec<u8>, KeyFailure> {
        let digest = match self.algorithm {
            KeyAlgorithm::P256 => ring::digest::digest(&ring::digest::SHA256, message),
            KeyAlgorithm::P384 => ring::digest::digest(&ring::digest::SHA384, message),
            KeyAlgorithm::Ed25519 => {
                return Err(KeyFailure::Sign(
                    "Ed25519 keys are not supported on a token".into(),
                ));
            }
        };
        let (session, key, generation) = self.checkout()?;
        match session.sign(&Mechanism::Ecdsa, key, digest.as_ref()) {
            Ok(raw) => {
                self.checkin(session, generation, None);
                Ok(raw)
            }
            Err(e) => {
                let failure = if is_lost(&e) {
                    KeyFailure::Unavailable(format!("{}: C_Sign: {e}", self.uri))
                } else {
                    KeyFailure::Sign(format!("{}: C_Sign: {e}", self.uri))
                };
                let lost = is_lost(&e).then_some(&failure);
                self.checkin(session, generation, lost);
                Err(failure)
            }
        }
    }
}

/// A CKA_ID for a new key: the first 8 bytes of SHA-256 of its label, so
/// the pair's two objects share it and tools that match by id pair them.
fn ring_id(label: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, label).as_ref()[..8].to_vec()
}

impl CaKey for Pkcs11Key {
    fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn public_key_der(&self) -> &[u8] {
        &self.public_key
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyFailure> {
        ecdsa_der(&self.sign_raw(message)?)
    }
}

impl Drop for Pkcs11Key {
    fn drop(&mut self) {
        let mut state = self.lock();
        if let Some(mut conn) = state.conn.take() {
            conn.idle.clear();
            release_module(&self.uri.module_path);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test")]
mod tests {
    use super::*;

    const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

    #[test]
    fn a_uri_names_token_object_module_and_pin_file() {
        let uri: KeyUri = format!(
            "pkcs11:token=Robot%20ID;object=issuing-ca;type=private?module-path={MODULE}&pin-source=file:/run/pin"
        )
        .parse()
        .unwrap();
        assert_eq!(uri.token, "Robot ID");
        assert_eq!(uri.object, "issuing-ca");
        assert_eq!(uri.module_path, Path::new(MODULE));
        assert_eq!(uri.pin_source.as_deref(), Some(Path::new("/run/pin")));
        // Printing and parsing again gives the same key.
        assert_eq!(uri.to_string().parse::<KeyUri>().unwrap(), uri);
    }

    #[test]
    fn a_pin_in_the_uri_is_refused_without_echoing_it() {
        let e = format!("pkcs11:token=T;object=k?module-path={MODULE}&pin-value=s3cret-1234")
            .parse::<KeyUri>()
            .unwrap_err();
        assert_eq!(e.attribute, "pin-value");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn bad_uris_name_the_attribute() {
        let cases = [
            ("file:/x", "scheme"),
            ("pkcs11:object=k?module-path=/m.so", "token"),
            ("pkcs11:token=T?module-path=/m.so", "object"),
            ("pkcs11:token=T;object=k", "module-path"),
            (
                "pkcs11:token=T;object=k;type=cert?module-path=/m.so",
                "type",
            ),
            ("pkcs11:token=T;token=U;object=k?module-path=/m.so", "token"),
            ("pkcs11:token=T%zz;object=k?module-path=/m.so", "token"),
            (
                "pkcs11:token=T;object=k?module-path=/m.so&pin-source=pin.txt",
                "pin-source",
            ),
            (
                "pkcs11:token=T;object=k;serial=1?module-path=/m.so",
                "serial",
            ),
        ];
        for (text, attribute) in cases {
            let e = text.parse::<KeyUri>().unwrap_err();
            assert_eq!(e.attribute, attribute, "{text}: {e}");
        }
    }

    #[test]
    fn token_signatures_become_der_ecdsa_sig_values() {
        // r with its top bit set gains a 0x00; s with leading zeros loses them.
        let mut raw = vec![0x80; 32];
        raw.extend([0x00, 0x00, 0x01].iter().chain([0x02; 29].iter()));
        let der = ecdsa_der(&raw).unwrap();
        let (_, sig) = x509_parser::der_parser::parse_der(&der).unwrap();
        let items = sig.as_sequence().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_slice().unwrap()[0], 0x00);
        assert_eq!(items[0].as_slice().unwrap().len(), 33);
        assert_eq!(items[1].as_slice().unwrap().len(), 30);
        assert!(ecdsa_der(&[1, 2, 3]).is_err());
    }

    #[test]
    fn ec_points_are_read_bare_or_wrapped() {
        let mut point = vec![0x04];
        point.extend([7u8; 64]);
        let wrapped = der::asn1::OctetString::new(point.clone())
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(ec_point(&wrapped, KeyAlgorithm::P256).unwrap(), point);
        assert_eq!(ec_point(&point, KeyAlgorithm::P256).unwrap(), point);
        assert!(ec_point(&wrapped, KeyAlgorithm::P384).is_err());
    }
}
