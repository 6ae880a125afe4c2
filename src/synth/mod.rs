//! `recon gen`: a synthetic migration of a workshop/booking ERP. The legacy snapshot is shaped like
//! a MySQL export (INT keys, DECIMAL money, naive DATETIME in local time, TINYINT(1) flags, Arabic
//! and English text); the target like a PostgreSQL one (renamed tables and columns, timestamptz,
//! booleans, wider decimals). Drift of every kind is planted at known rows, and the truth — the
//! counts a correct reconciliation must report — is written beside the snapshots with a matching
//! `recon.toml`. Every value is a pure function of (seed, row, column), so output is reproducible
//! and the target can be written in shuffled order.

pub mod values;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use values::{Builder, V, ty};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// Four related ERP tables with every kind of drift (the demo).
    Erp,
    /// One 15-column service_orders-like table for benchmarks.
    Bench,
}

/// Generator settings.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Service orders (other tables scale from it).
    pub rows: u64,
    /// Seed of every value.
    pub seed: u64,
    /// Which data set.
    pub profile: Profile,
    /// Rows per row group.
    pub row_group: usize,
}

const RIYADH: i64 = 3 * 3600;

/// A stateless random number: the same (seed, row, salt) always gives the same value.
fn rnd(seed: u64, row: u64, salt: u64) -> u64 {
    let mut z =
        seed ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(seed: u64, row: u64, salt: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let u = (rnd(seed, row, salt) >> 11) as f64 / (1u64 << 53) as f64;
    u
}

fn pick<'a>(seed: u64, row: u64, salt: u64, from: &[&'a str]) -> &'a str {
    from[usize::try_from(rnd(seed, row, salt) % from.len() as u64).unwrap_or(0)]
}

const FIRST: &[&str] = &[
    "Ahmed", "Sara", "Omar", "Lina", "Khalid", "Noura", "James", "Maria", "Yusuf", "Huda",
];
const LAST: &[&str] = &[
    "Al-Harbi", "Haddad", "Nasser", "Smith", "Garcia", "Qureshi", "Farouk", "Mansour",
];
const ARABIC: &[&str] = &[
    "محمد العتيبي",
    "فاطمة الزهراني",
    "عبدالله القحطاني",
    "نورة الشمري",
    "خالد الدوسري",
    "ريم الحربي",
    // Hamza letters: their NFD form differs (the usual damage of a macOS or Java export).
    "أحمد الغامدي",
    "إيمان السبيعي",
];
const NOTES: &[&str] = &[
    "تغيير زيت المحرك",
    "فحص الفرامل الأمامية",
    "Replace front brake pads",
    "استبدال البطارية",
    "Wheel alignment and balancing",
    "صيانة دورية ١٠٬٠٠٠ كم",
    "AC regas — customer waiting",
    "فحص إطارات السيارة",
    "تغيير الأضواء الأمامية",
];
const STATUS: &[&str] = &[
    "Draft",
    "Open",
    "InProgress",
    "Completed",
    "Invoiced",
    "Cancelled",
];
const MAKES: &[&str] = &[
    "Toyota",
    "Hyundai",
    "Nissan",
    "Ford",
    "Kia",
    "Chevrolet",
    "Lexus",
];
const CURRENCY: &[&str] = &["SAR", "AED", "USD"];

/// How a column's values are made.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `row + 1`.
    Key,
    /// A reference into another table of `n` rows: `1..=n`.
    Ref(u64),
    /// A tenant id 1..=5.
    Tenant,
    /// An integer in a range.
    Int(i64, i64),
    /// Money with `scale` decimals up to `max` whole units.
    Money(i8, i64),
    /// A date in 2023-2025.
    Date,
    /// A naive local timestamp in 2023-2025.
    Ts,
    /// A flag.
    Flag,
    /// A float in quarters (exact in f32).
    Rate,
    /// An English full name.
    Name,
    /// An Arabic name.
    Arabic,
    /// A workshop note, Arabic or English; NULL 20 % of the time.
    Note,
    /// An order status.
    Status,
    /// A car make.
    Make,
    /// A plate number.
    Plate,
    /// A currency code.
    Currency,
    /// An invoice number `INV-0000001`.
    InvoiceNo,
    /// A phone number.
    Phone,
    /// The sum of three money columns of the row (by column index).
    Sum(usize, usize, usize),
}

