//! Which tables a root holds: a recon snapshot's from its manifest (real names, listed files),
//! any other root's from its listing (`<table>.parquet` files and `<table>/` folders, names
//! starting with `_` or `.` skipped as not data).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::TableFile;

/// An object under a root: its path parts below the root, and what the store says of it.
pub(super) struct Listed {
    pub(super) rel: Vec<String>,
    pub(super) meta: object_store::ObjectMeta,
}

impl Listed {
    /// The file, with hive-style `key=value` values from the folders below its table's.
    fn table_file(&self, local_root: Option<&Path>) -> TableFile {
        let below_table = self
            .rel
            .get(1..self.rel.len().saturating_sub(1))
            .unwrap_or_default();
        let partitions = below_table
            .iter()
            .filter_map(|d| d.split_once('='))
            .map(|(k, v)| {
                let v = percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned();
                let v = (v != "__HIVE_DEFAULT_PARTITION__").then_some(v);
                (k.to_owned(), v)
            })
            .collect();
        TableFile {
            modified: self.meta.last_modified,
            location: self.meta.location.clone(),
            relative: self.rel.join("/"),
            local: local_root.map(|r| self.rel.iter().fold(r.to_owned(), |p, s| p.join(s))),
            size: self.meta.size,
            partitions,
        }
    }
}

/// The tables of a recon snapshot: the manifest's, by their real names, each with the files the
/// manifest lists (whatever their folder is called: names are encoded, and `_x`/`.x` tables are
/// tables like any other). A listed file that is missing is an error: the snapshot is broken.
pub(super) fn tables_of_manifest(
    manifest: &crate::export::Manifest,
    listed: &[Listed],
    local_root: Option<&Path>,
) -> std::result::Result<BTreeMap<String, Vec<TableFile>>, String> {
    let by_path: BTreeMap<String, &Listed> = listed.iter().map(|l| (l.rel.join("/"), l)).collect();
    let mut tables = BTreeMap::new();
    for t in &manifest.tables {
        let mut files = Vec::with_capacity(t.files.len());
        for f in &t.files {
            let l = by_path.get(f.as_str()).ok_or_else(|| {
                format!(
                    "its manifest lists `{f}` for table `{}`, but there is no such file: the \
                     snapshot is incomplete",
                    t.name
                )
            })?;
            files.push(l.table_file(local_root));
        }
        if files.is_empty() {
            return Err(format!("its manifest lists no file for table `{}`", t.name));
        }
        files.sort_by(|a, b| a.location.cmp(&b.location));
        if tables.insert(t.name.clone(), files).is_some() {
            return Err(format!("its manifest lists table `{}` twice", t.name));
        }
    }
    Ok(tables)
}

/// The tables of a root without a manifest, from its listing: `<table>.parquet` files and
/// `<table>/` folders, skipping what is not data.
pub(super) fn tables_of_listing(
    listed: &[Listed],
    local_root: Option<&Path>,
) -> std::result::Result<BTreeMap<String, Vec<TableFile>>, String> {
    let mut tables: BTreeMap<String, Vec<TableFile>> = BTreeMap::new();
    let mut single_files = BTreeSet::new();
    for l in listed {
        let Some((file_name, dirs)) = l.rel.split_last() else {
            continue;
        };
        // Names starting with `_` or `.` are not data, at any depth: Spark's `_temporary/`,
        // `.staging/`, `_SUCCESS`, editors' and uploaders' temporary files.
        if !file_name.ends_with(".parquet") || l.rel.iter().any(|p| p.starts_with(['.', '_'])) {
            continue;
        }
        let table = match dirs.first() {
            None => {
                let name = file_name.trim_end_matches(".parquet").to_owned();
                single_files.insert(name.clone());
                name
            }
            Some(table) => table.clone(),
        };
        tables
            .entry(table)
            .or_default()
            .push(l.table_file(local_root));
    }
    for name in &single_files {
        if tables.get(name).is_some_and(|f| f.len() > 1) {
            return Err(format!(
                "table `{name}` is both `{name}.parquet` and a folder `{name}/`"
            ));
        }
    }
    for files in tables.values_mut() {
        files.sort_by(|a, b| a.location.cmp(&b.location));
    }
    Ok(tables)
}
