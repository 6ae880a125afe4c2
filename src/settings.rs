//! A run's settings, resolved once: what the caller chose (command-line flags or the
//! `Reconciler`'s builder) over what the config says over the
//! built-in defaults. Everything downstream reads the resolved [`RunSettings`] and changes none
//! of it. Every command of the binary resolves its settings here, those that do not reconcile
//! included (their worker threads).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{DailyAt, LoadedConfig, parse_every, parse_listen};
use crate::diff::{Attribution, DiffOptions};
use crate::error::{Error, Result};
use crate::gate::FailOn;

/// What a caller chose for one run; `None` (or empty) leaves the setting to the config or the
/// default.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Worker threads for hashing and SQL (default: every core).
    pub threads: Option<usize>,
    /// Which verdict fails the run (default: `fail`).
    pub fail_on: Option<FailOn>,
    /// Only these table pairs, by name (default: every pair).
    pub only: Vec<String>,
    /// The history folder (over the config's `[history] dir`; default: none).
    pub history: Option<PathBuf>,
    /// The match structure's memory budget in bytes (default: from the memory available).
    pub memory_budget: Option<usize>,
    /// Where the legacy side's column digests come from (default: [`Attribution::default`]).
    pub attribution: Option<Attribution>,
    /// Whether pairs in key order on both sides are merged as a stream (default: yes).
    pub key_order: Option<bool>,
    /// Sample rows kept per category (over the config's `[report] samples`).
    pub samples: Option<usize>,
    /// Where every differing row's key is written (default: nowhere).
    pub diff_out: Option<PathBuf>,
    /// Where spill and digest files go (default: the system temp folder).
    pub temp_dir: Option<PathBuf>,
    /// Where pairs are reconciled: `Some(url)` a Ballista scheduler, `Some("")` here whatever the
    /// config's `[cluster]` says (default: the config's, else here).
    pub cluster: Option<String>,
}

/// The settings a run uses, each decided once by [`RunSettings::resolve`].
///
/// ```
/// use recon::{Overrides, RunSettings};
///
/// let loaded = recon::Config::load("fixtures/erp/recon.toml".as_ref())?;
/// let chosen = Overrides { threads: Some(2), history: Some("runs".into()), ..Overrides::default() };
/// let settings = RunSettings::resolve(&chosen, Some(&loaded));
/// assert_eq!(settings.threads(), 2);
/// assert_eq!(settings.history(), Some(std::path::Path::new("runs")));
/// # Ok::<(), recon::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Worker threads for hashing and SQL.
    pub(crate) threads: usize,
    /// Which verdict fails the run (recorded in the report).
    pub(crate) fail_on: FailOn,
    /// Only these table pairs, by name, when not empty.
    pub(crate) only: Vec<String>,
    /// The history folder, if the run keeps one (a local path or a URL).
    pub(crate) history: Option<PathBuf>,
    /// What the engine is given: memory budget, samples, diff-out, attribution, and whether it
    /// keeps every differing key (exactly when the run keeps a history).
    pub(crate) diff: DiffOptions,
    /// The scheduler of the cluster pairs are reconciled on (`df://HOST:PORT`), if any.
    pub(crate) cluster: Option<String>,
}