/// A column of a generated table.
#[derive(Debug, Clone)]
struct Col {
    legacy: &'static str,
    target: &'static str,
    kind: Kind,
    lt: DataType,
    tt: DataType,
    /// Whether planted changes may hit it.
    drift: bool,
}

fn col(
    legacy: &'static str,
    target: &'static str,
    kind: Kind,
    lt: DataType,
    tt: DataType,
    drift: bool,
) -> Col {
    Col {
        legacy,
        target,
        kind,
        lt,
        tt,
        drift,
    }
}

/// Fractions of rows that get each fate.
#[derive(Debug, Clone, Copy, Default)]
struct Rates {
    missing: f64,
    changed: f64,
    extra: f64,
    duplicate: f64,
    null_key: f64,
    /// Differences the config declares equal (whitespace under `trim`, cents within tolerance).
    cosmetic: f64,
}

/// A generated table pair.
#[derive(Debug, Clone)]
struct Spec {
    name: &'static str,
    legacy: &'static str,
    target: &'static str,
    rows: u64,
    cols: Vec<Col>,
    key: Vec<&'static str>,
    rates: Rates,
    /// The column cosmetic differences go to, and how.
    cosmetic_col: Option<&'static str>,
    /// Columns only the legacy side has (dropped by the migration).
    legacy_only: Vec<Col>,
    /// A column whose values two rows of different tenants swap in the target: the grouped
    /// total fails while the overall total passes.
    swap_col: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Same,
    Missing,
    Changed(usize),
    Duplicate,
    NullKey,
    Cosmetic,
    /// The target row carries this other row's value in the spec's swap column.
    Swap(u64),
}

impl Spec {
    fn fate(&self, seed: u64, row: u64) -> Fate {
        let r = self.rates;
        let u = unit(seed, row, 0xFA7E);
        let mut at = r.missing;
        if u < at {
            return Fate::Missing;
        }
        at += r.changed;
        if u < at {
            let drift: Vec<usize> = self
                .cols
                .iter()
                .enumerate()
                .filter(|(_, c)| c.drift)
                .map(|(i, _)| i)
                .collect();
            let which =
                drift[usize::try_from(rnd(seed, row, 0xC01) % drift.len() as u64).unwrap_or(0)];
            return Fate::Changed(which);
        }
        at += r.duplicate;
        if u < at {
            return Fate::Duplicate;
        }
        at += r.null_key;
        if u < at {
            return Fate::NullKey;
        }
        at += r.cosmetic;
        if u < at && self.cosmetic_col.is_some() {
            return Fate::Cosmetic;
        }
        Fate::Same
    }

    fn extra_rows(&self) -> u64 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let n = (self.rows as f64 * self.rates.extra).round() as u64;
        n
    }
}

fn value(seed: u64, row: u64, salt: u64, kind: Kind) -> V {
    let r = rnd(seed, row, salt);
    #[allow(clippy::cast_possible_wrap)]
    match kind {
        Kind::Key => V::Int(i64::try_from(row).unwrap_or(i64::MAX) + 1),
        Kind::Ref(n) => V::Int(i64::try_from(r % n.max(1)).unwrap_or(0) + 1),
        Kind::Tenant => V::Int((r % 5) as i64 + 1),
        Kind::Int(lo, hi) => V::Int(lo + (r % u64::try_from(hi - lo + 1).unwrap_or(1)) as i64),
        Kind::Money(scale, max) => {
            let units = 10i128.pow(u32::try_from(scale).unwrap_or(0));
            V::Dec(
                i128::from(r % u64::try_from(max).unwrap_or(1)) * units
                    + i128::from(r >> 40) % units,
                scale,
            )
        }
        Kind::Date => V::Date(19_358 + (r % 1000) as i32),
        Kind::Ts => V::Ts((1_672_531_200 + (r % 86_400_000) as i64) * 1_000_000),
        Kind::Flag => V::Bool(r.is_multiple_of(3)),
        #[allow(clippy::cast_precision_loss)]
        Kind::Rate => V::Float((r % 120) as f64 / 4.0),
        Kind::Name => V::Str(format!(
            "{} {}",
            pick(seed, row, salt, FIRST),
            pick(seed, row, salt + 1, LAST)
        )),
        Kind::Arabic => V::Str(pick(seed, row, salt, ARABIC).to_owned()),
        Kind::Note => {
            if r.is_multiple_of(5) {
                V::Null
            } else {
                V::Str(pick(seed, row, salt + 1, NOTES).to_owned())
            }
        }
        Kind::Status => V::Str(pick(seed, row, salt, STATUS).to_owned()),
        Kind::Make => V::Str(pick(seed, row, salt, MAKES).to_owned()),
        Kind::Plate => V::Str(format!(
            "{} {:04}",
            ["ABC", "KSA", "RYD", "JED"][(r % 4) as usize],
            r % 10_000
        )),
        Kind::Currency => V::Str(pick(seed, row, salt, CURRENCY).to_owned()),
        Kind::InvoiceNo => V::Str(format!("INV-{:07}", row + 1)),
        Kind::Phone => V::Str(format!("+9665{:08}", r % 100_000_000)),
        // Computed from other columns by `row_value`.
        Kind::Sum(..) => V::Null,
    }
}

