//! The exact jump of the single-type linear birth–death process (Kendall 1948): given `N(t) = n`,
//! a draw of `N(t + Δ)` in O(1) draws, for every `n` up to 2^53.
//!
//! **One ancestor** (design note scale.md §1.1, oracle O1; Crawford & Suchard 2018): with birth
//! rate `b`, death rate `d`, `r = b − d`,
//!
//! ```text
//! α(Δ) = d (e^{rΔ} − 1) / (b e^{rΔ} − d)     P(N = 0)       = α
//! β(Δ) = b (e^{rΔ} − 1) / (b e^{rΔ} − d)     P(N = m ≥ 1)  = (1 − α)(1 − β) β^{m−1}
//! ```
//!
//! (`α = β = bΔ/(1 + bΔ)` when `r = 0`). **`n` ancestors**, by the branching property: the
//! surviving lineages `K ~ Binomial(n, 1 − α)`, and given `K`, `N = K + NB(K, 1 − β)` (a sum of
//! `K` geometrics on {1, 2, …}).
//!
//! **Without cancellation.** With `g = ∫₀^Δ e^{rs} ds = expm1(rΔ)/r` (`= Δ` at `r = 0`) the
//! identity `e^{rΔ} = 1 + r·g` turns the forms above into
//!
//! ```text
//! r ≤ 0:  1 − α = e^{rΔ} / (1 + b g),    α = d g / (1 + b g)
//! r > 0:  1 − α = 1 / (e^{−rΔ} + b h),  α = d h / (e^{−rΔ} + b h)
//!         with h = −expm1(−rΔ)/r = g e^{−rΔ};  in both cases β/(1 − β) = b g
//! ```
//!
//! sums and quotients of non-negative terms: no difference of nearly equal numbers whether
//! `b ≈ d`, `Δ` is tiny (the naive `e^{rΔ} − 1` is 0 for `|rΔ| < 1e-16`), or `e^{rΔ}` is huge.
//! Both `1 − α` and `α` are kept (a [`Chance`]), so a death probability of 1e-17 is not lost in
//! `1 − α`. The negative binomial is drawn from its failure odds `β/(1 − β) = b g` directly.
//!
//! **Time-inhomogeneous rates.** The law of the process is a semigroup: the state at `t + Δ₁ + Δ₂`
//! is the Δ₂-jump from the Δ₁-jump. So piecewise-constant rates are exact by composing one
//! [`KendallStep`] per piece ([`PiecewiseKendall`]); the closed form of Kendall 1948 (scale.md
//! §1.3) gives the same law in one step and is the test oracle's business.

use rand::Rng;

use super::{Chance, JumpError, binomial, negative_binomial_odds};

/// The one-step law of a linear birth–death population with constant rates over a duration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KendallStep {
    /// A lineage survives the step (`p = 1 − α`) or dies out (`q = α`).
    survival: Chance,
    /// `β/(1 − β) = b·g`: the mean number of extra cells per surviving lineage.
    excess_odds: f64,
}

impl KendallStep {
    /// The step of duration `duration` with per-cell birth rate `birth` and death rate `death`
    /// (all finite and non-negative). Refused if one lineage's mean excess `b·g` overflows
    /// (growth by more than e^709 over one step).
    pub fn new(birth: f64, death: f64, duration: f64) -> Result<Self, JumpError> {
        for (name, value) in [("birth", birth), ("death", death), ("duration", duration)] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(JumpError::InvalidParameter {
                    name,
                    value,
                    expected: "finite and non-negative",
                });
            }
        }
        let r = birth - death;
        let x = r * duration;
        let g = exp_integral(x, duration);
        let (survive, die) = if r <= 0.0 {
            let denominator = 1.0 + birth * g;
            (x.exp() / denominator, death * g / denominator)
        } else {
            let h = exp_integral(-x, duration);
            let denominator = (-x).exp() + birth * h;
            (1.0 / denominator, death * h / denominator)
        };
        let excess_odds = birth * g;
        if !excess_odds.is_finite() {
            return Err(JumpError::InvalidParameter {
                name: "(birth - death) * duration",
                value: x,
                expected: "small enough that the mean growth over one step is finite",
            });
        }
        // Both are in [0, 1] in exact arithmetic; rounding can put either 1 ulp above 1.
        Ok(Self {
            survival: Chance::from_parts(survive.min(1.0), die.min(1.0))?,
            excess_odds,
        })
    }

    /// `α`: the chance that one cell's lineage is extinct at the end of the step.
    #[must_use]
    pub fn extinction(&self) -> f64 {
        self.survival.q()
    }

    /// The chance that one cell's lineage survives the step (`p = 1 − α`, `q = α`).
    #[must_use]
    pub fn survival(&self) -> Chance {
        self.survival
    }

    /// `β/(1 − β)`: the mean excess per surviving lineage, the failure odds of the negative
    /// binomial.
    #[must_use]
    pub fn excess_odds(&self) -> f64 {
        self.excess_odds
    }

    /// `β` as a chance (`p = β`, `q = 1 − β`), from the odds without cancellation.
    #[must_use]
    pub fn beta(&self) -> Chance {
        let denominator = 1.0 + self.excess_odds;
        Chance::from_parts(self.excess_odds / denominator, 1.0 / denominator)
            .expect("non-negative odds give a valid chance")
    }

    /// A draw of the population at the end of the step, given `n` cells at its start.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, n: u64) -> Result<u64, JumpError> {
        let survivors = binomial(rng, n, self.survival)?;
        let excess = negative_binomial_odds(rng, survivors, self.excess_odds)?;
        survivors.checked_add(excess).ok_or(JumpError::TooLarge {
            name: "population",
            value: survivors as f64 + excess as f64,
        })
    }
}

