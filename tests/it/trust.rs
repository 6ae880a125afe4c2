//! No false pass anywhere: checks, golden queries and the table reader agree with the
//! row engine. Each test is named after the false pass, false alarm or crash it pins.

use std::sync::Arc;

use arrow::array::*;
use serde_json::Value;

use crate::common::*;

fn ids(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

fn reason(c: &Value) -> String {
    c["reason"].as_str().unwrap_or_default().to_owned()
}

/// `t(id, amount DOUBLE)` on both sides.
fn float_amounts(s: &Scenario, legacy: &[f64], target: &[f64]) {
    let n = |v: &[f64]| (1..=i64::try_from(v.len()).expect("small")).collect::<Vec<_>>();
    s.legacy(
        "t",
        batch(vec![
            ("id", ids(&n(legacy))),
            ("amount", Arc::new(Float64Array::from(legacy.to_vec()))),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", ids(&n(target))),
            ("amount", Arc::new(Float64Array::from(target.to_vec()))),
        ]),
    );
}

const T: &str = "[[tables]]\nname = \"t\"\nkey = [\"id\"]\n[tables.columns.amount]\nabs_tolerance = \"1000000000\"\n";

fn raw(id: &str, kind: &str, legacy: &str, target: &str, extra: &str) -> String {
    format!(
        "\n[[checks]]\nid = \"{id}\"\nkind = \"{kind}\"\nlegacy_sql = \"{legacy}\"\ntarget_sql = \"{target}\"\n{extra}"
    )
}

#[test]
fn a_raw_total_over_a_double_column_is_an_error_not_a_pass() {
    let s = Scenario::new();
    float_amounts(&s, &[100.25, 250.25], &[1_099_999.0]);
    let sum = "SELECT SUM(amount) FROM t";
    s.config(&format!(
        "{T}{}{}",
        raw("float_total", "total", sum, sum, ""),
        raw("float_count", "count", sum, sum, "")
    ));
    let (code, r) = run_report(&s, &[]);
    for id in ["float_total", "float_count"] {
        let c = check(&r, id);
        assert_eq!(c["status"], "error", "{c}");
        assert!(reason(c).contains("floats are not compared exactly"), "{c}");
        assert!(reason(c).contains("CAST"), "{c}");
    }
    assert_eq!(code, 2);
}

#[test]
fn a_raw_float_total_with_a_tolerance_compares_by_value() {
    let s = Scenario::new();
    float_amounts(&s, &[100.25, 250.25], &[1_099_999.0]);
    let sum = "SELECT SUM(amount) FROM t";
    s.config(&format!(
        "{T}{}{}",
        raw("loose", "total", sum, sum, "tolerance = \"0.01\"\n"),
        raw(
            "same",
            "total",
            sum,
            "SELECT CAST(350.505 AS DOUBLE) FROM t",
            "tolerance = \"0.01\"\n"
        )
    ));
    let (_, r) = run_report(&s, &[]);
    let loose = check(&r, "loose");
    assert_eq!(loose["status"], "critical", "{loose}");
    assert_eq!(loose["measured"]["legacy"], "350.5");
    assert_eq!(loose["measured"]["target"], "1099999");
    assert_eq!(check(&r, "same")["status"], "pass", "{r}");
}

#[test]
fn a_string_or_boolean_count_is_an_error_not_a_zero() {
    let s = Scenario::new();
    float_amounts(&s, &[1.0], &[1.0, 2.0]);
    s.config(&format!(
        "{T}{}{}",
        raw(
            "text",
            "count",
            "SELECT CAST(COUNT(*) AS VARCHAR) FROM t",
            "SELECT CAST(COUNT(*) AS VARCHAR) FROM t",
            ""
        ),
        raw(
            "flag",
            "total",
            "SELECT COUNT(*) > 0 FROM t",
            "SELECT COUNT(*) > 5 FROM t",
            ""
        )
    ));
    let (code, r) = run_report(&s, &[]);
    for id in ["text", "flag"] {
        let c = check(&r, id);
        assert_eq!(c["status"], "error", "{c}");
        assert!(reason(c).contains("not a number"), "{c}");
    }
    assert_eq!(code, 2);
}

#[test]
fn a_null_sum_is_not_zero() {
    let s = Scenario::new();
    float_amounts(&s, &[1.0], &[1.0]);
    s.config(&format!(
        "{T}{}",
        raw(
            "null_total",
            "total",
            "SELECT SUM(CAST(NULL AS DECIMAL(10,2))) FROM t",
            "SELECT CAST(0 AS DECIMAL(10,2)) FROM t",
            ""
        )
    ));
    let (code, r) = run_report(&s, &[]);
    let c = check(&r, "null_total");
    assert_eq!(c["status"], "critical", "{c}");
    assert_eq!(c["measured"]["differing_groups"][0]["legacy"], Value::Null);
    assert_eq!(c["measured"]["differing_groups"][0]["target"], "0");
    assert_eq!(code, 1);
}

#[test]
fn a_count_with_a_fraction_is_an_error_not_read_without_its_scale() {
    let s = Scenario::new();
    float_amounts(&s, &[1.0], &[1.0]);
    s.config(&format!(
        "{T}{}",
        raw(
            "fraction",
            "count",
            "SELECT CAST(1.5 AS DECIMAL(10,1)) FROM t",
            "SELECT CAST(15 AS DECIMAL(10,1)) FROM t",
            ""
        )
    ));
    let (code, r) = run_report(&s, &[]);
    let c = check(&r, "fraction");
    assert_eq!(c["status"], "error", "{c}");
    assert!(reason(c).contains("a count is a whole number"), "{c}");
    assert_eq!(code, 2);
}

#[test]
fn a_total_past_38_digits_is_exact_not_wrapped() {
    let s = Scenario::new();
    let big = |v: &[i128]| -> ArrayRef {
        Arc::new(
            Decimal128Array::from(v.to_vec())
                .with_precision_and_scale(38, 0)
                .expect("decimal"),
        )
    };
    let max = 10i128.pow(38) - 1;
    s.legacy(
        "t",
        batch(vec![("id", ids(&[1, 2])), ("amount", big(&[max, max]))]),
    );
    s.target(
        "t",
        batch(vec![("id", ids(&[1, 2])), ("amount", big(&[max, max - 1]))]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[[checks]]\nid = \"big\"\nkind = \"total\"\ntable = \"t\"\ncolumn = \"amount\"\n");
    let (code, r) = run_report(&s, &[]);
    let c = check(&r, "big");
    assert_eq!(c["status"], "critical", "{c}");
    assert_eq!(
        c["measured"]["legacy"],
        "199999999999999999999999999999999999998"
    );
    assert_eq!(
        c["measured"]["target"],
        "199999999999999999999999999999999999997"
    );
    assert_eq!(c["measured"]["differing_groups"][0]["difference"], "-1");
    assert_eq!(code, 3);
}

/// Legacy: a zone-less DATETIME in Riyadh time and an integer key; target: timestamptz in UTC
/// and a float key. The same instants and the same numbers.
fn instants(s: &Scenario) {
    let naive: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
        1_735_700_400_000_000, // 2025-01-01 03:00 in Riyadh = 00:00 UTC
        1_735_786_800_000_000,
    ]));
    let utc: ArrayRef = Arc::new(
        TimestampMicrosecondArray::from(vec![1_735_689_600_000_000, 1_735_776_000_000_000])
            .with_timezone("UTC"),
    );
    s.legacy(
        "t",
        batch(vec![
            ("id", ids(&[1, 2])),
            ("opened_at", naive),
            ("code", Arc::new(StringArray::from(vec!["a ", "b"]))),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", ids(&[1, 2])),
            ("opened_at", utc),
            ("code", Arc::new(StringArray::from(vec!["a", "b"]))),
        ]),
    );
}

