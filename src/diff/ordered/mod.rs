//! The merge path: when both sides of a pair are in key order, a streaming merge over their row
//! groups replaces the match structure. No entries, no partitions, no sort, no spill, no digest
//! store: the key space is cut into segments at legacy row-group boundaries, each segment is one
//! task on the worker pool that reads both sides' row groups of its key range in key order and
//! classifies each key's rows as they meet, with the same pairing as the general path
//! ([`super::merge::merge`]) and attribution from the digests still in memory. Memory follows a
//! batch or two per side per worker, whatever the table's size.
//!
//! Key order is taken from the footers: every row group's smallest and largest value of the first
//! key column, row groups sorted by their smallest, each ending at or before the next one starts.
//! It is verified while streaming, by the key bytes below and not the statistics: a row out of
//! order, or a side whose rows do not add up to its footers' count (statistics that lie),
//! abandons the merge, and the pair is reconciled by the general path instead, never with a
//! verdict from a half-done merge.
//!
//! Keys are compared as the order-preserving byte encoding of `arrow::row`, each key column cast
//! to one type for both sides: integers (as `Int64`), plain text (bytewise, as UTF-8 sorts by code
//! point), binary and dates. Two keys have equal encodings exactly when their canonical
//! encodings are equal, so a key group here is a key group of the general path. Any other key
//! (a cast, text compared with options, decimals, floats, timestamps) takes the general path.

mod source;
mod walk;

use arrow::array::Array;
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};
use rayon::prelude::*;

use super::digests::RowLayout;
use super::scan::{KeyCodec, ScanTotals};
use super::settle::{Differing, Tally};
use crate::error::{Error, Result};
use crate::hash::CompareAs;
use crate::plan::{ColumnPlan, Family, PairPlan, family};
use crate::side::{PerSide, Side};
use crate::snapshot::{RowGroupRef, SideTable};
use crate::spill::spool::Spool;
use source::Source;

/// Segments per worker thread: enough that a slow segment does not leave a core idle at the end.
const SEGMENTS_PER_THREAD: usize = 4;

/// A row group with its bounds of the first key column (encoded as merge keys are).
#[derive(Debug, Clone)]
struct Ranged {
    rg: RowGroupRef,
    rows: u64,
    lo: Vec<u8>,
    hi: Vec<u8>,
}

/// How a pair in key order is merged: the key encoding and each side's row groups in key order.
pub(super) struct KeyOrder {
    /// Each key column's type in the merge keys.
    types: Vec<DataType>,
    /// The merge keys' encoder, one for both sides.
    converter: RowConverter,
    /// The first key column's encoder: row-group bounds and segment limits.
    first: RowConverter,
    /// Each side's row groups, in key order.
    groups: PerSide<Vec<Ranged>>,
}

impl KeyOrder {
    /// The pair's key order, when its keys can be merged and both sides' footers say their row
    /// groups are in key order; `None` otherwise.
    pub(super) fn of(plan: &PairPlan) -> Option<Self> {
        let types = plan
            .keys
            .iter()
            .map(|k| merge_type(plan, k))
            .collect::<Option<Vec<_>>>()?;
        let key = plan.keys.first()?;
        let fields = |ts: &[DataType]| ts.iter().cloned().map(SortField::new).collect();
        let converter = RowConverter::new(fields(&types)).ok()?;
        let first = RowConverter::new(fields(&types[..1])).ok()?;
        let side = |s: Side| in_key_order(plan.tables.get(s), key.names.get(s), &types[0], &first);
        let groups = PerSide::new(side(Side::Legacy)?, side(Side::Target)?);
        Some(Self {
            types,
            converter,
            first,
            groups,
        })
    }
}

impl KeyOrder {
    /// The legacy side's row groups (segments start at them).
    pub(super) fn row_groups(&self) -> usize {
        self.groups.legacy.len()
    }
}

/// The type a key column pair is merged as, when both sides' values order and compare alike in it.
fn merge_type(plan: &PairPlan, k: &ColumnPlan) -> Option<DataType> {
    if k.codec.cast.is_some() {
        return None;
    }
    let ty = |s: Side| {
        let field = plan
            .tables
            .get(s)
            .schema
            .field_with_name(k.names.get(s))
            .ok()?;
        Some(match field.data_type() {
            DataType::Dictionary(_, v) => v.as_ref().clone(),
            t => t.clone(),
        })
    };
    let (l, t) = (ty(Side::Legacy)?, ty(Side::Target)?);
    let both = |f: Family| family(&l) == f && family(&t) == f;
    let same_or = |other: DataType| if l == t { l.clone() } else { other };
    match k.codec.mode {
        // `UInt64` values past `i64::MAX` have no `Int64`.
        CompareAs::Numeric
            if both(Family::Integer) && l != DataType::UInt64 && t != DataType::UInt64 =>
        {
            Some(DataType::Int64)
        }
        CompareAs::Text(opts) if opts.is_plain() && both(Family::Text) => {
            Some(same_or(DataType::Utf8))
        }
        CompareAs::Binary if both(Family::Binary) => Some(same_or(DataType::Binary)),
        CompareAs::Date if l == DataType::Date32 && t == DataType::Date32 => Some(DataType::Date32),
        _ => None,
    }
}

