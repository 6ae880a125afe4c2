//! What the decode benches share: the bench table's two files and their row groups.

use std::fs::File;

use parquet::file::reader::{FileReader, SerializedFileReader};

/// The data set's root: the first argument that is not a flag (cargo bench passes `--bench`).
pub fn root() -> String {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "bench-data/10000000".to_owned())
}

/// Every `(file, row group)` of both sides' `service_orders.parquet` under `root`.
pub fn row_groups(root: &str) -> Result<Vec<(String, usize)>, String> {
    let mut work = Vec::new();
    for side in ["legacy", "target"] {
        let path = format!("{root}/{side}/service_orders.parquet");
        let file = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        let reader = SerializedFileReader::new(file).map_err(|e| format!("{path}: {e}"))?;
        for rg in 0..reader.metadata().num_row_groups() {
            work.push((path.clone(), rg));
        }
    }
    Ok(work)
}
