//! Count and total checks: a measure per group on each side, read exactly through the value
//! model, groups matched as canonical cells, the differing ones listed with both values and the
//! difference.

use std::collections::BTreeMap;

use arrow::datatypes::DataType;

use super::Context;
use super::outcome::{DifferingGroup, Grouped as Measured, Measurement};
use super::sides::{both, grouped_sql};
use super::sql::{self, Measure, ident};
use crate::config::checks::{CountCheck, GroupedSpec, TotalCheck};
use crate::error::CheckError;
use crate::side::{PerSide, Side};
use crate::value::{Cell, Decimal, Number, Tolerance};

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
fn add(a: Option<Number>, b: Option<Number>) -> Result<Option<Number>, CheckError> {
    Ok(match (a, b) {
        (None, x) | (x, None) => x,
        (Some(Number::Exact(x)), Some(Number::Exact(y))) => {
            Some(Number::Exact(x.checked_add(y).ok_or_else(|| {
                CheckError::Refused("a sum overflows 76 digits".into())
            })?))
        }
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

impl Grouped {
    /// How many groups each side has a row for.
    fn present(&self) -> PerSide<usize> {
        let on = |s: Side| {
            self.groups
                .values()
                .filter(|g| *g.values.get(s) != Slot::Absent)
                .count()
        };
        PerSide::new(on(Side::Legacy), on(Side::Target))
    }
}

/// Runs a count or total query on both sides and collects its groups under the value model.
async fn grouped(
    ctx: &Context,
    c: GroupedSpec<'_>,
    measure: Measure,
    sql: PerSide<String>,
) -> Result<Grouped, CheckError> {
    let res = both(ctx, sql).await?;
    let tolerance = c.tolerance.is_some();
    for side in Side::BOTH {
        sql::measure_type(res.get(side), side, measure, tolerance)?;
    }
    let n = res.legacy.schema.fields().len().saturating_sub(1);
    let names: Vec<String> = if c.legacy_sql.is_some() {
        res.legacy.names()[..n].to_vec()
    } else {
        c.group_by.to_vec()
    };
    let columns: Vec<usize> = (0..n).collect();
    let pair = c.table;
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
        let rows = sql::cell_rows(out, side, &columns, &codecs, &ctx.redaction)?;
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
fn number_json(ctx: &Context, n: Option<Number>, redacted: bool) -> Option<String> {
    ctx.redaction.shown(redacted, n.map(|n| n.to_string()))
}

/// A measure as the report shows it.
fn shown_slot(ctx: &Context, s: Slot, redacted: bool) -> Option<String> {
    match s {
        Slot::Value(n) => number_json(ctx, n, redacted),
        Slot::Absent => None,
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
fn side_total(ctx: &Context, g: &Grouped, side: Side) -> Result<Option<String>, CheckError> {
    let mut sum = None;
    for group in g.groups.values() {
        if let Slot::Value(v) = *group.values.get(side) {
            sum = add(sum, v).map_err(|e| CheckError::on(side, e))?;
        }
    }
    Ok(number_json(ctx, sum, g.measure_redacted))
}

fn tolerance_of(c: GroupedSpec<'_>) -> Result<Tolerance, CheckError> {
    match c.tolerance {
        None => Ok(Tolerance::NONE),
        Some(t) => {
            let text = t.as_decimal_text();
            let abs = Decimal::parse(&text).ok_or_else(|| {
                CheckError::Refused(format!("tolerance `{text}` is not a decimal"))
            })?;
            Ok(Tolerance { abs, rel: 0.0 })
        }
    }
}

/// The differing groups of a count or total, with the numbers the metrics need.
struct Differences {
    rows: Vec<DifferingGroup>,
    count: usize,
    max_abs: f64,
    /// The largest difference exactly, while every difference is an exact number.
    max_abs_exact: Option<Decimal>,
    max_rel: f64,
}

impl Differences {
    /// The largest difference as a whole number exactly, when it is one (a count past 2^53
    /// keeps its digits).
    fn max_abs_count(&self) -> Option<u64> {
        self.max_abs_exact
            .filter(|d| d.is_integer())
            .and_then(|d| d.normalized().to_string().parse::<u64>().ok())
    }
}

fn differences(ctx: &Context, g: &Grouped, tol: Tolerance) -> Differences {
    let mut d = Differences {
        rows: Vec::new(),
        count: 0,
        max_abs: 0.0,
        max_abs_exact: Some(Decimal::ZERO),
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
        d.max_abs_exact = match (d.max_abs_exact, diff) {
            (Some(max), Some(Number::Exact(x))) => x.checked_abs().map(|x| max.max(x)),
            _ => None,
        };
        d.max_rel = d.max_rel.max(abs / base);
        if d.rows.len() < ctx.samples.max(1) * 5 {
            d.rows.push(DifferingGroup {
                group: group.shown.clone(),
                values: PerSide::new(shown_slot(ctx, a, red), shown_slot(ctx, b, red)),
                difference: number_json(ctx, diff, red),
            });
        }
    }
    d
}

pub(super) async fn count(ctx: &Context, count: &CountCheck) -> Result<Measurement, CheckError> {
    let c = count.grouping();
    let sql = PerSide::new(
        grouped_sql(ctx, c, Side::Legacy, "COUNT(*) AS n")?,
        grouped_sql(ctx, c, Side::Target, "COUNT(*) AS n")?,
    );
    let mut g = grouped(ctx, c, Measure::Count, sql).await?;
    let counted = g.present();
    // A group a side has no row for has no rows there: its count is 0.
    for group in g.groups.values_mut() {
        for side in Side::BOTH {
            if *group.values.get(side) == Slot::Absent {
                *group.values.get_mut(side) = Slot::Value(Some(Number::Exact(Decimal::ZERO)));
            }
        }
    }
    let d = differences(ctx, &g, tolerance_of(c)?);
    Ok(Measurement::Count(Measured {
        totals: PerSide::new(
            side_total(ctx, &g, Side::Legacy)?,
            side_total(ctx, &g, Side::Target)?,
        ),
        group_by: g.names,
        groups: counted,
        differing: d.count,
        max_abs: d.max_abs,
        max_abs_count: d.max_abs_count(),
        max_rel: d.max_rel,
        relative: count.relative,
        tolerance: None,
        differing_groups: d.rows,
    }))
}

/// Whether a money column can be summed exactly on one side, or why not (named).
async fn summable(ctx: &Context, table: &str, column: &str, side: Side) -> Result<(), CheckError> {
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
        .map_err(CheckError::from)?;
    match df.schema().field(0).data_type() {
        t if crate::hash::is_integer(t) => Ok(()),
        t @ (DataType::Decimal32(p, _)
        | DataType::Decimal64(p, _)
        | DataType::Decimal128(p, _)
        | DataType::Decimal256(p, _)) => {
            if *p > crate::snapshot::sum::MAX_SUMMED_PRECISION {
                return Err(CheckError::Refused(format!(
                    "{side} column `{column}` is {t}: past {} digits a sum could overflow; use \
                     raw SQL that casts to a narrower decimal",
                    crate::snapshot::sum::MAX_SUMMED_PRECISION
                )));
            }
            Ok(())
        }
        t => Err(CheckError::Refused(format!(
            "{side} column `{column}` is {t}: totals are summed exactly and need an integer or decimal column"
        ))),
    }
}

pub(super) async fn total(ctx: &Context, total: &TotalCheck) -> Result<Measurement, CheckError> {
    let c = total.grouping();
    let table = c.table.unwrap_or_default();
    let sql = if c.legacy_sql.is_some() {
        PerSide::new(
            grouped_sql(ctx, c, Side::Legacy, "")?,
            grouped_sql(ctx, c, Side::Target, "")?,
        )
    } else {
        let column = total.column.as_deref().unwrap_or_default();
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
    let sides = g.present();
    Ok(Measurement::Total(Measured {
        totals: PerSide::new(
            side_total(ctx, &g, Side::Legacy)?,
            side_total(ctx, &g, Side::Target)?,
        ),
        group_by: g.names,
        groups: sides,
        differing: d.count,
        max_abs: d.max_abs,
        max_abs_count: d.max_abs_count(),
        max_rel: d.max_rel,
        relative: None,
        tolerance: Some(tol.abs.to_string()),
        differing_groups: d.rows,
    }))
}
