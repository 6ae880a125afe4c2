//! Golden queries: `.sql` files run on both sides and compared as multisets on declared key
//! columns, with per-column numeric tolerance.
//!
//! A file is either one query for both sides, with `{side}` standing for the side's schema
//! (`FROM {side}.service_orders`), or a pair `NAME.legacy.sql` + `NAME.target.sql` for schemas that
//! differ. Header comments declare the rest:
//!
//! ```sql
//! -- name: revenue_by_tenant
//! -- key: tenant_id
//! -- tolerance: revenue=0.01
//! SELECT tenant_id, SUM(final_amount) AS revenue FROM {side}.service_orders GROUP BY tenant_id
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::sql;
use super::{Context, Measured};
use crate::error::{Error, Result};
use crate::hash::decimal;
use crate::side::{PerSide, Side};

/// A golden query loaded from disk.
#[derive(Debug, Clone)]
pub struct GoldenQuery {
    /// Its name (the check id is `golden.<name>`).
    pub name: String,
    /// The file(s) it came from.
    pub source: String,
    /// Key columns of the result.
    pub key: Vec<String>,
    /// Column → absolute tolerance.
    pub tolerance: BTreeMap<String, (i128, i32)>,
    /// The SQL per side.
    pub sql: PerSide<String>,
}

struct Header {
    name: Option<String>,
    key: Vec<String>,
    tolerance: BTreeMap<String, (i128, i32)>,
}

fn header(text: &str, file: &Path) -> Result<Header> {
    let bad = |m: String| Error::Invalid(format!("golden query {}: {m}", file.display()));
    let mut h = Header {
        name: None,
        key: Vec::new(),
        tolerance: BTreeMap::new(),
    };
    for (i, line) in text.lines().enumerate() {
        let Some(comment) = line.trim().strip_prefix("--") else {
            if line.trim().is_empty() {
                continue;
            }
            break;
        };
        let Some((field, value)) = comment.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match field.trim().to_ascii_lowercase().as_str() {
            "name" => h.name = Some(value.to_owned()),
            "key" => {
                h.key = value
                    .split(',')
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .collect()
            }
            "tolerance" => {
                for part in value.split(',').filter(|p| !p.trim().is_empty()) {
                    let (col, tol) = part.split_once('=').ok_or_else(|| {
                        bad(format!("line {}: tolerance is `column=amount`", i + 1))
                    })?;
                    let tol = decimal::parse_decimal(tol.trim()).ok_or_else(|| {
                        bad(format!("line {}: `{}` is not a decimal", i + 1, tol.trim()))
                    })?;
                    h.tolerance.insert(col.trim().to_owned(), tol);
                }
            }
            _ => {}
        }
    }
    Ok(h)
}

/// Loads every golden query of a folder, sorted by name.
pub fn load_golden(dir: &Path) -> Result<Vec<GoldenQuery>> {
    let read_err =
        |e: std::io::Error| Error::Invalid(format!("golden queries {}: {e}", dir.display()));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in &files {
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if file_name.ends_with(".target.sql") {
            continue;
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        let (stem, sql, source) = if let Some(stem) = file_name.strip_suffix(".legacy.sql") {
            let target_path = path.with_file_name(format!("{stem}.target.sql"));
            let target = std::fs::read_to_string(&target_path).map_err(|e| {
                Error::Invalid(format!(
                    "golden query {}: needs {}: {e}",
                    path.display(),
                    target_path.display()
                ))
            })?;
            (
                stem.to_owned(),
                PerSide::new(text.clone(), target),
                format!("{} + {}", path.display(), target_path.display()),
            )
        } else {
            let stem = file_name.trim_end_matches(".sql").to_owned();
            let per = |s: Side| text.replace("{side}", s.as_str());
            (
                stem,
                PerSide::new(per(Side::Legacy), per(Side::Target)),
                path.display().to_string(),
            )
        };
        let h = header(&text, path)?;
        if h.key.is_empty() {
            return Err(Error::Invalid(format!(
                "golden query {}: declare `-- key: col[, col]`",
                path.display()
            )));
        }
        out.push(GoldenQuery {
            name: h.name.unwrap_or(stem),
            source,
            key: h.key,
            tolerance: h.tolerance,
            sql,
        });
    }
    Ok(out)
}

fn to_rows(batches: &[arrow::array::RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let schema = b.schema();
        for r in 0..b.num_rows() {
            out.push(
                schema
                    .fields()
                    .iter()
                    .zip(b.columns())
                    .map(|(f, c)| (f.name().clone(), sql::cell(c.as_ref(), r)))
                    .collect(),
            );
        }
    }
    out
}

fn equal(a: Option<&String>, b: Option<&String>, tol: Option<(i128, i32)>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) if x == y => true,
        (Some(x), Some(y)) => {
            let tol = tol.unwrap_or((0, 0));
            match (decimal::parse_decimal(x), decimal::parse_decimal(y)) {
                (Some(p), Some(q)) => decimal::abs_diff_within(p, q, tol).unwrap_or(false),
                _ => match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(p), Ok(q)) => (p - q).abs() <= decimal::to_f64(tol.0, tol.1),
                    _ => false,
                },
            }
        }
        _ => false,
    }
}

