//! `[[checks]]` and `[golden]` in `recon.toml`: what each check asserts, as data, and the
//! validation serde cannot do (names, required fields, unique ids). The checks themselves run
//! in the `checks` module.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Config, Threshold, ToleranceSetting};
use crate::error::ConfigError;
use crate::side::Side;

/// What a check asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// Row counts per side, total or grouped.
    Count,
    /// Exact decimal SUM of a money column per side, total or grouped.
    Total,
    /// Child rows whose reference has no parent.
    Orphan,
    /// A predicate that must hold for every row.
    Invariant,
    /// A golden query whose result sets must agree.
    Golden,
}

impl CheckKind {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Count => "count",
            CheckKind::Total => "total",
            CheckKind::Orphan => "orphan",
            CheckKind::Invariant => "invariant",
            CheckKind::Golden => "golden",
        }
    }
}

/// One `[[checks]]` entry: what it asserts (its `kind`) with the fields of that kind, each
/// checked by serde (unknown fields are refused with their line).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CheckConfig {
    /// Row counts per side, total or grouped.
    Count(CountCheck),
    /// Exact decimal SUM of a money column per side, total or grouped.
    Total(TotalCheck),
    /// Child rows whose reference has no parent.
    Orphan(OrphanCheck),
    /// A predicate that must hold for every row.
    Invariant(InvariantCheck),
}

/// `kind = "count"`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CountCheck {
    /// Stable id.
    pub id: Option<String>,
    /// The check's level is at least `warning` when its metric is greater than this (`warn`
    /// is the older name).
    #[serde(alias = "warn")]
    pub warning: Option<f64>,
    /// At least `critical` above this (`fail` is the older name).
    #[serde(alias = "fail")]
    pub critical: Option<f64>,
    /// `rollback` above this.
    pub rollback: Option<f64>,
    /// The pair (not needed with raw SQL).
    pub table: Option<String>,
    /// Group expressions over legacy column names.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Raw SQL for the legacy side: the group columns, then the count.
    pub legacy_sql: Option<String>,
    /// Raw SQL for the target side.
    pub target_sql: Option<String>,
    /// Accepted difference per group.
    pub tolerance: Option<ToleranceSetting>,
    /// Thresholds on the largest relative difference of a group.
    pub relative: Option<Threshold>,
}

/// `kind = "total"`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TotalCheck {
    /// Stable id.
    pub id: Option<String>,
    /// The check's level is at least `warning` when its metric is greater than this (`warn`
    /// is the older name).
    #[serde(alias = "warn")]
    pub warning: Option<f64>,
    /// At least `critical` above this (`fail` is the older name).
    #[serde(alias = "fail")]
    pub critical: Option<f64>,
    /// `rollback` above this.
    pub rollback: Option<f64>,
    /// The pair (not needed with raw SQL).
    pub table: Option<String>,
    /// The money column (legacy name; not needed with raw SQL).
    pub column: Option<String>,
    /// Group expressions over legacy column names.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Raw SQL for the legacy side: the group columns, then the sum.
    pub legacy_sql: Option<String>,
    /// Raw SQL for the target side.
    pub target_sql: Option<String>,
    /// Accepted difference per group in currency units (exact decimal; default 0).
    pub tolerance: Option<ToleranceSetting>,
}

/// `kind = "orphan"`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrphanCheck {
    /// Stable id.
    pub id: Option<String>,
    /// The check's level is at least `warning` when its metric is greater than this (`warn`
    /// is the older name).
    #[serde(alias = "warn")]
    pub warning: Option<f64>,
    /// At least `critical` above this (`fail` is the older name).
    #[serde(alias = "fail")]
    pub critical: Option<f64>,
    /// `rollback` above this.
    pub rollback: Option<f64>,
    /// The child pair.
    pub table: String,
    /// Child reference columns.
    pub columns: Vec<String>,
    /// The parent pair.
    pub parent: String,
    /// Parent key columns (default: the parent pair's key).
    #[serde(default)]
    pub parent_columns: Vec<String>,
    /// A tenant column child and parent must agree on.
    pub tenant: Option<String>,
    /// Count rows with a NULL reference as orphans (default false).
    #[serde(default)]
    pub null_is_orphan: bool,
}

