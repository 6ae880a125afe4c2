//! Where a file's bytes come from: the local file, opened per reader, or an object from which
//! each read fetches just the column chunks it decodes (ranged requests, coalesced by the store);
//! both read through parquet's `ChunkReader`.

use std::fs::File;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use parquet::errors::ParquetError;
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::reader::{ChunkReader, Length};

/// The bytes of a file: on disk, or in an object store.
#[derive(Clone)]
pub enum Source {
    /// A local file, opened per reader.
    Local(PathBuf),
    /// An object, read with ranged requests on the workers' runtime.
    Remote {
        /// Its store.
        store: Arc<dyn ObjectStore>,
        /// Its location.
        location: StorePath,
        /// Its size in bytes.
        size: u64,
        /// The runtime the requests run on (the callers are rayon workers, not async code).
        runtime: tokio::runtime::Handle,
    },
}

/// A [`ChunkReader`] over a [`Source`].
pub enum SourceReader {
    /// A local file.
    File(File),
    /// The fetched column chunks of one row group, by file offset, in offset order.
    Chunks {
        /// `(offset, bytes)` of each fetched range.
        ranges: Vec<(u64, Bytes)>,
        /// The object's size.
        len: u64,
    },
}

impl Source {
    /// A reader for the columns `roots` (root field indices) of one row group: the local file,
    /// or those column chunks fetched from the store.
    pub(super) fn open(
        &self,
        row_group: &RowGroupMetaData,
        roots: &[usize],
    ) -> Result<SourceReader, Box<dyn std::error::Error + Send + Sync>> {
        match self {
            Source::Local(p) => Ok(SourceReader::File(File::open(p)?)),
            Source::Remote {
                store,
                location,
                size,
                runtime,
            } => {
                let schema = row_group.schema_descr();
                let mut ranges: Vec<Range<u64>> = (0..row_group.num_columns())
                    .filter(|&leaf| roots.contains(&schema.get_column_root_idx(leaf)))
                    .map(|leaf| {
                        let (start, len) = row_group.column(leaf).byte_range();
                        start..start + len
                    })
                    .collect();
                ranges.sort_by_key(|r| r.start);
                let fetched = runtime
                    .block_on(store.get_ranges(location, &ranges))
                    .map_err(crate::store::StoreError::from)?;
                Ok(SourceReader::Chunks {
                    ranges: ranges.iter().map(|r| r.start).zip(fetched).collect(),
                    len: *size,
                })
            }
        }
    }
}

impl SourceReader {
    /// The fetched bytes from `start` to the end of the chunk that holds it.
    fn tail(&self, start: u64) -> parquet::errors::Result<Bytes> {
        let SourceReader::Chunks { ranges, .. } = self else {
            return Err(ParquetError::General("not a fetched reader".into()));
        };
        let i = ranges.partition_point(|(at, _)| *at <= start);
        let found = i.checked_sub(1).and_then(|i| {
            let (at, bytes) = &ranges[i];
            let skip = usize::try_from(start - at).ok()?;
            (skip <= bytes.len()).then(|| bytes.slice(skip..))
        });
        found.ok_or_else(|| {
            ParquetError::General(format!(
                "read at byte {start} falls outside the fetched column chunks"
            ))
        })
    }
}

impl Length for SourceReader {
    fn len(&self) -> u64 {
        match self {
            SourceReader::File(f) => f.len(),
            SourceReader::Chunks { len, .. } => *len,
        }
    }
}

impl ChunkReader for SourceReader {
    type T = Box<dyn std::io::Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(match self {
            SourceReader::File(f) => Box::new(f.get_read(start)?),
            SourceReader::Chunks { .. } => Box::new(self.tail(start)?.reader()),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self {
            SourceReader::File(f) => f.get_bytes(start, length),
            SourceReader::Chunks { .. } => {
                let tail = self.tail(start)?;
                if tail.len() < length {
                    return Err(ParquetError::General(format!(
                        "read of {length} bytes at {start} runs past the fetched column chunk"
                    )));
                }
                Ok(tail.slice(..length))
            }
        }
    }
}
