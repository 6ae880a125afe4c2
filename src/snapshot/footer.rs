//! Footers: every file's footer of a table, read with ranged requests (no data) once per
//! snapshot for the engine and the SQL side alike, and the reader hints derived from a footer.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::PageIndexPolicy;

use super::{Snapshot, TableFile, schema};
use crate::error::{Error, Result};

impl Snapshot {
    /// A table's schema (the union of its files' footers, [`schema::union`]) and each file's rows,
    /// from the footers alone (ranged reads, no data).
    pub async fn table_schema(&self, table: &str) -> Result<(SchemaRef, Vec<u64>)> {
        let files = self.files(table)?;
        let footers = self.footers(table).await?;
        let with_schemas: Vec<(&TableFile, &Schema)> = files
            .iter()
            .zip(footers.iter())
            .map(|(f, m)| (f, m.schema().as_ref()))
            .collect();
        let rows = footers
            .iter()
            .map(|m| u64::try_from(m.metadata().file_metadata().num_rows()).unwrap_or(0))
            .collect();
        Ok((schema::union(self.side, table, &with_schemas)?, rows))
    }

    /// The hive partition keys of a table that its files store as columns too (read as file
    /// columns by every reader, once checked against the folders).
    pub async fn stored_partition_keys(
        &self,
        table: &str,
    ) -> Result<std::collections::BTreeSet<String>> {
        let files = self.files(table)?;
        let footers = self.footers(table).await?;
        Ok(super::partition::stored_keys(files, &footers))
    }

    /// Every file's footer of a table, in file order, read once per snapshot (concurrently; the
    /// store bounds the requests in flight) and shared by the engine and every SQL session.
    pub(super) async fn footers(&self, table: &str) -> Result<Arc<[ArrowReaderMetadata]>> {
        if let Some(known) = self.footers.lock().ok().and_then(|f| f.get(table).cloned()) {
            return Ok(known);
        }
        let files = self.files(table)?;
        let read: Arc<[ArrowReaderMetadata]> = futures::stream::iter(files)
            .map(|f| async move {
                load(&self.store, f).await.map_err(|e| Error::Read {
                    side: self.side,
                    table: table.to_owned(),
                    file: f.display(),
                    what: "not a readable Parquet file".into(),
                    source: Box::new(e),
                })
            })
            .buffered(crate::store::MAX_REQUESTS)
            .try_collect::<Vec<_>>()
            .await?
            .into();
        super::partition::verify(self.side, table, files, &read, &self.store).await?;
        if let Ok(mut f) = self.footers.lock() {
            f.insert(table.to_owned(), Arc::clone(&read));
        }
        Ok(read)
    }
}

/// Reads one file's footer with ranged requests (one, for most footers).
pub(super) async fn load(
    store: &Arc<dyn ObjectStore>,
    file: &TableFile,
) -> parquet::errors::Result<ArrowReaderMetadata> {
    let fetch = StoreRange {
        store: Arc::clone(store),
        location: file.location.clone(),
    };
    let md = parquet::file::metadata::ParquetMetaDataReader::new()
        .with_prefetch_hint(Some(FOOTER_PREFETCH))
        .with_offset_index_policy(PageIndexPolicy::Optional)
        .load_and_finish(fetch, file.size)
        .await?;
    ArrowReaderMetadata::try_new(Arc::new(md), reader_options())
}

/// How footers are read: with the offset index where the file has one, so that reading a few
/// rows again (attribution, samples, `--diff-out` keys) decodes only the pages that hold them.
pub(super) fn reader_options() -> ArrowReaderOptions {
    ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional)
}

/// Bytes fetched with the first request for a footer: most footers fit, so one request.
const FOOTER_PREFETCH: usize = 64 * 1024;

/// Ranged reads of one object, for the footer reader.
struct StoreRange {
    store: Arc<dyn ObjectStore>,
    location: StorePath,
}

impl parquet::arrow::async_reader::MetadataFetch for StoreRange {
    fn fetch(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<Bytes>> {
        Box::pin(async move {
            self.store
                .get_range(&self.location, range)
                .await
                .map_err(|e| {
                    parquet::errors::ParquetError::External(Box::new(
                        crate::store::StoreError::from(e),
                    ))
                })
        })
    }
}

/// Asks the reader to keep string columns dictionary-encoded where every row group of the file
/// stores them with a dictionary: no string is copied, and each distinct value is hashed once.
pub(super) fn with_dictionary_hints(
    meta: ArrowReaderMetadata,
) -> parquet::errors::Result<ArrowReaderMetadata> {
    let md = meta.metadata();
    let leaves = md.file_metadata().schema_descr();
    let mut changed = false;
    let fields: Vec<Field> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let is_text = matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8);
            let leaf = (0..leaves.num_columns()).find(|&i| {
                let column = leaves.column(i);
                let parts = column.path().parts();
                parts.len() == 1 && parts[0] == *f.name()
            });
            let dictionary = is_text
                && leaf.is_some_and(|i| {
                    md.num_row_groups() > 0
                        && md
                            .row_groups()
                            .iter()
                            .all(|rg| rg.column(i).dictionary_page_offset().is_some())
                });
            if dictionary {
                changed = true;
                f.as_ref().clone().with_data_type(DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(f.data_type().clone()),
                ))
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    if !changed {
        return Ok(meta);
    }
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        meta.schema().metadata().clone(),
    ));
    ArrowReaderMetadata::try_new(
        Arc::clone(md),
        ArrowReaderOptions::new().with_schema(schema),
    )
}
