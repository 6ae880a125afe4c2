//! Micro-benchmarks of the hashing pass on seeded generated data: per-type column digests and
//! the merge of two sides' entries. The end-to-end benchmark (rows/s, peak RSS, decode floor) is
//! `benches/reconcile.sh`.

// criterion's macros define undocumented entry points.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Int64Array, StringArray, TimestampMicrosecondArray};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use recon::bench_api::{
    Codec, CompareAs, Entry, TextOpts, hash_column, merge, sort_digest_entries,
};

const ROWS: usize = 1 << 16;

fn seeded(n: usize, seed: u64) -> Vec<u64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect()
}

fn columns() -> Vec<(&'static str, ArrayRef, Codec)> {
    let r = seeded(ROWS, 42);
    let ints: ArrayRef = Arc::new(Int64Array::from_iter_values(
        r.iter().map(|v| (v >> 1).cast_signed()),
    ));
    let money: ArrayRef = Arc::new(
        Decimal128Array::from_iter_values(r.iter().map(|v| i128::from(v % 10_000_000)))
            .with_precision_and_scale(18, 3)
            .expect("decimal"),
    );
    // Two-decimal amounts in DECIMAL(18,4) (two trailing zeros each), as a pair of DECIMAL(18,2)
    // and DECIMAL(18,4) plans them: carried to the fixed scale 4, and normalized as hash
    // version 1 did, for comparison.
    let cents: ArrayRef = Arc::new(
        Decimal128Array::from_iter_values(r.iter().map(|v| i128::from(v % 10_000_000) * 100))
            .with_precision_and_scale(18, 4)
            .expect("decimal"),
    );
    let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from_iter_values(
        r.iter().map(|v| (v % (1 << 50)).cast_signed()),
    ));
    let text: ArrayRef = Arc::new(StringArray::from_iter_values(
        r.iter().map(|v| format!("customer {}", v % 100_000)),
    ));
    vec![
        ("int64", ints, Codec::new(CompareAs::Numeric)),
        ("decimal(18,3)", money, Codec::new(CompareAs::Numeric)),
        (
            "decimal(18,4) fixed scale 4",
            Arc::clone(&cents),
            Codec::new(CompareAs::Numeric).with_fixed_scale(4),
        ),
        (
            "decimal(18,4) normalized",
            cents,
            Codec::new(CompareAs::Numeric),
        ),
        ("timestamp", ts, Codec::new(CompareAs::Timestamp)),
        (
            "utf8",
            text,
            Codec::new(CompareAs::Text(TextOpts::default())),
        ),
    ]
}

fn digests(c: &mut Criterion) {
    let mut g = c.benchmark_group("column_digests");
    g.throughput(Throughput::Elements(ROWS as u64));
    for (name, array, codec) in columns() {
        let mut out = Vec::with_capacity(ROWS);
        g.bench_function(name, |b| {
            b.iter(|| {
                hash_column::<u64>(array.as_ref(), &codec, &mut out).expect("hash");
                black_box(out.len())
            });
        });
    }
    g.finish();
}

fn merging(c: &mut Criterion) {
    let n = 1 << 18;
    let r = seeded(n, 7);
    let legacy: Vec<Entry<u64>> = (0..n)
        .map(|i| Entry {
            key: i as u64,
            hash: r[i],
            ord: i as u64,
        })
        .collect();
    let mut target = legacy.clone();
    target.reverse();
    for e in target.iter_mut().step_by(1000) {
        e.hash ^= 1;
    }
    let mut g = c.benchmark_group("merge");
    g.throughput(Throughput::Elements(2 * n as u64));
    g.bench_function("sorted_merge_256k_per_side", |b| {
        b.iter(|| black_box(merge(legacy.clone(), target.clone(), 10).matched));
    });
    g.finish();
}

/// Sorting one partition of entries with digest keys (composite or text keys), as the match
/// structure does, against the plain comparison sort it replaced.
fn partition_sort(c: &mut Criterion) {
    let n = 1 << 16;
    let r = seeded(2 * n, 11);
    let entries: Vec<Entry<u128>> = (0..n)
        .map(|i| Entry {
            key: (u128::from(r[2 * i]) << 64) | u128::from(r[2 * i + 1]),
            hash: r[i],
            ord: i as u64,
        })
        .collect();
    let mut g = c.benchmark_group("partition_sort");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("digest_keys_64k_sort_unstable", |b| {
        b.iter(|| {
            let mut e = entries.clone();
            e.sort_unstable();
            black_box(e[0].ord)
        });
    });
    g.bench_function("digest_keys_64k_bucket_sort", |b| {
        b.iter(|| {
            let mut e = entries.clone();
            sort_digest_entries(&mut e);
            black_box(e[0].ord)
        });
    });
    g.finish();
}

criterion_group!(benches, digests, merging, partition_sort);
criterion_main!(benches);
