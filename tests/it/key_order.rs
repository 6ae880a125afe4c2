//! Pairs whose two sides are in key order are merged as a stream: the report (samples, drift
//! classes and `--diff-out` included) must be the one the match structure gives, whatever the
//! multisets, duplicates, NULL keys, tolerances, file splits and row groups; a row out of order
//! must send the pair back to the general path, never to a verdict from a broken merge.

use std::sync::Arc;

use arrow::array::*;
use proptest::prelude::*;
use serde_json::Value;

use crate::common::*;

/// One row: composite key `(a, b)` (`b` may be NULL), a plain column and an amount in cents.
pub(crate) type Row = (i64, Option<String>, i64, i64);

/// Sorts rows by key as the merge compares keys: `a` by value, then `b` bytewise.
fn sort_by_key(rows: &mut [Row]) {
    rows.sort_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
}

/// Writes a side as files that each hold a key range, named in reverse key order (so that only
/// the footers' statistics can put them in order).
pub(crate) fn write_side(
    dir: &std::path::Path,
    rows: &[Row],
    files: usize,
    row_group: usize,
    legacy: bool,
) {
    // Cut only where `a` changes: the footers order row groups by their first key column.
    let mut cuts = vec![0];
    let want = rows.len().div_ceil(files.max(1)).max(1);
    for i in 1..rows.len() {
        if i - cuts[cuts.len() - 1] >= want && rows[i].0 != rows[i - 1].0 {
            cuts.push(i);
        }
    }
    cuts.push(rows.len());
    let n = cuts.len() - 1;
    for (f, w) in cuts.windows(2).enumerate() {
        write_parquet(
            &dir.join(format!("part-{}.parquet", n - 1 - f)),
            &[side_batch(&rows[w[0]..w[1]], legacy)],
            row_group.max(1),
        );
    }
}

/// A side's rows as a batch: `a` is `Int32` on the legacy side and `Int64` on the target,
/// amounts `DECIMAL(18,2)` and `DECIMAL(20,4)`.
fn side_batch(rows: &[Row], legacy: bool) -> RecordBatch {
    let a: ArrayRef = if legacy {
        Arc::new(Int32Array::from(
            rows.iter()
                .map(|r| i32::try_from(r.0).expect("small"))
                .collect::<Vec<_>>(),
        ))
    } else {
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ))
    };
    let b: ArrayRef = Arc::new(StringArray::from(
        rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
    ));
    let v: ArrayRef = Arc::new(Int64Array::from(
        rows.iter().map(|r| r.2).collect::<Vec<_>>(),
    ));
    let (precision, scale, factor) = if legacy { (18, 2, 1) } else { (20, 4, 100) };
    let amt: ArrayRef = Arc::new(
        Decimal128Array::from(
            rows.iter()
                .map(|r| i128::from(r.3) * factor)
                .collect::<Vec<_>>(),
        )
        .with_precision_and_scale(precision, scale)
        .expect("decimal"),
    );
    batch(vec![("a", a), ("b", b), ("v", v), ("amt", amt)])
}

pub(crate) const CONFIG: &str = "[[tables]]\nname = \"t\"\nkey = [\"a\", \"b\"]\n\n\
    [tables.columns.amt]\nabs_tolerance = \"0.01\"\n";

/// One run: (exit code, the table's report, the `--diff-out` rows as text, stderr).
fn run(s: &Scenario, name: &str, extra: &[&str]) -> (i32, Value, String, String) {
    let out_dir = s.path().join(name);
    let diff_dir = s.path().join(format!("{name}-diff"));
    let out = recon()
        .env("RUST_LOG", "recon=info")
        .arg("run")
        .arg("--config")
        .arg(s.path().join("recon.toml"))
        .arg("--out")
        .arg(&out_dir)
        .arg("--diff-out")
        .arg(&diff_dir)
        .args(extra)
        .output()
        .expect("run recon");
    let code = out.status.code().expect("exit code");
    let text = std::fs::read_to_string(out_dir.join("report.json")).expect("report.json");
    let report = parse_report(&text);
    assert_ne!(report["verdict"], "error", "{report}\n{}", stderr(&out));
    (
        code,
        table(&report, "t").clone(),
        diff_rows(&diff_dir),
        stderr(&out),
    )
}

/// Every row of the `--diff-out` files, printed.
pub(crate) fn diff_rows(dir: &std::path::Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "parquet"));
    files.sort();
    let mut out = String::new();
    for f in files {
        let file = std::fs::File::open(&f).expect("open");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
        out.push_str(
            &f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        out.push('\n');
        out.push_str(
            &arrow::util::pretty::pretty_format_batches(&batches)
                .expect("print")
                .to_string(),
        );
    }
    out
}

const MERGED: &str = "merged in key order";

/// Runs the pair both ways (the merge on `threads` workers, so in as many as 4 × `threads` key
/// segments): the merge must have run, and both reports must be one.
fn assert_same_both_ways(s: &Scenario, threads: usize) -> (i32, Value) {
    let threads = threads.to_string();
    let (code, merged, merged_diff, log) = run(s, "merged", &["-j", &threads]);
    assert!(log.contains(MERGED), "the merge did not run:\n{log}");
    let (general_code, general, general_diff, general_log) = run(s, "general", &["--no-key-order"]);
    assert!(!general_log.contains(MERGED), "{general_log}");
    assert_eq!(code, general_code);
    assert_eq!(merged, general);
    assert_eq!(merged_diff, general_diff);
    (code, merged)
}

