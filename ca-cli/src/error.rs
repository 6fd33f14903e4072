//! Errors of the command line and their exit codes.

use std::process::ExitCode;

/// A failed command. The message names the file, field and rule.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage or unusable input: exit 2.
    #[error("{0}")]
    Input(String),
    /// A refusal or failing verdict: exit 1.
    #[error("{0}")]
    Refused(String),
    /// The server could not be reached or talked to (nothing was decided):
    /// exit 3, with the cause.
    #[error("{0}")]
    Unreachable(String),
}

impl CliError {
    /// The message as it may be written to a terminal: a message quotes
    /// servers' answers, file contents and certificate fields, so every
    /// character the text policy refuses is escaped and a long message is
    /// cut (`robotid_verifier::text::terminal`).
    pub fn for_terminal(&self) -> String {
        robotid_verifier::text::terminal(&self.to_string()).into_owned()
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Input(_) => ExitCode::from(2),
            Self::Refused(_) => ExitCode::from(1),
            Self::Unreachable(_) => ExitCode::from(3),
        }
    }
}

impl From<robotid_issuer::keys::KeyError> for CliError {
    fn from(e: robotid_issuer::keys::KeyError) -> Self {
        use robotid_issuer::keys::KeyError;
        match e {
            KeyError::Exists { .. } | KeyError::Generate(_) => Self::Refused(e.to_string()),
            _ => Self::Input(e.to_string()),
        }
    }
}

impl From<robotid_issuer::ceremony::CeremonyError> for CliError {
    fn from(e: robotid_issuer::ceremony::CeremonyError) -> Self {
        use robotid_issuer::ceremony::CeremonyError;
        match e {
            CeremonyError::Setting { .. } => Self::Input(e.to_string()),
            _ => Self::Refused(e.to_string()),
        }
    }
}

impl From<robotid_verifier::manifest::ManifestError> for CliError {
    fn from(e: robotid_verifier::manifest::ManifestError) -> Self {
        Self::Input(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message quoting a server's 100 KB problem detail full of escape
    /// sequences reaches the terminal escaped and cut (it was printed raw
    /// and whole).
    #[test]
    fn a_message_is_escaped_and_cut_for_the_terminal() {
        let detail = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}".repeat(10_000);
        let shown = CliError::Refused(format!("refused (400 csr.der): {detail}")).for_terminal();
        assert!(
            !shown
                .chars()
                .any(|c| robotid_verifier::text::refused(c).is_some()),
            "{shown}"
        );
        assert!(shown.starts_with("refused (400 csr.der): \\u{1b}]0;owned\\u{7}"));
        assert!(shown.chars().count() < 2_100, "{}", shown.len());
        assert!(shown.ends_with("more characters not shown)"), "{shown}");
    }
}
