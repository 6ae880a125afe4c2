//! Value equivalence end to end: equal logical values in other physical types are never drift;
//! real differences always are.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::{Int32Type, TimeUnit};

use crate::common::*;

fn ids(n: i64) -> ArrayRef {
    Arc::new(Int64Array::from((1..=n).collect::<Vec<_>>()))
}

/// Reconciles one column pair over rows 1..=n and returns the table report.
fn compare(legacy: ArrayRef, target: ArrayRef, options: &str) -> serde_json::Value {
    let n = i64::try_from(legacy.len()).expect("len");
    let s = Scenario::new();
    s.legacy("t", batch(vec![("id", ids(n)), ("v", legacy)]));
    s.target("t", batch(vec![("id", ids(n)), ("v", target)]));
    s.config(&format!(
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\n[tables.columns.v]\n{options}\n"
    ));
    let (_, r) = run_report(&s, &[]);
    let t = table(&r, "t").clone();
    assert_identities(&t);
    t
}

fn changed(t: &serde_json::Value) -> u64 {
    t["changed"].as_u64().expect("changed")
}

#[test]
fn integers_of_any_width_and_decimals_of_any_scale() {
    let l: ArrayRef = Arc::new(Int32Array::from(vec![1, -2, 300, 0]));
    let t: ArrayRef = Arc::new(
        Decimal128Array::from(vec![100_000, -200_000, 30_000_000, 0])
            .with_precision_and_scale(20, 5)
            .expect("dec"),
    );
    assert_eq!(changed(&compare(l, t, "")), 0);
    let l: ArrayRef = Arc::new(
        Decimal128Array::from(vec![150, 1])
            .with_precision_and_scale(10, 2)
            .expect("dec"),
    );
    let t: ArrayRef = Arc::new(
        Decimal128Array::from(vec![150_000, 1_001])
            .with_precision_and_scale(20, 5)
            .expect("dec"),
    );
    assert_eq!(changed(&compare(l, t, "")), 1, "0.01 vs 0.01001 differ");
    let l: ArrayRef = Arc::new(UInt8Array::from(vec![7]));
    let t: ArrayRef = Arc::new(Int64Array::from(vec![7]));
    assert_eq!(changed(&compare(l, t, "")), 0);
}

#[test]
fn floats_by_value_nan_and_signed_zero() {
    let l: ArrayRef = Arc::new(Float32Array::from(vec![1.5, f32::NAN, -0.0, 2.25]));
    let t: ArrayRef = Arc::new(Float64Array::from(vec![1.5, f64::NAN, 0.0, 2.5]));
    let r = compare(l, t, "");
    assert_eq!(changed(&r), 1);
    let l: ArrayRef = Arc::new(Float64Array::from(vec![100.0, 100.0]));
    let t: ArrayRef = Arc::new(Float64Array::from(vec![100.0004, 100.2]));
    assert_eq!(changed(&compare(l, t, "abs_tolerance = 0.001")), 1);
    let l: ArrayRef = Arc::new(Float64Array::from(vec![1000.0, 1000.0]));
    let t: ArrayRef = Arc::new(Float64Array::from(vec![1000.5, 1002.0]));
    assert_eq!(changed(&compare(l, t, "rel_tolerance = 0.001")), 1);
}

#[test]
fn string_encodings_and_options() {
    let l: ArrayRef = Arc::new(StringArray::from(vec!["a", "ب", "c"]));
    let t: ArrayRef = Arc::new(LargeStringArray::from(vec!["a", "ب", "c"]));
    assert_eq!(changed(&compare(l, t, "")), 0);
    let l: ArrayRef = Arc::new(StringViewArray::from(vec!["a", "b"]));
    let t: ArrayRef = Arc::new(
        vec!["a", "b"]
            .into_iter()
            .collect::<DictionaryArray<Int32Type>>(),
    );
    assert_eq!(changed(&compare(l, t, "")), 0);
    let l: ArrayRef = Arc::new(StringArray::from(vec![" Ahmed ", "Cafe\u{301}", "X"]));
    let t: ArrayRef = Arc::new(StringArray::from(vec!["ahmed", "café", "y"]));
    assert_eq!(
        changed(&compare(Arc::clone(&l), Arc::clone(&t), "")),
        3,
        "byte-exact by default"
    );
    assert_eq!(
        changed(&compare(
            l,
            t,
            "trim = true\ncase_insensitive = true\nnfc = true"
        )),
        1
    );
}

