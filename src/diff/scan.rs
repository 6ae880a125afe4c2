//! The one hashing pass: every row group of both sides, in parallel on rayon, decoded with only
//! the needed columns, canonicalized and hashed column by column. Each row leaves an [`Entry`] in
//! the match structure and, unless it is surely matched, its column digests in the
//! [`DigestStore`]; nothing else is kept.
//!
//! Row groups are taken in order, legacy first. Legacy rows go into the [`PairFilter`] and store
//! their digests (unless [`super::Attribution::Reread`]: then the legacy rows of changed pairs
//! are read again instead); a target row hashed later whose `(key, row hash)` the filter
//! has is (almost always) matched and stores nothing, so the target stores about the changed and
//! extra rows. A target row that skipped its digests and still turns out to be changed is read
//! again (see [`super::reconcile`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use rayon::prelude::*;

use super::detail::Capture;
use super::digests::{DigestStore, RowDigests, RowLayout, SLOT};
use super::filter::PairFilter;
use super::partition::{Entry, Key, Partitions};
use crate::error::{Error, Result};
use crate::hash::{self, Codec, EncodeError};
use crate::plan::{ColumnPlan, PairPlan};
use crate::side::{PerSide, Side};

/// Rows per batch of the hashing pass, and the most any decoded batch holds.
pub const BATCH_ROWS: usize = 32 * 1024;

/// Rows per batch for merely decoding `columns` columns (the decode floor): about 256k values a
/// batch, so that a batch's buffers stay near 2 MB. Larger batches are freed and allocated again
/// past glibc's trim threshold, and every batch then faults its pages in afresh: at 32k rows of
/// 16 columns the floor took 300k page faults and a second of system time on 2 × 10M rows, at
/// 16k rows 24k faults and 0.4-0.8 s less wall time. The hashing pass keeps [`BATCH_ROWS`]: its
/// per-batch work (partition pushes, store writes) made it 0.4-0.7 s slower at 16k rows, so the
/// floor it is measured against is the faster of the two.
pub fn batch_rows(columns: usize) -> usize {
    ((256 * 1024) / columns.max(1)).clamp(1024, BATCH_ROWS)
}

/// A key type recon can derive from key columns.
pub trait KeyCodec: Key {
    /// The key as hex (its identity in the run history).
    fn hex(self) -> String;
    /// 64 bits of the key for the order-free table checksum.
    fn fold_bits(self) -> u64;
    /// The key of every row of the key arrays (`None` where a key column is NULL); `parts` is
    /// scratch for per-column digests, reused from batch to batch.
    fn keys(
        arrays: &[ArrayRef],
        codecs: &[&Codec],
        parts: &mut Vec<Vec<u128>>,
        out: &mut Vec<Option<Self>>,
    ) -> std::result::Result<(), EncodeError>;
}

