//! `recon snapshot`: a live `MariaDB/MySQL` or `PostgreSQL` database exported to a Parquet snapshot
//! that recon reads, with exact types, at one consistent point in time, streamed (never a table
//! in memory), and appearing atomically with its manifest (`_recon_snapshot.json`).
//!
//! Each server has its module ([`postgres`], [`mysql`]): the catalog mapped to Arrow types, the
//! consistent point (an exported snapshot; a consistent-snapshot transaction under a brief global
//! read lock) and the row decoding. What they share is here: the source URL and its credentials,
//! the request, the staging folder and the manifest; the Parquet writing is in [`sink`].

// Without a server's feature, what only its exporter uses is left unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports)
)]

mod credentials;
pub mod load;
pub mod manifest;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod names;
#[cfg(feature = "postgres")]
pub mod postgres;
pub(crate) mod requests;
mod sink;
mod staging;
mod workers;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use arrow::datatypes::DataType;

pub use credentials::SourceUrl;
pub use manifest::Manifest;
pub(crate) use staging::check_root;
pub(crate) use workers::{Part, plan_parts, run_workers};

use crate::error::{Error, Result};

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The database.
    pub source: SourceUrl,
    /// The snapshot root to write (a local folder, never a URL; it appears whole or not at
    /// all).
    pub out: PathBuf,
    /// Tables to export (empty: every base table of the database or schema).
    pub tables: Vec<String>,
    /// The `PostgreSQL` schema (default `public`); `MariaDB/MySQL` ignore it (the database is the
    /// schema).
    pub schema: Option<String>,
    /// Columns exported as text instead of their own type: `table.column` or `column`.
    pub casts: Vec<String>,
    /// Tables exported at the same time (one connection each).
    pub jobs: usize,
    /// What may be at `out` to be replaced.
    pub replace: Replace,
    /// How long the export waits for a table's lock (another session altering or truncating
    /// it) before it fails naming the table.
    pub lock_timeout: Duration,
    /// Which tables are written in primary-key order ([`KeyOrder`]); the others' rows come in
    /// the order the server reads them.
    pub key_order: KeyOrdering,
    /// The key of a table without a primary key, by table name, in the table's column names
    /// (a config's table pairs' keys): such a table may be written in that key's order instead.
    pub keys: BTreeMap<String, Vec<String>>,
}

/// Which tables an export writes in primary-key order. Only a table whose key the server can
/// sort as its written values compare is ever written in key order (see [`KeyOrder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyOrdering {
    /// Those the server reads in key order at little cost: `PostgreSQL` tables whose rows lie
    /// on disk in about key order (by the planner's statistics: the correlation of the key's
    /// first column, 0.9 or more) and whose key's index sorts as the export does, which it
    /// reads through that index; `MariaDB/MySQL`
    /// `InnoDB` tables, which are stored in key order. Other tables would be sorted by the
    /// server, which costs more than the export's target (1.5 times the server's own unsorted
    /// read).
    #[default]
    Auto,
    /// Every table whose key allows it, sorted by the server where needed.
    Always,
    /// None.
    Never,
}

impl KeyOrdering {
    /// Whether a table may be written in key order at all.
    pub(crate) fn any(self) -> bool {
        self != Self::Never
    }

    /// Whether a table that can be written in key order is, given whether the server reads it
    /// in that order at little cost.
    pub(crate) fn keeps(self, cheap: bool) -> bool {
        match self {
            Self::Auto => cheap,
            Self::Always => true,
            Self::Never => false,
        }
    }
}

/// What an export may replace at its root (an empty or absent root is always fine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Nothing: `recon snapshot` without `--force`.
    Nothing,
    /// A recon snapshot (its manifest and the folders it lists, nothing else): `recon run
    /// --snapshot`, which refreshes the snapshots it reads.
    Snapshot,
    /// Anything (`--force`).
    Anything,
}

/// The lock timeout unless one is given.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

impl ExportRequest {
    /// Whether `column` of `table` is to be exported as text.
    pub(crate) fn cast_to_text(&self, table: &str, column: &str) -> bool {
        self.casts.iter().any(|c| match c.split_once('.') {
            Some((t, col)) => t == table && col == column,
            None => c == column,
        })
    }
}

/// A column as the export writes it.
#[derive(Debug, Clone)]
pub struct ColumnOut {
    /// Its name.
    pub name: String,
    /// Its type as the catalog states it (`numeric(30,15)`, `bigint(20) unsigned`).
    pub source_type: String,
    /// The Arrow type written.
    pub arrow: DataType,
    /// Whether it may hold NULL (zero dates become NULL even in NOT NULL columns).
    pub nullable: bool,
    /// Exported as text on request (`--cast`).
    pub cast: bool,
}

