//! The one hashing pass: every row group of both sides, in parallel on rayon, decoded with only
//! the needed columns, canonicalized and hashed column by column. Each row leaves an [`Entry`] in
//! the match structure and its column digests in the [`ColumnStore`]; nothing else is kept.

use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use rayon::prelude::*;

use super::partition::{Entry, Key, Partitions};
use super::store::{ColumnStore, RowLayout, SLOT};
use crate::error::{Error, Result};
use crate::hash::{self, Codec};
use crate::plan::{ColumnPlan, PairPlan};
use crate::side::{PerSide, Side};

/// Rows per decoded batch.
pub const BATCH_ROWS: usize = 32 * 1024;

/// A key type recon can derive from key columns.
pub trait KeyCodec: Key {
    /// 64 bits of the key for the order-free table checksum.
    fn fold_bits(self) -> u64;
    /// The key of every row of the key arrays (`None` where a key column is NULL).
    fn keys(
        arrays: &[ArrayRef],
        codecs: &[&Codec],
        out: &mut Vec<Option<Self>>,
    ) -> std::result::Result<(), String>;
}

impl KeyCodec for u64 {
    fn fold_bits(self) -> u64 {
        self
    }
    fn keys(
        arrays: &[ArrayRef],
        _: &[&Codec],
        out: &mut Vec<Option<Self>>,
    ) -> std::result::Result<(), String> {
        out.clear();
        let a = arrow::compute::cast(&arrays[0], &DataType::Int64).map_err(|e| e.to_string())?;
        // Flipping the sign bit is a bijection that keeps signed order: no two keys collide, and
        // samples come out in ascending key order.
        #[allow(clippy::cast_sign_loss)]
        out.extend(
            a.as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|v| (v as u64) ^ (1 << 63))),
        );
        Ok(())
    }
}

impl KeyCodec for u128 {
    #[allow(clippy::cast_possible_truncation)]
    fn fold_bits(self) -> u64 {
        (self >> 64) as u64 ^ self as u64
    }
    fn keys(
        arrays: &[ArrayRef],
        codecs: &[&Codec],
        out: &mut Vec<Option<Self>>,
    ) -> std::result::Result<(), String> {
        out.clear();
        let rows = arrays.first().map_or(0, |a| a.len());
        let mut digests: Vec<Vec<u128>> = Vec::with_capacity(arrays.len());
        for (a, c) in arrays.iter().zip(codecs) {
            let mut d = Vec::new();
            hash::hash_column::<u128>(a.as_ref(), c, &mut d)?;
            digests.push(d);
        }
        let nulls: Vec<_> = arrays.iter().map(|a| a.logical_nulls()).collect();
        let mut parts = vec![0u128; arrays.len()];
        for i in 0..rows {
            if nulls
                .iter()
                .any(|n| n.as_ref().is_some_and(|n| n.is_null(i)))
            {
                out.push(None);
                continue;
            }
            for (p, d) in parts.iter_mut().zip(&digests) {
                *p = d[i];
            }
            out.push(Some(hash::combine_key(&parts)));
        }
        Ok(())
    }
}

/// One side after the hashing pass.
pub struct SideScan<K> {
    /// The match structure.
    pub partitions: Partitions<K>,
    /// Column digests by ordinal.
    pub store: ColumnStore,
    /// Rows with a NULL key column.
    pub null_keys: u64,
}

/// The store layout of a plan's compared columns.
pub fn row_layout(plan: &PairPlan) -> RowLayout {
    let mut slots = 0;
    let slot_of = plan
        .columns
        .iter()
        .map(|c| {
            c.tolerance.map(|_| {
                slots += 1;
                slots - 1
            })
        })
        .collect();
    RowLayout {
        columns: plan.columns.len(),
        slot_of,
        slots,
    }
}

#[derive(Default)]
struct Scratch<K> {
    keys: Vec<Option<K>>,
    digests: Vec<Vec<u64>>,
    slots: Vec<Vec<[u8; SLOT]>>,
    entries: Vec<Entry<K>>,
    row_bytes: Vec<u8>,
    routed: Vec<Vec<Entry<K>>>,
}

/// What the hashing pass counts per side besides the entries.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanTotals {
    /// Rows with a NULL key column.
    pub null_keys: u64,
    /// Order-free checksum: the wrapping sum of every row's (key, row hash) digest. Equal tables
    /// have equal checksums whatever their file layout, row order or thread count.
    pub checksum: u64,
}

