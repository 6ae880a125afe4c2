//! The canonical encoding and the hashes built on it (hash version [`HASH_VERSION`]).
//!
//! Every value is reduced to a `(tag, payload)` pair that depends only on its logical value under
//! the column's [`CompareAs`] mode: integers and decimals of any width or scale become a
//! `(scale, mantissa)` (at the column pair's fixed scale when the plan knows one, see
//! [`Codec::fixed_scale`], else normalized), timestamps an `i128` of UTC nanoseconds, strings
//! their (optionally trimmed, case-folded, NFC-normalized) UTF-8 bytes, and so on. The value's digest is xxh3 of the
//! payload under a seed that is specific to the tag, so values of different families or NULL can
//! never share an encoding. A row hash folds the column digests with a bijective mixer, in mapping
//! order: two rows that differ in exactly one column always get different row hashes when that
//! column's digests differ.
//!
//! Changing anything here changes every hash: bump [`HASH_VERSION`].

mod cast;
pub(crate) use crate::decimal;

mod fast;
mod json;
mod payload;
mod short;
mod visit;

use arrow::array::{Array, AsArray};

pub use crate::config::TimeZone;
use arrow::datatypes::*;
pub use cast::{checked_cast, visit_cast};
pub use payload::canonical_f64_bits;

pub use visit::visit;
use xxhash_rust::xxh3::{xxh3_64_with_seed, xxh3_128_with_seed};

pub use crate::error::EncodeError;

/// Version of the canonical encoding and hash construction; goes into every report.
pub const HASH_VERSION: u32 = 2;

/// The fixed seed of every hash ("recon v1").
const SEED: u64 = 0x7265_636f_6e5f_7631;

/// The family tag of a canonical value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// SQL NULL.
    Null = 0,
    /// Integers and decimals: `[scale: u8][mantissa LE]`, at the codec's fixed scale or
    /// normalized (see [`NumPayload`] and [`Codec::fixed_scale`]).
    Numeric = 1,
    /// Floats: canonical `f64` bits (one NaN, no negative zero); also an integer or decimal
    /// compared with a float, when a float holds it exactly.
    Float = 2,
    /// Strings: UTF-8 bytes after the column's text options.
    Text = 3,
    /// Binary: the bytes.
    Binary = 4,
    /// Booleans: one byte.
    Bool = 5,
    /// Dates: days since 1970-01-01 as `i64` LE.
    Date = 6,
    /// Timestamps: UTC nanoseconds since the epoch, `i64` LE (`i128` beyond its range).
    Timestamp = 7,
    /// Times of day: nanoseconds since midnight as `i64` LE.
    Time = 8,
    /// A value a config `cast` could not carry over exactly (`1.70` cast to an integer, `abc`
    /// cast to a date): xxh3-128 of the original value's text, so that it equals only the same
    /// original value and never a cast one.
    Lossy = 9,
}

#[inline]
pub(crate) fn seed_of(tag: Tag) -> u64 {
    SEED ^ u64::from(tag as u8).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A digest of a canonical value: 64 bits for row hashes, 128 bits for keys.
pub trait Digest: Copy + Send + Sync + PartialEq + Default + 'static {
    /// The digest of one canonical value.
    fn of(tag: Tag, payload: &[u8]) -> Self;
    /// The digest of NULL.
    fn null() -> Self {
        Self::of(Tag::Null, &[])
    }
    /// The digest of the 8-byte payload `word` (little-endian).
    #[inline]
    fn of_word(tag: Tag, word: u64) -> Self {
        Self::of(tag, &word.to_le_bytes())
    }
    /// The digest of the 9-byte payload `[first][word LE]` (a [`NumPayload`] that fits 64 bits).
    #[inline]
    fn of_first_word(tag: Tag, first: u8, word: u64) -> Self {
        let mut b = [first; 9];
        b[1..].copy_from_slice(&word.to_le_bytes());
        Self::of(tag, &b)
    }
}

impl Digest for u64 {
    #[inline]
    fn of(tag: Tag, payload: &[u8]) -> Self {
        xxh3_64_with_seed(payload, seed_of(tag))
    }
    #[inline]
    fn of_word(tag: Tag, word: u64) -> Self {
        short::xxh3_8(word, seed_of(tag))
    }
    #[inline]
    fn of_first_word(tag: Tag, first: u8, word: u64) -> Self {
        short::xxh3_9(first, word, seed_of(tag))
    }
}

impl Digest for u128 {
    #[inline]
    fn of(tag: Tag, payload: &[u8]) -> Self {
        xxh3_128_with_seed(payload, seed_of(tag))
    }
}

