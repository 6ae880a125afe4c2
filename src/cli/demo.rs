//! `recon demo`: generate a small ERP migration and reconcile it. Everything stays in the folder
//! (snapshots, `recon.toml`, `truth.json`, `report.json`) so the user can rerun and explore. The
//! demo's gate fails on purpose; the command exits 0 when it ran.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::ReconcileArgs;
use super::printer::Printer;
use crate::config::Config;
use crate::synth::{GenOptions, Profile, generate};

/// Arguments of `recon demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo (default: a new folder under the system temp folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Service orders to generate.
    #[arg(long, default_value_t = 20_000)]
    pub rows: u64,
}

/// Runs `recon demo`.
pub fn run(
    args: &DemoArgs,
    engine: &crate::engine::Engine,
    printer: &Printer,
) -> anyhow::Result<i32> {
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
    let reconcile = ReconcileArgs {
        out: Some(dir.clone()),
        formats: Vec::new(),
        history: None,
        fail_on: super::choices::FailOnChoice::Fail,
        diff_out: Some(dir.join("diff")),
        memory_budget: 768 << 20,
        stats: false,
    };
    let code = super::run::execute(
        &Config::load(&dir.join("recon.toml")),
        &reconcile,
        Vec::new(),
        engine,
        printer,
    )?;
    printer.note(&format!(
        "\nThe gate {} as planted: compare with {}/truth.json.\nRerun: recon run --config {}/recon.toml --out {}",
        if code == 1 { "failed" } else { "did not fail" },
        dir.display(),
        dir.display(),
        dir.display()
    ));
    Ok(if code == 2 { 2 } else { 0 })
}
