//! A multinomial split of `n` individuals over categories, by conditional binomials: category `j`
//! receives `Binomial(remaining, w_j / S_j)` of those not yet placed, where `S_j = Σ_{i ≥ j} w_i`,
//! and the last category the rest (numpy's `random_multinomial`, design note scale.md §1.4).
//! Exact, and the counts sum to `n` by construction.
//!
//! The conditional chances come from **suffix sums**, accumulated from the last category up, so a
//! far-tail category of weight 1e-13 keeps its relative precision; the complement of category
//! `j`'s chance is `S_{j+1} / S_j`, not `1 − w_j / S_j`. numpy's running `remaining −= w_j` loses
//! that precision in the tail (scale.md §1.4). The chances depend on the weights only, so a table
//! shared by every replicate (the one-ancestor offspring law of the FSP tables to come) builds
//! them once. Put the heaviest categories first: the split stops as soon as nobody is left.

use rand::Rng;

use super::{Chance, JumpError, binomial};

/// The conditional chances of a fixed weight vector, ready to split any number of individuals.
#[derive(Clone, Debug, PartialEq)]
pub struct Multinomial {
    /// Chance of category `j` given that the individual is in none of `0..j`; one fewer than the
    /// number of categories (the last takes the rest).
    conditional: Vec<Chance>,
}

impl Multinomial {
    /// The split with category probabilities proportional to `weights` (finite, non-negative,
    /// with a positive sum; they need not be normalized).
    pub fn new(weights: &[f64]) -> Result<Self, JumpError> {
        if weights.is_empty() {
            return Err(JumpError::InvalidParameter {
                name: "number of categories",
                value: 0.0,
                expected: "at least 1",
            });
        }
        if let Some(&bad) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(JumpError::InvalidParameter {
                name: "weight",
                value: bad,
                expected: "finite and non-negative",
            });
        }
        // suffix[j] = Σ_{i ≥ j} w_i, summed from the tail up.
        let mut suffix = vec![0.0; weights.len() + 1];
        for j in (0..weights.len()).rev() {
            suffix[j] = suffix[j + 1] + weights[j];
        }
        if !(suffix[0] > 0.0 && suffix[0].is_finite()) {
            return Err(JumpError::InvalidParameter {
                name: "sum of weights",
                value: suffix[0],
                expected: "positive and finite",
            });
        }
        let conditional = (0..weights.len() - 1)
            .map(|j| {
                if suffix[j] == 0.0 {
                    // Nothing left to place from here on (all remaining weights are zero).
                    Chance::new(0.0)
                } else {
                    Chance::from_parts(weights[j] / suffix[j], suffix[j + 1] / suffix[j])
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { conditional })
    }

    /// The number of categories.
    #[must_use]
    pub fn len(&self) -> usize {
        self.conditional.len() + 1
    }

    /// Always false: a split has at least one category.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Splits `n` individuals: `counts[j]` receives category `j`'s count (overwritten). `counts`
    /// must have [`Multinomial::len`] entries; `n ≤ 2^53`.
    pub fn sample_into<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        n: u64,
        counts: &mut [u64],
    ) -> Result<(), JumpError> {
        if counts.len() != self.len() {
            return Err(JumpError::InvalidParameter {
                name: "length of counts",
                value: counts.len() as f64,
                expected: "the number of categories",
            });
        }
        counts.fill(0);
        let mut remaining = n;
        for (count, &chance) in counts.iter_mut().zip(&self.conditional) {
            if remaining == 0 {
                return Ok(());
            }
            *count = binomial(rng, remaining, chance)?;
            remaining -= *count;
        }
        counts[self.conditional.len()] = remaining;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::replicate_rng;

    #[test]
    fn invalid_weights_are_refused() {
        assert!(Multinomial::new(&[]).is_err());
        assert!(Multinomial::new(&[0.0, 0.0]).is_err());
        assert!(Multinomial::new(&[1.0, f64::NAN]).is_err());
        assert!(Multinomial::new(&[1.0, -0.5]).is_err());
        assert!(Multinomial::new(&[f64::MAX, f64::MAX]).is_err());
    }

    #[test]
    fn zero_weights_get_nothing_and_a_wrong_buffer_is_refused() {
        let split = Multinomial::new(&[0.0, 2.0, 0.0, 1.0, 0.0]).unwrap();
        let mut rng = replicate_rng(&[5u8; 32], 0);
        let mut counts = [9u64; 5];
        split.sample_into(&mut rng, 1000, &mut counts).unwrap();
        assert_eq!((counts[0], counts[2], counts[4]), (0, 0, 0));
        assert_eq!(counts.iter().sum::<u64>(), 1000);
        assert!(split.sample_into(&mut rng, 1000, &mut [0u64; 4]).is_err());
    }

    #[test]
    fn the_tail_chance_keeps_its_precision() {
        // The last conditional chance is 1e-13 / (1e-13 + 1e-30): its complement is 1e-17, which
        // `1 − p` would round to 0 and a running subtraction would lose altogether.
        let split = Multinomial::new(&[1.0, 1e-13, 1e-30]).unwrap();
        let tail = split.conditional[1];
        assert!((tail.q() - 1e-17).abs() < 1e-30);
    }
}
