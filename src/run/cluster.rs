//! The run's cluster, when it has one (`--cluster`, `[cluster] url`): connected once, then
//! given every pair it can read and the checks' statements. Without the `cluster` feature a run
//! asked to use one refuses, naming the feature.

use std::sync::Arc;

use crate::config::{LoadedConfig, TableConfig};
use crate::diff::DiffOptions;
#[cfg(not(feature = "cluster"))]
use crate::error::Error;
use crate::error::Result;
use crate::plan::PairPlan;
use crate::pool::Workers;

/// A connected cluster: a client whose canary answered.
#[cfg(feature = "cluster")]
pub(super) type Cluster = Arc<crate::cluster::Client>;
/// Without the `cluster` feature there is none.
#[cfg(not(feature = "cluster"))]
pub(super) type Cluster = std::convert::Infallible;

/// The cluster the run's pairs and checks run on, connected, if the run has one.
#[cfg(feature = "cluster")]
pub(super) fn cluster(url: Option<&str>, workers: &Workers) -> Result<Option<Cluster>> {
    let Some(url) = url else {
        return Ok(None);
    };
    let address: crate::cluster::SchedulerAddress = url.parse()?;
    Ok(Some(Arc::new(crate::cluster::Client::connect(
        &address, workers,
    )?)))
}

/// Without the `cluster` feature, a run asked to use a cluster cannot decide anything.
#[cfg(not(feature = "cluster"))]
pub(super) fn cluster(url: Option<&str>, _: &Workers) -> Result<Option<Cluster>> {
    match url {
        None => Ok(None),
        Some(url) => Err(Error::Invalid(format!(
            "cluster `{url}`: this build of recon was built without the `cluster` feature \
             (build with `--features cluster`, or run with --local)"
        ))),
    }
}

/// How the checks' statements are planned: to run on the cluster, if the run has one.
#[cfg(feature = "cluster")]
pub(super) fn sql_planner(
    cluster: Option<&Cluster>,
) -> Option<Arc<dyn datafusion::execution::context::QueryPlanner + Send + Sync>> {
    cluster.map(|c| Arc::new(crate::cluster::ClusterPlanner::new(Arc::clone(c))) as _)
}

#[cfg(not(feature = "cluster"))]
pub(super) fn sql_planner(
    _: Option<&Cluster>,
) -> Option<Arc<dyn datafusion::execution::context::QueryPlanner + Send + Sync>> {
    None
}

/// Sends a pair to the cluster, if the run has one: the pair as its tasks receive it. A pair
/// with a SQL-defined side is materialized on this machine, so it is reconciled here.
#[cfg(feature = "cluster")]
pub(super) fn on_cluster(
    opts: &mut DiffOptions,
    cluster: Option<&Cluster>,
    workers: &Workers,
    loaded: &LoadedConfig,
    t: &TableConfig,
    p: &PairPlan,
) {
    let Some(cluster) = cluster else {
        return;
    };
    if t.legacy_sql.is_some() || t.target_sql.is_some() {
        tracing::info!(table = %p.name, "a SQL-defined side is materialized here: reconciled here");
        return;
    }
    let c = &loaded.config;
    let roots = (
        c.legacy.root.as_str(),
        c.target.root.as_str(),
        loaded.base_dir.as_path(),
    );
    let spec = crate::diff::cluster::PairSpec::new(t, &c.defaults, roots, p);
    let connected =
        crate::cluster::Connected::new(Arc::clone(cluster), workers.runtime().handle().clone());
    opts.remote = Some(crate::diff::cluster::Remote {
        cluster: Arc::new(connected),
        spec: Arc::new(spec),
    });
}

#[cfg(not(feature = "cluster"))]
pub(super) fn on_cluster(
    _: &mut DiffOptions,
    _: Option<&Cluster>,
    _: &Workers,
    _: &LoadedConfig,
    _: &TableConfig,
    _: &PairPlan,
) {
}
