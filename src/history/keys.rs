//! Key churn against the previous run, in bounded memory: this run's differing keys and the
//! previous run's are routed by (table, digest) into buckets on disk, and each bucket is compared
//! on its own. One bucket (no spilling beyond one temporary file) when everything fits.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::spill::KeyLog;
use crate::spill::spool::FirstN;

/// Samples of new and resolved keys per table.
pub const KEY_SAMPLES: usize = 5;

/// Rows of the keys file per batch, written and read.
const BATCH: usize = 1 << 14;

/// Bytes a key takes in memory while its bucket is compared, about.
const KEY_BYTES: u64 = 192;

/// One table's churn.
pub struct Churn {
    /// Keys differing now that did not differ in the previous run.
    pub new: u64,
    /// Keys that differed in the previous run and no longer do.
    pub resolved: u64,
    /// The first new keys in digest order (key text).
    pub new_samples: Vec<String>,
    /// The first resolved keys in digest order (key text).
    pub resolved_samples: Vec<String>,
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(
        ["table", "category", "digest", "key"]
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ))
}

/// Writes this run's keys file, streaming every table's log.
pub fn write(path: &Path, now: &[(&str, &KeyLog)]) -> Result<()> {
    let schema = schema();
    let mut file = crate::atomic::ParquetFile::create(path, Arc::clone(&schema))?;
    let mut rows: [Vec<String>; 4] = Default::default();
    let flush = |rows: &mut [Vec<String>; 4], file: &mut crate::atomic::ParquetFile| {
        let arrays: Vec<ArrayRef> = rows
            .iter_mut()
            .map(|v| Arc::new(StringArray::from(std::mem::take(v))) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
            .map_err(|e| Error::failed("history batch", e))?;
        file.write(&batch)
    };
    for (table, log) in now {
        log.for_each(|k| {
            for (v, x) in rows
                .iter_mut()
                .zip([(*table).to_owned(), k.category, k.digest, k.key])
            {
                v.push(x);
            }
            if rows[0].len() >= BATCH {
                flush(&mut rows, &mut file)?;
            }
            Ok(())
        })?;
    }
    if !rows[0].is_empty() || now.iter().all(|(_, l)| l.is_empty()) {
        flush(&mut rows, &mut file)?;
    }
    file.finish()
}

fn text(a: &StringArray, r: usize) -> &str {
    if a.is_null(r) { "" } else { a.value(r) }
}

/// Hands every (table, digest, key) of a keys file to `each`, a batch at a time.
fn read_keys(path: &Path, mut each: impl FnMut(&str, &str, &str) -> Result<()>) -> Result<()> {
    let what = || format!("history file {}", path.display());
    let file = File::open(path).map_err(|e| Error::input(what(), e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::input(what(), e))?
        .with_batch_size(BATCH)
        .build()
        .map_err(|e| Error::input(what(), e))?;
    for batch in reader {
        let batch = batch.map_err(|e| Error::input(what(), e))?;
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "history file {}: column `{name}` is missing or not text",
                        path.display()
                    ))
                })
        };
        let (table, digest, key) = (col("table")?, col("digest")?, col("key")?);
        for r in 0..batch.num_rows() {
            each(text(table, r), text(digest, r), text(key, r))?;
        }
    }
    Ok(())
}

/// Rows of a keys file, from its footer.
fn rows_of(path: &Path) -> Result<u64> {
    let what = || format!("history file {}", path.display());
    let file = File::open(path).map_err(|e| Error::input(what(), e))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::input(what(), e))?;
    Ok(u64::try_from(b.metadata().file_metadata().num_rows()).unwrap_or(0))
}

struct Buckets {
    files: Vec<Option<BufWriter<File>>>,
    dir: Option<std::path::PathBuf>,
}

impl Buckets {
    /// Routes one key of table number `table` (of this run's tables) to its bucket.
    fn put(&mut self, now: bool, table: u32, digest: &str, key: &str) -> Result<()> {
        let n = self.files.len() as u64;
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(digest.as_bytes(), u64::from(table));
        let b = usize::try_from(h % n).unwrap_or(0);
        let w = match &mut self.files[b] {
            Some(w) => w,
            slot => {
                let f = match &self.dir {
                    Some(d) => tempfile::tempfile_in(d),
                    None => tempfile::tempfile(),
                }
                .map_err(Error::Spill)?;
                slot.insert(BufWriter::with_capacity(1 << 16, f))
            }
        };
        let mut head = [0u8; 13];
        head[0] = u8::from(now);
        head[1..5].copy_from_slice(&table.to_le_bytes());
        let len =
            |t: &str| u32::try_from(t.len()).map_err(|_| Error::Internal("key too long".into()));
        head[5..9].copy_from_slice(&len(digest)?.to_le_bytes());
        head[9..13].copy_from_slice(&len(key)?.to_le_bytes());
        w.write_all(&head).map_err(Error::Spill)?;
        w.write_all(digest.as_bytes()).map_err(Error::Spill)?;
        w.write_all(key.as_bytes()).map_err(Error::Spill)
    }
}

