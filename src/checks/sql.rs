//! Running check SQL (read-only) and reading results back through the one value model
//! ([`crate::value`]): cells as canonical values under codecs decided from both sides' result
//! types and the pair's options, numbers exactly or not at all.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::execution::context::SessionContext;

use super::lineage::Redaction;
use crate::config::{ColumnOptions, Config, TableConfig};
use crate::error::CheckError;
use crate::hash::Codec;
use crate::side::{PerSide, Side};
use crate::value::{Cell, Number, shown};

/// A quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A statement's result: its schema (also when it has no rows), its rows, and which columns
/// depend on a redacted column ([`Redaction::outputs`]).
pub struct Outcome {
    /// The result schema.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
    /// Per column: shown only as a digest.
    pub redacted: Vec<bool>,
}

impl Outcome {
    /// Column names.
    pub fn names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Every row as `(batch, row)`.
    fn positions(&self) -> impl Iterator<Item = (&RecordBatch, usize)> {
        self.batches
            .iter()
            .flat_map(|b| (0..b.num_rows()).map(move |r| (b, r)))
    }

    /// Every row's values of every column, as the report shows them (redacted ones digested).
    pub fn shown_rows(&self, redaction: &Redaction) -> Vec<Vec<Option<String>>> {
        self.positions()
            .map(|(b, r)| {
                b.columns()
                    .iter()
                    .zip(&self.redacted)
                    .map(|(a, &red)| redaction.shown(red, shown(a.as_ref(), r)))
                    .collect()
            })
            .collect()
    }
}

/// Runs one read-only statement on `side` and collects its (small) result. Planning errors
/// quote the SQL the user wrote; when anything is redacted, errors from running it have quoted
/// text and numbers masked, since they may quote row values (a failed cast, an overflow).
pub async fn query(
    ctx: &SessionContext,
    sql: &str,
    side: Side,
    redaction: &Redaction,
) -> Result<Outcome, CheckError> {
    let df = ctx
        .sql_with_options(sql, crate::snapshot::sql::read_only())
        .await?;
    let redacted = redaction.outputs(side, df.logical_plan());
    let schema: SchemaRef = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.map_err(|e| {
        if redaction.is_empty() {
            CheckError::Sql(e)
        } else {
            CheckError::Masked(crate::redact::masked(&e))
        }
    })?;
    Ok(Outcome {
        schema,
        batches,
        redacted,
    })
}

/// The comparison options of the config, for result columns: a column named like a column of
/// the pair the check reads gets that column's options, any other the pair's (`columns."*"` over
/// `[defaults]`), and a result that reads no pair the defaults.
#[derive(Debug, Clone, Default)]
pub struct ValueOptions {
    defaults: ColumnOptions,
    tables: BTreeMap<String, TableConfig>,
}

impl ValueOptions {
    /// The options of a config.
    pub fn new(config: &Config) -> Self {
        Self {
            defaults: config.defaults.clone(),
            tables: config
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.clone()))
                .collect(),
        }
    }

    /// The options of a result column of a check over `pair`. A cast or a tolerance is the
    /// table column's business, not the result's, so neither carries over.
    pub fn for_column(&self, pair: Option<&str>, column: &str) -> ColumnOptions {
        let opts = match pair.and_then(|p| self.tables.get(p)) {
            Some(t) if t.columns.contains_key(column) => t.column_options(column, &self.defaults),
            Some(t) => t.table_options(&self.defaults),
            None => self.defaults.clone(),
        };
        ColumnOptions {
            cast: None,
            abs_tolerance: None,
            rel_tolerance: None,
            ..opts
        }
    }
}

/// The codec of each result column, decided from both sides' types as the engine decides a
/// column pair's (an integer against a float equals it only when the float holds it exactly, a
/// zone-less timestamp against
/// a zoned one by instant in the configured zone). Different families are an error naming the
/// column.
pub fn codecs(
    results: &PerSide<Outcome>,
    columns: &[usize],
    options: impl Fn(&str) -> ColumnOptions,
) -> Result<Vec<Codec>, CheckError> {
    let (l, t) = (&results.legacy.schema, &results.target.schema);
    if l.fields().len() != t.fields().len() {
        return Err(CheckError::Refused(format!(
            "the legacy result has {} columns and the target result {}",
            l.fields().len(),
            t.fields().len()
        )));
    }
    columns
        .iter()
        .map(|&i| {
            let (lf, tf) = (l.field(i), t.field(i));
            crate::plan::codec_for(lf.data_type(), tf.data_type(), &options(lf.name())).map_err(
                |source| CheckError::Compare {
                    column: lf.name().clone(),
                    source,
                },
            )
        })
        .collect()
}

