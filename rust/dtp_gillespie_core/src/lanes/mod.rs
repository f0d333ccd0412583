//! Replicates in SIMD lanes: `W` replicates of an ensemble advance in lockstep, one event per lane
//! per iteration, each lane drawing from its own replicate's generator, and every replicate
//! follows exactly the trajectory the scalar loop gives it, bit for bit.
//!
//! The vector loop (`avx512`) is the hot loop's inner loop (`burst`) for `W` lanes: the same
//! draws (a uniform that picks the channel, the ziggurat's first try for the waiting time), the
//! same selection (state by cumulative weight, then the state's picks, highest rate first, the
//! last taking the rest) and the same float arithmetic in the same order. What the hot loop's
//! outer loop does between events it does too, without leaving: a lane whose next candidate
//! passes record times writes its counts there (into its recorder's rows, `Recorder::counts_only`;
//! the recorder writes the exposures when the lane hands the rows back), and a lane whose
//! ziggurat first try missed finishes the draw in the loop too (the wedge test decided by bounds
//! on the density, a rejected try drawn afresh), out of line only in rare cases (`finish_miss`,
//! `finish_wedge`, on its own generator). Everything else is scalar code the engine shares:
//! a lane that needs attention (its next candidate passes the burst's limit, the population
//! reached 0 or the cap, the event budget ran out, the rates overflowed, the monitored burden
//! left its quiet band) leaves the vector loop, its state is written back to its replicate, and
//! the event loop itself (`event_loop::EventLoop::advance`, the one the scalar path runs) goes on
//! until the next burst, which the lane takes up again. A lane whose replicate stopped takes the
//! next replicate from the call's queue (`Queue`, shared by one set of lanes per thread); when
//! none is left, the lanes still running finish on the scalar path, starting with the scalar hot
//! loop from the pending candidate (a burst's remaining events are the same whichever loop fires
//! them).
//!
//! The lanes take ensembles under fixed schedules and adaptive rules without progression,
//! density dependence or a biomarker, with at most [`MAX_STATES`] states and [`MAX_PICKS`]
//! channels per state (`lane_dosing`), untracked or tracking lineages from founders or a
//! library (each lane's tracker is shown the lane's events from an event log: `tracked`);
//! everything else runs on the scalar path. An adaptive rule's quiet band
//! (`Controller::quiet_band`) is watched in the vector loop: a lane whose monitored burden
//! leaves it leaves the loop, as the scalar hot loop returns, and the event loop lets the
//! controller react. The instruction set is chosen at run time
//! ([`Lanes`]): one portable build, no `-C target-cpu`. Pharmacokinetic dosing stays scalar (its
//! thinning calls `exp`).

#[cfg(target_arch = "x86_64")]
mod avx512;
mod tracked;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use rand::SeedableRng;

use crate::adaptive::{AdaptiveController, AdaptiveSpec};
use crate::burst::{BurstEnd, Limits, just_after};
use crate::controller::{Controller, FixedController};
use crate::dosing::{Dosing, DosingKind};
use crate::error::{EngineError, Result};
use crate::event_loop::{EventLoop, Next, Parts, Resume};
use crate::lineage::{LineageOutput, LineageTracker};
use crate::model::{Model, Pick};
use crate::record::{Exposure, Recorder};
use crate::rng::{ExpMiss, ReplicateRng, exp1_after_miss, exp1_after_wedge, replicate_streams};
use crate::run::RunConfig;
use crate::schedule::Schedule;
use crate::ssa::{NoObserver, Outcome, as_f64, next_event_time};
use tracked::{CHANNEL_SHIFT, LaneLog, LaneObserver};

/// Replicates per set of lanes (per thread) from which a set runs 16 lanes (two groups of 8)
/// rather than 8: below it, the replicates still in the lanes when the queue runs dry, which
/// finish on the scalar path, weigh more than the wider loop gains.
const WIDE_FROM: usize = 128;

/// Lanes of a set that runs a tracked ensemble (one group of 8, see `run_jobs`), each holding
/// its replicate's lineage tracker.
pub(crate) const TRACKED_LANES: usize = 8;

/// Largest number of states the lanes take.
pub const MAX_STATES: usize = 4;

/// Largest number of channels of one state the lanes take (the last pick takes the rest of the
/// selection target, so `MAX_PICKS - 1` rates are scanned).
pub const MAX_PICKS: usize = 4;

/// Rates scanned per state.
const SCANNED: usize = MAX_PICKS - 1;

