//! Opening snapshots: a root URL per side, the tables in it (`<table>.parquet` or a folder of
//! Parquet files, hive-style `key=value/` folders included), their footers and schemas, and
//! positional reads of row groups with only the columns a comparison needs.
//!
//! Listing goes through `object_store`, so a root is a URL from the start; a local root (a path or
//! `file://`) is read straight from the file system; from any other store a file's footer is read
//! with ranged requests, then each row group's projected column chunks as it is read, never a
//! whole object.

mod footer;
mod listing;
mod partition;
mod provider;
mod read;
#[cfg(test)]
mod remote_tests;
pub mod schema;
mod source;
pub mod sql;
pub mod sum;

pub use provider::SnapshotTable;
pub use read::RowGroupBatches;
pub use source::{Source, SourceReader};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{Schema, SchemaRef};
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use url::Url;

use crate::error::{Error, Result};
use crate::side::Side;

/// One side's snapshot root and the tables found in it.
pub struct Snapshot {
    /// Which side this is.
    pub side: Side,
    /// The root as it may be shown (a URL without credentials, [`crate::store::shown_text`]).
    pub root: String,
    url: Url,
    store: Arc<dyn ObjectStore>,
    local_root: Option<PathBuf>,
    tables: BTreeMap<String, Vec<TableFile>>,
    manifest: Option<crate::export::Manifest>,
    /// Footers already read, by table: the engine and every SQL session over the snapshot need
    /// them, and they are read once.
    footers: std::sync::Mutex<BTreeMap<String, Arc<[ArrowReaderMetadata]>>>,
}

/// One Parquet file of a table, before its footer is read.
#[derive(Debug, Clone)]
pub struct TableFile {
    /// The object's location in its store.
    pub location: StorePath,
    /// Its path below the snapshot's root (`/`-separated): the same on every machine that sees
    /// the snapshot, whatever the root's path or URL there (what cluster executors compare).
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    pub relative: String,
    /// The file's path on disk, when the snapshot is local.
    pub local: Option<PathBuf>,
    /// Size in bytes.
    pub size: u64,
    /// When the object was last written (as listed).
    pub modified: chrono::DateTime<chrono::Utc>,
    /// Hive-style `key=value` folder values on the way to the file.
    pub partitions: Vec<(String, Option<String>)>,
}

impl TableFile {
    /// A name for messages: the local path or the object location.
    pub fn display(&self) -> String {
        self.local
            .as_ref()
            .map_or_else(|| self.location.to_string(), |p| p.display().to_string())
    }
}

/// The local folder a root stands for (a path relative to `base_dir`, or a `file://` URL),
/// canonical; `None` for object stores and for a folder that does not exist.
pub fn local_folder(root: &str, base_dir: &Path) -> Option<PathBuf> {
    let path = if root.contains("://") {
        Url::parse(root)
            .ok()
            .filter(|u| u.scheme() == "file")?
            .to_file_path()
            .ok()?
    } else {
        base_dir.join(root)
    };
    path.canonicalize().ok()
}

impl Snapshot {
    /// Opens a root and lists its tables. `base_dir` resolves relative local paths.
    pub fn open(
        side: Side,
        root: &str,
        base_dir: &Path,
        rt: &tokio::runtime::Runtime,
    ) -> Result<Self> {
        let err = |message: String| Error::Snapshot {
            side,
            root: crate::store::shown_text(root),
            message,
        };
        let root_err = |what: String| {
            move |e: Box<dyn std::error::Error + Send + Sync>| Error::Root {
                side,
                root: crate::store::shown_text(root),
                what,
                source: e,
            }
        };
        let url = if root.contains("://") {
            Url::parse(root).map_err(|e| root_err("not a valid URL".into())(e.into()))?
        } else {
            let path = base_dir.join(root);
            let path = path
                .canonicalize()
                .map_err(|e| root_err(path.display().to_string())(e.into()))?;
            if !path.is_dir() {
                return Err(err(format!("{} is not a folder", path.display())));
            }
            Url::from_directory_path(&path).map_err(|()| err("cannot form a file:// URL".into()))?
        };
        let (store, prefix) =
            crate::store::open(&url).map_err(|e| root_err("cannot open".into())(e.into()))?;
        let local_root = if url.scheme() == "file" {
            let p = url
                .to_file_path()
                .map_err(|()| err("not a local path".into()))?;
            if !p.is_dir() {
                return Err(err(format!(
                    "{} does not exist or is not a folder",
                    p.display()
                )));
            }
            Some(p)
        } else {
            None
        };
        let objects: Vec<object_store::ObjectMeta> = rt
            .block_on(store.list(Some(&prefix)).try_collect())
            .map_err(|e| {
                root_err("cannot list".into())(crate::store::StoreError::from(e).into())
            })?;
        let listed: Vec<listing::Listed> = objects
            .into_iter()
            .filter_map(|meta| {
                let rel: Vec<String> = meta
                    .location
                    .prefix_match(&prefix)?
                    .map(|p| p.as_ref().to_owned())
                    .collect();
                (!rel.is_empty()).then_some(listing::Listed { rel, meta })
            })
            .collect();
        let manifest = match listed
            .iter()
            .find(|l| l.rel == [crate::export::manifest::FILE])
        {
            Some(l) => {
                let bytes = rt
                    .block_on(async {
                        object_store::ObjectStoreExt::get(&store, &l.meta.location)
                            .await?
                            .bytes()
                            .await
                    })
                    .map_err(|e| {
                        root_err("cannot read its manifest".into())(
                            crate::store::StoreError::from(e).into(),
                        )
                    })?;
                let at = format!(
                    "{}/{}",
                    crate::store::shown_text(root),
                    crate::export::manifest::FILE
                );
                Some(crate::export::Manifest::parse(&bytes, &at)?)
            }
            None => None,
        };
        let tables = match &manifest {
            Some(m) => {
                listing::tables_of_manifest(m, &listed, local_root.as_deref()).map_err(err)?
            }
            None => listing::tables_of_listing(&listed, local_root.as_deref()).map_err(err)?,
        };
        Ok(Self {
            side,
            root: crate::store::shown_text(root),
            url,
            store,
            local_root,
            tables,
            manifest,
            footers: std::sync::Mutex::default(),
        })
    }

