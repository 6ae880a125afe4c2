//! `recon run --cluster`: the reconciliation (hashing and pairing on the executors) and the SQL
//! checks on a scheduler and two executors of the real binary must give the local run's
//! report.json, run metadata and timings aside: on the generated ERP migration, on a composite
//! key with duplicates and NULL keys, and on random multisets in any split into files and row
//! groups. An executor killed mid-job ends the run with the local report or with exit 2, never
//! with another verdict.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use proptest::test_runner::{Config as Cases, TestRunner};
use serde_json::Value;

use crate::cluster::{Cluster, cluster};
use crate::common::*;
use crate::key_order::{CONFIG, Row, diff_rows, drifted, row, write_side};

/// The report with what may differ between two runs of one config left out: the run's
/// metadata, timings and the history (each run keeps its own).
fn comparable(mut report: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| k != "duration_ms" && k != "history");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    if let Value::Object(m) = &mut report {
        m.remove("run");
    }
    strip(&mut report);
    report
}

/// One run of `config` into `out` (here, or on `cluster`): exit code, report, `--diff-out` rows.
fn run(config: &Path, out: &Path, cluster: Option<&str>) -> (i32, Value, String) {
    let mut cmd = recon();
    cmd.args(["run", "--no-progress", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out.join("report"))
        .arg("--diff-out")
        .arg(out.join("diff"))
        .arg("--history")
        .arg(out.join("history"));
    match cluster {
        Some(url) => cmd.args(["--cluster", url]),
        None => cmd.arg("--local"),
    };
    let o = cmd.output().expect("run recon");
    let code = o.status.code().expect("exit code");
    let text = std::fs::read_to_string(out.join("report/report.json"))
        .unwrap_or_else(|e| panic!("no report ({e}): {}", stderr(&o)));
    let report = parse_report(&text);
    assert_ne!(report["verdict"], "error", "{report}\n{}", stderr(&o));
    (code, comparable(report), diff_rows(&out.join("diff")))
}

/// Runs `config` here and on `c`: both runs must give one report and one set of differing rows.
fn same_both_ways(config: &Path, c: &Cluster) -> (i32, Value) {
    let work = tempfile::tempdir().expect("tempdir");
    let (code, local, local_rows) = run(config, &work.path().join("local"), None);
    let (remote_code, remote, remote_rows) = run(config, &work.path().join("remote"), Some(&c.url));
    assert_eq!(remote, local);
    assert_eq!(remote_code, code);
    assert_eq!(remote_rows, local_rows);
    (code, local)
}

/// A GET of the scheduler's REST API.
fn rest(c: &Cluster, path: &str) -> Value {
    let mut stream = std::net::TcpStream::connect(&c.bind).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", c.bind).expect("request");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a body");
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{head}"
    );
    serde_json::from_str(body).expect("JSON")
}

/// Progress reads each reconciliation job's stages from the scheduler's REST API: every task a
/// job ran is listed there, done, with the partitions it ran (what progress counts).
fn every_task_is_listed_done(c: &Cluster) {
    let jobs = rest(c, "/api/jobs");
    let reconciliations: Vec<&Value> = (jobs.as_array().expect("jobs").iter())
        .filter(|j| {
            j["job_name"]
                .as_str()
                .is_some_and(|n| n.starts_with("recon "))
        })
        .collect();
    assert!(!reconciliations.is_empty(), "{jobs}");
    for job in reconciliations {
        assert_eq!(job["percent_complete"], 100, "{job}");
        let id = job["job_id"].as_str().expect("a job id");
        let stages = rest(c, &format!("/api/job/{id}/stages"));
        let stages = stages["stages"].as_array().expect("stages");
        // Both sides hashed, then paired.
        assert_eq!(stages.len(), 3, "{stages:?}");
        for stage in stages {
            assert!(stage["stage_id"].is_string(), "{stage}");
            let tasks = stage["tasks"].as_array().expect("tasks");
            let done: usize = tasks
                .iter()
                .filter(|t| t["status"] == "Successful")
                .map(|t| t["partition_id"].as_array().expect("partitions").len())
                .sum();
            assert!(done >= 1, "{stage}");
        }
    }
}

/// A composite key `(a, b)` with duplicates and NULL keys, drift of every kind, amounts moved
/// within their tolerance, and the target in reverse key order.
fn composite(s: &Scenario) {
    let (mut legacy, mut target) = drifted();
    // Duplicate keys: a row twice on both sides, another twice on the legacy side only.
    let (both, once) = (legacy[20].clone(), legacy[40].clone());
    legacy.extend([both.clone(), once]);
    target.push(both);
    // Within the amount's tolerance of 0.01: still matched.
    for r in target.iter_mut().filter(|r| r.0 % 17 == 1) {
        r.3 += 1;
    }
    target.reverse();
    write_side(&s.path().join("legacy/t"), &legacy, 3, 50, true);
    write_side(&s.path().join("target/t"), &target, 2, 70, false);
    s.config(CONFIG);
}

