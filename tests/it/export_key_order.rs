//! `recon snapshot` writes tables in primary-key order, within each file and across the files in
//! the order the manifest lists them (and a reader lists them: by name), and records it in the
//! manifest (`key_order`) and in every row group's `sorting_columns`; a table without a key, or
//! whose key the server cannot sort as its written values compare, claims no order.

use std::path::Path;

use arrow::array::RecordBatch;
use arrow::compute::SortOptions;
use arrow::row::{RowConverter, SortField};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::SortingColumn;
use serde_json::{Value, json};

use crate::common::{recon, require, stderr, table};
use crate::databases::{MyDb, PgDb, manifest};

/// One file of a table: its rows' keys in the Arrow row format (which compares as the values
/// do: numbers by value, text by its bytes) and each row group's sorting columns.
struct FileKeys {
    name: String,
    keys: Vec<Vec<u8>>,
    sorting: Vec<Option<Vec<SortingColumn>>>,
}

/// Every file the manifest lists for `table`, in the listed order; keys compare with NULL first
/// or last.
fn files(root: &Path, m: &Value, name: &str, key: &[&str], nulls_first: bool) -> Vec<FileKeys> {
    let entry = table(m, name);
    let listed: Vec<String> = entry["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f.as_str().expect("file").to_owned())
        .collect();
    listed
        .into_iter()
        .map(|name| {
            let builder = ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(root.join(&name)).expect("open"),
            )
            .expect("parquet");
            let sorting = builder
                .metadata()
                .row_groups()
                .iter()
                .map(|g| g.sorting_columns().cloned())
                .collect();
            let batches: Vec<RecordBatch> = builder
                .build()
                .expect("reader")
                .map(|b| b.expect("batch"))
                .collect();
            let mut keys = Vec::new();
            for b in &batches {
                let columns: Vec<_> = key
                    .iter()
                    .map(|k| b.column_by_name(k).expect("key column").clone())
                    .collect();
                let converter = RowConverter::new(
                    columns
                        .iter()
                        .map(|c| {
                            SortField::new_with_options(
                                c.data_type().clone(),
                                SortOptions {
                                    descending: false,
                                    nulls_first,
                                },
                            )
                        })
                        .collect(),
                )
                .expect("converter");
                let rows = converter.convert_columns(&columns).expect("rows");
                keys.extend(rows.iter().map(|r| r.as_ref().to_vec()));
            }
            FileKeys {
                name,
                keys,
                sorting,
            }
        })
        .collect()
}

/// The table is in strictly ascending key order across its files in their listed order (which
/// is their names' order), every row group says so, and so does the manifest.
fn assert_key_ordered(root: &Path, m: &Value, name: &str, key: &[&str], sorting: &[SortingColumn]) {
    assert_eq!(table(m, name)["key_order"], json!(key), "{name}");
    let files = files(root, m, name, key, sorting[0].nulls_first);
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert!(
        names.is_sorted(),
        "{name}: files listed out of name order: {names:?}"
    );
    let keys: Vec<&Vec<u8>> = files.iter().flat_map(|f| &f.keys).collect();
    assert!(keys.len() > 1, "{name}: rows to order");
    let disorder = keys.windows(2).position(|w| w[0] >= w[1]);
    assert_eq!(disorder, None, "{name}: rows out of key order");
    for f in &files {
        assert!(!f.sorting.is_empty(), "{}: no row group", f.name);
        for s in &f.sorting {
            assert_eq!(s.as_deref(), Some(sorting), "{}", f.name);
        }
    }
}

/// The table claims no order: no `key_order` in the manifest, no sorting columns.
fn assert_unordered(root: &Path, m: &Value, name: &str, key: &[&str]) {
    assert_eq!(table(m, name).get("key_order"), None, "{name}");
    for f in files(root, m, name, key, true) {
        assert!(f.sorting.iter().all(Option::is_none), "{}", f.name);
    }
}

fn ascending(column_idx: i32, nulls_first: bool) -> SortingColumn {
    SortingColumn {
        column_idx,
        descending: false,
        nulls_first,
    }
}

