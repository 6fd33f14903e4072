//! The CA ceremony: a root CA (kept offline), an issuing CA under it
//! (pathLen 0, carrying the key purposes of the certificates it issues,
//! because rustls-webpki checks EKU along the whole path) and a delegated
//! OCSP signer under the issuing CA.
//!
//! Everything is made in a fresh folder beside the target and renamed into
//! place at the end, so a failed ceremony leaves nothing behind and an
//! existing CA is never overwritten.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, PublicKeyData, SerialNumber,
};
use robotid_verifier::oid;
use robotid_verifier::profile::KeyAlgorithm;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::delegated::Purpose;
use crate::extensions::ExtensionError;
use crate::key::{AsRcgen, CaKey, IssuingKey, SoftwareKey};
use crate::keys::{self, KeyError};
use crate::pkcs11::{KeyUri, Pkcs11Key};
use crate::signer::{IssueError, Signer, SignerConfig};
use crate::template::random_serial;

/// File names inside a CA folder.
pub mod files {
    /// The root CA certificate: the trust anchor (PEM).
    pub const ROOT_CERT: &str = "root-ca.pem";
    /// The root CA key. Move it offline after the ceremony.
    pub const ROOT_KEY: &str = "root-ca.key";
    /// The issuing CA certificate (PEM).
    pub const ISSUING_CERT: &str = "issuing-ca.pem";
    /// The issuing CA key, when it is a file.
    pub const ISSUING_KEY: &str = "issuing-ca.key";
    /// The issuing CA key's PKCS#11 URI, when it is on a token (instead of
    /// [`ISSUING_KEY`]). It names the PIN's file, never the PIN.
    pub const ISSUING_KEY_URI: &str = "issuing-ca.uri";
    /// The delegated OCSP signer's certificate (PEM).
    pub const OCSP_CERT: &str = "ocsp-signer.pem";
    /// The delegated OCSP signer's key.
    pub const OCSP_KEY: &str = "ocsp-signer.key";
    /// The ARL: the root's CRL of the issuing CAs it certified (DER),
    /// signed in the ceremony and by `robotid ca revoke-issuing`, published
    /// by the server at [`super::ARL_PATH`].
    pub const ARL: &str = "root-ca.crl";
    /// Issuing CA then root, for clients that want the whole chain (PEM).
    pub const CHAIN: &str = "ca-chain.pem";
    /// The CA's settings.
    pub const CONFIG: &str = "ca.toml";
}

/// Ceremony failures. Nothing is left in the target folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CeremonyError {
    /// The target already holds something.
    #[error("{0}: already exists and is not empty; refusing to overwrite a CA")]
    Exists(String),
    /// A setting is unusable.
    #[error("{field}: {rule}")]
    Setting {
        /// `--name` or `--public-url`.
        field: &'static str,
        /// The rule broken.
        rule: String,
    },
    /// A key could not be made or written.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A certificate could not be made or read.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A key on a PKCS#11 token could not be made or used.
    #[error("token: {0}")]
    Token(String),
    /// The CA's issuing key URI file is unusable.
    #[error("{path}: {source}")]
    KeyUri {
        /// issuing-ca.uri.
        path: String,
        /// Why.
        source: crate::pkcs11::UriError,
    },
}

impl From<ExtensionError> for CeremonyError {
    fn from(e: ExtensionError) -> Self {
        Self::Certificate(e.to_string())
    }
}

impl From<rcgen::Error> for CeremonyError {
    fn from(e: rcgen::Error) -> Self {
        Self::Certificate(e.to_string())
    }
}

/// The CA's settings, kept in `ca.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    /// The CA's name, in its certificates' subjects.
    pub name: String,
    /// Base URL of the public endpoints (OCSP, CRLs, CA certificates).
    pub public_url: String,
}

/// Where the server publishes the ARL, under the public URL; the issuing
/// CA's CRL distribution point names it.
pub const ARL_PATH: &str = "/crl/root.crl";
/// How long an ARL is valid: it is signed offline, with the root key, so it
/// is long-lived; the ceremony is run again (`robotid ca revoke-issuing`)
/// well before it ends, or at once when an issuing CA must be revoked.
pub const ARL_VALIDITY: Duration = Duration::days(365);

