//! The library's front door: what a caller chooses on the `Reconciler` reaches the run as chosen.

use std::path::Path;

use recon::Reconciler;

fn erp() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/erp/recon.toml")
}

#[test]
fn a_callers_sample_limit_and_diff_out_are_never_replaced_by_the_config() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let diffs = scratch.path().join("diffs");
    let report = Reconciler::from_path(erp())
        .expect("the fixture loads")
        .threads(2)
        .samples(1)
        .diff_out(&diffs)
        .history(scratch.path().join("history"))
        .run()
        .expect("runs");
    assert!(
        report.tables.iter().any(|t| t.changed > 1),
        "the fixture must have more changed rows than the limit for this test to mean anything"
    );
    for t in &report.tables {
        let s = &t.samples;
        assert!(
            s.changed.len() <= 1 && s.missing.len() <= 1 && s.extra.len() <= 1,
            "{}: more samples than the caller's limit",
            t.name
        );
    }
    let written = std::fs::read_dir(&diffs)
        .expect("the caller's --diff-out folder exists")
        .count();
    assert!(written > 0, "no diff files in the caller's folder");
}

#[test]
fn without_a_callers_choice_the_configs_sample_limit_applies() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let report = Reconciler::from_path(erp())
        .expect("the fixture loads")
        .threads(2)
        .history(scratch.path().join("history"))
        .run()
        .expect("runs");
    assert!(
        report.tables.iter().any(|t| t.samples.changed.len() > 1),
        "the config's limit (more than one) applies"
    );
}
