//! `MariaDB/MySQL`: every worker opens `START TRANSACTION WITH CONSISTENT SNAPSHOT` while a brief
//! `FLUSH TABLES WITH READ LOCK` holds writers back (one worker needs no lock: its transaction is
//! the point); tables of engines without transactions (`MyISAM`, `Aria`) are read first, and the
//! lock is held until they are. Each table streams through the binary protocol (a prepared `SELECT`, rows
//! read as they arrive), so floats arrive as their bits and decimals as their exact text.
//! Zero dates (`0000-00-00`) become NULL and are counted per column, as `pgloader` does.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::datatypes::{DataType, i256};
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, Value};

mod catalog;

use super::manifest::{self, Consistency, Manifest, Source};
use super::sink::{Col, Misfit, TableSink};
use super::{ExportRequest, SourceUrl, TableOut, Written, db_error};
use crate::error::{Error, Result};
use catalog::{ident, literal, rows, spatial, table, transactional};

/// A connection to the server of `source`, in no database (to create or drop one).
pub(super) fn connect_without_database(source: &SourceUrl) -> Result<Conn> {
    connect_db(source, None)
}

/// A connection to the database of `source`.
pub(super) fn connect(source: &SourceUrl) -> Result<Conn> {
    connect_db(source, Some(&source.database))
}

fn connect_db(source: &SourceUrl, db: Option<&str>) -> Result<Conn> {
    let opts = OptsBuilder::new()
        .ip_or_hostname(Some(source.host.clone()))
        .tcp_port(source.port)
        .prefer_socket(false)
        .tcp_connect_timeout(Some(source.connect_timeout))
        .user(Some(source.user.clone()))
        .pass(source.password())
        .db_name(db)
        // Text arrives as UTF-8 whatever the column's charset (the server converts it), and
        // TIMESTAMP columns as UTC.
        .init(vec!["SET NAMES utf8mb4", "SET time_zone = '+00:00'"]);
    // The driver bounds the TCP connect only, and a read timeout would stay on the connection
    // for every later read: the handshake is waited for on a thread of its own instead, left
    // behind (blocked on a server that never answers) when it does not end in time.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(Conn::new(opts));
    });
    match rx.recv_timeout(source.connect_timeout) {
        Ok(connected) => connected.map_err(|e| db_error(source, "cannot connect", e)),
        Err(_) => Err(super::connect_timed_out(source)),
    }
}

/// A connection of the export: waits at most the lock timeout for a lock.
fn connect_for_export(request: &ExportRequest) -> Result<Conn> {
    let mut conn = connect(&request.source)?;
    conn.query_drop(format!(
        "SET SESSION lock_wait_timeout = {}",
        request.lock_timeout.as_secs().max(1)
    ))
    .map_err(|e| db_error(&request.source, "setting lock_wait_timeout", e))?;
    Ok(conn)
}

