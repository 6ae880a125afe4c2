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
//! The library's API is what this page lists: the [`Reconciler`] builder (with [`Attribution`]
//! and [`FailOn`]), the config ([`Config`], [`LoadedConfig`]), the report model ([`report`]),
//! errors ([`Error`], [`Result`]) and the snapshot exporter ([`exporter`]). Everything else is
//! the crate's own.
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
#[doc(hidden)]
/// The binary's front end (`src/main.rs` parses and runs it): not part of the library's API.
pub mod cli;
pub(crate) mod config;
pub(crate) mod decimal;
pub(crate) mod diff;
pub(crate) mod error;
pub(crate) mod export;
pub(crate) mod gate;
pub(crate) mod hash;
pub(crate) mod history;
pub(crate) mod init;
pub(crate) mod outputs;
pub(crate) mod plan;
pub(crate) mod pool;
pub(crate) mod query;
pub(crate) mod reconciler;
pub(crate) mod redact;
pub mod report;
pub(crate) mod run;
pub(crate) mod settings;
pub(crate) mod side;
pub(crate) mod snapshot;
pub(crate) mod spill;
pub(crate) mod store;
pub(crate) mod synth;
pub(crate) mod unpaired;
pub(crate) mod value;

pub use config::{Config, LoadedConfig};
pub use diff::Attribution;
pub use error::{Error, Result};
pub use gate::{FailOn, Status};
pub use pool::Workers;
pub use reconciler::Reconciler;
pub use side::{PerSide, Side};

/// The snapshot exporter: a live `PostgreSQL` or `MariaDB/MySQL` database to a Parquet snapshot
/// root, at one consistent point in time, with its [`Manifest`](exporter::Manifest).
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
/// };
/// let manifest = export(&request, &recon::Workers::new(4)?, &NoProgress)?;
/// println!("{} tables", manifest.tables.len());
/// # Ok::<(), recon::Error>(())
/// ```
pub mod exporter {
    pub use crate::export::{
        DEFAULT_LOCK_TIMEOUT, ExportProgress, ExportRequest, Manifest, NoProgress, PartProgress,
        Replace, SourceUrl, export,
    };
}

#[doc(hidden)]
/// What the micro-benchmarks in `benches/` measure: not part of the library's API.
pub mod bench_api {
    pub use crate::diff::merge::merge;
    pub use crate::diff::partition::Entry;
    pub use crate::hash::{Codec, CompareAs, TextOpts, hash_column};
}
