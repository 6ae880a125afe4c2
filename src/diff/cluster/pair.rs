//! The pairing operator of a reconciliation on a cluster: [`PairExec`] takes one key partition
//! of both sides (each hash-repartitioned on `key`, a shuffle between executors) and classifies
//! it with the local engine's own [`merge::merge`]. When the hashing tasks shipped column digests,
//! it also attributes each changed candidate with the local engine's own
//! [`attribute::settle_stored`]. What it found comes out as rows of [`paired_schema`]: the
//! counts, each side's rows, NULL keys and checksum share, every changed candidate (with its
//! differing columns, when attributed) and the missing and extra rows the client asked for.
//!
//! It keeps its input's partitioning, so that a task restricted to some partitions runs exactly
//! those. Pairing is CPU work: it runs on a blocking thread, never on the executor's async
//! runtime.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, FixedSizeBinaryArray, RecordBatch, UInt8Builder,
    UInt64Builder,
};
use arrow::buffer::{Buffer, NullBuffer};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

use super::exec::{check_widths, engine_error, key_field, properties};
use crate::diff::attribute::{self, Settled};
use crate::diff::merge::{self, Merged};
use crate::diff::partition::{Entry, Key};
use crate::diff::scan::{self, KeyCodec};
use crate::side::{PerSide, Side};

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

/// The rows [`PairExec`] emits. `columns` is set on attributed candidates only: empty when the
/// pair is equal within its tolerances, else the differing compared columns (`u16`, little
/// endian); NULL leaves the candidate to the client.
pub fn paired_schema(key_bytes: i32) -> SchemaRef {
    let word = |n: &str| Field::new(n, DataType::UInt64, false);
    Arc::new(Schema::new(vec![
        Field::new("kind", DataType::UInt8, false),
        key_field(key_bytes),
        word("a"),
        word("b"),
        word("c"),
        word("d"),
        Field::new("columns", DataType::Binary, true),
    ]))
}

/// Classifies one key partition of both sides.
#[derive(Debug)]
pub struct PairExec {
    /// Missing and extra rows kept per partition (`u64::MAX`: all).
    pub keep: u64,
    /// Bytes of a key.
    pub key_bytes: i32,
    /// Bytes of a row's column digests in the input, or 0 when it has none (nothing is
    /// attributed here then).
    pub digest_width: i32,
    /// The pair, as [`super::spec::PairSpec`] JSON: attribution needs its tolerances.
    pub spec: Arc<[u8]>,
    legacy: Arc<dyn ExecutionPlan>,
    target: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
}

impl PairExec {
    /// Pairs the partitions of `legacy` and `target` (both hash-partitioned on `key` alike),
    /// keeping `keep` missing and extra rows of each.
    pub fn new(
        (spec, keep): (Arc<[u8]>, u64),
        (key_bytes, digest_width): (i32, i32),
        legacy: Arc<dyn ExecutionPlan>,
        target: Arc<dyn ExecutionPlan>,
    ) -> Self {
        let partitions = legacy.output_partitioning().partition_count();
        Self {
            keep,
            key_bytes,
            digest_width,
            spec,
            props: properties(paired_schema(key_bytes), partitions),
            legacy,
            target,
        }
    }
}

impl DisplayAs for PairExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "ReconPairExec: keep={}, attributed={}",
            self.keep,
            self.digest_width > 0
        )
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
            (Arc::clone(&self.spec), self.keep),
            (self.key_bytes, self.digest_width),
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
        let schema = self.schema();
        let task = Task {
            schema: Arc::clone(&schema),
            keep: usize::try_from(self.keep).unwrap_or(usize::MAX),
            widths: (self.key_bytes, self.digest_width),
            spec: Arc::clone(&self.spec),
        };
        let paired = async move {
            let (l, t) = futures::try_join!(
                legacy.try_collect::<Vec<_>>(),
                target.try_collect::<Vec<_>>()
            )?;
            tokio::task::spawn_blocking(move || {
                if task.widths.0 == 8 {
                    pair_rows::<u64>(&task, PerSide::new(&l, &t))
                } else {
                    pair_rows::<u128>(&task, PerSide::new(&l, &t))
                }
            })
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?
        };
        let stream = futures::stream::once(paired).boxed();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// What a pairing task needs besides its rows.
struct Task {
    schema: SchemaRef,
    keep: usize,
    widths: (i32, i32),
    spec: Arc<[u8]>,
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
            let key = keys.is_valid(i).then(|| K::read(keys.value(i)));
            s.rows += 1;
            s.checksum = s.checksum.wrapping_add(scan::checksum_share(key, hash));
            match key {
                Some(key) => s.entries.push(Entry {
                    key,
                    hash,
                    ord: ords.value(i),
                }),
                None => s.null_keys += 1,
            }
        }
    }
    Ok(s)
}

fn pair_rows<K: KeyCodec>(
    task: &Task,
    batches: PerSide<&Vec<RecordBatch>>,
) -> DfResult<RecordBatch> {
    let mut sides = PerSide::new(
        side_rows::<K>(batches.legacy)?,
        side_rows::<K>(batches.target)?,
    );
    let m = merge::merge(
        std::mem::take(&mut sides.legacy.entries),
        std::mem::take(&mut sides.target.entries),
        task.keep,
    );
    let settled = if task.widths.1 > 0 && !m.candidates.is_empty() {
        attribute_candidates(task, &m, batches)?
    } else {
        vec![Settled::Unknown; m.candidates.len()]
    };
    paired_batch(&task.schema, &m, &settled, &sides)
}

