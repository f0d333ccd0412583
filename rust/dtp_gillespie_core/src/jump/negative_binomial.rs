//! The negative binomial `NB(k, p)`: the number of failures before the `k`-th success in
//! independent trials of success probability `p`, drawn as a gamma–Poisson mixture
//! (`λ ~ Gamma(shape k, scale (1 − p)/p)`, then `Poisson(λ)`), as R's `rnbinom` does (design note
//! scale.md §1.1, [NB-gp]). Mean `k·(1 − p)/p`, variance `k·(1 − p)/p²`.
//!
//! The gamma draw is Marsaglia & Tsang's (ACM TOMS 26(3) 2000) rejection method, the Poisson draw
//! Knuth's product of uniforms below mean 12 and Ahrens & Dieter's PD rejection method (ACM TOMS
//! 8(2) 1982, the algorithm of R's `rpois`) above it, all from `rand_distr` 0.6. These are exact
//! rejection samplers whose only error is the floating-point evaluation of their acceptance
//! tests. Measured against 40–50-digit references (mpmath):
//! - PD evaluates `(ln(1 + v) − v)/v²` by Ahrens & Dieter's 10-coefficient polynomial, off by up
//!   to 2.4e-10 for |v| ≤ 0.25; its test multiplies that by `k·v² ≈ (λ − k)²/k`, so the accepted
//!   law's relative error is about 2.4e-10·z² for a draw z standard deviations from the mean
//!   (below 1e-8 within 6 standard deviations), at every mean. This is the largest floor of the
//!   jump samplers; an own Poisson sampler would remove it.
//! - Marsaglia & Tsang's test `d·(1 − v + ln v)` is off by at most 2e-13, 1e-11 and 7e-11 at
//!   shapes 1e6, 1e9 and 1e11.
//!
//! No normal approximation is made at any mean.

use rand::Rng;
use rand_distr::{Distribution, Gamma, Poisson};

use super::{Chance, JumpError, check_exact_count};

/// `NB(k, p)` with the success probability given as a [`Chance`] (its complement `1 − p` is used
/// as given, never recomputed). `p = 0` (no success ever) is refused unless `k = 0`.
pub fn negative_binomial<R: Rng + ?Sized>(
    rng: &mut R,
    k: u64,
    success: Chance,
) -> Result<u64, JumpError> {
    if k == 0 || success.q() == 0.0 {
        return Ok(0);
    }
    if success.p() == 0.0 {
        return Err(JumpError::InvalidParameter {
            name: "success probability",
            value: 0.0,
            expected: "positive for a negative binomial of k > 0 successes",
        });
    }
    negative_binomial_odds(rng, k, success.q() / success.p())
}

/// `NB(k, p)` with the failure odds `(1 − p)/p` (the mean number of failures per success) given
/// directly; this is how the Kendall jump knows it (`b·(e^{rΔ} − 1)/r`), with no `1 − p` formed.
pub fn negative_binomial_odds<R: Rng + ?Sized>(
    rng: &mut R,
    k: u64,
    odds: f64,
) -> Result<u64, JumpError> {
    if !(odds >= 0.0 && odds.is_finite()) {
        return Err(JumpError::InvalidParameter {
            name: "odds",
            value: odds,
            expected: "finite and non-negative",
        });
    }
    check_exact_count("k", k as f64)?;
    if k == 0 || odds == 0.0 {
        return Ok(0);
    }
    let mean = Gamma::new(k as f64, odds)
        .map_err(|_| JumpError::InvalidParameter {
            name: "odds",
            value: odds,
            expected: "a valid gamma scale",
        })?
        .sample(rng);
    check_exact_count("Poisson mean", mean)?;
    if mean <= 0.0 {
        // A gamma draw can underflow to 0 for a tiny scale; Poisson(0) is 0.
        return Ok(0);
    }
    let count: f64 = Poisson::new(mean)
        .expect("a positive finite mean below 2^53")
        .sample(rng);
    Ok(count as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::replicate_rng;

    #[test]
    fn degenerate_and_invalid_parameters() {
        let mut rng = replicate_rng(&[4u8; 32], 0);
        assert_eq!(negative_binomial_odds(&mut rng, 0, 3.0).unwrap(), 0);
        assert_eq!(negative_binomial_odds(&mut rng, 5, 0.0).unwrap(), 0);
        assert_eq!(
            negative_binomial(&mut rng, 5, Chance::new(1.0).unwrap()).unwrap(),
            0
        );
        assert!(negative_binomial(&mut rng, 5, Chance::new(0.0).unwrap()).is_err());
        assert!(negative_binomial_odds(&mut rng, 5, f64::INFINITY).is_err());
        assert!(negative_binomial_odds(&mut rng, 5, -1.0).is_err());
        assert!(negative_binomial_odds(&mut rng, 5, f64::NAN).is_err());
        let err = negative_binomial_odds(&mut rng, 1 << 50, 1e6).unwrap_err();
        assert!(matches!(err, JumpError::TooLarge { .. }));
    }
}
