//! The `MariaDB/MySQL` catalog: tables and their columns from `information_schema`, mapped to
//! the Arrow types an export writes, with their keys, and the engines whose tables are not in a
//! consistent-snapshot transaction.

use std::collections::BTreeMap;

use arrow::datatypes::{DataType, TimeUnit};
use mysql::prelude::Queryable;
use mysql::{Conn, Value};

use super::super::{ColumnOut, ExportRequest, ForeignKey, SourceUrl, TableOut, db_error};
use crate::error::{Error, Result};

/// Whether an engine's tables are in a consistent-snapshot transaction (`MyISAM`, `Aria`,
/// `MEMORY`, ... are not: they are read under the global read lock instead).
pub(super) fn transactional(engine: &str) -> bool {
    ["InnoDB", "RocksDB", "TokuDB"]
        .iter()
        .any(|e| e.eq_ignore_ascii_case(engine))
}

/// Whether a column is spatial: as text it is `ST_AsText` (its WKT), not its bytes.
pub(super) fn spatial(source_type: &str) -> bool {
    matches!(
        source_type.split([' ', '(']).next().unwrap_or_default(),
        "geometry"
            | "point"
            | "linestring"
            | "polygon"
            | "multipoint"
            | "multilinestring"
            | "multipolygon"
            | "geometrycollection"
            | "geomcollection"
    )
}

pub(super) fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// Text rows of a catalog query.
pub(super) fn rows(
    conn: &mut Conn,
    source: &SourceUrl,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>> {
    let rows: Vec<mysql::Row> = conn
        .query(sql)
        .map_err(|e| db_error(source, "reading the catalog", e))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            r.unwrap()
                .into_iter()
                .map(|v| match v {
                    Value::NULL => None,
                    Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                    other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
                })
                .collect()
        })
        .collect())
}

/// One table from `information_schema`: columns mapped to Arrow types, keys.
pub(super) fn table(
    conn: &mut Conn,
    request: &ExportRequest,
    name: &str,
    estimated_rows: u64,
) -> Result<TableOut> {
    let source = &request.source;
    let (db, t) = (literal(&source.database), literal(name));
    let cols = rows(
        conn,
        source,
        &format!(
            "SELECT COLUMN_NAME, LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), IS_NULLABLE, \
             CAST(NUMERIC_PRECISION AS CHAR), CAST(NUMERIC_SCALE AS CHAR), CHARACTER_SET_NAME \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {db} AND TABLE_NAME = {t} \
             ORDER BY ORDINAL_POSITION"
        ),
    )?;
    let mut columns = Vec::new();
    for c in cols {
        let f = |i: usize| c.get(i).cloned().flatten().unwrap_or_default();
        let (col, data_type, column_type) = (f(0), f(1), f(2));
        let (precision, scale) = (f(4).parse::<u32>().ok(), f(5).parse::<u32>().ok());
        let charset = f(6);
        let cast = request.cast_to_text(name, &col);
        let arrow = if cast {
            Some(DataType::Utf8)
        } else {
            map(&data_type, &column_type, precision, scale)
        };
        let Some(arrow) = arrow else {
            return Err(Error::column(
                name,
                &col,
                format!(
                    "is of type {column_type}, which recon does not export; {}",
                    super::super::cast_hint(name, &col)
                ),
            ));
        };
        let source_type = if charset.is_empty() || charset.starts_with("utf8") {
            column_type
        } else {
            format!("{column_type} character set {charset}")
        };
        columns.push(ColumnOut {
            name: col,
            source_type,
            arrow,
            // Zero dates become NULL even in NOT NULL columns.
            nullable: f(3) == "YES"
                || matches!(data_type.as_str(), "date" | "datetime" | "timestamp"),
            cast,
        });
    }
    let keys = rows(
        conn,
        source,
        &format!(
            "SELECT CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
             FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = {db} AND TABLE_NAME = {t} \
             AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL) \
             ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION"
        ),
    )?;
    let mut primary_key = Vec::new();
    let mut fks: BTreeMap<String, ForeignKey> = BTreeMap::new();
    for k in keys {
        let f = |i: usize| k.get(i).cloned().flatten().unwrap_or_default();
        if f(0) == "PRIMARY" {
            primary_key.push(f(1));
        } else {
            let fk = fks.entry(f(0)).or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                parent: f(2),
                parent_columns: Vec::new(),
            });
            fk.columns.push(f(1));
            fk.parent_columns.push(f(3));
        }
    }
    let mut t = TableOut {
        name: name.to_owned(),
        columns,
        primary_key,
        foreign_keys: fks.into_values().collect(),
        estimated_rows,
        engine: None,
        read_lock: false,
        key_order: None,
    };
    // Ascending puts NULL first in MariaDB/MySQL.
    t.key_order = t.key_order_from(request, true, order_by);
    Ok(t)
}

