//! The other direction, for the demo and the benchmarks: a local Parquet snapshot loaded into a
//! fresh database of its own (dropped and created again), one table per table, no keys or
//! constraints (a migration's snapshots hold duplicate and NULL keys on purpose). `PostgreSQL`
//! through `COPY ... FROM STDIN`, `MariaDB`/`MySQL` through multi-row `INSERT`s.

// Without a server's feature, what only its loader uses is left unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports)
)]

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
#[cfg(feature = "postgres")]
use futures::SinkExt;
#[cfg(feature = "mysql")]
use mysql::prelude::Queryable;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::credentials::Kind;
use super::{SourceUrl, db_error};
use crate::error::{Error, Result};

/// Rows per `INSERT` statement.
const INSERT_ROWS: usize = 2_000;

/// Loads every table of the snapshot at `root` into the database of `url`, which is dropped and
/// created again first. Returns the tables and rows loaded.
pub fn load(root: &Path, url: &SourceUrl, workers: &crate::pool::Workers) -> Result<(usize, u64)> {
    url.require_exporter()?;
    let tables = tables_of(root)?;
    let rows = match url.kind {
        #[cfg(feature = "postgres")]
        Kind::Postgres => pg_load(url, &tables, workers.runtime())?,
        #[cfg(feature = "mysql")]
        Kind::Mysql => my_load(url, &tables)?,
        #[cfg(not(all(feature = "postgres", feature = "mysql")))]
        _ => {
            // `require_exporter` above has refused it already.
            let _ = workers;
            Err::<u64, _>(Error::Invalid(format!(
                "{url}: this build of recon has no client for it"
            )))?
        }
    };
    Ok((tables.len(), rows))
}

/// Drops and creates the `PostgreSQL` database, then loads every table into it.
#[cfg(feature = "postgres")]
fn pg_load(
    url: &SourceUrl,
    tables: &[(String, Vec<PathBuf>)],
    rt: &tokio::runtime::Runtime,
) -> Result<u64> {
    let admin = super::postgres::Pg::open(url, "postgres", rt)?;
    // One statement each: together they would be one (implicit) transaction.
    let d = pg_ident(&url.database);
    admin.execute(&format!("DROP DATABASE IF EXISTS {d} WITH (FORCE)"))?;
    admin.execute(&format!("CREATE DATABASE {d}"))?;
    let pg = super::postgres::Pg::open(url, &url.database, rt)?;
    let mut rows = 0;
    for (name, files) in tables {
        rows += pg_table(&pg, url, name, files, rt)?;
    }
    Ok(rows)
}

/// Drops and creates the `MariaDB`/`MySQL` database, then loads every table into it.
#[cfg(feature = "mysql")]
fn my_load(url: &SourceUrl, tables: &[(String, Vec<PathBuf>)]) -> Result<u64> {
    let mut admin = super::mysql::connect_without_database(url)?;
    admin
        .query_drop(format!(
            "DROP DATABASE IF EXISTS {d}; CREATE DATABASE {d} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            d = my_ident(&url.database)
        ))
        .map_err(|e| db_error(url, "creating the database", e))?;
    let mut conn = super::mysql::connect(url)?;
    let mut rows = 0;
    for (name, files) in tables {
        rows += my_table(&mut conn, url, name, files)?;
    }
    Ok(rows)
}

/// Tables of a local snapshot: the manifest's tables and files when recon wrote it, else
/// `name.parquet` files and folders of Parquet files.
fn tables_of(root: &Path) -> Result<Vec<(String, Vec<PathBuf>)>> {
    if let Some(m) = super::Manifest::read(root)? {
        return Ok(m
            .tables
            .into_iter()
            .map(|t| {
                let files = t.files.iter().map(|f| root.join(f)).collect();
                (t.name, files)
            })
            .collect());
    }
    let read = |dir: &Path| {
        std::fs::read_dir(dir).map_err(|e| Error::input(format!("snapshot {}", dir.display()), e))
    };
    let mut out = Vec::new();
    for entry in read(root)? {
        let path = entry
            .map_err(|e| Error::input(format!("snapshot {}", root.display()), e))?
            .path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with(['_', '.']) {
            continue;
        }
        if path.is_dir() {
            let mut files: Vec<PathBuf> = read(&path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .collect();
            files.sort();
            out.push((name, files));
        } else if let Some(stem) = name.strip_suffix(".parquet") {
            out.push((stem.to_owned(), vec![path]));
        }
    }
    out.sort();
    Ok(out)
}

/// The schema of a table's first file (`None` for a table without files).
fn schema_of(files: &[PathBuf]) -> Result<Option<SchemaRef>> {
    let Some(f) = files.first() else {
        return Ok(None);
    };
    let what = || format!("snapshot file {}", f.display());
    let file = std::fs::File::open(f).map_err(|e| Error::input(what(), e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::input(what(), e))?;
    Ok(Some(builder.schema().clone()))
}

/// The batches of a table's files, read one at a time (a table is never held in memory).
fn batches(files: &[PathBuf]) -> impl Iterator<Item = Result<RecordBatch>> + '_ {
    files.iter().flat_map(|f| {
        let what = move || format!("snapshot file {}", f.display());
        let reader = std::fs::File::open(f)
            .map_err(|e| Error::input(what(), e))
            .and_then(|file| {
                ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(ParquetRecordBatchReaderBuilder::build)
                    .map_err(|e| Error::input(what(), e))
            });
        let (ok, err) = match reader {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(Err(e))),
        };
        err.into_iter().chain(
            ok.into_iter()
                .flatten()
                .map(move |b| b.map_err(|e| Error::input(what(), e))),
        )
    })
}

