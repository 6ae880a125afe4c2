//! A table's schema, decided once for the engine and for `DataFusion` alike: the union of its
//! files' columns (a column some files lack is NULL in them), then the hive partition columns.
//! Files that disagree on a column's type are widened to a common type where one loses nothing
//! (integers of different widths, decimals of different precision and scale, string and binary
//! variants); anything else is an error naming both files.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::TableFile;
use crate::error::{Error, Result};
use crate::side::Side;

/// The union schema of a table from its files (each with its footer's Arrow schema, in path
/// order): file columns in order of first appearance, then partition columns.
pub(crate) fn union(side: Side, table: &str, files: &[(&TableFile, &Schema)]) -> Result<SchemaRef> {
    // Each field with the file it was first seen in, for messages.
    let mut fields: Vec<(Field, usize)> = Vec::new();
    for (fi, (_, schema)) in files.iter().enumerate() {
        for field in schema.fields() {
            match fields.iter_mut().find(|(f, _)| f.name() == field.name()) {
                None => fields.push((field.as_ref().clone().with_nullable(true), fi)),
                Some((existing, first)) => {
                    let common =
                        common_type(existing.data_type(), field.data_type()).ok_or_else(|| {
                            Error::File {
                                side,
                                table: table.to_owned(),
                                file: files[fi].0.display(),
                                message: format!(
                                    "column `{}` is {} here but {} in {}",
                                    field.name(),
                                    field.data_type(),
                                    existing.data_type(),
                                    files[*first].0.display()
                                ),
                            }
                        })?;
                    if &common != existing.data_type() {
                        *existing = existing.clone().with_data_type(common);
                    }
                }
            }
        }
    }
    let mut out: Vec<Field> = fields.into_iter().map(|(f, _)| f).collect();
    let plain: Vec<TableFile> = files.iter().map(|(f, _)| (*f).clone()).collect();
    for p in partition_fields(&plain) {
        if out.iter().all(|f| f.name() != p.name()) {
            out.push(p);
        }
    }
    Ok(Arc::new(Schema::new(out)))
}

/// The hive partition columns of a table's files, in order of first appearance: Int64 when
/// every value is a canonical integer (or NULL), else Utf8, so `01234` keeps its zero.
pub(crate) fn partition_fields(files: &[TableFile]) -> Vec<Field> {
    let mut names: Vec<&str> = Vec::new();
    for f in files {
        for (k, _) in &f.partitions {
            if !names.contains(&k.as_str()) {
                names.push(k);
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let all_int = files.iter().all(|f| {
                f.partitions
                    .iter()
                    .find(|(k, _)| k == name)
                    .is_some_and(|(_, v)| {
                        v.as_deref().is_none_or(super::partition::canonical_integer)
                    })
            });
            let dt = if all_int {
                DataType::Int64
            } else {
                DataType::Utf8
            };
            Field::new(name, dt, true)
        })
        .collect()
}

/// The schema with dictionary-encoded columns as their value types (what SQL sees; the engine's
/// reader may keep strings as dictionaries, which changes no value).
pub fn plain(schema: &Schema) -> Schema {
    Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Dictionary(_, v) => f.as_ref().clone().with_data_type(v.as_ref().clone()),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    )
}

