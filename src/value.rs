//! The one value model: what "equal" means, for the row engine and for the SQL checks alike.
//!
//! A value becomes a [`Cell`]: the `(tag, payload)` of the canonical encoding in [`crate::hash`],
//! computed under the column's [`Codec`] (so timestamps are instants in the pair's zone, strings
//! carry the pair's text options, an integer against a float equals it only when the float holds
//! it exactly, ...). Two cells
//! are equal exactly when the engine's row hash treats the values as equal, and cells order and
//! hash, so they serve as map keys for check groups, golden keys and orphan references.
//!
//! Numbers compared with a tolerance go through [`within`], which the engine's tolerance columns
//! use too: decimals exactly (up to 76 digits, [`Decimal`]), floats through their shortest
//! decimal form, so that `1.01` against `1.0` within `0.01` is equal, as a person reads it.

use std::cmp::Ordering;
use std::fmt;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type, Float16Type,
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type, i256,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::{EncodeError, ValueError};
use crate::hash::{self, Codec, Tag};

/// An exact decimal number: `mantissa × 10^-scale`, up to 76 digits.
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    mantissa: i256,
    scale: u8,
}

/// The largest scale a [`Decimal`] carries (Decimal256's).
const MAX_SCALE: u32 = 76;

fn pow10(exp: u32) -> Option<i256> {
    i256::from_i128(10).checked_pow(exp)
}

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal {
        mantissa: i256::ZERO,
        scale: 0,
    };

    /// `mantissa × 10^-scale`; a negative scale multiplies. `None` past 76 digits of scale or
    /// when the mantissa overflows.
    pub fn new(mantissa: i256, scale: i32) -> Option<Self> {
        if scale < 0 {
            let m = mantissa.checked_mul(pow10(scale.unsigned_abs())?)?;
            return Some(Self {
                mantissa: m,
                scale: 0,
            });
        }
        let s = u32::try_from(scale).ok().filter(|s| *s <= MAX_SCALE)?;
        Some(Self {
            mantissa,
            scale: u8::try_from(s).ok()?,
        })
    }

    /// Parses `-12.340`, `0.01`, `5` (no exponent), by recon's one decimal grammar.
    pub fn parse(text: &str) -> Option<Self> {
        let (m, s) = crate::decimal::parse_decimal_i256(text)?;
        Self::new(m, s)
    }

    /// The exact decimal value of a finite float: its shortest round-trip form, which is what a
    /// person reads (`0.1`, not `0.1000000000000000055511151231257827`).
    pub fn from_f64(v: f64) -> Option<Self> {
        if !v.is_finite() {
            return None;
        }
        // `Display` for f64 prints the shortest round-trip digits and never an exponent.
        Self::parse(&format!("{v}"))
    }

    /// The mantissa and scale.
    pub fn parts(self) -> (i256, u8) {
        (self.mantissa, self.scale)
    }

    /// The same number with the smallest scale (trailing zeros removed).
    #[must_use]
    pub fn normalized(self) -> Self {
        let ten = i256::from_i128(10);
        let (mut m, mut s) = (self.mantissa, self.scale);
        while s > 0 && m != i256::ZERO && m.wrapping_rem(ten) == i256::ZERO {
            m = m.wrapping_div(ten);
            s -= 1;
        }
        if m == i256::ZERO {
            s = 0;
        }
        Self {
            mantissa: m,
            scale: s,
        }
    }

    /// The mantissa at a larger scale, if it fits.
    fn at_scale(self, scale: u8) -> Option<i256> {
        self.mantissa
            .checked_mul(pow10(u32::from(scale.checked_sub(self.scale)?))?)
    }

    /// `self + other`, exactly; `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        let s = self.scale.max(other.scale);
        Some(Self {
            mantissa: self.at_scale(s)?.checked_add(other.at_scale(s)?)?,
            scale: s,
        })
    }

    /// `self - other`, exactly; `None` on overflow.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        let s = self.scale.max(other.scale);
        Some(Self {
            mantissa: self.at_scale(s)?.checked_sub(other.at_scale(s)?)?,
            scale: s,
        })
    }

    /// `|self|`; `None` for the one mantissa without a positive counterpart.
    pub fn checked_abs(self) -> Option<Self> {
        Some(Self {
            mantissa: self.mantissa.checked_abs()?,
            scale: self.scale,
        })
    }

    /// Whether the number has no fractional part.
    pub fn is_integer(self) -> bool {
        self.normalized().scale == 0
    }

    /// The number as an `f64` when a float holds it exactly, else `None` (see
    /// [`crate::decimal::exact_f64_wide`]).
    pub fn exact_f64(self) -> Option<f64> {
        crate::decimal::exact_f64_wide(self.mantissa, i32::from(self.scale))
    }

    /// The number as an `f64`, correctly rounded (through its text form).
    pub fn to_f64(self) -> f64 {
        format!("{}e{}", self.mantissa, -i32::from(self.scale))
            .parse()
            .unwrap_or(f64::NAN)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let s = self.scale.max(other.scale);
        match (self.at_scale(s), other.at_scale(s)) {
            (Some(a), Some(b)) => a.cmp(&b),
            // Only the side that was scaled up can overflow, and then its magnitude is larger.
            (None, _) => self.mantissa.cmp(&i256::ZERO),
            (_, None) => i256::ZERO.cmp(&other.mantissa),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.mantissa.is_negative();
        let digits = match self.mantissa.checked_abs() {
            Some(m) => m.to_string(),
            None => self.mantissa.to_string().trim_start_matches('-').to_owned(),
        };
        let sign = if neg { "-" } else { "" };
        let s = usize::from(self.scale);
        if s == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = if digits.len() <= s {
            format!("{}{digits}", "0".repeat(s + 1 - digits.len()))
        } else {
            digits
        };
        let (int, frac) = padded.split_at(padded.len() - s);
        write!(f, "{sign}{int}.{frac}")
    }
}

