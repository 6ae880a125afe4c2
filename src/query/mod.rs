//! Ad-hoc SQL for analysts: both snapshots in one `DataFusion` session, every table registered as
//! `legacy.<table>` and `target.<table>`, read-only. The CLI (`recon query`) adds the prompt and
//! the output formats ([`format`](mod@format)).
//!
//! ```
//! use recon::query::QuerySession;
//!
//! let workers = recon::Workers::new(2)?;
//! let roots = recon::PerSide::new("legacy".to_owned(), "target".to_owned());
//! let session = QuerySession::open(&roots, "fixtures/erp".as_ref(), &workers)?;
//! let result = session.run("SELECT count(*) AS n FROM legacy.customers")?;
//! assert_eq!(result.batches[0].num_rows(), 1);
//! print!("{}", recon::query::format::table(&result.schema, &result.batches, 20)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod format;
mod golden;

pub use golden::{Golden, SideBySide};

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::execution::context::{SessionConfig, SessionContext};

use crate::error::{Error, Result};
use crate::pool::Workers;
use crate::side::{PerSide, Side};
use crate::snapshot::{Snapshot, sql};

/// A session over both snapshots, on the runtime of the [`Workers`].
pub struct QuerySession<'e> {
    ctx: SessionContext,
    snapshots: PerSide<Snapshot>,
    workers: &'e Workers,
    /// Where statements run when not here: planned in this session, run as cluster jobs.
    #[cfg(feature = "cluster")]
    cluster: Option<crate::cluster::Client>,
}

/// A statement's result.
pub struct QueryResult {
    /// The result schema (also for empty results).
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
    /// Wall time.
    pub elapsed: Duration,
}