impl RunSettings {
    /// Resolves every setting: the caller's choice over the config's over the default. Without a
    /// config (one that could not be loaded), the caller's choices over the defaults.
    pub fn resolve(overrides: &Overrides, loaded: Option<&LoadedConfig>) -> Self {
        let defaults = DiffOptions::default();
        let history = overrides.history.clone().or_else(|| {
            loaded.and_then(|l| {
                l.config
                    .history
                    .as_ref()
                    .map(|h| crate::store::resolve(&h.dir, &l.base_dir))
            })
        });
        let samples = overrides
            .samples
            .or_else(|| loaded.map(|l| l.config.report.samples))
            .unwrap_or(defaults.samples);
        Self {
            threads: threads(overrides.threads),
            fail_on: overrides.fail_on.unwrap_or(FailOn::Critical),
            only: overrides.only.clone(),
            diff: DiffOptions {
                memory_budget: overrides.memory_budget.unwrap_or(defaults.memory_budget),
                samples,
                diff_out: overrides.diff_out.clone(),
                temp_dir: overrides.temp_dir.clone().or(defaults.temp_dir),
                keep_keys: history.is_some(),
                attribution: overrides.attribution.unwrap_or(defaults.attribution),
                key_order: overrides.key_order.unwrap_or(defaults.key_order),
                previous_changed: None,
                #[cfg(feature = "cluster")]
                remote: None,
            },
            history,
            cluster: match &overrides.cluster {
                Some(url) => Some(url.clone()).filter(|u| !u.is_empty()),
                None => loaded.and_then(|l| l.config.cluster.as_ref().map(|c| c.url.clone())),
            },
        }
    }
}

impl RunSettings {
    /// Worker threads for hashing and SQL.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Which verdict fails the run.
    pub fn fail_on(&self) -> FailOn {
        self.fail_on
    }

    /// Only these table pairs, by name, when not empty.
    pub fn only(&self) -> &[String] {
        &self.only
    }

    /// The history folder, if the run keeps one (a local path or a URL; a config's relative
    /// `[history] dir` resolved against the config's folder).
    pub fn history(&self) -> Option<&std::path::Path> {
        self.history.as_deref()
    }

    /// The scheduler of the cluster pairs are reconciled on, if any.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// The match structures' memory budget in bytes.
    pub fn memory_budget(&self) -> usize {
        self.diff.memory_budget
    }

    /// Sample rows kept per category and table.
    pub fn samples(&self) -> usize {
        self.diff.samples
    }
}

/// Worker threads: the caller's choice (at least one), or every core.
fn threads(chosen: Option<usize>) -> usize {
    chosen.unwrap_or_else(crate::pool::default_threads).max(1)
}

/// What a caller chose for `recon watch`; `None` leaves the setting to the config's `[watch]` or
/// the default.
#[derive(Debug, Clone, Default)]
pub struct WatchOverrides {
    /// The interval between runs (`--every`).
    pub every: Option<Duration>,
    /// Runs kept (`--keep`).
    pub keep: Option<usize>,
    /// Where to serve `/metrics`, `/healthz` and the latest report (`--listen`).
    pub listen: Option<SocketAddr>,
    /// The runs' folder (`--out`).
    pub out: Option<PathBuf>,
}

/// `recon watch`'s settings, each decided once by [`WatchSettings::resolve`]: the caller's
/// choice over the config's `[watch]` over the default.
///
/// ```
/// use std::time::Duration;
/// use recon::{WatchOverrides, WatchSettings};
///
/// let loaded = recon::Config::load("fixtures/erp/recon.toml".as_ref())?;
/// let chosen = WatchOverrides { every: Some(Duration::from_secs(60)), ..WatchOverrides::default() };
/// let settings = WatchSettings::resolve(&chosen, &recon::Overrides::default(), &loaded)?;
/// assert_eq!(settings.every, Duration::from_secs(60));
/// assert_eq!(settings.keep, 96);
/// assert_eq!(settings.out, loaded.base_dir.join("watch"));
/// // The config's `[history] dir`; without one, `history/` in the runs' folder.
/// assert_eq!(settings.history, loaded.base_dir.join("history"));
/// # Ok::<(), recon::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// The interval between runs (runs start at whole multiples of it since the Unix epoch).
    pub every: Duration,
    /// Runs whose reports are kept (at least one).
    pub keep: usize,
    /// Where to serve, if anywhere.
    pub listen: Option<SocketAddr>,
    /// The runs' folder: `runs/<timestamp>/` per run and `latest`.
    pub out: PathBuf,
    /// The history folder: the caller's or the config's, else `history/` in the runs' folder.
    pub history: PathBuf,
    /// When the daily summary is due, if one is.
    pub daily_summary: Option<DailyAt>,
}

