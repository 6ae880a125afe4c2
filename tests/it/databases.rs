//! `recon snapshot` against the real servers of this machine (`PostgreSQL` on 127.0.0.1:5432 with
//! trust auth, `MariaDB` on 127.0.0.1:3306 as root without a password). Every test makes its own
//! uniquely named database and drops it, and starts with `require!`, so it is skipped (saying so)
//! where a server is not reachable.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, Time64MicrosecondType, TimestampMicrosecondType, UInt8Type,
};
use mysql::prelude::Queryable;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use crate::common::{recon, require, stderr};

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "recon_{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A `PostgreSQL` database of the test's own.
pub struct PgDb {
    pub name: String,
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

fn pg_connect(rt: &tokio::runtime::Runtime, db: &str) -> tokio_postgres::Client {
    let (client, conn) = rt
        .block_on(tokio_postgres::connect(
            &format!("host=127.0.0.1 port=5432 user=postgres dbname={db}"),
            tokio_postgres::NoTls,
        ))
        .expect("PostgreSQL on 127.0.0.1:5432");
    rt.spawn(conn);
    client
}

impl PgDb {
    pub fn new() -> Self {
        Self::with_options("")
    }

    /// A database made with `CREATE DATABASE name <options>`.
    pub fn with_options(options: &str) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let name = unique("pg");
        let admin = pg_connect(&rt, "postgres");
        rt.block_on(admin.batch_execute(&format!("CREATE DATABASE {name} {options}")))
            .expect("create database");
        let client = pg_connect(&rt, &name);
        Self { name, rt, client }
    }

    pub fn exec(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// The first column of every row, as the server prints it.
    pub fn texts(&self, sql: &str) -> Vec<Option<String>> {
        self.rt
            .block_on(self.client.simple_query(sql))
            .expect("query")
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_owned)),
                _ => None,
            })
            .collect()
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    /// Another connection, for writers running beside an export.
    pub fn second(&self) -> (tokio::runtime::Runtime, tokio_postgres::Client) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let c = pg_connect(&rt, &self.name);
        (rt, c)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let admin = pg_connect(&self.rt, "postgres");
        let _ = self.rt.block_on(admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )));
    }
}

/// A `MariaDB` database of the test's own.
pub struct MyDb {
    pub name: String,
    conn: mysql::Conn,
}

pub fn my_connect(db: Option<&str>) -> mysql::Conn {
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some("127.0.0.1"))
        .tcp_port(3306)
        .prefer_socket(false)
        .user(Some("root"))
        .db_name(db)
        .init(vec!["SET NAMES utf8mb4"]);
    mysql::Conn::new(opts).expect("MariaDB on 127.0.0.1:3306")
}

impl MyDb {
    pub fn new() -> Self {
        let name = unique("my");
        let mut admin = my_connect(None);
        admin
            .query_drop(format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .expect("create database");
        let conn = my_connect(Some(&name));
        Self { name, conn }
    }

    pub fn exec(&mut self, sql: &str) {
        self.conn
            .query_drop(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:3306/{}", self.name)
    }
}

impl Drop for MyDb {
    fn drop(&mut self) {
        let _ = my_connect(None).query_drop(format!("DROP DATABASE IF EXISTS {}", self.name));
    }
}

/// Every row of a snapshot table, in one batch.
pub fn read_table(root: &Path, table: &str) -> RecordBatch {
    let mut batches = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(root.join(table))
        .expect("table folder")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).expect("open"))
                .expect("parquet")
                .build()
                .expect("reader");
        batches.extend(reader.map(|b| b.expect("batch")));
    }
    let schema = batches.first().expect("a batch").schema();
    arrow::compute::concat_batches(&schema, &batches).expect("concat")
}

pub(crate) fn manifest(root: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(root.join("_recon_snapshot.json")).expect("manifest"),
    )
    .expect("json")
}

pub(crate) fn snapshot(args: &[&str]) -> std::process::Output {
    recon()
        .arg("snapshot")
        .args(args)
        .output()
        .expect("run recon")
}

/// `recon init --legacy legacy --target target --out recon.toml`, run in `dir`.
pub(crate) fn init_in(dir: &Path) -> std::process::Output {
    recon()
        .current_dir(dir)
        .args([
            "init",
            "--legacy",
            "legacy",
            "--target",
            "target",
            "--out",
            "recon.toml",
        ])
        .output()
        .expect("init")
}

