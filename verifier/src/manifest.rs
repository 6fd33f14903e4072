//! The identity manifest a manufacturer writes for each robot (TOML), and
//! the measured-components file an inspector brings (the same
//! `[[components]]` tables).
//!
//! Component `files` are hashed with SHA-256 here, relative to the manifest's
//! folder; `digests` give precomputed values as `sha256:<hex>`.
//!
//! What a manifest may reach (decision 0025): a component file is named by
//! a relative path without `..`, and must resolve, symbolic links
//! followed, to a regular file inside the manifest's folder. A manifest
//! from elsewhere cannot make the tool read, and publish the digest of, a
//! file outside it, nor block on a FIFO or read a device without end.
//! Files are hashed as a stream, so a firmware image of gigabytes costs
//! no memory; the manifest itself is at most
//! [`FileKind::Manifest`](crate::input::FileKind)'s limit.

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
    /// The file is not a regular file, or too large (the message names it).
    #[error("{message}")]
    Input {
        /// What is wrong, with the file's name.
        message: String,
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
        Self::parse(&read_text(path)?, path, &hash_file)
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
    parse_components(&read_text(path)?, path, &hash_file)
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

/// Hashes a component's file: called with the manifest's folder and the
/// file's name as the manifest gives it (relative, no `..`: checked
/// before), it says why not if it cannot.
pub type FileReader<'a> = &'a dyn Fn(&Path, &Path) -> Result<ComponentDigest, String>;

/// The [`FileReader`] of [`Manifest::load`]: the file `name` inside
/// `folder` ([`reachable`]), hashed as a stream.
pub fn hash_file(folder: &Path, name: &Path) -> Result<ComponentDigest, String> {
    hash_regular(&reachable(folder, name)?)
}

/// SHA-256 of the regular file at `path`, read as a stream.
pub fn hash_regular(path: &Path) -> Result<ComponentDigest, String> {
    use std::io::Read;
    let mut file = crate::input::open_regular(path, crate::input::FileKind::Component)
        .map_err(|e| e.to_string())?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => context.update(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    Ok(ComponentDigest {
        algorithm: DigestAlgorithm::Sha256,
        value: context.finish().as_ref().to_vec(),
    })
}

fn read_text(path: &Path) -> Result<String, ManifestError> {
    crate::input::FileKind::Manifest
        .read_to_string(path)
        .map_err(|e| ManifestError::Input {
            message: e.to_string(),
        })
}

/// The lexical half of what a manifest may reach: a relative path without
/// `..`.
fn relative_inside(file: &Path) -> Result<(), String> {
    use std::path::Component;
    if file.is_absolute() {
        return Err(format!(
            "{} is an absolute path; name files relative to the manifest's folder",
            file.display()
        ));
    }
    if file
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        return Err(format!(
            "{} leaves the manifest's folder (`..`); files must be inside it",
            file.display()
        ));
    }
    Ok(())
}

/// `file` (as the manifest names it) under `base`, the manifest's folder,
/// if the manifest may reach it: relative, no `..`, and inside `base` once
/// symbolic links are resolved.
pub fn reachable(base: &Path, file: &Path) -> Result<PathBuf, String> {
    relative_inside(file)?;
    let full = base.join(file);
    let root = std::fs::canonicalize(if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    })
    .map_err(|e| format!("cannot resolve the manifest's folder: {e}"))?;
    let resolved =
        std::fs::canonicalize(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    if !resolved.starts_with(&root) {
        return Err(format!(
            "{} resolves to {}, outside the manifest's folder (a symbolic link leaving it)",
            file.display(),
            resolved.display()
        ));
    }
    Ok(resolved)
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
    // The profile's rules, as the CA will apply them: not before the
    // earliest date, not after today (UTC) plus one day.
    let (y, m, d) = crate::identity::EARLIEST_PRODUCTION_DATE;
    let earliest = time::Month::try_from(m)
        .ok()
        .and_then(|m| time::Date::from_calendar_date(i32::from(y), m, d).ok());
    if earliest.is_some_and(|earliest| date < earliest) {
        return Err(format!(
            "{text:?} is before the earliest production date {y:04}-{m:02}-{d:02} (identity.production_date)"
        ));
    }
    let latest = time::OffsetDateTime::now_utc().date().next_day();
    if latest.is_some_and(|latest| date > latest) {
        return Err(format!(
            "{text:?} is in the future: a production date is at most one day after today (UTC) (identity.production_date)"
        ));
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
        let at = || format!("components[{i}].files[{j}]");
        relative_inside(file).map_err(|e| field(at(), e))?;
        digests.push(read_file(base, file).map_err(|e| field(at(), e))?);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const MANIFEST: &str = r#"
robot_id = "UBX-WK5-00001234-I"
model = "WK5"
production_date = "2026-11-20"

[[components]]
kind = "main-controller"
part_number = "MC-9000"
supplier = "Example Compute Co."
serial = "MC9-2026-000812"
files = ["FILE"]
"#;

    fn load(dir: &Path, file: &str) -> Result<Manifest, ManifestError> {
        let path = dir.join("robot.toml");
        std::fs::write(&path, MANIFEST.replace("FILE", file)).unwrap();
        Manifest::load(&path)
    }

    /// What a manifest may reach: files inside its folder, hashed as a
    /// stream; absolute paths, `..`, links leaving the folder and special
    /// files are refused, naming the field (they were read: a FIFO blocked,
    /// /dev/zero filled memory, /etc/passwd was hashed).
    #[test]
    fn a_manifest_reaches_only_regular_files_in_its_folder() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("line");
        std::fs::create_dir_all(dir.join("firmware")).unwrap();
        std::fs::write(dir.join("firmware/mc.bin"), b"firmware v1").unwrap();
        std::fs::write(outer.path().join("secret"), b"not yours").unwrap();
        std::os::unix::fs::symlink(outer.path().join("secret"), dir.join("escape")).unwrap();
        std::os::unix::fs::symlink("firmware/mc.bin", dir.join("inside")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();

        let m = load(&dir, "firmware/mc.bin").unwrap();
        assert_eq!(
            m.components[0].digests,
            vec![DigestAlgorithm::Sha256.digest(b"firmware v1")]
        );
        assert_eq!(load(&dir, "inside").unwrap().components, m.components);

        let secret = outer.path().join("secret").display().to_string();
        for (file, says) in [
            (secret.as_str(), "absolute path"),
            ("../secret", "leaves the manifest's folder"),
            ("firmware/../../secret", "leaves the manifest's folder"),
            ("escape", "outside the manifest's folder"),
            ("fifo", "a FIFO"),
            ("firmware", "a directory"),
            ("/dev/zero", "absolute path"),
        ] {
            let e = load(&dir, file).unwrap_err().to_string();
            assert!(e.contains("components[0].files[0]"), "{file}: {e}");
            assert!(e.contains(says), "{file}: {e}");
        }
    }

    /// The production date follows the profile: from 2000-01-01 to
    /// tomorrow (UTC); years up to 9999 were accepted.
    #[test]
    fn the_production_date_is_from_2000_to_tomorrow() {
        let today = time::OffsetDateTime::now_utc().date();
        let tomorrow = today.next_day().unwrap();
        assert_eq!(parse_date(&today.to_string()), Ok(today));
        assert_eq!(parse_date(&tomorrow.to_string()), Ok(tomorrow));
        for bad in [
            tomorrow.next_day().unwrap().to_string(),
            "2099-01-01".into(),
            "9999-12-31".into(),
            "1999-12-31".into(),
        ] {
            let e = parse_date(&bad).unwrap_err();
            assert!(e.contains("identity.production_date"), "{bad}: {e}");
        }
    }

    /// A manifest that is a device or too large is refused by name.
    #[test]
    fn the_manifest_itself_is_bounded() {
        let e = Manifest::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("character device"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 2 * 1024 * 1024]).unwrap();
        let e = Manifest::load(&big).unwrap_err().to_string();
        assert!(e.contains("larger than"), "{e}");
    }
}
