//! The SQL every check kind shares: a grouped measure's query and running a query on both sides.

use super::Context;
use super::sql::{self, Outcome};
use crate::config::checks::GroupedSpec;
use crate::error::CheckError;
use crate::side::{PerSide, Side};

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

/// Runs one query per side, concurrently.
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
