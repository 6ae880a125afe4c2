//! `recon watch`: runs on the schedule follow the target as it changes, `/metrics` and
//! `/healthz` show the last run, retention keeps `--keep` runs, the server listens on loopback,
//! and SIGTERM ends it with exit 0, a run in progress abandoned without a partial report.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Array};

use crate::common::{
    KillOnDrop, Scenario, batch, free_port, http, parse_report, recon, write_parquet,
};
use crate::metrics::orders;
use crate::receiver::Receiver;

/// Replaces the target's `orders` with `changed` rows of 1000 changed, atomically (a hidden
/// file renamed into place), so a run never reads half a file.
fn retarget(s: &Scenario, changed: i64) {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1000));
    let amounts: ArrayRef = Arc::new(Int64Array::from_iter_values(
        (0..1000).map(|i| if i < changed { i + 1 } else { i }),
    ));
    let tmp = s.path().join("target/.orders.parquet");
    write_parquet(
        &tmp,
        &[batch(vec![("id", ids), ("amount", amounts)])],
        1 << 20,
    );
    std::fs::rename(&tmp, s.path().join("target/orders.parquet")).expect("rename");
}

/// `recon watch` on the scenario's config into its `watch` folder, with extra args.
fn watch_command(s: &Scenario, extra: &[&str]) -> Command {
    let mut cmd = recon();
    cmd.arg("watch")
        .arg("--config")
        .arg(s.path().join("recon.toml"))
        .arg("--out")
        .arg(s.path().join("watch"))
        .args(extra);
    cmd
}

fn watch(s: &Scenario, extra: &[&str]) -> KillOnDrop {
    let child: Child = watch_command(s, extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.path().join("stderr.txt")).expect("stderr file"))
        .spawn()
        .expect("recon watch starts");
    KillOnDrop(child)
}

/// Waits up to 30 s for `ready`.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The complete runs' folders, oldest first, and the hidden ones.
fn runs(s: &Scenario) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(s.path().join("watch/runs")) else {
        return (Vec::new(), Vec::new());
    };
    let (mut hidden, mut done): (Vec<PathBuf>, Vec<PathBuf>) =
        entries.map(|e| e.expect("entry").path()).partition(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        });
    done.sort();
    hidden.sort();
    (done, hidden)
}

/// The `changed` count of the latest run's `orders`.
fn latest_changed(s: &Scenario) -> Option<u64> {
    let text = std::fs::read_to_string(s.path().join("watch/latest/report.json")).ok()?;
    parse_report(&text)["tables"][0]["changed"].as_u64()
}

/// Sends SIGTERM.
fn terminate(w: &KillOnDrop) {
    let pid = w.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
}

/// Sends SIGTERM and waits for the exit code.
fn stop(w: KillOnDrop) -> i32 {
    terminate(&w);
    exit_code(w)
}

/// Waits up to 20 s for the watch to end; its exit code.
fn exit_code(mut w: KillOnDrop) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = w.0.try_wait().expect("wait") {
            return status.code().expect("exit code");
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "recon watch did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr_text(s: &Scenario) -> String {
    std::fs::read_to_string(s.path().join("stderr.txt")).unwrap_or_default()
}

