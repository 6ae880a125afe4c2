//! `_recon_snapshot.json`: what a snapshot holds and where it came from, written last. recon
//! skips files whose names start with `_`, so the manifest is never read as a table.

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
    /// Its name (and folder).
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
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::input(format!("manifest {}", path.display()), e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::input(format!("manifest {}", path.display()), e))
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
        Self {
            format: 1,
            tool: format!("recon {}", env!("CARGO_PKG_VERSION")),
            source,
            consistency,
            started_at,
            finished_at: now(),
            tables: tables
                .iter()
                .zip(written)
                .map(|(t, w)| table_entry(t, w))
                .collect(),
        }
    }
}

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
