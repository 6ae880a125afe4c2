//! recon decides whether a database migration is safe to cut over.
//!
//! The pipeline, in five lines:
//! 1. [`config`]: `recon.toml` names two snapshot roots and the table pairs to compare.
//! 2. [`snapshot`] + [`plan`]: open both snapshots, read Parquet footers, resolve keys, renames,
//!    ignores and how each column pair compares — every input error surfaces here, before heavy work.
//! 3. [`diff`]: hash every row of both sides in parallel over a typed canonical encoding
//!    ([`hash`]), match by key, classify (matched, changed, missing, extra), attribute columns.
//! 4. [`gate`]: thresholds turn findings into a status per table and a verdict.
//! 5. [`report`]: the JSON contract and the human summaries render that one model.
//!
//! ```
//! use recon::reconciler::Reconciler;
//!
//! // The committed ERP fixture: planted drift, so the gate fails.
//! let history = tempfile::tempdir()?;
//! let report = Reconciler::from_path("fixtures/erp/recon.toml")?
//!     .threads(2)
//!     .history(history.path())
//!     .run()?;
//! assert_eq!(report.verdict.as_str(), "fail");
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

pub mod atomic;
pub mod checks;
pub mod cli;
pub mod config;
pub mod decimal;
pub mod diff;
pub mod error;
pub mod export;
pub mod gate;
pub mod hash;
pub mod history;
pub mod init;
pub mod outputs;
pub mod plan;
pub mod pool;
pub mod query;
pub mod reconciler;
pub mod redact;
pub mod report;
pub mod run;
pub mod settings;
pub mod side;
pub mod snapshot;
pub mod spill;
pub mod store;
pub mod synth;
pub mod unpaired;
pub mod value;

pub use error::{Error, Result};
pub use side::{PerSide, Side};