/// A number as read from data: exact (integers and decimals) or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// Integers and decimals, exactly.
    Exact(Decimal),
    /// A float (`f32` widened).
    Float(f64),
}

impl Number {
    /// The exact value: a decimal as it is, a finite float through its shortest form.
    pub fn exact(self) -> Option<Decimal> {
        match self {
            Number::Exact(d) => Some(d),
            Number::Float(f) => Decimal::from_f64(f),
        }
    }

    /// The number as an `f64`.
    pub fn to_f64(self) -> f64 {
        match self {
            Number::Exact(d) => d.to_f64(),
            Number::Float(f) => f,
        }
    }
}

/// Exact numbers show without trailing zeros (`1.50` and `1.5000` both read `1.5`), so equal
/// values read the same on both sides of a report.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Exact(d) => d.normalized().fmt(f),
            Number::Float(v) => v.fmt(f),
        }
    }
}

/// A tolerance for numbers compared by value: absolute (in the column's units, exact) and
/// relative (a fraction of the larger magnitude). Either one is enough. Resolved from the
/// configuration's [`crate::config::ToleranceSetting`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// The absolute tolerance.
    pub abs: Decimal,
    /// The relative tolerance (0 for none).
    pub rel: f64,
}

impl Tolerance {
    /// No tolerance: equal means equal.
    pub const NONE: Tolerance = Tolerance {
        abs: Decimal::ZERO,
        rel: 0.0,
    };
}

/// Whether two numbers are equal within `tol`. NaN equals NaN and nothing else; infinities
/// equal themselves; everything finite compares by exact difference.
pub fn within(a: Number, b: Number, tol: Tolerance) -> bool {
    if let (Number::Float(x), Number::Float(y)) = (a, b)
        && (x.is_nan() || y.is_nan() || x.is_infinite() || y.is_infinite())
    {
        // Infinities are equal only to themselves: an exact comparison on purpose.
        #[allow(clippy::float_cmp)]
        let same = x == y;
        return (x.is_nan() && y.is_nan()) || same;
    }
    if tol == Tolerance::NONE {
        // Without a tolerance, an exact number equals a float only when the float holds it
        // exactly, as in the row hash (`0.1` against the double nearest to it differs).
        match (a, b) {
            (Number::Exact(x), Number::Float(y)) | (Number::Float(y), Number::Exact(x)) => {
                // The float holds the very same number: an exact comparison on purpose.
                #[allow(clippy::float_cmp)]
                return x.exact_f64().is_some_and(|v| v == y);
            }
            _ => {}
        }
    }
    let (Some(x), Some(y)) = (a.exact(), b.exact()) else {
        // A NaN or an infinity against a number.
        return false;
    };
    if x == y {
        return true;
    }
    let abs_ok = x
        .checked_sub(y)
        .and_then(Decimal::checked_abs)
        .is_some_and(|d| d <= tol.abs);
    abs_ok || (tol.rel > 0.0 && rel_within(x.to_f64(), y.to_f64(), tol.rel))
}

