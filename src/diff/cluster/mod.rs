//! A pair reconciled on a cluster (feature `cluster`): the hashing pass and the pairing run on
//! the executors, the rest here, with the local engine's own code.
//!
//! The job is one physical plan, built here and submitted to the scheduler:
//!
//! ```text
//! PairExec                                    one task per key partition
//!   RepartitionExec(Hash(key))  ── shuffle ──  RepartitionExec(Hash(key))
//!   HashExec(legacy)                           HashExec(target)        one task per row group
//!   work list (a partition per row group)      work list
//! ```
//!
//! The executors return counts, checksum shares, every changed candidate and the missing and
//! extra rows the report needs. Here they are counted into the same tally as the local engine's.
//! With [`Attribution::Store`] the hashing tasks ship each row's column digests through the
//! shuffle (4 bytes a compared column) and the pairing tasks attribute the candidates, as the
//! local engine does from its stores; with [`Attribution::Reread`] nothing more is shipped and
//! the candidates are attributed here from their two rows read again, a cost that follows the
//! drift. Either way, what the digests cannot tell is read again here, and the samples come
//! from the detail pass, as locally. Each side's rows must add up to its footers' count: a row
//! group hashed twice or not at all fails the table, never the verdict.

mod codec;
mod exec;
mod pair;
mod spec;

pub use codec::ReconCodec;
pub use spec::PairSpec;

use std::fmt::Debug;
use std::sync::Arc;

use arrow::array::Array;
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{UInt8Type, UInt64Type};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::physical_expr::expressions::col;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};

use super::attribute::{Attribution, Settled};
use super::digests::RowLayout;
use super::merge::{Candidate, Merged};
use super::scan::{KeyCodec, ScanTotals};
use super::settle::{self, Differing, Tally};
use crate::error::{Error, Result};
use crate::plan::PairPlan;
use crate::side::{PerSide, Side};
use crate::spill::spool::Spool;
use exec::HashExec;
use pair::{Kind, PairExec};

/// Runs a physical plan on a cluster and collects its rows.
pub trait Submit: Send + Sync + Debug {
    /// Submits `plan` as one job (of table `what`) and waits for every row of it, telling
    /// `progress` the percentage done while it runs; a failed job is an error.
    fn submit(
        &self,
        what: &str,
        plan: Arc<dyn ExecutionPlan>,
        progress: &(dyn Fn(u8) + Sync),
    ) -> Result<Vec<RecordBatch>>;
}

/// A pair to reconcile on a cluster.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Where jobs go.
    pub cluster: Arc<dyn Submit>,
    /// The pair as its tasks receive it.
    pub spec: Arc<PairSpec>,
}

/// Rows per key partition, about: a partition's entries of both sides stay near 64 MiB.
/// Measured (BENCHMARKS.md, 2026-12-05 (h)): sized by bytes with the digests in, the bench
/// table's 10 partitions became 28, and the hashing tasks, writing a file per partition, took
/// half as long again.
const PARTITION_ROWS: u64 = 1 << 21;

/// The most bytes of rows of both sides a pairing task holds, digests included, about: a wide
/// table's digests make more partitions than its rows alone.
const PARTITION_BYTES: u64 = 512 << 20;

/// Bytes a shuffled row takes besides its digests: key, hash, ordinal and their overhead.
const ROW_BYTES: u64 = 32;

/// Records of differing rows gathered before they are handed to the spool.
const SPOOL_CHUNK: usize = 1 << 16;

/// What a pair's job is asked for besides its rows.
pub(super) struct Asked {
    /// Changed and missing/extra rows kept for the samples.
    pub caps: (usize, usize),
    /// Where candidates are attributed: [`Attribution::Store`] on the executors, else here.
    pub attribution: Attribution,
}

