//! Every command and flag, declared once; `--help` is generated from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use robotid_issuer::keys::AlgorithmName;

/// RobotID: identities for humanoid robots.
///
/// Exit codes: 0 success, 1 refused (or a failing verdict), 2 bad usage or
/// unreadable input, 3 the server could not be reached or talked to.
#[derive(Debug, Parser)]
#[command(
    name = "robotid",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 success, 1 refused (or a failing verdict), 2 bad usage or \
                  unreadable input, 3 the server could not be reached or talked to (the \
                  message names the cause)."
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Certificate authority ceremony (operator).
    #[command(subcommand)]
    Ca(CaCommand),
    /// Robot IDs.
    #[command(subcommand)]
    Id(IdCommand),
    /// Private keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Certificate signing requests.
    #[command(subcommand)]
    Csr(CsrCommand),
    /// Answer an inspector's challenge with the robot's key (run on the robot).
    Prove(Prove),
    /// Send CSRs to the CA server and write the certificates.
    Submit(Submit),
    /// Revoke a robot's certificate (RFC 5280 reason).
    Revoke(Revoke),
    /// Put a robot's certificate on hold (recall, investigation); operator only.
    Hold(HoldRelease),
    /// Lift the hold on a robot's certificate; operator only.
    Release(HoldRelease),
    /// Status of robots or certificates: good, revoked, on_hold, unknown.
    Status(Status),
    /// Operator commands against the CA server.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// A robot's lifecycle history: record events, show it, export it.
    #[command(subcommand)]
    History(HistoryCommand),
}

/// `robotid history ...`
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Record a lifecycle event (docs/lifecycle.md lists the types and details).
    Record(HistoryRecord),
    /// Show a robot's history as a timeline.
    Show(HistoryShow),
    /// Export a robot's history as a signed bundle for `robotid-verify history`.
    Export(HistoryExport),
}

/// `robotid history record`
#[derive(Debug, Args)]
pub struct HistoryRecord {
    /// The CA server and the credentials to reach it with.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The robot.
    pub robot_id: String,
    /// sold, deployed, maintenance, component_replaced, recall_hold,
    /// recall_release, decommissioned or recycled.
    #[arg(value_name = "TYPE")]
    pub kind: String,
    /// A detail, KEY=VALUE (e.g. new_owner=..., work=..., by=..., recall=...,
    /// site=..., reason=..., note=...); repeatable.
    #[arg(long = "detail", value_name = "KEY=VALUE")]
    pub details: Vec<String>,
    /// component_replaced: the robot's new CSR, with the new components.
    #[arg(long, requires = "out")]
    pub csr: Option<PathBuf>,
    /// component_replaced: where to write the re-issued certificate and chain.
    #[arg(long, requires = "csr")]
    pub out: Option<PathBuf>,
    /// recycled: KIND:SERIAL=DISPOSITION for each key component (reused,
    /// refurbished, recycled, destroyed, returned); repeatable.
    #[arg(long = "component", value_name = "KIND:SERIAL=DISPOSITION")]
    pub components: Vec<String>,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `robotid history show`
#[derive(Debug, Args)]
pub struct HistoryShow {
    /// The CA server and the credentials to reach it with.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The robot.
    pub robot_id: String,
    /// One JSON document instead of the timeline.
    #[arg(long)]
    pub json: bool,
}

/// `robotid history export`
#[derive(Debug, Args)]
pub struct HistoryExport {
    /// The CA server and the credentials to reach it with.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The robot.
    pub robot_id: String,
    /// The bundle file to write (JSON).
    #[arg(long)]
    pub out: PathBuf,
}

/// How to reach the CA server.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The CA server's API, e.g. https://127.0.0.1:8443.
    #[arg(long, env = "ROBOTID_SERVER")]
    pub server: String,
    /// Folder with client.pem, client.key and ca.pem (written by the
    /// server's first start or by `admin manufacturer add`).
    #[arg(long, env = "ROBOTID_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
}

impl ServerArgs {
    /// The credentials folder, required for every server call.
    pub fn credentials(&self) -> Result<PathBuf, crate::error::CliError> {
        self.credentials.clone().ok_or_else(|| {
            crate::error::CliError::Input(
                "--credentials DIR (or ROBOTID_CREDENTIALS) is required to talk to the CA server"
                    .into(),
            )
        })
    }
}