pub(crate) fn col<'a>(b: &'a RecordBatch, name: &str) -> &'a dyn Array {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_ref()
}

#[test]
#[allow(clippy::float_cmp)] // exact values on purpose
#[allow(
    clippy::too_many_lines,
    reason = "a flat table of one assertion per server type"
)]
fn postgres_types_arrive_exactly() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TYPE mood AS ENUM ('sad', 'happy');
         CREATE TABLE t (
            id int PRIMARY KEY, i2 smallint, i8 bigint, n30 numeric(30,15), nfree numeric,
            n60 numeric(60,20), r real, d double precision, b bool, txt text, vc varchar(10),
            ch char(4), dt date, tm time, ts timestamp, tz timestamptz, by bytea, u uuid,
            js json, jb jsonb, m mood);
         INSERT INTO t VALUES
          (1, -32768, 9223372036854775807, 123456.123456789012345, 0.000000000001234,
           12345678901234567890123456789012345678.12345678901234567890, '-0', 1e308, true,
           '𝄞 four bytes', '', 'ab', '0001-01-01', '23:59:59.999999',
           '9999-12-31 23:59:59.999999', '2024-03-01 12:00:00+03', '\\x00ff',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": 1}', '{\"b\": [1, 2]}', 'happy'),
          (2, NULL, NULL, -0.000000000000001, -98765432109876543210.5, NULL, 'NaN', '-Infinity',
           false, NULL, NULL, NULL, '9999-12-31', '00:00:00', '0001-01-01 00:00:00',
           NULL, '', NULL, NULL, NULL, NULL);",
    );
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let o = snapshot(&["--from", &db.url(), "--out", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = read_table(&root, "t");
    assert_eq!(b.num_rows(), 2);
    // Decimals: the server's own text, digit for digit.
    for (c, dt) in [
        ("n30", "Decimal128(30, 15)"),
        ("nfree", "Decimal128(35, 15)"),
        ("n60", "Decimal256(60, 20)"),
    ] {
        assert_eq!(col(&b, c).data_type().to_string(), dt, "{c}");
        let ours: Vec<Option<String>> = (0..2)
            .map(|r| {
                let a = col(&b, c);
                (!a.is_null(r)).then(|| {
                    arrow::util::display::ArrayFormatter::try_new(
                        a,
                        &arrow::util::display::FormatOptions::default(),
                    )
                    .expect("fmt")
                    .value(r)
                    .to_string()
                })
            })
            .collect();
        let scale = if c == "n60" { 20 } else { 15 };
        let theirs = db.texts(&format!(
            "SELECT round({c}, {scale})::text FROM t ORDER BY id"
        ));
        assert_eq!(ours, theirs, "{c}");
    }
    assert_eq!(col(&b, "i2").as_primitive::<Int16Type>().value(0), -32768);
    assert_eq!(col(&b, "i8").as_primitive::<Int64Type>().value(0), i64::MAX);
    assert!(col(&b, "i8").is_null(1));
    let r = col(&b, "r").as_primitive::<Float32Type>();
    assert!(
        r.value(0) == 0.0 && r.value(0).is_sign_negative(),
        "-0.0 keeps its sign"
    );
    assert!(r.value(1).is_nan());
    let d = col(&b, "d").as_primitive::<Float64Type>();
    assert_eq!((d.value(0), d.value(1)), (1e308, f64::NEG_INFINITY));
    assert!(col(&b, "b").as_boolean().value(0));
    let txt = col(&b, "txt").as_string::<i32>();
    assert_eq!(txt.value(0), "𝄞 four bytes");
    assert!(txt.is_null(1));
    let vc = col(&b, "vc").as_string::<i32>();
    assert!(
        !vc.is_null(0) && vc.value(0).is_empty(),
        "empty is not NULL"
    );
    assert_eq!(col(&b, "ch").as_string::<i32>().value(0), "ab  ");
    let dt = col(&b, "dt").as_primitive::<Date32Type>();
    assert_eq!((dt.value(0), dt.value(1)), (-719_162, 2_932_896));
    assert_eq!(
        col(&b, "tm")
            .as_primitive::<Time64MicrosecondType>()
            .value(0),
        86_399_999_999
    );
    let ts = col(&b, "ts").as_primitive::<TimestampMicrosecondType>();
    assert_eq!(
        (ts.value(0), ts.value(1)),
        (253_402_300_799_999_999, -62_135_596_800_000_000)
    );
    assert_eq!(
        col(&b, "tz").data_type().to_string(),
        "Timestamp(µs, \"UTC\")"
    );
    assert_eq!(
        col(&b, "tz")
            .as_primitive::<TimestampMicrosecondType>()
            .value(0),
        1_709_283_600_000_000
    );
    let by = col(&b, "by").as_binary::<i32>();
    assert_eq!((by.value(0), by.value(1)), (&[0u8, 255][..], &[][..]));
    assert_eq!(
        col(&b, "u").as_string::<i32>().value(0),
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    );
    assert_eq!(col(&b, "js").as_string::<i32>().value(0), "{\"a\": 1}");
    assert_eq!(col(&b, "jb").as_string::<i32>().value(0), "{\"b\": [1, 2]}");
    assert_eq!(col(&b, "m").as_string::<i32>().value(0), "happy");
    let m = manifest(&root);
    let t = &m["tables"][0];
    assert_eq!(t["primary_key"], serde_json::json!(["id"]));
    assert_eq!(t["rows"], 2);
    assert_eq!(m["source"]["kind"], "postgresql");
    assert!(m["consistency"]["position"]["wal_lsn"].is_string());
}

#[test]
fn postgres_values_no_decimal_can_hold_are_refused_unless_cast() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE t (id int PRIMARY KEY, amount numeric(10,2), tags text[]);
         INSERT INTO t VALUES (1, 'NaN', '{a,b}');
         CREATE TABLE wide (id int PRIMARY KEY, n numeric);
         INSERT INTO wide VALUES (1, 10::numeric ^ 99);",
    );
    let out0 = tempfile::tempdir().expect("tmp");
    let wide = out0.path().join("wide");
    let o = snapshot(&[
        "--from",
        &db.url(),
        "--out",
        wide.to_str().expect("utf8"),
        "--table",
        "wide",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`n`") && stderr(&o).contains("past the 76"),
        "{}",
        stderr(&o)
    );
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let root_s = root.to_str().expect("utf8");
    let o = snapshot(&["--from", &db.url(), "--out", root_s, "--table", "t"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`tags`") && stderr(&o).contains("--cast t.tags=text"),
        "{}",
        stderr(&o)
    );
    assert!(!root.exists(), "nothing half-written");
    let o = snapshot(&[
        "--from",
        &db.url(),
        "--out",
        root_s,
        "--cast",
        "t.tags=text",
        "--table",
        "t",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("`amount`") && err.contains("NaN") && err.contains("id=1"),
        "{err}"
    );
    assert!(!root.exists());
    let o = snapshot(&[
        "--from",
        &db.url(),
        "--out",
        root_s,
        "--cast",
        "t.tags=text",
        "--cast",
        "t.amount=text",
        "--table",
        "t",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = read_table(&root, "t");
    assert_eq!(col(&b, "tags").as_string::<i32>().value(0), "{a,b}");
    assert_eq!(col(&b, "amount").as_string::<i32>().value(0), "NaN");
}

#[test]
#[allow(clippy::float_cmp)] // exact values on purpose
#[allow(
    clippy::too_many_lines,
    reason = "a flat table of one assertion per server type"
)]
fn mariadb_types_arrive_exactly_and_zero_dates_are_counted() {
    require!(MariaDb);
    let mut db = MyDb::new();
    db.exec("SET SESSION sql_mode = ''");
    db.exec(
        "CREATE TABLE t (
            id int PRIMARY KEY, name varchar(50), latin varchar(20) CHARACTER SET latin1,
            big decimal(65,30), small decimal(12,2), joined date, seen timestamp NULL,
            dt datetime(6), flag tinyint(1), ub bigint unsigned, sb bigint, f4 float, f8 double,
            tm time(6), e enum('a','b'), js json, bl blob, bits bit(1), y year,
            u8 tinyint unsigned, t8 tinyint, m24 mediumint, u16 smallint unsigned,
            u32 int unsigned, b10 bit(10), b64 bit(64), st set('x','y')) CHARACTER SET utf8mb4",
    );
    db.exec(
        "INSERT INTO t VALUES
         (1, '𝄞 four bytes', 'café', 99999999999999999999999999999999999.999999999999999999999999999999,
          -9999999999.99, '0000-00-00', '2024-03-01 12:00:00', '9999-12-31 23:59:59.999999', 1,
          18446744073709551615, -9223372036854775808, -0.0, 1e308, '23:59:59.999999', 'b',
          '{\"a\":1}', x'00ff', b'1', 2024, 255, -128, -8388608, 65535, 4294967295,
          b'1111111111', 18446744073709551615, 'x,y'),
         (2, '', NULL, -0.000000000000000000000000000001, 0, '1000-01-01', NULL,
          '0000-00-00 00:00:00', 0, 0, NULL, 3.4028235e38, NULL, NULL, NULL, NULL, '', NULL, NULL, 0, NULL,
          NULL, NULL, NULL, NULL, NULL, '')",
    );
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let o = snapshot(&["--from", &db.url(), "--out", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = read_table(&root, "t");
    let name = col(&b, "name").as_string::<i32>();
    assert_eq!(name.value(0), "𝄞 four bytes");
    assert!(!name.is_null(1) && name.value(1).is_empty());
    assert_eq!(col(&b, "latin").as_string::<i32>().value(0), "café");
    let big = col(&b, "big").as_primitive::<Decimal256Type>();
    assert_eq!(col(&b, "big").data_type().to_string(), "Decimal256(65, 30)");
    assert_eq!(big.value(0).to_string(), "9".repeat(65));
    assert_eq!(big.value(1).to_string(), "-1");
    assert_eq!(
        col(&b, "small").as_primitive::<Decimal128Type>().value(0),
        -999_999_999_999
    );
    assert!(col(&b, "joined").is_null(0), "zero date → NULL");
    assert_eq!(
        col(&b, "joined").as_primitive::<Date32Type>().value(1),
        -354_285
    );
    assert_eq!(
        col(&b, "seen")
            .as_primitive::<TimestampMicrosecondType>()
            .value(0),
        1_709_294_400_000_000,
        "TIMESTAMP read as UTC"
    );
    assert!(col(&b, "dt").is_null(1));
    assert_eq!(col(&b, "flag").as_primitive::<Int8Type>().value(0), 1);
    let ub = col(&b, "ub").as_primitive::<Decimal128Type>();
    assert_eq!(ub.value(0), i128::from(u64::MAX), "never wraps");
    assert_eq!(col(&b, "sb").as_primitive::<Int64Type>().value(0), i64::MIN);
    let f4 = col(&b, "f4").as_primitive::<Float32Type>();
    // MariaDB keeps no negative zero; what it holds arrives.
    assert!(f4.value(0) == 0.0);
    assert_eq!(f4.value(1), 3.402_823_5e38);
    assert_eq!(col(&b, "f8").as_primitive::<Float64Type>().value(0), 1e308);
    assert_eq!(
        col(&b, "tm")
            .as_primitive::<Time64MicrosecondType>()
            .value(0),
        86_399_999_999
    );
    assert_eq!(col(&b, "e").as_string::<i32>().value(0), "b");
    assert_eq!(col(&b, "bl").as_binary::<i32>().value(0), &[0u8, 255]);
    assert_eq!(col(&b, "bits").as_primitive::<Int8Type>().value(0), 1);
    assert_eq!(col(&b, "y").as_primitive::<Int16Type>().value(0), 2024);
    assert_eq!(col(&b, "u8").as_primitive::<UInt8Type>().value(0), 255);
    assert_eq!(col(&b, "t8").as_primitive::<Int8Type>().value(0), -128);
    assert_eq!(
        col(&b, "m24").as_primitive::<Int32Type>().value(0),
        -8_388_608
    );
    assert_eq!(
        col(&b, "u16")
            .as_primitive::<arrow::datatypes::UInt16Type>()
            .value(0),
        65535
    );
    assert_eq!(
        col(&b, "u32")
            .as_primitive::<arrow::datatypes::UInt32Type>()
            .value(0),
        u32::MAX
    );
    assert_eq!(col(&b, "b10").as_primitive::<Int64Type>().value(0), 1023);
    assert_eq!(
        col(&b, "b64").as_primitive::<Decimal128Type>().value(0),
        i128::from(u64::MAX)
    );
    let st = col(&b, "st").as_string::<i32>();
    assert_eq!((st.value(0), st.value(1)), ("x,y", ""));
    assert_eq!(col(&b, "id").as_primitive::<Int32Type>().value(1), 2);
    let m = manifest(&root);
    let t = &m["tables"][0];
    assert_eq!(t["zero_dates"], serde_json::json!({"dt": 1, "joined": 1}));
    assert_eq!(m["source"]["kind"], "mariadb");
    let latin = t["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .find(|c| c["name"] == "latin")
        .expect("latin");
    assert!(
        latin["source_type"]
            .as_str()
            .expect("text")
            .contains("latin1")
    );
}

#[test]
fn unknown_tables_servers_and_logins_exit_2_without_a_password_in_sight() {
    require!(Postgres, MariaDb);
    let db = PgDb::new();
    db.exec("CREATE TABLE orders (id int PRIMARY KEY)");
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let root_s = root.to_str().expect("utf8");
    let o = snapshot(&["--from", &db.url(), "--out", root_s, "--table", "ordres"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`ordres`") && stderr(&o).contains("`orders`"),
        "{}",
        stderr(&o)
    );
    let missing = format!("{}_nope", db.url());
    let o = snapshot(&["--from", &missing, "--out", root_s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot connect") && stderr(&o).contains("_nope"),
        "{}",
        stderr(&o)
    );
    let o = snapshot(&[
        "--from",
        "postgres://postgres:hunter2@127.0.0.1:1/x",
        "--out",
        root_s,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot connect"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("hunter2"), "{}", stderr(&o));
    let my = MyDb::new();
    let url = format!("mysql://root:hunter2@127.0.0.1:3306/{}", my.name);
    let o = snapshot(&["--from", &url, "--out", root_s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("hunter2"), "{}", stderr(&o));
    assert!(!root.exists());
}

#[test]
fn an_existing_snapshot_is_replaced_only_with_force() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1), (2);");
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let root_s = root.to_str().expect("utf8");
    let o = snapshot(&["--from", &db.url(), "--out", root_s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    db.exec("INSERT INTO a VALUES (3)");
    let o = snapshot(&["--from", &db.url(), "--out", root_s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("already holds a snapshot"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        read_table(&root, "a").num_rows(),
        2,
        "the old snapshot is untouched"
    );
    let o = snapshot(&["--from", &db.url(), "--out", root_s, "--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read_table(&root, "a").num_rows(), 3);
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .expect("dir")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no staging folders left: {leftovers:?}");
}

/// A writer commits a parent and its child in one transaction (`write(id)`) every few
/// milliseconds while both tables are exported on two connections: the snapshot never holds a
/// child without its parent, and both tables hold the same number of rows, as they do at every
/// committed point.
fn consistent_under_writes(url: &str, write: impl FnMut(i64) + Send) {
    let stop = std::sync::atomic::AtomicBool::new(false);
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let o = std::thread::scope(|s| {
        let stop = &stop;
        let mut write = write;
        s.spawn(move || {
            let mut id = 1_000_000i64;
            while !stop.load(Ordering::Relaxed) {
                id += 1;
                write(id);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        let o = recon()
            .args(["-j", "2", "snapshot", "--from", url, "--out"])
            .arg(&root)
            .output()
            .expect("run");
        stop.store(true, Ordering::Relaxed);
        o
    });
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let parents = read_table(&root, "parent");
    let children = read_table(&root, "child");
    let ids: std::collections::HashSet<i64> = {
        let a = col(&parents, "id").as_primitive::<Int64Type>();
        (0..a.len()).map(|i| a.value(i)).collect()
    };
    let refs = col(&children, "parent_id").as_primitive::<Int64Type>();
    let orphans = (0..refs.len())
        .filter(|&i| !ids.contains(&refs.value(i)))
        .count();
    assert_eq!(orphans, 0, "a child without its parent");
    assert_eq!(parents.num_rows(), children.num_rows());
}

#[test]
fn a_postgres_snapshot_is_one_point_in_time() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE parent (id bigint PRIMARY KEY, pad text);
         CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint REFERENCES parent(id), pad text);
         INSERT INTO parent SELECT g, repeat('x', 50) FROM generate_series(1, 100000) g;
         INSERT INTO child SELECT g, g, repeat('y', 50) FROM generate_series(1, 100000) g;",
    );
    let (rt, c) = db.second();
    consistent_under_writes(&db.url(), |id| {
        rt.block_on(c.batch_execute(&format!(
            "BEGIN; INSERT INTO parent VALUES ({id}, 'late'); \
             INSERT INTO child VALUES ({id}, {id}, 'late'); COMMIT;"
        )))
        .ok();
    });
}

#[test]
fn a_mariadb_snapshot_is_one_point_in_time() {
    require!(MariaDb);
    let mut db = MyDb::new();
    db.exec("CREATE TABLE parent (id bigint PRIMARY KEY, pad varchar(60)) ENGINE=InnoDB");
    db.exec(
        "CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint, pad varchar(60)) ENGINE=InnoDB",
    );
    db.exec("INSERT INTO parent SELECT seq, REPEAT('x', 50) FROM seq_1_to_100000");
    db.exec("INSERT INTO child SELECT seq, seq, REPEAT('y', 50) FROM seq_1_to_100000");
    let mut c = my_connect(Some(&db.name));
    consistent_under_writes(&db.url(), |id| {
        c.query_drop(format!(
            "START TRANSACTION; INSERT INTO parent VALUES ({id}, 'late'); \
             INSERT INTO child VALUES ({id}, {id}, 'late'); COMMIT"
        ))
        .ok();
    });
}

#[test]
fn a_killed_backend_leaves_no_snapshot_and_exits_2() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE big (id bigint PRIMARY KEY, pad text);
         INSERT INTO big SELECT g, repeat('z', 100) FROM generate_series(1, 2000000) g;",
    );
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let child = recon()
        .args(["snapshot", "--from", &db.url(), "--out"])
        .arg(&root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Kill the COPY's backend as soon as it runs.
    let mut killed = false;
    for _ in 0..400 {
        let n = db.texts(
            "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity \
             WHERE application_name = 'recon snapshot' AND query LIKE 'COPY%' \
             AND datname = current_database()",
        );
        if n.first().cloned().flatten().as_deref() != Some("0") {
            killed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = child.wait_with_output().expect("wait");
    assert!(
        killed,
        "the export finished before its backend could be killed"
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("big"), "{}", stderr(&o));
    assert!(!root.exists(), "no half snapshot");
    assert_eq!(
        std::fs::read_dir(out.path()).expect("dir").count(),
        0,
        "no staging left"
    );
}

#[test]
fn run_snapshot_exports_both_databases_then_reconciles() {
    require!(Postgres, MariaDb);
    let mut legacy = MyDb::new();
    legacy.exec(
        "CREATE TABLE orders (id bigint PRIMARY KEY, amount decimal(12,2), paid tinyint(1), \
         placed datetime)",
    );
    legacy.exec(
        "INSERT INTO orders VALUES (1, 10.50, 1, '2024-01-01 10:00:00'), \
         (2, 20.00, 0, '2024-01-02 11:00:00'), (3, 30.25, 1, '2024-01-03 12:00:00')",
    );
    let target = PgDb::new();
    target.exec(
        "CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(14,4), paid boolean, \
         placed timestamp);
         INSERT INTO orders VALUES (1, 10.5, true, '2024-01-01 10:00:00'),
           (2, 20, false, '2024-01-02 11:00:00'), (3, 30.25, true, '2024-01-03 12:00:00');",
    );
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("recon.toml");
    std::fs::write(
        &config,
        format!(
            "[legacy]\nroot = \"legacy\"\nurl = \"{}\"\n\n[target]\nroot = \"target\"\nurl = \"{}\"\n\n\
             [[tables]]\nname = \"orders\"\nkey = [\"id\"]\n[tables.columns.paid]\nint_as_bool = true\n\n\
             [[checks]]\nkind = \"total\"\ntable = \"orders\"\ncolumn = \"amount\"\n",
            legacy.url(),
            target.url()
        ),
    )
    .expect("config");
    let run = || {
        recon()
            .args(["run", "--snapshot", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(dir.path().join("out"))
            .output()
            .expect("run")
    };
    let o = run();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&o),
        String::from_utf8_lossy(&o.stdout)
    );
    target.exec("UPDATE orders SET amount = 30.26 WHERE id = 3");
    let o = run();
    assert_eq!(
        o.status.code(),
        Some(3),
        "the next night's snapshot sees the change"
    );
    let report: Value = crate::common::parse_report(
        &std::fs::read_to_string(dir.path().join("out/report.json")).expect("report"),
    );
    assert_eq!(report["tables"][0]["changed"], 1);
    assert_eq!(report["tables"][0]["columns"]["amount"]["changed"], 1);
}

#[test]
fn a_large_table_is_exported_in_key_ranges_by_several_workers() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec(
        "CREATE TABLE big (id bigint PRIMARY KEY, v int);
         INSERT INTO big SELECT g, g % 7 FROM generate_series(1, 1100000) g;
         ANALYZE big;",
    );
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let o = recon()
        .args(["-j", "2", "snapshot", "--from", &db.url(), "--out"])
        .arg(&root)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = manifest(&root);
    assert_eq!(
        m["tables"][0]["files"],
        serde_json::json!(["big/part-00000.parquet", "big/part-00001.parquet"])
    );
    assert_eq!(m["tables"][0]["rows"], 1_100_000);
    let b = read_table(&root, "big");
    let ids = col(&b, "id").as_primitive::<Int64Type>();
    let mut seen: Vec<i64> = (0..ids.len()).map(|i| ids.value(i)).collect();
    seen.sort_unstable();
    assert!(
        seen.iter().copied().eq(1..=1_100_000),
        "every key exactly once"
    );
}

#[test]
fn init_writes_a_config_that_reconciles_two_database_snapshots() {
    require!(Postgres, MariaDb);
    let mut legacy = MyDb::new();
    legacy.exec(
        "CREATE TABLE tabCustomers (id int PRIMARY KEY, CustName varchar(40), active tinyint(1), \
         balance decimal(65,30))",
    );
    legacy.exec(
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int, \
         FOREIGN KEY (customer_id) REFERENCES tabCustomers(id))",
    );
    legacy.exec(
        "INSERT INTO tabCustomers VALUES (1, 'Ann', 1, 10.5), (2, 'Bob', 0, -0.000000000000001)",
    );
    legacy.exec("INSERT INTO orders VALUES (10, 1), (11, 2)");
    let target = PgDb::new();
    target.exec(
        "CREATE TABLE customers (id int PRIMARY KEY, cust_name text, active boolean, balance numeric(30,15));
         CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int REFERENCES customers(id));
         INSERT INTO customers VALUES (1, 'Ann', true, 10.5), (2, 'Bob', false, -0.000000000000001);
         INSERT INTO orders VALUES (10, 1), (11, 2);",
    );
    let dir = tempfile::tempdir().expect("tmp");
    for (url, root) in [(legacy.url(), "legacy"), (target.url(), "target")] {
        let o = snapshot(&[
            "--from",
            &url,
            "--out",
            dir.path().join(root).to_str().expect("utf8"),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let config = dir.path().join("recon.toml");
    let o = init_in(dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&config).expect("config");
    for expected in [
        "name = \"tabCustomers\"\nlegacy = \"tabCustomers\"\ntarget = \"customers\"  # matched by name",
        "key = [\"id\"]  # the legacy table's primary key",
        "CustName = \"cust_name\"  # differs only by case and underscores",
        "[tables.columns.active]\nint_as_bool = true",
        "kind = \"orphan\"\ntable = \"orders\"\ncolumns = [\"customer_id\"]\nparent = \"tabCustomers\"",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    // A total over MariaDB's widest DECIMAL (Decimal256(65,30)) against numeric(30,15).
    std::fs::write(
        &config,
        format!(
            "{text}\n[[checks]]\nkind = \"total\"\ntable = \"tabCustomers\"\ncolumn = \"balance\"\n"
        ),
    )
    .expect("config");
    let o = recon()
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&o),
        String::from_utf8_lossy(&o.stdout)
    );
    let o = init_in(dir.path());
    assert_eq!(o.status.code(), Some(2), "an existing config is kept");
}

#[test]
fn the_demo_through_the_databases_finds_the_same_drift_as_from_parquet() {
    require!(Postgres, MariaDb);
    let (legacy, target) = (MyDb::new(), PgDb::new());
    let dir = tempfile::tempdir().expect("tmp");
    let demo = |out: &str, databases: bool| {
        let mut c = recon();
        c.args(["demo", "--rows", "3000", "--out"])
            .arg(dir.path().join(out));
        if databases {
            c.args([
                "--databases",
                "--legacy-url",
                &legacy.url(),
                "--target-url",
                &target.url(),
            ]);
        }
        let o = c.output().expect("demo");
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text =
            std::fs::read_to_string(dir.path().join(out).join("report.json")).expect("report");
        crate::common::parse_report(&text)
    };
    let (parquet, databases) = (demo("parquet", false), demo("databases", true));
    let figures = |r: &Value| -> Vec<Value> {
        let tables = r["tables"].as_array().expect("tables").iter().map(|t| {
            serde_json::json!([
                t["name"],
                t["legacy_rows"],
                t["target_rows"],
                t["matched"],
                t["changed"],
                t["missing"],
                t["extra"],
                t["status"],
                t["columns"]
            ])
        });
        let checks = r["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| serde_json::json!([c["id"], c["status"], c["value"]]));
        tables.chain(checks).collect()
    };
    assert_eq!(figures(&parquet), figures(&databases));
    assert!(
        parquet["tables"]
            .as_array()
            .expect("t")
            .iter()
            .any(|t| t["changed"] != 0)
    );
    assert!(
        dir.path()
            .join("databases/db-legacy/_recon_snapshot.json")
            .exists()
    );
}

#[test]
fn a_password_in_the_url_is_never_written_or_logged() {
    require!(Postgres);
    let db = PgDb::new();
    db.exec("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);");
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    // Trust authentication ignores the password, so the export succeeds with it in the URL.
    let url = format!("postgres://postgres:sekrit-pw@127.0.0.1:5432/{}", db.name);
    let o = recon()
        .args(["--log", "debug", "snapshot", "--from", &url, "--out"])
        .arg(&root)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let everything = format!(
        "{}{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o),
        std::fs::read_to_string(root.join("_recon_snapshot.json")).expect("manifest")
    );
    assert!(!everything.contains("sekrit"), "{everything}");
}

#[test]
fn text_the_server_cannot_send_as_utf8_stops_the_export_naming_the_table() {
    require!(Postgres);
    // A SQL_ASCII database stores bytes as they come; PostgreSQL refuses to send them as UTF-8
    // (the server names the byte, not the row), and nothing is written.
    let db =
        PgDb::with_options("ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
    db.exec(
        "CREATE TABLE notes (id int PRIMARY KEY, body text);
         INSERT INTO notes VALUES (1, 'fine'), (7, convert_from('\\xff'::bytea, 'SQL_ASCII'));",
    );
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let o = snapshot(&["--from", &db.url(), "--out", root.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("table `notes`") && err.contains("invalid byte sequence"),
        "{err}"
    );
    assert!(!root.exists());
}

#[test]
fn a_killed_mariadb_connection_leaves_no_snapshot_and_exits_2() {
    require!(MariaDb);
    let mut db = MyDb::new();
    db.exec("CREATE TABLE big (id bigint PRIMARY KEY, pad varchar(120))");
    db.exec("INSERT INTO big SELECT seq, REPEAT('z', 100) FROM seq_1_to_1500000");
    let out = tempfile::tempdir().expect("tmp");
    let root = out.path().join("snap");
    let child = recon()
        .args(["snapshot", "--from", &db.url(), "--out"])
        .arg(&root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut admin = my_connect(None);
    let mut killed = false;
    for _ in 0..400 {
        let ids: Vec<u64> = admin
            .query(format!(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{}' \
                 AND INFO LIKE 'SELECT `id`%'",
                db.name
            ))
            .expect("processlist");
        if let Some(id) = ids.first() {
            killed = admin.query_drop(format!("KILL {id}")).is_ok();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = child.wait_with_output().expect("wait");
    assert!(
        killed,
        "the export finished before its connection could be killed"
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("big"), "{}", stderr(&o));
    assert!(!root.exists(), "no half snapshot");
}
