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
pub mod outcome;
mod sides;
pub mod sql;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use datafusion::execution::context::{QueryPlanner, SessionContext};

use crate::config::{Config, TableConfig, Threshold};
use crate::error::CheckError;
use crate::error::Result;
use crate::plan::PairPlan;
use crate::side::{PerSide, Side};
use crate::snapshot::Snapshot;

pub use crate::config::checks::{CheckConfig, CheckKind};
pub use golden::{GoldenQuery, load_golden};
pub use outcome::{CheckOutcome, Measurement};

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

/// A check's thresholds as written, or "any difference is critical" when none is given.
fn or_critical_on_any(t: Threshold) -> Threshold {
    if t == Threshold::default() {
        Threshold {
            critical: Some(0.0),
            ..t
        }
    } else {
        t
    }
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
        let thresholds = or_critical_on_any(c.common().1);
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
            let thresholds = or_critical_on_any(Threshold {
                warning: g.warning,
                critical: g.critical,
                rollback: g.rollback,
            });
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
        planner: Option<Arc<dyn QueryPlanner + Send + Sync>>,
    ) -> Result<Self> {
        use crate::snapshot::sql::session_with;
        let sessions = PerSide::new(
            session_with(&snapshots.legacy, threads, planner.clone()).await?,
            session_with(&snapshots.target, threads, planner).await?,
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

/// Runs a `[[checks]]` entry.
async fn run_config(
    ctx: &Context,
    c: &CheckConfig,
) -> std::result::Result<Measurement, CheckError> {
    match c {
        CheckConfig::Count(count) => measure::count(ctx, count).await,
        CheckConfig::Total(total) => measure::total(ctx, total).await,
        CheckConfig::Orphan(o) => kinds::orphan(ctx, o).await,
        CheckConfig::Invariant(v) => kinds::invariant(ctx, v).await,
    }
}

/// Runs every planned check concurrently; a failing check is an outcome with its reason.
pub(crate) async fn run_all(ctx: &Context, planned: &[Planned]) -> Vec<CheckOutcome> {
    let runs = planned.iter().map(|p| async move {
        let clock = Instant::now();
        let result = match &p.spec {
            Spec::Config(c) => run_config(ctx, c).await,
            Spec::Golden(q) => golden::run(ctx, q).await,
        };
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        let kind = match &p.spec {
            Spec::Config(c) => c.kind(),
            Spec::Golden(_) => CheckKind::Golden,
        };
        CheckOutcome {
            id: p.id.clone(),
            kind,
            source: p.source.clone(),
            thresholds: p.thresholds,
            duration_ms,
            result: result
                .map_err(|reason| format!("{}: {}", p.source, crate::error::chain(&reason))),
        }
    });
    futures::future::join_all(runs).await
}
