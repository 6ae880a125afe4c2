//! Atomic file writes: a temporary file in the destination folder, then a rename, so that a
//! reader never sees half a report, diff file or history entry; and the lock files that keep two
//! runs from writing the same folder or state at once.

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::{Error, Result};

/// Refuses every output path that lies inside a snapshot root (or is one): recon never writes
/// into a snapshot, where a report or diff file would become data of the next run. `outputs`
/// pairs each path with the option that named it, for the message.
pub fn refuse_inside_roots(outputs: &[(&str, &Path)], roots: &[PathBuf]) -> Result<()> {
    for (option, path) in outputs {
        let resolved = resolved(path);
        if let Some(root) = roots.iter().find(|r| resolved.starts_with(r)) {
            return Err(Error::Invalid(format!(
                "{option} {}: inside the snapshot root {}; recon never writes into a snapshot",
                path.display(),
                root.display()
            )));
        }
    }
    Ok(())
}

/// An absolute path with links resolved as far as it exists (the rest appended, `..` and `.`
/// folded), so that an output not yet created compares with canonical roots.
pub(crate) fn resolved(path: &Path) -> PathBuf {
    let absolute = std::env::current_dir().map_or_else(|_| path.to_owned(), |cwd| cwd.join(path));
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            let mut out = canonical;
            for part in rest.iter().rev() {
                match part {
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    std::path::Component::CurDir => {}
                    other => out.push(other),
                }
            }
            return out;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

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
    let mut file = ParquetFile::create(path, schema)?;
    for b in batches {
        file.write(b)?;
    }
    file.finish()
}

/// A Parquet file written batch by batch into a temporary file and renamed into place by
/// [`ParquetFile::finish`]; dropped unfinished, nothing appears at the path.
pub struct ParquetFile {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
    writer: parquet::arrow::ArrowWriter<std::fs::File>,
}

impl ParquetFile {
    /// Starts a file with this schema.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self> {
        let tmp = temp_in(path)?;
        let file = tmp.reopen().map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
        let writer = parquet::arrow::ArrowWriter::try_new(file, schema, None)
            .map_err(|e| Error::failed(format!("writing {}", path.display()), e))?;
        Ok(Self {
            path: path.to_owned(),
            tmp,
            writer,
        })
    }

    /// Appends a batch (the writer flushes a row group whenever one fills).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| Error::failed(format!("writing {}", self.path.display()), e))
    }

    /// Closes the file and renames it into place.
    pub fn finish(self) -> Result<()> {
        self.writer
            .close()
            .map_err(|e| Error::failed(format!("writing {}", self.path.display()), e))?;
        persist(self.tmp, &self.path)
    }
}

/// An exclusive lock on a lock file, held until dropped (or until the process ends).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: std::fs::File,
}

/// What taking a lock without waiting found.
#[derive(Debug)]
pub(crate) enum TryLock {
    /// This run holds it.
    Held(FileLock),
    /// Another run holds it: who (its process id and start time, as it wrote them).
    Busy(String),
}

/// Takes the lock on the file `path` (creating it and its folder) without waiting, and writes
/// this process's id and start time into it for a run that finds it taken.
pub(crate) fn try_lock(path: &Path) -> Result<TryLock> {
    use std::io::{Read, Seek};
    let err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut file = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Ok(TryLock::Busy(if holder.is_empty() {
                "holder unknown".to_owned()
            } else {
                holder.to_owned()
            }));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
    }
    let holder = format!(
        "process {} started {}",
        std::process::id(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    file.set_len(0).map_err(err)?;
    file.rewind().map_err(err)?;
    file.write_all(holder.as_bytes()).map_err(err)?;
    file.flush().map_err(err)?;
    Ok(TryLock::Held(FileLock { _file: file }))
}