    /// The snapshot's manifest, when recon wrote it (its tables are the manifest's).
    pub fn manifest(&self) -> Option<&crate::export::Manifest> {
        self.manifest.as_ref()
    }

    /// The names of every table in the snapshot.
    pub fn table_names(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    /// The root URL (for `DataFusion` registration and messages).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The object store behind the root.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// The local folder of the root, when it is local.
    pub fn local_root(&self) -> Option<&Path> {
        self.local_root.as_deref()
    }

    /// The files of a table, or a clear error naming what was looked for.
    pub fn files(&self, table: &str) -> Result<&[TableFile]> {
        self.tables.get(table).map(Vec::as_slice).ok_or_else(|| {
            let close: Vec<&str> = self
                .table_names()
                .filter(|t| t.eq_ignore_ascii_case(table) || t.contains(table))
                .collect();
            let hint = if close.is_empty() {
                let all: Vec<&str> = self.table_names().take(20).collect();
                if all.is_empty() {
                    "; the snapshot holds no Parquet files".to_owned()
                } else {
                    format!("; tables here: {}", all.join(", "))
                }
            } else {
                format!("; did you mean {}?", close.join(", "))
            };
            Error::MissingTable {
                side: self.side,
                root: self.root.clone(),
                table: table.to_owned(),
                hint,
            }
        })
    }

    /// Opens a table: reads every file's footer and derives the table's schema.
    pub fn table(&self, table: &str, rt: &tokio::runtime::Runtime) -> Result<SideTable> {
        let files = self.files(table)?;
        let footers = rt.block_on(self.footers(table))?;
        SideTable::open(self.side, table, files, &footers, &self.store, rt)
    }
}

/// One file of an opened table: its footer and where its rows sit in the side's row numbering.
pub struct OpenedFile {
    /// The file.
    pub file: TableFile,
    source: Source,
    meta: ArrowReaderMetadata,
    /// Ordinal of the file's first row within the table.
    pub base: u64,
    /// Ordinal of each row group's first row within the table.
    pub row_group_bases: Vec<u64>,
}

impl OpenedFile {
    /// Rows in the file.
    pub fn rows(&self) -> u64 {
        u64::try_from(self.meta.metadata().file_metadata().num_rows()).unwrap_or(0)
    }

    /// Rows of one row group.
    pub fn row_group_rows(&self, rg: usize) -> usize {
        usize::try_from(self.meta.metadata().row_group(rg).num_rows()).unwrap_or(0)
    }

    /// The file's own Arrow schema (without partition columns).
    pub fn schema(&self) -> &SchemaRef {
        self.meta.schema()
    }

