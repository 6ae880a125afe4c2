//! SQL checks: whether the business still adds up. Counts, financial totals, orphans, invariants
//! and golden queries run with DataFusion over both snapshots — one session per side, with every
//! table of that side registered under its own name and as `<side>.<table>` — and their results
//! join the table results in the report and the gate.
//!
//! Checks name tables and columns as the table pairs do: a pair's name and its legacy column
//! names. On each side a pair reads as a subquery that renames the target's columns back to the
//! legacy names (or as the pair's own SQL), so a renamed table or column needs no second spelling.

pub mod golden;
mod kinds;
pub mod lineage;
mod measure;
pub mod sql;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use datafusion::execution::context::SessionContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Config, TableConfig, Tolerance};
use crate::error::Result;
use crate::gate::{Finding, Status, Threshold};
use crate::plan::PairPlan;
use crate::side::{PerSide, Side};
use crate::snapshot::Snapshot;

pub use golden::{GoldenQuery, load_golden};

/// What a check asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// Row counts per side, total or grouped.
    Count,
    /// Exact decimal SUM of a money column per side, total or grouped.
    Total,
    /// Child rows whose reference has no parent.
    Orphan,
    /// A predicate that must hold for every row.
    Invariant,
    /// A golden query whose result sets must agree.
    Golden,
}

impl CheckKind {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Count => "count",
            CheckKind::Total => "total",
            CheckKind::Orphan => "orphan",
            CheckKind::Invariant => "invariant",
            CheckKind::Golden => "golden",
        }
    }
}

/// One `[[checks]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Stable id (default: derived from kind, table, column and groups).
    pub id: Option<String>,
    /// What the check asserts.
    pub kind: CheckKind,
    /// The table pair (count, total, invariant) or the child pair (orphan).
    pub table: Option<String>,
    /// Group expressions over legacy column names (count, total).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// The money column (total).
    pub column: Option<String>,
    /// Accepted difference per group in currency units (total; default 0).
    pub tolerance: Option<Tolerance>,
    /// Child reference columns (orphan).
    #[serde(default)]
    pub columns: Vec<String>,
    /// The parent pair (orphan).
    pub parent: Option<String>,
    /// Parent key columns (orphan; default: the parent pair's key).
    #[serde(default)]
    pub parent_columns: Vec<String>,
    /// A tenant column child and parent must agree on (orphan).
    pub tenant: Option<String>,
    /// Count rows with a NULL reference as orphans (orphan; default false).
    pub null_is_orphan: Option<bool>,
    /// The predicate every row must satisfy (invariant).
    pub predicate: Option<String>,
    /// Sides the invariant is checked on (default both).
    pub sides: Option<Vec<Side>>,
    /// Raw SQL for the legacy side (count: groups then the count; total: groups then the sum).
    pub legacy_sql: Option<String>,
    /// Raw SQL for the target side.
    pub target_sql: Option<String>,
    /// Warn when the check's metric is greater than this.
    pub warn: Option<f64>,
    /// Fail when the check's metric is greater than this.
    pub fail: Option<f64>,
    /// Count: thresholds on the largest relative difference of a group.
    pub relative: Option<Threshold>,
}

/// `[golden]`: where golden queries live.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenConfig {
    /// Folder of `.sql` files (relative to the config file).
    pub dir: String,
    /// Warn when more result rows than this differ.
    pub warn: Option<f64>,
    /// Fail when more result rows than this differ (default 0).
    pub fail: Option<f64>,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Stable id (a JSON key and a JUnit test name).
    pub id: String,
    /// The check's kind.
    pub kind: CheckKind,
    /// `pass`, `warn`, `fail` or `error`.
    pub status: Status,
    /// Where the check is defined: `recon.toml:12` or a golden file.
    pub source: String,
    /// The metric the thresholds apply to.
    pub metric: String,
    /// Its measured value.
    pub value: f64,
    /// The thresholds of the metric.
    pub thresholds: Threshold,
    /// Every crossed threshold.
    pub findings: Vec<Finding>,
    /// What was measured, per kind (both sides' values, differing groups, samples).
    pub measured: Value,
    /// Why the check errored, or a note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Wall time of the check.
    pub duration_ms: u64,
}

/// A check ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    id: String,
    source: String,
    spec: Spec,
    thresholds: Threshold,
}