/// Exports the request's tables into `dir`.
pub(super) fn export(
    request: &ExportRequest,
    dir: &Path,
    progress: &dyn super::ExportProgress,
) -> Result<Manifest> {
    let started_at = manifest::now();
    let source = &request.source;
    let mut coordinator = connect_for_export(request)?;
    let version = rows(&mut coordinator, source, "SELECT VERSION()")?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
        .unwrap_or_default();
    let tables = catalog_tables(&mut coordinator, request)?;
    let parts = super::plan_parts(&tables, request.jobs, |t, key| {
        let sql = format!(
            "SELECT CAST(MIN({k}) AS CHAR), CAST(MAX({k}) AS CHAR) FROM {}.{}",
            ident(&source.database),
            ident(&t.name),
            k = ident(key)
        );
        let row = rows(&mut coordinator, source, &sql)?.into_iter().next();
        let get = |i: usize| {
            row.as_ref()
                .and_then(|r| r.get(i).cloned().flatten())
                .and_then(|v| v.parse().ok())
        };
        Ok(get(0).zip(get(1)))
    })?;
    let mut parts = parts;
    // Tables outside the transactions are read first, all under the lock.
    parts.sort_by_key(|p| !tables[p.table].read_lock);
    let held = parts.iter().filter(|p| tables[p.table].read_lock).count();
    let jobs = request.jobs.clamp(1, parts.len().max(1));
    // Several workers share the point only if no write commits while they start; tables
    // outside the transactions are at the point only while nothing writes.
    let locked = jobs > 1 || held > 0;
    if locked {
        coordinator
            .query_drop("FLUSH TABLES WITH READ LOCK")
            .map_err(|e| {
                db_error(
                    source,
                    "FLUSH TABLES WITH READ LOCK (it needs RELOAD, and waits --lock-timeout for \
                     running statements)",
                    e,
                )
            })?;
    }
    let mut position = BTreeMap::new();
    let coordinator = std::sync::Mutex::new(coordinator);
    let written = super::run_workers(
        &tables,
        &parts,
        jobs,
        || {
            let mut conn = connect_for_export(request)?;
            conn.query_drop(
                "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
                 START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
            )
            .map_err(|e| db_error(source, "starting a consistent snapshot", e))?;
            Ok(conn)
        },
        || {
            // Read under the lock (or, unlocked, right after the one snapshot began).
            let mut coordinator = coordinator
                .lock()
                .map_err(|_| Error::Internal("the coordinator's connection was poisoned".into()))?;
            position = binlog_position(&mut coordinator);
            Ok(())
        },
        held,
        || {
            if locked {
                coordinator
                    .lock()
                    .map_err(|_| {
                        Error::Internal("the coordinator's connection was poisoned".into())
                    })?
                    .query_drop("UNLOCK TABLES")
                    .map_err(|e| db_error(source, "UNLOCK TABLES", e))?;
            }
            Ok(())
        },
        |conn, t, part| copy_table(conn, source, t, part, dir, part.progress(t, progress)),
    )?;
    Ok(Manifest::assemble(
        source_of(source, version),
        consistency(jobs, held, position),
        started_at,
        &tables,
        written,
    ))
}

/// Where the binary log stood at the consistent point (what the server tells).
fn binlog_position(coordinator: &mut Conn) -> BTreeMap<String, String> {
    let mut position = BTreeMap::new();
    if let Ok(Some(gtid)) = coordinator.query_first::<Option<String>, _>("SELECT @@gtid_binlog_pos")
        && let Some(g) = gtid
    {
        position.insert("gtid_binlog_pos".to_owned(), g);
    }
    if let Ok(Some((file, pos))) = coordinator.query_first::<(String, u64), _>("SHOW MASTER STATUS")
    {
        position.insert("binlog_file".to_owned(), file);
        position.insert("binlog_position".to_owned(), pos.to_string());
    }
    position
}

/// The manifest's source: the server and what it calls itself.
fn source_of(source: &SourceUrl, version: String) -> Source {
    Source {
        kind: if version.to_ascii_lowercase().contains("mariadb") {
            "mariadb".into()
        } else {
            "mysql".into()
        },
        host: source.host.clone(),
        port: source.port,
        user: source.user.clone(),
        database: source.database.clone(),
        schema: None,
        server_version: version,
    }
}

/// How the export reached its one consistent point.
fn consistency(jobs: usize, held: usize, position: BTreeMap<String, String>) -> Consistency {
    Consistency {
        method: format!(
            "{}{}",
            if jobs > 1 {
                "START TRANSACTION WITH CONSISTENT SNAPSHOT per worker under FLUSH TABLES WITH READ LOCK"
            } else {
                "one START TRANSACTION WITH CONSISTENT SNAPSHOT"
            },
            if held > 0 {
                "; tables of non-transactional engines read under FLUSH TABLES WITH READ LOCK"
            } else {
                ""
            }
        ),
        position,
    }
}

