//! Rates along one step: constant (a fixed exposure) or a deterministic function of the time in
//! the step (pharmacokinetic dosing, where the concentration `c(t)` is the same for every
//! replicate). The time-dependent step laws ([`super::riccati::NoEmission::solve_path`]) read
//! the rates through [`RatePath`], at the Runge–Kutta stage times.
//!
//! Under PK dosing the doses are grid points, so within a step the concentration only decays,
//! `c(s) = c₀ e^{−k s}`, and each channel's rate is a monotone function of `s` (an Emax/Hill
//! response of `c`): every rate over the step lies between its values at the step's two ends.

use std::borrow::Cow;

use crate::model::Model;
use crate::pk::{PkSpec, rates_at};

use super::JumpError;
use super::linear::LinearRates;

/// Per-cell rates at each time `s ∈ [0, duration]` of a step.
pub trait RatePath {
    /// The rates at time `s` from the step's start.
    fn rates_at(&self, s: f64) -> Cow<'_, LinearRates>;

    /// Number of types.
    fn n_types(&self) -> usize;

    /// An upper bound on every type's total per-cell rate over `[0, duration]` (it sizes the
    /// integration grid; the solves' error estimates check that the grid was fine enough).
    fn max_total(&self, duration: f64) -> f64;

    /// The channels of the step `[0, duration]` (every channel whose rate is positive somewhere
    /// in it), each at an upper bound of its rate over the step: the structure of the offspring
    /// tables' generator, and the rates that size their box.
    fn envelope(&self, duration: f64) -> Cow<'_, LinearRates>;

    /// The rate at time `s` of every channel of [`RatePath::envelope`], in its order (type by
    /// type, each type's channels in turn), into `out`.
    fn envelope_rates_at(&self, duration: f64, s: f64, out: &mut Vec<f64>);

    /// Whether the rates are the same at every time (solvers then read them once).
    fn is_constant(&self) -> bool {
        false
    }
}

impl RatePath for LinearRates {
    fn rates_at(&self, _s: f64) -> Cow<'_, LinearRates> {
        Cow::Borrowed(self)
    }

    fn n_types(&self) -> usize {
        LinearRates::n_types(self)
    }

    fn max_total(&self, _duration: f64) -> f64 {
        (0..LinearRates::n_types(self))
            .map(|x| self.total(x))
            .fold(0.0, f64::max)
    }

    fn envelope(&self, _duration: f64) -> Cow<'_, LinearRates> {
        Cow::Borrowed(self)
    }

    fn envelope_rates_at(&self, _duration: f64, _s: f64, out: &mut Vec<f64>) {
        out.clear();
        for x in 0..LinearRates::n_types(self) {
            out.extend(self.channels(x).iter().map(|c| c.rate));
        }
    }

    fn is_constant(&self) -> bool {
        true
    }
}

/// The rates of a model under pharmacokinetic dosing over one step between doses: the
/// concentration `c₀ e^{−k s}` at time `s` of the step, each channel's rate
/// `off + (on − off) · H(c)` ([`crate::pk`]).
#[derive(Clone, Debug)]
pub struct PkPath<'a> {
    model: &'a Model,
    spec: &'a PkSpec,
    /// The concentration at the step's start (just after a dose on the step's start).
    c_start: f64,
    elimination: f64,
}

impl<'a> PkPath<'a> {
    /// The path from concentration `c_start` at the step's start.
    pub fn new(model: &'a Model, spec: &'a PkSpec, c_start: f64) -> Result<Self, JumpError> {
        if !(c_start.is_finite() && c_start >= 0.0) {
            return Err(JumpError::InvalidParameter {
                name: "concentration",
                value: c_start,
                expected: "finite and non-negative",
            });
        }
        Ok(Self {
            model,
            spec,
            c_start,
            elimination: spec.elimination_rate(),
        })
    }

    /// The concentration at time `s` of the step.
    #[must_use]
    pub fn concentration(&self, s: f64) -> f64 {
        self.c_start * (-self.elimination * s).exp()
    }

    /// The per-channel rates at time `s`, in the model's channel order.
    fn raw(&self, s: f64) -> Vec<f64> {
        let mut rates = vec![0.0; self.model.channels().len()];
        rates_at(
            self.spec,
            self.model.rates_of(self.spec.off_exposure),
            self.model.rates_of(self.spec.on_exposure),
            self.concentration(s),
            &mut rates,
        );
        rates
    }

    fn build(&self, s: f64) -> Result<LinearRates, JumpError> {
        LinearRates::from_channel_rates(self.model, &self.raw(s))
    }

    /// Each channel's largest rate over `[0, duration]`: at one of its ends (monotone rates).
    fn bounds(&self, duration: f64) -> Vec<f64> {
        let (start, end) = (self.raw(0.0), self.raw(duration));
        start.into_iter().zip(end).map(|(a, b)| a.max(b)).collect()
    }
}

impl RatePath for PkPath<'_> {
    fn rates_at(&self, s: f64) -> Cow<'_, LinearRates> {
        // The model's rates are checked finite and non-negative, and a Hill response lies in
        // [0, 1], so every interpolated rate is too.
        Cow::Owned(
            self.build(s)
                .expect("rates between two valid exposures are valid"),
        )
    }

    fn n_types(&self) -> usize {
        self.model.n_states()
    }

    fn max_total(&self, duration: f64) -> f64 {
        // Each channel's rate is monotone in s over the step, so its largest value is at an
        // end; a type's total is at most the sum of its channels' largest values.
        let mut totals = vec![0.0; self.n_types()];
        for (ch, bound) in self.model.channels().iter().zip(self.bounds(duration)) {
            totals[ch.source] += bound;
        }
        totals.into_iter().fold(0.0, f64::max)
    }

    fn envelope(&self, duration: f64) -> Cow<'_, LinearRates> {
        Cow::Owned(
            LinearRates::from_channel_rates(self.model, &self.bounds(duration))
                .expect("rates between two valid exposures are valid"),
        )
    }

    fn envelope_rates_at(&self, duration: f64, s: f64, out: &mut Vec<f64>) {
        // The envelope keeps, type by type in the model's order, the channels with a positive
        // bound (`LinearRates::from_channel_rates`); a channel whose bound is 0 is 0 throughout.
        let (bounds, now) = (self.bounds(duration), self.raw(s));
        out.clear();
        for x in 0..self.n_types() {
            let channels = self.model.channels().iter().enumerate();
            out.extend(
                channels
                    .filter(|&(k, ch)| ch.source == x && bounds[k] > 0.0)
                    .map(|(k, _)| now[k]),
            );
        }
    }
}
