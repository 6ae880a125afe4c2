//! The hashing operator of a reconciliation on a cluster: [`HashExec`] hashes the row groups its
//! input names (one side's work list, a partition per row group) with the local engine's own
//! [`scan::hash_batch`], and emits every row as `(key, hash, ord[, digests])`: its key (NULL
//! where a key column is NULL), its row hash, its ordinal in the table and, when the pairing
//! task attributes changed pairs, its column digests in the store layout
//! ([`crate::diff::digests::RowLayout`]). The pairing operator is in [`super::pair`].
//!
//! It keeps its input's partitioning, so that a task restricted to some partitions runs exactly
//! those. Hashing is CPU work: it runs on a thread of its own, never on the executor's async
//! runtime.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, FixedSizeBinaryArray, RecordBatch, UInt64Array};
use arrow::buffer::{Buffer, NullBuffer};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::TryStreamExt;

use crate::diff::scan::{self, BATCH_ROWS, KeyCodec, Scratch};
use crate::error::Error;
use crate::side::Side;
use crate::snapshot::RowGroupRef;

pub(super) fn key_field(key_bytes: i32) -> Field {
    Field::new("key", DataType::FixedSizeBinary(key_bytes), true)
}

/// The rows [`HashExec`] emits; `digest_width` bytes of column digests a row, when not 0.
pub fn hashed_schema(key_bytes: i32, digest_width: i32) -> SchemaRef {
    let mut fields = vec![
        key_field(key_bytes),
        Field::new("hash", DataType::UInt64, false),
        Field::new("ord", DataType::UInt64, false),
    ];
    if digest_width > 0 {
        fields.push(Field::new(
            "digests",
            DataType::FixedSizeBinary(digest_width),
            false,
        ));
    }
    Arc::new(Schema::new(fields))
}

/// The schema of a side's work list: one row a row group.
pub fn work_schema() -> SchemaRef {
    let word = |n: &str| Field::new(n, DataType::UInt64, false);
    Arc::new(Schema::new(vec![
        word("file"),
        word("row_group"),
        word("base"),
    ]))
}

/// A side's work list: a partition per row group, so that each is a task of its own.
pub fn work_list(row_groups: &[RowGroupRef]) -> DfResult<Vec<Vec<RecordBatch>>> {
    let schema = work_schema();
    row_groups
        .iter()
        .map(|rg| {
            let word = |v: u64| Arc::new(UInt64Array::from(vec![v])) as ArrayRef;
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    word(rg.file as u64),
                    word(rg.row_group as u64),
                    word(rg.base),
                ],
            )?;
            Ok(vec![batch])
        })
        .collect()
}

