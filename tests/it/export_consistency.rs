//! The export at its edges, against the real servers: sessions that lock or rewrite tables
//! while it runs, tables outside the transactions, servers that never answer, URLs a password
//! splits, inheritance, and the values and types at the rim of what recon carries.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow::array::AsArray;
use arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use mysql::prelude::Queryable;

use crate::common::{recon, require, stderr};
use crate::databases::{MyDb, PgDb, col, manifest, my_connect, read_table, snapshot};

/// Waits for a child at most `limit`; kills it past that and says so in the panic.
fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let _ = child.wait();
    panic!("recon still ran after {limit:?} and was killed: {err}");
}

fn spawn_recon(args: &[&str], root: &Path) -> Child {
    recon()
        .args(args)
        .arg(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recon")
}

/// Waits until the export's backend runs a COPY.
fn wait_for_copy(db: &PgDb) {
    for _ in 0..1000 {
        let n = db.texts(
            "SELECT count(*)::text FROM pg_stat_activity \
             WHERE application_name = 'recon snapshot' AND query LIKE 'COPY%' \
             AND state = 'active' AND datname = current_database()",
        );
        if n.first().cloned().flatten().as_deref() != Some("0") {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the export never ran a COPY");
}

#[test]
fn a_truncate_or_rewrite_during_a_postgres_export_waits_instead_of_emptying_the_table() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE big_a (id bigint PRIMARY KEY, pad text);
         CREATE TABLE big_b (id bigint PRIMARY KEY, pad text);
         CREATE TABLE small (id int PRIMARY KEY, v int);
         CREATE TABLE small_r (id int PRIMARY KEY, v int);
         INSERT INTO big_a SELECT g, repeat('a', 100) FROM generate_series(1, 300000) g;
         INSERT INTO big_b SELECT g, repeat('b', 100) FROM generate_series(1, 300000) g;
         INSERT INTO small SELECT g, g FROM generate_series(1, 1000) g;
         INSERT INTO small_r SELECT g, g FROM generate_series(1, 1000) g;
         ANALYZE;",
    );
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    // Two workers take the big tables first; the small ones are read after the DDL arrived.
    let child = spawn_recon(
        &["-j", "2", "snapshot", "--from", &db.url(), "--out"],
        &root,
    );
    wait_for_copy(&db);
    let ddl = |sql: &'static str| {
        let (rt, c) = db.second();
        std::thread::spawn(move || rt.block_on(c.batch_execute(sql)).map_err(|e| e.to_string()))
    };
    let truncate = ddl("SET lock_timeout = '120s'; TRUNCATE small");
    let rewrite = ddl("SET lock_timeout = '120s'; ALTER TABLE small_r ALTER COLUMN v TYPE bigint");
    let o = wait_bounded(child, Duration::from_mins(2));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read_table(&root, "small").num_rows(), 1000);
    let r = read_table(&root, "small_r");
    assert_eq!(r.num_rows(), 1000);
    assert_eq!(col(&r, "v").data_type(), &DataType::Int32, "read as it was");
    // The DDL waited for the export, then ran.
    truncate
        .join()
        .expect("thread")
        .expect("TRUNCATE after the export");
    rewrite
        .join()
        .expect("thread")
        .expect("ALTER after the export");
    assert_eq!(
        db.texts("SELECT count(*)::text FROM small")[0].as_deref(),
        Some("0")
    );
    let m = manifest(&root);
    assert!(
        m["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .all(|t| t["consistency"] == "transaction")
    );
}

#[test]
fn a_postgres_table_locked_by_another_session_fails_the_export_naming_it_after_the_lock_timeout() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE free (id int PRIMARY KEY); INSERT INTO free VALUES (1);
         CREATE TABLE held (id int PRIMARY KEY); INSERT INTO held VALUES (1);",
    );
    let (rt, c) = db.second();
    rt.block_on(c.batch_execute("BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE"))
        .expect("lock");
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let child = spawn_recon(
        &[
            "snapshot",
            "--lock-timeout",
            "1s",
            "--from",
            &db.url(),
            "--out",
        ],
        &root,
    );
    let o = wait_bounded(child, Duration::from_mins(1));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("table `held`") && err.contains("lock"),
        "{err}"
    );
    assert!(!root.exists(), "nothing written");
    rt.block_on(c.batch_execute("ROLLBACK")).expect("unlock");
}

/// A server that accepts connections and never says a word; the listener lives as long as
/// the returned guard.
fn silent_server() -> (u16, std::sync::Arc<AtomicBool>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&stop);
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (port, stop)
}

