//! The contract of `report.json` (`schema_version` 2): every type the JSON report serializes,
//! with its own fields. The builder beside this file fills them explicitly from the stage
//! outputs (the diff's `TableDiff`, the checks' `CheckOutcome`, the gate's judgement, the
//! history), so renaming a field of a stage cannot change the report. The small shared
//! vocabularies (`Status`, `FailOn`, `MetricValue`, `Side`, `PerSide`, `CheckKind`) serialize as
//! their names or as plain pairs.
//!
//! [`json_schema`] derives the published JSON Schema (`docs/report.schema.json`) from it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::config::checks::CheckKind;
use crate::gate::{FailOn, MetricValue, Status};
use crate::side::{PerSide, Side};

pub use super::notifications::{NotificationEvent, NotificationOutcome};

/// Version of the JSON report layout: 2 since levels (`warning`, `critical`, `rollback`)
/// replaced version 1's `warn` and `fail`.
pub const SCHEMA_VERSION: u32 = 2;

/// A whole run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
    /// The run's level: `pass`, `warning`, `critical`, `rollback` or `error`.
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
    pub checks: Vec<CheckReport>,
    /// The notifications of this run, one per destination that had something to send
    /// (`docs/alerts.md`); left out when there were none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotificationOutcome>,
}

/// Tool identity.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnpairedTable {
    /// Which snapshot holds it.
    pub side: Side,
    /// Its name in that snapshot.
    pub table: String,
    /// Rows, from the footers.
    pub rows: u64,
    /// What `[gate] unpaired_tables` makes of it: `pass`, `warning` or `critical`.
    pub status: Status,
}

/// Counts of tables and of checks by status.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Tables by status.
    pub tables: StatusCounts,
    /// Checks by status.
    pub checks: StatusCounts,
}

/// How many results have each level.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusCounts {
    /// Results that passed.
    pub pass: usize,
    /// Results at `warning`.
    pub warning: usize,
    /// Results at `critical`.
    pub critical: usize,
    /// Results at `rollback`.
    pub rollback: usize,
    /// Results that could not be decided.
    pub error: usize,
}

/// One table pair: what the diff found, the gate's judgement of it, its history, or why it
/// could not be decided.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableReport {
    /// The pair's report name.
    pub name: String,
    /// The legacy table (`sql` for a query).
    pub legacy_table: String,
    /// The target table (`sql` for a query).
    pub target_table: String,
    /// Key columns (legacy names).
    pub key: Vec<String>,
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
    /// Capped, deterministic samples.
    pub samples: Samples,
    /// Why changed cells differ: column → class → count.
    pub explained: BTreeMap<String, BTreeMap<String, u64>>,
    /// The gate's status for this table.
    pub status: Status,
    /// Every threshold this table crossed.
    pub findings: Vec<Finding>,
    /// The `drift_ratio` thresholds in force for this table (the gate's, with the table's own
    /// over the global ones), so that a reader can draw them beside the drift.
    pub drift_thresholds: Thresholds,
    /// Trend and key churn against earlier runs, when a history is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<TableHistory>,
    /// Why the table could not be decided, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Drift of one compared column.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnDrift {
    /// Changed rows in which this column differs.
    pub changed: u64,
}

/// Columns on one side only, ignored ones, and pairings worth knowing.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaFindings {
    /// Columns only the legacy table has (after renames and ignores).
    pub legacy_only: Vec<String>,
    /// Columns only the target table has.
    pub target_only: Vec<String>,
    /// Columns left out by `ignore`.
    pub ignored: Vec<String>,
    /// Legacy columns paired with a target column whose name differs only in case: legacy name
    /// -> target name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub paired_by_case: BTreeMap<String, String>,
    /// Integer or decimal columns compared with a float column: legacy name -> both types.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exact_vs_float: BTreeMap<String, String>,
}

impl SchemaFindings {
    /// Columns on one side only, and exact columns compared with a float.
    pub fn count(&self) -> usize {
        self.legacy_only.len() + self.target_only.len() + self.exact_vs_float.len()
    }
}

