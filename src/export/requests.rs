//! The exports a config asks for: one per side that names a `url`, into that side's root,
//! refused as a whole before anything is exported when a root cannot be written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{DEFAULT_LOCK_TIMEOUT, ExportRequest, KeyOrdering, Replace, SourceUrl, check_root};
use crate::config::LoadedConfig;
use crate::error::{Error, Result};
use crate::side::Side;

/// Parses a column to export as text: `table.column`, `column`, or either with `=text`.
///
/// ```
/// assert_eq!(recon::exporter::parse_cast("orders.note=text")?, "orders.note");
/// assert!(recon::exporter::parse_cast("orders.note=int").is_err());
/// # Ok::<(), recon::Error>(())
/// ```
pub fn parse_cast(text: &str) -> Result<String> {
    let column = match text.rsplit_once('=') {
        Some((column, to)) if to.eq_ignore_ascii_case("text") => column,
        Some(_) => {
            return Err(Error::Invalid(format!(
                "cast `{text}`: a column is exported as text only (table.column=text)"
            )));
        }
        None => text,
    };
    if column.is_empty() {
        return Err(Error::Invalid(format!(
            "cast `{text}`: expected table.column=text"
        )));
    }
    Ok(column.to_owned())
}

/// The local folder a snapshot is exported to: a path (relative to `base_dir`) or a `file://`
/// URL. Any other URL is refused: an export is written locally and appears atomically there;
/// it is never written to a local folder named after a URL.
pub fn out_folder(root: &str, base_dir: &Path) -> Result<PathBuf> {
    if !root.contains("://") {
        return Ok(base_dir.join(root));
    }
    let shown = crate::store::shown_text(root);
    match url::Url::parse(root) {
        Ok(u) if u.scheme() == "file" => u
            .to_file_path()
            .map_err(|()| Error::Invalid(format!("{shown}: not a local path"))),
        _ => Err(Error::Invalid(format!(
            "{shown}: recon exports to a local folder only (a snapshot appears there atomically); \
             export to a folder, then copy it to the object store"
        ))),
    }
}

/// One export per side of a config that names a `url`: the config's tables of that side (every
/// table when a pair reads the side through SQL), written to the side's root (a local folder;
/// both sides' roots must differ), with the side's `casts`. Refused as a whole, before anything
/// is exported, when a root cannot be written.
///
/// ```
/// let loaded = recon::Config::load("fixtures/erp/recon.toml".as_ref())?;
/// // The fixture's sides name no `url`: nothing to export.
/// let requests = recon::exporter::config_requests(&loaded, recon::exporter::Replace::Nothing, 2)?;
/// assert!(requests.is_empty());
/// # Ok::<(), recon::Error>(())
/// ```
pub fn config_requests(
    loaded: &LoadedConfig,
    replace: Replace,
    jobs: usize,
) -> Result<Vec<ExportRequest>> {
    let mut out = Vec::new();
    for side in Side::BOTH {
        let s = match side {
            Side::Legacy => &loaded.config.legacy,
            Side::Target => &loaded.config.target,
        };
        let Some(url) = &s.url else { continue };
        let source =
            SourceUrl::parse(url).map_err(|e| Error::failed(format!("[{side}] url"), e))?;
        let root = out_folder(&s.root, &loaded.base_dir).map_err(|e| {
            Error::failed(
                format!("[{side}] root: the snapshot of `url` is written there"),
                e,
            )
        })?;
        let by_sql = loaded.config.tables.iter().any(|t| match side {
            Side::Legacy => t.legacy_sql.is_some(),
            Side::Target => t.target_sql.is_some(),
        });
        let tables = if by_sql {
            Vec::new()
        } else {
            loaded
                .config
                .tables
                .iter()
                .map(|t| match side {
                    Side::Legacy => t.legacy_table().to_owned(),
                    Side::Target => t.target_table().to_owned(),
                })
                .collect()
        };
        let casts = s
            .casts
            .iter()
            .map(|c| parse_cast(c).map_err(|e| Error::failed(format!("[{side}] casts"), e)))
            .collect::<Result<Vec<_>>>()?;
        let keys = pair_keys(loaded, side);
        out.push(ExportRequest {
            source,
            out: root,
            tables,
            schema: s.schema.clone(),
            casts,
            jobs,
            replace,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            key_order: KeyOrdering::default(),
            keys,
        });
    }
    refuse_shared_roots(loaded, &out)?;
    for r in &out {
        check_root(&r.out, r.replace)?;
    }
    Ok(out)
}

/// The keys the config's pairs name for one side's tables, in that side's column names (the
/// target's through the pair's renames); a pair that reads the side through SQL names none. The
/// first pair naming a table decides.
fn pair_keys(loaded: &LoadedConfig, side: Side) -> BTreeMap<String, Vec<String>> {
    let mut keys = BTreeMap::new();
    for t in &loaded.config.tables {
        let (table, by_sql) = match side {
            Side::Legacy => (t.legacy_table(), t.legacy_sql.is_some()),
            Side::Target => (t.target_table(), t.target_sql.is_some()),
        };
        if by_sql || t.key.is_empty() {
            continue;
        }
        let key = t
            .key
            .iter()
            .map(|k| match side {
                Side::Legacy => k.clone(),
                Side::Target => t.target_column(k).to_owned(),
            })
            .collect();
        keys.entry(table.to_owned()).or_insert(key);
    }
    keys
}

/// Refuses exporting when both sides' roots are one folder or one holds the other: an export
/// would replace or fill the other side's snapshot, and both sides would read the same data.
fn refuse_shared_roots(loaded: &LoadedConfig, requests: &[ExportRequest]) -> Result<()> {
    let local = |root: &str| {
        out_folder(root, &loaded.base_dir)
            .ok()
            .map(|p| crate::atomic::resolved(&p))
    };
    let roots = local(&loaded.config.legacy.root).zip(local(&loaded.config.target.root));
    if !requests.is_empty() && roots.is_some_and(|(l, t)| l.starts_with(&t) || t.starts_with(&l)) {
        return Err(Error::Invalid(
            "[legacy] root and [target] root are the same folder or one holds the other; \
             each side's snapshot needs a folder of its own"
                .to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_parse_as_documented() {
        assert_eq!(parse_cast("t.c=text").ok().as_deref(), Some("t.c"));
        assert_eq!(parse_cast("t.c").ok().as_deref(), Some("t.c"));
        assert_eq!(parse_cast("t.c=TEXT").ok().as_deref(), Some("t.c"));
        assert!(parse_cast("t.c=int").is_err());
        assert!(parse_cast("=text").is_err());
    }
}
