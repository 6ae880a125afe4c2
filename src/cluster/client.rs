//! The client side: statements are planned here, in recon's own session (its snapshot tables,
//! its `sum`), and the physical plan is submitted to the scheduler as a job whose result
//! batches come back through the scheduler's Flight proxy. Before the first statement the
//! client checks the scheduler's recon version and runs the canary as a job.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use ballista_core::execution_plans::execute_physical_plan;
use ballista_core::extension::SessionConfigExt;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::TryStreamExt;

use super::{SchedulerAddress, canary, physical_codec, require_same_version, session_config};
use crate::error::{Error, Result};
use crate::pool::Workers;

/// How often a running job's status is read for progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// How long a status read for progress may take (the job's end is noticed after it).
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the canary job may take (it waits for an executor with a free task slot).
const CANARY_TIMEOUT: Duration = Duration::from_mins(1);

/// A connection to a recon cluster that runs physical plans as jobs.
pub struct Client {
    address: SchedulerAddress,
    config: SessionConfig,
    codec: Arc<dyn PhysicalExtensionCodec>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Checks the scheduler at `address` (same recon version, and the canary run as a job
    /// gives recon's answer) and returns a client for it.
    pub fn connect(address: &SchedulerAddress, workers: &Workers) -> Result<Self> {
        workers.runtime().block_on(Self::connect_async(address))
    }

    /// [`Client::connect`] on the caller's runtime.
    pub async fn connect_async(address: &SchedulerAddress) -> Result<Self> {
        require_same_version(address).await?;
        let client = Self {
            address: address.clone(),
            config: session_config(),
            codec: physical_codec(),
        };
        let role = format!("scheduler {address}");
        let ctx = SessionContext::new();
        crate::snapshot::sql::register_functions(&ctx);
        let plan = async { ctx.sql(canary::QUERY).await?.create_physical_plan().await }
            .await
            .map_err(|e| Error::failed("planning the canary", e))?;
        let batches = tokio::time::timeout(CANARY_TIMEOUT, client.execute(plan, &ctx.session_id()))
            .await
            .map_err(|_| {
                Error::cluster(
                    format!("{role}: the canary job"),
                    format!(
                        "no result within {} s: has an executor joined it?",
                        CANARY_TIMEOUT.as_secs()
                    ),
                )
            })??;
        canary::judge(&canary::answer(&batches), &role)?;
        Ok(client)
    }

    /// The scheduler.
    pub fn address(&self) -> &SchedulerAddress {
        &self.address
    }

    /// Runs a physical plan as one job and returns every batch of its result (the final
    /// stage's partitions in order). `session_id` names the caller's session on the scheduler.
    pub async fn execute(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        session_id: &str,
    ) -> Result<Vec<RecordBatch>> {
        self.run(plan, session_id, self.config.clone()).await
    }

    /// [`Client::execute`] as a job named `name`, telling `progress` the percentage of its
    /// tasks done, as the scheduler's job status says, while it runs (its stage boundaries
    /// must be repartitions, as a reconciliation's are: [`super::progress::tasks_of`]).
    pub async fn execute_watched(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        session_id: &str,
        name: &str,
        progress: &(dyn Fn(u8) + Sync),
    ) -> Result<Vec<RecordBatch>> {
        let config = self.config.clone().with_ballista_job_name(name);
        let tasks = super::progress::tasks_of(&plan);
        let job = self.run(plan, session_id, config);
        tokio::pin!(job);
        let status = reqwest::Client::builder()
            .timeout(PROGRESS_TIMEOUT)
            .build()
            .ok();
        // Progress is a courtesy: a status that cannot be read shows none. It is read in a
        // future of its own, so that the job is polled while a status request waits.
        let watch = async {
            let Some(http) = &status else {
                return std::future::pending::<std::convert::Infallible>().await;
            };
            let mut tick = tokio::time::interval(PROGRESS_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Some(done) = self.percent_done(http, name, tasks).await {
                    progress(done);
                }
            }
        };
        tokio::select! {
            done = &mut job => done,
            never = watch => match never {},
        }
    }

    async fn run(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        session_id: &str,
        config: SessionConfig,
    ) -> Result<Vec<RecordBatch>> {
        let failed = |e| Error::cluster(format!("scheduler {}: the job failed", self.address), e);
        let stream = execute_physical_plan::<PhysicalPlanNode>(
            self.address.grpc_url(),
            &config.ballista_config(),
            plan,
            self.codec.as_ref(),
            session_id.to_owned(),
            config,
        )
        .await
        .map_err(failed)?;
        stream.try_collect().await.map_err(failed)
    }

    /// The share done of the job named `name`, of `tasks` tasks, from the scheduler's REST
    /// API.
    async fn percent_done(&self, http: &reqwest::Client, name: &str, tasks: usize) -> Option<u8> {
        let get = async |path: String| -> Option<serde_json::Value> {
            let url = format!("http://{}{path}", self.address);
            let body = http.get(url).send().await.ok()?.text().await.ok()?;
            serde_json::from_str(&body).ok()
        };
        let jobs = get("/api/jobs".to_owned()).await?;
        let job = jobs
            .as_array()?
            .iter()
            .find(|j| j.get("job_name").and_then(serde_json::Value::as_str) == Some(name))?;
        let id = job.get("job_id").and_then(serde_json::Value::as_str);
        let stages = match id {
            Some(id) => get(format!("/api/job/{id}/stages")).await,
            None => None,
        };
        super::progress::percent(job, stages.as_ref(), tasks)
    }
}

/// A connected cluster client, with the runtime its jobs are awaited on.
#[derive(Debug)]
pub struct Connected {
    client: Arc<Client>,
    runtime: tokio::runtime::Handle,
}

impl Connected {
    /// Jobs of `client`, awaited on `runtime` (never from inside it: the engine calls
    /// [`Submit::submit`] from its own threads).
    pub fn new(client: Arc<Client>, runtime: tokio::runtime::Handle) -> Self {
        Self { client, runtime }
    }
}

impl crate::diff::cluster::Submit for Connected {
    fn submit(
        &self,
        what: &str,
        plan: Arc<dyn ExecutionPlan>,
        progress: &(dyn Fn(u8) + Sync),
    ) -> Result<Vec<RecordBatch>> {
        let session = format!("recon-{}", std::process::id());
        // Unique among the scheduler's jobs: progress finds the job by its name.
        let name = format!("recon {what} {}", unique_suffix());
        self.runtime
            .block_on(self.client.execute_watched(plan, &session, &name, progress))
    }
}

/// A name part no other job of any client shares: the process, the time and a counter.
fn unique_suffix() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{nanos:x}-{n}", std::process::id())
}
