//! `Binomial(n, p)`, exact for every `n ≤ 2^53` and every `p ∈ [0, 1]`; never a normal
//! approximation.
//!
//! The draw is made on the smaller side `s = min(p, 1 − p)` (and reflected, `n − x`, when that is
//! `1 − p`), with `s` taken from a [`Chance`] so that it is accurate even when it is 1e-17.
//! Following Kachitvichyanukul & Schmeiser (BTPE, Commun. ACM 31(2) 1988; TOMS 678), which the
//! design note scale.md §1.1 cites for n up to 1e11:
//!
//! - **mean `n·s < 10`: inversion** (their BINV), written here rather than taken from `rand_distr`
//!   because `rand_distr` forms `(1 − s)^n` as `powf(1 − s, n)`: at `s = 1e-12`, `1 − s` carries a
//!   relative error of 1e-4 in `s`, so `P(0)` is off by about `n·2^-53` (1e-5 at n = 1e11), and
//!   below `s ≈ 1e-16` it switches to a Poisson. Here `P(0) = exp(n·ln_1p(−s))`, exact to rounding,
//!   and each next term is `P(x) = P(x − 1)·(n − x + 1)/x · s/(1 − s)`.
//! - **mean `n·s ≥ 10`: BTPE** (`super::btpe`, adapted from `rand_distr` 0.6): triangle–
//!   parallelogram–exponential rejection with an exact final acceptance test (Stirling series),
//!   under 2 iterations per draw on average; its final test evaluates its log-ratios with `ln_1p`,
//!   which keeps it accurate at n = 1e11 (see that module).

use rand::{Rng, RngExt};

use super::btpe::btpe;
use super::{Chance, JumpError, check_exact_count};

/// Mean below which inversion is used (the BINV/BTPE switch of `rand_distr`, and of the paper).
const INVERSION_MAX_MEAN: f64 = 10.0;

/// A draw of `Binomial(n, chance.p())`: the number of `n` independent trials in which the event
/// happens. Refuses `n > 2^53` (see [`super::MAX_EXACT_COUNT`]).
pub fn binomial<R: Rng + ?Sized>(rng: &mut R, n: u64, chance: Chance) -> Result<u64, JumpError> {
    check_exact_count("n", n as f64)?;
    // Draw on the smaller side; `flipped` when that side is the complement.
    let (small, flipped) = if chance.p() <= chance.q() {
        (chance, false)
    } else {
        (chance.complement(), true)
    };
    let x = if n == 0 || small.p() == 0.0 {
        0
    } else if n as f64 * small.p() < INVERSION_MAX_MEAN {
        inversion(rng, n, small)
    } else {
        btpe(rng, n, small.p())
    };
    Ok(if flipped { n - x } else { x })
}

/// Inversion of the CDF from 0 upward, for `chance.p() ≤ 0.5` and mean below 10 (expected
/// `1 + n·p` iterations). If rounding leaves `u` above the summed mass (the terms sum to 1 only
/// to rounding) or a term underflows, the draw restarts: a rejection of an event of probability
/// about 1e-16, which leaves the law exact to rounding.
fn inversion<R: Rng + ?Sized>(rng: &mut R, n: u64, chance: Chance) -> u64 {
    let odds = chance.p() / chance.q();
    let first = (n as f64 * (-chance.p()).ln_1p()).exp();
    'draw: loop {
        let mut u: f64 = rng.random();
        let mut term = first;
        let mut x = 0u64;
        while u > term {
            if x == n || term == 0.0 {
                continue 'draw;
            }
            u -= term;
            x += 1;
            term *= odds * ((n - x + 1) as f64) / (x as f64);
        }
        return x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::replicate_rng;

    #[test]
    fn degenerate_chances_are_constant() {
        let mut rng = replicate_rng(&[1u8; 32], 0);
        let one = Chance::new(1.0).unwrap();
        let zero = Chance::new(0.0).unwrap();
        assert_eq!(
            binomial(&mut rng, 100_000_000_000, one).unwrap(),
            100_000_000_000
        );
        assert_eq!(binomial(&mut rng, 100_000_000_000, zero).unwrap(), 0);
        assert_eq!(binomial(&mut rng, 0, Chance::new(0.3).unwrap()).unwrap(), 0);
    }

    #[test]
    fn counts_above_2_pow_53_are_refused() {
        let mut rng = replicate_rng(&[1u8; 32], 0);
        let err = binomial(&mut rng, u64::MAX, Chance::new(0.5).unwrap()).unwrap_err();
        assert!(matches!(err, JumpError::TooLarge { name: "n", .. }));
    }

    #[test]
    fn draws_stay_within_zero_and_n() {
        let mut rng = replicate_rng(&[2u8; 32], 0);
        for &(n, p) in &[(1u64, 0.5), (3, 0.999), (20, 0.3), (1000, 1e-3), (7, 0.01)] {
            for _ in 0..1000 {
                assert!(binomial(&mut rng, n, Chance::new(p).unwrap()).unwrap() <= n);
            }
        }
    }
}
