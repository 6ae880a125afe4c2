//! Snapshots and outputs on S3: a real S3 API (moto's server, from `PyPI`) on loopback, started
//! by the tests themselves and stopped after. The first test to need it installs moto into a
//! virtual environment under the target folder (once; later runs reuse it); where that cannot be
//! done (no python3, no `PyPI`), the tests are skipped, saying so.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Array, StringArray};
use serde_json::Value;

use crate::common::{Scenario, batch, recon, require, stderr, write_parquet};

/// The moto version the tests are written against.
const MOTO: &str = "moto[server]==5.2.5";

/// The virtual environment with moto, made on first use; or why it cannot be made here (no
/// python3 with venv, or no `PyPI`).
pub(crate) fn moto_venv() -> Result<&'static Path, &'static str> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(install_moto)
        .as_deref()
        .map_err(String::as_str)
}

fn install_moto() -> Result<PathBuf, String> {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("moto-5.2.5");
    if root.join("ready").exists() {
        return Ok(root);
    }
    // Built beside, then renamed: a concurrent test binary never sees half a venv (its
    // scripts name the old path, so everything runs as `bin/python -m ...`).
    let building = root.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let made = run_quietly(Command::new("python3").args(["-m", "venv"]).arg(&building))
        .map_err(|e| format!("`python3 -m venv` failed: {e}"))
        .and_then(|()| {
            run_quietly(Command::new(building.join("bin/python")).args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                MOTO,
            ]))
            .map_err(|e| format!("`pip install {MOTO}` failed (it needs PyPI once): {e}"))
        })
        .and_then(|()| std::fs::write(building.join("ready"), MOTO).map_err(|e| e.to_string()));
    if let Err(why) = made {
        let _ = std::fs::remove_dir_all(&building);
        return Err(why);
    }
    if std::fs::rename(&building, &root).is_err() {
        // Another process finished first; use its venv.
        let _ = std::fs::remove_dir_all(&building);
    }
    Ok(root)
}

/// Runs a command to its end; on failure, the last line it printed to stderr.
fn run_quietly(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    Err(last.unwrap_or("no message").trim().to_owned())
}

