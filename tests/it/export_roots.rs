//! Names and roots at the edges of `recon snapshot` and `recon run --snapshot`, against the real
//! servers: hostile table names never become paths, URL roots are refused rather than taken as
//! local folder names, a root that is not a recon snapshot is never replaced without `--force`,
//! `_x` tables are tables, and a table without columns does not sink the export.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::{recon, require, stderr};
use crate::databases::{MyDb, PgDb};

fn snapshot(args: &[&str]) -> Output {
    recon()
        .arg("snapshot")
        .args(args)
        .output()
        .expect("run recon")
}

fn manifest(root: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(root.join("_recon_snapshot.json")).expect("manifest"),
    )
    .expect("json")
}

/// Every path under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("entry").path();
            out.push(
                p.strip_prefix(base)
                    .expect("under base")
                    .display()
                    .to_string(),
            );
            if p.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `SELECT count(*)` of a table of the legacy side through `recon query`, as CSV's one value.
fn count(legacy: &Path, target: &Path, table: &str) -> String {
    let quoted = table.replace('"', "\"\"");
    let o = recon()
        .arg("query")
        .arg("--legacy")
        .arg(legacy)
        .arg("--target")
        .arg(target)
        .args(["--format", "csv"])
        .arg(format!("SELECT count(*) AS n FROM legacy.\"{quoted}\""))
        .output()
        .expect("query");
    assert_eq!(o.status.code(), Some(0), "{table}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// The tables every server test creates: names that are paths, hidden or skipped names, and a
/// table `a` whose folder a table `a/b` must not land in.
const HOSTILE: [(&str, usize); 6] = [
    ("..", 1),
    ("../../escape", 2),
    ("../legacy/orders", 3),
    ("a/b", 4),
    ("a", 5),
    ("_migrations", 6),
];

/// Exports a database whose tables are [`HOSTILE`] (each holding as many rows as its number)
/// into `work/deep/snap`, then checks that nothing was written outside the root, that the
/// manifest keeps the real names, and that `recon query` and `recon init` see every table with
/// its own rows.
fn hostile_names_stay_inside_the_root(url: &str) {
    let work = tempfile::tempdir().expect("tmp");
    let root = work.path().join("deep").join("snap");
    let o = snapshot(&["--from", url, "--out", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let outside: Vec<String> = tree(work.path())
        .into_iter()
        .filter(|p| p != "deep" && !p.starts_with("deep/snap"))
        .collect();
    assert!(outside.is_empty(), "written outside the root: {outside:?}");
    let m = manifest(&root);
    let names: Vec<&str> = m["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    for (name, _) in HOSTILE {
        assert!(names.contains(&name), "{name} in the manifest: {names:?}");
    }
    for t in m["tables"].as_array().expect("tables") {
        for f in t["files"].as_array().expect("files") {
            let f = f.as_str().expect("file");
            assert!(
                !f.split('/').any(|p| p == ".." || p == "." || p.is_empty()),
                "{f}"
            );
            assert!(root.join(f).is_file(), "{f}");
        }
    }
    for (name, rows) in HOSTILE {
        assert_eq!(
            count(&root, &root, name),
            rows.to_string(),
            "rows of {name}"
        );
    }
    let o = recon()
        .args(["init", "--out", "-", "--legacy"])
        .arg(&root)
        .arg("--target")
        .arg(&root)
        .output()
        .expect("init");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let config = String::from_utf8_lossy(&o.stdout);
    for (name, _) in HOSTILE {
        assert!(
            config.contains(&format!("name = \"{name}\"")),
            "init pairs {name}:\n{config}"
        );
    }
}

#[test]
fn postgres_table_names_that_are_paths_never_write_outside_the_root() {
    require!(Postgres);
    let db = PgDb::new();
    for (name, rows) in HOSTILE {
        let q = name.replace('"', "\"\"");
        db.exec(&format!(
            "CREATE TABLE \"{q}\" (id int PRIMARY KEY); \
             INSERT INTO \"{q}\" SELECT generate_series(1, {rows});"
        ));
    }
    hostile_names_stay_inside_the_root(&db.url());
}

#[test]
fn mariadb_table_names_that_are_paths_never_write_outside_the_root() {
    require!(MariaDb);
    let mut db = MyDb::new();
    for (name, rows) in HOSTILE {
        let q = name.replace('`', "``");
        db.exec(&format!("CREATE TABLE `{q}` (id int PRIMARY KEY)"));
        for id in 1..=rows {
            db.exec(&format!("INSERT INTO `{q}` VALUES ({id})"));
        }
    }
    hostile_names_stay_inside_the_root(&db.url());
}

/// A config in a fresh folder: `[legacy]` and `[target]` with the given roots and URLs, and the
/// tables section.
pub(crate) fn write_config(
    dir: &Path,
    legacy: (&str, &str),
    target: (&str, &str),
    tables: &str,
) -> PathBuf {
    let path = dir.join("recon.toml");
    std::fs::write(
        &path,
        format!(
            "[legacy]\nroot = \"{}\"\nurl = \"{}\"\n\n[target]\nroot = \"{}\"\nurl = \"{}\"\n\n{tables}",
            legacy.0, legacy.1, target.0, target.1
        ),
    )
    .expect("config");
    path
}

fn run_snapshot(config: &Path, extra: &[&str]) -> Output {
    recon()
        .args(["run", "--snapshot", "--config"])
        .arg(config)
        .arg("--out")
        .arg(config.with_file_name("out"))
        .args(extra)
        .output()
        .expect("run")
}

#[test]
fn a_target_table_named_like_the_legacy_path_never_overwrites_the_legacy_snapshot() {
    require!(Postgres, MariaDb);
    let mut legacy = MyDb::new();
    legacy.exec("CREATE TABLE orders (id int PRIMARY KEY, amount int)");
    legacy.exec("INSERT INTO orders VALUES (1, 10), (2, 20), (3, 30)");
    let target = PgDb::new();
    target.exec(
        "CREATE TABLE \"../legacy/orders\" (id int PRIMARY KEY, amount int);
         INSERT INTO \"../legacy/orders\" VALUES (1, 10), (2, 21), (4, 40);",
    );
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(
        dir.path(),
        ("legacy", &legacy.url()),
        ("target", &target.url()),
        "[[tables]]\nname = \"orders\"\nlegacy = \"orders\"\ntarget = \"../legacy/orders\"\nkey = [\"id\"]\n",
    );
    let o = run_snapshot(&config, &[]);
    assert!(
        matches!(o.status.code(), Some(1 | 3)),
        "the databases differ: {}\n{}",
        stderr(&o),
        String::from_utf8_lossy(&o.stdout)
    );
    let report: Value = crate::common::parse_report(
        &std::fs::read_to_string(dir.path().join("out/report.json")).expect("report"),
    );
    let t = &report["tables"][0];
    assert_eq!(
        (&t["matched"], &t["changed"], &t["missing"], &t["extra"]),
        (&1.into(), &1.into(), &1.into(), &1.into()),
        "{t}"
    );
    assert_eq!(
        tree(&dir.path().join("legacy")),
        [
            "_recon_snapshot.json",
            "orders",
            "orders/part-00000.parquet"
        ]
    );
}

#[test]
fn an_out_url_is_refused_and_never_becomes_a_local_folder() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);");
    let cwd = tempfile::tempdir().expect("tmp");
    for out in ["s3://bucket/prefix", "https://host/prefix"] {
        let o = recon()
            .current_dir(cwd.path())
            .args(["snapshot", "--from", &db.url(), "--out", out])
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(stderr(&o).contains("local folder"), "{}", stderr(&o));
        assert_eq!(tree(cwd.path()), Vec::<String>::new(), "nothing written");
    }
    // A `file://` URL is a local folder.
    let local = cwd.path().join("snap");
    let url = format!("file://{}", local.display());
    let o = snapshot(&["--from", &db.url(), "--out", &url]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(local.join("_recon_snapshot.json").is_file());
}

#[test]
fn run_snapshot_with_a_url_root_is_refused_before_anything_runs() {
    require!(Postgres);
    let legacy = PgDb::new();
    legacy.exec("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);");
    let target = PgDb::new();
    target.exec("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);");
    let dir = tempfile::tempdir().expect("tmp");
    write_config(
        dir.path(),
        ("legacy", &legacy.url()),
        ("s3://bucket/target?X-Amz-Signature=SECRET", &target.url()),
        "[[tables]]\nname = \"a\"\nkey = [\"id\"]\n",
    );
    let o = recon()
        .current_dir(dir.path())
        .args(["run", "--snapshot", "--config", "recon.toml"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("[target] root") && err.contains("local folder"),
        "{err}"
    );
    assert!(!err.contains("SECRET"), "{err}");
    assert_eq!(tree(dir.path()), ["recon.toml"], "nothing exported");
}

#[test]
fn run_snapshot_never_deletes_a_root_that_is_not_a_snapshot() {
    require!(Postgres);
    let legacy = PgDb::new();
    legacy.exec("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);");
    let target = PgDb::new();
    target.exec("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);");
    let dir = tempfile::tempdir().expect("tmp");
    // The target's root is the config's own folder.
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(&conf).expect("mkdir");
    let config = write_config(
        &conf,
        ("../legacy", &legacy.url()),
        (".", &target.url()),
        "[[tables]]\nname = \"a\"\nkey = [\"id\"]\n",
    );
    let o = run_snapshot(&config, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`recon.toml`") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );
    assert!(config.is_file(), "recon.toml is still there");
    assert!(
        !dir.path().join("legacy").exists(),
        "refused before any export"
    );
    // A root holding a user's file: refused, kept; with --force, replaced.
    let config = write_config(
        dir.path(),
        ("legacy", &legacy.url()),
        ("target", &target.url()),
        "[[tables]]\nname = \"a\"\nkey = [\"id\"]\n",
    );
    std::fs::create_dir_all(dir.path().join("target")).expect("mkdir");
    std::fs::write(dir.path().join("target/notes.txt"), "mine").expect("write");
    let o = run_snapshot(&config, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));
    assert!(dir.path().join("target/notes.txt").is_file());
    let o = run_snapshot(&config, &["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!dir.path().join("target/notes.txt").exists());
    // A snapshot is replaced night after night; one with a stranger inside is not.
    let o = run_snapshot(&config, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::write(dir.path().join("legacy/notes.txt"), "mine").expect("write");
    let o = run_snapshot(&config, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(dir.path().join("legacy/notes.txt").is_file());
}

#[test]
fn snapshot_out_inside_another_snapshot_is_refused() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);");
    let work = tempfile::tempdir().expect("tmp");
    let outer = work.path().join("outer");
    let o = snapshot(&["--from", &db.url(), "--out", outer.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = tree(&outer);
    for inner in [outer.join("inner"), outer.join("a").join("deeper")] {
        let o = snapshot(&["--from", &db.url(), "--out", inner.to_str().expect("utf8")]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("inside the snapshot"), "{}", stderr(&o));
    }
    assert_eq!(tree(&outer), before, "the outer snapshot is untouched");
}

#[test]
fn a_table_without_columns_is_skipped_with_a_warning_not_a_failed_export() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE nothing (); INSERT INTO nothing DEFAULT VALUES;
         CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1), (2);",
    );
    let work = tempfile::tempdir().expect("tmp");
    let root = work.path().join("snap");
    let o = snapshot(&["--from", &db.url(), "--out", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: table `nothing` not exported"),
        "{}",
        stderr(&o)
    );
    let m = manifest(&root);
    assert_eq!(m["tables"].as_array().expect("tables").len(), 1);
    assert_eq!(m["skipped"][0]["name"], "nothing");
    assert_eq!(count(&root, &root, "a"), "2");
}

#[test]
#[cfg(unix)]
fn snapshot_files_are_as_private_as_reports() {
    use std::os::unix::fs::PermissionsExt;
    require!(Postgres);
    let db = PgDb::new();
    db.exec("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);");
    let work = tempfile::tempdir().expect("tmp");
    let root = work.path().join("snap");
    let o = snapshot(&["--from", &db.url(), "--out", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    for f in ["_recon_snapshot.json", "a/part-00000.parquet"] {
        assert_eq!(mode(&root.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&root), 0o700);
}

#[test]
fn encoded_table_folders_are_read_through_the_manifest_on_s3() {
    require!(Postgres, Moto);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);
         CREATE TABLE \"a/b\" (id int PRIMARY KEY); INSERT INTO \"a/b\" VALUES (1), (2);
         CREATE TABLE \"_migrations\" (id int PRIMARY KEY); INSERT INTO \"_migrations\" VALUES (1), (2), (3);
         CREATE TABLE \"100%\" (id int PRIMARY KEY); INSERT INTO \"100%\" VALUES (1), (2), (3), (4);",
    );
    let work = tempfile::tempdir().expect("tmp");
    let root = work.path().join("snap");
    let o = snapshot(&["--from", &db.url(), "--out", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let moto = crate::s3::Moto::start(false);
    moto.upload("snaps", &root, "night");
    for (table, rows) in [
        ("a", "1"),
        ("a/b", "2"),
        ("_migrations", "3"),
        ("100%", "4"),
    ] {
        let o = moto
            .recon()
            .args([
                "query",
                "--legacy",
                "s3://snaps/night",
                "--target",
                "s3://snaps/night",
                "--format",
                "csv",
            ])
            .arg(format!("SELECT count(*) AS n FROM legacy.\"{table}\""))
            .output()
            .expect("query");
        assert_eq!(o.status.code(), Some(0), "{table}: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(out.lines().nth(1), Some(rows), "{table}: {out}");
    }
}
