//! What reconciling one table pair yields, [`TableDiff`]: the counts per category, per-column
//! drift, samples, the schema findings and checksums. The gate judges it and the report renders
//! it; neither is known here.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::plan::SchemaFindings;
use crate::side::PerSide;
use crate::spill::KeyLog;

/// Drift of one compared column.
#[derive(Debug, Clone, Default)]
pub struct ColumnDrift {
    /// Changed rows in which this column differs.
    pub changed: u64,
}

/// What the engine yields for one table pair: counts per category, per-column drift, samples,
/// schema findings and checksums. It knows nothing of gates or reports.
#[derive(Debug, Clone)]
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
    /// Every differing key of this run (for the run history).
    pub differing_keys: KeyLog,
}

/// Sample rows of each category, in key order.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Changed rows: key and each differing column with both values.
    pub changed: Vec<ChangedSample>,
    /// Missing rows: key.
    pub missing: Vec<KeySample>,
    /// Extra rows: key.
    pub extra: Vec<KeySample>,
}

/// A row identified by its key values (rendered as text, NULL as null).
#[derive(Debug, Clone)]
pub struct KeySample {
    /// Key column → value.
    pub key: BTreeMap<String, Value>,
}

/// A changed row.
#[derive(Debug, Clone)]
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
            differing_keys: KeyLog::default(),
        }
    }
}
