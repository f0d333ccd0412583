//! Pharmacokinetic dosing as a `Controller`: rates that vary continuously with the drug
//! concentration, simulated exactly by thinning (see [`crate::pk`] for why it is exact). Its
//! checks are the doses and the times the drug turns off; at each it bounds every channel's rate
//! over the stretch to the next check, and the event loop draws candidates at those bounds, which
//! the controller accepts with probability `rate(t) / bound`.
//!
//! Models without density dependence thin each channel on its own: over a dosing interval every
//! channel's per-cell rate lies between its values at the interval's two ends (`upper`, `lower`).
//! Candidates come from the direct method with the `upper` rates (so selection, weights and sorted
//! picks are those of a fixed schedule, and the hot loop can fire them); a candidate of channel
//! `c` is accepted with probability `rate_c(t) / upper_c`. A uniform below `lower_c / upper_c`
//! accepts without evaluating the concentration (a squeeze), and a channel whose rate is constant
//! over the interval needs no acceptance draw at all, so a run without drug fires exactly like the
//! `off` exposure. Superposing independently thinned channels gives the time-inhomogeneous process
//! exactly. With density dependence the bound on the total propensity is recomputed from the
//! current time and counts after every candidate, and a candidate is accepted when its uniform
//! falls below the actual total propensity, which then picks the channel.

use rand::RngExt;

use crate::controller::{Accept, Candidate, Controller};
use crate::model::{Model, PhaseRates, Pick};
use crate::pk::{PkSpec, hill_response, rates_at};
use crate::record::Drug;
use crate::rng::{DoseRng, ReplicateRng, uniform};
use crate::ssa::{Outcome, Status, as_f64, select_channel};

/// The concentration since the latest dose, `c0 * exp(-k (t - t0))`, and the exposure it implies:
/// `on` from the dose until `on_until`, while the drug's response is at least its on threshold
/// (see [`crate::pk`]).
#[derive(Clone, Copy)]
struct Concentration {
    c0: f64,
    t0: f64,
    k: f64,
    on_until: f64,
    off: usize,
    on: usize,
}

/// The doses of one replicate: those still ahead (each skipped with the spec's probability, drawn
/// from a stream of its own, so that skipping never shifts the event stream), the concentration
/// the past ones left, and the areas under the concentration and the response so far. Also the
/// drug of a jump run under pk dosing ([`crate::jump_run`]), so both methods dose alike.
pub(crate) struct DoseClock<'a> {
    spec: &'a PkSpec,
    times: &'a [f64],
    next: usize,
    dose_rng: DoseRng,
    drug: Concentration,
    /// The concentration at which the drug turns on ([`crate::pk::PkResponse::on_concentration`]).
    on_concentration: f64,
    /// The time the drug turns off, while that is still ahead (a breakpoint); else infinity.
    off_at: f64,
    /// The areas cover `[0, auc_until]`.
    auc_until: f64,
    auc_concentration: f64,
    auc_response: f64,
}

impl<'a> DoseClock<'a> {
    pub(crate) fn new(spec: &'a PkSpec, dose_rng: DoseRng) -> Self {
        let drug = Concentration {
            c0: 0.0,
            t0: 0.0,
            k: spec.elimination_rate(),
            on_until: f64::NEG_INFINITY,
            off: spec.off_exposure,
            on: spec.on_exposure,
        };
        Self {
            spec,
            times: spec.effective_dose_times(),
            next: 0,
            dose_rng,
            drug,
            on_concentration: spec.response.on_concentration(),
            off_at: f64::INFINITY,
            auc_until: 0.0,
            auc_concentration: 0.0,
            auc_response: 0.0,
        }
    }

    /// Time of the next breakpoint: the next dose or the drug turning off (infinity if none).
    pub(crate) fn next_time(&self) -> f64 {
        self.next_dose_time().min(self.off_at)
    }

    /// Time of the next dose (infinity once none is left).
    fn next_dose_time(&self) -> f64 {
        self.times.get(self.next).copied().unwrap_or(f64::INFINITY)
    }

