//! Drift explained: why a changed cell differs, in classes a migration engineer can act on —
//! white space, case, Unicode normalization, mojibake (UTF-8 read as Latin-1/Windows-1252),
//! truncation, numeric rounding, a time-zone shift, NULL vs empty string, or something else.

use arrow::array::Array;
use unicode_normalization::UnicodeNormalization;

use crate::hash::{self, Codec, CompareAs, Tag};

/// Why a value differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// One side is NULL, the other an empty string.
    NullVsEmpty,
    /// Only white space differs.
    Whitespace,
    /// Only letter case differs.
    Case,
    /// The texts are equal after NFC normalization (NFC vs NFD).
    UnicodeNormalization,
    /// One text is the other's UTF-8 bytes decoded as Latin-1 or Windows-1252.
    Mojibake,
    /// One text is a prefix of the other (a column too short).
    Truncation,
    /// The numbers differ by less than the smaller scale's unit.
    Rounding,
    /// The instants differ by a whole number of hours or half hours.
    TimezoneShift,
    /// Anything else.
    Other,
}

impl Class {
    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::NullVsEmpty => "null_vs_empty",
            Class::Whitespace => "whitespace",
            Class::Case => "case",
            Class::UnicodeNormalization => "unicode_normalization",
            Class::Mojibake => "mojibake",
            Class::Truncation => "truncation",
            Class::Rounding => "rounding",
            Class::TimezoneShift => "timezone_shift",
            Class::Other => "other",
        }
    }
}

/// The canonical payload of a one-row array (`None` for NULL).
fn payload(array: &dyn Array, codec: &Codec) -> Option<(Tag, Vec<u8>)> {
    if array.is_null(0) {
        return None;
    }
    let mut out = None;
    hash::visit_cast(array, codec, &mut |tag, bytes| {
        if out.is_none() {
            out = Some((tag, bytes.to_vec()));
        }
    })
    .ok()?;
    out.filter(|(tag, _)| *tag != Tag::Null)
}

fn declared_scale(array: &dyn Array) -> i32 {
    i32::from(hash::decimal_scale(array.data_type()))
}

