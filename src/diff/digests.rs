//! Per-row column digests, written during the one hashing pass to a temporary file, so that
//! column attribution of changed rows needs no second read of the snapshot. Only the rows of
//! changed pairs are ever read back. The file lives in the page cache, not the heap.
//!
//! A side may store only some rows (the target side skips rows the legacy side already has, see
//! [`super::filter`]). Each hashing batch appends its stored rows as one piece at the file's end;
//! a bitmap says which rows are stored, and a row is found from its batch's piece (an index
//! entry per batch) and its rank among the batch's stored rows. The file has no holes: at 100M
//! rows, the target's few stored rows written at their ordinals left a sparse file of 44,343
//! extents whose release took 8 s of a 55 s run (and dirtied a 4 KiB page per 60-byte row).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Bytes of a tolerance value slot: `[tag][payload length][payload, zero-padded]`.
pub const SLOT: usize = 19;

/// How a row is laid out in the store.
#[derive(Debug, Clone)]
pub struct RowLayout {
    /// Compared columns (each has a 4-byte digest).
    pub columns: usize,
    /// For each compared column, the index of its tolerance slot, if it has one.
    pub slot_of: Vec<Option<usize>>,
    /// Number of tolerance slots.
    pub slots: usize,
}

impl RowLayout {
    /// Bytes per row: digests, then tolerance slots, then the 8-byte hash of the exact columns
    /// (present only when there are tolerance slots).
    pub fn width(&self) -> usize {
        self.columns * 4 + self.slots * SLOT + if self.slots > 0 { 8 } else { 0 }
    }

    /// The digest of column `c` in a row.
    #[allow(clippy::unused_self)] // read through the layout, as slots and exact hashes are
    pub fn digest(&self, row: &[u8], c: usize) -> u32 {
        u32::from_le_bytes([row[c * 4], row[c * 4 + 1], row[c * 4 + 2], row[c * 4 + 3]])
    }

    /// Tolerance slot `s` of a row.
    pub fn slot<'a>(&self, row: &'a [u8], s: usize) -> &'a [u8] {
        let at = self.columns * 4 + s * SLOT;
        &row[at..at + SLOT]
    }

    /// The hash of the exact (non-tolerance) columns of a row.
    pub fn exact_hash(&self, row: &[u8]) -> u64 {
        let at = self.columns * 4 + self.slots * SLOT;
        let mut b = [0u8; 8];
        b.copy_from_slice(&row[at..at + 8]);
        u64::from_le_bytes(b)
    }
}

/// What attribution compares of one row: its column digests (32 bits when read from a store, 64
/// when computed from a row read again), its tolerance slots and the hash of its exact columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDigests {
    /// Per compared column.
    pub digests: Vec<u64>,
    /// Per tolerance slot.
    pub slots: Vec<[u8; SLOT]>,
    /// Hash of the non-tolerance columns (0 when there are no slots).
    pub exact: u64,
}

impl RowDigests {
    /// A stored row's digests.
    pub fn from_stored(layout: &RowLayout, row: &[u8]) -> Self {
        Self {
            digests: (0..layout.columns)
                .map(|c| u64::from(layout.digest(row, c)))
                .collect(),
            slots: (0..layout.slots)
                .map(|s| {
                    let mut slot = [0u8; SLOT];
                    slot.copy_from_slice(layout.slot(row, s));
                    slot
                })
                .collect(),
            exact: if layout.slots > 0 {
                layout.exact_hash(row)
            } else {
                0
            },
        }
    }
}

/// The bitmap words rows `from..to` touch: each as (a row in it, the mask of those rows).
fn word_masks(from: u64, to: u64) -> impl Iterator<Item = (u64, u64)> {
    let mut row = from;
    std::iter::from_fn(move || {
        if row >= to {
            return None;
        }
        let bit = row % 64;
        let n = (64 - bit).min(to - row);
        let mask = if n == 64 {
            u64::MAX
        } else {
            ((1u64 << n) - 1) << bit
        };
        let at = row;
        row += n;
        Some((at, mask))
    })
}

/// One batch's stored rows in the file.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Ordinal of the batch's first row.
    first: u64,
    /// Rows the batch spans (stored or not).
    span: u64,
    /// Byte offset of its first stored row.
    offset: u64,
    /// Every row of the batch is stored (a row's slot is then its place in the batch).
    full: bool,
}

/// One side's column digests, found by ordinal.
pub struct DigestStore {
    file: File,
    width: usize,
    /// One bit per row: stored or not.
    stored: Vec<AtomicU64>,
    /// Bytes appended so far.
    end: AtomicU64,
    /// Pieces as written, then sorted by ordinal when the first row is read.
    pieces: std::sync::Mutex<Vec<Piece>>,
    index: std::sync::OnceLock<Vec<Piece>>,
}

impl DigestStore {
    /// An empty store in `dir` for `rows` rows.
    pub fn new(dir: &std::path::Path, layout: &RowLayout, rows: u64) -> Result<Self> {
        let words = usize::try_from(rows.div_ceil(64))
            .map_err(|_| Error::Internal("table too large for this platform".into()))?;
        Ok(Self {
            file: tempfile::tempfile_in(dir).map_err(Error::Spill)?,
            width: layout.width(),
            stored: (0..words).map(|_| AtomicU64::new(0)).collect(),
            end: AtomicU64::new(0),
            pieces: std::sync::Mutex::new(Vec::new()),
            index: std::sync::OnceLock::new(),
        })
    }

