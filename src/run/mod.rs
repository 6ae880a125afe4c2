//! A whole run: open both snapshots, resolve every table pair (all input errors before any heavy
//! work), reconcile each pair, gate, and assemble the [`Report`]. A run always yields a report;
//! what could not be decided is in it as `error`, never as a pass.

mod cluster;
mod sql_checks;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{LoadedConfig, TableConfig};
use crate::diff::{self, DiffOptions};
use crate::error::{Error, Result};
use crate::gate::Status;
use crate::hash::HASH_VERSION;
use crate::plan::{self, PairPlan};
use crate::pool::Workers;
use crate::redact::RedactionKey;
use crate::report::{Input, Report, RunMeta, SCHEMA_VERSION, Summary, TableReport, Tool};
use crate::settings::RunSettings;
use crate::side::{PerSide, Side};
use crate::snapshot::{SideTable, Snapshot, sql};
use crate::spill::KeyLog;
use crate::store::Staged;
use cluster::{cluster, on_cluster, sql_planner};
use sql_checks::{plan_checks, run_checks};

/// Told how far the hashing pass of each table got.
pub trait Progress: Sync {
    /// A table starts; `rows` is the sum of both sides' footer row counts.
    fn start(&self, table: &str, rows: u64);
    /// `rows` more rows were hashed.
    fn advance(&self, rows: u64);
    /// The table is done.
    fn finish(&self);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Everything a run needs besides the config: its resolved settings and how it reports.
pub struct RunOptions<'a> {
    /// The run's settings, resolved once ([`RunSettings::resolve`]); nothing below changes them.
    pub settings: RunSettings,
    /// Progress sink.
    pub progress: &'a dyn Progress,
    /// Report start time (injected in tests for stable output).
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// List the snapshots' tables that no pair reads (`unpaired_tables`). Off for `recon diff`,
    /// whose roots are only the folders around the two tables it was given.
    pub account_unpaired: bool,
}

impl<'a> RunOptions<'a> {
    /// A run with these settings, reporting progress to `progress`, listing unpaired tables.
    pub fn new(settings: RunSettings, progress: &'a dyn Progress) -> Self {
        Self {
            settings,
            progress,
            started_at: None,
            account_unpaired: true,
        }
    }
}

/// A report for a run that could not even start (e.g. an unreadable config).
pub fn error_report(
    message: String,
    opts: &RunOptions<'_>,
    config_path: Option<String>,
    threads: usize,
) -> Report {
    let mut r = empty_report(opts, config_path, String::new(), threads);
    r.error = Some(message);
    r.finish();
    r
}

fn empty_report(
    opts: &RunOptions<'_>,
    config_path: Option<String>,
    digest: String,
    threads: usize,
) -> Report {
    let started = opts.started_at.unwrap_or_else(chrono::Utc::now);
    Report {
        schema_version: SCHEMA_VERSION,
        hash_version: HASH_VERSION,
        tool: Tool::default(),
        run: RunMeta {
            started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            duration_ms: 0,
            config_path,
            config_digest: digest,
            threads,
            memory_budget: u64::try_from(opts.settings.diff.memory_budget).unwrap_or(u64::MAX),
            fail_on: opts.settings.fail_on,
            redaction_key: None,
        },
        inputs: Vec::new(),
        verdict: Status::Pass,
        error: None,
        summary: Summary::default(),
        tables: Vec::new(),
        unpaired_tables: Vec::new(),
        notifications: Vec::new(),
        checks: Vec::new(),
    }
}