fn int(bytes: &[u8]) -> Option<i128> {
    match bytes.len() {
        8 => Some(i128::from(i64::from_le_bytes(bytes.try_into().ok()?))),
        16 => Some(i128::from_le_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

fn numeric(bytes: &[u8]) -> Option<(i128, i32)> {
    let (&scale, m) = bytes.split_first()?;
    Some((int(m)?, i32::from(scale)))
}

/// Classifies one changed cell from its two one-row arrays.
pub fn classify(legacy: &dyn Array, target: &dyn Array, codec: &Codec) -> Class {
    let (l, t) = (payload(legacy, codec), payload(target, codec));
    let text = |p: &Option<(Tag, Vec<u8>)>| {
        p.as_ref()
            .and_then(|(_, b)| std::str::from_utf8(b).ok())
            .map(str::to_owned)
    };
    match codec.mode {
        CompareAs::Text(_) => match (text(&l), text(&t)) {
            (None, Some(s)) | (Some(s), None) if s.is_empty() => Class::NullVsEmpty,
            (Some(a), Some(b)) => classify_text(&a, &b),
            _ => Class::Other,
        },
        CompareAs::Numeric => match (l, t) {
            (Some((_, a)), Some((_, b))) => match (numeric(&a), numeric(&b)) {
                // The declared scales, not the normalized ones: 1.50 in DECIMAL(12,2) has scale 2.
                (Some(x), Some(y)) if declared_scale(legacy) != declared_scale(target) => {
                    let unit = (1, declared_scale(legacy).min(declared_scale(target)));
                    // Strictly below one unit of the coarser side.
                    let within = crate::hash::decimal::abs_diff_within(x, y, unit).unwrap_or(false);
                    let equal_unit =
                        crate::hash::decimal::abs_diff_within(x, y, (0, 0)).unwrap_or(false);
                    // Checked: payloads at a pair's fixed scale carry up to 38 digits.
                    let exactly_unit = (|| {
                        let s = x.1.max(y.1).max(unit.1);
                        let up = |(m, sc): (i128, i32)| {
                            m.checked_mul(crate::hash::decimal::pow10(u32::try_from(s - sc).ok()?)?)
                        };
                        let unit_up = crate::hash::decimal::pow10(u32::try_from(s - unit.1).ok()?)?;
                        Some(up(x)?.checked_sub(up(y)?)?.checked_abs()? == unit_up)
                    })()
                    .unwrap_or(false);
                    if within && !equal_unit && !exactly_unit {
                        Class::Rounding
                    } else {
                        Class::Other
                    }
                }
                _ => Class::Other,
            },
            _ => Class::Other,
        },
        CompareAs::Timestamp => match (l, t) {
            (Some((_, a)), Some((_, b))) => match (int(&a), int(&b)) {
                (Some(x), Some(y)) => {
                    let d = (x - y).abs();
                    let half_hour = 1_800_000_000_000i128;
                    if d != 0 && d % half_hour == 0 && d <= 28 * half_hour {
                        Class::TimezoneShift
                    } else {
                        Class::Other
                    }
                }
                _ => Class::Other,
            },
            _ => Class::Other,
        },
        _ => Class::Other,
    }
}

/// Classifies two different texts.
pub fn classify_text(a: &str, b: &str) -> Class {
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    if squash(a) == squash(b) {
        return Class::Whitespace;
    }
    if a.to_lowercase() == b.to_lowercase() {
        return Class::Case;
    }
    if a.nfc().eq(b.nfc()) {
        return Class::UnicodeNormalization;
    }
    if mojibake(a) == b || mojibake(b) == a || mojibake_1252(a) == b || mojibake_1252(b) == a {
        return Class::Mojibake;
    }
    if (a.starts_with(b) || b.starts_with(a)) && a != b {
        return Class::Truncation;
    }
    Class::Other
}

/// UTF-8 bytes read as Latin-1.
fn mojibake(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

/// UTF-8 bytes read as Windows-1252.
fn mojibake_1252(s: &str) -> String {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    s.bytes()
        .map(|b| {
            if (0x80..0xA0).contains(&b) {
                HIGH[usize::from(b - 0x80)]
            } else {
                char::from(b)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::*;

    use super::*;
    use crate::hash::TextOpts;

    fn text_pair(a: Option<&str>, b: Option<&str>) -> Class {
        let l: ArrayRef = Arc::new(StringArray::from(vec![a]));
        let t: ArrayRef = Arc::new(StringArray::from(vec![b]));
        classify(
            l.as_ref(),
            t.as_ref(),
            &Codec::new(CompareAs::Text(TextOpts::default())),
        )
    }

    #[test]
    fn text_classes() {
        assert_eq!(text_pair(Some("Ahmed "), Some("Ahmed")), Class::Whitespace);
        assert_eq!(text_pair(Some("a  b"), Some("a b")), Class::Whitespace);
        assert_eq!(text_pair(Some("Riyadh"), Some("RIYADH")), Class::Case);
        assert_eq!(
            text_pair(Some("Cafe\u{301}"), Some("Café")),
            Class::UnicodeNormalization
        );
        assert_eq!(text_pair(Some("Café"), Some("CafÃ©")), Class::Mojibake);
        assert_eq!(
            text_pair(Some("محمد"), Some(&mojibake("محمد"))),
            Class::Mojibake
        );
        assert_eq!(
            text_pair(Some("“quoted”"), Some(&mojibake_1252("“quoted”"))),
            Class::Mojibake
        );
        assert_eq!(
            text_pair(Some("Replace front brake pads"), Some("Replace front br")),
            Class::Truncation
        );
        assert_eq!(text_pair(None, Some("")), Class::NullVsEmpty);
        assert_eq!(text_pair(Some(""), None), Class::NullVsEmpty);
        assert_eq!(text_pair(Some("a"), Some("b")), Class::Other);
    }

    #[test]
    fn numeric_rounding_and_time_zone_shifts() {
        let c = Codec::new(CompareAs::Numeric);
        let l: ArrayRef = Arc::new(
            Decimal128Array::from(vec![10_005])
                .with_precision_and_scale(12, 3)
                .expect("dec"),
        );
        let t: ArrayRef = Arc::new(
            Decimal128Array::from(vec![1001])
                .with_precision_and_scale(12, 2)
                .expect("dec"),
        );
        assert_eq!(classify(l.as_ref(), t.as_ref(), &c), Class::Rounding);
        let t: ArrayRef = Arc::new(
            Decimal128Array::from(vec![1002])
                .with_precision_and_scale(12, 2)
                .expect("dec"),
        );
        assert_eq!(classify(l.as_ref(), t.as_ref(), &c), Class::Other);
        let ts = Codec::new(CompareAs::Timestamp);
        let l: ArrayRef = Arc::new(TimestampSecondArray::from(vec![1_700_000_000]));
        let t: ArrayRef = Arc::new(TimestampSecondArray::from(vec![1_700_000_000 + 3 * 3600]));
        assert_eq!(classify(l.as_ref(), t.as_ref(), &ts), Class::TimezoneShift);
        let t: ArrayRef = Arc::new(TimestampSecondArray::from(vec![1_700_000_000 + 5 * 1800]));
        assert_eq!(classify(l.as_ref(), t.as_ref(), &ts), Class::TimezoneShift);
        let t: ArrayRef = Arc::new(TimestampSecondArray::from(vec![1_700_000_000 + 61]));
        assert_eq!(classify(l.as_ref(), t.as_ref(), &ts), Class::Other);
    }
}
