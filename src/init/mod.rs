//! `recon init`: a starting `recon.toml` from two snapshots. Tables are paired by name (case
//! and common prefixes such as `tab` or `v5_` aside), one to one and exact names first, then
//! names that differ by case, then looser matches; columns likewise. Keys come from the
//! manifests' primary keys (else a column named `id`), renames are proposed for columns that
//! differ by more than case, `int_as_bool` where `TINYINT(1)` meets a boolean, orphan checks from
//! the foreign keys. Every guess is its own line with a comment saying why, to keep or delete.
//!
//! ```
//! let workers = recon::Workers::new(2)?;
//! let dir = tempfile::tempdir()?;
//! let text = recon::init::starter_config(
//!     "fixtures/erp/legacy",
//!     "fixtures/erp/target",
//!     dir.path(),
//!     &workers,
//! )?;
//! // Pairs by name; a key to fill in where no manifest names the primary key.
//! assert!(text.contains("name = \"customers\""));
//! let path = dir.path().join("recon.toml");
//! recon::init::write_config(&path, &text)?;
//! assert_eq!(std::fs::read_to_string(&path)?, text);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod read;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use arrow::datatypes::DataType;

use crate::export::{ForeignKey, Manifest};

/// What `init` knows of one table of one snapshot.
#[derive(Debug, Clone, Default)]
pub struct TableInfo {
    /// Its name in the snapshot.
    pub name: String,
    /// Columns: name, Arrow type, and the catalog's type when a manifest says it.
    pub columns: Vec<(String, DataType, Option<String>)>,
    /// The primary key (from a manifest).
    pub primary_key: Vec<String>,
    /// Foreign keys (from a manifest).
    pub foreign_keys: Vec<ForeignKey>,
}

/// One side: its root as the config will name it, its tables, and its manifest if any.
#[derive(Debug, Clone)]
pub struct SideInfo {
    /// The root, as written into the config.
    pub root: String,
    /// Its tables.
    pub tables: Vec<TableInfo>,
    /// Its manifest, when `recon snapshot` wrote it.
    pub manifest: Option<Manifest>,
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn key_name(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        s.to_owned()
    } else {
        quote(s)
    }
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| quote(i))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A name without case, underscores and a common prefix; and the prefix that was dropped.
fn normalized(name: &str) -> (String, Option<String>) {
    let lower = name.to_lowercase();
    let mut prefix = None;
    let mut rest = lower.as_str();
    for p in ["tbl_", "tab_", "tb_", "t_"] {
        if let Some(r) = rest.strip_prefix(p).filter(|r| !r.is_empty()) {
            prefix = Some(name[..p.len()].to_owned());
            rest = r;
            break;
        }
    }
    if prefix.is_none() {
        // `v5_`-style version prefixes.
        if let Some(r) = rest.strip_prefix('v') {
            let digits = r.chars().take_while(char::is_ascii_digit).count();
            if digits > 0 && r[digits..].starts_with('_') && r.len() > digits + 1 {
                prefix = Some(name[..=digits + 1].to_owned());
                rest = &r[digits + 1..];
            }
        }
    }
    if prefix.is_none() {
        // `tabCustomers`, `tblOrders`: a lowercase prefix before a capital.
        for p in ["tbl", "tab"] {
            if name.starts_with(p) && name[p.len()..].starts_with(|c: char| c.is_uppercase()) {
                prefix = Some(p.to_owned());
                rest = &lower[p.len()..];
                break;
            }
        }
    }
    (rest.replace('_', ""), prefix)
}

fn same_loose(a: &str, b: &str) -> bool {
    a.to_lowercase().replace('_', "") == b.to_lowercase().replace('_', "")
}

/// The starting `recon.toml` for the snapshots at `legacy` and `target` (local paths relative
/// to the current folder, or URLs), to be written into the folder `base`: local roots are
/// written relative to it.
pub fn starter_config(
    legacy: &str,
    target: &str,
    base: &Path,
    workers: &crate::pool::Workers,
) -> crate::Result<String> {
    let legacy = read::side(crate::side::Side::Legacy, legacy, base, workers)?;
    let target = read::side(crate::side::Side::Target, target, base, workers)?;
    Ok(config(&legacy, &target))
}

