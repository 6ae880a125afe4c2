//! The merge path: when both sides of a pair are in key order, one streaming merge over their row
//! groups replaces the match structure. No entries, no partitions, no sort, no spill, no digest
//! store: each side is read by one thread in key order, a few hashed batches ahead of the merge,
//! and each key's rows are classified as they meet, with the same pairing as the general path
//! ([`super::merge::merge`]) and attribution from the digests still in memory. Memory follows a
//! few batches per side, whatever the table's size.
//!
//! Key order is taken from the footers: every row group's smallest and largest value of the first
//! key column, row groups sorted by their smallest, each ending at or before the next one starts.
//! It is verified row by row while streaming (by the key bytes below, not the statistics): a row
//! out of order abandons the merge, and the pair is reconciled by the general path instead, never
//! with a verdict from a half-done merge.
//!
//! Keys are compared as the order-preserving byte encoding of `arrow::row`, each key column cast
//! to one type for both sides: integers (as `Int64`), plain text (bytewise, as UTF-8 sorts by code
//! point), binary and dates. Two keys have equal encodings exactly when their canonical
//! encodings are equal, so a key group here is a key group of the general path. Any other key
//! (a cast, text compared with options, decimals, floats, timestamps) takes the general path.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};

use arrow::array::{Array, ArrayRef};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, Rows, SortField};

mod walk;

use super::digests::{RowDigests, RowLayout, SLOT};
use super::partition::Entry;
use super::scan::{self, BATCH_ROWS, KeyCodec, ScanTotals, Scratch};
use super::settle::{Differing, Tally};
use crate::error::{Error, Result};
use crate::hash::CompareAs;
use crate::plan::{ColumnPlan, Family, PairPlan, family};
use crate::side::{PerSide, Side};
use crate::snapshot::{RowGroupRef, SideTable};
use crate::spill::spool::Spool;
use walk::{Cursor, merge_sides};

/// Hashed batches in flight per side between its reader and the merge.
const IN_FLIGHT: usize = 4;

/// How a pair in key order is merged: the key encoding and each side's row groups in key order.
pub(super) struct KeyOrder {
    /// Each key column's type in the merge keys.
    types: Vec<DataType>,
    /// The merge keys' encoder, one for both sides.
    converter: RowConverter,
    /// Each side's row groups, in key order.
    groups: PerSide<Vec<RowGroupRef>>,
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
        let first = plan.keys.first()?;
        let fields = |ts: &[DataType]| ts.iter().cloned().map(SortField::new).collect();
        let converter = RowConverter::new(fields(&types)).ok()?;
        let bounds = RowConverter::new(fields(&types[..1])).ok()?;
        let side =
            |s: Side| in_key_order(plan.tables.get(s), first.names.get(s), &types[0], &bounds);
        let groups = PerSide::new(side(Side::Legacy)?, side(Side::Target)?);
        Some(Self {
            types,
            converter,
            groups,
        })
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
) -> Option<Vec<RowGroupRef>> {
    let mut ranges: Vec<(Vec<u8>, Vec<u8>, RowGroupRef)> = Vec::new();
    for (fi, f) in table.files.iter().enumerate() {
        let (mins, maxes) = f.row_group_bounds(column)?;
        let (mins, maxes) = (cast(&mins, ty).ok()?, cast(&maxes, ty).ok()?);
        let lows = converter.convert_columns(&[Arc::clone(&mins)]).ok()?;
        let highs = converter.convert_columns(&[Arc::clone(&maxes)]).ok()?;
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
            ranges.push((
                lo.data().to_vec(),
                hi.data().to_vec(),
                RowGroupRef {
                    file: fi,
                    row_group: rg,
                    base,
                },
            ));
        }
    }
    ranges.sort_by(|a, b| a.0.cmp(&b.0));
    if ranges.windows(2).any(|w| w[0].1 > w[1].0) {
        return None;
    }
    Some(ranges.into_iter().map(|(_, _, rg)| rg).collect())
}

/// One hashed batch of a side, in key order.
struct Hashed<K> {
    /// Ordinal of its first row.
    base: u64,
    keys: Vec<Option<K>>,
    full: Vec<u64>,
    digests: Vec<Vec<u64>>,
    slots: Vec<Vec<[u8; SLOT]>>,
    exact: Vec<u64>,
    /// Each row's key, order-preserving.
    merge_keys: Rows,
}

impl<K: KeyCodec> Hashed<K> {
    fn merge_key(&self, row: usize) -> &[u8] {
        self.merge_keys.row(row).data()
    }

    fn entry(&self, row: usize) -> Option<Entry<K>> {
        Some(Entry {
            key: self.keys[row]?,
            hash: self.full[row],
            ord: self.base + row as u64,
        })
    }

    /// A row's digests as attribution compares them (all 64 bits of each).
    fn row_digests(&self, row: usize, layout: &RowLayout) -> RowDigests {
        RowDigests {
            digests: self.digests.iter().map(|d| d[row]).collect(),
            slots: self.slots.iter().map(|s| s[row]).collect(),
            exact: if layout.slots > 0 { self.exact[row] } else { 0 },
        }
    }
}

