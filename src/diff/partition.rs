//! The match structure: one small entry per row (key, row hash, ordinal), routed by key into
//! partitions. When the table's footers say the entries will not fit the memory budget, full
//! partitions are spilled to temporary files and merged one partition at a time.

use std::fmt::Debug;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// A row's key as matched: an exact integer, or a 128-bit digest of the canonical key encoding.
pub trait Key: Copy + Ord + Eq + Default + Send + Sync + Debug + 'static {
    /// Bytes in a spill file.
    const BYTES: usize;
    /// The partition (of `1 << bits`) this key belongs to.
    fn partition(self, bits: u32) -> usize;
    /// Appends the key's spill bytes.
    fn write(self, out: &mut Vec<u8>);
    /// Reads a key from its spill bytes.
    fn read(bytes: &[u8]) -> Self;
    /// Sorts entries by (key, row hash, ordinal).
    fn sort(entries: &mut [Entry<Self>]) {
        entries.sort_unstable();
    }
}

impl Key for u64 {
    const BYTES: usize = 8;
    #[inline]
    fn partition(self, bits: u32) -> usize {
        if bits == 0 {
            return 0;
        }
        // Sequential integer keys must still spread evenly.
        let h = crate::hash::fold(0, self);
        usize::try_from(h >> (64 - bits)).unwrap_or(0)
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[..8]);
        u64::from_le_bytes(b)
    }
    fn sort(entries: &mut [Entry<Self>]) {
        radix_sort(entries);
    }
}

/// Sorts entries with integer keys by (key, row hash, ordinal): a least-significant-digit radix
/// sort over the key bytes that vary (three or four for keys from a sequence, against some twenty
/// comparisons an entry for a comparison sort), then a comparison sort of each run of one key.
/// Only for partitions that fit the cache; others take the comparison sort.
///
/// Kept instead of a sorting crate: measured against `sort_unstable` on the bench's partitions
/// (commits e2ce75e and 37e94ae: the comparison sort was about a tenth of the CPU at 10M rows,
/// and lost to it on partitions that fit the cache) and property-tested to give its exact order
/// (`radix_sort_equals_a_comparison_sort`).
fn radix_sort(entries: &mut [Entry<u64>]) {
    const SMALL: usize = 512;
    const LARGE: usize = 1 << 18;
    if entries.len() < SMALL || entries.len() > LARGE {
        // Small: no gain. Large (a spilled partition): the scatter passes leave the cache and
        // lose to the comparison sort (measured at 30M rows a side: merge 3.4 s against 2.1 s),
        // which needs no second buffer either.
        entries.sort_unstable();
        return;
    }
    let (and, or) = entries
        .iter()
        .fold((u64::MAX, 0u64), |(a, o), e| (a & e.key, o | e.key));
    let varying = and ^ or;
    let mut buf = entries.to_vec();
    let mut in_buf = false;
    for byte in 0..8 {
        let shift = 8 * byte;
        // A byte no key varies in needs no pass (clearer as a mask than as trailing zeros).
        #[allow(clippy::verbose_bit_mask)]
        if (varying >> shift) & 0xff == 0 {
            continue;
        }
        let (src, dst): (&[Entry<u64>], &mut [Entry<u64>]) = if in_buf {
            (&buf, entries)
        } else {
            (entries, &mut buf)
        };
        // One byte of the key: the truncation is the point.
        #[allow(clippy::cast_possible_truncation)]
        let digit = |e: &Entry<u64>| usize::from((e.key >> shift) as u8);
        let mut at = [0usize; 256];
        for e in src {
            at[digit(e)] += 1;
        }
        let mut sum = 0;
        for a in &mut at {
            let n = *a;
            *a = sum;
            sum += n;
        }
        for e in src {
            let d = digit(e);
            dst[at[d]] = *e;
            at[d] += 1;
        }
        in_buf = !in_buf;
    }
    if in_buf {
        entries.copy_from_slice(&buf);
    }
    let mut i = 0;
    while i < entries.len() {
        let key = entries[i].key;
        let end = i + entries[i..].iter().take_while(|e| e.key == key).count();
        if end - i > 1 {
            entries[i..end].sort_unstable();
        }
        i = end;
    }
}

