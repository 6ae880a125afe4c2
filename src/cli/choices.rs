//! The command line's choices for library settings: clap's `ValueEnum`s live here, so that the
//! library's types carry no clap traits and the CLI's spelling of a value is the CLI's business.

// The variants' doc comments are `--help` text: no Markdown backticks in them.
#![allow(clippy::doc_markdown)]

use clap::ValueEnum;

use recon::FailOn;
use recon::demo::Profile;
use recon::exporter::KeyOrdering;
use recon::report::ReportFormat;

/// `--format` of the reconciling commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatChoice {
    /// The terminal summary.
    Terminal,
    /// The JSON contract.
    Json,
    /// Markdown for PR comments and CI step summaries.
    Markdown,
    /// One self-contained HTML page.
    Html,
    /// JUnit XML for CI test reporters.
    Junit,
}

impl From<FormatChoice> for ReportFormat {
    fn from(c: FormatChoice) -> Self {
        match c {
            FormatChoice::Terminal => ReportFormat::Terminal,
            FormatChoice::Json => ReportFormat::Json,
            FormatChoice::Markdown => ReportFormat::Markdown,
            FormatChoice::Html => ReportFormat::Html,
            FormatChoice::Junit => ReportFormat::Junit,
        }
    }
}

/// `--fail-on`: the lowest verdict that exits non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum FailOnChoice {
    /// Exit 1 from `critical` up (rollback exits 3); a warning exits 0.
    #[default]
    #[value(alias = "fail")]
    Critical,
    /// Exit 1 from `warning` up (rollback exits 3).
    #[value(alias = "warn")]
    Warning,
}

impl From<FailOnChoice> for FailOn {
    fn from(c: FailOnChoice) -> Self {
        match c {
            FailOnChoice::Critical => FailOn::Critical,
            FailOnChoice::Warning => FailOn::Warning,
        }
    }
}

/// `--attribution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum AttributionChoice {
    /// Per table, from the history's last run: re-read when its drift was sparse, else store.
    #[default]
    Auto,
    /// Read the legacy rows of changed pairs again after the hashing pass.
    Reread,
    /// Store every legacy row's column digests during the hashing pass.
    Store,
}

impl From<AttributionChoice> for recon::Attribution {
    fn from(c: AttributionChoice) -> Self {
        match c {
            AttributionChoice::Auto => Self::Auto,
            AttributionChoice::Reread => Self::Reread,
            AttributionChoice::Store => Self::Store,
        }
    }
}

/// `recon gen --profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileChoice {
    /// Four related ERP tables with every kind of drift (the demo).
    Erp,
    /// One 15-column service_orders-like table for benchmarks.
    Bench,
}

impl From<ProfileChoice> for Profile {
    fn from(c: ProfileChoice) -> Self {
        match c {
            ProfileChoice::Erp => Profile::Erp,
            ProfileChoice::Bench => Profile::Bench,
        }
    }
}

/// `recon snapshot --key-order`: which tables are written in primary-key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum KeyOrderChoice {
    /// Those the server reads in key order at little cost: PostgreSQL tables whose rows lie on
    /// disk in about key order (by the planner's statistics), MariaDB/MySQL InnoDB tables.
    #[default]
    Auto,
    /// Every table whose key allows it, sorted by the server where needed (slower where the
    /// rows are not stored in key order).
    Always,
    /// None: rows in the order the server reads them.
    Never,
}

impl From<KeyOrderChoice> for KeyOrdering {
    fn from(c: KeyOrderChoice) -> Self {
        match c {
            KeyOrderChoice::Auto => KeyOrdering::Auto,
            KeyOrderChoice::Always => KeyOrdering::Always,
            KeyOrderChoice::Never => KeyOrdering::Never,
        }
    }
}
