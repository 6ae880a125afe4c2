//! `recon cluster executor`: Ballista's executor in this process, with recon's functions, config
//! and codec, joined to a scheduler of the same recon version. Its shuffle files and spills go
//! to a scratch folder of its own, made inside the work dir and removed when it stops (Ballista
//! deletes every folder in an executor's work dir, so it never gets the user's folder itself).
//! It serves until SIGTERM or SIGINT, when Ballista lets its running tasks finish.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ballista_core::RuntimeProducer;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_executor::health::ExecutorHealth;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionConfig;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;

use super::{
    SchedulerAddress, canary, functions, physical_codec, require_same_version, session_config,
};
use crate::error::{Error, Result};
use crate::pool::Workers;

/// Seconds between sweeps of the scratch folder for job data older than Ballista's TTL.
const CLEAN_UP_INTERVAL_SECONDS: u64 = 300;

/// How an executor joins its scheduler and serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler to join.
    pub scheduler: SchedulerAddress,
    /// The address of the executor's gRPC service (the scheduler launches tasks there); its host
    /// is also the one the executor announces.
    pub bind: SocketAddr,
    /// The port of its Arrow Flight service (shuffle data, results), on the same host.
    pub flight_port: u16,
    /// Tasks run at once (0: one per core).
    pub concurrent_tasks: usize,
    /// The folder its scratch folder is made in (default: the system's temporary folder).
    pub work_dir: Option<PathBuf>,
    /// The host it announces to the scheduler (default: the bind address's; required when that
    /// is unspecified, like 0.0.0.0).
    pub advertise: Option<String>,
    /// How often it tells the scheduler it lives (Ballista's default: 60 s); shorter than the
    /// scheduler's executor timeout.
    pub heartbeat: Duration,
}

/// Ballista's own default for [`ExecutorOptions::heartbeat`].
pub const HEARTBEAT: Duration = Duration::from_mins(1);

/// Runs an executor until SIGTERM or SIGINT. `ready` is called once the scheduler has accepted
/// it. Before that: the canary in the executor's own task session, the scheduler's recon version,
/// and both ports, each refused with a message naming what failed.
pub fn run_executor(
    options: &ExecutorOptions,
    workers: &Workers,
    ready: impl FnOnce(&str),
) -> Result<()> {
    let rt = workers.runtime();
    let role = format!("executor {}", options.bind);
    let signalled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&signalled);
    crate::pool::on_stop(rt, move || flag.store(true, Ordering::Release))?;
    rt.block_on(async {
        let registry = functions();
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(session_config())
            .with_scalar_functions(registry.scalar_functions.values().cloned().collect())
            .with_aggregate_functions(registry.aggregate_functions.values().cloned().collect())
            .with_window_functions(registry.window_functions.values().cloned().collect())
            .build();
        canary::check(state, &role).await?;
        require_same_version(&options.scheduler).await?;
        let flight = SocketAddr::new(options.bind.ip(), options.flight_port);
        for address in [options.bind, flight] {
            tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| Error::cluster(format!("{role}: cannot listen on {address}"), e))?;
        }
        let scratch = scratch_dir(options.work_dir.as_ref(), &role)?;
        let config = process_config(options, registry, scratch.path(), &role)?;
        let health = config.health.clone();
        let process = start_executor_process(Arc::new(config));
        tokio::pin!(process);
        let mut ready = Some(ready);
        let description = format!(
            "executor {} (flight {}) joined scheduler {}",
            options.bind, flight, options.scheduler
        );
        // Until it has joined, a signal is recon's to act on: Ballista listens for signals only
        // once it serves.
        let outcome = loop {
            tokio::select! {
                outcome = &mut process => break outcome,
                () = tokio::time::sleep(Duration::from_millis(50)), if ready.is_some() => {
                    if signalled.load(Ordering::Acquire) {
                        break Ok(());
                    }
                    if health.is_ready() && let Some(ready) = ready.take() {
                        ready(&description);
                    }
                }
            }
        };
        drop(scratch);
        match outcome {
            Err(e) => Err(Error::cluster(
                format!("{role}: scheduler {}", options.scheduler),
                e,
            )),
            Ok(()) if signalled.load(Ordering::Acquire) => Ok(()),
            Ok(()) => Err(Error::cluster(
                role.clone(),
                "it stopped without a signal: one of its services failed or the scheduler \
                 stopped it (see the log with --log info)",
            )),
        }
    })
}

/// The executor's own scratch folder inside `work_dir`.
fn scratch_dir(work_dir: Option<&PathBuf>, role: &str) -> Result<tempfile::TempDir> {
    let parent = work_dir.cloned().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&parent)
        .map_err(|e| Error::cluster(format!("{role}: work dir {}", parent.display()), e))?;
    tempfile::Builder::new()
        .prefix("recon-executor-")
        .tempdir_in(&parent)
        .map_err(|e| {
            Error::cluster(
                format!("{role}: a scratch folder in {}", parent.display()),
                e,
            )
        })
}

/// Ballista's executor config: recon's registry, session config and codec; shuffle files and
/// the runtime's spills in two folders of the scratch folder.
fn process_config(
    options: &ExecutorOptions,
    registry: ballista_core::registry::BallistaFunctionRegistry,
    scratch: &std::path::Path,
    role: &str,
) -> Result<ExecutorProcessConfig> {
    // Ballista deletes every folder in its work dir when it stops, DataFusion's spill folders
    // delete themselves: two folders, so that neither removes what the other still holds.
    let (shuffles, spills) = (scratch.join("shuffle"), scratch.join("spill"));
    for dir in [&shuffles, &spills] {
        std::fs::create_dir(dir)
            .map_err(|e| Error::cluster(format!("{role}: scratch folder {}", dir.display()), e))?;
    }
    let work_dir = shuffles
        .to_str()
        .ok_or_else(|| {
            Error::cluster(
                format!("{role}: scratch folder {}", shuffles.display()),
                "the path is not UTF-8",
            )
        })?
        .to_owned();
    let runtime: RuntimeProducer = Arc::new(move |_: &SessionConfig| {
        Ok(Arc::new(
            RuntimeEnvBuilder::new()
                .with_temp_file_path(spills.clone())
                .build()?,
        ))
    });
    let host = options.bind.ip();
    let external_host = super::advertised(
        host,
        options.advertise.as_deref(),
        (role, "the scheduler and the other executors reach it at"),
    )?;
    Ok(ExecutorProcessConfig {
        bind_host: host.to_string(),
        external_host: Some(external_host),
        executor_heartbeat_interval_seconds: options.heartbeat.as_secs().max(1),
        port: options.flight_port,
        grpc_port: options.bind.port(),
        scheduler_host: options.scheduler.host().to_owned(),
        scheduler_port: options.scheduler.port(),
        vcores: options.concurrent_tasks,
        work_dir: Some(work_dir),
        job_data_clean_up_interval_seconds: CLEAN_UP_INTERVAL_SECONDS,
        override_function_registry: Some(Arc::new(registry)),
        override_runtime_producer: Some(runtime),
        override_config_producer: Some(Arc::new(session_config)),
        override_physical_codec: Some(physical_codec()),
        health: ExecutorHealth::new(),
        ..ExecutorProcessConfig::default()
    })
}
