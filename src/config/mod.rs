//! `recon.toml`: the serde model and its validation. No I/O beyond reading the file itself; the
//! snapshots are opened later, when a pair is resolved (`plan`).
//!
//! Every type of a [`Config`]'s fields is here, so a config can be read, changed or built in
//! code:
//!
//! ```
//! use recon::config::{Config, TableConfig};
//!
//! let mut loaded = Config::load("fixtures/erp/recon.toml".as_ref())?;
//! let first: &TableConfig = &loaded.config.tables[0];
//! assert!(!first.key.is_empty());
//! loaded.config.report.samples = 2;
//! assert!(loaded.config.validate().is_ok());
//! # Ok::<(), recon::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod alerts;
pub mod checks;
mod pair;
mod thresholds;
mod watch;
mod zone;

pub use alerts::{AlertConfig, AlertKind, AlertLevel, HumanDuration};
pub use thresholds::{GateConfig, Threshold, UnpairedLevel};
pub use watch::{DailyAt, WatchConfig, parse_every, parse_listen};
pub use zone::TimeZone;

pub use checks::{
    CheckConfig, CheckKind, CountCheck, GoldenConfig, InvariantCheck, OrphanCheck, TotalCheck,
};
pub use pair::table_root;

pub use crate::error::ConfigError;

use crate::error::{Error, Result};

/// The whole config file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The legacy snapshot.
    pub legacy: SnapshotConfig,
    /// The target snapshot.
    pub target: SnapshotConfig,
    /// Default comparison options for every column of every table.
    #[serde(default)]
    pub defaults: ColumnOptions,
    /// Default gate thresholds; tables may override them.
    #[serde(default)]
    pub gate: GateConfig,
    /// Report options.
    #[serde(default)]
    pub report: ReportConfig,
    /// The table pairs to reconcile.
    #[serde(default)]
    pub tables: Vec<TableConfig>,
    /// SQL checks (counts, totals, orphans, invariants), each with the span it was written at.
    #[serde(default)]
    pub checks: Vec<toml::Spanned<checks::CheckConfig>>,
    /// Golden queries kept as `.sql` files.
    #[serde(default)]
    pub golden: Option<checks::GoldenConfig>,
    /// Where the nightly history is kept.
    #[serde(default)]
    pub history: Option<HistoryConfig>,
    /// Where notifications go (`docs/alerts.md`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertConfig>,
    /// How `recon watch` runs this config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchConfig>,
    /// Where pairs are reconciled when not here: a Ballista cluster (`docs/cluster.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConfig>,
}

/// The `[cluster]` table: reconcile on a Ballista cluster (binaries built with the `cluster`
/// feature; `recon run --cluster` overrides it, `--local` ignores it).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The scheduler: `df://HOST:PORT`.
    pub url: String,
}

/// Where one side's snapshot lives.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// A local path (relative to the config file) or a URL (`file://`, ...).
    pub root: String,
    /// The live database `recon snapshot --config` exports to `root`:
    /// `postgres://user@host:5432/db` or `mysql://user@host:3306/db` (no password here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The `PostgreSQL` schema to export (default `public`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Columns the export writes as text instead of their own type (`table.column` or
    /// `column`), as `recon snapshot --cast` does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub casts: Vec<String>,
}

/// `[history]`: the run history store.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// A folder (relative to the config file); created on first use.
    pub dir: String,
}

/// Report settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// How many sample rows per category and table the report keeps.
    #[serde(default = "default_sample_limit")]
    pub samples: usize,
    /// A file whose contents key the redaction digests (relative to the config file); see
    /// `redact`.
    pub redaction_key_file: Option<String>,
}

fn default_sample_limit() -> usize {
    10
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            samples: default_sample_limit(),
            redaction_key_file: None,
        }
    }
}

/// One table pair.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// The name the report uses.
    pub name: String,
    /// The legacy table's name in its snapshot (default: `name`).
    pub legacy: Option<String>,
    /// The target table's name in its snapshot (default: `name`).
    pub target: Option<String>,
    /// A SQL query over the legacy snapshot that stands for the legacy table.
    pub legacy_sql: Option<String>,
    /// A SQL query over the target snapshot that stands for the target table.
    pub target_sql: Option<String>,
    /// Key columns (legacy names); composite keys are allowed.
    pub key: Vec<String>,
    /// Legacy column name -> target column name.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Columns left out of the comparison (a name on either side).
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Columns whose values never appear in a report or log (legacy names); samples show a
    /// short digest instead.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Per-column comparison options, by legacy column name; the entry `"*"` applies to every
    /// column of the table.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnOptions>,
    /// Gate overrides for this table.
    #[serde(default)]
    pub gate: GateConfig,
}

