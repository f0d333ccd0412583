//! The hot loop: runs of events under rates that stay constant between two things the general loop
//! of [`crate::ssa`] must see (a breakpoint, a record time, a cap, a cancellation check).
//!
//! It draws exactly what the general loop draws, in the same order (a waiting time, then a uniform
//! that picks the channel), and does the same arithmetic in the same order, so a trajectory is bit
//! for bit the same whichever loop fires its events; it only skips the per-event bookkeeping that
//! cannot apply here (recording, controller reactions, density dependence, progression,
//! observers). Every exit condition is one compare: the next event time against the nearest limit,
//! the population against `[1, cap)`, and an event budget that counts down to the next cap or
//! cancellation check. Models with up to six states keep their counts and weights in fixed-size
//! arrays (registers, few bounds checks); larger ones use the slices of [`Cells`].

use crate::model::{PhaseRates, Pick};
use crate::rng::{ReplicateRng, exp1, uniform};
use crate::ssa::{Cells, History, as_f64, last_positive};

/// Why a burst returned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BurstEnd {
    /// The next event was drawn at this time, at or after the limit; the draw stays pending.
    Limit(f64),
    /// The event budget ran out, or the population reached 0 or the cap: the caller checks which.
    Check,
}

/// Where a burst stops: the time limit, the event budget (>= 1) and the population cap (>= 1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub time: f64,
    pub budget: u64,
    pub max_population: u64,
}

/// Fire events of one constant-rate phase from `*t` until the next one would fall at or after
/// `limits.time`, `limits.budget` events have fired, or the total population leaves
/// `[1, limits.max_population)`. `pending`, if any, is a waiting time already drawn with these rates.
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn burst(
    cells: &mut Cells,
    rates: &PhaseRates,
    rng: &mut ReplicateRng,
    t: &mut f64,
    pending: Option<f64>,
    limits: Limits,
    history: &mut History<'_>,
) -> BurstEnd {
    debug_assert!(limits.budget >= 1 && limits.max_population >= 1);
    let (end, fired) = match cells.states().len() {
        1 => fixed::<2>(cells, rates, rng, t, pending, limits, history),
        2 => fixed::<3>(cells, rates, rng, t, pending, limits, history),
        3 => fixed::<4>(cells, rates, rng, t, pending, limits, history),
        4 => fixed::<5>(cells, rates, rng, t, pending, limits, history),
        5 => fixed::<6>(cells, rates, rng, t, pending, limits, history),
        6 => fixed::<7>(cells, rates, rng, t, pending, limits, history),
        _ => general(cells, rates, rng, t, pending, limits, history),
    };
    history.add_events(fired);
    end
}

/// The waiting time to the next event: `pending` if drawn already, else a fresh draw.
#[allow(clippy::inline_always)]
#[inline(always)]
fn next_time(pending: &mut Option<f64>, now: f64, a0: f64, rng: &mut ReplicateRng) -> f64 {
    match pending.take() {
        Some(t_next) => t_next,
        None if a0 > 0.0 => now + exp1(rng) / a0,
        None => f64::INFINITY,
    }
}

/// `total - 1 >= max_population - 1` (wrapping) holds at 0 and at the cap.
#[allow(clippy::inline_always)]
#[inline(always)]
fn must_check(total: u64, fired: u64, limits: &Limits) -> bool {
    total.wrapping_sub(1) >= limits.max_population - 1 || fired == limits.budget
}

/// Any number of states, on the slices of [`Cells`].
#[allow(clippy::inline_always)]
#[inline(always)]
fn general(
    cells: &mut Cells,
    rates: &PhaseRates,
    rng: &mut ReplicateRng,
    t: &mut f64,
    mut pending: Option<f64>,
    limits: Limits,
    history: &mut History<'_>,
) -> (BurstEnd, u64) {
    let mut fired: u64 = 0;
    let end = loop {
        let a0 = cells.a0();
        let t_next = next_time(&mut pending, *t, a0, rng);
        if t_next >= limits.time {
            break BurstEnd::Limit(t_next);
        }
        *t = t_next;
        let pick = *cells.select(rates, uniform(rng) * a0);
        cells.fire(&pick, rates);
        fired += 1;
        if pick.is_mutation {
            history.mutation(t_next);
        }
        if must_check(cells.total, fired, &limits) {
            break BurstEnd::Check;
        }
    };
    (end, fired)
}

