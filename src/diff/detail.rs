//! The detail pass: re-reading a few rows by ordinal (for samples, `--diff-out` keys and the rare
//! row whose stored 32-bit column digests cannot say which column changed). Only the row groups
//! holding those rows are touched, and within them only the selected rows are decoded.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{Array, ArrayRef};
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use rayon::prelude::*;

use crate::error::Result;
use crate::snapshot::{RowGroupRef, SideTable};

/// Rows read again, by ordinal: one single-row array per requested column.
pub type Rows = HashMap<u64, Vec<ArrayRef>>;

/// Target rows kept from the hashing pass, so that the detail pass need not read them again: the
/// rows whose digests were stored because the legacy side lacks their (key, row hash), that is
/// the changed and extra rows, as long as their batch was sparse in them and up to a cap. Which
/// rows are kept never changes an answer, only where the detail pass finds them.
pub struct Capture {
    columns: Vec<String>,
    chunks: Mutex<Vec<(Vec<u64>, Vec<ArrayRef>)>>,
    rows: AtomicUsize,
    cap: usize,
}

impl Capture {
    /// Keeps up to `cap` rows of `columns` (the order of the arrays given to [`Capture::add`]).
    pub fn new(columns: Vec<String>, cap: usize) -> Self {
        Self {
            columns,
            chunks: Mutex::new(Vec::new()),
            rows: AtomicUsize::new(0),
            cap,
        }
    }

    /// Keeps rows `base + rows[i]` of a batch, if the batch holds few of them and the cap allows.
    pub fn add(&self, base: u64, rows: &[u32], batch_rows: usize, arrays: &[ArrayRef]) {
        if rows.is_empty() || rows.len() > batch_rows / 16 {
            return;
        }
        if self.rows.fetch_add(rows.len(), Ordering::Relaxed) + rows.len() > self.cap {
            return;
        }
        let indices = arrow::array::UInt32Array::from(rows.to_vec());
        // Dictionary columns become plain: a kept row must not keep its row group's dictionary.
        let taken: std::result::Result<Vec<ArrayRef>, _> = arrays
            .iter()
            .map(|a| {
                let t = arrow::compute::take(a.as_ref(), &indices, None)?;
                match t.data_type() {
                    arrow::datatypes::DataType::Dictionary(_, v) => arrow::compute::cast(&t, v),
                    _ => Ok(t),
                }
            })
            .collect();
        match (taken, self.chunks.lock()) {
            (Ok(arrays), Ok(mut chunks)) => {
                let ords = rows.iter().map(|&r| base + u64::from(r)).collect();
                chunks.push((ords, arrays));
            }
            // Not kept: the detail pass reads these rows from the file instead.
            (Err(e), _) => tracing::debug!(error = %e, "rows not kept for the detail pass"),
            (_, Err(_)) => {}
        }
    }

    /// The kept rows, indexed by ordinal.
    pub fn finish(self) -> Captured {
        let chunks = self.chunks.into_inner().unwrap_or_default();
        let mut at = HashMap::new();
        let mut arrays = Vec::with_capacity(chunks.len());
        for (c, (ords, a)) in chunks.into_iter().enumerate() {
            for (i, ord) in ords.into_iter().enumerate() {
                at.insert(ord, (c, i));
            }
            arrays.push(a);
        }
        Captured {
            columns: self.columns,
            arrays,
            at,
        }
    }
}

/// Rows kept by a [`Capture`].
pub struct Captured {
    columns: Vec<String>,
    arrays: Vec<Vec<ArrayRef>>,
    at: HashMap<u64, (usize, usize)>,
}

impl Captured {
    /// Row `ordinal`'s `columns` as single-row arrays, if the row and every column were kept.
    fn get(&self, ordinal: u64, columns: &[String]) -> Option<Vec<ArrayRef>> {
        let &(c, i) = self.at.get(&ordinal)?;
        columns
            .iter()
            .map(|name| {
                let k = self.columns.iter().position(|n| n == name)?;
                Some(self.arrays[c][k].slice(i, 1))
            })
            .collect()
    }
}

/// [`fetch`], serving the rows a [`Captured`] holds from memory.
pub fn fetch_with(
    table: &SideTable,
    ordinals: &[u64],
    columns: &[String],
    captured: Option<&Captured>,
) -> Result<Rows> {
    let Some(captured) = captured else {
        return fetch(table, ordinals, columns);
    };
    let mut found = Rows::new();
    let mut rest = Vec::new();
    for &ord in ordinals {
        match captured.get(ord, columns) {
            Some(arrays) => {
                found.insert(ord, arrays);
            }
            None => rest.push(ord),
        }
    }
    tracing::debug!(
        table = %table.name,
        kept = found.len(),
        read = rest.len(),
        "detail rows kept from the hashing pass"
    );
    if !rest.is_empty() {
        found.extend(fetch(table, &rest, columns)?);
    }
    Ok(found)
}

/// Reads `columns` of the rows at `ordinals`; returns one single-row array per column per row.
pub fn fetch(
    table: &SideTable,
    ordinals: &[u64],
    columns: &[String],
) -> Result<HashMap<u64, Vec<ArrayRef>>> {
    let mut by_group: BTreeMap<(usize, usize), Vec<(usize, u64)>> = BTreeMap::new();
    for &ord in ordinals {
        if let Some((f, rg, within)) = table.locate(ord) {
            by_group.entry((f, rg)).or_default().push((within, ord));
        }
    }
    // Row groups are read in parallel: with drift spread over a table, the rows to read again
    // sit in every row group.
    let groups: Vec<_> = by_group.into_iter().collect();
    let parts: Vec<Vec<(u64, Vec<ArrayRef>)>> = groups
        .into_par_iter()
        .map(|((f, rg), mut rows)| {
            rows.sort_unstable();
            rows.dedup();
            let mut selectors = Vec::with_capacity(rows.len() * 2);
            let mut at = 0;
            for &(within, _) in &rows {
                if within > at {
                    selectors.push(RowSelector::skip(within - at));
                }
                selectors.push(RowSelector::select(1));
                at = within + 1;
            }
            let file = &table.files[f];
            let group = RowGroupRef {
                file: f,
                row_group: rg,
                base: file.row_group_bases[rg],
            };
            let mut got = Vec::with_capacity(rows.len());
            let mut next = 0;
            table.read_row_group(
                group,
                columns,
                Some(RowSelection::from(selectors)),
                8192,
                &mut |arrays, n| {
                    for i in 0..n {
                        if let Some(&(_, ord)) = rows.get(next) {
                            got.push((ord, arrays.iter().map(|a| a.slice(i, 1)).collect()));
                        }
                        next += 1;
                    }
                    Ok(())
                },
            )?;
            Ok(got)
        })
        .collect::<Result<_>>()?;
    let out: HashMap<u64, Vec<ArrayRef>> = parts.into_iter().flatten().collect();
    Ok(out)
}
