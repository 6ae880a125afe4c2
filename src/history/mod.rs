//! Nightly history: each run appends its summary (per table and per check metrics, the verdict,
//! the audit data) and its differing keys to a store of Parquet files, so that reports can show
//! the drift trend over the last runs and the keys that are new or resolved since the last run.
//!
//! Layout under the history folder, one pair of files per run, named by the run id (its start
//! time, then a digest), so that file-name order is run order:
//! `runs/<run-id>.parquet` (one row per table and per check) and `keys/<run-id>.parquet` (one
//! row per differing key: table, category, key digest, key values as JSON text, redacted).
//! Key digests depend on the canonical encoding: a run refuses a folder whose last keys were
//! written under another hash version ([`refuse_other_hash_version`]).
//!
//! Outside the crate this module lists the runs of a history folder ([`list`]):
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let workers = recon::Workers::new(2)?;
//! recon::Reconciler::from_path("fixtures/erp/recon.toml")?.history(dir.path()).run_with(&workers);
//! let listing = recon::history::list(dir.path(), &workers)?;
//! assert_eq!(listing.runs.len(), 1);
//! assert_eq!(listing.runs[0].verdict, "rollback");
//! assert!(recon::history::table_names(&listing.runs).contains(&"customers".to_owned()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::gate::Status;
use crate::spill::KeyLog;

mod keys;
mod streak;

pub use streak::stored_level;
pub(crate) use streak::{Direction, Streak};

/// Runs of the trend shown in reports (this run included).
pub(crate) const TREND_RUNS: usize = 10;

/// One past run, as `recon history` lists it.
#[derive(Debug, Clone)]
pub struct PastRun {
    /// The run id.
    pub id: String,
    /// Start time.
    pub started_at: String,
    /// Verdict.
    pub verdict: String,
    /// Per table: (name, status, drift ratio).
    pub tables: Vec<(String, String, f64)>,
    /// Per check: (id, status).
    pub checks: Vec<(String, String)>,
}

/// This run as the history records it: the audit data, and per table and per check what the
/// gate made of it.
#[derive(Debug, Clone)]
pub(crate) struct RunRecord<'a> {
    /// Start time (RFC 3339).
    pub started_at: &'a str,
    /// The run's verdict.
    pub verdict: Status,
    /// The tool's version.
    pub tool_version: &'a str,
    /// Version of the canonical encoding and hashes.
    pub hash_version: u32,
    /// Digest of the config.
    pub config_digest: &'a str,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Bytes the key comparison may hold in memory.
    pub memory_budget: u64,
    /// Every table, in report order.
    pub tables: Vec<TableRecord<'a>>,
    /// Every check, in report order.
    pub checks: Vec<CheckRecord<'a>>,
}

/// One table of a run.
#[derive(Debug, Clone)]
pub(crate) struct TableRecord<'a> {
    /// The pair's report name.
    pub name: &'a str,
    /// The gate's status.
    pub status: Status,
    /// The drift ratio.
    pub drift_ratio: f64,
    /// Legacy rows, target rows, matched, changed, missing, extra.
    pub counts: [u64; 6],
    /// Every differing key.
    pub keys: &'a KeyLog,
}

/// One check of a run.
#[derive(Debug, Clone)]
pub(crate) struct CheckRecord<'a> {
    /// The check's id.
    pub id: &'a str,
    /// The gate's status.
    pub status: Status,
    /// The check's metric.
    pub value: f64,
}

/// A table's past: drift over the last runs and the differing keys that came and went.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableHistory {
    /// Earlier runs then this one, oldest first.
    pub trend: Vec<TrendPoint>,
    /// How long the table has held its level.
    pub streak: Option<Streak>,
    /// Differing keys that did not differ in the previous run (`None` when there is none).
    pub new_keys: Option<u64>,
    /// Keys that differed in the previous run and no longer do.
    pub resolved_keys: Option<u64>,
    /// A few new keys (key values as JSON text).
    pub new_samples: Vec<String>,
    /// A few resolved keys.
    pub resolved_samples: Vec<String>,
}

