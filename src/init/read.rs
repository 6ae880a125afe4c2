//! What `init` reads of a snapshot: every table's columns (Arrow types from the footers, the
//! catalog's types, primary and foreign keys from the manifest when `recon snapshot` wrote it).

use std::path::Path;

use super::{SideInfo, TableInfo};
use crate::error::{Error, Result};
use crate::pool::Workers;
use crate::side::Side;
use crate::snapshot::Snapshot;

/// Reads one side's snapshot at `root` (relative to the current folder); the root is written
/// relative to `base`, the config's folder, when it is a local path under it.
pub(super) fn side(side: Side, root: &str, base: &Path, workers: &Workers) -> Result<SideInfo> {
    let cwd = std::env::current_dir().map_err(|e| Error::failed("the current folder", e))?;
    let snapshot = Snapshot::open(side, root, &cwd, workers.runtime())?;
    let manifest = snapshot.manifest().cloned();
    let mut tables = Vec::new();
    let names: Vec<String> = snapshot.table_names().map(str::to_owned).collect();
    for name in names {
        let (schema, _) = workers.runtime().block_on(snapshot.table_schema(&name))?;
        let from_manifest = manifest
            .as_ref()
            .and_then(|m| m.tables.iter().find(|t| t.name == name));
        tables.push(TableInfo {
            columns: schema
                .fields()
                .iter()
                .map(|f| {
                    let source = from_manifest.and_then(|t| {
                        t.columns
                            .iter()
                            .find(|c| &c.name == f.name())
                            .map(|c| c.source_type.clone())
                    });
                    (f.name().clone(), f.data_type().clone(), source)
                })
                .collect(),
            primary_key: from_manifest
                .map(|t| t.primary_key.clone())
                .unwrap_or_default(),
            foreign_keys: from_manifest
                .map(|t| t.foreign_keys.clone())
                .unwrap_or_default(),
            name,
        });
    }
    // A local root is written relative to the config's folder.
    let abs = cwd.join(root);
    let root_text = match abs.canonicalize().ok().zip(base.canonicalize().ok()) {
        Some((r, b)) => r
            .strip_prefix(&b)
            .map_or_else(|_| r.display().to_string(), |p| p.display().to_string()),
        None => root.to_owned(),
    };
    Ok(SideInfo {
        root: root_text,
        tables,
        manifest,
    })
}