/// `robotid submit`
/// `robotid revoke`.
#[derive(Debug, Args)]
pub struct Revoke {
    /// The CA server and the credentials to reach it with.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The robot whose live certificate is revoked.
    #[arg(long, required_unless_present = "serial", conflicts_with = "serial")]
    pub robot: Option<String>,
    /// A certificate serial (hex), live or not.
    #[arg(long)]
    pub serial: Option<String>,
    /// keyCompromise, cessationOfOperation, superseded, affiliationChanged,
    /// privilegeWithdrawn (operator) or unspecified.
    #[arg(long)]
    pub reason: String,
}

/// `robotid hold` and `robotid release`.
#[derive(Debug, Args)]
pub struct HoldRelease {
    /// The CA server and the credentials to reach it with.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The robot whose live certificate is held or released.
    #[arg(long)]
    pub robot: String,
}

/// `robotid status`.
#[derive(Debug, Args)]
pub struct Status {
    /// The CA's public URL (http://..., no credentials needed) or its API
    /// (https://..., with --credentials).
    #[arg(long, env = "ROBOTID_SERVER")]
    pub server: String,
    /// Credentials for an https:// server.
    #[arg(long, env = "ROBOTID_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
    /// Robot IDs or certificate serials.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub ids: Vec<String>,
    /// A file of IDs, one per line (blank lines and # comments skipped).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// One JSON document with every answer.
    #[arg(long)]
    pub json: bool,
}

/// `robotid submit`
#[derive(Debug, Args)]
pub struct Submit {
    /// Server and credentials.
    #[command(flatten)]
    pub server: ServerArgs,
    /// One robot's CSR.
    #[arg(long, requires = "out", conflicts_with = "batch")]
    pub csr: Option<PathBuf>,
    /// Where to write its certificate and chain (PEM).
    #[arg(long, requires = "csr")]
    pub out: Option<PathBuf>,
    /// A folder of *.csr files (a production-line batch).
    #[arg(long, requires = "out_dir")]
    pub batch: Option<PathBuf>,
    /// Where to write <name>.pem for each <name>.csr.
    #[arg(long, requires = "batch")]
    pub out_dir: Option<PathBuf>,
    /// A declared re-issue: supersede the robot's live certificate.
    #[arg(long)]
    pub reissue: bool,
    /// CSRs per request in a batch (at most 10,000).
    #[arg(long, default_value_t = 10_000)]
    pub chunk: usize,
}

/// `robotid admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Manufacturers.
    #[command(subcommand)]
    Manufacturer(ManufacturerCommand),
    /// Model types.
    #[command(subcommand)]
    Model(ModelCommand),
}

/// `robotid admin manufacturer ...`
#[derive(Debug, Subcommand)]
pub enum ManufacturerCommand {
    /// Register a manufacturer and write its enrollment credentials.
    Add(ManufacturerAdd),
}

/// `robotid admin manufacturer add`
#[derive(Debug, Args)]
pub struct ManufacturerAdd {
    /// Server and the operator's credentials.
    /// The CA server and the credentials to reach it with.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Manufacturer code (2 to 8 of A-Z, 0-9), the first segment of its robot IDs.
    #[arg(long)]
    pub code: String,
    /// Legal name.
    #[arg(long)]
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    #[arg(long)]
    pub country: String,
    /// Folder to write the manufacturer's credentials to (must be new or empty).
    #[arg(long)]
    pub out_dir: PathBuf,
}

/// `robotid admin model ...`
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Register a model type with its approved rules.
    Add(ModelAdd),
}

/// `robotid admin model add`
#[derive(Debug, Args)]
pub struct ModelAdd {
    /// Server and the operator's credentials.
    /// The CA server and the credentials to reach it with.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Manufacturer code.
    #[arg(long)]
    pub manufacturer: String,
    /// Model code (1 to 16 of A-Z, 0-9).
    #[arg(long)]
    pub model: String,
    /// Model rules (TOML; see policies/README.md).
    #[arg(long)]
    pub rules: PathBuf,
}

