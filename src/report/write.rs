//! Writing the report files into a folder: one run at a time per folder (a lock file held from
//! before the run until its reports are in place), and every format written to a temporary file
//! first, then renamed into place, `report.json` last: a folder never holds half of one run's
//! reports next to another's, and `report.json` is there only when the whole set is.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Report, ReportFormat, render};
use crate::error::{Error, Result};

/// The report files, in the order they are listed (JSON first).
pub const FILES: [(&str, ReportFormat); 4] = [
    ("report.json", ReportFormat::Json),
    ("report.md", ReportFormat::Markdown),
    ("report.html", ReportFormat::Html),
    ("report.junit.xml", ReportFormat::Junit),
];

/// The lock file's name inside a report folder.
pub const LOCK_FILE: &str = ".recon.lock";

/// An exclusive lock on a report folder, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct OutLock {
    _lock: crate::atomic::FileLock,
}

impl OutLock {
    /// Creates `dir` if needed and locks it; a folder another run holds is an error naming that
    /// run (its process id and start time, as it wrote them into the lock file).
    pub fn take(dir: &Path) -> Result<Self> {
        match crate::atomic::try_lock(&dir.join(LOCK_FILE))? {
            crate::atomic::TryLock::Held(lock) => Ok(Self { _lock: lock }),
            crate::atomic::TryLock::Busy(holder) => Err(Error::Invalid(format!(
                "{}: another recon run is writing its reports here ({holder}); wait for it or \
                 use another folder",
                dir.display()
            ))),
        }
    }
}

/// Writes every file format into `dir`: each rendered and written to a temporary file in `dir`,
/// then all renamed into place, `report.json` last. Returns the paths, JSON first.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut staged = Vec::with_capacity(FILES.len());
    for (name, format) in FILES {
        let path = dir.join(name);
        let err = |source| Error::Write {
            path: path.clone(),
            source,
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        tmp.write_all(render(report, format)?.as_bytes())
            .map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        staged.push((path, tmp));
    }
    let paths: Vec<PathBuf> = staged.iter().map(|(p, _)| p.clone()).collect();
    // JSON is the contract: it goes in last, so it is never newer than the files beside it.
    staged.rotate_left(1);
    for (path, tmp) in staged {
        tmp.persist(&path).map_err(|e| Error::Write {
            path: path.clone(),
            source: e.error,
        })?;
    }
    Ok(paths)
}

/// After [`write_all`] failed: removes this and any earlier run's report files (so none of them
/// contradicts the run's outcome) and writes what it can of `report` (whose verdict is `error`):
/// at least `report.json`. Best effort; the run's exit code already says it failed.
pub fn write_after_failure(report: &Report, dir: &Path) {
    for (name, _) in FILES {
        let _ = std::fs::remove_file(dir.join(name));
    }
    if let Ok(text) = render(report, ReportFormat::Json) {
        let _ = crate::atomic::write_bytes(&dir.join("report.json"), text.as_bytes());
    }
}
