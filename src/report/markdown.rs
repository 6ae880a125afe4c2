//! Markdown for pull-request comments and CI step summaries: the verdict first, a table per
//! table and per check, the worst findings, why cells differ, and the audit block. No links.

use std::fmt::Write;

use super::{Report, percent, thousands};
use crate::gate::Status;

/// Escapes a value for a Markdown table cell (and for renderers that accept inline HTML).
/// Control characters are written as escapes first, as in the terminal.
fn cell(text: &str) -> String {
    super::escape::printable(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn badge(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅ PASS",
        Status::Warning => "⚠️ WARNING",
        Status::Critical => "❌ CRITICAL",
        Status::Rollback => "🛑 ROLLBACK",
        Status::Error => "⛔ ERROR",
    }
}

/// Renders the report as Markdown.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    header(r, &mut o);
    tables(r, &mut o);
    unpaired(r, &mut o);
    checks(r, &mut o);
    check_details(r, &mut o);
    worst_findings(r, &mut o);
    explained(r, &mut o);
    schema(r, &mut o);
    exact_vs_float(r, &mut o);
    churn(r, &mut o);
    notifications(r, &mut o);
    audit(r, &mut o);
    o
}

/// The run's notifications, when it sent any: one row per destination.
fn notifications(r: &Report, o: &mut String) {
    if r.notifications.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Notifications\n");
    let _ = writeln!(o, "| destination | kind | event | tables | outcome |");
    let _ = writeln!(o, "|---|---|---|---|---|");
    for n in &r.notifications {
        let tries = if n.attempts == 1 { "try" } else { "tries" };
        let outcome = match &n.error {
            None if n.attempts <= 1 => "sent".to_owned(),
            None => format!("sent after {} {tries}", n.attempts),
            Some(e) => format!("**failed** after {} {tries}: {}", n.attempts, cell(e)),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {outcome} |",
            cell(&n.destination),
            n.kind.as_str(),
            n.event.as_str(),
            cell(&n.tables.join(", "))
        );
    }
    let _ = writeln!(o);
}

/// Summary: the verdict, the counts, and why the run could not decide.
fn header(r: &Report, o: &mut String) {
    let (t, c) = (&r.summary.tables, &r.summary.checks);
    let _ = writeln!(o, "# recon: {}\n", badge(r.verdict));
    let _ = writeln!(o, "Tables: {}. Checks: {}.\n", t.describe(), c.describe());
    if let Some(e) = &r.error {
        let _ = writeln!(o, "> **Could not decide:** {}\n", cell(e));
    }
}

/// One row per table pair.
fn tables(r: &Report, o: &mut String) {
    if !r.tables.is_empty() {
        let _ = writeln!(o, "## Tables\n");
        let _ = writeln!(
            o,
            "| table | legacy | target | matched | changed | missing | extra | drift | status |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
        for t in &r.tables {
            let note = t
                .level_note(&r.run.started_at)
                .map(|n| format!(" — {n}"))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "| {} | {} | {}{note} |",
                cell(&t.name),
                t.figures().join(" | "),
                badge(t.status)
            );
        }
        o.push('\n');
    }
}

/// Tables in no pair.
fn unpaired(r: &Report, o: &mut String) {
    if !r.unpaired_tables.is_empty() {
        let _ = writeln!(o, "## Not reconciled (in no table pair)\n");
        let _ = writeln!(o, "| side | table | rows | status |");
        let _ = writeln!(o, "|---|---|---:|---|");
        for u in &r.unpaired_tables {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                u.side.as_str(),
                cell(&u.table),
                thousands(u.rows),
                badge(u.status)
            );
        }
        o.push('\n');
    }
}