/// Validity of each certificate the ceremony makes.
pub const ROOT_VALIDITY: Duration = Duration::days(25 * 365);
/// The issuing CA outlives every robot certificate it signs (ten years).
pub const ISSUING_VALIDITY: Duration = Duration::days(15 * 365);
/// Delegated OCSP signers are short-lived and rotated by the server.
pub const OCSP_SIGNER_VALIDITY: Duration = crate::delegated::VALIDITY;

impl CaConfig {
    /// Checks the settings.
    pub fn check(&self) -> Result<(), CeremonyError> {
        let name = self.name.trim();
        if let Err(e) = robotid_verifier::text::check(name) {
            return Err(CeremonyError::Setting {
                field: "--name",
                rule: e.to_string(),
            });
        }
        if name.is_empty() || name.chars().count() > 64 {
            return Err(CeremonyError::Setting {
                field: "--name",
                rule: format!("{:?} must be 1..=64 printable characters", self.name),
            });
        }
        let url = &self.public_url;
        let host = url.strip_prefix("http://").unwrap_or_default();
        if host.is_empty() || !url.is_ascii() || url.contains(['?', '#', ' ']) || url.ends_with('/')
        {
            return Err(CeremonyError::Setting {
                field: "--public-url",
                rule: format!(
                    "{url:?} must be an http:// URL without a trailing slash, query or fragment (OCSP and CRLs are served over plain HTTP, RFC 5019)"
                ),
            });
        }
        Ok(())
    }
}

/// Paths of a CA folder's files.
#[derive(Clone, Debug)]
pub struct CaPaths {
    /// The folder.
    pub dir: PathBuf,
}

impl CaPaths {
    /// The path of `name` (see [`files`]) in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn dn(common_name: String, organization: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, organization);
    dn.push(DnType::CommonName, common_name);
    dn
}

fn ca_params(
    common_name: String,
    config: &CaConfig,
    validity: Duration,
    now: OffsetDateTime,
) -> Result<CertificateParams, CeremonyError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(common_name, &config.name);
    params.serial_number = Some(SerialNumber::from_slice(
        &random_serial().map_err(|_| CeremonyError::Certificate("random source failed".into()))?,
    ));
    params.not_before = now;
    params.not_after = now + validity;
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