/// `robotid ca ...`
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create a root CA, an issuing CA and an OCSP signer in a new folder.
    Init(CaInit),
    /// Offline, with the root key: sign a new ARL (the root's CRL) that
    /// revokes the folder's issuing CA. Copy the ARL to the server's CA
    /// folder; every robot under that issuing CA then fails verification.
    RevokeIssuing(CaRevokeIssuing),
}

/// `robotid ca revoke-issuing`
#[derive(Debug, Args)]
pub struct CaRevokeIssuing {
    /// The CA folder (from `robotid ca init`), with the root key
    /// (root-ca.key) unless --root-key-uri names it on a token.
    #[arg(long)]
    pub dir: PathBuf,
    /// The root key on a PKCS#11 token (RFC 7512 URI; the PIN from its
    /// pin-source file).
    #[arg(long, value_name = "URI")]
    pub root_key_uri: Option<String>,
    /// keyCompromise, superseded or cessationOfOperation.
    #[arg(long)]
    pub reason: String,
}

/// `robotid ca init`
#[derive(Debug, Args)]
pub struct CaInit {
    /// Folder to create; must not exist or be empty.
    #[arg(long)]
    pub dir: PathBuf,
    /// The CA's name, in its certificates' subjects.
    #[arg(long, default_value = "RobotID Development")]
    pub name: String,
    /// Base URL of the public endpoints (OCSP, CRLs), put in certificates.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// Generate the root CA key on a PKCS#11 token, named by an RFC 7512
    /// URI (`pkcs11:token=T;object=root-ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/path/pin`);
    /// no key file is written for it. The PIN is read from the pin-source file.
    // A String, parsed by the command: clap would echo a refused value,
    // and a URI carrying pin-value must not be echoed.
    #[arg(long, value_name = "URI")]
    pub root_key_uri: Option<String>,
    /// Generate the issuing CA key on a PKCS#11 token (as --root-key-uri);
    /// the CA folder records the URI and the server signs through the token.
    #[arg(long, value_name = "URI")]
    pub issuing_key_uri: Option<String>,
}

/// `robotid id ...`
#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Print a robot ID with its check character.
    New(IdNew),
    /// Check robot IDs; exit 1 if any is invalid.
    Check(IdCheck),
}

/// `robotid id new`
#[derive(Debug, Args)]
pub struct IdNew {
    /// Manufacturer code, 2 to 8 of A-Z and 0-9.
    #[arg(long)]
    pub manufacturer: String,
    /// Model code, 1 to 16 of A-Z and 0-9.
    #[arg(long)]
    pub model: String,
    /// Serial, 1 to 24 of A-Z and 0-9.
    #[arg(long)]
    pub serial: String,
}

/// `robotid id check`
#[derive(Debug, Args)]
pub struct IdCheck {
    /// IDs to check.
    #[arg(required = true)]
    pub ids: Vec<String>,
}

/// `robotid key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a private key (PKCS#8 PEM, mode 0600).
    New(KeyNew),
}

/// `robotid key new`
#[derive(Debug, Args)]
pub struct KeyNew {
    /// File to create; never overwritten.
    #[arg(long)]
    pub out: PathBuf,
    /// Algorithm: p256, p384 or ed25519.
    #[arg(long, default_value = "p256")]
    pub alg: AlgorithmName,
}

/// `robotid csr ...`
#[derive(Debug, Subcommand)]
pub enum CsrCommand {
    /// Create a robot's CSR from its identity manifest and key.
    New(CsrNew),
}

/// `robotid csr new`
#[derive(Debug, Args)]
pub struct CsrNew {
    /// The robot's identity manifest (TOML).
    #[arg(long)]
    pub manifest: PathBuf,
    /// The robot's private key.
    #[arg(long)]
    pub key: PathBuf,
    /// Where to write the CSR (PEM).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace `--out` if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `robotid prove`
#[derive(Debug, Args)]
pub struct Prove {
    /// The robot's private key (PKCS#8 PEM, as `robotid key new` writes it).
    #[arg(long)]
    pub key: PathBuf,
    /// The challenge made by `robotid-verify challenge`.
    #[arg(long)]
    pub challenge: PathBuf,
    /// Where to write the response (JSON) for `robotid-verify --response`.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace `--out` if it exists.
    #[arg(long)]
    pub force: bool,
}
