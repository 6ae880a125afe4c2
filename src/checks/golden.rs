//! Golden queries: `.sql` files run on both sides and compared as multisets of rows under the
//! one value model ([`crate::value`]): numbers by value, timestamps by instant, strings with the
//! options of `[defaults]` (or of the pair named by `-- table:`), declared tolerances applied.
//!
//! With `-- key:` rows pair by their key columns; without it, the whole result is one multiset
//! of rows (a one-row grand total is the common case). Within a key, identical rows pair first,
//! the rest pair in a deterministic order (tolerance columns sorted last, so rows that agree on
//! everything else meet) and differ in the columns that are not equal; what is left over is
//! missing (legacy only) or extra (target only).
//!
//! A file is either one query for both sides, with `{side}` standing for the side's schema
//! (`FROM {side}.service_orders`), or a pair `NAME.legacy.sql` + `NAME.target.sql` for schemas that
//! differ. Header comments declare the rest:
//!
//! ```sql
//! -- name: revenue_by_tenant
//! -- key: tenant_id
//! -- tolerance: revenue=0.01
//! -- table: service_orders
//! SELECT tenant_id, SUM(final_amount) AS revenue FROM {side}.service_orders GROUP BY tenant_id
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use super::Context;
use super::lineage::Redaction;
use super::outcome::{GoldenDiff, GoldenRows, Measurement};
use super::sql::{self, CellRow, Outcome, ValueOptions};
use crate::error::CheckError;
use crate::error::{Error, Result};
use crate::side::{PerSide, Side};
use crate::value::{Cell, Decimal, Tolerance, cells_within};

/// A golden query loaded from disk.
#[derive(Debug, Clone)]
pub struct GoldenQuery {
    /// Its name (the check id is `golden.<name>`).
    pub name: String,
    /// The file(s) it came from.
    pub source: String,
    /// Key columns of the result (empty: the whole result is one multiset).
    pub key: Vec<String>,
    /// Column → absolute tolerance.
    pub tolerance: BTreeMap<String, Decimal>,
    /// The table pair whose comparison options apply to result columns of the same name.
    pub table: Option<String>,
    /// The SQL per side.
    pub sql: PerSide<String>,
}

struct Header {
    name: Option<String>,
    key: Vec<String>,
    tolerance: BTreeMap<String, Decimal>,
    table: Option<String>,
}