/// Hashes both sides of a pair into `sides` (one partitions + store per side).
pub fn scan<K: KeyCodec>(
    plan: &PairPlan,
    layout: &RowLayout,
    sides: &PerSide<(Partitions<K>, ColumnStore)>,
    progress: &(dyn Fn(Side, u64) + Sync),
) -> Result<PerSide<ScanTotals>> {
    let null_keys = PerSide::new(AtomicU64::new(0), AtomicU64::new(0));
    let checksum = PerSide::new(AtomicU64::new(0), AtomicU64::new(0));
    let columns = PerSide::new(
        plan.read_columns(Side::Legacy),
        plan.read_columns(Side::Target),
    );
    let tasks: Vec<(Side, crate::snapshot::RowGroupRef)> = Side::BOTH
        .iter()
        .flat_map(|&s| {
            plan.tables
                .get(s)
                .row_groups()
                .into_iter()
                .map(move |rg| (s, rg))
        })
        .collect();
    tasks
        .par_iter()
        .try_for_each_init(Scratch::<K>::default, |scratch, &(side, rg)| {
            let table = plan.tables.get(side);
            let (parts, store) = sides.get(side);
            let mut ordinal = rg.base;
            table.read_row_group(
                rg,
                columns.get(side),
                None,
                BATCH_ROWS,
                &mut |arrays, rows| {
                    let (nulls, sum) =
                        hash_batch(plan, layout, side, &arrays, rows, ordinal, scratch)?;
                    null_keys.get(side).fetch_add(nulls, Ordering::Relaxed);
                    checksum.get(side).fetch_add(sum, Ordering::Relaxed);
                    store.write_rows(ordinal, &scratch.row_bytes)?;
                    parts.push(&scratch.entries, &mut scratch.routed)?;
                    ordinal += rows as u64;
                    progress(side, rows as u64);
                    Ok(())
                },
            )
        })?;
    let totals = |s: Side| ScanTotals {
        null_keys: null_keys.get(s).load(Ordering::Relaxed),
        checksum: checksum.get(s).load(Ordering::Relaxed),
    };
    Ok(PerSide::new(totals(Side::Legacy), totals(Side::Target)))
}

/// Hashes one batch: fills `scratch.entries` and `scratch.row_bytes`; returns the NULL-key count
/// and the batch's share of the checksum.
fn hash_batch<K: KeyCodec>(
    plan: &PairPlan,
    layout: &RowLayout,
    side: Side,
    arrays: &[ArrayRef],
    rows: usize,
    ordinal: u64,
    s: &mut Scratch<K>,
) -> Result<(u64, u64)> {
    let nk = plan.keys.len();
    let col_err =
        |c: &ColumnPlan, m: String| Error::column(&plan.name, &c.name, format!("{side} side: {m}"));
    let codecs: Vec<&Codec> = plan.keys.iter().map(|k| &k.codec).collect();
    K::keys(&arrays[..nk], &codecs, &mut s.keys).map_err(|m| col_err(&plan.keys[0], m))?;
    s.digests.resize_with(plan.columns.len(), Vec::new);
    s.slots.resize_with(layout.slots, Vec::new);
    for (ci, c) in plan.columns.iter().enumerate() {
        let array = arrays[nk + ci].as_ref();
        hash::hash_column::<u64>(array, &c.codec, &mut s.digests[ci]).map_err(|m| col_err(c, m))?;
        if let Some(slot) = layout.slot_of[ci] {
            tolerance_slots(array, &c.codec, &mut s.slots[slot]).map_err(|m| col_err(c, m))?;
        }
    }
    let n = plan.columns.len();
    let exact_start = hash::fold_start(n - layout.slots);
    s.entries.clear();
    s.row_bytes.clear();
    s.row_bytes.reserve(rows * layout.width());
    let mut null_keys = 0;
    let mut sum = 0u64;
    for i in 0..rows {
        let mut full = hash::fold_start(n);
        let mut exact = exact_start;
        for (ci, d) in s.digests.iter().enumerate() {
            let v = d[i];
            full = hash::fold(full, v);
            if layout.slot_of[ci].is_none() {
                exact = hash::fold(exact, v);
            }
            s.row_bytes.extend_from_slice(&(v as u32).to_le_bytes());
        }
        if layout.slots > 0 {
            for slot in &s.slots {
                s.row_bytes.extend_from_slice(&slot[i]);
            }
            s.row_bytes.extend_from_slice(&exact.to_le_bytes());
        }
        match s.keys[i] {
            Some(key) => {
                sum = sum.wrapping_add(hash::fold(full, key.fold_bits()));
                s.entries.push(Entry {
                    key,
                    hash: full,
                    ord: ordinal + i as u64,
                });
            }
            None => {
                sum = sum.wrapping_add(hash::fold(full, 0));
                null_keys += 1;
            }
        }
    }
    Ok((null_keys, sum))
}

/// The exact value of every row of a tolerance column: `[tag][payload]`.
pub fn tolerance_slots(
    array: &dyn Array,
    codec: &Codec,
    out: &mut Vec<[u8; SLOT]>,
) -> std::result::Result<(), String> {
    out.clear();
    let mut plain = codec.clone();
    let cast_to = codec.cast.clone().or_else(|| match array.data_type() {
        DataType::Dictionary(_, v) => Some(v.as_ref().clone()),
        _ => None,
    });
    let owned;
    let array = match cast_to {
        Some(to) => {
            plain.cast = None;
            owned = arrow::compute::cast(&arrow::array::make_array(array.to_data()), &to)
                .map_err(|e| e.to_string())?;
            owned.as_ref()
        }
        None => array,
    };
    hash::visit(array, &plain, &mut |tag, payload| {
        let mut slot = [0u8; SLOT];
        slot[0] = tag as u8;
        let n = payload.len().min(SLOT - 1);
        slot[1..=n].copy_from_slice(&payload[..n]);
        out.push(slot);
    })
}

/// 64-bit digests of every compared column of some rows (for exact attribution on re-read).
pub fn column_digests(
    plan: &PairPlan,
    arrays: &[ArrayRef],
) -> std::result::Result<Vec<Vec<u64>>, String> {
    let nk = plan.keys.len();
    plan.columns
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            let mut d = Vec::new();
            hash::hash_column::<u64>(arrays[nk + ci].as_ref(), &c.codec, &mut d)?;
            Ok(d)
        })
        .collect()
}