/// Runs a loaded config. Never fails: errors end up in the report with verdict `error`.
pub fn run_config(loaded: &LoadedConfig, opts: &RunOptions<'_>, workers: &Workers) -> Report {
    let clock = Instant::now();
    let mut report = empty_report(
        opts,
        Some(loaded.path.display().to_string()),
        loaded.digest.clone(),
        workers.threads(),
    );
    let staged = stage_outputs(loaded, &opts.settings, workers);
    let (history, diff_out) = match staged {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(crate::error::chain(&e));
            report.finish();
            return report;
        }
    };
    let history_dir = history.as_ref().map(Staged::local);
    // Before any heavy work: a history this run cannot compare with is exit 2 at once.
    let comparable = crate::history::refuse_other_hash_version(history.as_ref());
    let key = match comparable.and_then(|()| redaction_key(loaded, history_dir)) {
        Ok(k) => k,
        Err(e) => {
            report.error = Some(crate::error::chain(&e));
            report.finish();
            return report;
        }
    };
    if loaded.config.tables.iter().any(|t| !t.redact.is_empty()) {
        report.run.redaction_key = Some(key.source().as_str());
    }
    let diff_dir = diff_out.as_ref().map(|d| d.local().to_path_buf());
    // The last run's diff files go first: a table that now errors or left the config keeps none.
    let kept = match diff_dir
        .as_deref()
        .map(crate::outputs::clear_diff_out)
        .transpose()
    {
        Ok(k) => k,
        Err(e) => {
            report.error = Some(crate::error::chain(&e));
            report.finish();
            return report;
        }
    };
    let mut keys = Vec::new();
    if let Err(e) = run_into(
        loaded,
        opts,
        workers,
        (diff_dir.clone(), history_dir),
        &key,
        (&mut report, &mut keys),
    ) {
        report.error = Some(crate::error::chain(&e));
    }
    if let (Some(dir), Some(kept)) = (&diff_dir, &kept)
        && let Err(e) = crate::outputs::record_diff_out(dir, kept)
    {
        report.error = Some(crate::error::chain(&e));
    }
    report.run.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
    report.finish();
    if let Some(h) = &history
        && let Err(e) = record_history(&mut report, &keys, h.local())
    {
        report.error = Some(format!(
            "history {}: {}",
            h.shown(),
            crate::error::chain(&e)
        ));
        report.finish();
    }
    publish(&mut report, workers, diff_out.as_ref(), history.as_ref());
    report
}

/// Stages the history and `--diff-out` (downloaded or created locally), after refusing either
/// inside a snapshot root.
fn stage_outputs(
    loaded: &LoadedConfig,
    settings: &RunSettings,
    workers: &Workers,
) -> Result<(Option<Staged>, Option<Staged>)> {
    let history = settings.history.as_ref();
    let mut outputs: Vec<(&str, &std::path::Path)> = Vec::new();
    if let Some(dir) = history {
        outputs.push(("history", dir.as_path()));
    }
    if let Some(dir) = &settings.diff.diff_out {
        outputs.push(("--diff-out", dir.as_path()));
    }
    refuse_outputs_in_snapshots(loaded, &outputs).and_then(|()| {
        let rt = workers.runtime();
        let stage = |path: &PathBuf, download: bool, what: &str| {
            Staged::new(path, download, rt).map_err(|source| Error::Store {
                url: crate::store::shown_text(&path.to_string_lossy()),
                what: what.to_owned(),
                source: source.into(),
            })
        };
        Ok((
            history
                .map(|h| stage(h, true, "reading the history"))
                .transpose()?,
            settings
                .diff
                .diff_out
                .as_ref()
                .map(|d| stage(d, false, "staging --diff-out"))
                .transpose()?,
        ))
    })
}

/// Uploads remote outputs, last; a failed upload is a run that could not finish its job.
fn publish(
    report: &mut Report,
    workers: &Workers,
    diff_out: Option<&Staged>,
    history: Option<&Staged>,
) {
    for (staged, what) in [
        (diff_out, "uploading --diff-out"),
        (history, "uploading the history"),
    ] {
        if let Some(s) = staged
            && let Err(source) = s.publish(workers.runtime())
        {
            let e = Error::Store {
                url: s.shown(),
                what: what.to_owned(),
                source: source.into(),
            };
            report.error = Some(crate::error::chain(&e));
            report.finish();
        }
    }
}

/// Appends the run to the history and fills every table's trend and key churn from it.
fn record_history(report: &mut Report, keys: &[KeyLog], dir: &std::path::Path) -> Result<()> {
    let histories = crate::history::record(&crate::report::build::run_record(report, keys), dir)?;
    crate::report::build::attach_history(report, histories);
    Ok(())
}

/// Refuses outputs (report folder, diff files, history) inside either snapshot root of a
/// config: recon never writes into a snapshot.
pub fn refuse_outputs_in_snapshots(
    loaded: &LoadedConfig,
    outputs: &[(&str, &std::path::Path)],
) -> Result<()> {
    let c = &loaded.config;
    let roots: Vec<PathBuf> = [&c.legacy.root, &c.target.root]
        .into_iter()
        .filter_map(|r| crate::snapshot::local_folder(r, &loaded.base_dir))
        .collect();
    let (remote, local): (Vec<(&str, &std::path::Path)>, Vec<_>) = outputs
        .iter()
        .copied()
        .partition(|(_, p)| crate::store::is_remote(&p.to_string_lossy()));
    for (option, path) in remote {
        let out = path.to_string_lossy();
        let out = out.trim_end_matches('/');
        for root in [&c.legacy.root, &c.target.root] {
            let root = root.trim_end_matches('/');
            if out == root || out.starts_with(&format!("{root}/")) {
                return Err(Error::Invalid(format!(
                    "{option} {}: inside the snapshot root {}; recon never writes into a snapshot",
                    crate::store::shown_text(out),
                    crate::store::shown_text(root)
                )));
            }
        }
    }
    crate::atomic::refuse_inside_roots(&local, &roots)
}

