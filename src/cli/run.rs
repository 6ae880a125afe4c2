//! `recon run --config recon.toml`: reconcile every table pair of a config.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::ReconcileArgs;
use super::printer::{Printer, peak_rss};
use crate::config::{Config, LoadedConfig};
use crate::gate::exit_code;
use crate::reconciler::Reconciler;
use crate::report::write::OutLock;
use crate::report::{Report, ReportFormat};
use crate::run::{RunOptions, error_report};
use crate::settings::{Overrides, RunSettings};
use crate::store::Staged;

/// Arguments of `recon run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The config file.
    #[arg(short, long, value_name = "FILE", default_value = "recon.toml")]
    pub config: PathBuf,
    /// Only this table (repeatable).
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,
    /// First export every side that has a `url` to its root (replacing the last snapshot),
    /// then reconcile. A root that holds anything but a recon snapshot is refused.
    #[arg(long)]
    pub snapshot: bool,
    /// With `--snapshot`: replace a root even when it holds files that are not a recon
    /// snapshot (they are deleted).
    #[arg(long, requires = "snapshot")]
    pub force: bool,
    /// Timeouts of `--snapshot`.
    #[command(flatten)]
    pub waits: super::snapshot::WaitArgs,
    /// Reconcile options.
    #[command(flatten)]
    pub reconcile: ReconcileArgs,
}

/// Runs `recon run`.
pub fn run(
    args: &RunArgs,
    workers: &crate::pool::Workers,
    printer: &Printer,
) -> anyhow::Result<i32> {
    let loaded = Config::load(&args.config);
    if args.snapshot
        && let Ok(l) = &loaded
    {
        let replace = if args.force {
            crate::export::Replace::Anything
        } else {
            crate::export::Replace::Snapshot
        };
        let mut requests = super::snapshot::config_requests(l, replace, workers.threads())?;
        args.waits.apply(&mut requests);
        if requests.is_empty() {
            anyhow::bail!("--snapshot: no side of the config has a `url` to export from");
        }
        for r in &requests {
            super::snapshot::export(r, workers, printer)?;
        }
    }
    execute(
        loaded,
        &args.reconcile,
        args.tables.clone(),
        true,
        workers,
        printer,
    )
}

/// Runs a loaded (or failed) config, writes and prints the report, returns the exit code.
/// `whole_snapshots`: the roots are whole snapshots, whose tables in no pair the report lists
/// (not for `recon diff`, whose roots are the folders around two tables).
pub fn execute(
    loaded: crate::Result<LoadedConfig>,
    args: &ReconcileArgs,
    only: Vec<String>,
    whole_snapshots: bool,
    workers: &crate::pool::Workers,
    printer: &Printer,
) -> anyhow::Result<i32> {
    let clock = Instant::now();
    // Reports never go into a snapshot: refused before anything runs or is written.
    if let (Ok(l), Some(out)) = (&loaded, &args.out) {
        crate::run::refuse_outputs_in_snapshots(l, &[("--out", out.as_path())])?;
    }
    // One run at a time writes into a report folder: locked before the run, until the reports
    // are in place.
    let _lock = args
        .out
        .as_deref()
        .filter(|out| !crate::store::is_remote(&out.to_string_lossy()))
        .map(OutLock::take)
        .transpose()
        .with_context(|| "--out")?;
    let overrides = overrides(args, only, workers.threads());
    let mut report = match loaded {
        Ok(l) => Reconciler::new(l)
            .with_overrides(overrides)
            .whole_snapshots(whole_snapshots)
            .run_reporting(workers, printer),
        Err(e) => {
            let opts = RunOptions::new(RunSettings::resolve(&overrides, None), printer);
            error_report(crate::error::chain(&e), &opts, None, workers.threads())
        }
    };
    finish(&mut report, args, printer, workers.runtime());
    if args.stats {
        print_stats(&report, clock);
    }
    Ok(exit_code(report.verdict, args.fail_on.into()))
}

