//! Issuing CAs already proved, remembered across processes (`--cache DIR`).
//!
//! One process per certificate pays for the whole path every time, and on
//! a RobotID path the costly part is not the robot: it is the root's P-384
//! signature on the issuing CA (about a millisecond with ring, twice the
//! rest of the run). That signature, like the CA's basic constraints and
//! key purposes, depends only on the CA certificate and the anchor, so once
//! a full path validation has proved "this anchor issued this CA, fit to
//! issue robot identities", the proof can be written down and reused.
//!
//! An entry is a file named by a SHA-256 over a domain-separated encoding
//! of (entry version, required key purpose, anchor DER, CA DER): any change
//! to either certificate names another file. Its content repeats the name,
//! so a truncated or foreign file is a miss. What an entry does not vouch
//! for is re-checked every time: the CA's validity at the time asked, and
//! the robot certificate in full (its signature by the CA, validity, key
//! purpose), exactly as for the in-process cache (see the parent module).
//! Entries are written only for paths the in-process cache would accept
//! (anchor -> CA -> robot, no name constraints).
//!
//! Whoever can write into the directory can vouch for a CA, exactly as
//! whoever can write the `--trust` file can name an anchor. So the
//! directory is created private (0700), entries are written private and
//! renamed into place, and a directory or entry that another user owns or
//! that others may write is refused outright rather than trusted.

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::digest::{Context, SHA256};

/// What entries are about; part of every name.
const DOMAIN: &[u8] = b"robotid-verify issuing CA proved under anchor, v1";

/// Why a cache directory is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// It cannot be created or read.
    #[error("--cache {path}: {reason}")]
    Io {
        /// The directory or entry.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// Others could write entries into it (rule `cache.permissions`).
    #[error(
        "--cache {path}: {reason}; a verification cache must be private to its user (chmod 700, owned by you)"
    )]
    NotPrivate {
        /// The directory or entry.
        path: PathBuf,
        /// Which part of its ownership or mode is wrong.
        reason: String,
    },
}

impl CacheError {
    /// Stable rule id.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::Io { .. } => "cache.io",
            Self::NotPrivate { .. } => "cache.permissions",
        }
    }
}

/// A private directory of proved (anchor, issuing CA) pairs.
#[derive(Debug, Clone)]
pub struct IssuerCache {
    dir: PathBuf,
}

impl IssuerCache {
    /// Opens `dir`, creating it (0700) if missing; refuses one that is not
    /// private to the current user.
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        let io = |e: std::io::Error| CacheError::Io {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        };
        if !dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(io)?;
        }
        let meta = std::fs::metadata(dir).map_err(io)?;
        if !meta.is_dir() {
            return Err(CacheError::Io {
                path: dir.to_path_buf(),
                reason: "not a directory".into(),
            });
        }
        private(dir, &meta)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Whether `anchor` was proved to have issued `ca`. An unreadable,
    /// foreign or not private entry is a miss: the full path is validated
    /// and a good entry written over it.
    pub fn proved(&self, anchor: &[u8], ca: &[u8]) -> bool {
        let name = entry_name(anchor, ca);
        let path = self.dir.join(&name);
        std::fs::symlink_metadata(&path).is_ok_and(|meta| {
            meta.is_file()
                && private(&path, &meta).is_ok()
                && std::fs::read(&path).is_ok_and(|content| content == entry_content(&name))
        })
    }

    /// Records that `anchor` issued `ca` (after a full path validation).
    /// Written to a private temporary file and renamed, so a reader sees a
    /// whole entry or none.
    pub fn record(&self, anchor: &[u8], ca: &[u8]) -> Result<(), CacheError> {
        let name = entry_name(anchor, ca);
        let io = |e: std::io::Error| CacheError::Io {
            path: self.dir.join(&name),
            reason: e.to_string(),
        };
        let mut tmp = tempfile_in(&self.dir).map_err(io)?;
        tmp.1.write_all(&entry_content(&name)).map_err(io)?;
        tmp.1.sync_all().map_err(io)?;
        std::fs::rename(&tmp.0, self.dir.join(&name)).map_err(io)?;
        Ok(())
    }
}

fn entry_name(anchor: &[u8], ca: &[u8]) -> String {
    let mut ctx = Context::new(&SHA256);
    for part in [
        DOMAIN,
        crate::oid::der_content(&crate::oid::ID_KP_ROBOT_IDENTITY),
        anchor,
        ca,
    ] {
        ctx.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        ctx.update(part);
    }
    hex::encode(ctx.finish())
}

fn entry_content(name: &str) -> Vec<u8> {
    format!("{}\n{name}\n", String::from_utf8_lossy(DOMAIN)).into_bytes()
}

/// A new private file in `dir` with a name no one else uses.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut random = [0u8; 12];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| std::io::Error::other("no random source"))?;
    let path = dir.join(format!(".tmp-{}", hex::encode(random)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    Ok((path.clone(), options.open(&path)?))
}

#[cfg(unix)]
fn private(path: &Path, meta: &std::fs::Metadata) -> Result<(), CacheError> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    let refuse = |reason: String| CacheError::NotPrivate {
        path: path.to_path_buf(),
        reason,
    };
    if meta.uid() != me {
        return Err(refuse(format!(
            "owned by user {}, not by you ({me})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refuse(format!(
            "mode {:o} lets others write",
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn private(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), CacheError> {
    Ok(())
}