/// Writes a config atomically (a temporary file beside it, then renamed into place).
pub fn write_config(path: &Path, text: &str) -> crate::Result<()> {
    crate::atomic::write_bytes(path, text.as_bytes())
}

/// The `recon.toml` text for two snapshots.
pub fn config(legacy: &SideInfo, target: &SideInfo) -> String {
    let mut o = String::new();
    o.push_str(
        "# recon.toml written by `recon init`. Every guess is a line of its own with a comment\n\
         # saying why: keep it, change it, or delete it.\n\n",
    );
    for (label, side) in [("legacy", legacy), ("target", target)] {
        let _ = writeln!(o, "[{label}]\nroot = {}", quote(&side.root));
        if let Some(m) = &side.manifest {
            let scheme = if m.source.kind == "postgresql" {
                "postgres"
            } else {
                "mysql"
            };
            let _ = writeln!(
                o,
                "# url = {}  # where the snapshot came from: uncomment to re-export it with `recon run --snapshot`",
                quote(&format!(
                    "{scheme}://{}@{}:{}/{}",
                    m.source.user, m.source.host, m.source.port, m.source.database
                ))
            );
            if let Some(s) = &m.source.schema {
                let _ = writeln!(o, "# schema = {}", quote(s));
            }
        }
        o.push('\n');
    }
    // Strictest by default: a table left out of every pair fails the run until it is paired or
    // this is relaxed on purpose.
    o.push_str(concat!(
        "[gate]\n",
        "# the cutover runbook's levels for drift ((changed + missing + extra + NULL keys) / legacy\n",
        "# rows): above 0.05 % a warning, above 0.1 % critical (exit 1), above 0.5 % rollback (exit 3)\n",
        "drift_ratio = { warning = 0.0005, critical = 0.001, rollback = 0.005 }\n",
        "# a table of either snapshot in no [[tables]] pair is critical (\"warning\" or \"pass\" to allow it)\n",
        "unpaired_tables = \"critical\"\n\n",
    ));
    let pairs = pair_tables(legacy, target, &mut o);
    for (l, t, note) in &pairs {
        write_table(&mut o, l, t, note.as_deref());
    }
    write_orphans(&mut o, &pairs);
    o
}

type Pair<'a> = (&'a TableInfo, &'a TableInfo, Option<String>);

/// How sure a name match is: an exact name first, then the same name but for case, then the
/// same name without case, underscores and common prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Confidence {
    Exact,
    Case,
    Loose,
}

/// Pairs names one to one by decreasing confidence: every exact match first, so that a loose
/// match met earlier never takes a name another has exactly. Ties keep the input order.
/// Returns `(left index, right index, confidence)`, in left order.
fn pair_names(
    left: usize,
    right: usize,
    rank: impl Fn(usize, usize) -> Option<Confidence>,
) -> Vec<(usize, usize, Confidence)> {
    let mut candidates: Vec<(Confidence, usize, usize)> = Vec::new();
    for li in 0..left {
        for ri in 0..right {
            if let Some(c) = rank(li, ri) {
                candidates.push((c, li, ri));
            }
        }
    }
    candidates.sort_unstable();
    let mut left_taken = vec![false; left];
    let mut right_taken = vec![false; right];
    let mut pairs = Vec::new();
    for (c, li, ri) in candidates {
        if !left_taken[li] && !right_taken[ri] {
            left_taken[li] = true;
            right_taken[ri] = true;
            pairs.push((li, ri, c));
        }
    }
    pairs.sort_unstable();
    pairs
}

