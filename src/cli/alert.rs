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
    // A URL that cannot be read is a setup error here, not a failed message.
    let unreadable = notifier.unreadable();
    if !unreadable.is_empty() {
        let why: Vec<String> = unreadable
            .iter()
            .map(|(name, why)| format!("[[alerts]] `{name}`: {why}"))
            .collect();
        anyhow::bail!("{}: {}", config.display(), why.join("; "));
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
/// stderr for each notification that failed or was sent but not recorded, and once when
/// notifications have no memory between runs. Never changes the verdict.
pub fn notify(notifier: &Notifier, report: &mut Report) {
    if let Some(note) = notifier.memory_note() {
        eprintln!("warning: notifications: {note}");
    }
    let outcomes = notifier.notify(report, chrono::Utc::now());
    warn_all(&outcomes, notifier.memory_note());
    report.notifications.extend(outcomes);
}

/// Every failed notification, and every note but `said` (the memory note, said once already),
/// as a warning on stderr.
pub fn warn_all(outcomes: &[NotificationOutcome], said: Option<&str>) {
    for o in outcomes {
        warn(o, said);
    }
}

/// A failed notification, or a note about a sent one (but the memory note, said once already),
/// as a warning on stderr (shown even under `-q`).
fn warn(o: &NotificationOutcome, said: Option<&str>) {
    if let Some(e) = &o.error {
        let tries = match o.attempts {
            0 => "was not sent".to_owned(),
            1 => "failed after 1 try".to_owned(),
            n => format!("failed after {n} tries"),
        };
        eprintln!(
            "warning: notification to `{}` ({}) {tries}: {e}",
            o.destination,
            o.kind.as_str(),
        );
    } else if let Some(note) = o.note.as_deref().filter(|n| Some(*n) != said) {
        eprintln!("warning: notification to `{}`: {note}", o.destination);
    }
}