/// One result row: canonical cells of the chosen columns and how each value reads.
#[derive(Debug, Clone)]
pub struct CellRow {
    /// Canonical values (map keys, equality).
    pub cells: Vec<Cell>,
    /// The values as the report shows them (`None` for NULL).
    pub shown: Vec<Option<String>>,
}

/// Every row of one side's result as canonical cells of `columns`, each under its codec;
/// redacted columns show their digests. Errors name the side and the column.
pub fn cell_rows(
    outcome: &Outcome,
    side: Side,
    columns: &[usize],
    codecs: &[Codec],
    redaction: &Redaction,
) -> Result<Vec<CellRow>, CheckError> {
    let mut out = Vec::new();
    for b in &outcome.batches {
        let mut cells: Vec<Vec<Cell>> = Vec::with_capacity(columns.len());
        for (&c, codec) in columns.iter().zip(codecs) {
            let name = outcome.schema.field(c).name();
            cells.push(Cell::column(b.column(c).as_ref(), codec).map_err(|source| {
                CheckError::Cells {
                    side,
                    column: name.clone(),
                    source,
                }
            })?);
        }
        for r in 0..b.num_rows() {
            out.push(CellRow {
                cells: cells.iter().map(|col| col[r].clone()).collect(),
                shown: columns
                    .iter()
                    .map(|&c| {
                        let red = outcome.redacted.get(c).copied().unwrap_or(true);
                        redaction.shown(red, shown(b.column(c).as_ref(), r))
                    })
                    .collect(),
            });
        }
    }
    Ok(out)
}

/// [`cell_rows`] of both sides' results.
pub fn cell_rows_both(
    results: &PerSide<Outcome>,
    columns: &[usize],
    codecs: &[Codec],
    redaction: &Redaction,
) -> Result<PerSide<Vec<CellRow>>, CheckError> {
    Ok(PerSide::new(
        cell_rows(&results.legacy, Side::Legacy, columns, codecs, redaction)?,
        cell_rows(&results.target, Side::Target, columns, codecs, redaction)?,
    ))
}

/// What a count or total column may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// A count: whole numbers only.
    Count,
    /// A total: integers and decimals.
    Total,
}

/// Checks the type of a result's measure column (its last): integers and decimals, floats only
/// when the check declares a tolerance. A mistake is an error telling the user what to cast.
pub fn measure_type(
    outcome: &Outcome,
    side: Side,
    measure: Measure,
    tolerance: bool,
) -> Result<(), CheckError> {
    let Some(field) = outcome.schema.fields().last() else {
        return Err(CheckError::Refused(format!(
            "the {side} result has no columns"
        )));
    };
    let dt = match field.data_type() {
        DataType::Dictionary(_, v) => v.as_ref(),
        t => t,
    };
    let (what, cast) = match measure {
        Measure::Count => ("count", "CAST(... AS BIGINT)"),
        Measure::Total => ("total", "CAST(... AS DECIMAL(p, s))"),
    };
    match crate::plan::family(dt) {
        crate::plan::Family::Integer | crate::plan::Family::Decimal => Ok(()),
        crate::plan::Family::Float if tolerance => Ok(()),
        crate::plan::Family::Float => Err(CheckError::Refused(format!(
            "the {side} {what} `{}` is {dt}: floats are not compared exactly; {cast} in the \
             SQL, or declare a `tolerance` to compare within it",
            field.name()
        ))),
        _ => Err(CheckError::Refused(format!(
            "the {side} {what} `{}` is {dt}, not a number; the last column of a {what} \
             query must be the {what}",
            field.name()
        ))),
    }
}

/// The measure (last column) of every row, exactly: `None` for NULL. A count with a fraction
/// is an error; no value is ever quoted in it.
pub fn measures(
    outcome: &Outcome,
    side: Side,
    measure: Measure,
) -> Result<Vec<Option<Number>>, CheckError> {
    let Some(last) = outcome.schema.fields().len().checked_sub(1) else {
        return Err(CheckError::Refused(format!(
            "the {side} result has no columns"
        )));
    };
    let name = outcome.schema.field(last).name();
    outcome
        .positions()
        .map(|(b, r)| {
            let n = crate::value::number_at(b.column(last).as_ref(), r).map_err(|source| {
                CheckError::Value {
                    side,
                    column: name.clone(),
                    source,
                }
            })?;
            if measure == Measure::Count
                && let Some(Number::Exact(d)) = n
                && !d.is_integer()
            {
                return Err(CheckError::Refused(format!(
                    "the {side} count `{name}` has a fraction: a count is a whole number"
                )));
            }
            Ok(n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("order id"), "\"order id\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }
}