/// Table names paired one to one (see [`pair_names`]): `(legacy index, target index, how)`.
fn table_matches(legacy: &[&str], target: &[&str]) -> Vec<(usize, usize, Confidence)> {
    let loose = |names: &[&str]| -> Vec<String> { names.iter().map(|n| normalized(n).0).collect() };
    let (ll, tl) = (loose(legacy), loose(target));
    pair_names(legacy.len(), target.len(), |li, ti| {
        let (l, t) = (legacy[li], target[ti]);
        if l == t {
            Some(Confidence::Exact)
        } else if l.eq_ignore_ascii_case(t) {
            Some(Confidence::Case)
        } else {
            (ll[li] == tl[ti]).then_some(Confidence::Loose)
        }
    })
}

fn column_confidence(l: &str, t: &str) -> Option<Confidence> {
    if l == t {
        Some(Confidence::Exact)
    } else if l.to_lowercase() == t.to_lowercase() {
        Some(Confidence::Case)
    } else {
        same_loose(l, t).then_some(Confidence::Loose)
    }
}

fn loose_note(l: &str, t: &str) -> String {
    let dropped: Vec<String> = normalized(l)
        .1
        .iter()
        .chain(normalized(t).1.iter())
        .map(|p| format!("`{p}`"))
        .collect();
    format!(
        "matched by name without case, underscores{}: check it",
        if dropped.is_empty() {
            String::new()
        } else {
            format!(" and the prefix {}", dropped.join(", "))
        }
    )
}

fn pair_tables<'a>(legacy: &'a SideInfo, target: &'a SideInfo, o: &mut String) -> Vec<Pair<'a>> {
    let names = |s: &'a SideInfo| s.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>();
    let matched = table_matches(&names(legacy), &names(target));
    let mut legacy_paired = vec![false; legacy.tables.len()];
    let mut target_paired = vec![false; target.tables.len()];
    let mut pairs = Vec::new();
    for (li, ti, c) in matched {
        legacy_paired[li] = true;
        target_paired[ti] = true;
        let (l, t) = (&legacy.tables[li], &target.tables[ti]);
        let note = (c == Confidence::Loose).then(|| loose_note(&l.name, &t.name));
        pairs.push((l, t, note));
    }
    let mut unpaired = Vec::new();
    for (l, _) in legacy
        .tables
        .iter()
        .zip(&legacy_paired)
        .filter(|(_, p)| !**p)
    {
        unpaired.push(format!(
            "# legacy table `{}` has no counterpart in the target",
            l.name
        ));
    }
    for (t, _) in target
        .tables
        .iter()
        .zip(&target_paired)
        .filter(|(_, p)| !**p)
    {
        unpaired.push(format!(
            "# target table `{}` has no counterpart in the legacy",
            t.name
        ));
    }
    for line in unpaired {
        let _ = writeln!(o, "{line}");
    }
    if !o.ends_with("\n\n") {
        o.push('\n');
    }
    pairs
}

/// The columns of a table pair, paired one to one (exact names first, then by case, then
/// without case and underscores): target column name to legacy column name.
fn column_pairs(l: &TableInfo, t: &TableInfo) -> BTreeMap<String, String> {
    let names = |t: &TableInfo| {
        t.columns
            .iter()
            .map(|(n, _, _)| n.clone())
            .collect::<Vec<_>>()
    };
    let (ln, tn) = (names(l), names(t));
    let lr: Vec<&str> = ln.iter().map(String::as_str).collect();
    let tr: Vec<&str> = tn.iter().map(String::as_str).collect();
    pair_names(tr.len(), lr.len(), |ti, li| {
        column_confidence(lr[li], tr[ti])
    })
    .into_iter()
    .map(|(ti, li, _)| (tn[ti].clone(), ln[li].clone()))
    .collect()
}

/// The legacy name of a target column: itself, or the legacy column it pairs with.
fn legacy_column<'a>(pairs: &'a BTreeMap<String, String>, target_column: &str) -> Option<&'a str> {
    pairs.get(target_column).map(String::as_str)
}

