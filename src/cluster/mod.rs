//! Running recon's work on an Apache `DataFusion` Ballista cluster (feature `cluster`): one
//! scheduler and any number of executors, all of them the `recon` binary
//! ([`run_scheduler`], [`run_executor`]), and a client that plans on the caller's side and
//! submits physical plans ([`Client`]).
//!
//! Every role shares what makes a result the local engine's:
//! - the session config ([`session_config`]): Ballista's, with adaptive planning off (physical
//!   plans are planned once, by the client) and one partition per task;
//! - recon's SQL functions ([`functions`]): `sum` is recon's exact sum, in the scheduler's
//!   sessions and in every executor's task context, since plans name their functions and each
//!   role resolves the name in its own registry;
//! - the extension codec of physical plans ([`physical_codec`]), identical on every role because
//!   a node is encoded by the position of the codec that took it;
//! - the canary ([`canary`]): each role, before it serves, runs `sum` over a BIGINT in the very
//!   session it will use and refuses to start unless recon's sum answers. The client submits the
//!   same query as a job before its first statement.
//!
//! The scheduler's instance id carries recon's version (`recon/<version>/<uuid>`, shown by its
//! REST API at `/api/state`); executors and clients read it and refuse a scheduler of another
//! recon version ([`scheduler_version`]).
//!
//! ```no_run
//! # fn main() -> recon::Result<()> {
//! let workers = recon::Workers::new(2)?;
//! let address: recon::cluster::SchedulerAddress = "df://127.0.0.1:50050".parse()?;
//! let client = recon::cluster::Client::connect(&address, &workers)?;
//! # Ok(())
//! # }
//! ```

pub mod canary;
mod client;
mod executor;
mod progress;
mod scheduler;
mod sql;

pub use client::{Client, Connected};
pub use executor::{ExecutorOptions, HEARTBEAT, run_executor};
pub use scheduler::{EXECUTOR_TIMEOUT, SchedulerOptions, run_scheduler};
pub use sql::ClusterPlanner;

use std::sync::Arc;
use std::time::Duration;

use ballista_core::config::BALLISTA_SCHEDULER_MAX_PARTITIONS_PER_TASK;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::execution::SessionState;
use datafusion::execution::context::SessionConfig;
use datafusion_proto::physical_plan::{ComposedPhysicalExtensionCodec, PhysicalExtensionCodec};

use crate::error::{Error, Result};

/// recon's version, as the scheduler announces it and executors and clients require it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The prefix of a recon scheduler's instance id (`recon/<version>/<uuid>`).
const ID_PREFIX: &str = "recon/";

/// The session config of every role and of the client: Ballista's defaults, adaptive query
/// planning off, one partition per task.
pub fn session_config() -> SessionConfig {
    SessionConfig::new_with_ballista()
        .with_ballista_adaptive_query_planner(false)
        .set_usize(BALLISTA_SCHEDULER_MAX_PARTITIONS_PER_TASK, 1)
}

/// The function registry of executors: `DataFusion`'s functions with recon's in place of those
/// of the same name.
pub fn functions() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for f in crate::snapshot::sql::aggregates() {
        registry.aggregate_functions.insert(f.name().to_owned(), f);
    }
    registry
}

/// Registers recon's functions in a session state (the scheduler's sessions).
pub fn register_functions(state: &mut SessionState) -> Result<()> {
    use datafusion::execution::FunctionRegistry;
    for f in crate::snapshot::sql::aggregates() {
        state
            .register_udaf(f)
            .map_err(|e| Error::failed("registering recon's SQL functions", e))?;
    }
    Ok(())
}

/// The extension codec of physical plans, the same on the client, the scheduler and every
/// executor: recon's (the reconciliation's operators, in [`crate::diff::cluster`], and its exact
/// `sum`), then Ballista's (its shuffle nodes). A node is encoded by the position of the first
/// codec that takes it; recon's comes first because every codec takes every aggregate (by name,
/// when it writes nothing), and recon's `sum` must be written as itself.
pub fn physical_codec() -> Arc<dyn PhysicalExtensionCodec> {
    Arc::new(ComposedPhysicalExtensionCodec::new(vec![
        Arc::new(crate::diff::cluster::ReconCodec),
        Arc::new(BallistaPhysicalExtensionCodec::default()),
    ]))
}

/// A scheduler's address: `HOST:PORT`, or `df://HOST:PORT` (port 50050 when left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerAddress {
    host: String,
    port: u16,
}

impl SchedulerAddress {
    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port of its gRPC service and REST API.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL Ballista's client dials.
    fn grpc_url(&self) -> String {
        format!("http://{self}")
    }
}

impl std::fmt::Display for SchedulerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl std::str::FromStr for SchedulerAddress {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let invalid = |why: &str| {
            Error::Invalid(format!(
                "scheduler address `{text}`: {why} (expected HOST:PORT or df://HOST:PORT)"
            ))
        };
        let with_scheme = if text.contains("://") {
            text.to_owned()
        } else {
            format!("df://{text}")
        };
        let url = url::Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
        if url.scheme() != "df" {
            return Err(invalid("the scheme is not df://"));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || !url.username().is_empty() {
            return Err(invalid("only a host and a port"));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("no host"))?;
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: url.port().unwrap_or(50050),
        })
    }
}

