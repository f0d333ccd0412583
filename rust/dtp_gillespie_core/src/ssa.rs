//! Gillespie's direct method with schedule breakpoints: the cells and their propensities, the
//! selection of the channel that fires, a replicate's history and outcome. The outer event loop
//! that puts them together is `event_loop`; its hot loop is `burst`.
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

use crate::model::{PhaseRates, Pick};
pub use crate::outcome::{Outcome, Status};
use crate::rng::{ReplicateRng, exp1};
use crate::run::{Progression, RunConfig};

/// Sees every event of a replicate (for tests and event traces); the ensemble path uses
/// [`NoObserver`], which compiles away.
pub trait Observer {
    /// Whether `event` does anything (if not, the event loop may skip calling it).
    const OBSERVES: bool;
    /// Whether `event` may be called after the fact: for the events the hot loop (`burst`) fired,
    /// in order, once the burst returns and before the event loop does anything else, with the
    /// counts after each event and the exposure in force (which a burst never changes). Such an
    /// observer keeps the hot loop on; the others turn it off.
    const REPLAYABLE: bool = false;
    /// Whether a replayable observer is shown a burst's events all at once, by
    /// [`burst`](Self::burst), rather than by one `event` each.
    const TAKES_BURSTS: bool = false;
    fn start(&mut self, counts: &[u64], exposure: usize);
    fn event(&mut self, time: f64, channel: usize, counts: &[u64], exposure: usize);
    /// The events of one burst (`TAKES_BURSTS`): their times and channels in firing order, the
    /// counts after the last, and the exposure in force; the same as one `event` each. `times`
    /// is empty when every event is at or before [`times_needed_after`](Self::times_needed_after).
    fn burst(&mut self, _times: &[f64], _channels: &[u32], _counts: &[u64], _exposure: usize) {}
    /// With `TAKES_BURSTS`: a burst whose events are all at or before this time may be shown
    /// without their times (the SIMD lanes then copy only the channels out of their event log).
    fn times_needed_after(&self) -> f64 {
        f64::NEG_INFINITY
    }
    /// The exposure in force changed at `time` (fixed and adaptive schedules).
    fn switch(&mut self, _time: f64, _exposure: usize) {}
}

pub struct NoObserver;

impl Observer for NoObserver {
    const OBSERVES: bool = false;
    #[inline(always)]
    fn start(&mut self, _: &[u64], _: usize) {}
    #[inline(always)]
    fn event(&mut self, _: f64, _: usize, _: &[u64], _: usize) {}
}

/// How often (in events, or in breakpoints) a replicate checks the cancellation flag.
pub(crate) const CANCEL_CHECK_EVERY: u64 = 1 << 14;

/// Counts stay below 2^63 (`RunConfig::population_cap`), and the signed conversion is much cheaper
/// than the unsigned one on x86.
#[inline]
pub(crate) fn as_f64(count: u64) -> f64 {
    count as i64 as f64
}

/// The cells of one replicate and the propensity of each state's cells together.
pub(crate) struct Cells {
    /// Counts per state plus one sink slot, the target of channels that only add or only remove a
    /// cell (see `Pick`), never read as a count.
    counts: Vec<u64>,
    pub total: u64,
    /// `count[s] * state_total[s]` under the rates last refreshed, plus the sink slot's, which is
    /// always 0 (its per-cell rate is 0), so that firing refreshes weights without branches.
    weight: Vec<f64>,
    n_states: usize,
}

impl Cells {
    pub fn new(initial: &[u64]) -> Self {
        let mut counts = Vec::with_capacity(initial.len() + 1);
        counts.extend_from_slice(initial);
        counts.push(0);
        Self {
            counts,
            total: initial.iter().sum(),
            weight: vec![0.0; initial.len() + 1],
            n_states: initial.len(),
        }
    }

    #[inline]
    pub fn states(&self) -> &[u64] {
        &self.counts[..self.n_states]
    }

    /// Counts and weights with the sink slot, and the total: for loops that keep them in registers.
    #[inline]
    pub fn slots_mut(&mut self) -> (&mut [u64], &mut [f64], &mut u64) {
        (&mut self.counts, &mut self.weight, &mut self.total)
    }

    /// Weight of each state (without the sink slot).
    #[inline]
    pub fn weights(&self) -> &[f64] {
        &self.weight[..self.n_states]
    }

    #[inline]
    fn refresh_one(&mut self, rates: &PhaseRates, slot: usize) {
        self.weight[slot] = as_f64(self.counts[slot]) * rates.state_total[slot];
    }

    pub fn refresh(&mut self, rates: &PhaseRates) {
        for s in 0..self.n_states {
            self.refresh_one(rates, s);
        }
    }

