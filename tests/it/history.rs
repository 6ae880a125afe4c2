//! The history folder across hash versions: a run refuses to compare its key digests with runs
//! hashed under another canonical encoding.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Int64Array, RecordBatch, UInt64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::{Scenario, batch, recon, stderr, write_parquet};

fn dec(v: &[i128], p: u8, s: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(v.to_vec())
            .with_precision_and_scale(p, s)
            .expect("dec"),
    )
}

/// Rewrites every run summary of a history as if an older recon, hashing with `version`, had
/// written it.
fn stamp_hash_version(history: &Path, version: u64) {
    for entry in std::fs::read_dir(history.join("runs")).expect("runs") {
        let path = entry.expect("entry").path();
        let file = std::fs::File::open(&path).expect("open");
        let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("reader")
            .build()
            .expect("build")
            .collect::<Result<_, _>>()
            .expect("read");
        let stamped: Vec<RecordBatch> = batches
            .iter()
            .map(|b| {
                let at = b.schema().index_of("hash_version").expect("hash_version");
                let mut columns = b.columns().to_vec();
                columns[at] = Arc::new(UInt64Array::from(vec![version; b.num_rows()]));
                RecordBatch::try_new(b.schema(), columns).expect("batch")
            })
            .collect();
        write_parquet(&path, &stamped, 1 << 20);
    }
}

fn runs_in(history: &Path) -> usize {
    std::fs::read_dir(history.join("runs")).map_or(0, Iterator::count)
}

#[test]
fn a_history_of_another_hash_version_is_refused_before_keys_are_compared() {
    let s = Scenario::new();
    // A decimal key at two scales: its digests are what the encoding changed.
    s.legacy(
        "t",
        batch(vec![
            ("id", dec(&[100, 250, 300], 10, 2)),
            ("v", Arc::new(Int64Array::from(vec![1, 2, 3]))),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", dec(&[10_000, 25_000, 30_000], 12, 4)),
            ("v", Arc::new(Int64Array::from(vec![1, 2, 4]))),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let history = s.path().join("history");
    let h = history.to_str().expect("utf8").to_owned();
    let run = || s.run(&["--history", &h]);
    let code = |o: &std::process::Output| o.status.code().expect("exit code");

    let first = run();
    assert_ne!(code(&first), 2, "{}", stderr(&first));
    assert_eq!(s.report()["hash_version"], 2);
    let second = run();
    assert_ne!(code(&second), 2, "{}", stderr(&second));
    let t = &s.report()["tables"][0];
    assert_eq!(t["changed"], 1, "{t}");
    assert_eq!(
        t["history"]["new_keys"], 0,
        "same version, same key digests: {t}"
    );

    // The same folder as an older recon would have left it.
    stamp_hash_version(&history, 1);
    let refused = run();
    assert_eq!(code(&refused), 2, "{}", stderr(&refused));
    let report = s.report();
    let error = report["error"].as_str().expect("error in the report");
    for part in [
        h.as_str(),
        "hash_version 1",
        "hash_version 2",
        "new folder",
        "move the old runs aside",
    ] {
        assert!(error.contains(part), "`{part}` in: {error}");
        // The terminal summary says it too.
        let said = String::from_utf8_lossy(&refused.stdout);
        assert!(said.contains(part), "`{part}` in: {said}");
    }
    assert_eq!(report["verdict"], "error");
    assert_eq!(runs_in(&history), 2, "a refused run appends nothing");

    // Listing the old runs compares nothing and still works.
    let listed = recon()
        .args(["history", "--history", &h])
        .output()
        .expect("recon history");
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));

    // With the old runs moved aside, the folder starts over.
    let aside = s.path().join("history-v1");
    std::fs::rename(&history, &aside).expect("move aside");
    let fresh = run();
    assert_ne!(code(&fresh), 2, "{}", stderr(&fresh));
    let t = &s.report()["tables"][0];
    assert!(t["history"]["new_keys"].is_null(), "no previous keys: {t}");
    assert_eq!(runs_in(&history), 1);
}

#[test]
fn summaries_without_keys_of_another_version_do_not_block_a_run() {
    // Only the key churn compares digests: old summaries feed the trend (drift ratios and
    // levels, the same under any encoding) once their keys are moved aside.
    let s = Scenario::new();
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
    s.legacy("t", batch(vec![("id", Arc::clone(&ids))]));
    s.target("t", batch(vec![("id", ids)]));
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let history = s.path().join("history");
    let h = history.to_str().expect("utf8").to_owned();
    let first = s.run(&["--history", &h]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    stamp_hash_version(&history, 1);
    std::fs::rename(history.join("keys"), s.path().join("keys-v1")).expect("move keys aside");
    let next = s.run(&["--history", &h]);
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    let t = &s.report()["tables"][0];
    assert_eq!(
        t["history"]["trend"].as_array().map(Vec::len),
        Some(2),
        "{t}"
    );
}
