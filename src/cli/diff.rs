//! `recon diff LEGACY TARGET --key id`: one table without a config. Each side is a Parquet file
//! or a folder of them; the rest works exactly as `recon run`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use recon::config::{
    ColumnOptions, Config, GateConfig, LoadedConfig, ReportConfig, SnapshotConfig, TableConfig,
    table_root,
};
use recon::{Error, Workers};

use super::ReconcileArgs;
use super::printer::Printer;

/// Arguments of `recon diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The legacy table: `orders.parquet` or a folder of Parquet files.
    pub legacy: PathBuf,
    /// The target table.
    pub target: PathBuf,
    /// Key column (repeat for a composite key).
    #[arg(short, long = "key", value_name = "COLUMN", required = true)]
    pub key: Vec<String>,
    /// A renamed column, `legacy_name=target_name` (repeatable).
    #[arg(long, value_name = "OLD=NEW")]
    pub rename: Vec<String>,
    /// A column to leave out (repeatable).
    #[arg(long, value_name = "COLUMN")]
    pub ignore: Vec<String>,
    /// Reconcile options.
    #[command(flatten)]
    pub reconcile: ReconcileArgs,
}

/// Runs `recon diff`.
pub fn run(args: &DiffArgs, workers: &Workers, printer: &Printer) -> anyhow::Result<i32> {
    super::run::execute(
        quick_config(args),
        &args.reconcile,
        Vec::new(),
        false,
        workers,
        printer,
    )
}

fn quick_config(args: &DiffArgs) -> recon::Result<LoadedConfig> {
    let (legacy_root, legacy_table) = table_root(&args.legacy)?;
    let (target_root, target_table) = table_root(&args.target)?;
    let mut rename = BTreeMap::new();
    for r in &args.rename {
        let (from, to) = r.split_once('=').ok_or_else(|| {
            Error::Invalid(format!("--rename `{r}`: expected legacy_name=target_name"))
        })?;
        rename.insert(from.trim().to_owned(), to.trim().to_owned());
    }
    let config = Config {
        legacy: SnapshotConfig {
            root: legacy_root,
            url: None,
            schema: None,
            casts: Vec::new(),
        },
        target: SnapshotConfig {
            root: target_root,
            url: None,
            schema: None,
            casts: Vec::new(),
        },
        defaults: ColumnOptions::default(),
        gate: GateConfig::default(),
        report: ReportConfig::default(),
        tables: vec![TableConfig {
            name: legacy_table.clone(),
            legacy: Some(legacy_table),
            target: Some(target_table),
            legacy_sql: None,
            target_sql: None,
            key: args.key.clone(),
            rename,
            ignore: args.ignore.clone(),
            redact: Vec::new(),
            columns: BTreeMap::new(),
            gate: GateConfig::default(),
        }],
        checks: Vec::new(),
        golden: None,
        history: None,
        alerts: Vec::new(),
        watch: None,
        cluster: None,
    };
    let identity = format!(
        "{:?}",
        (
            &args.legacy,
            &args.target,
            &args.key,
            &args.rename,
            &args.ignore
        )
    );
    LoadedConfig::from_config(
        config,
        PathBuf::from("<recon diff>"),
        PathBuf::from("."),
        identity.as_bytes(),
    )
}
