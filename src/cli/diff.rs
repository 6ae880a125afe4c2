//! `recon diff LEGACY TARGET --key id`: one table without a config. Each side is a Parquet file
//! or a folder of them; the rest works exactly as `recon run`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::ReconcileArgs;
use super::printer::Printer;
use crate::config::{
    ColumnOptions, Config, LoadedConfig, ReportConfig, SnapshotConfig, TableConfig, digest_hex,
};
use crate::error::Error;
use crate::gate::GateConfig;

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
pub fn run(
    args: &DiffArgs,
    workers: &crate::pool::Workers,
    printer: &Printer,
) -> anyhow::Result<i32> {
    super::run::execute(
        quick_config(args),
        &args.reconcile,
        Vec::new(),
        false,
        workers,
        printer,
    )
}

/// Splits a table path into its snapshot root and table name.
fn root_and_table(path: &Path) -> crate::Result<(String, String)> {
    let bad = |m: &str| Error::Invalid(format!("{}: {m}", path.display()));
    let text = path.to_string_lossy();
    if crate::store::is_remote(&text) {
        // `s3://bucket/prefix/table.parquet` or `.../table/`: the root is the folder above.
        let trimmed = text.trim_end_matches('/');
        let (root, name) = trimmed
            .rsplit_once('/')
            .filter(|(root, name)| {
                !name.is_empty() && root.find("://").is_some_and(|i| root.len() > i + 3)
            })
            .ok_or_else(|| bad("expected a URL of a table: scheme://bucket/.../table[.parquet]"))?;
        let table = name.strip_suffix(".parquet").unwrap_or(name);
        return Ok((format!("{root}/"), table.to_owned()));
    }
    let meta = std::fs::metadata(path).map_err(|e| bad(&e.to_string()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("has no file name"))?;
    let table = if meta.is_file() {
        name.strip_suffix(".parquet")
            .ok_or_else(|| bad("is not a .parquet file"))?
            .to_owned()
    } else {
        name.to_owned()
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let root = parent.canonicalize().map_err(|e| bad(&e.to_string()))?;
    Ok((root.display().to_string(), table))
}

fn quick_config(args: &DiffArgs) -> crate::Result<LoadedConfig> {
    let (legacy_root, legacy_table) = root_and_table(&args.legacy)?;
    let (target_root, target_table) = root_and_table(&args.target)?;
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
    };
    config.validate().map_err(Error::Options)?;
    let digest = digest_hex(
        format!(
            "{:?}",
            (
                &args.legacy,
                &args.target,
                &args.key,
                &args.rename,
                &args.ignore
            )
        )
        .as_bytes(),
    );
    Ok(LoadedConfig {
        config,
        path: PathBuf::from("<recon diff>"),
        base_dir: PathBuf::from("."),
        check_lines: Vec::new(),
        digest,
    })
}