/// `kind = "invariant"`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InvariantCheck {
    /// Stable id.
    pub id: Option<String>,
    /// The check's level is at least `warning` when its metric is greater than this (`warn`
    /// is the older name).
    #[serde(alias = "warn")]
    pub warning: Option<f64>,
    /// At least `critical` above this (`fail` is the older name).
    #[serde(alias = "fail")]
    pub critical: Option<f64>,
    /// `rollback` above this.
    pub rollback: Option<f64>,
    /// The pair.
    pub table: String,
    /// The predicate every row must satisfy (SQL `CHECK` semantics: NULL passes).
    pub predicate: String,
    /// Sides checked (default both).
    pub sides: Option<Vec<Side>>,
}

/// The parts of a count or total the shared code reads.
#[derive(Debug, Clone, Copy)]
pub struct GroupedSpec<'a> {
    /// The pair, if any.
    pub table: Option<&'a str>,
    /// Group expressions.
    pub group_by: &'a [String],
    /// Raw SQL per side, if given.
    pub legacy_sql: Option<&'a str>,
    /// Raw SQL for the target side.
    pub target_sql: Option<&'a str>,
    /// The tolerance, if any.
    pub tolerance: Option<&'a ToleranceSetting>,
}

impl CheckConfig {
    /// What the check asserts.
    pub fn kind(&self) -> CheckKind {
        match self {
            CheckConfig::Count(_) => CheckKind::Count,
            CheckConfig::Total(_) => CheckKind::Total,
            CheckConfig::Orphan(_) => CheckKind::Orphan,
            CheckConfig::Invariant(_) => CheckKind::Invariant,
        }
    }

    /// The id, thresholds, as written.
    pub fn common(&self) -> (Option<&str>, Threshold) {
        macro_rules! common {
            ($c:expr) => {
                (
                    $c.id.as_deref(),
                    Threshold {
                        warning: $c.warning,
                        critical: $c.critical,
                        rollback: $c.rollback,
                    },
                )
            };
        }
        match self {
            CheckConfig::Count(c) => common!(c),
            CheckConfig::Total(c) => common!(c),
            CheckConfig::Orphan(c) => common!(c),
            CheckConfig::Invariant(c) => common!(c),
        }
    }

    /// The check's id: the one given, or one derived from what it checks.
    pub fn id(&self) -> String {
        self.common()
            .0
            .map_or_else(|| default_id(self), str::to_owned)
    }

    /// The table pairs the check reads.
    pub fn tables(&self) -> Vec<String> {
        match self {
            CheckConfig::Count(c) => c.table.iter().cloned().collect(),
            CheckConfig::Total(c) => c.table.iter().cloned().collect(),
            CheckConfig::Orphan(c) => vec![c.table.clone(), c.parent.clone()],
            CheckConfig::Invariant(c) => vec![c.table.clone()],
        }
    }

    /// A count's or total's grouping (`None` for the other kinds).
    pub fn grouped(&self) -> Option<GroupedSpec<'_>> {
        match self {
            CheckConfig::Count(c) => Some(c.grouping()),
            CheckConfig::Total(c) => Some(c.grouping()),
            _ => None,
        }
    }
}

impl CountCheck {
    /// The grouping the shared count-and-total code reads.
    pub fn grouping(&self) -> GroupedSpec<'_> {
        GroupedSpec {
            table: self.table.as_deref(),
            group_by: &self.group_by,
            legacy_sql: self.legacy_sql.as_deref(),
            target_sql: self.target_sql.as_deref(),
            tolerance: self.tolerance.as_ref(),
        }
    }
}

impl TotalCheck {
    /// The grouping the shared count-and-total code reads.
    pub fn grouping(&self) -> GroupedSpec<'_> {
        GroupedSpec {
            table: self.table.as_deref(),
            group_by: &self.group_by,
            legacy_sql: self.legacy_sql.as_deref(),
            target_sql: self.target_sql.as_deref(),
            tolerance: self.tolerance.as_ref(),
        }
    }
}

