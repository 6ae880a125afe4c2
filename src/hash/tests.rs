//! Unit tests of the canonical encoding; the property tests live in `proptests`.

// Test data is built with casts whose ranges the tests choose.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::*;

use super::*;

pub(crate) fn digests(array: &dyn Array, codec: &Codec) -> Vec<u64> {
    let mut out = Vec::new();
    hash_column::<u64>(array, codec, &mut out).expect("hashable");
    out
}

#[test]
fn null_empty_and_the_string_null_differ() {
    let a = StringArray::from(vec![None, Some(""), Some("NULL")]);
    let d = digests(&a, &Codec::new(CompareAs::Text(TextOpts::default())));
    assert_ne!(d[0], d[1]);
    assert_ne!(d[1], d[2]);
    assert_ne!(d[0], d[2]);
}

#[test]
fn integers_and_decimals_hash_by_value() {
    let c = Codec::new(CompareAs::Numeric);
    let ints = digests(&Int64Array::from(vec![15, 0, -3]), &c);
    let small = digests(&Int8Array::from(vec![15, 0, -3]), &c);
    let dec = digests(
        &Decimal128Array::from(vec![1500, 0, -300])
            .with_precision_and_scale(10, 2)
            .expect("dec"),
        &c,
    );
    let wide = digests(
        &Decimal128Array::from(vec![1_500_000, 0, -300_000])
            .with_precision_and_scale(20, 5)
            .expect("dec"),
        &c,
    );
    assert_eq!(ints, small);
    assert_eq!(ints, dec);
    assert_eq!(ints, wide);
    let frac = digests(
        &Decimal128Array::from(vec![150])
            .with_precision_and_scale(10, 2)
            .expect("dec"),
        &c,
    );
    let frac5 = digests(
        &Decimal128Array::from(vec![150_000])
            .with_precision_and_scale(20, 5)
            .expect("dec"),
        &c,
    );
    assert_eq!(frac, frac5);
    assert_ne!(frac[0], ints[0]);
}

#[test]
fn floats_nan_and_negative_zero() {
    let c = Codec::new(CompareAs::Float);
    let d = digests(
        &Float64Array::from(vec![f64::NAN, -f64::NAN, 0.0, -0.0, 1.5]),
        &c,
    );
    assert_eq!(d[0], d[1]);
    assert_eq!(d[2], d[3]);
    let f32s = digests(&Float32Array::from(vec![1.5f32]), &c);
    assert_eq!(d[4], f32s[0]);
}

#[test]
fn an_exact_number_hashes_as_a_float_only_when_the_float_holds_it() {
    let c = Codec::new(CompareAs::Float);
    let past = (1i64 << 53) + 1;
    let ints = digests(&Int64Array::from(vec![42, past, 1 << 60]), &c);
    let floats = digests(
        &Float64Array::from(vec![42.0, 9_007_199_254_740_992.0, 2f64.powi(60)]),
        &c,
    );
    assert_eq!(ints[0], floats[0]);
    assert_ne!(ints[1], floats[1], "2^53 + 1 is no double");
    assert_eq!(ints[2], floats[2]);
    let dec = Decimal128Array::from(vec![10, 150])
        .with_precision_and_scale(10, 2)
        .expect("dec");
    let wide = Decimal256Array::from(vec![i256::from_i128(10), i256::from_i128(150)])
        .with_precision_and_scale(50, 2)
        .expect("dec");
    let doubles = digests(&Float64Array::from(vec![0.1, 1.5]), &c);
    for d in [digests(&dec, &c), digests(&wide, &c)] {
        assert_ne!(d[0], doubles[0], "0.10 is no double");
        assert_eq!(d[1], doubles[1]);
    }
}

#[test]
fn timestamps_compare_by_instant_across_units_and_zones() {
    let c = Codec::new(CompareAs::Timestamp);
    let secs = TimestampSecondArray::from(vec![1_700_000_000]);
    let nanos =
        TimestampNanosecondArray::from(vec![1_700_000_000_000_000_000]).with_timezone("UTC");
    let riyadh = TimestampMillisecondArray::from(vec![1_700_000_000_000]).with_timezone("+03:00");
    assert_eq!(digests(&secs, &c), digests(&nanos, &c));
    assert_eq!(digests(&secs, &c), digests(&riyadh, &c));
    // A naive value read in Riyadh time is three hours ahead of UTC.
    let local = TimestampSecondArray::from(vec![1_700_000_000 + 3 * 3600]);
    let zoned = Codec {
        zone: TimeZone::parse("Asia/Riyadh").expect("zone"),
        ..c.clone()
    };
    assert_eq!(digests(&local, &zoned), digests(&secs, &c));
}

