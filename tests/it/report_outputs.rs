//! Trust at the edges of the reports: every table of both snapshots accounted for, no
//! credential of a root URL in any output, errors never quiet, the verdict line never
//! contradicting the exit code, one run at a time per report folder, and no stale diff file.

use std::path::Path;
use std::sync::Arc;

use arrow::array::*;

use crate::common::*;

fn ids(v: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(v))
}

/// `orders` on both sides (equal), `audit_log` only in legacy, `events` only in target.
fn with_unpaired_tables() -> Scenario {
    let s = Scenario::new();
    s.legacy("orders", batch(vec![("id", ids(vec![1, 2, 3]))]));
    s.target("orders", batch(vec![("id", ids(vec![1, 2, 3]))]));
    s.legacy("audit_log", batch(vec![("id", ids(vec![1, 2, 3, 4, 5]))]));
    s.target("events", batch(vec![("id", ids(vec![7, 8]))]));
    s
}

const ORDERS: &str = "[[tables]]\nname = \"orders\"\nkey = [\"id\"]\n";

fn text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `recon [-q] run --config recon.toml --out <out>` in the scenario's folder.
fn run_into(s: &Scenario, out: &str, quiet: bool) -> std::process::Output {
    let mut cmd = recon();
    if quiet {
        cmd.arg("-q");
    }
    cmd.arg("run")
        .arg("--config")
        .arg(s.path().join("recon.toml"))
        .arg("--out")
        .arg(s.path().join(out))
        .output()
        .expect("run recon")
}

#[test]
fn a_table_in_no_pair_is_reported_as_not_reconciled_and_warns_by_default() {
    let s = with_unpaired_tables();
    s.config(ORDERS);
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = s.report();
    assert_eq!(r["verdict"], "warning", "{r}");
    assert_eq!(r["schema_version"], 2);
    let unpaired = r["unpaired_tables"].as_array().expect("unpaired_tables");
    assert_eq!(unpaired.len(), 2, "{r}");
    assert_eq!(unpaired[0]["side"], "legacy");
    assert_eq!(unpaired[0]["table"], "audit_log");
    assert_eq!(unpaired[0]["rows"], 5);
    assert_eq!(unpaired[0]["status"], "warning");
    assert_eq!(unpaired[1]["side"], "target");
    assert_eq!(unpaired[1]["table"], "events");
    assert_eq!(unpaired[1]["rows"], 2);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("not reconciled"), "{stdout}");
    assert!(stdout.contains("audit_log"), "{stdout}");
    let dir = s.path().join("out");
    for file in ["report.md", "report.html", "report.junit.xml"] {
        let t = text(&dir.join(file));
        assert!(
            t.contains("audit_log") && t.contains("events"),
            "{file}: {t}"
        );
    }
}

#[test]
fn a_run_fails_when_a_whole_table_was_never_migrated_and_the_gate_says_fail() {
    let s = with_unpaired_tables();
    s.config(&format!("[gate]\nunpaired_tables = \"fail\"\n\n{ORDERS}"));
    let (code, r) = run_report(&s, &[]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["verdict"], "critical");
    s.config(&format!("[gate]\nunpaired_tables = \"pass\"\n\n{ORDERS}"));
    let (code, r) = run_report(&s, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["unpaired_tables"].as_array().map(Vec::len), Some(2));
}

#[test]
fn unpaired_tables_is_refused_in_a_tables_own_gate() {
    let s = with_unpaired_tables();
    s.config(&format!(
        "{ORDERS}[tables.gate]\nunpaired_tables = \"pass\"\n"
    ));
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        s.report()["error"]
            .as_str()
            .is_some_and(|e| e.contains("unpaired_tables"))
    );
}