/// A planted change: always a real difference, never one the config declares equal.
fn change(v: V, seed: u64, row: u64) -> V {
    match v {
        V::Null => V::Str(String::new()),
        V::Int(x) => V::Int(x + 1),
        V::Dec(m, s) => V::Dec(m + 1, s),
        V::Str(s) if STATUS.contains(&s.as_str()) => {
            let other = STATUS.iter().find(|x| **x != s).copied().unwrap_or("Draft");
            V::Str(other.to_owned())
        }
        V::Str(s) if !s.is_ascii() => V::Str(damage_text(&s, rnd(seed, row, 0xA7AB))),
        V::Str(s) if rnd(seed, row, 0x5717).is_multiple_of(2) => V::Str(format!("{s}.")),
        V::Str(s) => V::Str(s.chars().rev().collect::<String>() + "~"),
        V::Bool(b) => V::Bool(!b),
        V::Date(d) => V::Date(d + 1),
        V::Ts(t) => V::Ts(t + 3_600_000_000),
        V::Float(f) => V::Float(f + 0.5),
    }
}

/// What migrations do to Arabic text, one kind per planted change: decomposed to NFD (where
/// that changes the text), read back as Windows-1252 mojibake, padded with a trailing space, or
/// cut short by a narrower column. `recon`'s drift classes name each of them.
fn damage_text(s: &str, r: u64) -> String {
    use unicode_normalization::UnicodeNormalization;
    let nfd: String = s.nfd().collect();
    match r % 4 {
        0 if nfd != s => nfd,
        0 | 1 => s.bytes().map(char::from).collect(),
        2 => format!("{s} "),
        _ => s
            .chars()
            .take(s.chars().count().saturating_sub(3).max(1))
            .collect(),
    }
}

/// A difference the config declares equal.
fn cosmetic(v: V) -> V {
    match v {
        V::Str(s) => V::Str(format!("  {s} ")),
        V::Dec(m, s) if s >= 3 => V::Dec(m + 4, s), // 0.004 with abs_tolerance 0.005
        other => other,
    }
}

