//! The truth: the counts a correct reconciliation reports per table, and the planted outcome
//! of the checks that can be computed from the fates (new orphans).

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::*;
use super::values::V;

/// The counts a correct reconciliation reports for one table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TableTruth {
    /// Legacy rows.
    pub legacy_rows: u64,
    /// Target rows.
    pub target_rows: u64,
    /// Matched rows (cosmetic differences included).
    pub matched: u64,
    /// Changed rows.
    pub changed: u64,
    /// Missing rows.
    pub missing: u64,
    /// Extra rows (planted extras and duplicate copies).
    pub extra: u64,
    /// NULL-key rows per side.
    pub null_key_rows: crate::side::PerSide<u64>,
    /// Duplicate keys per side.
    pub duplicate_keys: crate::side::PerSide<u64>,
    /// Changed rows per column (legacy names; every compared column listed).
    pub columns: BTreeMap<String, u64>,
    /// Rows that differ only in ways the config declares equal.
    pub cosmetic: u64,
}

/// What a correct run reports: per table, and for the checks whose outcome is planted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Truth {
    /// Per table pair.
    pub tables: BTreeMap<String, TableTruth>,
    /// Per check id: the expected measurements.
    pub checks: BTreeMap<String, BTreeMap<String, u64>>,
}

/// What `write_pair` decided: the target's rows (legacy row numbers, extras past the last, in
/// file order), the seed and the swapped pair; a row's fate is computed from them.
pub(super) struct Written<'a> {
    pub(super) spec: &'a Spec,
    pub(super) seed: u64,
    pub(super) swap: Option<(u64, u64)>,
    pub(super) target_rows: Vec<u64>,
}

impl Written<'_> {
    /// The fate of a legacy row (rows past the legacy ones are the target's extras: `Same`).
    pub(super) fn fate(&self, row: u64) -> Fate {
        match self.swap {
            _ if row >= self.spec.rows => Fate::Same,
            Some((a, b)) if row == a => Fate::Swap(b),
            Some((a, b)) if row == b => Fate::Swap(a),
            _ => self.spec.fate(self.seed, row),
        }
    }
}

/// Invoices in the target whose order is missing from the target: the migration's new orphans.
pub(super) fn new_orphans(inv: &Spec, w: &Written, orders: &Written) -> BTreeMap<String, u64> {
    let Some(oci) = inv.cols.iter().position(|c| c.legacy == "order_id") else {
        return BTreeMap::new();
    };
    let orphan = |row: u64| match value(w.seed, row, oci as u64 + 1, inv.cols[oci].kind) {
        V::Int(order) => u64::try_from(order - 1)
            .is_ok_and(|i| i < orders.spec.rows && orders.fate(i) == Fate::Missing),
        _ => false,
    };
    // Every order exists on the legacy side, so every target orphan is new.
    let target = w.target_rows.iter().filter(|&&r| orphan(r)).count() as u64;
    BTreeMap::from([
        ("new_orphans".into(), target),
        ("orphans_target".into(), target),
    ])
}
