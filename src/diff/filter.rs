//! A filter of the legacy side's `(key, row hash)` pairs, filled during the hashing pass and asked
//! by target rows hashed later: a target row whose pair is (probably) on the legacy side is matched
//! and its column digests need not be stored. The filter only ever saves work and is never the
//! reason for an answer: a false negative (a legacy row not in it yet, or bits lost to a concurrent
//! insert) costs a stored row, and a false positive costs a re-read of that row if it turns out to
//! be changed.
//!
//! Written here rather than taken from a Bloom filter crate for its layout: one 64-bit word per
//! pair, so an insert or a lookup touches one cache line, from many threads without locks.
//!
//! Register-blocked Bloom filter: one 64-bit word per pair with [`BITS_SET`] bits set in it, so an
//! insert is one read-modify-write and a lookup one load. At [`BITS_PER_PAIR`] bits per pair the
//! false positive rate is about 1e-4; a table too large for that within the memory allowed gets
//! fewer bits per pair, down to [`MIN_BITS_PER_PAIR`] (about 3e-3), and no filter below.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of filter per legacy pair.
pub const BITS_PER_PAIR: u64 = 32;
/// The fewest bits per pair worth having.
pub const MIN_BITS_PER_PAIR: u64 = 16;
/// Bits set per pair within its word.
const BITS_SET: u32 = 6;

/// The filter; concurrent inserts and lookups are safe (a lookup may miss a concurrent insert, and
/// concurrent inserts into one word may lose bits: both only make the filter say "not there").
pub struct PairFilter {
    words: Vec<AtomicU64>,
}

impl PairFilter {
    /// A filter for `pairs` legacy pairs, using at most `max_bytes`; `None` when that leaves too
    /// few bits per pair for the filter to pay off.
    pub fn new(pairs: u64, max_bytes: usize) -> Option<Self> {
        let max_bits = u64::try_from(max_bytes)
            .unwrap_or(u64::MAX)
            .saturating_mul(8);
        let bits = pairs.saturating_mul(BITS_PER_PAIR).min(max_bits);
        if pairs == 0 || bits < pairs.saturating_mul(MIN_BITS_PER_PAIR) {
            return None;
        }
        let words = usize::try_from(bits / 64).ok()?.max(1);
        if u32::try_from(words).is_err() {
            return None;
        }
        Some(Self {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// The word and the bit mask of a pair fingerprint (a well-mixed 64-bit value).
    #[inline]
    fn place(&self, fingerprint: u64) -> (usize, u64) {
        // The high half picks the word (multiply-shift range reduction); six-bit fields of the
        // low bits pick the bits.
        let word = ((fingerprint >> 32) * self.words.len() as u64) >> 32;
        let mut mask = 0u64;
        for i in 0..BITS_SET {
            mask |= 1 << ((fingerprint >> (6 * i)) & 63);
        }
        (usize::try_from(word).unwrap_or(0), mask)
    }

    /// Adds a pair. A plain load and store, not an atomic OR: a locked instruction per row would
    /// wait out every cache miss in turn. Two threads adding to one word at once may lose bits,
    /// which only turns lookups into "certainly not" (the row stores its digests): never wrong.
    #[inline]
    pub fn insert(&self, fingerprint: u64) {
        let (w, mask) = self.place(fingerprint);
        if let Some(word) = self.words.get(w) {
            word.store(word.load(Ordering::Relaxed) | mask, Ordering::Relaxed);
        }
    }

    /// Whether the pair may have been added (false: it certainly was not).
    #[inline]
    pub fn may_contain(&self, fingerprint: u64) -> bool {
        let (w, mask) = self.place(fingerprint);
        self.words
            .get(w)
            .is_some_and(|word| word.load(Ordering::Relaxed) & mask == mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::fold;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let n = 200_000u64;
        let f = PairFilter::new(n, usize::MAX).expect("filter");
        for i in 0..n {
            f.insert(fold(1, i));
        }
        assert!((0..n).all(|i| f.may_contain(fold(1, i))));
        let false_positives = (n..2 * n).filter(|&i| f.may_contain(fold(1, i))).count();
        // About 1e-4 expected; 1e-3 leaves room for chance.
        assert!(false_positives < 200, "{false_positives} false positives");
    }

    #[test]
    fn declines_when_over_budget() {
        // 1M pairs need 2 MiB at 16 bits each.
        assert!(PairFilter::new(1_000_000, 1 << 20).is_none());
        assert!(PairFilter::new(1_000_000, 3 << 20).is_some());
        assert!(PairFilter::new(0, 1 << 20).is_none());
        assert!(PairFilter::new(1000, 1 << 20).is_some());
    }
}
