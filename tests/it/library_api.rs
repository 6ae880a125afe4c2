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

/// Every public field's type of the config and of the report model, named by its path from
/// outside the crate: a type a caller meets but cannot name fails to compile here.
#[test]
fn the_config_and_report_types_are_nameable_from_outside() {
    use recon::config::{
        Cast, CheckConfig, ColumnOptions, Config, CountCheck, GateConfig, GoldenConfig,
        HistoryConfig, InvariantCheck, LoadedConfig, OrphanCheck, ReportConfig, SnapshotConfig,
        TableConfig, Threshold, TimeZone, ToleranceSetting, TotalCheck, UnpairedLevel,
    };

    let loaded: LoadedConfig = Config::load(&erp()).expect("the fixture loads");
    let c: &Config = &loaded.config;
    let sides: [&SnapshotConfig; 2] = [&c.legacy, &c.target];
    let defaults: &ColumnOptions = &c.defaults;
    let gate: &GateConfig = &c.gate;
    let report_config: &ReportConfig = &c.report;
    let _: Option<&GoldenConfig> = c.golden.as_ref();
    let _: Option<&HistoryConfig> = c.history.as_ref();
    let _: Option<&Threshold> = gate.drift_ratio.as_ref();
    let _: Option<&UnpairedLevel> = gate.unpaired_tables.as_ref();
    let _: Option<&ToleranceSetting> = defaults.abs_tolerance.as_ref();
    let _: Option<&TimeZone> = defaults.timezone.as_ref();
    let _: Option<&Cast> = defaults.cast.as_ref();
    let tables: &[TableConfig] = &c.tables;
    let mut kinds = Vec::new();
    for check in &c.checks {
        let check: &CheckConfig = check.get_ref();
        kinds.push(match check {
            CheckConfig::Count(x) => std::any::type_name_of_val::<CountCheck>(x),
            CheckConfig::Total(x) => std::any::type_name_of_val::<TotalCheck>(x),
            CheckConfig::Orphan(x) => std::any::type_name_of_val::<OrphanCheck>(x),
            CheckConfig::Invariant(x) => std::any::type_name_of_val::<InvariantCheck>(x),
        });
    }
    assert!(sides.iter().all(|s| !s.root.is_empty()));
    assert!(!tables.is_empty() && report_config.samples > 0);
    assert!(!kinds.is_empty(), "the fixture has checks of its own");

    let scratch = tempfile::tempdir().expect("temp dir");
    let report: recon::report::Report = Reconciler::new(loaded)
        .threads(2)
        .history(scratch.path().join("history"))
        .run()
        .expect("runs");
    named_report(&report);
}

fn named_report(report: &recon::report::Report) {
    use recon::report::{
        ChangedSample, CheckKind, CheckReport, ColumnDrift, CountMeasured, DifferingGroup, FailOn,
        Finding, GoldenDiff, GoldenMeasured, GroupCounts, Input, InvariantMeasured,
        InvariantSamples, KeySample, Measured, MetricValue, OrphanMeasured, OrphanSamples, PerSide,
        RunMeta, Samples, SchemaFindings, ShownRow, Side, Status, StatusCounts, Summary,
        TableHistory, TableReport, TenantMismatches, Thresholds, Tool, TotalMeasured, TrendPoint,
        UnpairedTable,
    };

    let _: &Tool = &report.tool;
    let run: &RunMeta = &report.run;
    let _: FailOn = run.fail_on;
    let sides: Vec<Side> = report.inputs.iter().map(|i: &Input| i.side).collect();
    let _: &[UnpairedTable] = &report.unpaired_tables;
    let summary: &Summary = &report.summary;
    let _: &StatusCounts = &summary.tables;
    let verdict: Status = report.verdict;
    let table: &TableReport = &report.tables[0];
    let _: Option<&ColumnDrift> = table.columns.values().next();
    let _: &SchemaFindings = &table.schema;
    let samples: &Samples = &table.samples;
    let _: Option<&KeySample> = samples.missing.first();
    let _: Option<&ChangedSample> = samples.changed.first();
    let _: Option<&Finding> = table.findings.first();
    let _: Option<&TableHistory> = table.history.as_ref();
    let _: Option<&TrendPoint> = table.history.as_ref().and_then(|h| h.trend.first());
    let _: Option<&MetricValue> = table.findings.first().map(|f| &f.value);
    let mut measured = 0;
    for check in &report.checks {
        let check: &CheckReport = check;
        let _: CheckKind = check.kind;
        let _: &Thresholds = &check.thresholds;
        let Some(m) = &check.measured else { continue };
        measured += 1;
        match m {
            Measured::Count(x) => {
                let x: &CountMeasured = x;
                let _: &GroupCounts = &x.groups;
                let _: Option<&DifferingGroup> = x.differing_groups.first();
            }
            Measured::Total(x) => {
                let _: &TotalMeasured = x;
            }
            Measured::Orphan(x) => {
                let x: &OrphanMeasured = x;
                let _: &OrphanSamples = &x.samples;
                let _: Option<&TenantMismatches> = x.tenant_mismatches.as_ref();
            }
            Measured::Invariant(x) => {
                let x: &InvariantMeasured = x;
                let _: &InvariantSamples = &x.samples;
            }
            Measured::Golden(x) => {
                let x: &GoldenMeasured = x;
                let _: Option<&GoldenDiff> = x.differing.first();
                let _: Option<&ShownRow> = x.differing.first().and_then(|d| d.legacy.as_ref());
            }
        }
    }
    let null_keys: &PerSide<u64> = &table.null_key_rows;
    assert_eq!(
        sides.iter().filter(|s| **s == Side::Legacy).count(),
        sides.iter().filter(|s| **s == Side::Target).count(),
        "as many inputs on each side"
    );
    assert!(null_keys.legacy + null_keys.target < table.legacy_rows + table.target_rows);
    assert_eq!(
        verdict,
        Status::Rollback,
        "the fixture's planted drift is past the rollback level"
    );
    assert!(measured > 0, "the fixture's checks measured something");
}
