//! `recon gen` plants drift and writes the truth; a run must report exactly that truth.

use crate::common::*;

#[test]
fn generated_erp_migration_reports_exactly_the_planted_drift() {
    let dir = generated(3000, 7, 700);
    for attribution in ["store", "reread"] {
        planted_drift_is_reported(dir.path(), attribution);
    }
}

/// Runs the generated migration with one attribution and checks the report against the truth.
fn planted_drift_is_reported(dir: &std::path::Path, attribution: &str) {
    let out = recon()
        .arg("run")
        .arg("--config")
        .arg(dir.join("recon.toml"))
        .args(["--attribution", attribution, "--out"])
        .arg(dir)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(3),
        "the planted drift fails the gate: {}",
        stderr(&out)
    );
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).expect("truth"))
            .expect("json");
    let report: serde_json::Value = crate::common::parse_report(
        &std::fs::read_to_string(dir.join("report.json")).expect("report"),
    );
    for (name, want) in truth["tables"].as_object().expect("truth tables") {
        let got = table(&report, name);
        assert_identities(got);
        for k in [
            "legacy_rows",
            "target_rows",
            "matched",
            "changed",
            "missing",
            "extra",
            "null_key_rows",
            "duplicate_keys",
        ] {
            assert_eq!(got[k], want[k], "{attribution}: {name}.{k}");
        }
        for (col, n) in want["columns"].as_object().expect("columns") {
            assert_eq!(
                &got["columns"][col]["changed"], n,
                "{attribution}: {name}.{col}"
            );
        }
    }
    // Cosmetic differences (padded names under trim, tax within tolerance) were planted and ignored.
    assert!(
        truth["tables"]["customers"]["cosmetic"]
            .as_u64()
            .expect("cosmetic")
            > 0
    );
    // The planted check problems are found: a swap between tenants, new orphans, broken invariants.
    let check = |id: &str| {
        report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == id)
            .expect(id)
            .clone()
    };
    assert_eq!(check("totals.customers.balance")["status"], "pass");
    assert_eq!(
        check("totals.customers.balance.by_tenant_id")["status"],
        "critical"
    );
    let orphans = check("orphans.invoices.order_id.service_orders");
    assert_eq!(
        orphans["measured"]["new_orphans"],
        truth["checks"]["orphans.invoices.order_id.service_orders"]["new_orphans"]
    );
    assert_eq!(
        check("invariants.service_orders.final_is_the_sum")["measured"]["violations"]["target"],
        truth["tables"]["service_orders"]["columns"]["final_amount"]
    );
    assert_eq!(
        check("invariants.service_orders.final_is_the_sum")["measured"]["violations"]["legacy"],
        0
    );
    assert_eq!(
        check("invariants.service_orders.known_status")["status"],
        "pass"
    );
    assert_eq!(check("golden.revenue_by_tenant")["status"], "critical");
    assert_eq!(table(&report, "customers")["columns"]["name"]["changed"], 0);
    assert_eq!(table(&report, "vehicles")["status"], "pass");
}

#[test]
fn demo_runs_and_exits_zero_with_a_failing_gate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = recon()
        .args(["demo", "--rows", "2000", "--out"])
        .arg(dir.path())
        .output()
        .expect("demo");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verdict: ROLLBACK"), "{stdout}");
    for f in [
        "recon.toml",
        "truth.json",
        "report.json",
        "legacy/customers.parquet",
        "target/work_orders.parquet",
        "diff/service_orders.parquet",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
}

#[test]
fn generation_is_deterministic() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    for d in [&a, &b] {
        let out = recon()
            .args(["gen", "--rows", "500", "--seed", "3", "--out"])
            .arg(d.path())
            .output()
            .expect("gen");
        assert!(out.status.success());
    }
    for f in [
        "truth.json",
        "legacy/service_orders.parquet",
        "target/work_orders.parquet",
    ] {
        assert_eq!(
            std::fs::read(a.path().join(f)).expect("a"),
            std::fs::read(b.path().join(f)).expect("b"),
            "{f}"
        );
    }
}

#[test]
fn committed_fixture_is_what_the_regenerator_writes_and_reconciles_to_its_truth() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/erp");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = recon()
        .args([
            "gen",
            "--rows",
            "300",
            "--seed",
            "11",
            "--row-group",
            "128",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("gen");
    assert!(out.status.success());
    for f in [
        "truth.json",
        "recon.toml",
        "legacy/invoices.parquet",
        "target/invoices.parquet",
        "target/work_orders.parquet",
    ] {
        assert_eq!(
            std::fs::read(fixture.join(f)).expect("fixture"),
            std::fs::read(dir.path().join(f)).expect("fresh"),
            "{f}: run fixtures/regenerate.sh"
        );
    }
    let out = recon()
        .arg("run")
        .arg("--config")
        .arg(fixture.join("recon.toml"))
        .arg("--out")
        .arg(dir.path())
        // Never write into the repository: the fixture's history goes to the temp folder.
        .arg("--history")
        .arg(dir.path().join("history"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("truth.json")).expect("truth"))
            .expect("json");
    let report: serde_json::Value = crate::common::parse_report(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
    );
    for (name, want) in truth["tables"].as_object().expect("tables") {
        let got = table(&report, name);
        for k in [
            "matched",
            "changed",
            "missing",
            "extra",
            "null_key_rows",
            "duplicate_keys",
        ] {
            assert_eq!(got[k], want[k], "{name}.{k}");
        }
    }
}
