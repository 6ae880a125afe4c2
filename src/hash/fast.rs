//! Fast paths of [`super::hash_column`] for the common fixed-width types: tight loops over the
//! value buffer that build the very same canonical payloads as the generic path (the tests hold
//! them equal), without per-value dispatch.

use arrow::array::{Array, AsArray, PrimitiveArray};
use arrow::datatypes::*;

use super::{Codec, CompareAs, Digest, Tag, TimeZone, canonical_f64_bits};

/// `(mantissa, scale)` with trailing zeros stripped, in `i64` (as `decimal::normalize`).
#[inline]
fn normalize_i64(mut m: i64, mut s: u8) -> (i64, u8) {
    if m == 0 {
        return (0, 0);
    }
    while s > 0 && m % 10 == 0 {
        m /= 10;
        s -= 1;
    }
    (m, s)
}

fn run<T, D, F>(arr: &PrimitiveArray<T>, out: &mut Vec<D>, mut digest: F)
where
    T: ArrowPrimitiveType,
    D: Digest,
    F: FnMut(T::Native) -> D,
{
    let values = arr.values();
    out.reserve(values.len());
    match arr.nulls().filter(|n| n.null_count() > 0) {
        None => out.extend(values.iter().map(|&v| digest(v))),
        Some(nulls) => {
            let null = D::null();
            out.extend(
                values.iter().enumerate().map(
                    |(i, &v)| {
                        if nulls.is_null(i) { null } else { digest(v) }
                    },
                ),
            );
        }
    }
}

/// Digests of a column whose numbers are carried to a fixed scale: each value narrowed to an
/// `i64` by `narrow` (`true` when it does not fit) and multiplied by `factor` (`10^(S - s)`),
/// checked. One loop without a branch on the data: a value that does not fit only raises a flag,
/// checked after it. `false` when one did not: the generic path then encodes the column in
/// `i128` (and a number that overflows there too as the overflow rule says).
fn run_fixed<T, D, N>(
    arr: &PrimitiveArray<T>,
    out: &mut Vec<D>,
    factor: i64,
    fixed: u8,
    narrow: N,
) -> bool
where
    T: ArrowPrimitiveType,
    D: Digest,
    N: Fn(T::Native) -> (i64, bool),
{
    let mut bad = false;
    run(arr, out, |v| {
        let (m, wide) = narrow(v);
        let (m, over) = m.overflowing_mul(factor);
        bad |= wide | over;
        num::<D>(m, fixed)
    });
    !bad
}

