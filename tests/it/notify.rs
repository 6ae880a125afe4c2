//! Notifications through the real binary: `[[alerts]]` destinations on a loopback receiver (and a
//! real Alertmanager where installed), messages only on change across runs, resolved messages,
//! reminders, retries, failures that leave the verdict alone, and secrets that never show.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::*;
use serde_json::Value;

use crate::common::*;
use crate::receiver::{Answer, Receiver, get};

/// The token in every test webhook URL: it must never appear in any output.
const TOKEN: &str = "SECRET-TOKEN-123";
/// The environment variable holding the test webhook URL.
const HOOK_ENV: &str = "RECON_TEST_HOOK_URL";

const GATE: &str =
    "[gate]\ndrift_ratio = { warning = 0.001, critical = 0.01, rollback = 0.05 }\n\n";
const TABLES: &str = "[[tables]]\nname = \"orders\"\nkey = [\"id\"]\n\n";

/// `orders` with 1000 rows on both sides, the first `changed` amounts differing on the target:
/// drift `changed / 1000` (2: warning, 20: critical, 100: rollback, 0: pass).
fn write_orders(s: &Scenario, changed: i64) {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1000));
    let amounts = |delta: i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            (0..1000).map(|i| i * 10 + i64::from(i < delta)),
        ))
    };
    s.legacy(
        "orders",
        batch(vec![("id", ids.clone()), ("amount", amounts(0))]),
    );
    s.target(
        "orders",
        batch(vec![("id", ids), ("amount", amounts(changed))]),
    );
}

/// A scenario with `orders` drifting by `changed` rows and these `[[alerts]]`.
fn scenario(changed: i64, alerts: &str) -> Scenario {
    let s = Scenario::new();
    write_orders(&s, changed);
    s.config(&format!("{GATE}{TABLES}{alerts}"));
    s
}

/// `recon run` with a history folder and the hook URL in the environment.
fn run(s: &Scenario, hook: &str) -> Output {
    s.run_command()
        .arg("--history")
        .arg(s.path().join("history"))
        .env(HOOK_ENV, hook)
        .output()
        .expect("run recon")
}

