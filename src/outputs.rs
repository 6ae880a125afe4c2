//! What a run leaves in its `--diff-out` folder: the per-table diff files of this run only. The
//! files a run writes are listed in the folder's manifest (`_recon_diff_out.json`); the next run
//! removes them before it writes its own, so a table that now errors, matches or left the
//! config keeps no stale file. Files recon did not write are never touched.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The manifest's file name in a `--diff-out` folder.
pub const DIFF_OUT_MANIFEST: &str = "_recon_diff_out.json";

/// The files the last run wrote.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// File names, relative to the folder.
    files: Vec<String>,
}

/// Removes the files the last run listed in `dir`'s manifest; returns the names of the files
/// left in `dir` (not recon's), so that [`record_diff_out`] can tell this run's files apart.
pub fn clear_diff_out(dir: &Path) -> Result<BTreeSet<String>> {
    let manifest_path = dir.join(DIFF_OUT_MANIFEST);
    let manifest: Manifest = match std::fs::read(&manifest_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::Invalid(format!(
                "{}: not a recon --diff-out manifest ({e}); remove it to go on",
                manifest_path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
        Err(source) => {
            return Err(Error::Write {
                path: manifest_path,
                source,
            });
        }
    };
    // Only plain names of this folder: a manifest never sends a removal elsewhere.
    for name in manifest.files.iter().filter(|n| is_plain_name(n)) {
        match std::fs::remove_file(dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Write {
                    path: dir.join(name),
                    source,
                });
            }
        }
    }
    files_in(dir)
}

/// Lists in `dir`'s manifest the files this run wrote: those there now that were not in
/// `kept` (the folder's other files, from [`clear_diff_out`]).
pub fn record_diff_out(dir: &Path, kept: &BTreeSet<String>) -> Result<()> {
    let files: Vec<String> = files_in(dir)?
        .into_iter()
        .filter(|n| !kept.contains(n) && n != DIFF_OUT_MANIFEST)
        .collect();
    let text = serde_json::to_string_pretty(&Manifest { files })
        .map_err(|e| Error::failed("the --diff-out manifest", e))?;
    crate::atomic::write_bytes(&dir.join(DIFF_OUT_MANIFEST), text.as_bytes())
}

fn is_plain_name(name: &str) -> bool {
    let p = Path::new(name);
    p.components().count() == 1
        && matches!(p.components().next(), Some(std::path::Component::Normal(_)))
        && name != DIFF_OUT_MANIFEST
}

/// The names of the files directly in `dir` (none when it does not exist yet).
fn files_in(dir: &Path) -> Result<BTreeSet<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(source) => {
            return Err(Error::Write {
                path: dir.to_owned(),
                source,
            });
        }
    };
    Ok(entries
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_files_of_the_last_run_are_removed() {
        let dir = tempfile::tempdir().expect("test io");
        let d = dir.path();
        std::fs::write(d.join("notes.txt"), "mine").expect("test io");
        let kept = clear_diff_out(d).expect("test io");
        std::fs::write(d.join("orders.parquet"), "x").expect("test io");
        record_diff_out(d, &kept).expect("test io");
        let kept = clear_diff_out(d).expect("test io");
        assert!(!d.join("orders.parquet").exists());
        assert!(d.join("notes.txt").exists());
        assert!(kept.contains("notes.txt"));
    }

    #[test]
    fn a_manifest_never_removes_outside_its_folder() {
        assert!(!is_plain_name("../x.parquet"));
        assert!(!is_plain_name("/etc/passwd"));
        assert!(!is_plain_name(".."));
        assert!(is_plain_name("orders.parquet"));
    }
}