impl KeyCodec for u64 {
    fn hex(self) -> String {
        format!("{self:016x}")
    }
    fn fold_bits(self) -> u64 {
        self
    }
    fn keys(
        arrays: &[ArrayRef],
        _: &[&Codec],
        _: &mut Vec<Vec<u128>>,
        out: &mut Vec<Option<Self>>,
    ) -> std::result::Result<(), EncodeError> {
        out.clear();
        let a = arrow::compute::cast(&arrays[0], &DataType::Int64)?;
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
    fn hex(self) -> String {
        format!("{self:032x}")
    }
    #[allow(clippy::cast_possible_truncation)]
    fn fold_bits(self) -> u64 {
        (self >> 64) as u64 ^ self as u64
    }
    fn keys(
        arrays: &[ArrayRef],
        codecs: &[&Codec],
        digests: &mut Vec<Vec<u128>>,
        out: &mut Vec<Option<Self>>,
    ) -> std::result::Result<(), EncodeError> {
        out.clear();
        let rows = arrays.first().map_or(0, arrow::array::Array::len);
        digests.resize_with(arrays.len(), Vec::new);
        for ((a, c), d) in arrays.iter().zip(codecs).zip(digests.iter_mut()) {
            hash::hash_column::<u128>(a.as_ref(), c, d)?;
        }
        let nulls: Vec<_> = arrays
            .iter()
            .map(arrow::array::Array::logical_nulls)
            .collect();
        let mut parts = vec![0u128; arrays.len()];
        out.reserve(rows);
        for i in 0..rows {
            if nulls
                .iter()
                .any(|n| n.as_ref().is_some_and(|n| n.is_null(i)))
            {
                out.push(None);
                continue;
            }
            for (p, d) in parts.iter_mut().zip(digests.iter()) {
                *p = d[i];
            }
            out.push(Some(hash::combine_key(&parts)));
        }
        Ok(())
    }
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

/// The digests of the last dictionary seen per column. The values array is kept alive so that
/// its buffers cannot be freed and their addresses reused by another dictionary.
struct DictCache {
    values: ArrayRef,
    digests: Vec<u64>,
}

impl DictCache {
    fn matches(&self, values: &ArrayRef) -> bool {
        if self.values.len() != values.len() || self.values.data_type() != values.data_type() {
            return false;
        }
        let (a, b) = (self.values.to_data(), values.to_data());
        a.offset() == b.offset()
            && a.buffers().len() == b.buffers().len()
            && a.buffers()
                .iter()
                .zip(b.buffers())
                .all(|(x, y)| x.as_ptr() == y.as_ptr() && x.len() == y.len())
    }
}

/// A worker's buffers for hashing batches, reused from batch to batch.
#[derive(Default)]
pub(super) struct Scratch<K> {
    dicts: Vec<Option<DictCache>>,
    /// Per row: the hash over every compared column.
    pub(super) full: Vec<u64>,
    /// Per row: the hash over the columns without a tolerance (only with tolerance slots).
    pub(super) exact: Vec<u64>,
    /// Per row: its key (`None` where a key column is NULL).
    pub(super) keys: Vec<Option<K>>,
    /// Per key column: each row's digest (composite and text keys).
    key_parts: Vec<Vec<u128>>,
    /// Leave the match structure's entries out (the key-order merge has none).
    no_entries: bool,
    /// Per compared column: each row's 64-bit digest.
    pub(super) digests: Vec<Vec<u64>>,
    /// Per tolerance slot: each row's exact value.
    pub(super) slots: Vec<Vec<[u8; SLOT]>>,
    entries: Vec<Entry<K>>,
    /// Rows of the batch whose digests are stored, and their store bytes.
    kept: Vec<u32>,
    /// Per row: its filter fingerprint (also its share of the table checksum).
    pub(super) prints: Vec<u64>,
    /// Per row of a target batch: the filter has its pair.
    found: Vec<bool>,
    row_bytes: Vec<u8>,
    routed: Vec<Vec<Entry<K>>>,
}

impl<K> Scratch<K> {
    /// Buffers for hashing without the match structure's entries (the key-order merge).
    pub(super) fn without_entries() -> Self
    where
        K: Default,
    {
        Self {
            no_entries: true,
            ..Self::default()
        }
    }
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

/// Hashes both sides of a pair into `sides` (one partitions + store per side). With a `filter`,
/// legacy pairs go into it and target rows it has do not store their digests; the target rows
/// that do may be kept whole in `capture` for the detail pass.
pub fn scan<K: KeyCodec>(
    plan: &PairPlan,
    layout: &RowLayout,
    sides: &PerSide<(Partitions<K>, DigestStore)>,
    (filter, store_legacy): (Option<&PairFilter>, bool),
    capture: Option<&Capture>,
    progress: &(dyn Fn(Side, u64) + Sync),
) -> Result<PerSide<ScanTotals>> {
    let null_keys = PerSide::new(AtomicU64::new(0), AtomicU64::new(0));
    let checksum = PerSide::new(AtomicU64::new(0), AtomicU64::new(0));
    let (columns, tasks) = work(plan);
    // Each worker takes the next row group in order (legacy first), so the filter is as full as
    // it can be when the target is hashed.
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().min(tasks.len()).max(1);
    (0..workers).into_par_iter().try_for_each(|_| {
        let mut scratch = Scratch::<K>::default();
        loop {
            let Some(&(side, rg)) = tasks.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return Ok(());
            };
            let table = plan.tables.get(side);
            let (parts, store) = sides.get(side);
            let mut ordinal = rg.base;
            table
                .read_row_group(
                    rg,
                    columns.get(side),
                    None,
                    BATCH_ROWS,
                    &mut |arrays, rows| {
                        let s = &mut scratch;
                        let (nulls, sum) =
                            hash_batch(plan, layout, side, &arrays, rows, ordinal, s)?;
                        keep_rows(layout, side, (filter, store_legacy), s);
                        null_keys.get(side).fetch_add(nulls, Ordering::Relaxed);
                        checksum.get(side).fetch_add(sum, Ordering::Relaxed);
                        store.write_rows(ordinal, rows, &s.kept, &s.row_bytes)?;
                        if let (Side::Target, Some(c)) = (side, capture) {
                            c.add(ordinal, &s.kept, rows, &arrays);
                        }
                        parts.push(&s.entries, &mut s.routed)?;
                        ordinal += rows as u64;
                        progress(side, rows as u64);
                        Ok(())
                    },
                )
                // On an error the other workers stop at their next row group.
                .inspect_err(|_| next.store(tasks.len(), Ordering::Relaxed))?;
        }
    })?;
    let totals = |s: Side| ScanTotals {
        null_keys: null_keys.get(s).load(Ordering::Relaxed),
        checksum: checksum.get(s).load(Ordering::Relaxed),
    };
    Ok(PerSide::new(totals(Side::Legacy), totals(Side::Target)))
}

/// The filter fingerprint of a row's `(key, row hash)` (also its share of the table checksum).
#[inline]
fn fingerprint<K: KeyCodec>(key: K, hash: u64) -> u64 {
    hash::fold(hash, key.fold_bits())
}

/// A row's share of its table's order-free checksum ([`ScanTotals::checksum`]): its
/// fingerprint, or its row hash folded alone when a key column is NULL.
#[inline]
pub(super) fn checksum_share<K: KeyCodec>(key: Option<K>, hash: u64) -> u64 {
    key.map_or_else(|| hash::fold(hash, 0), |key| fingerprint(key, hash))
}

/// Chooses the rows of a hashed batch whose digests are stored (`s.kept`) and lays out their
/// store bytes (`s.row_bytes`). Rows with a NULL key are never paired and store nothing; legacy
/// rows enter the filter and store theirs only with [`super::Attribution::Store`]; target rows
/// store theirs unless the filter has them.
#[allow(clippy::cast_possible_truncation)] // batches hold at most BATCH_ROWS rows
fn keep_rows<K: KeyCodec>(
    layout: &RowLayout,
    side: Side,
    (filter, store_legacy): (Option<&PairFilter>, bool),
    s: &mut Scratch<K>,
) {
    s.kept.clear();
    let keyed = s.keys.iter().map(Option::is_some);
    match (side, filter) {
        (Side::Target, Some(f)) => {
            // Lookups first, without branches, so that their cache misses overlap.
            s.found.clear();
            s.found.extend(s.prints.iter().map(|&p| f.may_contain(p)));
            s.kept.extend(
                keyed
                    .zip(&s.found)
                    .enumerate()
                    .filter(|&(_, (keyed, &found))| keyed && !found)
                    .map(|(i, _)| i as u32),
            );
        }
        (side, filter) => {
            if let (Side::Legacy, Some(f)) = (side, filter) {
                for (&key, &print) in s.keys.iter().zip(&s.prints) {
                    if key.is_some() {
                        f.insert(print);
                    }
                }
            }
            if side == Side::Target || store_legacy {
                s.kept.extend(
                    keyed
                        .enumerate()
                        .filter(|&(_, keyed)| keyed)
                        .map(|(i, _)| i as u32),
                );
            }
        }
    }
    lay_out_kept(layout, s);
}

/// The store bytes of every row of a hashed batch, NULL keys included (`rows` rows of
/// [`RowLayout::width`] bytes): what a cluster's hashing task ships to its pairing task.
#[cfg(feature = "cluster")]
#[allow(clippy::cast_possible_truncation)] // batches hold at most BATCH_ROWS rows
pub(super) fn all_row_bytes<'a, K>(
    layout: &RowLayout,
    rows: usize,
    s: &'a mut Scratch<K>,
) -> &'a [u8] {
    s.kept.clear();
    s.kept.extend(0..rows as u32);
    lay_out_kept(layout, s);
    &s.row_bytes
}

