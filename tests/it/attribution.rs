//! `--attribution auto` (the default) chooses per table from the history's last run: the legacy
//! rows are read again when the drift was sparse, their digests stored when it was dense or
//! unknown. Either way the report is the same.

use std::sync::Arc;

use arrow::array::*;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

use crate::common::*;

/// A table of `n` rows whose target changes `v` on the rows where `changed(id)`; the target is
/// in reverse order, so the pair takes the match structure.
fn scenario(n: i64, changed: impl Fn(i64) -> bool) -> Scenario {
    let s = Scenario::new();
    let ids: Vec<i64> = (0..n).collect();
    let legacy_v: Vec<i64> = ids.iter().map(|i| i % 13).collect();
    let rev: Vec<i64> = ids.iter().rev().copied().collect();
    let target_v: Vec<i64> = rev
        .iter()
        .map(|&i| i % 13 + i64::from(changed(i)))
        .collect();
    let col = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
    // Pages of about a thousand rows: a re-read of a row decodes its page, not the table.
    let write = |side: &str, b: RecordBatch| {
        let props = WriterProperties::builder()
            .set_data_page_row_count_limit(1000)
            .set_write_batch_size(1000)
            .build();
        let file = std::fs::File::create(s.path().join(side).join("t.parquet")).expect("create");
        let mut w = ArrowWriter::try_new(file, b.schema(), Some(props)).expect("writer");
        w.write(&b).expect("write");
        w.close().expect("close");
    };
    write(
        "legacy",
        batch(vec![("id", col(ids.clone())), ("v", col(legacy_v.clone()))]),
    );
    write(
        "target",
        batch(vec![("id", col(rev)), ("v", col(target_v))]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    s
}

/// Runs with the history and the engine's log; returns the table and the choice it logged.
fn run(s: &Scenario) -> (Value, String) {
    let history = s.path().join("history");
    let history = history.to_str().expect("utf-8 path");
    let out = s.run(&["--history", history, "--log", "info"]);
    let log = stderr(&out);
    let chosen = ["Store", "Reread"]
        .into_iter()
        .find(|c| log.contains(&format!("attribution={c}")))
        .unwrap_or_else(|| panic!("no attribution in the log:\n{log}"));
    let mut t = table(&s.report(), "t").clone();
    // The history's own fields differ from run to run.
    t.as_object_mut().map(|o| o.remove("history"));
    (t, chosen.to_owned())
}

#[test]
fn sparse_drift_last_time_means_reading_again_this_time() {
    let s = scenario(20_000, |i| i == 7 || i == 12_345);
    let (first, chosen) = run(&s);
    assert_eq!(chosen, "Store", "no previous run: the store");
    assert_eq!(counts(&first).1, 2);
    let (second, chosen) = run(&s);
    assert_eq!(chosen, "Reread", "two changed rows of 20,000 last time");
    assert_eq!(first, second);
}

#[test]
fn dense_drift_last_time_means_storing_the_digests() {
    let s = scenario(20_000, |i| i % 10 == 0);
    let (first, _) = run(&s);
    assert_eq!(counts(&first).1, 2_000);
    let (second, chosen) = run(&s);
    assert_eq!(chosen, "Store", "a tenth of the rows changed last time");
    assert_eq!(first, second);
}
