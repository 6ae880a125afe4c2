//! `recon demo`: generate a small ERP migration and reconcile it. Everything stays in the folder
//! (snapshots, `recon.toml`, `truth.json`, `report.json`) so the user can rerun and explore. The
//! demo's gate fails on purpose; the command exits 0 when it ran.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use recon::demo::{GenOptions, Profile, generate};
use recon::exporter::{ExportRequest, SourceUrl};
use recon::{Config, Workers};

use super::ReconcileArgs;
use super::printer::Printer;

/// Arguments of `recon demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo (default: a new folder under the system temp folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Service orders to generate.
    #[arg(long, default_value_t = 20_000)]
    pub rows: u64,
    /// Load the migration into the local `MariaDB` (legacy) and `PostgreSQL` (target), in databases
    /// of the demo's own (dropped and made again), export both with `recon snapshot`, and
    /// reconcile those snapshots: the same planted drift as from the generated Parquet.
    #[arg(long)]
    pub databases: bool,
    /// The legacy database for `--databases`.
    #[arg(
        long,
        value_name = "URL",
        default_value = "mysql://root@127.0.0.1:3306/recon_demo"
    )]
    pub legacy_url: String,
    /// The target database for `--databases`.
    #[arg(
        long,
        value_name = "URL",
        default_value = "postgres://postgres@127.0.0.1:5432/recon_demo"
    )]
    pub target_url: String,
}

/// Runs `recon demo`.
pub fn run(args: &DemoArgs, workers: &Workers, printer: &Printer) -> anyhow::Result<i32> {
    let dir = match &args.out {
        Some(d) => d.clone(),
        None => tempfile::Builder::new()
            .prefix("recon-demo-")
            .tempdir()
            .context("creating a temp folder")?
            .keep(),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    printer.note(&format!(
        "generating a workshop ERP migration in {}",
        dir.display()
    ));
    generate(
        &dir,
        &GenOptions {
            rows: args.rows,
            seed: 42,
            profile: Profile::Erp,
            row_group: 8192,
        },
    )?;
    let config = if args.databases {
        through_databases(args, &dir, workers, printer)?
    } else {
        dir.join("recon.toml")
    };
    let reconcile = ReconcileArgs {
        out: Some(dir.clone()),
        formats: Vec::new(),
        history: None,
        fail_on: super::choices::FailOnChoice::Critical,
        diff_out: Some(dir.join("diff")),
        memory_budget: None,
        attribution: super::choices::AttributionChoice::Store,
        no_key_order: false,
        cluster: None,
        local: true,
        stats: false,
        metrics: super::metrics::MetricsArgs::default(),
    };
    let code = super::run::execute(
        Config::load(&config),
        &reconcile,
        Vec::new(),
        true,
        workers,
        printer,
    )?;
    printer.note(&format!(
        "\nThe gate {} as planted: compare with {}/truth.json.\nRerun: recon run --config {} --out {}",
        if matches!(code, 1 | 3) { "failed" } else { "did not fail" },
        dir.display(),
        config.display(),
        dir.display()
    ));
    Ok(if code == 2 { 2 } else { 0 })
}

/// Loads both generated snapshots into the databases, exports them with `recon snapshot` into
/// `db-legacy/` and `db-target/`, and writes `recon-databases.toml`: the demo's config reading
/// those snapshots (and naming the databases, for `recon run --snapshot`).
fn through_databases(
    args: &DemoArgs,
    dir: &std::path::Path,
    workers: &Workers,
    printer: &Printer,
) -> anyhow::Result<PathBuf> {
    // Both servers' clients before either database is touched.
    for url in [&args.legacy_url, &args.target_url] {
        SourceUrl::parse(url)?.require_exporter()?;
    }
    let mut text = std::fs::read_to_string(dir.join("recon.toml"))?;
    for (side, url) in [("legacy", &args.legacy_url), ("target", &args.target_url)] {
        let source = SourceUrl::parse(url)?;
        let (tables, rows) = recon::exporter::load(&dir.join(side), &source, workers)?;
        printer.note(&format!(
            "loaded {tables} tables, {rows} rows into {source}"
        ));
        super::snapshot::export(
            &ExportRequest {
                source,
                out: dir.join(format!("db-{side}")),
                tables: Vec::new(),
                schema: None,
                casts: Vec::new(),
                jobs: workers.threads(),
                replace: recon::exporter::Replace::Snapshot,
                lock_timeout: recon::exporter::DEFAULT_LOCK_TIMEOUT,
                key_order: recon::exporter::KeyOrdering::default(),
                keys: std::collections::BTreeMap::new(),
            },
            workers,
            printer,
        )?;
        let from = format!("[{side}]\nroot = \"{side}\"\n");
        anyhow::ensure!(text.contains(&from), "the demo config has no `{from}`");
        text = text.replace(
            &from,
            &format!(
                "[{side}]\nroot = \"db-{side}\"\nurl = {}\n",
                toml::Value::String(url.clone())
            ),
        );
    }
    let path = dir.join("recon-databases.toml");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
