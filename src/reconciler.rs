//! The library's front door: a [`Reconciler`] is a whole reconciliation, configured step by
//! step, that returns the [`Report`]. It runs from synchronous code ([`Reconciler::run`]) and
//! from async code ([`Reconciler::run_async`], which does the work on a thread of its own so that
//! no runtime is blocked or nested).

use std::path::{Path, PathBuf};

use crate::config::{Config, LoadedConfig};
use crate::diff::DiffOptions;
use crate::error::{Error, Result};
use crate::gate::FailOn;
use crate::pool::{Workers, default_threads};
use crate::report::Report;
use crate::run::{RunOptions, run_config};

/// A reconciliation of one config, ready to run.
#[derive(Debug, Clone)]
pub struct Reconciler {
    loaded: LoadedConfig,
    threads: usize,
    fail_on: FailOn,
    only: Vec<String>,
    history: Option<PathBuf>,
    diff: DiffOptions,
}

impl Reconciler {
    /// Reconciles a loaded config, with every core and the config's own settings.
    pub fn new(loaded: LoadedConfig) -> Self {
        Self {
            loaded,
            threads: default_threads(),
            fail_on: FailOn::Fail,
            only: Vec::new(),
            history: None,
            diff: DiffOptions::default(),
        }
    }

    /// Loads `recon.toml` from a path.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        Config::load(path.as_ref()).map(Self::new)
    }

    /// Worker threads for hashing and SQL.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Which verdict the report records as failing the run.
    pub fn fail_on(mut self, fail_on: FailOn) -> Self {
        self.fail_on = fail_on;
        self
    }

    /// Only these table pairs (by name), and the checks that read only them.
    pub fn tables<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.only = names.into_iter().map(Into::into).collect();
        self
    }

    /// The history folder (instead of the config's `[history] dir`).
    pub fn history(mut self, dir: impl Into<PathBuf>) -> Self {
        self.history = Some(dir.into());
        self
    }

    /// Where the legacy side's column digests come from for changed pairs (default: read again).
    pub fn attribution(mut self, attribution: crate::diff::Attribution) -> Self {
        self.diff.attribution = attribution;
        self
    }

    /// The memory budget of the match structure, in bytes.
    pub fn memory_budget(mut self, bytes: usize) -> Self {
        self.diff.memory_budget = bytes;
        self
    }

    /// Writes every differing row's key into `dir/<table>.parquet`.
    pub fn diff_out(mut self, dir: impl Into<PathBuf>) -> Self {
        self.diff.diff_out = Some(dir.into());
        self
    }

    /// Runs on worker threads the caller owns (the binary makes one per process). Never fails: what
    /// could not be decided is in the report, with verdict `error`.
    pub fn run_with(&self, workers: &Workers) -> Report {
        let opts = RunOptions {
            fail_on: self.fail_on,
            diff: self.diff.clone(),
            only: self.only.clone(),
            history: self.history.clone(),
            ..RunOptions::default()
        };
        run_config(&self.loaded, &opts, workers)
    }

    /// Runs on this thread with worker threads of its own. Not for async code (it blocks on its
    /// runtime): use [`Reconciler::run_async`] there. Fails only when the worker threads cannot start.
    pub fn run(&self) -> Result<Report> {
        Ok(self.run_with(&Workers::new(self.threads)?))
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
