//! Gate thresholds as the config states them: a warn and a fail level per metric, per table or
//! for every table. Judging with them is the gate's business.

use serde::{Deserialize, Serialize};

/// A warn and a fail threshold; unset means "never".
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Warn when the value is greater than this.
    pub warn: Option<f64>,
    /// Fail when the value is greater than this.
    pub fail: Option<f64>,
}

/// Thresholds for a table pair's findings. Every field is optional so that a table can override
/// only what it needs; [`GateConfig::resolved`] fills in the defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// `(changed + missing + extra + null keys) / max(legacy_rows, 1)`.
    pub drift_ratio: Option<Threshold>,
    /// Changed rows.
    pub changed: Option<Threshold>,
    /// Rows in legacy with no counterpart in target.
    pub missing: Option<Threshold>,
    /// Rows in target with no counterpart in legacy.
    pub extra: Option<Threshold>,
    /// Legacy rows with a NULL key column.
    pub null_keys_legacy: Option<Threshold>,
    /// Target rows with a NULL key column.
    pub null_keys_target: Option<Threshold>,
    /// Distinct key values occurring more than once in legacy.
    pub duplicate_keys_legacy: Option<Threshold>,
    /// Distinct key values occurring more than once in target.
    pub duplicate_keys_target: Option<Threshold>,
    /// Columns present on one side only.
    pub schema_findings: Option<Threshold>,
}
