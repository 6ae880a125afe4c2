//! What a cluster task is given for one table pair, and how an executor turns it into the very
//! plan the client reconciles with.
//!
//! The resolved [`PairPlan`] holds open files and footers, so it does not travel: the task
//! carries the pair's config, the snapshot roots as the config names them, and the files the
//! client planned with. Every executor opens the same snapshots, resolves the pair with the same
//! code, and refuses to hash when it sees other files than the client did (another path, size,
//! row count or write time): rows are named by their ordinal in the table, so both must count
//! alike. A resolved pair is kept by the digest of its spec, write times included, so a snapshot
//! exported again is opened again, never read through last night's file handles.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use serde::{Deserialize, Serialize};

use crate::config::{ColumnOptions, GateConfig, TableConfig};
use crate::diff::digests::RowLayout;
use crate::error::{Error, Result};
use crate::plan::PairPlan;
use crate::side::{PerSide, Side};
use crate::snapshot::{SideTable, Snapshot};

/// One file as the client opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMark {
    /// Its path below the snapshot's root: a client and an executor may see one shared folder
    /// at other paths (a mount point, a symbolic link), never other files below it.
    pub location: String,
    /// Size in bytes.
    pub size: u64,
    /// Rows, from its footer.
    pub rows: u64,
    /// When it was last written, as listed (RFC 3339): a snapshot exported again under the same
    /// names, sizes and row counts is another snapshot.
    pub modified: String,
}

/// A table pair as a cluster task receives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairSpec {
    /// The pair's config, as loaded.
    pub table: TableConfig,
    /// The config's column defaults.
    pub defaults: ColumnOptions,
    /// Each side's snapshot root, as the config names it.
    pub legacy_root: String,
    /// The target snapshot's root.
    pub target_root: String,
    /// The folder relative roots are resolved against (the config's folder).
    pub base: PathBuf,
    /// The legacy files the client planned with, in table order.
    pub legacy_files: Vec<FileMark>,
    /// The target files.
    pub target_files: Vec<FileMark>,
}

impl PairSpec {
    /// The spec of a resolved pair.
    pub fn new(
        table: &TableConfig,
        defaults: &ColumnOptions,
        roots: (&str, &str, &std::path::Path),
        plan: &PairPlan,
    ) -> Self {
        let (legacy_root, target_root, base) = roots;
        Self {
            table: table.clone(),
            defaults: defaults.clone(),
            legacy_root: legacy_root.to_owned(),
            target_root: target_root.to_owned(),
            base: base.to_path_buf(),
            legacy_files: marks(&plan.tables.legacy),
            target_files: marks(&plan.tables.target),
        }
    }

    fn files(&self, side: Side) -> &[FileMark] {
        match side {
            Side::Legacy => &self.legacy_files,
            Side::Target => &self.target_files,
        }
    }

    fn root(&self, side: Side) -> &str {
        match side {
            Side::Legacy => &self.legacy_root,
            Side::Target => &self.target_root,
        }
    }
}

fn marks(table: &SideTable) -> Vec<FileMark> {
    table
        .files
        .iter()
        .map(|f| FileMark {
            location: f.file.relative.clone(),
            size: f.file.size,
            rows: f.rows(),
            modified: f.file.modified.to_rfc3339(),
        })
        .collect()
}

/// A pair resolved on an executor, with the runtime its remote reads block on.
pub struct Resolved {
    /// The plan, as the client resolved it.
    pub plan: PairPlan,
    /// Its stored-row layout.
    pub layout: RowLayout,
    // Remote snapshot reads block on this runtime: it lives as long as the plan.
    _runtime: tokio::runtime::Runtime,
}

/// Pairs resolved by this process, by the digest of their spec: a stage's tasks share one.
static RESOLVED: LazyLock<Mutex<HashMap<u64, Arc<Resolved>>>> = LazyLock::new(Mutex::default);

/// Pairs kept resolved per process (each holds its files' footers).
const KEPT: usize = 8;

/// The pair of an encoded spec, resolved once per process. Call it off the async runtime: it
/// reads footers.
pub fn resolve(encoded: &[u8]) -> Result<Arc<Resolved>> {
    let digest = xxhash_rust::xxh3::xxh3_64(encoded);
    if let Some(r) = lock().get(&digest) {
        return Ok(Arc::clone(r));
    }
    let spec: PairSpec = serde_json::from_slice(encoded)
        .map_err(|e| Error::failed("a cluster task's table pair".to_owned(), e))?;
    let resolved = Arc::new(resolve_spec(&spec)?);
    let mut cache = lock();
    if cache.len() >= KEPT {
        cache.clear();
    }
    cache.insert(digest, Arc::clone(&resolved));
    Ok(resolved)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<u64, Arc<Resolved>>> {
    // A panic while holding it cannot leave the map half-written: recover it.
    RESOLVED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn resolve_spec(spec: &PairSpec) -> Result<Resolved> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::failed("a runtime for snapshot reads".to_owned(), e))?;
    let t = &spec.table;
    if t.legacy_sql.is_some() || t.target_sql.is_some() {
        return Err(Error::Invalid(format!(
            "table `{}`: a SQL-defined side cannot be read by a cluster executor",
            t.name
        )));
    }
    let open = |side: Side, name: &str| -> Result<SideTable> {
        let snapshot = Snapshot::open(side, spec.root(side), &spec.base, &runtime)?;
        let table = snapshot.table(name, &runtime)?;
        check_files(&t.name, side, &table, spec.files(side))?;
        Ok(table)
    };
    let tables = PerSide::new(
        open(Side::Legacy, t.legacy_table())?,
        open(Side::Target, t.target_table())?,
    );
    // Redaction shapes report values only; hashing never sees it.
    let key = Arc::new(crate::redact::RedactionKey::per_run()?);
    let plan = crate::plan::resolve(t, &spec.defaults, &GateConfig::default(), tables, &key)?;
    let layout = crate::diff::scan::row_layout(&plan);
    Ok(Resolved {
        plan,
        layout,
        _runtime: runtime,
    })
}

/// Refuses a table whose files differ from the client's: its row ordinals would differ.
fn check_files(pair: &str, side: Side, table: &SideTable, expected: &[FileMark]) -> Result<()> {
    let seen = marks(table);
    if seen == expected {
        return Ok(());
    }
    let differing = seen.iter().zip(expected).find(|(a, b)| a != b).map_or_else(
        || {
            format!(
                "{} files here, {} on the client",
                seen.len(),
                expected.len()
            )
        },
        |(a, b)| {
            format!(
                "`{}` ({} bytes, {} rows, written {}) here, `{}` ({} bytes, {} rows, written \
                 {}) on the client",
                a.location, a.size, a.rows, a.modified, b.location, b.size, b.rows, b.modified
            )
        },
    );
    Err(Error::Invalid(format!(
        "table `{pair}`: this executor sees other {side} files than the client: {differing}; \
         every executor must read the same snapshots (shared paths or object-store URLs)"
    )))
}