/// A foreign key as the catalog states it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForeignKey {
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub parent: String,
    /// The referenced columns.
    pub parent_columns: Vec<String>,
}

/// A table as the export reads it.
#[derive(Debug, Clone)]
pub struct TableOut {
    /// Its name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<ColumnOut>,
    /// The primary key (empty if none).
    pub primary_key: Vec<String>,
    /// Its foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// The catalog's estimate of its rows.
    pub estimated_rows: u64,
    /// Its storage engine, where the server has several (`InnoDB`, `MyISAM`, `Aria`).
    pub engine: Option<String>,
    /// Read under the global read lock rather than in the consistent-snapshot transaction
    /// (an engine without transactions).
    pub read_lock: bool,
    /// The order its rows are written in, if any.
    pub key_order: Option<KeyOrder>,
}

/// A table written in the order of its primary key (or, without one, of the key a config names
/// for it): ascending by the key's columns within each
/// file, and across its files in the order the manifest lists them (each file a key range). The
/// order is the written values' own: numbers and times by value, text and bytes by their bytes
/// (UTF-8 for text), as Parquet's `sorting_columns` state it. A server that cannot sort a key
/// column that way gives its table no key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOrder {
    /// The key's columns, in key order.
    pub columns: Vec<String>,
    /// The `ORDER BY` list as the server is asked for it (quoted, with collations).
    pub order_by: String,
    /// Whether the server places NULL before every value.
    pub nulls_first: bool,
    /// Whether the key's index sorts every key column this way (a text column of another
    /// collation than bytes does not), so that the server can read the rows in this order
    /// through it instead of sorting them.
    pub in_index_order: bool,
}

/// Where an export reports its progress: one counter per part being written.
pub trait ExportProgress: Sync {
    /// A part of a table starts (`label` names the table, and the part when it has several);
    /// `estimated_rows` is the catalog's estimate.
    fn part(&self, label: &str, estimated_rows: u64) -> Box<dyn PartProgress>;
}

