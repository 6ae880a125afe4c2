//! Count, total, orphan and invariant checks.

use std::collections::{BTreeMap, BTreeSet};

use arrow::datatypes::DataType;
use serde_json::{Value, json};

use super::sql::{self, Measure, Outcome, ident};
use super::{CheckConfig, CheckKind, Context, Measured};
use crate::gate::Threshold;
use crate::side::{PerSide, Side};
use crate::value::{Cell, Decimal, Number, Tolerance};

/// Shown values of a key (already redacted where they depend on a redacted column).
fn key_json(shown: &[Option<String>]) -> Value {
    Value::Array(
        shown
            .iter()
            .map(|c| c.clone().map_or(Value::Null, Value::String))
            .collect(),
    )
}

/// Runs a `[[checks]]` entry.
pub(crate) async fn run(ctx: &Context, c: &CheckConfig) -> Result<Measured, String> {
    match c.kind {
        CheckKind::Count => count(ctx, c).await,
        CheckKind::Total => total(ctx, c).await,
        CheckKind::Orphan => orphan(ctx, c).await,
        CheckKind::Invariant => invariant(ctx, c).await,
        CheckKind::Golden => Err("golden queries are configured with [golden]".into()),
    }
}

/// `SELECT <groups>, <agg> FROM <source> GROUP BY <groups>` for one side (or the raw SQL).
fn grouped_sql(ctx: &Context, c: &CheckConfig, side: Side, agg: &str) -> Result<String, String> {
    if let Some(raw) = match side {
        Side::Legacy => c.legacy_sql.as_deref(),
        Side::Target => c.target_sql.as_deref(),
    } {
        return Ok(raw.to_owned());
    }
    let table = c.table.as_deref().unwrap_or_default();
    let src = ctx.source(table, side)?;
    let groups: Vec<String> = c
        .group_by
        .iter()
        .enumerate()
        .map(|(i, g)| format!("{g} AS g{i}"))
        .collect();
    let select = groups
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(agg))
        .collect::<Vec<_>>()
        .join(", ");
    let group_by = if c.group_by.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {}", c.group_by.join(", "))
    };
    Ok(format!("SELECT {select} FROM {src} AS src{group_by}"))
}

async fn both(ctx: &Context, sql: PerSide<String>) -> Result<PerSide<Outcome>, String> {
    let (l, t) = futures::join!(
        sql::query(
            &ctx.sessions.legacy,
            &sql.legacy,
            Side::Legacy,
            &ctx.redaction
        ),
        sql::query(
            &ctx.sessions.target,
            &sql.target,
            Side::Target,
            &ctx.redaction
        )
    );
    Ok(PerSide::new(
        l.map_err(|e| format!("legacy: {e}"))?,
        t.map_err(|e| format!("target: {e}"))?,
    ))
}

/// One group's measure on one side.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    /// The side has no row for the group.
    Absent,
    /// The measure (`None` for NULL).
    Value(Option<Number>),
}

/// A group of a count or total: how its key reads, and its measure per side.
struct Group {
    shown: Vec<Option<String>>,
    values: PerSide<Slot>,
}

/// Adds two measures of one group (rows that are one group under the value model): NULL is
/// ignored as SQL's SUM ignores it; an overflow is an error.
fn add(a: Option<Number>, b: Option<Number>) -> Result<Option<Number>, String> {
    Ok(match (a, b) {
        (None, x) | (x, None) => x,
        (Some(Number::Exact(x)), Some(Number::Exact(y))) => Some(Number::Exact(
            x.checked_add(y).ok_or("a sum overflows 76 digits")?,
        )),
        (Some(x), Some(y)) => Some(Number::Float(x.to_f64() + y.to_f64())),
    })
}

/// A count's or total's groups under the value model.
struct Grouped {
    /// The group columns (the expressions, or a raw query's column names).
    names: Vec<String>,
    groups: BTreeMap<Vec<Cell>, Group>,
    /// The measure depends on a redacted column: its values show as digests.
    measure_redacted: bool,
}

