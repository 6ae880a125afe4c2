//! `PostgreSQL`'s catalog mapped to the types recon writes: tables, columns, keys. Every query runs
//! in the exporting transaction, so the catalog is the one of the snapshot's point in time.

use arrow::datatypes::{DataType, TimeUnit};

use super::{Decode, Pg};
use crate::error::{Error, Result};
use crate::export::{ColumnOut, ExportRequest, ForeignKey, TableOut};

/// A quoted SQL literal.
pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A quoted identifier.
pub(super) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The base tables of `schema` (partitioned tables as one, their partitions not on their own),
/// with the planner's row estimates.
pub(super) fn tables(pg: &Pg, schema: &str) -> Result<Vec<(String, u64)>> {
    let rows = pg.rows(&format!(
        "SELECT c.relname, greatest(c.reltuples, 0)::bigint::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = {} AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
         ORDER BY c.relname",
        literal(schema)
    ))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let name = r.first().cloned().flatten()?;
            let est = r.get(1).cloned().flatten().and_then(|e| e.parse().ok());
            Some((name, est.unwrap_or(0)))
        })
        .collect())
}

/// One table: its columns mapped to Arrow types, its keys, and how each column is decoded.
pub(super) fn table(
    pg: &Pg,
    request: &ExportRequest,
    schema: &str,
    name: &str,
    estimated_rows: u64,
) -> Result<(TableOut, Vec<Decode>)> {
    let rel = literal(&format!("{}.{}", ident(schema), ident(name)));
    let cols = pg.rows(&format!(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, t.typtype, \
         a.atttypmod::text, a.attnotnull::text FROM pg_attribute a \
         JOIN pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid = {rel}::regclass AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum"
    ))?;
    let mut columns = Vec::new();
    let mut decoders = Vec::new();
    for c in cols {
        let field = |i: usize| c.get(i).cloned().flatten().unwrap_or_default();
        let (col, source_type, typname, typtype) = (field(0), field(1), field(2), field(3));
        let typmod: i32 = field(4).parse().unwrap_or(-1);
        let not_null = field(5) == "true";
        let cast = request.cast_to_text(name, &col);
        let (arrow, decode) = if cast {
            (DataType::Utf8, Decode::Text)
        } else {
            match map(&typname, &typtype, typmod) {
                Some(Mapped::Ready(dt, d)) => (dt, d),
                Some(Mapped::Unconstrained) => unconstrained(pg, schema, name, &col)?,
                None => {
                    return Err(Error::column(
                        name,
                        &col,
                        format!(
                            "is of type {source_type}, which recon does not export; \
                             `--cast {name}.{col}=text` exports it as text"
                        ),
                    ));
                }
            }
        };
        decoders.push(decode);
        columns.push(ColumnOut {
            name: col,
            source_type,
            arrow,
            nullable: !not_null,
            cast,
        });
    }
    let primary_key = pg
        .rows(&format!(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = {rel}::regclass AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)"
        ))?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    let foreign_keys = pg
        .rows(&format!(
            "SELECT (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.o) \
                     FROM unnest(con.conkey) WITH ORDINALITY k(n, o) \
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n), \
                    p.relname, \
                    (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.o) \
                     FROM unnest(con.confkey) WITH ORDINALITY k(n, o) \
                     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n) \
             FROM pg_constraint con JOIN pg_class p ON p.oid = con.confrelid \
             WHERE con.conrelid = {rel}::regclass AND con.contype = 'f' ORDER BY con.conname"
        ))?
        .into_iter()
        .filter_map(|r| {
            let names = |s: Option<String>| -> Vec<String> {
                s.unwrap_or_default()
                    .split(',')
                    .map(|n| n.trim_matches('"').replace("\"\"", "\""))
                    .collect()
            };
            let mut it = r.into_iter();
            let (cols, parent, pcols) = (it.next()?, it.next()??, it.next()?);
            Some(ForeignKey {
                columns: names(cols),
                parent,
                parent_columns: names(pcols),
            })
        })
        .collect();
    Ok((
        TableOut {
            name: name.to_owned(),
            columns,
            primary_key,
            foreign_keys,
            estimated_rows,
        },
        decoders,
    ))
}

