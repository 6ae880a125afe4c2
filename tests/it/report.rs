//! The JSON report's documented fields, and snapshots of the JSON and terminal renderings.

use std::sync::Arc;

use arrow::array::*;

use crate::common::*;

fn scenario() -> Scenario {
    let s = Scenario::new();
    let ids = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
    let strs = |v: Vec<Option<&str>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    s.legacy(
        "orders",
        batch(vec![
            ("id", ids(vec![1, 2, 3, 4])),
            (
                "status",
                strs(vec![Some("Open"), Some("Draft"), None, Some("Paid")]),
            ),
        ]),
    );
    s.target(
        "orders",
        batch(vec![
            ("id", ids(vec![1, 2, 4, 5])),
            (
                "status",
                strs(vec![
                    Some("Open"),
                    Some("Closed"),
                    Some("Paid"),
                    Some("New"),
                ]),
            ),
        ]),
    );
    s.config("[[tables]]\nname = \"orders\"\nkey = [\"id\"]\n");
    s
}

#[test]
fn report_has_every_documented_field() {
    let s = scenario();
    let (code, r) = run_report(&s, &[]);
    assert_eq!(code, 3);
    for k in [
        "schema_version",
        "hash_version",
        "tool",
        "run",
        "inputs",
        "verdict",
        "summary",
        "tables",
        "checks",
    ] {
        assert!(r.get(k).is_some(), "missing {k}");
    }
    for k in [
        "started_at",
        "duration_ms",
        "config_digest",
        "threads",
        "fail_on",
    ] {
        assert!(r["run"].get(k).is_some(), "missing run.{k}");
    }
    for k in ["side", "table", "root", "files", "bytes", "rows"] {
        assert!(r["inputs"][0].get(k).is_some(), "missing inputs[].{k}");
    }
    let t = table(&r, "orders");
    for k in [
        "name",
        "legacy_table",
        "target_table",
        "key",
        "status",
        "legacy_rows",
        "target_rows",
        "matched",
        "changed",
        "missing",
        "extra",
        "null_key_rows",
        "duplicate_keys",
        "drift_ratio",
        "columns",
        "schema",
        "samples",
        "findings",
        "checksums",
    ] {
        assert!(t.get(k).is_some(), "missing tables[].{k}");
    }
    assert_eq!(r["schema_version"], 2);
    assert_eq!(t["drift_ratio"], 0.75);
}

#[test]
fn json_report_snapshot() {
    let s = scenario();
    s.run(&["-j", "2"]);
    let text = std::fs::read_to_string(s.path().join("out/report.json")).expect("report");
    crate::common::parse_report(&text);
    filtered(|| insta::assert_snapshot!("json_report", text));
}

#[test]
fn terminal_summary_snapshot() {
    let s = scenario();
    let out = s.run(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    filtered(|| insta::assert_snapshot!("terminal_summary", stdout));
}
