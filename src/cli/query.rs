//! `recon query`: SQL over both snapshots at once, one-shot or at an interactive prompt.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use clap::Args;
use recon::query::{Golden, QueryResult, QuerySession, format};
use recon::report::printable_lines;
use recon::{Config, LoadedConfig, PerSide, Workers};

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned table (default on a terminal).
    Table,
    /// CSV with a header (default otherwise).
    Csv,
    /// One JSON object per row.
    Jsonl,
    /// A Parquet file (needs `--output`).
    Parquet,
}

/// Arguments of `recon query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The statement to run (or `--file`, or standard input; none on a terminal opens a prompt).
    pub statement: Option<String>,
    /// A config naming both snapshot roots (default `recon.toml` when no roots are given).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The legacy snapshot root (instead of a config).
    #[arg(long, value_name = "ROOT", requires = "target")]
    pub legacy: Option<String>,
    /// The target snapshot root (instead of a config).
    #[arg(long, value_name = "ROOT", requires = "legacy")]
    pub target: Option<String>,
    /// Read the statement from a file.
    #[arg(short, long, value_name = "FILE", conflicts_with = "statement")]
    pub file: Option<PathBuf>,
    /// Output format (default: table on a terminal, CSV otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the result to a file (required for Parquet).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rows an aligned table shows at most.
    #[arg(long, default_value_t = 200)]
    pub max_rows: usize,
    /// Run a configured golden query on both sides and show the results side by side.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["statement", "file"])]
    pub golden: Option<String>,
    /// Open the prompt even when standard input is not a terminal (statements read line by line).
    #[arg(short, long)]
    pub interactive: bool,
    /// History file of the prompt (default `~/.recon_history`).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Run the statements on a recon cluster (its scheduler, `df://HOST:PORT`): planned here,
    /// run there. Its executors must see both snapshot roots at the same paths or URLs (builds
    /// with the `cluster` feature).
    #[arg(long, value_name = "URL", conflicts_with = "golden")]
    pub cluster: Option<String>,
}

/// Runs `recon query`.
pub fn run(args: &QueryArgs, workers: &Workers) -> anyhow::Result<i32> {
    #[cfg(not(feature = "cluster"))]
    if args.cluster.is_some() {
        return Err(super::cluster::not_built("--cluster"));
    }
    let (roots, base, config) = if let (Some(l), Some(t)) = (&args.legacy, &args.target) {
        (
            PerSide::new(l.clone(), t.clone()),
            std::env::current_dir()?,
            None,
        )
    } else {
        let path = args
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("recon.toml"));
        let loaded = Config::load(&path)?;
        let roots = PerSide::new(
            loaded.config.legacy.root.clone(),
            loaded.config.target.root.clone(),
        );
        (roots, loaded.base_dir.clone(), Some(loaded))
    };
    let session = QuerySession::open(&roots, &base, workers)?;
    #[cfg(feature = "cluster")]
    let session = match &args.cluster {
        Some(url) => {
            let client = recon::cluster::Client::connect(&url.parse()?, workers)?;
            session.on_cluster(client)
        }
        None => session,
    };
    if let Some(out) = &args.output {
        session.refuse_outputs(&[("--output", out.as_path())])?;
    }
    if let Some(name) = &args.golden {
        let Some(loaded) = &config else {
            bail!("--golden needs a config with a [golden] dir")
        };
        return golden_side_by_side(&session, loaded, name);
    }
    let statement = match (&args.statement, &args.file) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(f)) => {
            Some(std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?)
        }
        (None, None) if !args.interactive && !std::io::stdin().is_terminal() => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the statement from standard input")?;
            Some(s)
        }
        (None, None) => None,
    };
    match statement {
        Some(s) => one_shot(&session, &s, args),
        None => prompt(&session, args),
    }
}

fn one_shot(session: &QuerySession, statement: &str, args: &QueryArgs) -> anyhow::Result<i32> {
    let result = match session.run(statement) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", printable_lines(&e.chain()));
            return Ok(2);
        }
    };
    let terminal = std::io::stdout().is_terminal() && args.output.is_none();
    let format = args
        .format
        .unwrap_or(if terminal { Format::Table } else { Format::Csv });
    write_result(&result, format, args.output.as_deref(), args.max_rows)?;
    Ok(0)
}