    /// Add the areas under the concentration and the response from `auc_until` to `t`, in closed
    /// form (no dose in between).
    fn accumulate(&mut self, t: f64) {
        let duration = t - self.auc_until;
        if duration > 0.0 {
            let start = self.drug.concentration_at(self.auc_until);
            let k = self.drug.k;
            self.auc_concentration += (start - self.drug.concentration_at(t)) / k;
            self.auc_response += self.spec.response.response_auc(start, k, duration);
            self.auc_until = t;
        }
    }

    /// `outcome` (of a replicate that stopped at `t`) with the areas up to `t`.
    pub(crate) fn finish(&mut self, t: f64, mut outcome: Outcome) -> Outcome {
        self.accumulate(t);
        outcome.auc_concentration = self.auc_concentration;
        outcome.auc_response = self.auc_response;
        outcome
    }

    /// Move to the breakpoint `t`: the areas up to `t`, and the dose due at `t`, taken unless this
    /// replicate misses it.
    pub(crate) fn cross(&mut self, t: f64) {
        self.accumulate(t);
        if self.off_at <= t {
            self.off_at = f64::INFINITY;
        }
        #[allow(clippy::float_cmp)] // the breakpoint is this very dose time
        if self.next_dose_time() == t {
            self.next += 1;
            if self.dose_rng.random::<f64>() >= self.spec.missed_dose_probability {
                self.take_dose(t);
            }
        }
    }

    /// The drug's exposure at `t` (no breakpoint crossed since the last one).
    pub(crate) fn exposure_at(&self, t: f64) -> usize {
        self.drug.exposure_at(t)
    }

    /// The concentration at `t` (no dose since the last breakpoint crossed).
    pub(crate) fn concentration_at(&self, t: f64) -> f64 {
        self.drug.concentration_at(t)
    }

    /// Take a dose at `t`: the concentration jumps and the drug is on until its response falls
    /// below the threshold again.
    fn take_dose(&mut self, t: f64) {
        let c = self.drug.concentration_at(t) + self.spec.dose;
        self.drug.c0 = c;
        self.drug.t0 = t;
        self.drug.on_until = if c >= self.on_concentration {
            t + (c / self.on_concentration).ln() / self.drug.k
        } else {
            f64::NEG_INFINITY
        };
        self.off_at = if self.drug.on_until > t {
            self.drug.on_until
        } else {
            f64::INFINITY
        };
    }
}

impl Drug for Concentration {
    fn exposure_at(&self, t: f64) -> usize {
        if t < self.on_until { self.on } else { self.off }
    }
    fn concentration_at(&self, t: f64) -> f64 {
        if self.c0 == 0.0 {
            0.0
        } else {
            self.c0 * (-self.k * (t - self.t0)).exp()
        }
    }
}

/// Bound every channel's rate over a stretch in which the concentration moves monotonically (between
/// doses it only decays): by its values at the two ends, since each rate is monotone in the
/// concentration; `at_end` holds the rates at the far end, `upper` receives those at `c_start`.
fn bound_rates(
    spec: &PkSpec,
    (off, on): (&[f64], &[f64]),
    c_start: f64,
    at_end: &[f64],
    (lower, upper): (&mut [f64], &mut [f64]),
) {
    rates_at(spec, off, on, c_start, upper);
    for ((l, u), &other) in lower.iter_mut().zip(upper.iter_mut()).zip(at_end) {
        *l = u.min(other);
        *u = u.max(other);
    }
}

/// What the acceptance test needs of one channel over a dosing interval, in one place: its rate
/// bounds there and its concentration response `off + (on - off) * H(c)`.
#[derive(Clone, Copy, Debug, Default)]
struct ChannelBounds {
    lower: f64,
    upper: f64,
    off: f64,
    on_minus_off: f64,
    ec50: f64,
    hill: f64,
}

/// Fill `table` with each channel's bounds over the interval, `lower` and `upper`, and its response.
fn fill_channel_bounds(
    table: &mut Vec<ChannelBounds>,
    spec: &PkSpec,
    (off, on): (&[f64], &[f64]),
    (lower, upper): (&[f64], &[f64]),
) {
    table.clear();
    // Zipped rather than indexed: no bounds check per value.
    let bounds = lower.iter().zip(upper);
    let rates = off.iter().zip(on);
    let response = spec.ec50.iter().zip(&spec.hill);
    table.extend(bounds.zip(rates).zip(response).map(
        |(((&lower, &upper), (&off, &on)), (&ec50, &hill))| ChannelBounds {
            lower,
            upper,
            off,
            on_minus_off: on - off,
            ec50,
            hill,
        },
    ));
}