#[test]
fn a_server_that_accepts_and_never_answers_times_out_with_exit_2() {
    let (port, stop) = silent_server();
    let out = tempfile::tempdir().expect("tmp");
    for scheme in ["postgres", "mysql"] {
        let url = format!("{scheme}://app@127.0.0.1:{port}/erp");
        let root = out.path().join(scheme);
        let child = spawn_recon(
            &[
                "snapshot",
                "--connect-timeout",
                "1s",
                "--from",
                &url,
                "--out",
            ],
            &root,
        );
        let o = wait_bounded(child, Duration::from_secs(30));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{scheme}: {err}");
        assert!(err.contains("cannot connect within 1 s"), "{scheme}: {err}");
        // The same through `run --snapshot`.
        let config = out.path().join(format!("{scheme}.toml"));
        std::fs::write(
            &config,
            format!(
                "[legacy]\nroot = \"l-{scheme}\"\nurl = \"{url}\"\n\n[target]\nroot = \"t\"\n\n\
                 [[tables]]\nname = \"a\"\nkey = [\"id\"]\n"
            ),
        )
        .expect("config");
        let mut cmd = recon();
        let child = cmd
            .args(["run", "--snapshot", "--connect-timeout", "1s", "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let o = wait_bounded(child, Duration::from_secs(30));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{scheme}: {err}");
        assert!(err.contains("cannot connect within 1 s"), "{scheme}: {err}");
    }
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn a_postgres_inheritance_parent_exports_its_own_rows_only() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE animal (id int PRIMARY KEY, name text);
         CREATE TABLE dog (good boolean) INHERITS (animal);
         INSERT INTO animal VALUES (1, 'cat'), (2, 'owl');
         INSERT INTO dog VALUES (3, 'rex', true), (4, 'fido', true), (5, 'max', false);
         CREATE TABLE sales (id int, region text) PARTITION BY LIST (region);
         CREATE TABLE sales_n PARTITION OF sales FOR VALUES IN ('n');
         CREATE TABLE sales_s PARTITION OF sales FOR VALUES IN ('s');
         INSERT INTO sales VALUES (1, 'n'), (2, 's'), (3, 's');",
    );
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let o = snapshot(&["--from", &db.url(), "--out", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        read_table(&root, "animal").num_rows(),
        2,
        "the parent's own rows"
    );
    assert_eq!(read_table(&root, "dog").num_rows(), 3);
    assert_eq!(
        read_table(&root, "sales").num_rows(),
        3,
        "partitions stay one table"
    );
    assert!(!root.join("sales_n").exists());
    let rows: u64 = manifest(&root)["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| t["rows"].as_u64().expect("rows"))
        .sum();
    assert_eq!(rows, 8, "every row once");
}

#[test]
fn a_database_url_a_password_splits_is_refused_without_printing_any_part_of_it() {
    let out = tempfile::tempdir().expect("tmp");
    let secrets = ["Zq9", "Xk7", "Wm4", "Vb2"];
    for url in [
        // `/` and `#` in the password end the host and the path.
        "postgres://app:12/Zq9#Xk7@127.0.0.1:5432/erp",
        "mysql://app:12/Zq9@Xk7@127.0.0.1:3306/erp",
        "postgres://app:Zq9#Xk7@127.0.0.1/erp",
        "mysql://app:12?Wm4@127.0.0.1/Vb2",
        "postgres://app:Zq9/Wm4@127.0.0.1:5432/erp",
    ] {
        let root = out.path().join("snap");
        let o = snapshot(&["--from", url, "--out", root.to_str().expect("utf8")]);
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert_eq!(o.status.code(), Some(2), "{all}");
        for s in secrets {
            assert!(!all.contains(s), "{url} printed {s}: {all}");
        }
        let config = out.path().join("recon.toml");
        std::fs::write(
            &config,
            format!(
                "[legacy]\nroot = \"l\"\nurl = \"{url}\"\n\n[target]\nroot = \"t\"\n\n\
                 [[tables]]\nname = \"a\"\nkey = [\"id\"]\n"
            ),
        )
        .expect("config");
        let o = snapshot(&["--config", config.to_str().expect("utf8")]);
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert_eq!(o.status.code(), Some(2), "{all}");
        for s in secrets {
            assert!(!all.contains(s), "{url} printed {s}: {all}");
        }
    }
}

/// A writer inserts a parent, then its child, into `MyISAM` tables (no transactions) every few
/// milliseconds while they are exported: the snapshot never holds a child without its parent.
#[test]
fn mariadb_myisam_tables_are_read_under_the_read_lock_so_no_child_lacks_its_parent() {
    require!(MariaDb);
    let mut db = MyDb::new();
    db.exec("CREATE TABLE parent (id bigint PRIMARY KEY, pad varchar(60)) ENGINE=MyISAM");
    db.exec(
        "CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint, pad varchar(60)) ENGINE=Aria",
    );
    db.exec("CREATE TABLE ledger (id bigint PRIMARY KEY) ENGINE=InnoDB");
    // The parent is the larger, so it is read first.
    db.exec("INSERT INTO parent SELECT seq, REPEAT('x', 50) FROM seq_1_to_200000");
    db.exec("INSERT INTO child SELECT seq, seq, REPEAT('y', 50) FROM seq_1_to_100000");
    db.exec("INSERT INTO ledger VALUES (1)");
    for jobs in ["1", "2"] {
        let stop = AtomicBool::new(false);
        let out = tempfile::tempdir().expect("tmp");
        let root = out.path().join("snap");
        let mut c = my_connect(Some(&db.name));
        let o = std::thread::scope(|s| {
            let stop = &stop;
            s.spawn(move || {
                let mut id = 1_000_000i64 + 100_000 * i64::from(jobs == "2");
                while !stop.load(Ordering::Relaxed) {
                    id += 1;
                    c.query_drop(format!("INSERT INTO parent VALUES ({id}, 'late')"))
                        .ok();
                    c.query_drop(format!("INSERT INTO child VALUES ({id}, {id}, 'late')"))
                        .ok();
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
            std::thread::sleep(Duration::from_millis(50));
            let o = recon()
                .args(["-j", jobs, "snapshot", "--from", &db.url(), "--out"])
                .arg(&root)
                .output()
                .expect("run");
            stop.store(true, Ordering::Relaxed);
            o
        });
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let parents = read_table(&root, "parent");
        let ids: std::collections::HashSet<i64> = {
            let a = col(&parents, "id").as_primitive::<Int64Type>();
            (0..a.len()).map(|i| a.value(i)).collect()
        };
        let children = read_table(&root, "child");
        let refs = col(&children, "parent_id").as_primitive::<Int64Type>();
        let orphans = (0..refs.len())
            .filter(|&i| !ids.contains(&refs.value(i)))
            .count();
        assert_eq!(orphans, 0, "-j {jobs}: a child without its parent");
        assert!(
            stderr(&o).contains("parent: ") && stderr(&o).contains("MyISAM, no transactions"),
            "the tables read under the lock are named: {}",
            stderr(&o)
        );
        let m = manifest(&root);
        let entry = |name: &str| {
            m["tables"]
                .as_array()
                .expect("tables")
                .iter()
                .find(|t| t["name"] == name)
                .cloned()
                .expect("table")
        };
        assert_eq!(entry("parent")["engine"], "MyISAM");
        assert_eq!(entry("parent")["consistency"], "read lock");
        assert_eq!(entry("child")["engine"], "Aria");
        assert_eq!(entry("child")["consistency"], "read lock");
        assert_eq!(entry("ledger")["engine"], "InnoDB");
        assert_eq!(entry("ledger")["consistency"], "transaction");
    }
}

#[test]
fn postgres_times_and_dates_recon_cannot_carry_are_refused_naming_column_and_key() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE midnight (id int PRIMARY KEY, at time);
         INSERT INTO midnight VALUES (1, '23:59:59.999999'), (2, '24:00:00');
         CREATE TABLE ancient (id int PRIMARY KEY, born date);
         INSERT INTO ancient VALUES (1, '0001-01-01'), (3, '0044-03-15 BC');
         CREATE TABLE distant (id int PRIMARY KEY, due date);
         INSERT INTO distant VALUES (1, '9999-12-31'), (4, '10000-01-01');
         CREATE TABLE stamped (id int PRIMARY KEY, at timestamptz);
         INSERT INTO stamped VALUES (5, '0001-01-01 00:00:00 BC');",
    );
    let out = tempfile::tempdir().expect("tmp");
    for (table, column, key) in [
        ("midnight", "at", "id=2"),
        ("ancient", "born", "id=3"),
        ("distant", "due", "id=4"),
        ("stamped", "at", "id=5"),
    ] {
        let root = out.path().join(table);
        let o = snapshot(&[
            "--from",
            &db.url(),
            "--table",
            table,
            "--out",
            root.to_str().expect("utf8"),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{table}: {err}");
        assert!(
            err.contains(&format!("`{table}`"))
                && err.contains(&format!("`{column}`"))
                && err.contains(key),
            "{table}: {err}"
        );
        assert!(!err.contains("internal error"), "{err}");
        assert!(!root.exists());
    }
    // The cast the message suggests carries them as the server writes them.
    let root = out.path().join("cast");
    let o = snapshot(&[
        "--from",
        &db.url(),
        "--table",
        "ancient",
        "--cast",
        "ancient.born=text",
        "--out",
        root.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = read_table(&root, "ancient");
    assert_eq!(col(&b, "born").as_string::<i32>().value(1), "0044-03-15 BC");
}

#[test]
fn a_postgres_domain_named_like_a_built_in_is_read_as_its_base_type() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE DOMAIN public.int8 AS text;
         CREATE DOMAIN public.date AS int4;
         CREATE DOMAIN cents AS numeric(10,2);
         CREATE DOMAIN positive_cents AS cents CHECK (VALUE > 0);
         CREATE TABLE t (id int PRIMARY KEY, code public.int8, day public.date,
                         price positive_cents);
         INSERT INTO t VALUES (1, 'not a number', 42, 12.34);",
    );
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let o = snapshot(&["--from", &db.url(), "--out", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = read_table(&root, "t");
    assert_eq!(col(&b, "code").as_string::<i32>().value(0), "not a number");
    assert_eq!(col(&b, "day").data_type(), &DataType::Int32);
    let price = col(&b, "price");
    assert_eq!(price.data_type(), &DataType::Decimal128(10, 2));
    assert_eq!(price.as_primitive::<Decimal128Type>().value(0), 1234);
}

#[test]
fn a_postgres_numeric_with_a_scale_past_its_precision_or_below_zero_exports_exactly() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE rates (id int PRIMARY KEY, tiny numeric(3,5), hundreds numeric(3,-2));
         INSERT INTO rates VALUES (1, 0.00123, 12300), (2, -0.00999, -99900);",
    );
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let o = snapshot(&["--from", &db.url(), "--out", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = read_table(&root, "rates");
    let tiny = col(&b, "tiny");
    assert_eq!(tiny.data_type(), &DataType::Decimal128(5, 5));
    let t = tiny.as_primitive::<Decimal128Type>();
    assert_eq!((t.value(0), t.value(1)), (123, -999));
    let hundreds = col(&b, "hundreds");
    assert_eq!(hundreds.data_type(), &DataType::Decimal128(5, 0));
    let h = hundreds.as_primitive::<Decimal128Type>();
    assert_eq!((h.value(0), h.value(1)), (12_300, -99_900));
}

#[test]
fn casts_in_the_config_apply_to_the_export_and_the_suggested_cast_works_for_spatial_columns() {
    require!(MariaDb);
    let mut db = MyDb::new();
    db.exec("CREATE TABLE shapes (id int PRIMARY KEY, g point, area polygon)");
    db.exec(
        "INSERT INTO shapes VALUES (1, ST_GeomFromText('POINT(1 2)'), \
         ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'))",
    );
    let out = tempfile::tempdir().expect("tmp");
    // Without a cast: refused, with a cast that works.
    let root = out.path().join("plain");
    let o = snapshot(&["--from", &db.url(), "--out", root.to_str().expect("utf8")]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--cast shapes.g=text"), "{err}");
    let root = out.path().join("cli");
    let o = snapshot(&[
        "--from",
        &db.url(),
        "--cast",
        "shapes.g=text",
        "--cast",
        "shapes.area=text",
        "--out",
        root.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = read_table(&root, "shapes");
    assert_eq!(col(&b, "g").as_string::<i32>().value(0), "POINT(1 2)");
    // The same casts in the config's side.
    let config = out.path().join("recon.toml");
    std::fs::write(
        &config,
        format!(
            "[legacy]\nroot = \"from-config\"\nurl = \"{}\"\ncasts = [\"shapes.g\", \"shapes.area\"]\n\n\
             [target]\nroot = \"t\"\n\n[[tables]]\nname = \"shapes\"\nkey = [\"id\"]\n",
            db.url()
        ),
    )
    .expect("config");
    let o = snapshot(&["--config", config.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = read_table(&out.path().join("from-config"), "shapes");
    assert_eq!(col(&b, "g").as_string::<i32>().value(0), "POINT(1 2)");
    assert_eq!(
        col(&b, "area").as_string::<i32>().value(0),
        "POLYGON((0 0,1 0,1 1,0 0))"
    );
}
