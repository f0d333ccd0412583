//! The hot loop: runs of events under rates that stay constant between two things the general
//! loops of [`crate::ssa`] and [`crate::thinning`] must see (a breakpoint or dose, a cap, a
//! cancellation check, a burden an adaptive rule reacts to). Record times in between are written
//! here, as the general loops write them.
//!
//! It draws exactly what the general loops draw, in the same order (a waiting time, a uniform that
//! picks the channel, and under thinning a uniform that accepts it), and does the same arithmetic
//! in the same order, so a trajectory is bit for bit the same whichever loop fires its events; it
//! is used only where the per-event bookkeeping it leaves out cannot apply (progression,
//! observers, density dependence, biomarkers). Every exit condition is a compare or two: the next
//! event time against the next breakpoint, the population against `[1, cap)`, an event budget
//! that counts down to the next cap or cancellation check, and (adaptive dosing) the monitored
//! burden against the band in which no rule can fire. Counts and weights live in fixed-size arrays (registers, few bounds checks),
//! so models with more than [`MAX_STATES`] states use the general loops only.

use crate::adaptive::monitored_burden;
use crate::controller::BurdenBand;
use crate::model::{PhaseRates, Pick};
use crate::record::{Drug, Recorder};
use crate::rng::{ReplicateRng, uniform};
use crate::run::RunConfig;
use crate::ssa::{
    CANCEL_CHECK_EVERY, Cells, History, as_f64, next_event_time, scan_picks, select_state,
};

/// Largest number of states the hot loop handles.
pub(crate) const MAX_STATES: usize = 6;

/// Why a burst returned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BurstEnd {
    /// The next candidate was drawn at this time, at or after the limit; the draw stays pending.
    Limit(f64),
    /// The event budget ran out, the population reached 0 or the cap, or the watched burden left
    /// its band: the caller checks which.
    Check,
}

/// Where a burst stops: the time limit (the next breakpoint, dose or `t_end`), the event budget
/// (>= 1) and the population cap (>= 1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub time: f64,
    pub budget: u64,
    pub max_population: u64,
}

impl Limits {
    /// Up to `time`, and as many events as may fire before the `max_events` cap or the next
    /// cancellation check, whichever comes first, after `n_events` (below the cap).
    pub fn new(time: f64, n_events: u64, run: &RunConfig, max_population: u64) -> Self {
        let to_check = CANCEL_CHECK_EVERY - n_events % CANCEL_CHECK_EVERY;
        Self {
            time,
            budget: (run.max_events - n_events).min(to_check),
            max_population,
        }
    }
}

/// What the hot loop watches after each event besides time, caps and budget.
pub(crate) trait Watch {
    /// False when the caller must look at the state after this event.
    fn quiet(&self, states: &[u64]) -> bool;
}

/// Nothing to watch (fixed schedules, pharmacokinetic dosing).
pub(crate) struct Unwatched;

impl Watch for Unwatched {
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn quiet(&self, _: &[u64]) -> bool {
        true
    }
}

impl Watch for BurdenBand<'_> {
    #[inline]
    fn quiet(&self, states: &[u64]) -> bool {
        let burden = monitored_burden(self.weights, states);
        self.low < burden && burden < self.high
    }
}

/// The record grid and what is in force for it (exposure, concentration): record times between
/// candidates are written inside the loop, as the general loops write them.
pub(crate) struct Records<'a, 'r, D> {
    pub recorder: &'a mut Recorder<'r>,
    pub drug: &'a D,
}

/// Whether a candidate event happens: always under piecewise-constant rates; with probability
/// `rate(t) / bound` under thinning.
pub(crate) trait Accept {
    fn accept(&self, pick: &Pick, t: f64, rng: &mut ReplicateRng) -> bool;
}

/// Every candidate is an event.
pub(crate) struct Always;

impl Accept for Always {
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn accept(&self, _: &Pick, _: f64, _: &mut ReplicateRng) -> bool {
        true
    }
}

/// Fire events of one constant-rate (or constant-bound) phase from `*t`, writing the record times
/// they pass, until the next candidate would fall at or after `limits.time`, `limits.budget` events have fired, the total population
/// leaves `[1, limits.max_population)`, or `watch` is no longer quiet. `pending`, if any, is a
/// waiting time already drawn with these rates. The model has at most [`MAX_STATES`] states.
#[allow(clippy::too_many_arguments)]
pub(crate) fn burst(
    cells: &mut Cells,
    rates: &PhaseRates,
    rng: &mut ReplicateRng,
    t: &mut f64,
    pending: Option<f64>,
    limits: Limits,
    history: &mut History<'_>,
    records: &mut Records<'_, '_, impl Drug>,
    watch: &impl Watch,
    accept: &impl Accept,
) -> BurstEnd {
    debug_assert!(limits.budget >= 1 && limits.max_population >= 1);
    match cells.states().len() {
        1 => fixed::<1, 2>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept,
        ),
        2 => fixed::<2, 4>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept,
        ),
        3 => fixed::<3, 4>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept,
        ),
        4 => fixed::<4, 8>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept,
        ),
        5 => fixed::<5, 8>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept,
        ),
        6 => fixed::<6, 8>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept,
        ),
        n => unreachable!("the hot loop takes at most {MAX_STATES} states, got {n}"),
    }
}

