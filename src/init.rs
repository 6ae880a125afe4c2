//! `recon init`: a starting `recon.toml` from two snapshots. Tables are paired by name (case
//! and common prefixes such as `tab` or `v5_` aside), keys come from the manifests' primary keys
//! (else a column named `id`), renames are proposed for columns that differ only by case and
//! underscores, `int_as_bool` where `TINYINT(1)` meets a boolean, orphan checks from the foreign
//! keys. Every guess is its own line with a comment saying why, to keep or delete.

use std::collections::BTreeMap;
use std::fmt::Write;

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
    o.push_str(
        "[gate]\n# a table of either snapshot in no [[tables]] pair fails the run (\"warn\" or \"pass\" to allow it)\nunpaired_tables = \"fail\"\n\n",
    );
    let pairs = pair_tables(legacy, target, &mut o);
    let mut pair_of: BTreeMap<&str, (&str, &TableInfo, &TableInfo)> = BTreeMap::new();
    for (l, t, note) in &pairs {
        write_table(&mut o, l, t, note.as_deref());
        pair_of.insert(l.name.as_str(), (l.name.as_str(), l, t));
        pair_of.insert(t.name.as_str(), (l.name.as_str(), l, t));
    }
    write_orphans(&mut o, &pairs, &pair_of);
    o
}

type Pair<'a> = (&'a TableInfo, &'a TableInfo, Option<String>);

fn pair_tables<'a>(legacy: &'a SideInfo, target: &'a SideInfo, o: &mut String) -> Vec<Pair<'a>> {
    let mut pairs = Vec::new();
    let mut taken = vec![false; target.tables.len()];
    let mut unpaired = Vec::new();
    for l in &legacy.tables {
        let exact = target.tables.iter().position(|t| t.name == l.name);
        let by_case = || {
            target
                .tables
                .iter()
                .enumerate()
                .position(|(i, t)| !taken[i] && t.name.eq_ignore_ascii_case(&l.name))
        };
        let loose = || {
            let (ln, lp) = normalized(&l.name);
            target.tables.iter().enumerate().find_map(|(i, t)| {
                let (tn, tp) = normalized(&t.name);
                (!taken[i] && ln == tn).then(|| {
                    let dropped: Vec<String> = lp
                        .iter()
                        .chain(tp.iter())
                        .map(|p| format!("`{p}`"))
                        .collect();
                    (
                        i,
                        format!(
                            "matched by name without case, underscores{}: check it",
                            if dropped.is_empty() {
                                String::new()
                            } else {
                                format!(" and the prefix {}", dropped.join(", "))
                            }
                        ),
                    )
                })
            })
        };
        let found = exact
            .filter(|&i| !taken[i])
            .map(|i| (i, None))
            .or_else(|| by_case().map(|i| (i, None)))
            .or_else(|| loose().map(|(i, n)| (i, Some(n))));
        match found {
            Some((i, note)) => {
                taken[i] = true;
                pairs.push((l, &target.tables[i], note));
            }
            None => unpaired.push(format!(
                "# legacy table `{}` has no counterpart in the target",
                l.name
            )),
        }
    }
    for (i, t) in target.tables.iter().enumerate() {
        if !taken[i] {
            unpaired.push(format!(
                "# target table `{}` has no counterpart in the legacy",
                t.name
            ));
        }
    }
    for line in unpaired {
        let _ = writeln!(o, "{line}");
    }
    if !o.ends_with("\n\n") {
        o.push('\n');
    }
    pairs
}

/// The legacy name of a target column: itself, or the legacy column it pairs with.
fn legacy_column<'a>(l: &'a TableInfo, target_column: &str) -> Option<&'a str> {
    l.columns
        .iter()
        .map(|(n, _, _)| n.as_str())
        .find(|n| *n == target_column)
        .or_else(|| {
            l.columns
                .iter()
                .map(|(n, _, _)| n.as_str())
                .find(|n| same_loose(n, target_column))
        })
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
    let target_key: Vec<String> = t
        .primary_key
        .iter()
        .filter_map(|k| legacy_column(l, k).map(str::to_owned))
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
    let mut bools = Vec::new();
    let mut extra = Vec::new();
    for (tc, tt, _) in &t.columns {
        let Some(lc) = legacy_column(l, tc) else {
            extra.push(tc.clone());
            continue;
        };
        if lc != tc && !lc.eq_ignore_ascii_case(tc) {
            renames.push((lc.to_owned(), tc.clone()));
        }
        let legacy_src = l
            .columns
            .iter()
            .find(|(n, _, _)| n == lc)
            .and_then(|(_, _, s)| s.clone())
            .unwrap_or_default()
            .to_lowercase();
        if *tt == DataType::Boolean
            && (legacy_src.starts_with("tinyint(1)") || legacy_src.starts_with("bit(1)"))
        {
            bools.push((lc.to_owned(), legacy_src));
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
    for (c, src) in &bools {
        let _ = writeln!(
            o,
            "\n[tables.columns.{}]\nint_as_bool = true  # {src} in the legacy meets a boolean in the target",
            key_name(c)
        );
    }
    o.push('\n');
}

fn write_orphans(
    o: &mut String,
    pairs: &[Pair<'_>],
    pair_of: &BTreeMap<&str, (&str, &TableInfo, &TableInfo)>,
) {
    let mut seen = std::collections::BTreeSet::new();
    for (l, t, _) in pairs {
        // The legacy catalog's foreign keys, else the target's (named back in legacy terms).
        let (fks, side) = if l.foreign_keys.is_empty() {
            (&t.foreign_keys, "target")
        } else {
            (&l.foreign_keys, "legacy")
        };
        for fk in fks {
            let Some(&(parent, pl, _)) = pair_of.get(fk.parent.as_str()) else {
                continue;
            };
            let columns: Option<Vec<String>> = fk
                .columns
                .iter()
                .map(|c| legacy_column(l, c).map(str::to_owned))
                .collect();
            let parent_columns: Option<Vec<String>> = fk
                .parent_columns
                .iter()
                .map(|c| legacy_column(pl, c).map(str::to_owned))
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
}
