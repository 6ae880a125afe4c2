//! Value semantics at the edges: exact numbers that went through a float, all-NULL columns,
//! floats of two widths, JSON and padded text, and counts past what an `f64` holds.

use std::sync::Arc;

use arrow::array::*;

use crate::common::*;

/// 2^53 + 1: the first integer a double cannot hold.
const PAST_2_53: i64 = 9_007_199_254_740_993;

fn dec(values: Vec<i128>, precision: u8, scale: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values)
            .with_precision_and_scale(precision, scale)
            .expect("decimal"),
    )
}

#[test]
fn an_integer_that_lost_precision_in_a_float_is_never_matched() {
    let s = Scenario::new();
    s.legacy(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, PAST_2_53, 42]))),
            ("v", Arc::new(Int64Array::from(vec![PAST_2_53, 42, 7]))),
        ]),
    );
    // The doubles nearest to the integers: 2^53 for 2^53 + 1.
    #[allow(clippy::cast_precision_loss)]
    let near = PAST_2_53 as f64;
    s.target(
        "t",
        batch(vec![
            ("id", Arc::new(Float64Array::from(vec![1.0, near, 42.0]))),
            ("v", Arc::new(Float64Array::from(vec![near, 42.0, 7.0]))),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    assert_identities(t);
    // id 1: v 2^53+1 against 2^53 changed; id 2^53+1 has no partner on either side; 42 matches.
    assert_eq!(counts(t), (1, 1, 1, 1), "{t}");
    assert_eq!(t["columns"]["v"]["changed"], 1, "{t}");
    assert_eq!(code, 3, "{t}");
    let found = &t["schema"]["exact_vs_float"];
    assert_eq!(found["id"], "legacy Int64, target Float64", "{t}");
    assert_eq!(found["v"], "legacy Int64, target Float64", "{t}");
}

#[test]
fn money_that_went_through_a_float_is_a_changed_cell_unless_the_float_holds_it() {
    let s = Scenario::new();
    s.legacy(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3]))),
            ("amount", dec(vec![10, 150, 4200], 10, 2)),
            ("n", Arc::new(Int32Array::from(vec![42, 0, -3]))),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3]))),
            ("amount", Arc::new(Float64Array::from(vec![0.1, 1.5, 42.0]))),
            ("n", Arc::new(Float32Array::from(vec![42.0, -0.0, -3.0]))),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    // 0.10 is not the double nearest to it; 1.50 and 42.00 are doubles exactly; so are the ints.
    assert_eq!(counts(t), (2, 1, 0, 0), "{t}");
    assert_eq!(t["columns"]["amount"]["changed"], 1, "{t}");
    assert_eq!(t["columns"]["n"]["changed"], 0, "{t}");
    let sample = &t["samples"]["changed"][0];
    assert_eq!(sample["key"]["id"], "1", "{t}");
    // The double shows the digits that make it differ.
    assert_eq!(sample["columns"]["amount"]["legacy"], "0.10", "{t}");
    assert_eq!(
        sample["columns"]["amount"]["target"], "0.10000000000000001",
        "{t}"
    );
    let found = &t["schema"]["exact_vs_float"];
    assert_eq!(found["amount"], "legacy Decimal128(10, 2), target Float64");
    assert_eq!(found["n"], "legacy Int32, target Float32");
    assert_eq!(code, 3);
    let terminal = String::from_utf8_lossy(&s.run(&[]).stdout).into_owned();
    assert!(
        terminal.contains("amount compares an exact number with a float"),
        "{terminal}"
    );
    let md = std::fs::read_to_string(s.path().join("out").join("report.md")).expect("report.md");
    assert!(
        md.contains("| t | `amount` | legacy Decimal128(10, 2), target Float64 |"),
        "{md}"
    );
}