#[test]
fn golden_rows_and_check_groups_compare_instants_not_rendered_text() {
    let s = Scenario::new();
    instants(&s);
    let q = s.path().join("queries");
    std::fs::create_dir_all(&q).expect("mkdir");
    std::fs::write(
        q.join("by_day.sql"),
        "-- key: opened_at\nSELECT opened_at, COUNT(*) AS n FROM {side}.t GROUP BY opened_at\n",
    )
    .expect("write");
    std::fs::write(
        q.join("float_key.legacy.sql"),
        "-- key: k\nSELECT id AS k, 2 AS v FROM t\n",
    )
    .expect("write");
    std::fs::write(
        q.join("float_key.target.sql"),
        "SELECT CAST(id AS DOUBLE) AS k, 2 AS v FROM t\n",
    )
    .expect("write");
    std::fs::write(
        q.join("codes.sql"),
        "-- key: code\n-- table: t\nSELECT code, COUNT(*) AS n FROM {side}.t GROUP BY code\n",
    )
    .expect("write");
    s.config("[defaults]\ntimezone = \"Asia/Riyadh\"\n\n[[tables]]\nname = \"t\"\nkey = [\"id\"]\n[tables.columns.code]\ntrim = true\n\n[[checks]]\nid = \"by_instant\"\nkind = \"count\"\ntable = \"t\"\ngroup_by = [\"opened_at\"]\n\n[[checks]]\nid = \"by_code\"\nkind = \"count\"\ntable = \"t\"\ngroup_by = [\"code\"]\n\n[golden]\ndir = \"queries\"\n");
    let (code, r) = run_report(&s, &[]);
    for id in [
        "by_instant",
        "by_code",
        "golden.by_day",
        "golden.float_key",
        "golden.codes",
    ] {
        assert_eq!(check(&r, id)["status"], "pass", "{id}: {}", check(&r, id));
    }
    assert_eq!(table(&r, "t")["status"], "pass", "{r}");
    assert_eq!(code, 0);
}

#[test]
fn float_tolerance_is_not_defeated_by_float_subtraction() {
    let s = Scenario::new();
    float_amounts(&s, &[1.0, 2.0], &[1.01, 2.02]);
    let q = s.path().join("queries");
    std::fs::create_dir_all(&q).expect("mkdir");
    std::fs::write(
        q.join("amounts.sql"),
        "-- key: id\n-- tolerance: amount=0.01\nSELECT id, amount FROM {side}.t\n",
    )
    .expect("write");
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n[tables.columns.amount]\nabs_tolerance = \"0.01\"\n\n[golden]\ndir = \"queries\"\n");
    let (_, r) = run_report(&s, &[]);
    let g = check(&r, "golden.amounts");
    assert_eq!(
        g["measured"]["changed"], 1,
        "1.0 vs 1.01 is within 0.01: {g}"
    );
    let t = table(&r, "t");
    assert_eq!(counts(t), (1, 1, 0, 0), "{t}");
    assert_eq!(t["columns"]["amount"]["changed"], 1);
}

