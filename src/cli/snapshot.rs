//! `recon snapshot`: export a live database to a Parquet snapshot (`--from URL --out ROOT`), or
//! every side of a config that names a `url` (`--config recon.toml`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

use recon::exporter::{
    DEFAULT_LOCK_TIMEOUT, ExportRequest, Replace, SourceUrl, config_requests, out_folder,
    parse_cast,
};
use recon::report::printable;
use recon::{Config, Workers};

use super::choices::KeyOrderChoice;
use super::printer::Printer;

/// Arguments of `recon snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The database: `postgres://user@host:5432/db` or `mysql://user@host:3306/db`. Passwords
    /// come from `PGPASSWORD`/`~/.pgpass` or `MYSQL_PWD`/`~/.my.cnf` (or the URL).
    #[arg(long, value_name = "URL", conflicts_with = "config", requires = "out")]
    pub from: Option<String>,
    /// The snapshot root to write (a local folder or a `file://` URL); it appears whole when
    /// the export succeeds, or not at all.
    #[arg(long, value_name = "ROOT", conflicts_with = "config")]
    pub out: Option<String>,
    /// Only this table (repeatable; default: every base table).
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,
    /// The `PostgreSQL` schema (default `public`).
    #[arg(long)]
    pub schema: Option<String>,
    /// Export a column of a type recon does not export as text: `table.column=text`
    /// (repeatable; with `--config`, on every side; a side's `casts = ["table.column"]` in the
    /// config does the same).
    #[arg(long = "cast", value_name = "TABLE.COLUMN=text")]
    pub casts: Vec<String>,
    /// Replace what is at the root: a snapshot, or a folder that is not one.
    #[arg(long)]
    pub force: bool,
    /// Export every side of this config that has a `url`, into its `root`.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print wall time, rows/s, MB/s of Parquet written and peak memory to stderr at the end.
    #[arg(long)]
    pub stats: bool,
    /// Which tables are written in primary-key order (recorded in the manifest and the Parquet
    /// files' sorting columns).
    #[arg(long, value_name = "WHICH", value_enum, default_value_t)]
    pub key_order: KeyOrderChoice,
    /// Timeouts.
    #[command(flatten)]
    pub waits: WaitArgs,
}

/// How long an export waits for a server.
#[derive(Debug, Args, Clone, Copy)]
pub struct WaitArgs {
    /// How long connecting to a database may take, its handshake included (`30s`, `500ms`,
    /// `2m`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// How long the export waits for a table's lock (a session altering or truncating it)
    /// before it fails naming the table.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

impl WaitArgs {
    /// Sets the timeouts of export requests.
    pub fn apply(&self, requests: &mut [ExportRequest]) {
        for r in requests {
            r.source.connect_timeout = self.connect_timeout;
            r.lock_timeout = self.lock_timeout;
        }
    }
}

/// Parses `30s`, `500ms`, `2m` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s, 500ms or 2m"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("`{other}` is not a unit (ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is out of range"))
}

/// Arguments of `recon load-db` (the demo's and the benchmarks' loader).
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The snapshot root to load (local Parquet).
    #[arg(long, value_name = "ROOT")]
    pub from: PathBuf,
    /// The database to load it into; it is dropped and made again.
    #[arg(long, value_name = "URL")]
    pub into: String,
}

/// Runs `recon load-db`.
pub fn load(args: &LoadArgs, workers: &Workers, printer: &Printer) -> anyhow::Result<i32> {
    let source = SourceUrl::parse(&args.into)?;
    let (tables, rows) = recon::exporter::load(&args.from, &source, workers)?;
    printer.line(&format!(
        "loaded {tables} tables, {rows} rows into {source}"
    ));
    Ok(0)
}

/// Runs `recon snapshot`.
pub fn run(args: &SnapshotArgs, workers: &Workers, printer: &Printer) -> anyhow::Result<i32> {
    let casts = args
        .casts
        .iter()
        .map(|c| parse_cast(c).with_context(|| format!("--cast {c}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let replace = if args.force {
        Replace::Anything
    } else {
        Replace::Nothing
    };
    let mut requests = if let Some(path) = &args.config {
        let loaded = Config::load(path)?;
        let mut requests = config_requests(&loaded, replace, workers.threads())?;
        // A `--cast` holds for every side exported (a side without the column ignores it).
        for r in &mut requests {
            r.casts.extend(casts.iter().cloned());
            r.key_order = args.key_order.into();
        }
        requests
    } else {
        let (Some(from), Some(out)) = (&args.from, &args.out) else {
            bail!("give --from URL --out ROOT, or --config recon.toml");
        };
        vec![ExportRequest {
            source: SourceUrl::parse(from)?,
            out: out_folder(out, Path::new("")).context("--out")?,
            tables: args.tables.clone(),
            schema: args.schema.clone(),
            casts,
            jobs: workers.threads(),
            replace,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            key_order: args.key_order.into(),
            keys: std::collections::BTreeMap::new(),
        }]
    };
    args.waits.apply(&mut requests);
    if requests.is_empty() {
        bail!("no side of the config has a `url` to export from");
    }
    let clock = Instant::now();
    let mut rows = 0;
    let mut bytes = 0;
    for r in &requests {
        let (r, b) = export(r, workers, printer)?;
        rows += r;
        bytes += b;
    }
    if args.stats {
        let secs = clock.elapsed().as_secs_f64().max(1e-9);
        #[allow(clippy::cast_precision_loss)]
        let (rate, mbs) = (rows as f64 / secs, bytes as f64 / secs / 1e6);
        eprintln!(
            "stats: {rows} rows in {secs:.2} s ({rate:.0} rows/s, {mbs:.1} MB/s of Parquet), peak RSS {} MiB",
            super::printer::peak_rss().unwrap_or(0) >> 20
        );
    }
    Ok(0)
}

/// Exports one database and prints what was written; returns the rows and bytes.
pub fn export(
    r: &ExportRequest,
    workers: &Workers,
    printer: &Printer,
) -> anyhow::Result<(u64, u64)> {
    let clock = Instant::now();
    printer.note(&format!("snapshot {} → {}", r.source, r.out.display()));
    let manifest = recon::exporter::export(r, workers, &printer.export_bars())?;
    let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    let bytes: u64 = manifest.tables.iter().map(|t| t.bytes).sum();
    for t in &manifest.tables {
        let zero: u64 = t.zero_dates.values().sum();
        let locked = match (&t.engine, t.consistency.as_deref()) {
            (Some(engine), Some("read lock")) => {
                format!(" ({engine}, no transactions: read under the global read lock)")
            }
            _ => String::new(),
        };
        printer.note(&format!(
            "  {}: {} rows, {}{}{locked}",
            printable(&t.name),
            t.rows,
            bytesize::ByteSize::b(t.bytes).display().iec(),
            if zero > 0 {
                format!(" ({zero} zero dates written as NULL)")
            } else {
                String::new()
            }
        ));
    }
    for t in &manifest.skipped {
        printer.note(&format!(
            "  warning: table `{}` not exported: {}",
            t.name, t.reason
        ));
    }
    let secs = clock.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = rows as f64 / secs.max(1e-9);
    printer.line(&format!(
        "snapshot {}: {} tables, {rows} rows, {} in {secs:.2} s ({rate:.0} rows/s)",
        r.out.display(),
        manifest.tables.len(),
        bytesize::ByteSize::b(bytes).display().iec(),
    ));
    Ok((rows, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_documented() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_mins(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 fortnights").is_err());
    }
}
