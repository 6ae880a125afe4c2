//! One self-contained HTML file that works offline (no CDN, no script): verdict banner, drift per
//! table as a bar chart, a per-column drift heat map, check results, samples, why cells differ,
//! the trend over past runs, and the audit block. Every value from the data is escaped.

use std::fmt::Write;

use super::{Report, TableReport, percent, thousands};
use crate::gate::Status;

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn color(s: Status) -> &'static str {
    match s {
        Status::Pass => "#1a7f37",
        Status::Warn => "#9a6700",
        Status::Fail => "#cf222e",
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

/// Renders the report as one HTML page.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>recon: {v}</title><style>{STYLE}</style></head><body>",
        v = esc(r.verdict.as_str())
    );
    let (t, c) = (&r.summary.tables, &r.summary.checks);
    let _ = write!(
        o,
        "<div class=\"banner\" id=\"verdict\" style=\"background:{}\">recon verdict: {} <span style=\"font-size:14px;font-weight:400\">— tables {} pass, {} warn, {} fail, {} error · checks {} pass, {} warn, {} fail, {} error</span></div><main>",
        color(r.verdict),
        esc(&r.verdict.as_str().to_uppercase()),
        t.pass,
        t.warn,
        t.fail,
        t.error,
        c.pass,
        c.warn,
        c.fail,
        c.error
    );
    if let Some(e) = &r.error {
        let _ = write!(
            o,
            "<section><h2>Could not decide</h2><p>{}</p></section>",
            esc(e)
        );
    }
    drift_chart(r, &mut o);
    tables(r, &mut o);
    heat_map(r, &mut o);
    checks(r, &mut o);
    explained(r, &mut o);
    trend(r, &mut o);
    for t in &r.tables {
        samples(t, &mut o);
    }
    audit(r, &mut o);
    o.push_str("</main></body></html>\n");
    o
}

fn drift_chart(r: &Report, o: &mut String) {
    if r.tables.is_empty() {
        return;
    }
    let max = r
        .tables
        .iter()
        .map(|t| t.drift_ratio)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let row_h = 26;
    let height = r.tables.len() * row_h + 10;
    let _ = write!(
        o,
        "<section><h2>Drift per table</h2><svg id=\"drift-chart\" role=\"img\" width=\"100%\" height=\"{height}\" viewBox=\"0 0 800 {height}\">"
    );
    for (i, t) in r.tables.iter().enumerate() {
        let y = i * row_h + 5;
        let w = (t.drift_ratio / max * 480.0).max(if t.drift_ratio > 0.0 { 2.0 } else { 0.0 });
        let _ = write!(
            o,
            "<text x=\"0\" y=\"{ty}\" font-size=\"13\">{name}</text><rect x=\"200\" y=\"{y}\" width=\"{w:.1}\" height=\"18\" fill=\"{c}\"><title>{name}: {p}</title></rect><text x=\"{tx:.1}\" y=\"{ty}\" font-size=\"12\">{p}</text>",
            ty = y + 14,
            name = esc(&t.name),
            c = color(t.status),
            p = esc(&percent(t.drift_ratio)),
            tx = 206.0 + w
        );
    }
    o.push_str("</svg></section>");
}

fn tables(r: &Report, o: &mut String) {
    if r.tables.is_empty() {
        return;
    }
    o.push_str("<section><h2>Tables</h2><table><tr><th>table</th><th class=\"n\">legacy</th><th class=\"n\">target</th><th class=\"n\">matched</th><th class=\"n\">changed</th><th class=\"n\">missing</th><th class=\"n\">extra</th><th class=\"n\">drift</th><th>status</th><th>findings</th></tr>");
    for t in &r.tables {
        let findings: Vec<String> = t
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{} {} &gt; {}",
                    esc(&f.metric),
                    esc(&super::terminal::trim_float(f.value)),
                    esc(&super::terminal::trim_float(f.threshold))
                )
            })
            .chain(t.error.iter().map(|e| esc(e)))
            .collect();
        let figures = t.figures().iter().fold(String::new(), |mut s, f| {
            let _ = write!(s, "<td class=\"n\">{}</td>", esc(f));
            s
        });
        let _ = write!(
            o,
            "<tr><td>{}</td>{figures}<td class=\"st\" style=\"color:{}\">{}</td><td>{}</td></tr>",
            esc(&t.name),
            color(t.status),
            t.status.as_str(),
            findings.join("<br>")
        );
    }
    o.push_str("</table></section>");
}

