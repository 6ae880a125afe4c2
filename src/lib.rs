//! recon decides whether a database migration is safe to cut over.
//!
//! The pipeline, in five lines:
//! 1. `config`: `recon.toml` names two snapshot roots and the table pairs to compare.
//! 2. `snapshot` + `plan`: open both snapshots, read Parquet footers, resolve keys, renames,
//!    ignores and how each column pair compares — every input error surfaces here, before heavy work.
//! 3. `diff`: hash every row of both sides in parallel over a typed canonical encoding
//!    (`hash`), match by key, classify (matched, changed, missing, extra), attribute columns.
//! 4. `gate`: thresholds turn findings into a status per table and a verdict.
//! 5. [`report`]: the JSON contract and the human summaries render that one model.
//!
//! The library's API is what this page lists, and the `recon` binary is built on it alone:
//! - reconciling: the [`Reconciler`] builder (with [`Attribution`] and [`FailOn`]), its settings
//!   ([`Overrides`], resolved once into [`RunSettings`]), hashing [`Progress`], and the
//!   [`Workers`] threads a caller may share between runs;
//! - the config: [`Config`], [`LoadedConfig`] and every type of their fields ([`config`]);
//! - the report: its model, each format's rendering and the atomic writing of its files
//!   ([`report`]), and the report folder of a run, local or an object-store URL ([`ReportDir`]);
//!   [`exit_code`] maps a verdict to the binary's exit code;
//! - errors: [`Error`] (with [`Error::chain`], the whole cause chain on one line) and [`Result`];
//! - the snapshot exporter ([`exporter`]), a starter config from two snapshots ([`init`]), SQL
//!   over both snapshots ([`query`]), the history of past runs ([`history`]) and a synthetic
//!   migration with planted drift ([`demo`]);
//! - monitoring: notifications after a run ([`notify`]), a run's Prometheus metrics, written for
//!   a textfile collector or pushed to a Pushgateway ([`metrics`]), and the parts of `recon
//!   watch` ([`watch`], with its settings in [`WatchSettings`]);
//! - with the `cluster` feature, the roles of a Ballista cluster and its client (`cluster`).
//!
//! Everything else is the crate's own.
//!
//! ```
//! use recon::Reconciler;
//!
//! // The committed ERP fixture: planted drift, so the gate fails.
//! let history = tempfile::tempdir()?;
//! let report = Reconciler::from_path("fixtures/erp/recon.toml")?
//!     .threads(2)
//!     .history(history.path())
//!     .run()?;
//! assert_eq!(report.verdict.as_str(), "rollback");
//!
//! // From async code, on any runtime: the work runs on a thread of its own.
//! let runtime = tokio::runtime::Runtime::new()?;
//! let again = runtime.block_on(
//!     Reconciler::from_path("fixtures/erp/recon.toml")?
//!         .history(history.path())
//!         .run_async(),
//! )?;
//! assert_eq!(again.tables.len(), report.tables.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The config is plain data, loaded and validated once ([`Config::load`]):
//!
//! ```
//! let loaded: recon::LoadedConfig = recon::Config::load("fixtures/erp/recon.toml".as_ref())?;
//! assert!(!loaded.config.tables.is_empty());
//! let report = recon::Reconciler::new(loaded)
//!     .tables(["customers"])
//!     .samples(3)
//!     .history(tempfile::tempdir()?.path())
//!     .run()?;
//! assert_eq!(report.tables.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every failure is one [`Error`], whose variants say what failed and where:
//!
//! ```
//! let missing = recon::Config::load("no/such/recon.toml".as_ref());
//! assert!(matches!(missing, Err(recon::Error::Config { .. })));
//! ```

pub(crate) mod atomic;
pub(crate) mod checks;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod config;
pub(crate) mod decimal;
pub(crate) mod diff;
pub mod error;
pub(crate) mod export;
pub(crate) mod gate;
pub(crate) mod hash;
pub mod history;
pub mod init;
pub mod metrics;
pub mod notify;
pub(crate) mod outputs;
pub(crate) mod plan;
pub(crate) mod pool;
pub mod query;
pub(crate) mod reconciler;
pub(crate) mod redact;
pub mod report;
pub(crate) mod report_dir;
pub(crate) mod run;
pub(crate) mod settings;
pub(crate) mod side;
pub(crate) mod snapshot;
pub(crate) mod spill;
pub(crate) mod store;
pub(crate) mod synth;
pub(crate) mod unpaired;
pub(crate) mod value;
pub mod watch;

