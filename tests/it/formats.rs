//! Reports for people and CI: Markdown, HTML, `JUnit`; escaping, redaction, drift explained, the
//! nightly history, and the HTML page in a real headless browser.

use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::TimeUnit;

use crate::common::*;

fn strs(v: Vec<Option<&str>>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

fn ids(v: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(v))
}

/// A small failing scenario; every format is written into `out/`.
fn scenario() -> Scenario {
    let s = Scenario::new();
    s.legacy(
        "orders",
        batch(vec![
            ("id", ids(vec![1, 2, 3, 4])),
            (
                "status",
                strs(vec![Some("Open"), Some("Draft"), None, Some("Paid")]),
            ),
        ]),
    );
    s.target(
        "orders",
        batch(vec![
            ("id", ids(vec![1, 2, 4, 5])),
            (
                "status",
                strs(vec![Some("Open"), Some("draft"), Some("Paid"), Some("New")]),
            ),
        ]),
    );
    s.config("[[tables]]\nname = \"orders\"\nkey = [\"id\"]\n\n[[checks]]\nkind = \"count\"\ntable = \"orders\"\n");
    s
}

fn read(s: &Scenario, file: &str) -> String {
    std::fs::read_to_string(s.path().join("out").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_format_is_written_and_snapshotted() {
    let s = scenario();
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(3));
    for f in [
        "report.json",
        "report.md",
        "report.html",
        "report.junit.xml",
    ] {
        assert!(s.path().join("out").join(f).exists(), "{f}");
    }
    let md = read(&s, "report.md");
    assert!(
        md.starts_with("# recon: 🛑 ROLLBACK"),
        "the verdict comes first: {md}"
    );
    filtered(|| insta::assert_snapshot!("markdown_report", md));
    filtered(|| insta::assert_snapshot!("junit_report", read(&s, "report.junit.xml")));
    filtered(|| insta::assert_snapshot!("html_report", read(&s, "report.html")));
}

#[test]
fn format_flag_prints_formats_to_stdout() {
    let s = scenario();
    let out = recon()
        .arg("run")
        .arg("--config")
        .arg(s.path().join("recon.toml"))
        .args(["--format", "markdown", "--format", "junit"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("# recon: 🛑 ROLLBACK") && stdout.contains("<testsuites"),
        "{stdout}"
    );
}

#[test]
fn junit_is_accepted_by_a_junit_parser() {
    let s = scenario();
    s.run(&[]);
    let xml = read(&s, "report.junit.xml");
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    let suites: Vec<&str> = report.test_suites.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(suites, ["recon.tables", "recon.checks"]);
    let tables = &report.test_suites[0];
    assert_eq!(tables.test_cases.len(), 1);
    assert_eq!(tables.failures, 1);
    let case = &tables.test_cases[0];
    assert_eq!(case.name.as_str(), "orders");
    match &case.status {
        quick_junit::TestCaseStatus::NonSuccess { message, .. } => {
            assert!(
                message
                    .as_ref()
                    .is_some_and(|m| m.as_str().contains("drift_ratio")),
                "{message:?}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn values_from_the_data_are_escaped() {
    let s = Scenario::new();
    let evil = "<script>alert(1)</script>";
    s.legacy(
        "customers",
        batch(vec![
            ("id", ids(vec![1, 2])),
            ("name", strs(vec![Some("Ann"), Some(evil)])),
        ]),
    );
    s.target(
        "customers",
        batch(vec![
            ("id", ids(vec![1, 2])),
            ("name", strs(vec![Some(evil), Some("Bob & <b>Co</b>")])),
        ]),
    );
    s.config("[[tables]]\nname = \"customers\"\nkey = [\"id\"]\n");
    s.run(&[]);
    let html = read(&s, "report.html");
    assert!(
        !html.contains("<script>"),
        "raw markup from the data in the page"
    );
    assert!(!html.contains("<b>Co</b>"));
    // askama's escaper writes numeric character references.
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{html}"
    );
    assert!(
        html.contains("Bob &#38; &#60;b&#62;Co&#60;/b&#62;"),
        "{html}"
    );
    let md = read(&s, "report.md");
    assert!(!md.contains("<script>"));
    let junit = read(&s, "report.junit.xml");
    assert!(!junit.contains("<script>"));
}

#[test]
fn redacted_columns_never_appear_anywhere() {
    let s = Scenario::new();
    let secret_key = ["SSN-111", "SSN-222", "SSN-333"];
    let phones_l = ["+966500000001", "+966500000002", "+966500000003"];
    let phones_t = ["+966599999991", "+966500000002", "+966500000003"];
    s.legacy(
        "people",
        batch(vec![
            ("ssn", strs(secret_key.iter().map(|x| Some(*x)).collect())),
            ("phone", strs(phones_l.iter().map(|x| Some(*x)).collect())),
        ]),
    );
    s.target(
        "people",
        batch(vec![
            (
                "ssn",
                strs(vec![Some("SSN-111"), Some("SSN-222"), Some("SSN-444")]),
            ),
            ("phone", strs(phones_t.iter().map(|x| Some(*x)).collect())),
        ]),
    );
    s.config("[[tables]]\nname = \"people\"\nkey = [\"ssn\"]\nredact = [\"ssn\", \"phone\"]\n\n[[checks]]\nkind = \"invariant\"\ntable = \"people\"\npredicate = \"phone LIKE '+9665000%'\"\n");
    let history = s.path().join("history");
    let diff = s.path().join("diff");
    let out = s.run(&[
        "--diff-out",
        diff.to_str().expect("utf8"),
        "--history",
        history.to_str().expect("utf8"),
        "--log",
        "trace",
    ]);
    let mut sources = vec![(
        "stdout+stderr".to_owned(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out),
    )];
    for f in [
        "report.json",
        "report.md",
        "report.html",
        "report.junit.xml",
    ] {
        sources.push((f.to_owned(), read(&s, f)));
    }
    for dir in [&diff, &history.join("keys"), &history.join("runs")] {
        for e in std::fs::read_dir(dir).expect("dir") {
            let path = e.expect("entry").path();
            sources.push((
                path.display().to_string(),
                String::from_utf8_lossy(&std::fs::read(&path).expect("file")).into_owned(),
            ));
        }
    }
    for secret in [
        "SSN-111",
        "SSN-222",
        "SSN-333",
        "SSN-444",
        "+966500000001",
        "+966599999991",
    ] {
        for (name, text) in &sources {
            assert!(
                !text.contains(secret),
                "{secret} leaked into {name}: {}",
                text.lines()
                    .filter(|l| l.contains(secret))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
    let r = s.report();
    let sample = &table(&r, "people")["samples"]["changed"][0];
    assert!(
        sample["key"]["ssn"]
            .as_str()
            .expect("digest")
            .starts_with("redacted:"),
        "{sample}"
    );
    assert!(
        sample["columns"]["phone"]["legacy"]
            .as_str()
            .expect("digest")
            .starts_with("redacted:")
    );
}

#[test]
fn every_drift_class_is_named() {
    let s = Scenario::new();
    let l = |v: &str| Some(v.to_owned());
    let legacy_text = vec![
        l("Ahmed "),
        l("Riyadh"),
        l("Cafe\u{301}"),
        l("Café"),
        l("Replace front brake pads"),
        None,
        l("x"),
    ];
    let target_text = vec![
        l("Ahmed"),
        l("RIYADH"),
        l("Café"),
        l("CafÃ©"),
        l("Replace front br"),
        l(""),
        l("y"),
    ];
    let n = i64::try_from(legacy_text.len()).expect("small");
    let key: Vec<i64> = (1..=n).collect();
    let other_amount: Vec<i128> = vec![1000; legacy_text.len()];
    let amount_l: ArrayRef = Arc::new(
        Decimal128Array::from([vec![10_005], other_amount[1..].to_vec()].concat())
            .with_precision_and_scale(12, 3)
            .expect("dec"),
    );
    let amount_t: ArrayRef = Arc::new(
        Decimal128Array::from([vec![1001], vec![100; legacy_text.len() - 1]].concat())
            .with_precision_and_scale(12, 2)
            .expect("dec"),
    );
    let ts_l: ArrayRef = Arc::new(TimestampSecondArray::from(vec![
        1_700_000_000;
        legacy_text.len()
    ]));
    let mut shifted = vec![1_700_000_000i64; legacy_text.len()];
    shifted[0] += 3 * 3600;
    let ts_t: ArrayRef = Arc::new(
        arrow::array::PrimitiveArray::<arrow::datatypes::TimestampSecondType>::from(shifted)
            .with_data_type(arrow::datatypes::DataType::Timestamp(
                TimeUnit::Second,
                Some("UTC".into()),
            )),
    );
    s.legacy(
        "t",
        batch(vec![
            ("id", ids(key.clone())),
            ("txt", Arc::new(StringArray::from(legacy_text)) as ArrayRef),
            ("amount", amount_l),
            ("at", ts_l),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", ids(key)),
            ("txt", Arc::new(StringArray::from(target_text)) as ArrayRef),
            ("amount", amount_t),
            ("at", ts_t),
        ]),
    );
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    let (_, r) = run_report(&s, &[]);
    let e = &table(&r, "t")["explained"];
    for class in [
        "whitespace",
        "case",
        "unicode_normalization",
        "mojibake",
        "truncation",
        "null_vs_empty",
        "other",
    ] {
        assert_eq!(e["txt"][class], 1, "{class}: {e}");
    }
    assert_eq!(e["amount"]["rounding"], 1, "{e}");
    assert_eq!(e["at"]["timezone_shift"], 1, "{e}");
    for f in ["report.md", "report.html"] {
        assert!(read(&s, f).contains("mojibake"), "{f} shows the classes");
    }
}

/// Table `t`: ids 1 to 4, `v` = a, b, c, d in legacy and `target` in the target.
fn four_rows(s: &Scenario, target: &[&str]) {
    s.legacy(
        "t",
        batch(vec![
            ("id", ids(vec![1, 2, 3, 4])),
            ("v", strs(vec![Some("a"), Some("b"), Some("c"), Some("d")])),
        ]),
    );
    s.target(
        "t",
        batch(vec![
            ("id", ids(vec![1, 2, 3, 4])),
            ("v", strs(target.iter().copied().map(Some).collect())),
        ]),
    );
}

/// The three runs happen within one second: run ids once collided there (a flaky CI run).
#[test]
fn history_across_three_runs_shows_trend_new_and_resolved_keys() {
    let s = Scenario::new();
    let history = s.path().join("history");
    let h = history.to_str().expect("utf8").to_owned();
    let write = |target: Vec<&str>| four_rows(&s, &target);
    s.config("[[tables]]\nname = \"t\"\nkey = [\"id\"]\n");
    write(vec!["A", "B", "c", "d"]);
    let (_, first) = run_report(&s, &["--history", &h]);
    assert_eq!(
        table(&first, "t")["history"]["trend"]
            .as_array()
            .expect("trend")
            .len(),
        1
    );
    assert_eq!(
        table(&first, "t")["history"]["new_keys"],
        serde_json::Value::Null,
        "no previous run"
    );
    write(vec!["a", "B", "C", "d"]);
    let (_, second) = run_report(&s, &["--history", &h]);
    let h2 = &table(&second, "t")["history"];
    assert_eq!(h2["new_keys"], 1, "{h2}");
    assert_eq!(h2["resolved_keys"], 1);
    assert_eq!(h2["new_samples"][0], r#"{"id":"3"}"#);
    assert_eq!(h2["resolved_samples"][0], r#"{"id":"1"}"#);
    write(vec!["a", "b", "c", "d"]);
    let (code, third) = run_report(&s, &["--history", &h]);
    assert_eq!(code, 0);
    let h3 = &table(&third, "t")["history"];
    let trend: Vec<f64> = h3["trend"]
        .as_array()
        .expect("trend")
        .iter()
        .map(|p| p["drift_ratio"].as_f64().expect("drift"))
        .collect();
    assert_eq!(trend, [0.5, 0.5, 0.0]);
    assert_eq!(h3["new_keys"], 0);
    assert_eq!(h3["resolved_keys"], 2);
    assert!(read(&s, "report.html").contains("id=\"trend\""));
    let out = recon()
        .args(["history", "--history", &h])
        .output()
        .expect("history");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        listing.lines().count(),
        4,
        "a header and three runs: {listing}"
    );
    assert!(
        listing.contains("50.000% rollback") && listing.contains("0% pass"),
        "{listing}"
    );
}

/// With a history, every format says since when a table holds its level, whether its drift is
/// rising, what it was before, and when it is resolved; exit codes follow the levels.
#[test]
fn levels_over_runs_say_since_when_they_hold_and_when_they_are_resolved() {
    let s = Scenario::new();
    let h = s.path().join("history").to_str().expect("utf8").to_owned();
    let write = |target: Vec<&str>| four_rows(&s, &target);
    s.config(
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\n[tables.gate]\n\
         drift_ratio = { warning = 0.1, critical = 0.2, rollback = 0.6 }\n",
    );
    let stdout = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();
    let since = |r: &serde_json::Value| table(r, "t")["history"]["level_since"].clone();

    write(vec!["A", "b", "c", "d"]);
    let out = s.run(&["--history", &h]);
    assert_eq!(out.status.code(), Some(1), "critical");
    let first = s.report();
    assert_eq!(since(&first)["runs"], 1);
    assert!(since(&first).get("previous").is_none(), "{first}");
    assert!(!stdout(&out).contains("since"), "{}", stdout(&out));

    write(vec!["A", "B", "c", "d"]);
    let out = s.run(&["--history", &h]);
    assert_eq!(out.status.code(), Some(1), "still critical");
    let second = s.report();
    assert_eq!(since(&second)["runs"], 2);
    assert_eq!(since(&second)["since"], first["run"]["started_at"]);
    assert_eq!(since(&second)["drift"], "rising");
    let note = "critical for 2 runs, since ";
    assert!(stdout(&out).contains(note), "{}", stdout(&out));
    assert!(stdout(&out).contains(", drift rising"), "{}", stdout(&out));
    for f in ["report.md", "report.html", "report.junit.xml"] {
        assert!(read(&s, f).contains(note), "{f}: {}", read(&s, f));
    }

    write(vec!["A", "B", "C", "d"]);
    let out = s.run(&["--history", &h]);
    assert_eq!(out.status.code(), Some(3), "rollback");
    assert!(
        stdout(&out).contains("rollback since this run (was critical), drift rising"),
        "{}",
        stdout(&out)
    );
    assert_eq!(since(&s.report())["previous"], "critical");

    write(vec!["a", "b", "c", "d"]);
    let out = s.run(&["--history", &h]);
    assert_eq!(out.status.code(), Some(0), "pass");
    let resolved = "pass since this run (was rollback): resolved";
    assert!(stdout(&out).contains(resolved), "{}", stdout(&out));
    assert!(read(&s, "report.md").contains(resolved));
}

/// The HTML report in a real headless browser: it loads without console errors and renders to a
/// screenshot.
#[test]
fn html_report_renders_in_a_headless_browser() {
    require!(Chromium);
    let browser = chromium().expect("a browser on PATH");
    let s = scenario();
    s.run(&[]);
    let page = s.path().join("out/report.html");
    let shot = s.path().join("shot.png");
    let profile = s.path().join("profile");
    let base = |cmd: &mut std::process::Command| {
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    };
    let mut cmd = browser_command(&browser);
    base(&mut cmd);
    let out = cmd
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,900")
        .arg("--enable-logging=stderr")
        .arg("--v=0")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        shot.exists() && std::fs::metadata(&shot).expect("png").len() > 1000,
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console errors: {console:?}");
    // The DOM as the browser built it has the verdict banner and both charts.
    let mut cmd = browser_command(&browser);
    base(&mut cmd);
    let dom = cmd
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("dump-dom");
    let dom = String::from_utf8_lossy(&dom.stdout);
    for id in ["verdict", "drift-chart", "heat-map", "audit"] {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "{id} missing from the rendered page"
        );
    }
}

/// The browser under `timeout`, so that a browser that hangs fails the test instead of CI.
fn browser_command(browser: &std::path::Path) -> std::process::Command {
    match which("timeout") {
        Some(timeout) => {
            let mut cmd = std::process::Command::new(timeout);
            cmd.arg("120").arg(browser);
            cmd
        }
        None => std::process::Command::new(browser),
    }
}