#[test]
fn golden_queries_without_a_key_compare_whole_rows_as_a_multiset() {
    let s = Scenario::new();
    float_amounts(&s, &[1.0, 2.0, 2.0], &[2.0, 1.0, 2.0]);
    let q = s.path().join("queries");
    std::fs::create_dir_all(&q).expect("mkdir");
    std::fs::write(
        q.join("grand_total.sql"),
        "SELECT CAST(SUM(amount) AS DECIMAL(10,2)) AS total, COUNT(*) AS n FROM {side}.t\n",
    )
    .expect("write");
    std::fs::write(q.join("amounts.sql"), "SELECT amount FROM {side}.t\n").expect("write");
    std::fs::write(q.join("shifted.legacy.sql"), "SELECT amount FROM t\n").expect("write");
    std::fs::write(
        q.join("shifted.target.sql"),
        "SELECT amount + 1 AS amount FROM t\n",
    )
    .expect("write");
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[golden]\ndir = \"queries\"\n");
    let (code, r) = run_report(&s, &[]);
    assert_eq!(check(&r, "golden.grand_total")["status"], "pass", "{r}");
    assert_eq!(check(&r, "golden.amounts")["status"], "pass", "{r}");
    let shifted = check(&r, "golden.shifted");
    assert_eq!(shifted["status"], "critical", "{shifted}");
    // {1,2,2} against {2,3,3}: one 2 pairs; 1 and 2 against 3 and 3 differ.
    assert_eq!(shifted["measured"]["changed"], 2, "{shifted}");
    assert_eq!(code, 3);
}

#[test]
fn a_golden_result_whose_sides_have_other_columns_is_an_error() {
    let s = Scenario::new();
    float_amounts(&s, &[1.0], &[1.0]);
    let q = s.path().join("queries");
    std::fs::create_dir_all(&q).expect("mkdir");
    std::fs::write(q.join("cols.legacy.sql"), "SELECT amount FROM t\n").expect("write");
    std::fs::write(q.join("cols.target.sql"), "SELECT amount AS total FROM t\n").expect("write");
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[golden]\ndir = \"queries\"\n");
    let (code, r) = run_report(&s, &[]);
    let c = check(&r, "golden.cols");
    assert_eq!(c["status"], "error", "{c}");
    assert!(reason(c).contains("different columns"), "{c}");
    assert_eq!(code, 2);
}

#[test]
fn a_cast_to_integer_does_not_make_1_70_equal_1() {
    let s = Scenario::new();
    let money: ArrayRef = Arc::new(
        Decimal128Array::from(vec![170, 200, 300])
            .with_precision_and_scale(10, 2)
            .expect("decimal"),
    );
    s.legacy(
        "t",
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            ("amount", money),
            ("code", Arc::new(StringArray::from(vec!["12", "abc", "7"]))),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            ("amount", ids(&[1, 2, 4])),
            ("code", ids(&[12, 0, 7])),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n[tables.columns.amount]\ncast = \"integer\"\n[tables.columns.code]\ncast = \"integer\"\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    assert_eq!(counts(t), (0, 3, 0, 0), "{t}");
    assert_eq!(t["columns"]["amount"]["changed"], 2, "1.70 is not 1: {t}");
    assert_eq!(t["columns"]["code"]["changed"], 1, "`abc` is not 0: {t}");
    assert_eq!(code, 3);
}

#[test]
fn an_undocumented_cast_name_is_refused() {
    let s = Scenario::new();
    float_amounts(&s, &[1.0], &[1.0]);
    s.config(
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\n[tables.columns.amount]\ncast = \"double\"\n",
    );
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("unknown cast `double`"), "{err}");
    assert!(err.contains("string, integer, float"), "{err}");
}

/// `recon query --config <scenario> <sql> --format csv`.
fn query_csv(s: &Scenario, sql: &str) -> std::process::Output {
    recon()
        .arg("query")
        .arg("--config")
        .arg(s.path().join("recon.toml"))
        .arg(sql)
        .args(["--format", "csv"])
        .output()
        .expect("run")
}

/// Writes `<side>/<rel>`.
fn put(s: &Scenario, side: &str, rel: &str, b: RecordBatch) {
    write_parquet(&s.path().join(side).join(rel), &[b], 1 << 20);
}

