//! Every value of an Arrow array reduced to its canonical `(tag, payload)`, one function per
//! family of comparison modes.

use arrow::array::{Array, AsArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::*;

use super::payload::{
    float, instant_payload, numeric, numeric_at, numeric_payload, numeric256, text,
};
use super::{
    Codec, CompareAs, EncodeError, Tag, TimeZone, decimal, decimal_scale, for_each_int, is_integer,
};

/// Calls `$f` with NULL, or evaluates `$body` with `$v` bound to the value, for every value of
/// `$arr` in order.
macro_rules! each {
    ($f:ident, $arr:expr, |$v:ident| $body:expr) => {{
        let arr = $arr;
        for i in 0..arr.len() {
            if arr.is_null(i) {
                $f(Tag::Null, &[]);
            } else {
                let $v = arr.value(i);
                $body
            }
        }
    }};
}

/// Calls `f` with the canonical `(tag, payload)` of every value of `array`, in order.
pub fn visit<F: FnMut(Tag, &[u8]) + ?Sized>(
    array: &dyn Array,
    codec: &Codec,
    f: &mut F,
) -> Result<(), EncodeError> {
    let dt = array.data_type();
    let visited = match codec.mode {
        // A Null-typed column holds NULL only, in any mode.
        _ if *dt == DataType::Null => {
            (0..array.len()).for_each(|_| f(Tag::Null, &[]));
            true
        }
        CompareAs::Numeric | CompareAs::Float => visit_number(array, codec, f)?,
        CompareAs::Date | CompareAs::Timestamp | CompareAs::Time => visit_temporal(array, codec, f),
        CompareAs::Text(_) | CompareAs::Binary | CompareAs::Bool => {
            visit_other(array, codec.mode, f)
        }
    };
    if visited {
        return Ok(());
    }
    Err(EncodeError::Uncomparable {
        data_type: dt.clone(),
        mode: format!("{:?}", codec.mode),
    })
}

/// [`visit`] for numbers (exact and float); `false` for a type the mode cannot take.
fn visit_number<F: FnMut(Tag, &[u8]) + ?Sized>(
    array: &dyn Array,
    codec: &Codec,
    f: &mut F,
) -> Result<bool, EncodeError> {
    let dt = array.data_type();
    let fixed = codec.fixed_scale;
    match (codec.mode, dt) {
        (CompareAs::Numeric, _) if is_integer(dt) => {
            let mut result = Ok(());
            for_each_int(array, &mut |v| match v {
                None => f(Tag::Null, &[]),
                Some(v) if result.is_ok() => result = numeric_at(v, 0, fixed, f),
                Some(_) => {}
            });
            result?;
        }
        (CompareAs::Numeric, DataType::Decimal32(_, s)) => {
            each!(f, array.as_primitive::<Decimal32Type>(), |v| numeric_at(
                i128::from(v),
                *s,
                fixed,
                f
            )?);
        }
        (CompareAs::Numeric, DataType::Decimal64(_, s)) => {
            each!(f, array.as_primitive::<Decimal64Type>(), |v| numeric_at(
                i128::from(v),
                *s,
                fixed,
                f
            )?);
        }
        (CompareAs::Numeric, DataType::Decimal128(_, s)) => {
            each!(f, array.as_primitive::<Decimal128Type>(), |v| numeric_at(
                v, *s, fixed, f
            )?);
        }
        (CompareAs::Numeric, DataType::Decimal256(_, s)) => {
            each!(f, array.as_primitive::<Decimal256Type>(), |v| numeric256(
                v, *s, f
            )?);
        }
        (CompareAs::Float, DataType::Decimal256(_, s)) => {
            each!(f, array.as_primitive::<Decimal256Type>(), |v| {
                match decimal::exact_f64_wide(v, i32::from(*s)) {
                    Some(x) => float(x, f),
                    None => numeric256(v, *s, f)?,
                }
            });
        }
        (CompareAs::Float, DataType::Float16) => {
            each!(f, array.as_primitive::<Float16Type>(), |v| float(
                f64::from(v.to_f32()),
                f
            ));
        }
        (CompareAs::Float, DataType::Float32) => {
            each!(f, array.as_primitive::<Float32Type>(), |v| float(
                f64::from(v),
                f
            ));
        }
        (CompareAs::Float, DataType::Float64) => {
            each!(f, array.as_primitive::<Float64Type>(), |v| float(v, f));
        }
        // An exact number against a float: equal to a float only when a float holds it exactly;
        // any other value keeps its exact encoding, which no float shares, so it differs.
        (CompareAs::Float, _) if is_integer(dt) => {
            for_each_int(array, &mut |v| match v {
                None => f(Tag::Null, &[]),
                Some(v) => match decimal::exact_f64(v, 0) {
                    Some(x) => float(x, f),
                    None => f(Tag::Numeric, numeric_payload(v, 0).bytes()),
                },
            });
        }
        (
            CompareAs::Float,
            DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..),
        ) => {
            let wide = cast_with_options(
                array,
                &DataType::Decimal128(38, decimal_scale(dt)),
                &CastOptions::default(),
            )?;
            let s = decimal_scale(dt);
            each!(f, wide.as_primitive::<Decimal128Type>(), |v| {
                match decimal::exact_f64(v, i32::from(s)) {
                    Some(x) => float(x, f),
                    None => numeric(v, s, f)?,
                }
            });
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// [`visit`] for dates, timestamps and times; `false` for a type the mode cannot take.
fn visit_temporal<F: FnMut(Tag, &[u8]) + ?Sized>(
    array: &dyn Array,
    codec: &Codec,
    f: &mut F,
) -> bool {
    let dt = array.data_type();
    match (codec.mode, dt) {
        (CompareAs::Date, DataType::Date32) => {
            each!(f, array.as_primitive::<Date32Type>(), |v| f(
                Tag::Date,
                &i64::from(v).to_le_bytes()
            ));
        }
        (CompareAs::Date, DataType::Date64) => {
            each!(f, array.as_primitive::<Date64Type>(), |v| f(
                Tag::Date,
                &v.div_euclid(86_400_000).to_le_bytes()
            ));
        }
        (CompareAs::Timestamp, DataType::Timestamp(unit, tz)) => {
            let per = match unit {
                TimeUnit::Second => 1_000_000_000i128,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            };
            let zone = if tz.is_some() {
                TimeZone::Utc
            } else {
                codec.zone
            };
            macro_rules! ts {
                ($t:ty) => {
                    each!(f, array.as_primitive::<$t>(), |v| {
                        instant_payload(zone.to_utc_nanos(i128::from(v) * per), f)
                    })
                };
            }
            match unit {
                TimeUnit::Second => ts!(TimestampSecondType),
                TimeUnit::Millisecond => ts!(TimestampMillisecondType),
                TimeUnit::Microsecond => ts!(TimestampMicrosecondType),
                TimeUnit::Nanosecond => ts!(TimestampNanosecondType),
            }
        }
        (CompareAs::Time, DataType::Time32(unit)) => {
            let per = if *unit == TimeUnit::Second {
                1_000_000_000
            } else {
                1_000_000
            };
            if unit == &TimeUnit::Second {
                each!(f, array.as_primitive::<Time32SecondType>(), |v| {
                    f(Tag::Time, &(i64::from(v) * per).to_le_bytes());
                });
            } else {
                each!(f, array.as_primitive::<Time32MillisecondType>(), |v| {
                    f(Tag::Time, &(i64::from(v) * per).to_le_bytes());
                });
            }
        }
        (CompareAs::Time, DataType::Time64(unit)) => {
            if unit == &TimeUnit::Microsecond {
                each!(f, array.as_primitive::<Time64MicrosecondType>(), |v| f(
                    Tag::Time,
                    &(v * 1000).to_le_bytes()
                ));
            } else {
                each!(f, array.as_primitive::<Time64NanosecondType>(), |v| f(
                    Tag::Time,
                    &v.to_le_bytes()
                ));
            }
        }
        _ => return false,
    }
    true
}

/// [`visit`] for text, bytes and booleans; `false` for a type the mode cannot take.
fn visit_other<F: FnMut(Tag, &[u8]) + ?Sized>(
    array: &dyn Array,
    mode: CompareAs,
    f: &mut F,
) -> bool {
    let dt = array.data_type();
    match (mode, dt) {
        (CompareAs::Text(o), DataType::Utf8) => {
            each!(f, array.as_string::<i32>(), |v| text(v, o, f));
        }
        (CompareAs::Text(o), DataType::LargeUtf8) => {
            each!(f, array.as_string::<i64>(), |v| text(v, o, f));
        }
        (CompareAs::Text(o), DataType::Utf8View) => {
            each!(f, array.as_string_view(), |v| text(v, o, f));
        }
        (CompareAs::Binary, DataType::Binary) => {
            each!(f, array.as_binary::<i32>(), |v| f(Tag::Binary, v));
        }
        (CompareAs::Binary, DataType::LargeBinary) => {
            each!(f, array.as_binary::<i64>(), |v| f(Tag::Binary, v));
        }
        (CompareAs::Binary, DataType::BinaryView) => {
            each!(f, array.as_binary_view(), |v| f(Tag::Binary, v));
        }
        (CompareAs::Binary, DataType::FixedSizeBinary(_)) => {
            each!(f, array.as_fixed_size_binary(), |v| f(Tag::Binary, v));
        }
        (CompareAs::Bool, DataType::Boolean) => {
            each!(f, array.as_boolean(), |v| f(Tag::Bool, &[u8::from(v)]));
        }
        (CompareAs::Bool, _) if is_integer(dt) => {
            // MySQL TINYINT(1): 0/1 are booleans; any other integer stays a number, so it differs.
            for_each_int(array, &mut |v| match v {
                None => f(Tag::Null, &[]),
                Some(0) => f(Tag::Bool, &[0]),
                Some(1) => f(Tag::Bool, &[1]),
                Some(v) => f(Tag::Numeric, numeric_payload(v, 0).bytes()),
            });
        }
        _ => return false,
    }
    true
}
