//! Logical values of generated rows and how each side stores them physically: the same value
//! written as a MySQL-shaped legacy type and a PostgreSQL-shaped target type.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder,
    Int8Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, TimeUnit};

/// A generated value, independent of how a side stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A decimal `(mantissa, scale)`.
    Dec(i128, i8),
    /// Text.
    Str(String),
    /// A flag.
    Bool(bool),
    /// Days since the epoch.
    Date(i32),
    /// Local wall-clock microseconds (no zone).
    Ts(i64),
    /// A float exactly representable as `f32`.
    Float(f64),
}

/// Builds one column of one side from logical values.
pub enum Builder {
    /// TINYINT.
    I8(Int8Builder),
    /// SMALLINT.
    I16(Int16Builder),
    /// INT.
    I32(Int32Builder),
    /// BIGINT.
    I64(Int64Builder),
    /// DECIMAL of this scale.
    Dec(Decimal128Builder, i8),
    /// Text.
    Str(StringBuilder),
    /// Booleans.
    Bool(BooleanBuilder),
    /// Dates.
    Date(Date32Builder),
    /// Timestamps; the offset (seconds) is subtracted for zoned targets.
    Ts(TimestampMicrosecondBuilder, i64),
    /// FLOAT.
    F32(Float32Builder),
    /// DOUBLE.
    F64(Float64Builder),
}

impl Builder {
    /// A builder for `dt`; `utc_offset` is the local zone of naive generated timestamps.
    pub fn new(dt: &DataType, utc_offset: i64) -> Self {
        match dt {
            DataType::Int8 => Builder::I8(Int8Builder::new()),
            DataType::Int16 => Builder::I16(Int16Builder::new()),
            DataType::Int32 => Builder::I32(Int32Builder::new()),
            DataType::Decimal128(p, s) => Builder::Dec(
                Decimal128Builder::new()
                    .with_precision_and_scale(*p, *s)
                    .unwrap_or_default(),
                *s,
            ),
            DataType::Utf8 => Builder::Str(StringBuilder::new()),
            DataType::Boolean => Builder::Bool(BooleanBuilder::new()),
            DataType::Date32 => Builder::Date(Date32Builder::new()),
            DataType::Timestamp(_, Some(tz)) => Builder::Ts(
                TimestampMicrosecondBuilder::new().with_timezone(Arc::clone(tz)),
                utc_offset,
            ),
            DataType::Timestamp(_, None) => Builder::Ts(TimestampMicrosecondBuilder::new(), 0),
            DataType::Float32 => Builder::F32(Float32Builder::new()),
            DataType::Float64 => Builder::F64(Float64Builder::new()),
            _ => Builder::I64(Int64Builder::new()),
        }
    }

    /// Appends a value, converting it to this side's physical type.
    #[allow(clippy::cast_possible_truncation)]
    pub fn push(&mut self, v: &V) {
        match (self, v) {
            (Builder::I8(b), V::Bool(x)) => b.append_value(i8::from(*x)),
            (Builder::I8(b), V::Int(x)) => b.append_value(*x as i8),
            (Builder::I16(b), V::Int(x)) => b.append_value(*x as i16),
            (Builder::I16(b), _) => b.append_null(),
            (Builder::I32(b), V::Int(x)) => b.append_value(*x as i32),
            (Builder::I32(b), _) => b.append_null(),
            (Builder::I64(b), V::Int(x)) => b.append_value(*x),
            (Builder::I64(b), _) => b.append_null(),
            (Builder::Dec(b, to), V::Dec(m, s)) => {
                b.append_value(m * 10i128.pow(u32::try_from(*to - *s).unwrap_or(0)));
            }
            (Builder::Dec(b, _), _) => b.append_null(),
            (Builder::Str(b), V::Str(s)) => b.append_value(s),
            (Builder::Str(b), _) => b.append_null(),
            (Builder::Bool(b), V::Bool(x)) => b.append_value(*x),
            (Builder::Bool(b), V::Int(x)) => b.append_value(*x != 0),
            (Builder::Bool(b), _) => b.append_null(),
            (Builder::Date(b), V::Date(d)) => b.append_value(*d),
            (Builder::Date(b), _) => b.append_null(),
            (Builder::Ts(b, off), V::Ts(t)) => b.append_value(*t - *off * 1_000_000),
            (Builder::Ts(b, _), _) => b.append_null(),
            (Builder::F32(b), V::Float(x)) => b.append_value(*x as f32),
            (Builder::F32(b), _) => b.append_null(),
            (Builder::F64(b), V::Float(x)) => b.append_value(*x),
            (Builder::F64(b), _) => b.append_null(),
            (Builder::I8(b), _) => b.append_null(),
        }
    }

    /// The finished array.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::I8(b) => Arc::new(b.finish()),
            Builder::I16(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::Dec(b, _) => Arc::new(b.finish()),
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Ts(b, _) => Arc::new(b.finish()),
            Builder::F32(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
        }
    }
}

/// Shorthands for types.
pub mod ty {
    use super::{DataType, TimeUnit};

    /// A naive `DATETIME`.
    pub fn naive() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    }

    /// A `timestamptz` in UTC.
    pub fn tz() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    }

    /// `DECIMAL(p, s)`.
    pub fn dec(p: u8, s: i8) -> DataType {
        DataType::Decimal128(p, s)
    }
}
