//! What reconciling one table pair yields, [`TableDiff`]: the counts per category, per-column
//! drift, samples, the schema findings and checksums. The report's [`TableReport`] wraps it with
//! what comes after the engine (the gate's status and findings, the history, an error); every
//! format renders that.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::gate::{Finding, Metric, MetricValue, Status};
use crate::plan::SchemaFindings;
use crate::side::PerSide;

/// Drift of one compared column.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ColumnDrift {
    /// Changed rows in which this column differs.
    pub changed: u64,
}

/// What the engine yields for one table pair: counts per category, per-column drift, samples,
/// schema findings and checksums. It knows nothing of gates or reports.
#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
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
    /// Why changed cells differ: column → class → count (see [`crate::diff::explain`]).
    pub explained: BTreeMap<String, BTreeMap<String, u64>>,
    /// Every differing key of this run (only kept for the run history; not in the JSON).
    #[serde(skip)]
    pub differing_keys: super::keylog::KeyLog,
}

/// One table pair in the report: the engine's result, the gate's judgement of it, its history,
/// or why it could not be decided. Reads as its [`TableDiff`] (through `Deref`).
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// What the engine found.
    #[serde(flatten)]
    pub diff: TableDiff,
    /// The gate's status for this table.
    pub status: Status,
    /// Every threshold this table crossed.
    pub findings: Vec<Finding>,
    /// Trend and key churn against earlier runs, when a history is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<TableHistory>,
    /// Why the table could not be decided, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl std::ops::Deref for TableReport {
    type Target = TableDiff;
    fn deref(&self) -> &TableDiff {
        &self.diff
    }
}

impl std::ops::DerefMut for TableReport {
    fn deref_mut(&mut self) -> &mut TableDiff {
        &mut self.diff
    }
}

impl From<TableDiff> for TableReport {
    fn from(diff: TableDiff) -> Self {
        Self {
            diff,
            status: Status::Pass,
            findings: Vec::new(),
            history: None,
            error: None,
        }
    }
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

impl TableDiff {
    /// A table about to be reconciled: its names and key, nothing counted yet.
    pub fn new(name: &str, key: &[String], sources: &PerSide<String>) -> Self {
        Self {
            name: name.to_owned(),
            legacy_table: sources.legacy.clone(),
            target_table: sources.target.clone(),
            key: key.to_vec(),
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
            samples: Samples::default(),
            explained: BTreeMap::new(),
            differing_keys: super::keylog::KeyLog::default(),
        }
    }

    /// The metrics the gate judges.
    pub fn metrics(&self) -> Vec<(Metric, MetricValue)> {
        let f = MetricValue::Count;
        vec![
            (Metric::DriftRatio, MetricValue::Real(self.drift_ratio)),
            (Metric::Changed, f(self.changed)),
            (Metric::Missing, f(self.missing)),
            (Metric::Extra, f(self.extra)),
            (Metric::NullKeysLegacy, f(self.null_key_rows.legacy)),
            (Metric::NullKeysTarget, f(self.null_key_rows.target)),
            (Metric::DuplicateKeysLegacy, f(self.duplicate_keys.legacy)),
            (Metric::DuplicateKeysTarget, f(self.duplicate_keys.target)),
            (Metric::SchemaFindings, self.schema.count().into()),
        ]
    }
}

impl TableReport {
    /// A table that could not be decided.
    pub fn errored(name: &str, key: &[String], error: String) -> Self {
        Self {
            status: Status::Error,
            error: Some(error),
            ..Self::from(TableDiff::new(name, key, &PerSide::default()))
        }
    }
}