#[test]
fn runs_follow_the_target_metrics_show_the_last_run_and_retention_keeps_n() {
    let s = orders(0);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let w = watch(&s, &["--every", "2s", "--keep", "2", "--listen", &addr]);
    wait_for("the first run", || latest_changed(&s) == Some(0));
    let (status, health) = http("GET", &addr, "/healthz").expect("healthz answers");
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).expect("JSON");
    assert_eq!(health["verdict"], "pass");
    assert!(health["next_run"].is_string() && health["last_run"].is_string());
    for (changed, drift, level) in [(3, "0.003", "2"), (6, "0.006", "3")] {
        retarget(&s, changed);
        wait_for("a run over the changed target", || {
            latest_changed(&s) == Some(u64::try_from(changed).expect("count"))
        });
        wait_for("/metrics to follow", || {
            http("GET", &addr, "/metrics").is_some_and(|(_, text)| {
                text.contains(&format!(
                    "recon_table_drift_ratio{{table=\"orders\"}} {drift}\n"
                )) && text.contains(&format!("recon_table_level{{table=\"orders\"}} {level}\n"))
            })
        });
    }
    let (status, html) = http("GET", &addr, "/report").expect("report answers");
    assert_eq!(status, 200);
    assert!(html.contains("<html"), "the latest HTML report");
    assert_eq!(http("GET", &addr, "/nothing").map(|r| r.0), Some(404));
    assert_eq!(http("POST", &addr, "/metrics").map(|r| r.0), Some(405));
    assert_eq!(stop(w), 0, "{}", stderr_text(&s));
    let (done, hidden) = runs(&s);
    assert_eq!(done.len(), 2, "--keep 2 keeps the newest two: {done:?}");
    assert!(hidden.is_empty(), "{hidden:?}");
    for run in &done {
        let text = std::fs::read_to_string(run.join("report.json")).expect("a whole report");
        parse_report(&text);
    }
    let err = stderr_text(&s);
    assert!(
        err.contains(&format!("serving http://{addr}/metrics")),
        "{err}"
    );
}

/// Every cycle of a watch notifies like `recon run`: a webhook hears a level change once (not
/// again while the level holds), then "resolved" when the table passes again.
#[test]
fn a_watch_notifies_level_changes_once_and_the_resolution() {
    let s = orders(0);
    let hook = Receiver::start(Vec::new());
    s.config(&format!(
        "[gate]\ndrift_ratio = {{ warning = 0.0005, critical = 0.001, rollback = 0.005 }}\n\n\
         [[tables]]\nname = \"orders\"\nkey = [\"id\"]\n\n\
         [[alerts]]\nkind = \"webhook\"\nurl = \"{}\"\nmin_level = \"warning\"\n",
        hook.url("/hook")
    ));
    let w = watch(&s, &["--every", "1s"]);
    let complete = |s: &Scenario| runs(s).0.len();
    wait_for("the first run", || latest_changed(&s) == Some(0));
    retarget(&s, 3);
    wait_for("a run over the changed target", || {
        latest_changed(&s) == Some(3)
    });
    // Two more runs at the same level: nothing more is sent.
    let seen = complete(&s);
    wait_for("two more runs", || complete(&s) >= seen + 2);
    retarget(&s, 0);
    wait_for("a run over the repaired target", || {
        latest_changed(&s) == Some(0)
    });
    let seen = complete(&s);
    wait_for("one more run", || complete(&s) > seen);
    assert_eq!(stop(w), 0, "{}", stderr_text(&s));
    let told: Vec<(String, String)> = hook
        .requests()
        .iter()
        .map(|r| {
            let body = r.json();
            let t = &body["tables"][0];
            (
                t["level"].as_str().unwrap_or_default().to_owned(),
                t["change"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        told,
        [
            ("critical".to_owned(), "raised".to_owned()),
            ("pass".to_owned(), "resolved".to_owned())
        ],
        "{}",
        stderr_text(&s)
    );
}

/// A watch meant to run for days outlives write errors: a run that cannot get its folder is an
/// error run retried at the next tick, a `latest` that cannot be replaced is a warning; a
/// `latest` that is not a link is refused at the start.
#[test]
fn write_errors_are_warnings_and_the_watch_goes_on() {
    let s = orders(0);
    let w = watch(&s, &["--every", "1s"]);
    wait_for("the first run", || latest_changed(&s) == Some(0));
    let (runs_dir, moved) = (
        s.path().join("watch/runs"),
        s.path().join("watch/runs.moved"),
    );
    std::fs::rename(&runs_dir, &moved).expect("move runs away");
    std::fs::write(&runs_dir, "not a folder").expect("block runs");
    wait_for("a run that cannot start", || {
        stderr_text(&s).contains("warning: watch: the run failed")
    });
    std::fs::remove_file(&runs_dir).expect("unblock");
    std::fs::rename(&moved, &runs_dir).expect("restore runs");
    let latest = s.path().join("watch/latest");
    std::fs::remove_file(&latest).expect("remove the link");
    std::fs::create_dir_all(latest.join("kept")).expect("a real folder");
    let seen = runs(&s).0.len();
    wait_for("runs again", || runs(&s).0.len() >= seen + 2);
    assert_eq!(stop(w), 0, "{}", stderr_text(&s));
    let err = stderr_text(&s);
    assert!(
        err.contains("warning: watch:") && err.contains("latest"),
        "{err}"
    );
    // At the start, a `latest` that is not a link is refused before anything runs.
    let out = watch_command(&s, &["--every", "1s"])
        .output()
        .expect("recon watch");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        crate::common::stderr(&out).contains("not a link"),
        "{}",
        crate::common::stderr(&out)
    );
}

/// The default address is checked without binding it: the test holds 127.0.0.1:9187 (or
/// something else already does), so the watch must fail to listen there, and says where.
#[test]
fn the_listen_address_defaults_to_loopback() {
    let out = recon().args(["watch", "--help"]).output().expect("help");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("127.0.0.1:9187"), "{help}");
    let _held = std::net::TcpListener::bind("127.0.0.1:9187");
    let s = orders(0);
    let out = watch_command(&s, &["--every", "1h", "--listen"])
        .output()
        .expect("recon watch");
    let err = crate::common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--listen") && err.contains("listening on 127.0.0.1:9187"),
        "{err}"
    );
    assert!(runs(&s).0.is_empty(), "nothing ran");
    // From the config, the error names the config's setting.
    s.config(
        "[watch]\nlisten = \"127.0.0.1:9187\"\n\n[[tables]]\nname = \"orders\"\nkey = [\"id\"]\n",
    );
    let out = watch_command(&s, &["--every", "1h"])
        .output()
        .expect("recon watch");
    let err = crate::common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error: [watch] listen") && !err.contains("--listen"),
        "{err}"
    );
}