/// `N` states plus the sink slot, in arrays of a fixed power-of-two size `P > N` (so that masking
/// an index proves it in bounds), padded with empty slots. The same law, draws and
/// arithmetic as the general loops (see [`crate::ssa::select_channel`]).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn fixed<const N: usize, const P: usize>(
    cells: &mut Cells,
    rates: &PhaseRates,
    rng: &mut ReplicateRng,
    t: &mut f64,
    pending: Option<f64>,
    limits: Limits,
    history: &mut History<'_>,
    records: &mut Records<'_, '_, impl Drug>,
    watch: &impl Watch,
    accept: &impl Accept,
) -> BurstEnd {
    let n_states = N;
    let (counts_slice, weight_slice, total_ref) = cells.slots_mut();
    let (mut counts, mut weight, mut state_total) = ([0_u64; P], [0.0_f64; P], [0.0_f64; P]);
    counts[..=N].copy_from_slice(counts_slice);
    weight[..=N].copy_from_slice(weight_slice);
    state_total[..=N].copy_from_slice(&rates.state_total);
    // Each state's picks, in the order `select_channel` scans them, split as `select_pick` splits
    // them (a state without picks has no weight and is never selected).
    let choices: [(&[Pick], &Pick); N] = std::array::from_fn(|s| {
        let (first, end) = rates.pick_range[s];
        match rates.pick[first..end].split_last() {
            Some((last, scanned)) => (scanned, last),
            None => (&[][..], &Pick::NONE),
        }
    });
    let mut total = *total_ref;
    let mut now = *t;
    // A copy the compiler can keep in registers.
    let mut local_rng = rng.clone();
    // Events left before the budget runs out.
    let mut left = limits.budget;
    // The pending draw, if any, serves the first candidate only: draw at the bottom of the loop.
    let mut a0: f64 = weight[..n_states].iter().sum();
    let mut t_next = next_event_time(pending, now, a0, &mut local_rng);
    let mut limit = limits.time.min(records.recorder.next_time());
    let end = loop {
        if t_next >= limit {
            if t_next >= limits.time {
                break BurstEnd::Limit(t_next);
            }
            // Record times before this candidate see the state before it.
            records
                .recorder
                .record_before(t_next, &counts[..N], records.drug);
            limit = limits.time.min(records.recorder.next_time());
        }
        now = t_next;

        // Source state, then channel within it (see `select_channel`).
        let mut target = uniform(&mut local_rng) * a0;
        let state = select_state(&weight[..n_states], &mut target);
        let (scanned, last) = choices[state];
        let pick = scan_picks(scanned, last, as_f64(counts[state]), target);

        if accept.accept(pick, now, &mut local_rng) {
            // Pick indices are at most the sink slot `N < P` (`Pick::new`): the mask keeps them.
            debug_assert!(pick.dec <= N && pick.inc <= N);
            let (dec, inc) = (pick.dec & (P - 1), pick.inc & (P - 1));
            counts[dec] = counts[dec].wrapping_sub(1);
            counts[inc] = counts[inc].wrapping_add(1);
            total = total.wrapping_add_signed(i64::from(pick.delta_total));
            weight[dec] = as_f64(counts[dec]) * state_total[dec];
            weight[inc] = as_f64(counts[inc]) * state_total[inc];
            left -= 1;
            if pick.is_mutation {
                history.mutation(now);
            }
            // `total - 1 >= max_population - 1` (wrapping) holds at 0 and at the cap.
            if total.wrapping_sub(1) >= limits.max_population - 1
                || left == 0
                || !watch.quiet(&counts[..n_states])
            {
                break BurstEnd::Check;
            }
            a0 = weight[..n_states].iter().sum();
        }
        t_next = next_event_time(None, now, a0, &mut local_rng);
    };
    counts_slice.copy_from_slice(&counts[..=N]);
    weight_slice.copy_from_slice(&weight[..=N]);
    *total_ref = total;
    *t = now;
    *rng = local_rng;
    history.add_events(limits.budget - left);
    end
}
