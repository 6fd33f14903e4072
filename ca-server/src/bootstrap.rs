//! First start and every start: the data folder, the development CA (made
//! by the same ceremony as `robotid ca init` when there is none), the
//! server's TLS certificate and the operator's credentials. Certificates
//! issued here are recorded in the registry before the issuing key signs
//! them; those found from an earlier start are recorded if missing.

use std::path::{Path, PathBuf};

use rcgen::PublicKeyData;
use robotid_issuer::ceremony::{self, CaConfig, files};
use robotid_issuer::credentials::CredentialKind;
use robotid_issuer::keys::{self, KeyAlgorithm};
use robotid_issuer::pem;
use robotid_issuer::signer::{CertificateKind, Signer, SignerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;

use crate::ca::CaCertificates;
use crate::config::Config;
use crate::store::{CaCertificate, Store};

/// Start-up failures, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BootError(pub String);

fn boot<E: std::fmt::Display>(context: impl std::fmt::Display) -> impl FnOnce(E) -> BootError {
    move |e| BootError(format!("{context}: {e}"))
}

/// Credential folder file names (as `robotid --credentials DIR` reads them).
pub mod credential_files {
    /// Client certificate followed by its chain (PEM).
    pub const CERT: &str = "client.pem";
    /// Client key (PKCS#8 PEM, 0600).
    pub const KEY: &str = "client.key";
    /// The trust anchor (PEM), to check the server.
    pub const CA: &str = "ca.pem";
}

/// What start-up made ready.
pub struct Ready {
    /// The signer.
    pub signer: Signer,
    /// The CA's certificates.
    pub certs: CaCertificates,
    /// The server's TLS chain.
    pub tls_chain: Vec<CertificateDer<'static>>,
    /// The server's TLS key.
    pub tls_key: PrivateKeyDer<'static>,
    /// The operator's credential folder.
    pub operator_dir: PathBuf,
    /// The operator credential's serial (hex), to register.
    pub operator_serial: String,
    /// The operator credential's notAfter.
    pub operator_not_after: i64,
    /// The CA folder.
    pub ca_dir: PathBuf,
    /// Where the issuing key is: "file" or its PKCS#11 URI (no PIN).
    pub issuing_key: String,
    /// The root CA's key file, when it is on this machine (the development
    /// CA's): a warning in the banner and the log.
    pub root_key_here: Option<PathBuf>,
    /// Whether this start made the development CA.
    pub created_development_ca: bool,
}

/// What the banner and the log say when the root CA's key is on this
/// machine: that anyone who can read the data folder can mint a CA, and
/// how to make a CA whose root key stays offline instead.
pub fn root_key_warning(root_key: &Path) -> Vec<String> {
    vec![
        format!(
            "WARNING: the root CA key is on this machine ({}): this is a development CA.",
            root_key.display()
        ),
        "  For production, run the offline ceremony instead (docs/operations.md):".into(),
        "    robotid ca init --dir CA --name NAME --public-url URL \\".into(),
        "      --root-key-uri 'pkcs11:token=...;object=root-ca?module-path=...&pin-source=file:...' \\".into(),
        "      --issuing-key-uri 'pkcs11:token=...;object=issuing-ca?module-path=...&pin-source=file:...'".into(),
        "  on an offline machine, keep the root's token offline, and copy the CA folder to".into(),
        "  DATA_DIR/ca before the server's first start.".into(),
    ]
}

fn create_private_dir(dir: &Path) -> Result<(), BootError> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(boot(dir.display()))
}

/// Creates the data folder (private) if missing, so the registry can be
/// opened in it before [`prepare`].
pub fn create_data_dir(config: &Config) -> Result<(), BootError> {
    create_private_dir(&config.data_dir)
}

/// Prepares the data folder, recording what it issues in `store`.
pub async fn prepare(config: &Config, store: &Store) -> Result<Ready, BootError> {
    create_private_dir(&config.data_dir)?;
    let ca_dir = config.data_dir.join("ca");
    let created_development_ca = !ca_dir.join(files::CONFIG).exists();
    if created_development_ca {
        let ca = CaConfig {
            name: "RobotID Development".into(),
            public_url: config.public_url(),
        };
        ceremony::init(&ca_dir, &ca).map_err(boot("creating the development CA"))?;
        tracing::info!(dir = %ca_dir.display(), "development CA created");
    }
    let ca = ceremony::load_with(
        &ca_dir,
        ceremony::TokenOptions {
            sessions: usize::from(config.pkcs11_sessions),
        },
    )
    .map_err(boot("loading the CA"))?;
    let issuing_key = ca.issuing_key_location();
    let root_key = ca_dir.join(files::ROOT_KEY);
    let root_key_here = root_key.exists().then_some(root_key);
    let certs = CaCertificates {
        name: ca.config.name.clone(),
        chain_pem: pem::encode("CERTIFICATE", &ca.issuing_der),
        root_pem: pem::encode("CERTIFICATE", &ca.root_der),
        root_der: ca.root_der.clone(),
        issuing_der: ca.issuing_der.clone(),
    };
    let public_url = ca.config.public_url.clone();
    let signer = ca
        .into_signer(SignerConfig::new(public_url))
        .map_err(boot("issuing CA"))?;

    let tls_dir = config.data_dir.join("tls");
    let hosts = vec!["localhost".to_owned(), config.listen.ip().to_string()];
    let (tls_chain, tls_key) = tls_identity(&tls_dir, &signer, store, &certs, hosts).await?;
    let operator_dir = config.data_dir.join("operator");
    let (operator_serial, operator_not_after) =
        operator_credential(&operator_dir, &signer, store, &certs).await?;
    Ok(Ready {
        signer,
        certs,
        tls_chain,
        tls_key,
        operator_dir,
        operator_serial,
        operator_not_after,
        ca_dir,
        issuing_key,
        root_key_here,
        created_development_ca,
    })
}