/// Sorts entries with 128-bit digest keys by (key, row hash, ordinal): one counting pass puts
/// them into 2048 buckets by the eleven key bits just below the highest bit the keys differ in
/// (digests are uniform, so the buckets come out of similar size and each fits the cache), then
/// a comparison sort of each bucket. Only for partitions that fit the cache, as the radix sort
/// of integer keys; property-tested to give the comparison sort's exact order
/// (`bucket_sort_equals_a_comparison_sort`); measured by the `partition_sort` bench.
fn bucket_sort(entries: &mut [Entry<u128>]) {
    const SMALL: usize = 2048;
    const LARGE: usize = 1 << 18;
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    if entries.len() < SMALL || entries.len() > LARGE {
        entries.sort_unstable();
        return;
    }
    let (and, or) = entries
        .iter()
        .fold((u128::MAX, 0u128), |(a, o), e| (a & e.key, o | e.key));
    let varying = and ^ or;
    if varying == 0 {
        entries.sort_unstable();
        return;
    }
    // Bits above the highest varying one are the same in every key, so the `BITS` bits below
    // it order the buckets as the keys.
    let shift = varying.ilog2().saturating_sub(BITS - 1);
    // The key's bits under the mask: the truncation is the point.
    #[allow(clippy::cast_possible_truncation)]
    let digit = |e: &Entry<u128>| (e.key >> shift) as usize & (BUCKETS - 1);
    let mut starts = vec![0usize; BUCKETS + 1];
    for e in entries.iter() {
        starts[digit(e) + 1] += 1;
    }
    for d in 0..BUCKETS {
        starts[d + 1] += starts[d];
    }
    let mut at = starts.clone();
    let mut buf = entries.to_vec();
    for e in entries.iter() {
        let d = digit(e);
        buf[at[d]] = *e;
        at[d] += 1;
    }
    for d in 0..BUCKETS {
        buf[starts[d]..starts[d + 1]].sort_unstable();
    }
    entries.copy_from_slice(&buf);
}

impl Key for u128 {
    const BYTES: usize = 16;
    #[inline]
    fn partition(self, bits: u32) -> usize {
        if bits == 0 {
            0
        } else {
            usize::try_from(self >> (128 - bits)).unwrap_or(0)
        }
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Self {
        let mut b = [0u8; 16];
        b.copy_from_slice(&bytes[..16]);
        u128::from_le_bytes(b)
    }
    fn sort(entries: &mut [Entry<Self>]) {
        bucket_sort(entries);
    }
}

/// One row in the match structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry<K> {
    /// The row's key.
    pub key: K,
    /// The row hash over every compared column.
    pub hash: u64,
    /// The row's ordinal in its side's table.
    pub ord: u64,
}

impl<K: Key> Entry<K> {
    const BYTES: usize = K::BYTES + 16;
}

struct Part<K> {
    mem: Vec<Entry<K>>,
    spill: Option<BufWriter<File>>,
    spilled: u64,
}

/// How entries are partitioned and when they spill.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// `log2` of the number of partitions.
    pub bits: u32,
    /// Entries a partition holds in memory before it spills (`usize::MAX`: never).
    pub cap: usize,
    /// Entries each partition is expected to get (for pre-sizing).
    pub expected: usize,
}

impl Layout {
    /// Chooses a layout for `rows` entries on this side, out of `total_rows` on both sides, so
    /// that the entries of one partition of both sides fit in half the budget.
    pub fn choose<K: Key>(rows: u64, total_rows: u64, budget: usize) -> Self {
        let entry = std::mem::size_of::<Entry<K>>() as u64;
        let need = total_rows.saturating_mul(entry);
        let budget = budget.max(1 << 20) as u64;
        if need <= budget {
            // Partitions of about 16k entries a side sort within the core's cache. Both sides
            // must get the same partitions: the count depends on the total only.
            let bits = (total_rows / (32 << 10)).max(1).ilog2().clamp(4, 10);
            let expected = usize::try_from(rows / (1 << bits) + rows / (1 << bits) / 16 + 1024)
                .unwrap_or(1024);
            return Self {
                bits,
                cap: usize::MAX,
                expected,
            };
        }
        let parts = need
            .div_ceil(budget / 2)
            .next_power_of_two()
            .clamp(16, 1 << 14);
        let bits = parts.trailing_zeros();
        #[allow(clippy::cast_precision_loss)] // a share of the budget, not a count
        let share = rows.max(1) as f64 / total_rows.max(1) as f64;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let cap =
            ((budget as f64 / 2.0 * share) / (parts as f64 * entry as f64)).max(1024.0) as usize;
        Self {
            bits,
            cap,
            expected: cap.min(usize::try_from(rows / parts + 1).unwrap_or(cap)),
        }
    }
}

