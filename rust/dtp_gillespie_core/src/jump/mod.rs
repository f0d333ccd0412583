//! Exact population jumps: samplers that move a linear (branching) population over a whole time
//! step in O(1) draws instead of one draw per birth or death (issue 17).
//!
//! Used by `method = "jump"` ([`crate::jump_run`]); exact SSA ([`crate::ssa`]) is the default.
//! What is here:
//!
//! - [`chance`]: a probability carried with its complement, so that `1 − p` is never formed by
//!   a cancelling subtraction (the failure of OncoSimulR near 1e8 cells).
//! - [`binomial`](mod@binomial): `Binomial(n, p)` exact for every `n ≤ 2^53` and `p ∈ [0, 1]`:
//!   inversion below mean 10, BTPE above it (adapted from `rand_distr`, with its final test's
//!   logarithms made accurate at 1e11); never a normal approximation.
//! - [`multinomial`]: a multinomial split by conditional binomials with suffix sums.
//! - [`negative_binomial`](mod@negative_binomial): the negative binomial as a gamma–Poisson
//!   mixture.
//! - [`kendall`]: the exact jump of the single-type linear birth–death process (Kendall), for
//!   constant rates and, by composing steps, piecewise-constant rates.
//! - [`linear`]: a model's channels under one exposure as a branching process.
//! - [`path`]: a step's rates as a function of time (constant, or under PK dosing), read by
//!   the time-dependent solves and tables.
//! - [`riccati`]: the no-emission (no mutation event) probabilities of one cell's lineage.
//! - [`offspring`]: one-ancestor offspring tables of multi-type processes by finite-state
//!   projection, split over the ancestors with [`multinomial::Multinomial`].
//! - [`lineage`]: small pools event by event, and lineages conditioned on emitting.
//! - [`step_rates`]: a step's rates as its samplers read them: constant, or under PK dosing
//!   with each channel's bounds over the step for exact thinning.
//! - [`step`]: one step of a whole population, composing the above.
//! - [`cache`]: the step laws of the process, shared by every engine call (bounded, keyed by
//!   everything a law depends on).
//! - [`regimes`]: the engine's own count, per pool, of the steps it jumped and simulated event by
//!   event.
//! - [`density`]: steps of a density-dependent model, an approximation labelled
//!   `jump+density(midpoint)` (rates frozen per step at the mean-field midpoint).
//!
//! Every sampler takes any `rand::Rng`, in particular the engine's per-replicate generator
//! [`crate::rng::ReplicateRng`], so a replicate's draws stay in its own stream.

pub mod binomial;
mod btpe;
pub mod cache;
pub mod chance;
pub mod density;
pub mod kendall;
pub mod lineage;
pub mod linear;
pub mod multinomial;
pub mod negative_binomial;
pub mod offspring;
pub mod path;
pub mod regimes;
pub mod riccati;
pub mod step;
pub mod step_rates;

pub use binomial::binomial;
pub use chance::Chance;
pub use density::{DensityLaws, DensityReport, DensityScratch, MeanField, Predictor};
pub use kendall::{KendallStep, PiecewiseKendall};
pub use linear::{LinearChannel, LinearRates};
pub use multinomial::Multinomial;
pub use negative_binomial::{negative_binomial, negative_binomial_odds};
pub use offspring::{ExtinctionTrace, OffspringTable};
pub use path::{PkPath, RatePath};
pub use regimes::{RegimeCounts, RegimeTally};
pub use riccati::{EmissionBound, NoEmission};
pub use step::{StepLaw, StepLog, StepScratch};
pub use step_rates::StepRates;

use thiserror::Error;

/// The largest count the samplers accept or return: 2^53, below which every integer is an `f64`.
/// Above it the floating-point rejection samplers could not resolve the last bits of a count
/// (rand_distr's own caveat for its binomial), so a larger count is refused rather than
/// sampled inexactly. A tumour of 10^11 cells is 5 orders of magnitude below it.
pub const MAX_EXACT_COUNT: u64 = 1 << 53;

/// A parameter of a jump sampler that is out of its domain, or a draw that would leave the
/// range in which it is exact.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum JumpError {
    /// A rate, duration, probability or weight outside its domain.
    #[error("{name} = {value} is invalid: it must be {expected}")]
    InvalidParameter {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
    /// A count (or a Poisson mean) above [`MAX_EXACT_COUNT`].
    #[error("{name} = {value} exceeds 2^53, the largest count sampled exactly")]
    TooLarge { name: &'static str, value: f64 },
    /// Ancestors drawn into the tail of an offspring table (the mass that left its box, at most
    /// the tail tolerance per ancestor): they cannot be placed exactly, so the draw is refused.
    #[error(
        "{ancestors} ancestor(s) fell in the offspring table's tail (mass {mass:e} per \
         ancestor); rerun with a smaller jump_tolerance or another seed"
    )]
    TailHit { ancestors: u64, mass: f64 },
    /// Under time-dependent rates (pharmacokinetic dosing), the step's law integrated over the
    /// concentration path misses the exact chance of silent extinction by more than its
    /// tolerance: the drug changes too fast for the step.
    #[error(
        "the drug's concentration changes too fast for a step this long: the step's law, \
         integrated over the concentration, misses the exact chance of silent extinction by \
         {gap:.3e} (more than the tolerance {allowed:.3e}); pass a smaller jump_step (a fraction \
         of the drug's half-life) or method='ssa'"
    )]
    PathTooFast { gap: f64, allowed: f64 },
}

/// `Err(TooLarge)` if `value` (a count or a mean count) is above [`MAX_EXACT_COUNT`] or not finite.
pub(crate) fn check_exact_count(name: &'static str, value: f64) -> Result<(), JumpError> {
    if value <= MAX_EXACT_COUNT as f64 {
        Ok(())
    } else {
        Err(JumpError::TooLarge { name, value })
    }
}
