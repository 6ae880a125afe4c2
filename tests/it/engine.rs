//! Row classification end to end: categories, keys, renames, ignores, tolerance, SQL sides.

use std::sync::Arc;

use arrow::array::*;

use crate::common::*;

fn ids(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

fn strs(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

#[test]
fn every_category_with_both_row_identities() {
    let s = Scenario::new();
    s.legacy(
        "orders",
        batch(vec![
            ("id", ids(&[1, 2, 3, 4])),
            ("status", strs(&["a", "b", "c", "d"])),
        ]),
    );
    s.target(
        "orders",
        batch(vec![
            ("id", ids(&[4, 2, 1, 5])),
            ("status", strs(&["d", "B", "a", "e"])),
        ]),
    );
    s.config("[[tables]]\nname = \"orders\"\nkey = [\"id\"]\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "orders");
    assert_eq!(counts(t), (2, 1, 1, 1), "{t}");
    assert_identities(t);
    assert_eq!(t["columns"]["status"]["changed"], 1);
    assert_eq!(t["samples"]["changed"][0]["key"]["id"], "2");
    assert_eq!(
        t["samples"]["changed"][0]["columns"]["status"]["legacy"],
        "b"
    );
    assert_eq!(
        t["samples"]["changed"][0]["columns"]["status"]["target"],
        "B"
    );
    assert_eq!(t["samples"]["missing"][0]["key"]["id"], "3");
    assert_eq!(t["samples"]["extra"][0]["key"]["id"], "5");
    assert_eq!(code, 3, "drift over 0.5 % is a rollback");
    assert_eq!(r["verdict"], "rollback");
}

#[test]
fn identical_tables_pass_with_equal_checksums() {
    let s = Scenario::new();
    let b = batch(vec![("id", ids(&[1, 2, 3])), ("v", strs(&["x", "y", "z"]))]);
    s.legacy("t", b.clone());
    s.target(
        "t",
        batch(vec![("id", ids(&[3, 1, 2])), ("v", strs(&["z", "x", "y"]))]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let (code, r) = run_report(&s, &[]);
    assert_eq!(code, 0);
    assert_eq!(r["verdict"], "pass");
    let t = table(&r, "t");
    assert_eq!(t["checksums"]["legacy"], t["checksums"]["target"]);
}

#[test]
fn composite_keys_duplicates_and_null_keys() {
    let s = Scenario::new();
    let tenant: ArrayRef = Arc::new(Int32Array::from(vec![
        Some(1),
        Some(1),
        Some(2),
        Some(2),
        None,
    ]));
    let no: ArrayRef = Arc::new(StringArray::from(vec![
        Some("A"),
        Some("B"),
        Some("A"),
        Some("A"),
        Some("Z"),
    ]));
    let amt: ArrayRef = Arc::new(Int64Array::from(vec![10, 20, 30, 30, 99]));
    s.legacy(
        "inv",
        batch(vec![("tenant", tenant), ("no", no), ("amt", amt)]),
    );
    let tenant: ArrayRef = Arc::new(Int64Array::from(vec![
        Some(1),
        Some(1),
        Some(1),
        Some(2),
        None,
    ]));
    let no: ArrayRef = Arc::new(StringArray::from(vec![
        Some("A"),
        Some("B"),
        Some("B"),
        Some("A"),
        Some("Z"),
    ]));
    let amt: ArrayRef = Arc::new(Int64Array::from(vec![10, 20, 21, 30, 99]));
    s.target(
        "inv",
        batch(vec![("tenant", tenant), ("no", no), ("amt", amt)]),
    );
    s.config("[[tables]]\nname = \"inv\"\nkey = [\"tenant\", \"no\"]\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "inv");
    assert_identities(t);
    // (1,A) matched; (1,B) legacy {20} target {20,21}: matched + extra; (2,A) legacy x2 target x1.
    assert_eq!(counts(t), (3, 0, 1, 1), "{t}");
    assert_eq!(t["duplicate_keys"]["legacy"], 1);
    assert_eq!(t["duplicate_keys"]["target"], 1);
    assert_eq!(t["null_key_rows"]["legacy"], 1);
    assert_eq!(t["null_key_rows"]["target"], 1);
    assert_eq!(code, 3);
    let dup = t["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["metric"] == "duplicate_keys_target" && f["level"] == "critical");
    assert!(dup, "a duplicate key in the target fails by default: {t}");
}

#[test]
fn renames_and_ignores() {
    let s = Scenario::new();
    s.legacy(
        "c",
        batch(vec![
            ("id", ids(&[1, 2])),
            ("name", strs(&["a", "b"])),
            ("fax", strs(&["1", "2"])),
            ("upd", strs(&["x", "y"])),
        ]),
    );
    s.target(
        "customers",
        batch(vec![
            ("id", ids(&[1, 2])),
            ("full_name", strs(&["a", "b"])),
            ("upd", strs(&["p", "q"])),
            ("created", strs(&["n", "n"])),
        ]),
    );
    s.config("[[tables]]\nname = \"c\"\ntarget = \"customers\"\nkey = [\"id\"]\nrename = { name = \"full_name\" }\nignore = [\"upd\"]\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "c");
    assert_eq!(counts(t), (2, 0, 0, 0), "{t}");
    assert_eq!(t["schema"]["legacy_only"], serde_json::json!(["fax"]));
    assert_eq!(t["schema"]["target_only"], serde_json::json!(["created"]));
    assert_eq!(t["schema"]["ignored"], serde_json::json!(["upd"]));
    assert_eq!(t["status"], "warning", "schema findings warn by default");
    assert_eq!(code, 0, "warnings pass unless --fail-on warn");
    let (code, _) = run_report(&s, &["--fail-on", "warning"]);
    assert_eq!(code, 1);
}

#[test]
fn tolerance_compares_money_by_value() {
    let s = Scenario::new();
    let dec = |v: Vec<i128>, p: u8, sc: i8| -> ArrayRef {
        Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(p, sc)
                .expect("decimal"),
        )
    };
    s.legacy(
        "p",
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            ("amt", dec(vec![1000, 2000, 3000], 12, 2)),
            ("note", strs(&["a", "b", "c"])),
        ]),
    );
    // +0.004 within 0.005; +0.006 beyond; row 3 differs in `note` only.
    s.target(
        "p",
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            ("amt", dec(vec![100_040, 200_060, 300_000], 18, 4)),
            ("note", strs(&["a", "b", "C"])),
        ]),
    );
    s.config("[[tables]]\nname = \"p\"\nkey = [\"id\"]\n[tables.columns.amt]\nabs_tolerance = \"0.005\"\n");
    let (_, r) = run_report(&s, &[]);
    let t = table(&r, "p");
    assert_eq!(counts(t), (1, 2, 0, 0), "{t}");
    assert_eq!(t["columns"]["amt"]["changed"], 1);
    assert_eq!(t["columns"]["note"]["changed"], 1);
    assert_identities(t);

    // Without tolerance, 0.0001 is drift: a total off by a fraction of a cent must not pass.
    s.config("[[tables]]\nname = \"p\"\nkey = [\"id\"]\n");
    let (_, r) = run_report(&s, &[]);
    assert_eq!(table(&r, "p")["columns"]["amt"]["changed"], 2);
}

#[test]
fn sql_defined_sides() {
    let s = Scenario::new();
    s.legacy(
        "users",
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            ("user_type", ids(&[1, 2, 1])),
        ]),
    );
    s.legacy(
        "emails",
        batch(vec![
            ("user_id", ids(&[1, 2, 3])),
            ("email", strs(&["a@x", "b@x", "c@x"])),
        ]),
    );
    s.target(
        "accounts",
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            ("role", strs(&["Admin", "Staff", "Staff"])),
            ("email", strs(&["a@x", "b@x", "c@x"])),
        ]),
    );
    s.config(
        "[[tables]]\nname = \"accounts\"\nkey = [\"id\"]\n\
         legacy_sql = \"SELECT u.id, CASE u.user_type WHEN 1 THEN 'Admin' ELSE 'Staff' END AS role, e.email FROM users u JOIN emails e ON e.user_id = u.id\"\n",
    );
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "accounts");
    assert_eq!(t["legacy_table"], "sql");
    assert_eq!(counts(t), (2, 1, 0, 0), "{t}");
    assert_eq!(
        t["samples"]["changed"][0]["columns"]["role"]["legacy"],
        "Admin"
    );
    assert_eq!(code, 3);
}

