//! Resolution: from a table pair's config and the two opened tables to a ready [`PairPlan`]:
//! which columns are keys, which are compared and how (one [`Codec`] per column pair), which are
//! on one side only. Every mistake in the config or the schemas is caught here, before any row is
//! read, with the table and column named.

use std::collections::{BTreeMap, BTreeSet};

use arrow::datatypes::{DataType, Schema, SchemaRef};
use serde::Serialize;

use crate::config::{ColumnOptions, GateConfig, TableConfig};
use crate::error::{CompareError, Error, Result};
use crate::hash::{Codec, CompareAs, TextOpts, is_integer};
use crate::side::PerSide;
use crate::snapshot::SideTable;

/// The type family of an Arrow type: values of one family can be compared without a cast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Signed and unsigned integers.
    Integer,
    /// Decimals of any precision and scale.
    Decimal,
    /// Floats.
    Float,
    /// Strings.
    Text,
    /// Byte strings.
    Binary,
    /// Booleans.
    Bool,
    /// Dates.
    Date,
    /// Timestamps.
    Timestamp,
    /// Times of day.
    Time,
    /// Arrow's `Null` type (a column with no value at all, as pandas writes an all-`None`
    /// column): compares as NULL against any type.
    Null,
    /// Anything else (nested, intervals, ...): not comparable yet.
    Other,
}

/// The family of a type (dictionaries count as their values).
pub fn family(dt: &DataType) -> Family {
    match dt {
        DataType::Dictionary(_, v) => family(v),
        t if is_integer(t) => Family::Integer,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Family::Decimal,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Family::Float,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Family::Text,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Family::Binary,
        DataType::Boolean => Family::Bool,
        DataType::Date32 | DataType::Date64 => Family::Date,
        DataType::Timestamp(..) => Family::Timestamp,
        DataType::Time32(_) | DataType::Time64(_) => Family::Time,
        DataType::Null => Family::Null,
        _ => Family::Other,
    }
}

pub use crate::value::Tolerance;

/// One compared (or key) column pair.
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    /// The legacy name: the name reports use.
    pub name: String,
    /// The physical name on each side.
    pub names: PerSide<String>,
    /// How values are encoded for comparison.
    pub codec: Codec,
    /// Compared by value with this tolerance, outside the exact row hash.
    pub tolerance: Option<Tolerance>,
}

/// Columns that are not compared, and why.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SchemaFindings {
    /// Columns only the legacy table has (after renames and ignores).
    pub legacy_only: Vec<String>,
    /// Columns only the target table has.
    pub target_only: Vec<String>,
    /// Columns left out by `ignore`.
    pub ignored: Vec<String>,
    /// Legacy columns paired with a target column whose name differs only in case (`MySQL`
    /// `CustomerName`, `PostgreSQL` `customername`): legacy name -> target name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub paired_by_case: BTreeMap<String, String>,
    /// Integer or decimal columns compared with a float column (keys included): legacy name ->
    /// both types (`legacy Int64, target Float64`). A value the float cannot hold exactly is a
    /// changed cell.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exact_vs_float: BTreeMap<String, String>,
}

impl SchemaFindings {
    /// Columns on one side only, and exact columns compared with a float.
    pub fn count(&self) -> usize {
        self.legacy_only.len() + self.target_only.len() + self.exact_vs_float.len()
    }
}

/// A table pair ready to reconcile.
pub struct PairPlan {
    /// The report name.
    pub name: String,
    /// What the legacy side is (a table name, or `sql`).
    pub sources: PerSide<String>,
    /// The opened tables.
    pub tables: PerSide<SideTable>,
    /// Key columns, in config order.
    pub keys: Vec<ColumnPlan>,
    /// Compared columns, in legacy schema order.
    pub columns: Vec<ColumnPlan>,
    /// Whether the key is one integer column matched exactly (no digest).
    pub exact_int_key: bool,
    /// Columns on one side only, and ignored ones.
    pub schema: SchemaFindings,
    /// The table's effective gate.
    pub gate: GateConfig,
    /// Columns whose values never appear in reports.
    pub redact: crate::redact::Redactor,
    /// Every legacy column whose target column has another name (`rename`, or paired by case):
    /// legacy name -> target name.
    pub renames: BTreeMap<String, String>,
}

