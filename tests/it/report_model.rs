//! The report contract: `report.json` is described by the committed JSON Schema, which is
//! generated from the report model; every report a run writes matches it; and the stages that
//! produce what the report shows do not know the gate or the report.

use std::path::{Path, PathBuf};

use crate::common::{REPORT_SCHEMA, parse_report, recon, stderr};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Regenerate with `RECON_UPDATE_SCHEMA=1 cargo test --test it schema`.
#[test]
fn the_committed_report_schema_is_the_one_the_model_generates() {
    let generated = recon::report::model::json_schema().expect("schema");
    if std::env::var_os("RECON_UPDATE_SCHEMA").is_some() {
        std::fs::write(root().join("docs/report.schema.json"), &generated).expect("write schema");
        return;
    }
    assert!(
        generated == REPORT_SCHEMA,
        "docs/report.schema.json is stale: regenerate it with \
         `RECON_UPDATE_SCHEMA=1 cargo test --test it schema`"
    );
}

#[test]
fn the_schema_rejects_a_report_whose_fields_drift() {
    let schema: serde_json::Value = serde_json::from_str(REPORT_SCHEMA).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("validator");
    let mut report = serde_json::json!({"schema_version": 1});
    assert!(!validator.is_valid(&report), "a report without its fields");
    report["verdict"] = "maybe".into();
    assert!(!validator.is_valid(&report));
}

#[test]
fn every_report_of_the_demo_matches_the_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = recon()
        .args(["demo", "--rows", "300", "--out"])
        .arg(dir.path())
        .output()
        .expect("demo");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report =
        parse_report(&std::fs::read_to_string(dir.path().join("report.json")).expect("report"));
    // Every check kind is in the demo, so every measured block is checked against the schema.
    let kinds: std::collections::BTreeSet<&str> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    for kind in ["count", "total", "orphan", "invariant", "golden"] {
        assert!(
            kinds.contains(kind),
            "the demo has no {kind} check: {kinds:?}"
        );
    }
}

/// The `use crate::...` paths of every Rust file under `dir`.
fn imports(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(imports(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read");
            for (i, _) in text.match_indices("crate::") {
                let rest: String = text[i..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                out.push((path.clone(), rest));
            }
        }
    }
    out
}

#[test]
fn the_diff_and_the_checks_never_import_the_gate_or_the_report() {
    let src = root().join("src");
    let rules: [(&str, &[&str]); 4] = [
        (
            "diff",
            &[
                "crate::gate",
                "crate::report",
                "crate::checks",
                "crate::history",
            ],
        ),
        (
            "checks",
            &["crate::gate", "crate::report", "crate::history"],
        ),
        ("gate.rs", &["crate::report", "crate::history"]),
        ("history", &["crate::diff", "crate::report"]),
    ];
    let mut wrong = Vec::new();
    for (stage, later) in rules {
        let path = src.join(stage);
        let found = if path.is_dir() {
            imports(&path)
        } else {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::copy(&path, dir.path().join(stage)).expect("copy");
            imports(dir.path())
                .into_iter()
                .map(|(_, i)| (path.clone(), i))
                .collect()
        };
        for (file, import) in found {
            if later.iter().any(|l| import.starts_with(l)) {
                wrong.push(format!("{}: {import}", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports of a later stage:\n{}",
        wrong.join("\n")
    );
}