/// `SLOTS - 1` states plus the sink slot, in arrays of fixed size. The same law, draws and
/// arithmetic as [`general`] (and as [`crate::ssa::select_channel`]).
#[inline(never)]
fn fixed<const SLOTS: usize>(
    cells: &mut Cells,
    rates: &PhaseRates,
    rng: &mut ReplicateRng,
    t: &mut f64,
    mut pending: Option<f64>,
    limits: Limits,
    history: &mut History<'_>,
) -> (BurstEnd, u64) {
    let n_states = SLOTS - 1;
    let (counts_slice, weight_slice, total_ref) = cells.slots_mut();
    let mut counts: [u64; SLOTS] = counts_slice.try_into().expect("SLOTS counts");
    let mut weight: [f64; SLOTS] = weight_slice.try_into().expect("SLOTS weights");
    let state_total: [f64; SLOTS] = rates.state_total[..]
        .try_into()
        .expect("SLOTS state totals");
    // Each state's picks, in the order `select_channel` scans them.
    let picks: [&[Pick]; SLOTS] = std::array::from_fn(|s| {
        if s < n_states {
            let (first, end) = rates.pick_range[s];
            &rates.pick[first..end]
        } else {
            &[]
        }
    });
    let mut total = *total_ref;
    let mut now = *t;
    // A copy the compiler can keep in registers.
    let mut local_rng = rng.clone();
    let mut fired: u64 = 0;
    // The pending draw, if any, serves the first event only: draw at the bottom of the loop.
    let mut a0: f64 = weight[..n_states].iter().sum();
    let mut t_next = next_time(&mut pending, now, a0, &mut local_rng);
    let end = loop {
        if t_next >= limits.time {
            break BurstEnd::Limit(t_next);
        }
        now = t_next;

        // Source state, then channel within it (see `select_channel`).
        let mut target = uniform(&mut local_rng) * a0;
        let mut state = n_states;
        for (s, &w) in weight[..n_states].iter().enumerate() {
            if target < w {
                state = s;
                break;
            }
            target -= w;
        }
        if state == n_states {
            state = last_positive(&weight[..n_states]);
        }
        let candidates = picks[state];
        let n = as_f64(counts[state]);
        let last = candidates.len() - 1;
        let mut k = 0;
        while k < last {
            let w = candidates[k].rate * n;
            if target < w {
                break;
            }
            target -= w;
            k += 1;
        }
        let pick = &candidates[k];

        // Pick indices are at most the sink slot (`Pick::new`), so they index these arrays.
        let (dec, inc) = (pick.dec.min(SLOTS - 1), pick.inc.min(SLOTS - 1));
        counts[dec] = counts[dec].wrapping_sub(1);
        counts[inc] = counts[inc].wrapping_add(1);
        total = total.wrapping_add_signed(pick.delta_total);
        weight[dec] = as_f64(counts[dec]) * state_total[dec];
        weight[inc] = as_f64(counts[inc]) * state_total[inc];
        fired += 1;
        if pick.is_mutation {
            history.mutation(now);
        }
        if must_check(total, fired, &limits) {
            break BurstEnd::Check;
        }
        a0 = weight[..n_states].iter().sum();
        t_next = next_time(&mut None, now, a0, &mut local_rng);
    };
    counts_slice.copy_from_slice(&counts);
    weight_slice.copy_from_slice(&weight);
    *total_ref = total;
    *t = now;
    *rng = local_rng;
    (end, fired)
}