#[test]
fn dates_by_day_and_tinyint_as_bool() {
    let c = Codec::new(CompareAs::Date);
    assert_eq!(
        digests(&Date32Array::from(vec![19_000]), &c),
        digests(&Date64Array::from(vec![19_000 * 86_400_000]), &c)
    );
    let b = Codec::new(CompareAs::Bool);
    let bools = digests(&BooleanArray::from(vec![true, false]), &b);
    let ints = digests(&Int8Array::from(vec![1, 0]), &b);
    assert_eq!(bools, ints);
    assert_ne!(digests(&Int8Array::from(vec![2]), &b)[0], bools[0]);
}

#[test]
fn text_options_and_string_encodings() {
    let plain = Codec::new(CompareAs::Text(TextOpts::default()));
    let view = StringViewArray::from(vec!["abc"]);
    let large = LargeStringArray::from(vec!["abc"]);
    let dict: DictionaryArray<Int32Type> = vec!["abc"].into_iter().collect();
    let base = digests(&StringArray::from(vec!["abc"]), &plain);
    assert_eq!(base, digests(&view, &plain));
    assert_eq!(base, digests(&large, &plain));
    assert_eq!(base, digests(&dict, &plain));
    let all = Codec::new(CompareAs::Text(TextOpts {
        trim: true,
        case_insensitive: true,
        nfc: true,
        ..TextOpts::default()
    }));
    let nfd = "Cafe\u{301} ";
    assert_eq!(
        digests(&StringArray::from(vec![nfd]), &all),
        digests(&StringArray::from(vec![" CAFÉ"]), &all)
    );
    assert_ne!(
        digests(&StringArray::from(vec![nfd]), &plain),
        digests(&StringArray::from(vec!["Café"]), &plain)
    );
}

#[test]
fn row_fold_is_order_sensitive_and_field_bounded() {
    let c = Codec::new(CompareAs::Text(TextOpts::default()));
    let a = digests(&StringArray::from(vec!["ab", "a"]), &c);
    let b = digests(&StringArray::from(vec!["c", "bc"]), &c);
    let row = |x: u64, y: u64| fold(fold(fold_start(2), x), y);
    assert_ne!(row(a[0], b[0]), row(a[1], b[1]));
    assert_ne!(row(a[0], b[0]), row(b[0], a[0]));
}

#[test]
fn dictionary_nulls_are_nulls() {
    let keys = Int32Array::from(vec![Some(0), None]);
    let values = Arc::new(StringArray::from(vec!["x"]));
    let dict = DictionaryArray::new(keys, values);
    let d = digests(&dict, &Codec::new(CompareAs::Text(TextOpts::default())));
    assert_eq!(d[1], u64::null());
}

#[test]
fn a_key_past_the_dictionary_is_an_error_not_a_null() {
    // Arrow refuses such keys when it builds the array; the gather must not trust that either.
    // Fewer value digests than dictionary values stand in for a corrupt key.
    let keys = Int16Array::from(vec![Some(0), None, Some(2)]);
    let dict = DictionaryArray::new(keys, Arc::new(StringArray::from(vec!["a", "b", "c"])));
    let mut out = Vec::new();
    let two = [u64::of(Tag::Text, b"a"), u64::of(Tag::Text, b"b")];
    let err = gather_dictionary(&dict, &two, &mut out).expect_err("key 2 has no digest");
    assert!(matches!(err, EncodeError::DictionaryKey), "{err}");
    // A NULL row's key is never looked at.
    let keys = Int16Array::from(vec![Some(1), None]);
    let dict = DictionaryArray::new(keys, Arc::new(StringArray::from(vec!["a", "b", "c"])));
    gather_dictionary(&dict, &two, &mut out).expect("in range");
    assert_eq!(out, vec![two[1], u64::null()]);
}

mod props {
    use proptest::prelude::*;

    use super::*;

    fn text() -> Codec {
        Codec::new(CompareAs::Text(TextOpts::default()))
    }

