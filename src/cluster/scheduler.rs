//! `recon cluster scheduler`: Ballista's scheduler in this process, with recon's session (its
//! functions, config and codec), its in-memory cluster state, its REST API and the embedded
//! Flight proxy (clients fetch results through the scheduler's one port), on a listener recon
//! binds itself so that a taken address is a clear error. It serves until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::execution::context::SessionConfig;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use super::{ID_PREFIX, VERSION, canary, physical_codec, register_functions, session_config};
use crate::error::{Error, Result};
use crate::pool::Workers;

/// How the scheduler serves.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The address its gRPC service, REST API and Flight proxy listen on.
    pub bind: SocketAddr,
    /// The host executors report task status to (default: the bind address's; required when
    /// that is unspecified, like 0.0.0.0).
    pub advertise: Option<String>,
    /// An executor silent this long is declared lost: its tasks run elsewhere, and the map
    /// stages whose output it held run again (Ballista's default: 180 s). Longer than the
    /// executors' heartbeat interval.
    pub executor_timeout: std::time::Duration,
}

/// Ballista's own default for [`SchedulerOptions::executor_timeout`].
pub const EXECUTOR_TIMEOUT: std::time::Duration = std::time::Duration::from_mins(3);

/// The scheduler's sessions: Ballista's default session with recon's functions.
fn session_builder(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let mut state = ballista_core::utils::default_session_builder(config)?;
    register_functions(&mut state).map_err(|e| DataFusionError::External(Box::new(e)))?;
    Ok(state)
}

/// Runs a scheduler until SIGTERM or SIGINT. `ready` is called with the bound address once it
/// accepts connections. The canary runs first: a session without recon's `sum` refuses to start.
pub fn run_scheduler(
    options: &SchedulerOptions,
    workers: &Workers,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    let rt = workers.runtime();
    let bind = options.bind;
    let role = format!("scheduler {bind}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    crate::pool::on_stop(rt, move || {
        let _ = stop.send(());
    })?;
    let advertised = super::advertised(
        bind.ip(),
        options.advertise.as_deref(),
        (&role, "executors report task status to"),
    )?;
    rt.block_on(async {
        let state = session_builder(session_config())
            .map_err(|e| Error::cluster(format!("{role}: its session"), e))?;
        canary::check(state, &role).await?;
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| Error::cluster(format!("{role}: cannot listen on {bind}"), e))?;
        let address = listener
            .local_addr()
            .map_err(|e| Error::cluster(format!("{role}: its bound address"), e))?;
        let defaults = SchedulerConfig::default();
        let id = format!("{ID_PREFIX}{VERSION}/{}", defaults.scheduler_id);
        let mut config = defaults
            .with_scheduler_id(id)
            .with_hostname(advertised)
            .with_port(address.port())
            .with_enable_embedded_flight_proxy(true)
            .with_override_config_producer(Arc::new(session_config))
            .with_override_session_builder(Arc::new(session_builder));
        config.bind_host = address.ip().to_string();
        // Lost executors are looked for a dozen times per timeout (Ballista: 15 s of 180 s),
        // and a cluster with none left waits one timeout for one to come back.
        let timeout = options.executor_timeout.as_secs().max(2);
        config.executor_timeout_seconds = timeout;
        config.expire_dead_executor_interval_seconds = (timeout / 12).clamp(1, 15);
        config.no_executors_grace_period_seconds = timeout;
        config.override_physical_codec = Some(physical_codec());
        config
            .validate()
            .map_err(|e| Error::cluster(format!("{role}: its config"), e))?;
        let config = Arc::new(config);
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|e| Error::cluster(format!("{role}: its cluster state"), e))?;
        let server = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
            .await
            .map_err(|e| Error::cluster(format!("{role}: starting"), e))?;
        ready(address);
        tokio::select! {
            served = start_grpc_service_with_listener(listener, server) => served
                .map_err(|e| Error::cluster(format!("scheduler {address}: serving"), e)),
            _ = stopped => {
                tracing::info!("scheduler {address}: stopped by a signal");
                Ok(())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedulers_sessions_pass_the_canary() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let state = session_builder(session_config()).expect("session");
        rt.block_on(canary::check(state, "scheduler"))
            .expect("recon's sum in the scheduler's sessions");
    }
}