/// What a side's reader sends.
enum Msg<K> {
    Batch(Hashed<K>),
    /// The row at this ordinal is out of key order.
    OutOfOrder(u64),
    Failed(Error),
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

/// Reconciles a pair in key order. `None` when a row turned out to be out of key order: nothing
/// of the merge is kept, and the caller takes the general path.
pub(super) fn reconcile<K: KeyCodec>(
    inp: &Inputs<'_>,
    order: &KeyOrder,
    differing: Option<&Spool<Differing<K>>>,
    progress: &(dyn Fn(Side, u64) + Sync),
) -> Result<Option<(PerSide<ScanTotals>, Tally<K>)>> {
    std::thread::scope(|scope| {
        let reader = |side: Side, tx: SyncSender<Msg<K>>| {
            scope.spawn(move || read_side(inp, order, side, &tx, progress))
        };
        let (ltx, lrx) = sync_channel(IN_FLIGHT);
        let (ttx, trx) = sync_channel(IN_FLIGHT);
        let readers = PerSide::new(reader(Side::Legacy, ltx), reader(Side::Target, ttx));
        // The receivers go with the merge: when it stops early, the readers stop at their next
        // batch.
        let merged = merge_sides(
            inp,
            PerSide::new(Cursor::new(lrx), Cursor::new(trx)),
            differing,
        );
        let join = |h: std::thread::ScopedJoinHandle<'_, ScanTotals>| {
            h.join()
                .map_err(|p| Error::Internal(crate::error::panic_message(p.as_ref())))
        };
        let totals = PerSide::new(join(readers.legacy)?, join(readers.target)?);
        match merged {
            Ok(tally) => Ok(Some((totals, tally))),
            Err(Stop::Failed(e)) => Err(e),
            Err(Stop::OutOfOrder(side, ordinal)) => {
                tracing::warn!(
                    table = %inp.plan.name,
                    "{side} row {ordinal} is out of key order: reconciling without the key order"
                );
                Ok(None)
            }
            Err(Stop::Mismatch) => {
                tracing::warn!(
                    table = %inp.plan.name,
                    "keys equal in key order differ in their canonical encoding: reconciling \
                     without the key order"
                );
                Ok(None)
            }
        }
    })
}

/// Reads one side's row groups in key order, hashes each batch and sends it on, checking that
/// every keyed row's key is at least the one before; returns the side's totals.
fn read_side<K: KeyCodec>(
    inp: &Inputs<'_>,
    order: &KeyOrder,
    side: Side,
    tx: &SyncSender<Msg<K>>,
    progress: &(dyn Fn(Side, u64) + Sync),
) -> ScanTotals {
    let plan = inp.plan;
    let table = plan.tables.get(side);
    let columns = plan.read_columns(side);
    let nk = plan.keys.len();
    let mut totals = ScanTotals::default();
    let mut s = Scratch::<K>::default();
    // The last keyed row's merge key.
    let mut last: Vec<u8> = Vec::new();
    let mut seen = false;
    // Set when the merge has gone or the order broke: stop reading, send nothing more.
    let mut stopped = false;
    for &rg in order.groups.get(side) {
        let mut ordinal = rg.base;
        let read = table.read_row_group(rg, &columns, None, BATCH_ROWS, &mut |arrays, rows| {
            let (nulls, sum) =
                scan::hash_batch(plan, inp.layout, side, &arrays, rows, ordinal, &mut s)?;
            totals.null_keys += nulls;
            totals.checksum = totals.checksum.wrapping_add(sum);
            let keys = arrays[..nk]
                .iter()
                .zip(&order.types)
                .map(|(a, ty)| cast(a, ty))
                .collect::<std::result::Result<Vec<ArrayRef>, _>>()
                .and_then(|keys| order.converter.convert_columns(&keys))
                .map_err(|e| Error::Encode {
                    table: plan.name.clone(),
                    column: plan.keys[0].name.clone(),
                    side,
                    source: e.into(),
                })?;
            let batch = Hashed {
                base: ordinal,
                keys: std::mem::take(&mut s.keys),
                full: std::mem::take(&mut s.full),
                digests: std::mem::take(&mut s.digests),
                slots: std::mem::take(&mut s.slots),
                exact: std::mem::take(&mut s.exact),
                merge_keys: keys,
            };
            let mut prev: Option<&[u8]> = seen.then_some(last.as_slice());
            let mut broken = None;
            for row in (0..rows).filter(|&r| batch.keys[r].is_some()) {
                let key = batch.merge_key(row);
                if prev.is_some_and(|p| key < p) {
                    broken = Some(ordinal + row as u64);
                    break;
                }
                prev = Some(key);
            }
            let next_last = prev.map(<[u8]>::to_vec);
            if let Some(at) = broken {
                stopped = true;
                let _ = tx.send(Msg::OutOfOrder(at));
                return Err(Error::Internal("stopped".into()));
            }
            if let Some(k) = next_last {
                last = k;
                seen = true;
            }
            ordinal += rows as u64;
            if tx.send(Msg::Batch(batch)).is_err() {
                stopped = true;
                return Err(Error::Internal("stopped".into()));
            }
            progress(side, rows as u64);
            Ok(())
        });
        if let Err(e) = read {
            if !stopped {
                let _ = tx.send(Msg::Failed(e));
            }
            break;
        }
    }
    totals
}