/// Hashes and pairs `plan` on the cluster; returns each side's totals and the tally.
pub(super) fn reconcile<K: KeyCodec>(
    plan: &PairPlan,
    remote: &Remote,
    layout: &RowLayout,
    asked: &Asked,
    differing: Option<&Spool<Differing<K>>>,
    progress: &(dyn Fn(Side, u64) + Sync),
) -> Result<(PerSide<ScanTotals>, Tally<K>)> {
    let (changed_cap, cap) = asked.caps;
    let digest_width = if asked.attribution == Attribution::Store {
        i32::try_from(layout.width()).unwrap_or(0)
    } else {
        0
    };
    let job = job::<K>(plan, remote, (differing.is_some(), cap), digest_width)?;
    // The job's share done, as rows of both sides (the bar counts rows).
    let rows = plan.tables.legacy.rows + plan.tables.target.rows;
    let shown = std::sync::atomic::AtomicU64::new(0);
    let advance = |percent: u8| {
        let share = u128::from(rows) * u128::from(percent.min(100)) / 100;
        let done = u64::try_from(share).unwrap_or(rows);
        let before = shown.fetch_max(done, std::sync::atomic::Ordering::Relaxed);
        if done > before {
            progress(Side::Legacy, done - before);
        }
    };
    let batches = remote.cluster.submit(&plan.name, job, &advance)?;
    advance(100);
    let (totals, rows, mut merged, settled) = collect::<K>(&batches, plan.columns.len())?;
    for side in Side::BOTH {
        let (got, want) = (*rows.get(side), plan.tables.get(side).rows);
        if got != want {
            return Err(Error::Internal(format!(
                "table `{}`: the cluster hashed {got} {side} rows of {want}",
                plan.name
            )));
        }
    }
    let mut tally = Tally::new(plan.columns.len(), changed_cap, cap);
    let mut spooled = Vec::new();
    let legacy_rows = plan.tables.legacy.rows;
    tally.count_merged(
        &merged,
        legacy_rows,
        differing.is_some().then_some(&mut spooled),
    );
    // Candidates the executors attributed are counted; the others are read again here.
    let mut candidates = Vec::new();
    for (c, s) in std::mem::take(&mut merged.candidates)
        .into_iter()
        .zip(settled)
    {
        let rows = differing.is_some().then_some(&mut spooled);
        candidates.extend(tally.count_settled(c, s, legacy_rows, rows));
        if let Some(d) = differing.filter(|_| spooled.len() >= SPOOL_CHUNK) {
            d.push(&spooled)?;
            spooled.clear();
        }
    }
    if let Some(d) = differing {
        d.push(&spooled)?;
    }
    candidates.sort_unstable_by_key(|c| c.legacy);
    let nothing_kept = PerSide::new(None, None);
    settle::settle_from_rows(
        plan,
        layout,
        &candidates,
        &nothing_kept,
        &mut tally,
        differing,
    )?;
    Ok((totals, tally))
}

/// The job's plan: both sides' work lists hashed, shuffled by key and paired.
fn job<K: KeyCodec>(
    plan: &PairPlan,
    remote: &Remote,
    (keep_all, cap): (bool, usize),
    digest_width: i32,
) -> Result<Arc<dyn ExecutionPlan>> {
    let encoded: Arc<[u8]> = serde_json::to_vec(remote.spec.as_ref())
        .map_err(|e| Error::failed(format!("table `{}` for the cluster", plan.name), e))?
        .into();
    let key_bytes = i32::try_from(K::BYTES).unwrap_or(16);
    // A pairing task holds its partition's rows, digests included.
    let rows = plan.tables.legacy.rows + plan.tables.target.rows;
    let row_bytes = ROW_BYTES + u64::try_from(digest_width).unwrap_or(0);
    let by_bytes = rows.saturating_mul(row_bytes).div_ceil(PARTITION_BYTES);
    let partitions = usize::try_from(rows.div_ceil(PARTITION_ROWS).max(by_bytes))
        .unwrap_or(usize::MAX)
        .clamp(2, 4096);
    let df = |e: datafusion::error::DataFusionError| {
        Error::failed(format!("the cluster plan of table `{}`", plan.name), e)
    };
    let side = |side: Side| -> Result<Arc<dyn ExecutionPlan>> {
        let mut work = exec::work_list(&plan.tables.get(side).row_groups()).map_err(df)?;
        if work.is_empty() {
            // A table without row groups: one empty partition.
            work.push(Vec::new());
        }
        let list =
            MemorySourceConfig::try_new_exec(&work, exec::work_schema(), None).map_err(df)?;
        let widths = (key_bytes, digest_width);
        let hashed = Arc::new(HashExec::new(Arc::clone(&encoded), side, widths, list));
        let key = col("key", &hashed.schema()).map_err(df)?;
        let shuffled = RepartitionExec::try_new(hashed, Partitioning::Hash(vec![key], partitions))
            .map_err(df)?;
        Ok(Arc::new(shuffled))
    };
    let keep = if keep_all { u64::MAX } else { cap as u64 };
    Ok(Arc::new(PairExec::new(
        (Arc::clone(&encoded), keep),
        (key_bytes, digest_width),
        side(Side::Legacy)?,
        side(Side::Target)?,
    )))
}

