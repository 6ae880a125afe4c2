//! `PostgreSQL`'s binary COPY format decoded into the sink's builders: the header, then per row a
//! field count and per field a length (-1 for NULL) and the type's binary send format.
//! Every value is taken exactly (numerics digit by digit into the column's scale); one that
//! cannot be (NaN, an infinity, too many digits) is an error naming the table, the column and
//! the row's key.

use arrow::datatypes::i256;

use super::{CopyInput, Decode};
use crate::error::Error;
use crate::export::TableOut;
use crate::export::sink::{Col, Misfit, TableSink};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// 2000-01-01 (`PostgreSQL`'s epoch) in days and microseconds since 1970-01-01.
const EPOCH_DAYS: i32 = 10_957;
const EPOCH_MICROS: i64 = 946_684_800_000_000;
/// 0001-01-01 and 9999-12-31 in days since 1970-01-01: the dates recon reads and renders
/// everywhere (chrono, Arrow's casts, the reports).
const FIRST_DAY: i32 = -719_162;
const LAST_DAY: i32 = 2_932_896;
const DAY_MICROS: i64 = 86_400_000_000;

/// Why decoding stopped.
pub(super) enum Failure {
    /// The connection failed (a killed backend, a dropped link).
    Stream(tokio_postgres::Error),
    /// Anything else, already a recon error.
    Other(Error),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Stream(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::Other(e)
    }
}