/// [`run_fixed`] for the integer types and Decimal128 of up to 18 digits at the fixed scale
/// `fixed`; `None` for any other type, `Some(false)` when a value needs the generic path.
fn fixed<D: Digest>(array: &dyn Array, fixed: u8, out: &mut Vec<D>) -> Option<bool> {
    let dt = array.data_type();
    let own = match dt {
        DataType::Decimal128(p, s) if *p <= 18 => *s,
        _ if super::is_integer(dt) && *dt != DataType::UInt64 => 0,
        _ => return None,
    };
    // A scale above the pair's (never planned) or a factor past an i64: the generic path.
    let exp = i32::from(fixed) - i32::from(own);
    let Some(factor) = u32::try_from(exp).ok().and_then(|e| 10i64.checked_pow(e)) else {
        return Some(false);
    };
    macro_rules! int {
        ($t:ty) => {
            run_fixed(array.as_primitive::<$t>(), out, factor, fixed, |v| {
                (i64::from(v), false)
            })
        };
    }
    Some(match dt {
        DataType::Int64 => int!(Int64Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int8 => int!(Int8Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt8 => int!(UInt8Type),
        // Precision 18 fits an i64; a value that does not (invalid data) takes the generic path.
        #[allow(clippy::cast_possible_truncation)]
        _ => run_fixed(
            array.as_primitive::<Decimal128Type>(),
            out,
            factor,
            fixed,
            |v| (v as i64, i128::from(v as i64) != v),
        ),
    })
}

/// [`digests`] for [`CompareAs::Numeric`].
fn numeric<D: Digest>(array: &dyn Array, fixed_scale: Option<u8>, out: &mut Vec<D>) -> bool {
    match (fixed_scale, array.data_type()) {
        (None, DataType::Decimal128(p, s)) if *p <= 18 && *s >= 0 => {
            let arr = array.as_primitive::<Decimal128Type>();
            // Precision 18 fits an i64; a value that does not (invalid data) takes the generic path.
            if arr.values().iter().any(|v| i64::try_from(*v).is_err()) {
                return false;
            }
            let scale = s.unsigned_abs();
            run(arr, out, |v| {
                let (m, s) = normalize_i64(i64::try_from(v).unwrap_or_default(), scale);
                num(m, s)
            });
            true
        }
        // Integers need no normalizing: normalized, they are at scale 0.
        (scale, _) => match fixed(array, scale.unwrap_or(0), out) {
            Some(true) => true,
            Some(false) => {
                out.clear();
                false
            }
            None => false,
        },
    }
}

/// The digest of an integer with scale `scale` (payload `[scale][i64 LE]`, see `NumPayload`).
#[inline(always)]
fn num<D: Digest>(v: i64, scale: u8) -> D {
    D::of_first_word(Tag::Numeric, scale, v.cast_unsigned())
}

/// Digests `array` into `out` when a fast path applies; `false` when it does not.
pub(super) fn digests<D: Digest>(array: &dyn Array, codec: &Codec, out: &mut Vec<D>) -> bool {
    use CompareAs as M;
    use DataType as T;
    let dt = array.data_type();
    if codec.mode == M::Numeric {
        return numeric(array, codec.fixed_scale, out);
    }
    match (codec.mode, dt) {
        (M::Bool, T::Boolean) => {
            // Two values: their digests once, then a pick per row.
            let arr = array.as_boolean();
            let (f, t) = (D::of(Tag::Bool, &[0]), D::of(Tag::Bool, &[1]));
            out.reserve(arr.len());
            match arr.nulls().filter(|n| n.null_count() > 0) {
                None => out.extend(arr.values().iter().map(|v| if v { t } else { f })),
                Some(nulls) => {
                    let null = D::null();
                    out.extend(arr.values().iter().enumerate().map(|(i, v)| {
                        if nulls.is_null(i) {
                            null
                        } else if v {
                            t
                        } else {
                            f
                        }
                    }));
                }
            }
        }
        (M::Float, T::Float64) => run(array.as_primitive::<Float64Type>(), out, |v| {
            D::of_word(Tag::Float, canonical_f64_bits(v))
        }),
        (M::Float, T::Float32) => run(array.as_primitive::<Float32Type>(), out, |v| {
            D::of_word(Tag::Float, canonical_f64_bits(f64::from(v)))
        }),
        (M::Date, T::Date32) => run(array.as_primitive::<Date32Type>(), out, |v| {
            D::of_word(Tag::Date, i64::from(v).cast_unsigned())
        }),
        (M::Timestamp, T::Timestamp(unit, tz)) if tz.is_some() || codec.zone == TimeZone::Utc => {
            let per: i64 = match unit {
                TimeUnit::Second => 1_000_000_000,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            };
            let instant = move |v: i64| match v.checked_mul(per) {
                Some(n) => D::of_word(Tag::Timestamp, n.cast_unsigned()),
                None => D::of(
                    Tag::Timestamp,
                    &(i128::from(v) * i128::from(per)).to_le_bytes(),
                ),
            };
            match unit {
                TimeUnit::Second => run(array.as_primitive::<TimestampSecondType>(), out, instant),
                TimeUnit::Millisecond => run(
                    array.as_primitive::<TimestampMillisecondType>(),
                    out,
                    instant,
                ),
                TimeUnit::Microsecond => run(
                    array.as_primitive::<TimestampMicrosecondType>(),
                    out,
                    instant,
                ),
                TimeUnit::Nanosecond => run(
                    array.as_primitive::<TimestampNanosecondType>(),
                    out,
                    instant,
                ),
            }
        }
        _ => return false,
    }
    true
}