fn heat_map(r: &Report, o: &mut String) {
    let rows: Vec<&TableReport> = r
        .tables
        .iter()
        .filter(|t| !t.compared_columns.is_empty())
        .collect();
    if rows.is_empty() {
        return;
    }
    o.push_str("<section id=\"heat-map\"><h2>Changed rows per column</h2>");
    for t in rows {
        let paired = (t.matched + t.changed).max(1);
        let _ = write!(
            o,
            "<div class=\"heatrow\"><b>{}</b><div class=\"cells\">",
            esc(&t.name)
        );
        for c in &t.compared_columns {
            let n = t.columns.get(c).map_or(0, |d| d.changed);
            #[allow(clippy::cast_precision_loss)]
            let share = n as f64 / paired as f64;
            let alpha = if n == 0 {
                0.0
            } else {
                0.15 + 0.85 * (share * 50.0).min(1.0)
            };
            let _ = write!(
                o,
                "<span class=\"cell\" style=\"background:rgba(207,34,46,{alpha:.2})\" title=\"{col}: {n} changed rows ({p})\"><code>{col}</code><br>{n}</span>",
                col = esc(c),
                n = thousands(n),
                p = esc(&percent(share))
            );
        }
        o.push_str("</div></div>");
    }
    o.push_str("</section>");
}

fn checks(r: &Report, o: &mut String) {
    if r.checks.is_empty() {
        return;
    }
    o.push_str("<section><h2>Checks</h2><table><tr><th>check</th><th>kind</th><th>metric</th><th class=\"n\">value</th><th>status</th><th>details</th></tr>");
    for c in &r.checks {
        let details = match (&c.reason, super::details::of(c)) {
            (Some(reason), _) => esc(reason),
            (None, Some(d)) => details_table(&d),
            (None, None) => String::new(),
        };
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"st\" style=\"color:{}\">{}</td><td>{}</td></tr>",
            esc(&c.id),
            c.kind.as_str(),
            esc(&c.metric),
            esc(&super::terminal::trim_float(c.value)),
            color(c.status),
            c.status.as_str(),
            details
        );
    }
    o.push_str("</table></section>");
}

/// Rows of a check's details shown in a report; the JSON report has them all (up to its cap).
pub const DETAIL_ROWS: usize = 20;

/// A check's summary line and, when something differs, a small table of it.
fn details_table(d: &super::details::Details) -> String {
    let mut o = esc(&d.summary);
    if d.rows.is_empty() {
        return o;
    }
    o.push_str("<table class=\"detail\"><tr>");
    for h in &d.headers {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr>");
    for row in d.rows.iter().take(DETAIL_ROWS) {
        o.push_str("<tr>");
        for cell in row {
            let _ = write!(o, "<td>{}</td>", esc(cell));
        }
        o.push_str("</tr>");
    }
    o.push_str("</table>");
    if d.rows.len() > DETAIL_ROWS {
        let _ = write!(
            o,
            "<span class=\"muted\">{} more in report.json</span>",
            d.rows.len() - DETAIL_ROWS
        );
    }
    o
}

fn explained(r: &Report, o: &mut String) {
    if r.tables.iter().all(|t| t.explained.is_empty()) {
        return;
    }
    o.push_str("<section><h2>Why cells differ</h2><table><tr><th>table</th><th>column</th><th>classes</th></tr>");
    for t in &r.tables {
        for (col, classes) in &t.explained {
            let parts: Vec<String> = classes
                .iter()
                .map(|(k, n)| format!("{} {}", esc(k), thousands(*n)))
                .collect();
            let _ = write!(
                o,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&t.name),
                esc(col),
                parts.join(", ")
            );
        }
    }
    o.push_str("</table></section>");
}

