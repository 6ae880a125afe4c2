//! `_recon_snapshot.json`: what a snapshot holds and where it came from, written last. A root
//! with a manifest is a recon snapshot: its tables are the manifest's, by their real names, each
//! read from the files the manifest lists (folders named by [`super::names`]); the manifest
//! itself is never read as a table.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ForeignKey;
use crate::error::{Error, Result};

/// The manifest's file name in a snapshot root.
pub const FILE: &str = "_recon_snapshot.json";

/// A snapshot's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version.
    pub format: u32,
    /// The recon version that wrote it.
    pub tool: String,
    /// The database it was exported from.
    pub source: Source,
    /// The consistent point every table was read at.
    pub consistency: Consistency,
    /// When the export started (RFC 3339, UTC).
    pub started_at: String,
    /// When it finished.
    pub finished_at: String,
    /// The tables, by name.
    pub tables: Vec<TableManifest>,
    /// Tables of the database that were not written, and why.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub skipped: Vec<SkippedTable>,
}

/// A table the export did not write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkippedTable {
    /// Its name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// The database (never a password).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    /// `postgresql` or `mariadb`/`mysql`.
    pub kind: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User.
    pub user: String,
    /// Database.
    pub database: String,
    /// `PostgreSQL` schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The server's version string.
    pub server_version: String,
}

/// The point in time every table was read at.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consistency {
    /// How the workers shared it.
    pub method: String,
    /// Server positions (`PostgreSQL`: `txid_snapshot`, `wal_lsn`; `MariaDB`: `gtid_binlog_pos`,
    /// `binlog_file`, `binlog_position` where enabled).
    pub position: BTreeMap<String, String>,
}

/// One table of the snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableManifest {
    /// Its real name (its folder is the first part of its files' paths).
    pub name: String,
    /// Rows written.
    pub rows: u64,
    /// Files, relative to the root.
    pub files: Vec<String>,
    /// Bytes of Parquet.
    pub bytes: u64,
    /// Columns: the catalog's type and the Arrow type written.
    pub columns: Vec<ColumnManifest>,
    /// The primary key.
    pub primary_key: Vec<String>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// The columns (the primary key's, or without one the key a config's pair names) whose
    /// ascending order the rows are in, within each file and across `files` in their listed
    /// order; numbers and times by value, text and bytes by their bytes. Empty: the rows are in
    /// no stated order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub key_order: Vec<String>,
    /// Per column: zero dates (`0000-00-00`) written as NULL.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub zero_dates: BTreeMap<String, u64>,
    /// Its storage engine, where the server has several (`InnoDB`, `MyISAM`, `Aria`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub engine: Option<String>,
    /// How it was read at the snapshot's point: `transaction` (the consistent snapshot) or
    /// `read lock` (an engine without transactions, read while the global read lock held every
    /// writer back).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub consistency: Option<String>,
}

/// One column of a table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnManifest {
    /// Its name.
    pub name: String,
    /// The type as the catalog states it.
    pub source_type: String,
    /// The Arrow type written.
    pub written_as: String,
    /// Exported as text on request (`--cast`).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub cast: bool,
}

impl Manifest {
    /// Writes the manifest into a snapshot folder.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::failed("serializing the snapshot manifest", e))?;
        crate::atomic::write_bytes(&dir.join(FILE), format!("{text}\n").as_bytes())
    }

    /// Reads the manifest of a snapshot root, if it has one.
    pub fn read(root: &Path) -> Result<Option<Self>> {
        let path = root.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::input(format!("manifest {}", path.display()), e))?;
        Self::parse(&bytes, &path.display().to_string()).map(Some)
    }

    /// Parses a manifest's bytes; `at` names where they came from.
    pub fn parse(bytes: &[u8], at: &str) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::input(format!("manifest {at}"), e))
    }

    /// The top-level names (folders and files) the snapshot consists of: the manifest and the
    /// first part of every table's files.
    pub fn entries(&self) -> std::collections::BTreeSet<&str> {
        self.tables
            .iter()
            .flat_map(|t| &t.files)
            .filter_map(|f| f.split('/').next())
            .chain([FILE])
            .collect()
    }
}

impl Manifest {
    /// The manifest of an export that started at `started_at` and wrote `written` (one per
    /// table, in order); it finishes now.
    pub(crate) fn assemble(
        source: Source,
        consistency: Consistency,
        started_at: String,
        tables: &[super::TableOut],
        written: Vec<super::Written>,
    ) -> Self {
        let (written_tables, skipped): (Vec<_>, Vec<_>) = tables
            .iter()
            .zip(written)
            .partition(|(t, _)| !t.columns.is_empty());
        Self {
            format: 1,
            tool: format!("recon {}", env!("CARGO_PKG_VERSION")),
            source,
            consistency,
            started_at,
            finished_at: now(),
            tables: written_tables
                .into_iter()
                .map(|(t, w)| table_entry(t, w))
                .collect(),
            skipped: skipped
                .into_iter()
                .map(|(t, _)| SkippedTable {
                    name: t.name.clone(),
                    reason: COLUMNLESS.to_owned(),
                })
                .collect(),
        }
    }
}

/// Why a table without columns is not exported.
const COLUMNLESS: &str = "the table has no columns: Parquet cannot hold rows without columns, \
     and there is nothing to compare but a row count";

/// Now, as the manifest writes times (RFC 3339, UTC, milliseconds).
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The manifest entry of a table that was written.
fn table_entry(t: &super::TableOut, w: super::Written) -> TableManifest {
    TableManifest {
        name: t.name.clone(),
        rows: w.rows,
        files: w.files,
        bytes: w.bytes,
        columns: t
            .columns
            .iter()
            .map(|c| ColumnManifest {
                name: c.name.clone(),
                source_type: c.source_type.clone(),
                written_as: c.arrow.to_string(),
                cast: c.cast,
            })
            .collect(),
        primary_key: t.primary_key.clone(),
        foreign_keys: t.foreign_keys.clone(),
        key_order: t
            .key_order
            .as_ref()
            .map(|k| k.columns.clone())
            .unwrap_or_default(),
        zero_dates: w.zero_dates,
        engine: t.engine.clone(),
        consistency: Some(
            if t.read_lock {
                "read lock"
            } else {
                "transaction"
            }
            .to_owned(),
        ),
    }
}