fn rel_within(x: f64, y: f64, rel: f64) -> bool {
    (x - y).abs() <= rel * x.abs().max(y.abs())
}

fn int(v: impl Into<i128>) -> i256 {
    i256::from_i128(v.into())
}

/// The number at `row` of a numeric array: integers and decimals exactly, floats as floats,
/// `None` for NULL. Any other type is an error naming it.
pub fn number_at(array: &dyn Array, row: usize) -> Result<Option<Number>, ValueError> {
    if array.is_null(row) {
        return Ok(None);
    }
    let exact = |m: i256, s: i8| {
        Decimal::new(m, i32::from(s))
            .map(|d| Some(Number::Exact(d)))
            .ok_or(ValueError::TooWide)
    };
    match array.data_type() {
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let key = dict
                .normalized_keys()
                .get(row)
                .copied()
                .ok_or(ValueError::DictionaryKey)?;
            number_at(dict.values().as_ref(), key)
        }
        DataType::Int8 => exact(int(array.as_primitive::<Int8Type>().value(row)), 0),
        DataType::Int16 => exact(int(array.as_primitive::<Int16Type>().value(row)), 0),
        DataType::Int32 => exact(int(array.as_primitive::<Int32Type>().value(row)), 0),
        DataType::Int64 => exact(int(array.as_primitive::<Int64Type>().value(row)), 0),
        DataType::UInt8 => exact(int(array.as_primitive::<UInt8Type>().value(row)), 0),
        DataType::UInt16 => exact(int(array.as_primitive::<UInt16Type>().value(row)), 0),
        DataType::UInt32 => exact(int(array.as_primitive::<UInt32Type>().value(row)), 0),
        DataType::UInt64 => exact(int(array.as_primitive::<UInt64Type>().value(row)), 0),
        DataType::Decimal32(_, s) => exact(
            i256::from_i128(i128::from(array.as_primitive::<Decimal32Type>().value(row))),
            *s,
        ),
        DataType::Decimal64(_, s) => exact(
            i256::from_i128(i128::from(array.as_primitive::<Decimal64Type>().value(row))),
            *s,
        ),
        DataType::Decimal128(_, s) => exact(
            i256::from_i128(array.as_primitive::<Decimal128Type>().value(row)),
            *s,
        ),
        DataType::Decimal256(_, s) => exact(array.as_primitive::<Decimal256Type>().value(row), *s),
        DataType::Float16 => Ok(Some(Number::Float(f64::from(
            array.as_primitive::<Float16Type>().value(row).to_f32(),
        )))),
        DataType::Float32 => Ok(Some(Number::Float(f64::from(
            array.as_primitive::<Float32Type>().value(row),
        )))),
        DataType::Float64 => Ok(Some(Number::Float(
            array.as_primitive::<Float64Type>().value(row),
        ))),
        other => Err(ValueError::NotANumber(other.clone())),
    }
}

/// A value in canonical form: equal exactly when the row engine treats the values as equal
/// under the column's [`Codec`]. Orders and hashes, so it can be a map key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    tag: u8,
    payload: Box<[u8]>,
}

impl Cell {
    /// Every value of a column, under `codec`.
    pub fn column(array: &dyn Array, codec: &Codec) -> Result<Vec<Cell>, EncodeError> {
        let mut out = Vec::with_capacity(array.len());
        hash::visit_cast(array, codec, &mut |tag, payload| {
            out.push(Cell {
                tag: tag as u8,
                payload: payload.into(),
            });
        })?;
        Ok(out)
    }

