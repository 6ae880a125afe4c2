//! Per-row column digests, written during the one hashing pass to a temporary file at each row's
//! ordinal, so that column attribution of changed rows needs no second read of the snapshot. Only
//! the rows of changed pairs are ever read back. The file lives in the page cache, not the heap.

use std::fs::File;
use std::os::unix::fs::FileExt;

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

/// One side's column digests, indexed by ordinal.
pub struct ColumnStore {
    file: File,
    width: usize,
}

impl ColumnStore {
    /// An empty store in `dir`.
    pub fn new(dir: &std::path::Path, layout: &RowLayout) -> Result<Self> {
        Ok(Self {
            file: tempfile::tempfile_in(dir).map_err(Error::Spill)?,
            width: layout.width(),
        })
    }

    /// Writes the rows starting at `ordinal` (`bytes` holds whole rows).
    pub fn write_rows(&self, ordinal: u64, bytes: &[u8]) -> Result<()> {
        if self.width == 0 || bytes.is_empty() {
            return Ok(());
        }
        self.file
            .write_all_at(bytes, ordinal * self.width as u64)
            .map_err(Error::Spill)
    }

    /// Reads row `ordinal` into `buf` (resized to the row width).
    pub fn read_row(&self, ordinal: u64, buf: &mut Vec<u8>) -> Result<()> {
        buf.resize(self.width, 0);
        if self.width == 0 {
            return Ok(());
        }
        self.file
            .read_exact_at(buf, ordinal * self.width as u64)
            .map_err(Error::Spill)
    }
}
