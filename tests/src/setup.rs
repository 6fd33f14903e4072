//! What the end-to-end tests of the server share: a server with two
//! manufacturers registered, HTTPS clients with their credentials, robot
//! CSRs, credentials the CA never issued, reading the registry file.

// Test support: a panic with the cause is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use robotid_cli::client::tls_config;
use robotid_verifier::robot_id::RobotId;

use crate::process::{Run, repo_root, robotid, run_in, tempdir};
use crate::server::Server;
use crate::softhsm::{SoftHsm, token_keys};

/// An HTTPS client trusting the CA, with the credentials in `creds` (or none).
///
/// The TLS setup is the CLI's own ([`robotid_cli::client::tls_config`]);
/// the anchor is the server's root, whatever the folder's ca.pem says.
pub fn https(server: &Server, creds: Option<&Path>) -> reqwest::blocking::Client {
    let tls = tls_config(&server.data_dir.join("ca/root-ca.pem"), creds).unwrap();
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

/// A server with manufacturer UBX (model WK5, the example rules) and ACME
/// (model X1) registered; credentials in `<dir>/ubx` and `<dir>/acme`.
pub struct Setup {
    /// The working folder: manufacturers' credentials, keys, CSRs.
    pub dir: tempfile::TempDir,
    /// The server, its data folder below `dir`.
    pub server: Server,
    /// The label of the token holding the CA's keys, when they are on a
    /// token ([`crate::softhsm::token_keys`], [`Setup::on_token`]).
    pub token: Option<String>,
    /// The SoftHSM store of that token.
    pub hsm: Option<SoftHsm>,
    database_url: Option<String>,
    flags: Vec<String>,
}

impl Setup {
    /// Starts the server (SQLite, or the database at `database_url`) and
    /// registers UBX and ACME with the `robotid` binary.
    pub fn new(database_url: Option<&str>) -> Setup {
        Self::with_flags(database_url, &[])
    }

    /// As [`Setup::new`], with more flags for `robotid-ca`. In the token
    /// pass ([`token_keys`]) the CA's keys are on a token of the run's
    /// SoftHSM store.
    pub fn with_flags(database_url: Option<&str>, flags: &[&str]) -> Setup {
        Self::start(database_url, flags, token_keys().then(SoftHsm::shared))
    }

    /// A server (SQLite) whose CA's keys are on a fresh token of `hsm`.
    pub fn on_token(hsm: SoftHsm, flags: &[&str]) -> Setup {
        Self::start(None, flags, Some(hsm))
    }

    fn start(database_url: Option<&str>, flags: &[&str], hsm: Option<SoftHsm>) -> Setup {
        // reqwest's plain-HTTP client needs a process-wide rustls provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempdir();
        let data = dir.path().join("data");
        // With a token: the CA made on it by `robotid ca init
        // --root-key-uri --issuing-key-uri` before the first start, as an
        // operator would (the server then signs through the token; there
        // is no key file).
        let token = hsm.as_ref().map(|hsm| {
            std::fs::create_dir_all(&data).unwrap();
            let public = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap();
            hsm.ca_init(
                dir.path(),
                &data.join("ca"),
                &["--public-url", &format!("http://{public}")],
            )
        });
        let env = hsm.as_ref().map(SoftHsm::env).unwrap_or_default();
        let server = Server::start_with_env(&data, database_url, flags, &env);
        let s = Setup {
            dir,
            server,
            token,
            hsm,
            database_url: database_url.map(str::to_owned),
            flags: flags.iter().map(|f| (*f).to_owned()).collect(),
        };
        let rules = repo_root()
            .join("policies/models/example-wk5.toml")
            .display()
            .to_string();
        for (code, name, model) in [
            ("UBX", "Example Robotics Ltd", "WK5"),
            ("ACME", "Acme Humanoids", "X1"),
        ] {
            let out = code.to_lowercase();
            s.robotid(
                &[
                    "admin",
                    "manufacturer",
                    "add",
                    "--code",
                    code,
                    "--name",
                    name,
                    "--country",
                    "CN",
                    "--out-dir",
                    &out,
                ],
                "operator",
            )
            .expect_code(0);
            s.robotid(
                &[
                    "admin",
                    "model",
                    "add",
                    "--manufacturer",
                    code,
                    "--model",
                    model,
                    "--rules",
                    &rules,
                ],
                "operator",
            )
            .expect_code(0);
        }
        s
    }

    /// Stops the server and starts it again on the same data folder,
    /// registry, flags and token store.
    pub fn restart(&mut self) {
        self.server.kill();
        let data = self.server.data_dir.clone();
        let env = self.hsm.as_ref().map(SoftHsm::env).unwrap_or_default();
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        self.server = Server::start_with_env(&data, self.database_url.as_deref(), &flags, &env);
    }

    /// The working folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The credentials folder of `who`: `operator`, `ubx` or `acme`.
    pub fn creds(&self, who: &str) -> PathBuf {
        if who == "operator" {
            self.server.operator()
        } else {
            self.path().join(who)
        }
    }

    /// Runs `robotid ARGS --server API --credentials <who>`.
    pub fn robotid(&self, args: &[&str], who: &str) -> Run {
        let creds = self.creds(who).display().to_string();
        let mut full: Vec<&str> = args.to_vec();
        full.extend_from_slice(&["--server", &self.server.api, "--credentials", &creds]);
        robotid(self.path(), &full)
    }

    /// A key and CSR for robot `serial` of (code, model), as the example
    /// manifest with that ID; returns the CSR's path.
    pub fn csr(&self, code: &str, model: &str, serial: &str, key_name: &str) -> PathBuf {
        self.csr_with(code, model, serial, key_name, |m| m)
    }

    /// `n` PEM CSRs for robots `<prefix>000001`... of (code, model), made
    /// in process from the example manifest (each robot's component
    /// serials its own) with one key: a production line's batch, thousands
    /// in a second, for tests that need a batch still in flight.
    pub fn batch_csrs(&self, code: &str, model: &str, prefix: &str, n: usize) -> Vec<String> {
        let id = |i: usize| {
            robotid_verifier::robot_id::RobotId::new(code, model, &format!("{prefix}{i:06}"))
                .expect("robot ID")
        };
        let first = self.csr(
            code,
            model,
            &format!("{prefix}000000"),
            &format!("{prefix}.key"),
        );
        let manifest = robotid_verifier::manifest::Manifest::load(
            &first
                .parent()
                .expect("CSR folder")
                .join(format!("{}.toml", id(0))),
        )
        .expect("the example manifest");
        let key = rcgen::KeyPair::generate().expect("key");
        (1..=n)
            .map(|i| {
                let mut identity = manifest.to_identity();
                identity.robot_id = id(i).as_str().into();
                for c in &mut identity.components {
                    c.serial = format!("{}-{i}", c.serial);
                }
                let der = robotid_issuer::csr::create(&identity, &key).expect("CSR");
                robotid_issuer::pem::encode("CERTIFICATE REQUEST", &der)
            })
            .collect()
    }

    /// As `csr`, with the manifest text passed through `edit`.
    pub fn csr_with(
        &self,
        code: &str,
        model: &str,
        serial: &str,
        key_name: &str,
        edit: impl Fn(String) -> String,
    ) -> PathBuf {
        let id = RobotId::new(code, model, serial).unwrap();
        let example =
            edit(std::fs::read_to_string(repo_root().join("examples/wk5/manifest.toml")).unwrap());
        let manifest = example
            .replace("UBX-WK5-00001234-I", id.as_str())
            .replace("model = \"WK5\"", &format!("model = \"{model}\""));
        // A manifest reaches only files inside its folder: the example's
        // firmware is copied beside it.
        copy_example_firmware(self.path());
        let m = self.path().join(format!("{id}.toml"));
        std::fs::write(&m, manifest).unwrap();
        let key = self.path().join(key_name);
        if !key.exists() {
            robotid(
                self.path(),
                &["key", "new", "--out", &key.display().to_string()],
            )
            .expect_code(0);
        }
        let csr = self.path().join(format!("{id}-{key_name}.csr"));
        robotid(
            self.path(),
            &[
                "csr",
                "new",
                "--manifest",
                &m.display().to_string(),
                "--key",
                &key.display().to_string(),
                "--out",
                &csr.display().to_string(),
                "--force",
            ],
        )
        .expect_code(0);
        csr
    }
}

/// Copies the example's `firmware/` folder into `dir`, once.
pub fn copy_example_firmware(dir: &Path) {
    let to = dir.join("firmware");
    if to.exists() {
        return;
    }
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(repo_root().join("examples/wk5/firmware")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The serial (hex) of the first certificate in the PEM file `pem_path`.
pub fn serial_of(pem_path: &Path) -> String {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_file(pem_path).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    hex::encode(cert.raw_serial())
}

/// Status and body of a problem+json answer.
pub fn problem(response: reqwest::blocking::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let ctype = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    assert_eq!(ctype, "application/problem+json", "status {status}");
    (status, response.json().unwrap())
}

/// A client credential signed by the CA's issuing key, valid for `days`
/// (negative: expired a minute ago, after half an hour of life), written as
/// client.pem/client.key/ca.pem.
pub fn make_credential(data_dir: &Path, out: &Path, days: i64) {
    use rcgen::{Issuer, KeyPair};
    let ca = data_dir.join("ca");
    let issuing_pem = std::fs::read_to_string(ca.join("issuing-ca.pem")).unwrap();
    let uri = ca.join("issuing-ca.uri");
    if uri.exists() {
        // The CA's key is on a token: the fixture signs through it.
        use robotid_issuer::key::AsRcgen;
        use robotid_issuer::pkcs11::{KeyUri, Pkcs11Key};
        let _module = crate::softhsm::in_process();
        let uri: KeyUri = std::fs::read_to_string(uri)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let token_key =
            Pkcs11Key::open(uri, robotid_verifier::profile::KeyAlgorithm::P256, 1).unwrap();
        let issuer = Issuer::from_ca_cert_pem(&issuing_pem, AsRcgen(&token_key)).unwrap();
        forge_credential(&issuer, &ca, out, days);
    } else {
        let issuing_key =
            KeyPair::from_pem(&std::fs::read_to_string(ca.join("issuing-ca.key")).unwrap())
                .unwrap();
        let issuer = Issuer::from_ca_cert_pem(&issuing_pem, issuing_key).unwrap();
        forge_credential(&issuer, &ca, out, days);
    }
}

fn forge_credential<S: rcgen::SigningKey>(
    issuer: &rcgen::Issuer<'_, S>,
    ca: &Path,
    out: &Path,
    days: i64,
) {
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "UBX");
    let now = time::OffsetDateTime::now_utc();
    if days < 0 {
        params.not_before = now - time::Duration::minutes(30);
        params.not_after = now - time::Duration::minutes(1);
    } else {
        params.not_before = now - time::Duration::minutes(30);
        params.not_after = now + time::Duration::days(days);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer).unwrap();
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(
        out.join("client.pem"),
        cert.pem() + &std::fs::read_to_string(ca.join("issuing-ca.pem")).unwrap(),
    )
    .unwrap();
    std::fs::write(out.join("client.key"), key.serialize_pem()).unwrap();
    std::fs::copy(ca.join("root-ca.pem"), out.join("ca.pem")).unwrap();
}

/// Rows of `query` on the SQLite registry in `data_dir`, one per line,
/// columns joined by `|`, read with Python's sqlite3 (an independent reader
/// of the file), read-only.
pub fn sqlite_rows(dir: &Path, data_dir: &Path, query: &str) -> String {
    let db = data_dir.join("registry.sqlite").display().to_string();
    let script = "import sqlite3,sys\n\
        c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro',uri=True)\n\
        for r in c.execute(sys.argv[2]): print('|'.join(str(x) for x in r))\n";
    run_in(dir, "python3", &["-c", script, &db, query])
        .expect_code(0)
        .stdout
}
