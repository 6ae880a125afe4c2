//! One side of one segment, read in key order: its row groups one after another, each batch
//! hashed as the general path hashes it, its keys encoded for the merge, the rows outside the
//! segment's range left out, the order checked and the side's totals counted.

use arrow::array::{Array, ArrayRef};
use arrow::compute::cast;
use arrow::row::Rows;

use super::{Inputs, KeyOrder, Part, Segment, Stop};
use crate::diff::digests::{RowDigests, RowLayout, SLOT};
use crate::diff::partition::Entry;
use crate::diff::scan::{self, BATCH_ROWS, KeyCodec, ScanTotals, Scratch};
use crate::error::Error;
use crate::side::Side;
use crate::snapshot::RowGroupBatches;

/// One hashed batch of a side, in key order. Rows the merge does not take (a NULL key, or a key
/// outside the segment) have no key.
pub(super) struct Hashed<K> {
    /// Ordinal of its first row.
    pub base: u64,
    pub keys: Vec<Option<K>>,
    full: Vec<u64>,
    digests: Vec<Vec<u64>>,
    slots: Vec<Vec<[u8; SLOT]>>,
    exact: Vec<u64>,
    /// Each row's key, order-preserving.
    merge_keys: Rows,
}

/// A released batch's buffers, for the next batch of the same side to fill: a batch of a wide
/// table is megabytes, and fresh ones cost their page faults every time.
pub(super) struct Spare<K> {
    keys: Vec<Option<K>>,
    full: Vec<u64>,
    digests: Vec<Vec<u64>>,
    slots: Vec<Vec<[u8; SLOT]>>,
    exact: Vec<u64>,
    merge_keys: Rows,
}

impl<K> Spare<K> {
    fn new(converter: &arrow::row::RowConverter) -> Self {
        Self {
            keys: Vec::new(),
            full: Vec::new(),
            digests: Vec::new(),
            slots: Vec::new(),
            exact: Vec::new(),
            merge_keys: converter.empty_rows(0, 0),
        }
    }
}

/// Spare buffers kept per side.
const SPARES: usize = 2;

impl<K: KeyCodec> Hashed<K> {
    /// Gives the batch's buffers back to its source.
    pub fn into_spare(self) -> Spare<K> {
        Spare {
            keys: self.keys,
            full: self.full,
            digests: self.digests,
            slots: self.slots,
            exact: self.exact,
            merge_keys: self.merge_keys,
        }
    }

    pub fn merge_key(&self, row: usize) -> &[u8] {
        self.merge_keys.row(row).data()
    }

    pub fn hash(&self, row: usize) -> u64 {
        self.full[row]
    }

    pub fn entry(&self, row: usize) -> Option<Entry<K>> {
        Some(Entry {
            key: self.keys[row]?,
            hash: self.full[row],
            ord: self.base + row as u64,
        })
    }

    /// A row's digests as attribution compares them (all 64 bits of each).
    pub fn row_digests(&self, row: usize, layout: &RowLayout) -> RowDigests {
        RowDigests {
            digests: self.digests.iter().map(|d| d[row]).collect(),
            slots: self.slots.iter().map(|s| s[row]).collect(),
            exact: if layout.slots > 0 { self.exact[row] } else { 0 },
        }
    }
}

/// A side of a segment as a stream of hashed batches.
pub(super) struct Source<'a, K> {
    inp: &'a Inputs<'a>,
    order: &'a KeyOrder,
    segment: &'a Segment,
    side: Side,
    progress: &'a (dyn Fn(Side, u64) + Sync),
    columns: Vec<String>,
    /// The next row group to open.
    next: usize,
    /// The row group being read, and the ordinal of its next row.
    reading: Option<(Part, RowGroupBatches<'a>, u64)>,
    scratch: Scratch<K>,
    /// The last taken row's merge key, once there is one.
    last: Option<Vec<u8>>,
    /// Buffers of released batches.
    spares: Vec<Spare<K>>,
    /// What the segment counted of this side, and how many rows it took.
    pub totals: ScanTotals,
    pub took: u64,
}

impl<'a, K: KeyCodec> Source<'a, K> {
    pub fn new(
        inp: &'a Inputs<'a>,
        order: &'a KeyOrder,
        segment: &'a Segment,
        side: Side,
        progress: &'a (dyn Fn(Side, u64) + Sync),
    ) -> Self {
        Self {
            inp,
            order,
            segment,
            side,
            progress,
            columns: inp.plan.read_columns(side),
            next: 0,
            reading: None,
            scratch: Scratch::without_entries(),
            last: None,
            spares: Vec::new(),
            totals: ScanTotals::default(),
            took: 0,
        }
    }

