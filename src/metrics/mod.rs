//! A finished run as Prometheus metrics: the text exposition format (gauges with `HELP` and
//! `TYPE` lines, no timestamps) rendered from the report, written atomically for
//! `node_exporter`'s textfile collector, or pushed to a Pushgateway ([`push`]). The metric names
//! are a contract: dashboards and alert rules are written against them.

#[cfg(feature = "monitor")]
mod push;

use std::fmt::Write as _;
use std::path::Path;

use crate::error::Result;
use crate::gate::Status;
use crate::report::Report;

#[cfg(feature = "monitor")]
pub use push::{push, pushed_value};

#[cfg(test)]
mod tests;

/// The name of the gauge that keeps the last successful run's time, read back by
/// [`previous_last_success`] so that it survives failing runs.
pub const LAST_SUCCESS: &str = "recon_last_success_timestamp_seconds";

/// Every metric [`render`] can emit, with its help text.
pub const METRICS: [(&str, &str); 10] = [
    (
        "recon_table_drift_ratio",
        "(changed + missing + extra + null-key rows) / max(legacy rows, 1) of a table pair.",
    ),
    ("recon_table_rows", "Rows of a table pair, per side."),
    (
        "recon_table_differing_rows",
        "Differing rows of a table pair, per kind of difference.",
    ),
    (
        "recon_table_level",
        "Level of a table pair: 0 pass, 1 warning, 2 critical, 3 rollback, 4 error.",
    ),
    (
        "recon_table_threshold_ratio",
        "drift_ratio threshold in force for a table pair, per level.",
    ),
    (
        "recon_check_level",
        "Level of a check: 0 pass, 1 warning, 2 critical, 3 rollback, 4 error.",
    ),
    (
        "recon_run_level",
        "Verdict of the run: 0 pass, 1 warning, 2 critical, 3 rollback, 4 error.",
    ),
    ("recon_run_duration_seconds", "Wall time of the run."),
    (
        LAST_SUCCESS,
        "Unix time of the last run whose verdict was not error.",
    ),
    ("recon_run_tables", "Table pairs of the run, per level."),
];

/// One sample: its labels and value.
type Sample = (Vec<(&'static str, String)>, f64);

/// Renders a report as the Prometheus text exposition format (version 0.0.4): every metric a
/// gauge, with `HELP` and `TYPE` lines, label values escaped, no timestamps. `last_success`:
/// unix seconds of the last run whose verdict was not `error` (left out when unknown).
///
/// A table that could not be decided has only its level and thresholds: its counts were not
/// measured.
///
/// ```
/// let report = recon::Reconciler::from_path("fixtures/erp/recon.toml")?
///     .history(tempfile::tempdir()?.path())
///     .run()?;
/// let text = recon::metrics::render(&report, Some(1_765_000_000));
/// assert!(text.contains("# TYPE recon_table_drift_ratio gauge\n"));
/// assert!(text.contains("recon_run_level 3\n"));
/// assert!(text.contains("recon_last_success_timestamp_seconds 1765000000\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render(report: &Report, last_success: Option<i64>) -> String {
    let mut out = String::new();
    for (name, help) in METRICS {
        let samples = samples(report, name, last_success);
        if samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in samples {
            out.push_str(name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(value));
        }
    }
    out
}

/// The samples of one metric.
#[allow(clippy::cast_precision_loss)]
fn samples(report: &Report, name: &str, last_success: Option<i64>) -> Vec<Sample> {
    let level = |s: Status| f64::from(s.number());
    let measured = || report.tables.iter().filter(|t| t.error.is_none());
    let table = |t: &crate::report::model::TableReport| vec![("table", t.name.clone())];
    let with = |t: &crate::report::model::TableReport, k: &'static str, v: &str| {
        let mut l = table(t);
        l.push((k, v.to_owned()));
        l
    };
    match name {
        "recon_table_drift_ratio" => measured().map(|t| (table(t), t.drift_ratio)).collect(),
        "recon_table_rows" => measured()
            .flat_map(|t| {
                [
                    (with(t, "side", "legacy"), t.legacy_rows as f64),
                    (with(t, "side", "target"), t.target_rows as f64),
                ]
            })
            .collect(),
        "recon_table_differing_rows" => measured()
            .flat_map(|t| {
                [
                    ("changed", t.changed),
                    ("missing", t.missing),
                    ("extra", t.extra),
                    ("null_key_legacy", t.null_key_rows.legacy),
                    ("null_key_target", t.null_key_rows.target),
                ]
                .map(|(kind, n)| (with(t, "kind", kind), n as f64))
            })
            .collect(),
        "recon_table_level" => report
            .tables
            .iter()
            .map(|t| (table(t), level(t.status)))
            .collect(),
        "recon_table_threshold_ratio" => report
            .tables
            .iter()
            .flat_map(|t| {
                let d = t.drift_thresholds;
                [
                    ("warning", d.warning),
                    ("critical", d.critical),
                    ("rollback", d.rollback),
                ]
                .into_iter()
                .filter_map(move |(l, v)| v.map(|v| (with(t, "level", l), v)))
            })
            .collect(),
        "recon_check_level" => report
            .checks
            .iter()
            .map(|c| {
                let labels = vec![
                    ("check", c.id.clone()),
                    ("kind", c.kind.as_str().to_owned()),
                ];
                (labels, level(c.status))
            })
            .collect(),
        "recon_run_level" => vec![(Vec::new(), level(report.verdict))],
        "recon_run_duration_seconds" => {
            vec![(Vec::new(), report.run.duration_ms as f64 / 1000.0)]
        }
        LAST_SUCCESS => last_success
            .map(|s| (Vec::new(), s as f64))
            .into_iter()
            .collect(),
        "recon_run_tables" => {
            let c = &report.summary.tables;
            [
                (Status::Pass, c.pass),
                (Status::Warning, c.warning),
                (Status::Critical, c.critical),
                (Status::Rollback, c.rollback),
                (Status::Error, c.error),
            ]
            .into_iter()
            .map(|(s, n)| (vec![("level", s.as_str().to_owned())], n as f64))
            .collect()
        }
        _ => Vec::new(),
    }
}

/// A label value as the text format wants it: backslash, double quote and line feed escaped.
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value: Rust's shortest round-trip form (which Go's parser reads back exactly),
/// whole numbers without a fraction, and the format's own words for the non-finite.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Writes the metrics text to `path` atomically (a temporary file in the same folder, then a
/// rename), as `node_exporter`'s textfile collector needs: it never reads half a file.
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    crate::atomic::write_bytes(path, text.as_bytes())
}

/// The last successful run's time recorded in an earlier metrics file (`None` when the file or
/// the gauge is not there), so that a failing run keeps it.
pub fn previous_last_success(path: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let value = line.strip_prefix(LAST_SUCCESS)?.strip_prefix(' ')?;
        let v: f64 = value.trim().parse().ok()?;
        // Unix seconds are whole; the file holds what `render` wrote.
        #[allow(clippy::cast_possible_truncation)]
        v.is_finite().then_some(v as i64)
    })
}
