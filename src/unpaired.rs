//! Every table accounted for: after the pairs are resolved, the tables of both snapshots that no
//! pair reads are listed with their row counts (from the footers, no data read), and
//! `[gate] unpaired_tables` decides what they mean for the verdict. A run never passes silently
//! while a whole table was never migrated.
//!
//! A pair reads its named table on a side, or, for a SQL side, every snapshot table its query
//! scans: the table scans of the query's logical plan (subqueries included; CTE names and
//! `information_schema` are not tables of the snapshot), taken from the plan the run ran.

use std::collections::BTreeSet;

use crate::config::{Config, TableConfig};
use crate::error::{Error, Result};
use crate::plan::PairPlan;
use crate::side::{PerSide, Side};
use crate::snapshot::{Snapshot, sql};

/// A table of a snapshot that no pair reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpaired {
    /// Which snapshot holds it.
    pub side: Side,
    /// Its name in that snapshot.
    pub table: String,
    /// Rows, from the footers.
    pub rows: u64,
}

/// The tables of both snapshots that no pair of `config` reads, by side then name. A SQL side
/// reads the tables its query scans: from the plan of the pair the run resolved (`plans`), or,
/// for a pair the run left out (`--table`), from planning its query here.
pub fn unpaired(
    config: &Config,
    snapshots: &PerSide<Snapshot>,
    plans: &[PairPlan],
    threads: usize,
    rt: &tokio::runtime::Runtime,
) -> Result<Vec<Unpaired>> {
    let mut out = Vec::new();
    for side in Side::BOTH {
        let snapshot = snapshots.get(side);
        let mut paired = BTreeSet::new();
        for t in &config.tables {
            let Some(query) = side_sql(t, side) else {
                paired.insert(side_table(t, side).to_owned());
                continue;
            };
            let resolved = plans
                .iter()
                .find(|p| p.name == t.name)
                .and_then(|p| p.tables.get(side).scanned.as_ref());
            match resolved {
                Some(scanned) => paired.extend(scanned.iter().cloned()),
                None => paired.extend(tables_read(snapshot, &t.name, query, threads, rt)?),
            }
        }
        for name in snapshot.table_names().filter(|n| !paired.contains(*n)) {
            let (_, rows) = rt.block_on(snapshot.table_schema(name))?;
            out.push(Unpaired {
                side,
                table: name.to_owned(),
                rows: rows.iter().sum(),
            });
        }
    }
    Ok(out)
}

fn side_sql(t: &TableConfig, side: Side) -> Option<&str> {
    match side {
        Side::Legacy => t.legacy_sql.as_deref(),
        Side::Target => t.target_sql.as_deref(),
    }
}

fn side_table(t: &TableConfig, side: Side) -> &str {
    match side {
        Side::Legacy => t.legacy_table(),
        Side::Target => t.target_table(),
    }
}

/// The snapshot tables a side's query scans (planned, not run), for a pair the run did not
/// resolve.
fn tables_read(
    snapshot: &Snapshot,
    pair: &str,
    query: &str,
    threads: usize,
    rt: &tokio::runtime::Runtime,
) -> Result<BTreeSet<String>> {
    let side = snapshot.side;
    let sql_err = |e: datafusion::error::DataFusionError| Error::Sql {
        side,
        table: pair.to_owned(),
        source: Box::new(e),
    };
    rt.block_on(async {
        let ctx = sql::session_for(snapshot, threads).await?;
        let df = ctx
            .sql_with_options(query, sql::read_only())
            .await
            .map_err(sql_err)?;
        sql::scanned_tables(df.logical_plan(), snapshot).map_err(sql_err)
    })
}
