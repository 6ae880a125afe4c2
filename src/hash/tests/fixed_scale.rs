//! The encoding at a column pair's fixed scale: fast and generic paths agree, numbers hash by
//! value across widths and scales, and numbers that cannot be carried keep a distinct encoding.

use proptest::prelude::*;

use super::*;

/// The digests of `array` with and without the fast paths, asserted equal.
fn hashed(array: &dyn Array, codec: &Codec) -> Vec<u64> {
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    hash_column_impl::<u64>(array, codec, &mut fast, true).expect("fast");
    hash_column_impl::<u64>(array, codec, &mut slow, false).expect("generic");
    assert_eq!(fast, slow, "{}", array.data_type());
    fast
}

fn dec128(values: Vec<Option<i128>>, p: u8, s: i8) -> Decimal128Array {
    Decimal128Array::from(values)
        .with_precision_and_scale(p, s)
        .expect("dec")
}

fn payloads(array: &dyn Array, codec: &Codec) -> Vec<(Tag, Vec<u8>)> {
    let mut out = Vec::new();
    visit(array, codec, &mut |t, p| out.push((t, p.to_vec()))).expect("visit");
    out
}

fn num(scale: u8, m: i128) -> (Tag, Vec<u8>) {
    (
        Tag::Numeric,
        payload::numeric_payload(m, scale).bytes().to_vec(),
    )
}

#[test]
fn equal_numbers_of_every_width_and_scale_hash_equal() {
    let c = Codec::new(CompareAs::Numeric).with_fixed_scale(5);
    let base = hashed(
        &Int64Array::from(vec![Some(15), Some(0), Some(-3), None]),
        &c,
    );
    assert_eq!(base[3], u64::null());
    let same: Vec<Box<dyn Array>> = vec![
        Box::new(Int8Array::from(vec![Some(15), Some(0), Some(-3), None])),
        Box::new(UInt32Array::from(vec![Some(15), Some(0), None, None])),
        Box::new(
            Decimal32Array::from(vec![Some(1500), Some(0), Some(-300), None])
                .with_precision_and_scale(9, 2)
                .expect("dec"),
        ),
        Box::new(
            Decimal64Array::from(vec![Some(1_500_000), Some(0), Some(-300_000), None])
                .with_precision_and_scale(18, 5)
                .expect("dec"),
        ),
        Box::new(dec128(vec![Some(1500), Some(0), Some(-300), None], 10, 2)),
        Box::new(dec128(
            vec![Some(1_500_000), Some(0), Some(-300_000), None],
            38,
            5,
        )),
        Box::new(dec128(vec![Some(15), Some(0), Some(-3), None], 18, 0)),
    ];
    for a in &same {
        let d = hashed(a.as_ref(), &c);
        assert_eq!(d[0], base[0], "{}", a.data_type());
        assert_eq!(d[1], base[1], "{}", a.data_type());
        assert_eq!(d[3], base[3], "{}", a.data_type());
    }
    // Every number as its mantissa at the fixed scale, trailing zeros kept.
    assert_eq!(
        payloads(&dec128(vec![Some(150), Some(0)], 10, 2), &c),
        vec![num(5, 150_000), num(5, 0)]
    );
    // Unequal numbers differ, by one unit of the fixed scale too.
    let near = hashed(&dec128(vec![Some(1_500_001), Some(1)], 38, 5), &c);
    assert_ne!(near[0], base[0]);
    assert_ne!(near[1], base[1]);
}

#[test]
fn negative_scales_are_carried_up() {
    let c = Codec::new(CompareAs::Numeric).with_fixed_scale(0);
    let hundreds = dec128(vec![Some(15), Some(-7), None], 5, -2);
    let ints = Int64Array::from(vec![Some(1500), Some(-700), None]);
    assert_eq!(hashed(&hundreds, &c), hashed(&ints, &c));
    assert_eq!(payloads(&hundreds, &c)[0], num(0, 1500));
    let c3 = Codec::new(CompareAs::Numeric).with_fixed_scale(3);
    assert_eq!(
        hashed(&hundreds, &c3),
        hashed(
            &dec128(vec![Some(1_500_000), Some(-700_000), None], 12, 3),
            &c3
        )
    );
}

#[test]
fn a_number_past_the_fixed_scale_keeps_its_normalized_encoding() {
    // u64::MAX at scale 20 needs a 40-digit mantissa: past an i128.
    let c = Codec::new(CompareAs::Numeric).with_fixed_scale(20);
    let big = u128::from(u64::MAX).cast_signed();
    let unsigned = UInt64Array::from(vec![u64::MAX]);
    let wide = dec128(vec![Some(big)], 38, 0);
    let signed = Int64Array::from(vec![i64::MAX, i64::MIN, 7]);
    for (a, m) in [
        (&unsigned as &dyn Array, big),
        (&wide, big),
        (&signed, i128::from(i64::MAX)),
    ] {
        let p = payloads(a, &c);
        // The scale byte says 0, below the fixed scale: no carried number has that payload.
        assert_eq!(p[0], num(0, m));
        assert_eq!(
            hashed(a, &c)[0],
            digests(a, &Codec::new(CompareAs::Numeric))[0]
        );
    }
    // Equal to each other across types, still.
    assert_eq!(hashed(&unsigned, &c), hashed(&wide, &c));
    // Small values of the same column are carried (the fast path fell back as a whole).
    assert_eq!(payloads(&signed, &c)[2], num(20, 7 * 10i128.pow(20)));
    // The largest number the DECIMAL(38,20) side holds is carried, and differs.
    let side = dec128(vec![Some(10i128.pow(38) - 1)], 38, 20);
    assert_eq!(payloads(&side, &c)[0], num(20, 10i128.pow(38) - 1));
    assert_ne!(hashed(&side, &c), hashed(&unsigned, &c));
}

