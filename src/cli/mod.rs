//! The command line: clap definitions here, one module per subcommand (args → settings → run),
//! and a `Printer` that owns stdout (results) and stderr (progress, logs, errors). It is the
//! binary's, not the library's: it reaches the library only through its public API (`recon::`).

pub(crate) mod alert;
pub(crate) mod choices;
pub(crate) mod cluster;
pub(crate) mod demo;
pub(crate) mod diff;
pub(crate) mod floor;
pub(crate) mod generate;
pub(crate) mod history;
pub(crate) mod init;
pub(crate) mod metrics;
pub(crate) mod printer;
pub(crate) mod query;
pub(crate) mod run;
pub(crate) mod snapshot;
pub(crate) mod watch;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// recon: decide whether a database migration is safe to cut over.
#[derive(Debug, Parser)]
#[command(name = "recon", version, about, long_about = None)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Worker threads for hashing and SQL (default: all cores).
    #[arg(short = 'j', long, global = true, env = "RECON_THREADS")]
    pub threads: Option<usize>,
    /// Print only the verdict line and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// No progress bars.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Log filter for stderr (e.g. `debug`, `recon=trace`); also `RUST_LOG`.
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reconcile every table pair of a config.
    Run(run::RunArgs),
    /// Export a live `MariaDB/MySQL` or `PostgreSQL` database to a Parquet snapshot.
    Snapshot(snapshot::SnapshotArgs),
    /// Write a starting recon.toml from two snapshots (pairs, keys, renames, orphan checks).
    Init(init::InitArgs),
    /// Reconcile one table without a config.
    Diff(diff::DiffArgs),
    /// Write a synthetic ERP migration (snapshots, recon.toml, truth.json).
    Gen(generate::GenArgs),
    /// Generate a small migration and reconcile it.
    Demo(demo::DemoArgs),
    /// List the runs kept in a history folder.
    History(history::HistoryArgs),
    /// Reconcile on a schedule: every run's reports kept, metrics served, stopped by SIGTERM.
    Watch(watch::WatchArgs),
    /// Run SQL over both snapshots (legacy.* and target.*), one-shot or at a prompt.
    Query(query::QueryArgs),
    /// Notifications: `recon alert test` sends a test message to every `[[alerts]]` destination.
    Alert(alert::AlertArgs),
    /// The roles of a Ballista cluster that runs recon's work: `scheduler` and `executor`
    /// (builds with the `cluster` feature).
    Cluster(cluster::ClusterArgs),
    /// Load a Parquet snapshot into a database of its own (for the demo and the benchmarks).
    #[command(hide = true, name = "load-db")]
    LoadDb(snapshot::LoadArgs),
    /// Benchmark reference: time to only decode the columns a run reads.
    #[command(hide = true)]
    DecodeFloor(floor::FloorArgs),
}

/// Options shared by the commands that reconcile.
#[derive(Debug, Args, Clone)]
pub struct ReconcileArgs {
    /// Write every format into this folder: report.json, report.md, report.html, report.junit.xml.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// What to print on stdout (repeatable; default: the terminal summary).
    #[arg(long = "format", value_enum, value_name = "FORMAT")]
    pub formats: Vec<choices::FormatChoice>,
    /// Keep a history of runs here (Parquet): trends, and keys new or resolved since the last run.
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// The lowest verdict that exits non-zero: `critical` (exit 1; rollback exits 3) or
    /// `warning` (a warning exits 1 too).
    #[arg(long, value_enum, default_value = "critical")]
    pub fail_on: choices::FailOnChoice,
    /// Write every differing row's key, category and columns to `DIR/<table>.parquet`.
    #[arg(long, value_name = "DIR")]
    pub diff_out: Option<PathBuf>,
    /// Memory for the match structures before they spill to disk (e.g. `512MiB`, `4GiB`); the
    /// pair filter of the hashing pass takes up to a quarter more, or is left out. Default: an
    /// eighth of the memory available (cgroup limits included), 256 MiB to 8 GiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_budget: Option<usize>,
    /// Where the legacy side's column digests come from when a pair's rows differ: `store`
    /// (every legacy row's digests are kept in a temporary file during the pass, a fixed cost,
    /// no second read however dense the drift), `reread` (the legacy rows of changed pairs are
    /// read again after the pass: cost follows the drift, for tables expected to match) or
    /// `auto` (default: per table, `reread` when the history's last run found drift sparse
    /// enough to touch at most a quarter of the legacy pages, else `store`).
    #[arg(long, value_enum, default_value = "auto")]
    pub attribution: choices::AttributionChoice,
    /// Reconcile every pair through the match structure, even pairs whose two sides are in key
    /// order (by default those are merged as a stream: the same report in memory bounded by a
    /// few batches per side).
    #[arg(long)]
    pub no_key_order: bool,
    /// Reconcile on the Ballista cluster of this scheduler (`df://HOST:PORT`; over the
    /// config's `[cluster] url`): the same report. Needs a build with the `cluster` feature.
    #[arg(
        long,
        value_name = "URL",
        env = "RECON_CLUSTER",
        conflicts_with = "local"
    )]
    pub cluster: Option<String>,
    /// Reconcile here, whatever the config's `[cluster]` says.
    #[arg(long)]
    pub local: bool,
    /// Print wall time, rows/s and peak memory to stderr at the end.
    #[arg(long)]
    pub stats: bool,
    /// Prometheus metrics of the run.
    #[command(flatten)]
    pub metrics: metrics::MetricsArgs,
}