fn to_json(ctx: &Context, row: &Row) -> Value {
    let cells = row.iter().map(|(k, v)| {
        (
            k.clone(),
            ctx.redact
                .text(k, v.clone())
                .map_or(Value::Null, Value::String),
        )
    });
    Value::Object(cells.collect())
}

/// One result row of a golden query, by column name.
pub type Row = BTreeMap<String, Option<String>>;

/// A key's row on each side (`None` where the side has no such row) and the columns that differ.
#[derive(Debug, Clone)]
pub struct RowPair {
    /// The legacy row.
    pub legacy: Option<Row>,
    /// The target row.
    pub target: Option<Row>,
    /// Differing value columns (empty for equal rows; all columns for missing or extra rows).
    pub columns: Vec<String>,
}

impl RowPair {
    /// Whether the two sides agree on this row.
    pub fn equal(&self) -> bool {
        self.legacy.is_some() && self.target.is_some() && self.columns.is_empty()
    }
}

/// Runs a golden query on both sides (each in its side's session) and returns the rows.
pub async fn results(
    sessions: &PerSide<datafusion::execution::context::SessionContext>,
    q: &GoldenQuery,
) -> std::result::Result<PerSide<Vec<Row>>, String> {
    let (l, t) = futures::join!(
        sql::query(&sessions.legacy, &q.sql.legacy),
        sql::query(&sessions.target, &q.sql.target)
    );
    let rows = PerSide::new(
        to_rows(&l.map_err(|e| format!("legacy: {e}"))?),
        to_rows(&t.map_err(|e| format!("target: {e}"))?),
    );
    for side in Side::BOTH {
        if let Some(row) = rows.get(side).first()
            && let Some(k) = q.key.iter().find(|k| !row.contains_key(*k))
        {
            return Err(format!("{side} result has no key column `{k}`"));
        }
    }
    Ok(rows)
}

/// Pairs the rows of both sides as multisets on the key, in key order.
pub fn compare(q: &GoldenQuery, rows: &PerSide<Vec<Row>>) -> Vec<RowPair> {
    let key_of = |r: &Row| -> Vec<Option<String>> {
        q.key.iter().map(|k| r.get(k).cloned().flatten()).collect()
    };
    let mut groups: BTreeMap<Vec<Option<String>>, PerSide<Vec<&Row>>> = BTreeMap::new();
    for side in Side::BOTH {
        for r in rows.get(side) {
            groups
                .entry(key_of(r))
                .or_insert_with(|| PerSide::new(Vec::new(), Vec::new()))
                .get_mut(side)
                .push(r);
        }
    }
    let value_columns = |a: &Row, b: &Row| -> Vec<String> {
        a.keys()
            .chain(b.keys())
            .filter(|c| !q.key.contains(c))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let mut out = Vec::new();
    for (_, mut g) in groups {
        g.legacy.sort();
        g.target.sort();
        let paired = g.legacy.len().min(g.target.len());
        for (a, b) in g.legacy.iter().zip(&g.target) {
            let columns = value_columns(a, b)
                .into_iter()
                .filter(|c| {
                    !equal(
                        a.get(c).and_then(Option::as_ref),
                        b.get(c).and_then(Option::as_ref),
                        q.tolerance.get(c).copied(),
                    )
                })
                .collect();
            out.push(RowPair {
                legacy: Some((*a).clone()),
                target: Some((*b).clone()),
                columns,
            });
        }
        for a in &g.legacy[paired..] {
            out.push(RowPair {
                legacy: Some((*a).clone()),
                target: None,
                columns: value_columns(a, a),
            });
        }
        for b in &g.target[paired..] {
            out.push(RowPair {
                legacy: None,
                target: Some((*b).clone()),
                columns: value_columns(b, b),
            });
        }
    }
    out
}

/// Runs a golden query on both sides and compares the results.
pub(crate) async fn run(ctx: &Context, q: &GoldenQuery) -> std::result::Result<Measured, String> {
    let rows = results(&ctx.sessions, q).await?;
    let (mut changed, mut missing, mut extra) = (0u64, 0u64, 0u64);
    let mut differing = Vec::new();
    for p in compare(q, &rows) {
        match (&p.legacy, &p.target) {
            (Some(a), Some(b)) if !p.columns.is_empty() => {
                changed += 1;
                differing.push(
                    json!({"legacy": to_json(ctx, a), "target": to_json(ctx, b), "columns": p.columns}),
                );
            }
            (Some(a), None) => {
                missing += 1;
                differing.push(json!({"legacy": to_json(ctx, a), "target": null}));
            }
            (None, Some(b)) => {
                extra += 1;
                differing.push(json!({"legacy": null, "target": to_json(ctx, b)}));
            }
            _ => {}
        }
    }
    let (l, t) = (&rows.legacy, &rows.target);
    differing.truncate(ctx.samples.max(1) * 5);
    #[allow(clippy::cast_precision_loss)]
    Ok(Measured {
        metric: "differing_rows",
        value: (changed + missing + extra) as f64,
        extra: Vec::new(),
        measured: json!({
            "rows": {"legacy": l.len(), "target": t.len()},
            "changed": changed, "missing": missing, "extra": extra,
            "key": q.key,
            "differing": differing,
        }),
    })
}
