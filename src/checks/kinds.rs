//! Orphan and invariant checks (counts and totals are in [`super::measure`]).

use std::collections::{BTreeMap, BTreeSet};

use super::Context;
use super::outcome::{Measurement, Orphans, TenantMismatches, Violations};
use super::sides::both;
use super::sql::{self, Measure, Outcome, ident};
use crate::config::checks::{InvariantCheck, OrphanCheck};
use crate::error::CheckError;
use crate::side::{PerSide, Side};
use crate::value::{Cell, Number};

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

/// How an orphan check joins child rows to their parent, as SQL pieces.
struct Join<'a> {
    child: &'a str,
    parent: &'a str,
    /// The child's key and reference columns, in that order.
    names: Vec<&'a String>,
    /// `c.<key>, c.<reference>...`
    select: String,
    /// `c.<reference> = p.<parent key> AND ...`
    on: String,
}

impl<'a> Join<'a> {
    fn new(ctx: &Context, c: &'a OrphanCheck, child_key: &'a [String]) -> Result<Self, CheckError> {
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
        let on: Vec<String> = c
            .columns
            .iter()
            .zip(&parent_cols)
            .map(|(cc, pc)| format!("c.{} = p.{}", ident(cc), ident(pc)))
            .collect();
        let names: Vec<&String> = child_key.iter().chain(&c.columns).collect();
        let select: Vec<String> = names.iter().map(|k| format!("c.{}", ident(k))).collect();
        Ok(Self {
            child: c.table.as_str(),
            parent,
            names,
            select: select.join(", "),
            on: on.join(" AND "),
        })
    }

    /// The first rows, by column name.
    fn sample(
        &self,
        ctx: &Context,
        rows: &[&sql::CellRow],
    ) -> Vec<BTreeMap<String, Option<String>>> {
        rows.iter()
            .take(ctx.samples)
            .map(|k| {
                self.names
                    .iter()
                    .zip(k.shown.iter())
                    .map(|(n, v)| ((*n).clone(), v.clone()))
                    .collect()
            })
            .collect()
    }
}

/// Target rows the legacy does not have.
fn new_in_target(rows: &PerSide<Vec<sql::CellRow>>) -> Vec<&sql::CellRow> {
    let legacy: BTreeSet<&Vec<Cell>> = rows.legacy.iter().map(|r| &r.cells).collect();
    rows.target
        .iter()
        .filter(|r| !legacy.contains(&r.cells))
        .collect()
}

pub(super) async fn orphan(ctx: &Context, c: &OrphanCheck) -> Result<Measurement, CheckError> {
    let child_key = ctx.keys.get(c.table.as_str()).cloned().unwrap_or_default();
    let join = Join::new(ctx, c, &child_key)?;
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
            join.select,
            ctx.source(join.child, side)?,
            ctx.source(join.parent, side)?,
            join.on
        ))
    };
    let res = both(
        ctx,
        PerSide::new(orphan_sql(Side::Legacy)?, orphan_sql(Side::Target)?),
    )
    .await?;
    let rows = keyed_rows(ctx, join.child, &res)?;
    let new = new_in_target(&rows);
    let tenant_mismatches = match &c.tenant {
        Some(tenant) => Some(tenant_mismatches(ctx, &join, tenant).await?),
        None => None,
    };
    Ok(Measurement::Orphan(Orphans {
        orphans: PerSide::new(rows.legacy.len(), rows.target.len()),
        new_orphans: new.len(),
        new_samples: join.sample(ctx, &new),
        legacy_samples: join.sample(ctx, &rows.legacy.iter().collect::<Vec<_>>()),
        tenant_mismatches,
    }))
}

/// Child rows whose tenant differs from their parent's, per side.
async fn tenant_mismatches(
    ctx: &Context,
    join: &Join<'_>,
    tenant: &str,
) -> Result<TenantMismatches, CheckError> {
    let mismatch_sql = |side: Side| -> Result<String, CheckError> {
        Ok(format!(
            "SELECT {} FROM {} AS c JOIN {} AS p ON {} WHERE c.{t} IS DISTINCT FROM p.{t}",
            join.select,
            ctx.source(join.child, side)?,
            ctx.source(join.parent, side)?,
            join.on,
            t = ident(tenant)
        ))
    };
    let res = both(
        ctx,
        PerSide::new(mismatch_sql(Side::Legacy)?, mismatch_sql(Side::Target)?),
    )
    .await?;
    let rows = keyed_rows(ctx, join.child, &res)?;
    let new = new_in_target(&rows);
    Ok(TenantMismatches {
        counts: PerSide::new(rows.legacy.len(), rows.target.len()),
        new: new.len(),
        samples: join.sample(ctx, &new),
    })
}

pub(super) async fn invariant(
    ctx: &Context,
    c: &InvariantCheck,
) -> Result<Measurement, CheckError> {
    let table = c.table.as_str();
    let predicate = c.predicate.as_str();
    let sides = c.sides.clone().unwrap_or_else(|| Side::BOTH.to_vec());
    let key = ctx.keys.get(table).cloned().unwrap_or_default();
    let mut violations = PerSide::new(None::<u64>, None::<u64>);
    let mut samples = PerSide::new(None, None);
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
        *samples.get_mut(side) = Some(got.shown_rows(&ctx.redaction));
    }
    Ok(Measurement::Invariant(Violations {
        violations,
        key,
        samples,
    }))
}
