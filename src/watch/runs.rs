//! The runs' folder of `recon watch`: each run's reports in `runs/<timestamp>/`, written into a
//! hidden `runs/.partial-<timestamp>/` and renamed into place only when complete, so no folder
//! under `runs/` ever holds a partial report; `latest` points to the newest complete run; only
//! the newest `keep` runs are kept.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

/// The prefix of a run's folder while it is being written.
const PARTIAL: &str = ".partial-";

/// A run moved into place by [`RunFolders::commit`].
#[derive(Debug)]
pub struct Committed {
    /// The run's folder, `runs/<timestamp>/`.
    pub dir: PathBuf,
    /// What went wrong after the run was in place (`latest` not updated, old runs not
    /// deleted): worth a warning, not the run's end.
    pub warnings: Vec<Error>,
}

/// The runs' folder of a watch.
#[derive(Debug, Clone)]
pub struct RunFolders {
    out: PathBuf,
}

impl RunFolders {
    /// Opens (creating) `<out>/runs/`, removing what abandoned runs left.
    pub fn open(out: &Path) -> Result<Self> {
        let runs = out.join("runs");
        std::fs::create_dir_all(&runs).map_err(|source| Error::Write {
            path: runs.clone(),
            source,
        })?;
        let folders = Self {
            out: out.to_path_buf(),
        };
        let latest = folders.latest();
        if std::fs::symlink_metadata(&latest).is_ok_and(|m| !m.file_type().is_symlink()) {
            return Err(Error::Invalid(format!(
                "{} exists and is not a link: recon watch points it to the newest run; move it \
                 away or choose another folder",
                latest.display()
            )));
        }
        for entry in read_dir(&runs)? {
            if entry.file_name().to_string_lossy().starts_with(PARTIAL) {
                folders.abandon(&entry.path());
            }
        }
        Ok(folders)
    }

    /// `<out>/runs`.
    pub fn runs_dir(&self) -> PathBuf {
        self.out.join("runs")
    }

    /// `<out>/latest`: the newest complete run (a symbolic link to it).
    pub fn latest(&self) -> PathBuf {
        self.out.join("latest")
    }

