//! Classification of one partition: both sides' entries sorted by (key, row hash, ordinal), then
//! walked key group by key group. Within a key, identical rows pair first (matched); the rest pair
//! in hash order (changed candidates, settled by [`super::attribute`]); what is left over is
//! missing (legacy) or extra (target).

use super::partition::{Entry, Key};
use crate::side::PerSide;

/// A pair of rows with one key but different row hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate<K> {
    /// The shared key.
    pub key: K,
    /// Legacy ordinal.
    pub legacy: u64,
    /// Target ordinal.
    pub target: u64,
    /// The two row hashes `(legacy, target)`.
    pub hashes: (u64, u64),
}

impl<K> Candidate<K> {
    /// The pair's row ordinal on one side.
    pub fn ordinal(&self, side: crate::side::Side) -> &u64 {
        match side {
            crate::side::Side::Legacy => &self.legacy,
            crate::side::Side::Target => &self.target,
        }
    }
}

/// What one partition contributes.
#[derive(Debug, Default)]
pub struct Merged<K> {
    /// Identical pairs.
    pub matched: u64,
    /// Legacy rows left over.
    pub missing: u64,
    /// Target rows left over.
    pub extra: u64,
    /// Distinct keys occurring more than once, per side.
    pub duplicate_keys: PerSide<u64>,
    /// Every pair with one key and different hashes.
    pub candidates: Vec<Candidate<K>>,
    /// Missing rows `(key, legacy ordinal)`: all, or the first `keep` in key order.
    pub missing_rows: Vec<(K, u64)>,
    /// Extra rows `(key, target ordinal)`: all, or the first `keep` in key order.
    pub extra_rows: Vec<(K, u64)>,
}

/// Classifies one partition. `keep` caps the missing/extra rows kept (`usize::MAX`: all).
pub fn merge<K: Key>(
    mut legacy: Vec<Entry<K>>,
    mut target: Vec<Entry<K>>,
    keep: usize,
) -> Merged<K> {
    K::sort(&mut legacy);
    K::sort(&mut target);
    let mut m = Merged::default();
    let (mut i, mut j) = (0, 0);
    let mut left_l: Vec<Entry<K>> = Vec::new();
    let mut left_t: Vec<Entry<K>> = Vec::new();
    while i < legacy.len() || j < target.len() {
        let key = match (legacy.get(i), target.get(j)) {
            (Some(a), Some(b)) => a.key.min(b.key),
            (Some(a), None) => a.key,
            (None, Some(b)) => b.key,
            (None, None) => break,
        };
        let ie = i + legacy[i..].iter().take_while(|e| e.key == key).count();
        let je = j + target[j..].iter().take_while(|e| e.key == key).count();
        if ie - i > 1 {
            m.duplicate_keys.legacy += 1;
        }
        if je - j > 1 {
            m.duplicate_keys.target += 1;
        }
        match (ie - i, je - j) {
            (1, 1) => {
                if legacy[i].hash == target[j].hash {
                    m.matched += 1;
                } else {
                    m.candidates.push(Candidate {
                        key,
                        legacy: legacy[i].ord,
                        target: target[j].ord,
                        hashes: (legacy[i].hash, target[j].hash),
                    });
                }
            }
            (1, 0) => m.add_missing(key, legacy[i].ord, keep),
            (0, 1) => m.add_extra(key, target[j].ord, keep),
            _ => {
                left_l.clear();
                left_t.clear();
                let (mut a, mut b) = (i, j);
                while a < ie && b < je {
                    match legacy[a].hash.cmp(&target[b].hash) {
                        std::cmp::Ordering::Equal => {
                            m.matched += 1;
                            a += 1;
                            b += 1;
                        }
                        std::cmp::Ordering::Less => {
                            left_l.push(legacy[a]);
                            a += 1;
                        }
                        std::cmp::Ordering::Greater => {
                            left_t.push(target[b]);
                            b += 1;
                        }
                    }
                }
                left_l.extend_from_slice(&legacy[a..ie]);
                left_t.extend_from_slice(&target[b..je]);
                let paired = left_l.len().min(left_t.len());
                for (l, t) in left_l.iter().zip(&left_t) {
                    m.candidates.push(Candidate {
                        key,
                        legacy: l.ord,
                        target: t.ord,
                        hashes: (l.hash, t.hash),
                    });
                }
                for l in &left_l[paired..] {
                    m.add_missing(key, l.ord, keep);
                }
                for t in &left_t[paired..] {
                    m.add_extra(key, t.ord, keep);
                }
            }
        }
        i = ie;
        j = je;
    }
    m
}

impl<K: Key> Merged<K> {
    fn add_missing(&mut self, key: K, ord: u64, keep: usize) {
        self.missing += 1;
        if self.missing_rows.len() < keep {
            self.missing_rows.push((key, ord));
        }
    }

    fn add_extra(&mut self, key: K, ord: u64, keep: usize) {
        self.extra += 1;
        if self.extra_rows.len() < keep {
            self.extra_rows.push((key, ord));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(key: u64, hash: u64, ord: u64) -> Entry<u64> {
        Entry { key, hash, ord }
    }

    #[test]
    fn multiset_pairing_within_a_key() {
        // key 1: legacy {A, A, B}, target {A, C}: one matched, B~C changed, one A missing.
        let l = vec![e(1, 10, 0), e(1, 10, 1), e(1, 20, 2), e(2, 5, 3)];
        let t = vec![e(1, 10, 0), e(1, 30, 1), e(3, 7, 2)];
        let m = merge(l, t, usize::MAX);
        assert_eq!(m.matched, 1);
        assert_eq!(m.candidates.len(), 1);
        assert_eq!(m.missing, 2);
        assert_eq!(m.extra, 1);
        assert_eq!(m.duplicate_keys, PerSide::new(1, 1));
        assert_eq!(m.extra_rows, vec![(3, 2)]);
    }

    #[test]
    fn keep_caps_the_rows_not_the_counts() {
        let l: Vec<_> = (0..10).map(|k| e(k, 1, k)).collect();
        let m = merge(l, Vec::new(), 3);
        assert_eq!(m.missing, 10);
        assert_eq!(m.missing_rows, vec![(0, 0), (1, 1), (2, 2)]);
    }
}