impl PairPlan {
    /// Column names to read from one side: keys, then compared columns.
    pub fn read_columns(&self, side: crate::side::Side) -> Vec<String> {
        self.keys
            .iter()
            .chain(&self.columns)
            .map(|c| c.names.get(side).clone())
            .collect()
    }
}

/// Resolves a table pair against its two opened tables.
pub fn resolve(
    t: &TableConfig,
    defaults: &ColumnOptions,
    global_gate: &GateConfig,
    tables: PerSide<SideTable>,
    redaction_key: &std::sync::Arc<crate::redact::RedactionKey>,
) -> Result<PairPlan> {
    let schemas = PerSide::new(tables.legacy.schema.clone(), tables.target.schema.clone());
    check_named_columns(t, &schemas)?;
    let paired_by_case = case_pairs(t, &schemas.legacy, &schemas.target)?;
    let mut renames = t.rename.clone();
    renames.extend(paired_by_case.iter().map(|(l, t)| (l.clone(), t.clone())));
    let columns_of = Columns {
        t,
        defaults,
        schemas: &schemas,
        renames: &renames,
    };
    let keys = columns_of.keys()?;
    let (columns, mut schema) = columns_of.compared()?;
    schema.paired_by_case = paired_by_case;
    schema.exact_vs_float = exact_vs_float(keys.iter().chain(&columns), &tables);
    let exact_int_key = exact_int_key(&keys, &schemas);
    Ok(PairPlan {
        name: t.name.clone(),
        sources: sources(t),
        tables,
        keys,
        columns,
        exact_int_key,
        schema,
        gate: GateConfig::resolved(&t.gate, global_gate),
        redact: crate::redact::Redactor::new(
            t.redact.iter().cloned(),
            std::sync::Arc::clone(redaction_key),
        ),
        renames,
    })
}

/// Every column the table's config names (renamed, ignored, redacted, with options) must exist
/// where it is looked for.
fn check_named_columns(t: &TableConfig, schemas: &PerSide<SchemaRef>) -> Result<()> {
    let table = t.name.as_str();
    let has = |side_schema: &Schema, c: &str| side_schema.field_with_name(c).is_ok();
    for (from, to) in &t.rename {
        if !has(&schemas.legacy, from) {
            return Err(Error::column(
                table,
                from,
                "is renamed but the legacy table has no such column",
            ));
        }
        if !has(&schemas.target, to) && !t.ignore.contains(from) {
            let msg = format!("is renamed to `{to}`, which is missing on the target side");
            return Err(Error::column(table, from, msg));
        }
    }
    for name in &t.ignore {
        if !has(&schemas.legacy, name) && !has(&schemas.target, name) {
            return Err(Error::column(
                table,
                name,
                "is ignored but neither table has it",
            ));
        }
    }
    let legacy_only = t
        .redact
        .iter()
        .map(|n| (n, "is redacted but the legacy table has no such column"))
        .chain(
            t.columns
                .keys()
                .filter(|c| *c != "*")
                .map(|n| (n, "has options but the legacy table has no such column")),
        );
    for (name, msg) in legacy_only {
        if !has(&schemas.legacy, name) {
            return Err(Error::column(table, name, msg));
        }
    }
    Ok(())
}

/// A pair's columns as they are resolved: names across the sides, options, codecs.
struct Columns<'a> {
    t: &'a TableConfig,
    defaults: &'a ColumnOptions,
    schemas: &'a PerSide<SchemaRef>,
    renames: &'a BTreeMap<String, String>,
}

