//! A table pair without a config file, as `recon diff` reconciles it: each side one table, a
//! Parquet file or a folder of them, whose snapshot root is the folder around it.

use std::path::Path;

use crate::error::{Error, Result};

/// Splits the path of one table (`orders.parquet`, a folder `orders/` of Parquet files, or the
/// URL of either) into the snapshot root around it and the table's name. A local root is
/// returned absolute.
///
/// ```
/// let (root, table) = recon::config::table_root("s3://bucket/erp/orders.parquet".as_ref())?;
/// assert_eq!((root.as_str(), table.as_str()), ("s3://bucket/erp/", "orders"));
/// let (_, table) = recon::config::table_root("fixtures/erp/legacy/customers.parquet".as_ref())?;
/// assert_eq!(table, "customers");
/// # Ok::<(), recon::Error>(())
/// ```
pub fn table_root(path: &Path) -> Result<(String, String)> {
    let bad = |m: &str| Error::Invalid(format!("{}: {m}", path.display()));
    let text = path.to_string_lossy();
    if crate::store::is_remote(&text) {
        // `s3://bucket/prefix/table.parquet` or `.../table/`: the root is the folder above.
        let trimmed = text.trim_end_matches('/');
        let (root, name) = trimmed
            .rsplit_once('/')
            .filter(|(root, name)| {
                !name.is_empty() && root.find("://").is_some_and(|i| root.len() > i + 3)
            })
            .ok_or_else(|| bad("expected a URL of a table: scheme://bucket/.../table[.parquet]"))?;
        let table = name.strip_suffix(".parquet").unwrap_or(name);
        return Ok((format!("{root}/"), table.to_owned()));
    }
    let meta = std::fs::metadata(path).map_err(|e| bad(&e.to_string()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("has no file name"))?;
    let table = if meta.is_file() {
        name.strip_suffix(".parquet")
            .ok_or_else(|| bad("is not a .parquet file"))?
            .to_owned()
    } else {
        name.to_owned()
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let root = parent.canonicalize().map_err(|e| bad(&e.to_string()))?;
    Ok((root.display().to_string(), table))
}
