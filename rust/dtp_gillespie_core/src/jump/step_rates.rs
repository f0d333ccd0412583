//! The rates of one step as the step's samplers read them: constant (a fixed exposure), or under
//! pharmacokinetic dosing a deterministic function of the time in the step, with what exact
//! thinning needs (each channel's bounds over the step and its response to the concentration).
//!
//! Under PK dosing the doses are grid points, so within a step the concentration only decays,
//! `c(s) = c₀ e^{−k s}`, and each channel's rate `off + (on − off) · H(c)` ([`crate::pk`]) is
//! monotone in `s`: it lies between its values at the step's two ends, `lower` and `upper`.
//! Candidates are drawn at the `upper` rates ([`StepRates::bounds`]) and a candidate of a channel
//! at `s` is kept with chance `rate(s) / upper` ([`StepRates::accepts`]), exactly as exact SSA
//! thins ([`crate::thinning`]); a channel whose two ends are equal needs no draw, so constant
//! rates draw exactly as they always have. The integrated hazard over part of the step is in
//! closed form ([`crate::pk::PkResponse::response_auc`]), which the lineages conditioned on
//! emitting need ([`super::lineage::simulate_emitting`]).

use std::borrow::Cow;

use rand::{Rng, RngExt};

use crate::model::Model;
use crate::pk::{PkResponse, PkSpec, hill_response};

use super::JumpError;
use super::linear::{LinearChannel, LinearRates};
use super::path::RatePath;

/// One channel's rate over a PK step: its bounds there and its response to the concentration.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ChannelResponse {
    lower: f64,
    upper: f64,
    off: f64,
    /// `on − off`.
    slope: f64,
    /// The channel's Hill response (its `on_threshold` is not read).
    response: PkResponse,
}

impl ChannelResponse {
    /// The rate at concentration `c` (the formula of [`crate::pk`]).
    fn at(&self, c: f64) -> f64 {
        self.off + self.slope * hill_response(c, self.response.ec50, self.response.hill)
    }
}

/// The decaying concentration of a PK step and each bound channel's response to it.
#[derive(Clone, Debug, PartialEq)]
struct Decay {
    c_start: f64,
    elimination: f64,
    /// Per type, per channel of `bounds.channels(x)` (the same order).
    channels: Vec<Vec<ChannelResponse>>,
    /// Per type, the sum of its channels' lower bounds: a lower bound of its total rate.
    lower_total: Vec<f64>,
}

impl Decay {
    fn concentration(&self, s: f64) -> f64 {
        self.c_start * (-self.elimination * s).exp()
    }
}

/// The rates of one step (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct StepRates {
    /// The candidates' rates: the constant rates, or every channel at its largest value.
    bounds: LinearRates,
    /// Under PK dosing with rates that vary over the step.
    decay: Option<Decay>,
}

impl StepRates {
    /// Constant rates.
    #[must_use]
    pub fn constant(rates: LinearRates) -> Self {
        Self {
            bounds: rates,
            decay: None,
        }
    }

    /// The rates of `model` under `spec` over a step of length `duration` starting at
    /// concentration `c_start` (just after any dose at the step's start). If no channel's rate
    /// differs between the step's two ends (no drug, or so little that no rate moves), the
    /// rates are constant.
    pub fn pk(
        model: &Model,
        spec: &PkSpec,
        c_start: f64,
        duration: f64,
    ) -> Result<Self, JumpError> {
        if !(c_start.is_finite() && c_start >= 0.0) {
            return Err(JumpError::InvalidParameter {
                name: "concentration",
                value: c_start,
                expected: "finite and non-negative",
            });
        }
        let elimination = spec.elimination_rate();
        let c_end = c_start * (-elimination * duration).exp();
        let (off, on) = (
            model.rates_of(spec.off_exposure),
            model.rates_of(spec.on_exposure),
        );
        let responses: Vec<ChannelResponse> = (0..model.channels().len())
            .map(|k| {
                let mut channel = ChannelResponse {
                    lower: 0.0,
                    upper: 0.0,
                    off: off[k],
                    slope: on[k] - off[k],
                    response: PkResponse {
                        ec50: spec.ec50[k],
                        hill: spec.hill[k],
                        ..PkResponse::default()
                    },
                };
                let (a, b) = (channel.at(c_start), channel.at(c_end));
                channel.lower = a.min(b);
                channel.upper = a.max(b);
                channel
            })
            .collect();
        let upper: Vec<f64> = responses.iter().map(|r| r.upper).collect();
        let bounds = LinearRates::from_channel_rates(model, &upper)?;
        if responses.iter().all(|r| r.lower == r.upper) {
            return Ok(Self::constant(bounds));
        }
        // `from_channel_rates` keeps, type by type in the model's order, the channels whose
        // rate (here the bound) is positive.
        let mut channels = vec![Vec::new(); model.n_states()];
        for (ch, r) in model.channels().iter().zip(&responses) {
            if r.upper > 0.0 {
                channels[ch.source].push(*r);
            }
        }
        let lower_total = channels
            .iter()
            .map(|list| list.iter().map(|r| r.lower).sum())
            .collect();
        Ok(Self {
            bounds,
            decay: Some(Decay {
                c_start,
                elimination,
                channels,
                lower_total,
            }),
        })
    }

