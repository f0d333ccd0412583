//! The hot loop: runs of events under rates that stay constant between two things the general
//! event loop (`event_loop`) must see (a breakpoint or dose, a cap, a cancellation check, a
//! burden an adaptive rule reacts to). Record times in between are written here, as the general
//! loop writes them.
//!
//! It draws exactly what the general loop draws, in the same order (a waiting time, a uniform that
//! picks the channel, and under thinning a uniform that the controller's acceptance test takes),
//! and does the same arithmetic in the same order, so a trajectory is bit for bit the same
//! whichever loop fires its events; it is used only where the per-event bookkeeping it leaves out
//! cannot apply (progression, observers, density dependence, biomarkers). Every exit condition is
//! a compare or two: the next event time against the next breakpoint, the population against
//! `[1, cap)`, an event budget that counts down to the next cap or cancellation check, and
//! (adaptive dosing) the monitored burden against the band in which no rule can fire.
//!
//! What makes it fast is latency, not instruction count: the channel that fires is random, so
//! selection branches mispredict, and each misprediction waits for the chain from the last
//! event's counts through the weights and `a0` to the next selection. That chain stays in
//! registers: counts are kept as exact floats in arrays of a fixed size (so models with more than
//! [`MAX_STATES`] states, or [`EXACT_COUNT`] cells or more, use the general loop), and the inner
//! loop makes no call, which would clobber every float register (record times and the
//! ziggurat's rare slow path are handled in an outer loop).

use crate::controller::{Accept, BurdenBand};
use crate::model::{PhaseRates, Pick, weighted_sum};
use crate::record::{Drug, Recorder};
use crate::rng::{ExpMiss, ReplicateRng, exp1_after_miss, exp1_first_try, uniform};
use crate::run::RunConfig;
use crate::ssa::{CANCEL_CHECK_EVERY, Cells, History, as_f64, next_event_time, scan_picks};

/// Largest number of states the hot loop handles.
pub(crate) const MAX_STATES: usize = 6;

/// The hot loop keeps counts as floats, exact while the total population stays below this
/// (2^52, with room for a burst's events); larger populations use the general loop.
pub(crate) const EXACT_COUNT: u64 = 1 << 52;

/// Whether the hot loop can take these cells now: at most [`MAX_STATES`] states and a total
/// below [`EXACT_COUNT`].
#[inline]
pub(crate) fn fits(cells: &Cells) -> bool {
    cells.states().len() <= MAX_STATES && cells.total < EXACT_COUNT
}

/// Why the hot loop's inner loop returned to its outer loop.
enum Inner {
    /// The next candidate is at or after the limit (a record time, or the burst's limit).
    Passed,
    /// The caller must look at the state: [`BurstEnd::Check`].
    Check,
    /// The ziggurat's first try for the next waiting time missed.
    Missed(ExpMiss),
}

/// Why a burst returned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BurstEnd {
    /// The next candidate was drawn at this time, at or after the limit; the draw stays pending.
    Limit(f64),
    /// The event budget ran out, the population reached 0 or the cap, the watched burden left
    /// its band, the total rate overflowed, or (thinning) [`CANCEL_CHECK_EVERY`] candidates in a
    /// row were rejected: the caller checks which.
    Check,
    /// The total rate is not a finite number (overflow): nothing fired, and the caller's general
    /// loop stops the replicate.
    Overflow,
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
    /// False when the caller must look at the state after this event (`counts` as exact
    /// floats, as the hot loop keeps them).
    fn quiet(&self, counts: &[f64]) -> bool;
}

/// Nothing to watch (fixed schedules, pharmacokinetic dosing).
pub(crate) struct Unwatched;

impl Watch for Unwatched {
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn quiet(&self, _: &[f64]) -> bool {
        true
    }
}

impl Watch for BurdenBand<'_> {
    #[inline]
    fn quiet(&self, counts: &[f64]) -> bool {
        let burden = weighted_sum(self.weights, counts.iter().copied());
        self.low < burden && burden < self.high
    }
}

/// Where the hot loop writes the `(time, channel)` of each event it fires, so that an observer
/// that needs nothing else (`Observer::REPLAYABLE`) can see the events after the burst, in order,
/// instead of keeping the hot loop off. A compile-time choice: with [`NoLog`] the hot loop is the
/// same code as without a log, so untracked runs are unchanged.
pub(crate) trait EventLog {
    /// Whether events are written at all.
    const ON: bool;
    /// The most events one burst may write: the burst's budget is cut to it.
    fn capacity(&self) -> u64;
    /// Write the `index`-th event of the burst (0-based, `index < capacity`).
    fn write(&mut self, index: usize, time: f64, channel: u32);
    /// The burst wrote `len` events.
    fn set_len(&mut self, len: usize);
}

/// No log (runs without a replayed observer).
pub(crate) struct NoLog;