/// `∫₀^Δ e^{(x/Δ)s} ds = Δ·expm1(x)/x` for `x = rΔ` (`Δ` at `x = 0`), accurate for every `x`.
fn exp_integral(x: f64, duration: f64) -> f64 {
    if x == 0.0 {
        duration
    } else {
        duration * (x.exp_m1() / x)
    }
}

/// Piecewise-constant rates: one [`KendallStep`] per piece, applied in order.
#[derive(Clone, Debug, PartialEq)]
pub struct PiecewiseKendall {
    steps: Vec<KendallStep>,
}

impl PiecewiseKendall {
    /// The pieces as `(birth, death, duration)`, in time order.
    pub fn new(pieces: &[(f64, f64, f64)]) -> Result<Self, JumpError> {
        let steps = pieces
            .iter()
            .map(|&(birth, death, duration)| KendallStep::new(birth, death, duration))
            .collect::<Result<_, _>>()?;
        Ok(Self { steps })
    }

    /// The steps, in time order.
    #[must_use]
    pub fn steps(&self) -> &[KendallStep] {
        &self.steps
    }

    /// A draw of the population after every piece, given `n` cells at the start. Extinction is
    /// absorbing, so the remaining pieces are skipped once the population is 0.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, n: u64) -> Result<u64, JumpError> {
        let mut count = n;
        for step in &self.steps {
            if count == 0 {
                break;
            }
            count = step.sample(rng, count)?;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// α and β straight from Kendall's formulas, for parameters where they do not cancel.
    fn naive(b: f64, d: f64, t: f64) -> (f64, f64) {
        let e = ((b - d) * t).exp();
        (d * (e - 1.0) / (b * e - d), b * (e - 1.0) / (b * e - d))
    }

    fn close(a: f64, b: f64, relative: f64) -> bool {
        (a - b).abs() <= relative * b.abs()
    }

    #[test]
    fn agrees_with_kendalls_formulas_where_they_are_well_conditioned() {
        for &(b, d, t) in &[
            (1.0, 0.5, 1.0),
            (0.5, 1.0, 2.0),
            (2.0, 0.1, 3.0),
            (0.3, 0.9, 0.7),
        ] {
            let step = KendallStep::new(b, d, t).unwrap();
            let (alpha, beta) = naive(b, d, t);
            assert!(close(step.extinction(), alpha, 1e-13), "{b} {d} {t}");
            assert!(close(step.survival().p(), 1.0 - alpha, 1e-13));
            assert!(close(step.beta().p(), beta, 1e-13));
            assert!(close(step.excess_odds(), beta / (1.0 - beta), 1e-12));
        }
    }

    #[test]
    fn critical_and_near_critical_rates_match_the_limit() {
        // r = 0: α = β = bt/(1 + bt). Near it (r = −1e-12, t = 1e-9) the naive e^{rt} − 1 is
        // exactly 0, so the naive α is 0; the expm1 form agrees with the limit to O(rt).
        let (b, t) = (1.0, 1e-9);
        let limit = b * t / (1.0 + b * t);
        let critical = KendallStep::new(b, b, t).unwrap();
        assert!(close(critical.extinction(), limit, 1e-15));
        assert!(close(critical.beta().p(), limit, 1e-15));
        let near = KendallStep::new(b, b - 1e-12, t).unwrap();
        assert_eq!(naive(b, b - 1e-12, t).0, 0.0);
        assert!(close(
            near.extinction(),
            (b - 1e-12) * t / (1.0 + b * t),
            1e-12
        ));
    }

    #[test]
    fn a_tiny_death_chance_is_kept() {
        // α ≈ dΔ = 1e-17: 1 − α rounds to 1, but α itself is kept to full precision.
        let step = KendallStep::new(0.0, 1e-12, 1e-5).unwrap();
        assert_eq!(step.survival().p(), 1.0);
        assert!(close(step.extinction(), 1e-17, 1e-10));
    }

    #[test]
    fn extreme_steps_stay_finite_or_are_refused() {
        let decline = KendallStep::new(0.1, 5.0, 1000.0).unwrap();
        assert_eq!(decline.survival().p(), 0.0);
        assert_eq!(decline.extinction(), 1.0);
        let growth = KendallStep::new(5.0, 0.1, 100.0).unwrap();
        assert!(growth.excess_odds().is_finite() && growth.survival().p() > 0.9);
        assert!(KendallStep::new(5.0, 0.1, 1000.0).is_err());
        assert!(KendallStep::new(-1.0, 0.1, 1.0).is_err());
        assert!(KendallStep::new(1.0, f64::NAN, 1.0).is_err());
        assert!(KendallStep::new(1.0, 0.1, f64::INFINITY).is_err());
        // Where rounding put α or 1 − α one ulp above 1 (found by a parameter sweep).
        for (b, d, t) in [
            (216.99, 1014.54, 664.11),
            (0.1346, 0.0, 3284.09),
            (2.4e-5, 18.27, 444.9),
        ] {
            let step = KendallStep::new(b, d, t).unwrap();
            assert!(step.survival().p() <= 1.0 && step.extinction() <= 1.0);
        }
        let nothing = KendallStep::new(1.0, 0.5, 0.0).unwrap();
        assert_eq!((nothing.extinction(), nothing.excess_odds()), (0.0, 0.0));
    }
}