    proptest! {
        #[test]
        fn digests_do_not_depend_on_batch_split(values in proptest::collection::vec(proptest::option::of(any::<i64>()), 1..200), split in 0usize..200) {
            let c = Codec::new(CompareAs::Numeric);
            let whole = Int64Array::from(values.clone());
            let split = split.min(values.len());
            let mut parts = digests(&whole.slice(0, split), &c);
            parts.extend(digests(&whole.slice(split, values.len() - split), &c));
            prop_assert_eq!(digests(&whole, &c), parts);
        }

        #[test]
        fn equal_numbers_in_other_physical_types_hash_equal(v in any::<i32>(), scale in 0i8..10) {
            let c = Codec::new(CompareAs::Numeric);
            let base = digests(&Int32Array::from(vec![v]), &c);
            prop_assert_eq!(&base, &digests(&Int64Array::from(vec![i64::from(v)]), &c));
            let scaled = i128::from(v) * 10i128.pow(scale as u32);
            let dec = Decimal128Array::from(vec![scaled]).with_precision_and_scale(38, scale).expect("dec");
            prop_assert_eq!(&base, &digests(&dec, &c));
        }

        #[test]
        fn decimal_scale_does_not_matter(m in any::<i64>(), s in 0i8..6, extra in 0i8..6) {
            let c = Codec::new(CompareAs::Numeric);
            let a = Decimal128Array::from(vec![i128::from(m)]).with_precision_and_scale(38, s).expect("dec");
            let b = Decimal128Array::from(vec![i128::from(m) * 10i128.pow(extra as u32)])
                .with_precision_and_scale(38, s + extra).expect("dec");
            prop_assert_eq!(digests(&a, &c), digests(&b, &c));
        }

        #[test]
        fn null_differs_from_every_string(s in ".*") {
            let d = digests(&StringArray::from(vec![None, Some(s.as_str())]), &text());
            prop_assert_ne!(d[0], d[1]);
        }

        #[test]
        fn field_boundaries_are_unambiguous(a in "[a-c]{0,4}", b in "[a-c]{0,4}", cut in 0usize..8) {
            let joined = format!("{a}{b}");
            let cut = cut.min(joined.len());
            let (c, d) = joined.split_at(cut);
            prop_assume!(c != a);
            let x = digests(&StringArray::from(vec![a.as_str(), c]), &text());
            let y = digests(&StringArray::from(vec![b.as_str(), d]), &text());
            prop_assert_ne!(fold(fold(fold_start(2), x[0]), y[0]), fold(fold(fold_start(2), x[1]), y[1]));
        }

        #[test]
        fn any_one_field_change_changes_the_row_hash(
            row in proptest::collection::vec(any::<i64>(), 1..12),
            at in 0usize..12,
            delta in 1i64..1000,
        ) {
            let c = Codec::new(CompareAs::Numeric);
            let at = at % row.len();
            let mut changed = row.clone();
            changed[at] = changed[at].wrapping_add(delta);
            let hash = |r: &[i64]| {
                let d = digests(&Int64Array::from(r.to_vec()), &c);
                d.iter().fold(fold_start(r.len()), |h, &x| fold(h, x))
            };
            prop_assert_ne!(hash(&row), hash(&changed));
        }

        #[test]
        fn timestamps_equal_across_units(secs in -2_000_000_000i64..4_000_000_000) {
            let c = Codec::new(CompareAs::Timestamp);
            let s = TimestampSecondArray::from(vec![secs]);
            let us = TimestampMicrosecondArray::from(vec![secs * 1_000_000]).with_timezone("UTC");
            prop_assert_eq!(digests(&s, &c), digests(&us, &c));
        }
    }
}

#[test]
fn an_all_null_dictionary_chunk_is_nulls() {
    let keys = Int32Array::from(vec![None, None]);
    let values = Arc::new(StringArray::from(Vec::<&str>::new()));
    let dict = DictionaryArray::new(keys, values);
    let d = digests(&dict, &Codec::new(CompareAs::Text(TextOpts::default())));
    assert_eq!(d, vec![u64::null(), u64::null()]);
}

mod fast_paths {
    use proptest::prelude::*;

    use super::*;

    fn both(array: &dyn Array, codec: &Codec) -> (Vec<u64>, Vec<u64>) {
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        hash_column_impl::<u64>(array, codec, &mut fast, true).expect("fast");
        hash_column_impl::<u64>(array, codec, &mut slow, false).expect("generic");
        (fast, slow)
    }