/// Attributes each candidate from the column digests its two rows were shipped with, as the
/// local engine does from its stores; a pair its 32-bit digests cannot tell apart stays
/// [`Settled::Unknown`], for the client to read again.
fn attribute_candidates<K: Key>(
    task: &Task,
    m: &Merged<K>,
    batches: PerSide<&Vec<RecordBatch>>,
) -> DfResult<Vec<Settled>> {
    let resolved = super::spec::resolve(&task.spec).map_err(engine_error)?;
    check_widths(&resolved, task.widths)?;
    let width = task.widths.1;
    let rows = |side: Side| -> DfResult<HashMap<u64, &[u8]>> {
        let wanted: HashSet<u64> = m.candidates.iter().map(|c| *c.ordinal(side)).collect();
        let mut found = HashMap::with_capacity(wanted.len());
        for b in *batches.get(side) {
            let shape = || DataFusionError::Internal("hashed rows without their digests".into());
            let ords = (b.columns().get(2))
                .and_then(|c| c.as_primitive_opt::<UInt64Type>())
                .ok_or_else(shape)?;
            let digests = (b.columns().get(3))
                .and_then(|c| c.as_fixed_size_binary_opt())
                .filter(|d| d.value_length() == width)
                .ok_or_else(shape)?;
            for (i, ord) in ords.values().iter().enumerate() {
                if wanted.contains(ord) {
                    found.insert(*ord, digests.value(i));
                }
            }
        }
        Ok(found)
    };
    let found = PerSide::new(rows(Side::Legacy)?, rows(Side::Target)?);
    m.candidates
        .iter()
        .map(|c| {
            let row = |side: Side| {
                let ord = *c.ordinal(side);
                found.get(side).get(&ord).copied().ok_or_else(|| {
                    DataFusionError::Internal(format!(
                        "table `{}`: {side} row {ord} is not in its partition",
                        resolved.plan.name
                    ))
                })
            };
            let (l, t) = (row(Side::Legacy)?, row(Side::Target)?);
            attribute::settle_stored(&resolved.plan, &resolved.layout, l, t).map_err(engine_error)
        })
        .collect()
}

fn paired_batch<K: Key>(
    schema: &SchemaRef,
    m: &Merged<K>,
    settled: &[Settled],
    sides: &PerSide<SideRows<K>>,
) -> DfResult<RecordBatch> {
    let n = 3 + m.candidates.len() + m.missing_rows.len() + m.extra_rows.len();
    let width = i32::try_from(K::BYTES).unwrap_or(16);
    let mut kind = UInt8Builder::with_capacity(n);
    let mut keys = Vec::with_capacity(n * K::BYTES);
    let mut keyed = Vec::with_capacity(n);
    let mut words: [UInt64Builder; 4] = std::array::from_fn(|_| UInt64Builder::with_capacity(n));
    let mut columns = BinaryBuilder::with_capacity(n, 0);
    let mut push = |k: Kind, key: Option<K>, w: [u64; 4], settled: Option<&Settled>| {
        match settled {
            Some(Settled::Equal) => columns.append_value([]),
            Some(Settled::Differ(mask)) => {
                columns.append_value(
                    mask.iter()
                        .flat_map(|c| c.to_le_bytes())
                        .collect::<Vec<_>>(),
                );
            }
            Some(Settled::Unknown) | None => columns.append_null(),
        }
        kind.append_value(k as u8);
        key.unwrap_or_default().write(&mut keys);
        keyed.push(key.is_some());
        for (b, v) in words.iter_mut().zip(w) {
            b.append_value(v);
        }
    };
    push(Kind::Counts, None, [m.matched, m.missing, m.extra, 0], None);
    for (k, s, dups) in [
        (Kind::Legacy, &sides.legacy, m.duplicate_keys.legacy),
        (Kind::Target, &sides.target, m.duplicate_keys.target),
    ] {
        push(k, None, [s.rows, s.null_keys, s.checksum, dups], None);
    }
    for (c, s) in m.candidates.iter().zip(settled) {
        let w = [c.legacy, c.target, c.hashes.0, c.hashes.1];
        push(Kind::Candidate, Some(c.key), w, Some(s));
    }
    for &(key, ord) in &m.missing_rows {
        push(Kind::Missing, Some(key), [ord, 0, 0, 0], None);
    }
    for &(key, ord) in &m.extra_rows {
        push(Kind::Extra, Some(key), [ord, 0, 0, 0], None);
    }
    let key =
        FixedSizeBinaryArray::try_new(width, Buffer::from(keys), Some(NullBuffer::from(keyed)))?;
    let mut out: Vec<ArrayRef> = vec![Arc::new(kind.finish()), Arc::new(key)];
    out.extend(words.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    out.push(Arc::new(columns.finish()));
    Ok(RecordBatch::try_new(Arc::clone(schema), out)?)
}