    /// The folder a run started at `started` writes into, until [`commit`](Self::commit).
    pub fn begin(&self, started: DateTime<Utc>) -> Result<PathBuf> {
        let path = self.runs_dir().join(format!("{PARTIAL}{}", stamp(started)));
        std::fs::create_dir_all(&path).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Moves a complete run into place as `runs/<timestamp>/`, points `latest` to it and
    /// deletes the oldest runs past `keep`. Fails only when the run cannot be moved into place;
    /// `latest` or retention failing leaves the run in place and is in [`Committed::warnings`].
    pub fn commit(&self, partial: &Path, started: DateTime<Utc>, keep: usize) -> Result<Committed> {
        let base = stamp(started);
        let mut name = base.clone();
        let mut n = 1;
        while self.runs_dir().join(&name).exists() {
            n += 1;
            name = format!("{base}-{n}");
        }
        let done = self.runs_dir().join(&name);
        let write = |path: &Path, source| Error::Write {
            path: path.to_path_buf(),
            source,
        };
        std::fs::rename(partial, &done).map_err(|e| write(&done, e))?;
        let warnings = [self.point_latest(&name), self.prune(keep, &done)]
            .into_iter()
            .filter_map(Result::err)
            .collect();
        Ok(Committed {
            dir: done,
            warnings,
        })
    }

    /// Removes a run that will not complete (best effort: it is hidden either way).
    pub fn abandon(&self, partial: &Path) {
        // A writer that is still running may add a file between two attempts.
        for _ in 0..5 {
            if std::fs::remove_dir_all(partial).is_ok() || !partial.exists() {
                return;
            }
        }
    }

    /// The complete runs' folders, oldest first: only folders named as recon names a run's
    /// (anything else in `runs/` is someone else's and left alone).
    pub fn complete(&self) -> Result<Vec<PathBuf>> {
        let mut runs: Vec<PathBuf> = read_dir(&self.runs_dir())?
            .into_iter()
            .filter(|e| is_run_name(&e.file_name().to_string_lossy()))
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        runs.sort();
        Ok(runs)
    }

    /// Deletes the oldest complete runs past `keep`, never `newest` (the run just committed,
    /// which sorts before older runs when the clock stepped back).
    fn prune(&self, keep: usize, newest: &Path) -> Result<()> {
        let others: Vec<PathBuf> = self
            .complete()?
            .into_iter()
            .filter(|r| r != newest)
            .collect();
        let extra = others.len().saturating_sub(keep.max(1) - 1);
        for old in &others[..extra] {
            std::fs::remove_dir_all(old).map_err(|source| Error::Write {
                path: old.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Replaces `latest` with a link to `runs/<name>` (a new link renamed over the old one, so
    /// `latest` always resolves).
    fn point_latest(&self, name: &str) -> Result<()> {
        let latest = self.latest();
        let fresh = self.out.join(".latest.new");
        let _ = std::fs::remove_file(&fresh);
        let target = Path::new("runs").join(name);
        let err = |source| Error::Write {
            path: latest.clone(),
            source,
        };
        link(&target, &fresh).map_err(err)?;
        std::fs::rename(&fresh, &latest).map_err(err)
    }
}

#[cfg(unix)]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(windows)]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, at)
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let err = |source| Error::Write {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::read_dir(dir)
        .map_err(err)?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(err)
}

/// A run's folder name: its start, sortable, without characters file systems refuse.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Whether `name` is one [`RunFolders::commit`] gives: `YYYYMMDDTHHMMSSZ`, optionally followed
/// by `-N`.
fn is_run_name(name: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (base, n) = match name.split_once('-') {
        Some((base, n)) => (base, Some(n)),
        None => (name, None),
    };
    let stamp_ok = base.len() == 16
        && base.is_ascii()
        && digits(&base[..8], 8)
        && base.as_bytes()[8] == b'T'
        && digits(&base[9..15], 6)
        && base.ends_with('Z');
    stamp_ok && n.is_none_or(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_appear_whole_latest_follows_and_retention_keeps_the_newest() {
        let dir = tempfile::tempdir().expect("temp");
        let folders = RunFolders::open(dir.path()).expect("open");
        let mut last = PathBuf::new();
        for i in 0..4 {
            let started = DateTime::from_timestamp(1_765_000_000 + i * 60, 0).expect("time");
            let partial = folders.begin(started).expect("begin");
            assert!(
                folders.complete().expect("list").len() <= 2,
                "a partial run is not listed"
            );
            std::fs::write(partial.join("report.json"), format!("{i}")).expect("write");
            last = folders.commit(&partial, started, 2).expect("commit").dir;
        }
        let kept = folders.complete().expect("list");
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[1], last);
        let latest = std::fs::read_to_string(folders.latest().join("report.json")).expect("latest");
        assert_eq!(latest, "3");
    }

    #[test]
    fn retention_leaves_foreign_folders_and_never_the_run_just_committed() {
        let dir = tempfile::tempdir().expect("temp");
        let folders = RunFolders::open(dir.path()).expect("open");
        let foreign = [
            "notes",
            "2026-backup",
            "20260301T101500Z.old",
            "00000000T000000Z-x",
        ];
        for name in foreign {
            std::fs::create_dir(folders.runs_dir().join(name)).expect("foreign folder");
        }
        let late = DateTime::from_timestamp(1_765_000_600, 0).expect("time");
        for i in 0..3 {
            let started = late + chrono::Duration::seconds(i);
            let partial = folders.begin(started).expect("begin");
            folders.commit(&partial, started, 2).expect("commit");
        }
        // The clock stepped back: the new run sorts first, and is kept all the same.
        let early = DateTime::from_timestamp(1_765_000_000, 0).expect("time");
        let partial = folders.begin(early).expect("begin");
        let kept = folders.commit(&partial, early, 2).expect("commit");
        assert!(kept.warnings.is_empty(), "{:?}", kept.warnings);
        assert!(kept.dir.exists(), "the run just committed is kept");
        assert_eq!(folders.complete().expect("list").len(), 2);
        for name in foreign {
            assert!(
                folders.runs_dir().join(name).is_dir(),
                "{name} is not recon's"
            );
        }
    }

    #[test]
    fn a_latest_that_is_not_a_link_is_refused_and_one_that_breaks_is_a_warning() {
        let dir = tempfile::tempdir().expect("temp");
        std::fs::create_dir_all(dir.path().join("latest")).expect("a real folder");
        let err = RunFolders::open(dir.path()).expect_err("refused");
        assert!(err.to_string().contains("not a link"), "{err}");
        std::fs::remove_dir(dir.path().join("latest")).expect("remove");
        let folders = RunFolders::open(dir.path()).expect("open");
        // Made a real folder while the watch runs: the run is kept, `latest` is a warning.
        std::fs::create_dir_all(dir.path().join("latest/x")).expect("a real folder");
        let started = Utc::now();
        let partial = folders.begin(started).expect("begin");
        let kept = folders.commit(&partial, started, 5).expect("commit");
        assert!(kept.dir.is_dir());
        assert_eq!(kept.warnings.len(), 1, "{:?}", kept.warnings);
    }

    #[test]
    fn run_names_are_recons_only() {
        assert!(is_run_name("20260301T101500Z"));
        assert!(is_run_name("20260301T101500Z-2"));
        for name in [
            "",
            "notes",
            "20260301T101500Z-",
            "20260301T101500",
            "2026030xT101500Z",
            "2026030\u{e9}T10150Z",
        ] {
            assert!(!is_run_name(name), "{name}");
        }
        assert!(!is_run_name(".partial-20260301T101500Z"));
    }

    #[test]
    fn what_an_abandoned_run_left_is_removed_on_open() {
        let dir = tempfile::tempdir().expect("temp");
        let folders = RunFolders::open(dir.path()).expect("open");
        let partial = folders.begin(Utc::now()).expect("begin");
        std::fs::write(partial.join("report.json"), "{").expect("write");
        RunFolders::open(dir.path()).expect("reopen");
        assert!(!partial.exists());
        assert!(folders.complete().expect("list").is_empty());
    }
}