/// Whether `recon run` pairs these two columns by case on its own: they differ only in case
/// and neither side has another column of that name ignoring case.
fn pairs_by_case_alone(l: &TableInfo, t: &TableInfo, legacy: &str, target: &str) -> bool {
    let lower = legacy.to_lowercase();
    let count = |t: &TableInfo| {
        t.columns
            .iter()
            .filter(|(n, _, _)| n.to_lowercase() == lower)
            .count()
    };
    target.to_lowercase() == lower && count(l) == 1 && count(t) == 1
}

fn write_table(o: &mut String, l: &TableInfo, t: &TableInfo, note: Option<&str>) {
    let _ = writeln!(o, "[[tables]]\nname = {}", quote(&l.name));
    if l.name != t.name {
        let _ = writeln!(o, "legacy = {}", quote(&l.name));
        let _ = write!(o, "target = {}", quote(&t.name));
        let _ = writeln!(
            o,
            "{}",
            note.map(|n| format!("  # {n}")).unwrap_or_default()
        );
    }
    let columns = column_pairs(l, t);
    let target_key: Vec<String> = t
        .primary_key
        .iter()
        .filter_map(|k| legacy_column(&columns, k).map(str::to_owned))
        .collect();
    let (key, why) = if !l.primary_key.is_empty() {
        (l.primary_key.clone(), "the legacy table's primary key")
    } else if !t.primary_key.is_empty() && target_key.len() == t.primary_key.len() {
        (target_key, "the target table's primary key")
    } else if let Some((id, _, _)) = l
        .columns
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case("id"))
    {
        (vec![id.clone()], "no primary key known; a column named id")
    } else {
        (
            Vec::new(),
            "no primary key known and no `id` column: name the key columns",
        )
    };
    let _ = writeln!(o, "key = {}  # {why}", list(&key));
    let mut renames = Vec::new();
    // Per legacy column, in target column order: the option lines to propose.
    let mut options: Vec<(String, Vec<String>)> = Vec::new();
    let mut extra = Vec::new();
    for (tc, tt, target_src) in &t.columns {
        let Some(lc) = legacy_column(&columns, tc) else {
            extra.push(tc.clone());
            continue;
        };
        if lc != tc && !pairs_by_case_alone(l, t, lc, tc) {
            renames.push((lc.to_owned(), tc.clone()));
        }
        let legacy_src = l
            .columns
            .iter()
            .find(|(n, _, _)| n == lc)
            .and_then(|(_, _, s)| s.clone())
            .unwrap_or_default()
            .to_lowercase();
        let mut lines = Vec::new();
        if *tt == DataType::Boolean
            && (legacy_src.starts_with("tinyint(1)") || legacy_src.starts_with("bit(1)"))
        {
            lines.push(format!(
                "int_as_bool = true  # {legacy_src} in the legacy meets a boolean in the target"
            ));
        }
        let target_src = target_src.clone().unwrap_or_default().to_lowercase();
        lines.extend(text_options(&legacy_src, &target_src));
        if !lines.is_empty() {
            options.push((lc.to_owned(), lines));
        }
    }
    for c in &extra {
        let _ = writeln!(
            o,
            "# target column `{c}` has no legacy counterpart (a schema finding; `ignore = [{}]` leaves it out)",
            quote(c)
        );
    }
    if !renames.is_empty() {
        o.push_str("\n[tables.rename]\n");
        for (from, to) in &renames {
            let _ = writeln!(
                o,
                "{} = {}  # differs only by case and underscores",
                key_name(from),
                quote(to)
            );
        }
    }
    for (c, lines) in &options {
        let _ = writeln!(
            o,
            "\n[tables.columns.{}]\n{}",
            key_name(c),
            lines.join("\n")
        );
    }
    o.push('\n');
}

