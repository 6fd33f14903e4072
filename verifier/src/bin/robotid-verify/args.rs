//! Every flag of `robotid-verify`, declared once; `--help` comes from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Verify a robot's identity offline: chain, validity, profile, revocation
/// from CRLs, a market-entry policy, measured components and proof of key
/// possession. One line per check, then the verdict.
///
/// Exit codes: 0 the robot passes (with --dir: every certificate passes),
/// 1 a check failed, 2 bad usage or unreadable input.
#[derive(Debug, Parser)]
#[command(
    name = "robotid-verify",
    version,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// `challenge`, or nothing to verify.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// What to verify.
    #[command(flatten)]
    pub verify: VerifyArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a fresh challenge (32 random bytes and the time) for a robot to
    /// answer with `robotid prove`; keep it for --challenge.
    Challenge(ChallengeArgs),
    /// Check a robot's exported lifecycle history (`robotid history export`)
    /// offline: the CA's signature on its head, every event's hash, order
    /// and links, the lifecycle rules, and the robot's certificates.
    History(HistoryArgs),
}

/// `robotid-verify history`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The bundle (JSON) written by `robotid history export`.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// Trust anchor(s): the RobotID root CA certificate; repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    pub trust: Vec<PathBuf>,
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `robotid-verify challenge`
#[derive(Debug, Args)]
pub struct ChallengeArgs {
    /// File to create; never overwritten.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Verification flags.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The robot's certificate (PEM or DER); a PEM file may carry its chain after it.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "dir",
        conflicts_with = "dir"
    )]
    pub cert: Option<PathBuf>,
    /// Verify every certificate file (.pem, .crt, .cer, .der) in DIR, with a
    /// progress bar on stderr and a summary.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Trust anchor(s): the RobotID root CA certificate (PEM bundle or DER); repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    pub trust: Vec<PathBuf>,
    /// Intermediate CA certificates (the issuing CA), PEM bundle or DER; repeatable.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    /// A CRL (PEM or DER) fetched earlier; repeatable. Without one, revocation is skipped.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// A market-entry policy (TOML, policies/README.md).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Components measured in the robot: [[components]] tables as in a manifest.
    #[arg(long, value_name = "FILE", conflicts_with = "dir")]
    pub components: Option<PathBuf>,
    /// The challenge made by `robotid-verify challenge` and kept by the inspector.
    #[arg(
        long,
        value_name = "FILE",
        requires = "response",
        conflicts_with = "dir"
    )]
    pub challenge: Option<PathBuf>,
    /// The robot's answer, made by `robotid prove`.
    #[arg(
        long,
        value_name = "FILE",
        requires = "challenge",
        conflicts_with = "dir"
    )]
    pub response: Option<PathBuf>,
    /// Judge validity and CRL freshness at this time (RFC 3339, e.g.
    /// 2027-05-01T12:00:00Z) instead of now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub at: Option<i64>,
    /// Remember issuing CAs already proved under --trust in DIR (created
    /// private, 0700), so that later runs skip the root's signature on
    /// them; for one process per certificate. Never changes a verdict.
    #[arg(long, value_name = "DIR", env = "ROBOTID_VERIFY_CACHE")]
    pub cache: Option<PathBuf>,
    /// One JSON document on stdout (schema: docs/verifier.md).
    #[arg(long)]
    pub json: bool,
}

fn parse_time(text: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(time::OffsetDateTime::unix_timestamp)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time such as 2027-05-01T12:00:00Z: {e}"))
}