/// One run's drift of one table.
#[derive(Debug, Clone)]
pub(crate) struct TrendPoint {
    /// When the run started.
    pub started_at: String,
    /// Its drift ratio.
    pub drift_ratio: f64,
    /// Its status.
    pub status: Status,
}

/// A run id that sorts in run order and is unique even for runs within the same second (or of
/// concurrent processes): the time of recording to the nanosecond, then the process id.
fn run_id() -> String {
    let now = chrono::Utc::now()
        .format("%Y%m%dT%H%M%S%.9fZ")
        .to_string()
        .replace('.', "");
    format!("{now}-{}", std::process::id())
}

fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::input(format!("history {}", dir.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    out.sort();
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<RecordBatch>> {
    let what = || format!("history file {}", path.display());
    let file = std::fs::File::open(path).map_err(|e| Error::input(what(), e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::input(what(), e))?
        .build()
        .map_err(|e| Error::input(what(), e))?;
    reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::input(what(), e))
}

/// A history file's columns, looked up and type-checked once per batch: a file that lacks one
/// (or holds another type) is an error naming the file and the column, never a silent default.
struct Columns<'a> {
    path: &'a Path,
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    fn missing(&self, name: &str, what: &str) -> Error {
        Error::Invalid(format!(
            "history file {}: column `{name}` is missing or not {what}",
            self.path.display()
        ))
    }

    /// A text column; its values read NULL as "".
    fn text(&self, name: &str) -> Result<impl Fn(usize) -> String + 'a> {
        let s = self
            .batch
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| self.missing(name, "text"))?;
        Ok(move |row: usize| {
            if s.is_null(row) {
                String::new()
            } else {
                s.value(row).to_owned()
            }
        })
    }

    /// A column of Arrow type `T` (`what` names that type in the error), read without its nulls.
    fn primitive<T: arrow::datatypes::ArrowPrimitiveType>(
        &self,
        name: &str,
        what: &str,
    ) -> Result<impl Fn(usize) -> T::Native + 'a> {
        let f = self
            .batch
            .column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<T>())
            .ok_or_else(|| self.missing(name, what))?;
        Ok(move |row: usize| f.value(row))
    }

    /// A count column.
    fn count(&self, name: &str) -> Result<impl Fn(usize) -> u64 + 'a> {
        self.primitive::<arrow::datatypes::UInt64Type>(name, "a count")
    }

    /// A float column.
    fn float(&self, name: &str) -> Result<impl Fn(usize) -> f64 + 'a> {
        self.primitive::<arrow::datatypes::Float64Type>(name, "a float")
    }
}

/// The runs of a history folder, and the folder as it may be shown.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The folder (a URL without its credentials).
    pub shown: String,
    /// Its runs, oldest first.
    pub runs: Vec<PastRun>,
}

/// The runs kept in a history folder (a local path, or an object-store URL whose history is
/// downloaded first), oldest first.
pub fn list(dir: &Path, workers: &crate::pool::Workers) -> Result<Listing> {
    let staged = crate::store::Staged::new(dir, true, workers.runtime()).map_err(|e| {
        Error::failed(
            format!(
                "reading the history {}",
                crate::store::shown_text(&dir.to_string_lossy())
            ),
            e,
        )
    })?;
    Ok(Listing {
        runs: runs(staged.local())?,
        shown: staged.shown(),
    })
}