/// The text options the catalog types of a column pair call for: `json` where either side is
/// `json`/`jsonb` (key order and number forms are not data), `trim_end` where either side is
/// blank-padded `CHAR(n)`.
fn text_options(legacy_src: &str, target_src: &str) -> Vec<String> {
    let sides = [("legacy", legacy_src), ("target", target_src)];
    let is_json = |s: &str| s == "json" || s == "jsonb";
    let is_char = |s: &str| {
        s == "bpchar"
            || s == "character"
            || s == "char"
            || s.starts_with("char(")
            || s.starts_with("character(")
            || s.starts_with("nchar(")
    };
    let mut lines = Vec::new();
    if let Some((side, src)) = sides.iter().find(|(_, s)| is_json(s)) {
        lines.push(format!(
            "json = true  # {src} in the {side}: object key order and number forms are not data"
        ));
    }
    if let Some((side, src)) = sides.iter().find(|(_, s)| is_char(s)) {
        lines.push(format!(
            "trim_end = true  # {src} in the {side} pads with trailing spaces"
        ));
    }
    lines
}

fn write_orphans(o: &mut String, pairs: &[Pair<'_>]) {
    let mut seen = std::collections::BTreeSet::new();
    for (l, t, _) in pairs {
        // The legacy catalog's foreign keys, else the target's (named back in legacy terms).
        let (fks, side) = if l.foreign_keys.is_empty() {
            (&t.foreign_keys, "target")
        } else {
            (&l.foreign_keys, "legacy")
        };
        for fk in fks {
            // The parent by its name on the catalog's own side.
            let Some((pl, pt, _)) = pairs.iter().find(|(pl, pt, _)| {
                if side == "legacy" {
                    pl.name == fk.parent
                } else {
                    pt.name == fk.parent
                }
            }) else {
                continue;
            };
            let parent = pl.name.as_str();
            // Column names in legacy terms: as they are from the legacy catalog, else through
            // the pair's column pairing.
            let in_legacy = |table: &TableInfo, other: &TableInfo, c: &str| -> Option<String> {
                if side == "legacy" {
                    table
                        .columns
                        .iter()
                        .any(|(n, _, _)| n == c)
                        .then(|| c.to_owned())
                } else {
                    column_pairs(table, other).get(c).cloned()
                }
            };
            let columns: Option<Vec<String>> =
                fk.columns.iter().map(|c| in_legacy(l, t, c)).collect();
            let parent_columns: Option<Vec<String>> = fk
                .parent_columns
                .iter()
                .map(|c| in_legacy(pl, pt, c))
                .collect();
            let (Some(columns), Some(parent_columns)) = (columns, parent_columns) else {
                continue;
            };
            if !seen.insert((l.name.clone(), columns.clone(), parent.to_owned())) {
                continue;
            }
            let _ = writeln!(
                o,
                "[[checks]]  # the foreign key {}({}) → {}({}) in the {side} catalog\n\
                 kind = \"orphan\"\ntable = {}\ncolumns = {}\nparent = {}\nparent_columns = {}\n",
                l.name,
                columns.join(", "),
                parent,
                parent_columns.join(", "),
                quote(&l.name),
                list(&columns),
                quote(parent),
                list(&parent_columns)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_without_case_underscores_and_common_prefixes() {
        assert_eq!(normalized("tabCustomers").0, "customers");
        assert_eq!(normalized("v5_order_lines").0, "orderlines");
        assert_eq!(normalized("tbl_Invoices").0, "invoices");
        assert_eq!(normalized("table_x").0, "tablex");
        assert_eq!(normalized("t_").0, "t");
        assert!(same_loose("OrderID", "order_id"));
    }

    #[test]
    fn exact_names_pair_before_an_earlier_looser_match() {
        let pairs = table_matches(
            &["OrderItems", "Order_Items", "order_items"],
            &["order_items", "orderitems"],
        );
        assert_eq!(
            pairs,
            vec![(0, 1, Confidence::Case), (2, 0, Confidence::Exact)]
        );
        let pairs = table_matches(
            &["Order_Items", "order_items"],
            &["order_items", "orderitems"],
        );
        assert_eq!(
            pairs,
            vec![(0, 1, Confidence::Loose), (1, 0, Confidence::Exact)]
        );
    }
}
