//! The exact event loop: Gillespie's direct method with schedule breakpoints.
//!
//! # Why stopping at breakpoints is exact
//!
//! Between two breakpoints of the schedule every propensity is constant (or, with density dependence,
//! constant until the next event), so the time to the next event is exponential with rate `a0`, the
//! total propensity. If the drawn event time falls at or beyond the next breakpoint, the event is
//! discarded, the clock is set to the breakpoint, the rates of the new exposure are installed and a
//! fresh waiting time is drawn. This is exact because the exponential distribution is memoryless:
//! given that no event happened in `[t, s)`, the remaining waiting time at `s` under the old rates
//! would again be exponential, and under the new rates it is exponential with the new `a0`; the
//! discarded draw carries no information about the future. The same argument applies to `t_end`. No
//! time step is involved anywhere.
//!
//! # Selection
//!
//! The reacting channel is chosen with one uniform draw in two levels: first the source state, with
//! weight `count[i] * state_total[i]`, then, reusing the remainder of the same draw, the channel
//! among that state's channels with weight `count[i] * rate[c]`. This picks channel `c` with
//! probability `propensity[c] / a0`, as the direct method requires. Within a state the channels
//! are scanned highest rate first (the order changes which uniform picks which channel, not the
//! law).

use std::sync::atomic::{AtomicBool, Ordering};

use rand::RngExt;
use rand_distr::Exp1;

use crate::error::{EngineError, Result};
use crate::model::{Model, PhaseRates, Pick};
use crate::record::Recorder;
use crate::rng::ReplicateRng;
use crate::run::RunConfig;
use crate::schedule::Schedule;

/// Why a replicate stopped. The discriminants are the `status` codes of the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
pub enum Status {
    /// Reached `t_end`.
    Completed = 0,
    /// Every state reached 0 (absorbing: no immigration).
    Extinct = 1,
    /// Stopped after `max_events` events.
    MaxEvents = 2,
    /// Stopped when the total population reached `max_population`.
    MaxPopulation = 3,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Self::Completed,
        Self::Extinct,
        Self::MaxEvents,
        Self::MaxPopulation,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Extinct => "extinct",
            Self::MaxEvents => "max_events",
            Self::MaxPopulation => "max_population",
        }
    }
}

/// Per-replicate summary of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub status: Status,
    /// `t_end`, the extinction time, or the time of the event that hit a cap.
    pub stop_time: f64,
    /// NaN unless the population went extinct.
    pub extinction_time: f64,
    /// Time of the first mutation event, NaN if none happened.
    pub first_mutant_time: f64,
    pub n_events: u64,
}

impl Default for Outcome {
    fn default() -> Self {
        Self {
            status: Status::Completed,
            stop_time: f64::NAN,
            extinction_time: f64::NAN,
            first_mutant_time: f64::NAN,
            n_events: 0,
        }
    }
}

/// Sees every event of a replicate (for tests and event traces); the ensemble path uses
/// [`NoObserver`], which compiles away.
pub trait Observer {
    fn start(&mut self, counts: &[u64], exposure: usize);
    fn event(&mut self, time: f64, channel: usize, counts: &[u64], exposure: usize);
}

pub struct NoObserver;

impl Observer for NoObserver {
    #[inline(always)]
    fn start(&mut self, _: &[u64], _: usize) {}
    #[inline(always)]
    fn event(&mut self, _: f64, _: usize, _: &[u64], _: usize) {}
}

/// How often (in events) a replicate checks the cancellation flag.
const CANCEL_CHECK_EVERY: u64 = 1 << 14;

fn weighted_population(model: &Model, counts: &[u64]) -> f64 {
    model.capacity().map_or(0.0, |cap| {
        counts
            .iter()
            .zip(&cap.weights)
            .map(|(&n, &w)| n as f64 * w)
            .sum()
    })
}

/// Counts stay below 2^63 (`RunConfig::population_cap`), and the signed conversion is much cheaper
/// than the unsigned one on x86.
#[inline]
fn as_f64(count: u64) -> f64 {
    count as i64 as f64
}

/// Propensity of each state's cells together: `count[s] * state_total[s]`.
#[inline]
fn refresh_weight(weight: &mut [f64], rates: &PhaseRates, counts: &[u64], state: usize) {
    weight[state] = as_f64(counts[state]) * rates.state_total[state];
}

/// Rates of `exposure` (at the current density) and every state's weight.
fn install_rates(
    model: &Model,
    exposure: usize,
    counts: &[u64],
    rates: &mut PhaseRates,
    weight: &mut [f64],
) {
    rates.fill(model, exposure, weighted_population(model, counts));
    for s in 0..weight.len() {
        refresh_weight(weight, rates, counts, s);
    }
}

/// Pick the channel that fires, given `target` uniform in `[0, a0)` with `a0 = sum(weight)`.
#[inline]
fn select_channel<'r>(
    rates: &'r PhaseRates,
    counts: &[u64],
    weight: &[f64],
    mut target: f64,
) -> &'r Pick {
    // Rounding can leave `target` just above the last weight: fall back to the last state (and
    // channel) with positive weight, which is where the excess belongs.
    let mut state = usize::MAX;
    for (s, &w) in weight.iter().enumerate() {
        if w > 0.0 {
            state = s;
            if target < w {
                break;
            }
            target -= w;
        }
    }
    // state < n_states because a0 > 0, so some state has positive weight, hence a positive rate.
    // Within the state, compare with count * rate rather than divide the target by the count.
    let (first, end) = rates.pick_range[state];
    let candidates = &rates.pick[first..end];
    let n = as_f64(counts[state]);
    for pick in candidates {
        let w = pick.rate * n;
        if target < w {
            return pick;
        }
        target -= w;
    }
    &candidates[candidates.len() - 1]
}