#[test]
fn folders_of_files_and_hive_partitions() {
    let s = Scenario::new();
    let dir = s.path().join("legacy").join("events");
    write_parquet(
        &dir.join("tenant=1").join("part-0.parquet"),
        &[batch(vec![("id", ids(&[1, 2]))])],
        1,
    );
    write_parquet(
        &dir.join("tenant=2").join("part-0.parquet"),
        &[batch(vec![("id", ids(&[3]))])],
        1,
    );
    s.target(
        "events",
        batch(vec![("id", ids(&[1, 2, 3])), ("tenant", ids(&[1, 1, 3]))]),
    );
    s.config("[[tables]]\nname = \"events\"\nkey = [\"id\"]\n");
    let (_, r) = run_report(&s, &[]);
    let t = table(&r, "events");
    assert_eq!(counts(t), (2, 1, 0, 0), "{t}");
    assert_eq!(
        t["samples"]["changed"][0]["columns"]["tenant"]["legacy"],
        "2"
    );
    let files = r["inputs"][0]["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
}

#[test]
fn quick_mode_diff_without_config() {
    let s = Scenario::new();
    s.legacy(
        "orders",
        batch(vec![
            ("order_id", ids(&[1, 2])),
            ("amt", ids(&[5, 6])),
            ("junk", ids(&[0, 0])),
        ]),
    );
    s.target(
        "work_orders",
        batch(vec![("order_id", ids(&[1, 2])), ("amount", ids(&[5, 7]))]),
    );
    let out = recon()
        .arg("diff")
        .arg(s.path().join("legacy/orders.parquet"))
        .arg(s.path().join("target/work_orders.parquet"))
        .args([
            "--key",
            "order_id",
            "--rename",
            "amt=amount",
            "--ignore",
            "junk",
            "--out",
        ])
        .arg(s.path().join("out"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let t = table(&s.report(), "orders").clone();
    assert_eq!(counts(&t), (1, 1, 0, 0));
    assert_eq!(t["columns"]["amt"]["changed"], 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verdict: ROLLBACK"), "{stdout}");
}

#[test]
fn diff_out_writes_every_differing_row() {
    let s = Scenario::new();
    let n = 5000i64;
    let l: Vec<i64> = (0..n).collect();
    let t: Vec<i64> = (1..=n).collect();
    let v: Vec<i64> = (0..n)
        .map(|i| if i % 100 == 0 { i + 1 } else { i })
        .collect();
    s.legacy("t", batch(vec![("id", ids(&l)), ("v", ids(&l))]));
    let tv: Vec<i64> = t
        .iter()
        .map(|&i| {
            if i < n {
                v[usize::try_from(i).expect("idx")]
            } else {
                i
            }
        })
        .collect();
    s.target("t", batch(vec![("id", ids(&t)), ("v", ids(&tv))]));
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let diff = s.path().join("diff");
    let (_, r) = run_report(&s, &["--diff-out", diff.to_str().expect("utf8")]);
    let rep = table(&r, "t");
    assert_eq!(counts(rep), (4950, 49, 1, 1), "{rep}");
    let file = std::fs::File::open(diff.join("t.parquet")).expect("diff file");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader");
    let mut rows = 0;
    let mut categories = std::collections::BTreeMap::new();
    for b in reader {
        let b = b.expect("batch");
        rows += b.num_rows();
        let cat = b.column_by_name("category").expect("category");
        let cat = cat.as_any().downcast_ref::<StringArray>().expect("utf8");
        for c in cat.iter().flatten() {
            *categories.entry(c.to_owned()).or_insert(0) += 1;
        }
        assert!(b.column_by_name("id").is_some());
    }
    assert_eq!(rows, 51);
    assert_eq!(categories["changed"], 49);
}

#[test]
fn diff_out_streams_a_half_lost_table_in_chunks() {
    // 150,000 legacy rows, the target lost every odd key and changed every 10th: more differing
    // rows than one chunk of the writer holds, each written once with its own key.
    let s = Scenario::new();
    let n = 150_000i64;
    let l: Vec<i64> = (0..n).collect();
    let t: Vec<i64> = (0..n).filter(|i| i % 2 == 0).collect();
    let tv: Vec<i64> = t
        .iter()
        .map(|&i| if i % 10 == 0 { -i } else { i })
        .collect();
    s.legacy("t", batch(vec![("id", ids(&l)), ("v", ids(&l))]));
    s.target("t", batch(vec![("id", ids(&t)), ("v", ids(&tv))]));
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let read = |dir: &std::path::Path| -> Vec<(String, i64)> {
        let file = std::fs::File::open(dir.join("t.parquet")).expect("diff file");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        let mut rows = Vec::new();
        for b in reader {
            let b = b.expect("batch");
            let cat = b.column_by_name("category").expect("category");
            let cat = cat.as_any().downcast_ref::<StringArray>().expect("utf8");
            let id = b.column_by_name("id").expect("id");
            let id = id
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .expect("typed key");
            for (c, i) in cat.iter().zip(id.iter()) {
                rows.push((c.expect("category").to_owned(), i.expect("key")));
            }
        }
        rows
    };
    let diff = s.path().join("diff");
    let history = s.path().join("history");
    let arg = |p: &std::path::Path| p.to_str().expect("utf8").to_owned();
    let (_, r) = run_report(
        &s,
        &["--diff-out", &arg(&diff), "--history", &arg(&history)],
    );
    let rep = table(&r, "t");
    assert_eq!(counts(rep), (60_001, 15_000 - 1, 75_000, 0), "{rep}");
    let rows = read(&diff);
    let mut seen = std::collections::BTreeMap::new();
    for (c, i) in &rows {
        assert!(seen.insert(*i, c.clone()).is_none(), "key {i} twice");
    }
    assert_eq!(seen.len(), 75_000 + 15_000 - 1);
    assert!(seen.iter().all(|(i, c)| if i % 2 == 1 {
        c == "missing"
    } else {
        c == "changed" && i % 10 == 0 && *i != 0
    }));
    // Written in legacy ordinal order (here: key order).
    assert!(rows.windows(2).all(|w| w[0].1 < w[1].1));

    // A second night under a 1 MiB budget: the differing rows go through several spool buckets
    // and the key churn through several history buckets. The target finds every 4th odd row
    // again and changes every 20th row instead of every 10th.
    let t2: Vec<i64> = (0..n).filter(|i| i % 2 == 0 || i % 4 == 1).collect();
    let tv2: Vec<i64> = t2
        .iter()
        .map(|&i| if i % 20 == 0 { -i } else { i })
        .collect();
    s.target("t", batch(vec![("id", ids(&t2)), ("v", ids(&tv2))]));
    let small = s.path().join("diff-small");
    let (_, r2) = run_report(
        &s,
        &[
            "--diff-out",
            &arg(&small),
            "--history",
            &arg(&history),
            "--memory-budget",
            "1MiB",
        ],
    );
    let rep2 = table(&r2, "t");
    assert_eq!(counts(rep2), (105_001, 7_500 - 1, 37_500, 0), "{rep2}");
    let h = &rep2["history"];
    // New: none (every row differing now differed before). Resolved: the odd keys found again
    // (37,500) and the keys changed before but not now (every 10th, not every 20th: 7,500).
    assert_eq!(h["new_keys"], 0, "{h}");
    assert_eq!(h["resolved_keys"], 37_500 + 7_500, "{h}");
    assert_eq!(
        h["resolved_samples"].as_array().map(Vec::len),
        Some(5),
        "{h}"
    );
    let expect: Vec<(String, i64)> = rows
        .iter()
        .filter(|(_, i)| i % 4 == 3 || (i % 2 == 0 && i % 20 == 0))
        .cloned()
        .collect();
    assert_eq!(read(&small), expect);
}

#[test]
fn spilling_or_keeping_rows_gives_the_same_answer() {
    let s = Scenario::new();
    let n = 200_000i64;
    let l: Vec<i64> = (0..n).collect();
    let t: Vec<i64> = (0..n).rev().filter(|i| i % 1000 != 7).collect();
    let lv: Vec<String> = l.iter().map(|i| format!("v{i}")).collect();
    let tv: Vec<String> = t
        .iter()
        .map(|i| {
            if i % 777 == 0 {
                format!("w{i}")
            } else {
                format!("v{i}")
            }
        })
        .collect();
    s.legacy(
        "t",
        batch(vec![
            ("id", ids(&l)),
            ("v", Arc::new(StringArray::from(lv)) as ArrayRef),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", ids(&t)),
            ("v", Arc::new(StringArray::from(tv)) as ArrayRef),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let (_, big) = run_report(&s, &[]);
    // One thread: the legacy side is hashed whole first, so the filter is complete for the
    // target, whose changed and extra rows are kept from the hashing pass for the detail pass.
    let out = s.run(&["-j", "1", "--log", "debug"]);
    let log = stderr(&out);
    assert!(
        log.lines()
            .any(|l| l.contains("detail rows kept from the hashing pass") && !l.contains("kept=0")),
        "the detail pass must be served from kept rows: {log}"
    );
    let kept = s.report();
    // A small budget: spilled partitions, no filter, nothing kept.
    let (_, small) = run_report(&s, &["--memory-budget", "1MiB"]);
    for k in [
        "matched",
        "changed",
        "missing",
        "extra",
        "columns",
        "checksums",
        "samples",
        "explained",
    ] {
        assert_eq!(table(&big, "t")[k], table(&small, "t")[k], "{k}");
        assert_eq!(table(&kept, "t")[k], table(&small, "t")[k], "{k}");
    }
    assert_identities(table(&small, "t"));
}

#[test]
fn changed_rows_the_filter_skipped_are_read_again() {
    // With one thread the legacy side is hashed whole before the target, so the filter holds
    // every legacy (key, row hash). Key 1: legacy {x, y}, target {x, x}: one x matches, and the
    // other target x, whose digests were not stored (its pair is on the legacy side), pairs with
    // y as changed. Key 2 likewise, but within the tolerance: matched after the re-read.
    let s = Scenario::new();
    let dec = |v: Vec<i128>| -> ArrayRef {
        Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(12, 3)
                .expect("decimal"),
        )
    };
    s.legacy(
        "d",
        batch(vec![
            ("id", ids(&[1, 1, 2, 2])),
            ("v", strs(&["x", "y", "p", "p"])),
            ("amt", dec(vec![5, 5, 10_000, 10_004])),
        ]),
    );
    s.target(
        "d",
        batch(vec![
            ("id", ids(&[1, 1, 2, 2])),
            ("v", strs(&["x", "x", "p", "p"])),
            ("amt", dec(vec![5, 5, 10_000, 10_000])),
        ]),
    );
    s.config("[[tables]]\nname = \"d\"\nkey = [\"id\"]\n[tables.columns.amt]\nabs_tolerance = \"0.005\"\n");
    // The match structure's path (both sides are in key order, which the merge would take).
    let out = s.run(&["-j", "1", "--log", "info", "--no-key-order"]);
    assert!(
        stderr(&out).contains("reading again rows the stores cannot attribute"),
        "the re-read path must be taken: {}",
        stderr(&out)
    );
    let r = s.report();
    let t = table(&r, "d");
    assert_identities(t);
    assert_eq!(counts(t), (3, 1, 0, 0), "{t}");
    assert_eq!(t["columns"]["v"]["changed"], 1, "{t}");
    assert_eq!(t["columns"]["amt"]["changed"], 0, "{t}");
    assert_eq!(
        t["samples"]["changed"][0]["columns"]["v"]["legacy"], "y",
        "{t}"
    );
}