/// Lays out the store bytes of the rows in `s.kept` (`s.row_bytes`).
fn lay_out_kept<K>(layout: &RowLayout, s: &mut Scratch<K>) {
    // Row by row, each row's bytes written in turn: sequential writes, and the buffer's length
    // moves once a row (growing it per digest kept the length in memory, a store per digest).
    let width = layout.width();
    let digest_bytes = 4 * s.digests.len();
    s.row_bytes.clear();
    s.row_bytes.reserve(s.kept.len() * width);
    for &i in &s.kept {
        let i = i as usize;
        let start = s.row_bytes.len();
        s.row_bytes.resize(start + width, 0);
        let row = &mut s.row_bytes[start..];
        let (digests, rest) = row.split_at_mut(digest_bytes);
        for (out, d) in digests.chunks_exact_mut(4).zip(&s.digests) {
            #[allow(clippy::cast_possible_truncation)]
            out.copy_from_slice(&(d[i] as u32).to_le_bytes());
        }
        if layout.slots > 0 {
            let (slots, exact) = rest.split_at_mut(SLOT * s.slots.len());
            for (out, slot) in slots.chunks_exact_mut(SLOT).zip(&s.slots) {
                out.copy_from_slice(&slot[i]);
            }
            exact.copy_from_slice(&s.exact[i].to_le_bytes());
        }
    }
}