#[test]
fn null_differs_from_empty_zero_and_the_word_null() {
    let l: ArrayRef = Arc::new(StringArray::from(vec![None, None, Some(""), None]));
    let t: ArrayRef = Arc::new(StringArray::from(vec![Some(""), Some("NULL"), None, None]));
    let r = compare(l, t, "");
    assert_eq!(changed(&r), 3);
    let l: ArrayRef = Arc::new(Int64Array::from(vec![None, Some(0)]));
    let t: ArrayRef = Arc::new(Int64Array::from(vec![Some(0), Some(0)]));
    assert_eq!(changed(&compare(l, t, "")), 1);
}

#[test]
fn binary_and_booleans_and_tinyint_flags() {
    let l: ArrayRef = Arc::new(BinaryArray::from(vec![&b"ab"[..], &b"c"[..]]));
    let t: ArrayRef = Arc::new(LargeBinaryArray::from(vec![&b"ab"[..], &b"d"[..]]));
    assert_eq!(changed(&compare(l, t, "")), 1);
    let l: ArrayRef = Arc::new(Int8Array::from(vec![1, 0, 2]));
    let t: ArrayRef = Arc::new(BooleanArray::from(vec![true, false, true]));
    assert_eq!(
        changed(&compare(l, t, "int_as_bool = true")),
        1,
        "2 is not a boolean"
    );
}

#[test]
fn dates_by_day() {
    let l: ArrayRef = Arc::new(Date32Array::from(vec![19_000, 19_001]));
    let t: ArrayRef = Arc::new(Date64Array::from(vec![
        19_000 * 86_400_000,
        19_000 * 86_400_000,
    ]));
    assert_eq!(changed(&compare(l, t, "")), 1);
}

#[test]
fn timestamps_by_instant_whatever_the_unit_and_zone() {
    let l: ArrayRef = Arc::new(TimestampSecondArray::from(vec![
        1_700_000_000,
        1_700_000_000,
    ]));
    let t: ArrayRef = Arc::new(
        TimestampNanosecondArray::from(vec![1_700_000_000_000_000_000, 1_700_000_001_000_000_000])
            .with_timezone("UTC"),
    );
    assert_eq!(changed(&compare(l, t, "")), 1);
    // DATETIME in Riyadh wall-clock time vs timestamptz.
    let local: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
        (1_700_000_000 + 3 * 3600) * 1_000_000,
    ]));
    let utc: ArrayRef = Arc::new(
        TimestampMicrosecondArray::from(vec![1_700_000_000 * 1_000_000]).with_timezone("+00:00"),
    );
    assert_eq!(
        changed(&compare(Arc::clone(&local), Arc::clone(&utc), "")),
        1,
        "read as UTC by default"
    );
    assert_eq!(
        changed(&compare(local, utc, "timezone = \"Asia/Riyadh\"")),
        0
    );
    let ms: ArrayRef =
        Arc::new(TimestampMillisecondArray::from(vec![5_000]).with_timezone("+03:00"));
    let s: ArrayRef = Arc::new(
        arrow::array::PrimitiveArray::<arrow::datatypes::TimestampSecondType>::from(vec![5])
            .with_data_type(arrow::datatypes::DataType::Timestamp(
                TimeUnit::Second,
                Some("UTC".into()),
            )),
    );
    assert_eq!(changed(&compare(ms, s, "")), 0);
}

#[test]
fn cross_family_needs_a_cast() {
    let l: ArrayRef = Arc::new(StringArray::from(vec!["10", "20"]));
    let t: ArrayRef = Arc::new(Int64Array::from(vec![10, 21]));
    assert_eq!(changed(&compare(l, t, "cast = \"integer\"")), 1);
}
