//! The export's workers: each holds one connection that joined the consistent point, and takes
//! parts (a table, or a key range of a large table) from a shared queue until none is left.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use arrow::datatypes::DataType;

use super::{TableOut, Written};
use crate::error::{Error, Result};

/// Estimated rows past which a table is split into key ranges (one per worker).
const SPLIT_ROWS: u64 = 1_000_000;

/// What one worker exports into one file: a whole table, or the rows of a key range.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// The table's index.
    pub(crate) table: usize,
    /// The part's number within its table (its file name).
    pub(crate) index: usize,
    /// How many parts its table has.
    pub(crate) of: usize,
    /// The key column and the range `[from, to)` of its values (`None`: unbounded).
    pub(crate) range: Option<(String, Option<i64>, Option<i64>)>,
    /// The table's folder, relative to the root ([`super::names`]: never the name itself).
    pub(crate) folder: String,
}

impl Part {
    /// The part's file, relative to the root. Its number has as many digits as its table's
    /// last part's (five at least), so the files sort by name in the order of their key ranges.
    pub(crate) fn file(&self) -> String {
        let width = self.of.saturating_sub(1).to_string().len().max(5);
        format!("{}/part-{:0width$}.parquet", self.folder, self.index)
    }

    /// The part's label for progress, and its share of the table's estimated rows.
    pub(crate) fn progress(
        &self,
        t: &TableOut,
        progress: &dyn super::ExportProgress,
    ) -> Box<dyn super::PartProgress> {
        let label = if self.of > 1 {
            format!("{} {}/{}", t.name, self.index + 1, self.of)
        } else {
            t.name.clone()
        };
        progress.part(&label, t.estimated_rows / self.of.max(1) as u64)
    }

    /// ` WHERE key >= from AND key < to` for a range, else nothing; `quote` quotes the column.
    pub(crate) fn filter(&self, quote: impl Fn(&str) -> String) -> String {
        let Some((column, from, to)) = &self.range else {
            return String::new();
        };
        let c = quote(column);
        let conditions: Vec<String> = from
            .map(|f| format!("{c} >= {f}"))
            .into_iter()
            .chain(to.map(|t| format!("{c} < {t}")))
            .collect();
        if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        }
    }
}

/// The parts of every table: a table estimated past [`SPLIT_ROWS`] with a one-column integer
/// primary key is split into `jobs` ranges of its key, numbered in key order (the first and last
/// open-ended, so the ranges cover every row whatever the bounds read); any other table is one
/// part. `bounds`
/// reads a key column's minimum and maximum. Large tables come first, so that they start first.
/// A table without columns has no part: Parquet cannot hold it (the manifest lists it as
/// skipped).
pub(crate) fn plan_parts(
    tables: &[TableOut],
    jobs: usize,
    mut bounds: impl FnMut(&TableOut, &str) -> Result<Option<(i64, i64)>>,
) -> Result<Vec<Part>> {
    let folders = super::names::folders(tables.iter().map(|t| t.name.as_str()))?;
    let mut order: Vec<usize> = (0..tables.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(tables[i].estimated_rows));
    let mut parts = Vec::new();
    for i in order {
        let t = &tables[i];
        if t.columns.is_empty() {
            continue;
        }
        let folder = folders[i].clone();
        let key = match t.primary_key.as_slice() {
            [k] => t.columns.iter().find(|c| &c.name == k).filter(|c| {
                !c.cast
                    && matches!(
                        c.arrow,
                        DataType::Int16
                            | DataType::Int32
                            | DataType::Int64
                            | DataType::UInt16
                            | DataType::UInt32
                    )
            }),
            _ => None,
        };
        let split = match key {
            Some(k) if jobs > 1 && t.estimated_rows >= SPLIT_ROWS => {
                bounds(t, &k.name)?.map(|b| (k.name.clone(), b))
            }
            _ => None,
        };
        let Some((column, (lo, hi))) = split.filter(|(_, (lo, hi))| hi > lo) else {
            parts.push(Part {
                table: i,
                index: 0,
                of: 1,
                range: None,
                folder,
            });
            continue;
        };
        let n = i128::try_from(jobs).unwrap_or(2);
        let cut = |k: i128| {
            i64::try_from(i128::from(lo) + (i128::from(hi) - i128::from(lo)) * k / n).ok()
        };
        for k in 0..n {
            let from = if k == 0 { None } else { cut(k) };
            let to = if k == n - 1 { None } else { cut(k + 1) };
            parts.push(Part {
                table: i,
                index: usize::try_from(k).unwrap_or(0),
                of: jobs,
                range: Some((column.clone(), from, to)),
                folder: folder.clone(),
            });
        }
    }
    Ok(parts)
}