fn utf8(b: &[u8]) -> Result<&str> {
    std::str::from_utf8(b).map_err(|e| Error::failed("history bucket", e))
}

/// A count and the first keys in digest order.
type Firsts = (u64, FirstN<(String, String)>);

/// One bucket's churn, added to `per` (by table number): the bucket is read whole and its keys
/// looked at in place.
fn compare_bucket(w: BufWriter<File>, per: &mut [(Firsts, Firsts)]) -> Result<()> {
    let mut f = w.into_inner().map_err(|e| Error::Spill(e.into_error()))?;
    f.rewind().map_err(Error::Spill)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(Error::Spill)?;
    let bad = || Error::Internal("history bucket cut short".into());
    // (table, digest) -> key text in the previous run and in this one.
    let mut seen: HashMap<(u32, &str), [Option<&str>; 2]> = HashMap::new();
    let mut at = bytes.as_slice();
    while let Some((head, rest)) = at.split_first_chunk::<13>() {
        let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let (dl, kl) = (word(5) as usize, word(9) as usize);
        let (digest, rest) = rest.split_at_checked(dl).ok_or_else(bad)?;
        let (key, rest) = rest.split_at_checked(kl).ok_or_else(bad)?;
        at = rest;
        seen.entry((word(1), utf8(digest)?)).or_default()[usize::from(head[0] == 1)] =
            Some(utf8(key)?);
    }
    if !at.is_empty() {
        return Err(bad());
    }
    let mut firsts: Vec<[FirstN<(&str, &str)>; 2]> = Vec::new();
    for ((table, digest), [prev, now]) in seen {
        let (which, key) = match (prev, now) {
            (None, Some(k)) => (0, k),
            (Some(k), None) => (1, k),
            _ => continue,
        };
        let t = table as usize;
        if firsts.len() <= t {
            firsts.resize_with(t + 1, || {
                [FirstN::new(KEY_SAMPLES), FirstN::new(KEY_SAMPLES)]
            });
        }
        let e = per.get_mut(t).ok_or_else(bad)?;
        if which == 0 { &mut e.0 } else { &mut e.1 }.0 += 1;
        firsts[t][which].push((digest, key));
    }
    for (t, [new, resolved]) in firsts.into_iter().enumerate() {
        for (i, f) in [new, resolved].into_iter().enumerate() {
            let kept = if i == 0 {
                &mut per[t].0.1
            } else {
                &mut per[t].1.1
            };
            for (d, k) in f.into_sorted() {
                kept.push((d.to_owned(), k.to_owned()));
            }
        }
    }
    Ok(())
}

/// Churn of every table in `now` against the previous run's keys file, comparing a bucket of
/// keys at a time so that memory stays near `budget`.
pub fn churn(
    previous: &Path,
    now: &[(&str, &KeyLog)],
    budget: u64,
    temp_dir: Option<&Path>,
) -> Result<BTreeMap<String, Churn>> {
    let keys = rows_of(previous)? + now.iter().map(|(_, l)| l.len()).sum::<u64>();
    let buckets = (keys * KEY_BYTES)
        .div_ceil((budget / 4).max(1 << 20))
        .max(1);
    let mut b = Buckets {
        files: (0..buckets).map(|_| None).collect(),
        dir: temp_dir.map(Path::to_path_buf),
    };
    let number = |i: usize| u32::try_from(i).map_err(|_| Error::Internal("too many tables".into()));
    let tables: HashMap<&str, u32> = now
        .iter()
        .enumerate()
        .map(|(i, (t, _))| Ok((*t, number(i)?)))
        .collect::<Result<_>>()?;
    read_keys(previous, |table, digest, key| {
        if let Some(&t) = tables.get(table) {
            b.put(false, t, digest, key)?;
        }
        Ok(())
    })?;
    for (i, (_, log)) in now.iter().enumerate() {
        let t = number(i)?;
        log.for_each(|k| b.put(true, t, &k.digest, &k.key))?;
    }
    let mut per: Vec<(Firsts, Firsts)> = now
        .iter()
        .map(|_| ((0, FirstN::new(KEY_SAMPLES)), (0, FirstN::new(KEY_SAMPLES))))
        .collect();
    for w in b.files.into_iter().flatten() {
        compare_bucket(w, &mut per)?;
    }
    let sample =
        |f: FirstN<(String, String)>| f.into_sorted().into_iter().map(|(_, k)| k).collect();
    Ok(now
        .iter()
        .zip(per)
        .map(|((table, _), ((new, n), (resolved, r)))| {
            let c = Churn {
                new,
                resolved,
                new_samples: sample(n),
                resolved_samples: sample(r),
            };
            ((*table).to_owned(), c)
        })
        .collect())
}