    /// The candidates' rates: the rates themselves if constant, else each channel's largest
    /// value over the step.
    #[must_use]
    pub fn bounds(&self) -> &LinearRates {
        &self.bounds
    }

    /// Whether the rates vary over the step.
    #[must_use]
    pub fn varies(&self) -> bool {
        self.decay.is_some()
    }

    /// Whether a candidate of channel `j` of type `x` (drawn at its bound) at time `s` of the
    /// step happens: with chance `rate(s) / upper`, by a uniform that accepts below `lower /
    /// upper` without evaluating the concentration. No draw for a constant channel.
    #[inline]
    pub fn accepts<R: Rng + ?Sized>(
        &self,
        state: usize,
        channel: usize,
        at: f64,
        rng: &mut R,
    ) -> bool {
        let Some(decay) = &self.decay else {
            return true;
        };
        let bounds = &decay.channels[state][channel];
        if bounds.lower < bounds.upper {
            let u = rng.random::<f64>() * bounds.upper;
            if u >= bounds.lower {
                return u < bounds.at(decay.concentration(at));
            }
        }
        true
    }

    /// The rate of channel `j` of type `x` at time `s` of the step.
    #[must_use]
    pub fn rate_at(&self, x: usize, j: usize, s: f64) -> f64 {
        match &self.decay {
            None => self.bounds.channels(x)[j].rate,
            Some(decay) => decay.channels[x][j].at(decay.concentration(s)),
        }
    }

    /// A lower bound of type `x`'s total rate over the step (the total if constant).
    #[must_use]
    pub fn lower_total(&self, x: usize) -> f64 {
        match &self.decay {
            None => self.bounds.total(x),
            Some(decay) => decay.lower_total[x],
        }
    }

    /// `∫_{s}^{s + τ} (a_x(v) − lower_total(x)) dv ≥ 0`, `a_x` type `x`'s total rate: 0 if
    /// constant, else in closed form (each channel's `off · τ + (on − off) ∫ H`).
    #[must_use]
    pub fn excess_hazard(&self, x: usize, s: f64, tau: f64) -> f64 {
        let Some(decay) = &self.decay else {
            return 0.0;
        };
        let c = decay.concentration(s);
        let k = decay.elimination;
        let excess: f64 = decay.channels[x]
            .iter()
            .map(|r| (r.off - r.lower) * tau + r.slope * r.response.response_auc(c, k, tau))
            .sum();
        excess.max(0.0)
    }

    /// The rates at time `s` of the step, channel for channel as in [`StepRates::bounds`].
    fn at(&self, s: f64) -> LinearRates {
        let decay = self.decay.as_ref().expect("varying rates");
        let c = decay.concentration(s);
        let channels = (0..self.bounds.n_types())
            .map(|x| {
                self.bounds
                    .channels(x)
                    .iter()
                    .zip(&decay.channels[x])
                    .map(|(ch, r)| {
                        LinearChannel::new(r.at(c), ch.after(), ch.emits)
                            .expect("rates between two valid exposures are valid")
                    })
                    .collect()
            })
            .collect();
        LinearRates::new(channels).expect("the types of valid rates")
    }
}