/// A part's counter; dropping it ends the part.
pub trait PartProgress: Send {
    /// `rows` more rows were written.
    fn advance(&self, rows: u64);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl ExportProgress for NoProgress {
    fn part(&self, _: &str, _: u64) -> Box<dyn PartProgress> {
        Box::new(NoProgress)
    }
}

impl PartProgress for NoProgress {
    fn advance(&self, _: u64) {}
}

impl TableOut {
    /// The key order of its primary key (without one, of the key the request names for it),
    /// when the export may write one and `order_by` gives every key column's `ORDER BY`
    /// expression and whether the key's index sorts the column that way (`None`: the server
    /// does not sort that column as its written values compare). No key, a named key column it
    /// lacks, or a key column exported as text on request (`--cast`): no order.
    pub(crate) fn key_order_from(
        &self,
        request: &ExportRequest,
        nulls_first: bool,
        order_by: impl Fn(&ColumnOut) -> Option<(String, bool)>,
    ) -> Option<KeyOrder> {
        if !request.key_order.any() {
            return None;
        }
        // A named key has no index known to hold its order: the server sorts it.
        let (key, indexed) = if self.primary_key.is_empty() {
            let named = request.keys.get(&self.name).filter(|k| !k.is_empty())?;
            let key = named
                .iter()
                .map(|k| self.column_named(k))
                .collect::<Option<Vec<_>>>()?;
            (key, false)
        } else {
            let key = self
                .primary_key
                .iter()
                .map(|k| self.columns.iter().find(|c| &c.name == k))
                .collect::<Option<Vec<_>>>()?;
            (key, true)
        };
        let list = key
            .iter()
            .map(|c| (!c.cast).then_some(*c).and_then(&order_by))
            .collect::<Option<Vec<(String, bool)>>>()?;
        Some(KeyOrder {
            columns: key.iter().map(|c| c.name.clone()).collect(),
            order_by: list
                .iter()
                .map(|(e, _)| e.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            nulls_first,
            in_index_order: indexed && list.iter().all(|(_, in_index)| *in_index),
        })
    }

    /// Its column of this name, else the one column whose name differs from it only in letter
    /// case (a config's names may be the other side's spelling).
    fn column_named(&self, name: &str) -> Option<&ColumnOut> {
        self.columns.iter().find(|c| c.name == name).or_else(|| {
            let mut alike = self
                .columns
                .iter()
                .filter(|c| c.name.eq_ignore_ascii_case(name));
            alike.next().filter(|_| alike.next().is_none())
        })
    }

    /// ` ORDER BY ...` for a table written in key order, else nothing.
    pub(crate) fn order_clause(&self) -> String {
        self.key_order
            .as_ref()
            .map(|k| format!(" ORDER BY {}", k.order_by))
            .unwrap_or_default()
    }

    /// The `SELECT` list of the table's columns: `quote` quotes a name, `as_text` turns a
    /// column that `--cast` exports as text (and its quoted name) into text. `1` for a table
    /// without columns.
    pub(crate) fn select_list(
        &self,
        quote: impl Fn(&str) -> String,
        as_text: impl Fn(&ColumnOut, &str) -> String,
    ) -> String {
        if self.columns.is_empty() {
            return "1".to_owned();
        }
        self.columns
            .iter()
            .map(|c| {
                let q = quote(&c.name);
                if c.cast { as_text(c, &q) } else { q }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What one table's export wrote.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Rows.
    pub rows: u64,
    /// Bytes of Parquet.
    pub bytes: u64,
    /// Files, relative to the root.
    pub files: Vec<String>,
    /// Per column: zero dates written as NULL.
    pub zero_dates: BTreeMap<String, u64>,
}

/// Exports a database to a snapshot root; returns its manifest. Nothing is left at `out` unless
/// every table was written.
pub fn export(
    request: &ExportRequest,
    workers: &crate::pool::Workers,
    progress: &dyn ExportProgress,
) -> Result<Manifest> {
    request.source.require_exporter()?;
    let staging = staging::Staging::new(&request.out, request.replace)?;
    let manifest = match request.source.kind {
        #[cfg(feature = "postgres")]
        credentials::Kind::Postgres => postgres::export(request, staging.dir(), workers, progress)?,
        #[cfg(feature = "mysql")]
        credentials::Kind::Mysql => mysql::export(request, staging.dir(), progress)?,
        #[cfg(not(all(feature = "postgres", feature = "mysql")))]
        _ => {
            // `require_exporter` above has refused it already.
            let _ = (workers, progress);
            Err::<Manifest, _>(Error::Invalid(format!(
                "{}: this build of recon has no exporter for it",
                request.source
            )))?
        }
    };
    manifest.write(staging.dir())?;
    staging.commit()?;
    Ok(manifest)
}

/// The error of a failed database operation: names the database (never its password) and what
/// recon was doing.
pub(crate) fn db_error(
    source: &SourceUrl,
    what: impl Into<String>,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::Database {
        database: source.to_string(),
        what: what.into(),
        source: e.into(),
    }
}

/// The error of a connection that did not complete within the source's connect timeout.
pub(crate) fn connect_timed_out(source: &SourceUrl) -> Error {
    db_error(
        source,
        format!(
            "cannot connect within {} (--connect-timeout)",
            seconds(source.connect_timeout)
        ),
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the server did not complete the connection and its handshake",
        ),
    )
}

/// The error of a table lock not had within the lock timeout.
pub(crate) fn lock_timed_out(
    source: &SourceUrl,
    table: &str,
    timeout: Duration,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    db_error(
        source,
        format!(
            "table `{table}`: no lock to read it within {} (--lock-timeout): another session \
             holds a lock that conflicts (ALTER TABLE, TRUNCATE, LOCK, a backup)",
            seconds(timeout)
        ),
        e,
    )
}

/// How to export a column as text instead: `--cast`, or `casts` in the config.
pub(crate) fn cast_hint(table: &str, column: &str) -> String {
    format!(
        "`--cast {table}.{column}=text` (or `casts = [\"{table}.{column}\"]` in the side's \
         section of the config) exports it as text"
    )
}

/// A duration as `1 s`, `0.5 s`.
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// The tables asked for that the catalog does not have, as an error naming them and what there
/// is.
pub(crate) fn check_requested(
    source: &SourceUrl,
    requested: &[String],
    found: &[String],
) -> Result<()> {
    let missing: Vec<&String> = requested.iter().filter(|t| !found.contains(t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = |v: &[&String]| {
        v.iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let there: Vec<&String> = found.iter().take(20).collect();
    Err(Error::Invalid(format!(
        "{source}: no base table {} (it has: {})",
        list(&missing),
        if there.is_empty() {
            "no tables".to_owned()
        } else {
            list(&there)
        }
    )))
}

/// A row's key for an error message, `(id=42, line=3)`, from a function giving the text of the
/// value at a column index (`None` to leave a column out).
pub(crate) fn key_text(t: &TableOut, text_at: impl Fn(usize) -> Option<String>) -> String {
    let parts: Vec<String> = t
        .primary_key
        .iter()
        .filter_map(|k| {
            let i = t.columns.iter().position(|c| &c.name == k)?;
            Some(format!("{k}={}", text_at(i)?))
        })
        .collect();
    if parts.is_empty() {
        "unknown: the table has no primary key".to_owned()
    } else {
        format!("({})", parts.join(", "))
    }
}

/// Closes a part's file and says what was written.
pub(crate) fn finish_table(
    sink: sink::TableSink,
    t: &TableOut,
    file: String,
    zero_dates: BTreeMap<String, u64>,
) -> Result<Written> {
    let (rows, bytes) = sink.finish()?;
    tracing::info!(table = %t.name, file = %file, rows, bytes, "exported");
    Ok(Written {
        rows,
        bytes,
        files: vec![file],
        zero_dates,
    })
}

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, arrow: DataType, cast: bool) -> ColumnOut {
        ColumnOut {
            name: name.into(),
            source_type: String::new(),
            arrow,
            nullable: false,
            cast,
        }
    }

    fn table(columns: Vec<ColumnOut>, key: &[&str]) -> TableOut {
        TableOut {
            name: "t".into(),
            columns,
            primary_key: key.iter().map(|k| (*k).to_owned()).collect(),
            foreign_keys: Vec::new(),
            estimated_rows: 0,
            engine: None,
            read_lock: false,
            key_order: None,
        }
    }

    fn request(key_order: KeyOrdering, keys: &[(&str, &[&str])]) -> ExportRequest {
        ExportRequest {
            source: SourceUrl::parse("postgres://recon@127.0.0.1:5432/erp").expect("url"),
            out: PathBuf::from("out"),
            tables: Vec::new(),
            schema: None,
            casts: Vec::new(),
            jobs: 1,
            replace: Replace::Nothing,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            key_order,
            keys: keys
                .iter()
                .map(|(t, k)| ((*t).to_owned(), k.iter().map(|c| (*c).to_owned()).collect()))
                .collect(),
        }
    }

    /// Integers sort in their index's order; text only through a collation the index lacks.
    fn order_by(c: &ColumnOut) -> Option<(String, bool)> {
        match c.arrow {
            DataType::Int64 => Some((c.name.clone(), true)),
            DataType::Utf8 => Some((format!("{} COLLATE \"C\"", c.name), false)),
            _ => None,
        }
    }

    #[test]
    fn a_key_order_needs_every_key_column_sortable_and_none_cast() {
        let t = table(
            vec![
                column("line", DataType::Int64, false),
                column("code", DataType::Utf8, false),
                column("amount", DataType::Float64, false),
            ],
            &["code", "line"],
        );
        let order = t.key_order_from(&request(KeyOrdering::Auto, &[]), true, order_by);
        assert_eq!(
            order,
            Some(KeyOrder {
                columns: vec!["code".into(), "line".into()],
                order_by: "code COLLATE \"C\", line".into(),
                nulls_first: true,
                in_index_order: false,
            })
        );
        let t = TableOut {
            key_order: order,
            ..t
        };
        assert_eq!(t.order_clause(), " ORDER BY code COLLATE \"C\", line");
        assert_eq!(
            t.key_order_from(&request(KeyOrdering::Never, &[]), true, order_by),
            None
        );
        // A float key, a key column cast to text, no key: no order.
        for (columns, key) in [
            (
                vec![column("amount", DataType::Float64, false)],
                &["amount"][..],
            ),
            (vec![column("line", DataType::Int64, true)], &["line"][..]),
            (vec![column("line", DataType::Int64, false)], &[][..]),
        ] {
            let t = table(columns, key);
            assert_eq!(
                t.key_order_from(&request(KeyOrdering::Always, &[]), false, order_by),
                None
            );
            assert_eq!(t.order_clause(), "");
        }
        // Without a primary key, the key a config names (in any letter case); no index is
        // known to hold its order.
        let t = table(vec![column("id", DataType::Int64, false)], &[]);
        let named = |key: &[&str]| {
            t.key_order_from(
                &request(KeyOrdering::Always, &[("t", key)]),
                false,
                order_by,
            )
        };
        assert_eq!(
            named(&["ID"]),
            Some(KeyOrder {
                columns: vec!["id".into()],
                order_by: "id".into(),
                nulls_first: false,
                in_index_order: false,
            })
        );
        assert_eq!(named(&["missing"]), None);
        assert!(KeyOrdering::Auto.keeps(true) && !KeyOrdering::Auto.keeps(false));
        assert!(KeyOrdering::Always.keeps(false) && !KeyOrdering::Never.keeps(true));
    }
}
