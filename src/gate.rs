//! The gate: thresholds × findings → a level per table and check and an overall verdict → an
//! exit code. Levels rise `pass` < `warning` < `critical` < `rollback` (and `error`: could not
//! decide). A finding crosses a threshold when its value is strictly greater than it, so
//! `warning = 0` means "any", and the highest crossed threshold is recorded with the finding so
//! the report can say why.
//!
//! The gate reads the stage outputs ([`TableDiff`], [`CheckOutcome`]), extracts the metrics it
//! judges from them, and gives a [`Judgement`] for each; the report renders both.

use serde::{Deserialize, Serialize};

use crate::checks::{CheckOutcome, Measurement};
pub use crate::config::{GateConfig, Threshold};
use crate::diff::result::TableDiff;

/// A table's, a check's or the run's level, ordered from best to worst. Reports before
/// `schema_version` 2 said `warn` for `warning` and `fail` for `critical`; both old names are
/// still read.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing crossed a threshold.
    Pass,
    /// A warning threshold was crossed: worth a look, the cutover may go on.
    #[serde(alias = "warn")]
    Warning,
    /// A critical threshold was crossed: the gate fails.
    #[serde(alias = "fail")]
    Critical,
    /// A rollback threshold was crossed: the drift is past what the runbook rolls back for.
    Rollback,
    /// Could not decide.
    Error,
}

impl Status {
    /// Every level, best first.
    pub const ALL: [Status; 5] = [
        Status::Pass,
        Status::Warning,
        Status::Critical,
        Status::Rollback,
        Status::Error,
    ];

    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Rollback => "rollback",
            Status::Error => "error",
        }
    }

    /// The level as a number for metrics and dashboards: 0 pass, 1 warning, 2 critical,
    /// 3 rollback, 4 error.
    pub fn number(self) -> u8 {
        match self {
            Status::Pass => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Rollback => 3,
            Status::Error => 4,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<crate::config::UnpairedLevel> for Status {
    fn from(level: crate::config::UnpairedLevel) -> Self {
        use crate::config::UnpairedLevel as L;
        match level {
            L::Pass => Status::Pass,
            L::Warning => Status::Warning,
            L::Critical => Status::Critical,
        }
    }
}

/// The lowest verdict that exits non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Exit non-zero from `critical` up (the default): a warning exits 0.
    #[default]
    Critical,
    /// Exit non-zero from `warning` up: a warning exits 1.
    Warning,
}

/// The exit code of a verdict: 0 pass or warning, 1 critical (and warning under
/// `--fail-on warning`), 3 rollback, 2 could not decide.
pub fn exit_code(verdict: Status, fail_on: FailOn) -> i32 {
    match (verdict, fail_on) {
        (Status::Pass, _) | (Status::Warning, FailOn::Critical) => 0,
        (Status::Warning, FailOn::Warning) | (Status::Critical, _) => 1,
        (Status::Rollback, _) => 3,
        (Status::Error, _) => 2,
    }
}

/// The highest level `value` reaches under `threshold`, with the threshold it crossed.
pub fn crossed(threshold: &Threshold, value: f64) -> Option<(Status, f64)> {
    [
        (Status::Rollback, threshold.rollback),
        (Status::Critical, threshold.critical),
        (Status::Warning, threshold.warning),
    ]
    .into_iter()
    .find_map(|(level, limit)| limit.filter(|&l| value > l).map(|l| (level, l)))
}

/// Judges the metrics of a table under its gate; returns every crossed threshold.
pub fn judge(gate: &GateConfig, metrics: &[(Metric, MetricValue)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for &(metric, value) in metrics {
        let Some(threshold) = metric.threshold(gate) else {
            continue;
        };
        if let Some((level, limit)) = crossed(&threshold, value.as_f64()) {
            out.push(Finding {
                metric: metric.as_str().to_owned(),
                value,
                threshold: limit,
                level,
            });
        }
    }
    out
}

/// A table metric the gate judges; its name is the `[gate]` key and the report's `metric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `(changed + missing + extra + null keys) / max(legacy_rows, 1)`.
    DriftRatio,
    /// Changed rows.
    Changed,
    /// Missing rows.
    Missing,
    /// Extra rows.
    Extra,
    /// Legacy rows with a NULL key.
    NullKeysLegacy,
    /// Target rows with a NULL key.
    NullKeysTarget,
    /// Duplicate key values in legacy.
    DuplicateKeysLegacy,
    /// Duplicate key values in target.
    DuplicateKeysTarget,
    /// Columns on one side only.
    SchemaFindings,
}

impl Metric {
    /// This metric's threshold in `gate`. The match is exhaustive: a metric the gate cannot
    /// judge does not compile.
    pub fn threshold(self, gate: &GateConfig) -> Option<Threshold> {
        match self {
            Metric::DriftRatio => gate.drift_ratio,
            Metric::Changed => gate.changed,
            Metric::Missing => gate.missing,
            Metric::Extra => gate.extra,
            Metric::NullKeysLegacy => gate.null_keys_legacy,
            Metric::NullKeysTarget => gate.null_keys_target,
            Metric::DuplicateKeysLegacy => gate.duplicate_keys_legacy,
            Metric::DuplicateKeysTarget => gate.duplicate_keys_target,
            Metric::SchemaFindings => gate.schema_findings,
        }
    }

    /// Every metric.
    #[cfg(test)]
    pub const ALL: [Metric; 9] = [
        Metric::DriftRatio,
        Metric::Changed,
        Metric::Missing,
        Metric::Extra,
        Metric::NullKeysLegacy,
        Metric::NullKeysTarget,
        Metric::DuplicateKeysLegacy,
        Metric::DuplicateKeysTarget,
        Metric::SchemaFindings,
    ];

    /// The metric's name in `[gate]` and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::DriftRatio => "drift_ratio",
            Metric::Changed => "changed",
            Metric::Missing => "missing",
            Metric::Extra => "extra",
            Metric::NullKeysLegacy => "null_keys_legacy",
            Metric::NullKeysTarget => "null_keys_target",
            Metric::DuplicateKeysLegacy => "duplicate_keys_legacy",
            Metric::DuplicateKeysTarget => "duplicate_keys_target",
            Metric::SchemaFindings => "schema_findings",
        }
    }
}

