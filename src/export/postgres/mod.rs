//! `PostgreSQL`: one `REPEATABLE READ, READ ONLY` transaction takes `ACCESS SHARE` on every
//! table, then exports its snapshot (`pg_export_snapshot()`); every worker takes the same locks
//! and joins it with `SET TRANSACTION SNAPSHOT`, and each table streams through
//! `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, decoded straight into Arrow builders
//! ([`binary`]). The locks are why a `TRUNCATE` or a table rewrite, which no snapshot sees
//! through, waits for the export instead of showing it an empty table.

mod binary;
mod catalog;

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use super::manifest::{self, Consistency, Manifest, Source};
use super::sink::TableSink;
use super::{ExportRequest, SourceUrl, TableOut, Written, db_error};
use crate::error::{Error, Result};

/// How a column's binary values are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decode {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bool,
    Numeric,
    Text,
    Jsonb,
    Uuid,
    Bytes,
    Date,
    Time,
    Timestamp,
}

/// A connection on the workers' runtime; its methods block the calling (non-runtime) thread.
pub(super) struct Pg<'e> {
    client: tokio_postgres::Client,
    rt: &'e tokio::runtime::Runtime,
    source: SourceUrl,
}

impl<'e> Pg<'e> {
    fn connect(source: &SourceUrl, rt: &'e tokio::runtime::Runtime) -> Result<Self> {
        Self::open(source, &source.database, rt)
    }

    /// A connection to database `db` of the server of `source`.
    pub(super) fn open(
        source: &SourceUrl,
        db: &str,
        rt: &'e tokio::runtime::Runtime,
    ) -> Result<Self> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&source.host)
            .port(source.port)
            .user(&source.user)
            .dbname(db)
            .application_name("recon snapshot");
        if let Some(p) = source.password() {
            config.password(p);
        }
        let limit = source.connect_timeout;
        config.connect_timeout(limit);
        // The whole connect, handshake included: a server that accepts and never answers
        // would otherwise hold the export forever.
        let (client, connection) = rt
            .block_on(async { tokio::time::timeout(limit, config.connect(NoTls)).await })
            .map_err(|_| super::connect_timed_out(source))?
            .map_err(|e| db_error(source, "cannot connect", e))?;
        rt.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres connection ended: {e}");
            }
        });
        Ok(Self {
            client,
            rt,
            source: source.clone(),
        })
    }

    /// The client.
    pub(super) fn client(&self) -> &tokio_postgres::Client {
        &self.client
    }

    /// Runs statements that return nothing.
    pub(super) fn execute(&self, sql: &str) -> Result<()> {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .map_err(|e| db_error(&self.source, "a statement failed", e))
    }

    /// Rows of a (catalog) query as text.
    pub(super) fn rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let messages = self
            .rt
            .block_on(self.client.simple_query(sql))
            .map_err(|e| db_error(&self.source, "reading the catalog", e))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                }
                _ => None,
            })
            .collect())
    }

    fn one(&self, sql: &str) -> Result<Vec<Option<String>>> {
        self.rows(sql)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Internal(format!("no row from `{sql}`")))
    }
}

