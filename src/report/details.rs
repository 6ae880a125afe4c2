//! What a check measured, as a small table people read (the group or golden row, the legacy
//! value, the target value, the difference) instead of JSON. The HTML and Markdown reports render
//! these; they compute nothing: every cell comes from the check's `measured` block.

use serde_json::Value;

use crate::checks::{CheckKind, CheckReport};

/// A check's details: one line of summary and a table of what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    /// One line: totals, counts of groups or rows.
    pub summary: String,
    /// Column headers of the table (empty when there is nothing to list).
    pub headers: Vec<String>,
    /// Rows of the table, as text (`NULL` for NULL, `-` for a row one side lacks).
    pub rows: Vec<Vec<String>>,
}

impl Details {
    /// Details with nothing to list.
    fn summary(summary: String) -> Self {
        Self {
            summary,
            headers: Vec::new(),
            rows: Vec::new(),
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default()
}

/// The details of a check that ran (`None` for one that errored).
pub fn of(c: &CheckReport) -> Option<Details> {
    if c.reason.is_some() || c.measured.is_null() {
        return None;
    }
    let m = &c.measured;
    Some(match c.kind {
        CheckKind::Count | CheckKind::Total => grouped(m),
        CheckKind::Golden => golden(m),
        CheckKind::Orphan => orphan(m),
        CheckKind::Invariant => invariant(m),
    })
}

fn grouped(m: &Value) -> Details {
    let g = &m["groups"];
    let summary = format!(
        "legacy {}, target {}; {} of {} legacy and {} target groups differ",
        text(&m["legacy"]),
        text(&m["target"]),
        text(&g["differing"]),
        text(&g["legacy"]),
        text(&g["target"])
    );
    let mut headers = strings(&m["group_by"]);
    let differing = m["differing_groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if differing.is_empty() {
        return Details::summary(summary);
    }
    if headers.is_empty() {
        headers.push("group".into());
    }
    headers.extend(["legacy", "target", "difference"].map(String::from));
    let rows = differing
        .iter()
        .map(|d| {
            let mut row = strings(&d["group"]);
            if row.is_empty() {
                row.push("(all rows)".into());
            }
            row.extend([&d["legacy"], &d["target"], &d["difference"]].map(text));
            row
        })
        .collect();
    Details {
        summary,
        headers,
        rows,
    }
}

fn golden(m: &Value) -> Details {
    let summary = format!(
        "rows: legacy {}, target {}; changed {}, missing {}, extra {}",
        text(&m["rows"]["legacy"]),
        text(&m["rows"]["target"]),
        text(&m["changed"]),
        text(&m["missing"]),
        text(&m["extra"])
    );
    let key = strings(&m["key"]);
    let values: Vec<String> = strings(&m["columns"])
        .into_iter()
        .filter(|c| !key.contains(c))
        .collect();
    let differing = m["differing"].as_array().cloned().unwrap_or_default();
    if differing.is_empty() {
        return Details::summary(summary);
    }
    let mut headers = key.clone();
    for v in &values {
        headers.push(format!("{v} (legacy)"));
        headers.push(format!("{v} (target)"));
    }
    headers.push("differs in".into());
    let rows = differing
        .iter()
        .map(|d| {
            let (l, t) = (&d["legacy"], &d["target"]);
            let side = if l.is_null() { t } else { l };
            let cell = |row: &Value, c: &str| {
                if row.is_null() {
                    "-".to_owned()
                } else {
                    text(&row[c])
                }
            };
            let mut row: Vec<String> = key.iter().map(|k| text(&side[k.as_str()])).collect();
            for v in &values {
                row.push(cell(l, v));
                row.push(cell(t, v));
            }
            row.push(match (l.is_null(), t.is_null()) {
                (false, true) => "missing in target".into(),
                (true, false) => "extra in target".into(),
                _ => strings(&d["columns"]).join(", "),
            });
            row
        })
        .collect();
    Details {
        summary,
        headers,
        rows,
    }
}

fn orphan(m: &Value) -> Details {
    let summary = format!(
        "orphans: legacy {}, target {}; new in target {}",
        text(&m["orphans"]["legacy"]),
        text(&m["orphans"]["target"]),
        text(&m["new_orphans"])
    );
    let samples = m["samples"]["new"].as_array().cloned().unwrap_or_default();
    let headers: Vec<String> = samples
        .first()
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let rows = samples
        .iter()
        .map(|s| headers.iter().map(|h| text(&s[h.as_str()])).collect())
        .collect();
    Details {
        summary,
        headers,
        rows,
    }
}

fn invariant(m: &Value) -> Details {
    let v = &m["violations"];
    let summary = format!(
        "violations: legacy {}, target {}",
        text(&v["legacy"]),
        text(&v["target"])
    );
    let key = strings(&m["key"]);
    let mut headers = vec!["side".to_owned()];
    headers.extend(key.iter().cloned());
    let mut rows = Vec::new();
    for side in ["legacy", "target"] {
        for s in m["samples"][side].as_array().into_iter().flatten() {
            let mut row = vec![side.to_owned()];
            row.extend(strings(s));
            rows.push(row);
        }
    }
    if rows.is_empty() {
        headers.clear();
    }
    Details {
        summary,
        headers,
        rows,
    }
}
