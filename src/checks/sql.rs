//! Running check SQL (read-only) and reading results back as comparable cells.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Decimal128Type};
use datafusion::execution::context::SessionContext;

use crate::hash::decimal;

/// A quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Runs one read-only statement and collects its (small) result.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, String> {
    let df = ctx
        .sql_with_options(sql, crate::snapshot::sql::read_only())
        .await
        .map_err(|e| e.to_string())?;
    df.collect().await.map_err(|e| e.to_string())
}

/// A cell as text that compares equal across sides for equal values: decimals and integers
/// normalized (`1.50` and `1.5000` are both `1.5`), everything else as displayed; NULL is `None`.
pub fn cell(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    if let Some((m, s)) = exact(array, row) {
        return Some(decimal_text(m, s));
    }
    match crate::diff::detail::render(array, row) {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

/// An integer or decimal cell as `(mantissa, scale)`, normalized.
pub fn exact(array: &dyn Array, row: usize) -> Option<(i128, i32)> {
    if array.is_null(row) {
        return None;
    }
    let (m, s) = match array.data_type() {
        DataType::Decimal128(_, s) => (
            array.as_primitive::<Decimal128Type>().value(row),
            i32::from(*s),
        ),
        t if crate::hash::is_integer(t) => {
            let a =
                arrow::compute::cast(&arrow::array::make_array(array.to_data()), &DataType::Int64)
                    .ok()?;
            (
                i128::from(a.as_primitive::<arrow::datatypes::Int64Type>().value(row)),
                0,
            )
        }
        _ => return None,
    };
    decimal::normalize(m, s)
}

/// `(mantissa, scale)` as decimal text.
pub fn decimal_text(m: i128, s: i32) -> String {
    if s <= 0 {
        return m.to_string();
    }
    let neg = m < 0;
    let digits = m.unsigned_abs().to_string();
    let s = usize::try_from(s).unwrap_or(0);
    let padded = if digits.len() <= s {
        format!("{}{digits}", "0".repeat(s + 1 - digits.len()))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - s);
    format!("{}{int}.{frac}", if neg { "-" } else { "" })
}

/// Every row of a result as cells.
pub fn rows(batches: &[RecordBatch]) -> Vec<Vec<Option<String>>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(b.columns().iter().map(|c| cell(c.as_ref(), r)).collect());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_places_the_point() {
        assert_eq!(decimal_text(15, 1), "1.5");
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(1200, 0), "1200");
    }
}