#[test]
fn equal_integers_and_floats_match_with_only_a_schema_warning() {
    let s = Scenario::new();
    s.legacy(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2]))),
            ("v", Arc::new(Int64Array::from(vec![42, 1 << 60]))),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2]))),
            ("v", Arc::new(Float64Array::from(vec![42.0, 2f64.powi(60)]))),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    assert_eq!(counts(t), (2, 0, 0, 0), "{t}");
    assert_eq!(t["status"], "warning", "{t}");
    assert_eq!(t["findings"][0]["metric"], "schema_findings", "{t}");
    assert_eq!(code, 0);
}

#[test]
fn a_golden_query_compares_an_integer_with_a_float_as_the_rows_do() {
    let s = Scenario::new();
    s.legacy(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2]))),
            ("v", Arc::new(Int64Array::from(vec![PAST_2_53, 42]))),
        ]),
    );
    #[allow(clippy::cast_precision_loss)]
    let near = PAST_2_53 as f64;
    s.target(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2]))),
            ("v", Arc::new(Float64Array::from(vec![near, 42.0]))),
        ]),
    );
    let q = s.path().join("queries");
    std::fs::create_dir_all(&q).expect("mkdir");
    std::fs::write(
        q.join("ids.sql"),
        "-- key: id\nSELECT id, v FROM {side}.t\n",
    )
    .expect("write");
    std::fs::write(q.join("all.sql"), "SELECT v FROM {side}.t\n").expect("write");
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[golden]\ndir = \"queries\"\n");
    let (_, r) = run_report(&s, &[]);
    let keyed = check(&r, "golden.ids");
    assert_eq!(keyed["status"], "critical", "{keyed}");
    assert_eq!(keyed["measured"]["changed"], 1, "{keyed}");
    assert_eq!(
        keyed["measured"]["differing"][0]["columns"][0], "v",
        "{keyed}"
    );
    let multiset = check(&r, "golden.all");
    assert_eq!(multiset["status"], "critical", "{multiset}");
}

#[test]
fn an_all_null_column_from_pandas_compares_as_null_against_any_type() {
    let s = Scenario::new();
    s.legacy(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3]))),
            ("note", Arc::new(NullArray::new(3))),
            ("gone", Arc::new(NullArray::new(3))),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3]))),
            (
                "note",
                Arc::new(StringArray::from(vec![None, Some("x"), None])),
            ),
            ("gone", Arc::new(NullArray::new(3))),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    assert_identities(t);
    assert_eq!(counts(t), (2, 1, 0, 0), "{t}");
    assert_eq!(t["columns"]["note"]["changed"], 1, "{t}");
    let sample = &t["samples"]["changed"][0]["columns"]["note"];
    assert_eq!(sample["legacy"], serde_json::Value::Null, "{t}");
    assert_eq!(sample["target"], "x", "{t}");
    assert_eq!(code, 3);
}

#[test]
fn an_f32_and_an_f64_of_the_same_literal_show_the_digits_that_differ() {
    let s = Scenario::new();
    s.legacy(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2]))),
            ("rate", Arc::new(Float32Array::from(vec![0.1f32, 0.5]))),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2]))),
            ("rate", Arc::new(Float64Array::from(vec![0.1, 0.5]))),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let (_, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    assert_eq!(counts(t), (1, 1, 0, 0), "{t}");
    let rate = &t["samples"]["changed"][0]["columns"]["rate"];
    assert_eq!(rate["legacy"], "0.10000000149011612", "{t}");
    assert_eq!(rate["target"], "0.10000000000000001", "{t}");
}

