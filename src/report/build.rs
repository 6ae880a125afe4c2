//! Builds the report model ([`super::model`]) from the stage outputs: the diff's [`TableDiff`],
//! the checks' [`CheckOutcome`], the gate's [`Judgement`] and the history. Every field of the
//! contract is filled here, by name.

use crate::checks::outcome::{self, CheckOutcome, Measurement};
use crate::diff::result::{self as diff, TableDiff};
use crate::gate::{self, Judgement, MetricValue, Status};
use crate::history;
use crate::side::PerSide;
use crate::spill::KeyLog;
use crate::unpaired::Unpaired;

use super::model::{
    ChangedSample, CheckReport, ColumnDrift, CountMeasured, DifferingGroup, DriftDirection,
    Finding, GoldenDiff, GoldenMeasured, GroupCounts, InvariantMeasured, InvariantSamples,
    KeySample, LevelSince, Measured, OrphanMeasured, OrphanSamples, Report, Samples,
    SchemaFindings, TableHistory, TableReport, TenantMismatches, Thresholds, TotalMeasured,
    TrendPoint, UnpairedTable,
};

/// A reconciled table with the gate's judgement of it and its drift thresholds.
pub fn table(t: TableDiff, judgement: Judgement, drift: Option<gate::Threshold>) -> TableReport {
    TableReport {
        name: t.name,
        legacy_table: t.legacy_table,
        target_table: t.target_table,
        key: t.key,
        legacy_rows: t.legacy_rows,
        target_rows: t.target_rows,
        matched: t.matched,
        changed: t.changed,
        missing: t.missing,
        extra: t.extra,
        null_key_rows: t.null_key_rows,
        duplicate_keys: t.duplicate_keys,
        drift_ratio: t.drift_ratio,
        checksums: t.checksums,
        columns: t
            .columns
            .into_iter()
            .map(|(c, d)| (c, ColumnDrift { changed: d.changed }))
            .collect(),
        compared_columns: t.compared_columns,
        schema: SchemaFindings {
            legacy_only: t.schema.legacy_only,
            target_only: t.schema.target_only,
            ignored: t.schema.ignored,
            paired_by_case: t.schema.paired_by_case,
            exact_vs_float: t.schema.exact_vs_float,
        },
        samples: samples(t.samples),
        explained: t.explained,
        status: judgement.status,
        findings: findings(judgement.findings),
        drift_thresholds: drift.map_or_else(Thresholds::default, |d| Thresholds {
            warning: d.warning,
            critical: d.critical,
            rollback: d.rollback,
        }),
        history: None,
        error: None,
    }
}

/// A table that could not be decided: its names, key and drift thresholds, nothing counted,
/// and why.
pub fn errored_table(
    name: &str,
    key: &[String],
    sources: &PerSide<String>,
    drift: Option<gate::Threshold>,
    error: String,
) -> TableReport {
    let judgement = Judgement {
        status: Status::Error,
        findings: Vec::new(),
    };
    TableReport {
        error: Some(error),
        ..table(TableDiff::new(name, key, sources), judgement, drift)
    }
}

fn samples(s: diff::Samples) -> Samples {
    let keys = |v: Vec<diff::KeySample>| v.into_iter().map(|k| KeySample { key: k.key }).collect();
    Samples {
        changed: s
            .changed
            .into_iter()
            .map(|c| ChangedSample {
                key: c.key,
                columns: c.columns,
            })
            .collect(),
        missing: keys(s.missing),
        extra: keys(s.extra),
    }
}

fn findings(f: Vec<gate::Finding>) -> Vec<Finding> {
    f.into_iter()
        .map(|f| Finding {
            metric: f.metric,
            value: f.value,
            threshold: f.threshold,
            level: f.level,
        })
        .collect()
}

/// A check's outcome with the gate's reading of it (`None` for a check that could not run).
pub fn check(c: CheckOutcome, judged: Option<(String, MetricValue, Judgement)>) -> CheckReport {
    let thresholds = Thresholds {
        warning: c.thresholds.warning,
        critical: c.thresholds.critical,
        rollback: c.thresholds.rollback,
    };
    match (c.result, judged) {
        (Ok(m), Some((metric, value, judgement))) => CheckReport {
            id: c.id,
            kind: c.kind,
            status: judgement.status,
            source: c.source,
            metric,
            value,
            thresholds,
            findings: findings(judgement.findings),
            measured: Some(measured(m)),
            reason: None,
            duration_ms: c.duration_ms,
        },
        (result, _) => CheckReport {
            id: c.id,
            kind: c.kind,
            status: Status::Error,
            source: c.source,
            metric: String::new(),
            value: MetricValue::Count(0),
            thresholds,
            findings: Vec::new(),
            measured: None,
            reason: Some(result.err().unwrap_or_default()),
            duration_ms: c.duration_ms,
        },
    }
}

