//! The library's front door: a [`Reconciler`] is a whole reconciliation, configured step by
//! step, that returns the [`Report`]. It runs from synchronous code ([`Reconciler::run`]) and
//! from async code ([`Reconciler::run_async`], which does the work on a thread of its own so that
//! no runtime is blocked or nested). The binary's `recon run`, `recon diff` and `recon demo` run
//! through it too: with the command line's [`Overrides`], on the process's [`Workers`], telling a
//! [`Progress`] how far hashing got.

use std::path::{Path, PathBuf};

use crate::config::{Config, LoadedConfig};
use crate::diff::Attribution;
use crate::error::{Error, Result};
use crate::gate::FailOn;
use crate::pool::Workers;
use crate::report::Report;
use crate::run::{NoProgress, Progress, RunOptions, error_report, run_config};
use crate::settings::{Overrides, RunSettings};

/// A reconciliation of one config, ready to run. What the builder sets beats the config, which
/// beats the defaults (resolved once, in `RunSettings::resolve`).
///
/// The binary runs it with its flags as [`Overrides`], on worker threads it made once:
///
/// ```
/// use recon::{Overrides, Reconciler, Workers};
///
/// let workers = Workers::new(2)?;
/// let history = tempfile::tempdir()?;
/// let reconciler = Reconciler::from_path("fixtures/erp/recon.toml")?.with_overrides(Overrides {
///     threads: Some(workers.threads()),
///     history: Some(history.path().into()),
///     ..Overrides::default()
/// });
/// // Outputs never go into a snapshot: refused before anything runs.
/// assert!(reconciler.refuse_outputs(&[("--out", "fixtures/erp/legacy/x".as_ref())]).is_err());
/// let report = reconciler.run_with_progress(&workers, &recon::NoProgress);
/// assert_eq!(recon::exit_code(report.verdict, recon::FailOn::Critical), 3); // rollback
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reconciler {
    loaded: LoadedConfig,
    overrides: Overrides,
    whole_snapshots: bool,
}

impl Reconciler {
    /// Reconciles a loaded config, with every core and the config's own settings.
    pub fn new(loaded: LoadedConfig) -> Self {
        Self {
            loaded,
            overrides: Overrides::default(),
            whole_snapshots: true,
        }
    }

    /// Loads `recon.toml` from a path.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        Config::load(path.as_ref()).map(Self::new)
    }

    /// Everything the caller chose at once (the command line's flags), replacing what the
    /// builder's other methods set.
    pub fn with_overrides(mut self, overrides: Overrides) -> Self {
        self.overrides = overrides;
        self
    }

    /// Whether the roots are whole snapshots, whose tables in no pair the report lists (not for
    /// `recon diff`, whose roots are the folders around two tables).
    /// Default: whole snapshots.
    pub fn whole_snapshots(mut self, whole: bool) -> Self {
        self.whole_snapshots = whole;
        self
    }

    /// Worker threads for hashing and SQL (default: every core).
    pub fn threads(mut self, threads: usize) -> Self {
        self.overrides.threads = Some(threads);
        self
    }

    /// Which verdict the report records as failing the run (default: [`FailOn::Critical`]).
    pub fn fail_on(mut self, fail_on: FailOn) -> Self {
        self.overrides.fail_on = Some(fail_on);
        self
    }

    /// Only these table pairs (by name), and the checks that read only them.
    pub fn tables<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.overrides.only = names.into_iter().map(Into::into).collect();
        self
    }

    /// The history folder (instead of the config's `[history] dir`).
    pub fn history(mut self, dir: impl Into<PathBuf>) -> Self {
        self.overrides.history = Some(dir.into());
        self
    }

    /// Where the legacy side's column digests come from for changed pairs (default:
    /// [`Attribution::Auto`], chosen per table from the history's last run).
    pub fn attribution(mut self, attribution: Attribution) -> Self {
        self.overrides.attribution = Some(attribution);
        self
    }

    /// Whether a pair whose two sides are in key order is merged as a stream (default: `true`;
    /// the report is the same either way).
    pub fn key_order(mut self, merge: bool) -> Self {
        self.overrides.key_order = Some(merge);
        self
    }

    /// The memory budget of the match structure, in bytes.
    pub fn memory_budget(mut self, bytes: usize) -> Self {
        self.overrides.memory_budget = Some(bytes);
        self
    }

    /// Sample rows kept per category and table (instead of the config's `[report] samples`).
    pub fn samples(mut self, samples: usize) -> Self {
        self.overrides.samples = Some(samples);
        self
    }

    /// Writes every differing row's key into `dir/<table>.parquet`.
    pub fn diff_out(mut self, dir: impl Into<PathBuf>) -> Self {
        self.overrides.diff_out = Some(dir.into());
        self
    }

    /// The settings this reconciliation runs with.
    pub fn settings(&self) -> RunSettings {
        RunSettings::resolve(&self.overrides, Some(&self.loaded))
    }

    /// The config this reconciliation runs.
    pub fn config(&self) -> &LoadedConfig {
        &self.loaded
    }

    /// Refuses outputs (a report folder, diff files, a history; each named by the option that
    /// chose it) inside either snapshot root of the config: recon never writes into a snapshot.
    pub fn refuse_outputs(&self, outputs: &[(&str, &Path)]) -> Result<()> {
        crate::run::refuse_outputs_in_snapshots(&self.loaded, outputs)
    }

    /// The report of a run whose config could not be loaded: verdict `error`, `error` the
    /// whole cause chain of `error`, the caller's settings recorded as they resolve without a
    /// config.
    pub fn failed(error: &Error, overrides: &Overrides) -> Report {
        let settings = RunSettings::resolve(overrides, None);
        let threads = settings.threads;
        let opts = RunOptions::new(settings, &NoProgress);
        error_report(error.chain(), &opts, None, threads)
    }

    /// Runs on worker threads the caller owns (the binary makes one per process). Never fails: what
    /// could not be decided is in the report, with verdict `error`.
    pub fn run_with(&self, workers: &Workers) -> Report {
        self.run_with_progress(workers, &NoProgress)
    }

    /// Runs on worker threads the caller owns, telling `progress` how far hashing got. Never
    /// fails, as [`Reconciler::run_with`].
    pub fn run_with_progress(&self, workers: &Workers, progress: &dyn Progress) -> Report {
        let opts = RunOptions {
            account_unpaired: self.whole_snapshots,
            ..RunOptions::new(self.settings(), progress)
        };
        run_config(&self.loaded, &opts, workers)
    }

    /// Runs on this thread with worker threads of its own. Not for async code (it blocks on its
    /// runtime): use [`Reconciler::run_async`] there. Fails only when the worker threads cannot start.
    pub fn run(&self) -> Result<Report> {
        Ok(self.run_with(&Workers::new(self.settings().threads)?))
    }

    /// Runs on a thread of its own and awaits the report: for async callers, whatever runtime
    /// they are on.
    pub async fn run_async(self) -> Result<Report> {
        let (tx, rx) = futures::channel::oneshot::channel();
        std::thread::Builder::new()
            .name("recon-reconciler".into())
            .spawn(move || {
                let _ = tx.send(self.run());
            })
            .map_err(|e| Error::failed("cannot start the reconciling thread", e))?;
        rx.await.map_err(|_| {
            Error::Internal("the reconciling thread stopped without a report".into())
        })?
    }
}
