//! Bad input: exit code 2, a message naming the culprit, and no report claiming a pass.

use std::sync::Arc;

use arrow::array::*;

use crate::common::*;

fn simple(s: &Scenario) {
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
    let v: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
    s.legacy(
        "t",
        batch(vec![("id", Arc::clone(&ids)), ("v", Arc::clone(&v))]),
    );
    s.target("t", batch(vec![("id", ids), ("v", v)]));
}

/// Runs and asserts exit 2, a message containing every `needle`, and an `error` verdict.
fn fails_with(s: &Scenario, needles: &[&str]) {
    let out = s.run(&[]);
    let err = stderr(&out) + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected `{n}` in:\n{err}");
    }
    let r = s.report();
    assert_eq!(r["verdict"], "error", "{r}");
    let reason = r["error"].as_str().expect("error reason");
    assert!(
        needles.iter().all(|n| reason.contains(n)),
        "reason `{reason}` names {needles:?}"
    );
}

#[test]
fn missing_snapshot_root() {
    let s = Scenario::new();
    std::fs::write(s.path().join("recon.toml"), "[legacy]\nroot = \"nowhere\"\n[target]\nroot = \"target\"\n[[tables]]\nname = \"t\"\nkey = [\"id\"]\n").expect("write");
    fails_with(&s, &["legacy snapshot nowhere"]);
}

#[test]
fn missing_table() {
    let s = Scenario::new();
    simple(&s);
    s.config("[[tables]]\nname = \"t\"\ntarget = \"orders\"\nkey = [\"id\"]\n");
    fails_with(&s, &["target snapshot", "no table `orders`"]);
}

#[test]
fn corrupt_truncated_and_non_parquet_files() {
    for (what, bytes) in [("truncated", None), ("text", Some(b"id,v\n1,a\n".to_vec()))] {
        let s = Scenario::new();
        simple(&s);
        let path = s.path().join("target/t.parquet");
        let data = if let Some(b) = bytes {
            b
        } else {
            let full = std::fs::read(&path).expect("read");
            full[..full.len() / 2].to_vec()
        };
        std::fs::write(&path, data).expect("write");
        s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
        fails_with(
            &s,
            &[
                "target table `t`",
                "t.parquet",
                "not a readable Parquet file",
            ],
        );
        let _ = what;
    }
}

#[test]
fn corrupt_page_data_is_an_error_not_a_pass() {
    let s = Scenario::new();
    simple(&s);
    let path = s.path().join("target/t.parquet");
    let mut data = std::fs::read(&path).expect("read");
    // Scribble over the data pages, keep the footer intact.
    for b in data.iter_mut().skip(4).take(60) {
        *b = 0xFF;
    }
    std::fs::write(&path, data).expect("write");
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(s.report()["verdict"], "error");
}

#[test]
fn key_or_mapped_column_missing() {
    let s = Scenario::new();
    simple(&s);
    s.config("[[tables]]\nname = \"t\"\nkey = [\"order_id\"]\n");
    fails_with(
        &s,
        &[
            "table `t`",
            "column `order_id`",
            "missing on the legacy side",
        ],
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\nrename = { v = \"value\" }\n");
    fails_with(&s, &["column `v`", "renamed to `value`"]);
}

#[test]
fn incompatible_types_without_a_cast() {
    let s = Scenario::new();
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![1]));
    s.legacy(
        "t",
        batch(vec![
            ("id", Arc::clone(&ids)),
            ("v", Arc::new(StringArray::from(vec!["1"])) as ArrayRef),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", ids),
            ("v", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    fails_with(&s, &["column `v`", "different families", "cast"]);
}

#[test]
fn invalid_or_unknown_config_fields_empty_keys_and_duplicate_names() {
    let s = Scenario::new();
    simple(&s);
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\ntolerance = 3\n");
    fails_with(&s, &["recon.toml", "line 10", "unknown field `tolerance`"]);
    s.config("[[tables]]\nname = \"t\"\nkey = []\n");
    fails_with(&s, &["`key` is empty"]);
    s.config(
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\n[[tables]]\nname = \"t\"\nkey = [\"id\"]\n",
    );
    fails_with(&s, &["two tables are named `t`"]);
    s.config("[[tables]]\nname = \"t\"\nkey = \"id\"\n");
    fails_with(&s, &["line 9"]);
}

#[test]
fn a_failing_sql_side_is_an_error() {
    let s = Scenario::new();
    simple(&s);
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\nlegacy_sql = \"SELECT id, nope FROM t\"\n");
    fails_with(&s, &["legacy query of table `t`", "nope"]);
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\nlegacy_sql = \"DROP TABLE t\"\n");
    fails_with(&s, &["legacy query of table `t`"]);
}