/// Why an ad-hoc statement or golden query gave no result.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement does not parse or plan. The parser names the position of most errors; one
    /// that ran out of input gets the end of the statement, so every syntax error says where.
    #[error("{source}{}", end.map(|(l, c)| format!(" at Line: {l}, Column: {c} (end of the statement)")).unwrap_or_default())]
    Plan {
        /// `DataFusion`'s error.
        #[source]
        source: datafusion::error::DataFusionError,
        /// Line and column of the end of the statement, when the parser named no position.
        end: Option<(usize, usize)>,
    },
    /// The statement failed while running.
    #[error(transparent)]
    Run(datafusion::error::DataFusionError),
    /// A snapshot could not be read.
    #[error(transparent)]
    Open(#[from] Error),
    /// The cluster refused or failed the statement's job.
    #[cfg(feature = "cluster")]
    #[error(transparent)]
    Cluster(Error),
    /// A golden query's results could not be compared.
    #[error(transparent)]
    Check(#[from] crate::error::CheckError),
}

impl QueryError {
    fn plan(source: datafusion::error::DataFusionError, statement: &str) -> Self {
        let message = source.to_string();
        let end = (!message.contains("Line:") && message.contains("found: EOF")).then(|| {
            let text = statement.trim_end();
            let line = text.lines().count().max(1);
            let column = text.lines().last().map_or(0, |l| l.chars().count()) + 1;
            (line, column)
        });
        Self::Plan { source, end }
    }
}

/// One table as `\d` lists it.
pub struct TableInfo {
    /// `legacy` or `target`.
    pub side: Side,
    /// The table's name.
    pub name: String,
    /// Rows from the Parquet footers.
    pub rows: u64,
    /// Files.
    pub files: usize,
    /// Columns and their types.
    pub columns: Vec<(String, String)>,
}

impl QueryError {
    /// The error and its causes on one line, each cause once (as [`Error::chain`]).
    pub fn chain(&self) -> String {
        crate::error::chain(self)
    }
}

impl<'e> QuerySession<'e> {
    /// Opens both roots and registers every table in the schemas `legacy` and `target`.
    pub fn open(
        roots: &PerSide<String>,
        base: &std::path::Path,
        workers: &'e Workers,
    ) -> Result<Self> {
        let (rt, threads) = (workers.runtime(), workers.threads());
        let snapshots = PerSide::new(
            Snapshot::open(Side::Legacy, &roots.legacy, base, rt)?,
            Snapshot::open(Side::Target, &roots.target, base, rt)?,
        );
        let config = SessionConfig::new()
            .with_target_partitions(threads.max(1))
            .with_information_schema(true);
        let ctx = SessionContext::new_with_config(config);
        sql::register_functions(&ctx);
        let catalog = ctx
            .catalog("datafusion")
            .ok_or_else(|| Error::Internal("DataFusion's default catalog is missing".into()))?;
        for side in Side::BOTH {
            catalog
                .register_schema(side.as_str(), Arc::new(MemorySchemaProvider::new()))
                .map_err(|e| Error::failed(format!("schema {side}"), e))?;
        }
        rt.block_on(async {
            for side in Side::BOTH {
                sql::register_tables(&ctx, snapshots.get(side), Some(side.as_str())).await?;
            }
            Ok::<_, Error>(())
        })?;
        Ok(Self {
            ctx,
            snapshots,
            workers,
            #[cfg(feature = "cluster")]
            cluster: None,
        })
    }

    /// Runs every statement on a cluster: planned in this session (its tables and functions),
    /// then submitted as a job. The cluster's executors must see both snapshot roots at the
    /// same paths or URLs.
    #[cfg(feature = "cluster")]
    pub fn on_cluster(self, client: crate::cluster::Client) -> Self {
        Self {
            cluster: Some(client),
            ..self
        }
    }

    /// The local folders of both snapshots (outputs must stay out of them).
    pub fn local_roots(&self) -> Vec<std::path::PathBuf> {
        Side::BOTH
            .iter()
            .filter_map(|&s| {
                self.snapshots
                    .get(s)
                    .local_root()
                    .map(std::path::Path::to_path_buf)
            })
            .collect()
    }

    /// Runs one read-only statement. A syntax error names its position.
    pub fn run(&self, statement: &str) -> std::result::Result<QueryResult, QueryError> {
        let clock = Instant::now();
        self.workers.runtime().block_on(async {
            let df = self
                .ctx
                .sql_with_options(statement, sql::read_only())
                .await
                .map_err(|e| QueryError::plan(e, statement))?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            #[cfg(feature = "cluster")]
            if let Some(cluster) = &self.cluster {
                let plan = df.create_physical_plan().await.map_err(QueryError::Run)?;
                let batches = cluster
                    .execute(plan, &self.ctx.session_id())
                    .await
                    .map_err(QueryError::Cluster)?;
                return Ok(QueryResult {
                    schema,
                    batches,
                    elapsed: clock.elapsed(),
                });
            }
            let batches = df.collect().await.map_err(QueryError::Run)?;
            Ok(QueryResult {
                schema,
                batches,
                elapsed: clock.elapsed(),
            })
        })
    }

    /// Refuses outputs (each named by the option that chose it) inside either snapshot: recon
    /// never writes into a snapshot.
    pub fn refuse_outputs(&self, outputs: &[(&str, &std::path::Path)]) -> Result<()> {
        crate::atomic::refuse_inside_roots(outputs, &self.local_roots())
    }

    /// Runs a golden query on both sides, each in a session over its own snapshot, and compares
    /// the results as the golden check does.
    pub(crate) fn golden(
        &self,
        q: &crate::checks::GoldenQuery,
        options: &crate::checks::sql::ValueOptions,
        redaction: &crate::checks::lineage::Redaction,
    ) -> std::result::Result<crate::checks::golden::Compared, QueryError> {
        self.workers.runtime().block_on(async {
            let sessions = PerSide::new(
                sql::session_for(&self.snapshots.legacy, self.workers.threads()).await?,
                sql::session_for(&self.snapshots.target, self.workers.threads()).await?,
            );
            let results = crate::checks::golden::results(&sessions, q, redaction).await?;
            Ok(crate::checks::golden::compare(
                q, results, options, redaction,
            )?)
        })
    }

    /// Every table of both snapshots, with footer row counts.
    pub fn tables(&self) -> Result<Vec<TableInfo>> {
        let mut out = Vec::new();
        for side in Side::BOTH {
            let snap = self.snapshots.get(side);
            for name in snap.table_names() {
                out.push(self.describe_one(side, name)?);
            }
        }
        Ok(out)
    }

    /// `legacy.orders`, `target.orders`, or `orders` (both sides).
    pub fn describe(&self, name: &str) -> Result<Vec<TableInfo>> {
        let (sides, table): (Vec<Side>, &str) = match name.split_once('.') {
            Some(("legacy", t)) => (vec![Side::Legacy], t),
            Some(("target", t)) => (vec![Side::Target], t),
            _ => (Side::BOTH.to_vec(), name),
        };
        let mut out = Vec::new();
        for side in sides {
            if self.snapshots.get(side).table_names().any(|t| t == table) {
                out.push(self.describe_one(side, table)?);
            }
        }
        if out.is_empty() {
            return Err(Error::Invalid(format!(
                "no table `{name}` in either snapshot"
            )));
        }
        Ok(out)
    }

    fn describe_one(&self, side: Side, name: &str) -> Result<TableInfo> {
        let table = self
            .snapshots
            .get(side)
            .table(name, self.workers.runtime())?;
        Ok(TableInfo {
            side,
            name: name.to_owned(),
            rows: table.rows,
            files: table.files.len(),
            // The file's type: recon's reader keeps dictionary-encoded strings as dictionaries.
            columns: table
                .schema
                .fields()
                .iter()
                .map(|f| {
                    let ty = match f.data_type() {
                        arrow::datatypes::DataType::Dictionary(_, v) => v.to_string(),
                        t => t.to_string(),
                    };
                    (f.name().clone(), ty)
                })
                .collect(),
        })
    }
}
