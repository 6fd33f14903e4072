//! Every command and flag, declared once; `--help` is generated from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use robotid_issuer::keys::AlgorithmName;

/// RobotID: identities for humanoid robots.
///
/// Exit codes: 0 success, 1 refused (or a failing verdict), 2 bad usage or
/// unreadable input.
#[derive(Debug, Parser)]
#[command(name = "robotid", version, about, long_about = None)]
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
}

/// `robotid ca ...`
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create a root CA, an issuing CA and an OCSP signer in a new folder.
    Init(CaInit),
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
