//! `robotid-verify`: the inspector's offline verifier.
//!
//! Exit codes: 0 the robot passes (every certificate, with `--dir`), 1 a
//! check failed, 2 bad usage or unreadable input. No network code is linked
//! in: everything it judges by comes from files.

mod args;
mod dir;
mod setup;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use robotid_verifier::challenge::{self, Challenge};
use robotid_verifier::inspect::{Possession, RobotEvidence};
use robotid_verifier::report::{Verdict, printable};

use args::{Cli, Command, HistoryArgs, VerifyArgs};
use setup::{Unusable, now};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Challenge(args)) => make_challenge(&args.out),
        Some(Command::History(args)) => history(args),
        None => verify(&cli.verify),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("robotid-verify: {}", printable(&e.message));
            ExitCode::from(e.code)
        }
    }
}

fn verify(args: &VerifyArgs) -> Result<ExitCode, Unusable> {
    let inspector = setup::inspector(args)?;
    if let Some(dir) = &args.dir {
        return dir::run(&inspector, dir, args.json);
    }
    let Some(cert_path) = &args.cert else {
        return Err(Unusable::usage("give --cert FILE or --dir DIR"));
    };
    let mut certs = robotid_verifier::input::read_certificates(cert_path)
        .map_err(|e| Unusable::input(e.to_string()))?;
    let leaf = certs.remove(0);
    let measured = args
        .components
        .as_deref()
        .map(robotid_verifier::manifest::load_components)
        .transpose()
        .map_err(|e| Unusable::input(e.to_string()))?;
    let challenge_files = match (&args.challenge, &args.response) {
        (Some(c), Some(r)) => Some((
            Challenge::load(c).map_err(|e| Unusable::input(e.to_string()))?,
            challenge::Response::load(r).map_err(|e| Unusable::input(e.to_string()))?,
        )),
        _ => None,
    };
    let evidence = RobotEvidence {
        components: measured.as_deref(),
        possession: challenge_files
            .as_ref()
            .map(|(challenge, response)| Possession {
                challenge,
                response,
                now: now(),
            }),
    };
    let mut report = inspector
        .inspect(leaf.as_ref(), &certs, &evidence)
        .map_err(|e| Unusable::input(format!("{}: {e}", cert_path.display())))?;
    report.file = Some(cert_path.display().to_string());
    let out = if args.json {
        setup::json(&report)?
    } else {
        report.to_text()
    };
    print(&out)?;
    Ok(match report.verdict {
        Verdict::Pass => ExitCode::SUCCESS,
        Verdict::Fail => ExitCode::from(1),
    })
}

fn history(args: &HistoryArgs) -> Result<ExitCode, Unusable> {
    use robotid_verifier::history::bundle;
    let mut anchors = Vec::new();
    for path in &args.trust {
        anchors.extend(
            robotid_verifier::input::read_certificates(path)
                .map_err(|e| Unusable::input(e.to_string()))?,
        );
    }
    let bytes = robotid_verifier::input::read_file(&args.bundle)
        .map_err(|e| Unusable::input(e.to_string()))?;
    let parsed = bundle::parse(&bytes)
        .map_err(|e| Unusable::input(format!("{}: {e}", args.bundle.display())))?;
    let mut report = bundle::verify(&parsed, &anchors);
    report.file = Some(args.bundle.display().to_string());
    let out = if args.json {
        setup::json(&report)?
    } else {
        report.to_text()
    };
    print(&out)?;
    Ok(match report.verdict {
        Verdict::Pass => ExitCode::SUCCESS,
        Verdict::Fail => ExitCode::from(1),
    })
}

fn make_challenge(out: &std::path::Path) -> Result<ExitCode, Unusable> {
    let challenge = Challenge::new(now()).map_err(|e| Unusable::refused(e.to_string()))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| {
            let message = format!("{}: {e}", out.display());
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Unusable::refused(format!(
                    "{message}; refusing to overwrite a challenge (make each one fresh)"
                ))
            } else {
                Unusable::input(message)
            }
        })?;
    file.write_all(challenge::to_json(&challenge).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Unusable::input(format!("{}: {e}", out.display())))?;
    println!(
        "challenge written to {} (nonce {}…); keep it, and have the robot answer with `robotid prove`",
        out.display(),
        challenge.nonce.get(..12).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print(text: &str) -> Result<(), Unusable> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Unusable::input(format!("stdout: {e}")))
        }
        _ => Ok(()),
    }
}