/// String comparison options.
// Each is its own switch of the config, set independently per table or column.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOpts {
    /// Ignore leading and trailing white space.
    pub trim: bool,
    /// Ignore trailing white space (`CHAR(n)` padding).
    pub trim_end: bool,
    /// Compare lowercased.
    pub case_insensitive: bool,
    /// Compare after NFC normalization.
    pub nfc: bool,
    /// Compare as parsed JSON: object key order and number forms ignored (text that is not
    /// JSON compares as it is).
    pub json: bool,
}

impl TextOpts {
    /// Whether the options leave text byte-exact.
    pub fn is_plain(self) -> bool {
        !(self.trim || self.trim_end || self.case_insensitive || self.nfc || self.json)
    }
}

/// How a column's two sides are compared; decided once per column pair from both types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareAs {
    /// Integers and decimals by exact numeric value.
    Numeric,
    /// Floats by value. An integer or decimal on the other side encodes as the float that holds
    /// it exactly, or, when no float does, as its exact number, which no float equals.
    Float,
    /// Strings, byte-exact after the options.
    Text(TextOpts),
    /// Binary, byte-exact.
    Binary,
    /// Booleans; integers 0/1 count as false/true when the config says so.
    Bool,
    /// Dates by day.
    Date,
    /// Timestamps by instant.
    Timestamp,
    /// Times of day.
    Time,
}

/// Everything needed to encode one side of one column.
#[derive(Debug, Clone)]
pub struct Codec {
    /// The comparison mode shared by both sides.
    pub mode: CompareAs,
    /// Zone for timestamps without one.
    pub zone: TimeZone,
    /// Cast applied to the raw array first (config `cast`).
    pub cast: Option<DataType>,
    /// [`CompareAs::Numeric`] only: the scale every number of both sides is carried to, the
    /// larger declared scale of the pair (at least 0). A number is then encoded as its exact
    /// mantissa at that scale, `[scale][mantissa]`, without stripping trailing zeros (a checked
    /// multiplication instead of a division loop). A number that has no such mantissa in an
    /// `i128` keeps its normalized encoding, whose scale byte differs from this one (see
    /// `payload::numeric_fixed`). `None`: every number normalized (Decimal256, casts, floats).
    pub fixed_scale: Option<u8>,
}

impl Codec {
    /// A codec with no cast, UTC for naive timestamps and normalized numbers.
    pub fn new(mode: CompareAs) -> Self {
        Self {
            mode,
            zone: TimeZone::Utc,
            cast: None,
            fixed_scale: None,
        }
    }

    /// The same codec with numbers carried to `scale` (see [`Codec::fixed_scale`]).
    #[must_use]
    pub fn with_fixed_scale(self, scale: u8) -> Self {
        Self {
            fixed_scale: Some(scale),
            ..self
        }
    }
}

/// Digests every value of `array` into `out` (cleared first). Errors are messages about a value
/// or a type that does not fit the mode; the caller adds table and column.
pub fn hash_column<D: Digest>(
    array: &dyn Array,
    codec: &Codec,
    out: &mut Vec<D>,
) -> Result<(), EncodeError> {
    hash_column_impl(array, codec, out, true)
}

/// [`hash_column`] with or without the fast paths (tests hold the two equal).
pub(crate) fn hash_column_impl<D: Digest>(
    array: &dyn Array,
    codec: &Codec,
    out: &mut Vec<D>,
    fast_paths: bool,
) -> Result<(), EncodeError> {
    out.clear();
    if let Some(to) = &codec.cast {
        let (cast, lossy) = checked_cast(array, to)?;
        let plain = Codec {
            cast: None,
            ..codec.clone()
        };
        hash_column_impl(cast.as_ref(), &plain, out, fast_paths)?;
        for (i, text) in lossy {
            out[i] = D::of(Tag::Lossy, &cast::lossy_payload(&text));
        }
        return Ok(());
    }
    if let Some(dict) = array.as_any_dictionary_opt() {
        // Hash each distinct value once, then gather by key.
        let mut values = Vec::new();
        hash_column_impl::<D>(dict.values().as_ref(), codec, &mut values, fast_paths)?;
        return gather_dictionary(dict, &values, out);
    }
    if fast_paths && fast::digests(array, codec, out) {
        return Ok(());
    }
    out.reserve(array.len());
    visit(array, codec, &mut |tag, payload| {
        out.push(D::of(tag, payload));
    })
}

