//! `recon init --legacy ROOT --target ROOT`: a starting `recon.toml` from two snapshots.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Args;

use super::printer::Printer;
use crate::init::{SideInfo, TableInfo};
use crate::side::Side;
use crate::snapshot::Snapshot;

/// Arguments of `recon init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The legacy snapshot root.
    #[arg(long, value_name = "ROOT")]
    pub legacy: String,
    /// The target snapshot root.
    #[arg(long, value_name = "ROOT")]
    pub target: String,
    /// Where to write the config (`-` for stdout).
    #[arg(long, value_name = "FILE", default_value = "recon.toml")]
    pub out: PathBuf,
    /// Replace an existing config.
    #[arg(long)]
    pub force: bool,
}

/// Runs `recon init`.
pub fn run(
    args: &InitArgs,
    workers: &crate::pool::Workers,
    printer: &Printer,
) -> anyhow::Result<i32> {
    let to_stdout = args.out.as_os_str() == "-";
    if !to_stdout && args.out.exists() && !args.force {
        bail!("{} exists; pass --force to replace it", args.out.display());
    }
    // Roots are written relative to the config's folder when they are local paths.
    let base = if to_stdout {
        std::env::current_dir()?
    } else {
        args.out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(std::env::current_dir, |p| Ok(p.to_path_buf()))?
    };
    let legacy = side(Side::Legacy, &args.legacy, &base, workers)?;
    let target = side(Side::Target, &args.target, &base, workers)?;
    let text = crate::init::config(&legacy, &target);
    if to_stdout {
        printer.line(text.trim_end());
    } else {
        crate::atomic::write_bytes(&args.out, text.as_bytes())?;
        printer.line(&format!("wrote {}", args.out.display()));
    }
    Ok(0)
}

fn side(
    side: Side,
    root: &str,
    base: &Path,
    workers: &crate::pool::Workers,
) -> anyhow::Result<SideInfo> {
    let cwd = std::env::current_dir()?;
    let snapshot = Snapshot::open(side, root, &cwd, workers.runtime())?;
    let manifest = snapshot.manifest().cloned();
    let mut tables = Vec::new();
    let names: Vec<String> = snapshot.table_names().map(str::to_owned).collect();
    for name in names {
        let (schema, _) = workers.runtime().block_on(snapshot.table_schema(&name))?;
        let from_manifest = manifest
            .as_ref()
            .and_then(|m| m.tables.iter().find(|t| t.name == name));
        tables.push(TableInfo {
            columns: schema
                .fields()
                .iter()
                .map(|f| {
                    let source = from_manifest.and_then(|t| {
                        t.columns
                            .iter()
                            .find(|c| &c.name == f.name())
                            .map(|c| c.source_type.clone())
                    });
                    (f.name().clone(), f.data_type().clone(), source)
                })
                .collect(),
            primary_key: from_manifest
                .map(|t| t.primary_key.clone())
                .unwrap_or_default(),
            foreign_keys: from_manifest
                .map(|t| t.foreign_keys.clone())
                .unwrap_or_default(),
            name,
        });
    }
    // A local root is written relative to the config's folder.
    let abs = cwd.join(root);
    let root_text = match abs.canonicalize().ok().zip(base.canonicalize().ok()) {
        Some((r, b)) => r
            .strip_prefix(&b)
            .map_or_else(|_| r.display().to_string(), |p| p.display().to_string()),
        None => root.to_owned(),
    };
    Ok(SideInfo {
        root: root_text,
        tables,
        manifest,
    })
}