/// What the lanes did in one call: how often lanes left the vector loop and why, for tests and
/// benchmarks (the output does not depend on it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LaneStats {
    /// Events fired in the lanes.
    pub events: u64,
    /// Iterations of the vector loop (each fires one event in every lane).
    pub iterations: u64,
    /// Iterations after which at least one lane left the vector loop.
    pub exits: u64,
    /// Lanes that left because the burst stopped (0 or the cap, budget, overflow, quiet band).
    pub check_exits: u64,
    /// Ziggurat first tries that missed, finished from the vector loop.
    pub misses_in_loop: u64,
    /// Of those, the draws finished out of line (the base layer's tail, a wedge test too close
    /// to call by the loop's bounds, or more than a few rejections in a row).
    pub misses_out_of_line: u64,
    /// Lanes that left because their candidate passed a record time (before the burst's limit).
    pub record_exits: u64,
    /// Lanes that left because their candidate passed the burst's limit.
    pub limit_exits: u64,
    /// Record times written in the vector loop.
    pub records_in_loop: u64,
    /// Sets of lanes (one per thread) run 8 lanes wide.
    pub narrow_sets: u64,
    /// Sets of lanes run 16 lanes wide (two groups of 8).
    pub wide_sets: u64,
}

impl LaneStats {
    fn add(&mut self, other: &Self) {
        self.events += other.events;
        self.iterations += other.iterations;
        self.exits += other.exits;
        self.check_exits += other.check_exits;
        self.misses_in_loop += other.misses_in_loop;
        self.misses_out_of_line += other.misses_out_of_line;
        self.record_exits += other.record_exits;
        self.limit_exits += other.limit_exits;
        self.records_in_loop += other.records_in_loop;
        self.narrow_sets += other.narrow_sets;
        self.wide_sets += other.wide_sets;
    }
}

/// Which SIMD lanes an ensemble may use. The output is the same whichever runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lanes {
    /// The widest instruction set this CPU has that pays (AVX-512), the scalar loop otherwise.
    Detect,
    /// The scalar loop only.
    Scalar,
    /// AVX-512: 16 lanes per thread (two groups of 8) where each thread has at least 128
    /// replicates and the run tracks no lineages, 8 otherwise; an error on a CPU without it.
    Avx512,
    /// AVX-512 in 8 lanes per thread, however many replicates (for tests and measurements).
    Avx512Narrow,
    /// AVX-512 in 16 lanes per thread, however few replicates (for tests and measurements).
    Avx512Wide,
}

impl Lanes {
    /// Whether this CPU runs AVX-512 lanes (AVX-512 F and DQ).
    #[must_use]
    pub fn avx512_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

/// The dosing of a run the lanes take: each replicate's controller is built from it.
#[derive(Clone, Copy)]
pub(crate) enum LaneDosing<'d> {
    Fixed(&'d Schedule),
    /// An adaptive rule that watches a burden of cells (the model has no biomarker).
    Adaptive(&'d AdaptiveSpec),
}

/// The dosing of a run the lanes take (see the module docs), if they take it.
pub(crate) fn lane_dosing<'d>(
    model: &Model,
    dosing: &'d Dosing,
    run: &RunConfig,
) -> Option<LaneDosing<'d>> {
    let kind = match &dosing.kind {
        DosingKind::Fixed(schedule) => LaneDosing::Fixed(schedule),
        // Without a biomarker, the controller `ensemble::simulate_one` builds.
        DosingKind::Adaptive(spec) => LaneDosing::Adaptive(spec),
        DosingKind::Pk(_) => return None,
    };
    let fits = model.n_states() <= MAX_STATES
        && (0..model.n_states()).all(|s| {
            let (first, end) = model.channels_of(s);
            end - first <= MAX_PICKS
        });
    let plain = model.biomarker().is_none()
        && !model.density_dependent()
        && run.progression.is_none()
        && !run.force_general_loop
        // Lineage trackers see each lane's events after the fact (`tracked`).
        && tracked::lanes_track(run);
    (fits && plain).then_some(kind)
}

/// The lane kernel for this run under `choice`, if any: `None` runs the scalar loop.
pub(crate) fn kernel_for(
    choice: Lanes,
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
) -> Result<Option<Kernel>> {
    let width = match choice {
        Lanes::Scalar => return Ok(None),
        Lanes::Detect | Lanes::Avx512 => Width::ByReplicates,
        Lanes::Avx512Narrow => Width::Narrow,
        Lanes::Avx512Wide => Width::Wide,
    };
    if !Lanes::avx512_available() {
        return if choice == Lanes::Detect {
            Ok(None)
        } else {
            Err(EngineError::InvalidRun(format!(
                "lanes = {choice:?}, but this CPU has no AVX-512 (F and DQ)"
            )))
        };
    }
    Ok(lane_dosing(model, dosing, run)
        .is_some()
        .then_some(Kernel::Avx512(width)))
}

/// How many lanes a set of AVX-512 lanes runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Width {
    /// 16 where each set has at least [`WIDE_FROM`] replicates and the run tracks no lineages,
    /// else 8.
    ByReplicates,
    /// 8.
    Narrow,
    /// 16.
    Wide,
}

/// A vector loop this CPU can run.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kernel {
    Avx512(Width),
}

