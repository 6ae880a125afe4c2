//! `recon watch --config recon.toml --every 15m`: the reconciliation on a schedule, each run
//! through the same steps as `recon run` (its reports into `runs/<timestamp>/` of the watch's
//! folder, metrics, Pushgateway), with retention, `latest`, an optional HTTP server and a clean
//! stop on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;

use recon::notify::Notifier;
use recon::report::Report;
use recon::watch::{Progress, RunFolders, Step, Stop, WatchState};
use recon::{Config, Overrides, Reconciler, ReportDir, WatchOverrides, WatchSettings, Workers};

use super::ReconcileArgs;
use super::printer::Printer;
use super::run::{PostRun, post_run};

/// Arguments of `recon watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The config file.
    #[arg(short, long, value_name = "FILE", default_value = "recon.toml")]
    pub config: PathBuf,
    /// The interval: runs start at every whole multiple of it (`15m`, `1h`, `30s`; over
    /// `[watch] every`). The first run starts at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_every)]
    pub every: Option<Duration>,
    /// Runs whose reports are kept in `<out>/runs/` (over `[watch] keep`; default 96).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep: Option<u64>,
    /// Serve `/metrics`, `/healthz` and the latest report at this address (default
    /// 127.0.0.1:9187; over `[watch] listen`). Any other interface only when given explicitly.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9187")]
    pub listen: Option<SocketAddr>,
    /// Only this table (repeatable).
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,
    /// Before each run, export every side that has a `url` to its root, as `recon run
    /// --snapshot` does.
    #[arg(long)]
    pub snapshot: bool,
    /// With `--snapshot`: replace a root even when it holds files that are not a recon
    /// snapshot.
    #[arg(long, requires = "snapshot")]
    pub force: bool,
    /// Timeouts of `--snapshot`.
    #[command(flatten)]
    pub waits: super::snapshot::WaitArgs,
    /// Reconcile options; `--out` is the watch's folder (over `[watch] out`; default `watch/`
    /// beside the config), `--history` defaults to `<out>/history`.
    #[command(flatten)]
    pub reconcile: ReconcileArgs,
}

fn parse_every(text: &str) -> Result<Duration, String> {
    recon::config::parse_every(text)
}

/// What each run of a watch uses.
struct Cycle<'a> {
    args: &'a WatchArgs,
    reconcile: ReconcileArgs,
    overrides: Overrides,
    settings: WatchSettings,
    workers: &'a Workers,
    printer: &'a Printer,
    /// Where the run in progress is, for a stop that arrives during it.
    progress: Progress,
}

/// What a finished run leaves for the next.
struct Done {
    report: Report,
    metrics: String,
    last_success: Option<i64>,
    /// The run's destinations (from the config as the run loaded it), for the daily summary.
    notifier: Option<Notifier>,
}

enum Event {
    Stop,
    Done(Box<anyhow::Result<Done>>),
}

/// Runs `recon watch` until SIGTERM or SIGINT; exits 0 on such a stop.
pub fn run(args: &WatchArgs, workers: &Workers, printer: &Printer) -> anyhow::Result<i32> {
    args.reconcile.metrics.check_build()?;
    let loaded = Config::load(&args.config)?;
    let mut overrides =
        super::run::overrides(&args.reconcile, args.tables.clone(), workers.threads());
    let chosen = WatchOverrides {
        every: args.every,
        keep: args.keep.and_then(|k| usize::try_from(k).ok()),
        listen: args.listen,
        out: args.reconcile.out.clone(),
    };
    let settings = WatchSettings::resolve(&chosen, &overrides, &loaded)?;
    if settings.listen.is_some() && !cfg!(feature = "monitor") {
        anyhow::bail!(
            "{}: this build of recon was built without the `monitor` feature (the default \
             builds have it; or build with `--features monitor`)",
            listen_source(args)
        );
    }
    if settings.out.to_string_lossy().contains("://") {
        anyhow::bail!(
            "--out {}: recon watch keeps its runs in a local folder (a URL is for recon run)",
            recon::scrub_credentials(&settings.out.to_string_lossy())
        );
    }
    overrides.history = Some(settings.history.clone());
    Reconciler::new(loaded).refuse_outputs(&[("--out", settings.out.as_path())])?;
    // One watch per folder: the folder is locked for the watch's life.
    let _lock = ReportDir::open(&settings.out).with_context(|| "--out")?;
    let folders = RunFolders::open(&settings.out)?;
    let mut reconcile = args.reconcile.clone();
    reconcile.history = Some(settings.history.clone());
    let cycle = Cycle {
        args,
        reconcile,
        overrides,
        settings,
        workers,
        printer,
        progress: Progress::default(),
    };
    watch(&cycle, &folders)
}