impl Planned {
    /// The table pairs the check reads (`None` for golden queries, which may read anything).
    pub(crate) fn tables(&self) -> Option<Vec<String>> {
        match &self.spec {
            Spec::Config(c) => Some(c.table.iter().chain(&c.parent).cloned().collect()),
            Spec::Golden(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Spec {
    Config(Box<CheckConfig>),
    Golden(GoldenQuery),
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').chars().take(48).collect()
}

/// The id a check gets when it has none.
pub fn default_id(c: &CheckConfig) -> String {
    let table = c.table.as_deref().unwrap_or("?");
    let groups = if c.group_by.is_empty() {
        String::new()
    } else {
        format!(
            ".by_{}",
            c.group_by
                .iter()
                .map(|g| slug(g))
                .collect::<Vec<_>>()
                .join("_")
        )
    };
    match c.kind {
        CheckKind::Count => format!("counts.{table}{groups}"),
        CheckKind::Total => format!(
            "totals.{table}.{}{groups}",
            c.column.as_deref().unwrap_or("?")
        ),
        CheckKind::Orphan => {
            format!(
                "orphans.{table}.{}.{}",
                c.columns.join("_"),
                c.parent.as_deref().unwrap_or("?")
            )
        }
        CheckKind::Invariant => format!(
            "invariants.{table}.{}",
            slug(c.predicate.as_deref().unwrap_or("?"))
        ),
        CheckKind::Golden => format!("golden.{table}"),
    }
}

/// Validates the checks of a config (names, required fields, unique ids).
pub fn validate(config: &Config) -> std::result::Result<(), String> {
    let pairs: BTreeSet<&str> = config.tables.iter().map(|t| t.name.as_str()).collect();
    let mut ids = BTreeSet::new();
    for (i, c) in config.checks.iter().enumerate() {
        let c = c.get_ref();
        let at = format!(
            "check #{} ({})",
            i + 1,
            c.id.clone().unwrap_or_else(|| default_id(c))
        );
        let raw = c.legacy_sql.is_some() || c.target_sql.is_some();
        if raw && (c.legacy_sql.is_none() || c.target_sql.is_none()) {
            return Err(format!("{at}: give both `legacy_sql` and `target_sql`"));
        }
        if raw && !matches!(c.kind, CheckKind::Count | CheckKind::Total) {
            return Err(format!("{at}: raw SQL is for count and total checks"));
        }
        let need_table = !raw;
        match c.table.as_deref() {
            Some(t) if !pairs.contains(t) => {
                return Err(format!("{at}: no table pair named `{t}`"));
            }
            None if need_table => {
                return Err(format!("{at}: `table` names the table pair to check"));
            }
            _ => {}
        }
        match c.kind {
            CheckKind::Total if c.column.is_none() && !raw => {
                return Err(format!("{at}: `column` names the money column"));
            }
            CheckKind::Orphan => {
                if c.columns.is_empty() {
                    return Err(format!(
                        "{at}: `columns` names the child's reference columns"
                    ));
                }
                match c.parent.as_deref() {
                    None => return Err(format!("{at}: `parent` names the parent table pair")),
                    Some(p) if !pairs.contains(p) => {
                        return Err(format!("{at}: no table pair named `{p}`"));
                    }
                    _ => {}
                }
                if !c.parent_columns.is_empty() && c.parent_columns.len() != c.columns.len() {
                    return Err(format!(
                        "{at}: `columns` and `parent_columns` differ in length"
                    ));
                }
            }
            CheckKind::Invariant if c.predicate.is_none() => {
                return Err(format!("{at}: `predicate` is required"));
            }
            CheckKind::Golden => {
                return Err(format!(
                    "{at}: golden queries live in [golden] dir, not [[checks]]"
                ));
            }
            _ => {}
        }
        if let Some(tol) = &c.tolerance {
            let text = tol.as_decimal_text();
            if crate::hash::decimal::parse_decimal(&text).is_none_or(|(m, _)| m < 0) {
                return Err(format!(
                    "{at}: tolerance `{text}` is not a non-negative decimal"
                ));
            }
        }
        let id = c.id.clone().unwrap_or_else(|| default_id(c));
        if !ids.insert(id.clone()) {
            return Err(format!(
                "{at}: two checks have the id `{id}`; give one an explicit `id`"
            ));
        }
    }
    Ok(())
}

/// Plans every check of a config: `[[checks]]` in order, then the golden queries by file name.
pub(crate) fn plan(
    config: &Config,
    lines: &[usize],
    config_name: &str,
    base: &std::path::Path,
) -> Result<Vec<Planned>> {
    let mut out = Vec::new();
    for (i, c) in config.checks.iter().enumerate() {
        let c = c.get_ref().clone();
        let line = lines.get(i).copied().unwrap_or(0);
        let thresholds = Threshold {
            warn: c.warn,
            fail: c.fail.or(if c.warn.is_some() { None } else { Some(0.0) }),
        };
        out.push(Planned {
            id: c.id.clone().unwrap_or_else(|| default_id(&c)),
            source: format!("{config_name}:{line}"),
            spec: Spec::Config(Box::new(c)),
            thresholds,
        });
    }
    if let Some(g) = &config.golden {
        let dir: PathBuf = base.join(&g.dir);
        for q in load_golden(&dir)? {
            let thresholds = Threshold {
                warn: g.warn,
                fail: g.fail.or(if g.warn.is_some() { None } else { Some(0.0) }),
            };
            out.push(Planned {
                id: format!("golden.{}", q.name),
                source: q.source.clone(),
                spec: Spec::Golden(q),
                thresholds,
            });
        }
    }
    let mut seen = BTreeSet::new();
    for p in &out {
        if !seen.insert(p.id.clone()) {
            return Err(crate::Error::Invalid(format!(
                "two checks have the id `{}`",
                p.id
            )));
        }
    }
    Ok(out)
}

/// Everything checks need: a session per side and how each pair reads on each side.
pub(crate) struct Context {
    sessions: PerSide<SessionContext>,
    sources: BTreeMap<String, PerSide<String>>,
    keys: BTreeMap<String, Vec<String>>,
    samples: usize,
    /// What is redacted: results that depend on it show digests.
    redaction: lineage::Redaction,
    /// How result values compare (the pairs' options).
    options: sql::ValueOptions,
}

impl Context {
    /// Sessions over both snapshots and each pair's per-side subquery.
    pub(crate) async fn new(
        pairs: &[(&TableConfig, &PairPlan)],
        samples: usize,
        snapshots: &PerSide<Snapshot>,
        threads: usize,
        options: sql::ValueOptions,
        redaction: lineage::Redaction,
    ) -> Result<Self> {
        let sessions = PerSide::new(
            crate::snapshot::sql::session_for(&snapshots.legacy, threads).await?,
            crate::snapshot::sql::session_for(&snapshots.target, threads).await?,
        );
        let mut sources = BTreeMap::new();
        let mut keys = BTreeMap::new();
        for &(t, p) in pairs {
            let source = |side: Side| -> String {
                let query = match side {
                    Side::Legacy => t.legacy_sql.as_deref(),
                    Side::Target => t.target_sql.as_deref(),
                };
                if let Some(q) = query {
                    return format!("({q})");
                }
                let schema = &p.tables.get(side).schema;
                let cols: Vec<String> = schema
                    .fields()
                    .iter()
                    .map(|f| {
                        let name = f.name();
                        let legacy = match side {
                            Side::Legacy => None,
                            Side::Target => p
                                .renames
                                .iter()
                                .find(|(_, to)| *to == name)
                                .map(|(from, _)| from),
                        };
                        match legacy {
                            Some(l) => format!("{} AS {}", sql::ident(name), sql::ident(l)),
                            None => sql::ident(name),
                        }
                    })
                    .collect();
                let table = match side {
                    Side::Legacy => t.legacy_table(),
                    Side::Target => t.target_table(),
                };
                format!(
                    "(SELECT {} FROM {}.{})",
                    cols.join(", "),
                    side.as_str(),
                    sql::ident(table)
                )
            };
            sources.insert(
                t.name.clone(),
                PerSide::new(source(Side::Legacy), source(Side::Target)),
            );
            keys.insert(t.name.clone(), t.key.clone());
        }
        Ok(Self {
            sessions,
            sources,
            keys,
            samples,
            redaction,
            options,
        })
    }

    fn source(&self, pair: &str, side: Side) -> std::result::Result<&str, String> {
        self.sources
            .get(pair)
            .map(|s| s.get(side).as_str())
            .ok_or_else(|| format!("no table pair named `{pair}`"))
    }
}

/// What one check measured before the gate.
pub(crate) struct Measured {
    metric: &'static str,
    value: f64,
    extra: Vec<(&'static str, f64, Threshold)>,
    measured: Value,
}

/// Runs every planned check concurrently; a failing check becomes an `error` result.
pub(crate) async fn run_all(ctx: &Context, planned: &[Planned]) -> Vec<CheckReport> {
    let runs = planned.iter().map(|p| async move {
        let clock = Instant::now();
        let result = match &p.spec {
            Spec::Config(c) => kinds::run(ctx, c).await,
            Spec::Golden(q) => golden::run(ctx, q).await,
        };
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        let kind = match &p.spec {
            Spec::Config(c) => c.kind,
            Spec::Golden(_) => CheckKind::Golden,
        };
        match result {
            Ok(m) => {
                let mut findings = Vec::new();
                let mut judge = |metric: &str, value: f64, t: Threshold| {
                    if let Some((level, threshold)) = t.judge(value) {
                        findings.push(Finding {
                            metric: metric.to_owned(),
                            value,
                            threshold,
                            level,
                        });
                    }
                };
                judge(m.metric, m.value, p.thresholds);
                for (metric, value, t) in &m.extra {
                    judge(metric, *value, *t);
                }
                CheckReport {
                    id: p.id.clone(),
                    kind,
                    status: crate::gate::worst(&findings),
                    source: p.source.clone(),
                    metric: m.metric.to_owned(),
                    value: m.value,
                    thresholds: p.thresholds,
                    findings,
                    measured: m.measured,
                    reason: None,
                    duration_ms,
                }
            }
            Err(reason) => CheckReport {
                id: p.id.clone(),
                kind,
                status: Status::Error,
                source: p.source.clone(),
                metric: String::new(),
                value: 0.0,
                thresholds: p.thresholds,
                findings: Vec::new(),
                measured: Value::Null,
                reason: Some(format!("{}: {reason}", p.source)),
                duration_ms,
            },
        }
    });
    futures::future::join_all(runs).await
}
