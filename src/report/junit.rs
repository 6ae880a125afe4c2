//! `JUnit` XML: one test case per table and per check, so GitLab, Jenkins and GitHub test
//! reporters show the gate. Failures carry the crossed thresholds; errors carry the reason.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use super::Finding;
use super::Report;
use super::escape::xml_text;
use crate::gate::{FailOn, Status};

fn reason(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "{} {} = {} > {}",
                f.level.as_str(),
                f.metric,
                f.value,
                super::terminal::trim_float(f.threshold)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn case(
    name: &str,
    classname: &str,
    status: Status,
    fail_on: FailOn,
    message: &str,
    ms: u64,
) -> TestCase {
    let failing = matches!(status, Status::Critical | Status::Rollback)
        || (status == Status::Warning && fail_on == FailOn::Warning);
    let mut s = if status == Status::Error {
        TestCaseStatus::non_success(NonSuccessKind::Error)
    } else if failing {
        TestCaseStatus::non_success(NonSuccessKind::Failure)
    } else {
        TestCaseStatus::success()
    };
    let message = xml_text(message).into_owned();
    if !matches!(s, TestCaseStatus::Success { .. }) {
        s.set_message(message.clone());
        s.set_type(status.as_str());
    }
    let mut c = TestCase::new(xml_text(name), s);
    c.set_classname(xml_text(classname));
    c.set_time(Duration::from_millis(ms));
    if status == Status::Warning && !failing {
        c.set_system_out(message);
    }
    c
}

/// Renders the report as `JUnit` XML.
pub fn render(r: &Report) -> crate::Result<String> {
    let mut junit = Junit::new("recon");
    let mut tables = TestSuite::new("recon.tables");
    for t in &r.tables {
        let mut message = t.error.clone().unwrap_or_else(|| reason(&t.findings));
        if let Some(note) = t.level_note(&r.run.started_at) {
            message = if message.is_empty() {
                note
            } else {
                format!("{message}; {note}")
            };
        }
        tables.add_test_case(case(
            &t.name,
            "recon.tables",
            t.status,
            r.run.fail_on,
            &message,
            0,
        ));
    }
    let mut checks = TestSuite::new("recon.checks");
    for c in &r.checks {
        let message = c.reason.clone().unwrap_or_else(|| reason(&c.findings));
        checks.add_test_case(case(
            &c.id,
            "recon.checks",
            c.status,
            r.run.fail_on,
            &message,
            c.duration_ms,
        ));
    }
    junit.add_test_suite(tables);
    if !r.checks.is_empty() {
        junit.add_test_suite(checks);
    }
    if !r.unpaired_tables.is_empty() {
        let mut unpaired = TestSuite::new("recon.unpaired");
        for u in &r.unpaired_tables {
            unpaired.add_test_case(case(
                &format!("{}.{}", u.side.as_str(), u.table),
                "recon.unpaired",
                u.status,
                r.run.fail_on,
                &format!("not reconciled: in no table pair ({} rows)", u.rows),
                0,
            ));
        }
        junit.add_test_suite(unpaired);
    }
    junit.set_time(Duration::from_millis(r.run.duration_ms));
    junit
        .to_string()
        .map_err(|e| crate::Error::failed("JUnit serialization", e))
}