/// The run's redaction key ([`RedactionKey::resolve`]); a config that redacts nothing gets a
/// key for the run without touching the history folder.
fn redaction_key(
    loaded: &LoadedConfig,
    history: Option<&std::path::Path>,
) -> Result<Arc<RedactionKey>> {
    let c = &loaded.config;
    if c.tables.iter().all(|t| t.redact.is_empty()) {
        return RedactionKey::per_run().map(Arc::new);
    }
    let key_file = c
        .report
        .redaction_key_file
        .as_ref()
        .map(|f| loaded.base_dir.join(f));
    RedactionKey::resolve(key_file.as_deref(), history).map(Arc::new)
}

fn run_into(
    loaded: &LoadedConfig,
    opts: &RunOptions<'_>,
    workers: &Workers,
    (diff_out, history): (Option<PathBuf>, Option<&std::path::Path>),
    key: &Arc<RedactionKey>,
    (report, keys): (&mut Report, &mut Vec<KeyLog>),
) -> Result<()> {
    let (config, base) = (&loaded.config, loaded.base_dir.as_path());
    let (rt, pool, threads) = (workers.runtime(), workers.pool(), workers.threads());
    let snapshots = PerSide::new(
        Snapshot::open(Side::Legacy, &config.legacy.root, base, rt)?,
        Snapshot::open(Side::Target, &config.target.root, base, rt)?,
    );
    let selected: Vec<&TableConfig> = config
        .tables
        .iter()
        .filter(|t| opts.settings.only.is_empty() || opts.settings.only.contains(&t.name))
        .collect();
    if let Some(unknown) = opts
        .settings
        .only
        .iter()
        .find(|n| !config.tables.iter().any(|t| &t.name == *n))
    {
        return Err(Error::Invalid(format!(
            "--table {unknown}: no such table in the config"
        )));
    }
    // Resolve everything first: a typo in the last table must not cost an hour of hashing.
    let mut plans = Vec::with_capacity(selected.len());
    for t in &selected {
        let tables = PerSide::new(
            open_side(&snapshots.legacy, t, Side::Legacy, threads, rt)?,
            open_side(&snapshots.target, t, Side::Target, threads, rt)?,
        );
        plans.push(plan::resolve(
            t,
            &config.defaults,
            &config.gate,
            tables,
            key,
        )?);
    }
    let checks = plan_checks(loaded, opts)?;
    for p in &plans {
        for side in Side::BOTH {
            report.inputs.push(input_of(snapshots.get(side), p, side));
        }
    }
    if opts.account_unpaired {
        // The gate decides what a table no pair reads means for the verdict.
        let status = Status::from(config.gate.unpaired_tables.unwrap_or_default());
        report.unpaired_tables =
            crate::unpaired::unpaired(config, &snapshots, &plans, threads, rt)?
                .into_iter()
                .map(|u| crate::report::build::unpaired(u, status))
                .collect();
    }
    let diff_opts = engine_options(&opts.settings, diff_out);
    // What the history's newest run found, for `Attribution::Auto` (no other choice reads it).
    // A history that cannot be read only costs the choice here: recording the run reads it
    // again and reports why.
    let previous = history
        .filter(|_| diff_opts.attribution == crate::diff::Attribution::Auto)
        .map(crate::history::last_changed)
        .transpose()
        .unwrap_or_else(|e| {
            tracing::warn!("the history's last run: {}", crate::error::chain(&e));
            None
        })
        .unwrap_or_default();
    let cluster = cluster(opts.settings.cluster(), workers)?;
    for (t, p) in selected.iter().zip(&plans) {
        let mut table_opts = DiffOptions {
            previous_changed: previous.get(&p.name).copied(),
            ..diff_opts.clone()
        };
        on_cluster(&mut table_opts, cluster.as_ref(), workers, loaded, t, p);
        let (table, differing) = reconcile_one(p, &table_opts, opts, pool);
        report.tables.push(table);
        keys.push(differing);
    }
    if !checks.is_empty() {
        let pairs: Vec<(&TableConfig, &PairPlan)> = selected.iter().copied().zip(&plans).collect();
        let samples = opts.settings.diff.samples;
        let planner = sql_planner(cluster.as_ref());
        report.checks = run_checks(
            config,
            (samples, planner),
            &pairs,
            &snapshots,
            workers,
            key,
            &checks,
        )?;
    }
    Ok(())
}

/// What the engine is given: the run's settings as resolved, with `--diff-out` replaced only by
/// the local folder it is staged in (itself for a local folder; uploaded when the run ends).
fn engine_options(settings: &RunSettings, staged_diff_out: Option<PathBuf>) -> DiffOptions {
    DiffOptions {
        diff_out: staged_diff_out,
        ..settings.diff.clone()
    }
}