/// When the next run and the next daily summary are due, and the last success so far.
struct Schedule {
    next: DateTime<Utc>,
    last_success: Option<i64>,
    summary_due: Option<DateTime<Utc>>,
}

fn watch(cycle: &Cycle<'_>, folders: &RunFolders) -> anyhow::Result<i32> {
    let rt = recon::watch::runtime()?;
    let (tx, rx) = mpsc::channel::<Event>();
    let stop = tx.clone();
    recon::watch::on_stop(&rt, move || {
        let _ = stop.send(Event::Stop);
    })?;
    let state = WatchState::default();
    serve(&rt, cycle, &state)?;
    let now = Utc::now();
    let mut schedule = Schedule {
        next: now,
        last_success: None,
        summary_due: cycle
            .settings
            .daily_summary
            .map(|at| recon::watch::next_daily(now, &at)),
    };
    std::thread::scope(|scope| {
        loop {
            let wait = (schedule.next - Utc::now()).to_std().unwrap_or_default();
            match rx.recv_timeout(wait) {
                Ok(Event::Stop) => return Ok(stopped(cycle.printer, false)),
                Ok(Event::Done(_)) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    anyhow::bail!("the watch lost its signals")
                }
            }
            let started = Utc::now();
            let partial = match folders.begin(started) {
                Ok(partial) => partial,
                Err(e) => {
                    // A full disk may have room at the next tick.
                    failed_run(cycle, &state, &mut schedule, &e.into(), started);
                    continue;
                }
            };
            // Set before the run starts, so that a stop never sees the last run's step.
            cycle.progress.start();
            let done = tx.clone();
            let (dir, known) = (partial.clone(), schedule.last_success);
            scope.spawn(move || {
                // A panic is this run's error: the watch hears of it and goes on.
                let outcome = recon::watch::guarded(|| one_run(cycle, &dir, known))
                    .map_err(anyhow::Error::from)
                    .and_then(|outcome| outcome);
                let _ = done.send(Event::Done(Box::new(outcome)));
            });
            let outcome = wait_for_run(cycle, &rx, folders, &partial);
            let committed = outcome.and_then(|done| {
                let kept = folders.commit(&partial, started, cycle.settings.keep)?;
                Ok((done, kept))
            });
            if cycle.progress.stopping() {
                return Ok(stopped_after_run(
                    cycle.printer,
                    folders,
                    &partial,
                    committed,
                ));
            }
            match committed {
                Ok((done, kept)) => {
                    warn_kept(&kept);
                    after_run(cycle, &state, &mut schedule, &done, started, &kept.dir);
                }
                Err(e) => {
                    folders.abandon(&partial);
                    failed_run(cycle, &state, &mut schedule, &e, started);
                }
            }
        }
    })
}

/// Waits for the run in progress. A stop during its reconciliation abandons it at once: its
/// hidden folder is removed and the process ends without waiting for its thread. A stop during
/// its exports or after its reconciliation waits for it (its exports finish, or it is written
/// whole); a second stop abandons it whatever it does.
fn wait_for_run(
    cycle: &Cycle<'_>,
    rx: &mpsc::Receiver<Event>,
    folders: &RunFolders,
    partial: &Path,
) -> anyhow::Result<Done> {
    loop {
        if let Ok(Event::Done(outcome)) = rx.recv() {
            return *outcome;
        }
        let step = match cycle.progress.stop() {
            Stop::Now(_held) => {
                // `_held` until the process ends: the run cannot move on meanwhile.
                folders.abandon(partial);
                std::process::exit(stopped(cycle.printer, true));
            }
            Stop::After(step) => step,
        };
        cycle.printer.note(if step == Step::Exporting {
            "watch: stopping once the export in progress has finished (the run goes no further); \
             a second signal abandons it"
        } else {
            "watch: stopping once the run in progress has written its reports; a second signal \
             abandons it"
        });
    }
}

/// What went wrong after a run was committed (`latest` not updated, old runs not removed), as
/// warnings: the run itself is kept.
fn warn_kept(kept: &recon::watch::Committed) {
    for w in &kept.warnings {
        eprintln!("warning: watch: {}", w.chain());
    }
}