/// Acceptance of a candidate of channel `c` at `t`, drawn with rate `upper[c]`: with probability
/// `rate_c(t) / upper[c]`. A uniform below `lower[c] / upper[c]` accepts without evaluating the
/// concentration (the squeeze); a channel whose rate is constant over the interval needs no draw.
pub(crate) struct Thinning<'a> {
    channels: &'a [ChannelBounds],
    drug: Concentration,
}

impl Accept for Thinning<'_> {
    // Inlined so that the hot loop's generator stays in registers.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn accept(&self, pick: &Pick, t: f64, rng: &mut ReplicateRng) -> bool {
        let b = &self.channels[pick.channel as usize];
        if b.lower < b.upper {
            let u = uniform(rng) * b.upper;
            if u >= b.lower {
                let response = hill_response(self.drug.concentration_at(t), b.ec50, b.hill);
                return u < b.off + b.on_minus_off * response;
            }
        }
        true
    }
}

/// What density dependence adds: the actual rates at a candidate's time, to accept it or not.
struct Crowded {
    /// Per-channel base rates at the candidate's concentration.
    at_now: Vec<f64>,
    rates: PhaseRates,
    /// Per-state weights under `rates`.
    weight: Vec<f64>,
}

/// Pharmacokinetic dosing of one replicate: its doses, the rate bounds of the current stretch and
/// what accepting a candidate needs.
pub(crate) struct PkController<'a> {
    spec: &'a PkSpec,
    /// Base rates of the `off` and `on` exposures.
    off: &'a [f64],
    on: &'a [f64],
    clock: DoseClock<'a>,
    /// The exposure in force since the last check (the drug's, which changes only at checks).
    exposure: usize,
    // Scratch space, allocated once per replicate.
    lower: Vec<f64>,
    upper: Vec<f64>,
    /// The rates at the end of the current stretch, at `at_end_of` (NaN: not computed yet).
    at_end: Vec<f64>,
    at_end_of: f64,
    /// Models without density dependence: each channel's bounds and response.
    channels: Vec<ChannelBounds>,
    /// Models with density dependence.
    crowded: Option<Crowded>,
}

impl<'a> PkController<'a> {
    #[must_use]
    pub fn new(model: &'a Model, spec: &'a PkSpec, dose_rng: DoseRng) -> Self {
        let n_channels = model.channels().len();
        let clock = DoseClock::new(spec, dose_rng);
        let crowded = model.density_dependent().then(|| Crowded {
            at_now: vec![0.0; n_channels],
            rates: PhaseRates::new(model),
            weight: vec![0.0; model.n_states()],
        });
        Self {
            spec,
            off: model.rates_of(spec.off_exposure),
            on: model.rates_of(spec.on_exposure),
            exposure: clock.drug.exposure_at(0.0),
            clock,
            lower: vec![0.0; n_channels],
            upper: vec![0.0; n_channels],
            at_end: vec![0.0; n_channels],
            at_end_of: f64::NAN,
            channels: Vec::with_capacity(if crowded.is_some() { 0 } else { n_channels }),
            crowded,
        }
    }
}

