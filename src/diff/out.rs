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

use super::DiffOptions;
use super::detail::fetch;
use super::result::TableDiff;
use super::scan::KeyCodec;
use super::settle::Differing;
use crate::error::{Error, Result};
use crate::plan::PairPlan;
use crate::side::Side;
use crate::spill::spool::Spool;
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

/// Differing rows handled per chunk: the keys of one chunk are read, written and dropped before
/// the next, so memory follows the chunk, not the drift. Rows are chunked in ordinal order, so a
/// chunk touches only the row groups that hold it.
pub const CHUNK: usize = 1 << 16;

/// `dir/<table>.parquet`, written chunk by chunk: the category, the key columns (typed as the
/// legacy side's key; as text where a key is redacted, as its digest, or where the target's key
/// type cannot be cast to the legacy one) and the differing columns.
pub struct Writer {
    file: crate::atomic::ParquetFile,
    schema: Arc<Schema>,
    /// Per key column: `Some(type)` when written typed, `None` when written as text.
    typed: Vec<Option<DataType>>,
}

impl Writer {
    /// Starts the file of a pair.
    pub fn create(plan: &PairPlan, dir: &Path) -> Result<Self> {
        let path = dir.join(format!("{}.parquet", plan.name));
        let mut fields = vec![Field::new("category", DataType::Utf8, false)];
        let mut typed = Vec::with_capacity(plan.keys.len());
        for k in &plan.keys {
            let type_of = |side: Side| {
                plan.tables
                    .get(side)
                    .schema
                    .field_with_name(k.names.get(side))
                    .map(|f| f.data_type().clone())
                    .ok()
            };
            let t = match (type_of(Side::Legacy), type_of(Side::Target)) {
                _ if plan.redact.applies(&k.name) => None,
                (Some(l), Some(t)) if arrow::compute::can_cast_types(&t, &l) => Some(l),
                _ => None,
            };
            let plain = match &t {
                Some(DataType::Dictionary(_, v)) => Some(v.as_ref().clone()),
                other => other.clone(),
            };
            fields.push(Field::new(
                &k.name,
                plain.clone().unwrap_or(DataType::Utf8),
                true,
            ));
            typed.push(plain);
        }
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        fields.push(Field::new("columns", list, false));
        let schema = Arc::new(Schema::new(fields));
        Ok(Self {
            file: crate::atomic::ParquetFile::create(&path, Arc::clone(&schema))?,
            schema,
            typed,
        })
    }

    /// Appends one chunk of rows with their keys.
    pub fn write(&mut self, plan: &PairPlan, rows: &[DiffRow], keys: &Keys) -> Result<()> {
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.category),
        ))];
        for (ki, k) in plan.keys.iter().enumerate() {
            let cell = |r: &DiffRow| {
                keys.get(&r.side)
                    .and_then(|m| m.get(&r.ordinal))
                    .map(|v| &v[ki])
            };
            let column: ArrayRef = if let Some(dt) = &self.typed[ki] {
                let cells: Vec<ArrayRef> = rows
                    .iter()
                    .map(|r| {
                        cell(r).map_or_else(
                            || Ok(new_null_array(dt, 1)),
                            |c| arrow::compute::cast(c, dt),
                        )
                    })
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| Error::failed("diff-out key column", e))?;
                let refs: Vec<&dyn Array> = cells.iter().map(AsRef::as_ref).collect();
                if refs.is_empty() {
                    new_null_array(dt, 0)
                } else {
                    arrow::compute::concat(&refs)
                        .map_err(|e| Error::failed("diff-out key column", e))?
                }
            } else {
                // A redacted key is written as its digest, never as its value.
                let redacted = plan.redact.applies(&k.name);
                let text = rows.iter().map(|r| {
                    cell(r).and_then(|c| match render(c.as_ref(), 0) {
                        serde_json::Value::String(s) if redacted => Some(plan.redact.digest(&s)),
                        serde_json::Value::String(s) => Some(s),
                        _ => None,
                    })
                });
                Arc::new(text.collect::<StringArray>())
            };
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
        arrays.push(Arc::new(list.finish()));
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays)
            .map_err(|e| Error::failed("diff-out batch", e))?;
        self.file.write(&batch)
    }

    /// Closes the file and moves it into place.
    pub fn finish(self) -> Result<()> {
        self.file.finish()
    }
}

/// `--diff-out` and the history's keys: every differing row, in (side, ordinal) order, a spool
/// bucket at a time and within it chunks of [`CHUNK`], each chunk's keys read, written and
/// dropped before the next.
pub(super) fn write_differing<K: KeyCodec>(
    plan: &PairPlan,
    opts: &DiffOptions,
    spool: Spool<Differing<K>>,
    t: &mut TableDiff,
) -> Result<()> {
    let mut writer = opts
        .diff_out
        .as_ref()
        .map(|dir| Writer::create(plan, dir))
        .transpose()?;
    // The identity of a key with a redacted column is itself keyed: the exact key (or its
    // unkeyed digest) would give the value away.
    let redacted_key = plan.keys.iter().any(|k| plan.redact.applies(&k.name));
    t.differing_keys = crate::spill::KeyLog::new(opts.temp_dir.as_deref());
    spool.drain(|bucket| {
        for chunk in bucket.chunks(CHUNK) {
            let rows: Vec<DiffRow> = chunk
                .iter()
                .map(|d| DiffRow {
                    category: d.category.as_str(),
                    side: d.category.side(),
                    ordinal: d.ordinal,
                    key: d.key.hex(),
                    columns: d.columns.clone(),
                })
                .collect();
            let keys = fetch_keys(plan, &rows)?;
            if let Some(w) = &mut writer {
                w.write(plan, &rows, &keys)?;
            }
            if opts.keep_keys {
                t.differing_keys
                    .extend(rows.iter().map(|r| crate::spill::DiffKey {
                        category: r.category.to_owned(),
                        digest: if redacted_key {
                            plan.redact.digest(&r.key)
                        } else {
                            r.key.clone()
                        },
                        key: key_text(plan, &keys, r),
                    }))?;
            }
        }
        Ok(())
    })?;
    if let Some(w) = writer {
        w.finish()?;
    }
    Ok(())
}
