//! Turning flags into a prepared inspector; every unusable input is named.

use robotid_verifier::crl::Crl;
use robotid_verifier::input;
use robotid_verifier::inspect::{InspectError, Inspector, InspectorConfig, IssuerCache};
use robotid_verifier::policy::Policy;

use crate::args::VerifyArgs;

/// A failure before any verdict: exit 2 (or 1 for a refusal).
pub struct Unusable {
    /// Exit code.
    pub code: u8,
    /// What is wrong and where.
    pub message: String,
}

impl Unusable {
    /// Unreadable or malformed input: exit 2.
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// Bad usage: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::input(message)
    }

    /// A refusal (such as an existing output file): exit 1.
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

/// Now, seconds since the Unix epoch.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Reads the anchors, chain, CRLs and policy named by `args`.
pub fn inspector(args: &VerifyArgs) -> Result<Inspector, Unusable> {
    let certs = |paths: &[std::path::PathBuf]| {
        let mut all = Vec::new();
        for p in paths {
            all.extend(input::read_certificates(p).map_err(|e| Unusable::input(e.to_string()))?);
        }
        Ok::<_, Unusable>(all)
    };
    let anchors = certs(&args.trust)?;
    let intermediates = certs(&args.chain)?;
    let crls = args
        .crl
        .iter()
        .map(|p| {
            let der = input::read_crl(p).map_err(|e| Unusable::input(e.to_string()))?;
            Crl::from_der(der.as_ref(), &p.display().to_string())
                .map_err(|e| Unusable::input(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let policy = args
        .policy
        .as_deref()
        .map(Policy::load)
        .transpose()
        .map_err(|e| Unusable::input(e.to_string()))?;
    let cache = args
        .cache
        .as_deref()
        .map(IssuerCache::open)
        .transpose()
        .map_err(|e| Unusable::input(format!("{e} (rule {})", e.rule())))?;
    let inspector = Inspector::new(InspectorConfig {
        anchors,
        intermediates,
        crls,
        policy,
        at: args.at.unwrap_or_else(now),
    })
    .map_err(|e| match e {
        InspectError::Anchor { index, reason } => Unusable::input(format!(
            "--trust: certificate {} is not a usable trust anchor: {reason}",
            index + 1
        )),
        other => Unusable::input(format!("--trust: {other}")),
    })?;
    Ok(match cache {
        Some(cache) => inspector.with_persistent_cache(cache),
        None => inspector,
    })
}

/// Pretty JSON with a final newline.
pub fn json<T: serde::Serialize>(value: &T) -> Result<String, Unusable> {
    serde_json::to_string_pretty(value)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| Unusable::input(format!("cannot write JSON: {e}")))
}