/// Parses `512MiB`, `4GiB`, `2GB`, `1000000` (bytes) with `bytesize`: KiB, MiB and GiB are
/// binary, KB, MB and GB decimal.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = text
        .trim()
        .parse()
        .map_err(|e| format!("`{text}` is not a size like 512MiB: {e}"))?;
    usize::try_from(size.as_u64()).map_err(|_| format!("`{text}` is too large"))
}

/// Runs the parsed command; returns the exit code.
pub fn main(cli: &Cli) -> i32 {
    let printer = printer::Printer::new(&cli.global);
    printer::init_logging(cli.global.log.as_deref());
    // Every command's settings resolve in one place: here, the worker threads of the process,
    // made once for the commands that reconcile, export or query.
    let chosen = recon::Overrides {
        threads: cli.global.threads,
        ..recon::Overrides::default()
    };
    let threads = recon::RunSettings::resolve(&chosen, None).threads();
    let workers = || recon::Workers::new(threads).map_err(anyhow::Error::from);
    // A panic is a bug or a decoder meeting corrupt bytes; where it is caught it becomes an
    // error naming what failed, so the hook only logs it (with --log debug).
    std::panic::set_hook(Box::new(|info| {
        tracing::debug!(
            "panic at {:?}: {}",
            info.location(),
            panic_message(info.payload())
        );
    }));
    let dispatched =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &cli.command {
            Command::Run(a) => run::run(a, &workers()?, &printer),
            Command::Diff(a) => diff::run(a, &workers()?, &printer),
            Command::Snapshot(a) => snapshot::run(a, &workers()?, &printer),
            Command::Init(a) => init::run(a, &workers()?, &printer),
            Command::LoadDb(a) => snapshot::load(a, &workers()?, &printer),
            Command::Gen(a) => generate::run(a, &printer),
            Command::Demo(a) => demo::run(a, &workers()?, &printer),
            Command::DecodeFloor(a) => floor::run(a, &workers()?),
            Command::Query(a) => query::run(a, &workers()?),
            Command::History(a) => history::run(a, &workers()?),
            Command::Alert(a) => alert::run(a, &printer),
            Command::Watch(a) => watch::run(a, &workers()?, &printer),
            Command::Cluster(a) => cluster::run(a, &workers()?),
        }));
    // The last line of defence: never exit 101, never without a message.
    let result = dispatched.unwrap_or_else(|panic| {
        Err(anyhow::anyhow!(
            "internal error: {} (please report it)",
            panic_message(panic.as_ref())
        ))
    });
    match result {
        Ok(code) => code,
        // `recon query ... | head`: the reader has what it wanted; nothing failed.
        Err(e) if is_closed_pipe(&e) => 0,
        Err(e) => {
            printer.error(&e);
            2
        }
    }
}

/// The message of a caught panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Whether an error is stdout's reader having gone away. Arrow's CSV and JSON writers keep only
/// the text of the I/O error, so a cause reading "Broken pipe" counts too.
fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}
