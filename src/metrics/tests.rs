use super::*;

fn erp_report() -> Report {
    let history = tempfile::tempdir().expect("temp dir");
    crate::reconciler::Reconciler::from_path("fixtures/erp/recon.toml")
        .expect("fixture config")
        .threads(2)
        .history(history.path())
        .run()
        .expect("fixture runs")
}

#[test]
fn every_family_has_help_and_type_before_its_samples_and_no_timestamps() {
    let report = erp_report();
    let text = render(&report, Some(1_700_000_000));
    let mut declared = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("type line");
            assert_eq!(kind, "gauge");
            declared.push(name.to_owned());
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().expect("name");
            assert_eq!(declared.last().map(String::as_str), Some(name), "{line}");
            // name{labels} value: one space-separated value after the labels, no timestamp.
            let value = line
                .rsplit_once("} ")
                .map_or_else(|| line.split_once(' ').expect("value").1, |(_, v)| v);
            assert!(!value.contains(' '), "a timestamp in {line}");
            value.parse::<f64>().expect("a number");
        }
    }
    let all: Vec<&str> = METRICS.iter().map(|(n, _)| *n).collect();
    assert_eq!(declared, all, "every metric, once, in order");
}

#[test]
fn values_follow_the_report() {
    let report = erp_report();
    let text = render(&report, None);
    let t = &report.tables[0];
    assert!(text.contains(&format!(
        "recon_table_rows{{table=\"{}\",side=\"legacy\"}} {}\n",
        t.name, t.legacy_rows
    )));
    assert!(text.contains(&format!(
        "recon_table_differing_rows{{table=\"{}\",kind=\"missing\"}} {}\n",
        t.name, t.missing
    )));
    assert!(text.contains(&format!(
        "recon_table_level{{table=\"{}\"}} {}\n",
        t.name,
        t.status.number()
    )));
    assert!(text.contains(&format!("recon_run_level {}\n", report.verdict.number())));
    assert!(!text.contains(LAST_SUCCESS), "unknown: left out");
    let tables: usize = report.tables.len();
    let counted: f64 = text
        .lines()
        .filter(|l| l.starts_with("recon_run_tables{"))
        .map(|l| {
            l.rsplit_once(' ')
                .expect("value")
                .1
                .parse::<f64>()
                .expect("n")
        })
        .sum();
    #[allow(clippy::cast_precision_loss)]
    let tables = tables as f64;
    assert!((counted - tables).abs() < f64::EPSILON);
}

#[test]
fn label_values_are_escaped() {
    let mut report = erp_report();
    report.tables.truncate(1);
    report.tables[0].name = "a\\b\"c\nd".to_owned();
    let text = render(&report, None);
    assert!(
        text.contains("recon_table_level{table=\"a\\\\b\\\"c\\nd\"}"),
        "{text}"
    );
}

#[test]
fn an_undecided_table_has_its_level_but_no_counts() {
    let mut report = erp_report();
    report.tables.truncate(1);
    report.tables[0].error = Some("unreadable".into());
    report.tables[0].status = Status::Error;
    let text = render(&report, None);
    assert!(text.contains("recon_table_level{table="));
    assert!(!text.contains("recon_table_rows{"));
    assert!(!text.contains("recon_table_drift_ratio{"));
}

#[test]
fn numbers_use_the_formats_spelling() {
    assert_eq!(number(3.0), "3");
    assert_eq!(number(0.0005), "0.0005");
    assert_eq!(number(f64::NAN), "NaN");
    assert_eq!(number(f64::INFINITY), "+Inf");
    assert_eq!(number(f64::NEG_INFINITY), "-Inf");
}

#[test]
fn the_last_success_is_read_back_from_an_earlier_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("recon.prom");
    assert_eq!(previous_last_success(&path), None);
    let report = erp_report();
    write_file(&path, &render(&report, Some(1_765_432_100))).expect("write");
    assert_eq!(previous_last_success(&path), Some(1_765_432_100));
    write_file(&path, &render(&report, None)).expect("write");
    assert_eq!(previous_last_success(&path), None);
}