/// Entries of one side, by partition.
pub struct Partitions<K> {
    parts: Vec<Mutex<Part<K>>>,
    layout: Layout,
    spill_dir: std::path::PathBuf,
}

impl<K: Key> Partitions<K> {
    /// Empty partitions; spill files go under `spill_dir`.
    pub fn new(layout: Layout, spill_dir: &std::path::Path) -> Self {
        let parts = (0..1usize << layout.bits)
            .map(|_| {
                Mutex::new(Part {
                    mem: Vec::with_capacity(layout.expected),
                    spill: None,
                    spilled: 0,
                })
            })
            .collect();
        Self {
            parts,
            layout,
            spill_dir: spill_dir.to_owned(),
        }
    }

    /// Number of partitions.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Adds a batch of entries, taking each partition's lock once.
    pub fn push(&self, entries: &[Entry<K>], scratch: &mut Vec<Vec<Entry<K>>>) -> Result<()> {
        let n = self.parts.len();
        if n == 1 {
            return self.extend(0, entries);
        }
        scratch.resize_with(n, Vec::new);
        for e in entries {
            scratch[e.key.partition(self.layout.bits)].push(*e);
        }
        for (p, chunk) in scratch.iter_mut().enumerate() {
            if !chunk.is_empty() {
                self.extend(p, chunk)?;
                chunk.clear();
            }
        }
        Ok(())
    }

    fn extend(&self, p: usize, chunk: &[Entry<K>]) -> Result<()> {
        let mut part = self.parts[p]
            .lock()
            .map_err(|_| Error::Internal("partition lock poisoned".into()))?;
        part.mem.extend_from_slice(chunk);
        if part.mem.len() >= self.layout.cap {
            let part = &mut *part;
            if part.spill.is_none() {
                let f = tempfile::tempfile_in(&self.spill_dir).map_err(Error::Spill)?;
                part.spill = Some(BufWriter::with_capacity(1 << 20, f));
            }
            let mut buf = Vec::with_capacity(part.mem.len() * Entry::<K>::BYTES);
            for e in &part.mem {
                e.key.write(&mut buf);
                buf.extend_from_slice(&e.hash.to_le_bytes());
                buf.extend_from_slice(&e.ord.to_le_bytes());
            }
            if let Some(w) = part.spill.as_mut() {
                w.write_all(&buf).map_err(Error::Spill)?;
            }
            part.spilled += part.mem.len() as u64;
            part.mem.clear();
        }
        Ok(())
    }

    /// Takes partition `p`'s entries out (spilled ones read back), leaving it empty.
    pub fn take(&self, p: usize) -> Result<Vec<Entry<K>>> {
        let mut part = self.parts[p]
            .lock()
            .map_err(|_| Error::Internal("partition lock poisoned".into()))?;
        let mem = std::mem::take(&mut part.mem);
        let Some(writer) = part.spill.take() else {
            return Ok(mem);
        };
        let mut file = writer
            .into_inner()
            .map_err(|e| Error::Spill(e.into_error()))?;
        std::io::Seek::rewind(&mut file).map_err(Error::Spill)?;
        let spilled =
            usize::try_from(part.spilled).map_err(|_| Error::Internal("spill too large".into()))?;
        let mut out = Vec::with_capacity(spilled + mem.len());
        // Sequential reads of 4 MiB, decoded a whole buffer at a time.
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut buf = vec![0u8; (4 << 20) / Entry::<K>::BYTES * Entry::<K>::BYTES];
        let mut left = spilled;
        while left > 0 {
            let n = left.min(buf.len() / Entry::<K>::BYTES);
            let bytes = &mut buf[..n * Entry::<K>::BYTES];
            reader.read_exact(bytes).map_err(Error::Spill)?;
            out.extend(bytes.chunks_exact(Entry::<K>::BYTES).map(|rec| {
                let word = |at: usize| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&rec[at..at + 8]);
                    u64::from_le_bytes(b)
                };
                Entry {
                    key: K::read(rec),
                    hash: word(K::BYTES),
                    ord: word(K::BYTES + 8),
                }
            }));
            left -= n;
        }
        out.extend_from_slice(&mem);
        Ok(out)
    }
}

