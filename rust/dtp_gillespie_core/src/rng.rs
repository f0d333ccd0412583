//! Per-replicate random streams. Replicate `i` of a run draws only from `ChaCha8` keyed by the run's
//! 256-bit seed key with stream number `i` (its global index), so its trajectory does not depend on the
//! thread count, the split of replicates into batches, or the order in which replicates run.
//! `ChaCha8` is a named, portable, value-stable generator (unlike `SmallRng`).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator every replicate uses.
pub type ReplicateRng = ChaCha8Rng;

/// Recorded in the output so that a result can be tied to the generator and samplers that made it.
pub const RNG_NAME: &str = "ChaCha8Rng (rand_chacha 0.10) keyed by the 256-bit seed key, stream = global \
     replicate index; waiting times rand_distr 0.6 Exp1 (ziggurat), uniforms rand 0.10 f64";

/// The stream of replicate `replicate` under `key`.
#[must_use]
pub fn replicate_rng(key: &[u8; 32], replicate: u64) -> ReplicateRng {
    let mut rng = ChaCha8Rng::from_seed(*key);
    rng.set_stream(replicate);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let key = [7u8; 32];
        let a: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(replicate_rng(&key, 3), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(replicate_rng(&key, 3), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(replicate_rng(&key, 4), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut other_key = key;
        other_key[0] ^= 1;
        assert_ne!(replicate_rng(&other_key, 3).next_u64(), a[0]);
    }
}