#[test]
fn a_folder_whose_one_file_has_an_all_null_column_reads_as_the_other_files_type() {
    let s = Scenario::new();
    let part =
        |ids: Vec<i64>, v: ArrayRef| batch(vec![("id", Arc::new(Int64Array::from(ids))), ("v", v)]);
    let folder = s.path().join("legacy").join("t");
    write_parquet(
        &folder.join("a.parquet"),
        &[part(vec![1], Arc::new(NullArray::new(1)))],
        10,
    );
    write_parquet(
        &folder.join("b.parquet"),
        &[part(vec![2], Arc::new(Int64Array::from(vec![7])))],
        10,
    );
    s.target(
        "t",
        part(vec![1, 2], Arc::new(Int64Array::from(vec![None, Some(7)]))),
    );
    s.config(
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n[[checks]]\nid = \"sum\"\nkind = \"total\"\ntable = \"t\"\ncolumn = \"v\"\n",
    );
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    assert_eq!(counts(t), (2, 0, 0, 0), "{r}");
    assert_eq!(check(&r, "sum")["status"], "pass", "{r}");
    assert_eq!(code, 0, "{r}");
}

#[test]
fn json_that_differs_only_in_key_order_and_padded_char_match_with_their_options() {
    let s = Scenario::new();
    let rows = |doc: Vec<&str>, code: Vec<&str>| {
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3]))),
            ("doc", Arc::new(StringArray::from(doc))),
            ("code", Arc::new(StringArray::from(code))),
            ("tag", Arc::new(StringArray::from(vec!["a ", "b", "c"]))),
        ])
    };
    s.legacy(
        "t",
        rows(
            vec![r#"{"b":1,"a":[2.0,"x"]}"#, r#"{"a":1}"#, "not json"],
            vec!["AB", "C", "D"],
        ),
    );
    s.target(
        "t",
        rows(
            vec![r#"{"a": [2, "x"], "b": 1.0}"#, r#"{"a":2}"#, "not json"],
            vec!["AB        ", "C         ", " D"],
        ),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let (_, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    assert_eq!(t["columns"]["doc"]["changed"], 2, "no option: {t}");
    assert_eq!(t["columns"]["code"]["changed"], 3, "no option: {t}");
    // Per column, and per table (`"*"`), as `trim` is.
    s.config(
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\n[tables.columns.doc]\njson = true\n[tables.columns.\"*\"]\ntrim_end = true\n",
    );
    let (_, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    assert_eq!(
        t["columns"]["doc"]["changed"], 1,
        "only the value differs: {t}"
    );
    assert_eq!(
        t["columns"]["code"]["changed"], 1,
        "leading space is data: {t}"
    );
    assert_eq!(t["columns"]["tag"]["changed"], 0, "{t}");
    assert_eq!(counts(t), (1, 2, 0, 0), "{t}");
}

#[test]
fn init_proposes_json_and_trim_end_from_the_catalog_types() {
    use crate::databases::{MyDb, PgDb, snapshot};
    require!(Postgres, MariaDb);
    let mut legacy = MyDb::new();
    legacy.exec("CREATE TABLE items (id int PRIMARY KEY, code varchar(10), doc text)");
    legacy.exec(r#"INSERT INTO items VALUES (1, 'AB', '{"b":1,"a":[2.5,"x"]}'), (2, 'C', '[]')"#);
    let target = PgDb::new();
    target.exec(
        r#"CREATE TABLE items (id int PRIMARY KEY, code char(10), doc jsonb);
           INSERT INTO items VALUES (1, 'AB', '{"b":1,"a":[2.50,"x"]}'), (2, 'C', '[]');"#,
    );
    let dir = tempfile::tempdir().expect("tmp");
    for (url, root) in [(legacy.url(), "legacy"), (target.url(), "target")] {
        let o = snapshot(&[
            "--from",
            &url,
            "--out",
            dir.path().join(root).to_str().expect("utf8"),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = crate::databases::init_in(dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.path().join("recon.toml")).expect("config");
    for expected in [
        "[tables.columns.code]\ntrim_end = true  # character(10) in the target",
        "[tables.columns.doc]\njson = true  # jsonb in the target",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    let o = recon()
        .args(["run", "--config"])
        .arg(dir.path().join("recon.toml"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}\n{stdout}", stderr(&o));
    let report: serde_json::Value = crate::common::parse_report(
        &std::fs::read_to_string(dir.path().join("out").join("report.json")).expect("report"),
    );
    assert_eq!(table(&report, "items")["matched"], 2, "{report}");
}

#[test]
fn a_count_past_2_53_shows_its_exact_digits_in_every_report() {
    let s = Scenario::new();
    let rows = |v: u64| {
        batch(vec![
            ("id", Arc::new(Int64Array::from(vec![1]))),
            ("n", Arc::new(UInt64Array::from(vec![v]))),
        ])
    };
    s.legacy("t", rows(u64::MAX));
    s.target("t", rows(0));
    s.config(
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\nignore = [\"n\"]\n\n[[checks]]\nid = \"big\"\nkind = \"count\"\nlegacy_sql = \"SELECT n FROM t\"\ntarget_sql = \"SELECT n FROM t\"\n",
    );
    let out = s.run(&[]);
    let r = s.report();
    let c = check(&r, "big");
    let exact = "18446744073709551615";
    assert_eq!(c["value"].to_string(), exact, "{c}");
    assert_eq!(c["findings"][0]["value"].to_string(), exact, "{c}");
    let terminal = String::from_utf8_lossy(&out.stdout).into_owned();
    let md = std::fs::read_to_string(s.path().join("out").join("report.md")).expect("report.md");
    let html = std::fs::read_to_string(s.path().join("out").join("report.html")).expect("html");
    for (name, text) in [("terminal", &terminal), ("markdown", &md), ("html", &html)] {
        assert!(text.contains(exact), "{name}: {text}");
        assert!(!text.contains("18446744073709552000"), "{name}: {text}");
    }
    assert!(
        terminal.contains(&format!("max_abs_difference = {exact}")),
        "{terminal}"
    );
}

#[test]
fn a_bigint_and_money_migrated_to_double_precision_are_caught_between_real_servers() {
    use crate::databases::{MyDb, PgDb, snapshot};
    require!(Postgres, MariaDb);
    let mut legacy = MyDb::new();
    legacy.exec("CREATE TABLE ledger (id bigint PRIMARY KEY, ref bigint, amount decimal(12,2))");
    legacy.exec(
        "INSERT INTO ledger VALUES (1, 9007199254740993, 1.50), (2, 42, 0.10), \
         (9007199254740993, 7, 2.00)",
    );
    let target = PgDb::new();
    target.exec(
        "CREATE TABLE ledger (id double precision PRIMARY KEY, ref double precision, \
         amount double precision);
         INSERT INTO ledger VALUES (1, 9007199254740993, 1.5), (2, 42, 0.1), \
         (9007199254740993, 7, 2);",
    );
    let dir = tempfile::tempdir().expect("tmp");
    for (url, root) in [(legacy.url(), "legacy"), (target.url(), "target")] {
        let o = snapshot(&[
            "--from",
            &url,
            "--out",
            dir.path().join(root).to_str().expect("utf8"),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let config = dir.path().join("recon.toml");
    std::fs::write(
        &config,
        "[legacy]\nroot = \"legacy\"\n[target]\nroot = \"target\"\n\n[[tables]]\nname = \"ledger\"\nkey = [\"id\"]\n",
    )
    .expect("config");
    let o = recon()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let report: serde_json::Value = crate::common::parse_report(
        &std::fs::read_to_string(dir.path().join("out").join("report.json")).expect("report"),
    );
    let t = table(&report, "ledger");
    // id 1: ref lost its last bit; id 2: 0.10 became the double nearest to it; the key
    // 2^53 + 1 became 2^53, so that row is missing and another extra.
    assert_eq!(counts(t), (0, 2, 1, 1), "{t}");
    assert_eq!(t["columns"]["ref"]["changed"], 1, "{t}");
    assert_eq!(t["columns"]["amount"]["changed"], 1, "{t}");
    let found = &t["schema"]["exact_vs_float"];
    for c in ["id", "ref", "amount"] {
        assert!(found[c].is_string(), "{c}: {t}");
    }
}