#[test]
fn tables_a_pairs_sql_reads_are_accounted_for() {
    let s = with_unpaired_tables();
    s.target("audit_log", batch(vec![("id", ids(vec![1, 2, 3, 4, 5]))]));
    s.config(&format!(
        "{ORDERS}\n[[tables]]\nname = \"activity\"\nkey = [\"id\"]\n\
         legacy_sql = \"WITH a AS (SELECT id FROM audit_log) SELECT id FROM a\"\n\
         target_sql = \"SELECT id FROM audit_log UNION ALL SELECT id FROM target.events \
         WHERE id IN (SELECT id FROM orders WHERE id > 100)\"\n"
    ));
    let (code, r) = run_report(&s, &["--fail-on", "critical"]);
    assert_eq!(code, 0, "{r}");
    assert!(r.get("unpaired_tables").is_none(), "{r}");
    // A pair the run leaves out still reads its tables: planned, not run.
    let (code, r) = run_report(&s, &["--table", "orders"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["tables"].as_array().map(Vec::len), Some(1), "{r}");
    assert!(r.get("unpaired_tables").is_none(), "{r}");
}

#[test]
fn recon_diff_does_not_list_the_other_files_beside_its_two_tables() {
    let s = with_unpaired_tables();
    let out = recon()
        .arg("diff")
        .arg(s.path().join("legacy/orders.parquet"))
        .arg(s.path().join("target/orders.parquet"))
        .args(["--key", "id", "--format", "json"])
        .output()
        .expect("run recon");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: serde_json::Value = crate::common::parse_report(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(r["verdict"], "pass");
    assert!(r.get("unpaired_tables").is_none(), "{r}");
}

#[test]
fn init_proposes_a_gate_that_fails_on_the_tables_it_left_unpaired() {
    let s = with_unpaired_tables();
    let config = s.path().join("recon.toml");
    let out = recon()
        .current_dir(s.path())
        .args(["init", "--legacy", "legacy", "--target", "target"])
        .output()
        .expect("run recon");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(text(&config).contains("unpaired_tables = \"critical\""));
    let (code, r) = run_report(&s, &[]);
    assert_eq!(code, 1, "{r}");
    let names: Vec<&str> = r["unpaired_tables"]
        .as_array()
        .expect("unpaired_tables")
        .iter()
        .filter_map(|u| u["table"].as_str())
        .collect();
    assert_eq!(names, ["audit_log", "events"]);
}

/// Everything a run printed or wrote, as one text.
fn everything(out: &std::process::Output, dir: &Path) -> String {
    let mut all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    all
}

#[test]
fn a_root_url_never_shows_its_credentials_in_any_output() {
    const USER_SECRET: &str = "pwSECRETuser0451";
    const QUERY_SECRET: &str = "sigSECRETquery9923";
    let s = with_unpaired_tables();
    for root in [
        format!("http://user:{USER_SECRET}@127.0.0.1:9/x/?sig={QUERY_SECRET}"),
        format!("https://user:{USER_SECRET}@127.0.0.1:9/x/?sig={QUERY_SECRET}"),
        format!("s3://bucket/p/?X-Amz-Signature={QUERY_SECRET}"),
        format!("file://user:{USER_SECRET}@localhost/nonexistent/?sig={QUERY_SECRET}"),
    ] {
        std::fs::write(
            s.path().join("recon.toml"),
            format!("[legacy]\nroot = \"{root}\"\n\n[target]\nroot = \"target\"\n\n{ORDERS}"),
        )
        .expect("config");
        for quiet in [false, true] {
            let mut cmd = recon();
            cmd.env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
                .env("AWS_ALLOW_HTTP", "true")
                .env("AWS_EC2_METADATA_DISABLED", "true");
            if quiet {
                cmd.arg("-q");
            }
            let out = cmd
                .arg("run")
                .arg("--config")
                .arg(s.path().join("recon.toml"))
                .arg("--out")
                .arg(s.path().join("out"))
                .output()
                .expect("run recon");
            assert_eq!(out.status.code(), Some(2), "{root}: {}", stderr(&out));
            let all = everything(&out, &s.path().join("out"));
            assert!(
                all.contains("127.0.0.1") || all.contains("bucket") || all.contains("nonexistent"),
                "{all}"
            );
            assert!(!all.contains(USER_SECRET), "{root}: {all}");
            assert!(!all.contains(QUERY_SECRET), "{root}: {all}");
        }
        let out = recon()
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args([
                "init", "--out", "-", "--target", "target", "--legacy", &root,
            ])
            .current_dir(s.path())
            .output()
            .expect("run recon");
        assert_eq!(out.status.code(), Some(2), "{root}: {}", stderr(&out));
        let all = everything(&out, &s.path().join("none"));
        assert!(
            !all.contains(USER_SECRET) && !all.contains(QUERY_SECRET),
            "{root}: {all}"
        );
    }
}

#[test]
fn quiet_still_prints_why_a_run_could_not_decide() {
    let s = with_unpaired_tables();
    let out = recon()
        .args(["-q", "run", "--config"])
        .arg(s.path().join("no-such-config.toml"))
        .output()
        .expect("run recon");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("error:") && err.contains("no-such-config.toml"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("verdict: ERROR"), "{stdout}");
    // Nor only inside a document on stdout.
    let out = recon()
        .args(["run", "--format", "json", "--config"])
        .arg(s.path().join("no-such-config.toml"))
        .output()
        .expect("run recon");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no-such-config.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn reports_that_cannot_be_written_make_the_verdict_error_not_fail() {
    let s = Scenario::new();
    s.legacy("orders", batch(vec![("id", ids(vec![1, 2, 3]))]));
    s.target("orders", batch(vec![("id", ids(vec![1, 2]))]));
    s.config(ORDERS);
    // A folder where a report file goes: that file cannot be written (even by root).
    std::fs::create_dir_all(s.path().join("out/report.html/x")).expect("mkdir");
    for quiet in [false, true] {
        let out = run_into(&s, "out", quiet);
        assert_eq!(out.status.code(), Some(2));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("verdict: ERROR"), "{stdout}");
        assert!(!stdout.contains("verdict: FAIL"), "{stdout}");
        assert!(stderr(&out).contains("report.html") || stdout.contains("report.html"));
        // What could be written says the same as the exit code.
        let r = s.report();
        assert_eq!(r["verdict"], "error", "{r}");
        assert!(!s.path().join("out/report.md").exists());
    }
}

#[test]
fn an_out_path_under_a_file_exits_2_without_a_verdict_of_fail() {
    let s = Scenario::new();
    s.legacy("orders", batch(vec![("id", ids(vec![1, 2, 3]))]));
    s.target("orders", batch(vec![("id", ids(vec![1, 2]))]));
    s.config(ORDERS);
    std::fs::write(s.path().join("file"), "x").expect("write");
    for quiet in [false, true] {
        let out = run_into(&s, "file/out", quiet);
        assert_eq!(out.status.code(), Some(2));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains("FAIL") && !stdout.contains("PASS"),
            "{stdout}"
        );
        assert!(stderr(&out).contains("file/out"), "{}", stderr(&out));
    }
}

#[test]
fn two_runs_never_write_into_one_report_folder_at_once() {
    let s = with_unpaired_tables();
    s.config(ORDERS);
    let dir = s.path().join("out");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let lock = std::fs::File::options()
        .create(true)
        .truncate(true)
        .write(true)
        .read(true)
        .open(dir.join(".recon.lock"))
        .expect("lock file");
    lock.lock().expect("lock");
    std::io::Write::write_all(&mut &lock, b"process 4242 started 2026-01-01T00:00:00Z")
        .expect("write");
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("another recon run") && err.contains("4242"),
        "{err}"
    );
    assert!(!dir.join("report.json").exists());
    drop(lock);
    let out = s.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.join("report.json").exists());
}