/// A moto S3 server on a free loopback port, killed on drop.
pub(crate) struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// Starts a server; with `auth`, every request must carry credentials moto's IAM knows,
    /// and none are made, so every key is a wrong one.
    pub(crate) fn start(auth: bool) -> Self {
        let venv = moto_venv().expect("moto installed (the test starts with `require!(Moto)`)");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut cmd = Command::new(venv.join("bin/python"));
        cmd.args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if auth {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let child = cmd.spawn().expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_mins(1),
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, endpoint }
    }

    /// Runs a boto3 script against the server (`s3` is the client).
    fn boto(&self, script: &str) -> String {
        let prelude = format!(
            "import boto3, os, sys\ns3 = boto3.client('s3', endpoint_url='{}', \
             aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n",
            self.endpoint
        );
        let venv = moto_venv().expect("moto installed");
        let out = Command::new(venv.join("bin/python"))
            .arg("-c")
            .arg(format!("{prelude}{script}"))
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "boto3 script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates a bucket and uploads every file under `dir` to `prefix/`.
    pub(crate) fn upload(&self, bucket: &str, dir: &Path, prefix: &str) {
        let root = dir.display().to_string();
        self.boto(&format!(
            "b = '{bucket}'\n\
             if b not in [x['Name'] for x in s3.list_buckets()['Buckets']]: s3.create_bucket(Bucket=b)\n\
             root = {root:?}\n\
             for d, _, files in os.walk(root):\n\
             \x20   for f in files:\n\
             \x20       p = os.path.join(d, f)\n\
             \x20       s3.upload_file(p, b, '{prefix}/' + os.path.relpath(p, root))\n"
        ));
    }

    /// The keys under a prefix, one per line, sorted.
    fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let out = self.boto(&format!(
            "pages = s3.get_paginator('list_objects_v2').paginate(Bucket='{bucket}', Prefix='{prefix}')\n\
             print('\\n'.join(sorted(o['Key'] for p in pages for o in p.get('Contents', []))))\n"
        ));
        out.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The binary, pointed at this server with throwaway credentials.
    pub(crate) fn recon(&self) -> Command {
        let mut cmd = recon();
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test-access-key")
            .env("AWS_SECRET_ACCESS_KEY", "test-secret-key-do-not-print")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        cmd
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ints(v: &[i64]) -> ArrayRef {
    std::sync::Arc::new(Int64Array::from(v.to_vec()))
}

fn strs(v: &[&str]) -> ArrayRef {
    std::sync::Arc::new(StringArray::from(v.to_vec()))
}

/// Two snapshots: `customers` as one file of several row groups, `events` as hive folders;
/// one changed row, one missing and one extra.
fn scenario() -> Scenario {
    let s = Scenario::new();
    let ids: Vec<i64> = (1..=500).collect();
    let names: Vec<String> = ids.iter().map(|i| format!("customer {i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut changed = name_refs.clone();
    changed[41] = "customer 42 (renamed)";
    for (side, names, keep) in [("legacy", &name_refs, 0..500), ("target", &changed, 1..500)] {
        write_parquet(
            &s.path().join(side).join("customers.parquet"),
            &[batch(vec![
                ("id", ints(&ids[keep.clone()])),
                ("name", strs(&names[keep])),
            ])],
            64,
        );
    }
    for (side, extra) in [("legacy", &[][..]), ("target", &[99][..])] {
        for region in ["eu", "us"] {
            let base = if region == "eu" { 0 } else { 10 };
            let mut ids: Vec<i64> = (base + 1..=base + 5).collect();
            if region == "us" {
                ids.extend_from_slice(extra);
            }
            let amounts: Vec<i64> = ids.iter().map(|i| i * 100).collect();
            write_parquet(
                &s.path()
                    .join(side)
                    .join("events")
                    .join(format!("region={region}"))
                    .join("part-0.parquet"),
                &[batch(vec![("id", ints(&ids)), ("amount", ints(&amounts))])],
                4,
            );
        }
    }
    s.config(
        "[[tables]]\nname = \"customers\"\nkey = [\"id\"]\n\n\
         [[tables]]\nname = \"events\"\nkey = [\"id\"]\n\n\
         [[checks]]\nkind = \"total\"\ntable = \"events\"\ncolumn = \"amount\"\n",
    );
    s
}

/// A report's tables and checks without what differs between a local and a remote run (roots,
/// file names, sizes, times, the config's name, the history that only the remote run keeps).
fn verdicts(report: &Value) -> Value {
    let strip = |list: &Value, fields: &[&str]| {
        let mut list = list.clone();
        for item in list.as_array_mut().expect("list") {
            for f in fields {
                item.as_object_mut().expect("object").remove(*f);
            }
        }
        list
    };
    serde_json::json!({
        "verdict": report["verdict"],
        "summary": report["summary"],
        "tables": strip(&report["tables"], &["duration_ms", "history"]),
        "checks": strip(&report["checks"], &["duration_ms", "source"]),
    })
}

fn read_json(path: &Path) -> Value {
    crate::common::parse_report(&std::fs::read_to_string(path).expect("read"))
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario whose steps share the server and the buckets"
)]
fn snapshots_on_s3_give_the_local_report_and_outputs_go_to_s3() {
    require!(Moto);
    let s = scenario();
    let local = s.run(&[]);
    assert_eq!(local.status.code(), Some(3), "{}", stderr(&local));
    let expected = verdicts(&s.report());

    let moto = Moto::start(false);
    moto.upload("snapshots", &s.path().join("legacy"), "nightly/legacy");
    moto.upload("snapshots", &s.path().join("target"), "nightly/target");
    moto.upload("reports", &s.path().join("legacy"), "placeholder");
    let config = s.path().join("remote.toml");
    let local_config = std::fs::read_to_string(s.path().join("recon.toml")).expect("config");
    std::fs::write(
        &config,
        local_config
            .replace(
                "root = \"legacy\"",
                "root = \"s3://snapshots/nightly/legacy\"",
            )
            .replace(
                "root = \"target\"",
                "root = \"s3://snapshots/nightly/target\"",
            ),
    )
    .expect("write config");
    for night in 1..=2 {
        let out = moto
            .recon()
            .args(["run", "--config"])
            .arg(&config)
            .args([
                "--out",
                "s3://reports/run",
                "--diff-out",
                "s3://reports/diff",
            ])
            .args(["--history", "s3://reports/history", "--format", "json"])
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(3),
            "night {night}: {}",
            stderr(&out)
        );
        let printed: Value = crate::common::parse_report(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(verdicts(&printed), expected, "night {night}");
    }
    let reports = moto.keys("reports", "run/");
    for name in [
        "report.json",
        "report.md",
        "report.html",
        "report.junit.xml",
    ] {
        assert!(reports.contains(&format!("run/{name}")), "{reports:?}");
    }
    let diffs = moto.keys("reports", "diff/");
    assert!(
        diffs.contains(&"diff/customers.parquet".to_owned()),
        "{diffs:?}"
    );
    assert!(
        diffs.contains(&"diff/events.parquet".to_owned()),
        "{diffs:?}"
    );
    // Both nights appended to the one history on S3.
    let listed = moto
        .recon()
        .args(["history", "--history", "s3://reports/history"])
        .output()
        .expect("history");
    assert!(listed.status.success(), "{}", stderr(&listed));
    let text = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(
        text.lines()
            .skip(1)
            .filter(|l| l.contains(" rollback "))
            .count(),
        2,
        "two runs in the history:\n{text}"
    );
    // Analysts query the same snapshots on S3 (DataFusion through the same store, hive values
    // typed as the engine types them).
    let out = moto
        .recon()
        .args(["query", "--legacy", "s3://snapshots/nightly/legacy"])
        .args([
            "--target",
            "s3://snapshots/nightly/target",
            "--format",
            "csv",
        ])
        .arg(
            "SELECT t.region, count(*) AS n, sum(t.amount) AS total FROM target.events t \
             LEFT JOIN legacy.events l ON l.id = t.id WHERE l.id IS NULL GROUP BY t.region",
        )
        .output()
        .expect("query");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "region,n,total\nus,1,9900\n"
    );
    // The uploaded report is the one printed.
    let fetched = s.path().join("fetched.json");
    moto.boto(&format!(
        "s3.download_file('reports', 'run/report.json', {:?})",
        fetched.display().to_string()
    ));
    assert_eq!(verdicts(&read_json(&fetched)), expected);
}

#[test]
fn missing_buckets_tables_and_objects_are_clear_errors() {
    require!(Moto);
    let s = scenario();
    let moto = Moto::start(false);
    moto.upload("snapshots", &s.path().join("legacy"), "legacy");
    let run = |legacy: &str, target: &str| {
        let config = s.path().join("missing.toml");
        let tables = std::fs::read_to_string(s.path().join("recon.toml")).expect("config");
        std::fs::write(
            &config,
            tables
                .replace("root = \"legacy\"", &format!("root = \"{legacy}\""))
                .replace("root = \"target\"", &format!("root = \"{target}\"")),
        )
        .expect("write");
        moto.recon()
            .args(["run", "--config"])
            .arg(&config)
            .args(["--format", "json"])
            .output()
            .expect("run")
    };
    // No such bucket.
    let out = run("s3://snapshots/legacy", "s3://no-such-bucket/target");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report: Value = crate::common::parse_report(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["verdict"], "error");
    let error = report["error"].as_str().expect("error");
    assert!(
        error.contains("target snapshot s3://no-such-bucket/target"),
        "{error}"
    );
    // A prefix with nothing in it: the tables are missing, named.
    let out = run("s3://snapshots/legacy", "s3://snapshots/nothing-here");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report: Value = crate::common::parse_report(&String::from_utf8_lossy(&out.stdout));
    let error = report["error"].as_str().expect("error");
    assert!(error.contains("customers"), "{error}");
    // An object deleted between listing and reading cannot be listed here; a table whose file
    // is gone on one side is the missing-table case above. A file that is not Parquet is
    // named with its key.
    let junk = s.path().join("junk");
    std::fs::create_dir_all(&junk).expect("mkdir");
    std::fs::write(junk.join("customers.parquet"), b"not parquet at all").expect("write");
    moto.upload("snapshots", &junk, "junk");
    let out = run("s3://snapshots/legacy", "s3://snapshots/junk");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report: Value = crate::common::parse_report(&String::from_utf8_lossy(&out.stdout));
    let error = report["error"].as_str().expect("error");
    assert!(error.contains("junk/customers.parquet"), "{error}");
}

#[test]
fn wrong_credentials_exit_2_and_never_show_the_secret() {
    require!(Moto);
    let s = scenario();
    let moto = Moto::start(true);
    let config = s.path().join("remote.toml");
    std::fs::write(
        &config,
        "[legacy]\nroot = \"s3://snapshots/legacy\"\n\n[target]\nroot = \"s3://snapshots/target\"\n\n\
         [[tables]]\nname = \"customers\"\nkey = [\"id\"]\n",
    )
    .expect("write");
    let out = moto
        .recon()
        .args(["run", "--config"])
        .arg(&config)
        .args(["--out"])
        .arg(s.path().join("out"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let report = std::fs::read_to_string(s.path().join("out/report.json")).expect("report");
    for text in [&err, &report] {
        assert!(!text.contains("test-secret-key-do-not-print"), "{text}");
        assert!(!text.contains("test-access-key"), "{text}");
    }
    let report: Value = crate::common::parse_report(&report);
    assert_eq!(report["verdict"], "error");
    let error = report["error"].as_str().expect("error");
    assert!(
        error.contains("legacy snapshot s3://snapshots/legacy: cannot list"),
        "{error}"
    );
    assert!(
        error.contains("InvalidAccessKeyId") || error.contains("403"),
        "{error}"
    );
}

#[test]
fn the_profile_files_supply_credentials() {
    require!(Moto);
    let s = scenario();
    let moto = Moto::start(false);
    moto.upload("snapshots", &s.path().join("legacy"), "legacy");
    moto.upload("snapshots", &s.path().join("target"), "target");
    let home = s.path().join("home");
    std::fs::create_dir_all(home.join(".aws")).expect("mkdir");
    std::fs::write(
        home.join(".aws/credentials"),
        "[nightly]\naws_access_key_id = profile-key\naws_secret_access_key = profile-secret-value\n",
    )
    .expect("write");
    std::fs::write(
        home.join(".aws/config"),
        format!(
            "[profile nightly]\nregion = us-east-1\nendpoint_url = {}\n",
            moto.endpoint
        ),
    )
    .expect("write");
    let mut cmd = recon();
    cmd.env("HOME", &home)
        .env("AWS_PROFILE", "nightly")
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT",
        "AWS_ENDPOINT_URL",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["diff", "s3://snapshots/legacy/customers.parquet"])
        .args(["s3://snapshots/target/customers.parquet", "--key", "id"])
        .args(["--format", "json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = crate::common::parse_report(&String::from_utf8_lossy(&out.stdout));
    let t = &report["tables"][0];
    assert_eq!(
        (t["changed"].as_u64(), t["missing"].as_u64()),
        (Some(1), Some(1)),
        "{t}"
    );
}
