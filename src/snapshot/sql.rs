//! SQL-defined sides: a query over one snapshot (consolidations, `CASE` mappings, joins) run with
//! `DataFusion` and materialized once into a temporary Parquet file, so that it is then read, hashed
//! and re-read for detail exactly like a table.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::common::TableReference;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::{QueryPlanner, SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::LogicalPlan;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{SideTable, Snapshot, SnapshotTable, TableFile};
use crate::error::{Error, Result};

/// A `DataFusion` session over one snapshot: every table registered under its own name in the
/// default schema, which is named after the side, so `orders` and `legacy.orders` both resolve.
pub async fn session_for(snapshot: &Snapshot, threads: usize) -> Result<SessionContext> {
    session_with(snapshot, threads, None).await
}

/// A session as [`session_for`]'s, whose statements `planner` plans (e.g. to run them on a
/// cluster) when given.
pub async fn session_with(
    snapshot: &Snapshot,
    threads: usize,
    planner: Option<Arc<dyn QueryPlanner + Send + Sync>>,
) -> Result<SessionContext> {
    let config = SessionConfig::new()
        .with_target_partitions(threads.max(1))
        .with_default_catalog_and_schema("datafusion", snapshot.side.as_str())
        .with_information_schema(true);
    let ctx = match planner {
        None => SessionContext::new_with_config(config),
        Some(planner) => SessionContext::new_with_state(
            SessionStateBuilder::new()
                .with_config(config)
                .with_default_features()
                .with_query_planner(planner)
                .build(),
        ),
    };
    register_functions(&ctx);
    register_tables(&ctx, snapshot, None).await?;
    Ok(ctx)
}

/// recon's own SQL functions, in every session it opens (a cluster's roles included), each in
/// place of `DataFusion`'s of the same name: `sum` that cannot wrap ([`super::sum::ExactSum`]).
pub fn aggregates() -> Vec<std::sync::Arc<datafusion::logical_expr::AggregateUDF>> {
    vec![std::sync::Arc::new(super::sum::ExactSum::udaf())]
}

/// Registers recon's own SQL functions ([`aggregates`]) in a session.
pub fn register_functions(ctx: &SessionContext) {
    for f in aggregates() {
        ctx.register_udaf(f.as_ref().clone());
    }
}

/// Registers every table of `snapshot` in `ctx`, in `schema` when given (`legacy`, `target`),
/// as a [`SnapshotTable`]: the files, schema and partition values the engine reads. Names are
/// taken as they are (`dbo.orders` is one table, quoted in SQL as `"dbo.orders"`).
pub async fn register_tables(
    ctx: &SessionContext,
    snapshot: &Snapshot,
    schema: Option<&str>,
) -> Result<()> {
    let side = snapshot.side;
    let url = snapshot.url();
    let store_url = ObjectStoreUrl::parse(&url[..url::Position::BeforePath])
        .map_err(|e| Error::failed(format!("object store URL of {url}"), e))?;
    if snapshot.local_root().is_none() {
        ctx.register_object_store(url, snapshot.store());
    }
    for table in snapshot.table_names() {
        let files = snapshot.files(table)?;
        let (table_schema, rows) = snapshot.table_schema(table).await?;
        let stored = snapshot.stored_partition_keys(table).await?;
        let provider = SnapshotTable::new(&table_schema, files, &rows, &stored, store_url.clone());
        let name = match schema {
            Some(s) => TableReference::partial(s, table),
            None => TableReference::bare(table),
        };
        ctx.register_table(name, Arc::new(provider))
            .map_err(|e| Error::Sql {
                side,
                table: table.to_owned(),
                source: Box::new(e),
            })?;
    }
    Ok(())
}

/// SQL options that refuse anything that writes: DDL, DML and statements like `SET` or `COPY`.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Runs `sql` over `snapshot` and materializes the result as a one-file table named `pair`.
pub fn materialize(
    snapshot: &Snapshot,
    pair: &str,
    sql: &str,
    threads: usize,
    rt: &tokio::runtime::Runtime,
    redacting: bool,
) -> Result<SideTable> {
    let side = snapshot.side;
    // Running the query can fail on a value (a cast, an overflow): where the pair redacts
    // anything, the message is masked.
    let sql_err = |e: Box<dyn std::error::Error + Send + Sync>| Error::Sql {
        side,
        table: pair.to_owned(),
        source: if redacting {
            Box::new(crate::redact::masked(e.as_ref()))
        } else {
            e
        },
    };
    let dir = Arc::new(tempfile::tempdir().map_err(Error::Spill)?);
    let path = dir.path().join(format!("{pair}.parquet"));
    let scanned = rt.block_on(async {
        let ctx = session_for(snapshot, threads).await?;
        let df = ctx
            .sql_with_options(sql, read_only())
            .await
            .map_err(|e| sql_err(e.into()))?;
        let scanned = scanned_tables(df.logical_plan(), snapshot).map_err(|e| sql_err(e.into()))?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let mut stream = df.execute_stream().await.map_err(|e| sql_err(e.into()))?;
        let file = std::fs::File::create(&path).map_err(Error::Spill)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(1 << 20))
            .build();
        let mut writer =
            ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| sql_err(e.into()))?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| sql_err(e.into()))?;
            writer.write(&batch).map_err(|e| sql_err(e.into()))?;
        }
        writer.close().map_err(|e| sql_err(e.into()))?;
        Ok::<_, Error>(scanned)
    })?;
    let size = std::fs::metadata(&path).map_err(Error::Spill)?.len();
    let file = TableFile {
        modified: chrono::Utc::now(),
        location: object_store::path::Path::from_absolute_path(&path)
            .map_err(|e| Error::failed(format!("a path for {}", path.display()), e))?,
        relative: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        local: Some(path),
        size,
        partitions: Vec::new(),
    };
    let store: Arc<dyn object_store::ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new());
    let footer = rt
        .block_on(super::footer::load(&store, &file))
        .map_err(|e| Error::Read {
            side,
            table: pair.to_owned(),
            file: file.display(),
            what: "not a readable Parquet file".into(),
            source: Box::new(e),
        })?;
    let mut table = SideTable::open(
        side,
        pair,
        std::slice::from_ref(&file),
        std::slice::from_ref(&footer),
        &store,
        rt,
    )?;
    table.keep_alive = Some(dir);
    table.scanned = Some(scanned);
    Ok(table)
}

/// The tables of `snapshot` a query's logical plan scans: its table scans, subqueries included
/// (CTE names and `information_schema` are not tables of the snapshot).
pub fn scanned_tables(
    plan: &LogicalPlan,
    snapshot: &Snapshot,
) -> datafusion::error::Result<BTreeSet<String>> {
    let side = snapshot.side.as_str();
    let mut names = BTreeSet::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && scan.table_name.schema().is_none_or(|s| s == side)
        {
            names.insert(scan.table_name.table().to_owned());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(names)
}