fn write(path: &Path, contents: &[u8]) -> Result<(), CeremonyError> {
    std::fs::write(path, contents).map_err(|source| CeremonyError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Where the ceremony makes the CA keys: files in the CA folder (`None`),
/// or on a PKCS#11 token, generated there and never leaving it.
#[derive(Clone, Debug, Default)]
pub struct KeyPlacement {
    /// The root CA key.
    pub root: Option<KeyUri>,
    /// The issuing CA key.
    pub issuing: Option<KeyUri>,
}

/// Runs the ceremony into `dir`, which must not exist or be empty, with
/// key files.
pub fn init(dir: &Path, config: &CaConfig) -> Result<CaPaths, CeremonyError> {
    init_with_keys(dir, config, &KeyPlacement::default())
}

/// Runs the ceremony into `dir`, making the keys where `placement` says.
/// A key on a token is written to no file, and the issuing key's URI goes
/// into ca.toml for the server.
pub fn init_with_keys(
    dir: &Path,
    config: &CaConfig,
    placement: &KeyPlacement,
) -> Result<CaPaths, CeremonyError> {
    config.check()?;
    let occupied = |d: &Path| {
        d.read_dir()
            .map(|mut r| r.next().is_some())
            .unwrap_or(d.exists())
    };
    if occupied(dir) {
        return Err(CeremonyError::Exists(dir.display().to_string()));
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staging = parent.join(format!(
        ".{}.ceremony-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let made = make_in(&staging, config, placement).and_then(|()| {
        std::fs::rename(&staging, dir).map_err(|source| CeremonyError::Io {
            path: dir.display().to_string(),
            source,
        })
    });
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    made.map(|()| CaPaths {
        dir: dir.to_path_buf(),
    })
}

fn create_private_dir(dir: &Path) -> Result<(), CeremonyError> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| CeremonyError::Io {
        path: dir.display().to_string(),
        source,
    })
}

/// A fresh CA key: a software key, or one generated on the token.
fn new_key(uri: Option<&KeyUri>, alg: KeyAlgorithm) -> Result<IssuingKey, CeremonyError> {
    match uri {
        None => Ok(IssuingKey::Software(
            SoftwareKey::new(keys::generate(alg)?).map_err(CeremonyError::Certificate)?,
        )),
        Some(uri) => Pkcs11Key::generate(uri.clone(), alg)
            .map(IssuingKey::Token)
            .map_err(|e| CeremonyError::Token(e.to_string())),
    }
}

/// Writes a software key to its file; a token key stays on the token.
fn write_if_file(path: &Path, key: &IssuingKey) -> Result<(), CeremonyError> {
    match key {
        IssuingKey::Software(k) => Ok(keys::write_key(path, k.key_pair())?),
        IssuingKey::Token(_) => Ok(()),
    }
}

/// The token's own error when a key on it fails to sign (rcgen's error
/// cannot carry it).
fn check_signs(key: &IssuingKey) -> Result<(), CeremonyError> {
    key.sign(b"RobotID ceremony: the key signs")
        .map(drop)
        .map_err(|e| CeremonyError::Token(e.to_string()))
}

fn make_in(dir: &Path, config: &CaConfig, placement: &KeyPlacement) -> Result<(), CeremonyError> {
    create_private_dir(dir)?;
    let paths = CaPaths {
        dir: dir.to_path_buf(),
    };
    // Set back an hour so that relying parties with slow clocks, and robot
    // certificates backdated by the signer, still fall within the CA's life.
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
        - Duration::hours(1);

    let root_key = new_key(placement.root.as_ref(), KeyAlgorithm::P384)?;
    check_signs(&root_key)?;
    let mut root = ca_params(
        format!("{} Root CA", config.name),
        config,
        ROOT_VALIDITY,
        now,
    )?;
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root_cert = root.self_signed(&AsRcgen(&root_key))?;
    let root_issuer = Issuer::new(root, AsRcgen(&root_key));

    let issuing_key = new_key(placement.issuing.as_ref(), KeyAlgorithm::P256)?;
    check_signs(&issuing_key)?;
    let mut issuing = ca_params(
        format!("{} Issuing CA 1", config.name),
        config,
        ISSUING_VALIDITY,
        now,
    )?;
    issuing.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    issuing.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::Other(oid::arcs_u64(&oid::ID_KP_ROBOT_IDENTITY)),
        ExtendedKeyUsagePurpose::Other(oid::arcs_u64(&oid::ID_KP_MANUFACTURER_ENROLLMENT)),
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::OcspSigning,
        // The server's lifecycle signer (docs/lifecycle.md): path
        // validation demands each purpose of the chain's CAs as well.
        ExtendedKeyUsagePurpose::Other(oid::arcs_u64(&oid::ID_KP_LIFECYCLE_SIGNING)),
    ];
    issuing.use_authority_key_identifier_extension = true;
    // The market-entry policy, so a relying party can require it in path
    // validation (`openssl verify -policy ... -explicit_policy`): a policy
    // in a leaf counts only if every CA above it, but the trust anchor,
    // asserts it too (RFC 5280 6.1.3 (d)).
    issuing.custom_extensions = vec![
        crate::extensions::certificate_policies(&[oid::ID_CP_MARKET_ENTRY_V1])
            .map_err(|e| CeremonyError::Certificate(e.to_string()))?,
    ];
    // The ARL, so that relying parties that check every link
    // (`openssl verify -crl_check_all`, webpki at chain depth) can.
    issuing.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
        uris: vec![format!("{}{ARL_PATH}", config.public_url)],
    }];
    let issuing_cert = issuing.signed_by(&AsRcgen(&issuing_key), &root_issuer)?;
    let arl = sign_arl(&root_issuer, 1, Vec::new(), now)?;
    write_if_file(&paths.file(files::ROOT_KEY), &root_key)?;
    write_if_file(&paths.file(files::ISSUING_KEY), &issuing_key)?;
    if let IssuingKey::Token(k) = &issuing_key {
        write(
            &paths.file(files::ISSUING_KEY_URI),
            format!("{}\n", k.uri()).as_bytes(),
        )?;
    }

    // The first OCSP signer goes through the signer's own entry point, so
    // it is built from the same template and linted like its successors.
    let signer = Signer::new(
        issuing_cert.der().to_vec(),
        issuing_key,
        vec![root_cert.der().to_vec()],
        SignerConfig::new(config.public_url.clone()),
    )
    .map_err(|e| CeremonyError::Certificate(e.to_string()))?;
    let ocsp_key = keys::generate(KeyAlgorithm::P256)?;
    let prepared = signer
        .prepare_delegated(
            Purpose::Ocsp,
            &config.name,
            &ocsp_key.subject_public_key_info(),
            now + Duration::hours(1),
        )
        .map_err(|e| CeremonyError::Certificate(e.to_string()))?;
    let ocsp_der = signer
        .issue(prepared)
        .map_err(|e| CeremonyError::Certificate(e.to_string()))?
        .der;

    keys::write_key(&paths.file(files::OCSP_KEY), &ocsp_key)?;
    write(&paths.file(files::ROOT_CERT), root_cert.pem().as_bytes())?;
    write(
        &paths.file(files::ISSUING_CERT),
        issuing_cert.pem().as_bytes(),
    )?;
    write(
        &paths.file(files::OCSP_CERT),
        crate::pem::encode("CERTIFICATE", &ocsp_der).as_bytes(),
    )?;
    write(
        &paths.file(files::CHAIN),
        format!("{}{}", issuing_cert.pem(), root_cert.pem()).as_bytes(),
    )?;
    write(&paths.file(files::ARL), &arl)?;
    let toml = toml::to_string(config).map_err(|e| CeremonyError::Certificate(e.to_string()))?;
    write(&paths.file(files::CONFIG), toml.as_bytes())
}