/// A type that holds every value of both types exactly, if there is one.
fn common_type(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType as T;
    let unpack = |t: &DataType| match t {
        T::Dictionary(_, v) => v.as_ref().clone(),
        t => t.clone(),
    };
    if unpack(a) == unpack(b) {
        return Some(a.clone());
    }
    let (a, b) = (unpack(a), unpack(b));
    Some(match (&a, &b) {
        // A file where the column is all NULL (pandas writes it typed `Null`) holds no value.
        (T::Null, other) | (other, T::Null) => other.clone(),
        _ if crate::hash::is_integer(&a) && crate::hash::is_integer(&b) => common_integer(&a, &b)?,
        (
            T::Decimal32(..) | T::Decimal64(..) | T::Decimal128(..) | T::Decimal256(..),
            T::Decimal32(..) | T::Decimal64(..) | T::Decimal128(..) | T::Decimal256(..),
        ) => {
            let (pa, sa) = precision_scale(&a)?;
            let (pb, sb) = precision_scale(&b)?;
            let scale = sa.max(sb);
            let int_digits = (i16::from(pa) - i16::from(sa)).max(i16::from(pb) - i16::from(sb));
            let precision = u8::try_from(int_digits + i16::from(scale)).ok()?;
            match precision {
                1..=38 => T::Decimal128(precision, scale),
                39..=76 => T::Decimal256(precision, scale),
                _ => return None,
            }
        }
        (T::Float16 | T::Float32 | T::Float64, T::Float16 | T::Float32 | T::Float64) => T::Float64,
        (T::Utf8 | T::LargeUtf8 | T::Utf8View, T::Utf8 | T::LargeUtf8 | T::Utf8View) => T::Utf8,
        (
            T::Binary | T::LargeBinary | T::BinaryView,
            T::Binary | T::LargeBinary | T::BinaryView,
        ) => T::Binary,
        (T::Date32 | T::Date64, T::Date32 | T::Date64) => T::Date32,
        // The same zone (or none) in another unit: the finer unit holds both.
        (T::Timestamp(ua, za), T::Timestamp(ub, zb)) if za == zb => {
            T::Timestamp(if ua > ub { *ua } else { *ub }, za.clone())
        }
        _ => return None,
    })
}

fn precision_scale(t: &DataType) -> Option<(u8, i8)> {
    match t {
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => (*s >= 0).then_some((*p, *s)),
        _ => None,
    }
}

/// The narrowest integer type holding every value of both.
fn common_integer(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType as T;
    let bits = |t: &DataType| -> Option<(bool, u8)> {
        Some(match t {
            T::Int8 => (true, 8),
            T::Int16 => (true, 16),
            T::Int32 => (true, 32),
            T::Int64 => (true, 64),
            T::UInt8 => (false, 8),
            T::UInt16 => (false, 16),
            T::UInt32 => (false, 32),
            T::UInt64 => (false, 64),
            _ => return None,
        })
    };
    let ((sa, wa), (sb, wb)) = (bits(a)?, bits(b)?);
    let (signed, width) = match (sa, sb) {
        (true, true) | (false, false) => (sa, wa.max(wb)),
        // A signed type must be wider than the unsigned one to hold it.
        (true, false) => (true, wa.max(wb * 2)),
        (false, true) => (true, wb.max(wa * 2)),
    };
    Some(match (signed, width) {
        (true, 8) => T::Int8,
        (true, 16) => T::Int16,
        (true, 32) => T::Int32,
        (true, 64) => T::Int64,
        (false, 8) => T::UInt8,
        (false, 16) => T::UInt16,
        (false, 32) => T::UInt32,
        (false, 64) => T::UInt64,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::TimeUnit;

    #[test]
    fn types_widen_only_where_nothing_is_lost() {
        use DataType as T;
        assert_eq!(common_type(&T::Int32, &T::Int64), Some(T::Int64));
        assert_eq!(common_type(&T::UInt32, &T::Int32), Some(T::Int64));
        assert_eq!(common_type(&T::UInt64, &T::Int64), None);
        assert_eq!(
            common_type(&T::Decimal128(10, 2), &T::Decimal128(12, 4)),
            Some(T::Decimal128(12, 4))
        );
        assert_eq!(
            common_type(&T::Decimal128(38, 0), &T::Decimal128(10, 5)),
            Some(T::Decimal256(43, 5))
        );
        assert_eq!(common_type(&T::Utf8, &T::Int64), None);
        assert_eq!(
            common_type(
                &T::Timestamp(TimeUnit::Millisecond, None),
                &T::Timestamp(TimeUnit::Microsecond, None)
            ),
            Some(T::Timestamp(TimeUnit::Microsecond, None))
        );
        assert_eq!(
            common_type(
                &T::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                &T::Timestamp(TimeUnit::Microsecond, None)
            ),
            None,
            "a zoned and a zone-less timestamp mean different things"
        );
        assert_eq!(
            common_type(
                &T::Dictionary(Box::new(T::Int32), Box::new(T::Utf8)),
                &T::Utf8
            ),
            Some(T::Dictionary(Box::new(T::Int32), Box::new(T::Utf8)))
        );
    }
}
