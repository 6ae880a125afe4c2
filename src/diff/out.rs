//! `--diff-out DIR`: every differing row's key, category and differing columns, as one Parquet
//! file per table (`DIR/<table>.parquet`), for diffs too large for a report. The same key values
//! feed the run history.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ListBuilder, RecordBatch, StringArray, StringBuilder, new_null_array,
};
use arrow::datatypes::{DataType, Field, Schema};

use super::detail::fetch;
use crate::error::{Error, Result};
use crate::plan::PairPlan;
use crate::side::Side;
use crate::value::render;

/// One differing row to write.
pub struct DiffRow {
    /// `changed`, `missing` or `extra`.
    pub category: &'static str,
    /// The side the key is read from.
    pub side: Side,
    /// The row's ordinal on that side.
    pub ordinal: u64,
    /// The key's identity (hex).
    pub key: String,
    /// Differing compared columns (indices into the plan's columns), for changed rows.
    pub columns: Vec<u16>,
}

/// Key columns of each side's rows, by ordinal.
pub type Keys = HashMap<Side, HashMap<u64, Vec<ArrayRef>>>;

/// Reads the key columns of every row.
pub fn fetch_keys(plan: &PairPlan, rows: &[DiffRow]) -> Result<Keys> {
    let mut keys = HashMap::new();
    for side in Side::BOTH {
        let ords: Vec<u64> = rows
            .iter()
            .filter(|r| r.side == side)
            .map(|r| r.ordinal)
            .collect();
        let cols: Vec<String> = plan
            .keys
            .iter()
            .map(|k| k.names.get(side).clone())
            .collect();
        keys.insert(side, fetch(plan.tables.get(side), &ords, &cols)?);
    }
    Ok(keys)
}

/// A row's key values as JSON text (redacted columns digested).
pub fn key_text(plan: &PairPlan, keys: &Keys, r: &DiffRow) -> String {
    let values = keys.get(&r.side).and_then(|m| m.get(&r.ordinal));
    let map: serde_json::Map<String, serde_json::Value> = plan
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let v = values.map_or(serde_json::Value::Null, |v| render(v[i].as_ref(), 0));
            (k.name.clone(), plan.redact.value(&k.name, v))
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Writes `dir/<table>.parquet` with the rows in the given order.
pub fn write(
    plan: &PairPlan,
    dir: &Path,
    rows: &[DiffRow],
    keys: &Keys,
) -> Result<std::path::PathBuf> {
    let path = dir.join(format!("{}.parquet", plan.name));
    let mut fields = vec![Field::new("category", DataType::Utf8, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
        rows.iter().map(|r| r.category),
    ))];
    for (ki, k) in plan.keys.iter().enumerate() {
        let dt = plan
            .tables
            .legacy
            .schema
            .field_with_name(&k.names.legacy)
            .map_or(DataType::Utf8, |f| f.data_type().clone());
        let cells: Vec<ArrayRef> = rows
            .iter()
            .map(|r| {
                keys.get(&r.side)
                    .and_then(|m| m.get(&r.ordinal))
                    .map_or_else(|| new_null_array(&dt, 1), |v| Arc::clone(&v[ki]))
            })
            .collect();
        // A redacted key is written as its digest, never as its value.
        let redacted = plan.redact.applies(&k.name);
        let typed: Option<Vec<ArrayRef>> = if redacted {
            None
        } else {
            cells
                .iter()
                .map(|c| arrow::compute::cast(c, &dt).ok())
                .collect()
        };
        let column: ArrayRef = match typed {
            Some(t) if !t.is_empty() => {
                let refs: Vec<&dyn Array> = t.iter().map(AsRef::as_ref).collect();
                arrow::compute::concat(&refs)
                    .map_err(|e| Error::failed("diff-out key column", e))?
            }
            _ => {
                let text = cells.iter().map(|c| match render(c.as_ref(), 0) {
                    serde_json::Value::String(s) if redacted => Some(plan.redact.digest(&s)),
                    serde_json::Value::String(s) => Some(s),
                    _ => None,
                });
                Arc::new(text.collect::<StringArray>())
            }
        };
        fields.push(Field::new(&k.name, column.data_type().clone(), true));
        arrays.push(column);
    }
    let mut list = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for &c in &r.columns {
            list.values()
                .append_value(&plan.columns[usize::from(c)].name);
        }
        list.append(true);
    }
    let list = list.finish();
    fields.push(Field::new("columns", list.data_type().clone(), false));
    arrays.push(Arc::new(list));
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
        .map_err(|e| Error::failed("diff-out batch", e))?;
    crate::atomic::write_parquet(&path, schema, &[batch])?;
    Ok(path)
}
