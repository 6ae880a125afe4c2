//! The report model: one [`Report`] per run, rendered by every format. The JSON form is the
//! contract (`schema_version` 1, sorted keys); the human formats only lay out the same data.

pub mod details;
pub mod escape;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod terminal;
pub mod write;

pub use write::write_all;

pub(crate) use terminal::{percent, thousands};

pub use crate::diff::result::{
    ChangedSample, ColumnDrift, DiffKey, KeySample, Samples, TableDiff, TableHistory, TableReport,
    TrendPoint,
};

use serde::Serialize;

use crate::gate::{FailOn, Status};
use crate::side::Side;

/// The formats a report renders to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// The terminal summary.
    Terminal,
    /// The JSON contract.
    Json,
    /// Markdown for PR comments and CI step summaries.
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// `JUnit` XML for CI test reporters.
    Junit,
}

/// Renders a report in one format (terminal without colors).
pub fn render(report: &Report, format: ReportFormat) -> crate::Result<String> {
    Ok(match format {
        ReportFormat::Terminal => terminal::render(report, terminal::Style { color: false }),
        ReportFormat::Json => json::render(report)?,
        ReportFormat::Markdown => markdown::render(report),
        ReportFormat::Html => html::render(report)?,
        ReportFormat::Junit => junit::render(report)?,
    })
}

/// Version of the JSON report layout.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Layout version of this document.
    pub schema_version: u32,
    /// Version of the canonical encoding and hashes.
    pub hash_version: u32,
    /// The tool that wrote it.
    pub tool: Tool,
    /// Run metadata (the audit trail).
    pub run: RunMeta,
    /// Every input read: path, files, bytes, rows.
    pub inputs: Vec<Input>,
    /// `pass`, `warn`, `fail` or `error`.
    pub verdict: Status,
    /// Why the verdict is `error`, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Counts of tables by status.
    pub summary: Summary,
    /// One entry per table pair, in config order.
    pub tables: Vec<TableReport>,
    /// Tables of either snapshot that are in no pair, so not reconciled, by side and name; their
    /// status comes from `[gate] unpaired_tables`. Left out when every table is in a pair.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpaired_tables: Vec<UnpairedTable>,
    /// SQL checks, in config order, then golden queries by name.
    pub checks: Vec<crate::checks::CheckReport>,
}

/// Tool identity.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    /// Always `recon`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Self {
            name: "recon".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// When and how the run happened.
#[derive(Debug, Clone, Serialize)]
pub struct RunMeta {
    /// RFC 3339 start time (UTC).
    pub started_at: String,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// The config file, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    /// xxh3-128 of the config file's bytes (or of the quick-mode arguments).
    pub config_digest: String,
    /// Worker threads.
    pub threads: usize,
    /// Bytes the match structures of each pair may use before they spill to disk.
    pub memory_budget: u64,
    /// Which verdicts exit non-zero.
    pub fail_on: FailOn,
    /// Where the redaction key came from (`env`, `file`, `history`, `per_run`), when a column is
    /// redacted. With `per_run`, digests do not match other runs' digests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redaction_key: Option<&'static str>,
}

/// One input of the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    /// Which side.
    pub side: Side,
    /// The table (or the pair's name for a SQL side).
    pub table: String,
    /// The snapshot root it came from.
    pub root: String,
    /// The files read, relative to the root where possible.
    pub files: Vec<String>,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Rows, from the footers.
    pub rows: u64,
}

/// A table of a snapshot that no pair reads: not reconciled.
#[derive(Debug, Clone, Serialize)]
pub struct UnpairedTable {
    /// Which snapshot holds it.
    pub side: Side,
    /// Its name in that snapshot.
    pub table: String,
    /// Rows, from the footers.
    pub rows: u64,
    /// What `[gate] unpaired_tables` makes of it: `pass`, `warn` or `fail`.
    pub status: Status,
}

/// Counts of tables and of checks by status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Tables by status.
    pub tables: StatusCounts,
    /// Checks by status.
    pub checks: StatusCounts,
}

/// How many results have each status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusCounts {
    /// Tables that passed.
    pub pass: usize,
    /// Tables that warned.
    pub warn: usize,
    /// Tables that failed.
    pub fail: usize,
    /// Tables that could not be decided.
    pub error: usize,
}

impl TableReport {
    /// The row figures every format shows, in order: legacy, target, matched, changed, missing,
    /// extra (thousands-separated), drift (percent).
    pub fn figures(&self) -> [String; 7] {
        [
            thousands(self.legacy_rows),
            thousands(self.target_rows),
            thousands(self.matched),
            thousands(self.changed),
            thousands(self.missing),
            thousands(self.extra),
            percent(self.drift_ratio),
        ]
    }
}

impl Report {
    /// Recomputes the summary and the verdict from the tables and checks (and an error, if any).
    pub fn finish(&mut self) {
        fn count(statuses: impl Iterator<Item = Status>) -> StatusCounts {
            let mut s = StatusCounts::default();
            for status in statuses {
                match status {
                    Status::Pass => s.pass += 1,
                    Status::Warn => s.warn += 1,
                    Status::Fail => s.fail += 1,
                    Status::Error => s.error += 1,
                }
            }
            s
        }
        self.summary = Summary {
            tables: count(self.tables.iter().map(|t| t.status)),
            checks: count(self.checks.iter().map(|c| c.status)),
        };
        let worst = self
            .tables
            .iter()
            .map(|t| t.status)
            .chain(self.checks.iter().map(|c| c.status))
            .chain(self.unpaired_tables.iter().map(|u| u.status))
            .max()
            .unwrap_or(Status::Pass);
        // No credential in any output, whatever an upstream message quoted.
        if let Some(e) = &mut self.error {
            *e = crate::store::scrub(e);
        }
        for t in &mut self.tables {
            if let Some(e) = &mut t.error {
                *e = crate::store::scrub(e);
            }
        }
        for c in &mut self.checks {
            if let Some(r) = &mut c.reason {
                *r = crate::store::scrub(r);
            }
        }
        self.verdict = if self.error.is_some() {
            Status::Error
        } else {
            worst
        };
        if self.verdict == Status::Error && self.error.is_none() {
            self.error = self
                .tables
                .iter()
                .find_map(|t| t.error.clone().map(|e| format!("table `{}`: {e}", t.name)))
                .or_else(|| {
                    self.checks
                        .iter()
                        .find(|c| c.status == Status::Error)
                        .map(|c| {
                            format!("check `{}`: {}", c.id, c.reason.clone().unwrap_or_default())
                        })
                });
        }
    }
}