/// A side's row groups in key order by the footers' bounds of the first key column, or `None`
/// when a row group has no bounds or two row groups' ranges overlap.
fn in_key_order(
    table: &SideTable,
    column: &str,
    ty: &DataType,
    converter: &RowConverter,
) -> Option<Vec<Ranged>> {
    let mut ranges = Vec::new();
    for (fi, f) in table.files.iter().enumerate() {
        let (mins, maxes) = f.row_group_bounds(column)?;
        let (mins, maxes) = (cast(&mins, ty).ok()?, cast(&maxes, ty).ok()?);
        let lows = converter
            .convert_columns(std::slice::from_ref(&mins))
            .ok()?;
        let highs = converter
            .convert_columns(std::slice::from_ref(&maxes))
            .ok()?;
        for (rg, &base) in f.row_group_bases.iter().enumerate() {
            if f.row_group_rows(rg) == 0 {
                continue;
            }
            // A row group without statistics has no bounds: the order is unknown.
            if rg >= mins.len() || rg >= maxes.len() || mins.is_null(rg) || maxes.is_null(rg) {
                return None;
            }
            let (lo, hi) = (lows.row(rg), highs.row(rg));
            if lo > hi {
                return None;
            }
            ranges.push(Ranged {
                rg: RowGroupRef {
                    file: fi,
                    row_group: rg,
                    base,
                },
                rows: f.row_group_rows(rg) as u64,
                lo: lo.data().to_vec(),
                hi: hi.data().to_vec(),
            });
        }
    }
    // Stable: row groups with one smallest value keep their files' order.
    ranges.sort_by(|a, b| a.lo.cmp(&b.lo));
    if ranges.windows(2).any(|w| w[0].hi > w[1].lo) {
        return None;
    }
    Some(ranges)
}

/// A range of the first key column, `[lo, hi)` (`None`: unbounded), and what each side reads
/// for it.
struct Segment {
    lo: Option<Vec<u8>>,
    hi: Option<Vec<u8>>,
    parts: PerSide<Vec<Part>>,
}

/// A row group a segment reads.
#[derive(Debug, Clone, Copy)]
struct Part {
    rg: RowGroupRef,
    /// Every row of it is in the segment's range (else each row is tested).
    whole: bool,
    /// The segment holds the row group's smallest value: it counts the row group's rows whose
    /// first key column is NULL, and its progress.
    owner: bool,
}

impl Segment {
    /// Whether some of a row group's range is the segment's.
    fn overlaps(&self, r: &Ranged) -> bool {
        self.lo.as_deref().is_none_or(|lo| r.hi.as_slice() >= lo)
            && self.hi.as_deref().is_none_or(|hi| r.lo.as_slice() < hi)
    }

    fn contains(&self, key: &[u8]) -> bool {
        self.lo.as_deref().is_none_or(|lo| key >= lo)
            && self.hi.as_deref().is_none_or(|hi| key < hi)
    }
}

/// Whether a cut at `key` falls inside a row group of `side` (which is then read by the
/// segments on both sides of it, each taking its own rows).
fn straddles(side: &[Ranged], key: &[u8]) -> bool {
    let before = side.partition_point(|r| r.lo.as_slice() < key);
    before > 0 && side[before - 1].hi.as_slice() >= key
}

