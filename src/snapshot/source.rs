//! Where a file's bytes come from: the local file, opened per reader, or an object's bytes
//! fetched into memory; both read through parquet's `ChunkReader`.

use std::fs::File;
use std::path::PathBuf;

use bytes::Bytes;
use parquet::file::reader::{ChunkReader, Length};

/// The bytes of a file: on disk, or fetched into memory from an object store.
#[derive(Clone)]
pub enum Source {
    /// A local file, opened per reader.
    Local(PathBuf),
    /// A remote object's bytes.
    Remote(Bytes),
}

/// A [`ChunkReader`] over a [`Source`].
pub enum SourceReader {
    /// A local file.
    File(File),
    /// In-memory bytes.
    Bytes(Bytes),
}

impl Source {
    pub(super) fn open(&self) -> std::io::Result<SourceReader> {
        Ok(match self {
            Source::Local(p) => SourceReader::File(File::open(p)?),
            Source::Remote(b) => SourceReader::Bytes(b.clone()),
        })
    }
}

impl Length for SourceReader {
    fn len(&self) -> u64 {
        match self {
            SourceReader::File(f) => f.len(),
            SourceReader::Bytes(b) => b.len() as u64,
        }
    }
}

impl ChunkReader for SourceReader {
    type T = Box<dyn std::io::Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(match self {
            SourceReader::File(f) => Box::new(f.get_read(start)?),
            SourceReader::Bytes(b) => Box::new(b.get_read(start)?),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self {
            SourceReader::File(f) => f.get_bytes(start, length),
            SourceReader::Bytes(b) => b.get_bytes(start, length),
        }
    }
}