fn specs(rows: u64, profile: Profile) -> Vec<Spec> {
    use DataType::{Boolean, Date32, Float32, Float64, Int8, Int16, Int32, Int64, Utf8};
    if profile == Profile::Bench {
        return vec![
            Spec {
                name: "service_orders",
                legacy: "service_orders",
                target: "service_orders",
                rows,
                key: vec!["order_id"],
                cols: vec![
                    col("order_id", "order_id", Kind::Key, Int64, Int64, false),
                    col("tenant_id", "tenant_id", Kind::Tenant, Int32, Int32, true),
                    col(
                        "vehicle_id",
                        "vehicle_id",
                        Kind::Ref(rows / 3 + 1),
                        Int64,
                        Int64,
                        true,
                    ),
                    col(
                        "mileage",
                        "mileage",
                        Kind::Int(0, 400_000),
                        Int32,
                        Int32,
                        true,
                    ),
                    col(
                        "parts_total",
                        "parts_total",
                        Kind::Money(3, 5_000),
                        ty::dec(18, 3),
                        ty::dec(18, 3),
                        true,
                    ),
                    col(
                        "labor_total",
                        "labor_total",
                        Kind::Money(3, 2_000),
                        ty::dec(18, 3),
                        ty::dec(18, 3),
                        true,
                    ),
                    col(
                        "vat_amount",
                        "vat_amount",
                        Kind::Money(3, 1_000),
                        ty::dec(18, 3),
                        ty::dec(18, 3),
                        true,
                    ),
                    col(
                        "final_amount",
                        "final_amount",
                        Kind::Sum(4, 5, 6),
                        ty::dec(18, 3),
                        ty::dec(18, 3),
                        true,
                    ),
                    col("opened_on", "opened_on", Kind::Date, Date32, Date32, true),
                    col(
                        "opened_at",
                        "opened_at",
                        Kind::Ts,
                        ty::naive(),
                        ty::naive(),
                        true,
                    ),
                    col(
                        "discount_rate",
                        "discount_rate",
                        Kind::Rate,
                        Float64,
                        Float64,
                        true,
                    ),
                    col("status", "status", Kind::Status, Utf8, Utf8, true),
                    col(
                        "customer_name",
                        "customer_name",
                        Kind::Arabic,
                        Utf8,
                        Utf8,
                        true,
                    ),
                    col("plate", "plate", Kind::Plate, Utf8, Utf8, true),
                    col("notes", "notes", Kind::Note, Utf8, Utf8, true),
                    col(
                        "is_warranty",
                        "is_warranty",
                        Kind::Flag,
                        Boolean,
                        Boolean,
                        true,
                    ),
                ],
                rates: Rates {
                    missing: 0.0005,
                    changed: 0.001,
                    extra: 0.0005,
                    ..Rates::default()
                },
                cosmetic_col: None,
                legacy_only: Vec::new(),
                swap_col: None,
            },
            Spec {
                name: "vehicles",
                legacy: "vehicles",
                target: "vehicles",
                rows: rows / 3 + 1,
                key: vec!["id"],
                cols: vec![
                    col("id", "id", Kind::Key, Int64, Int64, false),
                    col("make", "make", Kind::Make, Utf8, Utf8, false),
                    col("plate", "plate", Kind::Plate, Utf8, Utf8, false),
                ],
                rates: Rates::default(),
                cosmetic_col: None,
                legacy_only: Vec::new(),
                swap_col: None,
            },
        ];
    }
    let customers = (rows / 4).max(10);
    let vehicles = (rows / 3).max(10);
    vec![
        Spec {
            name: "customers",
            legacy: "customers",
            target: "customers",
            rows: customers,
            key: vec!["id"],
            cols: vec![
                col("id", "id", Kind::Key, Int32, Int64, false),
                col("tenant_id", "tenant_id", Kind::Tenant, Int32, Int64, false),
                col("name", "full_name", Kind::Name, Utf8, Utf8, false),
                col("name_ar", "name_ar", Kind::Arabic, Utf8, Utf8, false),
                col("phone", "phone", Kind::Phone, Utf8, Utf8, false),
                col("is_active", "is_active", Kind::Flag, Int8, Boolean, false),
                col(
                    "created_at",
                    "created_at",
                    Kind::Ts,
                    ty::naive(),
                    ty::tz(),
                    false,
                ),
                col(
                    "balance",
                    "balance",
                    Kind::Money(2, 20_000),
                    ty::dec(12, 2),
                    ty::dec(18, 4),
                    false,
                ),
            ],
            rates: Rates {
                cosmetic: 0.01,
                ..Rates::default()
            },
            cosmetic_col: Some("name"),
            legacy_only: vec![col("fax", "fax", Kind::Phone, Utf8, Utf8, false)],
            swap_col: Some("balance"),
        },
        Spec {
            name: "vehicles",
            legacy: "vehicles",
            target: "vehicles",
            rows: vehicles,
            key: vec!["id"],
            cols: vec![
                col("id", "id", Kind::Key, Int32, Int64, false),
                col(
                    "customer_id",
                    "customer_id",
                    Kind::Ref(customers),
                    Int32,
                    Int64,
                    false,
                ),
                col("make", "make", Kind::Make, Utf8, Utf8, false),
                col(
                    "model_year",
                    "model_year",
                    Kind::Int(2005, 2025),
                    Int16,
                    Int32,
                    false,
                ),
                col("plate", "plate", Kind::Plate, Utf8, Utf8, false),
            ],
            rates: Rates::default(),
            cosmetic_col: None,
            legacy_only: Vec::new(),
            swap_col: None,
        },
        Spec {
            name: "service_orders",
            legacy: "service_orders",
            target: "work_orders",
            rows,
            key: vec!["order_id"],
            cols: vec![
                col("order_id", "order_id", Kind::Key, Int32, Int64, false),
                col("tenant_id", "tenant_id", Kind::Tenant, Int32, Int64, false),
                col(
                    "vehicle_id",
                    "vehicle_id",
                    Kind::Ref(vehicles),
                    Int32,
                    Int64,
                    false,
                ),
                col("status", "status", Kind::Status, Utf8, Utf8, true),
                col("opened_on", "opened_on", Kind::Date, Date32, Date32, true),
                col(
                    "opened_at",
                    "opened_at",
                    Kind::Ts,
                    ty::naive(),
                    ty::tz(),
                    true,
                ),
                col(
                    "mileage",
                    "mileage",
                    Kind::Int(0, 400_000),
                    Int32,
                    Int64,
                    true,
                ),
                col(
                    "parts_total",
                    "parts_total",
                    Kind::Money(2, 5_000),
                    ty::dec(12, 2),
                    ty::dec(18, 4),
                    false,
                ),
                col(
                    "labor_total",
                    "labor_total",
                    Kind::Money(2, 2_000),
                    ty::dec(12, 2),
                    ty::dec(18, 4),
                    false,
                ),
                col(
                    "vat_amount",
                    "vat_amount",
                    Kind::Money(2, 1_000),
                    ty::dec(12, 2),
                    ty::dec(18, 4),
                    false,
                ),
                // final = parts + labor + vat: the invariant the checks hold.
                col(
                    "final_amount",
                    "total_amount",
                    Kind::Sum(7, 8, 9),
                    ty::dec(12, 2),
                    ty::dec(18, 4),
                    true,
                ),
                col(
                    "discount_rate",
                    "discount_rate",
                    Kind::Rate,
                    Float32,
                    Float64,
                    true,
                ),
                col(
                    "is_warranty",
                    "is_warranty",
                    Kind::Flag,
                    Int8,
                    Boolean,
                    true,
                ),
                col("notes", "notes", Kind::Note, Utf8, Utf8, true),
            ],
            rates: Rates {
                missing: 0.002,
                changed: 0.008,
                extra: 0.002,
                duplicate: 0.0,
                null_key: 0.0,
                cosmetic: 0.0,
            },
            cosmetic_col: None,
            legacy_only: Vec::new(),
            swap_col: None,
        },
        Spec {
            name: "invoices",
            legacy: "invoices",
            target: "invoices",
            rows: (rows * 4 / 5).max(10),
            key: vec!["tenant_id", "invoice_no"],
            cols: vec![
                col("tenant_id", "tenant_id", Kind::Tenant, Int32, Int64, false),
                col(
                    "invoice_no",
                    "invoice_no",
                    Kind::InvoiceNo,
                    Utf8,
                    Utf8,
                    false,
                ),
                col("order_id", "order_id", Kind::Ref(rows), Int32, Int64, false),
                col(
                    "issued_at",
                    "issued_at",
                    Kind::Ts,
                    ty::naive(),
                    ty::tz(),
                    false,
                ),
                col(
                    "amount",
                    "amount",
                    Kind::Money(3, 9_000),
                    ty::dec(12, 3),
                    ty::dec(18, 3),
                    true,
                ),
                col(
                    "tax",
                    "tax",
                    Kind::Money(3, 1_000),
                    ty::dec(12, 3),
                    ty::dec(18, 3),
                    false,
                ),
                col("currency", "currency", Kind::Currency, Utf8, Utf8, false),
                col("paid", "paid", Kind::Flag, Int8, Boolean, false),
            ],
            rates: Rates {
                missing: 0.001,
                changed: 0.003,
                extra: 0.001,
                duplicate: 0.001,
                null_key: 0.001,
                cosmetic: 0.01,
            },
            cosmetic_col: Some("tax"),
            legacy_only: Vec::new(),
            swap_col: None,
        },
    ]
}

