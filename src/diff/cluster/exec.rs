//! The two physical operators of a reconciliation on a cluster, each running the local engine's
//! own code:
//!
//! - [`HashExec`] hashes the row groups its input names (one side's work list, a partition per
//!   row group) with [`scan::hash_batch`], and emits every row as `(key, hash, ord)`: its key
//!   (NULL where a key column is NULL), its row hash and its ordinal in the table.
//! - [`PairExec`] takes one key partition of both sides (each hash-repartitioned on `key`, a
//!   shuffle between executors) and classifies it with [`merge::merge`], emitting what it found
//!   as rows of [`paired_schema`]: the counts, each side's rows, NULL keys and checksum share,
//!   every changed candidate, and the missing and extra rows the client asked for.
//!
//! Both keep their input's partitioning, so that a task restricted to some partitions runs
//! exactly those. Hashing and pairing are CPU work: they run on threads of their own, never on
//! the executor's async runtime.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeBinaryArray, RecordBatch, UInt8Builder, UInt64Array,
    UInt64Builder,
};
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
use futures::{StreamExt, TryStreamExt};

use crate::diff::merge::{self, Merged};
use crate::diff::partition::{Entry, Key};
use crate::diff::scan::{self, BATCH_ROWS, KeyCodec, Scratch};
use crate::error::Error;
use crate::side::{PerSide, Side};
use crate::snapshot::RowGroupRef;

/// What a [`PairExec`] row is; the meaning of its words `a`..`d` depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// `a` identical pairs, `b` missing rows, `c` extra rows.
    Counts = 0,
    /// The legacy side's `a` rows, `b` NULL keys, `c` checksum share, `d` duplicate keys.
    Legacy = 1,
    /// The same for the target side.
    Target = 2,
    /// A pair with one key and different hashes: `a` legacy and `b` target ordinal, `c`, `d`
    /// their row hashes.
    Candidate = 3,
    /// A missing row: `a` its legacy ordinal.
    Missing = 4,
    /// An extra row: `a` its target ordinal.
    Extra = 5,
}

impl Kind {
    /// The kind of a row's tag.
    pub fn of(tag: u8) -> Option<Self> {
        [
            Self::Counts,
            Self::Legacy,
            Self::Target,
            Self::Candidate,
            Self::Missing,
            Self::Extra,
        ]
        .into_iter()
        .find(|k| *k as u8 == tag)
    }
}

fn key_field(key_bytes: i32) -> Field {
    Field::new("key", DataType::FixedSizeBinary(key_bytes), true)
}

/// The rows [`HashExec`] emits.
pub fn hashed_schema(key_bytes: i32) -> SchemaRef {
    Arc::new(Schema::new(vec![
        key_field(key_bytes),
        Field::new("hash", DataType::UInt64, false),
        Field::new("ord", DataType::UInt64, false),
    ]))
}

