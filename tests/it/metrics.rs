//! `--metrics FILE` and `--pushgateway URL`: the text format as promtool reads it, the values
//! a run measured, the last successful run kept through a failing one, a real Pushgateway
//! pushed to and scraped back, and the shipped Grafana dashboard asking only for metrics recon
//! writes.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array};

use crate::common::{
    KillOnDrop, Scenario, batch, free_port, http, pushgateway, require, stderr, which,
};

/// `orders` with 1000 rows on both sides, `changed` of them changed on the target.
pub fn orders(changed: i64) -> Scenario {
    let s = Scenario::new();
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1000));
    let legacy: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1000));
    let target: ArrayRef = Arc::new(Int64Array::from_iter_values(
        (0..1000).map(|i| if i < changed { i + 1 } else { i }),
    ));
    s.legacy(
        "orders",
        batch(vec![("id", ids.clone()), ("amount", legacy)]),
    );
    s.target("orders", batch(vec![("id", ids), ("amount", target)]));
    s.config(
        "[gate]\ndrift_ratio = { warning = 0.0005, critical = 0.001, rollback = 0.005 }\n\n\
         [[tables]]\nname = \"orders\"\nkey = [\"id\"]\n",
    );
    s
}

/// The value, as written, of the one sample whose line starts with `prefix` (name and labels).
fn value(text: &str, prefix: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no sample {prefix} in:\n{text}"));
    line.rsplit_once(' ').expect("value").1.to_owned()
}

fn promtool_accepts(path: &Path) {
    assert_promtool_passes(
        promtool()
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(path).expect("metrics file")),
    );
}

fn promtool() -> std::process::Command {
    std::process::Command::new(which("promtool").expect("promtool"))
}

