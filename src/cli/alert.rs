//! `recon alert test --config recon.toml`: a test message to every `[[alerts]]` destination, one
//! line each; and the post-run step every reconciling command shares: notify, record the
//! outcomes in the report, warn about failures.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use recon::notify::Notifier;
use recon::report::{NotificationOutcome, Report};
use recon::{Config, Overrides, RunSettings};

use super::printer::Printer;

/// Arguments of `recon alert`.
#[derive(Debug, Args)]
pub struct AlertArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AlertAction,
}

/// The actions of `recon alert`.
#[derive(Debug, Subcommand)]
pub enum AlertAction {
    /// Send a test message to every destination; exit 0 when all arrived, 1 otherwise.
    Test {
        /// The config file.
        #[arg(short, long, value_name = "FILE", default_value = "recon.toml")]
        config: PathBuf,
    },
}

/// Runs `recon alert`.
pub fn run(args: &AlertArgs, printer: &Printer) -> anyhow::Result<i32> {
    let AlertAction::Test { config } = &args.action;
    let loaded = Config::load(config)?;
    let settings = RunSettings::resolve(&Overrides::default(), Some(&loaded));
    let notifier = Notifier::new(&loaded, settings.history())?;
    if notifier.is_empty() {
        anyhow::bail!("{}: no [[alerts]] to test", config.display());
    }
    let outcomes = notifier.test(chrono::Utc::now());
    for o in &outcomes {
        let line = match &o.error {
            None => format!("{} ({}): sent", o.destination, o.kind.as_str()),
            Some(e) => format!("{} ({}): failed: {e}", o.destination, o.kind.as_str()),
        };
        printer.line(&line);
    }
    Ok(i32::from(outcomes.iter().any(|o| !o.sent)))
}

/// After a run: notifies, keeps the outcomes in the report and prints a `warning:` line on
/// stderr for each notification that failed. Never changes the verdict.
pub fn notify(notifier: &Notifier, report: &mut Report, printer: &Printer) {
    let outcomes = notifier.notify(report, chrono::Utc::now());
    warn_all(&outcomes, printer);
    report.notifications.extend(outcomes);
}

/// Every failed notification as a warning, every note as a note.
pub fn warn_all(outcomes: &[NotificationOutcome], printer: &Printer) {
    for o in outcomes {
        warn(o, printer);
    }
}

/// A failed notification as a warning on stderr (shown even under `-q`); a note about a sent
/// one as a note (not under `-q`).
fn warn(o: &NotificationOutcome, printer: &Printer) {
    if let Some(e) = &o.error {
        eprintln!(
            "warning: notification to `{}` ({}) failed after {} {}: {e}",
            o.destination,
            o.kind.as_str(),
            o.attempts,
            if o.attempts == 1 { "try" } else { "tries" }
        );
    } else if let Some(note) = &o.note {
        printer.note(&format!(
            "note: notification to `{}`: {note}",
            o.destination
        ));
    }
}
