//! Exact decimal helpers: parsing tolerances and normalizing mantissa/scale pairs so that equal
//! numbers of any precision and scale encode to the same bytes.
//!
//! Kept instead of arrow-cast's `parse_decimal`: that one needs the target precision and scale,
//! while a tolerance's scale is whatever the text says; and normalizing is the encoding's own rule.

use arrow::datatypes::i256;

/// Powers of ten that fit an `i128`.
pub fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// Normalizes `(mantissa, scale)` to the smallest non-negative scale: `(150, 2)` → `(15, 1)`,
/// `(1500, 2)` → `(15, 0)`, `(15, -2)` → `(1500, 0)`. `None` when a negative scale overflows.
#[inline]
pub fn normalize(mantissa: i128, scale: i32) -> Option<(i128, i32)> {
    if scale < 0 {
        let m = mantissa.checked_mul(pow10(scale.unsigned_abs())?)?;
        return Some((m, 0));
    }
    if scale == 0 || mantissa == 0 {
        return Some((mantissa, 0));
    }
    // The usual money value fits an i64, where division by a constant is cheap.
    if let Ok(mut m) = i64::try_from(mantissa) {
        let mut s = scale;
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        return Some((i128::from(m), s));
    }
    let (mut m, mut s) = (mantissa, scale);
    while s > 0 && m % 10 == 0 {
        m /= 10;
        s -= 1;
    }
    Some((m, s))
}

/// The mantissa of `mantissa × 10^-scale` at scale `to`, exactly: `(15, 1)` at 3 is `1500`,
/// `(1500, 3)` at 1 is `15`, `(15, -2)` at 0 is `1500`. `None` when the number has more
/// fractional digits than `to` or its mantissa at `to` overflows an `i128`.
#[inline]
pub fn rescale(mantissa: i128, scale: i32, to: i32) -> Option<i128> {
    if mantissa == 0 {
        return Some(0);
    }
    if to >= scale {
        return mantissa.checked_mul(pow10(u32::try_from(to - scale).ok()?)?);
    }
    // Past 10^38 no nonzero `i128` is a multiple.
    let p = pow10(u32::try_from(scale - to).ok()?)?;
    (mantissa % p == 0).then_some(mantissa / p)
}

/// Parses `-12.340`, `0.01`, `5` into `(mantissa, scale)`. No exponents, no signs but a leading `-`
/// or `+`.
pub fn parse_decimal(text: &str) -> Option<(i128, i32)> {
    parse_with(
        text,
        0i128,
        |m, d| m.checked_mul(10)?.checked_add(i128::from(d)),
        i128::checked_neg,
    )
}

/// [`parse_decimal`] into an `i256` mantissa (up to 76 digits).
pub fn parse_decimal_i256(text: &str) -> Option<(i256, i32)> {
    let ten = i256::from_i128(10);
    parse_with(
        text,
        i256::ZERO,
        |m, d| {
            m.checked_mul(ten)?
                .checked_add(i256::from_i128(i128::from(d)))
        },
        i256::checked_neg,
    )
}

/// The one decimal grammar of recon ([`parse_decimal`] in `i128`, `value::Decimal::parse` in
/// `i256`): digits are folded into the mantissa with `push` (`None` on overflow), then negated
/// with `neg` when the text has a leading `-`.
pub fn parse_with<M>(
    text: &str,
    zero: M,
    push: impl Fn(M, u8) -> Option<M>,
    neg: impl Fn(M) -> Option<M>,
) -> Option<(M, i32)> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut m = zero;
    for b in int.bytes().chain(frac.bytes()) {
        m = push(m, b - b'0')?;
    }
    let m = if negative { neg(m)? } else { m };
    Some((m, i32::try_from(frac.len()).ok()?))
}

/// `|a - b| <= tol` exactly, all three as `(mantissa, scale)`. `None` when rescaling overflows.
pub fn abs_diff_within(a: (i128, i32), b: (i128, i32), tol: (i128, i32)) -> Option<bool> {
    let scale = a.1.max(b.1).max(tol.1);
    let up = |(m, s): (i128, i32)| m.checked_mul(pow10(u32::try_from(scale - s).ok()?)?);
    let diff = up(a)?.checked_sub(up(b)?)?;
    Some(diff.checked_abs()? <= up(tol)?)
}

/// The decimal as an `f64` when a float holds it exactly (`42`, `1.5`, `2^60`), else `None`
/// (`0.1`, `2^53 + 1`): an exact number equals a float only then. A float holds `m × 10^-s`
/// exactly when `5^s` divides `m` and what is left, less its factors of two, fits 53 bits.
pub fn exact_f64(mantissa: i128, scale: i32) -> Option<f64> {
    let (m, s) = normalize(mantissa, scale)?;
    let s = u32::try_from(s).ok()?;
    let mut n = m.unsigned_abs();
    if n == 0 {
        return Some(0.0);
    }
    if s > 0 {
        // Past `u128`, `5^s` divides no nonzero mantissa.
        let p = 5u128.checked_pow(s)?;
        if n % p != 0 {
            return None;
        }
        n /= p;
    }
    let shift = n.trailing_zeros();
    let odd = n >> shift;
    if odd >= 1 << f64::MANTISSA_DIGITS {
        return None;
    }
    let exp = i32::try_from(shift).ok()? - i32::try_from(s).ok()?;
    // `odd` fits 53 bits and a power of two scales it exactly.
    #[allow(clippy::cast_precision_loss)]
    let v = odd as f64 * 2f64.powi(exp);
    Some(if m < 0 { -v } else { v })
}