/// The recon version of the scheduler at `address`, read from its REST API (`/api/state`).
/// A scheduler that is not recon's, or not reachable within `timeout`, is an error naming it.
pub async fn scheduler_version(address: &SchedulerAddress, timeout: Duration) -> Result<String> {
    let failed = |why: String| Error::cluster(format!("scheduler {address}"), why);
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| Error::failed("an HTTP client", e))?;
    let response = client
        .get(format!("http://{address}/api/state"))
        .send()
        .await
        .map_err(|e| failed(format!("not reachable: {}", crate::error::chain(&e))))?;
    if !response.status().is_success() {
        return Err(failed(format!(
            "its REST API answered {} (is it a recon scheduler?)",
            response.status()
        )));
    }
    let body = response
        .text()
        .await
        .map_err(|e| failed(format!("reading its state: {}", crate::error::chain(&e))))?;
    let state: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| failed(format!("its state is not JSON: {e}")))?;
    let id = state
        .get("scheduler_id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    id.strip_prefix(ID_PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .map(|(version, _)| version.to_owned())
        .ok_or_else(|| {
            failed(format!(
                "not a recon scheduler (its instance id is `{id}`); start it with `recon cluster scheduler`"
            ))
        })
}

/// The host a role announces: `advertise`, or the address it binds, which may not be every
/// interface (no peer could reach that). `role` names the role, `reached` says who reaches it.
fn advertised(
    bind: std::net::IpAddr,
    advertise: Option<&str>,
    (role, reached): (&str, &str),
) -> Result<String> {
    match advertise {
        Some(host) => Ok(host.to_owned()),
        None if bind.is_unspecified() => Err(Error::cluster(
            role,
            format!("listening on every interface needs the host {reached} (--advertise HOST)"),
        )),
        None => Ok(bind.to_string()),
    }
}

/// How long a scheduler may take to answer the version request of a client or executor.
const SCHEDULER_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses a scheduler of another recon version.
pub(crate) async fn require_same_version(address: &SchedulerAddress) -> Result<()> {
    let theirs = scheduler_version(address, SCHEDULER_TIMEOUT).await?;
    if theirs == VERSION {
        return Ok(());
    }
    Err(Error::cluster(
        format!("scheduler {address}"),
        format!(
            "it runs recon {theirs}, this is recon {VERSION}: every role of a cluster must be the same recon version"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_with_and_without_the_scheme() {
        let a: SchedulerAddress = "df://127.0.0.1:50051".parse().expect("address");
        assert_eq!((a.host(), a.port()), ("127.0.0.1", 50051));
        assert_eq!(a.grpc_url(), "http://127.0.0.1:50051");
        let b: SchedulerAddress = "sched.example:7000".parse().expect("address");
        assert_eq!(b.to_string(), "sched.example:7000");
        let c: SchedulerAddress = "df://sched".parse().expect("address");
        assert_eq!(c.port(), 50050);
        let d: SchedulerAddress = "df://[::1]:9".parse().expect("address");
        assert_eq!(d.to_string(), "[::1]:9");
        for bad in [
            "http://h:1",
            "df://h:1/x",
            "df://:1",
            "df://u:p@h:1",
            "h:99999",
        ] {
            assert!(bad.parse::<SchedulerAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_config_plans_statically_one_partition_per_task() {
        let config = session_config().ballista_config();
        assert!(!config.adaptive_query_planner_enabled());
        assert_eq!(config.max_partitions_per_task(), 1);
    }

    #[test]
    fn recons_sum_travels_as_itself_not_by_name() {
        use crate::snapshot::sum::ExactSum;
        use datafusion::physical_plan::aggregates::AggregateExec;
        use datafusion::prelude::SessionContext;
        use datafusion_proto::bytes::{
            physical_plan_from_bytes_with_extension_codec,
            physical_plan_to_bytes_with_extension_codec,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let ctx = SessionContext::new();
        crate::snapshot::sql::register_functions(&ctx);
        let plan = rt
            .block_on(async { ctx.sql(canary::QUERY).await?.create_physical_plan().await })
            .expect("plan");
        let codec = physical_codec();
        let bytes =
            physical_plan_to_bytes_with_extension_codec(plan, codec.as_ref()).expect("encode");
        // Decoded where `sum` is DataFusion's: every aggregate is still recon's.
        let plain = SessionContext::new();
        let decoded = physical_plan_from_bytes_with_extension_codec(
            &bytes,
            &plain.task_ctx(),
            codec.as_ref(),
        )
        .expect("decode");
        let mut sums = Vec::new();
        let mut stack = vec![decoded];
        while let Some(node) = stack.pop() {
            if let Some(agg) = node.downcast_ref::<AggregateExec>() {
                sums.extend(
                    agg.aggr_expr()
                        .iter()
                        .map(|e| e.fun().inner().is::<ExactSum>()),
                );
            }
            stack.extend(node.children().into_iter().cloned());
        }
        assert!(
            !sums.is_empty() && sums.iter().all(|&exact| exact),
            "{sums:?}"
        );
    }

    #[test]
    fn the_registry_holds_recons_sum() {
        let registry = functions();
        let sum = registry.aggregate_functions.get("sum").expect("sum");
        assert!(sum.inner().is::<crate::snapshot::sum::ExactSum>());
    }
}
