//! `PostgreSQL`'s catalog mapped to the types recon writes: tables, columns, keys. Every query runs
//! in the exporting transaction, so the catalog is the one of the snapshot's point in time.

use arrow::datatypes::{DataType, TimeUnit};

use super::{Decode, Pg};
use crate::error::{Error, Result};
use crate::export::{ColumnOut, ExportRequest, ForeignKey, KeyOrder, TableOut};

/// A quoted SQL literal.
pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A quoted identifier.
pub(super) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table of the schema as listed before the snapshot.
pub(super) struct Relation {
    /// Its name.
    pub(super) name: String,
    /// The planner's estimate of its rows.
    pub(super) estimate: u64,
    /// Whether it is a partitioned table (read with its partitions, as one table).
    partitioned: bool,
}

impl Relation {
    /// The relation a `SELECT` reads: a partitioned table whole, any other table `ONLY` (an
    /// inheritance child's rows are the child's, exported on their own).
    pub(super) fn from(&self, schema: &str) -> String {
        format!(
            "{}{}.{}",
            if self.partitioned { "" } else { "ONLY " },
            ident(schema),
            ident(&self.name)
        )
    }
}

/// The base tables of `schema` (partitioned tables as one, their partitions not on their own),
/// with the planner's row estimates.
pub(super) fn tables(pg: &Pg, schema: &str) -> Result<Vec<Relation>> {
    let rows = pg.rows(&format!(
        "SELECT c.relname, greatest(c.reltuples, 0)::bigint::text, (c.relkind = 'p')::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = {} AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
         ORDER BY c.relname",
        literal(schema)
    ))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let name = r.first().cloned().flatten()?;
            let est = r.get(1).cloned().flatten().and_then(|e| e.parse().ok());
            Some(Relation {
                name,
                estimate: est.unwrap_or(0),
                partitioned: r.get(2).cloned().flatten().as_deref() == Some("true"),
            })
        })
        .collect())
}

/// One table: its columns mapped to Arrow types, its keys, and how each column is decoded.
pub(super) fn table(
    pg: &Pg,
    request: &ExportRequest,
    schema: &str,
    relation: &Relation,
) -> Result<(TableOut, Vec<Decode>)> {
    let (name, estimated_rows) = (relation.name.as_str(), relation.estimate);
    let rel = literal(&format!("{}.{}", ident(schema), ident(name)));
    // A domain is read as its base type (through domains of domains), with the domain's type
    // modifier where the column has none; the base type is known by its OID, never by a name
    // another schema may reuse (`CREATE DOMAIN public.int8 AS text`).
    let cols = pg.rows(&format!(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), b.oid::text, t.typname, \
         t.typtype, b.typmod::text, a.attnotnull::text, co.collname FROM pg_attribute a \
         CROSS JOIN LATERAL (WITH RECURSIVE d(oid, typmod, depth) AS ( \
             SELECT a.atttypid, a.atttypmod, 0 \
             UNION ALL SELECT t.typbasetype, \
                 CASE WHEN d.typmod = -1 THEN t.typtypmod ELSE d.typmod END, d.depth + 1 \
             FROM d JOIN pg_type t ON t.oid = d.oid WHERE t.typtype = 'd') \
           SELECT oid, typmod FROM d ORDER BY depth DESC LIMIT 1) b \
         JOIN pg_type t ON t.oid = b.oid \
         LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         WHERE a.attrelid = {rel}::regclass AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum"
    ))?;
    let mut columns = Vec::new();
    let mut decoders = Vec::new();
    // Per column: its base type, and whether its collation is "C" (byte order).
    let mut sorts = std::collections::HashMap::new();
    for c in cols {
        let field = |i: usize| c.get(i).cloned().flatten().unwrap_or_default();
        let (col, source_type, typname, typtype) = (field(0), field(1), field(3), field(4));
        let oid: u32 = field(2).parse().unwrap_or(0);
        let typmod: i32 = field(5).parse().unwrap_or(-1);
        let not_null = field(6) == "true";
        let cast = request.cast_to_text(name, &col);
        let (arrow, decode) = if cast {
            (DataType::Utf8, Decode::Text)
        } else {
            match map(oid, &typname, &typtype, typmod) {
                Some(Mapped::Ready(dt, d)) => (dt, d),
                Some(Mapped::Unconstrained) => {
                    unconstrained(pg, &relation.from(schema), name, &col)?
                }
                None => {
                    return Err(Error::column(
                        name,
                        &col,
                        format!(
                            "is of type {source_type}, which recon does not export; \
                             {}",
                            crate::export::cast_hint(name, &col)
                        ),
                    ));
                }
            }
        };
        decoders.push(decode);
        sorts.insert(col.clone(), (oid, field(7) == "C"));
        columns.push(ColumnOut {
            name: col,
            source_type,
            arrow,
            nullable: !not_null,
            cast,
        });
    }
    let primary_key = primary_key(pg, &rel)?;
    let foreign_keys = foreign_keys(pg, &rel)?;
    let mut t = TableOut {
        name: name.to_owned(),
        columns,
        primary_key,
        foreign_keys,
        estimated_rows,
        engine: None,
        read_lock: false,
        key_order: None,
    };
    // Ascending is NULLS LAST in PostgreSQL. Whether
    // the table is kept in key order is decided with its statistics (`physical_order`).
    t.key_order = t.key_order_from(request, false, |c| {
        let (oid, c_collation) = sorts.get(&c.name).copied().unwrap_or((0, false));
        order_by(oid, c_collation, &c.name)
    });
    Ok((t, decoders))
}

