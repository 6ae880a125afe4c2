//! `recon run --config recon.toml`: reconcile every table pair of a config.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use recon::notify::Notifier;
use recon::report::{Report, ReportFormat};
use recon::{
    Config, LoadedConfig, Overrides, Reconciler, ReportDir, RunSettings, Workers, exit_code,
};

use super::ReconcileArgs;
use super::printer::{Printer, peak_rss};

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
pub fn run(args: &RunArgs, workers: &Workers, printer: &Printer) -> anyhow::Result<i32> {
    let loaded = Config::load(&args.config);
    if args.snapshot
        && let Ok(l) = &loaded
    {
        export_sides(l, args.force, &args.waits, workers, printer)?;
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

/// `--snapshot`: exports every side of the config that has a `url` to its root (replacing the
/// last snapshot; anything but a recon snapshot only with `force`).
pub fn export_sides(
    loaded: &LoadedConfig,
    force: bool,
    waits: &super::snapshot::WaitArgs,
    workers: &Workers,
    printer: &Printer,
) -> anyhow::Result<()> {
    let replace = if force {
        recon::exporter::Replace::Anything
    } else {
        recon::exporter::Replace::Snapshot
    };
    let mut requests = recon::exporter::config_requests(loaded, replace, workers.threads())?;
    waits.apply(&mut requests);
    if requests.is_empty() {
        anyhow::bail!("--snapshot: no side of the config has a `url` to export from");
    }
    for r in &requests {
        super::snapshot::export(r, workers, printer)?;
    }
    Ok(())
}

/// Runs a loaded (or failed) config, writes and prints the report, returns the exit code.
/// `whole_snapshots`: the roots are whole snapshots, whose tables in no pair the report lists
/// (not for `recon diff`, whose roots are the folders around two tables).
pub fn execute(
    loaded: recon::Result<LoadedConfig>,
    args: &ReconcileArgs,
    only: Vec<String>,
    whole_snapshots: bool,
    workers: &Workers,
    printer: &Printer,
) -> anyhow::Result<i32> {
    let clock = Instant::now();
    args.metrics.check_build()?;
    let overrides = overrides(args, only, workers.threads());
    let history = RunSettings::resolve(&overrides, loaded.as_ref().ok())
        .history()
        .map(Path::to_path_buf);
    let reconciler = loaded.map(|l| {
        Reconciler::new(l)
            .with_overrides(overrides.clone())
            .whole_snapshots(whole_snapshots)
    });
    // Reports never go into a snapshot: refused before anything runs or is written.
    if let (Ok(r), Some(out)) = (&reconciler, &args.out) {
        r.refuse_outputs(&[("--out", out.as_path())])?;
    }
    // One run at a time writes into a report folder: locked before the run, until the reports
    // are in place.
    let out = args
        .out
        .as_deref()
        .map(ReportDir::open)
        .transpose()
        .with_context(|| "--out")?;
    // Destinations' URLs are read before the run; one that cannot be read fails only that
    // destination (a warning and an outcome in the report), never the run.
    let notifier = reconciler.as_ref().ok().map(|r| {
        Notifier::new(r.config(), r.settings().history()).map(|n| match &out {
            Some(dir) => n.with_reports(dir.shown()),
            None => n,
        })
    });
    let (mut report, notifier) = match (reconciler, notifier) {
        (Ok(_), Some(Err(e))) | (Err(e), _) => (Reconciler::failed(&e, &overrides), None),
        (Ok(r), notifier) => (
            r.run_with_progress(workers, printer),
            notifier.and_then(Result::ok),
        ),
    };
    let steps = PostRun {
        args,
        out: out.as_ref(),
        history: history.as_deref(),
        known_success: None,
        notifier: notifier.as_ref(),
    };
    post_run(&mut report, &steps, printer, workers);
    if args.stats {
        print_stats(&report, clock);
    }
    Ok(exit_code(report.verdict, args.fail_on.into()))
}

/// Where the steps after a run put their results.
pub struct PostRun<'a> {
    /// The run's options: report formats, metrics file and Pushgateway.
    pub args: &'a ReconcileArgs,
    /// The report folder.
    pub out: Option<&'a ReportDir>,
    /// The run's history folder (where a failing run finds the last successful one).
    pub history: Option<&'a Path>,
    /// The last successful run's time, when the caller knows it (`recon watch`).
    pub known_success: Option<i64>,
    /// Where the run's level changes are told (`[[alerts]]`).
    pub notifier: Option<&'a Notifier>,
}

/// The steps after a reconciliation, in order, for `recon run` and every cycle of `recon watch`
/// alike: the notifications (their outcomes go into the report), the reports written and
/// printed ([`finish`]), then the metrics file and the Pushgateway. Returns the metrics text and
/// the last successful run's time it carries. No step changes the verdict but a report that
/// cannot be written.
pub fn post_run(
    report: &mut Report,
    steps: &PostRun<'_>,
    printer: &Printer,
    workers: &Workers,
) -> (String, Option<i64>) {
    if let Some(n) = steps.notifier {
        super::alert::notify(n, report);
    }
    finish(report, steps.args, steps.out, printer, workers);
    super::metrics::publish(
        report,
        &steps.args.metrics,
        steps.history,
        steps.known_success,
        workers,
    )
}

/// What the command line chose for a run; [`RunSettings::resolve`] lays it over the config.
pub fn overrides(args: &ReconcileArgs, only: Vec<String>, threads: usize) -> Overrides {
    Overrides {
        threads: Some(threads),
        fail_on: Some(args.fail_on.into()),
        only,
        history: args.history.clone(),
        memory_budget: args.memory_budget,
        attribution: Some(args.attribution.into()),
        key_order: Some(!args.no_key_order),
        samples: None,
        diff_out: args.diff_out.clone(),
        temp_dir: None,
        cluster: if args.local {
            Some(String::new())
        } else {
            args.cluster.clone()
        },
    }
}

/// Writes the reports into `--out` (a folder, or an object-store URL), then prints the summary.
/// Reports that cannot be written make the run's verdict `error` (printed as such, and in
/// whatever report file could still be written).
pub fn finish(
    report: &mut Report,
    args: &ReconcileArgs,
    out: Option<&ReportDir>,
    printer: &Printer,
    workers: &Workers,
) {
    // A failure is in the report: its verdict is `error`, printed below.
    let note = out
        .and_then(|dir| dir.write(report, workers).ok())
        .map(|written| {
            let names: Vec<String> = written
                .files
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            format!("reports: {} in {}", names.join(", "), written.shown)
        });
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
                other => recon::report::render(report, other).map(Some),
            })
            .collect::<recon::Result<Vec<Option<String>>>>()
    };
    let rendered = match render_all(report) {
        Ok(r) => r,
        Err(e) => {
            report.add_error(&e.chain());
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