/// The default memory budget: an eighth of the memory available to the process (the smaller of
/// the machine's available memory and the cgroup's limit), between 256 MiB and 8 GiB; 768 MiB
/// where neither can be read.
pub fn default_memory_budget() -> usize {
    const MIB: u64 = 1 << 20;
    let available = available_memory().unwrap_or(6 << 30);
    usize::try_from((available / 8).clamp(256 * MIB, 8192 * MIB)).unwrap_or(768 << 20)
}

/// Bytes of memory this process can use: `MemAvailable`, capped by a cgroup v2 or v1 limit.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = meminfo.lines().find_map(|l| {
        let kib = l.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?;
        kib.trim().parse::<u64>().ok().map(|k| k * 1024)
    })?;
    let limit = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .find_map(|t| t.trim().parse::<u64>().ok());
    Some(limit.map_or(available, |l| l.min(available)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_entries_come_back_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout {
            bits: 2,
            cap: 3,
            expected: 4,
        };
        let parts: Partitions<u64> = Partitions::new(layout, dir.path());
        let entries: Vec<Entry<u64>> = (0..100)
            .map(|i| Entry {
                key: i,
                hash: i * 7,
                ord: i + 1000,
            })
            .collect();
        let mut scratch = Vec::new();
        for chunk in entries.chunks(7) {
            parts.push(chunk, &mut scratch).expect("push");
        }
        let mut back: Vec<Entry<u64>> = (0..parts.len())
            .flat_map(|p| parts.take(p).expect("take"))
            .collect();
        back.sort();
        assert_eq!(back, entries);
    }

    /// An entry per key, with its hash and an order scattered over `0..modulus`.
    fn scattered_entries<K: Copy>(keys: &[K], hashes: &[u64], modulus: u64) -> Vec<Entry<K>> {
        keys.iter()
            .zip(hashes)
            .enumerate()
            .map(|(i, (&key, &hash))| Entry {
                key,
                hash,
                ord: (i as u64 * 7919) % modulus,
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn radix_sort_equals_a_comparison_sort(
            keys in proptest::collection::vec(proptest::prop_oneof![0u64..50, proptest::num::u64::ANY], 0..3000),
            hashes in proptest::collection::vec(0u64..4, 3000),
        ) {
            let entries = scattered_entries(&keys, &hashes, 3001);
            let mut expect = entries.clone();
            expect.sort_unstable();
            let mut got = entries;
            radix_sort(&mut got);
            proptest::prop_assert_eq!(got, expect);
        }
    }

    proptest::proptest! {
        #[test]
        fn bucket_sort_equals_a_comparison_sort(
            keys in proptest::collection::vec(proptest::prop_oneof![
                0u128..40,
                proptest::num::u128::ANY,
                proptest::strategy::Strategy::prop_map(0u128..3, |k| (k << 120) | 5),
            ], 0..6000),
            hashes in proptest::collection::vec(0u64..4, 6000),
        ) {
            let entries = scattered_entries(&keys, &hashes, 6007);
            let mut expect = entries.clone();
            expect.sort_unstable();
            let mut got = entries;
            bucket_sort(&mut got);
            proptest::prop_assert_eq!(got, expect);
        }
    }

    #[test]
    fn both_sides_get_the_same_partitions() {
        for (l, t) in [(10, 1_000_000), (5_000_000, 20_000_000), (0, 3)] {
            for budget in [1 << 20, 1 << 30] {
                let a = Layout::choose::<u64>(l, l + t, budget);
                let b = Layout::choose::<u64>(t, l + t, budget);
                assert_eq!(a.bits, b.bits, "{l} vs {t} rows, budget {budget}");
            }
        }
    }

    #[test]
    fn layout_spills_only_when_over_budget() {
        let small = Layout::choose::<u64>(1000, 2000, 1 << 30);
        assert_eq!(small.cap, usize::MAX);
        let big = Layout::choose::<u128>(100_000_000, 200_000_000, 256 << 20);
        assert!(big.cap < usize::MAX);
        assert!(big.bits >= 4);
    }
}