fn notes(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

#[test]
fn a_column_only_later_files_carry_is_compared_not_dropped() {
    let s = Scenario::new();
    for side in ["legacy", "target"] {
        put(
            &s,
            side,
            "t/part-0.parquet",
            batch(vec![("id", ids(&[1, 2])), ("amount", ids(&[10, 20]))]),
        );
    }
    put(
        &s,
        "legacy",
        "t/part-1.parquet",
        batch(vec![
            ("id", ids(&[3, 4])),
            ("amount", ids(&[30, 40])),
            ("note", notes(&["ok", "paid"])),
        ]),
    );
    put(
        &s,
        "target",
        "t/part-1.parquet",
        batch(vec![
            ("id", ids(&[3, 4])),
            ("amount", ids(&[30, 40])),
            ("note", notes(&["ok", "unpaid"])),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[[checks]]\nid = \"by_note\"\nkind = \"count\"\ntable = \"t\"\ngroup_by = [\"note\"]\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    assert_eq!(
        t["compared_columns"],
        serde_json::json!(["amount", "note"]),
        "{t}"
    );
    assert_eq!(counts(t), (3, 1, 0, 0), "{t}");
    assert_eq!(t["columns"]["note"]["changed"], 1);
    // The check sees the same table: the rows of the first file are one NULL group.
    let c = check(&r, "by_note");
    assert_eq!(c["status"], "critical", "{c}");
    assert_eq!(c["measured"]["groups"]["legacy"], 3, "{c}");
    assert_eq!(code, 3);
    let out = query_csv(&s, "SELECT COUNT(note) AS n FROM legacy.t");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "n\n2");
}

#[test]
fn files_that_disagree_on_a_type_are_an_error_naming_both() {
    let s = Scenario::new();
    for side in ["legacy", "target"] {
        put(
            &s,
            side,
            "t/part-0.parquet",
            batch(vec![("id", ids(&[1])), ("amount", ids(&[10]))]),
        );
        put(
            &s,
            side,
            "t/part-1.parquet",
            batch(vec![("id", ids(&[2])), ("amount", notes(&["20"]))]),
        );
    }
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = s.report()["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        err.contains("part-0.parquet") && err.contains("part-1.parquet"),
        "{err}"
    );
    assert!(err.contains("`amount`"), "{err}");
}

#[test]
fn hidden_and_temporary_folders_are_not_data_for_the_engine_nor_the_checks() {
    let s = Scenario::new();
    let rows = || batch(vec![("id", ids(&[1, 2])), ("amount", ids(&[10, 20]))]);
    put(&s, "legacy", "t/part-0.parquet", rows());
    put(&s, "target", "t/part-0.parquet", rows());
    let junk = || batch(vec![("id", ids(&[7, 8, 9])), ("amount", ids(&[1, 1, 1]))]);
    put(&s, "target", "t/_temporary/0/part-0.parquet", junk());
    put(&s, "target", "t/.staging/part-0.parquet", junk());
    put(&s, "target", "t/year=2025/_part-9.parquet", junk());
    s.config(
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[[checks]]\nkind = \"count\"\ntable = \"t\"\n",
    );
    let (code, r) = run_report(&s, &[]);
    assert_eq!(counts(table(&r, "t")), (2, 0, 0, 0), "{r}");
    assert_eq!(check(&r, "counts.t")["status"], "pass", "{r}");
    assert_eq!(code, 0);
    let out = query_csv(&s, "SELECT COUNT(*) AS n FROM target.t");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "n\n2");
}

#[test]
fn a_table_name_with_dots_works_in_checks_and_queries() {
    let s = Scenario::new();
    let rows = || batch(vec![("id", ids(&[1, 2])), ("amount", ids(&[10, 20]))]);
    s.legacy("dbo.orders", rows());
    s.target("orders", rows());
    s.legacy("export.v2", rows());
    s.config("[[tables]]\nname = \"orders\"\nlegacy = \"dbo.orders\"\nkey = [\"id\"]\n\n[[checks]]\nkind = \"total\"\ntable = \"orders\"\ncolumn = \"amount\"\n");
    let (code, r) = run_report(&s, &[]);
    assert_eq!(check(&r, "totals.orders.amount")["status"], "pass", "{r}");
    assert_eq!(code, 0);
    let out = query_csv(&s, "SELECT SUM(amount) AS s FROM legacy.\"dbo.orders\"");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "s\n30",
        "{}",
        stderr(&out)
    );
}

#[test]
fn hive_partition_values_read_alike_in_the_engine_and_the_checks() {
    let s = Scenario::new();
    for side in ["legacy", "target"] {
        put(
            &s,
            side,
            "t/tenant=1/part-0.parquet",
            batch(vec![("id", ids(&[1, 2])), ("amount", ids(&[10, 20]))]),
        );
        put(
            &s,
            side,
            "t/tenant=2/part-0.parquet",
            batch(vec![("id", ids(&[3])), ("amount", ids(&[30]))]),
        );
    }
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[[checks]]\nkind = \"total\"\ntable = \"t\"\ncolumn = \"amount\"\ngroup_by = [\"tenant\"]\n");
    let (code, r) = run_report(&s, &[]);
    let c = check(&r, "totals.t.amount.by_tenant");
    assert_eq!(c["status"], "pass", "{c}");
    assert_eq!(c["measured"]["groups"]["legacy"], 2, "{c}");
    assert_eq!(code, 0);
    let out = query_csv(&s, "SELECT arrow_typeof(tenant) AS t FROM legacy.t LIMIT 1");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "t\nInt64");
}