/// Refuses a history folder whose runs this run would compare digests with but which were
/// hashed under another [`crate::hash::HASH_VERSION`]. What compares across runs by digest is
/// the key churn: this run's differing keys against the previous run's, by key digest (its
/// newest `keys/` file), and another encoding gives the same key another digest, so every key
/// would read as new and resolved at once. The trend and the level streak compare drift ratios
/// and levels, which mean the same under any encoding, so runs that left no keys to compare with
/// are no reason to refuse. Nothing to refuse without a history.
pub(crate) fn refuse_other_hash_version(history: Option<&crate::store::Staged>) -> Result<()> {
    let Some((dir, shown)) = history.map(|h| (h.local(), h.shown())) else {
        return Ok(());
    };
    let Some(keys) = files(&dir.join("keys"))?.pop() else {
        return Ok(());
    };
    // The run that wrote those keys (its summary goes first: a crash between the two leaves
    // a summary without keys, never keys without one); the newest summary otherwise.
    let own = keys
        .file_name()
        .map(|name| dir.join("runs").join(name))
        .filter(|p| p.exists());
    let Some(path) = own.or(files(&dir.join("runs"))?.pop()) else {
        return Ok(());
    };
    let mut versions = BTreeSet::new();
    for b in read(&path)? {
        let version = Columns {
            path: &path,
            batch: &b,
        }
        .count("hash_version")?;
        versions.extend((0..b.num_rows()).map(version));
    }
    let now = u64::from(crate::hash::HASH_VERSION);
    match versions.into_iter().find(|v| *v != now) {
        None => Ok(()),
        Some(then) => Err(Error::Invalid(format!(
            "history {shown}: its last run hashed keys with hash_version {then}, this recon \
             hashes with hash_version {now}, and key digests of two versions cannot be compared; \
             point --history (or [history] dir) at a new folder, or move the old runs aside \
             (the folder's runs/ and keys/)"
        ))),
    }
}

/// Per table of the newest run of a history folder: its changed rows and legacy rows (empty
/// without a run). Only that run's file is read.
pub(crate) fn last_changed(dir: &Path) -> Result<std::collections::BTreeMap<String, (u64, u64)>> {
    let mut out = std::collections::BTreeMap::new();
    let Some(path) = files(&dir.join("runs"))?.pop() else {
        return Ok(out);
    };
    for b in read(&path)? {
        let c = Columns {
            path: &path,
            batch: &b,
        };
        let (kind, name) = (c.text("kind")?, c.text("name")?);
        let (changed, legacy) = (c.count("changed")?, c.count("legacy_rows")?);
        for r in (0..b.num_rows()).filter(|&r| kind(r) == "table") {
            out.insert(name(r), (changed(r), legacy(r)));
        }
    }
    Ok(out)
}

/// Past runs, oldest first.
pub(crate) fn runs(dir: &Path) -> Result<Vec<PastRun>> {
    let mut out = Vec::new();
    for path in files(&dir.join("runs"))? {
        let mut run = PastRun {
            id: String::new(),
            started_at: String::new(),
            verdict: String::new(),
            tables: Vec::new(),
            checks: Vec::new(),
        };
        for b in read(&path)? {
            let c = Columns {
                path: &path,
                batch: &b,
            };
            let (id, started_at, verdict) =
                (c.text("run_id")?, c.text("started_at")?, c.text("verdict")?);
            let (kind, name, status) = (c.text("kind")?, c.text("name")?, c.text("status")?);
            let drift = c.float("drift_ratio")?;
            for r in 0..b.num_rows() {
                run.id = id(r);
                run.started_at = started_at(r);
                run.verdict = verdict(r);
                match kind(r).as_str() {
                    "table" => run.tables.push((name(r), status(r), drift(r))),
                    _ => run.checks.push((name(r), status(r))),
                }
            }
        }
        out.push(run);
    }
    Ok(out)
}

/// Every table's trend and key churn from the history (in the run's table order), after
/// appending this run to it.
pub(crate) fn record(run: &RunRecord<'_>, dir: &Path) -> Result<Vec<TableHistory>> {
    let past = runs(dir)?;
    let logs = logs(run);
    let mut churn = match files(&dir.join("keys"))?.pop() {
        Some(previous) => Some(keys::churn(&previous, &logs, run.memory_budget, None)?),
        None => None,
    };
    let histories = run
        .tables
        .iter()
        .map(|t| {
            let mut h = TableHistory {
                trend: trend(&past, run, t),
                streak: Some(streak::streak(&past, run.started_at, t)),
                ..TableHistory::default()
            };
            if let Some(c) = churn.as_mut().and_then(|c| c.remove(t.name)) {
                h.new_keys = Some(c.new);
                h.resolved_keys = Some(c.resolved);
                h.new_samples = c.new_samples;
                h.resolved_samples = c.resolved_samples;
            }
            h
        })
        .collect();
    append(run, dir)?;
    Ok(histories)
}

