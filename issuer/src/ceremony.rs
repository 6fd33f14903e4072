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
use crate::key::SoftwareKey;
use crate::keys::{self, KeyError};
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
    /// The issuing CA key.
    pub const ISSUING_KEY: &str = "issuing-ca.key";
    /// The delegated OCSP signer's certificate (PEM).
    pub const OCSP_CERT: &str = "ocsp-signer.pem";
    /// The delegated OCSP signer's key.
    pub const OCSP_KEY: &str = "ocsp-signer.key";
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

/// Runs the ceremony into `dir`, which must not exist or be empty.
pub fn init(dir: &Path, config: &CaConfig) -> Result<CaPaths, CeremonyError> {
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
    let made = make_in(&staging, config).and_then(|()| {
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

fn make_in(dir: &Path, config: &CaConfig) -> Result<(), CeremonyError> {
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

    let root_key = keys::generate(KeyAlgorithm::P384)?;
    let mut root = ca_params(
        format!("{} Root CA", config.name),
        config,
        ROOT_VALIDITY,
        now,
    )?;
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root_cert = root.self_signed(&root_key)?;
    let root_issuer = Issuer::new(root, &root_key);

    let issuing_key = keys::generate(KeyAlgorithm::P256)?;
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
    let issuing_cert = issuing.signed_by(&issuing_key, &root_issuer)?;
    keys::write_key(&paths.file(files::ROOT_KEY), &root_key)?;
    keys::write_key(&paths.file(files::ISSUING_KEY), &issuing_key)?;

    // The first OCSP signer goes through the signer's own entry point, so
    // it is built from the same template and linted like its successors.
    let signer = Signer::new(
        issuing_cert.der().to_vec(),
        SoftwareKey::new(issuing_key).map_err(CeremonyError::Certificate)?,
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
    let toml = toml::to_string(config).map_err(|e| CeremonyError::Certificate(e.to_string()))?;
    write(&paths.file(files::CONFIG), toml.as_bytes())
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
    issuing_key: SoftwareKey,
}

impl LoadedCa {
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

/// Reads the certificates, the issuing key and the settings of the CA in `dir`.
pub fn load(dir: &Path) -> Result<LoadedCa, CeremonyError> {
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
    Ok(LoadedCa {
        config,
        root_der: cert(files::ROOT_CERT)?,
        issuing_der: cert(files::ISSUING_CERT)?,
        issuing_key: SoftwareKey::read(&paths.file(files::ISSUING_KEY))?,
    })
}