/// Runs a `promtool check` and asserts it passed, showing what it said otherwise.
fn assert_promtool_passes(cmd: &mut std::process::Command) {
    let out = cmd.output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

#[test]
fn the_metrics_file_passes_promtool_and_carries_the_runs_values() {
    require!(Promtool);
    let s = orders(3);
    let file = s.path().join("metrics/recon.prom");
    let out = s.run(&["--metrics", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    promtool_accepts(&file);
    let text = std::fs::read_to_string(&file).expect("metrics");
    assert_eq!(
        value(&text, "recon_table_drift_ratio{table=\"orders\"}"),
        "0.003"
    );
    assert_eq!(value(&text, "recon_table_level{table=\"orders\"}"), "2");
    assert_eq!(
        value(
            &text,
            "recon_table_differing_rows{table=\"orders\",kind=\"changed\"}"
        ),
        "3"
    );
    assert_eq!(
        value(
            &text,
            "recon_table_threshold_ratio{table=\"orders\",level=\"rollback\"}"
        ),
        "0.005"
    );
    assert_eq!(value(&text, "recon_run_level "), "2");
    let success: f64 = value(&text, "recon_last_success_timestamp_seconds ")
        .parse()
        .expect("unix seconds");
    assert!(success > 1.7e9);
    // No temporary file of the atomic write is left beside it.
    let names: Vec<_> = std::fs::read_dir(s.path().join("metrics"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["recon.prom"]);
}

#[test]
fn a_failing_run_keeps_the_last_successful_runs_time() {
    let s = orders(0);
    let file = s.path().join("recon.prom");
    let file_arg = file.to_str().expect("utf-8");
    assert_eq!(s.run(&["--metrics", file_arg]).status.code(), Some(0));
    let first = std::fs::read_to_string(&file).expect("metrics");
    let success = value(&first, "recon_last_success_timestamp_seconds ");
    std::fs::remove_file(s.path().join("target/orders.parquet")).expect("remove");
    let out = s.run(&["--metrics", file_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let second = std::fs::read_to_string(&file).expect("metrics");
    assert_eq!(value(&second, "recon_run_level "), "4");
    assert_eq!(
        value(&second, "recon_last_success_timestamp_seconds "),
        success
    );
}

#[test]
fn a_metrics_file_that_cannot_be_written_is_a_warning_not_a_verdict() {
    let s = orders(3);
    let blocker = s.path().join("not-a-folder");
    std::fs::write(&blocker, "x").expect("file");
    let file = blocker.join("recon.prom");
    let out = s.run(&["--metrics", file.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the gate's exit code, unchanged"
    );
    assert!(
        stderr(&out).contains("warning: --metrics"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.report()["verdict"], "critical");
}

/// A Pushgateway started on a free loopback port (stopped when dropped), and its address.
fn start_pushgateway() -> (KillOnDrop, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let gateway = KillOnDrop(
        std::process::Command::new(pushgateway().expect("pushgateway"))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("pushgateway starts"),
    );
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        http("GET", &addr, "/-/ready").is_some_and(|(status, _)| status == 200)
    });
    assert!(up, "the pushgateway did not start on {addr}");
    (gateway, addr)
}

#[test]
fn a_run_pushed_to_a_pushgateway_is_scraped_back() {
    require!(Pushgateway);
    let (_gateway, addr) = start_pushgateway();
    let s = orders(6);
    let url = format!("http://user:pushtoken-xyz@{addr}/");
    let out = s.run(&[
        "--pushgateway",
        &url,
        "--pushgateway-instance",
        "erp dual/run",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!stderr(&out).contains("pushtoken"));
    let (status, scraped) = http("GET", &addr, "/metrics").expect("scrape");
    assert_eq!(status, 200);
    let key = "instance=\"erp dual/run\",job=\"recon\"";
    let drift = format!("recon_table_drift_ratio{{{key},table=\"orders\"}}");
    assert_eq!(value(&scraped, &drift), "0.006", "{scraped}");
    let level = format!("recon_table_level{{{key},table=\"orders\"}}");
    assert_eq!(value(&scraped, &level), "3");
    assert_eq!(value(&scraped, &format!("recon_run_level{{{key}}}")), "3");
}

/// A push replaces its whole group: a failing run pushed without a metrics file or a history
/// still carries the last success the gateway held, so an alert on its age can fire.
#[test]
fn a_failing_run_pushed_keeps_the_last_success_on_the_gateway() {
    require!(Pushgateway);
    let (_gateway, addr) = start_pushgateway();
    let s = orders(0);
    let url = format!("http://{addr}");
    let push = [
        "--pushgateway",
        url.as_str(),
        "--pushgateway-instance",
        "erp",
    ];
    assert_eq!(s.run(&push).status.code(), Some(0));
    let key = "instance=\"erp\",job=\"recon\"";
    let success_line = format!("recon_last_success_timestamp_seconds{{{key}}}");
    let (_, first) = http("GET", &addr, "/metrics").expect("scrape");
    let success = value(&first, &success_line);
    std::fs::remove_file(s.path().join("target/orders.parquet")).expect("remove");
    let out = s.run(&push);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let (_, second) = http("GET", &addr, "/metrics").expect("scrape");
    assert_eq!(value(&second, &format!("recon_run_level{{{key}}}")), "4");
    assert_eq!(value(&second, &success_line), success, "{second}");
}

#[test]
fn a_pushgateway_that_is_not_there_is_a_warning_without_its_credentials() {
    let s = orders(0);
    let url = format!("http://admin:gw-secret-123@127.0.0.1:{}/", free_port());
    let out = s.run(&["--pushgateway", &url]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("warning: --pushgateway"), "{err}");
    assert!(
        !err.contains("gw-secret-123") && !err.contains("admin"),
        "{err}"
    );
}

/// The alert rules `docs/monitoring.md` shows are rules Prometheus loads.
#[test]
fn the_documented_alert_rules_pass_promtool() {
    require!(Promtool);
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/monitoring.md"))
            .expect("docs");
    let rules = docs
        .split("```yaml\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(yaml, _)| yaml))
        .find(|yaml| yaml.starts_with("groups:"))
        .expect("an alert rules example");
    assert!(rules.contains("recon_table_level == 4"), "{rules}");
    let dir = tempfile::tempdir().expect("temp");
    let file = dir.path().join("recon-rules.yml");
    std::fs::write(&file, rules).expect("rules");
    assert_promtool_passes(promtool().args(["check", "rules"]).arg(&file));
}

/// Every target of the dashboard's panels: (panel title, expression, legend).
fn dashboard_targets(json: &serde_json::Value) -> Vec<(String, String, String)> {
    json["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| {
                    (
                        title.clone(),
                        t["expr"].as_str().unwrap_or_default().to_owned(),
                        t["legendFormat"].as_str().unwrap_or_default().to_owned(),
                    )
                })
        })
        .collect()
}

/// Thresholds differ per table: each table's are drawn (not one line across tables), and the
/// threshold styles match the legends they are drawn under. A missing last success says so.
#[test]
fn the_dashboard_draws_each_tables_thresholds_and_a_missing_success() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana/recon-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("JSON");
    let targets = dashboard_targets(&dashboard);
    let thresholds: Vec<_> = targets
        .iter()
        .filter(|(_, expr, _)| expr.contains("recon_table_threshold_ratio"))
        .collect();
    assert!(!thresholds.is_empty());
    for (title, expr, legend) in &thresholds {
        assert!(expr.contains("by (table, level)"), "{title}: {expr}");
        assert!(
            legend.contains("{{table}}") && legend.contains("{{level}}"),
            "{title}: {legend}"
        );
        let legend = legend
            .replace("{{table}}", "orders")
            .replace("{{level}}", "warning");
        let panel = dashboard["panels"]
            .as_array()
            .expect("panels")
            .iter()
            .find(|p| p["title"] == title.as_str())
            .expect("panel");
        let styled = panel["fieldConfig"]["overrides"]
            .as_array()
            .expect("overrides")
            .iter()
            .any(|o| {
                let pattern = o["matcher"]["options"].as_str().unwrap_or_default();
                o["matcher"]["id"] == "byRegexp"
                    && pattern
                        .trim_matches('/')
                        .strip_suffix('$')
                        .is_some_and(|tail| legend.ends_with(tail.trim_start_matches(".*")))
            });
        assert!(styled, "{title}: no style matches {legend}");
    }
    let since = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .find(|p| p["title"] == "Time since last success")
        .expect("panel");
    assert!(since["fieldConfig"]["defaults"]["noValue"].is_string());
}

/// Every metric name a `PromQL` expression of the dashboard uses.
fn dashboard_metrics(json: &serde_json::Value, into: &mut BTreeSet<String>) {
    match json {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if let (true, Some(expr)) = (matches!(k.as_str(), "expr" | "query"), v.as_str()) {
                    for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                        if word.starts_with("recon_") {
                            into.insert(word.to_owned());
                        }
                    }
                }
                dashboard_metrics(v, into);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                dashboard_metrics(v, into);
            }
        }
        _ => {}
    }
}

#[test]
fn the_grafana_dashboard_asks_only_for_metrics_recon_writes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana/recon-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("JSON");
    let mut used = BTreeSet::new();
    dashboard_metrics(&dashboard, &mut used);
    // The committed ERP fixture has tables and checks at several levels: every family.
    let report = recon::Reconciler::from_path(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/erp/recon.toml"),
    )
    .expect("fixture")
    .history(tempfile::tempdir().expect("temp").path())
    .run()
    .expect("run");
    let text = recon::metrics::render(&report, Some(1));
    let emitted: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect();
    let unknown: Vec<_> = used.difference(&emitted).collect();
    assert!(unknown.is_empty(), "the dashboard asks for {unknown:?}");
    for needed in [
        "recon_table_drift_ratio",
        "recon_table_threshold_ratio",
        "recon_table_level",
        "recon_table_rows",
        "recon_table_differing_rows",
        "recon_run_duration_seconds",
        "recon_last_success_timestamp_seconds",
    ] {
        assert!(
            used.contains(needed),
            "the dashboard does not show {needed}"
        );
    }
}
