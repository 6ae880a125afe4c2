//! One self-contained HTML file that works offline (no CDN, no script): verdict banner, drift per
//! table as a bar chart, a per-column drift heat map, check results, samples, why cells differ,
//! the trend over past runs, and the audit block.
//!
//! The page is an askama template (`templates/report.html`) that HTML-escapes every value it
//! interpolates, so no value from the data can inject markup. This module only shapes the report
//! into the rows the template lays out: numbers formatted, texts chosen, nothing escaped by hand.

use askama::Template;

use super::{Report, StatusCounts, TableReport, percent, thousands};
use crate::gate::Status;

fn color(s: Status) -> &'static str {
    match s {
        Status::Pass => "#1a7f37",
        Status::Warning => "#9a6700",
        Status::Critical => "#cf222e",
        Status::Rollback => "#82071e",
        Status::Error => "#8250df",
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "NULL".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}\
main{max-width:1100px;margin:0 auto;padding:16px}\
.banner{color:#fff;padding:18px 24px;font-size:22px;font-weight:600}\
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin:14px 0}\
h2{font-size:16px;margin:4px 0 10px}table{border-collapse:collapse;width:100%}\
th,td{border-bottom:1px solid #eaeef2;padding:4px 8px;text-align:left;vertical-align:top}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.st{font-weight:600}code{font-size:12px;white-space:pre-wrap;word-break:break-all}.muted{color:#656d76}\
.heatrow{display:flex;gap:10px;align-items:flex-start;margin:6px 0}.heatrow b{min-width:140px}\
.cells{display:flex;flex-wrap:wrap;gap:4px}.cell{border:1px solid #eaeef2;border-radius:4px;padding:2px 6px;text-align:center;min-width:70px}\
table.detail{margin-top:6px;font-size:13px}table.detail th{color:#656d76;font-weight:500}";

/// Rows of a check's details shown in a report; the JSON report has them all (up to its cap).
pub const DETAIL_ROWS: usize = 20;

/// The page: the report shaped into what the template lays out.
#[derive(Template)]
#[template(path = "report.html", config = "src/report/askama.toml")]
struct Page<'a> {
    style: &'static str,
    verdict: &'static str,
    verdict_upper: String,
    verdict_color: &'static str,
    tables_summary: &'a StatusCounts,
    checks_summary: &'a StatusCounts,
    error: Option<&'a str>,
    chart_height: usize,
    bars: Vec<Bar>,
    tables: Vec<TableRow>,
    heat: Vec<HeatRow>,
    checks: Vec<CheckRow>,
    explained: Vec<ExplainedRow>,
    trend: Vec<TrendRow>,
    samples: Vec<SampleTable>,
    audit: Audit,
    inputs: Vec<InputRow>,
    unpaired: Vec<UnpairedRow>,
    notifications: Vec<NotificationRow>,
}

/// A notification of the run: where it went and how.
struct NotificationRow {
    destination: String,
    kind: &'static str,
    event: &'static str,
    tables: String,
    outcome: String,
}

/// A table in no pair.
struct UnpairedRow {
    side: &'static str,
    table: String,
    rows: String,
    status: &'static str,
    color: &'static str,
}

/// A table's bar in the drift chart.
struct Bar {
    name: String,
    y: usize,
    text_y: usize,
    width: String,
    text_x: String,
    color: &'static str,
    percent: String,
}

struct TableRow {
    name: String,
    figures: [String; 7],
    color: &'static str,
    status: &'static str,
    /// Since when the table holds its level (with a history).
    level_note: Option<String>,
    findings: Vec<FindingLine>,
}

/// A line of a table's findings cell.
enum FindingLine {
    Crossed {
        metric: String,
        value: String,
        threshold: String,
    },
    Error(String),
}

struct HeatRow {
    name: String,
    cells: Vec<HeatCell>,
}

struct HeatCell {
    column: String,
    changed: String,
    alpha: String,
    percent: String,
}

struct CheckRow {
    id: String,
    kind: &'static str,
    metric: String,
    value: String,
    color: &'static str,
    status: &'static str,
    reason: Option<String>,
    details: Option<DetailTable>,
}

/// A check's summary line and, when something differs, a small table of it.
struct DetailTable {
    summary: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Rows left for report.json.
    more: usize,
}

struct ExplainedRow {
    table: String,
    column: String,
    classes: String,
}

struct TrendRow {
    name: String,
    points: String,
    labels: String,
    new_keys: String,
    resolved_keys: String,
}

struct SampleTable {
    table: String,
    rows: Vec<SampleRow>,
}

struct SampleRow {
    category: &'static str,
    key: String,
    /// Column, legacy value, target value (changed rows only).
    changed: Option<(String, String, String)>,
}

struct Audit {
    version: String,
    hash_version: u32,
    schema_version: u32,
    config: String,
    digest: String,
    started_at: String,
    duration_ms: u64,
    threads: usize,
    memory_budget_mib: u64,
    fail_on: &'static str,
}

struct InputRow {
    side: String,
    table: String,
    root: String,
    files: usize,
    bytes: String,
    rows: String,
}

/// Renders the report as one HTML page.
pub fn render(r: &Report) -> crate::Result<String> {
    let page = Page {
        style: STYLE,
        verdict: r.verdict.as_str(),
        verdict_upper: r.verdict.as_str().to_uppercase(),
        verdict_color: color(r.verdict),
        tables_summary: &r.summary.tables,
        checks_summary: &r.summary.checks,
        error: r.error.as_deref(),
        chart_height: r.tables.len() * BAR_HEIGHT + 10,
        bars: bars(r),
        tables: r
            .tables
            .iter()
            .map(|t| table_row(t, &r.run.started_at))
            .collect(),
        heat: heat_map(r),
        checks: r.checks.iter().map(check_row).collect(),
        explained: explained(r),
        trend: trend(r),
        samples: r.tables.iter().filter_map(samples).collect(),
        audit: audit(r),
        inputs: r
            .inputs
            .iter()
            .map(|i| InputRow {
                side: i.side.to_string(),
                table: i.table.clone(),
                root: i.root.clone(),
                files: i.files.len(),
                bytes: thousands(i.bytes),
                rows: thousands(i.rows),
            })
            .collect(),
        unpaired: r
            .unpaired_tables
            .iter()
            .map(|u| UnpairedRow {
                side: u.side.as_str(),
                table: u.table.clone(),
                rows: thousands(u.rows),
                status: u.status.as_str(),
                color: color(u.status),
            })
            .collect(),
        notifications: r
            .notifications
            .iter()
            .map(|n| NotificationRow {
                destination: n.destination.clone(),
                kind: n.kind.as_str(),
                event: n.event.as_str(),
                tables: n.tables.join(", "),
                outcome: n.error.as_ref().map_or_else(
                    || "sent".to_owned(),
                    |e| format!("failed after {} tries: {e}", n.attempts),
                ),
            })
            .collect(),
    };
    let mut html = page
        .render()
        .map_err(|e| crate::Error::failed("rendering the HTML report", e))?;
    html.push('\n');
    Ok(html)
}

const BAR_HEIGHT: usize = 26;

fn bars(r: &Report) -> Vec<Bar> {
    let max = r
        .tables
        .iter()
        .map(|t| t.drift_ratio)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    r.tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let y = i * BAR_HEIGHT + 5;
            let w = (t.drift_ratio / max * 480.0).max(if t.drift_ratio > 0.0 { 2.0 } else { 0.0 });
            Bar {
                name: t.name.clone(),
                y,
                text_y: y + 14,
                width: format!("{w:.1}"),
                text_x: format!("{:.1}", 206.0 + w),
                color: color(t.status),
                percent: percent(t.drift_ratio),
            }
        })
        .collect()
}