/// Cuts the key space at legacy row-group boundaries into about `n` segments of similar row
/// counts, and lists each segment's row groups on both sides. A cut that no row group of
/// either side straddles is preferred (files split at the same keys on both sides give one
/// at every file boundary), up to twice the segment's rows.
fn segments(order: &KeyOrder, n: usize) -> Vec<Segment> {
    let legacy = &order.groups.legacy;
    let rows: u64 = legacy.iter().map(|r| r.rows).sum();
    let per = (rows / n.max(1) as u64).max(1);
    let mut cuts: Vec<Vec<u8>> = Vec::new();
    let mut acc = 0u64;
    for r in legacy {
        let clean = || !straddles(legacy, &r.lo) && !straddles(&order.groups.target, &r.lo);
        if acc >= per && cuts.last().is_none_or(|c| r.lo > *c) && (acc >= 2 * per || clean()) {
            cuts.push(r.lo.clone());
            acc = 0;
        }
        acc += r.rows;
    }
    let mut bounds: Vec<Option<Vec<u8>>> = vec![None];
    bounds.extend(cuts.into_iter().map(Some));
    bounds.push(None);
    bounds
        .windows(2)
        .map(|w| {
            let mut seg = Segment {
                lo: w[0].clone(),
                hi: w[1].clone(),
                parts: PerSide::new(Vec::new(), Vec::new()),
            };
            for side in Side::BOTH {
                let parts: Vec<Part> = order
                    .groups
                    .get(side)
                    .iter()
                    .filter(|r| seg.overlaps(r))
                    .map(|r| {
                        let owner = seg.contains(&r.lo);
                        let whole =
                            owner && seg.hi.as_deref().is_none_or(|hi| r.hi.as_slice() < hi);
                        Part {
                            rg: r.rg,
                            whole,
                            owner,
                        }
                    })
                    .collect();
                *seg.parts.get_mut(side) = parts;
            }
            seg
        })
        .collect()
}

/// Why a merge stopped early.
enum Stop {
    /// A side's row at this ordinal is out of key order.
    OutOfOrder(Side, u64),
    /// Rows with one merge key have different canonical keys: the key types do not merge as
    /// assumed.
    Mismatch,
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}

/// What the merge path needs besides the key order.
pub(super) struct Inputs<'a> {
    /// The pair.
    pub plan: &'a PairPlan,
    /// Compared columns' digests and tolerance slots.
    pub layout: &'a RowLayout,
    /// Changed rows kept in order (for samples and drift classes).
    pub changed_cap: usize,
    /// Missing and extra rows kept in order (for samples).
    pub cap: usize,
}

/// What one segment counted: per side its totals and the rows it took, and its tally.
type Counted<K> = (PerSide<(ScanTotals, u64)>, Tally<K>);

/// Reconciles a pair in key order, its segments in parallel on the current worker pool. `None`
/// when the merge cannot be trusted after all (a row out of order, counts that do not add up):
/// nothing of it is kept, and the caller takes the general path.
pub(super) fn reconcile<K: KeyCodec>(
    inp: &Inputs<'_>,
    order: &KeyOrder,
    differing: Option<&Spool<Differing<K>>>,
    progress: &(dyn Fn(Side, u64) + Sync),
) -> Result<Option<(PerSide<ScanTotals>, Tally<K>)>> {
    let plan = inp.plan;
    let segments = segments(order, rayon::current_num_threads() * SEGMENTS_PER_THREAD);
    let fallback = |why: String| {
        tracing::warn!(table = %plan.name, "{why}: reconciling without the key order");
        Ok(None)
    };
    // The first segment to stop stops the others at their next segment.
    let merged: std::result::Result<Vec<Counted<K>>, Stop> = segments
        .par_iter()
        .map(|seg| {
            let sources = PerSide::new(
                Source::new(inp, order, seg, Side::Legacy, progress),
                Source::new(inp, order, seg, Side::Target, progress),
            );
            walk::merge_segment(inp, sources, differing)
        })
        .collect();
    let merged = match merged {
        Ok(m) => m,
        Err(Stop::Failed(e)) => return Err(e),
        Err(Stop::OutOfOrder(side, ordinal)) => {
            return fallback(format!("{side} row {ordinal} is out of key order"));
        }
        Err(Stop::Mismatch) => {
            return fallback(
                "keys equal in key order differ in their canonical encoding".to_owned(),
            );
        }
    };
    let mut totals = PerSide::new((ScanTotals::default(), 0u64), (ScanTotals::default(), 0u64));
    let mut tally = Tally::new(plan.columns.len(), inp.changed_cap, inp.cap);
    for (t, part) in merged {
        for side in Side::BOTH {
            let (sum, (add, rows)) = (totals.get_mut(side), t.get(side));
            sum.0.null_keys += add.null_keys;
            sum.0.checksum = sum.0.checksum.wrapping_add(add.checksum);
            sum.1 += rows;
        }
        tally.absorb(part);
    }
    for side in Side::BOTH {
        let (took, rows) = (totals.get(side).1, plan.tables.get(side).rows);
        if took != rows {
            return fallback(format!(
                "the {side} side's footer statistics do not hold ({took} of {rows} rows fell \
                 within them)"
            ));
        }
    }
    Ok(Some((
        PerSide::new(totals.legacy.0, totals.target.0),
        tally,
    )))
}
