//! What the registration authority answers when it does not do what was
//! asked: a rule of the catalogue, its kind, what exactly is wrong, and the
//! field and value concerned. Protocol-free: the web front end turns it into
//! a problem document (api/problem.rs); nothing here knows HTTP.

use std::fmt;

use robotid_verifier::rule::{Kind, Rule};

/// Seconds a client is asked to wait when the CA's key is unavailable: a
/// few reconnection attempts of the key (one a second at most).
pub const SIGNER_RETRY_AFTER: u64 = 5;

/// A refusal, or a failure of the CA itself ([`Rule::ServerInternal`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The rule.
    pub rule: Rule,
    /// What sort of refusal: the rule's own kind unless the RA says
    /// otherwise (a vetting rule broken inside a CSR that was read is
    /// [`Kind::Unacceptable`], say).
    pub kind: Kind,
    /// What exactly is wrong, with values.
    pub detail: String,
    /// The request field concerned, if any.
    pub field: Option<String>,
    /// The value found there, if any.
    pub value: Option<String>,
    /// Seconds after which a retry may succeed.
    pub retry_after: Option<u64>,
}

impl Refusal {
    /// A refusal under `rule`, of the rule's kind.
    pub fn new(rule: Rule, detail: impl Into<String>) -> Self {
        Self {
            rule,
            kind: rule.kind(),
            detail: detail.into(),
            field: None,
            value: None,
            retry_after: None,
        }
    }

    /// Names the field and value concerned.
    pub fn at(mut self, field: impl Into<String>, value: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self.value = Some(value.into());
        self
    }

    /// Another kind than the rule's own.
    pub fn as_kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// Says when to retry.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The CA's key did not sign. A key that is unavailable (its token
    /// absent, its session lost) is [`Rule::ServerSigner`] with a retry
    /// time; any other failure is internal. The cause goes to the log.
    pub fn signing(cause: &robotid_issuer::signer::IssueError) -> Self {
        use robotid_issuer::key::KeyFailure;
        use robotid_issuer::signer::IssueError;
        match cause {
            IssueError::Key(KeyFailure::Unavailable(reason)) => Self::key_unavailable(reason),
            other => Self::internal(other),
        }
    }

    /// [`Rule::ServerSigner`]: the CA's key is unavailable; nothing was
    /// signed. The reason (which names the token, never its PIN) goes to
    /// the log.
    pub fn key_unavailable(reason: impl fmt::Display) -> Self {
        tracing::warn!(reason = %reason, "the CA key is unavailable");
        Self::new(
            Rule::ServerSigner,
            "the CA's signing key is unavailable (its token is absent or its session was lost); nothing was signed",
        )
        .retry_after(SIGNER_RETRY_AFTER)
    }

    /// A failure of the CA itself; the cause goes to the log, not to the
    /// client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            Rule::ServerInternal,
            "the CA could not complete the request; nothing was issued that is not recorded",
        )
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.detail)
    }
}

impl std::error::Error for Refusal {}

/// A vetting refusal of the issuer: a CSR that was read, whose content
/// breaks a rule. Authorisation rules keep their kind (403); the rest are
/// unacceptable content (422).
impl From<&robotid_issuer::vetting::Refusal> for Refusal {
    fn from(r: &robotid_issuer::vetting::Refusal) -> Self {
        let kind = match r.rule.kind() {
            Kind::Forbidden => Kind::Forbidden,
            _ => Kind::Unacceptable,
        };
        Refusal::new(r.rule, r.detail.clone())
            .as_kind(kind)
            .at(r.field.clone(), r.value.clone())
    }
}

/// A CSR that cannot be read or whose signature fails.
impl From<&robotid_issuer::csr::CsrError> for Refusal {
    fn from(e: &robotid_issuer::csr::CsrError) -> Self {
        Refusal::new(e.rule(), e.to_string()).at("csr", "")
    }
}
