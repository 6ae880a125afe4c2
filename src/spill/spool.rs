//! Records whose number follows the drift, kept on disk in ordinal order: the changed pairs that
//! still need their rows read again, and the differing rows `--diff-out` and the history write.
//! A record goes to the bucket of its position (an ordinal range); buckets are read back one at a
//! time, in position order, each sorted in memory. Memory follows the bucket, never the drift.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// A record a [`Spool`] keeps.
pub(crate) trait Record: Ord + Send + Sized {
    /// The record's position: its bucket, and with its order, where it is read back.
    fn position(&self) -> u64;
    /// Appends the record's bytes.
    fn write(&self, out: &mut Vec<u8>);
    /// Reads a record from the front of `bytes`, advancing it.
    fn read(bytes: &mut &[u8]) -> Option<Self>;
}

#[derive(Default)]
struct Bucket {
    file: Option<BufWriter<File>>,
    bytes: u64,
}

/// Records bucketed by position, on disk.
pub(crate) struct Spool<R> {
    dir: PathBuf,
    shift: u32,
    buckets: Vec<Mutex<Bucket>>,
    _records: std::marker::PhantomData<R>,
}

/// A bucket's records in memory, at most: positions are unique, so a bucket spanning `1 << shift`
/// positions holds at most that many.
fn span_bits(positions: u64, budget: usize, record_bytes: usize) -> u32 {
    let fit = (budget / 4 / record_bytes.max(1)).max(1 << 16) as u64;
    let bits = fit.ilog2().min(40);
    // No more buckets than needed: one when everything fits.
    bits.min(positions.max(1).next_power_of_two().trailing_zeros())
}

impl<R: Record> Spool<R> {
    /// A spool for positions `0..positions` whose buckets, read back, take about a quarter of
    /// `budget` (records of about `record_bytes` in memory); files go under `dir`.
    pub fn new(dir: &Path, positions: u64, budget: usize, record_bytes: usize) -> Self {
        let shift = span_bits(positions, budget, record_bytes);
        let n = usize::try_from((positions >> shift) + 1).unwrap_or(1);
        Self {
            dir: dir.to_owned(),
            shift,
            buckets: (0..n).map(|_| Mutex::default()).collect(),
            _records: std::marker::PhantomData,
        }
    }

    /// Appends records (any order), taking each bucket's lock once.
    pub fn push(&self, records: &[R]) -> Result<()> {
        let mut by_bucket: std::collections::BTreeMap<usize, Vec<u8>> =
            std::collections::BTreeMap::new();
        for r in records {
            let b = usize::try_from(r.position() >> self.shift)
                .ok()
                .filter(|&b| b < self.buckets.len())
                .ok_or_else(|| Error::Internal(format!("spool position {}", r.position())))?;
            r.write(by_bucket.entry(b).or_default());
        }
        for (b, bytes) in by_bucket {
            let mut bucket = self.buckets[b]
                .lock()
                .map_err(|_| Error::Internal("spool lock poisoned".into()))?;
            if bucket.file.is_none() {
                let f = tempfile::tempfile_in(&self.dir).map_err(Error::Spill)?;
                bucket.file = Some(BufWriter::with_capacity(64 << 10, f));
            }
            if let Some(w) = bucket.file.as_mut() {
                w.write_all(&bytes).map_err(Error::Spill)?;
            }
            bucket.bytes += bytes.len() as u64;
        }
        Ok(())
    }

    /// Hands every record to `each`, sorted, in position order, in pieces of at most a bucket's
    /// span (sparse buckets are handed over together); each bucket's file is gone once read.
    pub fn drain(self, mut each: impl FnMut(Vec<R>) -> Result<()>) -> Result<()> {
        let span = 1usize << self.shift;
        let mut pending: Vec<R> = Vec::new();
        for bucket in self.buckets {
            let bucket = bucket
                .into_inner()
                .map_err(|_| Error::Internal("spool lock poisoned".into()))?;
            let Some(writer) = bucket.file else {
                continue;
            };
            let mut file = writer
                .into_inner()
                .map_err(|e| Error::Spill(e.into_error()))?;
            file.rewind().map_err(Error::Spill)?;
            let len = usize::try_from(bucket.bytes)
                .map_err(|_| Error::Internal("spool bucket too large".into()))?;
            let mut bytes = Vec::with_capacity(len);
            file.read_to_end(&mut bytes).map_err(Error::Spill)?;
            drop(file);
            let mut records = Vec::new();
            let mut at = bytes.as_slice();
            while !at.is_empty() {
                records.push(
                    R::read(&mut at)
                        .ok_or_else(|| Error::Internal("spool record cut short".into()))?,
                );
            }
            drop(bytes);
            records.sort_unstable();
            // Buckets cover consecutive position ranges: appended in order, they stay sorted.
            if !pending.is_empty() && pending.len() + records.len() > span {
                each(std::mem::take(&mut pending))?;
            }
            if pending.is_empty() {
                pending = records;
            } else {
                pending.append(&mut records);
            }
        }
        if !pending.is_empty() {
            each(pending)?;
        }
        Ok(())
    }
}