/// Why one value cannot be written. Names no value.
#[derive(Debug, thiserror::Error)]
enum FieldError {
    #[error("{0}")]
    Misfit(#[from] Misfit),
    #[error("holds NaN or an infinity, which no decimal can")]
    NotANumber,
    #[error("holds a number past 76 digits")]
    TooWide,
    #[error("holds more decimals than its scale")]
    Scale,
    #[error("holds infinity, which Arrow cannot")]
    Infinite,
    #[error("holds a value out of Arrow's range")]
    OutOfRange,
    #[error("holds a date outside the years 1 to 9999 (a BC date, or one past what recon reads)")]
    Years,
    #[error("holds 24:00:00, past the time of day Arrow's time type holds")]
    TimeOfDay,
    #[error("holds text that is not UTF-8")]
    Utf8,
    #[error("holds a value of {0} bytes where its type has another size")]
    Size(usize),
    #[error("holds a jsonb of an unknown version")]
    JsonbVersion,
}

fn be<const N: usize>(b: &[u8]) -> Result<[u8; N], FieldError> {
    b.try_into().map_err(|_| FieldError::Size(b.len()))
}

/// Decodes the whole COPY stream of `t` into `sink`.
pub(super) fn decode(
    input: &mut CopyInput<'_>,
    t: &TableOut,
    decoders: &[Decode],
    sink: &mut TableSink,
) -> Result<(), Failure> {
    let broken = |what: &str| {
        Failure::Other(Error::Internal(format!(
            "table `{}`: the COPY data {what}",
            t.name
        )))
    };
    let mut buf = Vec::with_capacity(64);
    if !input.read_into(&mut buf, 19)? || &buf[..11] != SIGNATURE {
        return Err(broken("has no binary COPY header"));
    }
    let ext = i32::from_be_bytes([buf[15], buf[16], buf[17], buf[18]]);
    buf.clear();
    if ext > 0 && !input.read_into(&mut buf, usize::try_from(ext).unwrap_or(0))? {
        return Err(broken("ends in its header"));
    }
    let mut row: Vec<u8> = Vec::with_capacity(1024);
    let mut spans: Vec<Option<(usize, usize)>> = Vec::with_capacity(decoders.len());
    loop {
        buf.clear();
        if !input.read_into(&mut buf, 2)? {
            return Err(broken("ends without its trailer"));
        }
        let fields = i16::from_be_bytes([buf[0], buf[1]]);
        if fields == -1 {
            return Ok(());
        }
        if usize::try_from(fields).ok() != Some(decoders.len().max(1)) {
            return Err(broken("has rows of another width than the table"));
        }
        // PostgreSQL sends a row per message, so the row is nearly always whole in the current
        // chunk: its fields are decoded where they are. Otherwise it is gathered first.
        let whole = input.row_in_chunk(decoders.len().max(1), &mut spans);
        if whole.is_none() {
            row.clear();
            spans.clear();
        }
        for _ in 0..if whole.is_none() { fields } else { 0 } {
            buf.clear();
            if !input.read_into(&mut buf, 4)? {
                return Err(broken("ends inside a row"));
            }
            let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            if len < 0 {
                spans.push(None);
                continue;
            }
            let len = usize::try_from(len).unwrap_or(0);
            let start = row.len();
            if !input.read_into(&mut row, len)? {
                return Err(broken("ends inside a row"));
            }
            spans.push(Some((start, len)));
        }
        let bytes: &[u8] = whole.as_deref().unwrap_or(&row);
        for (i, (decode, col)) in decoders.iter().zip(sink.cols.iter_mut()).enumerate() {
            let Some(Some((start, len))) = spans.get(i).copied() else {
                col.push_null();
                continue;
            };
            if let Err(e) = field(*decode, &bytes[start..start + len], col) {
                let key = key_text(t, decoders, bytes, &spans);
                let column = &t.columns[i].name;
                let hint = match e {
                    FieldError::Years | FieldError::TimeOfDay => {
                        format!("; {}", crate::export::cast_hint(&t.name, column))
                    }
                    _ => String::new(),
                };
                return Err(Failure::Other(Error::column(
                    &t.name,
                    column,
                    format!("{e} (the row with key {key}){hint}"),
                )));
            }
        }
        sink.end_row()?;
    }
}

fn field(decode: Decode, b: &[u8], col: &mut Col) -> Result<(), FieldError> {
    match decode {
        Decode::Int2 => col.push_i64(i64::from(i16::from_be_bytes(be(b)?)))?,
        Decode::Int4 => col.push_i64(i64::from(i32::from_be_bytes(be(b)?)))?,
        Decode::Int8 => col.push_i64(i64::from_be_bytes(be(b)?))?,
        Decode::Float4 => col.push_f32(f32::from_be_bytes(be(b)?))?,
        Decode::Float8 => col.push_f64(f64::from_be_bytes(be(b)?))?,
        Decode::Bool => col.push_bool(be::<1>(b)?[0] != 0)?,
        Decode::Numeric => {
            let scale = col.scale().unwrap_or(0);
            col.push_decimal(numeric(b, scale)?)?;
        }
        Decode::Text => col.push_str(std::str::from_utf8(b).map_err(|_| FieldError::Utf8)?)?,
        Decode::Jsonb => match b.split_first() {
            Some((1, text)) => {
                col.push_str(std::str::from_utf8(text).map_err(|_| FieldError::Utf8)?)?;
            }
            _ => return Err(FieldError::JsonbVersion),
        },
        Decode::Uuid => col.push_str(&uuid(&be::<16>(b)?))?,
        Decode::Bytes => col.push_bytes(b)?,
        Decode::Date => {
            let d = i32::from_be_bytes(be(b)?);
            if d == i32::MAX || d == i32::MIN {
                return Err(FieldError::Infinite);
            }
            let days = d.checked_add(EPOCH_DAYS).ok_or(FieldError::OutOfRange)?;
            if !(FIRST_DAY..=LAST_DAY).contains(&days) {
                return Err(FieldError::Years);
            }
            col.push_date(days)?;
        }
        Decode::Time => {
            let t = i64::from_be_bytes(be(b)?);
            if !(0..DAY_MICROS).contains(&t) {
                return Err(FieldError::TimeOfDay);
            }
            col.push_time(t)?;
        }
        Decode::Timestamp => {
            let t = i64::from_be_bytes(be(b)?);
            if t == i64::MAX || t == i64::MIN {
                return Err(FieldError::Infinite);
            }
            let t = t.checked_add(EPOCH_MICROS).ok_or(FieldError::OutOfRange)?;
            let years = i64::from(FIRST_DAY) * DAY_MICROS..(i64::from(LAST_DAY) + 1) * DAY_MICROS;
            if !years.contains(&t) {
                return Err(FieldError::Years);
            }
            col.push_timestamp(t)?;
        }
    }
    Ok(())
}

/// A binary `numeric` as a mantissa at `scale`: base-10000 digits with a weight, exactly.
fn numeric(b: &[u8], scale: i8) -> Result<i256, FieldError> {
    if b.len() < 8 {
        return Err(FieldError::Size(b.len()));
    }
    let word = |i: usize| i16::from_be_bytes([b[i], b[i + 1]]);
    let (ndigits, weight, sign) = (word(0), i32::from(word(2)), word(4).cast_unsigned());
    if matches!(sign, 0xC000 | 0xD000 | 0xF000) {
        return Err(FieldError::NotANumber);
    }
    let ndigits = usize::try_from(ndigits).map_err(|_| FieldError::Size(b.len()))?;
    if b.len() != 8 + 2 * ndigits {
        return Err(FieldError::Size(b.len()));
    }
    let ndigits_i32 = i32::try_from(ndigits).map_err(|_| FieldError::TooWide)?;
    let exp = 4 * (weight - ndigits_i32 + 1) + i32::from(scale);
    // Up to 9 base-10000 digits (36 decimal digits) fit an i128: the usual value never needs
    // 256-bit arithmetic.
    if ndigits <= 9 && (-36..=2).contains(&exp) {
        let mut acc: i128 = 0;
        for i in 0..ndigits {
            acc = acc * 10_000 + i128::from(word(8 + 2 * i));
        }
        let m = if exp >= 0 {
            acc.checked_mul(10i128.pow(exp.unsigned_abs()))
                .ok_or(FieldError::TooWide)?
        } else {
            let div = 10i128.pow(exp.unsigned_abs());
            if acc % div != 0 {
                return Err(FieldError::Scale);
            }
            acc / div
        };
        return Ok(i256::from_i128(if sign == 0x4000 { -m } else { m }));
    }
    let ten_thousand = i256::from_i128(10_000);
    let mut acc = i256::ZERO;
    for i in 0..ndigits {
        let d = word(8 + 2 * i);
        acc = acc
            .checked_mul(ten_thousand)
            .and_then(|a| a.checked_add(i256::from_i128(i128::from(d))))
            .ok_or(FieldError::TooWide)?;
    }
    // value = acc × 10000^(weight − ndigits + 1); the mantissa is value × 10^scale.
    let pow = |e: i32| {
        u32::try_from(e)
            .ok()
            .and_then(|e| i256::from_i128(10).checked_pow(e))
            .ok_or(FieldError::TooWide)
    };
    let m = if acc == i256::ZERO {
        acc
    } else if exp >= 0 {
        acc.checked_mul(pow(exp)?).ok_or(FieldError::TooWide)?
    } else {
        let div = pow(-exp)?;
        if acc.checked_rem(div) != Some(i256::ZERO) {
            return Err(FieldError::Scale);
        }
        acc.checked_div(div).ok_or(FieldError::TooWide)?
    };
    Ok(if sign == 0x4000 { m.wrapping_neg() } else { m })
}

fn uuid(b: &[u8; 16]) -> String {
    let hex = crate::export::hex(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The row's primary-key values as text, for an error message.
fn key_text(
    t: &TableOut,
    decoders: &[Decode],
    row: &[u8],
    spans: &[Option<(usize, usize)>],
) -> String {
    crate::export::key_text(t, |i| {
        let Some((s, l)) = spans.get(i).copied().flatten() else {
            return Some("NULL".to_owned());
        };
        let b = &row[s..s + l];
        Some(match decoders[i] {
            Decode::Int2 => be::<2>(b).map(|v| i16::from_be_bytes(v).to_string()).ok()?,
            Decode::Int4 => be::<4>(b).map(|v| i32::from_be_bytes(v).to_string()).ok()?,
            Decode::Int8 => be::<8>(b).map(|v| i64::from_be_bytes(v).to_string()).ok()?,
            Decode::Text => String::from_utf8_lossy(b).into_owned(),
            Decode::Uuid => uuid(&be::<16>(b).ok()?),
            _ => "…".to_owned(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(ndigits: i16, weight: i16, sign: u16, dscale: i16, digits: &[i16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [ndigits, weight, sign.cast_signed(), dscale] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics_decode_exactly_at_the_column_scale() {
        // 123456.123456789012345 = [12, 3456, 1234, 5678, 9012, 3450], weight 1
        let b = num(6, 1, 0, 15, &[12, 3456, 1234, 5678, 9012, 3450]);
        assert_eq!(
            numeric(&b, 15).ok(),
            Some(i256::from_i128(123_456_123_456_789_012_345))
        );
        // -0.000000000001234 = [1, 2340] at weight -3
        let b = num(2, -3, 0x4000, 15, &[1, 2340]);
        assert_eq!(numeric(&b, 15).ok(), Some(i256::from_i128(-1234)));
        assert_eq!(numeric(&num(0, 0, 0, 2, &[]), 2).ok(), Some(i256::ZERO));
        assert!(matches!(
            numeric(&num(0, 0, 0xC000, 0, &[]), 2),
            Err(FieldError::NotANumber)
        ));
        // 1.25 into scale 1 does not fit.
        assert!(matches!(
            numeric(&num(2, 0, 0, 2, &[1, 2500]), 1),
            Err(FieldError::Scale)
        ));
    }

    #[test]
    fn uuids_read_in_canonical_form() {
        let b: [u8; 16] = core::array::from_fn(|i| u8::try_from(i).unwrap_or(0) * 17);
        assert_eq!(uuid(&b), "00112233-4455-6677-8899-aabbccddeeff");
    }
}
