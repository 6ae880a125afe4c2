//! Key churn against the previous run, in bounded memory: this run's differing keys and the
//! previous run's are routed by (table, digest) into buckets on disk, and each bucket is compared
//! on its own. One bucket (no spilling beyond one temporary file) when everything fits.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::diff::keylog::KeyLog;
use crate::diff::spool::FirstN;
use crate::error::{Error, Result};

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
    fn put(&mut self, now: bool, table: &str, digest: &str, key: &str) -> Result<()> {
        let n = self.files.len() as u64;
        let h = xxhash_rust::xxh3::xxh3_64(format!("{table}\0{digest}").as_bytes());
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
        w.write_all(&[u8::from(now)]).map_err(Error::Spill)?;
        for t in [table, digest, key] {
            let len = u32::try_from(t.len()).map_err(|_| Error::Internal("key too long".into()))?;
            w.write_all(&len.to_le_bytes()).map_err(Error::Spill)?;
            w.write_all(t.as_bytes()).map_err(Error::Spill)?;
        }
        Ok(())
    }
}

type Seen = HashMap<(String, String), String>;

/// A count and the first keys in digest order.
type Firsts = (u64, FirstN<(String, String)>);

fn read_bucket(w: BufWriter<File>) -> Result<(Seen, Seen)> {
    let mut f = w.into_inner().map_err(|e| Error::Spill(e.into_error()))?;
    f.rewind().map_err(Error::Spill)?;
    let mut r = BufReader::with_capacity(1 << 16, f);
    let (mut prev, mut now) = (Seen::new(), Seen::new());
    let text = |r: &mut BufReader<File>| -> Result<String> {
        let mut n = [0u8; 4];
        r.read_exact(&mut n).map_err(Error::Spill)?;
        let mut b = vec![0u8; u32::from_le_bytes(n) as usize];
        r.read_exact(&mut b).map_err(Error::Spill)?;
        String::from_utf8(b).map_err(|e| Error::failed("history bucket", e))
    };
    let mut tag = [0u8; 1];
    loop {
        match r.read_exact(&mut tag) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(Error::Spill(e)),
        }
        let (table, digest, key) = (text(&mut r)?, text(&mut r)?, text(&mut r)?);
        if tag[0] == 1 { &mut now } else { &mut prev }.insert((table, digest), key);
    }
    Ok((prev, now))
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
    let tables: std::collections::BTreeSet<&str> = now.iter().map(|(t, _)| *t).collect();
    read_keys(previous, |table, digest, key| {
        if tables.contains(table) {
            b.put(false, table, digest, key)?;
        }
        Ok(())
    })?;
    for (table, log) in now {
        log.for_each(|k| b.put(true, table, &k.digest, &k.key))?;
    }
    let mut per: BTreeMap<String, (Firsts, Firsts)> = BTreeMap::new();
    for w in b.files.into_iter().flatten() {
        let (prev, now) = read_bucket(w)?;
        for (which, (this, other)) in [(0, (&now, &prev)), (1, (&prev, &now))] {
            for ((table, digest), key) in this {
                if other.contains_key(&(table.clone(), digest.clone())) {
                    continue;
                }
                let e = per.entry(table.clone()).or_insert_with(|| {
                    ((0, FirstN::new(KEY_SAMPLES)), (0, FirstN::new(KEY_SAMPLES)))
                });
                let (n, first) = if which == 0 { &mut e.0 } else { &mut e.1 };
                *n += 1;
                first.push((digest.clone(), key.clone()));
            }
        }
    }
    let sample =
        |f: FirstN<(String, String)>| f.into_sorted().into_iter().map(|(_, k)| k).collect();
    Ok(now
        .iter()
        .map(|(table, _)| {
            let c = match per.remove(*table) {
                Some(((new, n), (resolved, r))) => Churn {
                    new,
                    resolved,
                    new_samples: sample(n),
                    resolved_samples: sample(r),
                },
                None => Churn {
                    new: 0,
                    resolved: 0,
                    new_samples: Vec::new(),
                    resolved_samples: Vec::new(),
                },
            };
            ((*table).to_owned(), c)
        })
        .collect())
}