/// Simulate one replicate from `run.initial` to `run.t_end` (or extinction, or a cap), writing the
/// record grid through `recorder` and every event to `observer`.
pub fn simulate_replicate<O: Observer>(
    model: &Model,
    schedule: &Schedule,
    run: &RunConfig,
    rng: &mut ReplicateRng,
    recorder: &mut Recorder<'_>,
    observer: &mut O,
    cancel: &AtomicBool,
) -> Result<Outcome> {
    let n_states = model.n_states();
    // One extra slot: the sink of channels that only add or only remove a cell (see `Pick`).
    let mut counts = Vec::with_capacity(n_states + 1);
    counts.extend_from_slice(&run.initial);
    counts.push(0);
    let mut total: u64 = run.initial.iter().sum();
    let mut rates = PhaseRates::new(model);
    let mut weight = vec![0.0; n_states];
    let density_dependent = model.capacity().is_some();
    let mut segment = schedule.segment(0);
    let mut horizon = segment.end.min(run.t_end);
    install_rates(model, segment.exposure, &counts, &mut rates, &mut weight);
    let mut outcome = Outcome::default();
    let mut t = 0.0_f64;
    // Breakpoints crossed: a run that only crosses breakpoints must stay cancellable too.
    let mut breakpoints: u64 = 0;
    observer.start(&counts[..n_states], segment.exposure);

    let max_population = run.population_cap();
    if total == 0 {
        outcome.status = Status::Extinct;
        outcome.extinction_time = 0.0;
        outcome.stop_time = 0.0;
        recorder.finish(Some(&counts[..n_states]), schedule);
        return Ok(outcome);
    }
    if total >= max_population {
        outcome.status = Status::MaxPopulation;
        outcome.stop_time = 0.0;
        recorder.record_through(0.0, &counts[..n_states], segment.exposure);
        recorder.finish(None, schedule);
        return Ok(outcome);
    }

    loop {
        // Recomputed from the weights (not updated by differences), so no rounding error accumulates.
        let a0: f64 = weight.iter().sum();
        let t_next = if a0 > 0.0 {
            t + rng.sample::<f64, _>(Exp1) / a0
        } else {
            f64::INFINITY
        };

        if t_next >= horizon {
            if segment.end > run.t_end {
                recorder.record_through(run.t_end, &counts[..n_states], segment.exposure);
                outcome.stop_time = run.t_end;
                return Ok(outcome);
            }
            // Discard the draw, move to the breakpoint and install the new exposure (see module docs).
            recorder.record_before(segment.end, &counts[..n_states], segment.exposure);
            t = segment.end;
            segment = schedule.segment(segment.index + 1);
            horizon = segment.end.min(run.t_end);
            install_rates(model, segment.exposure, &counts, &mut rates, &mut weight);
            breakpoints += 1;
            if breakpoints % CANCEL_CHECK_EVERY == 0 && cancel.load(Ordering::Relaxed) {
                return Err(EngineError::Cancelled);
            }
            continue;
        }

        recorder.record_before(t_next, &counts[..n_states], segment.exposure);
        t = t_next;
        let pick = *select_channel(&rates, &counts, &weight, rng.random::<f64>() * a0);
        // The sink slot may wrap; real counts never do (a cell is removed only from a state whose
        // count is positive, and populations stop at the cap below 2^63).
        counts[pick.dec] = counts[pick.dec].wrapping_sub(1);
        counts[pick.inc] = counts[pick.inc].wrapping_add(1);
        total = total.wrapping_add_signed(pick.delta_total);
        for s in [pick.dec, pick.inc] {
            if s < n_states {
                refresh_weight(&mut weight, &rates, &counts, s);
            }
        }
        outcome.n_events += 1;
        if pick.is_mutation && outcome.first_mutant_time.is_nan() {
            outcome.first_mutant_time = t;
        }
        observer.event(t, pick.channel, &counts[..n_states], segment.exposure);

        // One predictable branch per event for the three ways a replicate can stop early.
        if total == 0 || total >= max_population || outcome.n_events >= run.max_events {
            outcome.stop_time = t;
            if total == 0 {
                outcome.status = Status::Extinct;
                outcome.extinction_time = t;
                recorder.finish(Some(&counts[..n_states]), schedule);
            } else {
                outcome.status = if total >= max_population {
                    Status::MaxPopulation
                } else {
                    Status::MaxEvents
                };
                recorder.record_through(t, &counts[..n_states], segment.exposure);
                recorder.finish(None, schedule);
            }
            return Ok(outcome);
        }
        if outcome.n_events % CANCEL_CHECK_EVERY == 0 && cancel.load(Ordering::Relaxed) {
            return Err(EngineError::Cancelled);
        }
        if density_dependent {
            install_rates(model, segment.exposure, &counts, &mut rates, &mut weight);
        }
    }
}