/// Runs a count or total query on both sides and collects its groups under the value model.
async fn grouped(
    ctx: &Context,
    c: &CheckConfig,
    measure: Measure,
    sql: PerSide<String>,
) -> Result<Grouped, String> {
    let res = both(ctx, sql).await?;
    let tolerance = c.tolerance.is_some();
    for side in Side::BOTH {
        sql::measure_type(res.get(side), side, measure, tolerance)?;
    }
    let n = res.legacy.schema.fields().len().saturating_sub(1);
    let names: Vec<String> = if c.legacy_sql.is_some() {
        res.legacy.names()[..n].to_vec()
    } else {
        c.group_by.clone()
    };
    let columns: Vec<usize> = (0..n).collect();
    let pair = c.table.as_deref();
    let codecs = sql::codecs(&res, &columns, |name| {
        let i = res
            .legacy
            .names()
            .iter()
            .position(|x| x == name)
            .unwrap_or(0);
        ctx.options
            .for_column(pair, names.get(i).map_or(name, String::as_str))
    })?;
    let mut groups: BTreeMap<Vec<Cell>, Group> = BTreeMap::new();
    for side in Side::BOTH {
        let out = res.get(side);
        let rows = sql::cell_rows(out, &columns, &codecs, &ctx.redaction)
            .map_err(|e| format!("{side}: {e}"))?;
        let values = sql::measures(out, side, measure)?;
        for (row, value) in rows.into_iter().zip(values) {
            let g = groups.entry(row.cells).or_insert_with(|| Group {
                shown: row.shown,
                values: PerSide::new(Slot::Absent, Slot::Absent),
            });
            let slot = g.values.get_mut(side);
            *slot = match *slot {
                Slot::Absent => Slot::Value(value),
                Slot::Value(v) => Slot::Value(add(v, value)?),
            };
        }
    }
    let measure_redacted = Side::BOTH
        .iter()
        .any(|&s| res.get(s).redacted.last().copied().unwrap_or(false));
    Ok(Grouped {
        names,
        groups,
        measure_redacted,
    })
}

/// A number as the report shows it (a digest when it derives from a redacted column).
fn number_json(ctx: &Context, n: Option<Number>, redacted: bool) -> Value {
    ctx.redaction
        .shown(redacted, n.map(|n| n.to_string()))
        .map_or(Value::Null, Value::String)
}

/// A measure as the report shows it.
fn shown_slot(ctx: &Context, s: Slot, redacted: bool) -> Value {
    match s {
        Slot::Value(n) => number_json(ctx, n, redacted),
        Slot::Absent => Value::Null,
    }
}

/// `target - legacy`, when both are numbers.
fn difference(a: Slot, b: Slot) -> Option<Number> {
    match (a, b) {
        (Slot::Value(Some(Number::Exact(x))), Slot::Value(Some(Number::Exact(y)))) => {
            y.checked_sub(x).map(Number::Exact)
        }
        (Slot::Value(Some(x)), Slot::Value(Some(y))) => {
            Some(Number::Float(y.to_f64() - x.to_f64()))
        }
        _ => None,
    }
}

/// Whether a group agrees: both NULL, or both numbers within the tolerance. A group one side
/// lacks never agrees (counts read it as 0 before they get here).
fn agrees(a: Slot, b: Slot, tol: Tolerance) -> bool {
    match (a, b) {
        (Slot::Value(None), Slot::Value(None)) => true,
        (Slot::Value(Some(x)), Slot::Value(Some(y))) => crate::value::within(x, y, tol),
        _ => false,
    }
}

/// The sum of one side's group measures, for the report.
fn side_total(ctx: &Context, g: &Grouped, side: Side) -> Result<Value, String> {
    let mut sum = None;
    for group in g.groups.values() {
        if let Slot::Value(v) = *group.values.get(side) {
            sum = add(sum, v).map_err(|e| format!("{side}: {e}"))?;
        }
    }
    Ok(number_json(ctx, sum, g.measure_redacted))
}

fn tolerance_of(c: &CheckConfig) -> Result<Tolerance, String> {
    match &c.tolerance {
        None => Ok(Tolerance::NONE),
        Some(t) => {
            let text = t.as_decimal_text();
            let abs = Decimal::parse(&text)
                .ok_or_else(|| format!("tolerance `{text}` is not a decimal"))?;
            Ok(Tolerance { abs, rel: 0.0 })
        }
    }
}

/// The differing groups of a count or total, with the numbers the metrics need.
struct Differences {
    rows: Vec<Value>,
    count: usize,
    max_abs: f64,
    max_rel: f64,
}

