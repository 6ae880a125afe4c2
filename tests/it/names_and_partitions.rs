//! Names and values at the edges: `init` pairs exact names before loose ones, hostile names
//! never act on a terminal, Markdown or XML reader, and hive partition values read one way.

use std::fmt::Write;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use serde_json::Value;

use crate::common::{Scenario, batch, recon, run_report, stderr, table, write_parquet};

fn ids(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

fn texts(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

/// Writes `<side>/<rel>`.
fn put(s: &Scenario, side: &str, rel: &str, b: RecordBatch) {
    write_parquet(&s.path().join(side).join(rel), &[b], 1 << 20);
}

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

/// `recon init` on the scenario's snapshots, writing the config to `out`.
fn init_into(s: &Scenario, out: &std::path::Path) -> std::process::Output {
    recon()
        .arg("init")
        .arg("--legacy")
        .arg(s.path().join("legacy"))
        .arg("--target")
        .arg(s.path().join("target"))
        .arg("--out")
        .arg(out)
        .output()
        .expect("init")
}

/// `recon init` on the scenario's snapshots, then `recon run` on what it wrote.
fn init_then_run(s: &Scenario) -> (String, std::process::Output) {
    let config = s.path().join("recon.toml");
    let out = init_into(s, &config);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&config).expect("config");
    (text, s.run(&[]))
}

#[test]
fn init_never_gives_an_exact_table_name_to_an_earlier_loose_match() {
    let s = Scenario::new();
    // `Order_Items` sorts first and matches target `order_items` by case, which the legacy
    // `order_items` has exactly; the types say which pairing is right.
    let numbers = || batch(vec![("id", ids(&[1, 2])), ("qty", ids(&[3, 4]))]);
    let words = || {
        batch(vec![
            ("id", texts(&["a", "b"])),
            ("note", texts(&["x", "y"])),
        ])
    };
    s.legacy("order_items", numbers());
    s.target("order_items", numbers());
    s.legacy("Order_Items", words());
    s.target("orderitems", words());
    let (config, out) = init_then_run(&s);
    assert_eq!(out.status.code(), Some(0), "{config}\n{}", stderr(&out));
    let r = s.report();
    assert_eq!(table(&r, "order_items")["matched"], 2, "{config}");
    assert_eq!(
        table(&r, "Order_Items")["target_table"],
        "orderitems",
        "{config}"
    );
}

#[test]
fn init_never_gives_an_exact_column_name_to_an_earlier_loose_match() {
    let s = Scenario::new();
    // Target `orderid` matches legacy `order_id` loosely, but `order_id` is in the target as
    // it is, and legacy `OrderId` is `orderid` but for case.
    let rows = |names: [&str; 2]| {
        batch(vec![
            ("id", ids(&[1, 2])),
            (names[0], ids(&[10, 20])),
            (names[1], texts(&["p", "q"])),
        ])
    };
    s.legacy("t", rows(["order_id", "OrderId"]));
    s.target("t", rows(["order_id", "orderid"]));
    // The same with the loose match the only other one: `Order_Id` is `orderid` loosely.
    s.legacy("u", rows(["order_id", "Order_Id"]));
    s.target("u", rows(["order_id", "orderid"]));
    let (config, out) = init_then_run(&s);
    assert_eq!(out.status.code(), Some(0), "{config}\n{}", stderr(&out));
    let r = s.report();
    for name in ["t", "u"] {
        let t = table(&r, name);
        assert_eq!(t["matched"], 2, "{config}\n{t}");
        assert_eq!(t["schema"]["legacy_only"], serde_json::json!([]), "{t}");
    }
}

/// A name that, printed raw, recolors the terminal and starts a line of its own.
const SPOOF: &str = "x\u{1b}[32mverdict: PASS\r\n";

/// A snapshot whose table and column names carry control characters and the characters XML
/// forbids, with one changed value so that every name is printed.
fn hostile_names() -> Scenario {
    let s = Scenario::new();
    // The file's name holds what a store path allows; the pair's name the rest.
    let table = "t\u{fffe}";
    let rows = |v: i64| batch(vec![("id", ids(&[1, 2])), (SPOOF, ids(&[5, v]))]);
    s.legacy(table, rows(6));
    s.target(table, rows(7));
    s.config(
        "[[tables]]\nname = \"t\\uFFFE\\u001b[1m\"\nlegacy = \"t\\uFFFE\"\ntarget = \"t\\uFFFE\"\n\
         key = [\"id\"]\n\n\
         [[checks]]\nkind = \"total\"\ntable = \"t\\uFFFE\\u001b[1m\"\n\
         column = \"x\\u001b[32mverdict: PASS\\r\\n\"\n\n\
         [[checks]]\nid = \"c\\uFFFF\"\nkind = \"count\"\ntable = \"t\\uFFFE\\u001b[1m\"\n",
    );
    s
}

/// Whether XML 1.0 allows a character.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

#[test]
fn a_column_name_cannot_print_a_fake_verdict_line() {
    let s = hostile_names();
    let out = s.run(&[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("\\u{1b}[32mverdict: PASS"), "{stdout}");
    for bad in ['\u{1b}', '\r', '\u{fffe}', '\u{ffff}'] {
        assert!(!stdout.contains(bad), "{bad:?} printed raw: {stdout:?}");
    }
    let verdicts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("verdict:"))
        .collect();
    assert_eq!(verdicts.len(), 1, "{stdout}");
    assert!(verdicts[0].starts_with("verdict: ROLLBACK"), "{stdout}");
    let md = std::fs::read_to_string(s.path().join("out/report.md")).expect("report.md");
    for bad in ['\u{1b}', '\r', '\u{fffe}', '\u{ffff}'] {
        assert!(!md.contains(bad), "{bad:?} in Markdown: {md:?}");
    }
    assert!(!md.lines().any(|l| l.starts_with("verdict: PASS")), "{md}");
}

#[test]
fn junit_stays_well_formed_with_characters_xml_forbids() {
    let s = hostile_names();
    let out = s.run(&[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    let xml = std::fs::read_to_string(s.path().join("out/report.junit.xml")).expect("junit");
    let bad: Vec<char> = xml.chars().filter(|c| !xml_char(*c)).collect();
    assert!(bad.is_empty(), "{bad:?} in {xml:?}");
    // No character reference to a forbidden character either.
    let lower = xml.to_lowercase();
    for reference in [
        "&#xfffe;", "&#xffff;", "&#65534;", "&#65535;", "&#x1b;", "&#27;",
    ] {
        assert!(!lower.contains(reference), "{reference} in {xml}");
    }
    assert!(xml.contains("t\\u{fffe}"), "{xml}");
    assert!(xml.contains("c\\u{ffff}"), "{xml}");
}

#[test]
fn an_error_quoting_a_hostile_name_prints_no_control_characters() {
    let s = Scenario::new();
    let rows = || batch(vec![("id", ids(&[1]))]);
    s.legacy("t", rows());
    s.target("t", rows());
    let hostile = "k\u{1b}[32m\nverdict: PASS\r";
    s.config(&format!(
        "[[tables]]\nname = \"t\"\nkey = [{}]\n",
        toml_string(hostile)
    ));
    let clean = |text: &str| {
        assert!(text.contains("\\u{1b}[32m"), "{text:?}");
        assert!(!text.contains(['\u{1b}', '\r']), "{text:?}");
        assert!(
            !text.lines().any(|l| l.starts_with("verdict: PASS")),
            "{text}"
        );
    };
    // In the report's error line.
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    clean(&String::from_utf8_lossy(&out.stdout));
    // In a query's error.
    let out = query_csv(&s, &format!("SELECT \"{hostile}\" FROM legacy.t"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    clean(&stderr(&out));
    // In a command's error with its cause chain.
    let existing = s.path().join(hostile);
    std::fs::write(&existing, "").expect("write");
    let out = init_into(&s, &existing);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    clean(&stderr(&out));
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{:04X}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// `t` on a side: one file per `(folder, rows)`, under `t/<folder>/part-0.parquet`.
fn partitioned(s: &Scenario, side: &str, files: &[(&str, RecordBatch)]) {
    for (folder, b) in files {
        put(s, side, &format!("t/{folder}/part-0.parquet"), b.clone());
    }
}

#[test]
fn hive_values_with_leading_zeros_are_text_not_the_same_integer() {
    let s = Scenario::new();
    let one = |id: i64| batch(vec![("id", ids(&[id]))]);
    partitioned(&s, "legacy", &[("zip=01234", one(1)), ("zip=1234", one(2))]);
    partitioned(
        &s,
        "target",
        &[("zip=01234", batch(vec![("id", ids(&[1, 2]))]))],
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let (code, r) = run_report(&s, &[]);
    let t = table(&r, "t");
    assert_eq!(t["changed"], 1, "{t}");
    assert_eq!(t["columns"]["zip"]["changed"], 1, "{t}");
    assert_eq!(code, 3);
    let out = query_csv(
        &s,
        "SELECT id, zip, arrow_typeof(zip) AS ty FROM legacy.t ORDER BY id",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "id,zip,ty\n1,01234,Utf8\n2,1234,Utf8",
        "{}",
        stderr(&out)
    );
    // One value with a leading zero makes the key text.
    let out = query_csv(&s, "SELECT arrow_typeof(zip) AS ty FROM target.t LIMIT 1");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ty\nUtf8");
}

#[test]
fn a_hive_value_the_file_also_stores_reads_alike_in_run_and_query() {
    let s = Scenario::new();
    let rows = |ids_: &[i64], region: &str| {
        batch(vec![
            ("id", ids(ids_)),
            ("region", texts(&vec![region; ids_.len()])),
        ])
    };
    partitioned(
        &s,
        "legacy",
        &[
            ("region=north", rows(&[1, 2], "north")),
            ("region=south", rows(&[3], "south")),
        ],
    );
    s.target(
        "t",
        batch(vec![
            ("id", ids(&[1, 2, 3])),
            ("region", texts(&["north", "north", "south"])),
        ]),
    );
    s.config(
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\n\n\
         [[checks]]\nkind = \"count\"\ntable = \"t\"\ngroup_by = [\"region\"]\n",
    );
    let (code, r) = run_report(&s, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(table(&r, "t")["matched"], 3, "{r}");
    let out = query_csv(
        &s,
        "SELECT region, COUNT(*) AS n FROM legacy.t GROUP BY region ORDER BY region",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "region,n\nnorth,2\nsouth,1",
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_hive_value_that_contradicts_the_file_is_exit_2_naming_the_file() {
    let s = Scenario::new();
    let rows = |region: &str| batch(vec![("id", ids(&[1])), ("region", texts(&[region]))]);
    partitioned(&s, "legacy", &[("region=north", rows("south"))]);
    s.target("t", rows("south"));
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let r: Value = s.report();
    let all = format!("{r}\n{}", stderr(&out));
    assert!(all.contains("region=north/part-0.parquet"), "{all}");
    let out = query_csv(&s, "SELECT region FROM legacy.t");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("region=north/part-0.parquet"),
        "{}",
        stderr(&out)
    );
}
