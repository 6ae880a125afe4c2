//! SQL sessions whose statements run on the cluster: planned here, exactly as a local session
//! plans them (recon's snapshot tables, its `sum`), then submitted as one job each. The SQL
//! checks and golden queries of a run on a cluster use these, so that everything the run reads
//! is read by the same executors.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use futures::StreamExt;

use super::Client;

/// Plans here, runs on the cluster.
#[derive(Debug)]
pub struct ClusterPlanner {
    client: Arc<Client>,
}

impl ClusterPlanner {
    /// Statements of a session with this planner run on `client`'s cluster.
    pub fn new(client: Arc<Client>) -> Self {
        Self { client }
    }
}

#[async_trait]
impl QueryPlanner for ClusterPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let local = DefaultPhysicalPlanner::default()
            .create_physical_plan(logical_plan, session_state)
            .await?;
        let session = session_state.session_id().to_owned();
        Ok(Arc::new(OnCluster::new(
            local,
            Arc::clone(&self.client),
            session,
        )))
    }
}

/// A plan run as one job on the cluster; its single partition is the job's result. It exists
/// on the client only: it is never sent.
#[derive(Debug)]
struct OnCluster {
    plan: Arc<dyn ExecutionPlan>,
    client: Arc<Client>,
    session: String,
    props: Arc<PlanProperties>,
}

impl OnCluster {
    fn new(plan: Arc<dyn ExecutionPlan>, client: Arc<Client>, session: String) -> Self {
        let props = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(plan.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Self {
            plan,
            client,
            session,
            props,
        }
    }
}

impl DisplayAs for OnCluster {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "OnCluster: scheduler={}", self.client.address())
    }
}

impl ExecutionPlan for OnCluster {
    fn name(&self) -> &'static str {
        "OnCluster"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        // The job's plan is run elsewhere: nothing here may rewrite it.
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal("OnCluster has no inputs".into()))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "OnCluster has one partition, not {partition}"
            )));
        }
        let (plan, client, session) = (
            Arc::clone(&self.plan),
            Arc::clone(&self.client),
            self.session.clone(),
        );
        let job = async move {
            client
                .execute(plan, &session)
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))
        };
        let batches = futures::stream::once(job)
            .map(|r| match r {
                Ok(batches) => futures::stream::iter(batches.into_iter().map(Ok)).left_stream(),
                Err(e) => futures::stream::once(async { Err(e) }).right_stream(),
            })
            .flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            batches,
        )))
    }
}