/// Digests of a dictionary array's rows from the digests of its values. A non-NULL row whose key
/// points past the dictionary (a corrupt file) is an error, never a silent NULL.
pub fn gather_dictionary<D: Digest>(
    dict: &dyn arrow::array::AnyDictionaryArray,
    values: &[D],
    out: &mut Vec<D>,
) -> Result<(), EncodeError> {
    out.clear();
    let mut bad = false;
    let keys = dict.keys();
    macro_rules! gather {
        ($t:ty) => {{
            let keys = keys.as_primitive::<$t>();
            // Branch-free in the loop: an out-of-range key only raises `bad`, checked after it.
            let mut pick = |k| match usize::try_from(k).ok().and_then(|k| values.get(k)) {
                Some(&d) => d,
                None => {
                    bad = true;
                    D::null()
                }
            };
            match keys.nulls().filter(|n| n.null_count() > 0) {
                None => out.extend(keys.values().iter().map(|&k| pick(k))),
                Some(nulls) => {
                    let null = D::null();
                    out.extend(
                        keys.values()
                            .iter()
                            .enumerate()
                            .map(|(i, &k)| if nulls.is_null(i) { null } else { pick(k) }),
                    )
                }
            }
        }};
    }
    match keys.data_type() {
        DataType::Int8 => gather!(Int8Type),
        DataType::Int16 => gather!(Int16Type),
        DataType::Int32 => gather!(Int32Type),
        DataType::Int64 => gather!(Int64Type),
        DataType::UInt8 => gather!(UInt8Type),
        DataType::UInt16 => gather!(UInt16Type),
        DataType::UInt32 => gather!(UInt32Type),
        DataType::UInt64 => gather!(UInt64Type),
        other => return Err(EncodeError::DictionaryKeys(other.clone())),
    }
    if bad {
        return Err(EncodeError::DictionaryKey);
    }
    Ok(())
}

/// The `(mantissa, scale)` of a [`Tag::Numeric`] payload (see [`NumPayload`]; Decimal256
/// values past an `i128` carry 32 bytes).
pub fn numeric_from_payload(payload: &[u8]) -> Option<(i256, u8)> {
    let (&scale, m) = payload.split_first()?;
    let m = match m.len() {
        8 => i256::from_i128(i128::from(i64::from_le_bytes(m.try_into().ok()?))),
        16 => i256::from_i128(i128::from_le_bytes(m.try_into().ok()?)),
        32 => i256::from_le_bytes(m.try_into().ok()?),
        _ => return None,
    };
    Some((m, scale))
}

/// The declared scale of a decimal type (0 for every other type).
pub fn decimal_scale(dt: &DataType) -> i8 {
    match dt {
        DataType::Decimal32(_, s)
        | DataType::Decimal64(_, s)
        | DataType::Decimal128(_, s)
        | DataType::Decimal256(_, s) => *s,
        _ => 0,
    }
}

/// Whether a type is one of the integer types.
pub fn is_integer(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// Calls `f` with every value of an integer array widened to `i128`.
pub(crate) fn for_each_int<G: FnMut(Option<i128>)>(array: &dyn Array, f: &mut G) {
    macro_rules! run {
        ($t:ty) => {{
            let a = array.as_primitive::<$t>();
            for i in 0..a.len() {
                f(if a.is_null(i) {
                    None
                } else {
                    Some(i128::from(a.value(i)))
                });
            }
        }};
    }
    match array.data_type() {
        DataType::Int8 => run!(Int8Type),
        DataType::Int16 => run!(Int16Type),
        DataType::Int32 => run!(Int32Type),
        DataType::Int64 => run!(Int64Type),
        DataType::UInt8 => run!(UInt8Type),
        DataType::UInt16 => run!(UInt16Type),
        DataType::UInt32 => run!(UInt32Type),
        DataType::UInt64 => run!(UInt64Type),
        _ => {}
    }
}

/// Folds column digests into a row hash. Each step is a bijection of the running state, so a
/// change in exactly one column digest always changes the result.
#[inline]
pub fn fold(state: u64, column_digest: u64) -> u64 {
    let mut h = (state ^ column_digest).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^ (h >> 29)
}

/// The starting state of a row hash over `columns` columns.
#[inline]
pub fn fold_start(columns: usize) -> u64 {
    SEED ^ (columns as u64)
}

/// Combines 128-bit key column digests into one key digest.
#[inline]
pub fn combine_key(parts: &[u128]) -> u128 {
    if let [one] = parts {
        *one
    } else {
        let mut buf = Vec::with_capacity(parts.len() * 16);
        for p in parts {
            buf.extend_from_slice(&p.to_le_bytes());
        }
        xxh3_128_with_seed(&buf, SEED)
    }
}

#[cfg(test)]
mod tests;
