//! Output formats of `recon query`: an aligned table with a row cap, CSV, JSON lines, Parquet.

use std::fmt::Write as _;
use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::{Error, Result};

/// An aligned table of at most `max_rows` rows, with a note of how many were cut.
pub fn table(schema: &SchemaRef, batches: &[RecordBatch], max_rows: usize) -> Result<String> {
    let mut kept = Vec::new();
    let mut left = max_rows;
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    for b in batches {
        if left == 0 {
            break;
        }
        let take = b.num_rows().min(left);
        kept.push(b.slice(0, take));
        left -= take;
    }
    let text = if kept.is_empty() {
        arrow::util::pretty::pretty_format_batches(&[RecordBatch::new_empty(schema.clone())])
    } else {
        arrow::util::pretty::pretty_format_batches(&kept)
    }
    .map_err(|e| Error::failed("formatting the result", e))?;
    let mut out = text.to_string();
    out.push('\n');
    let shown = total.min(max_rows);
    if total > shown {
        let _ = writeln!(
            out,
            "({} rows, {} shown; {} cut by --max-rows)",
            total,
            shown,
            total - shown
        );
    } else {
        let _ = writeln!(out, "({total} row{})", if total == 1 { "" } else { "s" });
    }
    Ok(out)
}

/// CSV with a header row.
pub fn csv(batches: &[RecordBatch], out: &mut dyn Write) -> Result<()> {
    let mut w = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(out);
    for b in batches {
        w.write(b).map_err(|e| Error::failed("writing CSV", e))?;
    }
    Ok(())
}

/// One JSON object per line.
pub fn jsonl(batches: &[RecordBatch], out: &mut dyn Write) -> Result<()> {
    let mut w = arrow::json::LineDelimitedWriter::new(out);
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    w.write_batches(&refs)
        .map_err(|e| Error::failed("writing JSON lines", e))?;
    w.finish()
        .map_err(|e| Error::failed("writing JSON lines", e))?;
    Ok(())
}

/// A Parquet file at `path` (written atomically).
pub fn parquet(schema: &SchemaRef, batches: &[RecordBatch], path: &std::path::Path) -> Result<()> {
    crate::atomic::write_parquet(path, schema.clone(), batches)
}
