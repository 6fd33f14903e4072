//! `--dir DIR`: every certificate file in a folder, with a progress bar on
//! stderr (drawn only when stderr is a terminal) and a summary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use robotid_verifier::input;
use robotid_verifier::inspect::{Inspector, RobotEvidence};
use robotid_verifier::report::{REPORT_SCHEMA_VERSION, Report, Verdict, printable, rfc3339};
use serde::Serialize;

use crate::setup::{Unusable, json};

/// File name endings taken as certificates.
const EXTENSIONS: [&str; 4] = ["pem", "crt", "cer", "der"];

/// The JSON document of a `--dir` run.
#[derive(Serialize)]
struct DirReport<'a> {
    schema_version: u32,
    verified_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    summary: Summary,
    reports: Vec<Report>,
    unreadable: Vec<Unreadable>,
}

#[derive(Serialize, Default)]
struct Summary {
    total: usize,
    passed: usize,
    failed: usize,
    unreadable: usize,
}

#[derive(Serialize)]
struct Unreadable {
    file: String,
    error: String,
}

/// The certificate files in `dir`, sorted by name: every entry with a
/// certificate's ending, whatever it is, so that one which cannot be read
/// (a dangling link, a FIFO, no permission) is reported as unreadable, not
/// skipped; and entries the folder listing itself could not read.
fn files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<Unreadable>), Unusable> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Unusable::input(format!("{}: {e}", dir.display())))?;
    let mut files = Vec::new();
    let mut unlisted = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => {
                let p = entry.path();
                if p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
                {
                    files.push(p);
                }
            }
            Err(e) => unlisted.push(Unreadable {
                file: dir.display().to_string(),
                error: format!("{}: an entry cannot be listed: {e}", dir.display()),
            }),
        }
    }
    files.sort();
    if files.is_empty() && unlisted.is_empty() {
        return Err(Unusable::input(format!(
            "{}: no certificate files (*.pem, *.crt, *.cer, *.der)",
            dir.display()
        )));
    }
    Ok((files, unlisted))
}

/// Verifies every certificate in `dir`; exit 0 only if all pass.
pub fn run(inspector: &Inspector, dir: &Path, as_json: bool) -> Result<ExitCode, Unusable> {
    let (files, unlisted) = files(dir)?;
    let bar = ProgressBar::with_draw_target(
        Some(u64::try_from(files.len()).unwrap_or(u64::MAX)),
        ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {pos}/{len} certificates, {per_sec}, ETA {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    let mut summary = Summary {
        total: files.len() + unlisted.len(),
        unreadable: unlisted.len(),
        ..Summary::default()
    };
    let mut reports = Vec::new();
    let mut unreadable = unlisted;
    let evidence = RobotEvidence::default();
    for path in &files {
        let name = path.display().to_string();
        let result = input::read_certificates(path)
            .map_err(|e| e.to_string())
            .and_then(|mut certs| {
                let leaf = certs.remove(0);
                inspector
                    .inspect(leaf.as_ref(), &certs, &evidence)
                    .map_err(|e| format!("{name}: {e}"))
            });
        match result {
            Ok(mut report) => {
                match report.verdict {
                    Verdict::Pass => summary.passed += 1,
                    Verdict::Fail => summary.failed += 1,
                }
                report.file = Some(name);
                reports.push(report);
            }
            Err(error) => {
                summary.unreadable += 1;
                unreadable.push(Unreadable { file: name, error });
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let all_pass = summary.passed == summary.total;
    let out = if as_json {
        json(&DirReport {
            schema_version: REPORT_SCHEMA_VERSION,
            verified_at: rfc3339(inspector.at()),
            policy: inspector.policy().map(|p| p.name.as_str()),
            summary,
            reports,
            unreadable,
        })?
    } else {
        text(&summary, &reports, &unreadable)
    };
    crate::print(&out)?;
    Ok(if all_pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One line per certificate (failures name their failed checks), then the summary.
fn text(summary: &Summary, reports: &[Report], unreadable: &[Unreadable]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for r in reports {
        let robot = r
            .certificate
            .as_ref()
            .and_then(|c| c.robot_id.as_deref())
            .unwrap_or("-");
        let file = r.file.as_deref().unwrap_or("-");
        match r.verdict {
            Verdict::Pass => {
                let _ = writeln!(out, "PASS  {}  {}", printable(file), printable(robot));
            }
            Verdict::Fail => {
                let why = r
                    .checks
                    .iter()
                    .filter(|c| c.status == robotid_verifier::report::Status::Fail)
                    .map(|c| format!("{}: {}", c.name, c.reason))
                    .collect::<Vec<_>>()
                    .join("; ");
                let _ = writeln!(
                    out,
                    "FAIL  {}  {}  {}",
                    printable(file),
                    printable(robot),
                    printable(&why)
                );
            }
        }
    }
    for u in unreadable {
        let _ = writeln!(out, "ERROR {}  {}", printable(&u.file), printable(&u.error));
    }
    let _ = writeln!(
        out,
        "summary: {} certificates: {} passed, {} failed, {} unreadable",
        summary.total, summary.passed, summary.failed, summary.unreadable
    );
    out
}