#[test]
fn the_generated_migration_and_a_composite_key_give_the_local_report() {
    let work = tempfile::tempdir().expect("tempdir");
    let c = cluster(work.path());
    let generated = generated(3000, 7, 700);
    let (code, report) = same_both_ways(&generated.path().join("recon.toml"), &c);
    assert_eq!(code, 3, "{report}");
    assert!(!report["checks"].as_array().expect("checks").is_empty());
    every_task_is_listed_done(&c);

    let s = Scenario::new();
    composite(&s);
    let (code, report) = same_both_ways(&s.path().join("recon.toml"), &c);
    let t = table(&report, "t");
    assert_identities(t);
    let (matched, changed, missing, extra) = counts(t);
    assert_eq!(code, 3, "{t}");
    assert!(
        matched > 0 && changed > 0 && missing > 0 && extra > 0,
        "{t}"
    );
    assert!(t["null_key_rows"]["legacy"].as_u64() > Some(0), "{t}");
    assert!(t["duplicate_keys"]["legacy"].as_u64() > Some(0), "{t}");
}

#[test]
fn random_multisets_in_any_layout_give_the_local_report() {
    let work = tempfile::tempdir().expect("tempdir");
    let c = cluster(work.path());
    let cases = (
        proptest::collection::vec(row(), 1..60),
        proptest::collection::vec((0usize..100, 0u8..6, row()), 0..20),
        (1usize..4, 1usize..15, 1usize..4, 1usize..15),
    );
    let mut runner = TestRunner::new(Cases {
        cases: 10,
        failure_persistence: None,
        ..Cases::default()
    });
    runner
        .run(&cases, |(legacy, edits, layout)| {
            let mut target = legacy.clone();
            for (at, op, new) in edits {
                let i = at % target.len().max(1);
                match (op, target.is_empty()) {
                    (_, true) | (5, _) => target.push(new),
                    (0, _) => drop(target.remove(i)),
                    (1, _) => target[i].2 += 1,
                    (2, _) => target[i].3 += 1,
                    (3, _) => target[i].3 += 100,
                    _ => target.push(target[i].clone()),
                }
            }
            target.reverse();
            let s = Scenario::new();
            write_side(
                &s.path().join("legacy/t"),
                &legacy,
                layout.0,
                layout.1,
                true,
            );
            write_side(
                &s.path().join("target/t"),
                &target,
                layout.2,
                layout.3,
                false,
            );
            s.config(CONFIG);
            let (_, report) = same_both_ways(&s.path().join("recon.toml"), &c);
            assert_identities(table(&report, "t"));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Waits until the scheduler at `bind` runs a job with a task; false after `limit`.
fn job_running(bind: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if let Some((200, body)) = http("GET", bind, "/api/jobs")
            && body.contains("\"Running\"")
        {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_executor_lost_mid_job_never_changes_the_verdict() {
    let work = tempfile::tempdir().expect("tempdir");
    let s = Scenario::new();
    // Enough rows that the job outlives the kill: many row groups, each a task.
    let legacy: Vec<Row> = (0..300_000)
        .map(|i| (i, Some(format!("k{}", i % 3)), i % 7, i))
        .collect();
    let mut target = legacy.clone();
    target.truncate(299_990);
    write_side(&s.path().join("legacy/t"), &legacy, 4, 1000, true);
    write_side(&s.path().join("target/t"), &target, 4, 1000, false);
    s.config(CONFIG);
    let config = s.path().join("recon.toml");
    let (code, local, _) = run(&config, &work.path().join("local"), None);
    let mut c = cluster(work.path());
    let remote = {
        let mut cmd = recon();
        cmd.args(["run", "--no-progress", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(work.path().join("remote"))
            .args(["--cluster", &c.url]);
        cmd.spawn().expect("spawn")
    };
    let mut remote = KillOnDrop(remote);
    assert!(job_running(&c.bind, Duration::from_mins(1)), "no job ran");
    c.kill_executor();
    // The loss must land in a running run, or this test proves nothing.
    assert!(
        remote.0.try_wait().expect("wait").is_none(),
        "the run ended before the kill"
    );
    let status = wait_for(remote, Duration::from_mins(5));
    let text = std::fs::read_to_string(work.path().join("remote/report.json")).expect("report");
    let report = parse_report(&text);
    match status {
        2 => assert_eq!(report["verdict"], "error", "{report}"),
        other => {
            assert_eq!(other, code, "{report}");
            assert_eq!(comparable(report), local);
        }
    }
}

/// The exit code of a child that must end within `limit`.
fn wait_for(mut child: KillOnDrop, limit: Duration) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            return status.code().expect("exit code");
        }
        assert!(
            Instant::now() < deadline,
            "the run did not end within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
