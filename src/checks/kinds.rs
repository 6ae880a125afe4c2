//! Running a `[[checks]]` entry: the SQL every kind shares, orphan and invariant checks
//! (counts and totals are in [`super::measure`]).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::measure;
use super::sql::{self, Measure, Outcome, ident};
use super::{CheckConfig, Context, Measured};
use crate::config::checks::{GroupedSpec, InvariantCheck, OrphanCheck};
use crate::error::CheckError;
use crate::gate::Threshold;
use crate::side::{PerSide, Side};
use crate::value::{Cell, Number};

/// Shown values of a key (already redacted where they depend on a redacted column).
pub(super) fn key_json(shown: &[Option<String>]) -> Value {
    Value::Array(
        shown
            .iter()
            .map(|c| c.clone().map_or(Value::Null, Value::String))
            .collect(),
    )
}

/// Runs a `[[checks]]` entry.
pub(crate) async fn run(ctx: &Context, c: &CheckConfig) -> Result<Measured, CheckError> {
    match c {
        CheckConfig::Count(count) => measure::count(ctx, count).await,
        CheckConfig::Total(total) => measure::total(ctx, total).await,
        CheckConfig::Orphan(o) => orphan(ctx, o).await,
        CheckConfig::Invariant(v) => invariant(ctx, v).await,
    }
}

/// `SELECT <groups>, <agg> FROM <source> GROUP BY <groups>` for one side (or the raw SQL).
pub(super) fn grouped_sql(
    ctx: &Context,
    c: GroupedSpec<'_>,
    side: Side,
    agg: &str,
) -> Result<String, CheckError> {
    if let Some(raw) = match side {
        Side::Legacy => c.legacy_sql,
        Side::Target => c.target_sql,
    } {
        return Ok(raw.to_owned());
    }
    let table = c.table.unwrap_or_default();
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

pub(super) async fn both(
    ctx: &Context,
    sql: PerSide<String>,
) -> Result<PerSide<Outcome>, CheckError> {
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
        l.map_err(|e| CheckError::on(Side::Legacy, e))?,
        t.map_err(|e| CheckError::on(Side::Target, e))?,
    ))
}

/// Both sides' rows of a key-like result (orphan references, invariant samples) as canonical
/// cells, comparable across sides under the child pair's options.
fn keyed_rows(
    ctx: &Context,
    pair: &str,
    res: &PerSide<Outcome>,
) -> Result<PerSide<Vec<sql::CellRow>>, CheckError> {
    let columns: Vec<usize> = (0..res.legacy.schema.fields().len()).collect();
    let codecs = sql::codecs(res, &columns, |name| {
        ctx.options.for_column(Some(pair), name)
    })?;
    let mut rows = sql::cell_rows_both(res, &columns, &codecs, &ctx.redaction)?;
    // In value order: a join's output order depends on scheduling, a report's must not.
    for side in Side::BOTH {
        rows.get_mut(side).sort_by(|a, b| a.cells.cmp(&b.cells));
    }
    Ok(rows)
}

async fn orphan(ctx: &Context, c: &OrphanCheck) -> Result<Measured, CheckError> {
    let child = c.table.as_str();
    let parent = c.parent.as_str();
    let parent_cols = if c.parent_columns.is_empty() {
        ctx.keys.get(parent).cloned().unwrap_or_default()
    } else {
        c.parent_columns.clone()
    };
    if parent_cols.len() != c.columns.len() {
        return Err(CheckError::Refused(format!(
            "`{parent}` has {} key columns but {} child columns are given; set parent_columns",
            parent_cols.len(),
            c.columns.len()
        )));
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
    let not_null = if c.null_is_orphan {
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
    let orphan_sql = |side: Side| -> Result<String, CheckError> {
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
    let mut extra = vec![(
        "orphans_target",
        t.len().into(),
        Threshold {
            warn: Some(0.0),
            fail: None,
        },
    )];
    if let Some(tenant) = &c.tenant {
        let mismatch_sql = |side: Side| -> Result<String, CheckError> {
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
        extra.push((
            "new_tenant_mismatches",
            new_mismatch.len().into(),
            Threshold {
                warn: None,
                fail: Some(0.0),
            },
        ));
    }
    Ok(Measured {
        metric: "new_orphans",
        value: new.len().into(),
        extra,
        detail: measured,
    })
}

async fn invariant(ctx: &Context, c: &InvariantCheck) -> Result<Measured, CheckError> {
    let table = c.table.as_str();
    let predicate = c.predicate.as_str();
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
            .map_err(|e| CheckError::on(side, e))?;
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
            .map_err(|e| CheckError::on(side, e))?;
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
    Ok(Measured {
        metric: "violations",
        value: worst.into(),
        extra: Vec::new(),
        detail: json!({"violations": {"legacy": violations.legacy, "target": violations.target}, "key": key, "samples": samples}),
    })
}