fn trend(r: &Report, o: &mut String) {
    let with: Vec<&TableReport> = r.tables.iter().filter(|t| t.history.is_some()).collect();
    if with.is_empty() {
        return;
    }
    o.push_str("<section><h2>Trend over past runs</h2><table id=\"trend\"><tr><th>table</th><th>drift over the last runs</th><th class=\"n\">new keys</th><th class=\"n\">resolved keys</th></tr>");
    for t in with {
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
            .map(|p| format!("{}: {}", esc(&p.started_at), esc(&percent(p.drift_ratio))))
            .collect();
        let _ = write!(
            o,
            "<tr><td>{}</td><td><svg width=\"300\" height=\"60\" viewBox=\"0 0 300 60\"><polyline fill=\"none\" stroke=\"#cf222e\" stroke-width=\"2\" points=\"{}\"/><title>{}</title></svg></td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&t.name),
            points.join(" "),
            labels.join("; "),
            h.new_keys.map_or("-".into(), thousands),
            h.resolved_keys.map_or("-".into(), thousands)
        );
    }
    o.push_str("</table></section>");
}

fn samples(t: &TableReport, o: &mut String) {
    let s = &t.samples;
    if s.changed.is_empty() && s.missing.is_empty() && s.extra.is_empty() {
        return;
    }
    let key = |k: &std::collections::BTreeMap<String, serde_json::Value>| {
        k.iter()
            .map(|(c, v)| format!("{}={}", esc(c), esc(&value_text(v))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(
        o,
        "<section><h2>Samples: {}</h2><table><tr><th>category</th><th>key</th><th>column</th><th>legacy</th><th>target</th></tr>",
        esc(&t.name)
    );
    for c in &s.changed {
        for (col, v) in &c.columns {
            let _ = write!(
                o,
                "<tr><td>changed</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                key(&c.key),
                esc(col),
                esc(&value_text(&v.legacy)),
                esc(&value_text(&v.target))
            );
        }
    }
    for m in &s.missing {
        let _ = write!(
            o,
            "<tr><td>missing</td><td>{}</td><td></td><td></td><td></td></tr>",
            key(&m.key)
        );
    }
    for e in &s.extra {
        let _ = write!(
            o,
            "<tr><td>extra</td><td>{}</td><td></td><td></td><td></td></tr>",
            key(&e.key)
        );
    }
    o.push_str("</table></section>");
}

fn audit(r: &Report, o: &mut String) {
    let _ = write!(
        o,
        "<section id=\"audit\"><h2>Audit</h2><p class=\"muted\">recon {} · hash version {} · report schema {} · config {} (digest <code>{}</code>) · started {} · {} ms · {} threads · fail on {}</p><table><tr><th>side</th><th>table</th><th>root</th><th class=\"n\">files</th><th class=\"n\">bytes</th><th class=\"n\">rows</th></tr>",
        esc(&r.tool.version),
        r.hash_version,
        r.schema_version,
        esc(r.run.config_path.as_deref().unwrap_or("-")),
        esc(&r.run.config_digest),
        esc(&r.run.started_at),
        r.run.duration_ms,
        r.run.threads,
        match r.run.fail_on {
            crate::gate::FailOn::Fail => "fail",
            crate::gate::FailOn::Warn => "warn",
        }
    );
    for i in &r.inputs {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            i.side,
            esc(&i.table),
            esc(&i.root),
            i.files.len(),
            thousands(i.bytes),
            thousands(i.rows)
        );
    }
    o.push_str("</table></section>");
}