impl Columns<'_> {
    /// The target column a legacy column pairs with.
    fn target_of(&self, legacy: &str) -> String {
        self.renames
            .get(legacy)
            .cloned()
            .unwrap_or_else(|| legacy.to_owned())
    }

    /// How one legacy column compares with its target column.
    fn plan(&self, legacy: &str) -> Result<ColumnPlan> {
        let table = self.t.name.as_str();
        let target = self.target_of(legacy);
        let target = target.as_str();
        let lf = self
            .schemas
            .legacy
            .field_with_name(legacy)
            .map_err(|_| Error::column(table, legacy, "is missing on the legacy side"))?;
        let tf = self.schemas.target.field_with_name(target).map_err(|_| {
            let msg = if target == legacy {
                "is missing on the target side (rename it with `rename`?)".to_owned()
            } else {
                format!("is renamed to `{target}`, which is missing on the target side")
            };
            Error::column(table, legacy, msg)
        })?;
        let opts = self.t.column_options(legacy, self.defaults);
        let compare = |source| Error::Compare {
            table: table.to_owned(),
            column: legacy.to_owned(),
            source,
        };
        let codec = codec_for(lf.data_type(), tf.data_type(), &opts).map_err(compare)?;
        let tolerance = tolerance_for(&opts, codec.mode).map_err(compare)?;
        Ok(ColumnPlan {
            name: legacy.to_owned(),
            names: PerSide::new(legacy.to_owned(), target.to_owned()),
            codec,
            tolerance,
        })
    }

    /// The key columns (never with a tolerance).
    fn keys(&self) -> Result<Vec<ColumnPlan>> {
        let mut keys = Vec::new();
        for k in &self.t.key {
            let plan = self.plan(k)?;
            if plan.tolerance.is_some() {
                return Err(Error::column(
                    &self.t.name,
                    k,
                    "is a key column and cannot have a tolerance",
                ));
            }
            keys.push(plan);
        }
        Ok(keys)
    }

    /// The compared columns, and the columns left out (ignored, on one side only).
    fn compared(&self) -> Result<(Vec<ColumnPlan>, SchemaFindings)> {
        let t = self.t;
        let ignored = |name: &str| t.ignore.iter().any(|i| i == name);
        let mut schema = SchemaFindings::default();
        let mut columns = Vec::new();
        let mut mapped_targets = BTreeSet::new();
        for f in self.schemas.legacy.fields() {
            let legacy = f.name().as_str();
            let target = self.target_of(legacy);
            mapped_targets.insert(target.clone());
            if t.key.iter().any(|k| k == legacy) {
                continue;
            }
            if ignored(legacy) || ignored(&target) {
                schema.ignored.push(legacy.to_owned());
            } else if self.schemas.target.field_with_name(&target).is_err() {
                schema.legacy_only.push(legacy.to_owned());
            } else {
                columns.push(self.plan(legacy)?);
            }
        }
        for f in self.schemas.target.fields() {
            let name = f.name();
            if mapped_targets.contains(name) {
                continue;
            }
            if ignored(name) {
                schema.ignored.push(name.clone());
            } else {
                schema.target_only.push(name.clone());
            }
        }
        Ok((columns, schema))
    }
}

/// Whether the pair has one key column, an exact integer on both sides, compared as it is.
fn exact_int_key(keys: &[ColumnPlan], schemas: &PerSide<SchemaRef>) -> bool {
    let [key] = keys else {
        return false;
    };
    let l = schemas.legacy.field_with_name(&key.names.legacy);
    let r = schemas.target.field_with_name(&key.names.target);
    key.codec.cast.is_none()
        && matches!((l, r), (Ok(l), Ok(r)) if exact_int(l.data_type()) && exact_int(r.data_type()))
}