/// What every replicate of a call shares.
pub(crate) struct Shared<'a> {
    pub model: &'a Model,
    pub dosing: LaneDosing<'a>,
    pub treating: &'a [bool],
    pub run: &'a RunConfig,
    pub seed_key: &'a [u8; 32],
    pub cancel: &'a AtomicBool,
    pub done: &'a AtomicU64,
}

/// One replicate to run: its place in the call, its global index, its recorder and where its
/// outcome (and its lineage tables, when tracked) go.
pub(crate) struct Job<'a> {
    pub i: usize,
    pub index: u64,
    pub recorder: Recorder<'a>,
    pub outcome: &'a mut Outcome,
    pub lineages: &'a mut Option<Box<LineageOutput>>,
}

/// The replicates of a call that no lane has taken yet, shared by the lanes of every thread, so
/// that no thread idles while another has more than a batch of replicates left. Which lane or
/// thread runs a replicate does not change its result: that depends on its index only.
pub(crate) struct Queue<'a> {
    /// Taken lazily, so that the threads that run the replicates also set up their outputs
    /// (`Slots::jobs`).
    jobs: Mutex<Box<dyn ExactSizeIterator<Item = Job<'a>> + Send + 'a>>,
    /// How many sets of lanes take from the queue.
    sets: usize,
}

/// The most replicates a set of lanes takes from the queue at once.
const MAX_BATCH: usize = 32;

/// A set of lanes takes at most this share of the replicates left per set: the batches shrink as
/// the queue runs dry, so that the batch a set still holds when the others are idle is small.
const BATCH_SHARE: usize = 8;

impl<'a> Queue<'a> {
    fn new(jobs: impl ExactSizeIterator<Item = Job<'a>> + Send + 'a, sets: usize) -> Self {
        Self {
            jobs: Mutex::new(Box::new(jobs)),
            sets: sets.max(1),
        }
    }

    /// The next few replicates, consecutive, none if the queue is empty. A batch, not one at a
    /// time: sets of lanes on other threads would otherwise contend for the lock at every
    /// replicate, and write the cache lines at the edges of each other's rows of output. Taking
    /// a job clears its rows and makes its recorder (`Slots::jobs`), under the lock: about 50 KB
    /// of writes for a batch of case (c), small beside the batch's run.
    fn take_batch(&self) -> std::vec::IntoIter<Job<'a>> {
        // Nothing that takes a job can fail: the lock is not poisoned with jobs half taken.
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let size = (jobs.len() / (self.sets * BATCH_SHARE)).clamp(1, MAX_BATCH);
        jobs.by_ref().take(size).collect::<Vec<_>>().into_iter()
    }
}

/// One set of lanes' share of the queue: the batch it took, and the replicates it finished that
/// `done` does not count yet (counted when it takes the next batch, and when it is dropped, also
/// after an error), so that the sets do not contend for `done` at every replicate.
pub(crate) struct Taker<'a, 's> {
    queue: &'s Queue<'a>,
    batch: std::vec::IntoIter<Job<'a>>,
    done: &'a AtomicU64,
    finished: u64,
}

impl<'a, 's> Taker<'a, 's> {
    fn new(queue: &'s Queue<'a>, done: &'a AtomicU64) -> Self {
        Self {
            queue,
            batch: Vec::new().into_iter(),
            done,
            finished: 0,
        }
    }

    /// The next replicate, if any is left.
    fn take(&mut self) -> Option<Job<'a>> {
        if let Some(job) = self.batch.next() {
            return Some(job);
        }
        self.count_finished();
        self.batch = self.queue.take_batch();
        self.batch.next()
    }

    /// A replicate is finished.
    fn finished(&mut self) {
        self.finished += 1;
    }

    /// Add the replicates finished so far to `done`.
    fn count_finished(&mut self) {
        if self.finished > 0 {
            self.done.fetch_add(self.finished, Ordering::Relaxed);
            self.finished = 0;
        }
    }
}

impl Drop for Taker<'_, '_> {
    fn drop(&mut self) {
        self.count_finished();
    }
}

/// Run `jobs` in one set of lanes per thread of the current rayon pool if `parallel` (one set
/// otherwise), every set taking replicates from one queue; returns what the lanes did.
pub(crate) fn run_jobs<'a>(
    kernel: Kernel,
    shared: &Shared<'a>,
    jobs: impl ExactSizeIterator<Item = Job<'a>> + Send + 'a,
    parallel: bool,
) -> Result<LaneStats> {
    use rayon::prelude::*;
    // Two groups of 8 lanes per set where each set has enough replicates that the lanes left
    // busy when the queue runs dry (finished on the scalar path) cost less than the wider
    // loop gains; one group otherwise, and for tracked runs, whose pace the trackers set (16
    // lanes measured no faster) and each of whose lanes holds a tracker in memory.
    let sets = if parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    let Kernel::Avx512(width) = kernel;
    let wide = match width {
        Width::ByReplicates => shared.run.lineages.is_none() && jobs.len() >= WIDE_FROM * sets,
        Width::Narrow => false,
        Width::Wide => true,
    };
    let queue = Queue::new(jobs, sets);
    let run = |_| run_block(kernel, shared, &queue, wide);
    if parallel {
        (0..rayon::current_num_threads())
            .into_par_iter()
            .map(run)
            .try_reduce(LaneStats::default, |mut a, b| {
                a.add(&b);
                Ok(a)
            })
    } else {
        run(0)
    }
}