/// A loopback server that accepts connections and never answers; the test holds what it
/// accepted. Returns its port and the connections accepted so far.
fn silent_server() -> (u16, std::sync::mpsc::Receiver<std::net::TcpStream>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if tx.send(stream).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

/// A stop during the reconciliation abandons the run at once. The legacy root is an HTTPS
/// server that never answers, so the run is certainly reconciling when the signal comes.
#[test]
fn sigterm_mid_run_exits_0_and_leaves_no_partial_report() {
    let s = orders(0);
    let (port, accepted) = silent_server();
    std::fs::write(
        s.path().join("recon.toml"),
        format!(
            "[legacy]\nroot = \"https://127.0.0.1:{port}/legacy/\"\n\n[target]\nroot = \
             \"target\"\n\n[[tables]]\nname = \"orders\"\nkey = [\"id\"]\n"
        ),
    )
    .expect("config");
    let w = watch(&s, &["--every", "1h"]);
    let _reading = accepted
        .recv_timeout(Duration::from_secs(30))
        .expect("the run reads the legacy root");
    assert!(!runs(&s).1.is_empty(), "the run's hidden folder");
    assert_eq!(stop(w), 0, "{}", stderr_text(&s));
    let err = stderr_text(&s);
    assert!(err.contains("abandoned"), "stopped mid-run: {err}");
    let (done, hidden) = runs(&s);
    assert!(done.is_empty() && hidden.is_empty(), "{done:?} {hidden:?}");
    assert!(!Path::new(&s.path().join("watch/latest")).exists());
}

/// A stop during `--snapshot`'s export waits for the export (a snapshot is never left half
/// committed), then ends without reconciling.
#[test]
fn sigterm_during_an_export_waits_for_it_then_stops() {
    let s = orders(0);
    let (port, accepted) = silent_server();
    std::fs::write(
        s.path().join("recon.toml"),
        format!(
            "[legacy]\nroot = \"exported\"\nurl = \"postgres://app@127.0.0.1:{port}/erp\"\n\n\
             [target]\nroot = \"target\"\n\n[[tables]]\nname = \"orders\"\nkey = [\"id\"]\n"
        ),
    )
    .expect("config");
    let w = watch(
        &s,
        &["--every", "1h", "--snapshot", "--connect-timeout", "30s"],
    );
    let exporting = accepted
        .recv_timeout(Duration::from_secs(30))
        .expect("the export connects");
    terminate(&w);
    wait_for("the stop to wait for the export", || {
        stderr_text(&s).contains("stopping once the export in progress has finished")
    });
    // The database goes away: the export ends, and the watch with it.
    drop(exporting);
    assert_eq!(exit_code(w), 0, "{}", stderr_text(&s));
    let err = stderr_text(&s);
    assert!(err.contains("did not complete"), "{err}");
    let (done, hidden) = runs(&s);
    assert!(done.is_empty() && hidden.is_empty(), "{done:?} {hidden:?}");
}

/// A stop after the reconciliation waits for the run to be written whole: a notification may
/// have gone out, so its report is kept. The webhook never answers until the stop is seen.
#[test]
fn sigterm_while_notifying_keeps_the_run() {
    let s = orders(3);
    let (port, accepted) = silent_server();
    s.config(&format!(
        "[gate]\ndrift_ratio = {{ warning = 0.0005, critical = 0.001, rollback = 0.005 }}\n\n\
         [[tables]]\nname = \"orders\"\nkey = [\"id\"]\n\n\
         [[alerts]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\
         min_level = \"warning\"\n"
    ));
    let w = watch(&s, &["--every", "1h"]);
    let notifying = accepted
        .recv_timeout(Duration::from_secs(30))
        .expect("the run notifies");
    terminate(&w);
    wait_for("the stop to wait for the run", || {
        stderr_text(&s).contains("stopping once the run in progress has written its reports")
    });
    // The webhook goes away: the notification fails, the run completes.
    drop((notifying, accepted));
    assert_eq!(exit_code(w), 0, "{}", stderr_text(&s));
    let err = stderr_text(&s);
    assert!(
        err.contains("stopped after the run in progress completed"),
        "{err}"
    );
    let (done, hidden) = runs(&s);
    assert!(done.len() == 1 && hidden.is_empty(), "{done:?} {hidden:?}");
    assert_eq!(latest_changed(&s), Some(3));
}

/// `orders` with many rows, so that a run lasts long enough to overrun a short interval.
fn big_orders(n: i64) -> Scenario {
    let s = Scenario::new();
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
    let amounts: ArrayRef = Arc::new(Int64Array::from_iter_values((0..n).map(|i| i % 97)));
    s.legacy(
        "orders",
        batch(vec![("id", ids.clone()), ("amount", amounts.clone())]),
    );
    s.target("orders", batch(vec![("id", ids), ("amount", amounts)]));
    s.config("[[tables]]\nname = \"orders\"\nkey = [\"id\"]\n");
    s
}

#[test]
fn an_overrun_delays_the_next_run_and_says_so() {
    let s = big_orders(1_200_000);
    // One thread and the match structure (both sides are in key order, and the streaming merge
    // is faster): the run outlasts the one-second interval.
    let w = watch(&s, &["--every", "1s", "-j", "1", "--no-key-order"]);
    wait_for("the first run", || latest_changed(&s).is_some());
    let report = parse_report(
        &std::fs::read_to_string(s.path().join("watch/latest/report.json")).expect("report"),
    );
    assert_eq!(stop(w), 0);
    let err = stderr_text(&s);
    let duration = report["run"]["duration_ms"].as_u64().expect("duration");
    assert!(
        duration >= 1000,
        "the run is meant to outlast the interval: {duration} ms"
    );
    assert!(err.contains("scheduled start(s) (every 1s)"), "{err}");
}

#[test]
fn a_url_as_the_watchs_folder_is_refused_without_its_credentials() {
    let s = orders(0);
    let out = recon()
        .arg("watch")
        .arg("--config")
        .arg(s.path().join("recon.toml"))
        .args([
            "--every",
            "1m",
            "--out",
            "s3://reader:s3cr3t-key@bucket/watch",
        ])
        .output()
        .expect("recon watch");
    assert_eq!(out.status.code(), Some(2));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("local folder") && !err.contains("s3cr3t"),
        "{err}"
    );
    assert!(
        !Path::new("s3:").exists(),
        "nothing written under a folder named after the URL"
    );
}