/// What each side reads: its table, or `sql` for a query.
fn sources(t: &TableConfig) -> PerSide<String> {
    let source = |sql: &Option<String>, table: &str| {
        if sql.is_some() {
            "sql".to_owned()
        } else {
            table.to_owned()
        }
    };
    PerSide::new(
        source(&t.legacy_sql, t.legacy_table()),
        source(&t.target_sql, t.target_table()),
    )
}

/// Legacy columns that pair with a target column by a name that differs only in case, where
/// that is unambiguous: the legacy column is not renamed or ignored, the target has no column
/// of the very same name, and exactly one target column matches it ignoring case (and is not
/// spoken for). Two candidates either way are an error naming both.
fn case_pairs(
    t: &TableConfig,
    legacy: &arrow::datatypes::Schema,
    target: &arrow::datatypes::Schema,
) -> Result<BTreeMap<String, String>> {
    let table = t.name.as_str();
    let ignored = |n: &str| t.ignore.iter().any(|i| i == n);
    let taken: BTreeSet<&str> = t.rename.values().map(String::as_str).collect();
    let mut pairs = BTreeMap::new();
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    for f in legacy.fields() {
        let name = f.name();
        if t.rename.contains_key(name) || ignored(name) || target.field_with_name(name).is_ok() {
            continue;
        }
        let lower = name.to_lowercase();
        let candidates: Vec<&str> = target
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .filter(|n| n.to_lowercase() == lower)
            .filter(|n| !taken.contains(n) && !ignored(n) && legacy.field_with_name(n).is_err())
            .collect();
        match candidates.as_slice() {
            [] => {}
            [one] => {
                if let Some(other) = claimed.insert((*one).to_owned(), name.clone()) {
                    return Err(Error::column(
                        table,
                        name,
                        format!(
                            "and `{other}` both match target column `{one}` when case is \
                             ignored; pair them with `rename` or `ignore` one"
                        ),
                    ));
                }
                pairs.insert(name.clone(), (*one).to_owned());
            }
            [a, b, ..] => {
                return Err(Error::column(
                    table,
                    name,
                    format!(
                        "matches target columns `{a}` and `{b}` when case is ignored; pair it \
                         with `rename` or `ignore` one"
                    ),
                ));
            }
        }
    }
    Ok(pairs)
}

/// The compared column pairs (no `cast`) where one side is an integer or decimal and the other a
/// float: legacy name -> both types.
fn exact_vs_float<'a>(
    columns: impl Iterator<Item = &'a ColumnPlan>,
    tables: &PerSide<SideTable>,
) -> BTreeMap<String, String> {
    let type_of = |c: &ColumnPlan, side: crate::side::Side| {
        tables
            .get(side)
            .schema
            .field_with_name(c.names.get(side))
            .ok()
            .map(|f| f.data_type().clone())
    };
    columns
        .filter(|c| c.codec.cast.is_none())
        .filter_map(|c| {
            let l = type_of(c, crate::side::Side::Legacy)?;
            let t = type_of(c, crate::side::Side::Target)?;
            let exact = |dt: &DataType| matches!(family(dt), Family::Integer | Family::Decimal);
            let float = |dt: &DataType| family(dt) == Family::Float;
            ((exact(&l) && float(&t)) || (float(&l) && exact(&t)))
                .then(|| (c.name.clone(), format!("legacy {l}, target {t}")))
        })
        .collect()
}

/// Integer types whose every value fits an `i64`.
fn exact_int(dt: &DataType) -> bool {
    is_integer(dt) && *dt != DataType::UInt64
}