/// Runs `work` for every part on `jobs` threads, each with a connection of its own made by
/// `connect` before any part starts (so every connection joins the same consistent point), then
/// `started` once they all have, and `release` once the first `held` parts are written (at
/// once if there are none: what only those parts needed, a lock, is let go). The first error
/// stops the others at their next part. Returns what each table's parts wrote, summed, in
/// table order.
#[allow(clippy::too_many_arguments)] // the steps of one protocol, each a closure
pub(crate) fn run_workers<C: Send>(
    tables: &[TableOut],
    parts: &[Part],
    jobs: usize,
    connect: impl Fn() -> Result<C>,
    started: impl FnOnce() -> Result<()>,
    held: usize,
    release: impl FnOnce() -> Result<()> + Send,
    work: impl Fn(&mut C, &TableOut, &Part) -> Result<Written> + Sync,
) -> Result<Vec<Written>> {
    let jobs = jobs.clamp(1, parts.len().max(1));
    let mut conns = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        conns.push(connect()?);
    }
    started()?;
    let release = std::sync::Mutex::new(Some(release));
    let release_now = || match release.lock().ok().and_then(|mut r| r.take()) {
        Some(r) => r(),
        None => Ok(()),
    };
    if held == 0 {
        release_now()?;
    }
    let next = AtomicUsize::new(0);
    let held_left = AtomicUsize::new(held);
    let failed = AtomicBool::new(false);
    let results: Vec<Result<Vec<(usize, Written)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .into_iter()
            .map(|mut conn| {
                let (next, failed, work) = (&next, &failed, &work);
                let (held_left, release_now) = (&held_left, &release_now);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        if failed.load(Ordering::Relaxed) {
                            return Ok(done);
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(p) = parts.get(i) else {
                            return Ok(done);
                        };
                        let result = work(&mut conn, &tables[p.table], p).and_then(|w| {
                            if i < held && held_left.fetch_sub(1, Ordering::AcqRel) == 1 {
                                release_now()?;
                            }
                            Ok(w)
                        });
                        match result {
                            Ok(w) => done.push((p.table, w)),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|p| {
                    Err(Error::Internal(format!(
                        "an export worker panicked: {}",
                        crate::error::panic_message(p.as_ref())
                    )))
                })
            })
            .collect()
    });
    let mut out: Vec<Written> = vec![Written::default(); tables.len()];
    for r in results {
        for (i, w) in r? {
            let t = &mut out[i];
            t.rows += w.rows;
            t.bytes += w.bytes;
            t.files.extend(w.files);
            for (c, n) in w.zero_dates {
                *t.zero_dates.entry(c).or_default() += n;
            }
        }
    }
    for t in &mut out {
        t.files.sort();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::ColumnOut;

    fn table(rows: u64, key: DataType) -> TableOut {
        TableOut {
            name: "t".into(),
            columns: vec![ColumnOut {
                name: "id".into(),
                source_type: "bigint".into(),
                arrow: key,
                nullable: false,
                cast: false,
            }],
            primary_key: vec!["id".into()],
            foreign_keys: Vec::new(),
            estimated_rows: rows,
            engine: None,
            read_lock: false,
            key_order: None,
        }
    }

    #[test]
    fn large_integer_keyed_tables_split_into_ranges_that_cover_every_key() {
        let tables = [
            table(5_000_000, DataType::Int64),
            table(10, DataType::Int64),
        ];
        let parts = plan_parts(&tables, 3, |_, _| Ok(Some((1, 900)))).expect("parts");
        let ranges: Vec<_> = parts.iter().map(|p| (p.table, p.range.clone())).collect();
        assert_eq!(
            ranges,
            [
                (0, Some(("id".to_owned(), None, Some(300)))),
                (0, Some(("id".to_owned(), Some(300), Some(600)))),
                (0, Some(("id".to_owned(), Some(600), None))),
                (1, None),
            ]
        );
        assert_eq!(
            parts[1].filter(|c| format!("\"{c}\"")),
            " WHERE \"id\" >= 300 AND \"id\" < 600"
        );
        assert_eq!(parts[0].file(), "t/part-00000.parquet");
        // Past 100,000 parts the numbers widen, so names still sort in key-range order.
        let many: Vec<String> = [9_999, 99_999, 100_000]
            .into_iter()
            .map(|index| {
                Part {
                    index,
                    of: 100_001,
                    ..parts[0].clone()
                }
                .file()
            })
            .collect();
        assert_eq!(
            many,
            [
                "t/part-009999.parquet",
                "t/part-099999.parquet",
                "t/part-100000.parquet"
            ]
        );
        assert!(many.is_sorted());
        // Text keys, one worker, or an empty table: one part.
        for (t, jobs) in [
            (table(5_000_000, DataType::Utf8), 3),
            (table(5_000_000, DataType::Int64), 1),
        ] {
            assert_eq!(
                plan_parts(&[t], jobs, |_, _| Ok(Some((1, 900))))
                    .expect("parts")
                    .len(),
                1
            );
        }
        let one = plan_parts(&[table(5_000_000, DataType::Int64)], 2, |_, _| Ok(None)).expect("p");
        assert!(one[0].range.is_none());
    }
}
