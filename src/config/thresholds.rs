//! Gate thresholds as the config states them: a warning, a critical and a rollback level per
//! metric, per table or for every table, merged table over `[gate]` over the built-ins. Judging
//! with them is the gate's business.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// A warning, a critical and a rollback threshold; unset means "never". `warn` and `fail` are
/// the older names of `warning` and `critical`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// The level is at least `warning` when the value is greater than this.
    #[serde(alias = "warn", skip_serializing_if = "Option::is_none")]
    pub warning: Option<f64>,
    /// The level is at least `critical` (the gate fails) when the value is greater than this.
    #[serde(alias = "fail", skip_serializing_if = "Option::is_none")]
    pub critical: Option<f64>,
    /// The level is `rollback` when the value is greater than this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<f64>,
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
    /// default `warning`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpaired_tables: Option<UnpairedLevel>,
}

/// The level a table in no pair gets: `pass` (listed, nothing more), `warning` or `critical`
/// (`warn` and `fail` are the older names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnpairedLevel {
    /// Listed in the report; the verdict does not change.
    Pass,
    /// The verdict is at least `warning`.
    #[default]
    #[serde(alias = "warn")]
    Warning,
    /// The verdict is at least `critical`: every table must be reconciled.
    #[serde(alias = "fail")]
    Critical,
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
    /// `self` over `base`, level by level. An inherited level that contradicts a level `self`
    /// sets is dropped rather than kept out of order: a table that raises `critical` to 1 %
    /// does not inherit a `rollback` of 0.5 %, whose level it could then never reach in order.
    fn merged(self, base: Threshold) -> Threshold {
        let own = self.levels();
        let mut out = self.levels();
        for (i, slot) in out.iter_mut().enumerate() {
            let Some(inherited) = base.levels()[i].filter(|_| slot.is_none()) else {
                continue;
            };
            let contradicts = own.iter().enumerate().any(|(j, o)| {
                o.is_some_and(|o| (j > i && o < inherited) || (j < i && o > inherited))
            });
            if !contradicts {
                *slot = Some(inherited);
            }
        }
        let [warning, critical, rollback] = out;
        Threshold {
            warning,
            critical,
            rollback,
        }
    }

    /// The three levels, lowest first.
    fn levels(self) -> [Option<f64>; 3] {
        [self.warning, self.critical, self.rollback]
    }

    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        for v in self.levels().into_iter().flatten() {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ConfigError::Invalid(format!(
                    "{at}: thresholds must be non-negative numbers"
                )));
            }
        }
        let [warning, critical, rollback] = self.levels();
        let levels = [
            ("warning", warning),
            ("critical", critical),
            ("rollback", rollback),
        ];
        for (i, (lower, low)) in levels.iter().enumerate() {
            for (higher, high) in &levels[i + 1..] {
                if let (Some(l), Some(h)) = (low, high)
                    && h < l
                {
                    return Err(ConfigError::Invalid(format!(
                        "{at}: the {higher} threshold ({h}) is below the {lower} threshold ({l}); \
                         levels rise warning <= critical <= rollback"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl GateConfig {
    /// The gate's built-in defaults: any drift is a warning, above 0.1 % critical, above 0.5 %
    /// rollback; a duplicate key in the target is critical, one in the legacy and a schema
    /// finding a warning.
    pub fn builtin() -> GateConfig {
        GateConfig {
            drift_ratio: Some(Threshold {
                warning: Some(0.0),
                critical: Some(0.001),
                rollback: Some(0.005),
            }),
            duplicate_keys_legacy: Some(Threshold {
                warning: Some(0.0),
                ..Threshold::default()
            }),
            duplicate_keys_target: Some(Threshold {
                critical: Some(0.0),
                ..Threshold::default()
            }),
            schema_findings: Some(Threshold {
                warning: Some(0.0),
                ..Threshold::default()
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