#[cfg(feature = "postgres")]
fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(feature = "mysql")]
fn my_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The column type a server gets for an Arrow type.
fn ddl_type(dt: &DataType, kind: Kind) -> Option<String> {
    let (pg, my): (&str, &str) = match dt {
        DataType::Int8 => ("smallint", "tinyint"),
        DataType::Int16 => ("smallint", "smallint"),
        DataType::UInt8 => ("smallint", "tinyint unsigned"),
        DataType::Int32 => ("integer", "int"),
        DataType::UInt16 => ("integer", "smallint unsigned"),
        DataType::Int64 | DataType::UInt32 => ("bigint", "bigint"),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            return Some(match kind {
                Kind::Postgres => format!("numeric({p},{s})"),
                Kind::Mysql => format!("decimal({p},{s})"),
            });
        }
        DataType::Float32 => ("real", "float"),
        DataType::Float64 => ("double precision", "double"),
        DataType::Boolean => ("boolean", "boolean"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ("text", "longtext"),
        DataType::Binary | DataType::LargeBinary => ("bytea", "longblob"),
        DataType::Date32 => ("date", "date"),
        DataType::Time64(_) => ("time", "time(6)"),
        DataType::Timestamp(_, None) => ("timestamp", "datetime(6)"),
        DataType::Timestamp(_, Some(_)) => ("timestamptz", "timestamp(6) NULL"),
        DataType::Dictionary(_, v) => return ddl_type(v, kind),
        _ => return None,
    };
    Some(
        match kind {
            Kind::Postgres => pg,
            Kind::Mysql => my,
        }
        .to_owned(),
    )
}