/// The ARL number `number` listing `revoked`, signed by the root.
fn sign_arl<S: rcgen::SigningKey>(
    root: &Issuer<'_, S>,
    number: u64,
    revoked: Vec<rcgen::RevokedCertParams>,
    now: OffsetDateTime,
) -> Result<Vec<u8>, CeremonyError> {
    let params = rcgen::CertificateRevocationListParams {
        this_update: now,
        next_update: now + ARL_VALIDITY,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        // No issuing distribution point: a full CRL of everything the root
        // signed. OpenSSL's -crl_check_all looks up a CRL for the root
        // too, and refuses an IDP naming a distribution point that the
        // root's certificate (which has no CDP) does not name.
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    Ok(params.signed_by(root)?.der().to_vec())
}

/// Why an issuing CA is revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuingRevocationReason {
    /// Its key is, or may be, compromised.
    KeyCompromise,
    /// It was replaced (rollover) and issues no more.
    Superseded,
    /// It stopped issuing.
    CessationOfOperation,
}

impl std::str::FromStr for IssuingRevocationReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "keyCompromise" => Ok(Self::KeyCompromise),
            "superseded" => Ok(Self::Superseded),
            "cessationOfOperation" => Ok(Self::CessationOfOperation),
            other => Err(format!(
                "{other:?} is not one of keyCompromise, superseded, cessationOfOperation"
            )),
        }
    }
}

/// What [`revoke_issuing`] did.
#[derive(Clone, Debug)]
pub struct RevokedIssuing {
    /// The new ARL's number.
    pub number: u64,
    /// The issuing CA's serial, hex.
    pub serial_hex: String,
    /// The ARL file written.
    pub arl: PathBuf,
}

