//! The `cluster` feature: a scheduler and two executors of the real binary on loopback ports,
//! `recon query --cluster` giving the local query's output (counts, a join, exact sums), and the
//! refusals: no scheduler, a scheduler that is not recon's or of another recon version.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arrow::array::*;

use crate::common::*;

/// How long a role may take to print its ready line.
const READY: Duration = Duration::from_mins(2);

/// Starts a role and waits for its ready line (`expected` starts it); the guard kills it.
fn start(args: &[&str], expected: &str) -> KillOnDrop {
    let mut child = recon()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let guard = KillOnDrop(child);
    let deadline = Instant::now() + READY;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with(expected) => return guard,
            Ok(_) => {}
            Err(_) => {
                let mut guard = guard;
                let _ = guard.0.kill();
                let mut err = String::new();
                if let Some(mut e) = guard.0.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "`recon {}` never printed `{expected}`: {err}",
                    args.join(" ")
                );
            }
        }
    }
}

/// A scheduler and two executors; dropping it stops them.
pub(crate) struct Cluster {
    /// The scheduler's executors (kill one to lose it).
    roles: Vec<KillOnDrop>,
    /// `df://HOST:PORT`.
    pub(crate) url: String,
    /// The scheduler's `HOST:PORT`.
    pub(crate) bind: String,
}

impl Cluster {
    /// Kills the last executor still running (SIGKILL: no goodbye to the scheduler).
    pub(crate) fn kill_executor(&mut self) {
        if self.roles.len() > 1
            && let Some(mut executor) = self.roles.pop()
        {
            let _ = executor.0.kill();
            let _ = executor.0.wait();
        }
    }
}

/// A scheduler and two executors with their scratch folders in `work`. Executors beat every
/// second and are declared lost after five silent ones, so that a lost executor is noticed
/// within a test's patience.
pub(crate) fn cluster(work: &Path) -> Cluster {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut roles = vec![start(
        &[
            "cluster",
            "scheduler",
            "--bind",
            &bind,
            "--executor-timeout",
            "5s",
        ],
        "scheduler listening on",
    )];
    for _ in 0..2 {
        let grpc = format!("127.0.0.1:{}", free_port());
        let flight = free_port().to_string();
        let dir = work.to_str().expect("utf-8");
        roles.push(start(
            &[
                "cluster",
                "executor",
                "--scheduler",
                &bind,
                "--bind",
                &grpc,
                "--flight-port",
                &flight,
                "--concurrent-tasks",
                "2",
                "--heartbeat",
                "1s",
                "--work-dir",
                dir,
            ],
            "executor ",
        ));
    }
    Cluster {
        roles,
        url: format!("df://{bind}"),
        bind,
    }
}

fn query(config: &Path, statement: &str, cluster: Option<&str>) -> std::process::Output {
    let mut cmd = recon();
    cmd.args(["query", "--format", "csv", "--config"])
        .arg(config)
        .arg(statement);
    if let Some(url) = cluster {
        cmd.args(["--cluster", url]);
    }
    cmd.output().expect("run")
}

/// Values whose exact sum is past `i64::MAX`: a wrapping sum would turn it negative.
fn big_values() -> Scenario {
    let s = Scenario::new();
    let v: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX - 1, i64::MAX - 2, 5]));
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
    s.legacy("big", batch(vec![("id", ids.clone()), ("v", v.clone())]));
    s.target("big", batch(vec![("id", ids), ("v", v)]));
    s.config("[[tables]]\nname = \"big\"\nkey = [\"id\"]\n");
    s
}