    /// Total propensity, summed afresh so that no rounding error accumulates.
    #[inline]
    pub fn a0(&self) -> f64 {
        self.weights().iter().sum()
    }

    /// Apply one firing of `pick` to the counts.
    #[inline]
    pub fn apply(&mut self, pick: &Pick) {
        // The sink slot may wrap; real counts never do (a cell is removed only from a state whose
        // count is positive, and populations stop at the cap below 2^63).
        self.counts[pick.dec] = self.counts[pick.dec].wrapping_sub(1);
        self.counts[pick.inc] = self.counts[pick.inc].wrapping_add(1);
        self.total = self.total.wrapping_add_signed(i64::from(pick.delta_total));
    }

    /// Apply one firing of `pick` and refresh the weights it changed (the sink's stays 0).
    #[inline]
    pub fn fire(&mut self, pick: &Pick, rates: &PhaseRates) {
        self.apply(pick);
        self.refresh_one(rates, pick.dec);
        self.refresh_one(rates, pick.inc);
    }

    /// Pick the channel that fires, given `target` uniform in `[0, a0)`.
    #[inline]
    pub fn select<'r>(&self, rates: &'r PhaseRates, target: f64) -> &'r Pick {
        select_channel(rates, self.states(), self.weights(), target)
    }
}

/// Pick the channel that fires, given `target` uniform in `[0, sum(weight))`.
#[inline]
pub(crate) fn select_channel<'r>(
    rates: &'r PhaseRates,
    counts: &[u64],
    weight: &[f64],
    mut target: f64,
) -> &'r Pick {
    let state = select_state(weight, &mut target);
    let (first, end) = rates.pick_range[state];
    select_pick(&rates.pick[first..end], as_f64(counts[state]), target)
}

/// The source state: the first whose cumulative weight exceeds `target`, which is left as the
/// remainder within that state.
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn select_state(weight: &[f64], target: &mut f64) -> usize {
    for (s, &w) in weight.iter().enumerate() {
        if *target < w {
            return s;
        }
        *target -= w;
    }
    last_positive(weight)
}

/// The channel among a state's `candidates` (its `count` cells), given the remainder `target`:
/// compare with count * rate rather than divide the target by the count; the last channel takes
/// whatever is left (the same rounding fallback).
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn select_pick(candidates: &[Pick], count: f64, target: f64) -> &Pick {
    // A state with positive weight has at least one channel with a positive rate.
    let (last, scanned) = candidates
        .split_last()
        .expect("a state with weight has a channel");
    scan_picks(scanned, last, count, target)
}

/// [`select_pick`] with the candidates split already into those scanned and the last.
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn scan_picks<'p>(
    scanned: &'p [Pick],
    last: &'p Pick,
    count: f64,
    mut target: f64,
) -> &'p Pick {
    for pick in scanned {
        let w = pick.rate * count;
        if target < w {
            return pick;
        }
        target -= w;
    }
    last
}

/// Rounding can leave a selection target at or above the total weight: the excess belongs to the
/// last state with positive weight (there is one, since the total is positive).
#[cold]
pub(crate) fn last_positive(weight: &[f64]) -> usize {
    weight.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// Exposure history (time on drug, switches, treatment start) and progression of one replicate.
pub(crate) struct History<'a> {
    treating: &'a [bool],
    exposure: usize,
    since: f64,
    progression: Option<&'a Progression>,
    nadir: f64,
    /// When the biomarker was last looked at (see [`Self::watch_biomarker`]).
    watched: f64,
    outcome: Outcome,
}

impl<'a> History<'a> {
    /// The history from time 0, with the cells `counts` and, for progression on the biomarker,
    /// its value `biomarker` (NaN without one).
    pub fn new(
        treating: &'a [bool],
        exposure: usize,
        progression: Option<&'a Progression>,
        counts: &[u64],
        biomarker: f64,
    ) -> Self {
        let mut outcome = Outcome::default();
        if treating[exposure] {
            outcome.treatment_start_time = 0.0;
        }
        let nadir = progression.map_or(0.0, |p| {
            if p.biomarker {
                biomarker
            } else {
                p.burden(counts)
            }
        });
        if progression.is_some_and(|p| p.reached(nadir, nadir)) {
            outcome.progression_time = 0.0;
        }
        Self {
            treating,
            exposure,
            since: 0.0,
            progression,
            nadir,
            watched: 0.0,
            outcome,
        }
    }

