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
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Input(_) => ExitCode::from(2),
            Self::Refused(_) => ExitCode::from(1),
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