/// Sample rows of each category, in key order.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Samples {
    /// Changed rows: key and each differing column with both values.
    pub changed: Vec<ChangedSample>,
    /// Missing rows: key.
    pub missing: Vec<KeySample>,
    /// Extra rows: key.
    pub extra: Vec<KeySample>,
}

/// A row identified by its key values (rendered as text, NULL as null).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySample {
    /// Key column → value.
    pub key: BTreeMap<String, Value>,
}

/// A changed row.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangedSample {
    /// Key column → value.
    pub key: BTreeMap<String, Value>,
    /// Differing column → both values.
    pub columns: BTreeMap<String, PerSide<Value>>,
}

/// One crossed threshold.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// The metric's name (`drift_ratio`, `missing`, ...).
    pub metric: String,
    /// Its measured value.
    pub value: MetricValue,
    /// The threshold it is greater than.
    pub threshold: f64,
    /// `warning`, `critical` or `rollback`.
    pub level: Status,
}

/// A table's past: drift over the last runs and the differing keys that came and went.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableHistory {
    /// Earlier runs then this one, oldest first.
    pub trend: Vec<TrendPoint>,
    /// Since when the table holds its level.
    pub level_since: LevelSince,
    /// Differing keys that did not differ in the previous run (`None` when there is none).
    pub new_keys: Option<u64>,
    /// Keys that differed in the previous run and no longer do.
    pub resolved_keys: Option<u64>,
    /// A few new keys (key values as JSON text).
    pub new_samples: Vec<String>,
    /// A few resolved keys.
    pub resolved_samples: Vec<String>,
}

/// How long a table has held its level: "critical for 3 runs, since 02:15 (was warning),
/// rising".
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelSince {
    /// Consecutive runs at this level, this one included.
    pub runs: u64,
    /// Start time of the first run at this level (RFC 3339).
    pub since: String,
    /// The level before, when the history has a run before the streak.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Status>,
    /// The drift against the previous run: `rising`, `falling` or `steady` (absent on the
    /// first run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftDirection>,
}

/// Which way a table's drift went since the previous run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftDirection {
    /// Higher than in the previous run.
    Rising,
    /// Lower than in the previous run.
    Falling,
    /// The same.
    Steady,
}

/// One run's drift of one table.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrendPoint {
    /// When the run started.
    pub started_at: String,
    /// Its drift ratio.
    pub drift_ratio: f64,
    /// Its status.
    pub status: Status,
}

/// One check's result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckReport {
    /// Stable id (a JSON key and a `JUnit` test name).
    pub id: String,
    /// The check's kind.
    pub kind: CheckKind,
    /// `pass`, `warn`, `fail` or `error`.
    pub status: Status,
    /// Where the check is defined: `recon.toml:12` or a golden file.
    pub source: String,
    /// The metric the thresholds apply to (empty when the check errored).
    pub metric: String,
    /// Its measured value.
    pub value: MetricValue,
    /// The thresholds of the metric.
    pub thresholds: Thresholds,
    /// Every crossed threshold.
    pub findings: Vec<Finding>,
    /// What was measured, per kind (`null` when the check errored).
    pub measured: Option<Measured>,
    /// Why the check errored, or a note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Wall time of the check.
    pub duration_ms: u64,
}

/// A check's thresholds per level (`null`: never).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// `warning` when the value is greater than this.
    pub warning: Option<f64>,
    /// `critical` when the value is greater than this.
    pub critical: Option<f64>,
    /// `rollback` when the value is greater than this.
    pub rollback: Option<f64>,
}

/// What a check measured, per kind (the kind is the check's `kind`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Measured {
    /// A `count` check.
    Count(CountMeasured),
    /// A `total` check.
    Total(TotalMeasured),
    /// An `orphan` check.
    Orphan(OrphanMeasured),
    /// An `invariant` check.
    Invariant(InvariantMeasured),
    /// A golden query.
    Golden(GoldenMeasured),
}

/// A count per group on both sides.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountMeasured {
    /// The legacy count over every group.
    pub legacy: Option<String>,
    /// The target count over every group.
    pub target: Option<String>,
    /// The group columns.
    pub group_by: Vec<String>,
    /// Groups per side, and how many differ.
    pub groups: GroupCounts,
    /// The largest difference relative to the legacy count.
    pub max_rel_difference: f64,
    /// The first differing groups.
    pub differing_groups: Vec<DifferingGroup>,
}