impl EventLog for NoLog {
    const ON: bool = false;
    fn capacity(&self) -> u64 {
        u64::MAX
    }
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn write(&mut self, _: usize, _: f64, _: u32) {}
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn set_len(&mut self, _: usize) {}
}

/// The events of the last burst, in firing order, in buffers allocated once per replicate: the
/// hot loop writes into them without a call (a growing vector could reallocate).
pub(crate) struct EventBuffer {
    times: Vec<f64>,
    channels: Vec<u32>,
    len: usize,
}

impl EventBuffer {
    /// Room for `capacity` events per burst.
    pub fn new(capacity: usize) -> Self {
        Self {
            times: vec![0.0; capacity],
            channels: vec![0; capacity],
            len: 0,
        }
    }

    /// The times and the channels of the events of the last burst, in order.
    pub fn slices(&self) -> (&[f64], &[u32]) {
        (&self.times[..self.len], &self.channels[..self.len])
    }

    /// Room for `len` events (at most the capacity), to be written in order, as the last
    /// burst's.
    pub fn filled(&mut self, len: usize) -> (&mut [f64], &mut [u32]) {
        self.len = len;
        (&mut self.times[..len], &mut self.channels[..len])
    }

    /// The `(time, channel)` of each event of the last burst, in order.
    pub fn events(&self) -> impl Iterator<Item = (f64, u32)> + '_ {
        self.times[..self.len]
            .iter()
            .copied()
            .zip(self.channels[..self.len].iter().copied())
    }
}

impl EventLog for EventBuffer {
    const ON: bool = true;
    fn capacity(&self) -> u64 {
        self.times.len() as u64
    }
    #[inline]
    fn write(&mut self, index: usize, time: f64, channel: u32) {
        self.times[index] = time;
        self.channels[index] = channel;
    }
    fn set_len(&mut self, len: usize) {
        self.len = len;
    }
}

/// The record grid and what is in force for it (exposure, concentration): record times between
/// candidates are written inside the loop, as the general loop writes them.
pub(crate) struct Records<'a, 'r, D> {
    pub recorder: &'a mut Recorder<'r>,
    pub drug: &'a D,
}

/// Fire events of one constant-rate (or constant-bound) phase from `*t`, writing the record times
/// they pass, until the next candidate would fall at or after `limits.time`, `limits.budget`
/// events have fired, the total population leaves `[1, limits.max_population)`, or `watch` is no
/// longer quiet. `pending`, if any, is a waiting time already drawn with these rates. The cells
/// must fit the hot loop ([`fits`]). Each event fired is written to `log` (at most its capacity:
/// the budget is cut to it).
#[allow(clippy::too_many_arguments)]
pub(crate) fn burst<L: EventLog>(
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
    log: &mut L,
) -> BurstEnd {
    let mut limits = limits;
    if L::ON {
        limits.budget = limits.budget.min(log.capacity());
    }
    // Nothing written yet (a burst may return before its first event).
    log.set_len(0);
    debug_assert!(limits.budget >= 1 && limits.max_population >= 1);
    match cells.states().len() {
        1 => fixed::<1, 2>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept, log,
        ),
        2 => fixed::<2, 4>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept, log,
        ),
        3 => fixed::<3, 4>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept, log,
        ),
        4 => fixed::<4, 8>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept, log,
        ),
        5 => fixed::<5, 8>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept, log,
        ),
        6 => fixed::<6, 8>(
            cells, rates, rng, t, pending, limits, history, records, watch, accept, log,
        ),
        n => unreachable!("the hot loop takes at most {MAX_STATES} states, got {n}"),
    }
}

