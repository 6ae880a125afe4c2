//! SQL checks: whether the business still adds up. Counts, financial totals, orphans, invariants
//! and golden queries run with `DataFusion` over both snapshots — one session per side, with every
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
use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, TableConfig};
use crate::error::CheckError;
use crate::error::Result;
use crate::gate::{Finding, MetricValue, Status, Threshold};
use crate::plan::PairPlan;
use crate::side::{PerSide, Side};
use crate::snapshot::Snapshot;

pub use crate::config::checks::{CheckConfig, CheckKind, GoldenConfig, default_id};
pub use golden::{GoldenQuery, load_golden};

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Stable id (a JSON key and a `JUnit` test name).
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
    pub value: MetricValue,
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
    /// The metrics for the gate to judge, each with its thresholds (the check's metric first).
    #[serde(skip)]
    pub gated: Vec<(String, MetricValue, Threshold)>,
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
            Spec::Config(c) => Some(c.tables()),
            Spec::Golden(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Spec {
    Config(Box<CheckConfig>),
    Golden(GoldenQuery),
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
        let (_, warn, fail) = c.common();
        let thresholds = Threshold {
            warn,
            fail: fail.or(if warn.is_some() { None } else { Some(0.0) }),
        };
        out.push(Planned {
            id: c.id(),
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

    fn source(&self, pair: &str, side: Side) -> std::result::Result<&str, CheckError> {
        self.sources
            .get(pair)
            .map(|s| s.get(side).as_str())
            .ok_or_else(|| CheckError::Refused(format!("no table pair named `{pair}`")))
    }
}

/// What one check measured before the gate.
pub(crate) struct Measured {
    metric: &'static str,
    value: MetricValue,
    extra: Vec<(&'static str, MetricValue, Threshold)>,
    detail: Value,
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
            Spec::Config(c) => c.kind(),
            Spec::Golden(_) => CheckKind::Golden,
        };
        match result {
            // What was measured; the gate judges it after (`CheckReport::gated`).
            Ok(m) => {
                let mut gated = vec![(m.metric.to_owned(), m.value, p.thresholds)];
                gated.extend(m.extra.iter().map(|&(n, v, t)| (n.to_owned(), v, t)));
                CheckReport {
                    id: p.id.clone(),
                    kind,
                    status: Status::Pass,
                    source: p.source.clone(),
                    metric: m.metric.to_owned(),
                    value: m.value,
                    thresholds: p.thresholds,
                    findings: Vec::new(),
                    measured: m.detail,
                    reason: None,
                    duration_ms,
                    gated,
                }
            }
            Err(reason) => CheckReport {
                id: p.id.clone(),
                kind,
                status: Status::Error,
                source: p.source.clone(),
                metric: String::new(),
                value: MetricValue::Count(0),
                thresholds: p.thresholds,
                findings: Vec::new(),
                measured: Value::Null,
                reason: Some(format!("{}: {}", p.source, crate::error::chain(&reason))),
                duration_ms,
                gated: Vec::new(),
            },
        }
    });
    futures::future::join_all(runs).await
}
