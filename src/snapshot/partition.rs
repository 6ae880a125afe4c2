//! Hive partition values, one rule for the engine and for `DataFusion`. A `key=value` folder's
//! value is text unless every value of that key across the table is a canonical integer (so
//! `zip=01234` and `zip=1234` stay two different values). Where the files store the key as a
//! column too, the file's column is the column, and the folder must agree with every value in
//! it: a file whose values contradict its folder, or that lacks the column other files store,
//! is an error naming the file. Checked once, when a table's footers are first read.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use object_store::ObjectStore;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};

use super::{SourceReader, TableFile};
use crate::error::{Error, Result};
use crate::side::Side;

/// Whether a partition value is an integer written the one way an integer prints: no leading
/// zeros, no `+`, no `-0`, within `i64`.
pub(crate) fn canonical_integer(value: &str) -> bool {
    value.parse::<i64>().is_ok_and(|n| n.to_string() == value)
}

/// The partition keys of a table that its files store as columns too.
pub(crate) fn stored_keys(
    files: &[TableFile],
    footers: &[ArrowReaderMetadata],
) -> BTreeSet<String> {
    files
        .iter()
        .flat_map(|f| f.partitions.iter().map(|(k, _)| k))
        .filter(|k| {
            footers
                .iter()
                .any(|m| m.schema().column_with_name(k).is_some())
        })
        .cloned()
        .collect()
}

