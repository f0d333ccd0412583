//! The event loop for pharmacokinetic dosing: rates that vary continuously with the drug
//! concentration, simulated exactly by thinning (see [`crate::pk`] for why it is exact).

use std::sync::atomic::{AtomicBool, Ordering};

use rand::RngExt;

use crate::burst::{self, Accept, BurstEnd, Limits, Records, Unwatched, burst};
use crate::error::{EngineError, Result};
use crate::model::{Model, PhaseRates, Pick};
use crate::pk::{PkSpec, hill_response, rates_at};
use crate::record::{Drug, Recorder};
use crate::rng::{DoseRng, ReplicateRng, uniform};
use crate::run::RunConfig;
use crate::ssa::{
    CANCEL_CHECK_EVERY, Cells, History, Observer, Outcome, Status, as_f64, early_stop,
    next_event_time, select_channel, stop_early,
};

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

/// The doses of one replicate: those still ahead, the concentration the past ones left, and the
/// areas under the concentration and the response so far.
struct DoseClock<'a> {
    spec: &'a PkSpec,
    times: &'a [f64],
    next: usize,
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
    fn new(spec: &'a PkSpec) -> Self {
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
            drug,
            on_concentration: spec.response.on_concentration(),
            off_at: f64::INFINITY,
            auc_until: 0.0,
            auc_concentration: 0.0,
            auc_response: 0.0,
        }
    }

    /// Time of the next breakpoint: the next dose or the drug turning off (infinity if none).
    fn next_time(&self) -> f64 {
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
    fn finish(&mut self, t: f64, mut outcome: Outcome) -> Outcome {
        self.accumulate(t);
        outcome.auc_concentration = self.auc_concentration;
        outcome.auc_response = self.auc_response;
        outcome
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

    /// End of the current stretch: the replicate completes at `t_end`, or the clock moves to the
    /// next breakpoint: the drug turning off, or a dose, which is taken unless this replicate
    /// misses it (a draw from `dose_rng`). Returns the outcome if the replicate completed.
    fn cross(
        &mut self,
        t: &mut f64,
        run: &RunConfig,
        counts: &[u64],
        recorder: &mut Recorder<'_>,
        history: &mut History<'_>,
        dose_rng: &mut DoseRng,
    ) -> Option<Outcome> {
        let breakpoint = self.next_time();
        if breakpoint > run.t_end {
            recorder.record_through(run.t_end, counts, &self.drug);
            let outcome = history.close(run.t_end, Status::Completed);
            return Some(self.finish(run.t_end, outcome));
        }
        recorder.record_before(breakpoint, counts, &self.drug);
        self.accumulate(breakpoint);
        *t = breakpoint;
        if self.off_at <= breakpoint {
            self.off_at = f64::INFINITY;
        }
        #[allow(clippy::float_cmp)] // the breakpoint is this very dose time
        if self.next_dose_time() == breakpoint {
            self.next += 1;
            if dose_rng.random::<f64>() >= self.spec.missed_dose_probability {
                self.take_dose(breakpoint);
            }
        }
        history.switch(breakpoint, self.drug.exposure_at(breakpoint));
        None
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

/// Bound every channel's rate over a stretch in which the concentration moves monotonically from
/// `ends.0` to `ends.1` (between doses it only decays): by its values at the two ends, since each
/// rate is monotone in the concentration. `scratch` is as long as the bounds.
fn bound_rates(
    spec: &PkSpec,
    (off, on): (&[f64], &[f64]),
    ends: (f64, f64),
    (lower, upper): (&mut [f64], &mut [f64]),
    scratch: &mut [f64],
) {
    rates_at(spec, off, on, ends.0, upper);
    rates_at(spec, off, on, ends.1, scratch);
    for ((l, u), &other) in lower.iter_mut().zip(upper.iter_mut()).zip(scratch.iter()) {
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
    table.extend((0..off.len()).map(|c| ChannelBounds {
        lower: lower[c],
        upper: upper[c],
        off: off[c],
        on_minus_off: on[c] - off[c],
        ec50: spec.ec50[c],
        hill: spec.hill[c],
    }));
}

/// Acceptance of a candidate of channel `c` at `t`, drawn with rate `upper[c]`: with probability
/// `rate_c(t) / upper[c]`. A uniform below `lower[c] / upper[c]` accepts without evaluating the
/// concentration (the squeeze); a channel whose rate is constant over the interval needs no draw.
struct Thinning<'a> {
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

/// Simulate one replicate under pharmacokinetic dosing; otherwise as
/// [`crate::ssa::simulate_replicate`]. Each dose is skipped with the spec's probability, drawn
/// from `dose_rng` (a stream of its own, so skipping never shifts the event stream).
pub fn simulate_pk_replicate<O: Observer>(
    model: &Model,
    spec: &PkSpec,
    treating: &[bool],
    run: &RunConfig,
    rng: &mut ReplicateRng,
    dose_rng: &mut DoseRng,
    recorder: &mut Recorder<'_>,
    observer: &mut O,
    cancel: &AtomicBool,
) -> Result<Outcome> {
    if !model.density_dependent() {
        return simulate_linear_pk_replicate(
            model, spec, treating, run, rng, dose_rng, recorder, observer, cancel,
        );
    }
    let n_channels = model.channels().len();
    let (off, on) = (
        model.rates_of(spec.off_exposure),
        model.rates_of(spec.on_exposure),
    );
    let mut clock = DoseClock::new(spec);
    // Scratch space, allocated once per replicate.
    let (mut at_now, mut at_end) = (vec![0.0; n_channels], vec![0.0; n_channels]);
    let (mut upper, mut lower) = (vec![0.0; n_channels], vec![0.0; n_channels]);
    let (mut bound, mut actual) = (PhaseRates::new(model), PhaseRates::new(model));
    let mut actual_weight = vec![0.0; model.n_states()];
    let mut cells = Cells::new(&run.initial);
    let mut history = History::new(
        treating,
        clock.drug.exposure_at(0.0),
        run.progression.as_ref(),
        cells.states(),
        f64::NAN, // no biomarker under pharmacokinetic dosing (`Dosing::validate`)
    );
    let mut t = 0.0_f64;
    let mut steps: u64 = 0;
    let max_population = run.population_cap();
    observer.start(cells.states(), clock.drug.exposure_at(0.0));

    if let Some(status) = early_stop(cells.total, 0, run, max_population) {
        let outcome = stop_early(
            status,
            0.0,
            cells.states(),
            recorder,
            &clock.drug,
            &clock.drug,
            history,
        );
        return Ok(clock.finish(0.0, outcome));
    }

    loop {
        steps += 1;
        if steps % CANCEL_CHECK_EVERY == 0 && cancel.load(Ordering::Relaxed) {
            return Err(EngineError::Cancelled);
        }
        let horizon = clock.next_time().min(run.t_end);
        let ends = (
            clock.drug.concentration_at(t),
            clock.drug.concentration_at(horizon),
        );
        bound_rates(spec, (off, on), ends, (&mut lower, &mut upper), &mut at_end);
        // Competition coefficients are the same under every exposure here (checked by
        // `Dosing::validate`), so any exposure selects them.
        let exposure = spec.off_exposure;
        bound.fill_at(model, &upper, &lower, cells.states(), exposure, false);
        cells.refresh(&bound);
        let a0_bound = cells.a0();
        if !a0_bound.is_finite() {
            return Ok(overflowed(t, &cells, recorder, &clock.drug, history));
        }
        let t_next = next_event_time(None, t, a0_bound, rng);

        if t_next >= horizon {
            if let Some(outcome) = clock.cross(
                &mut t,
                run,
                cells.states(),
                recorder,
                &mut history,
                dose_rng,
            ) {
                return Ok(outcome);
            }
            continue;
        }

        recorder.record_before(t_next, cells.states(), &clock.drug);
        t = t_next;
        let c = clock.drug.concentration_at(t);
        rates_at(spec, off, on, c, &mut at_now);
        // Sorting picks by rate only pays off when they are reused; sort while no drug is present
        // so that a run without drug fires exactly like the `off` exposure under a fixed schedule.
        actual.fill_at(model, &at_now, &at_now, cells.states(), exposure, c == 0.0);
        for (s, w) in actual_weight.iter_mut().enumerate() {
            *w = as_f64(cells.states()[s]) * actual.state_total[s];
        }
        let a0: f64 = actual_weight.iter().sum();
        let target = uniform(rng) * a0_bound;
        if target >= a0 {
            continue; // rejected candidate: nothing happens at t
        }
        let pick = *select_channel(&actual, cells.states(), &actual_weight, target);
        cells.fire(&pick, &actual);
        history.event(t, pick.is_mutation, cells.states());
        observer.event(
            t,
            pick.channel as usize,
            cells.states(),
            clock.drug.exposure_at(t),
        );
        if let Some(status) = early_stop(cells.total, history.n_events(), run, max_population) {
            let now = clock.drug;
            let outcome = stop_early(
                status,
                t,
                cells.states(),
                recorder,
                &now,
                &clock.drug,
                history,
            );
            return Ok(clock.finish(t, outcome));
        }
    }
}

/// The same process for models without density dependence, by thinning each channel on its own:
/// over a dosing interval every channel's per-cell rate lies between its values at the interval's
/// two ends (`upper`, `lower`). Candidates come from the direct method with the `upper` rates (so
/// selection, weights and sorted picks are those of a fixed schedule); a candidate of channel `c`
/// is accepted with probability `rate_c(t) / upper_c`. A uniform below `lower_c / upper_c` accepts
/// without evaluating the concentration (a squeeze), and a channel whose rate is constant over the
/// interval needs no acceptance draw at all, so a run without drug fires exactly like the `off`
/// exposure. Superposing independently thinned channels gives the time-inhomogeneous process
/// exactly.
fn simulate_linear_pk_replicate<O: Observer>(
    model: &Model,
    spec: &PkSpec,
    treating: &[bool],
    run: &RunConfig,
    rng: &mut ReplicateRng,
    dose_rng: &mut DoseRng,
    recorder: &mut Recorder<'_>,
    observer: &mut O,
    cancel: &AtomicBool,
) -> Result<Outcome> {
    let n_channels = model.channels().len();
    let (off, on) = (
        model.rates_of(spec.off_exposure),
        model.rates_of(spec.on_exposure),
    );
    let mut clock = DoseClock::new(spec);
    let (mut upper, mut lower) = (vec![0.0; n_channels], vec![0.0; n_channels]);
    let mut at_end = vec![0.0; n_channels];
    let mut table = Vec::with_capacity(n_channels);
    let mut bound = PhaseRates::new(model);
    let mut cells = Cells::new(&run.initial);
    let mut history = History::new(
        treating,
        clock.drug.exposure_at(0.0),
        run.progression.as_ref(),
        cells.states(),
        f64::NAN, // no biomarker under pharmacokinetic dosing (`Dosing::validate`)
    );
    let mut t = 0.0_f64;
    let mut steps: u64 = 0;
    let max_population = run.population_cap();
    observer.start(cells.states(), clock.drug.exposure_at(0.0));

    if let Some(status) = early_stop(cells.total, 0, run, max_population) {
        let outcome = stop_early(
            status,
            0.0,
            cells.states(),
            recorder,
            &clock.drug,
            &clock.drug,
            history,
        );
        return Ok(clock.finish(0.0, outcome));
    }

    let mut interval_changed = true;
    let mut horizon = 0.0;
    // Runs of candidates with nothing else to do go through the hot loop (same draws).
    let use_burst = run.progression.is_none() && !run.force_general_loop && !O::OBSERVES;
    let mut pending: Option<f64> = None;
    'candidates: loop {
        steps += 1;
        if steps % CANCEL_CHECK_EVERY == 0 && cancel.load(Ordering::Relaxed) {
            return Err(EngineError::Cancelled);
        }
        if interval_changed {
            horizon = clock.next_time().min(run.t_end);
            let ends = (
                clock.drug.concentration_at(t),
                clock.drug.concentration_at(horizon),
            );
            bound_rates(spec, (off, on), ends, (&mut lower, &mut upper), &mut at_end);
            bound.fill(model, &upper, &upper, 0.0, true);
            cells.refresh(&bound);
            fill_channel_bounds(&mut table, spec, (off, on), (&lower, &upper));
            interval_changed = false;
        }
        let thinning = Thinning {
            channels: &table,
            drug: clock.drug,
        };
        'event: {
            if use_burst && burst::fits(&cells) {
                let limits = Limits::new(horizon, history.n_events(), run, max_population);
                let (now, h) = (pending.take(), &mut history);
                let drug = clock.drug;
                let records = &mut Records {
                    recorder,
                    drug: &drug,
                };
                match burst(
                    &mut cells, &bound, rng, &mut t, now, limits, h, records, &Unwatched, &thinning,
                ) {
                    BurstEnd::Limit(t_next) => pending = Some(t_next),
                    BurstEnd::Check => break 'event,
                    BurstEnd::Overflow => {}
                }
            }
            let a0_bound = cells.a0();
            if !a0_bound.is_finite() {
                return Ok(overflowed(t, &cells, recorder, &clock.drug, history));
            }
            let t_next = next_event_time(pending.take(), t, a0_bound, rng);

            if t_next >= horizon {
                if let Some(outcome) = clock.cross(
                    &mut t,
                    run,
                    cells.states(),
                    recorder,
                    &mut history,
                    dose_rng,
                ) {
                    return Ok(outcome);
                }
                interval_changed = true;
                continue 'candidates;
            }

            recorder.record_before(t_next, cells.states(), &clock.drug);
            t = t_next;
            let pick = *cells.select(&bound, uniform(rng) * a0_bound);
            if !thinning.accept(&pick, t, rng) {
                continue 'candidates; // rejected candidate: nothing happens at t
            }
            cells.fire(&pick, &bound);
            history.event(t, pick.is_mutation, cells.states());
            observer.event(
                t,
                pick.channel as usize,
                cells.states(),
                clock.drug.exposure_at(t),
            );
        }
        if let Some(status) = early_stop(cells.total, history.n_events(), run, max_population) {
            let outcome = stop_early(
                status,
                t,
                cells.states(),
                recorder,
                &clock.drug,
                &clock.drug,
                history,
            );
            return Ok(clock.finish(t, outcome));
        }
        // Every time: the hot loop also returns here after a long run of rejected candidates.
        if cancel.load(Ordering::Relaxed) {
            return Err(EngineError::Cancelled);
        }
    }
}

/// The outcome of a replicate whose rate bound stopped being finite at `t` (see
/// [`Status::RateOverflow`]); the drug concentration is known after the stop too.
fn overflowed(
    t: f64,
    cells: &Cells,
    recorder: &mut Recorder<'_>,
    drug: &Concentration,
    history: History<'_>,
) -> Outcome {
    stop_early(
        Status::RateOverflow,
        t,
        cells.states(),
        recorder,
        drug,
        drug,
        history,
    )
}