/// A measured metric as reports show it: a count exactly (past 2^53 too, where an `f64` would
/// round it), any other measure as a float.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum MetricValue {
    /// A count of rows, groups, keys or columns, or another whole number.
    Count(u64),
    /// A ratio, or a measure that is not a whole number.
    Real(f64),
}

impl MetricValue {
    /// The value for comparing with a threshold.
    pub fn as_f64(self) -> f64 {
        match self {
            // Thresholds are floats; a count past 2^53 is far past any of them either way.
            #[allow(clippy::cast_precision_loss)]
            MetricValue::Count(n) => n as f64,
            MetricValue::Real(v) => v,
        }
    }
}

impl From<u64> for MetricValue {
    fn from(n: u64) -> Self {
        MetricValue::Count(n)
    }
}

impl From<usize> for MetricValue {
    fn from(n: usize) -> Self {
        MetricValue::Count(u64::try_from(n).unwrap_or(u64::MAX))
    }
}

impl From<f64> for MetricValue {
    fn from(v: f64) -> Self {
        MetricValue::Real(v)
    }
}

/// Counts as their digits; other values without a needless `.0` (`1e15` and up as Rust writes
/// them).
impl std::fmt::Display for MetricValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricValue::Count(n) => write!(f, "{n}"),
            MetricValue::Real(v) if v.fract() == 0.0 && v.abs() < 1e15 => write!(f, "{v:.0}"),
            MetricValue::Real(v) => write!(f, "{v}"),
        }
    }
}

/// One crossed threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// The gate's judgement of a table or a check: its status and every threshold it crossed.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The worst level reached (`pass` when nothing crossed a threshold).
    pub status: Status,
    /// Every crossed threshold.
    pub findings: Vec<Finding>,
}

impl Judgement {
    fn of(findings: Vec<Finding>) -> Self {
        Self {
            status: worst(&findings),
            findings,
        }
    }
}

