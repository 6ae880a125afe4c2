//! A run's report folder: a local folder, locked from before the run until its reports are in
//! place and written atomically ([`report::write_all`](crate::report::write_all)), or an
//! object-store URL, the reports written into a local staging folder and uploaded together.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::pool::Workers;
use crate::report::Report;
use crate::report::write::{OutLock, write_after_failure, write_all};
use crate::store::Staged;

/// Where a run's report files go. A local folder is locked when opened (one run at a time
/// writes into it); a URL is not locked.
///
/// ```
/// use recon::{ReportDir, Workers};
///
/// let out = tempfile::tempdir()?;
/// let dir = ReportDir::open(out.path())?;
/// let mut report = recon::Reconciler::from_path("fixtures/erp/recon.toml")?
///     .history(out.path().join("history"))
///     .run()?;
/// let written = dir.write(&mut report, &Workers::new(1)?)?;
/// assert_eq!(written.files[0], out.path().join("report.json"));
/// assert!(written.files.iter().all(|f| f.is_file()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ReportDir {
    dir: PathBuf,
    _lock: Option<OutLock>,
}

/// What [`ReportDir::write`] wrote.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// The report files, `report.json` first (for a URL: their local staging copies, already
    /// uploaded).
    pub files: Vec<PathBuf>,
    /// The folder as it may be shown (a URL without its credentials).
    pub shown: String,
}

/// Why [`ReportDir::write`] wrote nothing whole: the error, already recorded in the report.
#[derive(Debug)]
pub struct WriteFailure(pub Error);

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for WriteFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl ReportDir {
    /// A report folder (creating and locking a local one) or an object-store URL. A local
    /// folder another run holds is an error naming that run.
    pub fn open(dir: &Path) -> Result<Self> {
        let lock = if crate::store::is_remote(&dir.to_string_lossy()) {
            None
        } else {
            Some(OutLock::take(dir)?)
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The folder as it may be shown (a URL without its credentials).
    pub fn shown(&self) -> String {
        crate::store::shown_text(&self.dir.to_string_lossy())
    }

    /// Writes every report file (uploading them for a URL). Reports that cannot be written make
    /// the run's verdict `error` ([`Report::add_error`]): then every report file of this or an
    /// earlier run in a local folder is removed and what can be of `report` written in their
    /// place (at least `report.json`), and the error returned is the one the report now holds.
    pub fn write(
        &self,
        report: &mut Report,
        workers: &Workers,
    ) -> std::result::Result<ReportFiles, WriteFailure> {
        let rt = workers.runtime();
        let shown = self.shown();
        let fail = |report: &mut Report, e: Error, local: Option<&Path>| {
            report.add_error(&e.chain());
            if let Some(dir) = local {
                write_after_failure(report, dir);
            }
            WriteFailure(e)
        };
        let staged = match Staged::new(&self.dir, false, rt) {
            Ok(s) => s,
            Err(e) => {
                return Err(fail(
                    report,
                    Error::failed(format!("--out {shown}"), e),
                    None,
                ));
            }
        };
        let local = staged.local().to_path_buf();
        let files = match write_all(report, &local) {
            Ok(files) => files,
            Err(e) => {
                let e = Error::failed(format!("writing the reports into {}", staged.shown()), e);
                return Err(fail(report, e, Some(&local)));
            }
        };
        if let Err(e) = staged.publish(rt) {
            let e = Error::failed(format!("uploading the reports to {}", staged.shown()), e);
            return Err(fail(report, e, None));
        }
        Ok(ReportFiles {
            files,
            shown: staged.shown(),
        })
    }
}

impl Report {
    /// Makes the run's verdict `error` for `message` (credentials scrubbed), keeping an error
    /// it already had (`first; then message`).
    ///
    /// ```
    /// let mut report = recon::Reconciler::from_path("fixtures/erp/recon.toml")?
    ///     .history(tempfile::tempdir()?.path())
    ///     .run()?;
    /// report.add_error("the disk is full");
    /// assert_eq!(report.verdict, recon::Status::Error);
    /// assert_eq!(report.error.as_deref(), Some("the disk is full"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_error(&mut self, message: &str) {
        let message = crate::store::scrub(message);
        self.error = Some(match self.error.take() {
            Some(first) => format!("{first}; then {message}"),
            None => message,
        });
        self.finish();
    }
}
