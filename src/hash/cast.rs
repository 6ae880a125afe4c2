//! Config casts, checked: a cast applies to both sides of a column before it is encoded, and a
//! value the cast cannot carry over exactly is encoded as [`Tag::Lossy`] (its original text), so
//! that it never equals a cast value. Failures are data, never errors: an error message must not
//! quote a value.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Decimal128Type};
use xxhash_rust::xxh3::xxh3_128_with_seed;

use super::{Codec, EncodeError, Tag, decimal, seed_of, visit};

/// Applies a config `cast`: the cast array, and the rows it could not carry over exactly, each
/// with the original value's text. A value is carried over exactly when it casts and casting it
/// back gives the original (text is parsed instead: exactly when it parses, and for decimals to
/// the same number). Failures are data, never errors: an error message must not quote a value.
pub fn checked_cast(
    array: &dyn Array,
    to: &DataType,
) -> Result<(ArrayRef, Vec<(usize, String)>), EncodeError> {
    let original = match array.data_type() {
        DataType::Dictionary(_, v) => cast_with_options(array, v, &CastOptions::default())?,
        _ => arrow::array::make_array(array.to_data()),
    };
    let from = original.data_type().clone();
    let cast = cast_with_options(original.as_ref(), to, &CastOptions::default()).map_err(|_| {
        EncodeError::Cast {
            from: from.clone(),
            to: to.clone(),
        }
    })?;
    let mut lossy_rows: Vec<usize> = (0..original.len())
        .filter(|&i| original.is_valid(i) && cast.is_null(i))
        .collect();
    let is_text = matches!(
        from,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    if !is_text {
        let back =
            cast_with_options(cast.as_ref(), &from, &CastOptions::default()).map_err(|_| {
                EncodeError::Uncheckable {
                    from: from.clone(),
                    to: to.clone(),
                }
            })?;
        let differs = arrow::compute::kernels::cmp::distinct(&original, &back).map_err(|_| {
            EncodeError::Uncheckable {
                from: from.clone(),
                to: to.clone(),
            }
        })?;
        lossy_rows.extend((0..original.len()).filter(|&i| differs.value(i)));
    } else if let DataType::Decimal128(_, scale) = to {
        let text = cast_with_options(original.as_ref(), &DataType::Utf8, &CastOptions::default())?;
        let (text, cast) = (
            text.as_string::<i32>(),
            cast.as_primitive::<Decimal128Type>(),
        );
        for i in 0..original.len() {
            if original.is_null(i) || cast.is_null(i) {
                continue;
            }
            let parsed =
                decimal::parse_decimal(text.value(i)).and_then(|(m, s)| decimal::normalize(m, s));
            if parsed.is_none() || parsed != decimal::normalize(cast.value(i), i32::from(*scale)) {
                lossy_rows.push(i);
            }
        }
    }
    lossy_rows.sort_unstable();
    lossy_rows.dedup();
    let lossy = if lossy_rows.is_empty() {
        Vec::new()
    } else {
        let shown = arrow::util::display::ArrayFormatter::try_new(
            original.as_ref(),
            &arrow::util::display::FormatOptions::default(),
        )?;
        lossy_rows
            .into_iter()
            .map(|i| (i, shown.value(i).to_string()))
            .collect()
    };
    Ok((cast, lossy))
}

/// The payload of a [`Tag::Lossy`] value.
pub(super) fn lossy_payload(original_text: &str) -> [u8; 16] {
    xxh3_128_with_seed(original_text.as_bytes(), seed_of(Tag::Lossy)).to_le_bytes()
}

/// [`visit`] for any column: applies the codec's cast (lossy rows as [`Tag::Lossy`]) and
/// unpacks dictionaries first. For the few values of checks, detail and drift classes; the
/// hashing pass has its own faster route to the same encoding.
pub fn visit_cast<F: FnMut(Tag, &[u8]) + ?Sized>(
    array: &dyn Array,
    codec: &Codec,
    f: &mut F,
) -> Result<(), EncodeError> {
    let plain = Codec {
        cast: None,
        ..codec.clone()
    };
    if let Some(to) = &codec.cast {
        let (cast, lossy) = checked_cast(array, to)?;
        let mut lossy = lossy.into_iter().peekable();
        let mut row = 0usize;
        return visit(cast.as_ref(), &plain, &mut |tag, payload| {
            match lossy.next_if(|(i, _)| *i == row) {
                Some((_, text)) => f(Tag::Lossy, &lossy_payload(&text)),
                None => f(tag, payload),
            }
            row += 1;
        });
    }
    if let DataType::Dictionary(_, v) = array.data_type() {
        let plain_array = cast_with_options(array, v, &CastOptions::default())?;
        return visit(plain_array.as_ref(), &plain, f);
    }
    visit(array, &plain, f)
}