/// Runs kept when neither the caller nor the config says: a day at 15 minutes.
pub const DEFAULT_KEEP: usize = 96;

impl WatchSettings {
    /// Resolves every setting of `recon watch`; `run` is what the caller chose for each run
    /// (its history folder wins over the config's). Fails when no interval is given anywhere.
    pub fn resolve(
        chosen: &WatchOverrides,
        run: &Overrides,
        loaded: &LoadedConfig,
    ) -> Result<Self> {
        let file = loaded.config.watch.clone().unwrap_or_default();
        let invalid =
            |m: String| Error::Invalid(format!("[watch] in {}: {m}", loaded.path.display()));
        let every = match chosen.every {
            Some(e) => e,
            None => match &file.every {
                Some(text) => parse_every(text).map_err(invalid)?,
                None => {
                    return Err(Error::Invalid(
                        "recon watch needs an interval: --every 15m or `every` under [watch]"
                            .into(),
                    ));
                }
            },
        };
        let listen = match (chosen.listen, &file.listen) {
            (Some(l), _) => Some(l),
            (None, Some(text)) => Some(parse_listen(text).map_err(invalid)?),
            (None, None) => None,
        };
        let daily_summary = file
            .daily_summary
            .as_deref()
            .map(DailyAt::parse)
            .transpose()
            .map_err(invalid)?;
        let out = chosen.out.clone().unwrap_or_else(|| {
            let dir = file.out.as_deref().unwrap_or("watch");
            crate::store::resolve(dir, &loaded.base_dir)
        });
        let history = RunSettings::resolve(run, Some(loaded))
            .history
            .unwrap_or_else(|| out.join("history"));
        Ok(Self {
            every,
            keep: chosen.keep.or(file.keep).unwrap_or(DEFAULT_KEEP).max(1),
            listen,
            out,
            history,
            daily_summary,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(toml: &str) -> LoadedConfig {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("recon.toml");
        std::fs::write(&path, toml).expect("write config");
        crate::config::Config::load(&path).expect("config loads")
    }

    const CONFIG: &str = r#"
[legacy]
root = "legacy"
[target]
root = "target"
[report]
samples = 4
[history]
dir = "hist"
[[tables]]
name = "orders"
key = ["id"]
"#;

    #[test]
    fn a_callers_samples_and_diff_out_survive_the_config() {
        let l = loaded(CONFIG);
        let chosen = Overrides {
            samples: Some(2),
            diff_out: Some(PathBuf::from("out/diff")),
            history: Some(PathBuf::from("elsewhere")),
            ..Overrides::default()
        };
        let s = RunSettings::resolve(&chosen, Some(&l));
        assert_eq!(s.diff.samples, 2);
        assert_eq!(s.diff.diff_out, Some(PathBuf::from("out/diff")));
        assert_eq!(s.history, Some(PathBuf::from("elsewhere")));
        assert!(s.diff.keep_keys, "a run with a history keeps its keys");
    }

    #[test]
    fn the_config_beats_the_defaults_where_the_caller_chose_nothing() {
        let l = loaded(CONFIG);
        let s = RunSettings::resolve(&Overrides::default(), Some(&l));
        assert_eq!(s.diff.samples, 4);
        assert_eq!(s.history, Some(l.base_dir.join("hist")));
        assert!(s.diff.keep_keys);
        assert_eq!(s.diff.diff_out, None);
    }

    #[test]
    fn without_choice_or_config_every_setting_is_the_default() {
        let s = RunSettings::resolve(&Overrides::default(), None);
        let d = DiffOptions::default();
        assert_eq!(s.diff.samples, d.samples);
        assert_eq!(s.diff.memory_budget, d.memory_budget);
        assert_eq!(s.diff.attribution, Attribution::default());
        assert_eq!(s.fail_on, FailOn::Critical);
        assert!(s.history.is_none() && !s.diff.keep_keys);
        assert!(s.threads >= 1);
    }
}
