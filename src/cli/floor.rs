//! `recon decode-floor`: the benchmark's reference point — the time to merely decode both sides'
//! needed columns once with the same reader a run uses.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use recon::{Config, Workers};

use super::printer::peak_rss;

/// Arguments of `recon decode-floor`.
#[derive(Debug, Args)]
pub struct FloorArgs {
    /// The config file.
    #[arg(short, long, value_name = "FILE", default_value = "recon.toml")]
    pub config: PathBuf,
}

/// Runs `recon decode-floor`.
pub fn run(args: &FloorArgs, workers: &Workers) -> anyhow::Result<i32> {
    let loaded = Config::load(&args.config)?;
    let plans = recon::bench_api::resolve(&loaded, workers)?;
    let clock = Instant::now();
    let rows = recon::bench_api::decode_floor(&plans, workers)?;
    let secs = clock.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rss = peak_rss().map_or(0.0, |b| b as f64 / f64::from(1 << 20));
    #[allow(clippy::cast_precision_loss)]
    let rate = rows as f64 / secs.max(1e-9);
    super::printer::stdout_line(&format!(
        "decode floor: {rows} rows in {secs:.2} s = {rate:.0} rows/s, peak RSS {rss:.0} MiB"
    ));
    Ok(0)
}