/// A scenario whose table `t` is a committed fixture on each side.
fn fixture_pair(legacy: &str, target: &str) -> Scenario {
    let s = Scenario::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/corrupt");
    std::fs::copy(dir.join(legacy), s.path().join("legacy/t.parquet")).expect("copy");
    std::fs::copy(dir.join(target), s.path().join("target/t.parquet")).expect("copy");
    s
}

#[test]
fn a_decoder_panic_on_damaged_bytes_is_exit_2_naming_the_file_and_row_group() {
    let s = fixture_pair("clean.parquet", "damaged.parquet");
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let r = s.report();
    assert_eq!(r["verdict"], "error");
    let err = table(&r, "t")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(err.contains("target/t.parquet"), "{err}");
    assert!(err.contains("row group 0"), "{err}");
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let out = recon()
        .arg("diff")
        .arg(s.path().join("legacy/t.parquet"))
        .arg(s.path().join("target/t.parquet"))
        .args(["--key", "id"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = query_csv(&s, "SELECT SUM(amount), MAX(name) FROM target.t");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_page_checksum_mismatch_is_exit_2_not_data() {
    let s = fixture_pair("checksummed.parquet", "checksum_mismatch.parquet");
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[[checks]]\nkind = \"total\"\ntable = \"t\"\ncolumn = \"amount\"\n");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let r = s.report();
    let err = table(&r, "t")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(err.contains("checksum mismatch"), "{err}");
    let c = check(&r, "totals.t.amount");
    assert_eq!(c["status"], "error", "{c}");
    assert!(reason(c).contains("checksum mismatch"), "{c}");
}

#[test]
fn columns_that_differ_only_in_case_are_paired_and_compared() {
    let s = Scenario::new();
    s.legacy(
        "customers",
        batch(vec![
            ("CustomerId", ids(&[1, 2])),
            ("CustomerName", notes(&["Ahmed", "Sara"])),
        ]),
    );
    s.target(
        "customers",
        batch(vec![
            ("customerid", ids(&[1, 2])),
            ("customername", notes(&["Ahmed", "Sarah"])),
        ]),
    );
    s.config("[[tables]]\nname = \"customers\"\nkey = [\"CustomerId\"]\n\n[[checks]]\nid = \"by_name\"\nkind = \"count\"\ntable = \"customers\"\ngroup_by = [\"\\\"CustomerName\\\"\"]\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "customers");
    assert_eq!(counts(t), (1, 1, 0, 0), "{t}");
    assert_eq!(t["columns"]["CustomerName"]["changed"], 1, "{t}");
    assert_eq!(
        t["schema"]["paired_by_case"],
        serde_json::json!({"CustomerId": "customerid", "CustomerName": "customername"})
    );
    assert_eq!(t["schema"]["legacy_only"], serde_json::json!([]));
    assert_eq!(check(&r, "by_name")["status"], "critical", "{r}");
    assert_eq!(code, 3);
    let md = std::fs::read_to_string(s.path().join("out/report.md")).expect("md");
    assert!(md.contains("`CustomerName` = `customername`"), "{md}");
}

#[test]
fn an_ambiguous_case_pairing_is_an_error_naming_both_columns() {
    let s = Scenario::new();
    s.legacy("t", batch(vec![("id", ids(&[1])), ("Name", notes(&["a"]))]));
    s.target(
        "t",
        batch(vec![
            ("id", ids(&[1])),
            ("name", notes(&["a"])),
            ("NAME", notes(&["a"])),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = s.report()["error"].as_str().unwrap_or_default().to_owned();
    assert!(err.contains("`Name`"), "{err}");
    assert!(err.contains("`name`") && err.contains("`NAME`"), "{err}");
}

#[test]
fn outputs_inside_a_snapshot_root_are_refused_and_nothing_is_written() {
    let s = Scenario::new();
    let rows = || batch(vec![("id", ids(&[1, 2])), ("amount", ids(&[10, 20]))]);
    s.legacy("t", rows());
    s.target("t", rows());
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let before = std::fs::read(s.path().join("target/t.parquet")).expect("read");
    let config = s.path().join("recon.toml");
    let inside = |rel: &str| s.path().join(rel).display().to_string();
    for args in [
        vec!["--out", &inside("target")],
        vec!["--out", &inside("legacy/reports")],
        vec!["--out", &inside("out"), "--diff-out", &inside("target")],
        vec![
            "--out",
            &inside("out"),
            "--history",
            &inside("legacy/../target/h"),
        ],
    ] {
        let out = recon()
            .arg("run")
            .arg("--config")
            .arg(&config)
            .args(&args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let text = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
        assert!(
            text.contains("recon never writes into a snapshot"),
            "{args:?}: {text}"
        );
    }
    assert!(!s.path().join("target/report.json").exists());
    assert!(!s.path().join("legacy/reports").exists());
    assert!(!s.path().join("target/t.parquet.parquet").exists());
    assert_eq!(
        std::fs::read(s.path().join("target/t.parquet")).expect("read"),
        before
    );
    let out = recon()
        .arg("query")
        .arg("--config")
        .arg(&config)
        .args(["SELECT * FROM legacy.t", "--format", "parquet", "--output"])
        .arg(s.path().join("target/t.parquet"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--output"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(s.path().join("target/t.parquet")).expect("read"),
        before
    );
}

#[test]
fn gen_refuses_a_folder_that_is_not_empty_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("keep.txt"), "mine").expect("write");
    let generate = |force: bool| {
        let mut cmd = recon();
        cmd.args(["gen", "--rows", "50", "--out"]).arg(dir.path());
        if force {
            cmd.arg("--force");
        }
        cmd.output().expect("gen")
    };
    let out = generate(false);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
    assert!(!dir.path().join("recon.toml").exists());
    assert_eq!(generate(true).status.code(), Some(0));
    assert!(dir.path().join("recon.toml").exists());
}

const PHONES: [&str; 3] = ["+966501234567", "+966559876543", "+966533333333"];

/// Customers with phone numbers; the target renames the column and changes one number.
fn customers(s: &Scenario) {
    s.legacy(
        "customers",
        batch(vec![("id", ids(&[1, 2, 3])), ("phone", notes(&PHONES))]),
    );
    s.target(
        "customers",
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            (
                "phone_number",
                notes(&[PHONES[0], PHONES[1], "+966544444444"]),
            ),
        ]),
    );
    let q = s.path().join("queries");
    std::fs::create_dir_all(&q).expect("mkdir");
    std::fs::write(
        q.join("aliased.legacy.sql"),
        "-- key: id\nSELECT id, phone AS p FROM customers\n",
    )
    .expect("write");
    std::fs::write(
        q.join("aliased.target.sql"),
        "SELECT id, phone_number AS p FROM customers\n",
    )
    .expect("write");
    std::fs::write(
        q.join("nested.sql"),
        "-- key: id\nSELECT id, (SELECT MAX(c2.id) FROM {side}.customers c2) AS n, lower(x) AS y FROM (SELECT id, 'v' || p AS x FROM (SELECT id, CAST(id AS VARCHAR) AS p FROM {side}.customers)) t\n",
    )
    .expect("write");
    s.config("[[tables]]\nname = \"customers\"\nkey = [\"id\"]\nrename = { phone = \"phone_number\" }\nredact = [\"phone\"]\n\n[[checks]]\nid = \"by_phone\"\nkind = \"count\"\ntable = \"customers\"\ngroup_by = [\"upper(phone)\"]\n\n[[checks]]\nid = \"cast_phone\"\nkind = \"count\"\ntable = \"customers\"\ngroup_by = [\"CAST(phone || 'x' AS BIGINT)\"]\n\n[golden]\ndir = \"queries\"\n");
}

fn everything_written(s: &Scenario, out: &std::process::Output) -> String {
    let mut text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out));
    for f in [
        "report.json",
        "report.md",
        "report.html",
        "report.junit.xml",
    ] {
        text.push_str(&std::fs::read_to_string(s.path().join("out").join(f)).unwrap_or_default());
    }
    text
}

#[test]
fn redaction_follows_aliases_expressions_and_error_messages() {
    let s = Scenario::new();
    customers(&s);
    let out = s.run(&["--log", "debug"]);
    let all = everything_written(&s, &out);
    for phone in PHONES.iter().chain(&["+966544444444"]) {
        assert!(!all.contains(phone), "{phone} leaked: {all}");
    }
    let r = s.report();
    let aliased = check(&r, "golden.aliased");
    let shown = aliased["measured"]["differing"][0]["legacy"]["p"]
        .as_str()
        .expect("p");
    assert!(
        shown.starts_with("redacted:") && shown.len() == "redacted:".len() + 16,
        "{shown}"
    );
    // A column that reads no redacted column is shown as it is.
    assert_eq!(check(&r, "golden.nested")["status"], "pass", "{r}");
    let by_phone = check(&r, "by_phone");
    let group = by_phone["measured"]["differing_groups"][0]["group"][0]
        .as_str()
        .expect("group");
    assert!(group.starts_with("redacted:"), "{by_phone}");
    assert_eq!(check(&r, "cast_phone")["status"], "error", "{r}");
    assert_eq!(r["run"]["redaction_key"], "per_run");
}

#[test]
fn redaction_digests_are_keyed_and_stable_where_the_key_is_kept() {
    let s = Scenario::new();
    customers(&s);
    let digest = |args: &[&str], key: Option<&str>| -> (String, Value) {
        let mut cmd = recon();
        cmd.arg("run")
            .arg("--config")
            .arg(s.path().join("recon.toml"))
            .arg("--out")
            .arg(s.path().join("out"))
            .args(args)
            .env_remove("RECON_REDACTION_KEY");
        if let Some(k) = key {
            cmd.env("RECON_REDACTION_KEY", k);
        }
        cmd.output().expect("run");
        let r = s.report();
        let sample = table(&r, "customers")["samples"]["changed"][0]["columns"]["phone"]["legacy"]
            .as_str()
            .expect("sample")
            .to_owned();
        (sample, r["run"]["redaction_key"].clone())
    };
    let (a, source) = digest(&[], None);
    let (b, _) = digest(&[], None);
    assert_eq!(source, "per_run");
    assert_ne!(a, b, "a key per run: digests differ between runs");
    let history = s.path().join("history").display().to_string();
    let (c, source) = digest(&["--history", &history], None);
    let (d, _) = digest(&["--history", &history], None);
    assert_eq!(source, "history");
    assert_eq!(c, d, "the history folder keeps its key");
    assert!(s.path().join("history/redaction.key").exists());
    let (e, source) = digest(&[], Some("team secret"));
    let (f, _) = digest(&["--history", &history], Some("team secret"));
    let (g, _) = digest(&[], Some("another secret"));
    assert_eq!(source, "env");
    assert_eq!(e, f);
    assert_ne!(e, g);
}

#[test]
fn check_details_are_tables_not_json_text() {
    let s = Scenario::new();
    s.legacy(
        "t",
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            ("tenant", ids(&[1, 1, 2])),
            ("amount", ids(&[10, 20, 30])),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            ("tenant", ids(&[1, 1, 2])),
            ("amount", ids(&[10, 25, 30])),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[[checks]]\nkind = \"total\"\ntable = \"t\"\ncolumn = \"amount\"\ngroup_by = [\"tenant\"]\n\n[[checks]]\nid = \"raw\"\nkind = \"total\"\nlegacy_sql = \"SELECT tenant AS branch, SUM(amount) FROM t GROUP BY 1\"\ntarget_sql = \"SELECT tenant AS branch, SUM(amount) FROM t GROUP BY 1\"\n");
    let (code, r) = run_report(&s, &[]);
    assert_eq!(code, 3);
    assert_eq!(
        check(&r, "raw")["measured"]["group_by"],
        serde_json::json!(["branch"])
    );
    let md = std::fs::read_to_string(s.path().join("out/report.md")).expect("md");
    assert!(md.contains("## Check details"), "{md}");
    assert!(
        md.contains("| tenant | legacy | target | difference |"),
        "{md}"
    );
    assert!(md.contains("| 1 | 30 | 35 | 5 |"), "{md}");
    assert!(
        md.contains("| branch | legacy | target | difference |"),
        "{md}"
    );
    let html = std::fs::read_to_string(s.path().join("out/report.html")).expect("html");
    assert!(
        html.contains("<table class=\"detail\"><tr><th>tenant</th><th>legacy</th><th>target</th><th>difference</th></tr><tr><td>1</td><td>30</td><td>35</td><td>5</td></tr></table>"),
        "{html}"
    );
    assert!(!html.contains("&quot;legacy&quot;"), "no JSON text: {html}");
}

#[test]
fn a_raw_sql_sum_past_38_digits_is_exact_not_wrapped() {
    let s = Scenario::new();
    let big = |v: &[i128]| -> ArrayRef {
        Arc::new(
            Decimal128Array::from(v.to_vec())
                .with_precision_and_scale(38, 2)
                .expect("decimal"),
        )
    };
    let max = 10i128.pow(38) - 1;
    s.legacy(
        "t",
        batch(vec![("id", ids(&[1, 2])), ("amount", big(&[max, max]))]),
    );
    s.target(
        "t",
        batch(vec![("id", ids(&[1, 2])), ("amount", big(&[max, max - 1]))]),
    );
    let q = s.path().join("queries");
    std::fs::create_dir_all(&q).expect("mkdir");
    std::fs::write(
        q.join("total.sql"),
        "SELECT SUM(amount) AS total FROM {side}.t\n",
    )
    .expect("write");
    let ints = "SELECT SUM(CAST(9000000000000000000 AS BIGINT) + id) FROM t";
    s.config(&format!(
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\n{}{}\n[golden]\ndir = \"queries\"\n",
        raw(
            "raw_total",
            "total",
            "SELECT SUM(amount) FROM t",
            "SELECT SUM(amount) FROM t",
            ""
        ),
        raw("big_ints", "total", ints, ints, ""),
    ));
    let (_, r) = run_report(&s, &[]);
    let c = check(&r, "raw_total");
    assert_eq!(c["status"], "critical", "{c}");
    assert_eq!(
        c["measured"]["legacy"],
        "1999999999999999999999999999999999999.98"
    );
    assert_eq!(c["measured"]["differing_groups"][0]["difference"], "-0.01");
    let g = check(&r, "golden.total");
    assert_eq!(g["status"], "critical", "{g}");
    assert_eq!(
        g["measured"]["differing"][0]["legacy"]["total"],
        "1999999999999999999999999999999999999.98"
    );
    let ints = check(&r, "big_ints");
    assert_eq!(ints["status"], "pass", "{ints}");
    assert_eq!(
        ints["measured"]["legacy"], "18000000000000000003",
        "no BIGINT wrap: {ints}"
    );
}

#[test]
fn a_redacted_key_never_reaches_the_history_in_any_form() {
    let s = Scenario::new();
    let national = |v: &[&str]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
    s.legacy(
        "people",
        batch(vec![
            ("national_id", national(&["1012345678", "1098765432"])),
            ("city", notes(&["Riyadh", "Jeddah"])),
        ]),
    );
    s.target(
        "people",
        batch(vec![
            ("national_id", national(&["1012345678", "1098765432"])),
            ("city", notes(&["Riyadh", "Dammam"])),
        ]),
    );
    s.config(
        "[[tables]]\nname = \"people\"\nkey = [\"national_id\"]\nredact = [\"national_id\"]\n",
    );
    let history = s.path().join("history");
    for _ in 0..2 {
        let out = s.run(&["--history", &history.display().to_string()]);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    }
    let out = recon()
        .arg("query")
        .arg("--legacy")
        .arg(&history)
        .arg("--target")
        .arg(&history)
        .args(["SELECT digest, key FROM legacy.keys", "--format", "csv"])
        .output()
        .expect("query");
    let keys = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<&str> = keys.lines().skip(1).collect();
    assert!(!rows.is_empty(), "{keys}{}", stderr(&out));
    for row in rows {
        // The key's identity is keyed too: an unkeyed digest of an id is found by trying ids.
        assert!(row.starts_with("redacted:"), "{row}");
    }
    for id in ["1012345678", "1098765432"] {
        assert!(!keys.contains(id), "{keys}");
    }
    let listed = recon()
        .args(["history", "--history"])
        .arg(&history)
        .output()
        .expect("history");
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("1098765432"));
}

#[test]
fn orphan_samples_come_in_value_order_whatever_the_join_schedules() {
    let s = Scenario::new();
    let rows = || batch(vec![("id", ids(&[1, 2])), ("name", notes(&["a", "b"]))]);
    s.legacy("parents", rows());
    s.target("parents", rows());
    for side in ["legacy", "target"] {
        for part in 0..4i64 {
            let base = part * 10;
            put(
                &s,
                side,
                &format!("children/part-{part}.parquet"),
                batch(vec![
                    ("cid", ids(&[base + 3, base + 1, base + 2])),
                    ("parent_id", ids(&[1, 90 + base, 80 + base])),
                ]),
            );
        }
    }
    s.config("[[tables]]\nname = \"parents\"\nkey = [\"id\"]\n\n[[tables]]\nname = \"children\"\nkey = [\"cid\"]\n\n[[checks]]\nid = \"orphans\"\nkind = \"orphan\"\ntable = \"children\"\ncolumns = [\"parent_id\"]\nparent = \"parents\"\n\n[report]\nsamples = 20\n");
    let (_, r) = run_report(&s, &["-j", "2"]);
    let samples = check(&r, "orphans")["measured"]["samples"]["legacy"].clone();
    let cids: Vec<i64> = samples
        .as_array()
        .expect("samples")
        .iter()
        .map(|o| o["cid"].as_str().expect("cid").parse().expect("int"))
        .collect();
    let mut sorted = cids.clone();
    sorted.sort_unstable();
    assert_eq!(cids.len(), 8, "{samples}");
    assert_eq!(cids, sorted, "{samples}");
}

#[test]
fn hive_values_are_percent_decoded_and_the_default_partition_is_null() {
    let s = Scenario::new();
    for side in ["legacy", "target"] {
        put(
            &s,
            side,
            "t/city=Al%20Khobar/part-0.parquet",
            batch(vec![("id", ids(&[1]))]),
        );
        put(
            &s,
            side,
            "t/city=__HIVE_DEFAULT_PARTITION__/part-0.parquet",
            batch(vec![("id", ids(&[2]))]),
        );
    }
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[[checks]]\nkind = \"count\"\ntable = \"t\"\ngroup_by = [\"city\"]\n");
    let (code, r) = run_report(&s, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(
        table(&r, "t")["compared_columns"],
        serde_json::json!(["city"])
    );
    let out = query_csv(&s, "SELECT id, city FROM legacy.t ORDER BY id");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "id,city\n1,Al Khobar\n2,"
    );
}