/// Run one set of lanes, taking replicates from `queue`, under the run's kind of controller.
fn run_block<'a>(
    kernel: Kernel,
    shared: &Shared<'a>,
    queue: &Queue<'a>,
    wide: bool,
) -> Result<LaneStats> {
    match shared.dosing {
        LaneDosing::Fixed(schedule) => run_block_under(kernel, shared, queue, wide, &|| {
            FixedController::new(schedule)
        }),
        LaneDosing::Adaptive(spec) => {
            let (treating, initial) = (shared.treating, &shared.run.initial);
            let start = || AdaptiveController::new(spec, treating, initial);
            run_block_under(kernel, shared, queue, wide, &start)
        }
    }
}

/// Run one set of lanes on `kernel`, each replicate under a controller from `start`, and
/// tracked if the run tracks lineages.
fn run_block_under<'a, C: Controller>(
    kernel: Kernel,
    shared: &Shared<'a>,
    queue: &Queue<'a>,
    wide: bool,
    start: &dyn Fn() -> C,
) -> Result<LaneStats> {
    if shared.run.lineages.is_some() {
        run_block_observed::<C, LineageTracker<'a>>(kernel, shared, queue, wide, start)
    } else {
        run_block_observed::<C, NoObserver>(kernel, shared, queue, wide, start)
    }
}

/// Run one set of lanes on `kernel`, each replicate under a controller from `start`, observed by
/// an `O` ([`LaneObserver::for_job`]).
fn run_block_observed<'a, C: Controller, O: LaneObserver<'a>>(
    kernel: Kernel,
    shared: &Shared<'a>,
    queue: &Queue<'a>,
    wide: bool,
    start: &dyn Fn() -> C,
) -> Result<LaneStats> {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512(_) => avx512::run_block::<C, O>(shared, queue, start, wide),
        #[cfg(not(target_arch = "x86_64"))]
        Kernel::Avx512(_) => unreachable!("AVX-512 is only detected on x86-64"),
    }
}

/// The weights of the burden an adaptive rule watches (`AdaptiveSpec::monitor_weights`), 0 under
/// a fixed schedule.
fn monitor_weights<const N: usize>(dosing: LaneDosing<'_>) -> [f64; N] {
    match dosing {
        LaneDosing::Fixed(_) => [0.0; N],
        LaneDosing::Adaptive(spec) => std::array::from_fn(|s| spec.monitor_weights[s]),
    }
}

/// The state of `W` lanes of `N` states, one array per quantity, a lane per element: what the
/// vector loop loads into registers and stores back when a lane leaves it.
#[repr(C, align(64))]
pub(crate) struct LaneState<const W: usize, const N: usize> {
    /// Counts as exact floats (the hot loop's).
    pub count: [[f64; W]; N],
    /// Per-cell total rate of each state.
    pub state_total: [[f64; W]; N],
    /// Per state, the rates of its picks in scan order, infinity from the last pick on.
    pub rate: [[[f64; W]; SCANNED]; N],
    /// Per state, each pick's effect ([`pick_code`]), the last repeated.
    pub code: [[[u64; W]; MAX_PICKS]; N],
    pub total: [u64; W],
    /// Time of the last event.
    pub now: [f64; W],
    /// The pending candidate, before `limit`.
    pub t_next: [f64; W],
    /// The burst's limit; in a lane whose records the vector loop cannot write, just after the
    /// next record time if that is first.
    pub limit: [f64; W],
    /// The next record time, written in the vector loop when the candidate passes it (infinity
    /// in a lane whose records it cannot write).
    pub record_time: [f64; W],
    /// Its index in the record grid.
    pub record_next: [usize; W],
    /// The lane's recorder's counts (`Recorder::counts_only`) while the vector loop writes them,
    /// null otherwise.
    pub rows: [*mut i64; W],
    /// Events left in the burst's budget.
    pub left: [u64; W],
    /// First mutation fired in the lane since it was loaded (NaN if none).
    pub first_mutant: [f64; W],
    /// Xoshiro256++ state words.
    pub rng: [[u64; W]; 4],
    /// The quiet band of an adaptive rule (`Controller::quiet_band`): the lane leaves when the
    /// monitored burden is not strictly inside `(low, high)`.
    pub low: [f64; W],
    pub high: [f64; W],
    /// The weights of the monitored burden (the same in every lane).
    pub monitor: [f64; N],
}