/// A key column's `ORDER BY` expression when the server sorts it as its written values compare,
/// as its index does (`None` otherwise): integers and decimals, by value. Not sorted: text (its collation decides,
/// and even `_bin` collations pad with spaces, so `a\t` sorts before `a`; sorting by the bytes
/// instead makes the server sort the whole table, where `InnoDB` reads its key order for free),
/// binary strings, dates (a zero date, `2020-00-00` too, is written as NULL where it sorts),
/// floats and the rest.
fn order_by(c: &ColumnOut) -> Option<(String, bool)> {
    let kind = c.source_type.split([' ', '(']).next().unwrap_or_default();
    matches!(
        kind,
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal" | "numeric"
    )
    .then(|| (ident(&c.name), true))
}

/// The Arrow type of a `MariaDB/MySQL` column (`None`: not exported without a cast).
fn map(
    data_type: &str,
    column_type: &str,
    precision: Option<u32>,
    scale: Option<u32>,
) -> Option<DataType> {
    use DataType as T;
    let unsigned = column_type.contains("unsigned");
    Some(match data_type {
        "tinyint" if unsigned => T::UInt8,
        "tinyint" => T::Int8,
        "smallint" if unsigned => T::UInt16,
        "smallint" | "year" => T::Int16,
        "mediumint" | "int" | "integer" if unsigned => T::UInt32,
        "mediumint" | "int" | "integer" => T::Int32,
        // The type follows the catalog, not the data: every night's snapshot has the same one.
        "bigint" if unsigned => T::Decimal128(20, 0),
        "bigint" => T::Int64,
        "decimal" | "numeric" => {
            let p = u8::try_from(precision?).ok()?;
            let s = i8::try_from(scale.unwrap_or(0)).ok()?;
            match p {
                1..=38 => T::Decimal128(p, s),
                39..=76 => T::Decimal256(p, s),
                _ => return None,
            }
        }
        "float" => T::Float32,
        "double" | "real" => T::Float64,
        "bit" => match precision.unwrap_or(1) {
            1..=7 => T::Int8,
            8..=63 => T::Int64,
            _ => T::Decimal128(20, 0),
        },
        "date" => T::Date32,
        "datetime" => T::Timestamp(TimeUnit::Microsecond, None),
        "timestamp" => T::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "time" => T::Time64(TimeUnit::Microsecond),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
        | "json" | "uuid" | "inet4" | "inet6" => T::Utf8,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => T::Binary,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_types_map_exactly() {
        assert_eq!(
            map("bigint", "bigint(20) unsigned", None, None),
            Some(DataType::Decimal128(20, 0))
        );
        assert_eq!(
            map("tinyint", "tinyint(1)", None, None),
            Some(DataType::Int8)
        );
        assert_eq!(
            map("decimal", "decimal(65,30)", Some(65), Some(30)),
            Some(DataType::Decimal256(65, 30))
        );
        assert_eq!(map("geometry", "geometry", None, None), None);
    }
}