#[test]
fn a_sql_side_that_fails_on_a_redacted_value_does_not_quote_it() {
    let s = Scenario::new();
    customers(&s);
    s.config("[[tables]]\nname = \"customers\"\nkey = [\"id\"]\nlegacy_sql = \"SELECT id, CAST(phone || 'x' AS BIGINT) AS phone FROM customers\"\ntarget_sql = \"SELECT id, phone_number AS phone FROM customers\"\nredact = [\"phone\"]\n");
    let out = s.run(&["--log", "debug"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let all = everything_written(&s, &out);
    for phone in PHONES {
        assert!(!all.contains(phone), "{phone} leaked: {all}");
    }
    assert!(
        s.report()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("legacy query"),
        "{all}"
    );
}

#[test]
fn a_history_file_missing_a_column_is_an_error_not_a_default() {
    let s = Scenario::new();
    let rows = || batch(vec![("id", ids(&[1, 2])), ("amount", ids(&[10, 20]))]);
    s.legacy("t", rows());
    s.target("t", rows());
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let history = s.path().join("history");
    let out = s.run(&["--history", &history.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A run file written by something else: no verdict, no drift.
    write_parquet(
        &history.join("runs/0000-broken.parquet"),
        &[batch(vec![
            ("run_id", notes(&["x"])),
            ("kind", notes(&["table"])),
        ])],
        1024,
    );
    let listed = recon()
        .args(["history", "--history"])
        .arg(&history)
        .output()
        .expect("run");
    assert_eq!(listed.status.code(), Some(2), "{}", stderr(&listed));
    assert!(
        stderr(&listed).contains("0000-broken.parquet"),
        "{}",
        stderr(&listed)
    );
    assert!(
        stderr(&listed).contains("`started_at`"),
        "{}",
        stderr(&listed)
    );
    let out = s.run(&["--history", &history.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        s.report()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("0000-broken.parquet"),
        "{}",
        s.report()
    );
}