    /// The number this cell holds, if it is one.
    pub fn number(&self) -> Option<Number> {
        number_of(self.tag, &self.payload)
    }
}

/// The number a canonical `(tag, payload)` stands for (numbers and floats only).
pub fn number_of(tag: u8, payload: &[u8]) -> Option<Number> {
    if tag == Tag::Numeric as u8 {
        let (m, s) = hash::numeric_from_payload(payload)?;
        return Decimal::new(m, i32::from(s)).map(Number::Exact);
    }
    if tag == Tag::Float as u8 {
        let bits: [u8; 8] = payload.get(..8)?.try_into().ok()?;
        return Some(Number::Float(f64::from_bits(u64::from_le_bytes(bits))));
    }
    None
}

/// Whether two cells are equal, numbers within `tol`.
pub fn cells_within(a: &Cell, b: &Cell, tol: Tolerance) -> bool {
    if a == b {
        return true;
    }
    match (a.number(), b.number()) {
        (Some(x), Some(y)) => within(x, y, tol),
        _ => false,
    }
}

/// How values read, in reports, diff files and history: one function for every output.
///
/// A single value as report JSON: NULL as `null`, anything else as its display text (exact for
/// decimals and timestamps, unlike JSON numbers).
pub fn render(array: &dyn Array, row: usize) -> serde_json::Value {
    // A Null-typed array has no validity buffer: `is_null` alone says its rows are values.
    if array.is_null(row) || *array.data_type() == DataType::Null {
        return serde_json::Value::Null;
    }
    let options = FormatOptions::default();
    match ArrayFormatter::try_new(array, &options) {
        Ok(f) => serde_json::Value::String(f.value(row).to_string()),
        Err(e) => serde_json::Value::String(format!("<unprintable: {e}>")),
    }
}

/// Two values that differ, as report JSON ([`render`]), such that they read differently: a
/// float whose shortest form reads like the other side (`0.1` as `f32` against `0.1` as `f64`,
/// or a decimal `0.10` against the double nearest to it) shows 17 significant digits, which
/// tell any two doubles apart.
pub fn render_pair(
    legacy: &dyn Array,
    legacy_row: usize,
    target: &dyn Array,
    target_row: usize,
) -> (serde_json::Value, serde_json::Value) {
    let (l, t) = (render(legacy, legacy_row), render(target, target_row));
    let (Some(ls), Some(ts)) = (l.as_str(), t.as_str()) else {
        return (l, t);
    };
    let same = ls == ts
        || matches!((Decimal::parse(ls), Decimal::parse(ts)), (Some(a), Some(b)) if a == b);
    if !same {
        return (l, t);
    }
    let digits =
        |array: &dyn Array, row: usize, shown: serde_json::Value| match number_at(array, row) {
            Ok(Some(Number::Float(v))) if v.is_finite() => {
                serde_json::Value::String(float_digits(v))
            }
            _ => shown,
        };
    (digits(legacy, legacy_row, l), digits(target, target_row, t))
}

/// A finite float with 17 significant digits, positional where it fits 76 decimal places
/// (`0.10000000149011612` for `0.1f32`, `0.10000000000000001` for `0.1f64`).
fn float_digits(v: f64) -> String {
    let sci = format!("{v:.16e}");
    let positional = sci.split_once('e').and_then(|(m, e)| {
        let exp: i32 = e.parse().ok()?;
        let (mantissa, _) = Decimal::parse(&m.replace('.', ""))?.parts();
        Decimal::new(mantissa, 16 - exp).map(|d| d.normalized().to_string())
    });
    positional.unwrap_or(sci)
}

