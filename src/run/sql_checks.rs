//! The run's SQL checks: those its `--table` selection leaves whole, measured on both snapshots
//! (or on the run's cluster), then judged by the gate.

use std::sync::Arc;

use super::RunOptions;
use crate::checks;
use crate::config::{LoadedConfig, TableConfig};
use crate::error::{Error, Result};
use crate::plan::PairPlan;
use crate::pool::Workers;
use crate::redact::RedactionKey;
use crate::side::PerSide;
use crate::snapshot::Snapshot;

/// The config's checks that the run's `--table` selection leaves whole.
pub(super) fn plan_checks(
    loaded: &LoadedConfig,
    opts: &RunOptions<'_>,
) -> Result<Vec<checks::Planned>> {
    let config_name = loaded
        .path
        .file_name()
        .map_or_else(|| "recon.toml".into(), |n| n.to_string_lossy().into_owned());
    let planned = checks::plan(
        &loaded.config,
        &loaded.check_lines,
        &config_name,
        &loaded.base_dir,
    )?;
    Ok(planned
        .into_iter()
        .filter(|c| {
            opts.settings.only.is_empty()
                || c.tables()
                    .is_some_and(|ts| ts.iter().all(|t| opts.settings.only.contains(t)))
        })
        .collect())
}

/// Runs the checks on both snapshots; the checks measure, the gate judges each outcome.
pub(super) fn run_checks(
    config: &crate::config::Config,
    (samples, planner): (
        usize,
        Option<Arc<dyn datafusion::execution::context::QueryPlanner + Send + Sync>>,
    ),
    pairs: &[(&TableConfig, &PairPlan)],
    snapshots: &PerSide<Snapshot>,
    workers: &Workers,
    key: &Arc<RedactionKey>,
    planned: &[checks::Planned],
) -> Result<Vec<crate::report::CheckReport>> {
    let outcomes = workers.runtime().block_on(async {
        let ctx = checks::Context::new(
            pairs,
            samples,
            snapshots,
            workers.threads(),
            checks::sql::ValueOptions::new(config),
            checks::lineage::Redaction::from_config(config, Arc::clone(key)),
            planner,
        )
        .await?;
        Ok::<_, Error>(checks::run_all(&ctx, planned).await)
    })?;
    Ok(outcomes
        .into_iter()
        .map(|c| {
            let judged = crate::gate::judge_check(&c);
            crate::report::build::check(c, judged)
        })
        .collect())
}