/// The metrics the gate judges of a table.
pub fn table_metrics(t: &TableDiff) -> Vec<(Metric, MetricValue)> {
    let f = MetricValue::Count;
    vec![
        (Metric::DriftRatio, MetricValue::Real(t.drift_ratio)),
        (Metric::Changed, f(t.changed)),
        (Metric::Missing, f(t.missing)),
        (Metric::Extra, f(t.extra)),
        (Metric::NullKeysLegacy, f(t.null_key_rows.legacy)),
        (Metric::NullKeysTarget, f(t.null_key_rows.target)),
        (Metric::DuplicateKeysLegacy, f(t.duplicate_keys.legacy)),
        (Metric::DuplicateKeysTarget, f(t.duplicate_keys.target)),
        (Metric::SchemaFindings, t.schema.count().into()),
    ]
}

/// Judges a reconciled table against its effective gate.
pub fn judge_table(gate: &GateConfig, t: &TableDiff) -> Judgement {
    Judgement::of(judge(gate, &table_metrics(t)))
}

/// A check's metrics, each with its thresholds: the check's own metric (under the check's
/// thresholds) first, then the ones every check of its kind is held to.
pub fn check_metrics(
    m: &Measurement,
    thresholds: Threshold,
) -> Vec<(String, MetricValue, Threshold)> {
    let warn_on_any = Threshold {
        warning: Some(0.0),
        ..Threshold::default()
    };
    let fail_on_any = Threshold {
        critical: Some(0.0),
        ..Threshold::default()
    };
    let mut out = Vec::new();
    let mut push = |name: &str, value: MetricValue, t: Threshold| {
        out.push((name.to_owned(), value, t));
    };
    match m {
        Measurement::Count(g) => {
            let max_abs = g
                .max_abs_count
                .map_or(MetricValue::Real(g.max_abs), MetricValue::Count);
            push("max_abs_difference", max_abs, thresholds);
            if let Some(relative) = g.relative {
                push("max_rel_difference", MetricValue::Real(g.max_rel), relative);
            }
        }
        Measurement::Total(g) => push("differing_groups", g.differing.into(), thresholds),
        Measurement::Orphan(o) => {
            push("new_orphans", o.new_orphans.into(), thresholds);
            push("orphans_target", o.orphans.target.into(), warn_on_any);
            if let Some(t) = &o.tenant_mismatches {
                push("new_tenant_mismatches", t.new.into(), fail_on_any);
            }
        }
        Measurement::Invariant(v) => {
            let worst = v
                .violations
                .legacy
                .unwrap_or(0)
                .max(v.violations.target.unwrap_or(0));
            push("violations", worst.into(), thresholds);
        }
        Measurement::Golden(g) => {
            push(
                "differing_rows",
                (g.changed + g.missing + g.extra).into(),
                thresholds,
            );
        }
    }
    out
}

/// The gate's reading of a check that ran: the metric the report shows, its value, and the
/// judgement of every metric of the check. `None` for a check that could not run (`error`).
pub fn judge_check(c: &CheckOutcome) -> Option<(String, MetricValue, Judgement)> {
    let measured = c.result.as_ref().ok()?;
    let metrics = check_metrics(measured, c.thresholds);
    let (metric, value) = metrics.first().map_or_else(
        || (String::new(), MetricValue::Count(0)),
        |(m, v, _)| (m.clone(), *v),
    );
    Some((metric, value, Judgement::of(judge_metrics(&metrics))))
}

/// Judges named metrics against their own thresholds (a check's metrics); returns every crossed
/// threshold.
pub fn judge_metrics(metrics: &[(String, MetricValue, Threshold)]) -> Vec<Finding> {
    metrics
        .iter()
        .filter_map(|(metric, value, t)| {
            crossed(t, value.as_f64()).map(|(level, threshold)| Finding {
                metric: metric.clone(),
                value: *value,
                threshold,
                level,
            })
        })
        .collect()
}