/// The counts a correct reconciliation reports for one table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TableTruth {
    /// Legacy rows.
    pub legacy_rows: u64,
    /// Target rows.
    pub target_rows: u64,
    /// Matched rows (cosmetic differences included).
    pub matched: u64,
    /// Changed rows.
    pub changed: u64,
    /// Missing rows.
    pub missing: u64,
    /// Extra rows (planted extras and duplicate copies).
    pub extra: u64,
    /// NULL-key rows per side.
    pub null_key_rows: crate::side::PerSide<u64>,
    /// Duplicate keys per side.
    pub duplicate_keys: crate::side::PerSide<u64>,
    /// Changed rows per column (legacy names; every compared column listed).
    pub columns: BTreeMap<String, u64>,
    /// Rows that differ only in ways the config declares equal.
    pub cosmetic: u64,
}

/// Writes the snapshots, `recon.toml` and `truth.json` into `out`; returns the truth.
pub fn generate(out: &Path, opts: &GenOptions) -> Result<Truth> {
    let mut truth = Truth::default();
    let mut written = BTreeMap::new();
    let specs = specs(opts.rows, opts.profile);
    for spec in &specs {
        let (t, w) = write_pair(out, spec, opts)?;
        truth.tables.insert(spec.name.to_owned(), t);
        written.insert(spec.name, w);
    }
    if let (Some(inv), Some(orders)) = (
        specs.iter().find(|s| s.name == "invoices"),
        written.get("service_orders"),
    ) && let Some(w) = written.get("invoices")
    {
        truth.checks.insert(
            "orphans.invoices.order_id.service_orders".into(),
            new_orphans(inv, w, orders),
        );
    }
    let text = serde_json::to_string_pretty(&truth).map_err(|e| Error::Internal(e.to_string()))?;
    write_file(&out.join("truth.json"), format!("{text}\n").as_bytes())?;
    write_file(
        &out.join("recon.toml"),
        config_text(opts.profile).as_bytes(),
    )?;
    if opts.profile == Profile::Bench {
        write_file(&out.join("checks.toml"), bench_checks_text().as_bytes())?;
    }
    if opts.profile == Profile::Erp {
        for (name, sql) in GOLDEN {
            write_file(&out.join("queries").join(name), sql.as_bytes())?;
        }
    }
    Ok(truth)
}