impl<const W: usize, const N: usize> LaneState<W, N> {
    fn new() -> Self {
        Self {
            count: [[0.0; W]; N],
            state_total: [[0.0; W]; N],
            rate: [[[0.0; W]; SCANNED]; N],
            code: [[[0; W]; MAX_PICKS]; N],
            total: [0; W],
            now: [0.0; W],
            t_next: [0.0; W],
            limit: [0.0; W],
            record_time: [f64::INFINITY; W],
            record_next: [0; W],
            rows: [std::ptr::null_mut(); W],
            left: [0; W],
            first_mutant: [f64::NAN; W],
            rng: [[0; W]; 4],
            low: [f64::NEG_INFINITY; W],
            high: [f64::INFINITY; W],
            monitor: [0.0; N],
        }
    }
}

/// A pick's effect as one word: the state that gains a cell (bits 0-7, the sink `N` if none),
/// the state that loses one (bits 8-15), whether it is a mutation (bit 16), its channel (bits
/// 17-31, for observers: the event log of `tracked`), and the change of the total population
/// as a signed number (bits 32-63).
fn pick_code(pick: &Pick) -> u64 {
    pick.inc as u64
        | (pick.dec as u64) << 8
        | u64::from(pick.is_mutation) << 16
        | u64::from(pick.channel & 0x7fff) << CHANNEL_SHIFT
        | (i64::from(pick.delta_total) as u64) << 32
}

/// Bit of the mutation flag in [`pick_code`].
pub(crate) const MUTATION_BIT: u64 = 1 << 16;

/// A generator's state words (a lane's).
fn words_of(rng: &ReplicateRng) -> [u64; 4] {
    let bytes = rng.state();
    std::array::from_fn(|i| u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().unwrap()))
}

/// The generator with a lane's state words.
fn rng_from_words(words: [u64; 4]) -> ReplicateRng {
    // One 32-byte value (not four 8-byte writes), so that `from_seed`'s wider reads of it need
    // not wait for four separate stores to retire.
    let bytes: [u8; 32] = le_bytes(words);
    ReplicateRng::from_seed(bytes)
}

/// The little-endian bytes of four words, as one value.
fn le_bytes(words: [u64; 4]) -> [u8; 32] {
    let le = words.map(u64::to_le);
    // SAFETY: `[u64; 4]` and `[u8; 32]` have the same size and every bit pattern is valid.
    unsafe { std::mem::transmute::<[u64; 4], [u8; 32]>(le) }
}

/// What a lane's event loop works on (lent to it as `Parts`).
struct Held<'a, C, O> {
    controller: C,
    rng: ReplicateRng,
    recorder: Recorder<'a>,
    observer: O,
}

impl<'a, C, O> Held<'a, C, O> {
    fn parts(&mut self) -> Parts<'_, 'a, C, O> {
        Parts {
            controller: &mut self.controller,
            rng: &mut self.rng,
            recorder: &mut self.recorder,
            observer: &mut self.observer,
        }
    }
}

/// A replicate in a lane, and what its current burst started with.
struct Busy<'a, C, O> {
    replicate: EventLoop<'a>,
    held: Held<'a, C, O>,
    outcome: &'a mut Outcome,
    lineages: &'a mut Option<Box<LineageOutput>>,
    /// The burst's time limit.
    limit_time: f64,
    /// Events left in the burst's budget when the lane was last written back.
    left: u64,
}

impl<'a, C: Controller, O: LaneObserver<'a>> Busy<'a, C, O> {
    /// The event loop's setup of `job` under `controller`, with its observer.
    fn new(shared: &Shared<'a>, job: Job<'a>, controller: C) -> Result<Self> {
        let (rng, _) = replicate_streams(shared.seed_key, job.index);
        let observer = O::for_job(shared, &job)?;
        let mut held = Held {
            controller,
            rng,
            recorder: job.recorder,
            observer,
        };
        let (model, treating, run) = (shared.model, shared.treating, shared.run);
        let replicate = EventLoop::new(model, treating, run, &mut held.parts(), shared.cancel);
        Ok(Self {
            replicate,
            held,
            outcome: job.outcome,
            lineages: job.lineages,
            limit_time: f64::NAN,
            left: 0,
        })
    }

    /// The replicate stopped with `outcome`: write it, and what its observer kept.
    fn finish(self, outcome: Outcome) -> Result<()> {
        *self.outcome = outcome;
        self.held.observer.finish(&outcome, self.lineages)
    }

    /// The event loop from `resume` until its next burst or the replicate's end.
    fn advance(&mut self, resume: Resume) -> Result<Next> {
        self.replicate.advance(&mut self.held.parts(), resume)
    }

    /// The exposure in force (for the recorder, as the scalar hot loop's).
    fn exposure(&self) -> Exposure {
        Exposure(self.held.controller.exposure())
    }
}

