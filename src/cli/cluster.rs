//! `recon cluster scheduler` and `recon cluster executor`: the two roles of a Ballista cluster
//! that runs recon's work (builds with the `cluster` feature; others say so and exit 2). Each
//! prints one line on stdout once it serves and runs until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use recon::Workers;

/// Arguments of `recon cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The role.
    #[command(subcommand)]
    pub role: Role,
}

/// The roles.
#[derive(Debug, Subcommand)]
pub enum Role {
    /// Run the scheduler: it plans jobs into stages and hands tasks to executors.
    Scheduler(SchedulerArgs),
    /// Run an executor: it joins a scheduler and runs the tasks it is given.
    Executor(ExecutorArgs),
}

/// Arguments of `recon cluster scheduler`.
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address of its gRPC service, REST API and Flight proxy (clients and executors need
    /// only this one).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub bind: SocketAddr,
    /// The host executors reach it at (default: the `--bind` host; needed with 0.0.0.0).
    #[arg(long, value_name = "HOST")]
    pub advertise: Option<String>,
    /// An executor silent this long is declared lost and its tasks run elsewhere (e.g. `30s`;
    /// default 180s, Ballista's). Keep it longer than the executors' `--heartbeat`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub executor_timeout: Option<std::time::Duration>,
}

/// Arguments of `recon cluster executor`.
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to join (`HOST:PORT` or `df://HOST:PORT`).
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Address of its gRPC service (the scheduler launches tasks there); the host is the one it
    /// announces to the scheduler.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50052")]
    pub bind: SocketAddr,
    /// Port of its Arrow Flight service (shuffle data and results), on the `--bind` host.
    #[arg(long, value_name = "PORT", default_value_t = 50051)]
    pub flight_port: u16,
    /// Tasks it runs at once (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub concurrent_tasks: usize,
    /// Folder for its scratch folder (shuffle files, spills), removed when it stops (default:
    /// the system's temporary folder).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// The host it announces (default: the `--bind` host; needed with 0.0.0.0).
    #[arg(long, value_name = "HOST")]
    pub advertise: Option<String>,
    /// How often it tells the scheduler it lives (e.g. `5s`; default 60s, Ballista's).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub heartbeat: Option<std::time::Duration>,
}

/// What a build without the feature says.
#[cfg(not(feature = "cluster"))]
pub(crate) fn not_built(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what}: this build of recon was built without the `cluster` feature (build it with \
         `--features cluster`)"
    )
}

/// Runs `recon cluster`.
#[cfg(not(feature = "cluster"))]
pub fn run(args: &ClusterArgs, _workers: &Workers) -> anyhow::Result<i32> {
    Err(not_built(match args.role {
        Role::Scheduler(_) => "recon cluster scheduler",
        Role::Executor(_) => "recon cluster executor",
    }))
}

/// Runs `recon cluster`.
#[cfg(feature = "cluster")]
pub fn run(args: &ClusterArgs, workers: &Workers) -> anyhow::Result<i32> {
    use recon::cluster::{ExecutorOptions, SchedulerOptions};
    match &args.role {
        Role::Scheduler(a) => {
            let options = SchedulerOptions {
                bind: a.bind,
                advertise: a.advertise.clone(),
                executor_timeout: a
                    .executor_timeout
                    .unwrap_or(recon::cluster::EXECUTOR_TIMEOUT),
            };
            recon::cluster::run_scheduler(&options, workers, |address| {
                super::printer::stdout_line(&format!("scheduler listening on {address}"));
            })?;
        }
        Role::Executor(a) => {
            let options = ExecutorOptions {
                scheduler: a.scheduler.parse()?,
                bind: a.bind,
                flight_port: a.flight_port,
                concurrent_tasks: a.concurrent_tasks,
                work_dir: a.work_dir.clone(),
                advertise: a.advertise.clone(),
                heartbeat: a.heartbeat.unwrap_or(recon::cluster::HEARTBEAT),
            };
            recon::cluster::run_executor(&options, workers, super::printer::stdout_line)?;
        }
    }
    Ok(0)
}