/// `[golden]`: where golden queries live.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenConfig {
    /// Folder of `.sql` files (relative to the config file).
    pub dir: String,
    /// The check's level is at least `warning` when its metric is greater than this (`warn`
    /// is the older name).
    #[serde(alias = "warn")]
    pub warning: Option<f64>,
    /// At least `critical` above this (`fail` is the older name); with no threshold given,
    /// any differing row is critical.
    #[serde(alias = "fail")]
    pub critical: Option<f64>,
    /// `rollback` above this.
    pub rollback: Option<f64>,
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').chars().take(48).collect()
}

/// The id a check gets when it has none.
pub(crate) fn default_id(c: &CheckConfig) -> String {
    let groups = |group_by: &[String]| {
        if group_by.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = group_by.iter().map(|g| slug(g)).collect();
            format!(".by_{}", parts.join("_"))
        }
    };
    match c {
        CheckConfig::Count(c) => format!(
            "counts.{}{}",
            c.table.as_deref().unwrap_or("?"),
            groups(&c.group_by)
        ),
        CheckConfig::Total(c) => format!(
            "totals.{}.{}{}",
            c.table.as_deref().unwrap_or("?"),
            c.column.as_deref().unwrap_or("?"),
            groups(&c.group_by)
        ),
        CheckConfig::Orphan(c) => {
            format!("orphans.{}.{}.{}", c.table, c.columns.join("_"), c.parent)
        }
        CheckConfig::Invariant(c) => format!("invariants.{}.{}", c.table, slug(&c.predicate)),
    }
}

/// Validates the checks of a config: what serde cannot (pairs that exist, raw SQL given for both
/// sides, a money column unless raw, matching reference columns, unique ids).
pub(crate) fn validate(config: &Config) -> std::result::Result<(), ConfigError> {
    let pairs: BTreeSet<&str> = config.tables.iter().map(|t| t.name.as_str()).collect();
    let pair = |at: &str, name: &str| -> std::result::Result<(), ConfigError> {
        if pairs.contains(name) {
            Ok(())
        } else {
            Err(ConfigError::Invalid(format!(
                "{at}: no table pair named `{name}`"
            )))
        }
    };
    let mut ids = BTreeSet::new();
    for (i, c) in config.checks.iter().enumerate() {
        let c = c.get_ref();
        let id = c.id();
        let at = format!("check #{} ({id})", i + 1);
        if let Some(g) = c.grouped() {
            let raw = g.legacy_sql.is_some() || g.target_sql.is_some();
            if raw && (g.legacy_sql.is_none() || g.target_sql.is_none()) {
                return Err(ConfigError::Invalid(format!(
                    "{at}: give both `legacy_sql` and `target_sql`"
                )));
            }
            match g.table {
                Some(t) => pair(&at, t)?,
                None if !raw => {
                    return Err(ConfigError::Invalid(format!(
                        "{at}: `table` names the table pair to check"
                    )));
                }
                None => {}
            }
            if let CheckConfig::Total(t) = c
                && t.column.is_none()
                && !raw
            {
                return Err(ConfigError::Invalid(format!(
                    "{at}: `column` names the money column"
                )));
            }
            if let Some(tol) = g.tolerance {
                let text = tol.as_decimal_text();
                if crate::decimal::parse_decimal(&text).is_none_or(|(m, _)| m < 0) {
                    return Err(ConfigError::Invalid(format!(
                        "{at}: tolerance `{text}` is not a non-negative decimal"
                    )));
                }
            }
        }
        match c {
            CheckConfig::Orphan(o) => {
                pair(&at, &o.table)?;
                pair(&at, &o.parent)?;
                if o.columns.is_empty() {
                    return Err(ConfigError::Invalid(format!(
                        "{at}: `columns` names the child's reference columns"
                    )));
                }
                if !o.parent_columns.is_empty() && o.parent_columns.len() != o.columns.len() {
                    return Err(ConfigError::Invalid(format!(
                        "{at}: `columns` and `parent_columns` differ in length"
                    )));
                }
            }
            CheckConfig::Invariant(v) => pair(&at, &v.table)?,
            CheckConfig::Count(_) | CheckConfig::Total(_) => {}
        }
        if !ids.insert(id.clone()) {
            return Err(ConfigError::Invalid(format!(
                "{at}: two checks have the id `{id}`; give one an explicit `id`"
            )));
        }
    }
    Ok(())
}
