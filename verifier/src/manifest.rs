//! The identity manifest a manufacturer writes for each robot (TOML), and
//! the measured-components file an inspector brings (the same
//! `[[components]]` tables).
//!
//! Component `files` are hashed with SHA-256 here, relative to the manifest's
//! folder; `digests` give precomputed values as `sha256:<hex>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::identity::{
    ComponentDigest, DigestAlgorithm, KeyComponent, Manufacturer, RobotIdentity, TechnicalParameter,
};
use crate::parameters;
use crate::robot_id::RobotId;

/// A manifest or components file that cannot be used. Every variant names
/// the file; the field and the rule are in the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        message: String,
    },
    /// A field breaks a rule.
    #[error("{path}: field {field}: {rule}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The field, e.g. `components[1].files[0]`.
        field: String,
        /// The rule broken, with the value.
        rule: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    robot_id: String,
    model: String,
    production_date: String,
    manufacturer: Option<ManufacturerFile>,
    #[serde(default)]
    parameters: BTreeMap<String, i64>,
    #[serde(default)]
    components: Vec<ComponentFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManufacturerFile {
    name: String,
    country: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentsFile {
    components: Vec<ComponentFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentFile {
    kind: String,
    part_number: String,
    supplier: String,
    serial: String,
    #[serde(default)]
    files: Vec<PathBuf>,
    #[serde(default)]
    digests: Vec<String>,
}

/// A manifest, checked and with every component hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The robot's ID.
    pub robot_id: RobotId,
    /// The model code (the ID's second segment).
    pub model: String,
    /// Day of manufacture.
    pub production_date: time::Date,
    /// The manufacturer's name and country as the manufacturer states them;
    /// the CA replaces them with the registry's.
    pub manufacturer: Option<(String, String)>,
    /// Parameters with their units.
    pub parameters: Vec<TechnicalParameter>,
    /// Components with their digests.
    pub components: Vec<KeyComponent>,
}

/// Name and country put into a CSR whose manifest states none; ISO 3166
/// reserves `XX` for an unknown country. The CA always uses its registry's.
pub const UNSTATED_COUNTRY: &str = "XX";

impl Manifest {
    /// Reads, checks and hashes the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        Self::parse(&read_text(path)?, path, &|file| std::fs::read(file))
    }

    /// Checks and hashes manifest `text`, read from `path` (which names it
    /// in errors and locates component files); component files are read
    /// with `read_file`. [`Manifest::load`] reads them from disk.
    pub fn parse(
        text: &str,
        path: &Path,
        read_file: FileReader<'_>,
    ) -> Result<Self, ManifestError> {
        let file: ManifestFile = from_toml(text, path)?;
        let field = |field: &str, rule: String| ManifestError::Field {
            path: path.to_owned(),
            field: field.into(),
            rule,
        };
        let robot_id =
            RobotId::parse(&file.robot_id).map_err(|e| field("robot_id", e.to_string()))?;
        if file.model != robot_id.model() {
            return Err(field(
                "model",
                format!(
                    "{:?} differs from the robot ID's model segment {:?}",
                    file.model,
                    robot_id.model()
                ),
            ));
        }
        let production_date =
            parse_date(&file.production_date).map_err(|rule| field("production_date", rule))?;
        let parameters = file
            .parameters
            .iter()
            .map(|(name, value)| {
                let spec = parameters::lookup(name).ok_or_else(|| {
                    field(
                        &format!("parameters.{name}"),
                        format!("unknown parameter; known: {}", parameters::known_names()),
                    )
                })?;
                Ok(TechnicalParameter {
                    name: spec.name.into(),
                    value: *value,
                    unit: spec.unit.into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if file.components.is_empty() {
            return Err(field(
                "components",
                "at least one [[components]] table is required".into(),
            ));
        }
        let components = components(path, file.components, read_file)?;
        let manifest = Manifest {
            robot_id,
            model: file.model,
            production_date,
            manufacturer: file.manufacturer.map(|m| (m.name, m.country)),
            parameters,
            components,
        };
        // The profile's own limits, reported against the manifest.
        manifest
            .to_identity()
            .validate()
            .map_err(|e| field("(identity)", e.to_string()))?;
        Ok(manifest)
    }

    /// The `RobotIdentity` this manifest asks for. The manufacturer's name
    /// and country are the manifest's, or the code and `XX` if it has none.
    pub fn to_identity(&self) -> RobotIdentity {
        let code = self.robot_id.manufacturer_code().to_owned();
        let (name, country) = self
            .manufacturer
            .clone()
            .unwrap_or_else(|| (code.clone(), UNSTATED_COUNTRY.into()));
        let d = self.production_date;
        RobotIdentity {
            robot_id: self.robot_id.as_str().to_owned(),
            manufacturer: Manufacturer {
                code,
                name,
                country,
            },
            model: self.model.clone(),
            production_date: der::DateTime::new(
                u16::try_from(d.year()).unwrap_or(0),
                u8::from(d.month()),
                d.day(),
                0,
                0,
                0,
            )
            .unwrap_or(der::DateTime::INFINITY),
            parameters: self.parameters.clone(),
            components: self.components.clone(),
        }
    }
}

/// Reads the measured components an inspector brings (`[[components]]`
/// tables as in a manifest, files relative to that file).
pub fn load_components(path: &Path) -> Result<Vec<KeyComponent>, ManifestError> {
    parse_components(&read_text(path)?, path, &|file| std::fs::read(file))
}

/// [`load_components`] of `text`, read from `path`; component files are
/// read with `read_file`.
pub fn parse_components(
    text: &str,
    path: &Path,
    read_file: FileReader<'_>,
) -> Result<Vec<KeyComponent>, ManifestError> {
    let file: ComponentsFile = from_toml(text, path)?;
    components(path, file.components, read_file)
}

/// Reads a component's file (its full path) for hashing.
pub type FileReader<'a> = &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>;

fn read_text(path: &Path) -> Result<String, ManifestError> {
    std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })
}

fn from_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ManifestError> {
    toml::from_str(text).map_err(|e| ManifestError::Syntax {
        path: path.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })
}

fn parse_date(text: &str) -> Result<time::Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format)
        .map_err(|e| format!("{text:?} is not a date of the form YYYY-MM-DD: {e}"))?;
    if !(2000..=9999).contains(&date.year()) {
        return Err(format!("{text:?}: the year must be between 2000 and 9999"));
    }
    Ok(date)
}