fn differences(ctx: &Context, g: &Grouped, tol: Tolerance) -> Differences {
    let mut d = Differences {
        rows: Vec::new(),
        count: 0,
        max_abs: 0.0,
        max_rel: 0.0,
    };
    let red = g.measure_redacted;
    for group in g.groups.values() {
        let (a, b) = (group.values.legacy, group.values.target);
        if agrees(a, b, tol) {
            continue;
        }
        d.count += 1;
        let diff = difference(a, b);
        // A NULL or a missing group against a number counts as that number's size, at least 1:
        // it must cross a threshold of 0.
        let magnitude = |s: Slot| match s {
            Slot::Value(Some(n)) => n.to_f64().abs().max(1.0),
            _ => 1.0,
        };
        let abs = diff.map_or_else(|| magnitude(a).max(magnitude(b)), |n| n.to_f64().abs());
        let base = match a {
            Slot::Value(Some(n)) => n.to_f64().abs().max(1.0),
            _ => 1.0,
        };
        d.max_abs = d.max_abs.max(abs);
        d.max_rel = d.max_rel.max(abs / base);
        if d.rows.len() < ctx.samples.max(1) * 5 {
            d.rows.push(json!({
                "group": key_json(&group.shown),
                "legacy": shown_slot(ctx, a, red),
                "target": shown_slot(ctx, b, red),
                "difference": number_json(ctx, diff, red),
            }));
        }
    }
    d
}

async fn count(ctx: &Context, c: &CheckConfig) -> Result<Measured, String> {
    let sql = PerSide::new(
        grouped_sql(ctx, c, Side::Legacy, "COUNT(*) AS n")?,
        grouped_sql(ctx, c, Side::Target, "COUNT(*) AS n")?,
    );
    let mut g = grouped(ctx, c, Measure::Count, sql).await?;
    let present = |s: Side| {
        g.groups
            .values()
            .filter(|g| *g.values.get(s) != Slot::Absent)
            .count()
    };
    let counted = PerSide::new(present(Side::Legacy), present(Side::Target));
    // A group a side has no row for has no rows there: its count is 0.
    for group in g.groups.values_mut() {
        for side in Side::BOTH {
            if *group.values.get(side) == Slot::Absent {
                *group.values.get_mut(side) = Slot::Value(Some(Number::Exact(Decimal::ZERO)));
            }
        }
    }
    let d = differences(ctx, &g, tolerance_of(c)?);
    Ok(Measured {
        metric: "max_abs_difference",
        value: d.max_abs,
        extra: c
            .relative
            .map(|r| vec![("max_rel_difference", d.max_rel, r)])
            .unwrap_or_default(),
        measured: json!({
            "legacy": side_total(ctx, &g, Side::Legacy)?,
            "target": side_total(ctx, &g, Side::Target)?,
            "group_by": g.names,
            "groups": {"legacy": counted.legacy, "target": counted.target, "differing": d.count},
            "max_rel_difference": d.max_rel,
            "differing_groups": d.rows,
        }),
    })
}

/// Whether a money column can be summed exactly on one side, or why not (named).
async fn summable(ctx: &Context, table: &str, column: &str, side: Side) -> Result<(), String> {
    let src = ctx.source(table, side)?;
    // Planning alone gives the column's type; nothing is read.
    let df = ctx
        .sessions
        .get(side)
        .sql_with_options(
            &format!("SELECT {} FROM {src} AS src", ident(column)),
            crate::snapshot::sql::read_only(),
        )
        .await
        .map_err(|e| e.to_string())?;
    match df.schema().field(0).data_type() {
        t if crate::hash::is_integer(t) => Ok(()),
        t @ (DataType::Decimal32(p, _)
        | DataType::Decimal64(p, _)
        | DataType::Decimal128(p, _)
        | DataType::Decimal256(p, _)) => {
            if *p > crate::snapshot::sum::MAX_SUMMED_PRECISION {
                return Err(format!(
                    "{side} column `{column}` is {t}: past {} digits a sum could overflow; use \
                     raw SQL that casts to a narrower decimal",
                    crate::snapshot::sum::MAX_SUMMED_PRECISION
                ));
            }
            Ok(())
        }
        t => Err(format!(
            "{side} column `{column}` is {t}: totals are summed exactly and need an integer or decimal column"
        )),
    }
}

