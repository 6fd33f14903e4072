//! Writing output files: whole or not at all.

use std::io::Write;
use std::path::Path;

use crate::error::CliError;

/// Writes `contents` to `path` through a temporary file in the same folder
/// and a rename, so a reader never sees half a file. Refuses to replace an
/// existing file unless `replace`.
pub fn write_file(path: &Path, contents: &[u8], replace: bool) -> Result<(), CliError> {
    if !replace && path.exists() {
        return Err(CliError::Refused(format!(
            "{}: already exists; refusing to overwrite (use --force to replace it)",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let io = |e: std::io::Error| CliError::Input(format!("{}: {e}", path.display()));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(contents).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}