/// The rows [`PairExec`] emits.
pub fn paired_schema(key_bytes: i32) -> SchemaRef {
    let word = |n: &str| Field::new(n, DataType::UInt64, false);
    Arc::new(Schema::new(vec![
        Field::new("kind", DataType::UInt8, false),
        key_field(key_bytes),
        word("a"),
        word("b"),
        word("c"),
        word("d"),
    ]))
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

fn properties(schema: SchemaRef, partitions: usize) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions),
        EmissionType::Incremental,
        Boundedness::Bounded,
    ))
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(engine_error)`
fn engine_error(e: Error) -> DataFusionError {
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
    input: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
}

impl HashExec {
    /// Hashes the row groups `input` lists.
    pub fn new(spec: Arc<[u8]>, side: Side, key_bytes: i32, input: Arc<dyn ExecutionPlan>) -> Self {
        let partitions = input.output_partitioning().partition_count();
        Self {
            spec,
            side,
            key_bytes,
            props: properties(hashed_schema(key_bytes), partitions),
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
            self.key_bytes,
            input,
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let (spec, side, key_bytes) = (Arc::clone(&self.spec), self.side, self.key_bytes);
        let schema = self.schema();
        let out = Arc::clone(&schema);
        let (tx, rx) = tokio::sync::mpsc::channel::<DfResult<RecordBatch>>(2);
        std::thread::Builder::new()
            .name("recon-hash".into())
            .spawn(move || {
                let result = futures::executor::block_on(input.try_collect::<Vec<_>>())
                    .and_then(|work| hash_work(&spec, side, key_bytes, &work, &out, &tx));
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
    key_bytes: i32,
    work: &[RecordBatch],
    schema: &SchemaRef,
    tx: &Sender,
) -> DfResult<()> {
    let resolved = super::spec::resolve(spec).map_err(engine_error)?;
    let expected = if resolved.plan.exact_int_key { 8 } else { 16 };
    if expected != key_bytes {
        return Err(DataFusionError::Internal(format!(
            "table `{}`: the client planned {key_bytes}-byte keys, this executor {expected}",
            resolved.plan.name
        )));
    }
    if resolved.plan.exact_int_key {
        hash_rows::<u64>(&resolved, side, work, schema, tx)
    } else {
        hash_rows::<u128>(&resolved, side, work, schema, tx)
    }
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
                let batch = hashed_batch(schema, &scratch, rows, ordinal)
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
    s: &Scratch<K>,
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
    RecordBatch::try_new(
        Arc::clone(schema),
        vec![Arc::new(key), Arc::new(hash), Arc::new(ord)],
    )
}

/// Classifies one key partition of both sides.
#[derive(Debug)]
pub struct PairExec {
    /// Missing and extra rows kept per partition (`u64::MAX`: all).
    pub keep: u64,
    /// Bytes of a key.
    pub key_bytes: i32,
    legacy: Arc<dyn ExecutionPlan>,
    target: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
}

impl PairExec {
    /// Pairs the partitions of `legacy` and `target` (both hash-partitioned on `key` alike).
    pub fn new(
        keep: u64,
        key_bytes: i32,
        legacy: Arc<dyn ExecutionPlan>,
        target: Arc<dyn ExecutionPlan>,
    ) -> Self {
        let partitions = legacy.output_partitioning().partition_count();
        Self {
            keep,
            key_bytes,
            props: properties(paired_schema(key_bytes), partitions),
            legacy,
            target,
        }
    }
}

impl DisplayAs for PairExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "ReconPairExec: keep={}", self.keep)
    }
}

impl ExecutionPlan for PairExec {
    fn name(&self) -> &'static str {
        "ReconPairExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.legacy, &self.target]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false, false]
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
        let [legacy, target] = <[_; 2]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("ReconPairExec takes two inputs".into()))?;
        Ok(Arc::new(Self::new(
            self.keep,
            self.key_bytes,
            legacy,
            target,
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let legacy = self.legacy.execute(partition, Arc::clone(&context))?;
        let target = self.target.execute(partition, context)?;
        let (keep, key_bytes, schema) = (self.keep, self.key_bytes, self.schema());
        let out = Arc::clone(&schema);
        let paired = async move {
            let (l, t) = futures::try_join!(
                legacy.try_collect::<Vec<_>>(),
                target.try_collect::<Vec<_>>()
            )?;
            tokio::task::spawn_blocking(move || {
                let keep = usize::try_from(keep).unwrap_or(usize::MAX);
                if key_bytes == 8 {
                    pair_rows::<u64>(&out, keep, &l, &t)
                } else {
                    pair_rows::<u128>(&out, keep, &l, &t)
                }
            })
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?
        };
        let stream = futures::stream::once(paired).boxed();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// One side's rows of a partition: its keyed entries and what the hashing pass counts.
#[derive(Default)]
struct SideRows<K> {
    entries: Vec<Entry<K>>,
    rows: u64,
    null_keys: u64,
    checksum: u64,
}

fn side_rows<K: KeyCodec>(batches: &[RecordBatch]) -> DfResult<SideRows<K>> {
    let mut s = SideRows::default();
    for b in batches {
        let shape = || DataFusionError::Internal("hashed rows of another shape".into());
        let width = i32::try_from(K::BYTES).unwrap_or(16);
        let keys = (b.columns().first())
            .and_then(|c| c.as_fixed_size_binary_opt())
            .filter(|k| k.value_length() == width)
            .ok_or_else(shape)?;
        let word = |i: usize| {
            (b.columns().get(i))
                .and_then(|c| c.as_primitive_opt::<UInt64Type>())
                .ok_or_else(shape)
        };
        let (hashes, ords) = (word(1)?, word(2)?);
        for i in 0..b.num_rows() {
            let hash = hashes.value(i);
            s.rows += 1;
            if keys.is_null(i) {
                s.null_keys += 1;
                s.checksum = s.checksum.wrapping_add(crate::hash::fold(hash, 0));
            } else {
                let key = K::read(keys.value(i));
                s.checksum = s.checksum.wrapping_add(scan::fingerprint(key, hash));
                s.entries.push(Entry {
                    key,
                    hash,
                    ord: ords.value(i),
                });
            }
        }
    }
    Ok(s)
}

fn pair_rows<K: KeyCodec>(
    schema: &SchemaRef,
    keep: usize,
    legacy: &[RecordBatch],
    target: &[RecordBatch],
) -> DfResult<RecordBatch> {
    let mut sides = PerSide::new(side_rows::<K>(legacy)?, side_rows::<K>(target)?);
    let m = merge::merge(
        std::mem::take(&mut sides.legacy.entries),
        std::mem::take(&mut sides.target.entries),
        keep,
    );
    paired_batch(schema, &m, &sides)
}

fn paired_batch<K: Key>(
    schema: &SchemaRef,
    m: &Merged<K>,
    sides: &PerSide<SideRows<K>>,
) -> DfResult<RecordBatch> {
    let n = 3 + m.candidates.len() + m.missing_rows.len() + m.extra_rows.len();
    let width = i32::try_from(K::BYTES).unwrap_or(16);
    let mut kind = UInt8Builder::with_capacity(n);
    let mut keys = Vec::with_capacity(n * K::BYTES);
    let mut keyed = Vec::with_capacity(n);
    let mut words: [UInt64Builder; 4] = std::array::from_fn(|_| UInt64Builder::with_capacity(n));
    let mut push = |k: Kind, key: Option<K>, w: [u64; 4]| {
        kind.append_value(k as u8);
        key.unwrap_or_default().write(&mut keys);
        keyed.push(key.is_some());
        for (b, v) in words.iter_mut().zip(w) {
            b.append_value(v);
        }
    };
    push(Kind::Counts, None, [m.matched, m.missing, m.extra, 0]);
    for (k, s, dups) in [
        (Kind::Legacy, &sides.legacy, m.duplicate_keys.legacy),
        (Kind::Target, &sides.target, m.duplicate_keys.target),
    ] {
        push(k, None, [s.rows, s.null_keys, s.checksum, dups]);
    }
    for c in &m.candidates {
        let w = [c.legacy, c.target, c.hashes.0, c.hashes.1];
        push(Kind::Candidate, Some(c.key), w);
    }
    for &(key, ord) in &m.missing_rows {
        push(Kind::Missing, Some(key), [ord, 0, 0, 0]);
    }
    for &(key, ord) in &m.extra_rows {
        push(Kind::Extra, Some(key), [ord, 0, 0, 0]);
    }
    let key =
        FixedSizeBinaryArray::try_new(width, Buffer::from(keys), Some(NullBuffer::from(keyed)))?;
    let mut columns: Vec<ArrayRef> = vec![Arc::new(kind.finish()), Arc::new(key)];
    columns.extend(words.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}