/// A stop waited for the run in progress: it is kept when it completed, else removed.
fn stopped_after_run(
    printer: &Printer,
    folders: &RunFolders,
    partial: &Path,
    committed: anyhow::Result<(Done, recon::watch::Committed)>,
) -> i32 {
    if let Ok((_, kept)) = committed {
        warn_kept(&kept);
        printer.note(&format!(
            "watch: stopped after the run in progress completed; reports in {}",
            kept.dir.display()
        ));
    } else {
        folders.abandon(partial);
        printer
            .note("watch: stopped; the run in progress did not complete (no report of it is kept)");
    }
    0
}

/// After a complete run: the next tick (an overrun said so), what the server shows, the daily
/// summary when due.
fn after_run(
    cycle: &Cycle<'_>,
    state: &WatchState,
    schedule: &mut Schedule,
    done: &Done,
    started: DateTime<Utc>,
    kept: &Path,
) {
    let ended = Utc::now();
    schedule.last_success = done.last_success;
    reschedule(cycle, schedule, started, ended);
    publish(cycle, state, done, started, schedule.next, kept);
    let (send, due) = recon::watch::summary_after(
        schedule.summary_due,
        cycle.settings.daily_summary.as_ref(),
        ended,
        done.notifier.is_some(),
    );
    if send {
        daily_summary(done, ended, cycle.printer);
    }
    schedule.summary_due = due;
    cycle.printer.note(&format!(
        "watch: reports in {}; next run at {}",
        kept.display(),
        shown(schedule.next)
    ));
}

/// After a run that could not complete (an error outside the reconciliation, or a panic): an
/// `error` run, its folder already removed. Its metrics are written, pushed and served like any
/// run's, `/healthz` turns 503, and the watch goes on at the next tick.
fn failed_run(
    cycle: &Cycle<'_>,
    state: &WatchState,
    schedule: &mut Schedule,
    error: &anyhow::Error,
    started: DateTime<Utc>,
) {
    let ended = Utc::now();
    // Never quiet: the watch goes on, but someone should look.
    eprintln!(
        "warning: watch: the run failed: {}; no report of it is kept",
        recon::scrub_credentials(&format!("{error:#}"))
    );
    let report = Reconciler::failed(
        &recon::Error::Invalid(format!("{error:#}")),
        &cycle.overrides,
    );
    let (metrics, _) = super::metrics::publish(
        &report,
        &cycle.reconcile.metrics,
        Some(&cycle.settings.history),
        schedule.last_success,
        cycle.workers,
    );
    reschedule(cycle, schedule, started, ended);
    let stale_after = stale_after(schedule.next, cycle.settings.every);
    state.update(|s| {
        s.metrics = Some(metrics);
        s.last_run = Some(shown(started));
        s.verdict = Some(report.verdict);
        s.next_run = Some(shown(schedule.next));
        s.stale_after = stale_after;
    });
    cycle
        .printer
        .note(&format!("watch: next run at {}", shown(schedule.next)));
}

/// The next tick after a run that ended at `ended`; an overrun says so.
fn reschedule(
    cycle: &Cycle<'_>,
    schedule: &mut Schedule,
    started: DateTime<Utc>,
    ended: DateTime<Utc>,
) {
    let every = cycle.settings.every;
    schedule.next = recon::watch::next_tick(ended, every);
    let skipped = recon::watch::skipped_ticks(started, ended, every);
    if skipped > 0 {
        let took = Duration::from_secs(u64::try_from((ended - started).num_seconds()).unwrap_or(0));
        cycle.printer.note(&format!(
            "watch: the run took {} and ran past {skipped} scheduled start(s) (every {}); \
             the next at {}",
            humantime::format_duration(took),
            humantime::format_duration(every),
            shown(schedule.next)
        ));
    }
}

/// When what a watch serves turns stale: an interval after the next run was due.
fn stale_after(next: DateTime<Utc>, every: Duration) -> Option<DateTime<Utc>> {
    chrono::Duration::from_std(every)
        .ok()
        .and_then(|every| next.checked_add_signed(every))
}

