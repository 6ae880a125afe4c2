//! `recon snapshot`: export a live database to a Parquet snapshot (`--from URL --out ROOT`), or
//! every side of a config that names a `url` (`--config recon.toml`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use super::printer::Printer;
use crate::config::{Config, LoadedConfig};
use crate::export::{ExportRequest, SourceUrl};
use crate::side::Side;

/// Arguments of `recon snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The database: `postgres://user@host:5432/db` or `mysql://user@host:3306/db`. Passwords
    /// come from `PGPASSWORD`/`~/.pgpass` or `MYSQL_PWD`/`~/.my.cnf` (or the URL).
    #[arg(long, value_name = "URL", conflicts_with = "config", requires = "out")]
    pub from: Option<String>,
    /// The snapshot root to write; it appears whole when the export succeeds, or not at all.
    #[arg(long, value_name = "ROOT", conflicts_with = "config")]
    pub out: Option<PathBuf>,
    /// Only this table (repeatable; default: every base table).
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,
    /// The `PostgreSQL` schema (default `public`).
    #[arg(long)]
    pub schema: Option<String>,
    /// Export a column of a type recon does not export as text: `table.column=text`
    /// (repeatable).
    #[arg(long = "cast", value_name = "TABLE.COLUMN=text")]
    pub casts: Vec<String>,
    /// Replace a snapshot already at the root.
    #[arg(long)]
    pub force: bool,
    /// Export every side of this config that has a `url`, into its `root`.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print wall time, rows/s, MB/s of Parquet written and peak memory to stderr at the end.
    #[arg(long)]
    pub stats: bool,
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
pub fn load(
    args: &LoadArgs,
    engine: &crate::engine::Engine,
    printer: &Printer,
) -> anyhow::Result<i32> {
    let source = SourceUrl::parse(&args.into)?;
    let (tables, rows) = crate::export::load::load(&args.from, &source, engine)?;
    printer.line(&format!(
        "loaded {tables} tables, {rows} rows into {source}"
    ));
    Ok(0)
}

/// Runs `recon snapshot`.
pub fn run(
    args: &SnapshotArgs,
    engine: &crate::engine::Engine,
    printer: &Printer,
) -> anyhow::Result<i32> {
    let casts = args
        .casts
        .iter()
        .map(|c| match c.rsplit_once('=') {
            Some((column, to)) if to.eq_ignore_ascii_case("text") && !column.is_empty() => {
                Ok(column.to_owned())
            }
            _ => bail!("--cast {c}: expected table.column=text"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let requests = if let Some(path) = &args.config {
        let loaded = Config::load(path)?;
        config_requests(&loaded, args.force, engine.threads())?
    } else {
        let (Some(from), Some(out)) = (&args.from, &args.out) else {
            bail!("give --from URL --out ROOT, or --config recon.toml");
        };
        vec![ExportRequest {
            source: SourceUrl::parse(from)?,
            out: out.clone(),
            tables: args.tables.clone(),
            schema: args.schema.clone(),
            casts,
            jobs: engine.threads(),
            force: args.force,
        }]
    };
    if requests.is_empty() {
        bail!("no side of the config has a `url` to export from");
    }
    let clock = Instant::now();
    let mut rows = 0;
    let mut bytes = 0;
    for r in &requests {
        let (r, b) = export(r, engine, printer)?;
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

/// One export per side of a config that names a `url`: the config's tables of that side (every
/// table when a pair reads the side through SQL), written to the side's root.
pub fn config_requests(
    loaded: &LoadedConfig,
    force: bool,
    jobs: usize,
) -> anyhow::Result<Vec<ExportRequest>> {
    let mut out = Vec::new();
    for side in Side::BOTH {
        let s = match side {
            Side::Legacy => &loaded.config.legacy,
            Side::Target => &loaded.config.target,
        };
        let Some(url) = &s.url else { continue };
        let source = SourceUrl::parse(url).with_context(|| format!("[{side}] url"))?;
        let by_sql = loaded.config.tables.iter().any(|t| match side {
            Side::Legacy => t.legacy_sql.is_some(),
            Side::Target => t.target_sql.is_some(),
        });
        let tables = if by_sql {
            Vec::new()
        } else {
            loaded
                .config
                .tables
                .iter()
                .map(|t| match side {
                    Side::Legacy => t.legacy_table().to_owned(),
                    Side::Target => t.target_table().to_owned(),
                })
                .collect()
        };
        out.push(ExportRequest {
            source,
            out: loaded.base_dir.join(&s.root),
            tables,
            schema: s.schema.clone(),
            casts: Vec::new(),
            jobs,
            force,
        });
    }
    Ok(out)
}

/// Exports one database and prints what was written; returns the rows and bytes.
pub fn export(
    r: &ExportRequest,
    engine: &crate::engine::Engine,
    printer: &Printer,
) -> anyhow::Result<(u64, u64)> {
    let clock = Instant::now();
    printer.note(&format!("snapshot {} → {}", r.source, r.out.display()));
    let manifest = crate::export::export(r, engine, &printer.export_bars())?;
    let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    let bytes: u64 = manifest.tables.iter().map(|t| t.bytes).sum();
    for t in &manifest.tables {
        let zero: u64 = t.zero_dates.values().sum();
        printer.note(&format!(
            "  {}: {} rows, {}{}",
            crate::report::escape::printable(&t.name),
            t.rows,
            bytesize::ByteSize::b(t.bytes).display().iec(),
            if zero > 0 {
                format!(" ({zero} zero dates written as NULL)")
            } else {
                String::new()
            }
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