/// `N` states in arrays of size `N` that the compiler keeps in (vector) registers: counts as
/// floats, exact below [`EXACT_COUNT`] (the caller's guarantee), so that an event's effect
/// reaches the weights, `a0` and the next selection without a trip through memory or an integer
/// conversion; that chain is what a mispredicted selection branch waits for. A pick moves the
/// counts by the difference of two rows of a unit table (rows `N..P`, the sink and padding, are
/// zero; masking an index with `P - 1` proves it in bounds). The same law, draws and arithmetic as
/// the general loop (see [`crate::ssa::select_channel`]): `as_f64(n)` is the float count.
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
    log: &mut impl EventLog,
) -> BurstEnd {
    let (counts_slice, weight_slice, total_ref) = cells.slots_mut();
    debug_assert!(*total_ref < EXACT_COUNT);
    let mut count: [f64; N] = std::array::from_fn(|s| as_f64(counts_slice[s]));
    let mut weight: [f64; N] = std::array::from_fn(|s| weight_slice[s]);
    let state_total: [f64; N] = std::array::from_fn(|s| rates.state_total[s]);
    let unit: [[f64; N]; P] =
        std::array::from_fn(|row| std::array::from_fn(|s| if row == s { 1.0 } else { 0.0 }));
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
    // Candidates rejected since the last event (thinning): they are not events, but the caller
    // must still look at the cancellation flag now and then.
    let mut rejected: u64 = 0;
    // The pending draw, if any, serves the first candidate only: draw at the bottom of the loop.
    let mut a0: f64 = weight.iter().sum();
    if !a0.is_finite() {
        return BurstEnd::Overflow;
    }
    let mut t_next = next_event_time(pending, now, a0, &mut local_rng);
    // The inner loop makes no call, so that its floats stay in registers: record times, and the
    // ziggurat's rare slow path (which calls `exp` or `ln`), are left to the outer loop.
    let end = loop {
        // A record time equal to an event time sees the state after the event (`Recorder`): a
        // candidate exactly at the next record time fires here, and only a later one stops the
        // inner loop to write it (otherwise the outer loop would find nothing to write, forever).
        let limit = limits.time.min(just_after(records.recorder.next_time()));
        let inner = loop {
            if t_next >= limit {
                break Inner::Passed;
            }
            now = t_next;

            // Source state, then channel within it (see `select_channel`).
            let mut target = uniform(&mut local_rng) * a0;
            let (state, n) = select_state_count(&weight, &count, &mut target);
            let (scanned, last) = choices[state];
            let pick = scan_picks(scanned, last, n, target);

            if accept.accept(pick, now, &mut local_rng) {
                // Pick indices are at most the sink slot `N < P` (`Pick::new`): the mask keeps
                // them.
                debug_assert!(pick.dec <= N && pick.inc <= N);
                let (up, down) = (&unit[pick.inc & (P - 1)], &unit[pick.dec & (P - 1)]);
                for s in 0..N {
                    count[s] += up[s] - down[s];
                    weight[s] = count[s] * state_total[s];
                }
                total = total.wrapping_add_signed(i64::from(pick.delta_total));
                // A store, not a call: the floats stay in registers.
                log.write((limits.budget - left) as usize, now, pick.channel);
                left -= 1;
                if pick.is_mutation {
                    history.mutation(now);
                }
                a0 = weight.iter().sum();
                // `total - 1 >= max_population - 1` (wrapping) holds at 0 and at the cap; a total
                // rate that overflowed stops the replicate (the caller sees it).
                if total.wrapping_sub(1) >= limits.max_population - 1
                    || left == 0
                    || !a0.is_finite()
                    || !watch.quiet(&count)
                {
                    break Inner::Check;
                }
                rejected = 0;
            } else {
                rejected += 1;
                if rejected == CANCEL_CHECK_EVERY {
                    break Inner::Check;
                }
            }
            // The next waiting time, as `next_event_time` draws it.
            if a0 > 0.0 {
                match exp1_first_try(&mut local_rng) {
                    Ok(e) => t_next = now + e / a0,
                    Err(miss) => break Inner::Missed(miss),
                }
            } else {
                t_next = f64::INFINITY;
            }
        };
        match inner {
            Inner::Check => break BurstEnd::Check,
            Inner::Missed(miss) => t_next = now + exp1_after_miss(miss, &mut local_rng) / a0,
            Inner::Passed if t_next >= limits.time => break BurstEnd::Limit(t_next),
            Inner::Passed => {
                // Record times before this candidate see the state before it.
                let states: [u64; N] = std::array::from_fn(|s| count[s] as u64);
                records
                    .recorder
                    .record_before(t_next, &states, records.drug);
            }
        }
    };
    for s in 0..N {
        counts_slice[s] = count[s] as u64;
        weight_slice[s] = weight[s];
    }
    *total_ref = total;
    *t = now;
    *rng = local_rng;
    history.add_events(limits.budget - left);
    log.set_len((limits.budget - left) as usize);
    end
}

/// The smallest float above a time `t >= 0` (infinity stays infinity).
#[inline]
pub(crate) fn just_after(t: f64) -> f64 {
    if t == 0.0 {
        f64::from_bits(1) // also after -0.0
    } else if t.is_finite() {
        f64::from_bits(t.to_bits() + 1)
    } else {
        t
    }
}

/// [`select_state`](crate::ssa::select_state) on arrays the compiler keeps in registers (every
/// index a constant once unrolled), returning the state's count too.
#[allow(clippy::inline_always)]
#[inline(always)]
fn select_state_count<const N: usize>(
    weight: &[f64; N],
    count: &[f64; N],
    target: &mut f64,
) -> (usize, f64) {
    for s in 0..N {
        if *target < weight[s] {
            return (s, count[s]);
        }
        *target -= weight[s];
    }
    // Rounding left the target at or above the total: the last state with positive weight, as
    // `last_positive` (there is one, since the total is positive).
    for s in (0..N).rev() {
        if weight[s] > 0.0 {
            return (s, count[s]);
        }
    }
    (0, count[0])
}
