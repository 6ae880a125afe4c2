//! `recon history`: the runs kept in a history folder, oldest first.

use std::path::PathBuf;

use clap::Args;
use recon::report::percent;
use recon::{Config, Overrides, RunSettings, Workers};

/// Arguments of `recon history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The history folder (default: the config's `[history] dir`).
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// The config naming the history folder.
    #[arg(short, long, value_name = "FILE", default_value = "recon.toml")]
    pub config: PathBuf,
}

/// Runs `recon history`.
pub fn run(args: &HistoryArgs, workers: &Workers) -> anyhow::Result<i32> {
    // `--history` over the config's `[history] dir`, resolved as a run resolves it.
    let chosen = Overrides {
        history: args.history.clone(),
        ..Overrides::default()
    };
    let loaded = match &args.history {
        Some(_) => None,
        None => Some(Config::load(&args.config)?),
    };
    let settings = RunSettings::resolve(&chosen, loaded.as_ref());
    let Some(dir) = settings.history() else {
        anyhow::bail!(
            "{}: no [history] dir; pass --history DIR",
            args.config.display()
        );
    };
    let listing = recon::history::list(dir, workers)?;
    let runs = listing.runs;
    if runs.is_empty() {
        super::printer::stdout_line(&format!("no runs in {}", listing.shown));
        return Ok(0);
    }
    let tables = recon::history::table_names(&runs);
    let mut header = vec![
        "run".to_owned(),
        "started_at".to_owned(),
        "verdict".to_owned(),
    ];
    header.extend(tables.iter().map(|t| format!("{t} drift")));
    header.push("checks failing".to_owned());
    let mut rows = vec![header];
    for r in &runs {
        let mut row = vec![r.id.clone(), r.started_at.clone(), r.verdict.clone()];
        for t in &tables {
            row.push(
                r.tables
                    .iter()
                    .find(|(n, _, _)| n == t)
                    .map_or("-".into(), |(_, s, d)| format!("{} {s}", percent(*d))),
            );
        }
        row.push(
            r.checks
                .iter()
                .filter(|(_, s)| recon::history::stored_level(s) >= recon::Status::Critical)
                .count()
                .to_string(),
        );
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        super::printer::stdout_line(line.join("  ").trim_end());
    }
    Ok(0)
}