impl Controller for PkController<'_> {
    const REACTS_TO_EVENTS: bool = false;
    const SHOWS_SWITCHES: bool = false;

    #[inline]
    fn exposure(&self) -> usize {
        self.exposure
    }

    /// The next dose or the drug turning off (infinity if neither is ahead).
    #[inline]
    fn next_check(&self) -> f64 {
        self.clock.next_time()
    }

    /// Cross the breakpoint (a dose or the drug turning off). The rates are bounded afresh over
    /// the next stretch either way.
    fn at_check(&mut self, t: f64, _counts: &[u64]) -> bool {
        self.clock.cross(t);
        self.exposure = self.clock.drug.exposure_at(t);
        self.at_end_of = f64::NAN; // a new stretch, maybe a new dose
        true
    }

    #[inline]
    fn after_event(&mut self, _t: f64, _counts: &[u64]) -> bool {
        false
    }

    fn exposure_after_stop(&self, t: f64) -> usize {
        self.clock.drug.exposure_at(t)
    }

    #[inline]
    fn concentration_at(&self, t: f64) -> f64 {
        self.clock.drug.concentration_at(t)
    }

    /// Bound every channel's rate over `[t, horizon]`, where the concentration only decays.
    // Inlined: with density dependence this runs before every candidate.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn install(
        &mut self,
        model: &Model,
        rates: &mut PhaseRates,
        counts: &[u64],
        t: f64,
        horizon: f64,
    ) {
        let drug = &self.clock.drug;
        let (off, on) = (self.off, self.on);
        // The far end is the same for every candidate of a stretch (density dependence bounds
        // afresh after each): its rates are computed once.
        if horizon != self.at_end_of {
            let c_end = drug.concentration_at(horizon);
            rates_at(self.spec, off, on, c_end, &mut self.at_end);
            self.at_end_of = horizon;
        }
        let bounds = (&mut self.lower[..], &mut self.upper[..]);
        let c_start = drug.concentration_at(t);
        bound_rates(self.spec, (off, on), c_start, &self.at_end, bounds);
        if self.crowded.is_some() {
            // Competition under pk dosing takes the off exposure's coefficients (the Python layer
            // refuses competition that varies with the exposure, a semantic rule it owns).
            let exposure = self.spec.off_exposure;
            rates.fill_at(model, &self.upper, &self.lower, counts, exposure, false);
        } else {
            rates.fill(model, &self.upper, &self.upper, 0.0, true);
            let bounds = (&self.lower[..], &self.upper[..]);
            fill_channel_bounds(&mut self.channels, self.spec, (off, on), bounds);
        }
    }

    type Acceptance<'a>
        = Thinning<'a>
    where
        Self: 'a;

    fn acceptance(&self) -> Thinning<'_> {
        Thinning {
            channels: &self.channels,
            drug: self.clock.drug,
        }
    }

    /// With density dependence: accept a candidate drawn at the bound `a0` when its uniform falls
    /// below the actual total propensity at `t`, which then picks the channel.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn choose(&mut self, drawn: &Candidate<'_>, rng: &mut ReplicateRng) -> Option<Pick> {
        let Some(actual) = &mut self.crowded else {
            // Per-channel thinning: the direct method's pick at the bounds, if accepted.
            let pick = *drawn.cells.select(drawn.rates, uniform(rng) * drawn.a0);
            return self
                .acceptance()
                .accept(&pick, drawn.t, rng)
                .then_some(pick);
        };
        let (model, t) = (drawn.model, drawn.t);
        let c = self.clock.drug.concentration_at(t);
        rates_at(self.spec, self.off, self.on, c, &mut actual.at_now);
        // Sorting picks by rate only pays off when they are reused; sort while no drug is present
        // so that a run without drug fires exactly like the `off` exposure under a fixed schedule.
        let (exposure, counts) = (self.spec.off_exposure, drawn.cells.states());
        let at_now = &actual.at_now;
        actual
            .rates
            .fill_at(model, at_now, at_now, counts, exposure, c == 0.0);
        let totals = &actual.rates.state_total;
        for ((w, &n), &total) in actual.weight.iter_mut().zip(counts).zip(totals) {
            *w = as_f64(n) * total;
        }
        let actual_a0: f64 = actual.weight.iter().sum();
        let target = uniform(rng) * drawn.a0;
        if target >= actual_a0 {
            return None;
        }
        Some(*select_channel(
            &actual.rates,
            counts,
            &actual.weight,
            target,
        ))
    }

    /// With the areas under the concentration and the response up to `t`; a replicate whose
    /// rate bound overflowed reports none (NaN), as it always has.
    fn close(&mut self, t: f64, status: Status, outcome: Outcome) -> Outcome {
        if status == Status::RateOverflow {
            outcome
        } else {
            self.clock.finish(t, outcome)
        }
    }
}
