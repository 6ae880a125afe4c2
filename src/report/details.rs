//! What a check measured, as a small table people read (the group or golden row, the legacy
//! value, the target value, the difference) instead of JSON. The HTML and Markdown reports render
//! these; they compute nothing: every cell comes from the check's typed `measured` block.

use super::model::{
    CheckReport, DifferingGroup, GoldenDiff, GoldenMeasured, GroupCounts, InvariantMeasured,
    Measured, OrphanMeasured, ShownRow,
};

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

/// A shown value: `NULL` for NULL.
fn text(v: Option<&str>) -> String {
    v.unwrap_or("NULL").to_owned()
}

fn texts(values: &[Option<String>]) -> Vec<String> {
    values.iter().map(|v| text(v.as_deref())).collect()
}

/// The details of a check that ran (`None` for one that errored).
pub fn of(c: &CheckReport) -> Option<Details> {
    if c.reason.is_some() {
        return None;
    }
    Some(match c.measured.as_ref()? {
        Measured::Count(m) => grouped(
            [&m.legacy, &m.target],
            &m.groups,
            &m.group_by,
            &m.differing_groups,
        ),
        Measured::Total(m) => grouped(
            [&m.legacy, &m.target],
            &m.groups,
            &m.group_by,
            &m.differing_groups,
        ),
        Measured::Golden(m) => golden(m),
        Measured::Orphan(m) => orphan(m),
        Measured::Invariant(m) => invariant(m),
    })
}

fn grouped(
    totals: [&Option<String>; 2],
    g: &GroupCounts,
    group_by: &[String],
    differing: &[DifferingGroup],
) -> Details {
    let summary = format!(
        "legacy {}, target {}; {} of {} legacy and {} target groups differ",
        text(totals[0].as_deref()),
        text(totals[1].as_deref()),
        g.differing,
        g.legacy,
        g.target
    );
    if differing.is_empty() {
        return Details::summary(summary);
    }
    let mut headers = group_by.to_vec();
    if headers.is_empty() {
        headers.push("group".into());
    }
    headers.extend(["legacy", "target", "difference"].map(String::from));
    let rows = differing
        .iter()
        .map(|d| {
            let mut row = texts(&d.group);
            if row.is_empty() {
                row.push("(all rows)".into());
            }
            row.extend([&d.legacy, &d.target, &d.difference].map(|v| text(v.as_deref())));
            row
        })
        .collect();
    Details {
        summary,
        headers,
        rows,
    }
}

fn golden(m: &GoldenMeasured) -> Details {
    let summary = format!(
        "rows: legacy {}, target {}; changed {}, missing {}, extra {}",
        m.rows.legacy, m.rows.target, m.changed, m.missing, m.extra
    );
    let values: Vec<&String> = m.columns.iter().filter(|c| !m.key.contains(c)).collect();
    if m.differing.is_empty() {
        return Details::summary(summary);
    }
    let mut headers = m.key.clone();
    for v in &values {
        headers.push(format!("{v} (legacy)"));
        headers.push(format!("{v} (target)"));
    }
    headers.push("differs in".into());
    let rows = m
        .differing
        .iter()
        .map(|d| golden_row(d, &m.key, &values))
        .collect();
    Details {
        summary,
        headers,
        rows,
    }
}

fn golden_row(d: &GoldenDiff, key: &[String], values: &[&String]) -> Vec<String> {
    let (l, t) = (d.legacy.as_ref(), d.target.as_ref());
    let cell = |row: Option<&ShownRow>, c: &str| match row {
        None => "-".to_owned(),
        Some(r) => text(r.get(c).and_then(Option::as_deref)),
    };
    let side = l.or(t);
    let mut row: Vec<String> = key.iter().map(|k| cell(side, k)).collect();
    for v in values {
        row.push(cell(l, v));
        row.push(cell(t, v));
    }
    row.push(match (l.is_some(), t.is_some()) {
        (true, false) => "missing in target".into(),
        (false, true) => "extra in target".into(),
        _ => d.columns.clone().unwrap_or_default().join(", "),
    });
    row
}

fn orphan(m: &OrphanMeasured) -> Details {
    let summary = format!(
        "orphans: legacy {}, target {}; new in target {}",
        m.orphans.legacy, m.orphans.target, m.new_orphans
    );
    let samples = &m.samples.new;
    let headers: Vec<String> = samples
        .first()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let rows = samples
        .iter()
        .map(|s| {
            headers
                .iter()
                .map(|h| text(s.get(h).and_then(Option::as_deref)))
                .collect()
        })
        .collect();
    Details {
        summary,
        headers,
        rows,
    }
}

fn invariant(m: &InvariantMeasured) -> Details {
    let shown = |v: Option<u64>| v.map_or_else(|| "NULL".to_owned(), |n| n.to_string());
    let summary = format!(
        "violations: legacy {}, target {}",
        shown(m.violations.legacy),
        shown(m.violations.target)
    );
    let mut headers = vec!["side".to_owned()];
    headers.extend(m.key.iter().cloned());
    let mut rows = Vec::new();
    for (side, samples) in [("legacy", &m.samples.legacy), ("target", &m.samples.target)] {
        for s in samples.iter().flatten() {
            let mut row = vec![side.to_owned()];
            row.extend(texts(s));
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