/// The worst status among findings (pass when there are none).
pub fn worst(findings: &[Finding]) -> Status {
    findings
        .iter()
        .map(|f| f.level)
        .max()
        .unwrap_or(Status::Pass)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values on purpose
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_the_name_of_its_gate_key() {
        for m in Metric::ALL {
            let g: GateConfig = toml::from_str(&format!("{} = {{ fail = 0 }}", m.as_str()))
                .unwrap_or_else(|e| panic!("{}: {e}", m.as_str()));
            assert!(m.threshold(&g).is_some(), "{}", m.as_str());
        }
    }

    #[test]
    fn defaults_warn_on_any_drift_and_fail_above_a_tenth_of_a_percent() {
        let g = GateConfig::resolved(&GateConfig::default(), &GateConfig::default());
        assert_eq!(
            worst(&judge(&g, &[(Metric::DriftRatio, 0.0.into())])),
            Status::Pass
        );
        assert_eq!(
            worst(&judge(&g, &[(Metric::DriftRatio, 0.0001.into())])),
            Status::Warning
        );
        assert_eq!(
            worst(&judge(&g, &[(Metric::DriftRatio, 0.001.into())])),
            Status::Warning
        );
        assert_eq!(
            worst(&judge(&g, &[(Metric::DriftRatio, 0.0011.into())])),
            Status::Critical
        );
        assert_eq!(
            worst(&judge(&g, &[(Metric::DuplicateKeysTarget, 1.0.into())])),
            Status::Critical
        );
        assert_eq!(
            worst(&judge(&g, &[(Metric::DuplicateKeysLegacy, 1.0.into())])),
            Status::Warning
        );
    }

    #[test]
    fn table_override_keeps_the_other_half_of_a_threshold() {
        let global = GateConfig::default();
        let table = GateConfig {
            drift_ratio: Some(Threshold {
                critical: Some(0.5),
                ..Threshold::default()
            }),
            ..GateConfig::default()
        };
        let g = GateConfig::resolved(&table, &global);
        assert_eq!(
            g.drift_ratio,
            Some(Threshold {
                warning: Some(0.0),
                critical: Some(0.5),
                rollback: None,
            })
        );
        let f = judge(&g, &[(Metric::DriftRatio, 0.2.into())]);
        assert_eq!(f[0].level, Status::Warning);
        assert_eq!(f[0].threshold, 0.0);
    }

    #[test]
    fn a_stricter_table_keeps_the_inherited_rollback_and_an_out_of_order_config_is_refused() {
        let table = GateConfig {
            drift_ratio: Some(Threshold {
                critical: Some(0.0001),
                ..Threshold::default()
            }),
            ..GateConfig::default()
        };
        let g = GateConfig::resolved(&table, &GateConfig::default());
        assert_eq!(g.drift_ratio.and_then(|t| t.rollback), Some(0.005));
        let bad: GateConfig =
            toml::from_str("drift_ratio = { warning = 0.01, critical = 0.001 }").expect("toml");
        let e = bad
            .validate("[gate]")
            .expect_err("out of order")
            .to_string();
        assert!(
            e.contains("critical threshold (0.001) is below the warning"),
            "{e}"
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(Status::Pass, FailOn::Critical), 0);
        assert_eq!(exit_code(Status::Warning, FailOn::Critical), 0);
        assert_eq!(exit_code(Status::Warning, FailOn::Warning), 1);
        assert_eq!(exit_code(Status::Critical, FailOn::Critical), 1);
        assert_eq!(exit_code(Status::Rollback, FailOn::Critical), 3);
        assert_eq!(exit_code(Status::Rollback, FailOn::Warning), 3);
        assert_eq!(exit_code(Status::Error, FailOn::Warning), 2);
    }

    #[test]
    fn the_highest_crossed_level_wins_and_names_its_threshold() {
        let t = Threshold {
            warning: Some(0.0005),
            critical: Some(0.001),
            rollback: Some(0.005),
        };
        assert_eq!(crossed(&t, 0.0005), None);
        assert_eq!(crossed(&t, 0.0006), Some((Status::Warning, 0.0005)));
        assert_eq!(crossed(&t, 0.002), Some((Status::Critical, 0.001)));
        assert_eq!(crossed(&t, 0.0051), Some((Status::Rollback, 0.005)));
    }

    #[test]
    fn old_level_names_are_still_read() {
        let old: Vec<Status> = serde_json::from_str(r#"["warn","fail","pass"]"#).expect("json");
        assert_eq!(old, [Status::Warning, Status::Critical, Status::Pass]);
        let t: Threshold = toml::from_str("warn = 1\nfail = 2").expect("toml");
        assert_eq!(
            (t.warning, t.critical, t.rollback),
            (Some(1.0), Some(2.0), None)
        );
    }
}
