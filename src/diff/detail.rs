//! The detail pass: re-reading a few rows by ordinal (for samples, `--diff-out` keys and the rare
//! row whose stored 32-bit column digests cannot say which column changed). Only the row groups
//! holding those rows are touched, and within them only the selected rows are decoded.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, ArrayRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use rayon::prelude::*;
use serde_json::Value;

use crate::error::Result;
use crate::snapshot::{RowGroupRef, SideTable};

/// Rows read again, by ordinal: one single-row array per requested column.
pub type Rows = HashMap<u64, Vec<ArrayRef>>;

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
                rows: file.row_group_rows(rg),
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

/// A single value as report JSON: NULL as `null`, anything else as its display text (exact for
/// decimals and timestamps, unlike JSON numbers).
pub fn render(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    let options = FormatOptions::default();
    match ArrayFormatter::try_new(array, &options) {
        Ok(f) => Value::String(f.value(row).to_string()),
        Err(e) => Value::String(format!("<unprintable: {e}>")),
    }
}