/// Takes `N` bytes off the front of `bytes`.
pub(crate) fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = bytes.split_first_chunk::<N>()?;
    *bytes = rest;
    Some(*head)
}

/// The first `n` items in order, of any number pushed: a bounded max-heap.
pub struct FirstN<T> {
    n: usize,
    heap: std::collections::BinaryHeap<T>,
}

impl<T: Ord> FirstN<T> {
    /// Keeps at most `n`.
    pub fn new(n: usize) -> Self {
        Self {
            n,
            heap: std::collections::BinaryHeap::new(),
        }
    }

    /// Offers one item.
    pub fn push(&mut self, item: T) {
        if self.heap.len() < self.n {
            self.heap.push(item);
        } else if self.heap.peek().is_some_and(|top| item < *top) {
            self.heap.pop();
            self.heap.push(item);
        }
    }

    /// Offers every item of another.
    pub fn absorb(&mut self, other: Self) {
        for item in other.heap {
            self.push(item);
        }
    }

    /// The kept items, in order.
    pub fn into_sorted(self) -> Vec<T> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct Rec(u64, Vec<u16>);

    impl Record for Rec {
        fn position(&self) -> u64 {
            self.0
        }
        fn write(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.to_le_bytes());
            out.extend_from_slice(&u16::try_from(self.1.len()).unwrap_or(0).to_le_bytes());
            for c in &self.1 {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        fn read(bytes: &mut &[u8]) -> Option<Self> {
            let pos = u64::from_le_bytes(take(bytes)?);
            let n = u16::from_le_bytes(take(bytes)?);
            let cols = (0..n)
                .map(|_| take(bytes).map(u16::from_le_bytes))
                .collect::<Option<_>>()?;
            Some(Rec(pos, cols))
        }
    }

    #[test]
    fn full_buckets_come_back_one_at_a_time_sparse_ones_together() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool: Spool<Rec> = Spool::new(dir.path(), 1 << 20, 0, 16);
        let span = 1u64 << spool.shift;
        // Two full buckets, then one record in each of the next three buckets.
        let mut positions: Vec<u64> = (0..2 * span).collect();
        positions.extend([2 * span + 5, 3 * span + 1, 4 * span + 9]);
        let records: Vec<Rec> = positions
            .iter()
            .rev()
            .map(|&p| Rec(p, Vec::new()))
            .collect();
        spool.push(&records).expect("push");
        let mut pieces = Vec::new();
        let mut back = Vec::new();
        spool
            .drain(|b| {
                pieces.push(b.len());
                back.extend(b.into_iter().map(|r| r.0));
                Ok(())
            })
            .expect("drain");
        let span = usize::try_from(span).expect("span");
        assert_eq!(pieces, vec![span, span, 3]);
        assert_eq!(back, positions);
    }

    proptest::proptest! {
        #[test]
        fn records_come_back_once_in_position_order(
            positions in proptest::collection::btree_set(0u64..1_000_000, 0..2000),
            budget in 0usize..(1 << 22),
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let spool: Spool<Rec> = Spool::new(dir.path(), 1_000_000, budget, 16);
            let records: Vec<Rec> = positions
                .iter()
                .rev()
                .map(|&p| Rec(p, (0..(p % 4) as u16).collect()))
                .collect();
            for chunk in records.chunks(37) {
                let copy: Vec<Rec> = chunk.iter().map(|r| Rec(r.0, r.1.clone())).collect();
                spool.push(&copy).expect("push");
            }
            let mut back = Vec::new();
            let span = 1usize << spool.shift;
            spool.drain(|b| {
                assert!(!b.is_empty() && b.len() <= span, "{} records, span {span}", b.len());
                back.extend(b);
                Ok(())
            }).expect("drain");
            let expect: Vec<Rec> = positions.iter().map(|&p| Rec(p, (0..(p % 4) as u16).collect())).collect();
            proptest::prop_assert_eq!(back, expect);
        }

        #[test]
        fn first_n_keeps_the_smallest(items in proptest::collection::vec(0u32..500, 0..300), n in 0usize..40) {
            let mut a = FirstN::new(n);
            let mut b = FirstN::new(n);
            for (i, &x) in items.iter().enumerate() {
                if i % 2 == 0 { a.push(x) } else { b.push(x) }
            }
            a.absorb(b);
            let mut expect = items.clone();
            expect.sort_unstable();
            expect.truncate(n);
            proptest::prop_assert_eq!(a.into_sorted(), expect);
        }
    }
}