/// What the command line chose for a run; [`RunSettings::resolve`] lays it over the config.
fn overrides(args: &ReconcileArgs, only: Vec<String>, threads: usize) -> Overrides {
    Overrides {
        threads: Some(threads),
        fail_on: Some(args.fail_on.into()),
        only,
        history: args.history.clone(),
        memory_budget: args.memory_budget,
        attribution: Some(args.attribution.into()),
        samples: None,
        diff_out: args.diff_out.clone(),
        temp_dir: None,
    }
}

/// Writes the reports into `--out` (a folder, or an object-store URL), then prints the summary.
/// Reports that cannot be written make the run's verdict `error` (printed as such, and in
/// whatever report file could still be written).
pub fn finish(
    report: &mut Report,
    args: &ReconcileArgs,
    printer: &Printer,
    rt: &tokio::runtime::Runtime,
) {
    let written = args
        .out
        .as_deref()
        .map(|dir| write_out(report, dir, rt))
        .transpose();
    let note = match written {
        Ok(note) => note,
        Err((e, local)) => {
            add_error(report, &format!("{e:#}"));
            if let Some(dir) = local {
                crate::report::write::write_after_failure(report, &dir);
            }
            None
        }
    };
    // Everything for stdout is rendered before anything is printed, so that a printed verdict
    // is the run's last word.
    let formats: Vec<ReportFormat> = if args.formats.is_empty() {
        vec![ReportFormat::Terminal]
    } else {
        args.formats
            .iter()
            .map(|&f| ReportFormat::from(f))
            .collect()
    };
    let render_all = |report: &Report| {
        formats
            .iter()
            .map(|&f| match f {
                ReportFormat::Terminal => Ok(None),
                other => crate::report::render(report, other).map(Some),
            })
            .collect::<crate::Result<Vec<Option<String>>>>()
    };
    let rendered = match render_all(report) {
        Ok(r) => r,
        Err(e) => {
            add_error(report, &crate::error::chain(&e));
            render_all(report).unwrap_or_else(|_| vec![None])
        }
    };
    for text in &rendered {
        match text {
            None => printer.report(report),
            Some(text) => printer.data(text),
        }
    }
    printer.run_error(report, formats.contains(&ReportFormat::Terminal));
    if let Some(note) = note {
        printer.note(&note);
    }
}

/// Makes the run's verdict `error` for `message`, keeping an error it already had.
fn add_error(report: &mut Report, message: &str) {
    let message = crate::store::scrub(message);
    report.error = Some(match report.error.take() {
        Some(first) => format!("{first}; then {message}"),
        None => message,
    });
    report.finish();
}

/// Writes every report file into `dir` (uploading them for a URL); returns the note saying
/// where they are, or the error with the local folder holding whatever was written.
fn write_out(
    report: &Report,
    dir: &Path,
    rt: &tokio::runtime::Runtime,
) -> Result<String, (anyhow::Error, Option<PathBuf>)> {
    let shown = crate::store::shown_text(&dir.to_string_lossy());
    let staged = Staged::new(dir, false, rt)
        .with_context(|| format!("--out {shown}"))
        .map_err(|e| (e, None))?;
    let local = staged.local().to_path_buf();
    let paths = crate::report::write_all(report, &local)
        .with_context(|| format!("writing the reports into {}", staged.shown()))
        .map_err(|e| (e, Some(local.clone())))?;
    staged
        .publish(rt)
        .with_context(|| format!("uploading the reports to {}", staged.shown()))
        .map_err(|e| (e, None))?;
    let names: Vec<String> = paths
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    Ok(format!(
        "reports: {} in {}",
        names.join(", "),
        staged.shown()
    ))
}

fn print_stats(report: &Report, clock: Instant) {
    let rows: u64 = report
        .tables
        .iter()
        .map(|t| t.legacy_rows + t.target_rows)
        .sum();
    let secs = clock.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = rows as f64 / secs.max(1e-9);
    #[allow(clippy::cast_precision_loss)]
    let rss = peak_rss().map_or_else(
        || "unknown".to_owned(),
        |b| format!("{:.0} MiB", b as f64 / f64::from(1 << 20)),
    );
    let budget = report.run.memory_budget >> 20;
    eprintln!(
        "stats: {rows} rows in {secs:.2} s = {rate:.0} rows/s, peak RSS {rss}, memory budget {budget} MiB"
    );
}