/// The receiver's webhook URL, with the token in its path.
fn hook_url(hook: &Receiver) -> String {
    hook.url(&format!("/hooks/{TOKEN}"))
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn webhook(min_level: &str, extra: &str) -> String {
    format!(
        "[[alerts]]\nkind = \"webhook\"\nname = \"hook\"\nurl_env = \"{HOOK_ENV}\"\nmin_level = \"{min_level}\"\n{extra}\n"
    )
}

/// Every file under a folder, as text.
fn texts_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(texts_under(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((
                p.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    out
}

/// The token is in no output, report or history file.
fn assert_no_token(s: &Scenario, outputs: &[&Output]) {
    for o in outputs {
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains(TOKEN),
            "stdout"
        );
        assert!(!stderr(o).contains(TOKEN), "stderr: {}", stderr(o));
    }
    for (path, text) in texts_under(s.path()) {
        if !path.ends_with("recon.toml") {
            assert!(!text.contains(TOKEN), "{path} holds the token");
        }
    }
}

#[test]
fn a_429_is_retried_after_its_retry_after_and_never_sent_twice() {
    let hook = Receiver::start(vec![Answer::status(429).header("Retry-After", "1")]);
    let s = scenario(20, &webhook("warning", ""));
    let url = hook_url(&hook);
    let first = run(&s, &url);
    assert_eq!(code(&first), 1, "{}", stderr(&first));
    let got = hook.requests();
    assert_eq!(got.len(), 2, "429 then 200");
    assert!(
        got[1].at - got[0].at >= Duration::from_millis(950),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(got[0].body, got[1].body, "the same message again");
    assert_eq!(got[1].method, "POST");
    assert_eq!(got[1].path, format!("/hooks/{TOKEN}"));
    assert_eq!(got[1].header("content-type"), Some("application/json"));
    let body = got[1].json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["event"], "change");
    assert_eq!(body["tables"][0]["name"], "orders");
    assert_eq!(body["tables"][0]["level"], "critical");
    assert_eq!(body["tables"][0]["change"], "raised");
    let report = s.report();
    let n = &report["notifications"][0];
    assert_eq!(
        (
            n["destination"].as_str(),
            n["sent"].as_bool(),
            n["attempts"].as_u64()
        ),
        (Some("hook"), Some(true), Some(2)),
        "{n}"
    );
    // The same drift again: nothing new to say, and the retried success is not sent again.
    let second = run(&s, &url);
    assert_eq!(code(&second), 1);
    assert_eq!(hook.requests().len(), 2, "no duplicate");
    assert!(s.report().get("notifications").is_none(), "nothing sent");
    assert_no_token(&s, &[&first, &second]);
}

#[test]
fn a_failing_destination_changes_neither_verdict_nor_exit_code_and_is_retried_next_run() {
    let hook = Receiver::start(vec![Answer::status(500); 3]);
    let s = scenario(20, &webhook("critical", ""));
    let url = hook_url(&hook);
    let failed = run(&s, &url);
    assert_eq!(code(&failed), 1, "critical, as without alerts");
    assert_eq!(hook.requests().len(), 3, "three tries on 5xx");
    let report = s.report();
    assert_eq!(report["verdict"], "critical");
    let n = &report["notifications"][0];
    assert_eq!(n["sent"], false);
    assert_eq!(n["attempts"], 3);
    assert!(n["error"].as_str().expect("error").contains("500"), "{n}");
    let err = stderr(&failed);
    assert!(
        err.contains("warning: notification to `hook` (webhook) failed after 3 tries"),
        "{err}"
    );
    // A 4xx fails at once, and its body (which quotes the URL here) is scrubbed.
    hook.answer(vec![
        Answer::status(400).body(&format!("no such hook /hooks/{TOKEN}")),
    ]);
    let refused = run(&s, &url);
    assert_eq!(code(&refused), 1);
    assert_eq!(hook.requests().len(), 4, "a 400 is not retried");
    let n = &s.report()["notifications"][0];
    assert_eq!(
        (n["sent"].as_bool(), n["attempts"].as_u64()),
        (Some(false), Some(1))
    );
    assert!(n["error"].as_str().expect("error").contains("400"), "{n}");
    // Nothing was recorded as sent: the next run sends the change again, then never again.
    let sent = run(&s, &url);
    assert_eq!(hook.requests().len(), 5);
    assert_eq!(s.report()["notifications"][0]["sent"], true);
    let quiet = run(&s, &url);
    assert_eq!(hook.requests().len(), 5, "sent once");
    assert_no_token(&s, &[&failed, &refused, &sent, &quiet]);
}

#[test]
fn levels_crossing_warning_critical_rollback_and_back_send_exactly_the_changes() {
    let hook = Receiver::start(Vec::new());
    let pages = tempfile::tempdir().expect("tempdir");
    let log = pages.path().join("pages.jsonl");
    let pager = format!(
        "[[alerts]]\nkind = \"command\"\nname = \"pager\"\ncommand = [\"sh\", \"-c\", \"cat >> '{}'; echo >> '{}'\"]\n",
        log.display(),
        log.display()
    );
    let s = scenario(2, &format!("{}{pager}", webhook("warning", "")));
    let url = hook_url(&hook);
    let mut codes = Vec::new();
    let mut outputs = Vec::new();
    for changed in [2, 20, 100, 0] {
        write_orders(&s, changed);
        let o = run(&s, &url);
        codes.push(code(&o));
        outputs.push(o);
    }
    assert_eq!(codes, [0, 1, 3, 0]);
    let seen: Vec<(String, String, String)> = hook
        .requests()
        .iter()
        .map(|r| {
            let b = r.json();
            let t = &b["tables"][0];
            (
                b["event"].as_str().unwrap_or("").to_owned(),
                t["level"].as_str().unwrap_or("").to_owned(),
                t["change"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected = |rows: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        rows.iter()
            .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
            .collect()
    };
    assert_eq!(
        seen,
        expected(&[
            ("change", "warning", "raised"),
            ("change", "critical", "raised"),
            ("change", "rollback", "raised"),
            ("change", "pass", "resolved"),
        ])
    );
    // The pager (min_level critical) heard of critical, rollback and the resolution, on stdin.
    let pages: Vec<Value> = std::fs::read_to_string(&log)
        .expect("the pager ran")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON on stdin"))
        .collect();
    let levels: Vec<(&str, &str)> = pages
        .iter()
        .map(|p| {
            (
                p["tables"][0]["level"].as_str().unwrap_or(""),
                p["tables"][0]["previous_level"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("critical", "pass"),
            ("rollback", "critical"),
            ("pass", "rollback")
        ]
    );
    assert!(
        pages
            .iter()
            .all(|p| p["destination"] == "pager" && p["version"] == 1)
    );
    let refs: Vec<&Output> = outputs.iter().collect();
    assert_no_token(&s, &refs);
}

#[test]
fn reminders_repeat_while_critical_and_stop_when_resolved() {
    let hook = Receiver::start(Vec::new());
    let s = scenario(20, &webhook("critical", "remind_every = \"3s\""));
    let url = hook_url(&hook);
    run(&s, &url);
    run(&s, &url);
    assert_eq!(hook.requests().len(), 1, "no reminder before 3 s");
    std::thread::sleep(Duration::from_secs(3));
    run(&s, &url);
    let got = hook.requests();
    assert_eq!(got.len(), 2, "a reminder after 3 s");
    let reminder = got[1].json();
    assert_eq!(reminder["event"], "reminder");
    assert_eq!(reminder["tables"][0]["change"], "unchanged");
    assert_eq!(reminder["tables"][0]["level"], "critical");
    assert_eq!(s.report()["notifications"][0]["event"], "reminder");
    write_orders(&s, 2);
    run(&s, &url);
    let got = hook.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].json()["tables"][0]["change"], "resolved");
    std::thread::sleep(Duration::from_secs(3));
    run(&s, &url);
    assert_eq!(hook.requests().len(), 3, "no reminder below min_level");
}

#[test]
fn slack_gets_a_short_text_and_blocks() {
    let hook = Receiver::start(Vec::new());
    let alerts = format!(
        "[[alerts]]\nkind = \"slack\"\nurl_env = \"{HOOK_ENV}\"\nmin_level = \"warning\"\n"
    );
    let s = scenario(20, &alerts);
    let url = hook.url(&format!("/services/T000/B000/{TOKEN}"));
    let o = run(&s, &url);
    assert_eq!(code(&o), 1);
    let got = hook.requests();
    assert_eq!(got.len(), 1);
    let msg = got[0].json();
    let text = msg["text"].as_str().expect("text");
    assert!(
        text.contains("critical") && text.contains("orders"),
        "{text}"
    );
    let blocks = msg["blocks"].to_string();
    assert!(
        blocks.contains("*orders*: critical (was pass), drift 2.000%"),
        "{blocks}"
    );
    assert!(blocks.contains("Reports: "), "{blocks}");
    assert_eq!(s.report()["notifications"][0]["destination"], "slack");
    assert_no_token(&s, &[&o]);
}

#[test]
fn a_missing_url_env_fails_that_destination_every_run_and_alert_test_reports_each_destination() {
    let ok = Receiver::start(Vec::new());
    let bad = Receiver::start(vec![Answer::status(403).body("invalid_token")]);
    let alerts = format!(
        "{}[[alerts]]\nkind = \"webhook\"\nname = \"other\"\nurl_env = \"RECON_TEST_OTHER_URL\"\n",
        webhook("critical", "")
    );
    let s = scenario(0, &alerts);
    let config = s.path().join("recon.toml");
    // The run decides as without alerts (pass, exit 0); each run warns of the missing URLs.
    for _ in 0..2 {
        let missing = s
            .run_command()
            .env_remove(HOOK_ENV)
            .env_remove("RECON_TEST_OTHER_URL")
            .output()
            .expect("run");
        assert_eq!(code(&missing), 0, "{}", stderr(&missing));
        let err = stderr(&missing);
        assert!(
            err.contains(&format!(
                "warning: notification to `hook` (webhook) was not sent: url_env `{HOOK_ENV}` is not set"
            )),
            "{err}"
        );
        assert!(err.contains("url_env `RECON_TEST_OTHER_URL`"), "{err}");
        let report = s.report();
        assert_eq!(report["verdict"], "pass");
        assert_eq!(report["notifications"][0]["sent"], false);
        assert_eq!(report["notifications"][0]["attempts"], 0);
    }
    // `recon alert test` is a setup check: a URL it cannot read is exit 2.
    let untestable = recon()
        .args(["alert", "test", "--config"])
        .arg(&config)
        .env(HOOK_ENV, hook_url(&ok))
        .env_remove("RECON_TEST_OTHER_URL")
        .output()
        .expect("alert test");
    assert_eq!(code(&untestable), 2);
    assert!(
        stderr(&untestable).contains("RECON_TEST_OTHER_URL"),
        "{}",
        stderr(&untestable)
    );
    assert!(ok.requests().is_empty());
    let test = recon()
        .args(["alert", "test", "--config"])
        .arg(&config)
        .env(HOOK_ENV, hook_url(&ok))
        .env("RECON_TEST_OTHER_URL", bad.url(&format!("/x/{TOKEN}")))
        .output()
        .expect("alert test");
    let stdout = String::from_utf8_lossy(&test.stdout).into_owned();
    assert_eq!(code(&test), 1, "{stdout}{}", stderr(&test));
    assert!(stdout.contains("hook (webhook): sent"), "{stdout}");
    assert!(
        stdout.contains("other (webhook): failed: HTTP 403"),
        "{stdout}"
    );
    assert!(!stdout.contains(TOKEN) && !stderr(&test).contains(TOKEN));
    assert_eq!(ok.requests()[0].json()["event"], "test");
    assert_eq!(bad.requests().len(), 1, "a 403 is not retried");
    let broken = s.config(&format!("{GATE}{TABLES}[[alerts]]\nkind = \"pager\"\n"));
    let o = recon()
        .args(["alert", "test", "--config"])
        .arg(&broken)
        .output()
        .expect("run");
    assert_eq!(code(&o), 2);
}

/// A running Alertmanager on a free loopback port, stopped when dropped.
struct Alertmanager {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_alertmanager() -> Alertmanager {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    )
    .expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = std::process::Command::new(alertmanager_binary().expect("installed"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start alertmanager");
    let am = Alertmanager {
        child,
        port,
        _dir: dir,
    };
    for _ in 0..100 {
        if get(port, "/-/ready").is_some_and(|(s, _)| s == 200) {
            return am;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("alertmanager did not become ready on port {port}");
}

/// Alertmanager's active alerts of a table: `(level, state)`.
fn active(am: &Alertmanager) -> Vec<(String, String)> {
    let (status, body) = get(am.port, "/api/v2/alerts").expect("GET /api/v2/alerts");
    assert_eq!(status, 200, "{body}");
    let alerts: Value = serde_json::from_str(&body).expect("JSON");
    let mut out: Vec<(String, String)> = alerts
        .as_array()
        .expect("array")
        .iter()
        .filter(|a| a["labels"]["table"] == "orders" && a["labels"]["job"] == "recon")
        .map(|a| {
            (
                a["labels"]["level"].as_str().unwrap_or("").to_owned(),
                a["status"]["state"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn alertmanager_gets_one_alert_per_table_and_resolves_it() {
    require!(Alertmanager);
    let am = start_alertmanager();
    let alerts = format!(
        "[[alerts]]\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:{}\"\nmin_level = \"critical\"\n",
        am.port
    );
    let s = scenario(20, &alerts);
    let o = run(&s, "");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(
        s.report()["notifications"][0]["sent"],
        true,
        "{}",
        s.report()
    );
    assert_eq!(active(&am), [("critical".to_owned(), "active".to_owned())]);
    // Rollback: the critical alert ends and a rollback one fires.
    write_orders(&s, 100);
    run(&s, "");
    assert_eq!(active(&am), [("rollback".to_owned(), "active".to_owned())]);
    // Below min_level: resolved, gone from the active alerts.
    write_orders(&s, 2);
    run(&s, "");
    assert_eq!(s.report()["notifications"][0]["sent"], true);
    assert!(active(&am).is_empty(), "{:?}", active(&am));
}

/// Debian's Alertmanager binary, where installed.
pub fn alertmanager_binary() -> Option<std::path::PathBuf> {
    which("prometheus-alertmanager").or_else(|| {
        let p = Path::new("/usr/bin/prometheus-alertmanager");
        p.is_file().then(|| p.to_owned())
    })
}

#[test]
fn a_run_that_cannot_decide_is_told_once_and_resolved_when_it_decides_again() {
    let out = tempfile::tempdir().expect("tempdir");
    let log = out.path().join("got.jsonl");
    let alerts = format!(
        "[[alerts]]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"cat >> '{0}'; echo >> '{0}'\"]\n",
        log.display()
    );
    let s = scenario(0, &alerts);
    let target = s.path().join("target");
    let away = s.path().join("target-away");
    std::fs::rename(&target, &away).expect("hide the target");
    let codes: Vec<i32> = (0..2).map(|_| code(&run(&s, ""))).collect();
    std::fs::rename(&away, &target).expect("restore the target");
    let fixed = code(&run(&s, ""));
    assert_eq!((codes, fixed), (vec![2, 2], 0));
    let got: Vec<Value> = std::fs::read_to_string(&log)
        .expect("the command ran")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let seen: Vec<(&str, &str)> = got
        .iter()
        .map(|m| {
            (
                m["run"]["verdict"].as_str().unwrap_or(""),
                m["run_failure"]["change"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(seen, [("error", "raised"), ("pass", "resolved")]);
    assert!(
        got[0]["run"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("target"))
    );
}

#[test]
fn the_daily_summary_names_every_table_whatever_changed() {
    let out = tempfile::tempdir().expect("tempdir");
    let log = out.path().join("summary.json");
    let alerts = format!(
        "[[alerts]]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"cat > '{}'\"]\n",
        log.display()
    );
    let s = scenario(0, &alerts);
    let loaded = recon::Config::load(&s.path().join("recon.toml")).expect("config");
    let history = s.path().join("history");
    let report = recon::Reconciler::new(loaded.clone())
        .history(&history)
        .threads(1)
        .run()
        .expect("run");
    let notifier = recon::notify::Notifier::new(&loaded, Some(&history)).expect("notifier");
    let now = chrono::Utc::now();
    assert!(
        notifier.notify(&report, now).is_empty(),
        "a pass is no news"
    );
    let outcomes = notifier.summary(&report, now);
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].sent, "{outcomes:?}");
    assert_eq!(outcomes[0].tables, ["orders"]);
    let body: Value =
        serde_json::from_str(&std::fs::read_to_string(&log).expect("sent")).expect("JSON");
    assert_eq!(body["event"], "summary");
    assert_eq!(body["tables"][0]["level"], "pass");
    assert!(
        !history.join("alerts-state.json").exists(),
        "a summary of passes records nothing"
    );
}

#[test]
fn without_a_history_every_run_notifies_and_the_report_says_why() {
    let hook = Receiver::start(vec![Answer::status(500); 3]);
    let s = scenario(20, &webhook("critical", ""));
    let url = hook_url(&hook);
    let mut outputs = Vec::new();
    for _ in 0..3 {
        let o = run_without_history(&s, &url);
        assert_eq!(code(&o), 1);
        outputs.push(o);
    }
    assert_eq!(
        hook.requests().len(),
        5,
        "3 tries, then one message per run"
    );
    let report = s.report();
    let n = &report["notifications"][0];
    assert_eq!(n["sent"], true);
    assert!(
        n["note"]
            .as_str()
            .is_some_and(|t| t.contains("no history folder")),
        "{n}"
    );
    // Said once per run, as a warning, even under -q.
    for o in &outputs {
        assert_eq!(
            stderr(o)
                .matches("warning: notifications: no history folder")
                .count(),
            1,
            "{}",
            stderr(o)
        );
    }
    let md = std::fs::read_to_string(s.path().join("out").join("report.md")).expect("report.md");
    assert!(
        md.contains("| hook | webhook | change | orders | sent |"),
        "{md}"
    );
    let refs: Vec<&Output> = outputs.iter().collect();
    assert_no_token(&s, &refs);
}

fn run_without_history(s: &Scenario, hook: &str) -> Output {
    s.run_command()
        .env(HOOK_ENV, hook)
        .output()
        .expect("run recon")
}

#[test]
fn alertmanager_alerts_are_posted_again_before_they_would_end() {
    let am = Receiver::start(Vec::new());
    let secret = tempfile::tempdir().expect("tempdir");
    let file = secret.path().join("am-url");
    std::fs::write(&file, format!("{}\n", am.url(&format!("/{TOKEN}")))).expect("url file");
    let alerts = format!(
        "[[alerts]]\nkind = \"alertmanager\"\nurl_file = \"{}\"\nresolve_timeout = \"4s\"\n",
        file.display()
    );
    let s = scenario(20, &alerts);
    let first = run(&s, "");
    let second = run(&s, "");
    assert_eq!(
        am.requests().len(),
        1,
        "nothing new within half the timeout"
    );
    std::thread::sleep(Duration::from_millis(2100));
    let third = run(&s, "");
    let got = am.requests();
    assert_eq!(got.len(), 2, "posted again after half of resolve_timeout");
    assert_eq!(got[0].path, format!("/{TOKEN}/api/v2/alerts"));
    let alert = &got[1].json()[0];
    assert_eq!(alert["labels"]["alertname"], "ReconTableLevel");
    assert_eq!(alert["labels"]["job"], "recon");
    assert_eq!(alert["labels"]["table"], "orders");
    assert_eq!(alert["labels"]["level"], "critical");
    let ends = chrono::DateTime::parse_from_rfc3339(alert["endsAt"].as_str().expect("endsAt"))
        .expect("a time");
    let starts =
        chrono::DateTime::parse_from_rfc3339(alert["startsAt"].as_str().expect("startsAt"))
            .expect("a time");
    assert!(ends > chrono::Utc::now() && ends > starts, "{alert}");
    assert_eq!(s.report()["notifications"][0]["event"], "reminder");
    assert_no_token(&s, &[&first, &second, &third]);
}

/// A `command` destination writing to this log file, then running `script`.
fn command_alert(name: &str, script: &str, extra: &str) -> String {
    format!(
        "[[alerts]]\nkind = \"command\"\nname = \"{name}\"\nmin_level = \"critical\"\n\
         command = [\"sh\", \"-c\", \"{script}\"]\n{extra}\n"
    )
}

#[test]
fn a_command_past_its_timeout_is_killed_with_its_children_and_a_background_child_does_not_hang() {
    // The shell waits for its child: killing the shell alone would leave the child holding the
    // pipes, and recon waiting for them.
    let s = scenario(
        20,
        &command_alert("slow", "sleep 60; true", "timeout = \"1s\""),
    );
    let started = std::time::Instant::now();
    let o = run(&s, "");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let n = &s.report()["notifications"][0];
    assert_eq!(n["sent"], false, "{n}");
    assert!(
        n["error"]
            .as_str()
            .is_some_and(|e| e.contains("ran longer than 1s")),
        "{n}"
    );
    // A program that leaves a child behind and exits 0 has sent its message.
    let s = scenario(20, &command_alert("bg", "sleep 20 & exit 0", ""));
    let started = std::time::Instant::now();
    let o = run(&s, "");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(s.report()["notifications"][0]["sent"], true);
}

#[test]
fn a_commands_stderr_never_shows_a_destinations_url_nor_does_it_inherit_url_env() {
    let hook = Receiver::start(Vec::new());
    let dir = tempfile::tempdir().expect("tempdir");
    let url = hook.url(&format!("/services/T000/B000/{TOKEN}"));
    let leak = dir.path().join("leak.txt");
    std::fs::write(&leak, format!("posting to {url} failed\n")).expect("write");
    let seen = dir.path().join("env.txt");
    let script = format!(
        "echo env:${{{HOOK_ENV}:-unset}} > '{}'; cat '{}' >&2; exit 1",
        seen.display(),
        leak.display()
    );
    let alerts = format!(
        "{}{}",
        webhook("critical", ""),
        command_alert("gateway", &script, "")
    );
    let s = scenario(20, &alerts);
    let o = run(&s, &url);
    assert_eq!(code(&o), 1);
    let report = s.report();
    let gateway = report["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .find(|n| n["destination"] == "gateway")
        .expect("the gateway's outcome")
        .clone();
    let error = gateway["error"].as_str().expect("error");
    assert!(
        error.contains("exited with") && error.contains("failed"),
        "{error}"
    );
    assert!(stderr(&o).contains("warning: notification to `gateway`"));
    assert_eq!(
        std::fs::read_to_string(&seen).expect("ran").trim(),
        "env:unset"
    );
    assert_eq!(hook.requests().len(), 1, "the webhook was sent");
    assert_no_token(&s, &[&o]);
}

#[test]
fn a_redirect_is_a_failure_and_is_not_followed() {
    let hook = Receiver::start(vec![
        Answer::status(302).header("Location", "/elsewhere"),
        Answer::status(301).header("Location", "/elsewhere"),
    ]);
    let s = scenario(20, &webhook("critical", ""));
    let url = hook_url(&hook);
    let o = run(&s, &url);
    assert_eq!(code(&o), 1);
    let got = hook.requests();
    assert_eq!(got.len(), 1, "not followed, not retried: {got:?}");
    let n = &s.report()["notifications"][0];
    assert_eq!(
        (n["sent"].as_bool(), n["attempts"].as_u64()),
        (Some(false), Some(1)),
        "{n}"
    );
    assert!(
        n["error"].as_str().is_some_and(|e| e.contains("302")),
        "{n}"
    );
    // Not recorded as sent: the next run tries again (and a 301 fails the same way).
    run(&s, &url);
    let got = hook.requests();
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|r| r.method == "POST" && r.path.starts_with("/hooks/"))
    );
    assert_no_token(&s, &[&o]);
}

#[test]
fn a_retry_after_past_the_cap_fails_without_waiting() {
    let hook = Receiver::start(vec![Answer::status(429).header("Retry-After", "120")]);
    let s = scenario(20, &webhook("critical", ""));
    let started = std::time::Instant::now();
    let o = run(&s, &hook_url(&hook));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(hook.requests().len(), 1, "not retried");
    let n = &s.report()["notifications"][0];
    assert_eq!(n["sent"], false);
    assert!(
        n["error"]
            .as_str()
            .is_some_and(|e| e.contains("429") && e.contains("Retry-After 2m")),
        "{n}"
    );
    assert_no_token(&s, &[&o]);
}

#[test]
fn a_run_finding_the_alert_state_locked_sends_nothing_and_warns() {
    let hook = Receiver::start(Vec::new());
    let s = scenario(20, &webhook("critical", ""));
    let url = hook_url(&hook);
    let history = s.path().join("history");
    std::fs::create_dir_all(&history).expect("history");
    let lock = std::fs::File::create(history.join("alerts-state.lock")).expect("lock file");
    lock.try_lock().expect("locked by the test");
    let o = run(&s, &url);
    assert_eq!(code(&o), 1);
    assert!(hook.requests().is_empty(), "nothing sent while locked");
    let n = &s.report()["notifications"][0];
    assert_eq!(
        (n["sent"].as_bool(), n["attempts"].as_u64()),
        (Some(false), Some(0))
    );
    assert!(
        n["error"]
            .as_str()
            .is_some_and(|e| e.contains("another recon run is notifying")),
        "{n}"
    );
    assert!(stderr(&o).contains("warning: notification to `hook` (webhook) was not sent"));
    drop(lock);
    run(&s, &url);
    assert_eq!(hook.requests().len(), 1, "sent once the lock is free");
}

#[test]
fn a_sent_message_whose_state_cannot_be_saved_is_a_warning() {
    let hook = Receiver::start(Vec::new());
    let s = scenario(20, &webhook("critical", ""));
    // A folder where the state file belongs: it can be neither read nor replaced.
    std::fs::create_dir_all(s.path().join("history").join("alerts-state.json").join("x"))
        .expect("a folder in its place");
    let o = recon()
        .arg("-q")
        .arg("run")
        .arg("--config")
        .arg(s.path().join("recon.toml"))
        .arg("--out")
        .arg(s.path().join("out"))
        .arg("--history")
        .arg(s.path().join("history"))
        .env(HOOK_ENV, hook_url(&hook))
        .output()
        .expect("run");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(hook.requests().len(), 1);
    assert!(
        stderr(&o)
            .contains("warning: notification to `hook`: sent, but the alert state was not saved"),
        "{}",
        stderr(&o)
    );
}