pub(crate) fn row() -> impl Strategy<Value = Row> {
    (
        0i64..12,
        proptest::option::weighted(0.9, "[a-c]{0,2}"),
        -3i64..3,
        -500i64..500,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20, ..ProptestConfig::default() })]

    #[test]
    fn the_merge_in_key_order_gives_the_general_paths_report(
        legacy in proptest::collection::vec(row(), 1..80),
        edits in proptest::collection::vec((0usize..100, 0u8..6, row()), 0..25),
        layout in (1usize..4, 1usize..20, 1usize..4, 1usize..20),
        threads in 1usize..5,
    ) {
        let mut target = legacy.clone();
        for (at, op, new) in edits {
            if target.is_empty() {
                target.push(new);
                continue;
            }
            let i = at % target.len();
            match op {
                0 => { target.remove(i); }
                1 => target[i].2 += 1,
                // Within the amount's tolerance: still matched.
                2 => target[i].3 += 1,
                3 => target[i].3 += 100,
                4 => { let dup = target[i].clone(); target.push(dup); }
                _ => target.push(new),
            }
        }
        let mut legacy = legacy;
        sort_by_key(&mut legacy);
        sort_by_key(&mut target);
        prop_assume!(!target.is_empty());
        // At least a legacy row group per worker, or the match structure is the better path.
        let threads = threads.min(legacy.len());
        let row_group = layout.1.min(legacy.len() / threads);
        let s = Scenario::new();
        write_side(&s.path().join("legacy/t"), &legacy, layout.0, row_group, true);
        write_side(&s.path().join("target/t"), &target, layout.2, layout.3, false);
        s.config(CONFIG);
        let (_, t) = assert_same_both_ways(&s, threads);
        assert_identities(&t);
    }
}

/// Rows from a small sorted table with drift of every kind, NULL keys and duplicates.
pub(crate) fn drifted() -> (Vec<Row>, Vec<Row>) {
    let legacy: Vec<Row> = (0..300)
        .map(|i| {
            let b = (i % 7 != 0).then(|| format!("k{}", i % 5));
            (i / 3, b, i % 11, i * 7)
        })
        .collect();
    let mut target = legacy.clone();
    target.retain(|r| r.0 % 40 != 5);
    for r in target.iter_mut().filter(|r| r.0 % 25 == 3) {
        r.2 += 1;
    }
    target.push((1000, Some("new".into()), 0, 0));
    let mut legacy = legacy;
    sort_by_key(&mut legacy);
    sort_by_key(&mut target);
    (legacy, target)
}

#[test]
fn drift_of_every_kind_is_reported_alike_in_key_order() {
    let (legacy, target) = drifted();
    let s = Scenario::new();
    write_side(&s.path().join("legacy/t"), &legacy, 3, 17, true);
    write_side(&s.path().join("target/t"), &target, 2, 29, false);
    s.config(CONFIG);
    let (code, t) = assert_same_both_ways(&s, 3);
    assert_eq!(code, 3, "{t}");
    let (matched, changed, missing, extra) = counts(&t);
    assert!(
        matched > 0 && changed > 0 && missing > 0 && extra > 0,
        "{t}"
    );
    assert!(t["null_key_rows"]["legacy"].as_u64() > Some(0), "{t}");
}

#[test]
fn a_row_out_of_key_order_sends_the_pair_to_the_general_path() {
    let (mut legacy, target) = drifted();
    // Two rows of one row group swapped: the footers still say the row groups are in order.
    legacy.swap(150, 152);
    let s = Scenario::new();
    write_side(&s.path().join("legacy/t"), &legacy, 1, 30, true);
    write_side(&s.path().join("target/t"), &target, 1, 30, false);
    s.config(CONFIG);
    let (code, merged, merged_diff, log) = run(&s, "merged", &[]);
    assert!(log.contains("out of key order"), "{log}");
    assert!(!log.contains(MERGED), "{log}");
    let (general_code, general, general_diff, _) = run(&s, "general", &["--no-key-order"]);
    assert_eq!((code, &merged), (general_code, &general));
    assert_eq!(merged_diff, general_diff);
}

#[test]
fn row_groups_whose_ranges_overlap_take_the_general_path() {
    let (legacy, sorted) = drifted();
    // Every other row, then the rest: each row group of the target spans most of the keys.
    let (evens, odds): (Vec<_>, Vec<_>) = sorted
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let target: Vec<Row> = evens.into_iter().chain(odds).map(|(_, r)| r).collect();
    let s = Scenario::new();
    write_side(&s.path().join("legacy/t"), &legacy, 1, 50, true);
    write_parquet(
        &s.path().join("target/t/part-0.parquet"),
        &[side_batch(&target, false)],
        50,
    );
    s.config(CONFIG);
    let (_, merged, _, log) = run(&s, "merged", &[]);
    assert!(!log.contains(MERGED), "{log}");
    assert!(!log.contains("out of key order"), "{log}");
    let (_, general, _, _) = run(&s, "general", &["--no-key-order"]);
    assert_eq!(merged, general);
}
