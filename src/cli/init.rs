//! `recon init --legacy ROOT --target ROOT`: a starting `recon.toml` from two snapshots.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use recon::Workers;

use super::printer::Printer;

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
pub fn run(args: &InitArgs, workers: &Workers, printer: &Printer) -> anyhow::Result<i32> {
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
    let text = recon::init::starter_config(&args.legacy, &args.target, &base, workers)?;
    if to_stdout {
        printer.line(text.trim_end());
    } else {
        recon::init::write_config(&args.out, &text)?;
        printer.line(&format!("wrote {}", args.out.display()));
    }
    Ok(0)
}