/// Issues a credential for a fresh key (recorded in `store` before it is
/// signed) and writes key, certificate + chain and (optionally) the trust
/// anchor into `dir`.
#[allow(clippy::too_many_arguments, reason = "one call site per credential")]
async fn write_credential(
    dir: &Path,
    signer: &Signer,
    store: &Store,
    certs: &CaCertificates,
    kind: &CredentialKind,
    cert_name: &str,
    key_name: &str,
    with_anchor: bool,
) -> Result<(), BootError> {
    create_private_dir(dir)?;
    let key = keys::generate(KeyAlgorithm::P256).map_err(boot("credential key"))?;
    let prepared = signer
        .prepare_credential(
            kind,
            &certs.name,
            &key.subject_public_key_info(),
            OffsetDateTime::now_utc(),
        )
        .map_err(boot("preparing a credential"))?;
    let record = CaCertificate::of(&prepared);
    store
        .record_ca_certificate(&record)
        .await
        .map_err(boot("recording a credential"))?;
    let issued = signer
        .issue(prepared)
        .map_err(boot("issuing a credential"))?;
    store
        .complete_ca_certificate(&record.serial_hex, &issued.der)
        .await
        .map_err(boot("recording a credential"))?;
    keys::write_key(&dir.join(key_name), &key).map_err(boot("writing a credential key"))?;
    let chain = format!(
        "{}{}",
        pem::encode("CERTIFICATE", &issued.der),
        certs.chain_pem
    );
    std::fs::write(dir.join(cert_name), chain).map_err(boot(dir.join(cert_name).display()))?;
    if with_anchor {
        std::fs::write(dir.join(credential_files::CA), &certs.root_pem)
            .map_err(boot(dir.join(credential_files::CA).display()))?;
    }
    Ok(())
}

async fn tls_identity(
    dir: &Path,
    signer: &Signer,
    store: &Store,
    certs: &CaCertificates,
    hosts: Vec<String>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), BootError> {
    let (cert_path, key_path) = (dir.join("server.pem"), dir.join("server.key"));
    if !cert_path.exists() {
        let kind = CredentialKind::Server { hosts };
        write_credential(
            dir,
            signer,
            store,
            certs,
            &kind,
            "server.pem",
            "server.key",
            false,
        )
        .await?;
    }
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .map_err(boot(cert_path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(boot(cert_path.display()))?;
    if let Some(leaf) = chain.first() {
        crate::delegated::adopt(store, leaf, CertificateKind::TlsServer)
            .await
            .map_err(boot(format!("recording {}", cert_path.display())))?;
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(boot(key_path.display()))?;
    Ok((chain, key))
}

async fn operator_credential(
    dir: &Path,
    signer: &Signer,
    store: &Store,
    certs: &CaCertificates,
) -> Result<(String, i64), BootError> {
    let cert_path = dir.join(credential_files::CERT);
    if !cert_path.exists() {
        let kind = CredentialKind::Operator {
            name: "operator".into(),
        };
        write_credential(
            dir,
            signer,
            store,
            certs,
            &kind,
            credential_files::CERT,
            credential_files::KEY,
            true,
        )
        .await?;
    }
    let der = CertificateDer::from_pem_file(&cert_path).map_err(boot(cert_path.display()))?;
    crate::delegated::adopt(store, &der, CertificateKind::Operator)
        .await
        .map_err(boot(format!("recording {}", cert_path.display())))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(boot(cert_path.display()))?;
    Ok((
        hex::encode(cert.raw_serial()),
        cert.validity().not_after.timestamp(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::*;

    /// The TLS certificate and the operator's credential made at first
    /// start are in the registry with their DER, under their kinds, and a
    /// second start finds them there and issues nothing new.
    #[tokio::test]
    async fn what_start_up_issues_is_recorded_in_the_registry() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config = Config::parse_from([
            "robotid-ca",
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            &format!("sqlite:{}", dir.path().join("registry.db").display()),
        ]);
        create_data_dir(&config).unwrap();
        let store = Store::connect(&config.database_url()).await.unwrap();
        let ready = prepare(&config, &store).await.unwrap();
        let tls = x509_parser::parse_x509_certificate(&ready.tls_chain[0])
            .unwrap()
            .1;
        let tls_serial = hex::encode(tls.raw_serial());
        let recorded = store.ca_certificate(&tls_serial).await.unwrap().unwrap();
        assert_eq!(recorded.kind, "tls_server");
        assert_eq!(recorded.der.as_deref(), Some(ready.tls_chain[0].as_ref()));
        let operator = store
            .ca_certificate(&ready.operator_serial)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(operator.kind, "operator");
        assert_eq!(operator.not_after, ready.operator_not_after);
        assert!(operator.der.is_some());

        let again = prepare(&config, &store).await.unwrap();
        assert_eq!(again.operator_serial, ready.operator_serial);
        assert_eq!(again.tls_chain[0], ready.tls_chain[0]);
    }
}
