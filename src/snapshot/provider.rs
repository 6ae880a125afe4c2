//! A snapshot table as `DataFusion` sees it: the very files the engine reads (hidden names
//! skipped by the same listing), with the same union schema and the same typed partition
//! values. SQL checks, golden queries, SQL sides and `recon query` all read through it, so a
//! check and the row diff never see different tables.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::{ScalarValue, Statistics};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;

use super::TableFile;
use super::schema::plain;

/// One table of a snapshot, registered with `DataFusion`.
#[derive(Debug)]
pub struct SnapshotTable {
    /// The file columns (the union of the files' schemas, plain types).
    file_schema: SchemaRef,
    /// The partition columns, typed as the engine types them.
    partition_fields: Vec<Field>,
    /// File columns, then partition columns.
    schema: SchemaRef,
    /// Where the files live.
    store_url: ObjectStoreUrl,
    /// The files, with their partition values.
    files: Vec<PartitionedFile>,
    /// Row counts from the footers: the planner's join order depends on them.
    statistics: Statistics,
}

impl SnapshotTable {
    /// A table over `files`, whose union schema (file columns, then partition columns) is
    /// `table_schema`. `store_url` is the scheme and authority of the snapshot's object store.
    /// Partition keys in `stored` are columns of the files (checked against their folders) and
    /// are read from the files, as the engine reads them.
    pub fn new(
        table_schema: &Schema,
        files: &[TableFile],
        rows: &[u64],
        stored: &std::collections::BTreeSet<String>,
        store_url: ObjectStoreUrl,
    ) -> Self {
        let partition_names: Vec<&str> = files
            .iter()
            .flat_map(|f| f.partitions.iter().map(|(k, _)| k.as_str()))
            .filter(|k| !stored.contains(*k))
            .collect();
        let table_schema = plain(table_schema);
        let (partition_fields, file_fields): (Vec<Field>, Vec<Field>) = table_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .partition(|f| partition_names.contains(&f.name().as_str()));
        let partitioned = files
            .iter()
            .map(|f| {
                let values = partition_fields
                    .iter()
                    .map(|p| {
                        let value = f
                            .partitions
                            .iter()
                            .find(|(k, _)| k == p.name())
                            .and_then(|(_, v)| v.as_deref());
                        partition_value(p.data_type(), value)
                    })
                    .collect();
                // The listed location as it is: a path string would be percent-encoded again.
                PartitionedFile::new_from_meta(object_store::ObjectMeta {
                    location: f.location.clone(),
                    last_modified: f.modified,
                    size: f.size,
                    e_tag: None,
                    version: None,
                })
                .with_partition_values(values)
            })
            .collect();
        let file_schema = Arc::new(Schema::new(file_fields));
        let mut all: Vec<Field> = file_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        all.extend(partition_fields.iter().cloned());
        let schema = Arc::new(Schema::new(all));
        let total = rows.iter().sum::<u64>();
        let bytes = files.iter().map(|f| f.size).sum::<u64>();
        let statistics = Statistics {
            num_rows: Precision::Exact(usize::try_from(total).unwrap_or(usize::MAX)),
            total_byte_size: Precision::Inexact(usize::try_from(bytes).unwrap_or(usize::MAX)),
            column_statistics: Statistics::unknown_column(&schema),
        };
        Self {
            file_schema,
            partition_fields,
            schema,
            store_url,
            files: partitioned,
            statistics,
        }
    }
}

/// A partition value as the engine reads it: an integer for Int64 columns, NULL for the hive
/// default partition (and for an integer column's unparsable value, which cannot occur: the
/// column is Int64 only when every value parses).
fn partition_value(dt: &DataType, value: Option<&str>) -> ScalarValue {
    match (dt, value) {
        (DataType::Int64, Some(v)) => ScalarValue::Int64(v.parse().ok()),
        (DataType::Int64, None) => ScalarValue::Int64(None),
        (_, v) => ScalarValue::Utf8(v.map(str::to_owned)),
    }
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(self.statistics.clone())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        if self.files.is_empty() {
            let projected = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let table_schema = TableSchema::builder(Arc::clone(&self.file_schema))
            .with_table_partition_cols(
                self.partition_fields
                    .iter()
                    .cloned()
                    .map(Arc::new)
                    .collect::<Vec<_>>(),
            )
            .build();
        let groups = FileGroup::new(self.files.clone())
            .split_files(state.config().target_partitions().max(1));
        let config =
            FileScanConfigBuilder::new(self.store_url.clone(), format.file_source(table_schema))
                .with_file_groups(groups)
                .with_statistics(self.statistics.clone())
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .build();
        format.create_physical_plan(state, config).await
    }
}