/// How values of a column are compared. Every field is optional so that the levels (defaults,
/// table, column) can be layered; [`ColumnOptions::merged`] resolves them.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ColumnOptions {
    /// Absolute tolerance in the column's units, as a decimal string (`"0.01"`) or a number.
    pub abs_tolerance: Option<ToleranceSetting>,
    /// Relative tolerance (`0.001` = 0.1 % of the larger magnitude).
    pub rel_tolerance: Option<f64>,
    /// Strings: ignore leading and trailing white space.
    pub trim: Option<bool>,
    /// Strings: ignore trailing white space (`CHAR(n)` padding).
    pub trim_end: Option<bool>,
    /// Strings: compare as parsed JSON (object key order and number forms ignored).
    pub json: Option<bool>,
    /// Strings: compare case-insensitively.
    pub case_insensitive: Option<bool>,
    /// Strings: compare after Unicode NFC normalization.
    pub nfc: Option<bool>,
    /// Timestamps without a zone are read in this zone (`"UTC"`, `"+03:00"`, `"Asia/Riyadh"`).
    pub timezone: Option<TimeZone>,
    /// Integers 0/1 compare equal to booleans false/true (`MySQL` `TINYINT(1)`).
    pub int_as_bool: Option<bool>,
    /// Cast both sides to this type before comparing (`string`, `integer`, `float`, `boolean`,
    /// `date`, `timestamp`, `decimal(p,s)`).
    pub cast: Option<Cast>,
}

/// A tolerance as written in `recon.toml`: a TOML number or a decimal string (exact). Planning
/// resolves it into the comparison form, `value::Tolerance`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ToleranceSetting {
    /// `"0.01"`: exact.
    Text(String),
    /// `0.01`: read through its shortest decimal representation.
    Number(f64),
}

impl ToleranceSetting {
    /// The tolerance as exact decimal text.
    pub fn as_decimal_text(&self) -> String {
        match self {
            ToleranceSetting::Text(s) => s.trim().to_owned(),
            ToleranceSetting::Number(n) => format!("{n}"),
        }
    }
}

impl ColumnOptions {
    /// `self` with every unset field taken from `base`.
    pub fn merged(&self, base: &ColumnOptions) -> ColumnOptions {
        ColumnOptions {
            abs_tolerance: self
                .abs_tolerance
                .clone()
                .or_else(|| base.abs_tolerance.clone()),
            rel_tolerance: self.rel_tolerance.or(base.rel_tolerance),
            trim: self.trim.or(base.trim),
            trim_end: self.trim_end.or(base.trim_end),
            json: self.json.or(base.json),
            case_insensitive: self.case_insensitive.or(base.case_insensitive),
            nfc: self.nfc.or(base.nfc),
            timezone: self.timezone.or(base.timezone),
            int_as_bool: self.int_as_bool.or(base.int_as_bool),
            cast: self.cast.clone().or_else(|| base.cast.clone()),
        }
    }
}

impl TableConfig {
    /// The legacy table name (or the pair's name).
    pub fn legacy_table(&self) -> &str {
        self.legacy.as_deref().unwrap_or(&self.name)
    }

    /// The target table name (or the pair's name).
    pub fn target_table(&self) -> &str {
        self.target.as_deref().unwrap_or(&self.name)
    }

    /// The options every column of this table starts from: `columns."*"` over the defaults.
    pub fn table_options(&self, defaults: &ColumnOptions) -> ColumnOptions {
        self.columns
            .get("*")
            .map_or_else(|| defaults.clone(), |o| o.merged(defaults))
    }

    /// The resolved options of one column (legacy name).
    pub fn column_options(&self, column: &str, defaults: &ColumnOptions) -> ColumnOptions {
        let table = self.table_options(defaults);
        self.columns
            .get(column)
            .map_or_else(|| table.clone(), |o| o.merged(&table))
    }

    /// The target's name of a legacy column.
    pub fn target_column<'a>(&'a self, legacy: &'a str) -> &'a str {
        self.rename.get(legacy).map_or(legacy, String::as_str)
    }
}

/// A config loaded from disk, with the folder relative paths are resolved against.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The parsed and validated config.
    pub config: Config,
    /// The file it came from (for messages).
    pub path: PathBuf,
    /// Relative snapshot roots are resolved against this folder.
    pub base_dir: PathBuf,
    /// The line each `[[checks]]` entry starts on (for messages).
    pub check_lines: Vec<usize>,
    /// xxh3-128 of the file's bytes, hex: the audit trail's config digest.
    pub digest: String,
}