/// A total per group on both sides.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TotalMeasured {
    /// The legacy total over every group.
    pub legacy: Option<String>,
    /// The target total over every group.
    pub target: Option<String>,
    /// The group columns.
    pub group_by: Vec<String>,
    /// How far a group's totals may differ.
    pub tolerance: String,
    /// Groups per side, and how many differ.
    pub groups: GroupCounts,
    /// The first differing groups.
    pub differing_groups: Vec<DifferingGroup>,
}

/// Groups per side, and how many differ.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupCounts {
    /// Groups the legacy has.
    pub legacy: usize,
    /// Groups the target has.
    pub target: usize,
    /// Groups whose measures differ.
    pub differing: usize,
}

/// A group whose measures differ (text; `null` for NULL or a side without the group).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DifferingGroup {
    /// The group's key values.
    pub group: Vec<Option<String>>,
    /// The legacy measure.
    pub legacy: Option<String>,
    /// The target measure.
    pub target: Option<String>,
    /// `target - legacy`, when both are numbers.
    pub difference: Option<String>,
}

/// A row as shown: column → value (`null` for NULL).
pub type ShownRow = BTreeMap<String, Option<String>>;

/// Orphan counts and samples.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrphanMeasured {
    /// Orphan rows per side.
    pub orphans: PerSide<usize>,
    /// Target orphans the legacy does not have.
    pub new_orphans: usize,
    /// The first new and legacy orphans.
    pub samples: OrphanSamples,
    /// Rows whose tenant differs from their parent's, when the check names a tenant column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_mismatches: Option<TenantMismatches>,
}

/// The first orphans.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrphanSamples {
    /// New in the target.
    pub new: Vec<ShownRow>,
    /// In the legacy.
    pub legacy: Vec<ShownRow>,
}

/// Rows whose tenant differs from their parent's.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantMismatches {
    /// In the legacy.
    pub legacy: usize,
    /// In the target.
    pub target: usize,
    /// Target mismatches the legacy does not have.
    pub new: usize,
    /// The first new ones.
    pub samples: Vec<ShownRow>,
}

/// An invariant's violations and samples.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvariantMeasured {
    /// Violating rows per side (`null` for a side the check does not read).
    pub violations: PerSide<Option<u64>>,
    /// The table's key columns.
    pub key: Vec<String>,
    /// The first violating rows' keys per side read.
    pub samples: InvariantSamples,
}

/// The first violating rows' keys, per side read (a side not read is left out).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvariantSamples {
    /// Legacy keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy: Option<Vec<Vec<Option<String>>>>,
    /// Target keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Vec<Vec<Option<String>>>>,
}

/// A golden query's result on both sides.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoldenMeasured {
    /// Result rows per side.
    pub rows: PerSide<usize>,
    /// Rows paired by key whose values differ.
    pub changed: u64,
    /// Legacy rows with no target row.
    pub missing: u64,
    /// Target rows with no legacy row.
    pub extra: u64,
    /// The query's key columns.
    pub key: Vec<String>,
    /// The result columns.
    pub columns: Vec<String>,
    /// The first differing rows.
    pub differing: Vec<GoldenDiff>,
}

/// A differing golden row.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoldenDiff {
    /// The legacy row (`null`: the target's row is extra).
    pub legacy: Option<ShownRow>,
    /// The target row (`null`: the legacy's row is missing).
    pub target: Option<ShownRow>,
    /// The columns that differ, for a changed row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
}

/// The JSON Schema of `report.json`, generated from this model (committed as
/// `docs/report.schema.json`), as pretty text with a trailing newline.
pub fn json_schema() -> crate::Result<String> {
    // The serialize contract: a field left out when empty (`skip_serializing_if`) is optional.
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Report>();
    let mut text = serde_json::to_string_pretty(&schema)
        .map_err(|e| crate::Error::failed("report schema", e))?;
    text.push('\n');
    Ok(text)
}
