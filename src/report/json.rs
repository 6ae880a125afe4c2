//! The JSON report: sorted keys, pretty-printed, written atomically (a temporary file in the same
//! folder, then a rename) so that a reader never sees half a report.

use std::io::Write;
use std::path::Path;

use super::Report;
use crate::error::{Error, Result};

/// The report as a JSON value with sorted keys.
pub fn to_value(report: &Report) -> Result<serde_json::Value> {
    // serde_json's map is a BTreeMap (no `preserve_order`), so the round trip sorts every key.
    serde_json::to_value(report).map_err(|e| Error::Internal(format!("report serialization: {e}")))
}

/// The report as pretty JSON text with sorted keys and a trailing newline.
pub fn render(report: &Report) -> Result<String> {
    let mut text = serde_json::to_string_pretty(&to_value(report)?)
        .map_err(|e| Error::Internal(format!("report serialization: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Writes `report.json` into `dir`.
pub fn write(report: &Report, dir: &Path) -> Result<std::path::PathBuf> {
    let path = dir.join("report.json");
    write_atomic(&path, render(report)?.as_bytes())?;
    Ok(path)
}