fn export(url: &str, root: &Path, extra: &[&str]) {
    let o = recon()
        .args(["-j", "2", "snapshot", "--from", url, "--out"])
        .arg(root)
        .args(extra)
        .output()
        .expect("run recon");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn postgres_tables_are_written_in_key_order_across_their_key_range_files() {
    require!(Postgres);
    let db = PgDb::new();
    // Rows inserted out of key order; a text key under a collation that is not byte order
    // (`a`, `A`, `ab`, `b`, `B`, `é`, `z`); a two-column key in the other order than its
    // columns; a table without a key; a float key, which PostgreSQL does not sort as its
    // written values compare (NaN last).
    db.exec(
        r#"CREATE TABLE shuffled (id bigint PRIMARY KEY, v text);
         INSERT INTO shuffled SELECT g, 'v' || g FROM generate_series(1, 1100000) g
             ORDER BY md5(g::text);
         CREATE TABLE coded (code text COLLATE "und-x-icu" PRIMARY KEY, n int);
         INSERT INTO coded VALUES ('b', 1), ('B', 2), ('é', 3), ('a', 4), ('z', 5), ('A', 6),
             ('ab', 7);
         CREATE TABLE order_lines (line int, order_id bigint, v text, PRIMARY KEY (order_id, line));
         INSERT INTO order_lines SELECT g % 3, g / 3, 'x' FROM generate_series(0, 599) g
             ORDER BY md5(g::text);
         CREATE TABLE heap (v int);
         INSERT INTO heap VALUES (3), (1), (2);
         CREATE TABLE floats (k float8 PRIMARY KEY);
         INSERT INTO floats VALUES (2), ('NaN'), (1);
         ANALYZE;"#,
    );
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("always");
    export(&db.url(), &root, &["--key-order", "always"]);
    let m = manifest(&root);
    let split = &table(&m, "shuffled")["files"];
    assert_eq!(split.as_array().map(Vec::len), Some(2), "two key ranges");
    assert_key_ordered(&root, &m, "shuffled", &["id"], &[ascending(0, false)]);
    assert_key_ordered(&root, &m, "coded", &["code"], &[ascending(0, false)]);
    let b = crate::databases::read_table(&root, "coded");
    let codes = arrow::array::AsArray::as_string::<i32>(crate::databases::col(&b, "code"));
    assert_eq!(
        codes.iter().flatten().collect::<Vec<_>>(),
        ["A", "B", "a", "ab", "b", "z", "é"],
        "text in byte order, not the column's collation"
    );
    assert_key_ordered(
        &root,
        &m,
        "order_lines",
        &["order_id", "line"],
        &[ascending(1, false), ascending(0, false)],
    );
    assert_unordered(&root, &m, "heap", &["v"]);
    assert_unordered(&root, &m, "floats", &["k"]);

    // By default only a table whose rows lie in key order, in an index that sorts as the
    // export does, is kept in it (read through that index); any other would need a sort, and
    // claims no order: scattered rows, or a text key whose index sorts by another collation.
    db.exec(
        r#"CREATE TABLE appended (id int PRIMARY KEY, v text);
         INSERT INTO appended SELECT g, 'v' FROM generate_series(1, 2000) g;
         CREATE TABLE scattered (id int PRIMARY KEY, v text);
         INSERT INTO scattered SELECT g, 'v' FROM generate_series(1, 2000) g
             ORDER BY md5(g::text);
         CREATE TABLE bytewise (code text COLLATE "C" PRIMARY KEY);
         INSERT INTO bytewise SELECT 'k' || lpad(g::text, 5, '0') FROM generate_series(1, 2000) g;
         CREATE TABLE collated (code text COLLATE "und-x-icu" PRIMARY KEY);
         INSERT INTO collated SELECT * FROM bytewise;
         ANALYZE;"#,
    );
    let auto = dir.path().join("auto");
    let tables = ["appended", "scattered", "bytewise", "collated", "heap"];
    let only: Vec<&str> = tables.iter().flat_map(|t| ["--table", t]).collect();
    export(&db.url(), &auto, &only);
    let m = manifest(&auto);
    assert_key_ordered(&auto, &m, "appended", &["id"], &[ascending(0, false)]);
    assert_key_ordered(&auto, &m, "bytewise", &["code"], &[ascending(0, false)]);
    assert_unordered(&auto, &m, "scattered", &["id"]);
    assert_unordered(&auto, &m, "collated", &["code"]);
    assert_unordered(&auto, &m, "heap", &["v"]);

    let never = dir.path().join("never");
    export(
        &db.url(),
        &never,
        &["--table", "appended", "--key-order", "never"],
    );
    assert_unordered(&never, &manifest(&never), "appended", &["id"]);
}

#[test]
fn mariadb_tables_are_written_in_key_order_where_their_keys_sort_as_written() {
    require!(MariaDb);
    let mut db = MyDb::new();
    // InnoDB keeps rows in key order whatever the insert order; a MyISAM table returns them in
    // insert order unless sorted. Text keys claim no order (collations pad with spaces).
    db.exec(
        "CREATE TABLE orders (id bigint PRIMARY KEY, v varchar(20)) ENGINE=InnoDB;
         INSERT INTO orders SELECT seq, CONCAT('v', seq) FROM seq_1_to_5000 ORDER BY MD5(seq);
         CREATE TABLE order_lines (line smallint, order_id bigint unsigned, amount decimal(10,2),
             PRIMARY KEY (order_id, line)) ENGINE=InnoDB;
         INSERT INTO order_lines SELECT seq % 3, 18446744073709551000 + seq DIV 3, seq / 7
             FROM seq_0_to_599 ORDER BY MD5(seq);
         CREATE TABLE legacy_keyed (id int PRIMARY KEY, v int) ENGINE=MyISAM;
         INSERT INTO legacy_keyed SELECT seq, seq FROM seq_1_to_3000 ORDER BY MD5(seq);
         CREATE TABLE coded (code varchar(10) PRIMARY KEY, n int) ENGINE=InnoDB;
         INSERT INTO coded VALUES ('b', 1), ('a\t', 2), ('a', 3);
         CREATE TABLE heap (v int) ENGINE=InnoDB;
         INSERT INTO heap VALUES (3), (1), (2);",
    );
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("auto");
    export(&db.url(), &root, &[]);
    let m = manifest(&root);
    assert_key_ordered(&root, &m, "orders", &["id"], &[ascending(0, true)]);
    assert_key_ordered(
        &root,
        &m,
        "order_lines",
        &["order_id", "line"],
        &[ascending(1, true), ascending(0, true)],
    );
    // Not InnoDB: sorting it would cost a sort, so by default it claims no order.
    assert_unordered(&root, &m, "legacy_keyed", &["id"]);
    assert_unordered(&root, &m, "coded", &["code"]);
    assert_unordered(&root, &m, "heap", &["v"]);

    let always = dir.path().join("always");
    export(&db.url(), &always, &["--key-order", "always"]);
    let m = manifest(&always);
    assert_key_ordered(&always, &m, "legacy_keyed", &["id"], &[ascending(0, true)]);
    assert_unordered(&always, &m, "coded", &["code"]);
}

#[test]
fn a_table_without_a_primary_key_is_written_in_the_order_of_the_key_its_pair_names() {
    require!(Postgres, MariaDb);
    let mut legacy = MyDb::new();
    legacy.exec(
        "CREATE TABLE events (event_id bigint, kind varchar(10)) ENGINE=InnoDB;
         INSERT INTO events SELECT seq, 'k' FROM seq_1_to_500 ORDER BY MD5(seq);
         INSERT INTO events VALUES (NULL, 'none');",
    );
    let target = PgDb::new();
    target.exec(
        "CREATE TABLE events (id bigint, kind text);
         INSERT INTO events SELECT g, 'k' FROM generate_series(1, 500) g ORDER BY md5(g::text);
         INSERT INTO events VALUES (NULL, 'none');
         ANALYZE events;",
    );
    let dir = tempfile::tempdir().expect("tmp");
    let config = crate::export_roots::write_config(
        dir.path(),
        ("legacy", &legacy.url()),
        ("target", &target.url()),
        "[[tables]]\nname = \"events\"\nkey = [\"event_id\"]\nrename = { event_id = \"id\" }\n",
    );
    let snapshot = |extra: &[&str]| {
        let o = recon()
            .args(["snapshot", "--config"])
            .arg(&config)
            .args(extra)
            .output()
            .expect("run recon");
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    };
    // No index holds that order: by default, no order.
    snapshot(&[]);
    for side in ["legacy", "target"] {
        let root = dir.path().join(side);
        assert_unordered(&root, &manifest(&root), "events", &["kind"]);
    }
    snapshot(&["--key-order", "always", "--force"]);
    let (l, t) = (dir.path().join("legacy"), dir.path().join("target"));
    // MariaDB sorts NULL first, PostgreSQL last.
    assert_key_ordered(
        &l,
        &manifest(&l),
        "events",
        &["event_id"],
        &[ascending(0, true)],
    );
    assert_key_ordered(&t, &manifest(&t), "events", &["id"], &[ascending(0, false)]);
}