/// The request's base tables with their columns, row estimates and engines.
fn catalog_tables(coordinator: &mut Conn, request: &ExportRequest) -> Result<Vec<TableOut>> {
    let source = &request.source;
    let db = literal(&source.database);
    let found = rows(
        coordinator,
        source,
        &format!(
            "SELECT TABLE_NAME, CAST(COALESCE(TABLE_ROWS, 0) AS CHAR), ENGINE FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = {db} AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
        ),
    )?;
    let cell = |r: &[Option<String>], i: usize| r.get(i).cloned().flatten();
    let names: Vec<String> = found.iter().filter_map(|r| cell(r, 0)).collect();
    if names.is_empty() && request.tables.is_empty() {
        return Err(Error::Invalid(format!(
            "{source}: the database has no tables"
        )));
    }
    super::check_requested(source, &request.tables, &names)?;
    let mut tables = Vec::new();
    for r in &found {
        let Some(name) = cell(r, 0) else { continue };
        if !request.tables.is_empty() && !request.tables.contains(&name) {
            continue;
        }
        let estimate = cell(r, 1).and_then(|e| e.parse().ok()).unwrap_or(0);
        let mut t = table(coordinator, request, &name, estimate)?;
        t.read_lock = !cell(r, 2).is_some_and(|e| transactional(&e));
        t.engine = cell(r, 2);
        // InnoDB stores a table in key order: reading it in that order costs nothing more.
        let clustered = t
            .engine
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("InnoDB"));
        let cheap = clustered && t.key_order.as_ref().is_some_and(|k| k.in_index_order);
        if !request.key_order.keeps(cheap) {
            t.key_order = None;
        }
        tables.push(t);
    }
    Ok(tables)
}