pub(super) fn properties(schema: SchemaRef, partitions: usize) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions),
        EmissionType::Incremental,
        Boundedness::Bounded,
    ))
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(engine_error)`
pub(super) fn engine_error(e: Error) -> DataFusionError {
    DataFusionError::Execution(e.chain())
}

/// Hashes one side's row groups (its input: that side's work list).
#[derive(Debug)]
pub struct HashExec {
    /// The pair, as [`super::spec::PairSpec`] JSON.
    pub spec: Arc<[u8]>,
    /// Which side.
    pub side: Side,
    /// Bytes of a key: 8 for one exact integer key, else 16.
    pub key_bytes: i32,
    /// Bytes of a row's column digests, or 0 to ship none.
    pub digest_width: i32,
    input: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
}

impl HashExec {
    /// Hashes the row groups `input` lists, shipping `digest_width` bytes of column digests a
    /// row (0: none).
    pub fn new(
        spec: Arc<[u8]>,
        side: Side,
        (key_bytes, digest_width): (i32, i32),
        input: Arc<dyn ExecutionPlan>,
    ) -> Self {
        let partitions = input.output_partitioning().partition_count();
        Self {
            spec,
            side,
            key_bytes,
            digest_width,
            props: properties(hashed_schema(key_bytes, digest_width), partitions),
            input,
        }
    }
}

impl DisplayAs for HashExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "ReconHashExec: side={}", self.side)
    }
}

impl ExecutionPlan for HashExec {
    fn name(&self) -> &'static str {
        "ReconHashExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(std::mem::take(&mut children))
            .map_err(|_| DataFusionError::Internal("ReconHashExec takes one input".into()))?;
        Ok(Arc::new(Self::new(
            Arc::clone(&self.spec),
            self.side,
            (self.key_bytes, self.digest_width),
            input,
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let (spec, side) = (Arc::clone(&self.spec), self.side);
        let widths = (self.key_bytes, self.digest_width);
        let schema = self.schema();
        let out = Arc::clone(&schema);
        let (tx, rx) = tokio::sync::mpsc::channel::<DfResult<RecordBatch>>(2);
        std::thread::Builder::new()
            .name("recon-hash".into())
            .spawn(move || {
                let result = futures::executor::block_on(input.try_collect::<Vec<_>>())
                    .and_then(|work| hash_work(&spec, side, widths, &work, &out, &tx));
                if let Err(e) = result {
                    // The receiver may be gone (the job was cancelled): nothing to tell then.
                    let _ = tx.blocking_send(Err(e));
                }
            })
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|batch| (batch, rx))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

type Sender = tokio::sync::mpsc::Sender<DfResult<RecordBatch>>;

fn hash_work(
    spec: &[u8],
    side: Side,
    widths: (i32, i32),
    work: &[RecordBatch],
    schema: &SchemaRef,
    tx: &Sender,
) -> DfResult<()> {
    let resolved = super::spec::resolve(spec).map_err(engine_error)?;
    check_widths(&resolved, widths)?;
    if resolved.plan.exact_int_key {
        hash_rows::<u64>(&resolved, side, work, schema, tx)
    } else {
        hash_rows::<u128>(&resolved, side, work, schema, tx)
    }
}

/// Refuses a task whose client planned other key or digest widths than this executor would.
pub(super) fn check_widths(
    resolved: &super::spec::Resolved,
    (key_bytes, digest_width): (i32, i32),
) -> DfResult<()> {
    let keys = if resolved.plan.exact_int_key { 8 } else { 16 };
    let row = i32::try_from(resolved.layout.width()).unwrap_or(i32::MAX);
    if keys != key_bytes || (digest_width != 0 && digest_width != row) {
        return Err(DataFusionError::Internal(format!(
            "table `{}`: the client planned {key_bytes}-byte keys and {digest_width}-byte \
             digests, this executor {keys} and {row}",
            resolved.plan.name
        )));
    }
    Ok(())
}

fn hash_rows<K: KeyCodec>(
    r: &super::spec::Resolved,
    side: Side,
    work: &[RecordBatch],
    schema: &SchemaRef,
    tx: &Sender,
) -> DfResult<()> {
    let (plan, layout) = (&r.plan, &r.layout);
    let table = plan.tables.get(side);
    let known = table.row_groups();
    let columns = plan.read_columns(side);
    let mut scratch = Scratch::<K>::without_entries();
    for batch in work {
        let word = |i: usize| {
            (batch.columns().get(i))
                .and_then(|c| c.as_primitive_opt::<UInt64Type>())
                .ok_or_else(|| DataFusionError::Internal("a work list of another shape".into()))
        };
        let (files, groups, bases) = (word(0)?, word(1)?, word(2)?);
        for row in 0..batch.num_rows() {
            let (file, group, base) = (files.value(row), groups.value(row), bases.value(row));
            // The client's row group must be this executor's, at the same ordinal.
            let Some(&rg) = known
                .iter()
                .find(|k| k.file as u64 == file && k.row_group as u64 == group && k.base == base)
            else {
                return Err(DataFusionError::Internal(format!(
                    "table `{}`: {side} row group {group} of file {file} at row {base} is not \
                     this executor's",
                    plan.name
                )));
            };
            let mut ordinal = rg.base;
            let mut each = |arrays: Vec<ArrayRef>, rows: usize| -> crate::error::Result<()> {
                scan::hash_batch(plan, layout, side, &arrays, rows, ordinal, &mut scratch)?;
                let batch = hashed_batch(schema, layout, &mut scratch, rows, ordinal)
                    .map_err(|e| Error::failed("a hashed batch".to_owned(), e))?;
                ordinal += rows as u64;
                // A closed channel is a cancelled job: stop reading.
                tx.blocking_send(Ok(batch))
                    .map_err(|_| Error::Internal("the task was cancelled".into()))
            };
            table
                .read_row_group(rg, &columns, None, BATCH_ROWS, &mut each)
                .map_err(engine_error)?;
        }
    }
    Ok(())
}

fn hashed_batch<K: KeyCodec>(
    schema: &SchemaRef,
    layout: &crate::diff::digests::RowLayout,
    s: &mut Scratch<K>,
    rows: usize,
    ordinal: u64,
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    let keys = &s.keys[..rows];
    let mut bytes = Vec::with_capacity(rows * K::BYTES);
    for k in keys {
        k.unwrap_or_default().write(&mut bytes);
    }
    let nulls: NullBuffer = keys.iter().map(Option::is_some).collect();
    let width = i32::try_from(K::BYTES).unwrap_or(16);
    let key = FixedSizeBinaryArray::try_new(width, Buffer::from(bytes), Some(nulls))?;
    let hash = UInt64Array::from(s.full[..rows].to_vec());
    let ord = UInt64Array::from_iter_values(ordinal..ordinal + rows as u64);
    let mut columns: Vec<ArrayRef> = vec![Arc::new(key), Arc::new(hash), Arc::new(ord)];
    if schema.fields().len() > 3 {
        let width = i32::try_from(layout.width()).unwrap_or(i32::MAX);
        let bytes = scan::all_row_bytes(layout, rows, s);
        let digests = FixedSizeBinaryArray::try_new(width, Buffer::from(bytes), None)?;
        columns.push(Arc::new(digests));
    }
    RecordBatch::try_new(Arc::clone(schema), columns)
}
