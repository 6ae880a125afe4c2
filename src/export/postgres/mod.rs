//! `PostgreSQL`: one `REPEATABLE READ, READ ONLY` transaction exports its snapshot
//! (`pg_export_snapshot()`), every worker joins it with `SET TRANSACTION SNAPSHOT`, and each
//! table streams through `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, decoded straight into
//! Arrow builders ([`binary`]).

mod binary;
mod catalog;

use std::collections::BTreeMap;
use std::path::Path;
use std::pin::Pin;

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

/// A connection on the engine's runtime; its methods block the calling (non-runtime) thread.
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
        let (client, connection) = rt
            .block_on(config.connect(NoTls))
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
    engine: &crate::engine::Engine,
    progress: &dyn super::ExportProgress,
) -> Result<Manifest> {
    let started_at = manifest::now();
    let rt = engine.runtime();
    let source = &request.source;
    let schema = request
        .schema
        .clone()
        .unwrap_or_else(|| "public".to_owned());
    let coordinator = Pg::connect(source, rt)?;
    coordinator.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
    let point = coordinator.one(
        "SELECT pg_export_snapshot(), txid_current_snapshot()::text, \
         (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
               ELSE pg_current_wal_lsn() END)::text, \
         current_setting('server_version')",
    )?;
    let text = |i: usize| point.get(i).cloned().flatten().unwrap_or_default();
    let (snapshot_id, txid, lsn, version) = (text(0), text(1), text(2), text(3));
    let found = catalog::tables(&coordinator, &schema)?;
    let names: Vec<String> = found.iter().map(|(n, _)| n.clone()).collect();
    if names.is_empty() && request.tables.is_empty() {
        return Err(Error::Invalid(format!(
            "{source}: schema `{schema}` has no tables"
        )));
    }
    super::check_requested(source, &request.tables, &names)?;
    let mut tables = Vec::new();
    let mut decoders = BTreeMap::new();
    for (name, estimate) in &found {
        if !request.tables.is_empty() && !request.tables.contains(name) {
            continue;
        }
        let (t, d) = catalog::table(&coordinator, request, &schema, name, *estimate)?;
        decoders.insert(name.clone(), d);
        tables.push(t);
    }
    let join = format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT {}",
        catalog::literal(&snapshot_id)
    );
    let parts = super::plan_parts(&tables, request.jobs, |t, key| {
        let row = coordinator.one(&format!(
            "SELECT min({k})::text, max({k})::text FROM {}.{}",
            catalog::ident(&schema),
            catalog::ident(&t.name),
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
            pg.execute(&join)?;
            Ok(pg)
        },
        || Ok(()),
        |pg, t, part| {
            let counter = part.progress(t, progress);
            copy_table(pg, &schema, t, part, &decoders[&t.name], dir, counter)
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

/// Streams one table through binary COPY into its Parquet file.
fn copy_table(
    pg: &mut Pg<'_>,
    schema: &str,
    t: &TableOut,
    part: &super::Part,
    decoders: &[Decode],
    dir: &Path,
    counter: Box<dyn super::PartProgress>,
) -> Result<Written> {
    let sql = format!(
        "COPY (SELECT {} FROM {}.{}{}) TO STDOUT (FORMAT binary)",
        t.select_list(catalog::ident, |q| format!("{q}::text")),
        catalog::ident(schema),
        catalog::ident(&t.name),
        part.filter(catalog::ident)
    );
    let stream = pg
        .rt
        .block_on(pg.client.copy_out(&sql))
        .map_err(|e| db_error(&pg.source, format!("table `{}`: COPY failed", t.name), e))?;
    let file = part.file();
    let mut sink = TableSink::create(&dir.join(&file), &t.name, &t.columns, counter)?;
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