    /// Takes back a released batch's buffers.
    pub fn recycle(&mut self, batch: Hashed<K>) {
        if self.spares.len() < SPARES {
            self.spares.push(batch.into_spare());
        }
    }

    /// The next hashed batch, or `None` at the end of the side's part of the segment.
    pub fn next_batch(&mut self) -> std::result::Result<Option<Hashed<K>>, Stop> {
        let table = self.inp.plan.tables.get(self.side);
        loop {
            if self.reading.is_none() {
                let Some(&part) = self.segment.parts.get(self.side).get(self.next) else {
                    return Ok(None);
                };
                self.next += 1;
                let batches = table.row_group_batches(part.rg, &self.columns, None, BATCH_ROWS)?;
                self.reading = Some((part, batches, part.rg.base));
            }
            let Some((part, batches, ordinal)) = self.reading.as_mut() else {
                continue;
            };
            let Some(batch) = batches.next() else {
                self.reading = None;
                continue;
            };
            let (arrays, rows) = batch?;
            let (part, base) = (*part, *ordinal);
            *ordinal += rows as u64;
            let hashed = self.hash(part, base, &arrays, rows)?;
            if part.owner {
                (self.progress)(self.side, rows as u64);
            }
            return Ok(Some(hashed));
        }
    }
}

impl<K: KeyCodec> Source<'_, K> {
    /// Hashes a batch, encodes its keys, leaves out the rows that are not the segment's, counts
    /// the ones that are and checks their order.
    fn hash(
        &mut self,
        part: Part,
        base: u64,
        arrays: &[ArrayRef],
        rows: usize,
    ) -> std::result::Result<Hashed<K>, Stop> {
        let plan = self.inp.plan;
        let side = self.side;
        let s = &mut self.scratch;
        let (nulls, sum) = scan::hash_batch(plan, self.inp.layout, side, arrays, rows, base, s)?;
        let key_error = |column: String, e: arrow::error::ArrowError| Error::Encode {
            table: plan.name.clone(),
            column,
            side,
            source: e.into(),
        };
        let keys = arrays
            .iter()
            .zip(&self.order.types)
            .zip(&plan.keys)
            .map(|((a, ty), k)| cast(a, ty).map_err(|e| key_error(k.name.clone(), e)))
            .collect::<Result<Vec<ArrayRef>, Error>>()?;
        // The encoder reads every key column at once: an error names them all.
        let all_keys = || {
            plan.keys
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Spare {
            keys: spare_keys,
            full,
            digests,
            slots,
            exact,
            merge_keys: mut encoded,
        } = match self.spares.pop() {
            Some(spare) => spare,
            None => Spare::new(&self.order.converter),
        };
        encoded.clear();
        self.order
            .converter
            .append(&mut encoded, &keys)
            .map_err(|e| key_error(all_keys(), e))?;
        let merge_keys = encoded;
        let mut taken = std::mem::replace(&mut s.keys, spare_keys);
        if part.whole {
            self.totals.null_keys += nulls;
            self.totals.checksum = self.totals.checksum.wrapping_add(sum);
            self.took += rows as u64;
        } else {
            // Row by row: a row is the segment's when its first key column is in the range, and
            // the owner's when that column is NULL.
            let first = self
                .order
                .first
                .convert_columns(&keys[..1])
                .map_err(|e| key_error(plan.keys[0].name.clone(), e))?;
            for (r, key) in taken.iter_mut().enumerate().take(rows) {
                let mine = if keys[0].is_null(r) {
                    part.owner
                } else {
                    self.segment.contains(first.row(r).data())
                };
                if !mine {
                    *key = None;
                    continue;
                }
                self.took += 1;
                if key.is_none() {
                    self.totals.null_keys += 1;
                }
                self.totals.checksum = self.totals.checksum.wrapping_add(s.prints[r]);
            }
        }
        let mut prev: Option<&[u8]> = self.last.as_deref();
        for (r, key) in taken.iter().enumerate().take(rows) {
            if key.is_none() {
                continue;
            }
            let k = merge_keys.row(r).data();
            if prev.is_some_and(|p| k < p) {
                return Err(Stop::OutOfOrder(side, base + r as u64));
            }
            prev = Some(k);
        }
        let last = prev.map(<[u8]>::to_vec);
        if last.is_some() {
            self.last = last;
        }
        Ok(Hashed {
            base,
            keys: taken,
            full: std::mem::replace(&mut s.full, full),
            digests: std::mem::replace(&mut s.digests, digests),
            slots: std::mem::replace(&mut s.slots, slots),
            exact: std::mem::replace(&mut s.exact, exact),
            merge_keys,
        })
    }
}
