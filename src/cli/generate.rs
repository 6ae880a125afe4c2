//! `recon gen`: write a synthetic migration (snapshots, `recon.toml`, `truth.json`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use recon::demo::{GenOptions, generate};

use super::choices::ProfileChoice;
use super::printer::Printer;

/// Arguments of `recon gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Output folder (created).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Service orders to generate (other tables scale from it).
    #[arg(long, default_value_t = 10_000)]
    pub rows: u64,
    /// Seed of every generated value.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Which data set.
    #[arg(long, value_enum, default_value = "erp")]
    pub profile: ProfileChoice,
    /// Rows per Parquet row group.
    #[arg(long, default_value_t = 1 << 20)]
    pub row_group: usize,
    /// Write into a folder that is not empty (files of the same names are replaced).
    #[arg(long)]
    pub force: bool,
}

/// Runs `recon gen`.
pub fn run(args: &GenArgs, printer: &Printer) -> anyhow::Result<i32> {
    let opts = GenOptions {
        rows: args.rows,
        seed: args.seed,
        profile: args.profile.into(),
        row_group: args.row_group.max(1),
    };
    let occupied = std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_some());
    if occupied && !args.force {
        anyhow::bail!(
            "--out {}: the folder is not empty; choose an empty one, or --force to write over it",
            args.out.display()
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let truth = generate(&args.out, &opts)?;
    for (table, t) in &truth.tables {
        printer.note(&format!(
            "{table}: legacy {} rows, target {} rows; planted {} changed, {} missing, {} extra",
            t.legacy_rows, t.target_rows, t.changed, t.missing, t.extra
        ));
    }
    printer.note(&format!(
        "wrote {}/{{legacy,target,recon.toml,truth.json}}",
        args.out.display()
    ));
    Ok(0)
}