    /// Stores the rows `base + rows[i]` of one batch (`rows` ascending, below `span`), whose bytes
    /// are `bytes[i * width..]`: appended as one piece.
    pub fn write_rows(&self, base: u64, span: usize, rows: &[u32], bytes: &[u8]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.index.get().is_some() {
            return Err(Error::Internal(
                "digest store written after it was read".into(),
            ));
        }
        let len = rows.len() * self.width;
        let offset = self.end.fetch_add(len as u64, Ordering::Relaxed);
        if self.width > 0 {
            self.file
                .write_all_at(&bytes[..len], offset)
                .map_err(Error::Spill)?;
        }
        let mut i = 0;
        while i < rows.len() {
            let start = i;
            i += 1;
            while i < rows.len() && rows[i] == rows[i - 1] + 1 {
                i += 1;
            }
            let first = base + u64::from(rows[start]);
            self.mark(first, first + (i - start) as u64);
        }
        self.pieces
            .lock()
            .map_err(|_| Error::Internal("digest store lock poisoned".into()))?
            .push(Piece {
                first: base,
                span: span as u64,
                offset,
                full: rows.len() == span,
            });
        Ok(())
    }

    /// Marks rows `from..to` stored, a word at a time.
    fn mark(&self, from: u64, to: u64) {
        for (row, mask) in word_masks(from, to) {
            if let Some(w) = self.word(row) {
                w.fetch_or(mask, Ordering::Relaxed);
            }
        }
    }

    fn word(&self, row: u64) -> Option<&AtomicU64> {
        usize::try_from(row / 64)
            .ok()
            .and_then(|w| self.stored.get(w))
    }

    /// Stored rows in `from..to`.
    fn rank(&self, from: u64, to: u64) -> u64 {
        word_masks(from, to)
            .map(|(row, mask)| {
                let w = self.word(row).map_or(0, |w| w.load(Ordering::Relaxed));
                u64::from((w & mask).count_ones())
            })
            .sum()
    }

    /// Whether row `ordinal` is stored.
    pub fn has(&self, ordinal: u64) -> bool {
        self.word(ordinal)
            .is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (ordinal % 64)) != 0)
    }

    /// Reads row `ordinal` into `buf` (resized to the row width); false when it is not stored.
    pub fn read_row(&self, ordinal: u64, buf: &mut Vec<u8>) -> Result<bool> {
        buf.resize(self.width, 0);
        if !self.has(ordinal) {
            return Ok(false);
        }
        if self.width == 0 {
            return Ok(true);
        }
        let index = if let Some(i) = self.index.get() {
            i
        } else {
            let mut pieces = self
                .pieces
                .lock()
                .map_err(|_| Error::Internal("digest store lock poisoned".into()))?
                .clone();
            pieces.sort_unstable_by_key(|p| p.first);
            self.index.get_or_init(|| pieces)
        };
        let at = index.partition_point(|p| p.first <= ordinal);
        let piece = at
            .checked_sub(1)
            .map(|i| index[i])
            .filter(|p| ordinal < p.first + p.span)
            .ok_or_else(|| Error::Internal(format!("digest store: row {ordinal} in no piece")))?;
        let slot = if piece.full {
            ordinal - piece.first
        } else {
            self.rank(piece.first, ordinal)
        };
        self.file
            .read_exact_at(buf, piece.offset + slot * self.width as u64)
            .map_err(Error::Spill)?;
        Ok(true)
    }
}

/// Whether two tolerance slots (`[tag][payload length][payload]`) are equal within `tol`.
pub fn within(a: &[u8], b: &[u8], tol: crate::value::Tolerance) -> bool {
    if a == b {
        return true;
    }
    let number = |s: &[u8]| {
        let len = usize::from(*s.get(1)?);
        crate::value::number_of(s[0], s.get(2..2 + len)?)
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => crate::value::within(x, y, tol),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_only_the_rows_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = RowLayout {
            columns: 1,
            slot_of: vec![None],
            slots: 0,
        };
        let store = DigestStore::new(dir.path(), &layout, 200).expect("store");
        // Rows 100+{0,1,2,5,70}: two runs and two single rows, across a bitmap word boundary;
        // then an earlier batch (rows 3 and 9 of 0..80) written after it.
        let rows = [0u32, 1, 2, 5, 70];
        let bytes: Vec<u8> = rows.iter().flat_map(|r| (r + 1).to_le_bytes()).collect();
        store.write_rows(100, 100, &rows, &bytes).expect("write");
        let early = [3u32, 9];
        let bytes: Vec<u8> = early
            .iter()
            .flat_map(|r| r.wrapping_sub(99).to_le_bytes())
            .collect();
        store.write_rows(0, 80, &early, &bytes).expect("write");
        let mut buf = Vec::new();
        for ord in 0..200u64 {
            let stored = store.read_row(ord, &mut buf).expect("read");
            let expect = (ord >= 100 && rows.contains(&u32::try_from(ord - 100).expect("small")))
                || early.contains(&u32::try_from(ord).expect("small"));
            assert_eq!(stored, expect, "row {ord}");
            if stored {
                assert_eq!(
                    layout.digest(&buf, 0),
                    u32::try_from(ord).expect("small").wrapping_sub(99)
                );
            }
        }
    }
}
