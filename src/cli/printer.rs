//! Output: results to stdout, everything else (progress bars, logs, errors) to stderr. Progress
//! bars show only on a terminal and not under `-q` or `--no-progress`; colors honor `NO_COLOR`.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use recon::exporter::{ExportProgress, NoProgress, PartProgress};
use recon::report::{Report, Style, printable, printable_lines, render_terminal};
use recon::{Progress, scrub_credentials};

use super::Global;

/// Decides what goes where.
pub struct Printer {
    quiet: bool,
    progress: bool,
    color: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Printer {
    /// A printer for the global options and the current terminal.
    pub fn new(g: &Global) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            quiet: g.quiet,
            progress: !g.quiet && !g.no_progress && std::io::stderr().is_terminal(),
            color: !no_color && std::io::stdout().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    /// Prints the report summary to stdout (only the verdict line under `-q`).
    pub fn report(&self, report: &Report) {
        let text = render_terminal(report, Style { color: self.color });
        let text = if self.quiet {
            text.lines()
                .last()
                .map(|l| format!("{l}\n"))
                .unwrap_or_default()
        } else {
            text
        };
        let mut out = std::io::stdout().lock();
        // A closed pipe (`recon run | head`) is not an error.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Data on stdout, as is.
    #[allow(clippy::unused_self)] // stdout and stderr are the printer's: every write goes through it
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// A line of data on stdout.
    #[allow(clippy::unused_self)] // stdout and stderr are the printer's: every write goes through it
    pub fn line(&self, text: &str) {
        stdout_line(text);
    }

    /// A note for the user on stderr (not under `-q`).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// Why a run could not decide, on stderr, unless the full terminal summary on stdout already
    /// says it: errors are never quiet, and never only inside a JSON or XML document.
    pub fn run_error(&self, report: &Report, summary_printed: bool) {
        if let Some(e) = &report.error
            && (self.quiet || !summary_printed)
        {
            eprintln!("error: {}", printable_lines(&scrub_credentials(e)));
        }
    }

    /// An error with its whole cause chain, on stderr. Names and values quoted in it are data:
    /// their control characters are escaped, as in the reports; URLs lose their credentials.
    #[allow(clippy::unused_self)] // stdout and stderr are the printer's: every write goes through it
    pub fn error(&self, e: &anyhow::Error) {
        eprintln!(
            "error: {}",
            printable_lines(&scrub_credentials(&e.to_string()))
        );
        for cause in e.chain().skip(1) {
            eprintln!(
                "  caused by: {}",
                printable_lines(&scrub_credentials(&cause.to_string()))
            );
        }
    }
}

impl Progress for Printer {
    fn start(&self, table: &str, rows: u64) {
        if !self.progress {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(rows), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{prefix:>16} [{bar:30}] {human_pos}/{human_len} rows {per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(printable(table).into_owned());
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(bar);
        }
    }

    fn advance(&self, rows: u64) {
        if let Ok(b) = self.bar.lock()
            && let Some(bar) = b.as_ref()
        {
            bar.inc(rows);
        }
    }

    fn finish(&self) {
        if let Ok(mut b) = self.bar.lock()
            && let Some(bar) = b.take()
        {
            bar.finish_and_clear();
        }
    }
}

impl Printer {
    /// One bar per part being exported, on a terminal only.
    pub fn export_bars(&self) -> ExportBars {
        ExportBars {
            multi: self
                .progress
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }
}

/// The bars of a `recon snapshot` (none when piped, under `-q` or `--no-progress`).
pub struct ExportBars {
    multi: Option<MultiProgress>,
}

struct PartBar(ProgressBar);

impl PartProgress for PartBar {
    fn advance(&self, rows: u64) {
        self.0.inc(rows);
    }
}

impl Drop for PartBar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl ExportProgress for ExportBars {
    fn part(&self, label: &str, estimated_rows: u64) -> Box<dyn PartProgress> {
        let Some(multi) = &self.multi else {
            return Box::new(NoProgress);
        };
        let bar = multi.add(ProgressBar::new(estimated_rows.max(1)));
        let style = ProgressStyle::with_template(
            "{prefix:>20} [{bar:30}] {human_pos}/~{human_len} rows {per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(printable(label).into_owned());
        Box::new(PartBar(bar))
    }
}

/// Logs to stderr, filtered by `--log` or `RUST_LOG` (default: warnings). A bare level given to
/// `--log` applies to recon only: dependencies stay at `warn`, because at `trace` some of them
/// print Parquet statistics, i.e. row values (which redaction promises never to log).
pub fn init_logging(filter: Option<&str>) {
    let filter = filter
        .map(|f| {
            if f.contains('=') || f.contains(',') {
                f.to_owned()
            } else {
                format!("warn,recon={f}")
            }
        })
        .map(tracing_subscriber::EnvFilter::new)
        .or_else(|| tracing_subscriber::EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Peak resident memory of this process in bytes (Linux `VmHWM`), when known.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A line on stdout for commands that print data without a [`Printer`]. A closed pipe
/// (`recon history | head`) is not an error: the rest is dropped quietly.
pub fn stdout_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}