/// Each side's totals and rows, what the pairing found, and what each candidate was settled as.
type Collected<K> = (PerSide<ScanTotals>, PerSide<u64>, Merged<K>, Vec<Settled>);

/// A candidate's differing columns as a pairing task wrote them (empty: equal within the
/// tolerances), of a pair with `compared` compared columns.
fn settled_of(bytes: &[u8], compared: usize) -> Option<Settled> {
    if bytes.is_empty() {
        return Some(Settled::Equal);
    }
    let (pairs, rest) = bytes.as_chunks::<2>();
    let mask: Vec<u16> = pairs.iter().map(|p| u16::from_le_bytes(*p)).collect();
    (rest.is_empty() && mask.iter().all(|&c| usize::from(c) < compared))
        .then_some(Settled::Differ(mask))
}

/// Adds up the partitions' rows (of a pair with `compared` compared columns).
fn collect<K: KeyCodec>(batches: &[RecordBatch], compared: usize) -> Result<Collected<K>> {
    let mut totals = PerSide::new(ScanTotals::default(), ScanTotals::default());
    let mut rows = PerSide::new(0, 0);
    let mut m = Merged::<K>::default();
    let mut settled = Vec::new();
    let bad = |what: &str| Error::Internal(format!("the cluster returned {what}"));
    let shape = || bad("rows of another shape (an executor of another recon?)");
    let width = i32::try_from(K::BYTES).unwrap_or(16);
    for b in batches {
        if b.num_columns() != 7 {
            return Err(shape());
        }
        let kinds = b
            .column(0)
            .as_primitive_opt::<UInt8Type>()
            .ok_or_else(shape)?;
        let keys = (b.column(1).as_fixed_size_binary_opt())
            .filter(|k| k.value_length() == width)
            .ok_or_else(shape)?;
        let word = |i: usize| {
            b.column(i)
                .as_primitive_opt::<UInt64Type>()
                .ok_or_else(shape)
        };
        let (a, bw, c, d) = (word(2)?, word(3)?, word(4)?, word(5)?);
        let columns = b.column(6).as_binary_opt::<i32>().ok_or_else(shape)?;
        for i in 0..b.num_rows() {
            let kind = Kind::of(kinds.value(i)).ok_or_else(|| bad("a row of unknown kind"))?;
            let key = || K::read(keys.value(i));
            let w = [a.value(i), bw.value(i), c.value(i), d.value(i)];
            match kind {
                Kind::Counts => {
                    m.matched += w[0];
                    m.missing += w[1];
                    m.extra += w[2];
                }
                Kind::Legacy | Kind::Target => {
                    let side = if kind == Kind::Legacy {
                        Side::Legacy
                    } else {
                        Side::Target
                    };
                    *rows.get_mut(side) += w[0];
                    let t = totals.get_mut(side);
                    t.null_keys += w[1];
                    t.checksum = t.checksum.wrapping_add(w[2]);
                    *m.duplicate_keys.get_mut(side) += w[3];
                }
                Kind::Candidate => {
                    m.candidates.push(Candidate {
                        key: key(),
                        legacy: w[0],
                        target: w[1],
                        hashes: (w[2], w[3]),
                    });
                    settled.push(if columns.is_null(i) {
                        Settled::Unknown
                    } else {
                        settled_of(columns.value(i), compared)
                            .ok_or_else(|| bad("a candidate's columns out of range"))?
                    });
                }
                Kind::Missing => m.missing_rows.push((key(), w[0])),
                Kind::Extra => m.extra_rows.push((key(), w[0])),
            }
        }
    }
    Ok((totals, rows, m, settled))
}

#[cfg(test)]
mod tests;