/// The past runs (oldest first) that judged table `name`: each one's start, the table's level
/// and its drift.
fn table_runs<'p>(
    past: &'p [PastRun],
    name: &'p str,
) -> impl Iterator<Item = (&'p str, Status, f64)> + 'p {
    past.iter().filter_map(move |p| {
        let (_, status, drift) = p.tables.iter().find(|(n, _, _)| n == name)?;
        Some((p.started_at.as_str(), streak::stored_level(status), *drift))
    })
}

/// A table's drift over the last runs, this one last.
fn trend(past: &[PastRun], run: &RunRecord<'_>, t: &TableRecord<'_>) -> Vec<TrendPoint> {
    let mut trend: Vec<TrendPoint> = table_runs(past, t.name)
        .map(|(started_at, status, drift_ratio)| TrendPoint {
            started_at: started_at.to_owned(),
            drift_ratio,
            status,
        })
        .collect();
    trend.push(TrendPoint {
        started_at: run.started_at.to_owned(),
        drift_ratio: t.drift_ratio,
        status: t.status,
    });
    let skip = trend.len().saturating_sub(TREND_RUNS);
    trend.into_iter().skip(skip).collect()
}

fn write(path: &Path, batch: &RecordBatch) -> Result<()> {
    crate::atomic::write_parquet(path, batch.schema(), std::slice::from_ref(batch))
}

fn utf8(values: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

fn append(report: &RunRecord<'_>, dir: &Path) -> Result<()> {
    let id = run_id();
    let n = report.tables.len() + report.checks.len();
    let same = |v: &str| vec![v.to_owned(); n];
    let mut kind = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut drift = Vec::with_capacity(n);
    let mut counts: [Vec<u64>; 6] = Default::default();
    for t in &report.tables {
        kind.push("table".to_owned());
        name.push(t.name.to_owned());
        status.push(t.status.as_str().to_owned());
        drift.push(t.drift_ratio);
        for (v, x) in counts.iter_mut().zip(t.counts) {
            v.push(x);
        }
    }
    for c in &report.checks {
        kind.push("check".to_owned());
        name.push(c.id.to_owned());
        status.push(c.status.as_str().to_owned());
        drift.push(c.value);
        for v in &mut counts {
            v.push(0);
        }
    }
    let mut fields = vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("started_at", DataType::Utf8, false),
        Field::new("verdict", DataType::Utf8, false),
        Field::new("tool_version", DataType::Utf8, false),
        Field::new("hash_version", DataType::UInt64, false),
        Field::new("config_digest", DataType::Utf8, false),
        Field::new("duration_ms", DataType::UInt64, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("drift_ratio", DataType::Float64, false),
    ];
    let names = [
        "legacy_rows",
        "target_rows",
        "matched",
        "changed",
        "missing",
        "extra",
    ];
    fields.extend(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::UInt64, false)),
    );
    let mut arrays: Vec<ArrayRef> = vec![
        utf8(same(&id)),
        utf8(same(report.started_at)),
        utf8(same(report.verdict.as_str())),
        utf8(same(report.tool_version)),
        Arc::new(UInt64Array::from(vec![u64::from(report.hash_version); n])),
        utf8(same(report.config_digest)),
        Arc::new(UInt64Array::from(vec![report.duration_ms; n])),
        utf8(kind),
        utf8(name),
        utf8(status),
        Arc::new(Float64Array::from(drift)),
    ];
    arrays.extend(
        counts
            .into_iter()
            .map(|v| Arc::new(UInt64Array::from(v)) as ArrayRef),
    );
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| Error::failed("history batch", e))?;
    write(&dir.join("runs").join(format!("{id}.parquet")), &batch)?;

    keys::write(
        &dir.join("keys").join(format!("{id}.parquet")),
        &logs(report),
    )
}

/// Every table's differing keys.
fn logs<'a>(run: &RunRecord<'a>) -> Vec<(&'a str, &'a KeyLog)> {
    run.tables.iter().map(|t| (t.name, t.keys)).collect()
}

/// Distinct table names across runs (for listings).
pub fn table_names(runs: &[PastRun]) -> Vec<String> {
    runs.iter()
        .flat_map(|r| r.tables.iter().map(|(n, _, _)| n.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