/// Why lanes left the vector loop, a bit per lane.
pub(crate) struct Exits {
    /// The burst stops (0 or the cap reached, budget spent, rates overflowed).
    pub check: u32,
    /// The pending candidate is at or after the lane's limit.
    pub passed: u32,
    /// The event log is full (`tracked`): every lane's events must be shown to its observer.
    pub full: bool,
    /// Iterations run.
    pub iterations: u64,
    /// Record times written.
    pub records: u64,
    /// Ziggurat first tries that missed.
    pub misses: u64,
    /// Of those, the draws finished out of line.
    pub misses_out_of_line: u64,
}

/// The rest of the ziggurat in a lane whose first try missed (the draw's low byte `layer`, the
/// point `x`), as the hot loop's outer loop finishes it, on the lane's generator (state words
/// `rng`): the lane's next candidate's time, `now + x / a0`, and its generator's words after.
/// Called by the vector loop, out of line: it calls `exp` or `ln`, and it is rare.
#[cold]
#[inline(never)]
pub(crate) fn finish_miss(layer: u8, x: f64, now: f64, a0: f64, rng: [u64; 4]) -> (f64, [u64; 4]) {
    finish_draw(now, a0, rng, |generator| {
        exp1_after_miss(ExpMiss::new(layer, x), generator)
    })
}

/// [`finish_miss`] from further on: the wedge test's uniform drawn (the height `y`), the
/// comparison with the density left undecided by the vector loop's bounds.
#[cold]
#[inline(never)]
pub(crate) fn finish_wedge(x: f64, y: f64, now: f64, a0: f64, rng: [u64; 4]) -> (f64, [u64; 4]) {
    finish_draw(now, a0, rng, |generator| exp1_after_wedge(x, y, generator))
}

/// A lane's next candidate's time, `now + rest / a0`, the waiting time's `rest` drawn on the
/// lane's generator, and the generator's words after.
fn finish_draw(
    now: f64,
    a0: f64,
    rng: [u64; 4],
    rest: impl FnOnce(&mut ReplicateRng) -> f64,
) -> (f64, [u64; 4]) {
    let mut generator = rng_from_words(rng);
    let t_next = now + rest(&mut generator) / a0;
    (t_next, words_of(&generator))
}

/// What the scalar side of a lane does next.
enum Step {
    /// A burst starts with a candidate pending at this time: load the lane, write the records
    /// before the candidate, and go into the vector loop, or end the burst at its limit.
    Settle(f64),
    /// Run the event loop from here.
    Advance(Resume),
    /// Take the next replicate from the queue.
    Take,
}

