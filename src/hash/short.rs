//! xxh3-64 of the two short payload shapes the fixed-width fast paths produce, computed from
//! registers: `[u64 LE]` (8 bytes) and `[u8][u64 LE]` (9 bytes).
//!
//! The results are bit for bit those of `xxh3_64_with_seed` over the same bytes (the tests and the
//! property tests hold them equal). Going through a byte buffer costs a failed store-to-load
//! forward per value for the 9-byte shape (a byte store and an overlapping 8-byte store, then an
//! 8-byte load across both): measured at 11-12 ns per value against about 1.2 ns here.

/// Bytes 8..24 and 24..56 of xxh3's default secret, as the little-endian words the 4-8 and 9-16
/// byte paths read.
const S8: u64 = u64::from_le_bytes([0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c]);
const S16: u64 = u64::from_le_bytes([0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb]);
const S24: u64 = u64::from_le_bytes([0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f]);
const S32: u64 = u64::from_le_bytes([0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78]);
const S40: u64 = u64::from_le_bytes([0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21]);
const S48: u64 = u64::from_le_bytes([0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e]);

#[inline(always)]
fn avalanche(mut h: u64) -> u64 {
    h ^= h >> 37;
    h = h.wrapping_mul(0x1656_6791_9E37_79F9);
    h ^ (h >> 32)
}

/// `xxh3_64_with_seed(&word.to_le_bytes(), seed)`.
#[inline(always)]
pub fn xxh3_8(word: u64, seed: u64) -> u64 {
    // xxh3's own construction: the low half of the seed, byte-swapped.
    #[allow(clippy::cast_possible_truncation)]
    let seed = seed ^ (u64::from((seed as u32).swap_bytes()) << 32);
    let flip = (S8 ^ S16).wrapping_sub(seed);
    // The 4-8 byte path reads the first and the last four bytes.
    let input = (word >> 32).wrapping_add(word << 32);
    let mut h = input ^ flip;
    h ^= h.rotate_left(49) ^ h.rotate_left(24);
    h = h.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    h ^= (h >> 35).wrapping_add(8);
    h = h.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    h ^ (h >> 28)
}

/// `xxh3_64_with_seed(&[first, word.to_le_bytes()...], seed)` (9 bytes).
#[inline(always)]
pub fn xxh3_9(first: u8, word: u64, seed: u64) -> u64 {
    let flip1 = (S24 ^ S32).wrapping_add(seed);
    let flip2 = (S40 ^ S48).wrapping_sub(seed);
    // The 9-16 byte path reads bytes 0..8 and the last eight bytes (1..9).
    let lo = (u64::from(first) | (word << 8)) ^ flip1;
    let hi = word ^ flip2;
    let product = u128::from(lo) * u128::from(hi);
    #[allow(clippy::cast_possible_truncation)]
    let folded = (product as u64) ^ ((product >> 64) as u64);
    avalanche(
        9u64.wrapping_add(lo.swap_bytes())
            .wrapping_add(hi)
            .wrapping_add(folded),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use xxhash_rust::xxh3::xxh3_64_with_seed;

    proptest! {
        #[test]
        fn equal_to_the_library(word in any::<u64>(), first in any::<u8>(), seed in any::<u64>()) {
            prop_assert_eq!(xxh3_8(word, seed), xxh3_64_with_seed(&word.to_le_bytes(), seed));
            let mut b = [first; 9];
            b[1..].copy_from_slice(&word.to_le_bytes());
            prop_assert_eq!(xxh3_9(first, word, seed), xxh3_64_with_seed(&b, seed));
        }
    }

    #[test]
    fn equal_to_the_library_on_edge_values() {
        let words = [0, 1, u64::MAX, 1 << 63, 0x0123_4567_89ab_cdef, 255, 256];
        let seeds = [
            0,
            1,
            u64::MAX,
            super::super::seed_of(super::super::Tag::Numeric),
        ];
        for &w in &words {
            for &s in &seeds {
                assert_eq!(xxh3_8(w, s), xxh3_64_with_seed(&w.to_le_bytes(), s));
                for first in [0u8, 3, 255] {
                    let mut b = [first; 9];
                    b[1..].copy_from_slice(&w.to_le_bytes());
                    assert_eq!(xxh3_9(first, w, s), xxh3_64_with_seed(&b, s));
                }
            }
        }
    }
}