/// A key column's `ORDER BY` expression when `PostgreSQL` sorts it as its written values compare
/// (`None` otherwise), and whether its index sorts it that way. Text and `varchar` sort by the
/// column's collation, so they are sorted `COLLATE "C"`: byte order, which for UTF-8 is code
/// point order, as a reader comparing the written strings sees it (only a column of collation
/// "C" has an index in that order). `uuid` sorts by its bytes, which is the order of its
/// canonical text. Not sorted: floats (NaN sorts last, -0 equals 0), `char(n)` (compared
/// without its trailing blanks, written with them), `citext`, enums (in declaration order),
/// `json`, and the rest.
fn order_by(base_type_oid: u32, c_collation: bool, column: &str) -> Option<(String, bool)> {
    match base_type_oid {
        // smallint, integer, bigint, numeric, date, time, timestamp, timestamptz, uuid, bytea,
        // boolean
        21 | 23 | 20 | 1700 | 1082 | 1083 | 1114 | 1184 | 2950 | 17 | 16 => {
            Some((ident(column), true))
        }
        // text, varchar
        25 | 1043 => Some((format!("{} COLLATE \"C\"", ident(column)), c_collation)),
        _ => None,
    }
}

/// How closely a table's rows must follow its key's order on disk (the planner's correlation of
/// the key's first column, between -1 and 1) for an index scan to read them in that order
/// without a random read per row.
const PHYSICAL_ORDER: f64 = 0.9;

/// Whether the rows of a table to be written in key `order` lie on disk in about that order,
/// by the planner's statistics (none, as for a table never analyzed: no).
pub(super) fn key_in_physical_order(
    pg: &Pg,
    schema: &str,
    relation: &Relation,
    order: &KeyOrder,
) -> Result<bool> {
    let Some(first) = order.columns.first() else {
        return Ok(false);
    };
    let rows = pg.rows(&format!(
        "SELECT max(abs(correlation))::text FROM pg_stats \
         WHERE schemaname = {} AND tablename = {} AND attname = {}",
        literal(schema),
        literal(&relation.name),
        literal(first)
    ))?;
    let correlation: Option<f64> = rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|c| c.parse().ok());
    Ok(correlation.is_some_and(|c| c >= PHYSICAL_ORDER))
}

