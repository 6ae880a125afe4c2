//! The generator's model: stateless randomness, the word lists, how a column's values are
//! made (`Kind`), table specs with their drift rates, each row's fate, and what a planted
//! change does to a value.

use arrow::datatypes::DataType;

use super::values::V;

pub(super) const RIYADH: i64 = 3 * 3600;

/// A stateless random number: the same (seed, row, salt) always gives the same value.
pub(super) fn rnd(seed: u64, row: u64, salt: u64) -> u64 {
    let mut z =
        seed ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) fn unit(seed: u64, row: u64, salt: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let u = (rnd(seed, row, salt) >> 11) as f64 / (1u64 << 53) as f64;
    u
}

pub(super) fn pick<'a>(seed: u64, row: u64, salt: u64, from: &[&'a str]) -> &'a str {
    from[usize::try_from(rnd(seed, row, salt) % from.len() as u64).unwrap_or(0)]
}

pub(super) const FIRST: &[&str] = &[
    "Ahmed", "Sara", "Omar", "Lina", "Khalid", "Noura", "James", "Maria", "Yusuf", "Huda",
];
pub(super) const LAST: &[&str] = &[
    "Al-Harbi", "Haddad", "Nasser", "Smith", "Garcia", "Qureshi", "Farouk", "Mansour",
];
pub(super) const ARABIC: &[&str] = &[
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
pub(super) const NOTES: &[&str] = &[
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
pub(super) const STATUS: &[&str] = &[
    "Draft",
    "Open",
    "InProgress",
    "Completed",
    "Invoiced",
    "Cancelled",
];
pub(super) const MAKES: &[&str] = &[
    "Toyota",
    "Hyundai",
    "Nissan",
    "Ford",
    "Kia",
    "Chevrolet",
    "Lexus",
];
pub(super) const CURRENCY: &[&str] = &["SAR", "AED", "USD"];

/// How a column's values are made.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
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
pub(super) struct Col {
    pub(super) legacy: &'static str,
    pub(super) target: &'static str,
    pub(super) kind: Kind,
    pub(super) lt: DataType,
    pub(super) tt: DataType,
    /// Whether planted changes may hit it.
    pub(super) drift: bool,
}

pub(super) fn col(
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
pub(super) struct Rates {
    pub(super) missing: f64,
    pub(super) changed: f64,
    pub(super) extra: f64,
    pub(super) duplicate: f64,
    pub(super) null_key: f64,
    /// Differences the config declares equal (whitespace under `trim`, cents within tolerance).
    pub(super) cosmetic: f64,
}

/// A generated table pair.
#[derive(Debug, Clone)]
pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) legacy: &'static str,
    pub(super) target: &'static str,
    pub(super) rows: u64,
    pub(super) cols: Vec<Col>,
    pub(super) key: Vec<&'static str>,
    pub(super) rates: Rates,
    /// The column cosmetic differences go to, and how.
    pub(super) cosmetic_col: Option<&'static str>,
    /// Columns only the legacy side has (dropped by the migration).
    pub(super) legacy_only: Vec<Col>,
    /// A column whose values two rows of different tenants swap in the target: the grouped
    /// total fails while the overall total passes.
    pub(super) swap_col: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
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
    pub(super) fn fate(&self, seed: u64, row: u64) -> Fate {
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

    pub(super) fn extra_rows(&self) -> u64 {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let n = (self.rows as f64 * self.rates.extra).round() as u64;
        n
    }
}

pub(super) fn value(seed: u64, row: u64, salt: u64, kind: Kind) -> V {
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
pub(super) fn change(v: V, seed: u64, row: u64) -> V {
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
pub(super) fn damage_text(s: &str, r: u64) -> String {
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
pub(super) fn cosmetic(v: V) -> V {
    match v {
        V::Str(s) => V::Str(format!("  {s} ")),
        V::Dec(m, s) if s >= 3 => V::Dec(m + 4, s), // 0.004 with abs_tolerance 0.005
        other => other,
    }
}