    proptest! {
        #[test]
        fn fast_paths_equal_the_generic_encoding(
            v in proptest::collection::vec(proptest::option::of(any::<i64>()), 0..50),
            scale in 0i8..8,
        ) {
            let n = Codec::new(CompareAs::Numeric);
            let (a, b) = both(&Int64Array::from(v.clone()), &n);
            prop_assert_eq!(a, b);
            let small: Vec<Option<i32>> = v.iter().map(|x| x.map(|x| x as i32)).collect();
            let (a, b) = both(&Int32Array::from(small.clone()), &n);
            prop_assert_eq!(a, b);
            let dec: Vec<Option<i128>> = v.iter().map(|x| x.map(|x| i128::from(x % 1_000_000_000_000_000_000))).collect();
            let d = Decimal128Array::from(dec).with_precision_and_scale(18, scale).expect("dec");
            let (a, b) = both(&d, &n);
            prop_assert_eq!(a, b);
            let f = Codec::new(CompareAs::Float);
            let floats: Vec<Option<f64>> = v.iter().map(|x| x.map(|x| f64::from_bits(x.cast_unsigned()))).collect();
            let (a, b) = both(&Float64Array::from(floats), &f);
            prop_assert_eq!(a, b);
            let t = Codec::new(CompareAs::Timestamp);
            let (a, b) = both(&TimestampSecondArray::from(v.clone()), &t);
            prop_assert_eq!(a, b);
            let (a, b) = both(&TimestampNanosecondArray::from(v.clone()).with_timezone("UTC"), &t);
            prop_assert_eq!(a, b);
            let dt = Codec::new(CompareAs::Date);
            let (a, b) = both(&Date32Array::from(small), &dt);
            prop_assert_eq!(a, b);
            let flags: Vec<Option<bool>> = v.iter().map(|x| x.map(|x| x & 1 == 1)).collect();
            let (a, b) = both(&BooleanArray::from(flags), &Codec::new(CompareAs::Bool));
            prop_assert_eq!(a, b);
        }

        #[test]
        fn dictionary_rows_equal_their_plain_values(
            keys in proptest::collection::vec(proptest::option::of(0i32..6), 0..50),
        ) {
            // Value 4 is NULL in the dictionary itself; key 5 is out of range.
            let values = StringArray::from(vec![Some("a"), Some(""), Some("NULL"), Some("é"), None]);
            let dict = DictionaryArray::<Int32Type>::try_new(
                Int32Array::from(keys.clone()),
                Arc::new(values.clone()),
            );
            let plain: Vec<Option<&str>> = keys
                .iter()
                .map(|k| k.and_then(|k| values.iter().nth(k as usize).flatten()))
                .collect();
            let text = Codec::new(CompareAs::Text(TextOpts::default()));
            let mut expect = Vec::new();
            hash_column::<u64>(&StringArray::from(plain), &text, &mut expect).expect("plain");
            match dict {
                Ok(dict) => {
                    let mut got = Vec::new();
                    hash_column::<u64>(&dict, &text, &mut got).expect("dict");
                    prop_assert_eq!(got, expect);
                }
                // Arrow refuses out-of-range keys up front; the gather is then never reached.
                Err(_) => prop_assert!(keys.contains(&Some(5))),
            }
        }
    }
}

#[test]
fn decimal256_hashes_like_every_other_decimal() {
    let c = Codec::new(CompareAs::Numeric);
    let narrow = digests(
        &Decimal128Array::from(vec![Some(150), None, Some(-7)])
            .with_precision_and_scale(10, 2)
            .expect("dec"),
        &c,
    );
    let wide = digests(
        &Decimal256Array::from(vec![
            Some(i256::from_i128(15_000)),
            None,
            Some(i256::from_i128(-700)),
        ])
        .with_precision_and_scale(60, 4)
        .expect("dec"),
        &c,
    );
    assert_eq!(narrow, wide);
    // Past an i128 the value has its own, distinct encoding.
    let huge = i256::from_i128(i128::MAX)
        .checked_mul(i256::from_i128(1000))
        .expect("fits i256");
    let big = digests(
        &Decimal256Array::from(vec![Some(huge), Some(huge.wrapping_add(i256::ONE))])
            .with_precision_and_scale(76, 0)
            .expect("dec"),
        &c,
    );
    assert_ne!(big[0], big[1]);
}

#[test]
fn a_lossy_cast_never_equals_a_cast_value() {
    let cast = Codec {
        cast: Some(DataType::Int64),
        ..Codec::new(CompareAs::Numeric)
    };
    let legacy = digests(
        &Decimal128Array::from(vec![170, 200])
            .with_precision_and_scale(10, 2)
            .expect("dec"),
        &cast,
    );
    let target = digests(&Int64Array::from(vec![1, 2]), &cast);
    assert_ne!(legacy[0], target[0], "1.70 is not 1");
    assert_eq!(legacy[1], target[1], "2.00 is 2");
    let text = digests(&StringArray::from(vec!["abc", "7"]), &cast);
    assert_ne!(text[0], digests(&Int64Array::from(vec![0]), &cast)[0]);
    assert_eq!(text[1], digests(&Int64Array::from(vec![7]), &cast)[0]);
}

mod fixed_scale;
