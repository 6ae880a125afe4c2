//! Reading one row group of a table: only the columns asked for (a partition column from its
//! folder name, a column another file has as NULL), batch by batch, a decoder's panic on corrupt
//! bytes turned into an error naming the file.

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, new_null_array};
use arrow::datatypes::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection,
};
use std::sync::Arc;

use super::{RowGroupRef, SideTable};
use crate::error::{Error, Result};

impl SideTable {
    /// Reads one row group with only `columns` (in that order), optionally only selected rows,
    /// calling `each` with every batch's arrays.
    pub fn read_row_group(
        &self,
        rg: RowGroupRef,
        columns: &[String],
        selection: Option<RowSelection>,
        batch_size: usize,
        each: &mut dyn FnMut(Vec<ArrayRef>, usize) -> Result<()>,
    ) -> Result<()> {
        for batch in self.row_group_batches(rg, columns, selection, batch_size)? {
            let (arrays, rows) = batch?;
            each(arrays, rows)?;
        }
        Ok(())
    }

    /// One row group's batches with only `columns` (in that order), optionally only selected
    /// rows, decoded one at a time as the iterator is advanced.
    pub fn row_group_batches(
        &self,
        rg: RowGroupRef,
        columns: &[String],
        selection: Option<RowSelection>,
        batch_size: usize,
    ) -> Result<RowGroupBatches<'_>> {
        let f = &self.files[rg.file];
        let file_schema = f.schema();
        let mut roots = Vec::new();
        let mut plan = Vec::with_capacity(columns.len());
        for c in columns {
            if let Ok(idx) = file_schema.index_of(c) {
                roots.push(idx);
                plan.push(Column::File);
            } else if let Some(pos) = f.file.partitions.iter().position(|(k, _)| k == c) {
                plan.push(Column::Partition(pos));
            } else if self.schema.field_with_name(c).is_ok() {
                // Another file of the table has it: NULL in this one.
                plan.push(Column::Missing);
            } else {
                return Err(self.file_error(rg, format!("has no column `{c}`")));
            }
        }
        roots.sort_unstable();
        roots.dedup();
        let reader = f
            .source
            .open(f.meta.metadata().row_group(rg.row_group), &roots)
            .map_err(|e| {
                self.read_error(rg, format!("cannot fetch row group {}", rg.row_group), e)
            })?;
        let mask = ProjectionMask::roots(f.meta.parquet_schema(), roots.iter().copied());
        let mut builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(reader, f.meta.clone())
                .with_row_groups(vec![rg.row_group])
                .with_projection(mask)
                .with_batch_size(batch_size);
        if let Some(sel) = selection {
            builder = builder.with_row_selection(sel);
        }
        let batches = builder.build().map_err(|e| {
            self.read_error(
                rg,
                format!("cannot read row group {}", rg.row_group),
                e.into(),
            )
        })?;
        Ok(RowGroupBatches {
            table: self,
            rg,
            columns: columns.to_vec(),
            plan,
            batches,
        })
    }

    fn file_error(&self, rg: RowGroupRef, message: String) -> Error {
        Error::File {
            side: self.side,
            table: self.name.clone(),
            file: self.files[rg.file].file.display(),
            message,
        }
    }

    fn read_error(
        &self,
        rg: RowGroupRef,
        what: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> Error {
        Error::Read {
            side: self.side,
            table: self.name.clone(),
            file: self.files[rg.file].file.display(),
            what,
            source,
        }
    }
}

/// One row group's batches, each the read columns' arrays and its row count
/// ([`SideTable::row_group_batches`]).
pub struct RowGroupBatches<'a> {
    table: &'a SideTable,
    rg: RowGroupRef,
    columns: Vec<String>,
    plan: Vec<Column>,
    batches: ParquetRecordBatchReader,
}

impl RowGroupBatches<'_> {
    /// The read columns of one decoded batch, in the order asked for.
    fn arrays(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let (t, rg) = (self.table, self.rg);
        let f = &t.files[rg.file];
        let rows = batch.num_rows();
        let field = |c: &str| {
            t.schema
                .field_with_name(c)
                .map_err(|e| t.read_error(rg, format!("column `{c}`"), e.into()))
        };
        let mut arrays = Vec::with_capacity(self.plan.len());
        for (c, p) in self.columns.iter().zip(&self.plan) {
            arrays.push(match p {
                Column::File => batch.column_by_name(c).cloned().ok_or_else(|| {
                    t.file_error(rg, format!("column `{c}` vanished from the decoded batch"))
                })?,
                Column::Missing => new_null_array(field(c)?.data_type(), rows),
                Column::Partition(pos) => partition_array(
                    field(c)?.data_type(),
                    f.file.partitions[*pos].1.as_deref(),
                    rows,
                ),
            });
        }
        Ok(arrays)
    }
}

impl Iterator for RowGroupBatches<'_> {
    type Item = Result<(Vec<ArrayRef>, usize)>;

    fn next(&mut self) -> Option<Self::Item> {
        let (t, rg) = (self.table, self.rg);
        // A decoder that panics on corrupt bytes (it happens: bit-packed levels past their
        // buffer) must not take the process down: the file is named, recon exits 2.
        let decoded =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.batches.next()));
        let batch = match decoded {
            Ok(None) => return None,
            Ok(Some(Ok(batch))) => batch,
            Ok(Some(Err(e))) => {
                return Some(Err(t.read_error(
                    rg,
                    format!("cannot decode row group {}", rg.row_group),
                    e.into(),
                )));
            }
            Err(panic) => {
                return Some(Err(t.file_error(
                    rg,
                    format!(
                        "cannot decode row group {}: the Parquet decoder failed on corrupt data ({})",
                        rg.row_group,
                        crate::error::panic_message(panic.as_ref())
                    ),
                )));
            }
        };
        let rows = batch.num_rows();
        Some(self.arrays(&batch).map(|arrays| (arrays, rows)))
    }
}

enum Column {
    File,
    Partition(usize),
    Missing,
}

fn partition_array(dt: &DataType, value: Option<&str>, rows: usize) -> ArrayRef {
    match (dt, value) {
        (_, None) => new_null_array(dt, rows),
        (DataType::Int64, Some(v)) => match v.parse::<i64>() {
            Ok(n) => Arc::new(Int64Array::from_value(n, rows)),
            Err(_) => new_null_array(dt, rows),
        },
        (_, Some(v)) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, rows))),
    }
}