/// One row per check.
fn checks(r: &Report, o: &mut String) {
    if !r.checks.is_empty() {
        let _ = writeln!(o, "## Checks\n");
        let _ = writeln!(o, "| check | kind | metric | value | status |");
        let _ = writeln!(o, "|---|---|---|---:|---|");
        for ch in &r.checks {
            let (metric, value) = match &ch.reason {
                Some(reason) => ("error".to_owned(), cell(reason)),
                None => (cell(&ch.metric), ch.value.to_string()),
            };
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | {} |",
                cell(&ch.id),
                ch.kind.as_str(),
                metric,
                value,
                badge(ch.status)
            );
        }
        o.push('\n');
    }
}

/// What each check that found something measured.
fn check_details(r: &Report, o: &mut String) {
    let detailed: Vec<(&super::CheckReport, super::details::Details)> = r
        .checks
        .iter()
        .filter_map(|c| super::details::of(c).map(|d| (c, d)))
        .filter(|(_, d)| !d.rows.is_empty())
        .collect();
    if !detailed.is_empty() {
        let _ = writeln!(o, "## Check details\n");
        for (c, d) in detailed {
            let _ = writeln!(o, "**`{}`**: {}\n", cell(&c.id), cell(&d.summary));
            let _ = writeln!(
                o,
                "| {} |\n|{}",
                d.headers
                    .iter()
                    .map(|h| cell(h))
                    .collect::<Vec<_>>()
                    .join(" | "),
                "---|".repeat(d.headers.len())
            );
            for row in d.rows.iter().take(super::html::DETAIL_ROWS) {
                let _ = writeln!(
                    o,
                    "| {} |",
                    row.iter().map(|v| cell(v)).collect::<Vec<_>>().join(" | ")
                );
            }
            if d.rows.len() > super::html::DETAIL_ROWS {
                let _ = writeln!(
                    o,
                    "\n{} more in report.json",
                    d.rows.len() - super::html::DETAIL_ROWS
                );
            }
            o.push('\n');
        }
    }
}

/// The ten worst crossed thresholds and errors.
fn worst_findings(r: &Report, o: &mut String) {
    let mut worst: Vec<(Status, String)> = Vec::new();
    for t in &r.tables {
        if let Some(e) = &t.error {
            worst.push((
                Status::Error,
                format!("table `{}`: {}", cell(&t.name), cell(e)),
            ));
        }
        for f in &t.findings {
            worst.push((
                f.level,
                format!(
                    "table `{}`: {} = {} > {}",
                    cell(&t.name),
                    cell(&f.metric),
                    f.value,
                    super::terminal::trim_float(f.threshold)
                ),
            ));
        }
    }
    for ch in &r.checks {
        for f in &ch.findings {
            worst.push((
                f.level,
                format!(
                    "check `{}`: {} = {} > {}",
                    cell(&ch.id),
                    cell(&f.metric),
                    f.value,
                    super::terminal::trim_float(f.threshold)
                ),
            ));
        }
    }
    worst.sort_by_key(|w| std::cmp::Reverse(w.0));
    if !worst.is_empty() {
        let _ = writeln!(o, "## Worst findings\n");
        for (level, text) in worst.iter().take(10) {
            let _ = writeln!(o, "- **{}** {text}", level.as_str());
        }
        o.push('\n');
    }
}

/// Why changed cells differ, per column.
fn explained(r: &Report, o: &mut String) {
    let explained: Vec<String> = r
        .tables
        .iter()
        .flat_map(|t| {
            t.explained.iter().map(move |(col, classes)| {
                let parts: Vec<String> = classes
                    .iter()
                    .map(|(k, n)| format!("{} {}", cell(k), thousands(*n)))
                    .collect();
                format!(
                    "| {} | {} | {} |",
                    cell(&t.name),
                    cell(col),
                    parts.join(", ")
                )
            })
        })
        .collect();
    if !explained.is_empty() {
        let _ = writeln!(
            o,
            "## Why cells differ\n\n| table | column | classes |\n|---|---|---|"
        );
        for line in explained {
            let _ = writeln!(o, "{line}");
        }
        o.push('\n');
    }
}

