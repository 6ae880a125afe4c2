//! Atomic file writes: a temporary file in the destination folder, then a rename, so that a
//! reader never sees half a report, diff file or history entry.

use std::io::Write;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::{Error, Result};

fn temp_in(path: &Path) -> Result<tempfile::NamedTempFile> {
    let err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    tempfile::NamedTempFile::new_in(dir).map_err(err)
}

fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    tmp.persist(path).map_err(|e| Error::Write {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// Writes `bytes` to `path` atomically (and synced).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let mut tmp = temp_in(path)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    persist(tmp, path)
}

/// Writes batches to a Parquet file at `path` atomically.
pub fn write_parquet(path: &Path, schema: SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let fail = |e: parquet::errors::ParquetError| {
        Error::Internal(format!("writing {}: {e}", path.display()))
    };
    let tmp = temp_in(path)?;
    let file = tmp.reopen().map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).map_err(fail)?;
    for b in batches {
        w.write(b).map_err(fail)?;
    }
    w.close().map_err(fail)?;
    persist(tmp, path)
}
