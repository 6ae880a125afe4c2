//! Gate thresholds as the config states them: a warn and a fail level per metric, per table or
//! for every table, merged table over `[gate]` over the built-ins. Judging with them is the
//! gate's business.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

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
    /// What a table of either snapshot that is in no pair means for the verdict (`[gate]` only;
    /// default `warn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpaired_tables: Option<UnpairedLevel>,
}

/// The status a table in no pair gets: `pass` (listed, nothing more), `warn` or `fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnpairedLevel {
    /// Listed in the report; the verdict does not change.
    Pass,
    /// The verdict is at least `warn`.
    #[default]
    Warn,
    /// The verdict is `fail`: every table must be reconciled.
    Fail,
}

/// Calls macro `$m` with the name of every metric field of [`GateConfig`]: one list for
/// merging and validating.
macro_rules! each_metric {
    ($m:ident) => {
        $m!(
            drift_ratio,
            changed,
            missing,
            extra,
            null_keys_legacy,
            null_keys_target,
            duplicate_keys_legacy,
            duplicate_keys_target,
            schema_findings
        )
    };
}

impl Threshold {
    /// `self` over `base`, level by level.
    fn merged(self, base: Threshold) -> Threshold {
        Threshold {
            warn: self.warn.or(base.warn),
            fail: self.fail.or(base.fail),
        }
    }

    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        for v in [self.warn, self.fail].into_iter().flatten() {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ConfigError::Invalid(format!(
                    "{at}: thresholds must be non-negative numbers"
                )));
            }
        }
        Ok(())
    }
}

impl GateConfig {
    /// The gate's built-in defaults: warn on any drift, fail above 0.1 %, fail on any duplicate
    /// key in the target, warn on a duplicate key in the legacy and on schema findings.
    pub fn builtin() -> GateConfig {
        GateConfig {
            drift_ratio: Some(Threshold {
                warn: Some(0.0),
                fail: Some(0.001),
            }),
            duplicate_keys_legacy: Some(Threshold {
                warn: Some(0.0),
                fail: None,
            }),
            duplicate_keys_target: Some(Threshold {
                warn: None,
                fail: Some(0.0),
            }),
            schema_findings: Some(Threshold {
                warn: Some(0.0),
                fail: None,
            }),
            ..GateConfig::default()
        }
    }

    /// `self` over `base`, threshold by threshold.
    pub fn merged(&self, base: &GateConfig) -> GateConfig {
        macro_rules! merge {
            ($($f:ident),*) => {
                GateConfig { $($f: match (self.$f, base.$f) {
                    (Some(a), Some(b)) => Some(a.merged(b)),
                    (a, b) => a.or(b),
                }),*, unpaired_tables: self.unpaired_tables.or(base.unpaired_tables) }
            };
        }
        each_metric!(merge)
    }

    /// A table's effective gate: its overrides over the config's `[gate]` over the built-ins.
    pub fn resolved(table: &GateConfig, global: &GateConfig) -> GateConfig {
        table.merged(&global.merged(&GateConfig::builtin()))
    }

    /// Checks every threshold is a non-negative number; `at` says where the thresholds are.
    pub fn validate(&self, at: &str) -> Result<(), ConfigError> {
        macro_rules! check {
            ($($f:ident),*) => {{
                $( if let Some(t) = &self.$f { t.validate(&format!("{at} {}", stringify!($f)))?; } )*
                Ok(())
            }};
        }
        each_metric!(check)
    }
}