/// Exports the request's tables into `dir`.
pub(super) fn export(
    request: &ExportRequest,
    dir: &Path,
    workers: &crate::pool::Workers,
    progress: &dyn super::ExportProgress,
) -> Result<Manifest> {
    let started_at = manifest::now();
    let rt = workers.runtime();
    let source = &request.source;
    let schema = request
        .schema
        .clone()
        .unwrap_or_else(|| "public".to_owned());
    let coordinator = Pg::connect(source, rt)?;
    // The tables are listed before the snapshot is taken, so that their locks can be taken
    // before it (LOCK takes no snapshot): a table truncated or rewritten while the export runs
    // waits for it, and one changed before is read as committed.
    let found = catalog::tables(&coordinator, &schema)?;
    let names: Vec<String> = found.iter().map(|r| r.name.clone()).collect();
    if names.is_empty() && request.tables.is_empty() {
        return Err(Error::Invalid(format!(
            "{source}: schema `{schema}` has no tables"
        )));
    }
    super::check_requested(source, &request.tables, &names)?;
    let chosen: Vec<&catalog::Relation> = found
        .iter()
        .filter(|r| request.tables.is_empty() || request.tables.contains(&r.name))
        .collect();
    coordinator.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
    let locks = lock_sql(&schema, &chosen, request.lock_timeout);
    coordinator.lock(&locks, request.lock_timeout)?;
    let point = coordinator.one(
        "SELECT pg_export_snapshot(), txid_current_snapshot()::text, \
         (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
               ELSE pg_current_wal_lsn() END)::text, \
         current_setting('server_version')",
    )?;
    let text = |i: usize| point.get(i).cloned().flatten().unwrap_or_default();
    let (snapshot_id, txid, lsn, version) = (text(0), text(1), text(2), text(3));
    let mut tables = Vec::new();
    let mut reads = BTreeMap::new();
    for r in &chosen {
        let (t, d) = catalog::table(&coordinator, request, &schema, r)?;
        let (t, index_scans) = physical_order(&coordinator, request, &schema, r, t)?;
        reads.insert(
            r.name.clone(),
            Read {
                decoders: d,
                from: r.from(&schema),
                index_scans,
            },
        );
        tables.push(t);
    }
    // Every worker holds the locks too, taken before it joins the snapshot: a TRUNCATE
    // queued behind the coordinator's lock would otherwise hold back a worker's first read of
    // the table while it waits for the export to end.
    let join = format!(
        "SET TRANSACTION SNAPSHOT {}",
        catalog::literal(&snapshot_id)
    );
    let parts = super::plan_parts(&tables, request.jobs, |t, key| {
        let row = coordinator.one(&format!(
            "SELECT min({k})::text, max({k})::text FROM {}",
            reads[&t.name].from,
            k = catalog::ident(key)
        ))?;
        let get = |i: usize| row.get(i).cloned().flatten().and_then(|v| v.parse().ok());
        Ok(get(0).zip(get(1)))
    })?;
    let written = super::run_workers(
        &tables,
        &parts,
        request.jobs,
        || {
            let pg = Pg::connect(source, rt)?;
            pg.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
            pg.lock(&locks, request.lock_timeout)?;
            pg.execute(&join)?;
            Ok(pg)
        },
        || Ok(()),
        0,
        || Ok(()),
        |pg, t, part| {
            let counter = part.progress(t, progress);
            copy_table(pg, &reads[&t.name], t, part, dir, counter)
        },
    )?;
    coordinator.execute("COMMIT")?;
    Ok(Manifest::assemble(
        Source {
            kind: "postgresql".into(),
            host: source.host.clone(),
            port: source.port,
            user: source.user.clone(),
            database: source.database.clone(),
            schema: Some(schema),
            server_version: version,
        },
        Consistency {
            method: "exported snapshot (REPEATABLE READ, SET TRANSACTION SNAPSHOT)".into(),
            position: BTreeMap::from([
                ("txid_snapshot".to_owned(), txid),
                ("wal_lsn".to_owned(), lsn),
            ]),
        },
        started_at,
        &tables,
        written,
    ))
}

/// A table that may be written in key order, kept in key order or not as the request says, and
/// whether its parts may be read through an index: where its key's index sorts as the export
/// does and its rows lie on disk in about key order, the planner reads them through the index in
/// order at no cost past the unsorted read; elsewhere the server sorts, and reading the table
/// and sorting it beats a random heap read per row, so index scans are off.
fn physical_order(
    pg: &Pg,
    request: &ExportRequest,
    schema: &str,
    r: &catalog::Relation,
    mut t: TableOut,
) -> Result<(TableOut, bool)> {
    let Some(order) = &t.key_order else {
        return Ok((t, true));
    };
    let cheap = order.in_index_order && catalog::key_in_physical_order(pg, schema, r, order)?;
    if !request.key_order.keeps(cheap) {
        t.key_order = None;
        return Ok((t, true));
    }
    Ok((t, cheap))
}

/// `SET LOCAL lock_timeout`, then a `LOCK TABLE ... IN ACCESS SHARE MODE` per table (a
/// partitioned table's lock covers its partitions), each with the table's name.
fn lock_sql(
    schema: &str,
    tables: &[&catalog::Relation],
    timeout: Duration,
) -> Vec<(String, String)> {
    let set = format!(
        "SET LOCAL lock_timeout = {}",
        timeout.as_millis().clamp(1, i32::MAX as u128)
    );
    std::iter::once((String::new(), set))
        .chain(tables.iter().map(|r| {
            (
                r.name.clone(),
                format!(
                    "LOCK TABLE {}.{} IN ACCESS SHARE MODE",
                    catalog::ident(schema),
                    catalog::ident(&r.name)
                ),
            )
        }))
        .collect()
}