async fn total(ctx: &Context, c: &CheckConfig) -> Result<Measured, String> {
    let table = c.table.as_deref().unwrap_or_default();
    let sql = if c.legacy_sql.is_some() {
        PerSide::new(
            grouped_sql(ctx, c, Side::Legacy, "")?,
            grouped_sql(ctx, c, Side::Target, "")?,
        )
    } else {
        let column = c.column.as_deref().unwrap_or_default();
        let mut out = PerSide::new(String::new(), String::new());
        for side in Side::BOTH {
            summable(ctx, table, column, side).await?;
            // `sum` is recon's exact sum: DECIMAL(76, s), whatever the column's width.
            let agg = format!("SUM({}) AS total", ident(column));
            *out.get_mut(side) = grouped_sql(ctx, c, side, &agg)?;
        }
        out
    };
    let tol = tolerance_of(c)?;
    let g = grouped(ctx, c, Measure::Total, sql).await?;
    let d = differences(ctx, &g, tol);
    let sides = |s: Side| {
        g.groups
            .values()
            .filter(|g| *g.values.get(s) != Slot::Absent)
            .count()
    };
    #[allow(clippy::cast_precision_loss)]
    Ok(Measured {
        metric: "differing_groups",
        value: d.count as f64,
        extra: Vec::new(),
        measured: json!({
            "legacy": side_total(ctx, &g, Side::Legacy)?,
            "target": side_total(ctx, &g, Side::Target)?,
            "group_by": g.names,
            "tolerance": tol.abs.to_string(),
            "groups": {"legacy": sides(Side::Legacy), "target": sides(Side::Target), "differing": d.count},
            "differing_groups": d.rows,
        }),
    })
}

/// Both sides' rows of a key-like result (orphan references, invariant samples) as canonical
/// cells, comparable across sides under the child pair's options.
fn keyed_rows(
    ctx: &Context,
    pair: &str,
    res: &PerSide<Outcome>,
) -> Result<PerSide<Vec<sql::CellRow>>, String> {
    let columns: Vec<usize> = (0..res.legacy.schema.fields().len()).collect();
    let codecs = sql::codecs(res, &columns, |name| {
        ctx.options.for_column(Some(pair), name)
    })?;
    Ok(PerSide::new(
        sql::cell_rows(&res.legacy, &columns, &codecs, &ctx.redaction)
            .map_err(|e| format!("legacy: {e}"))?,
        sql::cell_rows(&res.target, &columns, &codecs, &ctx.redaction)
            .map_err(|e| format!("target: {e}"))?,
    ))
}