/// The codec for a column pair, or a message saying why the two types cannot be compared.
pub fn codec_for(
    legacy: &DataType,
    target: &DataType,
    o: &ColumnOptions,
) -> std::result::Result<Codec, CompareError> {
    let zone = o.timezone.unwrap_or_default();
    let text = TextOpts {
        trim: o.trim.unwrap_or(false),
        case_insensitive: o.case_insensitive.unwrap_or(false),
        nfc: o.nfc.unwrap_or(false),
        trim_end: o.trim_end.unwrap_or(false),
        json: o.json.unwrap_or(false),
    };
    if let Some(cast) = &o.cast {
        let to = cast.0.clone();
        let mode = mode_of(family(&to), family(&to), text, false)
            .ok_or_else(|| CompareError::CastTarget(to.clone()))?;
        return Ok(Codec {
            cast: Some(to),
            zone,
            ..Codec::new(mode)
        });
    }
    let (l, r) = (family(legacy), family(target));
    let mode = mode_of(l, r, text, o.int_as_bool.unwrap_or(false)).ok_or_else(|| {
        let hint = match (l, r) {
            (Family::Bool, Family::Integer) | (Family::Integer, Family::Bool) => {
                " (a MySQL TINYINT(1) flag? set `int_as_bool = true` for this column)"
            }
            (Family::Other, _) | (_, Family::Other) => {
                " (nested and interval types are not compared yet; ignore the column)"
            }
            _ => " (state a `cast`, e.g. cast = \"string\", or ignore the column)",
        };
        CompareError::Families {
            legacy: legacy.clone(),
            target: target.clone(),
            hint,
        }
    })?;
    let codec = Codec {
        zone,
        ..Codec::new(mode)
    };
    Ok(match fixed_scale(legacy, target) {
        Some(scale) if mode == CompareAs::Numeric => codec.with_fixed_scale(scale),
        _ => codec,
    })
}

/// The scale a numeric column pair's numbers are carried to (see [`Codec::fixed_scale`]): the
/// larger declared scale, at least 0, when both sides are integers or decimals of up to 38
/// digits; `None` with a Decimal256 (its numbers stay normalized) or any other type.
fn fixed_scale(legacy: &DataType, target: &DataType) -> Option<u8> {
    fn scale(dt: &DataType) -> Option<i8> {
        match dt {
            DataType::Dictionary(_, v) => scale(v),
            DataType::Decimal32(_, s) | DataType::Decimal64(_, s) | DataType::Decimal128(_, s) => {
                Some(*s)
            }
            t if is_integer(t) => Some(0),
            _ => None,
        }
    }
    u8::try_from(scale(legacy)?.max(scale(target)?).max(0)).ok()
}

fn mode_of(l: Family, r: Family, text: TextOpts, int_as_bool: bool) -> Option<CompareAs> {
    use Family as F;
    Some(match (l, r) {
        // Every value of a Null-typed column is NULL, whatever the other side's mode (two of
        // them need some mode: any will do).
        (F::Binary, F::Binary) | (F::Null, F::Null) => CompareAs::Binary,
        (F::Null, other) | (other, F::Null) => return mode_of(other, other, text, int_as_bool),
        (F::Integer | F::Decimal, F::Integer | F::Decimal) => CompareAs::Numeric,
        (F::Float, F::Integer | F::Decimal | F::Float) | (F::Integer | F::Decimal, F::Float) => {
            CompareAs::Float
        }
        (F::Text, F::Text) => CompareAs::Text(text),
        (F::Bool, F::Bool) => CompareAs::Bool,
        (F::Bool, F::Integer) | (F::Integer, F::Bool) if int_as_bool => CompareAs::Bool,
        (F::Date, F::Date) => CompareAs::Date,
        (F::Timestamp, F::Timestamp) => CompareAs::Timestamp,
        (F::Time, F::Time) => CompareAs::Time,
        _ => return None,
    })
}