enum Mapped {
    Ready(DataType, Decode),
    /// `numeric` without a precision: the scale is what the data holds.
    Unconstrained,
}

/// The Arrow type and decoder of a `PostgreSQL` type (`None`: not exported without a cast).
fn map(typname: &str, typtype: &str, typmod: i32) -> Option<Mapped> {
    use DataType as T;
    let ready = |t: DataType, d: Decode| Some(Mapped::Ready(t, d));
    match typname {
        "int2" => ready(T::Int16, Decode::Int2),
        "int4" => ready(T::Int32, Decode::Int4),
        "int8" => ready(T::Int64, Decode::Int8),
        "float4" => ready(T::Float32, Decode::Float4),
        "float8" => ready(T::Float64, Decode::Float8),
        "bool" => ready(T::Boolean, Decode::Bool),
        "numeric" if typmod < 4 => Some(Mapped::Unconstrained),
        "numeric" => {
            let p = u8::try_from(((typmod - 4) >> 16) & 0xffff).ok()?;
            let s = i8::try_from((typmod - 4) & 0x7ff).ok()?;
            decimal(p, s).map(|t| Mapped::Ready(t, Decode::Numeric))
        }
        "text" | "varchar" | "bpchar" | "name" | "json" | "xml" | "citext" => {
            ready(T::Utf8, Decode::Text)
        }
        "jsonb" => ready(T::Utf8, Decode::Jsonb),
        "uuid" => ready(T::Utf8, Decode::Uuid),
        "bytea" => ready(T::Binary, Decode::Bytes),
        "date" => ready(T::Date32, Decode::Date),
        "time" => ready(T::Time64(TimeUnit::Microsecond), Decode::Time),
        "timestamp" => ready(T::Timestamp(TimeUnit::Microsecond, None), Decode::Timestamp),
        "timestamptz" => ready(
            T::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Decode::Timestamp,
        ),
        _ if typtype == "e" => ready(T::Utf8, Decode::Text),
        _ => None,
    }
}

/// Decimal128 up to 38 digits, Decimal256 up to 76; past that, nothing.
fn decimal(p: u8, s: i8) -> Option<DataType> {
    match p {
        1..=38 => Some(DataType::Decimal128(p, s)),
        39..=76 => Some(DataType::Decimal256(p, s)),
        _ => None,
    }
}

/// An unconstrained `numeric` column: the largest scale and integer part it holds in the
/// snapshot decide its decimal type; NaN, infinities or more than 76 digits are an error.
fn unconstrained(pg: &Pg, schema: &str, table: &str, column: &str) -> Result<(DataType, Decode)> {
    let c = ident(column);
    let rows = pg.rows(&format!(
        "SELECT count(*) FILTER (WHERE {c} IN ('NaN', 'Infinity', '-Infinity'))::text, \
                coalesce(max(scale({c})) FILTER (WHERE {c} NOT IN ('NaN', 'Infinity', '-Infinity')), 0)::text, \
                coalesce(max(length(trunc(abs({c}))::text)) FILTER (WHERE {c} NOT IN ('NaN', 'Infinity', '-Infinity')), 1)::text \
         FROM {}.{}",
        ident(schema),
        ident(table)
    ))?;
    let get = |i: usize| -> i64 {
        rows.first()
            .and_then(|r| r.get(i).cloned().flatten())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (special, scale, int_digits) = (get(0), get(1), get(2));
    if special > 0 {
        return Err(Error::column(
            table,
            column,
            format!(
                "holds NaN or Infinity in {special} rows, which no decimal can; \
                 `--cast {table}.{column}=text` exports it as text"
            ),
        ));
    }
    let precision = (int_digits + scale).max(1);
    let dt = u8::try_from(precision)
        .ok()
        .zip(i8::try_from(scale).ok())
        .and_then(|(p, s)| decimal(p, s))
        .ok_or_else(|| {
            Error::column(
                table,
                column,
                format!(
                    "is a numeric without precision holding {precision} digits \
                     ({scale} after the point): past the 76 a decimal can; \
                     `--cast {table}.{column}=text` exports it as text"
                ),
            )
        })?;
    Ok((dt, Decode::Numeric))
}
