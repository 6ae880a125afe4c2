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
//! ```no_run
//! use recon::{config::Config, run::{RunOptions, run_config}};
//! let loaded = Config::load(std::path::Path::new("recon.toml"))?;
//! let report = run_config(&loaded, &RunOptions::default());
//! println!("{}", report.verdict.as_str());
//! # Ok::<(), recon::error::Error>(())
//! ```

pub mod atomic;
pub mod checks;
pub mod cli;
pub mod config;
pub mod diff;
pub mod error;
pub mod gate;
pub mod hash;
pub mod history;
pub mod plan;
pub mod query;
pub mod redact;
pub mod report;
pub mod run;
pub mod side;
pub mod snapshot;
pub mod synth;
pub mod value;

pub use error::{Error, Result};
pub use side::{PerSide, Side};