/// The offline step that revokes the issuing CA of the CA folder `dir`:
/// the root key (its file in `dir`, or on a token named by `root_key`)
/// signs a new ARL listing the issuing CA, numbered one above the current
/// ARL, which keeps the entries it had. The file is replaced atomically;
/// copy it to the server's CA folder, which publishes it at [`ARL_PATH`].
pub fn revoke_issuing(
    dir: &Path,
    root_key: Option<&KeyUri>,
    reason: IssuingRevocationReason,
) -> Result<RevokedIssuing, CeremonyError> {
    let paths = CaPaths {
        dir: dir.to_path_buf(),
    };
    let read = |name: &str| {
        let path = paths.file(name);
        std::fs::read(&path).map_err(|source| CeremonyError::Io {
            path: path.display().to_string(),
            source,
        })
    };
    let pem_der = |name: &str| -> Result<Vec<u8>, CeremonyError> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(&read(name)?)
            .map(|c| c.as_ref().to_vec())
            .map_err(|e| CeremonyError::Certificate(format!("{}: {e}", paths.file(name).display())))
    };
    let root_der = pem_der(files::ROOT_CERT)?;
    let issuing_der = pem_der(files::ISSUING_CERT)?;
    let (_, issuing) = x509_parser::parse_x509_certificate(&issuing_der)
        .map_err(|e| CeremonyError::Certificate(format!("issuing CA certificate: {e}")))?;
    let serial = issuing.raw_serial().to_vec();
    let (number, mut revoked) = match read(files::ARL) {
        Ok(der) => current_arl(&der)?,
        Err(_) => (0, Vec::new()),
    };
    if !revoked
        .iter()
        .any(|r| r.serial_number.as_ref() == serial.as_slice())
    {
        revoked.push(rcgen::RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial),
            revocation_time: OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap_or_else(|_| OffsetDateTime::now_utc()),
            reason_code: Some(match reason {
                IssuingRevocationReason::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
                IssuingRevocationReason::Superseded => rcgen::RevocationReason::Superseded,
                IssuingRevocationReason::CessationOfOperation => {
                    rcgen::RevocationReason::CessationOfOperation
                }
            }),
            invalidity_date: None,
        });
    }
    let key = match root_key {
        None => IssuingKey::Software(SoftwareKey::read(&paths.file(files::ROOT_KEY))?),
        Some(uri) => IssuingKey::Token(
            Pkcs11Key::open(uri.clone(), KeyAlgorithm::P384, 1)
                .map_err(|e| CeremonyError::Token(e.to_string()))?,
        ),
    };
    check_signs(&key)?;
    let root = Issuer::from_ca_cert_der(
        &rustls_pki_types::CertificateDer::from(root_der),
        AsRcgen(&key),
    )?;
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    let number = number + 1;
    let arl = sign_arl(&root, number, revoked, now)?;
    let target = paths.file(files::ARL);
    let staged = paths.file(".root-ca.crl.new");
    write(&staged, &arl)?;
    std::fs::rename(&staged, &target).map_err(|source| CeremonyError::Io {
        path: target.display().to_string(),
        source,
    })?;
    Ok(RevokedIssuing {
        number,
        serial_hex: hex::encode(&serial),
        arl: target,
    })
}

/// The number and entries of an ARL.
fn current_arl(der: &[u8]) -> Result<(u64, Vec<rcgen::RevokedCertParams>), CeremonyError> {
    use x509_parser::prelude::{FromDer, ParsedExtension};
    let bad =
        |e: &dyn std::fmt::Display| CeremonyError::Certificate(format!("{}: {e}", files::ARL));
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(der)
        .map_err(|e| bad(&e))?;
    let number = crl
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::CRLNumber(n) => u64::try_from(n.clone()).ok(),
            _ => None,
        })
        .ok_or_else(|| bad(&"no CRL number"))?;
    let revoked = crl
        .iter_revoked_certificates()
        .map(|r| {
            let reason = r.reason_code().map(|(_, code)| code.0);
            rcgen::RevokedCertParams {
                serial_number: SerialNumber::from_slice(r.raw_serial()),
                revocation_time: r.revocation_date.to_datetime(),
                reason_code: match reason {
                    Some(1) => Some(rcgen::RevocationReason::KeyCompromise),
                    Some(4) => Some(rcgen::RevocationReason::Superseded),
                    Some(5) => Some(rcgen::RevocationReason::CessationOfOperation),
                    _ => None,
                },
                invalidity_date: None,
            }
        })
        .collect();
    Ok((number, revoked))
}

/// A CA folder's contents, loaded. The issuing key stays inside: the only
/// thing to do with it is [`LoadedCa::into_signer`].
pub struct LoadedCa {
    /// Settings.
    pub config: CaConfig,
    /// Root certificate (DER): the trust anchor.
    pub root_der: Vec<u8>,
    /// Issuing CA certificate (DER).
    pub issuing_der: Vec<u8>,
    issuing_key: IssuingKey,
}

