//! The inspector's report: one entry per check, then the verdict.
//!
//! The JSON form is versioned ([`REPORT_SCHEMA_VERSION`]) and documented in
//! docs/verifier.md; scripts should read `checks[].name`, `status` and
//! `code`, not the prose in `reason`.

use std::fmt::{self, Write as _};

use serde::Serialize;

/// Version of the JSON report schema. Adding a field or a check is not a
/// change of version; renaming or removing one, or changing a meaning, is.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The check ran and the robot meets it.
    Pass,
    /// The check ran and the robot does not meet it.
    Fail,
    /// The check did not run (no input for it, or an earlier check failed).
    Skip,
}

impl Status {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name, e.g. `chain`, `revocation`, `policy.components`.
    pub name: &'static str,
    /// Its outcome.
    pub status: Status,
    /// Stable machine-readable cause, e.g. `expired`, `on_hold`,
    /// `replayed`; absent when the prose says all there is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// One sentence saying why, with the values.
    pub reason: String,
    /// One entry per finding when there are several (each mismatched
    /// component, each broken profile rule).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Check {
    /// A passed check.
    pub fn pass(name: &'static str, reason: impl Into<String>) -> Self {
        Self::new(name, Status::Pass, None, reason)
    }

    /// A failed check with its cause code.
    pub fn fail(name: &'static str, code: &'static str, reason: impl Into<String>) -> Self {
        Self::new(name, Status::Fail, Some(code), reason)
    }

    /// A skipped check.
    pub fn skip(name: &'static str, reason: impl Into<String>) -> Self {
        Self::new(name, Status::Skip, None, reason)
    }

    fn new(
        name: &'static str,
        status: Status,
        code: Option<&'static str>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            name,
            status,
            code,
            reason: reason.into(),
            details: Vec::new(),
        }
    }

    /// The same check with `details`.
    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }
}

/// The overall outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No check failed.
    Pass,
    /// At least one check failed.
    Fail,
}

/// What the certificate says, for the report's header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateSummary {
    /// The robot ID, if the identity could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub robot_id: Option<String>,
    /// Manufacturer code, name and country, if the identity could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// Model code, if the identity could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number, lower-case hex.
    pub serial: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// `p256`, `p384`, `ed25519`, or the OID of an unsupported key.
    pub key_algorithm: String,
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub sha256: String,
}

/// The report on one certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The certificate file, when read from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The time the certificate was judged at (`--at`), RFC 3339.
    pub verified_at: String,
    /// The market-entry policy applied, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// What the certificate says; absent if it could not be parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateSummary>,
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
    /// `pass` when no check failed.
    pub verdict: Verdict,
}

impl Report {
    /// A report over `checks`, with the verdict they give.
    pub fn new(
        verified_at: String,
        policy: Option<String>,
        certificate: Option<CertificateSummary>,
        checks: Vec<Check>,
    ) -> Self {
        let verdict = if checks.iter().any(|c| c.status == Status::Fail) {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        Self {
            schema_version: REPORT_SCHEMA_VERSION,
            file: None,
            verified_at,
            policy,
            certificate,
            checks,
            verdict,
        }
    }

    /// The check named `name`, if present.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The names of the failed checks, in order.
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name)
            .collect()
    }

    /// How many checks had `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The human report: a header, one line per check (name, status,
    /// reason, with details indented below), then the verdict.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(file) = &self.file {
            line(&mut out, "certificate", file);
        }
        if let Some(c) = &self.certificate {
            if let Some(id) = &c.robot_id {
                let mut robot = id.clone();
                if let Some(m) = &c.manufacturer {
                    let _ = write!(robot, "  {m}");
                }
                if let Some(model) = &c.model {
                    let _ = write!(robot, "  model {model}");
                }
                line(&mut out, "robot", &robot);
            }
            line(
                &mut out,
                "serial",
                &format!("{}  key {}", c.serial, c.key_algorithm),
            );
            line(&mut out, "issuer", &c.issuer);
            line(
                &mut out,
                "valid",
                &format!("{} to {}", c.not_before, c.not_after),
            );
        }
        line(&mut out, "checked at", &self.verified_at);
        if let Some(policy) = &self.policy {
            line(&mut out, "policy", policy);
        }
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.checks {
            let _ = writeln!(
                out,
                "  {:width$}  {}  {}",
                c.name,
                c.status.label(),
                printable(&c.reason)
            );
            for d in &c.details {
                let _ = writeln!(out, "  {:width$}        - {}", "", printable(d));
            }
        }
        let _ = writeln!(
            out,
            "verdict: {} ({} passed, {} failed, {} skipped)",
            match self.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
            },
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip),
        );
        out
    }
}

fn line(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "{label:12} {}", printable(value));
}

/// `text` with every character the text policy refuses escaped and long
/// text cut ([`crate::text::terminal`]), so nothing read from a
/// certificate or a file name can move an inspector's cursor, rewrite or
/// reorder what the terminal shows, or flood it.
pub fn printable(text: &str) -> Printable<'_> {
    Printable(text)
}

/// See [`printable`].
pub struct Printable<'a>(&'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::text::terminal(self.0))
    }
}

/// Seconds since the Unix epoch as RFC 3339 (UTC), or the number itself if
/// out of range.
pub fn rfc3339(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{seconds}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_follows_failures_and_text_is_escaped() {
        let r = Report::new(
            rfc3339(0),
            None,
            None,
            vec![
                Check::pass("chain", "ok"),
                Check::skip("possession", "no challenge"),
            ],
        );
        assert_eq!(r.verdict, Verdict::Pass);
        let r = Report::new(
            rfc3339(0),
            None,
            None,
            vec![Check::fail("validity", "expired", "bad\x1b[2J")],
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.failed(), ["validity"]);
        let text = r.to_text();
        assert!(text.contains("validity  FAIL  bad\\u{1b}[2J"), "{text}");
        assert!(text.ends_with("verdict: FAIL (0 passed, 1 failed, 0 skipped)\n"));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