fn measured(m: Measurement) -> Measured {
    match m {
        Measurement::Count(g) => Measured::Count(CountMeasured {
            legacy: g.totals.legacy,
            target: g.totals.target,
            group_by: g.group_by,
            groups: group_counts(g.groups, g.differing),
            max_rel_difference: g.max_rel,
            differing_groups: differing_groups(g.differing_groups),
        }),
        Measurement::Total(g) => Measured::Total(TotalMeasured {
            legacy: g.totals.legacy,
            target: g.totals.target,
            group_by: g.group_by,
            tolerance: g.tolerance.unwrap_or_default(),
            groups: group_counts(g.groups, g.differing),
            differing_groups: differing_groups(g.differing_groups),
        }),
        Measurement::Orphan(o) => Measured::Orphan(orphans(o)),
        Measurement::Invariant(v) => Measured::Invariant(InvariantMeasured {
            violations: v.violations,
            key: v.key,
            samples: InvariantSamples {
                legacy: v.samples.legacy,
                target: v.samples.target,
            },
        }),
        Measurement::Golden(g) => Measured::Golden(GoldenMeasured {
            rows: g.rows,
            changed: g.changed,
            missing: g.missing,
            extra: g.extra,
            key: g.key,
            columns: g.columns,
            differing: g
                .differing
                .into_iter()
                .map(|d| GoldenDiff {
                    legacy: d.rows.legacy,
                    target: d.rows.target,
                    columns: d.columns,
                })
                .collect(),
        }),
    }
}

fn group_counts(groups: PerSide<usize>, differing: usize) -> GroupCounts {
    GroupCounts {
        legacy: groups.legacy,
        target: groups.target,
        differing,
    }
}

fn differing_groups(groups: Vec<outcome::DifferingGroup>) -> Vec<DifferingGroup> {
    groups
        .into_iter()
        .map(|g| DifferingGroup {
            group: g.group,
            legacy: g.values.legacy,
            target: g.values.target,
            difference: g.difference,
        })
        .collect()
}

fn orphans(o: outcome::Orphans) -> OrphanMeasured {
    OrphanMeasured {
        orphans: o.orphans,
        new_orphans: o.new_orphans,
        samples: OrphanSamples {
            new: o.new_samples,
            legacy: o.legacy_samples,
        },
        tenant_mismatches: o.tenant_mismatches.map(|t| TenantMismatches {
            legacy: t.counts.legacy,
            target: t.counts.target,
            new: t.new,
            samples: t.samples,
        }),
    }
}

/// A table's history as the report shows it.
pub fn history(h: history::TableHistory, started_at: &str) -> TableHistory {
    let level_since = h.streak.map_or_else(
        || LevelSince {
            runs: 1,
            since: started_at.to_owned(),
            previous: None,
            drift: None,
        },
        |s| LevelSince {
            runs: s.runs,
            since: s.since,
            previous: s.previous,
            drift: s.direction.map(|d| match d {
                history::Direction::Rising => DriftDirection::Rising,
                history::Direction::Falling => DriftDirection::Falling,
                history::Direction::Steady => DriftDirection::Steady,
            }),
        },
    );
    TableHistory {
        level_since,
        trend: h
            .trend
            .into_iter()
            .map(|p| TrendPoint {
                started_at: p.started_at,
                drift_ratio: p.drift_ratio,
                status: p.status,
            })
            .collect(),
        new_keys: h.new_keys,
        resolved_keys: h.resolved_keys,
        new_samples: h.new_samples,
        resolved_samples: h.resolved_samples,
    }
}

/// A table no pair reads, with the status `[gate] unpaired_tables` gives it.
pub fn unpaired(u: Unpaired, status: Status) -> UnpairedTable {
    UnpairedTable {
        side: u.side,
        table: u.table,
        rows: u.rows,
        status,
    }
}

/// The finished run as the history records it; `keys` are the tables' differing keys, in
/// table order.
pub fn run_record<'a>(report: &'a Report, keys: &'a [KeyLog]) -> history::RunRecord<'a> {
    static NONE: std::sync::LazyLock<KeyLog> = std::sync::LazyLock::new(KeyLog::default);
    crate::history::RunRecord {
        started_at: &report.run.started_at,
        verdict: report.verdict,
        tool_version: &report.tool.version,
        hash_version: report.hash_version,
        config_digest: &report.run.config_digest,
        duration_ms: report.run.duration_ms,
        memory_budget: report.run.memory_budget,
        tables: report
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| crate::history::TableRecord {
                name: &t.name,
                status: t.status,
                drift_ratio: t.drift_ratio,
                counts: [
                    t.legacy_rows,
                    t.target_rows,
                    t.matched,
                    t.changed,
                    t.missing,
                    t.extra,
                ],
                keys: keys.get(i).unwrap_or(&NONE),
            })
            .collect(),
        checks: report
            .checks
            .iter()
            .map(|c| crate::history::CheckRecord {
                id: &c.id,
                status: c.status,
                value: c.value.as_f64(),
            })
            .collect(),
    }
}

/// Every table's history, in table order, as the report shows it.
pub fn attach_history(report: &mut Report, histories: Vec<history::TableHistory>) {
    let started_at = report.run.started_at.clone();
    for (t, h) in report.tables.iter_mut().zip(histories) {
        t.history = Some(history(h, &started_at));
    }
}
