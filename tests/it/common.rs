//! Scenario helpers: write small Parquet snapshots and a `recon.toml` into a temp folder, run the
//! real binary, read back `report.json`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

/// A temp folder with `legacy/` and `target/` snapshots.
pub struct Scenario {
    pub dir: tempfile::TempDir,
}

/// A batch from named columns.
pub fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("valid batch")
}

/// Writes batches to one Parquet file, `row_group` rows per row group.
pub fn write_parquet(path: &Path, batches: &[RecordBatch], row_group: usize) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group))
        .build();
    let file = std::fs::File::create(path).expect("create");
    let mut w = ArrowWriter::try_new(file, batches[0].schema(), Some(props)).expect("writer");
    for b in batches {
        w.write(b).expect("write");
    }
    w.close().expect("close");
}

impl Scenario {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("legacy")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("target")).expect("mkdir");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `legacy/<table>.parquet`.
    pub fn legacy(&self, table: &str, b: RecordBatch) -> &Self {
        write_parquet(
            &self.path().join("legacy").join(format!("{table}.parquet")),
            &[b],
            1 << 20,
        );
        self
    }

    /// Writes `target/<table>.parquet`.
    pub fn target(&self, table: &str, b: RecordBatch) -> &Self {
        write_parquet(
            &self.path().join("target").join(format!("{table}.parquet")),
            &[b],
            1 << 20,
        );
        self
    }

    /// Writes `recon.toml` with the two roots and the given tables section.
    pub fn config(&self, tables: &str) -> PathBuf {
        let path = self.path().join("recon.toml");
        let text =
            format!("[legacy]\nroot = \"legacy\"\n\n[target]\nroot = \"target\"\n\n{tables}");
        std::fs::write(&path, text).expect("write config");
        path
    }

    /// `recon run` on the config, writing to `out`, ready for more args.
    pub fn run_command(&self) -> std::process::Command {
        let mut cmd = recon();
        cmd.arg("run")
            .arg("--config")
            .arg(self.path().join("recon.toml"));
        cmd.arg("--out").arg(self.path().join("out"));
        cmd
    }

    /// Runs `recon run` on the config with extra args; returns the output.
    pub fn run(&self, extra: &[&str]) -> Output {
        self.run_command().args(extra).output().expect("run recon")
    }

    /// The report the last run wrote (checked against the published schema).
    pub fn report(&self) -> Value {
        let text = std::fs::read_to_string(self.path().join("out").join("report.json"))
            .expect("report.json");
        parse_report(&text)
    }
}

/// The binary under test, quiet and without progress.
pub fn recon() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_recon"));
    cmd.env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .arg("--no-progress");
    cmd
}

/// Runs and returns (exit code, report) for a scenario, asserting the report was written.
pub fn run_report(s: &Scenario, extra: &[&str]) -> (i32, Value) {
    let out = s.run(extra);
    let code = out.status.code().expect("exit code");
    (code, s.report())
}

/// The one table of a report.
pub fn table<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["name"] == name)
        .expect("table in report")
}

/// The check with this id in a report.
pub fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {report}"))
}

/// Asserts the two row identities of DESIGN.md hold for a table of a report.
pub fn assert_identities(t: &Value) {
    let n = |k: &str| t[k].as_u64().expect(k);
    let nl = t["null_key_rows"]["legacy"].as_u64().expect("nulls");
    let nt = t["null_key_rows"]["target"].as_u64().expect("nulls");
    assert_eq!(
        n("legacy_rows"),
        n("matched") + n("changed") + n("missing") + nl,
        "legacy identity: {t}"
    );
    assert_eq!(
        n("target_rows"),
        n("matched") + n("changed") + n("extra") + nt,
        "target identity: {t}"
    );
}

/// `(matched, changed, missing, extra)` of a table.
pub fn counts(t: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| t[k].as_u64().expect(k);
    (n("matched"), n("changed"), n("missing"), n("extra"))
}

