//! `[[checks]]` and `[golden]` in `recon.toml`: what each check asserts, as data, and the
//! validation serde cannot do (names, required fields, unique ids). The checks themselves run
//! in the `checks` module.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Config, Tolerance};
use crate::gate::Threshold;
use crate::side::Side;

/// What a check asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
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

/// One `[[checks]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Stable id (default: derived from kind, table, column and groups).
    pub id: Option<String>,
    /// What the check asserts.
    pub kind: CheckKind,
    /// The table pair (count, total, invariant) or the child pair (orphan).
    pub table: Option<String>,
    /// Group expressions over legacy column names (count, total).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// The money column (total).
    pub column: Option<String>,
    /// Accepted difference per group in currency units (total; default 0).
    pub tolerance: Option<Tolerance>,
    /// Child reference columns (orphan).
    #[serde(default)]
    pub columns: Vec<String>,
    /// The parent pair (orphan).
    pub parent: Option<String>,
    /// Parent key columns (orphan; default: the parent pair's key).
    #[serde(default)]
    pub parent_columns: Vec<String>,
    /// A tenant column child and parent must agree on (orphan).
    pub tenant: Option<String>,
    /// Count rows with a NULL reference as orphans (orphan; default false).
    pub null_is_orphan: Option<bool>,
    /// The predicate every row must satisfy (invariant).
    pub predicate: Option<String>,
    /// Sides the invariant is checked on (default both).
    pub sides: Option<Vec<Side>>,
    /// Raw SQL for the legacy side (count: groups then the count; total: groups then the sum).
    pub legacy_sql: Option<String>,
    /// Raw SQL for the target side.
    pub target_sql: Option<String>,
    /// Warn when the check's metric is greater than this.
    pub warn: Option<f64>,
    /// Fail when the check's metric is greater than this.
    pub fail: Option<f64>,
    /// Count: thresholds on the largest relative difference of a group.
    pub relative: Option<Threshold>,
}

/// `[golden]`: where golden queries live.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenConfig {
    /// Folder of `.sql` files (relative to the config file).
    pub dir: String,
    /// Warn when more result rows than this differ.
    pub warn: Option<f64>,
    /// Fail when more result rows than this differ (default 0).
    pub fail: Option<f64>,
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
pub fn default_id(c: &CheckConfig) -> String {
    let table = c.table.as_deref().unwrap_or("?");
    let groups = if c.group_by.is_empty() {
        String::new()
    } else {
        format!(
            ".by_{}",
            c.group_by
                .iter()
                .map(|g| slug(g))
                .collect::<Vec<_>>()
                .join("_")
        )
    };
    match c.kind {
        CheckKind::Count => format!("counts.{table}{groups}"),
        CheckKind::Total => format!(
            "totals.{table}.{}{groups}",
            c.column.as_deref().unwrap_or("?")
        ),
        CheckKind::Orphan => {
            format!(
                "orphans.{table}.{}.{}",
                c.columns.join("_"),
                c.parent.as_deref().unwrap_or("?")
            )
        }
        CheckKind::Invariant => format!(
            "invariants.{table}.{}",
            slug(c.predicate.as_deref().unwrap_or("?"))
        ),
        CheckKind::Golden => format!("golden.{table}"),
    }
}

/// Validates the checks of a config (names, required fields, unique ids).
pub fn validate(config: &Config) -> std::result::Result<(), String> {
    let pairs: BTreeSet<&str> = config.tables.iter().map(|t| t.name.as_str()).collect();
    let mut ids = BTreeSet::new();
    for (i, c) in config.checks.iter().enumerate() {
        let c = c.get_ref();
        let at = format!(
            "check #{} ({})",
            i + 1,
            c.id.clone().unwrap_or_else(|| default_id(c))
        );
        let raw = c.legacy_sql.is_some() || c.target_sql.is_some();
        if raw && (c.legacy_sql.is_none() || c.target_sql.is_none()) {
            return Err(format!("{at}: give both `legacy_sql` and `target_sql`"));
        }
        if raw && !matches!(c.kind, CheckKind::Count | CheckKind::Total) {
            return Err(format!("{at}: raw SQL is for count and total checks"));
        }
        let need_table = !raw;
        match c.table.as_deref() {
            Some(t) if !pairs.contains(t) => {
                return Err(format!("{at}: no table pair named `{t}`"));
            }
            None if need_table => {
                return Err(format!("{at}: `table` names the table pair to check"));
            }
            _ => {}
        }
        match c.kind {
            CheckKind::Total if c.column.is_none() && !raw => {
                return Err(format!("{at}: `column` names the money column"));
            }
            CheckKind::Orphan => {
                if c.columns.is_empty() {
                    return Err(format!(
                        "{at}: `columns` names the child's reference columns"
                    ));
                }
                match c.parent.as_deref() {
                    None => return Err(format!("{at}: `parent` names the parent table pair")),
                    Some(p) if !pairs.contains(p) => {
                        return Err(format!("{at}: no table pair named `{p}`"));
                    }
                    _ => {}
                }
                if !c.parent_columns.is_empty() && c.parent_columns.len() != c.columns.len() {
                    return Err(format!(
                        "{at}: `columns` and `parent_columns` differ in length"
                    ));
                }
            }
            CheckKind::Invariant if c.predicate.is_none() => {
                return Err(format!("{at}: `predicate` is required"));
            }
            CheckKind::Golden => {
                return Err(format!(
                    "{at}: golden queries live in [golden] dir, not [[checks]]"
                ));
            }
            _ => {}
        }
        if let Some(tol) = &c.tolerance {
            let text = tol.as_decimal_text();
            if crate::decimal::parse_decimal(&text).is_none_or(|(m, _)| m < 0) {
                return Err(format!(
                    "{at}: tolerance `{text}` is not a non-negative decimal"
                ));
            }
        }
        let id = c.id.clone().unwrap_or_else(|| default_id(c));
        if !ids.insert(id.clone()) {
            return Err(format!(
                "{at}: two checks have the id `{id}`; give one an explicit `id`"
            ));
        }
    }
    Ok(())
}