fn tolerance_for(
    o: &ColumnOptions,
    mode: CompareAs,
) -> std::result::Result<Option<Tolerance>, CompareError> {
    let abs = o
        .abs_tolerance
        .as_ref()
        .map(super::config::ToleranceSetting::as_decimal_text);
    let rel = o.rel_tolerance.unwrap_or(0.0);
    let abs = match abs {
        None => crate::value::Decimal::ZERO,
        Some(text) => crate::value::Decimal::parse(&text).ok_or(CompareError::Tolerance(text))?,
    };
    if abs == crate::value::Decimal::ZERO && rel == 0.0 {
        return Ok(None);
    }
    if !matches!(mode, CompareAs::Numeric | CompareAs::Float) {
        return Err(CompareError::ToleranceMode(format!("{mode:?}")));
    }
    Ok(Some(Tolerance { abs, rel }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_cast;

    #[test]
    fn families_decide_the_mode() {
        let o = ColumnOptions::default();
        assert_eq!(
            codec_for(&DataType::Int32, &DataType::Decimal128(20, 5), &o)
                .map(|c| c.mode)
                .ok(),
            Some(CompareAs::Numeric)
        );
        assert_eq!(
            codec_for(&DataType::Float32, &DataType::Int64, &o)
                .map(|c| c.mode)
                .ok(),
            Some(CompareAs::Float)
        );
        assert!(codec_for(&DataType::Utf8, &DataType::Int64, &o).is_err());
        let err =
            codec_for(&DataType::Int8, &DataType::Boolean, &o).expect_err("needs int_as_bool");
        assert!(err.to_string().contains("int_as_bool"), "{err}");
        let o = ColumnOptions {
            int_as_bool: Some(true),
            ..Default::default()
        };
        assert_eq!(
            codec_for(&DataType::Int8, &DataType::Boolean, &o)
                .map(|c| c.mode)
                .ok(),
            Some(CompareAs::Bool)
        );
    }

    #[test]
    fn numeric_pairs_get_the_larger_declared_scale() {
        let o = ColumnOptions::default();
        let fixed = |l: DataType, t: DataType| codec_for(&l, &t, &o).ok().map(|c| c.fixed_scale);
        assert_eq!(
            fixed(DataType::Int32, DataType::Decimal128(20, 5)),
            Some(Some(5))
        );
        assert_eq!(
            fixed(DataType::Decimal64(18, 4), DataType::Decimal32(9, 2)),
            Some(Some(4))
        );
        assert_eq!(fixed(DataType::Int64, DataType::UInt8), Some(Some(0)));
        assert_eq!(
            fixed(DataType::Decimal128(5, -2), DataType::Decimal128(5, -3)),
            Some(Some(0))
        );
        let dict = DataType::Dictionary(
            Box::new(DataType::Int32),
            Box::new(DataType::Decimal128(10, 3)),
        );
        assert_eq!(fixed(dict, DataType::Int64), Some(Some(3)));
        // Normalized as before: Decimal256, floats, NULL-typed columns, casts.
        assert_eq!(
            fixed(DataType::Decimal256(40, 2), DataType::Decimal128(10, 2)),
            Some(None)
        );
        assert_eq!(fixed(DataType::Float64, DataType::Int64), Some(None));
        assert_eq!(
            fixed(DataType::Null, DataType::Decimal128(10, 2)),
            Some(None)
        );
        let cast = ColumnOptions {
            cast: Some(crate::config::Cast(DataType::Decimal128(18, 3))),
            ..ColumnOptions::default()
        };
        let c = codec_for(&DataType::Utf8, &DataType::Decimal128(18, 3), &cast).expect("cast");
        assert_eq!(c.fixed_scale, None);
    }

    #[test]
    fn casts_parse() {
        assert_eq!(
            parse_cast("decimal(18, 3)").ok(),
            Some(DataType::Decimal128(18, 3))
        );
        assert_eq!(parse_cast("STRING").ok(), Some(DataType::Utf8));
        assert!(parse_cast("decimal(3,9)").is_err());
        assert!(parse_cast("blob").is_err());
        for undocumented in ["int", "bigint", "varchar", "double", "bool", "utf8"] {
            assert!(parse_cast(undocumented).is_err(), "{undocumented}");
        }
    }
}