fn header(text: &str, file: &Path) -> Result<Header> {
    let bad = |m: String| Error::Invalid(format!("golden query {}: {m}", file.display()));
    let mut h = Header {
        name: None,
        key: Vec::new(),
        tolerance: BTreeMap::new(),
        table: None,
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
            "table" => h.table = Some(value.to_owned()),
            "key" => {
                h.key = value
                    .split(',')
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .collect();
            }
            "tolerance" => {
                for part in value.split(',').filter(|p| !p.trim().is_empty()) {
                    let (col, tol) = part.split_once('=').ok_or_else(|| {
                        bad(format!("line {}: tolerance is `column=amount`", i + 1))
                    })?;
                    let tol = Decimal::parse(tol.trim()).ok_or_else(|| {
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
    let read_err = |e: std::io::Error| Error::input(format!("golden queries {}", dir.display()), e);
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
                Error::input(
                    format!(
                        "golden query {}: needs {}",
                        path.display(),
                        target_path.display()
                    ),
                    e,
                )
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
        out.push(GoldenQuery {
            name: h.name.unwrap_or(stem),
            source,
            key: h.key,
            tolerance: h.tolerance,
            table: h.table,
            sql,
        });
    }
    Ok(out)
}

/// One result row of a golden query as the report shows it, by column name.
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

/// Both sides' results compared.
#[derive(Debug, Clone)]
pub struct Compared {
    /// The result's columns, in the legacy result's order.
    pub columns: Vec<String>,
    /// Every row of either side, paired, in key order.
    pub pairs: Vec<RowPair>,
    /// Rows per side.
    pub rows: PerSide<usize>,
}

/// Runs a golden query on both sides (each in its side's session).
pub async fn results(
    sessions: &PerSide<datafusion::execution::context::SessionContext>,
    q: &GoldenQuery,
    redaction: &Redaction,
) -> std::result::Result<PerSide<Outcome>, CheckError> {
    let (l, t) = futures::join!(
        sql::query(&sessions.legacy, &q.sql.legacy, Side::Legacy, redaction),
        sql::query(&sessions.target, &q.sql.target, Side::Target, redaction)
    );
    Ok(PerSide::new(
        l.map_err(|e| CheckError::on(Side::Legacy, e))?,
        t.map_err(|e| CheckError::on(Side::Target, e))?,
    ))
}

/// The target result with its columns in the legacy result's order (matched by name).
fn aligned(results: PerSide<Outcome>) -> std::result::Result<PerSide<Outcome>, CheckError> {
    let (l, t) = (results.legacy.names(), results.target.names());
    let mut sorted = (l.clone(), t.clone());
    sorted.0.sort();
    sorted.1.sort();
    if sorted.0 != sorted.1 {
        return Err(CheckError::Refused(format!(
            "the results have different columns: legacy ({}), target ({})",
            l.join(", "),
            t.join(", ")
        )));
    }
    let order: Vec<usize> = l
        .iter()
        .filter_map(|n| t.iter().position(|x| x == n))
        .collect();
    let target = &results.target;
    let schema = std::sync::Arc::new(target.schema.project(&order).map_err(CheckError::from)?);
    let batches = target
        .batches
        .iter()
        .map(|b| b.project(&order))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(CheckError::from)?;
    let redacted = order
        .iter()
        .map(|&i| target.redacted.get(i).copied().unwrap_or(true))
        .collect();
    Ok(PerSide::new(
        results.legacy,
        Outcome {
            schema,
            batches,
            redacted,
        },
    ))
}

/// Pairs the rows of both sides as multisets within each key, under the value model.
pub fn compare(
    q: &GoldenQuery,
    results: PerSide<Outcome>,
    options: &ValueOptions,
    redaction: &Redaction,
) -> std::result::Result<Compared, CheckError> {
    let results = aligned(results)?;
    let names = results.legacy.names();
    if let Some(k) = q.key.iter().find(|k| !names.contains(k)) {
        return Err(CheckError::Refused(format!(
            "the result has no key column `{k}`"
        )));
    }
    if let Some(c) = q.tolerance.keys().find(|c| !names.contains(c)) {
        return Err(CheckError::Refused(format!(
            "a tolerance names `{c}`, which the result does not have"
        )));
    }
    let all: Vec<usize> = (0..names.len()).collect();
    let codecs = sql::codecs(&results, &all, |n| {
        options.for_column(q.table.as_deref(), n)
    })?;
    let rows = sql::cell_rows_both(&results, &all, &codecs, redaction)?;
    let pairing = Pairing::new(q, &names);
    let mut groups: BTreeMap<Vec<Cell>, PerSide<Vec<&CellRow>>> = BTreeMap::new();
    for side in Side::BOTH {
        for r in rows.get(side) {
            let key = pairing.key_at.iter().map(|&i| r.cells[i].clone()).collect();
            groups
                .entry(key)
                .or_insert_with(|| PerSide::new(Vec::new(), Vec::new()))
                .get_mut(side)
                .push(r);
        }
    }
    let mut pairs = Vec::new();
    for (_, g) in groups {
        pairing.pair(g, &mut pairs);
    }
    Ok(Compared {
        columns: names,
        pairs,
        rows: PerSide::new(rows.legacy.len(), rows.target.len()),
    })
}

/// How the rows of one key pair up across sides: the key and value columns, each column's
/// tolerance, and the sort order within a key.
struct Pairing<'a> {
    names: &'a [String],
    key_at: Vec<usize>,
    tolerance: Vec<Option<Tolerance>>,
    /// Columns without a tolerance first, so that rows agreeing on them meet when the rest pair
    /// in order.
    order: Vec<usize>,
    value_columns: Vec<String>,
}

impl<'a> Pairing<'a> {
    fn new(q: &GoldenQuery, names: &'a [String]) -> Self {
        let key_at: Vec<usize> = q
            .key
            .iter()
            .filter_map(|k| names.iter().position(|n| n == k))
            .collect();
        let tolerance: Vec<Option<Tolerance>> = names
            .iter()
            .map(|n| q.tolerance.get(n).map(|&abs| Tolerance { abs, rel: 0.0 }))
            .collect();
        let mut order: Vec<usize> = (0..names.len())
            .filter(|&i| tolerance[i].is_none())
            .collect();
        order.extend((0..names.len()).filter(|&i| tolerance[i].is_some()));
        let value_columns: Vec<String> = names
            .iter()
            .filter(|n| !q.key.contains(n))
            .cloned()
            .collect();
        Self {
            names,
            key_at,
            tolerance,
            order,
            value_columns,
        }
    }

    fn sort_key(&self, r: &CellRow) -> Vec<Cell> {
        self.order.iter().map(|&i| r.cells[i].clone()).collect()
    }

    fn shown(&self, r: &CellRow) -> Row {
        self.names
            .iter()
            .cloned()
            .zip(r.shown.iter().cloned())
            .collect()
    }

    /// The value columns in which two rows differ.
    fn differing(&self, a: &CellRow, b: &CellRow) -> Vec<String> {
        (0..self.names.len())
            .filter(|c| !self.key_at.contains(c))
            .filter(|&c| {
                !cells_within(
                    &a.cells[c],
                    &b.cells[c],
                    self.tolerance[c].unwrap_or(Tolerance::NONE),
                )
            })
            .map(|c| self.names[c].clone())
            .collect()
    }

    /// Pairs the rows of one key: identical rows first (a merge of the two sorted lists), then
    /// the rest in order; what is left over is missing or extra.
    fn pair(&self, mut g: PerSide<Vec<&CellRow>>, pairs: &mut Vec<RowPair>) {
        g.legacy.sort_by_cached_key(|r| self.sort_key(r));
        g.target.sort_by_cached_key(|r| self.sort_key(r));
        let (mut rest_l, mut rest_t) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < g.legacy.len() && j < g.target.len() {
            match self.sort_key(g.legacy[i]).cmp(&self.sort_key(g.target[j])) {
                std::cmp::Ordering::Equal => {
                    pairs.push(RowPair {
                        legacy: Some(self.shown(g.legacy[i])),
                        target: Some(self.shown(g.target[j])),
                        columns: Vec::new(),
                    });
                    i += 1;
                    j += 1;
                }
                std::cmp::Ordering::Less => {
                    rest_l.push(g.legacy[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    rest_t.push(g.target[j]);
                    j += 1;
                }
            }
        }
        rest_l.extend(&g.legacy[i..]);
        rest_t.extend(&g.target[j..]);
        for (a, b) in rest_l.iter().zip(&rest_t) {
            pairs.push(RowPair {
                legacy: Some(self.shown(a)),
                target: Some(self.shown(b)),
                columns: self.differing(a, b),
            });
        }
        let paired = rest_l.len().min(rest_t.len());
        for a in &rest_l[paired..] {
            pairs.push(RowPair {
                legacy: Some(self.shown(a)),
                target: None,
                columns: self.value_columns.clone(),
            });
        }
        for b in &rest_t[paired..] {
            pairs.push(RowPair {
                legacy: None,
                target: Some(self.shown(b)),
                columns: self.value_columns.clone(),
            });
        }
    }
}

/// Runs a golden query on both sides and compares the results.
pub(crate) async fn run(
    ctx: &Context,
    q: &GoldenQuery,
) -> std::result::Result<Measurement, CheckError> {
    let results = results(&ctx.sessions, q, &ctx.redaction).await?;
    let compared = compare(q, results, &ctx.options, &ctx.redaction)?;
    let (mut changed, mut missing, mut extra) = (0u64, 0u64, 0u64);
    let mut differing = Vec::new();
    for p in compared.pairs {
        let columns = match (&p.legacy, &p.target) {
            (Some(_), Some(_)) if !p.columns.is_empty() => {
                changed += 1;
                Some(p.columns)
            }
            (Some(_), None) => {
                missing += 1;
                None
            }
            (None, Some(_)) => {
                extra += 1;
                None
            }
            _ => continue,
        };
        differing.push(GoldenDiff {
            rows: PerSide::new(p.legacy, p.target),
            columns,
        });
    }
    differing.truncate(ctx.samples.max(1) * 5);
    Ok(Measurement::Golden(GoldenRows {
        rows: compared.rows,
        changed,
        missing,
        extra,
        key: q.key.clone(),
        columns: compared.columns,
        differing,
    }))
}