/// Stderr of an output as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `f` with insta filters for everything volatile in reports: times, durations, paths,
/// versions, digests, thread counts and file sizes.
pub fn filtered<F: FnOnce()>(f: F) {
    let mut settings = insta::Settings::clone_current();
    // JSON.
    settings.add_filter(r#""started_at": "[^"]+""#, r#""started_at": "[time]""#);
    settings.add_filter(r#""duration_ms": \d+"#, r#""duration_ms": "[ms]""#);
    settings.add_filter(r#""(config_path|root)": "[^"]+""#, r#""$1": "[path]""#);
    settings.add_filter(r#""version": "[^"]+""#, r#""version": "[version]""#);
    settings.add_filter(r#""threads": \d+"#, r#""threads": "[n]""#);
    settings.add_filter(r#""memory_budget": \d+"#, r#""memory_budget": "[n]""#);
    settings.add_filter(r"memory budget \d+ MiB", "memory budget [n] MiB");
    settings.add_filter(r#""bytes": \d+"#, r#""bytes": "[n]""#);
    // Markdown, HTML, JUnit, terminal.
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[time]");
    settings.add_filter(r"\b\d+ ms\b", "[ms] ms");
    settings.add_filter(r"recon \d+\.\d+\.\d+", "recon [version]");
    settings.add_filter(r"file:///[^ <|`]*", "[root]");
    settings.add_filter(r"(config|digest) (<code>)?`?[0-9a-f]{32}`?", "$1 [digest]");
    settings.add_filter(r"\d+ threads", "[n] threads");
    settings.add_filter(r#"time="[0-9.]+""#, r#"time="[t]""#);
    settings.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[tmp]");
    settings.add_filter(r"\| 1 \| [\d,]+ \| 4 \|", "| 1 | [bytes] | 4 |");
    settings.add_filter(
        r#"<td class="n">[\d,]+</td><td class="n">4</td></tr>"#,
        r#"<td class="n">[bytes]</td><td class="n">4</td></tr>"#,
    );
    settings.add_filter(r"report: .*", "report: [path]");
    settings.set_snapshot_path("snapshots");
    settings.bind(f);
}

/// A server or program that some tests need and a bare machine lacks. Such a test starts with
/// [`require!`]: where the service is missing it prints one line naming it and passes, unless
/// `RECON_REQUIRE_SERVICES=1` (as `.ci/run` sets), where it fails instead.
#[derive(Clone, Copy, Debug)]
pub enum Service {
    /// `PostgreSQL` on 127.0.0.1:5432, user `postgres` with trust auth.
    Postgres,
    /// `MariaDB` on 127.0.0.1:3306, `root` without a password.
    MariaDb,
    /// moto's S3 server, installed from `PyPI` into a venv under the target folder on first use.
    Moto,
    /// A headless Chromium (or Chrome) on `PATH`.
    Chromium,
    /// Debian's `prometheus-alertmanager`, started by the test on a free loopback port.
    Alertmanager,
    /// Prometheus' `promtool` on `PATH` (Debian: `prometheus`).
    Promtool,
    /// The Prometheus Pushgateway on `PATH` (Debian: `prometheus-pushgateway`), started by the
    /// test on a free loopback port.
    Pushgateway,
}

/// The environment variable that turns a missing service from a skip into a failure.
pub const REQUIRE_SERVICES: &str = "RECON_REQUIRE_SERVICES";

impl Service {
    /// Why the service cannot be used here, or `None` when it can. Probed once per process.
    fn missing(self) -> Option<&'static str> {
        static SEEN: [OnceLock<Option<String>>; 7] = [const { OnceLock::new() }; 7];
        SEEN[self as usize].get_or_init(|| self.probe()).as_deref()
    }

    fn probe(self) -> Option<String> {
        match self {
            Self::Postgres => tcp("PostgreSQL", 5432),
            Self::MariaDb => tcp("MariaDB", 3306),
            Self::Moto => crate::s3::moto_venv()
                .err()
                .map(|why| format!("the moto S3 server is not available: {why}")),
            Self::Chromium => chromium().is_none().then(|| {
                "headless Chromium not found on PATH (chromium, chromium-browser or \
                 google-chrome; apt-get install chromium)"
                    .to_owned()
            }),
            Self::Alertmanager => crate::notify::alertmanager_binary().is_none().then(|| {
                "prometheus-alertmanager not found (apt-get install prometheus-alertmanager)"
                    .to_owned()
            }),
            Self::Promtool => which("promtool")
                .is_none()
                .then(|| "promtool not found on PATH (apt-get install prometheus)".to_owned()),
            Self::Pushgateway => pushgateway().is_none().then(|| {
                "prometheus-pushgateway not found on PATH (apt-get install \
                 prometheus-pushgateway)"
                    .to_owned()
            }),
        }
    }
}

/// The Pushgateway program: Debian's name, or upstream's.
pub fn pushgateway() -> Option<PathBuf> {
    ["prometheus-pushgateway", "pushgateway"]
        .iter()
        .find_map(|b| which(b))
}

/// A loopback port nothing listens on (free when asked; the caller binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One HTTP/1.1 request to a loopback server; returns the status code and the body (`None`
/// when nothing answers).
pub fn http(method: &str, addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_owned()
    };
    Some((status, body))
}

/// The body of a chunked HTTP/1.1 response.
fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// A child process killed when dropped (servers a test started).
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `None` when something accepts a TCP connection on the loopback port.
fn tcp(name: &str, port: u16) -> Option<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2))
        .err()
        .map(|e| format!("{name} not reachable on {addr}: {}", e.kind()))
}

/// The first headless browser on `PATH`.
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| which(b))
}

/// A program on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Whether the calling test may use every one of `services`. When one is missing: panics if
/// `RECON_REQUIRE_SERVICES=1`, else prints one line naming it (past the test harness's capture,
/// so a plain `cargo test` shows it) and returns false.
#[track_caller]
pub fn services(services: &[Service]) -> bool {
    let Some(why) = services.iter().find_map(|s| s.missing()) else {
        return true;
    };
    let required = std::env::var(REQUIRE_SERVICES).is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(!required, "{why} ({REQUIRE_SERVICES} is set)");
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let line = format!("skipped {test}: {why} (set {REQUIRE_SERVICES}=1 to fail instead)\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    false
}

/// Returns from the calling test, after one line saying why, unless every named [`Service`] is
/// there (or fails it when `RECON_REQUIRE_SERVICES=1`): `require!(Postgres, MariaDb);`.
macro_rules! require {
    ($($service:ident),+ $(,)?) => {
        if !$crate::common::services(&[$($crate::common::Service::$service),+]) {
            return;
        }
    };
}
pub(crate) use require;

/// The published contract of `report.json`.
pub const REPORT_SCHEMA: &str = include_str!("../../docs/report.schema.json");

/// Parses a `report.json` and checks it against the published schema: every report a test reads
/// must be one the contract describes.
pub fn parse_report(text: &str) -> Value {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let report: Value = serde_json::from_str(text).expect("report is JSON");
    let validator = VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(REPORT_SCHEMA).expect("schema is JSON");
        jsonschema::validator_for(&schema).expect("valid schema")
    });
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report.json does not match docs/report.schema.json:\n{}",
        errors.join("\n")
    );
    report
}

/// A migration `recon gen` writes (ERP profile) with these rows, seed and row-group size.
pub fn generated(rows: u32, seed: u32, row_group: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rows, seed, row_group) = (rows.to_string(), seed.to_string(), row_group.to_string());
    let out = recon()
        .args([
            "gen",
            "--rows",
            &rows,
            "--seed",
            &seed,
            "--row-group",
            &row_group,
        ])
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("gen");
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}