/// [`exact_f64`] for a mantissa of up to 76 digits (Decimal256).
pub fn exact_f64_wide(mantissa: i256, scale: i32) -> Option<f64> {
    let (ten, two) = (i256::from_i128(10), i256::from_i128(2));
    let (mut m, mut s) = (mantissa, scale);
    if s < 0 {
        m = m.checked_mul(ten.checked_pow(s.unsigned_abs())?)?;
        s = 0;
    }
    while s > 0 && m != i256::ZERO && m.wrapping_rem(ten) == i256::ZERO {
        m = m.wrapping_div(ten);
        s -= 1;
    }
    if let Some(small) = m.to_i128() {
        return exact_f64(small, s);
    }
    let mut n = m.checked_abs()?;
    if s > 0 {
        let p = i256::from_i128(5).checked_pow(u32::try_from(s).ok()?)?;
        if n.wrapping_rem(p) != i256::ZERO {
            return None;
        }
        n = n.wrapping_div(p);
    }
    // `n` is not zero: zero fits an `i128`.
    let mut shift = -s;
    while n.wrapping_rem(two) == i256::ZERO {
        n = n.wrapping_div(two);
        shift += 1;
    }
    let v = exact_f64(n.to_i128()?, 0)? * 2f64.powi(shift);
    Some(if m.is_negative() { -v } else { v })
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values on purpose
mod tests {
    use super::*;

    #[test]
    fn normalize_strips_trailing_zeros_only_down_to_scale_zero() {
        assert_eq!(normalize(150, 2), Some((15, 1)));
        assert_eq!(normalize(150_000, 5), Some((15, 1)));
        assert_eq!(normalize(1500, 0), Some((1500, 0)));
        assert_eq!(normalize(1500, 2), Some((15, 0)));
        assert_eq!(normalize(15, -2), Some((1500, 0)));
        assert_eq!(normalize(0, 7), Some((0, 0)));
        assert_eq!(normalize(i128::MAX / 10 * 10, 3).map(|x| x.1), Some(2));
    }

    #[test]
    fn rescale_is_exact_or_nothing() {
        assert_eq!(rescale(15, 1, 3), Some(1500));
        assert_eq!(rescale(1500, 3, 1), Some(15));
        assert_eq!(
            rescale(1505, 3, 1),
            None,
            "1.505 has no mantissa at scale 1"
        );
        assert_eq!(rescale(15, -2, 0), Some(1500));
        assert_eq!(rescale(-7, 0, 4), Some(-70_000));
        assert_eq!(rescale(0, -90, 38), Some(0));
        assert_eq!(rescale(0, 90, 0), Some(0));
        assert_eq!(rescale(1, 0, 38), Some(10i128.pow(38)));
        assert_eq!(rescale(2, 0, 38), None, "past i128");
        assert_eq!(rescale(1, 0, 39), None);
        assert_eq!(rescale(i128::MAX, 60, 0), None);
    }

    #[test]
    fn only_numbers_a_float_holds_exactly_have_an_f64() {
        assert_eq!(exact_f64(42, 0), Some(42.0));
        assert_eq!(exact_f64(150, 2), Some(1.5));
        assert_eq!(exact_f64(-15, 1), Some(-1.5));
        assert_eq!(exact_f64(0, 5), Some(0.0));
        assert_eq!(exact_f64(1 << 53, 0), Some(9_007_199_254_740_992.0));
        assert_eq!(exact_f64((1 << 53) + 1, 0), None);
        assert_eq!(exact_f64(1 << 100, 0), Some(2f64.powi(100)));
        assert_eq!(exact_f64(1, 1), None, "0.1");
        assert_eq!(exact_f64(5, 3), None, "0.005");
        assert_eq!(exact_f64(125, 3), Some(0.125));
        assert_eq!(exact_f64(3, -2), Some(300.0));
    }

    #[test]
    fn parse_and_compare_tolerances() {
        assert_eq!(parse_decimal("0.01"), Some((1, 2)));
        assert_eq!(parse_decimal("-12.340"), Some((-12340, 3)));
        assert_eq!(parse_decimal("5"), Some((5, 0)));
        assert_eq!(parse_decimal("1e3"), None);
        assert_eq!(parse_decimal("."), None);
        assert_eq!(abs_diff_within((1050, 3), (1060, 3), (1, 2)), Some(true));
        assert_eq!(abs_diff_within((1050, 3), (1061, 3), (1, 2)), Some(false));
        assert_eq!(abs_diff_within((1, 0), (1, 0), (0, 0)), Some(true));
    }
}