#[test]
fn queries_on_a_cluster_give_the_local_output() {
    let work = tempfile::tempdir().expect("tempdir");
    let c = cluster(work.path());
    let erp = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/erp/recon.toml");
    let big = big_values();
    let cases = [
        (
            erp.clone(),
            "SELECT (SELECT count(*) FROM legacy.customers) AS legacy_rows, (SELECT count(*) FROM target.customers) AS target_rows",
        ),
        (
            erp.clone(),
            "SELECT l.tenant_id, count(*) AS n, sum(t.amount) AS amount FROM legacy.invoices l JOIN target.invoices t ON t.invoice_no = l.invoice_no GROUP BY l.tenant_id ORDER BY l.tenant_id",
        ),
        (
            erp,
            "SELECT tenant_id, sum(final_amount) AS total, count(*) AS n FROM legacy.service_orders GROUP BY tenant_id ORDER BY tenant_id",
        ),
        (
            big.path().join("recon.toml"),
            "SELECT sum(v) AS total, arrow_typeof(sum(v)) AS type FROM legacy.big",
        ),
    ];
    for (config, statement) in &cases {
        let local = query(config, statement, None);
        assert_eq!(local.status.code(), Some(0), "{}", stderr(&local));
        let remote = query(config, statement, Some(&c.url));
        assert_eq!(
            remote.status.code(),
            Some(0),
            "{statement}: {}",
            stderr(&remote)
        );
        let (local, remote) = (
            String::from_utf8_lossy(&local.stdout),
            String::from_utf8_lossy(&remote.stdout),
        );
        assert!(local.lines().count() > 1, "{statement}: {local}");
        assert_eq!(remote, local, "{statement}");
    }
    // 2 * i64::MAX - 3 + 5, not wrapped.
    let exact = query(&cases[3].0, cases[3].1, Some(&c.url));
    let text = String::from_utf8_lossy(&exact.stdout);
    assert!(
        text.contains("18446744073709551616,\"Decimal256(76, 0)\""),
        "{text}"
    );
    // A failed job is a clear error, exit 2.
    let failed = query(
        &cases[3].0,
        "SELECT CAST(v AS INT) FROM legacy.big",
        Some(&c.url),
    );
    assert_eq!(failed.status.code(), Some(2), "{}", stderr(&failed));
    assert!(
        stderr(&failed).contains("the job failed"),
        "{}",
        stderr(&failed)
    );
}

/// Waits for a child to end within `limit`; its exit code and stderr.
fn finished(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return (status.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn executor_of(scheduler: &str, work: &Path) -> Child {
    recon()
        .args(["cluster", "executor", "--scheduler", scheduler, "--bind"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--flight-port")
        .arg(free_port().to_string())
        .arg("--work-dir")
        .arg(work)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

#[test]
fn an_executor_without_a_scheduler_exits_2_naming_it() {
    let work = tempfile::tempdir().expect("tempdir");
    let scheduler = format!("127.0.0.1:{}", free_port());
    let (code, err) = finished(
        executor_of(&scheduler, work.path()),
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("scheduler {scheduler}")) && err.contains("not reachable"),
        "{err}"
    );
    let client = query(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/erp/recon.toml"),
        "SELECT 1",
        Some(&format!("df://{scheduler}")),
    );
    assert_eq!(client.status.code(), Some(2));
    assert!(stderr(&client).contains(&format!("scheduler {scheduler}")));
}

/// A server answering every HTTP request with `state` as the scheduler's `/api/state`.
fn fake_scheduler(state: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut buf = [0_u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{state}",
                state.len()
            );
        }
    });
    address
}

#[test]
fn schedulers_not_recons_or_of_another_version_are_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    for (state, expected) in [
        (r#"{"scheduler_id":"3f1c"}"#, "not a recon scheduler"),
        (
            r#"{"scheduler_id":"recon/0.0.0-other/3f1c"}"#,
            "it runs recon 0.0.0-other",
        ),
    ] {
        let address = fake_scheduler(state);
        let (code, err) = finished(executor_of(&address, work.path()), Duration::from_secs(30));
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!("scheduler {address}")) && err.contains(expected),
            "{err}"
        );
    }
}

#[test]
fn a_scheduler_on_every_interface_needs_the_host_it_announces() {
    let bind = format!("0.0.0.0:{}", free_port());
    let out = recon()
        .args(["cluster", "scheduler", "--bind", &bind])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--advertise HOST"),
        "{}",
        stderr(&out)
    );
}

/// Each `command:` of a compose file, written as a flow sequence of quoted strings.
fn compose_commands(text: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut lines = text.lines().filter(|l| !l.trim_start().starts_with('#'));
    while let Some(line) = lines.next() {
        let Some((_, rest)) = line.split_once("command:") else {
            continue;
        };
        let mut flow = rest.trim().to_owned();
        while !flow.ends_with(']') {
            flow.push_str(lines.next().expect("the end of a command").trim());
        }
        commands.push(serde_json::from_str(&flow).expect("a command of quoted strings"));
    }
    commands
}

#[test]
fn the_compose_files_commands_are_ones_this_recon_takes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cluster.compose.yaml");
    let text = std::fs::read_to_string(&path).expect("the compose file");
    let commands = compose_commands(&text);
    let roles: Vec<&str> = commands.iter().map(|c| c[1].as_str()).collect();
    assert_eq!(roles, ["scheduler", "executor", "executor"], "{commands:?}");
    for command in &commands {
        // Every flag and value is parsed before `--help` is reached.
        let o = recon().args(command).arg("--help").output().expect("run");
        assert!(o.status.success(), "{command:?}: {}", stderr(&o));
    }
    // A flag this recon does not have is refused the same way.
    let mut wrong = commands[1].clone();
    wrong.push("--no-such-flag".into());
    let o = recon().args(&wrong).arg("--help").output().expect("run");
    assert!(!o.status.success());
}
