//! Count, total, orphan and invariant checks.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::RecordBatch;
use serde_json::{Value, json};

use super::sql::{self, ident};
use super::{CheckConfig, CheckKind, Context, Measured};
use crate::gate::Threshold;
use crate::hash::decimal;
use crate::side::{PerSide, Side};

type Key = Vec<Option<String>>;

/// A key whose cells are named by `names`, with redacted columns digested.
fn named_key_json(ctx: &Context, names: &[String], k: &Key) -> Value {
    let cells = names.iter().zip(k).map(|(n, c)| {
        ctx.redact
            .text(n, c.clone())
            .map_or(Value::Null, Value::String)
    });
    Value::Array(cells.collect())
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

async fn both(ctx: &Context, sql: PerSide<String>) -> Result<PerSide<Vec<RecordBatch>>, String> {
    let (l, t) = futures::join!(
        sql::query(&ctx.sessions.legacy, &sql.legacy),
        sql::query(&ctx.sessions.target, &sql.target)
    );
    Ok(PerSide::new(
        l.map_err(|e| format!("legacy: {e}"))?,
        t.map_err(|e| format!("target: {e}"))?,
    ))
}

/// Group key → last column, from grouped results.
fn by_group<T>(
    batches: &[RecordBatch],
    value: impl Fn(&dyn arrow::array::Array, usize) -> T,
) -> BTreeMap<Key, T> {
    let mut out = BTreeMap::new();
    for b in batches {
        let n = b.num_columns();
        for r in 0..b.num_rows() {
            let key: Key = b.columns()[..n - 1]
                .iter()
                .map(|c| sql::cell(c.as_ref(), r))
                .collect();
            out.insert(key, value(b.column(n - 1).as_ref(), r));
        }
    }
    out
}

async fn count(ctx: &Context, c: &CheckConfig) -> Result<Measured, String> {
    let sql = PerSide::new(
        grouped_sql(ctx, c, Side::Legacy, "COUNT(*) AS n")?,
        grouped_sql(ctx, c, Side::Target, "COUNT(*) AS n")?,
    );
    let res = both(ctx, sql).await?;
    let n = |a: &dyn arrow::array::Array, r: usize| sql::exact(a, r).map_or(0, |(m, _)| m);
    let (l, t) = (by_group(&res.legacy, n), by_group(&res.target, n));
    let keys: BTreeSet<&Key> = l.keys().chain(t.keys()).collect();
    let (mut max_abs, mut max_rel, mut differing) = (0i128, 0f64, Vec::new());
    for k in keys {
        let (a, b) = (
            l.get(k).copied().unwrap_or(0),
            t.get(k).copied().unwrap_or(0),
        );
        if a != b {
            let diff = (a - b).abs();
            #[allow(clippy::cast_precision_loss)]
            let rel = diff as f64 / a.max(1) as f64;
            max_abs = max_abs.max(diff);
            max_rel = max_rel.max(rel);
            differing.push(
                json!({"group": named_key_json(ctx, &c.group_by, k), "legacy": a.to_string(), "target": b.to_string()}),
            );
        }
    }
    let total = |m: &BTreeMap<Key, i128>| m.values().sum::<i128>().to_string();
    let groups = differing.len();
    differing.truncate(ctx.samples.max(1) * 5);
    #[allow(clippy::cast_precision_loss)]
    Ok(Measured {
        metric: "max_abs_difference",
        value: max_abs as f64,
        extra: c
            .relative
            .map(|r| vec![("max_rel_difference", max_rel, r)])
            .unwrap_or_default(),
        measured: json!({
            "legacy": total(&l), "target": total(&t),
            "groups": {"legacy": l.len(), "target": t.len(), "differing": groups},
            "max_rel_difference": max_rel,
            "differing_groups": differing,
        }),
    })
}

/// The decimal scale of a column on one side, or why it cannot be summed exactly.
async fn scale_of(ctx: &Context, table: &str, column: &str, side: Side) -> Result<i8, String> {
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
        t if crate::hash::is_integer(t) => Ok(0),
        t @ (arrow::datatypes::DataType::Decimal32(..)
        | arrow::datatypes::DataType::Decimal64(..)
        | arrow::datatypes::DataType::Decimal128(..)) => Ok(crate::hash::decimal_scale(t)),
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
            let s = scale_of(ctx, table, column, side).await?;
            // Widened to 38 digits: 100M values of DECIMAL(18,s) cannot overflow.
            let agg = format!("SUM(CAST({} AS DECIMAL(38, {s}))) AS total", ident(column));
            *out.get_mut(side) = grouped_sql(ctx, c, side, &agg)?;
        }
        out
    };
    let res = both(ctx, sql).await?;
    let exact = |a: &dyn arrow::array::Array, r: usize| sql::exact(a, r).unwrap_or((0, 0));
    let (l, t) = (by_group(&res.legacy, exact), by_group(&res.target, exact));
    let tol = c
        .tolerance
        .as_ref()
        .and_then(|t| decimal::parse_decimal(&t.as_decimal_text()))
        .unwrap_or((0, 0));
    let keys: BTreeSet<&Key> = l.keys().chain(t.keys()).collect();
    let mut differing = Vec::new();
    let sum = |m: &BTreeMap<Key, (i128, i32)>| {
        let s = m.values().map(|v| v.1).max().unwrap_or(0);
        m.values()
            .fold(0i128, |acc, (v, vs)| {
                acc.saturating_add(v.saturating_mul(10i128.pow(u32::try_from(s - vs).unwrap_or(0))))
            })
            .to_string()
            .parse::<i128>()
            .map(|v| sql::decimal_text(v, s))
            .unwrap_or_default()
    };
    for k in keys {
        let (a, b) = (
            l.get(k).copied().unwrap_or((0, 0)),
            t.get(k).copied().unwrap_or((0, 0)),
        );
        if !decimal::abs_diff_within(a, b, tol).unwrap_or(false) {
            let s = a.1.max(b.1);
            let up = |(m, sc): (i128, i32)| {
                m.saturating_mul(10i128.pow(u32::try_from(s - sc).unwrap_or(0)))
            };
            differing.push(json!({
                "group": named_key_json(ctx, &c.group_by, k),
                "legacy": sql::decimal_text(a.0, a.1),
                "target": sql::decimal_text(b.0, b.1),
                "difference": sql::decimal_text(up(b) - up(a), s),
            }));
        }
    }
    let n = differing.len();
    differing.truncate(ctx.samples.max(1) * 5);
    #[allow(clippy::cast_precision_loss)]
    Ok(Measured {
        metric: "differing_groups",
        value: n as f64,
        extra: Vec::new(),
        measured: json!({
            "legacy": sum(&l), "target": sum(&t),
            "tolerance": sql::decimal_text(tol.0, tol.1),
            "groups": {"legacy": l.len(), "target": t.len(), "differing": n},
            "differing_groups": differing,
        }),
    })
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
    let (l, t) = (sql::rows(&res.legacy), sql::rows(&res.target));
    let legacy_set: BTreeSet<&Key> = l.iter().collect();
    let new: Vec<&Key> = t.iter().filter(|k| !legacy_set.contains(k)).collect();
    let names: Vec<&String> = child_key.iter().chain(&c.columns).collect();
    let sample = |rows: &[&Key]| -> Vec<Value> {
        rows.iter()
            .take(ctx.samples)
            .map(|k| {
                let m: serde_json::Map<String, Value> = names
                    .iter()
                    .zip(k.iter())
                    .map(|(n, v)| {
                        (
                            (*n).clone(),
                            ctx.redact
                                .text(n, v.clone())
                                .map_or(Value::Null, Value::String),
                        )
                    })
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
        let (lm, tm) = (sql::rows(&res.legacy), sql::rows(&res.target));
        let lset: BTreeSet<&Key> = lm.iter().collect();
        let new_mismatch: Vec<&Key> = tm.iter().filter(|k| !lset.contains(k)).collect();
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
        let rows = sql::query(session, &count)
            .await
            .map_err(|e| format!("{side}: {e}"))?;
        let n = rows
            .first()
            .and_then(|b| sql::exact(b.column(0).as_ref(), 0))
            .map_or(0, |(m, _)| m);
        *violations.get_mut(side) = Some(u64::try_from(n).unwrap_or(0));
        let cols: Vec<String> = key.iter().map(|k| ident(k)).collect();
        let sample_sql = format!(
            "SELECT {} FROM {src} AS src WHERE NOT ({predicate}) ORDER BY {} LIMIT {}",
            cols.join(", "),
            cols.join(", "),
            ctx.samples
        );
        let got = sql::rows(
            &sql::query(session, &sample_sql)
                .await
                .map_err(|e| format!("{side}: {e}"))?,
        );
        samples.insert(
            side.as_str().to_owned(),
            Value::Array(got.iter().map(|k| named_key_json(ctx, &key, k)).collect()),
        );
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