fn write_result(
    r: &QueryResult,
    format: Format,
    output: Option<&std::path::Path>,
    max_rows: usize,
) -> anyhow::Result<()> {
    let mut sink: Box<dyn Write> = match output {
        Some(p) if format != Format::Parquet => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        _ => Box::new(std::io::stdout().lock()),
    };
    let written = match format {
        Format::Table => sink
            .write_all(format::table(&r.schema, &r.batches, max_rows)?.as_bytes())
            .map_err(Into::into),
        Format::Csv => format::csv(&r.batches, &mut sink).map_err(anyhow::Error::from),
        Format::Jsonl => format::jsonl(&r.batches, &mut sink).map_err(anyhow::Error::from),
        Format::Parquet => {
            let Some(path) = output else {
                bail!("--format parquet needs --output FILE")
            };
            format::parquet(&r.schema, &r.batches, path)?;
            Ok(())
        }
    };
    match written {
        // A closed pipe (`recon query ... | head`) is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

const HELP: &str = "\\d            list tables (both sides, rows from the footers)\n\\d TABLE      describe a table (legacy.t, target.t or t)\n\\q            quit\nStatements end with `;` and may span lines. Tables: legacy.<name>, target.<name>.";

fn prompt(session: &QuerySession, args: &QueryArgs) -> anyhow::Result<i32> {
    let terminal = std::io::stdin().is_terminal();
    let mut out = std::io::stdout();
    let mut buffer = String::new();
    let handle =
        |line: &str, buffer: &mut String, out: &mut std::io::Stdout| -> anyhow::Result<bool> {
            let trimmed = line.trim();
            if buffer.is_empty() && trimmed.starts_with('\\') {
                return command(session, trimmed, out);
            }
            if buffer.is_empty() && trimmed.is_empty() {
                return Ok(true);
            }
            buffer.push_str(line);
            buffer.push('\n');
            if !trimmed.ends_with(';') {
                return Ok(true);
            }
            let statement = std::mem::take(buffer);
            match session.run(statement.trim().trim_end_matches(';')) {
                Ok(r) => {
                    let _ = out
                        .write_all(format::table(&r.schema, &r.batches, args.max_rows)?.as_bytes());
                    let _ = writeln!(out, "Time: {:.3}s", r.elapsed.as_secs_f64());
                }
                Err(e) => {
                    let _ = writeln!(out, "error: {}", e.chain());
                }
            }
            Ok(true)
        };
    if terminal {
        let mut editor = rustyline::DefaultEditor::new().context("starting the line editor")?;
        let history = args
            .history
            .clone()
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".recon_history")));
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        super::printer::stdout_line(
            "recon query: legacy.* and target.* are both here. \\? for help, \\q to quit.",
        );
        loop {
            let prompt = if buffer.is_empty() {
                "recon> "
            } else {
                "   ..> "
            };
            match editor.readline(prompt) {
                Ok(line) => {
                    let _ = editor.add_history_entry(line.as_str());
                    if !handle(&line, &mut buffer, &mut out)? {
                        break;
                    }
                }
                Err(rustyline::error::ReadlineError::Interrupted) => buffer.clear(),
                Err(_) => break,
            }
        }
        if let Some(h) = &history {
            let _ = editor.save_history(h);
        }
    } else {
        for line in std::io::stdin().lock().lines() {
            if !handle(
                &line.context("reading standard input")?,
                &mut buffer,
                &mut out,
            )? {
                break;
            }
        }
    }
    Ok(0)
}

/// A backslash command; `false` means quit.
fn command(session: &QuerySession, text: &str, out: &mut std::io::Stdout) -> anyhow::Result<bool> {
    let mut parts = text.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("\\q"), _) => return Ok(false),
        (Some("\\?" | "\\h"), _) => {
            let _ = writeln!(out, "{HELP}");
        }
        (Some("\\d"), None) => match session.tables() {
            Ok(tables) => {
                let rows: Vec<[String; 4]> = tables
                    .iter()
                    .map(|t| {
                        [
                            format!("{}.{}", t.side, t.name),
                            t.rows.to_string(),
                            t.files.to_string(),
                            t.columns.len().to_string(),
                        ]
                    })
                    .collect();
                let _ =
                    out.write_all(grid(&["table", "rows", "files", "columns"], &rows)?.as_bytes());
            }
            Err(e) => {
                let _ = writeln!(out, "error: {}", e.chain());
            }
        },
        (Some("\\d"), Some(name)) => match session.describe(name) {
            Ok(tables) => {
                for t in tables {
                    let _ = writeln!(
                        out,
                        "{}.{}: {} rows in {} file(s)",
                        t.side, t.name, t.rows, t.files
                    );
                    let rows: Vec<[String; 2]> = t
                        .columns
                        .iter()
                        .map(|(n, ty)| [n.clone(), ty.clone()])
                        .collect();
                    let _ = out.write_all(grid(&["column", "type"], &rows)?.as_bytes());
                }
            }
            Err(e) => {
                let _ = writeln!(out, "error: {}", e.chain());
            }
        },
        _ => {
            let _ = writeln!(out, "unknown command `{text}`\n{HELP}");
        }
    }
    Ok(true)
}

/// An aligned grid of text cells.
fn grid<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) -> anyhow::Result<String> {
    let fields: Vec<Field> = headers
        .iter()
        .map(|h| Field::new(*h, DataType::Utf8, true))
        .collect();
    let columns: Vec<ArrayRef> = (0..N)
        .map(|i| {
            std::sync::Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r[i].clone()),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)?;
    Ok(format!(
        "{}\n",
        arrow::util::pretty::pretty_format_batches(&[batch])?
    ))
}

fn golden_side_by_side(
    session: &QuerySession,
    loaded: &LoadedConfig,
    name: &str,
) -> anyhow::Result<i32> {
    let golden = Golden::find(loaded, name)?;
    let compared = match session.golden_side_by_side(&golden) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", printable_lines(&e.chain()));
            return Ok(2);
        }
    };
    super::printer::stdout_line(
        &arrow::util::pretty::pretty_format_batches(std::slice::from_ref(&compared.table))?
            .to_string(),
    );
    super::printer::stdout_line(&format!(
        "golden.{}: {} rows, {} differ ({})",
        golden.name(),
        compared.table.num_rows(),
        compared.differing,
        golden.source()
    ));
    Ok(i32::from(compared.differing > 0))
}