fn table_row(t: &TableReport, run_started_at: &str) -> TableRow {
    let findings = t
        .findings
        .iter()
        .map(|f| FindingLine::Crossed {
            metric: f.metric.clone(),
            value: f.value.to_string(),
            threshold: super::terminal::trim_float(f.threshold),
        })
        .chain(t.error.iter().map(|e| FindingLine::Error(e.clone())))
        .collect();
    TableRow {
        name: t.name.clone(),
        figures: t.figures(),
        color: color(t.status),
        status: t.status.as_str(),
        level_note: t.level_note(run_started_at),
        findings,
    }
}

fn heat_map(r: &Report) -> Vec<HeatRow> {
    r.tables
        .iter()
        .filter(|t| !t.compared_columns.is_empty())
        .map(|t| {
            let paired = (t.matched + t.changed).max(1);
            let cells = t
                .compared_columns
                .iter()
                .map(|c| {
                    let n = t.columns.get(c).map_or(0, |d| d.changed);
                    #[allow(clippy::cast_precision_loss)]
                    let share = n as f64 / paired as f64;
                    let alpha = if n == 0 {
                        0.0
                    } else {
                        0.15 + 0.85 * (share * 50.0).min(1.0)
                    };
                    HeatCell {
                        column: c.clone(),
                        changed: thousands(n),
                        alpha: format!("{alpha:.2}"),
                        percent: percent(share),
                    }
                })
                .collect();
            HeatRow {
                name: t.name.clone(),
                cells,
            }
        })
        .collect()
}