impl LoadedCa {
    /// Where the issuing key is: "file", or its PKCS#11 URI (no PIN).
    pub fn issuing_key_location(&self) -> String {
        self.issuing_key.location()
    }

    /// The signer of this CA's issuing key, its certificates checked
    /// against the folder's root; the key goes into the signer and nowhere
    /// else.
    pub fn into_signer(self, config: SignerConfig) -> Result<Signer, IssueError> {
        Signer::new(
            self.issuing_der,
            self.issuing_key,
            vec![self.root_der],
            config,
        )
    }
}

/// How a CA's key on a token is used once loaded.
#[derive(Clone, Copy, Debug)]
pub struct TokenOptions {
    /// PKCS#11 sessions signing at once.
    pub sessions: usize,
}

impl Default for TokenOptions {
    /// Four sessions: more than the two cores of the reference machine,
    /// so signing is never waiting for a session there.
    fn default() -> Self {
        Self { sessions: 4 }
    }
}

/// Reads the certificates, the issuing key and the settings of the CA in `dir`.
pub fn load(dir: &Path) -> Result<LoadedCa, CeremonyError> {
    load_with(dir, TokenOptions::default())
}

/// The algorithm and public key of a certificate's SubjectPublicKeyInfo.
fn certificate_key(der: &[u8]) -> Result<(KeyAlgorithm, Vec<u8>), CeremonyError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| CeremonyError::Certificate(format!("issuing CA certificate: {e}")))?;
    let key = cert.public_key().subject_public_key.data.to_vec();
    let alg = match key.len() {
        65 => KeyAlgorithm::P256,
        97 => KeyAlgorithm::P384,
        _ => {
            return Err(CeremonyError::Certificate(
                "issuing CA certificate: a key on a token is P-256 or P-384".into(),
            ));
        }
    };
    Ok((alg, key))
}

/// As [`load`], with the token's settings. A key on a token is not opened
/// here: the signer connects when it first signs, so a server whose token
/// is absent starts and answers "unavailable" until the token is back.
pub fn load_with(dir: &Path, token: TokenOptions) -> Result<LoadedCa, CeremonyError> {
    let paths = CaPaths {
        dir: dir.to_path_buf(),
    };
    let read = |name: &str| {
        let path = paths.file(name);
        std::fs::read(&path).map_err(|source| CeremonyError::Io {
            path: path.display().to_string(),
            source,
        })
    };
    let cert = |name: &str| -> Result<Vec<u8>, CeremonyError> {
        use rustls_pki_types::pem::PemObject;
        let pem = read(name)?;
        rustls_pki_types::CertificateDer::from_pem_slice(&pem)
            .map(|c| c.as_ref().to_vec())
            .map_err(|e| CeremonyError::Certificate(format!("{}: {e}", paths.file(name).display())))
    };
    let config_text = String::from_utf8_lossy(&read(files::CONFIG)?).into_owned();
    let config: CaConfig = toml::from_str(&config_text).map_err(|e| {
        CeremonyError::Certificate(format!("{}: {e}", paths.file(files::CONFIG).display()))
    })?;
    let issuing_der = cert(files::ISSUING_CERT)?;
    let uri_path = paths.file(files::ISSUING_KEY_URI);
    let issuing_key = match uri_path.exists() {
        false => IssuingKey::Software(SoftwareKey::read(&paths.file(files::ISSUING_KEY))?),
        true => {
            let text = String::from_utf8_lossy(&read(files::ISSUING_KEY_URI)?).into_owned();
            let uri: KeyUri = text
                .trim()
                .parse()
                .map_err(|source| CeremonyError::KeyUri {
                    path: uri_path.display().to_string(),
                    source,
                })?;
            let (alg, public_key) = certificate_key(&issuing_der)?;
            IssuingKey::Token(Pkcs11Key::expecting(uri, alg, public_key, token.sessions))
        }
    };
    Ok(LoadedCa {
        config,
        root_der: cert(files::ROOT_CERT)?,
        issuing_der,
        issuing_key,
    })
}