#[test]
fn a_diff_file_of_a_table_that_errors_or_left_the_config_does_not_stay() {
    let s = Scenario::new();
    for t in ["a", "b"] {
        s.legacy(t, batch(vec![("id", ids(vec![1, 2, 3]))]));
        s.target(t, batch(vec![("id", ids(vec![1, 2]))]));
    }
    let both =
        "[[tables]]\nname = \"a\"\nkey = [\"id\"]\n\n[[tables]]\nname = \"b\"\nkey = [\"id\"]\n";
    s.config(both);
    let diff = s.path().join("diff");
    std::fs::create_dir_all(&diff).expect("mkdir");
    std::fs::write(diff.join("notes.parquet"), "not recon's").expect("write");
    let diff_arg = diff.to_string_lossy().into_owned();
    let out = s.run(&["--diff-out", &diff_arg]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(diff.join("a.parquet").exists() && diff.join("b.parquet").exists());
    // `b` left the config.
    s.config("[[tables]]\nname = \"a\"\nkey = [\"id\"]\n");
    let _ = s.run(&["--diff-out", &diff_arg]);
    assert!(diff.join("a.parquet").exists());
    assert!(!diff.join("b.parquet").exists(), "stale diff file of `b`");
    // `a` now errors (its key column is gone).
    s.config("[[tables]]\nname = \"a\"\nkey = [\"nope\"]\n");
    let out = s.run(&["--diff-out", &diff_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!diff.join("a.parquet").exists(), "stale diff file of `a`");
    assert!(
        diff.join("notes.parquet").exists(),
        "a file recon did not write"
    );
}

#[test]
fn an_s3_root_without_credentials_never_asks_the_instance_metadata_address() {
    let s = with_unpaired_tables();
    let home = s.path().join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::write(
        s.path().join("recon.toml"),
        format!(
            "[legacy]\nroot = \"s3://bucket/legacy\"\n\n[target]\nroot = \"target\"\n\n{ORDERS}"
        ),
    )
    .expect("config");
    let mut cmd = recon();
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .env("HOME", &home)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg("run")
        .arg("--config")
        .arg(s.path().join("recon.toml"))
        .output()
        .expect("run recon");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("AWS_EC2_METADATA_DISABLED"), "{stdout}");
}