/// Hashes one batch: fills the scratch's keys, column digests, tolerance slots, row hashes and
/// entries; returns the NULL-key count and the batch's share of the checksum.
pub(super) fn hash_batch<K: KeyCodec>(
    plan: &PairPlan,
    layout: &RowLayout,
    side: Side,
    arrays: &[ArrayRef],
    rows: usize,
    ordinal: u64,
    s: &mut Scratch<K>,
) -> Result<(u64, u64)> {
    let nk = plan.keys.len();
    let col_err = |c: &ColumnPlan, source: EncodeError| Error::Encode {
        table: plan.name.clone(),
        column: c.name.clone(),
        side,
        source,
    };
    let codecs: Vec<&Codec> = plan.keys.iter().map(|k| &k.codec).collect();
    K::keys(&arrays[..nk], &codecs, &mut s.key_parts, &mut s.keys)
        .map_err(|m| col_err(&plan.keys[0], m))?;
    s.digests.resize_with(plan.columns.len(), Vec::new);
    s.slots.resize_with(layout.slots, Vec::new);
    s.dicts.resize_with(plan.columns.len(), || None);
    for (ci, c) in plan.columns.iter().enumerate() {
        let array = arrays[nk + ci].as_ref();
        match array
            .as_any_dictionary_opt()
            .filter(|_| c.codec.cast.is_none())
        {
            // A dictionary-encoded column: hash each distinct value once per column chunk.
            Some(dict) => {
                let values = dict.values();
                if !s.dicts[ci].as_ref().is_some_and(|d| d.matches(values)) {
                    let mut digests = Vec::new();
                    hash::hash_column::<u64>(values.as_ref(), &c.codec, &mut digests)
                        .map_err(|m| col_err(c, m))?;
                    s.dicts[ci] = Some(DictCache {
                        values: Arc::clone(values),
                        digests,
                    });
                }
                if let Some(cache) = &s.dicts[ci] {
                    hash::gather_dictionary(dict, &cache.digests, &mut s.digests[ci])
                        .map_err(|m| col_err(c, m))?;
                }
            }
            None => hash::hash_column::<u64>(array, &c.codec, &mut s.digests[ci])
                .map_err(|m| col_err(c, m))?,
        }
        if let Some(slot) = layout.slot_of[ci] {
            tolerance_slots(array, &c.codec, &mut s.slots[slot]).map_err(|m| col_err(c, m))?;
        }
    }
    let n = plan.columns.len();
    // Column by column: each pass streams one digest vector into the row hashes.
    s.full.clear();
    s.full.resize(rows, hash::fold_start(n));
    s.exact.clear();
    if layout.slots > 0 {
        s.exact.resize(rows, hash::fold_start(n - layout.slots));
    }
    for (ci, d) in s.digests.iter().enumerate() {
        let d = &d[..rows];
        for (h, &v) in s.full.iter_mut().zip(d) {
            *h = hash::fold(*h, v);
        }
        if layout.slots > 0 && layout.slot_of[ci].is_none() {
            for (h, &v) in s.exact.iter_mut().zip(d) {
                *h = hash::fold(*h, v);
            }
        }
    }
    s.entries.clear();
    s.prints.clear();
    let mut null_keys = 0;
    let mut sum = 0u64;
    for (i, (&key, &full)) in s.keys.iter().zip(&s.full).enumerate() {
        match key {
            Some(key) if !s.no_entries => s.entries.push(Entry {
                key,
                hash: full,
                ord: ordinal + i as u64,
            }),
            Some(_) => {}
            None => null_keys += 1,
        }
        let print = checksum_share(key, full);
        sum = sum.wrapping_add(print);
        s.prints.push(print);
    }
    Ok((null_keys, sum))
}

