//! The lineage stream of a replicate, and exactly uniform integer draws from it.
//!
//! **Keying.** Replicate `i` under seed key `k` draws its events from Xoshiro256++ seeded by the
//! first 32 bytes of ChaCha8 stream `i` keyed by `k`, and its missed doses from the bytes after
//! them (`rng::replicate_streams`). Its lineage picks draw from Xoshiro256++ seeded by the 32
//! bytes at block [`LINEAGE_BLOCK`] (= 2^63) of that same ChaCha8 stream: the key `(k, i, lineage
//! domain)`, with the domain tag being that block offset. The dose stream starts at block 0 and
//! would have to consume 2^63 blocks (2^69 bytes) to reach it, so the three streams never
//! overlap, and drawing from one never shifts another. The lineage stream depends only on the key
//! and the global replicate index, so picks do not depend on threads or batches either.
//!
//! Xoshiro256++ rather than ChaCha8 for the picks themselves: one pick per event, and the event
//! loop's own draws use it for the same reason (speed).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::LineageError;

/// The generator of lineage picks (the same generator as the event stream, seeded apart).
pub type LineageRng = Xoshiro256PlusPlus;

/// The ChaCha8 block, within replicate `i`'s stream, whose 32 bytes seed its lineage stream.
pub const LINEAGE_BLOCK: u64 = 1 << 63;

/// 32-bit words per ChaCha block.
const BLOCK_WORDS: u128 = 16;

/// The lineage-pick generator of replicate `replicate` under `key` (module docs).
#[must_use]
pub fn lineage_rng(key: &[u8; 32], replicate: u64) -> LineageRng {
    let mut seeder = ChaCha8Rng::from_seed(*key);
    seeder.set_stream(replicate);
    seeder.set_word_pos(u128::from(LINEAGE_BLOCK) * BLOCK_WORDS);
    let mut state = [0u8; 32];
    seeder.fill_bytes(&mut state);
    // As in `rng::replicate_streams`: an all-zero state is a fixed point of xoshiro.
    if state == [0u8; 32] {
        state[0] = 1;
    }
    Xoshiro256PlusPlus::from_seed(state)
}

/// An integer exactly uniform in `[0, n)`, by Lemire's multiply-and-reject on 64-bit draws
/// ("Fast random integer generation in an interval", ACM TOMACS 2019): `x * n / 2^64` for a
/// uniform 64-bit `x`, rejecting the `2^64 mod n` values of the low half that would make some
/// results one preimage more likely than others. A draw is rejected with chance
/// `(2^64 mod n) / 2^64`, at most 1/2 (so at most 2 draws on average) and below `n / 2^64`; the
/// division is reached only when the low half falls below `n`.
///
/// `Err(Empty)` for `n = 0`.
pub fn uniform_below<R: Rng + ?Sized>(rng: &mut R, n: u64) -> Result<u64, LineageError> {
    if n == 0 {
        return Err(LineageError::Empty);
    }
    let mut product = u128::from(rng.next_u64()) * u128::from(n);
    let mut low = product as u64;
    if low < n {
        // 2^64 mod n, computed in 64 bits as (2^64 - n) mod n.
        let rejected = n.wrapping_neg() % n;
        while low < rejected {
            product = u128::from(rng.next_u64()) * u128::from(n);
            low = product as u64;
        }
    }
    Ok((product >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{replicate_rng, replicate_streams};

    #[test]
    fn the_lineage_stream_is_reproducible_and_apart_from_the_event_and_dose_streams() {
        let key = [9u8; 32];
        let first = |mut rng: LineageRng| (0..4).map(|_| rng.next_u64()).collect::<Vec<_>>();
        assert_eq!(first(lineage_rng(&key, 5)), first(lineage_rng(&key, 5)));
        assert_ne!(first(lineage_rng(&key, 5)), first(lineage_rng(&key, 6)));
        assert_ne!(first(lineage_rng(&key, 5)), first(replicate_rng(&key, 5)));
        // The dose stream's first bytes are not the lineage seed either.
        let (_, mut dose) = replicate_streams(&key, 5);
        let mut dose_bytes = [0u8; 32];
        dose.fill_bytes(&mut dose_bytes);
        let mut seeder = ChaCha8Rng::from_seed(key);
        seeder.set_stream(5);
        seeder.set_word_pos(u128::from(LINEAGE_BLOCK) * BLOCK_WORDS);
        let mut lineage_bytes = [0u8; 32];
        seeder.fill_bytes(&mut lineage_bytes);
        assert_ne!(dose_bytes, lineage_bytes);
    }

    #[test]
    fn the_lineage_stream_is_value_stable() {
        // Golden values: a change here changes every recorded lineage of every stored run.
        let mut rng = lineage_rng(&[0u8; 32], 0);
        let draws: Vec<u64> = (0..2).map(|_| rng.next_u64()).collect();
        assert_eq!(draws, GOLDEN);
    }

    const GOLDEN: [u64; 2] = [7_813_615_198_708_565_177, 6_450_656_929_178_892_713];

    #[test]
    fn uniform_below_stays_in_range_and_refuses_zero() {
        let mut rng = lineage_rng(&[1u8; 32], 0);
        assert_eq!(uniform_below(&mut rng, 0), Err(LineageError::Empty));
        for _ in 0..1000 {
            assert_eq!(uniform_below(&mut rng, 1), Ok(0));
        }
        for n in [2, 3, 7, u64::MAX / 3, (1 << 63) + 1, u64::MAX] {
            for _ in 0..1000 {
                assert!(uniform_below(&mut rng, n).unwrap() < n);
            }
        }
    }

    #[test]
    fn uniform_below_is_lemires_map_of_the_draw() {
        // When the first draw is accepted, the result is the high half of x * n.
        let mut rng = lineage_rng(&[2u8; 32], 0);
        let mut copy = rng.clone();
        let n = 1000;
        let x = copy.next_u64();
        let expected = ((u128::from(x) * u128::from(n)) >> 64) as u64;
        assert_eq!(uniform_below(&mut rng, n), Ok(expected));
        assert_eq!(rng, copy);
    }
}