/// How a value reads in a report (`None` for NULL); integers and decimals without trailing
/// zeros, so that equal numbers of different scales read the same.
pub fn shown(array: &dyn Array, row: usize) -> Option<String> {
    if let Ok(Some(n @ Number::Exact(_))) = number_at(array, row) {
        return Some(n.to_string());
    }
    match render(array, row) {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).expect("decimal")
    }

    #[test]
    fn decimals_compare_by_value_whatever_the_scale() {
        assert_eq!(d("1.50"), d("1.5"));
        assert!(d("1.05") < d("1.5"));
        assert!(d("-2") < d("-1.999"));
        assert_eq!(d("0.000").to_string(), "0.000");
        assert_eq!(d("-0.005").to_string(), "-0.005");
        assert_eq!(d("1200").normalized().to_string(), "1200");
        assert_eq!(d("1.2300").normalized().to_string(), "1.23");
        assert!(d("1.70").normalized().scale == 2 - 1);
        assert!(!d("1.70").is_integer());
        assert!(d("3.000").is_integer());
    }

    #[test]
    fn sums_past_i128_stay_exact() {
        let big = d("99999999999999999999999999999999999999");
        let sum = big.checked_add(big).expect("fits 76 digits");
        assert_eq!(sum.to_string(), "199999999999999999999999999999999999998");
    }

    #[test]
    fn float_tolerance_reads_the_decimal_a_person_reads() {
        let tol = Tolerance {
            abs: d("0.01"),
            rel: 0.0,
        };
        assert!(within(Number::Float(1.0), Number::Float(1.01), tol));
        assert!(!within(Number::Float(1.0), Number::Float(1.0101), tol));
        assert!(within(
            Number::Float(f64::NAN),
            Number::Float(f64::NAN),
            tol
        ));
        assert!(!within(Number::Float(f64::NAN), Number::Float(1.0), tol));
        assert!(!within(
            Number::Exact(d("1")),
            Number::Float(f64::INFINITY),
            tol
        ));
        assert!(within(
            Number::Exact(d("1.005")),
            Number::Float(1.0),
            Tolerance {
                abs: d("0.005"),
                rel: 0.0
            }
        ));
    }

    #[test]
    #[allow(clippy::float_cmp)] // exact values on purpose
    fn an_exact_number_equals_a_float_only_when_the_float_holds_it() {
        assert_eq!(d("1.50").exact_f64(), Some(1.5));
        assert_eq!(d("0.1").exact_f64(), None);
        assert_eq!(d("9007199254740993").exact_f64(), None);
        let two_200 = Decimal::new(
            i256::from_i128(1 << 100).wrapping_mul(i256::from_i128(1 << 100)),
            0,
        )
        .expect("2^200");
        assert_eq!(two_200.exact_f64(), Some(2f64.powi(200)));
        let three_over_2_76 = Decimal::new(
            i256::from_i128(3).wrapping_mul(i256::from_i128(5).checked_pow(76).expect("5^76")),
            76,
        )
        .expect("3 / 2^76");
        assert_eq!(three_over_2_76.exact_f64(), Some(3.0 * 2f64.powi(-76)));
        let none = Tolerance::NONE;
        assert!(!within(Number::Exact(d("0.1")), Number::Float(0.1), none));
        assert!(within(Number::Float(42.0), Number::Exact(d("42")), none));
        assert!(!within(
            Number::Exact(d("9007199254740993")),
            Number::Float(9_007_199_254_740_992.0),
            none
        ));
    }

    #[test]
    fn floats_that_read_alike_show_the_digits_that_differ() {
        use arrow::array::{Float32Array, Float64Array};
        let (l, t) = render_pair(
            &Float32Array::from(vec![0.1f32]),
            0,
            &Float64Array::from(vec![0.1]),
            0,
        );
        assert_eq!(l, "0.10000000149011612");
        assert_eq!(t, "0.10000000000000001");
        let (l, t) = render_pair(
            &Float64Array::from(vec![1.5]),
            0,
            &Float64Array::from(vec![2.5]),
            0,
        );
        assert_eq!((l, t), ("1.5".into(), "2.5".into()));
        assert_eq!(float_digits(1e300), "1.0000000000000001e300");
    }

    #[test]
    fn no_tolerance_means_exact() {
        assert!(!within(
            Number::Exact(d("350.5")),
            Number::Exact(d("350.501")),
            Tolerance::NONE
        ));
        assert!(within(
            Number::Exact(d("350.50")),
            Number::Exact(d("350.5")),
            Tolerance::NONE
        ));
    }
}
