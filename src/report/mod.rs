//! The report: one [`Report`] per run ([`model`], the contract of `report.json`), built from the
//! stage outputs and rendered by every format. The JSON form is the contract (`schema_version`
//! 1, sorted keys); the human formats only lay out the same data. Outside the crate this module
//! is the model alone.
//!
//! ```
//! use recon::report::{Report, SCHEMA_VERSION};
//!
//! let report: Report = recon::Reconciler::from_path("fixtures/erp/recon.toml")?
//!     .history(tempfile::tempdir()?.path())
//!     .run()?;
//! assert_eq!(report.schema_version, SCHEMA_VERSION);
//! for table in &report.tables {
//!     println!("{}: {} changed", table.name, table.changed);
//! }
//! let json = serde_json::to_value(&report)?;
//! assert_eq!(json["verdict"], "rollback");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod build;
pub(crate) mod details;
pub(crate) mod escape;
pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod markdown;
pub mod model;
pub(crate) mod notifications;
pub(crate) mod terminal;
pub(crate) mod write;

pub use escape::{printable, printable_lines};
pub use terminal::render as render_terminal;
pub(crate) use terminal::thousands;
pub use terminal::{Style, percent};
pub use write::write_all;

pub use crate::config::checks::CheckKind;
pub use crate::gate::{FailOn, MetricValue, Status};
pub use crate::side::{PerSide, Side};

pub use model::*;
pub use model::{
    ChangedSample, CheckReport, ColumnDrift, Finding, Input, KeySample, NotificationEvent,
    NotificationOutcome, Report, RunMeta, SCHEMA_VERSION, Samples, StatusCounts, Summary,
    TableHistory, TableReport, Tool, TrendPoint, UnpairedTable,
};

/// The formats a report renders to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// The terminal summary.
    Terminal,
    /// The JSON contract.
    Json,
    /// Markdown for PR comments and CI step summaries.
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// `JUnit` XML for CI test reporters.
    Junit,
}

/// Renders a report in one format (terminal without colors).
pub fn render(report: &Report, format: ReportFormat) -> crate::Result<String> {
    Ok(match format {
        ReportFormat::Terminal => terminal::render(report, terminal::Style { color: false }),
        ReportFormat::Json => json::render(report)?,
        ReportFormat::Markdown => markdown::render(report),
        ReportFormat::Html => html::render(report)?,
        ReportFormat::Junit => junit::render(report)?,
    })
}

impl TableReport {
    /// Since when the table holds its level, with a history: `critical for 3 runs, since 02:15
    /// (was warning), drift rising`, or `pass since this run (was critical): resolved`. `None`
    /// without a history, on its first run, and for a table that keeps passing.
    pub(crate) fn level_note(&self, run_started_at: &str) -> Option<String> {
        let s = &self.history.as_ref()?.level_since;
        let was = s
            .previous
            .map(|p| format!(" (was {p})"))
            .unwrap_or_default();
        let drift = s.drift.map(|d| {
            format!(
                ", drift {}",
                match d {
                    DriftDirection::Rising => "rising",
                    DriftDirection::Falling => "falling",
                    DriftDirection::Steady => "steady",
                }
            )
        });
        if s.runs == 1 {
            let previous = s.previous?;
            if self.status == Status::Pass {
                return Some(format!("pass since this run (was {previous}): resolved"));
            }
            return Some(format!(
                "{} since this run{was}{}",
                self.status,
                drift.unwrap_or_default()
            ));
        }
        if self.status == Status::Pass {
            return None;
        }
        Some(format!(
            "{} for {} runs, since {}{was}{}",
            self.status,
            s.runs,
            clock(&s.since, run_started_at),
            drift.unwrap_or_default()
        ))
    }

    /// The row figures every format shows, in order: legacy, target, matched, changed, missing,
    /// extra (thousands-separated), drift (percent).
    pub(crate) fn figures(&self) -> [String; 7] {
        [
            thousands(self.legacy_rows),
            thousands(self.target_rows),
            thousands(self.matched),
            thousands(self.changed),
            thousands(self.missing),
            thousands(self.extra),
            percent(self.drift_ratio),
        ]
    }
}

/// A past run's start as a reader wants it: `02:15` on the day of this run, else
/// `2026-12-04 02:15` (UTC); the text as stored when it is not a time.
fn clock(at: &str, run_started_at: &str) -> String {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).map(|t| t.to_utc());
    match (parse(at), parse(run_started_at)) {
        (Ok(at), Ok(now)) if at.date_naive() == now.date_naive() => at.format("%H:%M").to_string(),
        (Ok(at), _) => at.format("%Y-%m-%d %H:%M").to_string(),
        _ => at.to_owned(),
    }
}

impl StatusCounts {
    /// `3 pass, 1 warning`: the levels that occur, best first (`none` when nothing was judged).
    pub(crate) fn describe(&self) -> String {
        let levels = [
            (self.pass, "pass"),
            (self.warning, "warning"),
            (self.critical, "critical"),
            (self.rollback, "rollback"),
            (self.error, "error"),
        ];
        let parts: Vec<String> = levels
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, level)| format!("{n} {level}"))
            .collect();
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

impl Report {
    /// Recomputes the summary and the verdict from the tables and checks (and an error, if any).
    pub(crate) fn finish(&mut self) {
        fn count(statuses: impl Iterator<Item = Status>) -> StatusCounts {
            let mut s = StatusCounts::default();
            for status in statuses {
                match status {
                    Status::Pass => s.pass += 1,
                    Status::Warning => s.warning += 1,
                    Status::Critical => s.critical += 1,
                    Status::Rollback => s.rollback += 1,
                    Status::Error => s.error += 1,
                }
            }
            s
        }
        self.summary = Summary {
            tables: count(self.tables.iter().map(|t| t.status)),
            checks: count(self.checks.iter().map(|c| c.status)),
        };
        let worst = self
            .tables
            .iter()
            .map(|t| t.status)
            .chain(self.checks.iter().map(|c| c.status))
            .chain(self.unpaired_tables.iter().map(|u| u.status))
            .max()
            .unwrap_or(Status::Pass);
        // No credential in any output, whatever an upstream message quoted.
        if let Some(e) = &mut self.error {
            *e = crate::store::scrub(e);
        }
        for t in &mut self.tables {
            if let Some(e) = &mut t.error {
                *e = crate::store::scrub(e);
            }
        }
        for c in &mut self.checks {
            if let Some(r) = &mut c.reason {
                *r = crate::store::scrub(r);
            }
        }
        self.verdict = if self.error.is_some() {
            Status::Error
        } else {
            worst
        };
        if self.verdict == Status::Error && self.error.is_none() {
            self.error = self
                .tables
                .iter()
                .find_map(|t| t.error.clone().map(|e| format!("table `{}`: {e}", t.name)))
                .or_else(|| {
                    self.checks
                        .iter()
                        .find(|c| c.status == Status::Error)
                        .map(|c| {
                            format!("check `{}`: {}", c.id, c.reason.clone().unwrap_or_default())
                        })
                });
        }
    }
}
