//! The report model: one [`Report`] per run, rendered by every format. The JSON form is the
//! contract (`schema_version` 1, sorted keys); the human formats only lay out the same data.

pub mod details;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod redact;
pub mod terminal;

pub(crate) use terminal::{percent, thousands};

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::gate::{FailOn, Finding, Status};
use crate::plan::SchemaFindings;
use crate::side::{PerSide, Side};

/// The formats a report renders to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// The terminal summary.
    Terminal,
    /// The JSON contract.
    Json,
    /// Markdown for PR comments and CI step summaries.
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// JUnit XML for CI test reporters.
    Junit,
}

/// Renders a report in one format (terminal without colors).
pub fn render(report: &Report, format: ReportFormat) -> crate::Result<String> {
    Ok(match format {
        ReportFormat::Terminal => terminal::render(report, terminal::Style { color: false }),
        ReportFormat::Json => json::render(report)?,
        ReportFormat::Markdown => markdown::render(report),
        ReportFormat::Html => html::render(report),
        ReportFormat::Junit => junit::render(report)?,
    })
}

/// Writes every file format into `dir` (each atomically); returns the paths, JSON first.
pub fn write_all(report: &Report, dir: &std::path::Path) -> crate::Result<Vec<std::path::PathBuf>> {
    let mut paths = Vec::new();
    for (name, format) in [
        ("report.json", ReportFormat::Json),
        ("report.md", ReportFormat::Markdown),
        ("report.html", ReportFormat::Html),
        ("report.junit.xml", ReportFormat::Junit),
    ] {
        let path = dir.join(name);
        crate::atomic::write_bytes(&path, render(report, format)?.as_bytes())?;
        paths.push(path);
    }
    Ok(paths)
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

/// Drift of one compared column.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ColumnDrift {
    /// Changed rows in which this column differs.
    pub changed: u64,
}

/// One table pair's result.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// The pair's report name.
    pub name: String,
    /// The legacy table (`sql` for a query).
    pub legacy_table: String,
    /// The target table (`sql` for a query).
    pub target_table: String,
    /// Key columns (legacy names).
    pub key: Vec<String>,
    /// The gate's status for this table.
    pub status: Status,
    /// Rows on the legacy side.
    pub legacy_rows: u64,
    /// Rows on the target side.
    pub target_rows: u64,
    /// Rows whose key and every compared value agree.
    pub matched: u64,
    /// Rows paired by key whose values differ.
    pub changed: u64,
    /// Legacy rows with no target row.
    pub missing: u64,
    /// Target rows with no legacy row.
    pub extra: u64,
    /// Rows with a NULL key column, per side.
    pub null_key_rows: PerSide<u64>,
    /// Distinct key values occurring more than once, per side.
    pub duplicate_keys: PerSide<u64>,
    /// `(changed + missing + extra + null keys) / max(legacy_rows, 1)`.
    pub drift_ratio: f64,
    /// Order-free table checksums (hex): equal tables have equal checksums on both sides.
    pub checksums: PerSide<String>,
    /// Per compared column: changed rows in which it differs.
    pub columns: BTreeMap<String, ColumnDrift>,
    /// Compared columns, in order.
    pub compared_columns: Vec<String>,
    /// Columns on one side only, and ignored ones.
    pub schema: SchemaFindings,
    /// Every threshold this table crossed.
    pub findings: Vec<Finding>,
    /// Capped, deterministic samples.
    pub samples: Samples,
    /// Why changed cells differ: column → class → count (see [`crate::diff::explain`]).
    pub explained: BTreeMap<String, BTreeMap<String, u64>>,
    /// Every differing key of this run (only kept for the run history; not in the JSON).
    #[serde(skip)]
    pub differing_keys: Vec<DiffKey>,
    /// Trend and key churn against earlier runs, when a history is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<TableHistory>,
    /// Why the table could not be decided, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A differing row's key, as the run history stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffKey {
    /// `changed`, `missing` or `extra`.
    pub category: String,
    /// The key's identity (hex of the exact key or of its 128-bit digest).
    pub digest: String,
    /// The key's values as JSON text (redacted columns digested).
    pub key: String,
}

/// A table's past: drift over the last runs and the differing keys that came and went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableHistory {
    /// Earlier runs then this one, oldest first.
    pub trend: Vec<TrendPoint>,
    /// Differing keys that did not differ in the previous run (`None` when there is none).
    pub new_keys: Option<u64>,
    /// Keys that differed in the previous run and no longer do.
    pub resolved_keys: Option<u64>,
    /// A few new keys (key values as JSON text).
    pub new_samples: Vec<String>,
    /// A few resolved keys.
    pub resolved_samples: Vec<String>,
}

/// One run's drift of one table.
#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    /// When the run started.
    pub started_at: String,
    /// Its drift ratio.
    pub drift_ratio: f64,
    /// Its status.
    pub status: Status,
}

/// Sample rows of each category, in key order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Samples {
    /// Changed rows: key and each differing column with both values.
    pub changed: Vec<ChangedSample>,
    /// Missing rows: key.
    pub missing: Vec<KeySample>,
    /// Extra rows: key.
    pub extra: Vec<KeySample>,
}

/// A row identified by its key values (rendered as text, NULL as null).
#[derive(Debug, Clone, Serialize)]
pub struct KeySample {
    /// Key column → value.
    pub key: BTreeMap<String, Value>,
}

/// A changed row.
#[derive(Debug, Clone, Serialize)]
pub struct ChangedSample {
    /// Key column → value.
    pub key: BTreeMap<String, Value>,
    /// Differing column → both values.
    pub columns: BTreeMap<String, PerSide<Value>>,
}

impl TableReport {
    /// A table that could not be decided.
    pub fn errored(name: &str, key: &[String], error: String) -> Self {
        Self {
            name: name.to_owned(),
            legacy_table: String::new(),
            target_table: String::new(),
            key: key.to_vec(),
            status: Status::Error,
            legacy_rows: 0,
            target_rows: 0,
            matched: 0,
            changed: 0,
            missing: 0,
            extra: 0,
            null_key_rows: PerSide::default(),
            duplicate_keys: PerSide::default(),
            drift_ratio: 0.0,
            checksums: PerSide::default(),
            columns: BTreeMap::new(),
            compared_columns: Vec::new(),
            schema: SchemaFindings::default(),
            findings: Vec::new(),
            samples: Samples::default(),
            explained: BTreeMap::new(),
            differing_keys: Vec::new(),
            history: None,
            error: Some(error),
        }
    }

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

    /// The metrics the gate judges.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        #[allow(clippy::cast_precision_loss)]
        let f = |v: u64| v as f64;
        vec![
            ("drift_ratio", self.drift_ratio),
            ("changed", f(self.changed)),
            ("missing", f(self.missing)),
            ("extra", f(self.extra)),
            ("null_keys_legacy", f(self.null_key_rows.legacy)),
            ("null_keys_target", f(self.null_key_rows.target)),
            ("duplicate_keys_legacy", f(self.duplicate_keys.legacy)),
            ("duplicate_keys_target", f(self.duplicate_keys.target)),
            ("schema_findings", f(self.schema.count() as u64)),
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
            .max()
            .unwrap_or(Status::Pass);
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