fn components(
    path: &Path,
    list: Vec<ComponentFile>,
    read_file: FileReader<'_>,
) -> Result<Vec<KeyComponent>, ManifestError> {
    let base = path.parent().unwrap_or(Path::new("."));
    list.into_iter()
        .enumerate()
        .map(|(i, c)| component(path, base, i, c, read_file))
        .collect()
}

fn component(
    path: &Path,
    base: &Path,
    i: usize,
    c: ComponentFile,
    read_file: FileReader<'_>,
) -> Result<KeyComponent, ManifestError> {
    let field = |field: String, rule: String| ManifestError::Field {
        path: path.to_owned(),
        field,
        rule,
    };
    if c.files.is_empty() && c.digests.is_empty() {
        return Err(field(
            format!("components[{i}]"),
            "needs `files` to hash or `digests` (sha256:<hex>)".into(),
        ));
    }
    let mut digests = Vec::new();
    for (j, file) in c.files.iter().enumerate() {
        let full = base.join(file);
        let data = read_file(&full).map_err(|e| {
            field(
                format!("components[{i}].files[{j}]"),
                format!("cannot read {}: {e}", full.display()),
            )
        })?;
        digests.push(DigestAlgorithm::Sha256.digest(&data));
    }
    for (j, text) in c.digests.iter().enumerate() {
        let digest: ComponentDigest =
            text.parse().map_err(|e: crate::identity::IdentityError| {
                field(format!("components[{i}].digests[{j}]"), e.to_string())
            })?;
        digests.push(digest);
    }
    Ok(KeyComponent {
        kind: c.kind,
        part_number: c.part_number,
        supplier: c.supplier,
        serial: c.serial,
        digests,
    })
}
