//! The monitor end to end over the demo's generated migration: one table's drift judged under
//! thresholds that move it through warning, critical, rollback and back to pass. Every run's
//! exit code, its metrics and what each destination hears are exactly the expected ones.

use std::path::Path;

use crate::common::{Scenario, parse_report, recon, stderr};
use crate::receiver::Receiver;

/// The sample of `name` (without labels) in a metrics file.
fn gauge(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .to_owned()
}

/// `customers` of the generated migration alone, its drift judged under `levels`; every other
/// gate metric and the tables in no pair kept out of the verdict.
fn config(dir: &Path, levels: [f64; 3], hook: &str, told: &Path) -> String {
    let [warning, critical, rollback] = levels;
    format!(
        "[legacy]\nroot = \"{g}/legacy\"\n[target]\nroot = \"{g}/target\"\n\
         [defaults]\ntimezone = \"Asia/Riyadh\"\n\
         [gate]\ndrift_ratio = {{ warning = {warning}, critical = {critical}, rollback = {rollback} }}\n\
         schema_findings = {{ warning = 1000000 }}\nduplicate_keys_legacy = {{ warning = 1000000 }}\n\
         duplicate_keys_target = {{ critical = 1000000 }}\nunpaired_tables = \"pass\"\n\n\
         [[tables]]\nname = \"customers\"\nkey = [\"id\"]\nrename = {{ name = \"full_name\" }}\n\
         [tables.columns.name]\ntrim = true\n[tables.columns.is_active]\nint_as_bool = true\n\n\
         [[alerts]]\nname = \"team-hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\nmin_level = \"warning\"\n\n\
         [[alerts]]\nname = \"pager\"\nkind = \"command\"\nmin_level = \"critical\"\n\
         command = [\"sh\", \"-c\", \"cat >> '{told}'; echo >> '{told}'\"]\n",
        g = dir.join("demo").display(),
        told = told.display(),
    )
}

#[test]
fn the_demo_through_every_level_gives_the_expected_exits_metrics_and_messages() {
    let s = Scenario::new();
    let dir = s.path();
    let generated = recon()
        .args(["gen", "--rows", "300", "--out"])
        .arg(dir.join("demo"))
        .output()
        .expect("gen");
    assert!(generated.status.success(), "{}", stderr(&generated));
    let hook = Receiver::start(Vec::new());
    let told = dir.join("pager.jsonl");
    let run = |levels: [f64; 3]| {
        std::fs::write(
            dir.join("recon.toml"),
            config(dir, levels, &hook.url("/hook"), &told),
        )
        .expect("config");
        let out = recon()
            .arg("run")
            .arg("--config")
            .arg(dir.join("recon.toml"))
            .arg("--out")
            .arg(dir.join("out"))
            .arg("--history")
            .arg(dir.join("history"))
            .arg("--metrics")
            .arg(dir.join("recon.prom"))
            .output()
            .expect("run");
        let report =
            parse_report(&std::fs::read_to_string(dir.join("out/report.json")).expect("report"));
        let metrics = std::fs::read_to_string(dir.join("recon.prom")).expect("metrics");
        (out, report, metrics)
    };

    // A first run under thresholds far above the drift: pass, and the drift to move around.
    let (out, report, metrics) = run([1.0, 2.0, 3.0]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(gauge(&metrics, "recon_run_level"), "0");
    let d = report["tables"][0]["drift_ratio"].as_f64().expect("drift");
    assert!(d > 0.0, "the demo plants drift in customers");

    let steps: [([f64; 3], i32, &str, &str); 4] = [
        ([d / 2.0, d * 2.0, d * 4.0], 0, "warning", "1"),
        ([d / 4.0, d / 2.0, d * 2.0], 1, "critical", "2"),
        ([d / 8.0, d / 4.0, d / 2.0], 3, "rollback", "3"),
        ([d * 2.0, d * 4.0, d * 8.0], 0, "pass", "0"),
    ];
    for (levels, code, verdict, number) in steps {
        let (out, report, metrics) = run(levels);
        assert_eq!(out.status.code(), Some(code), "{verdict}: {}", stderr(&out));
        assert_eq!(report["verdict"], verdict);
        assert_eq!(gauge(&metrics, "recon_run_level"), number, "{metrics}");
        assert!(
            metrics.contains(&format!(
                "recon_table_level{{table=\"customers\"}} {number}\n"
            )),
            "{metrics}"
        );
    }

    let heard = |bodies: Vec<serde_json::Value>| -> Vec<String> {
        bodies
            .iter()
            .map(|b| {
                let t = &b["tables"][0];
                format!(
                    "{} {}",
                    t["change"].as_str().unwrap_or("?"),
                    t["level"].as_str().unwrap_or("?")
                )
            })
            .collect()
    };
    let hook_bodies = hook
        .requests()
        .iter()
        .map(crate::receiver::Request::json)
        .collect();
    assert_eq!(
        heard(hook_bodies),
        [
            "raised warning",
            "raised critical",
            "raised rollback",
            "resolved pass"
        ]
    );
    let pager_bodies = std::fs::read_to_string(&told)
        .expect("the pager was told")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("one JSON body per line"))
        .collect();
    assert_eq!(
        heard(pager_bodies),
        ["raised critical", "raised rollback", "resolved pass"]
    );
}
