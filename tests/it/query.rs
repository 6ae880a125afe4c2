//! `recon query`: one-shot statements in every format, joins across sides, refusals, errors,
//! the prompt driven through standard input, and golden queries side by side.

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use arrow::array::*;

use crate::common::*;

fn scenario() -> Scenario {
    let s = Scenario::new();
    let ids = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
    s.legacy(
        "orders",
        batch(vec![
            ("id", ids(vec![1, 2, 3])),
            ("amount", ids(vec![10, 20, 30])),
        ]),
    );
    s.target(
        "work_orders",
        batch(vec![
            ("id", ids(vec![1, 2, 4])),
            ("total", ids(vec![10, 21, 40])),
        ]),
    );
    s.config("[[tables]]\nname = \"orders\"\ntarget = \"work_orders\"\nkey = [\"id\"]\nrename = { amount = \"total\" }\n\n[golden]\ndir = \"queries\"\n");
    let q = s.path().join("queries");
    std::fs::create_dir_all(&q).expect("mkdir");
    std::fs::write(
        q.join("amounts.legacy.sql"),
        "-- key: id\nSELECT id, amount FROM orders\n",
    )
    .expect("write");
    std::fs::write(
        q.join("amounts.target.sql"),
        "SELECT id, total AS amount FROM work_orders\n",
    )
    .expect("write");
    s
}

fn query(s: &Scenario, args: &[&str]) -> std::process::Output {
    recon()
        .arg("query")
        .arg("--config")
        .arg(s.path().join("recon.toml"))
        .args(args)
        .output()
        .expect("run")
}

const JOIN: &str = "SELECT l.id, l.amount, t.total FROM legacy.orders l JOIN target.work_orders t ON t.id = l.id ORDER BY l.id";

#[test]
fn one_shot_in_every_format_with_a_join_across_sides() {
    let s = scenario();
    let out = query(&s, &[JOIN, "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "id,amount,total\n1,10,10\n2,20,21\n"
    );

    let out = query(&s, &[JOIN, "--format", "jsonl"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["total"], 21);

    let out = query(&s, &[JOIN, "--format", "table", "--max-rows", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("| id | amount | total |"), "{text}");
    assert!(
        text.contains("(2 rows, 1 shown; 1 cut by --max-rows)"),
        "{text}"
    );

    let path = s.path().join("result.parquet");
    let out = query(
        &s,
        &[
            JOIN,
            "--format",
            "parquet",
            "--output",
            path.to_str().expect("utf8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = std::fs::File::open(&path).expect("parquet written");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet");
    assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
}

#[test]
fn statements_from_a_file_stdin_and_roots_given_as_flags() {
    let s = scenario();
    let file = s.path().join("q.sql");
    std::fs::write(&file, "SELECT COUNT(*) AS n FROM target.work_orders").expect("write");
    let out = query(&s, &["--file", file.to_str().expect("utf8")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n3\n");

    let mut child = recon()
        .args(["query", "--legacy"])
        .arg(s.path().join("legacy"))
        .arg("--target")
        .arg(s.path().join("target"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"SELECT SUM(amount) AS s FROM legacy.orders")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "s\n60\n");
}

#[test]
fn writes_are_refused_and_sql_errors_exit_2_with_the_position() {
    let s = scenario();
    for statement in [
        "DROP TABLE legacy.orders",
        "INSERT INTO legacy.orders VALUES (9, 9)",
        "COPY legacy.orders TO '/tmp/recon-copy-test.csv'",
    ] {
        let out = query(&s, &[statement]);
        assert_eq!(out.status.code(), Some(2), "{statement}");
        assert!(stderr(&out).starts_with("error:"), "{}", stderr(&out));
    }
    assert!(!std::path::Path::new("/tmp/recon-copy-test.csv").exists());
    let out = query(&s, &["SELECT id FROM legacy.orders WHERE"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Line: 1, Column"), "{}", stderr(&out));
}

#[test]
fn the_prompt_lists_describes_runs_multiline_statements_and_survives_errors() {
    let s = scenario();
    let mut child = recon()
        .arg("query")
        .arg("--config")
        .arg(s.path().join("recon.toml"))
        .arg("--interactive")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"\\d\n\\d orders\nSELECT COUNT(*) AS n\n  FROM legacy.orders;\nSELECT nope FROM legacy.orders;\nSELECT 41 + 1 AS answer;\n\\q\nSELECT 'after quit';\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("legacy.orders") && text.contains("target.work_orders"),
        "{text}"
    );
    assert!(
        text.contains("legacy.orders: 3 rows in 1 file(s)"),
        "{text}"
    );
    assert!(text.contains("| 3 |"), "{text}");
    assert!(
        text.contains("error: Schema error: No field named nope"),
        "{text}"
    );
    assert!(
        text.contains("| 42     |"),
        "the prompt stays open after an error: {text}"
    );
    assert!(text.contains("Time: "), "{text}");
    assert!(!text.contains("after quit"), "{text}");
}

#[test]
fn golden_query_side_by_side() {
    let s = scenario();
    let out = query(&s, &["--golden", "amounts"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "differences exit 1: {}",
        stderr(&out)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("amount (legacy)") && text.contains("amount (target)"),
        "{text}"
    );
    assert!(text.contains("≠ amount"), "{text}");
    assert!(text.contains("missing") && text.contains("extra"), "{text}");
    assert!(text.contains("golden.amounts: 4 rows, 3 differ"), "{text}");
}

#[test]
fn a_reader_that_stops_early_ends_the_query_quietly() {
    use std::io::{BufRead, BufReader};
    let s = Scenario::new();
    let mut child = recon()
        .arg("query")
        .arg("--legacy")
        .arg(s.path().join("legacy"))
        .arg("--target")
        .arg(s.path().join("target"))
        .args([
            "SELECT * FROM generate_series(1, 3000000)",
            "--format",
            "csv",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a line");
    // The reader is gone (like `| head -1`); recon must neither fail nor complain.
    let out = child.wait_with_output().expect("wait");
    assert_eq!(first.trim(), "value");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
}
