//! Table names to folder names. A database allows any text as a table name (`..`, `a/b`,
//! `../legacy/orders`, `_migrations`), so a name is never used as a path: each table is written
//! into a folder whose name is the table's name with everything that is not plainly safe
//! percent-encoded, and the manifest keeps the real name beside its files.
//!
//! The scheme (stable: it names files of snapshots already written):
//! - ASCII letters, digits, `-`, `_` and `.` stay as they are; every other byte of the name's
//!   UTF-8 (`/`, `\`, `%`, `:`, spaces, control characters, non-ASCII letters) becomes `%XX`
//!   (upper-case hex);
//! - a leading `.` or `_` is encoded too (`%2E`, `%5F`), so that no folder is hidden, taken for
//!   a name readers skip, or is `.`/`..` (`../../x` is the one folder `%2E.%2F..%2Fx`);
//! - a name whose encoding is longer than [`MAX_FOLDER`] bytes is cut and ends in `~` and 16 hex
//!   digits of its hash; a name whose folder would differ from another table's only in letter
//!   case (one folder on case-insensitive file systems) ends in `~2`, `~3`, ... The `~` marks a
//!   folder name that does not decode back: the manifest says which table it holds.

use std::fmt::Write;

use crate::error::{Error, Result};

/// The longest folder name written, in bytes (file systems allow 255).
pub const MAX_FOLDER: usize = 200;

/// The folder name of a table (before disambiguation, see [`folders`]).
pub fn folder_name(table: &str) -> String {
    let mut out = String::with_capacity(table.len());
    for (i, b) in table.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'-' || (i > 0 && (b == b'_' || b == b'.'));
        if plain {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.len() > MAX_FOLDER {
        let mut cut = MAX_FOLDER - 17;
        // Never split a `%XX` triple.
        while let Some(p) = out[..cut].rfind('%').filter(|&p| p + 3 > cut) {
            cut = p;
        }
        let hash = xxhash_rust::xxh3::xxh3_64(table.as_bytes());
        out = format!("{}~{hash:016x}", &out[..cut]);
    }
    out
}

/// The table a folder name stands for: the inverse of [`folder_name`] for every name it wrote
/// without a `~` suffix; `None` for anything else. Only the tests read folder names back: they
/// prove the encoding reversible.
#[cfg(test)]
pub fn table_name(folder: &str) -> Option<String> {
    if folder.is_empty() || folder.contains('~') || folder.starts_with(['.', '_']) {
        return None;
    }
    let name = percent_encoding::percent_decode_str(folder)
        .decode_utf8()
        .ok()?
        .into_owned();
    (folder_name(&name) == folder).then_some(name)
}

/// The folder of each table, in order: [`folder_name`], made unique ignoring letter case.
/// An empty name (no server allows one) is an error.
pub(crate) fn folders<'a>(tables: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>> {
    let mut taken = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for t in tables {
        if t.is_empty() {
            return Err(Error::Invalid(
                "a table without a name cannot be exported".into(),
            ));
        }
        let base = folder_name(t);
        let mut name = base.clone();
        let mut n = 1;
        while !taken.insert(name.to_lowercase()) {
            n += 1;
            name = format!("{base}~{n}");
        }
        out.push(name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_plain_folder_names_and_decode_back() {
        let cases = [
            ("orders", "orders"),
            ("order_lines", "order_lines"),
            ("v1.2-final", "v1.2-final"),
            ("..", "%2E."),
            (".", "%2E"),
            ("../../escape", "%2E.%2F..%2Fescape"),
            ("../legacy/orders", "%2E.%2Flegacy%2Forders"),
            ("a/b", "a%2Fb"),
            ("a\\b", "a%5Cb"),
            ("100%", "100%25"),
            ("_migrations", "%5Fmigrations"),
            ("__EFMigrationsHistory", "%5F_EFMigrationsHistory"),
            (".hidden", "%2Ehidden"),
            ("line\nbreak", "line%0Abreak"),
            ("dbo.Zählung", "dbo.Z%C3%A4hlung"),
            ("a~b", "a%7Eb"),
            ("C:x", "C%3Ax"),
        ];
        for (table, folder) in cases {
            assert_eq!(folder_name(table), folder, "{table:?}");
            assert_eq!(table_name(folder).as_deref(), Some(table), "{folder}");
        }
        assert_eq!(table_name("a/b"), None, "not a folder this scheme writes");
        assert_eq!(table_name("_x"), None);
        assert_eq!(table_name("a%2fb"), None, "lower-case hex is not written");
    }

    #[test]
    fn long_names_are_cut_with_a_hash_and_case_twins_get_a_suffix() {
        let long = "ä".repeat(64);
        let f = folder_name(&long);
        assert!(f.len() <= MAX_FOLDER, "{}", f.len());
        assert!(f.contains('~'));
        assert_ne!(f, folder_name(&"ä".repeat(63)));
        assert_eq!(table_name(&f), None);
        assert_eq!(
            folders(["Orders", "orders", "ORDERS", "x"]).expect("folders"),
            ["Orders", "orders~2", "ORDERS~3", "x"]
        );
        assert!(folders([""]).is_err());
    }
}