fn check_row(c: &super::CheckReport) -> CheckRow {
    let details = match (&c.reason, super::details::of(c)) {
        (None, Some(d)) => Some(DetailTable {
            more: d.rows.len().saturating_sub(DETAIL_ROWS),
            rows: d.rows.into_iter().take(DETAIL_ROWS).collect(),
            summary: d.summary,
            headers: d.headers,
        }),
        _ => None,
    };
    CheckRow {
        id: c.id.clone(),
        kind: c.kind.as_str(),
        metric: c.metric.clone(),
        value: c.value.to_string(),
        color: color(c.status),
        status: c.status.as_str(),
        reason: c.reason.clone(),
        details,
    }
}

fn explained(r: &Report) -> Vec<ExplainedRow> {
    let mut out = Vec::new();
    for t in &r.tables {
        for (col, classes) in &t.explained {
            let parts: Vec<String> = classes
                .iter()
                .map(|(k, n)| format!("{k} {}", thousands(*n)))
                .collect();
            out.push(ExplainedRow {
                table: t.name.clone(),
                column: col.clone(),
                classes: parts.join(", "),
            });
        }
    }
    out
}

fn trend(r: &Report) -> Vec<TrendRow> {
    let mut out = Vec::new();
    for t in &r.tables {
        let Some(h) = &t.history else { continue };
        let max = h
            .trend
            .iter()
            .map(|p| p.drift_ratio)
            .fold(0.0f64, f64::max)
            .max(1e-9);
        let n = h.trend.len().max(2) - 1;
        let points: Vec<String> = h
            .trend
            .iter()
            .enumerate()
            .map(|(i, p)| {
                #[allow(clippy::cast_precision_loss)]
                let x = i as f64 / n as f64 * 280.0 + 10.0;
                let y = 50.0 - p.drift_ratio / max * 40.0;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let labels: Vec<String> = h
            .trend
            .iter()
            .map(|p| format!("{}: {}", p.started_at, percent(p.drift_ratio)))
            .collect();
        out.push(TrendRow {
            name: t.name.clone(),
            points: points.join(" "),
            labels: labels.join("; "),
            new_keys: h.new_keys.map_or("-".into(), thousands),
            resolved_keys: h.resolved_keys.map_or("-".into(), thousands),
        });
    }
    out
}

fn samples(t: &TableReport) -> Option<SampleTable> {
    let s = &t.samples;
    if s.changed.is_empty() && s.missing.is_empty() && s.extra.is_empty() {
        return None;
    }
    let key = |k: &std::collections::BTreeMap<String, serde_json::Value>| {
        k.iter()
            .map(|(c, v)| format!("{c}={}", value_text(v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut rows = Vec::new();
    for c in &s.changed {
        for (col, v) in &c.columns {
            rows.push(SampleRow {
                category: "changed",
                key: key(&c.key),
                changed: Some((col.clone(), value_text(&v.legacy), value_text(&v.target))),
            });
        }
    }
    for (category, keys) in [("missing", &s.missing), ("extra", &s.extra)] {
        rows.extend(keys.iter().map(|m| SampleRow {
            category,
            key: key(&m.key),
            changed: None,
        }));
    }
    Some(SampleTable {
        table: t.name.clone(),
        rows,
    })
}

fn audit(r: &Report) -> Audit {
    Audit {
        version: r.tool.version.clone(),
        hash_version: r.hash_version,
        schema_version: r.schema_version,
        config: r.run.config_path.clone().unwrap_or_else(|| "-".into()),
        digest: r.run.config_digest.clone(),
        started_at: r.run.started_at.clone(),
        duration_ms: r.run.duration_ms,
        threads: r.run.threads,
        memory_budget_mib: r.run.memory_budget >> 20,
        fail_on: match r.run.fail_on {
            crate::gate::FailOn::Critical => "critical",
            crate::gate::FailOn::Warning => "warning",
        },
    }
}
