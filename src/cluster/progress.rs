//! How far a running job is, from the scheduler's REST API: the share of its tasks done. Ballista
//! reports a job's share of stages done; a reconciliation has three stages (both sides hashed at
//! once, then the pairing), so that share would stay at 0 for most of a long job and then jump.
//! Its tasks are counted instead: every partition of every stage, known from the plan the client
//! submitted, against the partitions the scheduler lists as done.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};
use serde_json::Value;

/// The tasks of a job whose only stage boundaries are hash [`RepartitionExec`]s (a
/// reconciliation's plan; Ballista cuts a stage there and drops other repartitions): each
/// boundary's input partitions (the map stage before it), and the final stage's partitions.
pub fn tasks_of(plan: &Arc<dyn ExecutionPlan>) -> usize {
    fn inputs(plan: &Arc<dyn ExecutionPlan>) -> usize {
        plan.children()
            .into_iter()
            .map(|child| {
                let boundary = plan
                    .downcast_ref::<RepartitionExec>()
                    .is_some_and(|r| matches!(r.partitioning(), Partitioning::Hash(..)));
                let own = if boundary {
                    child.output_partitioning().partition_count()
                } else {
                    0
                };
                own + inputs(child)
            })
            .sum()
    }
    plan.output_partitioning().partition_count() + inputs(plan)
}

/// The percentage done of `job` (an entry of `/api/jobs`) with `stages` (its
/// `/api/job/{id}/stages`, when read) out of `tasks` tasks: the partitions whose task succeeded
/// (a partition run again after a failure counts once), never 100 before the job has ended, and
/// never less than the scheduler's own share of stages done.
pub fn percent(job: &Value, stages: Option<&Value>, tasks: usize) -> Option<u8> {
    let by_stages = job
        .get("percent_complete")
        .and_then(Value::as_u64)
        .and_then(|p| u8::try_from(p.min(100)).ok())?;
    let Some(stages) = stages
        .and_then(|s| s.get("stages"))
        .and_then(Value::as_array)
    else {
        return Some(by_stages);
    };
    let mut done = HashSet::new();
    for stage in stages {
        let id = stage.get("stage_id").and_then(Value::as_str).unwrap_or("");
        let tasks = stage.get("tasks").and_then(Value::as_array);
        for task in tasks.into_iter().flatten() {
            if task.get("status").and_then(Value::as_str) != Some("Successful") {
                continue;
            }
            let partitions = task.get("partition_id").and_then(Value::as_array);
            for p in partitions.into_iter().flatten().filter_map(Value::as_u64) {
                done.insert((id, p));
            }
        }
    }
    let by_tasks = (done.len().saturating_mul(100) / tasks.max(1)).min(99);
    Some(by_stages.max(u8::try_from(by_tasks).unwrap_or(99)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_plan::empty::EmptyExec;
    use datafusion::physical_plan::union::UnionExec;
    use serde_json::json;

    #[test]
    fn a_jobs_tasks_are_its_map_stages_partitions_and_its_final_stages() {
        let schema = Arc::new(Schema::new(vec![Field::new("key", DataType::UInt64, true)]));
        let side = |row_groups: usize, by: Partitioning| -> Arc<dyn ExecutionPlan> {
            let source = EmptyExec::new(Arc::clone(&schema)).with_partitions(row_groups);
            Arc::new(RepartitionExec::try_new(Arc::new(source), by).expect("repartition"))
        };
        let by_key = || Partitioning::Hash(vec![col("key", &schema).expect("key")], 4);
        // Two map stages of 3 and 5 tasks under a final stage of 8 partitions (a union of two
        // four-partition inputs, as the pairing's two inputs of four).
        let job = UnionExec::try_new(vec![side(3, by_key()), side(5, by_key())]).expect("union");
        assert_eq!(job.output_partitioning().partition_count(), 8);
        assert_eq!(tasks_of(&job), 3 + 5 + 8);
        // A round-robin repartition is no stage boundary.
        let spread = side(3, Partitioning::RoundRobinBatch(4));
        assert_eq!(tasks_of(&spread), 4);
        let alone: Arc<dyn ExecutionPlan> =
            Arc::new(EmptyExec::new(Arc::new(Schema::empty())).with_partitions(2));
        assert_eq!(tasks_of(&alone), 2);
    }

    #[test]
    fn done_is_the_partitions_whose_task_succeeded() {
        let job = json!({"percent_complete": 0});
        let task = |status: Value, partitions: &[u64]| json!({"status": status, "partition_id": partitions});
        let stages = json!({"stages": [
            {"stage_id": "1", "tasks": [
                task(json!("Successful"), &[0]),
                task(json!("Successful"), &[1, 2]),
                // Failed, then run again: counted once.
                task(json!({"Failed": {"reason": "ExecutorLost", "error": "gone"}}), &[3]),
                task(json!("Successful"), &[3]),
            ]},
            {"stage_id": "2", "tasks": [
                task(json!("Running"), &[0]),
                task(json!("Successful"), &[1]),
            ]},
        ]});
        // 5 of 20 partitions.
        assert_eq!(percent(&job, Some(&stages), 20), Some(25));
        // Without the stages, or with fewer tasks than listed: the scheduler's share, and
        // never 100 before the job says so.
        assert_eq!(percent(&job, None, 20), Some(0));
        assert_eq!(percent(&job, Some(&stages), 4), Some(99));
        let ended = json!({"percent_complete": 100});
        assert_eq!(percent(&ended, Some(&stages), 20), Some(100));
        // The scheduler's share is the floor.
        let two_thirds = json!({"percent_complete": 66});
        assert_eq!(percent(&two_thirds, Some(&stages), 20), Some(66));
        // Not a job entry.
        assert_eq!(percent(&json!({}), Some(&stages), 20), None);
    }
}