/// The primary key's columns in key order (none without a primary key).
fn primary_key(pg: &Pg, rel: &str) -> Result<Vec<String>> {
    Ok(pg
        .rows(&format!(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = {rel}::regclass AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)"
        ))?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

/// The table's foreign keys: its columns, the parent table and the parent's columns.
fn foreign_keys(pg: &Pg, rel: &str) -> Result<Vec<ForeignKey>> {
    Ok(pg
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
        .collect())
}

enum Mapped {
    Ready(DataType, Decode),
    /// `numeric` without a precision: the scale is what the data holds.
    Unconstrained,
}

/// The Arrow type and decoder of a `PostgreSQL` type (`None`: not exported without a cast).
/// Built-in types are known by their OIDs (fixed in every server); `citext` (an extension's,
/// sent as text) by name, enums by their kind.
fn map(oid: u32, typname: &str, typtype: &str, typmod: i32) -> Option<Mapped> {
    use DataType as T;
    let ready = |t: DataType, d: Decode| Some(Mapped::Ready(t, d));
    match oid {
        21 => ready(T::Int16, Decode::Int2),
        23 => ready(T::Int32, Decode::Int4),
        20 => ready(T::Int64, Decode::Int8),
        700 => ready(T::Float32, Decode::Float4),
        701 => ready(T::Float64, Decode::Float8),
        16 => ready(T::Boolean, Decode::Bool),
        1700 if typmod < 4 => Some(Mapped::Unconstrained),
        1700 => numeric_type(typmod).map(|t| Mapped::Ready(t, Decode::Numeric)),
        // text, varchar, bpchar, name, json, xml
        25 | 1043 | 1042 | 19 | 114 | 142 => ready(T::Utf8, Decode::Text),
        3802 => ready(T::Utf8, Decode::Jsonb),
        2950 => ready(T::Utf8, Decode::Uuid),
        17 => ready(T::Binary, Decode::Bytes),
        1082 => ready(T::Date32, Decode::Date),
        1083 => ready(T::Time64(TimeUnit::Microsecond), Decode::Time),
        1114 => ready(T::Timestamp(TimeUnit::Microsecond, None), Decode::Timestamp),
        1184 => ready(
            T::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Decode::Timestamp,
        ),
        _ if typtype == "e" || (typtype == "b" && typname == "citext") => {
            ready(T::Utf8, Decode::Text)
        }
        _ => None,
    }
}

/// The decimal type of `numeric(p,s)` from its type modifier. `PostgreSQL` 15 allows a scale
/// past the precision (`numeric(3,5)`: values below 0.01) and a negative one (`numeric(3,-2)`:
/// hundreds): both are written exactly, as a decimal of scale `max(s, 0)` with the digits that
/// takes.
fn numeric_type(typmod: i32) -> Option<DataType> {
    let p = ((typmod - 4) >> 16) & 0xffff;
    let s = (((typmod - 4) & 0x7ff) ^ 1024) - 1024;
    let (precision, scale) = if s < 0 { (p - s, 0) } else { (p.max(s), s) };
    decimal(u8::try_from(precision).ok()?, i8::try_from(scale).ok()?)
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
fn unconstrained(pg: &Pg, from: &str, table: &str, column: &str) -> Result<(DataType, Decode)> {
    let c = ident(column);
    let rows = pg.rows(&format!(
        "SELECT count(*) FILTER (WHERE {c} IN ('NaN', 'Infinity', '-Infinity'))::text, \
                coalesce(max(scale({c})) FILTER (WHERE {c} NOT IN ('NaN', 'Infinity', '-Infinity')), 0)::text, \
                coalesce(max(length(trunc(abs({c}))::text)) FILTER (WHERE {c} NOT IN ('NaN', 'Infinity', '-Infinity')), 1)::text \
         FROM {from}"
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
                "holds NaN or Infinity in {special} rows, which no decimal can; {}",
                crate::export::cast_hint(table, column)
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
                     ({scale} after the point): past the 76 a decimal can; {}",
                    crate::export::cast_hint(table, column)
                ),
            )
        })?;
    Ok((dt, Decode::Numeric))
}
