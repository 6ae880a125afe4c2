//! The canonical payloads of single values: numbers as `(scale, mantissa)` at a column pair's
//! fixed scale or normalized,
//! instants as UTC nanoseconds, floats with one NaN and no negative zero, strings after the
//! column's text options. Each logical value has exactly one payload.

use arrow::datatypes::i256;
use unicode_normalization::UnicodeNormalization;

use super::{EncodeError, Tag, TextOpts, decimal};

/// The payload of an already normalized number: `[scale][mantissa as i64 LE]` when the mantissa
/// fits 64 bits, else `[scale][mantissa as i128 LE]`. Each number has exactly one form, and short
/// inputs take xxh3's fastest path.
#[derive(Clone, Copy)]
pub struct NumPayload {
    buf: [u8; 17],
    len: u8,
}

impl NumPayload {
    /// The payload bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

#[inline]
pub(super) fn numeric_payload(mantissa: i128, scale: u8) -> NumPayload {
    let mut buf = [0u8; 17];
    buf[0] = scale;
    if let Ok(small) = i64::try_from(mantissa) {
        buf[1..9].copy_from_slice(&small.to_le_bytes());
        NumPayload { buf, len: 9 }
    } else {
        buf[1..].copy_from_slice(&mantissa.to_le_bytes());
        NumPayload { buf, len: 17 }
    }
}

/// The payload of an instant in UTC nanoseconds: 8 bytes when it fits an `i64`, else 16.
#[inline]
pub(super) fn instant_payload(nanos: i128, f: &mut (impl FnMut(Tag, &[u8]) + ?Sized)) {
    match i64::try_from(nanos) {
        Ok(n) => f(Tag::Timestamp, &n.to_le_bytes()),
        Err(_) => f(Tag::Timestamp, &nanos.to_le_bytes()),
    }
}

#[inline]
pub(super) fn numeric<F: FnMut(Tag, &[u8]) + ?Sized>(
    mantissa: i128,
    scale: i8,
    f: &mut F,
) -> Result<(), EncodeError> {
    // The message names no value: values never reach an error message.
    let (m, s) = decimal::normalize(mantissa, i32::from(scale))
        .ok_or(EncodeError::Overflow { digits: 38 })?;
    let s = u8::try_from(s).map_err(|_| EncodeError::Scale)?;
    f(Tag::Numeric, numeric_payload(m, s).bytes());
    Ok(())
}

/// The payload of a number `mantissa × 10^-scale`: with a fixed scale `fixed` (the column
/// pair's, the larger declared scale of its two sides, see [`super::Codec::fixed_scale`])
/// `[fixed][mantissa at fixed]`, else normalized ([`numeric`]).
///
/// A number without a mantissa at `fixed` in an `i128` keeps its normalized payload. That
/// payload's scale byte is never `fixed`: were it, its mantissa would be the one at `fixed`, and
/// that fits. So it never equals a carried number's payload, and it needs not: such a number
/// equals no value of the other side. Its mantissa overflows at `fixed` (it is larger than every
/// number the side with the scale `fixed` can hold, whose mantissas are at most 38 digits), or
/// it has more fractional digits than `fixed` (only a type whose scale exceeds the pair's has
/// those). Two such numbers still compare by value: normalized payloads are equal exactly when
/// the numbers are.
#[inline]
pub(super) fn numeric_at<F: FnMut(Tag, &[u8]) + ?Sized>(
    mantissa: i128,
    scale: i8,
    fixed: Option<u8>,
    f: &mut F,
) -> Result<(), EncodeError> {
    if let Some(fixed) = fixed
        && let Some(m) = decimal::rescale(mantissa, i32::from(scale), i32::from(fixed))
    {
        f(Tag::Numeric, numeric_payload(m, fixed).bytes());
        return Ok(());
    }
    numeric(mantissa, scale, f)
}

/// A Decimal256 value: the payload of [`numeric`] when the normalized mantissa fits an `i128`
/// (so it equals the same number of any other width), else `[scale][mantissa as i256 LE]`.
pub(super) fn numeric256<F: FnMut(Tag, &[u8]) + ?Sized>(
    mantissa: i256,
    scale: i8,
    f: &mut F,
) -> Result<(), EncodeError> {
    let ten = i256::from_i128(10);
    let (mut m, mut s) = (mantissa, i32::from(scale));
    if s < 0 {
        m = m
            .checked_mul(
                ten.checked_pow(s.unsigned_abs())
                    .ok_or(EncodeError::Scale)?,
            )
            .ok_or(EncodeError::Overflow { digits: 76 })?;
        s = 0;
    }
    while s > 0 && m != i256::ZERO && m.wrapping_rem(ten) == i256::ZERO {
        m = m.wrapping_div(ten);
        s -= 1;
    }
    if m == i256::ZERO {
        s = 0;
    }
    let s = u8::try_from(s).map_err(|_| EncodeError::Scale)?;
    if let Some(small) = m.to_i128() {
        f(Tag::Numeric, numeric_payload(small, s).bytes());
    } else {
        let mut buf = [0u8; 33];
        buf[0] = s;
        buf[1..].copy_from_slice(&m.to_le_bytes());
        f(Tag::Numeric, &buf);
    }
    Ok(())
}

/// The canonical bits of a float: one NaN, and `-0.0` as `0.0`.
#[inline]
pub fn canonical_f64_bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

#[inline]
pub(super) fn float<F: FnMut(Tag, &[u8]) + ?Sized>(v: f64, f: &mut F) {
    f(Tag::Float, &canonical_f64_bits(v).to_le_bytes());
}

#[inline]
pub(super) fn text<F: FnMut(Tag, &[u8]) + ?Sized>(v: &str, o: TextOpts, f: &mut F) {
    if o.is_plain() {
        return f(Tag::Text, v.as_bytes());
    }
    let mut s: std::borrow::Cow<'_, str> = if o.trim {
        v.trim().into()
    } else if o.trim_end {
        v.trim_end().into()
    } else {
        v.into()
    };
    if o.case_insensitive {
        s = s.to_lowercase().into();
    }
    if o.nfc {
        s = s.nfc().collect::<String>().into();
    }
    if o.json
        && let Some(c) = super::json::canonical(&s)
    {
        s = c.into();
    }
    f(Tag::Text, s.as_bytes());
}