impl Pg<'_> {
    /// Runs [`lock_sql`]'s statements; a lock not had within `timeout` is an error naming its
    /// table.
    fn lock(&self, statements: &[(String, String)], timeout: Duration) -> Result<()> {
        for (table, sql) in statements {
            self.rt
                .block_on(self.client.batch_execute(sql))
                .map_err(|e| {
                    if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
                        super::lock_timed_out(&self.source, table, timeout, e)
                    } else {
                        db_error(
                            &self.source,
                            format!("table `{table}`: LOCK TABLE failed"),
                            e,
                        )
                    }
                })?;
        }
        Ok(())
    }
}

/// How a table is read.
struct Read {
    /// How each column's values are decoded.
    decoders: Vec<Decode>,
    /// The relation to read (`ONLY` for a table with inheritance children, whose rows are
    /// theirs).
    from: String,
    /// Whether the planner may read the table through an index (a bitmap scan, which reads the
    /// table in its own order, it may always). For a table written in key order, only where its
    /// rows lie in about that order (otherwise every row is a random heap read,
    /// several times slower than reading the table and sorting it).
    index_scans: bool,
}

/// Streams one table through binary COPY into its Parquet file.
fn copy_table(
    pg: &mut Pg<'_>,
    read: &Read,
    t: &TableOut,
    part: &super::Part,
    dir: &Path,
    counter: Box<dyn super::PartProgress>,
) -> Result<Written> {
    let Read {
        decoders,
        from,
        index_scans,
    } = read;
    // Set for every part: the worker's transaction keeps it for the parts that follow.
    pg.execute(&format!(
        "SET LOCAL enable_indexscan = {}",
        if *index_scans { "on" } else { "off" }
    ))?;
    let sql = format!(
        "COPY (SELECT {} FROM {from}{}{}) TO STDOUT (FORMAT binary)",
        t.select_list(catalog::ident, |_, q| format!("{q}::text")),
        part.filter(catalog::ident),
        t.order_clause()
    );
    let stream = pg
        .rt
        .block_on(pg.client.copy_out(&sql))
        .map_err(|e| db_error(&pg.source, format!("table `{}`: COPY failed", t.name), e))?;
    let file = part.file();
    let mut sink = TableSink::create(&dir.join(&file), t, counter)?;
    let mut input = CopyInput {
        rt: pg.rt,
        stream: Box::pin(stream),
        chunk: Bytes::new(),
        at: 0,
    };
    binary::decode(&mut input, t, decoders, &mut sink).map_err(|e| match e {
        binary::Failure::Stream(e) => db_error(
            &pg.source,
            format!("table `{}`: the COPY stream broke off", t.name),
            e,
        ),
        binary::Failure::Other(e) => e,
    })?;
    super::finish_table(sink, t, file, BTreeMap::new())
}

/// The COPY data as a byte source: chunks come from the connection on the runtime.
pub(super) struct CopyInput<'e> {
    rt: &'e tokio::runtime::Runtime,
    stream: Pin<Box<tokio_postgres::CopyOutStream>>,
    chunk: Bytes,
    /// How much of `chunk` was read (slicing by position: splitting `Bytes` per field costs a
    /// reference count each time).
    at: usize,
}

impl CopyInput<'_> {
    /// The row at the reading position when all its `fields` are in the current chunk: fills
    /// `spans` with where each field's bytes are in the returned chunk and moves past the row.
    /// `None` (the row continues in the next chunk) leaves the position where it was.
    pub(super) fn row_in_chunk(
        &mut self,
        fields: usize,
        spans: &mut Vec<Option<(usize, usize)>>,
    ) -> Option<Bytes> {
        let c = &self.chunk;
        let mut at = self.at;
        spans.clear();
        for _ in 0..fields {
            let len = i32::from_be_bytes(c.get(at..at + 4)?.try_into().ok()?);
            at += 4;
            if len < 0 {
                spans.push(None);
                continue;
            }
            let len = usize::try_from(len).ok()?;
            if at + len > c.len() {
                return None;
            }
            spans.push(Some((at, len)));
            at += len;
        }
        self.at = at;
        Some(self.chunk.clone())
    }

    /// Appends exactly `n` bytes to `out`; `Ok(false)` at a clean end of data before any byte.
    pub(super) fn read_into(
        &mut self,
        out: &mut Vec<u8>,
        mut n: usize,
    ) -> std::result::Result<bool, tokio_postgres::Error> {
        while n > 0 {
            if self.at == self.chunk.len() {
                match self.rt.block_on(self.stream.next()) {
                    Some(chunk) => {
                        self.chunk = chunk?;
                        self.at = 0;
                    }
                    None => return Ok(false),
                }
                continue;
            }
            let take = n.min(self.chunk.len() - self.at);
            out.extend_from_slice(&self.chunk[self.at..self.at + take]);
            self.at += take;
            n -= take;
        }
        Ok(true)
    }
}