impl RatePath for StepRates {
    fn rates_at(&self, s: f64) -> Cow<'_, LinearRates> {
        if self.varies() {
            Cow::Owned(self.at(s))
        } else {
            Cow::Borrowed(&self.bounds)
        }
    }

    fn n_types(&self) -> usize {
        self.bounds.n_types()
    }

    fn max_total(&self, duration: f64) -> f64 {
        RatePath::max_total(&self.bounds, duration)
    }

    fn envelope(&self, _duration: f64) -> Cow<'_, LinearRates> {
        Cow::Borrowed(&self.bounds)
    }

    fn envelope_rates_at(&self, duration: f64, s: f64, out: &mut Vec<f64>) {
        let Some(decay) = &self.decay else {
            return self.bounds.envelope_rates_at(duration, s, out);
        };
        let c = decay.concentration(s);
        out.clear();
        for list in &decay.channels {
            out.extend(list.iter().map(|r| r.at(c)));
        }
    }

    fn is_constant(&self) -> bool {
        !self.varies()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jump::{NoEmission, PkPath};
    use crate::model::{Channel, ChannelKind, Model};
    use rand::SeedableRng;

    /// S (0) divides (a fraction into R, 2, a mutation) and dies; the drug raises its death.
    fn model() -> Model {
        let channel = |dec: Option<usize>, inc: Option<usize>, kind, is_mutation| Channel {
            source: 0,
            dec,
            inc,
            kind,
            is_mutation,
        };
        let channels = vec![
            channel(None, Some(0), ChannelKind::Division, false),
            channel(None, Some(1), ChannelKind::Division, true),
            channel(Some(0), None, ChannelKind::Death, false),
        ];
        Model::new(2, 2, channels, vec![0.7, 1e-3, 0.1, 0.7, 1e-3, 1.0], None).unwrap()
    }

    fn spec() -> PkSpec {
        PkSpec {
            off_exposure: 0,
            on_exposure: 1,
            dose_times: vec![0.0],
            dose: 10.0,
            half_life: 1.5,
            ec50: vec![1.0; 3],
            hill: vec![2.0; 3],
            missed_dose_probability: 0.0,
            response: PkResponse::default(),
        }
    }

    #[test]
    fn the_solve_over_step_rates_is_the_solve_over_the_pk_path() {
        let (model, spec) = (model(), spec());
        let rates = StepRates::pk(&model, &spec, 7.0, 0.5).unwrap();
        assert!(rates.varies());
        let path = PkPath::new(&model, &spec, 7.0).unwrap();
        let (a, b) = (
            NoEmission::solve_path(&rates, 0.5).unwrap(),
            NoEmission::solve_path(&path, 0.5).unwrap(),
        );
        for u in [0.0, 0.13, 0.5] {
            assert_eq!(a.silence(0, u), b.silence(0, u));
            assert_eq!(a.emission(0, u), b.emission(0, u));
            assert_eq!(a.silent_extinction(0, u), b.silent_extinction(0, u));
        }
        assert_eq!(*rates.envelope(0.5), *path.envelope(0.5));
    }

    #[test]
    fn no_drug_is_the_off_exposure_and_draws_nothing() {
        let model = model();
        let rates = StepRates::pk(&model, &spec(), 0.0, 0.5).unwrap();
        assert!(!rates.varies());
        assert_eq!(*rates.bounds(), LinearRates::from_model(&model, 0).unwrap());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let before = rng.clone();
        assert!(rates.accepts(0, 2, 0.3, &mut rng));
        assert_eq!(rng, before);
        assert_eq!(rates.excess_hazard(0, 0.1, 0.2), 0.0);
    }

    #[test]
    fn the_excess_hazard_is_the_integral_of_the_rates_above_their_lower_bound() {
        let (model, spec) = (model(), spec());
        let rates = StepRates::pk(&model, &spec, 10.0, 1.0).unwrap();
        let (s, tau) = (0.2, 0.6);
        let n = 100_000;
        let h = tau / f64::from(n);
        let numeric: f64 = (0..n)
            .map(|i| {
                let v = s + (f64::from(i) + 0.5) * h;
                rates.at(v).total(0) - rates.lower_total(0)
            })
            .sum::<f64>()
            * h;
        let exact = rates.excess_hazard(0, s, tau);
        assert!((exact - numeric).abs() < 1e-9, "{exact} against {numeric}");
        // Death falls from about 0.99 to 0.84 over the day: the lower total is at the end.
        assert!((rates.lower_total(0) - rates.at(1.0).total(0)).abs() < 1e-15);
    }
}