fn create_sql(
    name: &str,
    schema: &Schema,
    kind: Kind,
    ident: fn(&str) -> String,
) -> Result<String> {
    let cols = schema
        .fields()
        .iter()
        .map(|f| {
            ddl_type(f.data_type(), kind)
                .map(|t| format!("{} {t}", ident(f.name())))
                .ok_or_else(|| {
                    Error::column(
                        name,
                        f.name(),
                        format!("{} cannot be loaded", f.data_type()),
                    )
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(format!(
        "CREATE TABLE {} ({})",
        ident(name),
        cols.join(", ")
    ))
}

/// A value as the server reads it in text (`None` for NULL): timestamps with a space and
/// microseconds, zoned ones in UTC, booleans and bytes in each server's spelling.
fn text(a: &dyn Array, row: usize, f: &ArrayFormatter<'_>, kind: Kind) -> Option<String> {
    if a.is_null(row) {
        return None;
    }
    let pg = kind == Kind::Postgres;
    Some(match a.data_type() {
        DataType::Timestamp(unit, zone) => {
            let v = match unit {
                TimeUnit::Second => {
                    a.as_primitive::<arrow::datatypes::TimestampSecondType>()
                        .value(row)
                        * 1_000_000
                }
                TimeUnit::Millisecond => {
                    a.as_primitive::<arrow::datatypes::TimestampMillisecondType>()
                        .value(row)
                        * 1_000
                }
                TimeUnit::Microsecond => a
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .value(row),
                TimeUnit::Nanosecond => {
                    a.as_primitive::<arrow::datatypes::TimestampNanosecondType>()
                        .value(row)
                        / 1_000
                }
            };
            let t = chrono::DateTime::from_timestamp_micros(v)?.naive_utc();
            let s = t.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
            if zone.is_some() && pg {
                format!("{s}+00")
            } else {
                s
            }
        }
        DataType::Boolean => {
            let b = a.as_boolean().value(row);
            (if pg {
                if b { "t" } else { "f" }
            } else if b {
                "1"
            } else {
                "0"
            })
            .into()
        }
        DataType::Binary => {
            let hex = super::hex(a.as_binary::<i32>().value(row));
            if pg { format!("\\x{hex}") } else { hex }
        }
        _ => f.value(row).to_string(),
    })
}

#[cfg(feature = "postgres")]
fn pg_table(
    pg: &super::postgres::Pg<'_>,
    url: &SourceUrl,
    name: &str,
    files: &[PathBuf],
    rt: &tokio::runtime::Runtime,
) -> Result<u64> {
    let Some(first) = schema_of(files)? else {
        return Ok(0);
    };
    pg.execute(&create_sql(name, &first, Kind::Postgres, pg_ident)?)?;
    let sink = rt
        .block_on(
            pg.client()
                .copy_in(&format!("COPY {} FROM STDIN", pg_ident(name))),
        )
        .map_err(|e| db_error(url, format!("loading `{name}`"), e))?;
    let mut sink = Box::pin(sink);
    let mut rows = 0u64;
    let options = FormatOptions::default();
    for b in batches(files) {
        let b = &b?;
        let formatters = formatters(b, &options)?;
        let mut buf = String::new();
        for r in 0..b.num_rows() {
            for (i, (a, f)) in b.columns().iter().zip(&formatters).enumerate() {
                if i > 0 {
                    buf.push('\t');
                }
                match text(a.as_ref(), r, f, Kind::Postgres) {
                    None => buf.push_str("\\N"),
                    Some(v) => {
                        for c in v.chars() {
                            match c {
                                '\\' => buf.push_str("\\\\"),
                                '\t' => buf.push_str("\\t"),
                                '\n' => buf.push_str("\\n"),
                                '\r' => buf.push_str("\\r"),
                                c => buf.push(c),
                            }
                        }
                    }
                }
            }
            buf.push('\n');
        }
        rows += b.num_rows() as u64;
        rt.block_on(sink.send(bytes::Bytes::from(buf)))
            .map_err(|e| db_error(url, format!("loading `{name}`"), e))?;
    }
    rt.block_on(sink.as_mut().finish())
        .map_err(|e| db_error(url, format!("loading `{name}`"), e))?;
    Ok(rows)
}

fn formatters<'a>(
    b: &'a RecordBatch,
    options: &'a FormatOptions<'a>,
) -> Result<Vec<ArrayFormatter<'a>>> {
    b.columns()
        .iter()
        .map(|a| {
            ArrayFormatter::try_new(a.as_ref(), options)
                .map_err(|e| Error::failed("formatting values", e))
        })
        .collect()
}

#[cfg(feature = "mysql")]
fn my_table(conn: &mut mysql::Conn, url: &SourceUrl, name: &str, files: &[PathBuf]) -> Result<u64> {
    let Some(first) = schema_of(files)? else {
        return Ok(0);
    };
    let fail = |e: mysql::Error| db_error(url, format!("loading `{name}`"), e);
    conn.query_drop(create_sql(name, &first, Kind::Mysql, my_ident)?)
        .map_err(fail)?;
    conn.query_drop("SET time_zone = '+00:00'").map_err(fail)?;
    let options = FormatOptions::default();
    let mut rows = 0u64;
    for b in batches(files) {
        let b = &b?;
        let formatters = formatters(b, &options)?;
        let binary: Vec<bool> = b
            .columns()
            .iter()
            .map(|a| a.data_type() == &DataType::Binary)
            .collect();
        let mut values = Vec::with_capacity(INSERT_ROWS);
        for r in 0..b.num_rows() {
            let row: Vec<String> = b
                .columns()
                .iter()
                .zip(&formatters)
                .zip(&binary)
                .map(|((a, f), &bin)| match text(a.as_ref(), r, f, Kind::Mysql) {
                    None => "NULL".to_owned(),
                    Some(v) if bin => format!("X'{v}'"),
                    Some(v) => format!("'{}'", v.replace('\\', "\\\\").replace('\'', "''")),
                })
                .collect();
            values.push(format!("({})", row.join(", ")));
            if values.len() == INSERT_ROWS || r + 1 == b.num_rows() {
                conn.query_drop(format!(
                    "INSERT INTO {} VALUES {}",
                    my_ident(name),
                    values.join(", ")
                ))
                .map_err(fail)?;
                values.clear();
            }
        }
        rows += b.num_rows() as u64;
    }
    Ok(rows)
}