/// Checks that every folder value of a stored key agrees with its file's column.
pub(crate) async fn verify(
    side: Side,
    table: &str,
    files: &[TableFile],
    footers: &[ArrowReaderMetadata],
    store: &Arc<dyn ObjectStore>,
) -> Result<()> {
    let stored = stored_keys(files, footers);
    if stored.is_empty() {
        return Ok(());
    }
    for (f, meta) in files.iter().zip(footers) {
        let err = |message: String| Error::File {
            side,
            table: table.to_owned(),
            file: f.display(),
            message,
        };
        for (key, value) in f.partitions.iter().filter(|(k, _)| stored.contains(k)) {
            let Some((_, field)) = meta.schema().column_with_name(key) else {
                return Err(err(format!(
                    "is in the folder `{key}={}` but does not store the column `{key}` other \
                     files of the table store; the folder and the files must agree",
                    value.as_deref().unwrap_or("__HIVE_DEFAULT_PARTITION__")
                )));
            };
            let expected = folder_value(value.as_deref(), field.data_type());
            let values = read_column(store, f, meta, key)
                .await
                .map_err(|e| err(format!("cannot read the column `{key}`: {e}")))?;
            for array in values {
                let found = cast(&array, &DataType::Utf8)
                    .map_err(|e| err(format!("cannot compare the column `{key}`: {e}")))?;
                let Some(found) = found.as_any().downcast_ref::<StringArray>() else {
                    continue;
                };
                if let Some(other) = found.iter().find(|v| v.map(str::to_owned) != expected) {
                    return Err(err(format!(
                        "is in the folder `{key}={}` but stores `{key}` = {}; the folder and \
                         the file must agree",
                        value.as_deref().unwrap_or("__HIVE_DEFAULT_PARTITION__"),
                        other.map_or_else(|| "NULL".to_owned(), |v| format!("`{v}`"))
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A folder's value as the stored column's type would print it: `None` for the default
/// partition (NULL); text that is no value of that type gets a marker no stored value prints
/// as, so it matches nothing.
fn folder_value(value: Option<&str>, dt: &DataType) -> Option<String> {
    let value = value?;
    let text: ArrayRef = Arc::new(StringArray::from(vec![value]));
    let printed = cast(&text, dt)
        .and_then(|typed| cast(&typed, &DataType::Utf8))
        .ok()
        .and_then(|back| {
            let back = back.as_any().downcast_ref::<StringArray>()?;
            (!back.is_null(0)).then(|| back.value(0).to_owned())
        });
    Some(printed.unwrap_or_else(|| format!("\u{0}{value}")))
}

/// One column of a file, every row group: from the local file, or its column chunks fetched
/// from the store.
async fn read_column(
    store: &Arc<dyn ObjectStore>,
    f: &TableFile,
    meta: &ArrowReaderMetadata,
    column: &str,
) -> std::result::Result<Vec<ArrayRef>, Box<dyn std::error::Error + Send + Sync>> {
    let schema = meta.parquet_schema();
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&i| {
            let leaf = schema.column(i);
            leaf.path().parts().first().is_some_and(|p| p == column)
        })
        .collect();
    let mut arrays = Vec::new();
    for (rg, row_group) in meta.metadata().row_groups().iter().enumerate() {
        let reader = if let Some(path) = &f.local {
            SourceReader::File(std::fs::File::open(path)?)
        } else {
            let ranges: Vec<std::ops::Range<u64>> = leaves
                .iter()
                .map(|&leaf| {
                    let (start, len) = row_group.column(leaf).byte_range();
                    start..start + len
                })
                .collect();
            let fetched = store
                .get_ranges(&f.location, &ranges)
                .await
                .map_err(crate::store::StoreError::from)?;
            SourceReader::Chunks {
                ranges: ranges.iter().map(|r| r.start).zip(fetched).collect(),
                len: f.size,
            }
        };
        let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(reader, meta.clone())
            .with_row_groups(vec![rg])
            .with_projection(ProjectionMask::leaves(schema, leaves.iter().copied()))
            .build()?;
        for batch in batches {
            arrays.extend(batch?.column_by_name(column).cloned());
        }
    }
    Ok(arrays)
}

#[cfg(test)]
mod tests {
    use super::*;

    use arrow::array::RecordBatch;
    use arrow::datatypes::{Field, Schema};
    use object_store::memory::InMemory;
    use object_store::path::Path as StorePath;
    use object_store::{ObjectStoreExt, PutPayload};

    /// A remote file `t/region=<folder>/p.parquet` whose `region` column holds `stored`.
    async fn remote_file(
        store: &Arc<dyn ObjectStore>,
        folder: &str,
        stored: &str,
    ) -> (TableFile, ArrowReaderMetadata) {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "region",
            DataType::Utf8,
            true,
        )]));
        let column: ArrayRef = Arc::new(StringArray::from(vec![stored, stored]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![column]).expect("batch");
        let mut bytes = Vec::new();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        let location = StorePath::from(format!("t/region={folder}/p.parquet"));
        let size = bytes.len() as u64;
        store
            .put(&location, PutPayload::from(bytes))
            .await
            .expect("put");
        let file = TableFile {
            relative: location.to_string(),
            location,
            local: None,
            size,
            modified: chrono::Utc::now(),
            partitions: vec![("region".into(), Some(folder.into()))],
        };
        let meta = super::super::footer::load(store, &file)
            .await
            .expect("footer");
        (file, meta)
    }

    #[test]
    fn a_remote_file_is_checked_against_its_folder() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
            let (file, meta) = remote_file(&store, "north", "north").await;
            verify(Side::Legacy, "t", &[file], &[meta], &store)
                .await
                .expect("agrees");
            let (file, meta) = remote_file(&store, "east", "west").await;
            let err = verify(Side::Legacy, "t", &[file], &[meta], &store)
                .await
                .expect_err("contradicts")
                .to_string();
            assert!(err.contains("t/region=east/p.parquet"), "{err}");
            assert!(err.contains("`west`"), "{err}");
        });
    }

    #[test]
    fn only_canonical_integers_are_integers() {
        for yes in ["0", "1234", "-5", "9223372036854775807"] {
            assert!(canonical_integer(yes), "{yes}");
        }
        for no in [
            "01234",
            "+5",
            "-0",
            "00",
            "",
            "1e3",
            "9223372036854775808",
            " 1",
        ] {
            assert!(!canonical_integer(no), "{no}");
        }
    }

    #[test]
    fn a_folder_value_prints_as_the_stored_type_would() {
        assert_eq!(
            folder_value(Some("01234"), &DataType::Int64),
            Some("1234".into())
        );
        assert_eq!(
            folder_value(Some("north"), &DataType::Utf8),
            Some("north".into())
        );
        assert_eq!(folder_value(None, &DataType::Utf8), None);
        assert_eq!(
            folder_value(Some("x"), &DataType::Int64),
            Some("\u{0}x".into())
        );
    }
}