/// Opens and resolves every table pair of a config (no hashing). Used by the bench's decode
/// floor, which must read exactly what a run reads.
pub fn resolve_all(loaded: &LoadedConfig, workers: &Workers) -> Result<Vec<PairPlan>> {
    let (rt, threads) = (workers.runtime(), workers.threads());
    let c = &loaded.config;
    let snapshots = PerSide::new(
        Snapshot::open(Side::Legacy, &c.legacy.root, &loaded.base_dir, rt)?,
        Snapshot::open(Side::Target, &c.target.root, &loaded.base_dir, rt)?,
    );
    let key = RedactionKey::per_run().map(Arc::new)?;
    c.tables
        .iter()
        .map(|t| {
            let tables = PerSide::new(
                open_side(&snapshots.legacy, t, Side::Legacy, threads, rt)?,
                open_side(&snapshots.target, t, Side::Target, threads, rt)?,
            );
            plan::resolve(t, &c.defaults, &c.gate, tables, &key)
        })
        .collect()
}

fn reconcile_one(
    p: &PairPlan,
    diff_opts: &DiffOptions,
    opts: &RunOptions<'_>,
    pool: &rayon::ThreadPool,
) -> (TableReport, KeyLog) {
    opts.progress
        .start(&p.name, p.tables.legacy.rows + p.tables.target.rows);
    let progress = |_: Side, rows: u64| opts.progress.advance(rows);
    // A panic in a worker (a bug) is this table's error, not the end of the run.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.install(|| diff::reconcile(p, diff_opts, &progress))
    }))
    .unwrap_or_else(|panic| {
        Err(Error::Internal(format!(
            "a worker failed: {}",
            crate::error::panic_message(panic.as_ref())
        )))
    });
    opts.progress.finish();
    match result {
        // The engine counts; the gate judges, here, after it.
        Ok(mut diff) => {
            let judgement = crate::gate::judge_table(&p.gate, &diff);
            let keys = std::mem::take(&mut diff.differing_keys);
            let drift = p.gate.drift_ratio;
            (crate::report::build::table(diff, judgement, drift), keys)
        }
        Err(e) => {
            // Upstream texts may quote a URL with its credentials.
            let e = crate::store::scrub(&crate::error::chain(&e));
            tracing::error!(table = %p.name, "{e}");
            let key: Vec<String> = p.keys.iter().map(|k| k.name.clone()).collect();
            let drift = p.gate.drift_ratio;
            let t = crate::report::build::errored_table(&p.name, &key, &p.sources, drift, e);
            (t, KeyLog::default())
        }
    }
}

fn open_side(
    snapshot: &Snapshot,
    t: &TableConfig,
    side: Side,
    threads: usize,
    rt: &tokio::runtime::Runtime,
) -> Result<SideTable> {
    let (name, query) = match side {
        Side::Legacy => (t.legacy_table(), t.legacy_sql.as_deref()),
        Side::Target => (t.target_table(), t.target_sql.as_deref()),
    };
    match query {
        Some(q) => sql::materialize(snapshot, &t.name, q, threads, rt, !t.redact.is_empty()),
        None => snapshot.table(name, rt),
    }
}

fn input_of(snapshot: &Snapshot, p: &PairPlan, side: Side) -> Input {
    let table = p.tables.get(side);
    let root = snapshot.local_root().map(PathBuf::from);
    Input {
        side,
        table: p.sources.get(side).clone(),
        root: crate::store::shown(snapshot.url()),
        files: table
            .files
            .iter()
            .map(|f| match (&f.file.local, &root) {
                (Some(path), Some(root)) => path
                    .strip_prefix(root)
                    .unwrap_or(path)
                    .display()
                    .to_string(),
                _ => f.file.display(),
            })
            .collect(),
        bytes: table.bytes,
        rows: table.rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Overrides;

    #[test]
    fn the_engine_gets_the_callers_samples_and_keys_unchanged() {
        let chosen = Overrides {
            samples: Some(3),
            diff_out: Some(PathBuf::from("diffs")),
            history: Some(PathBuf::from("hist")),
            ..Overrides::default()
        };
        let settings = RunSettings::resolve(&chosen, None);
        let engine = engine_options(&settings, Some(PathBuf::from("diffs")));
        assert_eq!(engine.samples, 3);
        assert_eq!(engine.diff_out, Some(PathBuf::from("diffs")));
        assert!(engine.keep_keys);
        assert_eq!(engine.memory_budget, settings.diff.memory_budget);
        assert_eq!(engine.attribution, settings.diff.attribution);
    }
}
