//! What a check yields, [`CheckOutcome`]: its identity and, when it ran, a typed [`Measurement`]
//! per kind (both sides' values, the differing groups or rows, samples as shown). The gate reads
//! the metrics out of it and the report lays it out; neither is known here.

use std::collections::BTreeMap;

use crate::config::Threshold;
use crate::config::checks::CheckKind;
use crate::side::PerSide;

/// One check's result before the gate.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    /// Stable id (a JSON key and a `JUnit` test name).
    pub id: String,
    /// The check's kind.
    pub kind: CheckKind,
    /// Where the check is defined: `recon.toml:12` or a golden file.
    pub source: String,
    /// The thresholds of the check's metric.
    pub thresholds: Threshold,
    /// Wall time of the check.
    pub duration_ms: u64,
    /// What was measured, or why the check could not run (with its source).
    pub result: Result<Measurement, String>,
}

/// What a check measured, per kind. Shown values are text (`None` for NULL), already redacted
/// where they derive from a redacted column.
#[derive(Debug, Clone)]
pub enum Measurement {
    /// A count per group on both sides.
    Count(Grouped),
    /// A total per group on both sides.
    Total(Grouped),
    /// Child rows whose parent is missing.
    Orphan(Orphans),
    /// Rows that violate a predicate.
    Invariant(Violations),
    /// A golden query's result on both sides.
    Golden(GoldenRows),
}

/// A count's or total's measure per group on both sides.
#[derive(Debug, Clone)]
pub struct Grouped {
    /// The sum over the groups, per side.
    pub totals: PerSide<Option<String>>,
    /// The group columns.
    pub group_by: Vec<String>,
    /// Groups each side has a row for.
    pub groups: PerSide<usize>,
    /// Groups that differ.
    pub differing: usize,
    /// The largest difference.
    pub max_abs: f64,
    /// The largest difference exactly, when it is a whole number (a count past 2^53 keeps its
    /// digits).
    pub max_abs_count: Option<u64>,
    /// The largest difference relative to the legacy measure.
    pub max_rel: f64,
    /// The threshold of `max_rel`, when the check sets one (counts only).
    pub relative: Option<Threshold>,
    /// The tolerance a group's measures may differ by (totals only).
    pub tolerance: Option<String>,
    /// The first differing groups.
    pub differing_groups: Vec<DifferingGroup>,
}

/// One group whose measures differ.
#[derive(Debug, Clone)]
pub struct DifferingGroup {
    /// The group's key values.
    pub group: Vec<Option<String>>,
    /// Its measure per side (`None` for NULL or a side without the group).
    pub values: PerSide<Option<String>>,
    /// `target - legacy`, when both are numbers.
    pub difference: Option<String>,
}

/// An orphan check's counts and samples.
#[derive(Debug, Clone)]
#[allow(clippy::struct_field_names)] // the report's own words: an orphan check counts orphans
pub struct Orphans {
    /// Orphan rows per side.
    pub orphans: PerSide<usize>,
    /// Target orphans the legacy does not have.
    pub new_orphans: usize,
    /// The first new orphans (column -> value).
    pub new_samples: Vec<BTreeMap<String, Option<String>>>,
    /// The first legacy orphans.
    pub legacy_samples: Vec<BTreeMap<String, Option<String>>>,
    /// Rows whose tenant differs from their parent's, when the check names a tenant column.
    pub tenant_mismatches: Option<TenantMismatches>,
}

/// Rows whose tenant differs from their parent's.
#[derive(Debug, Clone)]
pub struct TenantMismatches {
    /// Per side.
    pub counts: PerSide<usize>,
    /// Target mismatches the legacy does not have.
    pub new: usize,
    /// The first new ones.
    pub samples: Vec<BTreeMap<String, Option<String>>>,
}

/// An invariant's violations and samples.
#[derive(Debug, Clone)]
#[allow(clippy::struct_field_names)] // the report's own words: an invariant counts violations
pub struct Violations {
    /// Violating rows per side (`None` for a side the check does not read).
    pub violations: PerSide<Option<u64>>,
    /// The table's key columns.
    pub key: Vec<String>,
    /// The first violating rows' keys, per side read (`None` for a side not read).
    pub samples: PerSide<Option<Vec<Vec<Option<String>>>>>,
}

/// A golden query's result on both sides.
#[derive(Debug, Clone)]
pub struct GoldenRows {
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

/// A differing golden row: both sides' rows (`None` where a side lacks it) and, for a changed
/// row, the columns that differ.
#[derive(Debug, Clone)]
pub struct GoldenDiff {
    /// The row per side.
    pub rows: PerSide<Option<BTreeMap<String, Option<String>>>>,
    /// Differing columns of a changed row (`None` for a missing or extra row).
    pub columns: Option<Vec<String>>,
}