async fn orphan(ctx: &Context, c: &CheckConfig) -> Result<Measured, String> {
    let child = c.table.as_deref().unwrap_or_default();
    let parent = c.parent.as_deref().unwrap_or_default();
    let parent_cols = if c.parent_columns.is_empty() {
        ctx.keys.get(parent).cloned().unwrap_or_default()
    } else {
        c.parent_columns.clone()
    };
    if parent_cols.len() != c.columns.len() {
        return Err(format!(
            "`{parent}` has {} key columns but {} child columns are given; set parent_columns",
            parent_cols.len(),
            c.columns.len()
        ));
    }
    let child_key = ctx.keys.get(child).cloned().unwrap_or_default();
    let on: Vec<String> = c
        .columns
        .iter()
        .zip(&parent_cols)
        .map(|(cc, pc)| format!("c.{} = p.{}", ident(cc), ident(pc)))
        .collect();
    let select: Vec<String> = child_key
        .iter()
        .chain(&c.columns)
        .map(|k| format!("c.{}", ident(k)))
        .collect();
    let not_null = if c.null_is_orphan.unwrap_or(false) {
        String::new()
    } else {
        format!(
            " WHERE {}",
            c.columns
                .iter()
                .map(|cc| format!("c.{} IS NOT NULL", ident(cc)))
                .collect::<Vec<_>>()
                .join(" AND ")
        )
    };
    let orphan_sql = |side: Side| -> Result<String, String> {
        Ok(format!(
            "SELECT {} FROM {} AS c LEFT ANTI JOIN {} AS p ON {}{not_null}",
            select.join(", "),
            ctx.source(child, side)?,
            ctx.source(parent, side)?,
            on.join(" AND ")
        ))
    };
    let res = both(
        ctx,
        PerSide::new(orphan_sql(Side::Legacy)?, orphan_sql(Side::Target)?),
    )
    .await?;
    let rows = keyed_rows(ctx, child, &res)?;
    let (l, t) = (&rows.legacy, &rows.target);
    let legacy_set: BTreeSet<&Vec<Cell>> = l.iter().map(|r| &r.cells).collect();
    let new: Vec<&sql::CellRow> = t
        .iter()
        .filter(|r| !legacy_set.contains(&r.cells))
        .collect();
    let names: Vec<&String> = child_key.iter().chain(&c.columns).collect();
    let sample = |rows: &[&sql::CellRow]| -> Vec<Value> {
        rows.iter()
            .take(ctx.samples)
            .map(|k| {
                let m: serde_json::Map<String, Value> = names
                    .iter()
                    .zip(k.shown.iter())
                    .map(|(n, v)| ((*n).clone(), v.clone().map_or(Value::Null, Value::String)))
                    .collect();
                Value::Object(m)
            })
            .collect()
    };
    let mut measured = json!({
        "orphans": {"legacy": l.len(), "target": t.len()},
        "new_orphans": new.len(),
        "samples": {"new": sample(&new), "legacy": sample(&l.iter().collect::<Vec<_>>())},
    });
    #[allow(clippy::cast_precision_loss)]
    let mut extra = vec![(
        "orphans_target",
        t.len() as f64,
        Threshold {
            warn: Some(0.0),
            fail: None,
        },
    )];
    if let Some(tenant) = &c.tenant {
        let mismatch_sql = |side: Side| -> Result<String, String> {
            Ok(format!(
                "SELECT {} FROM {} AS c JOIN {} AS p ON {} WHERE c.{t} IS DISTINCT FROM p.{t}",
                select.join(", "),
                ctx.source(child, side)?,
                ctx.source(parent, side)?,
                on.join(" AND "),
                t = ident(tenant)
            ))
        };
        let res = both(
            ctx,
            PerSide::new(mismatch_sql(Side::Legacy)?, mismatch_sql(Side::Target)?),
        )
        .await?;
        let rows = keyed_rows(ctx, child, &res)?;
        let (lm, tm) = (&rows.legacy, &rows.target);
        let lset: BTreeSet<&Vec<Cell>> = lm.iter().map(|r| &r.cells).collect();
        let new_mismatch: Vec<&sql::CellRow> =
            tm.iter().filter(|r| !lset.contains(&r.cells)).collect();
        measured["tenant_mismatches"] = json!({"legacy": lm.len(), "target": tm.len(), "new": new_mismatch.len(), "samples": sample(&new_mismatch)});
        #[allow(clippy::cast_precision_loss)]
        extra.push((
            "new_tenant_mismatches",
            new_mismatch.len() as f64,
            Threshold {
                warn: None,
                fail: Some(0.0),
            },
        ));
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(Measured {
        metric: "new_orphans",
        value: new.len() as f64,
        extra,
        measured,
    })
}

async fn invariant(ctx: &Context, c: &CheckConfig) -> Result<Measured, String> {
    let table = c.table.as_deref().unwrap_or_default();
    let predicate = c.predicate.as_deref().unwrap_or("TRUE");
    let sides = c.sides.clone().unwrap_or_else(|| Side::BOTH.to_vec());
    let key = ctx.keys.get(table).cloned().unwrap_or_default();
    let mut violations = PerSide::new(None::<u64>, None::<u64>);
    let mut samples = serde_json::Map::new();
    for side in sides {
        let src = ctx.source(table, side)?;
        let session = ctx.sessions.get(side);
        // SQL CHECK semantics: a row violates the predicate when it is false (NULL passes).
        let count = format!("SELECT COUNT(*) AS n FROM {src} AS src WHERE NOT ({predicate})");
        let counted = sql::query(session, &count, side, &ctx.redaction)
            .await
            .map_err(|e| format!("{side}: {e}"))?;
        let n = sql::measures(&counted, side, Measure::Count)?
            .first()
            .copied()
            .flatten()
            .and_then(Number::exact)
            .and_then(|d| d.to_string().parse::<u64>().ok())
            .unwrap_or(0);
        *violations.get_mut(side) = Some(n);
        let cols: Vec<String> = key.iter().map(|k| ident(k)).collect();
        let sample_sql = format!(
            "SELECT {} FROM {src} AS src WHERE NOT ({predicate}) ORDER BY {} LIMIT {}",
            cols.join(", "),
            cols.join(", "),
            ctx.samples
        );
        let got = sql::query(session, &sample_sql, side, &ctx.redaction)
            .await
            .map_err(|e| format!("{side}: {e}"))?;
        let shown: Vec<Value> = got
            .shown_rows(&ctx.redaction)
            .iter()
            .map(|row| key_json(row))
            .collect();
        samples.insert(side.as_str().to_owned(), Value::Array(shown));
    }
    let worst = violations
        .legacy
        .unwrap_or(0)
        .max(violations.target.unwrap_or(0));
    #[allow(clippy::cast_precision_loss)]
    Ok(Measured {
        metric: "violations",
        value: worst as f64,
        extra: Vec::new(),
        measured: json!({"violations": {"legacy": violations.legacy, "target": violations.target}, "key": key, "samples": samples}),
    })
}