/// Streams one table through the binary protocol into its Parquet file.
fn copy_table(
    conn: &mut Conn,
    source: &SourceUrl,
    t: &TableOut,
    part: &super::Part,
    dir: &Path,
    counter: Box<dyn super::PartProgress>,
) -> Result<Written> {
    let sql = format!(
        "SELECT {} FROM {}.{}{}{}",
        t.select_list(ident, |c, q| {
            if spatial(&c.source_type) {
                format!("ST_AsText({q})")
            } else {
                format!("CAST({q} AS CHAR)")
            }
        }),
        ident(&source.database),
        ident(&t.name),
        part.filter(ident),
        t.order_clause()
    );
    let file = part.file();
    let mut sink = TableSink::create(&dir.join(&file), t, counter)?;
    let mut zero_dates: BTreeMap<String, u64> = BTreeMap::new();
    let bits: Vec<bool> = t
        .columns
        .iter()
        .map(|c| !c.cast && c.source_type.starts_with("bit("))
        .collect();
    let broke = |e: mysql::Error| db_error(source, format!("table `{}`: reading rows", t.name), e);
    let stmt = conn.prep(&sql).map_err(broke)?;
    let result = conn.exec_iter(stmt, ()).map_err(broke)?;
    for row in result {
        let values = row.map_err(broke)?.unwrap();
        for (i, (v, col)) in values.iter().zip(sink.cols.iter_mut()).enumerate() {
            let pushed = match v {
                // BIT(n): big-endian bytes, whatever type the column is written as.
                Value::Bytes(b) if bits[i] && b.len() <= 8 => col
                    .push_u64(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
                    .map(|()| Pushed::Value)
                    .map_err(ValueError::from),
                _ => value(v, col),
            };
            match pushed {
                Ok(Pushed::Value) => {}
                Ok(Pushed::ZeroDate) => {
                    *zero_dates.entry(t.columns[i].name.clone()).or_default() += 1;
                }
                Err(e) => {
                    return Err(Error::column(
                        &t.name,
                        &t.columns[i].name,
                        format!(
                            "{e} (the row with key {})",
                            super::key_text(t, |i| Some(match values.get(i)? {
                                Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                                other => other.as_sql(true),
                            }))
                        ),
                    ));
                }
            }
        }
        sink.end_row()?;
    }
    super::finish_table(sink, t, file, zero_dates)
}

enum Pushed {
    Value,
    ZeroDate,
}

/// Why a value cannot be written. Names no value.
#[derive(Debug, thiserror::Error)]
enum ValueError {
    #[error("{0}")]
    Misfit(#[from] Misfit),
    #[error("holds text that is not UTF-8")]
    Utf8,
    #[error("holds a decimal the server sent in a form recon does not read")]
    Decimal,
    #[error("holds a TIME past 24 hours or below zero, which a time of day cannot")]
    Time,
    #[error("holds a date Arrow cannot represent")]
    Date,
    #[error("holds a {0} where its type says otherwise")]
    Kind(&'static str),
}

fn value(v: &Value, col: &mut Col) -> Result<Pushed, ValueError> {
    let dt = col.data_type();
    match v {
        Value::NULL => col.push_null(),
        Value::Int(i) => col.push_i64(*i)?,
        Value::UInt(u) => col.push_u64(*u)?,
        Value::Float(f) => col.push_f32(*f)?,
        Value::Double(d) => col.push_f64(*d)?,
        Value::Bytes(b) => match dt {
            DataType::Utf8 => {
                col.push_str(std::str::from_utf8(b).map_err(|_| ValueError::Utf8)?)?;
            }
            DataType::Binary => col.push_bytes(b)?,
            DataType::Decimal128(_, s) | DataType::Decimal256(_, s) => {
                let text = std::str::from_utf8(b).map_err(|_| ValueError::Decimal)?;
                col.push_decimal(decimal_at(text, s).ok_or(ValueError::Decimal)?)?;
            }
            _ => return Err(ValueError::Kind("byte string")),
        },
        Value::Date(y, m, d, h, mi, s, us) => {
            if *y == 0 || *m == 0 || *d == 0 {
                col.push_null();
                return Ok(Pushed::ZeroDate);
            }
            let date = chrono::NaiveDate::from_ymd_opt(i32::from(*y), u32::from(*m), u32::from(*d))
                .ok_or(ValueError::Date)?;
            let days = i32::try_from(
                date.signed_duration_since(chrono::NaiveDate::default())
                    .num_days(),
            )
            .map_err(|_| ValueError::Date)?;
            if dt == DataType::Date32 {
                col.push_date(days)?;
            } else {
                let micros = i64::from(days) * 86_400_000_000
                    + (i64::from(*h) * 3600 + i64::from(*mi) * 60 + i64::from(*s)) * 1_000_000
                    + i64::from(*us);
                col.push_timestamp(micros)?;
            }
        }
        Value::Time(neg, days, h, m, s, us) => {
            if *neg || *days > 0 {
                return Err(ValueError::Time);
            }
            let micros = (i64::from(*h) * 3600 + i64::from(*m) * 60 + i64::from(*s)) * 1_000_000
                + i64::from(*us);
            col.push_time(micros)?;
        }
    }
    Ok(Pushed::Value)
}

/// Decimal text (`-12.3400`) as a mantissa at `scale`; `None` if it has more decimals.
fn decimal_at(text: &str, scale: i8) -> Option<i256> {
    let (m, s) = crate::value::Decimal::parse(text)?.parts();
    let ten = i256::from_i128(10);
    let diff = i32::from(scale) - i32::from(s);
    if diff >= 0 {
        m.checked_mul(ten.checked_pow(u32::try_from(diff).ok()?)?)
    } else {
        let div = ten.checked_pow(u32::try_from(-diff).ok()?)?;
        (m.checked_rem(div)? == i256::ZERO).then(|| m.checked_div(div))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_is_read_at_the_column_scale() {
        assert_eq!(decimal_at("-12.3400", 4), Some(i256::from_i128(-123_400)));
        assert_eq!(decimal_at("5", 2), Some(i256::from_i128(500)));
        assert_eq!(decimal_at("0.125", 2), None);
        assert_eq!(decimal_at("1.10", 1), Some(i256::from_i128(11)));
    }
}
