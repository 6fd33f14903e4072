//! Model rules: what the operator approved for one model type — parameter
//! ranges and required component kinds. The CA refuses a robot outside them;
//! market-entry policies use the same tables. Format: policies/README.md.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::parameters;

/// An inclusive range of a parameter, in the parameter's unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Smallest value approved.
    pub min: i64,
    /// Largest value approved.
    pub max: i64,
}

/// Component rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentRules {
    /// Kinds every robot of the model must carry.
    #[serde(default)]
    pub required: Vec<String>,
}

/// The approved parameters and components of one model type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRules {
    /// Approved range of each parameter; a robot must state every one of
    /// these and no other.
    #[serde(default)]
    pub parameters: BTreeMap<String, Range>,
    /// Component rules.
    #[serde(default)]
    pub components: ComponentRules,
}

/// A rule file (model rules or a market-entry policy) that cannot be used;
/// names the file and the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, or an unknown key.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message with line and key.
        message: String,
    },
    /// A rule that makes no sense.
    #[error("{path}: field {field}: {rule}")]
    Field {
        /// The file.
        path: String,
        /// The field.
        field: String,
        /// The rule broken.
        rule: String,
    },
}

impl ModelRules {
    /// Parses and checks rules from TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, RulesError> {
        let rules: ModelRules = toml::from_str(text).map_err(|e| RulesError::Syntax {
            path: origin.into(),
            message: e.to_string().trim_end().into(),
        })?;
        rules.check(origin)?;
        Ok(rules)
    }

    /// Reads rules from a file.
    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let text = crate::input::FileKind::Policy
            .read_to_string_io(path)
            .map_err(|source| RulesError::Read {
                path: path.display().to_string(),
                source,
            })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    fn check(&self, origin: &str) -> Result<(), RulesError> {
        let field = |field: String, rule: String| RulesError::Field {
            path: origin.into(),
            field,
            rule,
        };
        for (name, range) in &self.parameters {
            if parameters::lookup(name).is_none() {
                return Err(field(
                    format!("parameters.{name}"),
                    format!("unknown parameter; known: {}", parameters::known_names()),
                ));
            }
            if range.min > range.max {
                return Err(field(
                    format!("parameters.{name}"),
                    format!("min {} is greater than max {}", range.min, range.max),
                ));
            }
        }
        for (i, kind) in self.components.required.iter().enumerate() {
            if kind.is_empty() || kind.len() > 64 || crate::text::check(kind).is_err() {
                return Err(field(
                    format!("components.required[{i}]"),
                    format!(
                        "{kind:?} is not a component kind (1..=64 characters, text policy {})",
                        crate::rule::Rule::TextCharacter
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let rules = ModelRules::from_toml(
            "[parameters.height_mm]\nmin = 1500\nmax = 1800\n[components]\nrequired = [\"main-controller\"]\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            rules.parameters["height_mm"],
            Range {
                min: 1500,
                max: 1800
            }
        );
        let bad = ModelRules::from_toml("[parameters.height_mm]\nmin = 2\nmax = 1\n", "t");
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("parameters.height_mm")
        );
        let unknown = ModelRules::from_toml("[parameters.height_cm]\nmin = 1\nmax = 2\n", "t");
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown parameter")
        );
        let typo = ModelRules::from_toml("[component]\nrequired = []\n", "t");
        assert!(typo.unwrap_err().to_string().contains("component"));
    }
}

#[cfg(test)]
mod shipped_policies {
    use super::*;

    #[test]
    fn every_shipped_model_rule_file_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/models");
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                ModelRules::load(&path).unwrap();
                count += 1;
            }
        }
        assert!(count >= 1);
    }
}