/// The golden queries of `queries/`, shipped with every generated ERP migration.
pub const GOLDEN: [(&str, &str); 3] = [
    (
        "customers_by_tenant.sql",
        include_str!("../../queries/customers_by_tenant.sql"),
    ),
    (
        "revenue_by_tenant.legacy.sql",
        include_str!("../../queries/revenue_by_tenant.legacy.sql"),
    ),
    (
        "revenue_by_tenant.target.sql",
        include_str!("../../queries/revenue_by_tenant.target.sql"),
    ),
];

/// What a correct run reports: per table, and for the checks whose outcome is planted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Truth {
    /// Per table pair.
    pub tables: BTreeMap<String, TableTruth>,
    /// Per check id: the expected measurements.
    pub checks: BTreeMap<String, BTreeMap<String, u64>>,
}

/// What `write_pair` decided: the fates of legacy rows and the target's rows, and the seed.
struct Written {
    fates: Vec<Fate>,
    target_rows: Vec<(u64, Fate)>,
    seed: u64,
}

/// Invoices in the target whose order is missing from the target: the migration's new orphans.
fn new_orphans(inv: &Spec, w: &Written, orders: &Written) -> BTreeMap<String, u64> {
    let Some(oci) = inv.cols.iter().position(|c| c.legacy == "order_id") else {
        return BTreeMap::new();
    };
    let orphan = |row: u64| match value(w.seed, row, oci as u64 + 1, inv.cols[oci].kind) {
        V::Int(order) => {
            usize::try_from(order - 1)
                .ok()
                .and_then(|i| orders.fates.get(i))
                == Some(&Fate::Missing)
        }
        _ => false,
    };
    // Every order exists on the legacy side, so every target orphan is new.
    let target = w.target_rows.iter().filter(|(r, _)| orphan(*r)).count() as u64;
    BTreeMap::from([
        ("new_orphans".into(), target),
        ("orphans_target".into(), target),
    ])
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

fn write_pair(out: &Path, spec: &Spec, opts: &GenOptions) -> Result<(TableTruth, Written)> {
    let seed = opts.seed
        ^ rnd(
            0,
            spec.name.len() as u64,
            spec.name.bytes().map(u64::from).sum(),
        );
    let mut truth = TableTruth::default();
    for c in &spec.cols {
        if !spec.key.contains(&c.legacy) {
            truth.columns.insert(c.legacy.to_owned(), 0);
        }
    }
    // Fates decide which legacy rows reach the target and how; the target is shuffled.
    let fates: Vec<Fate> = (0..spec.rows)
        .into_par_iter()
        .map(|r| spec.fate(seed, r))
        .collect();
    let mut fates = fates;
    if let Some(col) = spec.swap_col {
        plant_swap(spec, col, seed, &mut fates);
    }
    let mut target_rows: Vec<(u64, Fate)> = Vec::with_capacity(fates.len());
    for (r, f) in fates.iter().enumerate() {
        let r = r as u64;
        match f {
            Fate::Missing => truth.missing += 1,
            Fate::NullKey => {
                truth.null_key_rows.legacy += 1;
                truth.null_key_rows.target += 1;
                target_rows.push((r, *f));
            }
            Fate::Duplicate => {
                truth.matched += 1;
                truth.extra += 1;
                truth.duplicate_keys.target += 1;
                target_rows.push((r, *f));
                target_rows.push((r, *f));
            }
            Fate::Changed(c) => {
                truth.changed += 1;
                *truth
                    .columns
                    .entry(spec.cols[*c].legacy.to_owned())
                    .or_default() += 1;
                target_rows.push((r, *f));
            }
            Fate::Swap(_) => {
                truth.changed += 1;
                *truth
                    .columns
                    .entry(spec.swap_col.unwrap_or_default().to_owned())
                    .or_default() += 1;
                target_rows.push((r, *f));
            }
            Fate::Cosmetic => {
                truth.cosmetic += 1;
                truth.matched += 1;
                target_rows.push((r, *f));
            }
            Fate::Same => {
                truth.matched += 1;
                target_rows.push((r, *f));
            }
        }
    }
    let extras = spec.extra_rows();
    truth.extra += extras;
    target_rows.extend((spec.rows..spec.rows + extras).map(|r| (r, Fate::Same)));
    // Fisher-Yates with the stateless generator: deterministic for a seed.
    for i in (1..target_rows.len()).rev() {
        let j = usize::try_from(rnd(seed, i as u64, 0x5_4FF1E) % (i as u64 + 1)).unwrap_or(0);
        target_rows.swap(i, j);
    }
    truth.legacy_rows = spec.rows;
    truth.target_rows = target_rows.len() as u64;

    let legacy_cols: Vec<&Col> = spec.cols.iter().chain(&spec.legacy_only).collect();
    let legacy_rows: Vec<(u64, Fate)> = fates
        .iter()
        .enumerate()
        .map(|(r, f)| (r as u64, *f))
        .collect();
    write_table(
        &out.join("legacy").join(format!("{}.parquet", spec.legacy)),
        spec,
        &legacy_cols,
        &legacy_rows,
        seed,
        true,
        opts,
    )?;
    let target_cols: Vec<&Col> = spec.cols.iter().collect();
    write_table(
        &out.join("target").join(format!("{}.parquet", spec.target)),
        spec,
        &target_cols,
        &target_rows,
        seed,
        false,
        opts,
    )?;
    Ok((
        truth,
        Written {
            fates,
            target_rows,
            seed,
        },
    ))
}

/// Picks the first unchanged rows of tenants 1 and 2 and swaps their `col` values.
fn plant_swap(spec: &Spec, col: &str, seed: u64, fates: &mut [Fate]) {
    let tenant_ci = spec.cols.iter().position(|c| c.legacy == "tenant_id");
    let Some(tci) = tenant_ci else { return };
    let first_of = |t: i64, fates: &[Fate]| {
        fates.iter().enumerate().position(|(r, f)| {
            *f == Fate::Same
                && value(seed, r as u64, tci as u64 + 1, spec.cols[tci].kind) == V::Int(t)
        })
    };
    let Some(sci) = spec.cols.iter().position(|c| c.legacy == col) else {
        return;
    };
    let of = |r: usize| value(seed, r as u64, sci as u64 + 1, spec.cols[sci].kind);
    if let (Some(a), Some(b)) = (first_of(1, fates), first_of(2, fates)) {
        if of(a) == of(b) {
            return;
        }
        fates[a] = Fate::Swap(b as u64);
        fates[b] = Fate::Swap(a as u64);
    }
}

fn row_value(
    spec: &Spec,
    col: &Col,
    ci: usize,
    seed: u64,
    row: u64,
    fate: Fate,
    legacy: bool,
) -> V {
    let base = |row: u64, ci: usize, kind: Kind| match kind {
        Kind::Sum(a, b, c) => {
            let part = |i: usize| match value(seed, row, i as u64 + 1, spec.cols[i].kind) {
                V::Dec(m, _) => m,
                _ => 0,
            };
            let scale = match spec.cols[a].kind {
                Kind::Money(s, _) => s,
                _ => 2,
            };
            V::Dec(part(a) + part(b) + part(c), scale)
        }
        kind => value(seed, row, ci as u64 + 1, kind),
    };
    let v = base(row, ci, col.kind);
    if fate == Fate::NullKey && spec.key.last() == Some(&col.legacy) {
        return V::Null;
    }
    if legacy {
        return v;
    }
    match fate {
        Fate::Changed(c) if c == ci => change(v, seed, row),
        Fate::Cosmetic if spec.cosmetic_col == Some(col.legacy) => cosmetic(v),
        Fate::Swap(other) if spec.swap_col == Some(col.legacy) => base(other, ci, col.kind),
        _ => v,
    }
}

#[allow(clippy::too_many_arguments)]
fn write_table(
    path: &Path,
    spec: &Spec,
    cols: &[&Col],
    rows: &[(u64, Fate)],
    seed: u64,
    legacy: bool,
    opts: &GenOptions,
) -> Result<()> {
    let werr = |e: String| Error::Internal(format!("writing {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    let fields: Vec<Field> = cols
        .iter()
        .map(|c| {
            Field::new(
                if legacy { c.legacy } else { c.target },
                if legacy { c.lt.clone() } else { c.tt.clone() },
                true,
            )
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).map_err(|e| werr(e.to_string()))?,
        ))
        .set_max_row_group_row_count(Some(opts.row_group))
        .build();
    let file = File::create(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })?;
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props))
        .map_err(|e| werr(e.to_string()))?;
    let index_of = |c: &Col| {
        spec.cols
            .iter()
            .chain(&spec.legacy_only)
            .position(|x| x.legacy == c.legacy)
            .unwrap_or(0)
    };
    for chunk in rows.chunks(opts.row_group) {
        let arrays: Vec<_> = cols
            .par_iter()
            .map(|c| {
                let dt = if legacy { &c.lt } else { &c.tt };
                let mut b = Builder::new(dt, RIYADH);
                let ci = index_of(c);
                for &(row, fate) in chunk {
                    b.push(&row_value(spec, c, ci, seed, row, fate, legacy));
                }
                b.finish()
            })
            .collect();
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), arrays).map_err(|e| werr(e.to_string()))?;
        writer.write(&batch).map_err(|e| werr(e.to_string()))?;
    }
    writer.close().map_err(|e| werr(e.to_string()))?;
    Ok(())
}

fn config_text(profile: Profile) -> String {
    match profile {
        Profile::Bench => include_str!("templates/bench.toml"),
        Profile::Erp => include_str!("templates/erp.toml"),
    }
    .to_owned()
}

/// The bench's checks config: counts, totals and an orphan check over the bench tables.
fn bench_checks_text() -> &'static str {
    include_str!("templates/bench_checks.toml")
}