#[test]
fn a_type_above_the_fixed_scale_is_carried_down_when_exact() {
    let c = Codec::new(CompareAs::Numeric).with_fixed_scale(2);
    let finer = dec128(vec![Some(1500), Some(1505)], 10, 3);
    let p = payloads(&finer, &c);
    assert_eq!(p[0], num(2, 150));
    // 1.505 has no mantissa at scale 2: normalized, scale byte 3.
    assert_eq!(p[1], num(3, 1505));
    assert_eq!(
        hashed(&finer, &c)[0],
        hashed(&dec128(vec![Some(150)], 10, 2), &c)[0]
    );
}

#[test]
fn an_out_of_range_decimal_takes_the_generic_path() {
    // DECIMAL(18,2) holding a value past an i64 (arrow does not check on building).
    let c = Codec::new(CompareAs::Numeric).with_fixed_scale(4);
    let odd = dec128(vec![Some(i128::from(i64::MAX) * 4), Some(1), None], 18, 2);
    let d = hashed(&odd, &c);
    assert_eq!(payloads(&odd, &c)[0], num(4, i128::from(i64::MAX) * 400));
    assert_eq!(d[1], hashed(&dec128(vec![Some(100)], 10, 4), &c)[0], "0.01");
    assert_eq!(d[2], u64::null());
}

#[test]
fn fixed_scale_payloads_read_back_as_numbers() {
    let c = Codec::new(CompareAs::Numeric).with_fixed_scale(4);
    let p = payloads(&dec128(vec![Some(-150)], 10, 2), &c);
    assert_eq!(
        numeric_from_payload(&p[0].1),
        Some((i256::from_i128(-15_000), 4))
    );
}

#[test]
fn fixed_scales_take_the_fast_path_unless_a_value_overflows() {
    let c = Codec::new(CompareAs::Numeric).with_fixed_scale(4);
    let mut out = Vec::<u64>::new();
    let money = Decimal128Array::from(vec![Some(12_300), None])
        .with_precision_and_scale(18, 4)
        .expect("dec");
    assert!(fast::digests(&money, &c, &mut out));
    assert_eq!(out.len(), 2);
    out.clear();
    assert!(fast::digests(&Int32Array::from(vec![1, 2]), &c, &mut out));
    assert_eq!(out.len(), 2);
    out.clear();
    assert!(!fast::digests(
        &Int64Array::from(vec![1, i64::MAX]),
        &c,
        &mut out
    ));
    assert!(out.is_empty(), "a fallback leaves nothing behind");
    // Past an i64 factor (10^19): the generic path.
    let c = Codec::new(CompareAs::Numeric).with_fixed_scale(19);
    assert!(!fast::digests(&Int8Array::from(vec![1]), &c, &mut out));
}

proptest! {
    #[test]
    fn fast_paths_equal_the_generic_encoding_at_fixed_scales(
        v in proptest::collection::vec(proptest::option::of(any::<i64>()), 0..50),
        scale in -3i8..8,
        extra in 0u8..22,
        digits in 0u32..19,
    ) {
        let limit = 10i64.pow(digits);
        let fixed = u8::try_from(scale.max(0)).unwrap_or(0) + extra;
        let c = Codec::new(CompareAs::Numeric).with_fixed_scale(fixed);
        let dec: Vec<Option<i128>> = v.iter().map(|x| x.map(|x| i128::from(x % limit))).collect();
        hashed(&dec128(dec, 18, scale), &c);
        hashed(&Int64Array::from(v.clone()), &Codec::new(CompareAs::Numeric).with_fixed_scale(extra));
        let small: Vec<Option<i32>> = v.iter().map(|x| x.map(|x| x as i32)).collect();
        hashed(&Int32Array::from(small), &Codec::new(CompareAs::Numeric).with_fixed_scale(extra));
    }

    #[test]
    fn numbers_hash_by_value_at_a_fixed_scale(
        a in -1_000_000_000i64..1_000_000_000,
        b in -1_000_000_000i64..1_000_000_000,
        s in 0i8..6,
        extra in 0i8..6,
    ) {
        // `a` at scale `s` against `b` at scale `s + extra`, as a pair would plan them.
        let fixed = u8::try_from(s + extra).unwrap_or(0);
        let c = Codec::new(CompareAs::Numeric).with_fixed_scale(fixed);
        let x = hashed(&dec128(vec![Some(i128::from(a))], 18, s), &c);
        let up = i128::from(b);
        let y = hashed(&dec128(vec![Some(up)], 38, s + extra), &c);
        let equal = i128::from(a) * 10i128.pow(u32::from(extra.unsigned_abs())) == up;
        prop_assert_eq!(x == y, equal);
        let same = hashed(&dec128(vec![Some(i128::from(a) * 10i128.pow(u32::from(extra.unsigned_abs())))], 38, s + extra), &c);
        prop_assert_eq!(x, same);
    }
}
