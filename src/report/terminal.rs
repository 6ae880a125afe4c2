//! The terminal summary: one aligned line per table (rows per side, matched, changed, missing,
//! extra, drift %, status), the crossed thresholds and a few samples, and the verdict last.

use std::fmt::Write;

use super::escape::printable;
use super::{Report, TableReport};
use crate::gate::Status;

/// Whether to color the output.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colors on.
    pub color: bool,
}

impl Style {
    fn paint(self, status: Status, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match status {
            Status::Pass => "32",
            Status::Warning => "33",
            Status::Critical => "31",
            Status::Rollback => "1;31",
            Status::Error => "35",
        };
        format!("\x1b[1;{code}m{text}\x1b[0m")
    }
}

pub(crate) fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A ratio as a percentage for people: `0%`, `<0.001%` below that, else three decimals.
pub fn percent(ratio: f64) -> String {
    let p = ratio * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p < 0.001 {
        "<0.001%".into()
    } else {
        format!("{p:.3}%")
    }
}

/// Renders the summary.
pub fn render(report: &Report, style: Style) -> String {
    let headers = [
        "table", "legacy", "target", "matched", "changed", "missing", "extra", "drift", "status",
    ];
    let rows: Vec<[String; 9]> = report
        .tables
        .iter()
        .map(|t| {
            let [l, tg, m, c, mi, e, d] = t.figures();
            [
                printable(&t.name).into_owned(),
                l,
                tg,
                m,
                c,
                mi,
                e,
                d,
                t.status.as_str().to_uppercase(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String, status: Option<Status>| {
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w - c.chars().count();
            let cell = match (i, status) {
                (8, Some(s)) => style.paint(s, c),
                _ => c.clone(),
            };
            if i == 0 || i == 8 {
                let _ = write!(out, "{cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(out, "{}{cell}", " ".repeat(pad));
            }
            out.push_str(if i + 1 < cells.len() { "  " } else { "\n" });
        }
    };
    if !rows.is_empty() {
        line(&headers.map(str::to_owned), &mut out, None);
    }
    for (r, t) in rows.iter().zip(&report.tables) {
        line(r, &mut out, Some(t.status));
    }
    for t in &report.tables {
        details(t, &report.run.started_at, &mut out);
    }
    unpaired(report, style, &mut out);
    checks(report, style, &mut out);
    if let Some(e) = &report.error {
        let _ = writeln!(out, "\nerror: {}", printable(e));
    }
    let verdict = report.verdict.as_str().to_uppercase();
    let (t, c) = (&report.summary.tables, &report.summary.checks);
    let _ = write!(
        out,
        "\nverdict: {}  (tables: {}",
        style.paint(report.verdict, &verdict),
        t.describe()
    );
    if !report.checks.is_empty() {
        let _ = write!(out, "; checks: {}", c.describe());
    }
    if !report.unpaired_tables.is_empty() {
        let _ = write!(out, "; not reconciled: {}", report.unpaired_tables.len());
    }
    out.push_str(")\n");
    out
}

/// The tables of the snapshots in no pair: one line each, with the side, the footer rows and
/// the status `[gate] unpaired_tables` gives them.
fn unpaired(report: &Report, style: Style, out: &mut String) {
    if report.unpaired_tables.is_empty() {
        return;
    }
    let width = report
        .unpaired_tables
        .iter()
        .map(|u| printable(&u.table).chars().count())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "\nnot reconciled (in no table pair):");
    for u in &report.unpaired_tables {
        let status = u.status.as_str().to_uppercase();
        let table = printable(&u.table);
        let _ = writeln!(
            out,
            "  {:<6}  {table}{}  {} rows  {}",
            u.side.as_str(),
            " ".repeat(width.saturating_sub(table.chars().count())),
            thousands(u.rows),
            style.paint(u.status, &status)
        );
    }
}

fn checks(report: &Report, style: Style, out: &mut String) {
    if report.checks.is_empty() {
        return;
    }
    let width = report
        .checks
        .iter()
        .map(|c| printable(&c.id).chars().count())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "\nchecks:");
    for c in &report.checks {
        let status = c.status.as_str().to_uppercase();
        let id = printable(&c.id);
        let pad = " ".repeat(width - id.chars().count());
        let what = match &c.reason {
            Some(r) => printable(r).into_owned(),
            None => format!("{} = {}", printable(&c.metric), c.value),
        };
        let _ = writeln!(
            out,
            "  {id}{pad}  {}  {what}",
            style.paint(c.status, &format!("{status:<8}"))
        );
    }
}

fn details(t: &TableReport, run_started_at: &str, out: &mut String) {
    let level_note = t.level_note(run_started_at);
    if t.status == Status::Pass
        && level_note.is_none()
        && t.schema.count() == 0
        && t.history
            .as_ref()
            .is_none_or(|h| h.new_keys.unwrap_or(0) + h.resolved_keys.unwrap_or(0) == 0)
    {
        return;
    }
    let _ = writeln!(out, "\n{}:", printable(&t.name));
    if let Some(e) = &t.error {
        let _ = writeln!(out, "  error: {}", printable(e));
    }
    for f in &t.findings {
        let _ = writeln!(
            out,
            "  {} {} = {} > {}",
            f.level.as_str(),
            printable(&f.metric),
            f.value,
            trim_float(f.threshold)
        );
    }
    if let Some(note) = level_note {
        let _ = writeln!(out, "  {note}");
    }
    let drifted: Vec<String> = t
        .columns
        .iter()
        .filter(|(_, d)| d.changed > 0)
        .map(|(c, d)| format!("{} ({})", printable(c), thousands(d.changed)))
        .collect();
    if !drifted.is_empty() {
        let _ = writeln!(out, "  changed columns: {}", drifted.join(", "));
    }
    for (col, classes) in &t.explained {
        let parts: Vec<String> = classes
            .iter()
            .map(|(k, n)| format!("{} {}", printable(k), thousands(*n)))
            .collect();
        let _ = writeln!(
            out,
            "  why {} differs: {}",
            printable(col),
            parts.join(", ")
        );
    }
    trend(t, out);
    schema_lines(t, out);
    sample_lines(t, out);
}

/// The drift over the last runs and the key churn, with a history.
fn trend(t: &TableReport, out: &mut String) {
    if let Some(h) = t.history.as_ref().filter(|h| h.trend.len() > 1) {
        let trend: Vec<String> = h.trend.iter().map(|p| percent(p.drift_ratio)).collect();
        let _ = write!(
            out,
            "  drift over the last {} runs: {}",
            h.trend.len(),
            trend.join(" -> ")
        );
        if let (Some(n), Some(r)) = (h.new_keys, h.resolved_keys) {
            let _ = write!(
                out,
                "; since the last run: {} new, {} resolved differing keys",
                thousands(n),
                thousands(r)
            );
        }
        out.push('\n');
    }
}

/// Columns on one side only, paired by case, or compared exactly against floats.
fn schema_lines(t: &TableReport, out: &mut String) {
    if !t.schema.legacy_only.is_empty() {
        let _ = writeln!(out, "  only in legacy: {}", names(&t.schema.legacy_only));
    }
    if !t.schema.target_only.is_empty() {
        let _ = writeln!(out, "  only in target: {}", names(&t.schema.target_only));
    }
    if !t.schema.paired_by_case.is_empty() {
        let pairs: Vec<String> = t
            .schema
            .paired_by_case
            .iter()
            .map(|(l, r)| format!("{} = {}", printable(l), printable(r)))
            .collect();
        let _ = writeln!(out, "  paired by case: {}", pairs.join(", "));
    }
    for (c, types) in &t.schema.exact_vs_float {
        let _ = writeln!(
            out,
            "  {} compares an exact number with a float ({}): values the float cannot hold exactly differ",
            printable(c),
            printable(types)
        );
    }
}

/// The first sample rows of each category.
fn sample_lines(t: &TableReport, out: &mut String) {
    let key = |k: &std::collections::BTreeMap<String, serde_json::Value>| {
        k.iter()
            .map(|(c, v)| format!("{}={}", printable(c), value_text(v)))
            .collect::<Vec<_>>()
            .join(",")
    };
    for s in t.samples.changed.iter().take(3) {
        let cols: Vec<String> = s
            .columns
            .iter()
            .map(|(c, v)| {
                format!(
                    "{}: {} -> {}",
                    printable(c),
                    value_text(&v.legacy),
                    value_text(&v.target)
                )
            })
            .collect();
        let _ = writeln!(out, "  changed {}  {}", key(&s.key), cols.join("; "));
    }
    for s in t.samples.missing.iter().take(3) {
        let _ = writeln!(out, "  missing {}", key(&s.key));
    }
    for s in t.samples.extra.iter().take(3) {
        let _ = writeln!(out, "  extra   {}", key(&s.key));
    }
}

/// Column names, escaped, comma-separated.
fn names(list: &[String]) -> String {
    list.iter()
        .map(|n| printable(n))
        .collect::<Vec<_>>()
        .join(", ")
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "NULL".into(),
        serde_json::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

pub(crate) fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}