    /// Each row group's smallest and largest value of `column` as its footer records them (in
    /// the column's Arrow type; NULL where a row group has no such statistics), or `None` when
    /// the file has no such column. Bounds may be truncated (long strings): a truncated minimum
    /// is still a lower bound and a truncated maximum an upper bound.
    pub fn row_group_bounds(&self, column: &str) -> Option<(ArrayRef, ArrayRef)> {
        let meta = self.meta.metadata();
        let converter = StatisticsConverter::try_new(
            column,
            self.meta.schema().as_ref(),
            self.meta.parquet_schema(),
        )
        .ok()?;
        let mins = converter.row_group_mins(meta.row_groups()).ok()?;
        let maxes = converter.row_group_maxes(meta.row_groups()).ok()?;
        Some((mins, maxes))
    }
}

/// A table of one side, opened: files with footers, the table schema and row ordinals.
pub struct SideTable {
    /// Which side.
    pub side: Side,
    /// The table's name in its snapshot (or the pair's name for a SQL side).
    pub name: String,
    /// Files in path order.
    pub files: Vec<OpenedFile>,
    /// Every column: the union of the files' columns ([`schema::union`]), then partition columns.
    pub schema: SchemaRef,
    /// Total rows (from footers).
    pub rows: u64,
    /// Total bytes of the files.
    pub bytes: u64,
    /// Kept alive while a SQL side's materialized file is in use.
    pub(crate) keep_alive: Option<Arc<tempfile::TempDir>>,
    /// For a SQL side, the snapshot tables its query scans, from the plan it ran
    /// ([`sql::scanned_tables`]); `None` for a table read as it is.
    pub scanned: Option<std::collections::BTreeSet<String>>,
}

/// A unit of parallel work: one row group.
#[derive(Debug, Clone, Copy)]
pub struct RowGroupRef {
    /// Index into [`SideTable::files`].
    pub file: usize,
    /// Row group index within the file.
    pub row_group: usize,
    /// Ordinal of its first row.
    pub base: u64,
}

impl SideTable {
    /// Opens a table from its files and their footers (in file order).
    pub fn open(
        side: Side,
        table: &str,
        files: &[TableFile],
        footers: &[ArrowReaderMetadata],
        store: &Arc<dyn ObjectStore>,
        rt: &tokio::runtime::Runtime,
    ) -> Result<Self> {
        let mut opened = Vec::with_capacity(files.len());
        let mut base = 0u64;
        let mut bytes = 0u64;
        if footers.len() != files.len() {
            return Err(Error::Internal(format!(
                "table `{table}`: {} footers for {} files",
                footers.len(),
                files.len()
            )));
        }
        for (f, meta) in files.iter().zip(footers) {
            let source = match &f.local {
                Some(p) => Source::Local(p.clone()),
                None => Source::Remote {
                    store: Arc::clone(store),
                    location: f.location.clone(),
                    size: f.size,
                    runtime: rt.handle().clone(),
                },
            };
            let meta = footer::with_dictionary_hints(meta.clone()).map_err(|e| Error::Read {
                side,
                table: table.to_owned(),
                file: f.display(),
                what: "cannot read the schema".into(),
                source: e.into(),
            })?;
            let mut row_group_bases = Vec::with_capacity(meta.metadata().num_row_groups());
            let mut at = base;
            for rg in meta.metadata().row_groups() {
                row_group_bases.push(at);
                at += u64::try_from(rg.num_rows()).unwrap_or(0);
            }
            let file = OpenedFile {
                file: f.clone(),
                source,
                meta,
                base,
                row_group_bases,
            };
            base += file.rows();
            bytes += f.size;
            opened.push(file);
        }
        let with_schemas: Vec<(&TableFile, &Schema)> = opened
            .iter()
            .map(|f| (&f.file, f.schema().as_ref()))
            .collect();
        let schema = schema::union(side, table, &with_schemas)?;
        Ok(Self {
            side,
            name: table.to_owned(),
            files: opened,
            schema,
            rows: base,
            bytes,
            keep_alive: None,
            scanned: None,
        })
    }

    /// Rows a re-read of one row decodes at the least, on average: a page where the files have
    /// an offset index (by their first column's pages), else a whole row group.
    #[allow(clippy::cast_precision_loss)] // an estimate
    pub fn rows_per_read_unit(&self) -> f64 {
        let (mut rows, mut units) = (0u64, 0u64);
        for f in &self.files {
            let meta = f.meta.metadata();
            for (rg, g) in meta.row_groups().iter().enumerate() {
                rows += u64::try_from(g.num_rows()).unwrap_or(0);
                let pages = meta
                    .offset_index()
                    .and_then(|index| index.get(rg))
                    .and_then(|columns| columns.first())
                    .map_or(1, |c| c.page_locations().len().max(1));
                units += pages as u64;
            }
        }
        rows as f64 / units.max(1) as f64
    }

    /// Every row group of the table, in ordinal order.
    pub fn row_groups(&self) -> Vec<RowGroupRef> {
        let mut out = Vec::new();
        for (fi, f) in self.files.iter().enumerate() {
            for (rg, &base) in f.row_group_bases.iter().enumerate() {
                out.push(RowGroupRef {
                    file: fi,
                    row_group: rg,
                    base,
                });
            }
        }
        out
    }

    /// Which row group holds an ordinal, and the row's index within it.
    pub fn locate(&self, ordinal: u64) -> Option<(usize, usize, usize)> {
        let fi = self
            .files
            .partition_point(|f| f.base <= ordinal)
            .checked_sub(1)?;
        let f = &self.files[fi];
        let rg = f
            .row_group_bases
            .partition_point(|&b| b <= ordinal)
            .checked_sub(1)?;
        let within = usize::try_from(ordinal - f.row_group_bases[rg]).ok()?;
        (within < f.row_group_rows(rg)).then_some((fi, rg, within))
    }
}