/// The exact value of every row of a tolerance column: `[tag][payload]`.
pub fn tolerance_slots(
    array: &dyn Array,
    codec: &Codec,
    out: &mut Vec<[u8; SLOT]>,
) -> std::result::Result<(), EncodeError> {
    out.clear();
    let mut too_wide = false;
    hash::visit_cast(array, codec, &mut |tag, payload| {
        let mut slot = [0u8; SLOT];
        // Only numbers and floats have tolerances, and all of them fit but Decimal256 values
        // past 38 digits: those are refused below, never truncated into a false match.
        too_wide |= payload.len() > SLOT - 2;
        let n = payload.len().min(SLOT - 2);
        slot[0] = tag as u8;
        slot[1] = u8::try_from(n).unwrap_or(u8::MAX);
        slot[2..2 + n].copy_from_slice(&payload[..n]);
        out.push(slot);
    })?;
    if too_wide {
        return Err(EncodeError::TooWide);
    }
    Ok(())
}

/// The 64-bit column digests, tolerance slots, exact hash and row hash of one row read again
/// (`arrays`: the side's read columns, one row each), computed as the hashing pass does.
pub fn row_digests(
    plan: &PairPlan,
    layout: &RowLayout,
    side: Side,
    arrays: &[ArrayRef],
) -> Result<(RowDigests, u64)> {
    let nk = plan.keys.len();
    let n = plan.columns.len();
    let mut row = RowDigests {
        digests: Vec::with_capacity(n),
        slots: vec![[0u8; SLOT]; layout.slots],
        exact: 0,
    };
    let mut full = hash::fold_start(n);
    let mut exact = hash::fold_start(n - layout.slots);
    let mut d = Vec::new();
    let mut slot = Vec::new();
    for (ci, c) in plan.columns.iter().enumerate() {
        let array = arrays[nk + ci].as_ref();
        let encode_err = |source| Error::Encode {
            table: plan.name.clone(),
            column: c.name.clone(),
            side,
            source,
        };
        hash::hash_column::<u64>(array, &c.codec, &mut d).map_err(encode_err)?;
        let v = d.first().copied().ok_or_else(|| {
            Error::Internal(format!(
                "table `{}`: column `{}`: a row read again came back empty",
                plan.name, c.name
            ))
        })?;
        full = hash::fold(full, v);
        match layout.slot_of[ci] {
            Some(si) => {
                tolerance_slots(array, &c.codec, &mut slot).map_err(encode_err)?;
                row.slots[si] = slot.first().copied().unwrap_or([0u8; SLOT]);
            }
            None => exact = hash::fold(exact, v),
        }
        row.digests.push(v);
    }
    if layout.slots > 0 {
        row.exact = exact;
    }
    Ok((row, full))
}

/// The columns each side reads and the units of parallel work: every row group of both sides,
/// so that neither side's tail leaves a core idle.
fn work(
    plan: &PairPlan,
) -> (
    PerSide<Vec<String>>,
    Vec<(Side, crate::snapshot::RowGroupRef)>,
) {
    let columns = PerSide::new(
        plan.read_columns(Side::Legacy),
        plan.read_columns(Side::Target),
    );
    let tasks = Side::BOTH
        .iter()
        .flat_map(|&s| {
            plan.tables
                .get(s)
                .row_groups()
                .into_iter()
                .map(move |rg| (s, rg))
        })
        .collect();
    (columns, tasks)
}

/// The decode floor: reads every row group of both sides with the same reader and projection as
/// [`scan`] (in batches of [`batch_rows`], its fastest), in parallel, and does nothing with the
/// rows. A reconcile can only be compared fairly against this. Returns the rows read.
pub fn decode_floor(plan: &PairPlan) -> Result<u64> {
    let (columns, tasks) = work(plan);
    let batch = batch_rows(columns.legacy.len().max(columns.target.len()));
    let rows = AtomicU64::new(0);
    tasks.par_iter().try_for_each(|&(side, rg)| {
        plan.tables
            .get(side)
            .read_row_group(rg, columns.get(side), None, batch, &mut |_, n| {
                rows.fetch_add(n as u64, Ordering::Relaxed);
                Ok(())
            })
    })?;
    Ok(rows.into_inner())
}