/// Columns on one side only, and pairings by case.
fn schema(r: &Report, o: &mut String) {
    let schema: Vec<String> = r
        .tables
        .iter()
        .filter(|t| {
            !(t.schema.legacy_only.is_empty()
                && t.schema.target_only.is_empty()
                && t.schema.paired_by_case.is_empty())
        })
        .map(|t| {
            let list = |v: &[String]| -> String {
                if v.is_empty() {
                    "-".into()
                } else {
                    v.iter()
                        .map(|c| format!("`{}`", cell(c)))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            let pairs: Vec<String> = t
                .schema
                .paired_by_case
                .iter()
                .map(|(l, r)| format!("`{}` = `{}`", cell(l), cell(r)))
                .collect();
            format!(
                "| {} | {} | {} | {} |",
                cell(&t.name),
                list(&t.schema.legacy_only),
                list(&t.schema.target_only),
                if pairs.is_empty() {
                    "-".into()
                } else {
                    pairs.join(", ")
                }
            )
        })
        .collect();
    if !schema.is_empty() {
        let _ = writeln!(
            o,
            "## Schema

| table | only in legacy | only in target | paired by case |\n|---|---|---|---|"
        );
        for line in schema {
            let _ = writeln!(o, "{line}");
        }
        o.push('\n');
    }
}

/// Drift trend and key churn against earlier runs.
fn churn(r: &Report, o: &mut String) {
    let churn: Vec<String> = r
        .tables
        .iter()
        .filter_map(|t| {
            let h = t.history.as_ref()?;
            Some(format!(
                "| {} | {} | {} | {} |",
                cell(&t.name),
                h.trend
                    .iter()
                    .map(|p| percent(p.drift_ratio))
                    .collect::<Vec<_>>()
                    .join(" → "),
                h.new_keys.map_or("-".into(), thousands),
                h.resolved_keys.map_or("-".into(), thousands)
            ))
        })
        .collect();
    if !churn.is_empty() {
        let _ = writeln!(
            o,
            "## Since earlier runs\n\n| table | drift trend | new keys | resolved keys |\n|---|---|---:|---:|"
        );
        for line in churn {
            let _ = writeln!(o, "{line}");
        }
        o.push('\n');
    }
}

/// The audit block: versions, digest, timing and every input.
fn audit(r: &Report, o: &mut String) {
    let _ = writeln!(o, "<details><summary>Audit</summary>\n");
    let _ = writeln!(
        o,
        "recon {} · hash v{} · report schema v{} · config `{}` · started {} · {} ms · {} threads · memory budget {} MiB\n",
        cell(&r.tool.version),
        r.hash_version,
        r.schema_version,
        cell(&r.run.config_digest),
        cell(&r.run.started_at),
        r.run.duration_ms,
        r.run.threads,
        r.run.memory_budget >> 20
    );
    let _ = writeln!(
        o,
        "| side | table | files | bytes | rows |\n|---|---|---:|---:|---:|"
    );
    for i in &r.inputs {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            i.side,
            cell(&i.table),
            i.files.len(),
            thousands(i.bytes),
            thousands(i.rows)
        );
    }
    let _ = writeln!(o, "\n</details>");
}

/// Integer and decimal columns compared with a float column, with both types.
fn exact_vs_float(r: &Report, o: &mut String) {
    let lines: Vec<String> = r
        .tables
        .iter()
        .flat_map(|t| {
            t.schema.exact_vs_float.iter().map(|(c, types)| {
                format!("| {} | `{}` | {} |", cell(&t.name), cell(c), cell(types))
            })
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "## Exact numbers compared with floats\n\nA value the float cannot hold exactly counts as changed.\n\n| table | column | types |\n|---|---|---|"
    );
    for line in lines {
        let _ = writeln!(o, "{line}");
    }
    o.push('\n');
}