impl LoadedConfig {
    /// A config built in code rather than read from a file: validated, shown as `path` in
    /// messages and reports, its relative roots resolved against `base_dir`, its digest that of
    /// `identity` (what it was built from, e.g. the arguments of `recon diff`).
    pub fn from_config(
        config: Config,
        path: PathBuf,
        base_dir: PathBuf,
        identity: &[u8],
    ) -> Result<Self> {
        config.validate().map_err(Error::Options)?;
        Ok(Self {
            config,
            path,
            base_dir,
            check_lines: Vec::new(),
            digest: digest_hex(identity),
        })
    }
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<LoadedConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_owned(),
            source: ConfigError::Read(e),
        })?;
        let config = Self::parse(&text).map_err(|source| Error::Config {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let check_lines = config
            .checks
            .iter()
            .map(|c| line_of(&text, c.span().start))
            .collect();
        Ok(LoadedConfig {
            config,
            path: path.to_owned(),
            base_dir,
            check_lines,
            digest: digest_hex(text.as_bytes()),
        })
    }

    /// Parses and validates config text. The error is a message with the line it is about.
    pub fn parse(text: &str) -> std::result::Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().to_owned(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: names, keys, tolerances, zones, casts.
    pub fn validate(&self) -> std::result::Result<(), ConfigError> {
        if self.tables.is_empty() {
            return Err(ConfigError::Invalid(
                "no [[tables]]: nothing to reconcile".into(),
            ));
        }
        let mut names = BTreeSet::new();
        for t in &self.tables {
            validate_table(t, &self.defaults)?;
            if !names.insert(t.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "two tables are named `{}`; table names must be unique",
                    t.name
                )));
            }
        }
        self.gate.validate("[gate]")?;
        checks::validate(self)?;
        let tables: Vec<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
        alerts::validate(&self.alerts, &tables)?;
        if let Some(w) = &self.watch {
            w.validate()?;
        }
        Ok(())
    }
}

fn validate_table(
    t: &TableConfig,
    defaults: &ColumnOptions,
) -> std::result::Result<(), ConfigError> {
    let at = format!("table `{}`", t.name);
    if t.name.trim().is_empty() {
        return Err(ConfigError::Invalid("a table has an empty name".into()));
    }
    if t.key.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "{at}: `key` is empty; name at least one key column"
        )));
    }
    let mut seen = BTreeSet::new();
    for k in &t.key {
        if !seen.insert(k) {
            return Err(ConfigError::Invalid(format!(
                "{at}: key column `{k}` is listed twice"
            )));
        }
        if t.ignore.contains(k) {
            return Err(ConfigError::Invalid(format!(
                "{at}: key column `{k}` is also ignored"
            )));
        }
    }
    if t.legacy.is_some() && t.legacy_sql.is_some() {
        return Err(ConfigError::Invalid(format!(
            "{at}: give either `legacy` or `legacy_sql`, not both"
        )));
    }
    if t.target.is_some() && t.target_sql.is_some() {
        return Err(ConfigError::Invalid(format!(
            "{at}: give either `target` or `target_sql`, not both"
        )));
    }
    let mut targets = BTreeSet::new();
    for (from, to) in &t.rename {
        if !targets.insert(to) {
            return Err(ConfigError::Invalid(format!(
                "{at}: two columns are renamed to `{to}`"
            )));
        }
        if from.is_empty() || to.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "{at}: a rename has an empty column name"
            )));
        }
    }
    let table_opts = t.table_options(defaults);
    validate_options(&at, &table_opts)?;
    for (column, opts) in &t.columns {
        validate_options(
            &format!("{at}, column `{column}`"),
            &opts.merged(&table_opts),
        )?;
    }
    t.gate.validate(&format!("{at}: [gate]"))?;
    if t.gate.unpaired_tables.is_some() {
        return Err(ConfigError::Invalid(format!(
            "{at}: [gate] unpaired_tables is a setting of the top-level [gate] only"
        )));
    }
    Ok(())
}

fn validate_options(at: &str, o: &ColumnOptions) -> std::result::Result<(), ConfigError> {
    if let Some(tol) = &o.abs_tolerance {
        let text = tol.as_decimal_text();
        match crate::decimal::parse_decimal(&text) {
            Some((m, _)) if m >= 0 => {}
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "{at}: abs_tolerance `{text}` is not a non-negative decimal"
                )));
            }
        }
    }
    if let Some(r) = o.rel_tolerance
        && !(r.is_finite() && r >= 0.0)
    {
        return Err(ConfigError::Invalid(format!(
            "{at}: rel_tolerance must be a non-negative number"
        )));
    }
    Ok(())
}