/// One set of lanes and the scalar side of each, every replicate under a controller of type `C`
/// and observed by an `O`, taking replicates from a queue.
pub(crate) struct Block<'a, 's, const W: usize, const N: usize, C, O> {
    pub lanes: Box<LaneState<W, N>>,
    /// The record grid and infinity after it: the vector loop's next record times.
    pub times: Vec<f64>,
    /// The events of each lane not yet shown to its observer (empty if `O` observes nothing).
    pub log: LaneLog<W>,
    busy: [Option<Busy<'a, C, O>>; W],
    jobs: Taker<'a, 's>,
    shared: &'s Shared<'a>,
    /// Each replicate's controller at time 0.
    start: &'s dyn Fn() -> C,
    /// What the lanes did.
    pub stats: LaneStats,
}

impl<'a, 's, const W: usize, const N: usize, C: Controller, O: LaneObserver<'a>>
    Block<'a, 's, W, N, C, O>
{
    pub fn new(shared: &'s Shared<'a>, jobs: &'s Queue<'a>, start: &'s dyn Fn() -> C) -> Self {
        let mut lanes = Box::new(LaneState::new());
        lanes.monitor = monitor_weights(shared.dosing);
        let times = shared.run.record_times.iter().copied();
        Self {
            lanes,
            times: times.chain([f64::INFINITY]).collect(),
            log: LaneLog::new::<O>(),
            busy: std::array::from_fn(|_| None),
            jobs: Taker::new(jobs, shared.done),
            shared,
            start,
            stats: LaneStats {
                narrow_sets: u64::from(W == 8),
                wide_sets: u64::from(W == 16),
                ..LaneStats::default()
            },
        }
    }

    /// The population cap (the same for every replicate).
    pub fn max_population(&self) -> u64 {
        self.shared.run.population_cap()
    }

    /// Put a replicate in every lane; false if the queue ran out of replicates first.
    pub fn fill(&mut self) -> Result<bool> {
        for j in 0..W {
            self.drive(j, Step::Take)?;
        }
        Ok(self.all_busy())
    }

    fn all_busy(&self) -> bool {
        self.busy.iter().all(Option::is_some)
    }

    /// Handle the lanes that left the vector loop (their state stored in `lanes`); false if a
    /// lane found no replicate to take (the tail).
    pub fn handle(&mut self, exits: &Exits) -> Result<bool> {
        self.stats.iterations += exits.iterations;
        self.stats.exits += 1;
        self.stats.check_exits += u64::from(exits.check.count_ones());
        self.stats.misses_in_loop += exits.misses;
        self.stats.misses_out_of_line += exits.misses_out_of_line;
        self.stats.records_in_loop += exits.records;
        if O::OBSERVES && exits.full {
            for j in 0..W {
                self.show(j);
            }
            self.log.clear();
        }
        for j in 0..W {
            let bit = 1 << j;
            if (exits.check | exits.passed) & bit == 0 {
                continue;
            }
            let step = if exits.check & bit != 0 {
                self.write_back(j);
                Step::Advance(Resume::AfterBurst(BurstEnd::Check))
            } else {
                let t_next = self.lanes.t_next[j];
                let went_on = self.settle_in_lane(j, t_next);
                let stats = &mut self.stats;
                *if went_on {
                    &mut stats.record_exits
                } else {
                    &mut stats.limit_exits
                } += 1;
                if went_on {
                    continue;
                }
                self.write_back(j);
                Step::Advance(Resume::AfterBurst(BurstEnd::Limit(t_next)))
            };
            self.drive(j, step)?;
        }
        Ok(self.all_busy())
    }

    /// Write the record times before lane `j`'s pending candidate `t_next` from the lane's
    /// counts, as the hot loop's outer loop does; true if the candidate is before the burst's
    /// limit (the lane goes on in the vector loop, which writes its next records if its recorder
    /// writes counts only), false if it ends the burst.
    fn settle_in_lane(&mut self, j: usize, t_next: f64) -> bool {
        self.hand_back_records(j);
        let lanes = &mut self.lanes;
        let busy = self.busy[j].as_mut().expect("a busy lane");
        let drug = busy.exposure();
        let recorder = &mut busy.held.recorder;
        loop {
            let limit = busy.limit_time.min(just_after(recorder.next_time()));
            if t_next < limit {
                break;
            }
            if t_next >= busy.limit_time {
                return false;
            }
            let states: [u64; N] = std::array::from_fn(|s| lanes.count[s][j] as u64);
            recorder.record_before(t_next, &states, &drug);
        }
        lanes.t_next[j] = t_next;
        let next_time = recorder.next_time();
        if let Some((next, rows)) = recorder.counts_only() {
            lanes.limit[j] = busy.limit_time;
            lanes.record_time[j] = next_time;
            lanes.record_next[j] = next;
            lanes.rows[j] = rows;
        } else {
            lanes.limit[j] = busy.limit_time.min(just_after(next_time));
            lanes.record_time[j] = f64::INFINITY;
        }
        true
    }

    /// Hand the records the vector loop wrote in lane `j` back to its recorder (which writes
    /// their exposures: the burst's).
    fn hand_back_records(&mut self, j: usize) {
        let lanes = &mut self.lanes;
        if lanes.rows[j].is_null() {
            return;
        }
        lanes.rows[j] = std::ptr::null_mut();
        let busy = self.busy[j].as_mut().expect("a busy lane");
        let drug = busy.exposure();
        let recorder = &mut busy.held.recorder;
        recorder.counts_written_before(lanes.record_next[j], &drug);
    }

    /// Show lane `j`'s observer the events the lane fired since it last saw them (`tracked`),
    /// with the counts after them, as the scalar path shows it a burst's.
    fn show(&mut self, j: usize) {
        let len = self.log.unshown(j);
        if !O::OBSERVES || len == 0 {
            return;
        }
        let Some(busy) = self.busy[j].as_mut() else {
            return;
        };
        let after: [u64; N] = std::array::from_fn(|s| self.lanes.count[s][j] as u64);
        let exposure = busy.held.controller.exposure();
        let (replicate, observer, log) =
            (&mut busy.replicate, &mut busy.held.observer, &mut self.log);
        let fill = |horizon, times: &mut [f64], channels: &mut [u32]| {
            log.take(j, horizon, times, channels)
        };
        replicate.show_events(observer, exposure, len, fill, &after);
    }

    /// Write lane `j`'s state back to its replicate, as the hot loop writes its registers back
    /// when it returns, and show its observer the lane's events.
    fn write_back(&mut self, j: usize) {
        self.show(j);
        self.hand_back_records(j);
        let lanes = &self.lanes;
        let busy = self.busy[j].as_mut().expect("a busy lane");
        let r = &mut busy.replicate;
        let (counts, weights, total) = r.cells.slots_mut();
        for s in 0..N {
            let count = lanes.count[s][j];
            counts[s] = count as u64;
            weights[s] = count * lanes.state_total[s][j];
        }
        *total = lanes.total[j];
        r.t = lanes.now[j];
        busy.held.rng = rng_from_words(std::array::from_fn(|i| lanes.rng[i][j]));
        let first_mutant = lanes.first_mutant[j];
        if !first_mutant.is_nan() {
            r.history.mutation(first_mutant);
        }
        let fired = busy.left - lanes.left[j];
        r.history.add_events(fired);
        self.stats.events += fired;
        busy.left = lanes.left[j];
        self.lanes.first_mutant[j] = f64::NAN;
    }

    /// Load lane `j` from its replicate (its pending candidate and limit are set by
    /// [`Self::settle_in_lane`]).
    fn load(&mut self, j: usize) {
        if O::OBSERVES {
            // The lane's events from here on, replayed from the replicate's counts now.
            self.log.begin(j);
            let busy = self.busy[j].as_mut().expect("a busy lane");
            busy.replicate.replay_start();
        }
        let lanes = &mut self.lanes;
        let busy = self.busy[j].as_ref().expect("a busy lane");
        let r = &busy.replicate;
        for (s, &n) in r.cells.states().iter().enumerate() {
            lanes.count[s][j] = as_f64(n);
            lanes.state_total[s][j] = r.rates.state_total[s];
            let (first, end) = r.rates.pick_range[s];
            let (scanned, last) = match r.rates.pick[first..end].split_last() {
                Some((last, scanned)) => (scanned, last),
                None => (&[][..], &Pick::NONE),
            };
            for k in 0..MAX_PICKS {
                let pick = scanned.get(k);
                if k < SCANNED {
                    lanes.rate[s][k][j] = pick.map_or(f64::INFINITY, |p| p.rate);
                }
                lanes.code[s][k][j] = pick_code(pick.unwrap_or(last));
            }
        }
        lanes.total[j] = r.cells.total;
        lanes.now[j] = r.t;
        lanes.left[j] = busy.left;
        lanes.first_mutant[j] = f64::NAN;
        for (i, w) in words_of(&busy.held.rng).into_iter().enumerate() {
            lanes.rng[i][j] = w;
        }
        // The band the scalar hot loop would watch in this burst (`event_loop::burst_under`).
        let band = busy.held.controller.quiet_band();
        debug_assert!(band.as_ref().is_none_or(|b| b.weights == lanes.monitor));
        (lanes.low[j], lanes.high[j]) =
            band.map_or((f64::NEG_INFINITY, f64::INFINITY), |b| (b.low, b.high));
    }

    /// Run lane `j`'s scalar side from `step` until its replicate is back in the vector loop,
    /// or the lane is empty (no replicate left to take).
    fn drive(&mut self, j: usize, mut step: Step) -> Result<()> {
        let shared = self.shared;
        loop {
            step = match step {
                Step::Take => {
                    let Some(job) = self.jobs.take() else {
                        self.busy[j] = None;
                        return Ok(());
                    };
                    self.busy[j] = Some(Busy::new(shared, job, (self.start)())?);
                    Step::Advance(Resume::Top)
                }
                Step::Advance(resume) => {
                    let busy = self.busy[j].as_mut().expect("a busy lane");
                    match busy.advance(resume)? {
                        Next::Stopped(outcome) => {
                            let busy = self.busy[j].take().expect("a busy lane");
                            busy.finish(outcome)?;
                            self.jobs.finished();
                            Step::Take
                        }
                        Next::Burst(limits, pending) => {
                            // The hot loop's prologue.
                            let (r, rng) = (&busy.replicate, &mut busy.held.rng);
                            let a0 = r.cells.a0();
                            if a0.is_finite() {
                                busy.limit_time = limits.time;
                                busy.left = limits.budget;
                                Step::Settle(next_event_time(pending, r.t, a0, rng))
                            } else {
                                Step::Advance(Resume::AfterBurst(BurstEnd::Overflow))
                            }
                        }
                    }
                }
                Step::Settle(t_next) => {
                    self.load(j);
                    if self.settle_in_lane(j, t_next) {
                        return Ok(());
                    }
                    Step::Advance(Resume::AfterBurst(BurstEnd::Limit(t_next)))
                }
            };
        }
    }

    /// Finish every replicate still in a lane on the scalar path: the rest of its burst in the
    /// scalar hot loop from its pending candidate, then the event loop.
    pub fn finish_tail(&mut self) -> Result<LaneStats> {
        let max_population = self.max_population();
        for j in 0..W {
            if self.busy[j].is_none() {
                continue;
            }
            self.write_back(j);
            let t_next = self.lanes.t_next[j];
            let mut busy = self.busy[j].take().expect("a busy lane");
            let limits = Limits {
                time: busy.limit_time,
                budget: busy.left,
                max_population,
            };
            let (replicate, parts) = (&mut busy.replicate, &mut busy.held.parts());
            let end = replicate.burst(parts, Some(t_next), limits);
            let outcome = replicate.run_from(parts, Resume::AfterBurst(end))?;
            busy.finish(outcome)?;
            self.jobs.finished();
        }
        Ok(self.stats)
    }
}