/// A time as the watch shows it: RFC 3339 in UTC, whole seconds.
fn shown(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One run: `--snapshot`'s exports, the reconciliation, then [`post_run`] into the run's
/// folder. An export that fails is the run's error (in its report), not the watch's end.
fn one_run(cycle: &Cycle<'_>, dir: &Path, known_success: Option<i64>) -> anyhow::Result<Done> {
    let (printer, workers) = (cycle.printer, cycle.workers);
    let mut loaded = Config::load(&cycle.args.config);
    if cycle.args.snapshot
        && let Ok(l) = &loaded
        && let Err(e) =
            super::run::export_sides(l, cycle.args.force, &cycle.args.waits, workers, printer)
    {
        loaded = Err(recon::Error::Invalid(format!("--snapshot: {e:#}")));
    }
    if !cycle.progress.enter(Step::Reconciling) {
        anyhow::bail!("stopped before the reconciliation");
    }
    let out = ReportDir::open(dir).with_context(|| format!("{}", dir.display()))?;
    // Built each run from the config as loaded now, so edited destinations and rotated secrets
    // take effect; what each destination was told lives in the history folder.
    let notifier = loaded
        .as_ref()
        .ok()
        .map(|l| Notifier::new(l, Some(&cycle.settings.history)))
        .transpose();
    let (mut report, notifier) = match (loaded, notifier) {
        (Ok(l), Ok(notifier)) => (
            Reconciler::new(l)
                .with_overrides(cycle.overrides.clone())
                .whole_snapshots(true)
                .run_with_progress(workers, printer),
            notifier
                .map(|n| n.with_reports(cycle.settings.out.join("latest").display().to_string())),
        ),
        (Err(e), _) | (Ok(_), Err(e)) => (Reconciler::failed(&e, &cycle.overrides), None),
    };
    // A stop waits from here on: notifications may go out, so the report is kept.
    cycle.progress.enter(Step::Finishing);
    let steps = PostRun {
        args: &cycle.reconcile,
        out: Some(&out),
        history: Some(&cycle.settings.history),
        known_success,
        notifier: notifier.as_ref(),
    };
    let (metrics, last_success) = post_run(&mut report, &steps, printer, workers);
    Ok(Done {
        report,
        metrics,
        last_success,
        notifier,
    })
}

/// What the server shows after a run.
fn publish(
    cycle: &Cycle<'_>,
    state: &WatchState,
    done: &Done,
    started: DateTime<Utc>,
    next: DateTime<Utc>,
    kept: &Path,
) {
    let stale_after = stale_after(next, cycle.settings.every);
    state.update(|s| {
        s.metrics = Some(done.metrics.clone());
        s.last_run = Some(shown(started));
        s.verdict = Some(done.report.verdict);
        s.next_run = Some(shown(next));
        s.stale_after = stale_after;
        s.report_html = Some(kept.join("report.html"));
    });
}

/// The daily summary is due: every destination gets the last run's summary, whatever changed.
/// A destination that cannot be reached is a warning, as after a run.
fn daily_summary(done: &Done, now: DateTime<Utc>, printer: &Printer) {
    let Some(notifier) = done.notifier.as_ref().filter(|n| !n.is_empty()) else {
        return;
    };
    let outcomes = notifier.summary(&done.report, now);
    let sent = outcomes.iter().filter(|o| o.sent).count();
    super::alert::warn_all(&outcomes, notifier.memory_note());
    printer.note(&format!(
        "watch: daily summary sent to {sent} of {} destination(s)",
        outcomes.len()
    ));
}

#[cfg(feature = "monitor")]
fn serve(
    rt: &tokio::runtime::Runtime,
    cycle: &Cycle<'_>,
    state: &WatchState,
) -> anyhow::Result<()> {
    if let Some(addr) = cycle.settings.listen {
        let bound = recon::watch::serve(rt, addr, state.clone())
            .with_context(|| listen_source(cycle.args))?;
        cycle.printer.note(&format!(
            "watch: serving http://{bound}/metrics, /healthz and /report"
        ));
    }
    Ok(())
}

#[cfg(not(feature = "monitor"))]
fn serve(_: &tokio::runtime::Runtime, _: &Cycle<'_>, _: &WatchState) -> anyhow::Result<()> {
    Ok(())
}

/// Where the address served on came from, for its errors.
fn listen_source(args: &WatchArgs) -> &'static str {
    if args.listen.is_some() {
        "--listen"
    } else {
        "[watch] listen"
    }
}

/// The stop's message; the exit code of a clean stop.
fn stopped(printer: &Printer, mid_run: bool) -> i32 {
    if mid_run {
        printer.note("watch: stopped; the run in progress was abandoned (no report of it is kept)");
    } else {
        printer.note("watch: stopped");
    }
    0
}