/// 1-based line number of a byte offset.
#[allow(clippy::naive_bytecount)] // a config file: no dependency for counting its lines
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Hex xxh3-128 of some bytes.
pub(crate) fn digest_hex(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// A config `cast`: the Arrow type both sides of a column are cast to, parsed once where the
/// config is read (only the documented names: `string`, `integer`, `float`, `boolean`, `date`,
/// `timestamp`, or `decimal(p,s)`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cast(pub arrow::datatypes::DataType);

impl TryFrom<String> for Cast {
    type Error = ConfigError;

    fn try_from(text: String) -> std::result::Result<Self, ConfigError> {
        parse_cast(&text).map(Cast)
    }
}

impl From<Cast> for String {
    fn from(c: Cast) -> Self {
        use arrow::datatypes::DataType as T;
        match c.0 {
            T::Utf8 => "string".into(),
            T::Int64 => "integer".into(),
            T::Float64 => "float".into(),
            T::Boolean => "boolean".into(),
            T::Date32 => "date".into(),
            T::Decimal128(p, s) => format!("decimal({p},{s})"),
            _ => "timestamp".into(),
        }
    }
}

/// The cast names the config accepts (and docs/configuration.md documents), besides `decimal(p,s)`.
pub(crate) const CAST_NAMES: [&str; 6] =
    ["string", "integer", "float", "boolean", "date", "timestamp"];

/// Parses a config `cast` into the Arrow type both sides are cast to. Only the documented names
/// are accepted: a cast changes what "equal" means, so a guess is refused, not interpreted.
pub(crate) fn parse_cast(
    text: &str,
) -> std::result::Result<arrow::datatypes::DataType, ConfigError> {
    let t = text.trim().to_ascii_lowercase();
    let dt = match t.as_str() {
        "string" => arrow::datatypes::DataType::Utf8,
        "integer" => arrow::datatypes::DataType::Int64,
        "float" => arrow::datatypes::DataType::Float64,
        "boolean" => arrow::datatypes::DataType::Boolean,
        "date" => arrow::datatypes::DataType::Date32,
        "timestamp" => {
            arrow::datatypes::DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None)
        }
        _ => {
            let inner = t.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')'));
            let parsed = inner.and_then(|i| {
                let (p, s) = i.split_once(',')?;
                Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<i8>().ok()?))
            });
            match parsed {
                Some((p, s)) if (1..=38).contains(&p) && s >= 0 && s.unsigned_abs() <= p => {
                    arrow::datatypes::DataType::Decimal128(p, s)
                }
                _ => {
                    return Err(ConfigError::UnknownCast {
                        text: text.to_owned(),
                        names: CAST_NAMES.join(", "),
                    });
                }
            }
        }
    };
    Ok(dt)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[legacy]
root = "l"
[target]
root = "t"
[[tables]]
name = "orders"
key = ["id"]
"#;

    #[test]
    fn minimal_config_parses() {
        let c = Config::parse(MINIMAL).expect("valid");
        assert_eq!(c.tables[0].legacy_table(), "orders");
        assert_eq!(c.report.samples, 10);
    }

    #[test]
    fn unknown_field_names_its_line() {
        let text = MINIMAL.replace("key = [\"id\"]", "key = [\"id\"]\nkeys = 3");
        let err = Config::parse(&text).expect_err("unknown field").to_string();
        assert!(err.starts_with("line 9:"), "{err}");
        assert!(err.contains("keys"), "{err}");
    }

    #[test]
    fn empty_key_is_rejected() {
        let err = Config::parse(&MINIMAL.replace("[\"id\"]", "[]"))
            .expect_err("empty key")
            .to_string();
        assert!(err.contains("`key` is empty"), "{err}");
    }

    #[test]
    fn duplicate_table_names_are_rejected() {
        let text = format!("{MINIMAL}\n[[tables]]\nname = \"orders\"\nkey = [\"id\"]\n");
        let err = Config::parse(&text).expect_err("duplicate").to_string();
        assert!(err.contains("two tables are named `orders`"), "{err}");
    }

    #[test]
    fn bad_tolerance_and_zone_are_rejected() {
        let text = format!("{MINIMAL}[tables.columns.\"*\"]\nabs_tolerance = \"abc\"\n");
        assert!(
            Config::parse(&text)
                .expect_err("tol")
                .to_string()
                .contains("abs_tolerance")
        );
        let text = format!("{MINIMAL}[tables.columns.at]\ntimezone = \"Mars/Base\"\n");
        assert!(
            Config::parse(&text)
                .expect_err("tz")
                .to_string()
                .contains("Mars/Base")
        );
    }

    #[test]
    fn options_layer_column_over_table_over_defaults() {
        let base = ColumnOptions {
            trim: Some(true),
            nfc: Some(true),
            ..Default::default()
        };
        let col = ColumnOptions {
            trim: Some(false),
            ..Default::default()
        };
        let m = col.merged(&base);
        assert_eq!(m.trim, Some(false));
        assert_eq!(m.nfc, Some(true));
    }
}