    /// Progression on the biomarker over `(last look, t]`, before the counts or the exposure
    /// change at `t`, at every check (whether it changes anything or not) and at the end.
    ///
    /// Between changes the biomarker is monotone, so on `(last look, t]` its lowest value is at
    /// one end and the nadir so far is known at every look. Progression is the first *upward*
    /// crossing of the level (`factor` x nadir, or `size`): while the biomarker falls its nadir
    /// falls with it and no level is crossed upwards, whatever it passed on the way down; while it
    /// rises the nadir stays put (it is at most the value at the last change), so the crossing is
    /// the closed-form rise from the last change, the same whether or not looks that changed
    /// nothing came in between.
    ///
    /// `rise(level)` is the biomarker's next rise to `level` and `value(t)` its value at `t`,
    /// both with the counts and exposure in force.
    pub fn watch_biomarker(
        &mut self,
        t: f64,
        rise: impl FnOnce(f64) -> f64,
        value: impl FnOnce(f64) -> f64,
    ) {
        let Some(p) = self.progression.filter(|p| p.biomarker) else {
            return;
        };
        if !self.outcome.progression_time.is_nan() {
            return;
        }
        let rise = rise(p.level(self.nadir));
        let y = value(t);
        if rise <= t {
            // After the last look, where the level was not reached (up to rounding).
            self.outcome.progression_time = rise.max(self.watched);
        } else if p.reached(y, self.nadir) {
            // Reached by rounding alone (the closed form put the crossing just after t).
            self.outcome.progression_time = t;
        } else {
            self.nadir = self.nadir.min(y);
        }
        self.watched = t;
    }

    /// The exposure in force from time `t` on.
    pub fn switch(&mut self, t: f64, exposure: usize) {
        if exposure == self.exposure {
            return;
        }
        if self.treating[self.exposure] {
            self.outcome.time_on_drug += t - self.since;
        }
        if self.treating[exposure] && self.outcome.treatment_start_time.is_nan() {
            self.outcome.treatment_start_time = t;
        }
        self.outcome.n_switches += 1;
        self.exposure = exposure;
        self.since = t;
    }

    /// Book an event at `t` that left `counts`.
    #[inline]
    pub fn event(&mut self, t: f64, channel_is_mutation: bool, counts: &[u64]) {
        self.outcome.n_events += 1;
        if channel_is_mutation && self.outcome.first_mutant_time.is_nan() {
            self.outcome.first_mutant_time = t;
        }
        if let Some(p) = self.progression.filter(|p| !p.biomarker)
            && self.outcome.progression_time.is_nan()
        {
            let burden = p.burden(counts);
            self.nadir = self.nadir.min(burden);
            if p.reached(burden, self.nadir) {
                self.outcome.progression_time = t;
            }
        }
    }

    /// Book a mutation event at `t` (for loops that track nothing else per event).
    #[inline]
    pub fn mutation(&mut self, t: f64) {
        if self.outcome.first_mutant_time.is_nan() {
            self.outcome.first_mutant_time = t;
        }
    }

    /// Book `n` events of the hot loop (which tracks nothing else per event).
    #[inline]
    pub fn add_events(&mut self, n: u64) {
        self.outcome.n_events += n;
        self.outcome.hot_loop_events += n;
    }

    #[inline]
    pub fn n_events(&self) -> u64 {
        self.outcome.n_events
    }

    /// The outcome of a replicate that stopped at `t` with `status`.
    pub fn close(&mut self, t: f64, status: Status) -> Outcome {
        if self.treating[self.exposure] {
            self.outcome.time_on_drug += t - self.since;
        }
        self.outcome.status = status;
        self.outcome.stop_time = t;
        if status == Status::Extinct {
            self.outcome.extinction_time = t;
        }
        self.outcome
    }
}

/// The time of the next event (or candidate): `pending` if drawn already, else `now` plus a fresh
/// exponential waiting time at total rate `a0` (never, if `a0` is 0).
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn next_event_time(
    pending: Option<f64>,
    now: f64,
    a0: f64,
    rng: &mut ReplicateRng,
) -> f64 {
    match pending {
        Some(t_next) => t_next,
        None if a0 > 0.0 => now + exp1(rng) / a0,
        None => f64::INFINITY,
    }
}

/// Why a replicate must stop now, if it must: extinction or a cap.
#[inline]
pub(crate) fn early_stop(
    total: u64,
    n_events: u64,
    run: &RunConfig,
    max_population: u64,
) -> Option<Status> {
    // One predictable branch per event in the common case.
    if total == 0 || total >= max_population || n_events >= run.max_events {
        Some(if total == 0 {
            Status::Extinct
        } else if total >= max_population {
            Status::MaxPopulation
        } else {
            Status::MaxEvents
        })
    } else {
        None
    }
}