pub use config::{Config, LoadedConfig};
pub use diff::Attribution;
pub use error::{Error, Result};
pub use gate::{FailOn, Status, exit_code};
pub use pool::Workers;
pub use reconciler::Reconciler;
pub use report_dir::{ReportDir, ReportFiles, WriteFailure};
pub use run::{NoProgress, Progress};
pub use settings::{Overrides, RunSettings, WatchOverrides, WatchSettings};
pub use side::{PerSide, Side};
pub use store::scrub as scrub_credentials;

/// The snapshot exporter: a live `PostgreSQL` or `MariaDB/MySQL` database to a Parquet snapshot
/// root, at one consistent point in time, with its [`Manifest`](exporter::Manifest); the
/// requests of a config's sides that name a `url` ([`config_requests`](exporter::config_requests));
/// and back again, a snapshot loaded into a database of its own ([`load`](exporter::load)).
///
/// ```no_run
/// use recon::exporter::{ExportRequest, NoProgress, Replace, SourceUrl, export};
///
/// let request = ExportRequest {
///     source: SourceUrl::parse("postgres://recon@127.0.0.1:5432/erp")?,
///     out: "snapshots/legacy".into(),
///     tables: Vec::new(),
///     schema: None,
///     casts: Vec::new(),
///     jobs: 4,
///     replace: Replace::Snapshot,
///     lock_timeout: recon::exporter::DEFAULT_LOCK_TIMEOUT,
///     key_order: recon::exporter::KeyOrdering::Auto,
///     keys: Default::default(),
/// };
/// let manifest = export(&request, &recon::Workers::new(4)?, &NoProgress)?;
/// println!("{} tables", manifest.tables.len());
/// # Ok::<(), recon::Error>(())
/// ```
pub mod exporter {
    pub use crate::export::load::load;
    pub use crate::export::manifest::{
        ColumnManifest, Consistency, SkippedTable, Source, TableManifest,
    };
    pub use crate::export::requests::{config_requests, out_folder, parse_cast};
    pub use crate::export::{
        DEFAULT_LOCK_TIMEOUT, ExportProgress, ExportRequest, ForeignKey, KeyOrdering, Manifest,
        NoProgress, PartProgress, Replace, SourceUrl, export,
    };
}

/// A synthetic migration of a workshop ERP: both snapshots with drift of every kind planted at
/// known rows, a matching `recon.toml`, and the [`Truth`](demo::Truth) a correct reconciliation
/// reports (also written as `truth.json`). Every value is a pure function of the seed.
///
/// ```
/// use recon::demo::{GenOptions, Profile, generate};
///
/// let dir = tempfile::tempdir()?;
/// let truth = generate(
///     dir.path(),
///     &GenOptions { rows: 200, seed: 42, profile: Profile::Erp, row_group: 64 },
/// )?;
/// let report = recon::Reconciler::from_path(dir.path().join("recon.toml"))?
///     .threads(2)
///     .history(dir.path().join("history"))
///     .run()?;
/// for table in &report.tables {
///     assert_eq!(table.changed, truth.tables[&table.name].changed, "{}", table.name);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub mod demo {
    pub use crate::synth::{GenOptions, Profile, TableTruth, Truth, generate};
}

#[doc(hidden)]
/// What the micro-benchmarks in `benches/` and the binary's hidden `decode-floor` command
/// measure: not part of the library's API.
pub mod bench_api {
    pub use crate::diff::merge::merge;
    pub use crate::diff::partition::Entry;

    /// How the match structure sorts a partition of entries with digest (composite or text)
    /// keys.
    pub fn sort_digest_entries(entries: &mut [Entry<u128>]) {
        <u128 as crate::diff::partition::Key>::sort(entries);
    }
    pub use crate::hash::{Codec, CompareAs, TextOpts, hash_column};

    /// Every table pair of a config, resolved as a run resolves them (what
    /// [`decode_floor`] reads).
    pub struct Plans(Vec<crate::plan::PairPlan>);

    /// Resolves every table pair of a config.
    pub fn resolve(loaded: &crate::LoadedConfig, workers: &crate::Workers) -> crate::Result<Plans> {
        crate::run::resolve_all(loaded, workers).map(Plans)
    }

    /// The decode floor: both sides' needed columns of every pair decoded once with the reader
    /// a run uses, on the workers' pool. Returns the rows read.
    pub fn decode_floor(plans: &Plans, workers: &crate::Workers) -> crate::Result<u64> {
        let pool = workers.pool();
        let mut rows = 0;
        for p in &plans.0 {
            rows += pool.install(|| crate::diff::scan::decode_floor(p))?;
        }
        Ok(rows)
    }
}
