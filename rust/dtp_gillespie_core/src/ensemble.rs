//! Many replicates in parallel (rayon), each writing its own slice of one preallocated output.
//!
//! Replicate `i` of a call covers global index `replicate_offset + i` and draws only from that
//! index's streams (see [`crate::rng`]), so the output is bit-identical for any thread count and any
//! split of a run into calls.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rayon::prelude::*;

use crate::adaptive::AdaptiveController;
use crate::controller::{Controller, FixedController, Tracked};
use crate::dosing::{Dosing, DosingKind};
use crate::error::{EngineError, Result};
use crate::event_loop::simulate_replicate;
use crate::jump::RegimeCounts;
use crate::lanes::{self, LaneStats, Lanes};
use crate::lineage::{LineageOutput, LineageSpec, LineageTracker, lineage_rng};
use crate::model::Model;
use crate::record::Recorder;
use crate::rng::{ReplicateRng, replicate_streams};
use crate::rows::Rows;
use crate::run::RunConfig;
use crate::ssa::{NoObserver, Observer, Outcome, Status};
use crate::thinning::PkController;

/// Which replicates to run and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnsembleSpec {
    pub seed_key: [u8; 32],
    /// Global index of the first replicate of this call.
    pub replicate_offset: u64,
    pub n_replicates: usize,
    /// `None`: one thread per core. An upper bound: a call runs on at most one thread per
    /// replicate and [`THREADS_PER_CORE`] per core ([`threads_for`]); the output is the same
    /// for any number.
    pub n_threads: Option<usize>,
}

/// Results of an ensemble, in `(replicate, time, state)` order, ready to become arrays.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnsembleOutput {
    /// `n_replicates * n_times * n_states` counts; [`crate::record::UNKNOWN_COUNT`] after a cap.
    pub counts: Vec<i64>,
    /// `n_replicates * n_times` exposure indices.
    pub exposure: Vec<i8>,
    /// `n_replicates * n_times` drug concentrations (pharmacokinetic runs; empty otherwise).
    pub concentration: Vec<f64>,
    /// `n_replicates * n_times` values of the model's biomarker (empty without one; NaN after a
    /// capped replicate stopped).
    pub biomarker: Vec<f64>,
    pub outcomes: Vec<Outcome>,
    /// The lineage and clone tables of every replicate, in replicate order (only when the run
    /// tracks lineages).
    pub lineages: Option<LineageOutput>,
    /// Jump runs: per pool, the (replicate, step) pairs in each regime ([`crate::jump::regimes`]).
    pub jump_regimes: Option<RegimeCounts>,
}

impl EnsembleOutput {
    /// One field of every replicate's outcome.
    pub fn per_replicate<T>(&self, field: impl Fn(&Outcome) -> T) -> Vec<T> {
        self.outcomes.iter().map(field).collect()
    }
}

/// Check that a model, dosing and run fit together.
pub fn validate(model: &Model, dosing: &Dosing, run: &RunConfig) -> Result<()> {
    dosing.validate(model)?;
    run.validate(model)?;
    if let DosingKind::Adaptive(spec) = &dosing.kind {
        // A reference taken at t = 0 from a burden of 0 (the rules could never act).
        spec.check_start(&dosing.treating, &run.initial, model)?;
    }
    Ok(())
}

/// Simulate replicate `index` (global) under any kind of dosing: the one event loop with the
/// dosing's controller.
fn simulate_one<O: Observer>(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    seed_key: &[u8; 32],
    index: u64,
    recorder: &mut Recorder<'_>,
    observer: &mut O,
    cancel: &AtomicBool,
) -> Result<Outcome> {
    let (mut rng, dose_rng) = replicate_streams(seed_key, index);
    let treating = &dosing.treating;
    let mut l = ReplicateLoop {
        model,
        treating,
        run,
        rng: &mut rng,
        recorder,
        observer,
        cancel,
    };
    let initial = &run.initial;
    match (&dosing.kind, model.biomarker()) {
        (DosingKind::Pk(spec), _) => l.run(PkController::new(model, spec, dose_rng)),
        (DosingKind::Adaptive(spec), Some(b)) if spec.monitor_biomarker => {
            l.run(AdaptiveController::watching(spec, treating, initial, b))
        }
        (DosingKind::Adaptive(spec), None) => {
            l.run(AdaptiveController::new(spec, treating, initial))
        }
        (DosingKind::Adaptive(spec), Some(b)) => {
            let inner = AdaptiveController::new(spec, treating, initial);
            l.run(Tracked::new(inner, b, initial))
        }
        (DosingKind::Fixed(schedule), None) => l.run(FixedController::new(schedule)),
        (DosingKind::Fixed(schedule), Some(b)) => {
            l.run(Tracked::new(FixedController::new(schedule), b, initial))
        }
    }
}

/// Simulate replicate `i` of the call (global `index`) tracking its lineages: from its own
/// initial counts under a table start, with a [`LineageTracker`] drawing from the replicate's
/// lineage stream as the event loop's observer.
fn simulate_tracked(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    lineages: &LineageSpec,
    seed_key: &[u8; 32],
    (i, index): (usize, u64),
    recorder: &mut Recorder<'_>,
    cancel: &AtomicBool,
) -> Result<(Outcome, LineageOutput)> {
    let own_run;
    let run = match lineages.initial_counts(i) {
        Some(initial) => {
            own_run = starting_from(run, initial);
            &own_run
        }
        None => run,
    };
    let rng = lineage_rng(seed_key, index);
    let channels = model.channels();
    let mut tracker = LineageTracker::new(lineages, channels, i, index, &run.initial, rng)?;
    let outcome = simulate_one(
        model,
        dosing,
        run,
        seed_key,
        index,
        recorder,
        &mut tracker,
        cancel,
    )?;
    Ok((outcome, tracker.finish(&outcome)?))
}

/// `run` with other initial counts (and no lineage setup: the tracker has it), so that the
/// controllers that read the initial counts (adaptive references, biomarker tracking) see them.
fn starting_from(run: &RunConfig, initial: Vec<u64>) -> RunConfig {
    RunConfig {
        initial,
        record_times: run.record_times.clone(),
        t_end: run.t_end,
        max_events: run.max_events,
        max_population: run.max_population,
        progression: run.progression.clone(),
        force_general_loop: run.force_general_loop,
        lineages: None,
    }
}

/// A tracked replicate's lineages follow its events (the tracker itself knows nothing of the
/// event loop).
impl Observer for LineageTracker<'_> {
    const OBSERVES: bool = true;
    // An event needs only its time, channel and exposure (the counts are checked in debug
    // builds), so the hot loop's events may be shown after each burst.
    const REPLAYABLE: bool = true;
    // A whole burst at once: its moves in one loop (`lineage::CellMoves`).
    const TAKES_BURSTS: bool = true;

    fn start(&mut self, counts: &[u64], _exposure: usize) {
        self.check_start(counts);
    }

    fn event(&mut self, time: f64, channel: usize, counts: &[u64], exposure: usize) {
        self.on_event(time, channel, counts, exposure);
    }

    fn burst(&mut self, times: &[f64], channels: &[u32], counts: &[u64], exposure: usize) {
        self.on_burst(times, channels, counts, exposure);
    }

    fn times_needed_after(&self) -> f64 {
        self.times_needed_after()
    }
}

/// The arguments of [`simulate_replicate`] other than the controller.
struct ReplicateLoop<'r, 'w, O> {
    model: &'r Model,
    treating: &'r [bool],
    run: &'r RunConfig,
    rng: &'r mut ReplicateRng,
    recorder: &'r mut Recorder<'w>,
    observer: &'r mut O,
    cancel: &'r AtomicBool,
}

impl<O: Observer> ReplicateLoop<'_, '_, O> {
    fn run<C: Controller>(&mut self, mut controller: C) -> Result<Outcome> {
        simulate_replicate(
            self.model,
            &mut controller,
            self.treating,
            self.run,
            self.rng,
            self.recorder,
            self.observer,
            self.cancel,
        )
    }
}

/// Replicate `i` of a call and its slices of the output: counts, exposures, concentrations,
/// biomarker, outcome, lineage tables.
type ReplicateSlot<'a> = (
    usize,
    (
        (
            (
                ((&'a mut [i64], &'a mut [i8]), &'a mut [f64]),
                &'a mut [f64],
            ),
            &'a mut Outcome,
        ),
        &'a mut Option<Box<LineageOutput>>,
    ),
);

/// A call runs on at most this many threads per core (as [`std::thread::available_parallelism`]
/// counts them): more would only wait their turn, and each costs milliseconds to start.
pub const THREADS_PER_CORE: usize = 4;

/// How many thread pools are kept between calls (the most recently used ones): repeated calls
/// with the same thread count start no threads, and calls with ever new counts do not pile up
/// pools.
pub const POOLS_KEPT: usize = 2;

/// The cores of the machine (1 if unknown), read once.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

/// The threads a call of `n_replicates` replicates runs on when `requested` are asked for
/// (`None`: `RAYON_NUM_THREADS` if set, else one per core): at most one per replicate and
/// [`THREADS_PER_CORE`] per core, at least 1. Results do not depend on it: each replicate
/// draws only from its own streams.
#[must_use]
pub fn threads_for(requested: Option<usize>, n_replicates: usize) -> usize {
    let wanted = requested.unwrap_or_else(|| {
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(cores)
    });
    wanted
        .min(n_replicates)
        .min(cores().saturating_mul(THREADS_PER_CORE))
        .max(1)
}

/// The most replicates whose lineage trackers a tracked call of `n_replicates` replicates on
/// `requested` threads (as [`threads_for`] resolves it) holds at once: per thread, one per lane
/// of its set of lanes on a CPU that runs them, else one. For the memory guard of callers, which
/// add this many trackers' working memory to the lineage tables.
#[must_use]
pub fn trackers_at_once(requested: Option<usize>, n_replicates: usize) -> usize {
    let per_thread = if crate::lanes::Lanes::avx512_available() {
        crate::lanes::TRACKED_LANES
    } else {
        1
    };
    threads_for(requested, n_replicates)
        .saturating_mul(per_thread)
        .min(n_replicates)
}

/// A pool of `n_threads` workers, kept for the next calls among the [`POOLS_KEPT`] most recently
/// used (an older pool is dropped, its threads ending once the calls using it are done).
fn thread_pool(n_threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(PoisonError::into_inner);
    let pool = match pools.iter().position(|(n, _)| *n == n_threads) {
        Some(k) => pools.remove(k).1,
        None => Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n_threads)
                .build()
                .map_err(|e| {
                    EngineError::InvalidRun(format!(
                        "cannot start a pool of {n_threads} threads: {e}"
                    ))
                })?,
        ),
    };
    pools.insert(0, (n_threads, Arc::clone(&pool)));
    pools.truncate(POOLS_KEPT);
    Ok(pool)
}

/// Run an ensemble. `cancel` stops it early with [`EngineError::Cancelled`]; `done` counts finished
/// replicates (for progress reports).
pub fn run_ensemble(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    spec: &EnsembleSpec,
    cancel: &AtomicBool,
    done: &AtomicU64,
) -> Result<EnsembleOutput> {
    run_ensemble_on(model, dosing, run, spec, cancel, done, Lanes::Detect).map(|(out, _)| out)
}

/// [`run_ensemble`] with a choice of SIMD lanes (the output is the same whichever runs), also
/// returning how many events the lanes fired (0 on the scalar path).
pub fn run_ensemble_on(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    spec: &EnsembleSpec,
    cancel: &AtomicBool,
    done: &AtomicU64,
    lanes: Lanes,
) -> Result<(EnsembleOutput, u64)> {
    run_ensemble_lane_stats(model, dosing, run, spec, cancel, done, lanes)
        .map(|(out, stats)| (out, stats.events))
}

/// [`run_ensemble_on`], returning what the lanes did (all 0 on the scalar path).
pub fn run_ensemble_lane_stats(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    spec: &EnsembleSpec,
    cancel: &AtomicBool,
    done: &AtomicU64,
    lanes: Lanes,
) -> Result<(EnsembleOutput, LaneStats)> {
    validate(model, dosing, run)?;
    let pk = matches!(dosing.kind, DosingKind::Pk(_));
    if let Some(kernel) = lanes::kernel_for(lanes, model, dosing, run)? {
        // Replicates under a fixed schedule or an adaptive rule, tracked or not, in SIMD lanes
        // (module `lanes`), which hand out no rows of concentrations or of the biomarker.
        debug_assert!(
            !pk && model.biomarker().is_none(),
            "the lanes take no such runs"
        );
        let mut stats = LaneStats::default();
        let output = run_replicates_with(model, run, spec, pk, |slots| {
            let pool = slots.pool.clone();
            let jobs = slots.jobs(run, model.n_states(), spec.replicate_offset);
            stats = run_in_lanes(kernel, model, dosing, run, spec, cancel, done, pool, jobs)?;
            Ok(())
        })?;
        return Ok((output, stats));
    }
    let output = run_replicates(
        model,
        run,
        spec,
        pk,
        done,
        |i, index, recorder, lineage_slot| match &run.lineages {
            None => simulate_one(
                model,
                dosing,
                run,
                &spec.seed_key,
                index,
                recorder,
                &mut NoObserver,
                cancel,
            ),
            Some(lineages) => {
                let (key, at) = (&spec.seed_key, (i, index));
                let (outcome, out) =
                    simulate_tracked(model, dosing, run, lineages, key, at, recorder, cancel)?;
                *lineage_slot = Some(Box::new(out));
                Ok(outcome)
            }
        },
    )?;
    Ok((output, LaneStats::default()))
}

/// The output buffers of one call, before they are filled.
pub(crate) struct Slots {
    counts: Rows<i64>,
    exposure: Rows<i8>,
    outcomes: Vec<Outcome>,
    concentration: OptionalSeries,
    biomarker: OptionalSeries,
    tracked: Vec<Option<Box<LineageOutput>>>,
    /// The call's threads ([`threads_for`]); `None` when it runs on one (one replicate, or one
    /// thread asked for or available): no pool to wake.
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl Slots {
    /// Each replicate's recorder, outcome and lineage slot, for the SIMD lanes (no
    /// concentration or biomarker: the lanes take none of those runs). Lazy: a replicate's rows
    /// are cleared when the lanes take it from their queue (in a batch), on the thread that runs
    /// it.
    fn jobs<'a>(
        &'a mut self,
        run: &'a RunConfig,
        n_states: usize,
        offset: u64,
    ) -> impl ExactSizeIterator<Item = lanes::Job<'a>> + Send {
        let times = &run.record_times;
        let recorders = self.counts.rows_mut().zip(self.exposure.rows_mut());
        recorders
            .zip(self.outcomes.iter_mut())
            .zip(self.tracked.iter_mut())
            .enumerate()
            .map(move |(i, (((c, e), outcome), lineages))| lanes::Job {
                i,
                index: offset + i as u64,
                recorder: Recorder::new(times, c, e, None, n_states),
                outcome,
                lineages,
            })
    }
}

/// Check a call, allocate its output, let `fill` write it, and assemble the output (lineage
/// tables joined in replicate order).
fn run_replicates_with(
    model: &Model,
    run: &RunConfig,
    spec: &EnsembleSpec,
    pk: bool,
    fill: impl FnOnce(&mut Slots) -> Result<()>,
) -> Result<EnsembleOutput> {
    if spec.n_replicates == 0 {
        return Err(EngineError::InvalidRun(
            "n_replicates is 0; it must be >= 1".into(),
        ));
    }
    if spec
        .replicate_offset
        .checked_add(spec.n_replicates as u64)
        .is_none()
    {
        return Err(EngineError::InvalidRun(format!(
            "replicate_offset {} + n_replicates {} overflows a 64-bit index",
            spec.replicate_offset, spec.n_replicates
        )));
    }
    if run.record_times.is_empty() {
        return Err(EngineError::InvalidRun(
            "an ensemble needs at least one record time".into(),
        ));
    }
    if spec.n_threads == Some(0) {
        return Err(EngineError::InvalidRun(
            "n_threads is 0; it must be >= 1".into(),
        ));
    }
    if let Some(lineages) = &run.lineages {
        lineages.check_replicates(spec.n_replicates)?;
    }
    let n_times = run.record_times.len();
    let row = n_times.saturating_mul(model.n_states());
    let n = spec.n_replicates;
    let marked = model.biomarker().is_some();
    // The counts and the series are cleared row by row by the threads that write them
    // (`Rows`); the per-replicate outcomes and lineage slots, by the pool's threads, so that a
    // short call does not spend milliseconds clearing them on one thread.
    let threads = threads_for(spec.n_threads, n);
    let owned_pool = if threads == 1 {
        None
    } else {
        Some(thread_pool(threads)?)
    };
    let pool = owned_pool.as_deref();
    let mut slots = Slots {
        counts: rows(n, row, "count")?,
        exposure: rows(n, n_times, "exposure")?,
        outcomes: output_buffer(n, 1, "per-replicate outcomes", pool)?,
        concentration: OptionalSeries::new(pk, n, n_times, "concentration")?,
        biomarker: OptionalSeries::new(marked, n, n_times, "biomarker")?,
        // One box per replicate, filled only when lineages are tracked.
        tracked: output_buffer(n, 1, "lineage outputs", pool)?,
        pool: owned_pool.clone(),
    };
    fill(&mut slots)?;
    let lineages = run.lineages.as_ref().map(|_| {
        let mut all = LineageOutput::default();
        for mut out in slots.tracked.into_iter().flatten() {
            all.append(&mut out);
        }
        all
    });
    let written = "every replicate ran, so every row of the output was handed out";
    Ok(EnsembleOutput {
        counts: slots.counts.into_values().expect(written),
        exposure: slots.exposure.into_values().expect(written),
        concentration: slots.concentration.into_output().expect(written),
        biomarker: slots.biomarker.into_output().expect(written),
        outcomes: slots.outcomes,
        lineages,
        jump_regimes: None,
    })
}

/// Run every replicate of a call by `simulate(i, global index, recorder, lineage slot)`, one
/// thread or over the pool, each writing its own slice of one preallocated output (the scalar
/// engine and the population jumps both run through here).
pub(crate) fn run_replicates(
    model: &Model,
    run: &RunConfig,
    spec: &EnsembleSpec,
    pk: bool,
    done: &AtomicU64,
    simulate: impl Fn(usize, u64, &mut Recorder<'_>, &mut Option<Box<LineageOutput>>) -> Result<Outcome>
    + Sync,
) -> Result<EnsembleOutput> {
    let marked = model.biomarker().is_some();
    run_replicates_with(model, run, spec, pk, |slots| {
        let one = |slot: ReplicateSlot<'_>| {
            let (i, (((((counts, exposure), conc), biomarker_slot), outcome), lineage_slot)) = slot;
            let conc = pk.then_some(conc);
            let mut recorder =
                Recorder::new(&run.record_times, counts, exposure, conc, model.n_states());
            if marked {
                recorder = recorder.with_biomarker(biomarker_slot);
            }
            *outcome = simulate(
                i,
                spec.replicate_offset + i as u64,
                &mut recorder,
                lineage_slot,
            )?;
            done.fetch_add(1, Ordering::Relaxed);
            Ok::<(), EngineError>(())
        };
        let Some(pool) = slots.pool.clone() else {
            return slots
                .counts
                .rows_mut()
                .zip(slots.exposure.rows_mut())
                .zip(slots.concentration.rows_mut())
                .zip(slots.biomarker.rows_mut())
                .zip(slots.outcomes.iter_mut())
                .zip(slots.tracked.iter_mut())
                .enumerate()
                .try_for_each(one);
        };
        pool.install(|| {
            slots
                .counts
                .par_rows_mut()
                .zip(slots.exposure.par_rows_mut())
                .zip(slots.concentration.par_rows_mut())
                .zip(slots.biomarker.par_rows_mut())
                .zip(slots.outcomes.par_iter_mut())
                .zip(slots.tracked.par_iter_mut())
                .enumerate()
                .try_for_each(one)
        })
    })
}

/// Run `jobs` in SIMD lanes, in blocks spread over `pool` if there is one; returns what the lanes
/// did.
fn run_in_lanes<'a>(
    kernel: lanes::Kernel,
    model: &'a Model,
    dosing: &'a Dosing,
    run: &'a RunConfig,
    spec: &'a EnsembleSpec,
    cancel: &'a AtomicBool,
    done: &'a AtomicU64,
    pool: Option<Arc<rayon::ThreadPool>>,
    jobs: impl ExactSizeIterator<Item = lanes::Job<'a>> + Send + 'a,
) -> Result<LaneStats> {
    let lane_dosing = lanes::lane_dosing(model, dosing, run).expect("the lanes take this run");
    let shared = lanes::Shared {
        model,
        dosing: lane_dosing,
        treating: &dosing.treating,
        run,
        seed_key: &spec.seed_key,
        cancel,
        done,
    };
    match pool {
        None => lanes::run_jobs(kernel, &shared, jobs, false),
        Some(pool) => pool.install(|| lanes::run_jobs(kernel, &shared, jobs, true)),
    }
}

/// A zeroed output buffer of `per_replicate` values for each of `n_replicates` replicates,
/// filled by the threads of `pool` when there is one (they are the ones that write it). A size
/// that overflows or memory the system refuses is an error, not a capacity-overflow panic or an
/// abort of the calling process (the Python layer refuses results larger than its memory limit
/// first; this guards direct calls).
fn output_buffer<T: Clone + Default + Send>(
    n_replicates: usize,
    per_replicate: usize,
    what: &str,
    pool: Option<&rayon::ThreadPool>,
) -> Result<Vec<T>> {
    let too_large = || too_large::<T>(n_replicates, per_replicate, what);
    let len = n_replicates
        .checked_mul(per_replicate)
        .ok_or_else(too_large)?;
    let mut values = Vec::new();
    values.try_reserve_exact(len).map_err(|_| too_large())?;
    match pool {
        // Written in place, in parallel: no reallocation (the capacity is reserved).
        Some(pool) => pool.install(|| {
            values.par_extend(rayon::iter::repeat_n(T::default(), len));
        }),
        None => values.resize(len, T::default()),
    }
    Ok(values)
}

/// An output of `per_replicate >= 1` values for each of `n_replicates` replicates whose rows are
/// cleared as they are handed out to the replicates ([`Rows`]); the same errors as
/// [`output_buffer`].
fn rows<T: Copy + Default + Send>(
    n_replicates: usize,
    per_replicate: usize,
    what: &str,
) -> Result<Rows<T>> {
    Rows::new(n_replicates, per_replicate)
        .ok_or_else(|| too_large::<T>(n_replicates, per_replicate, what))
}

/// The error of an output too large to allocate.
fn too_large<T>(n_replicates: usize, per_replicate: usize, what: &str) -> EngineError {
    let bytes = (n_replicates as f64) * (per_replicate as f64) * (size_of::<T>() as f64);
    EngineError::InvalidRun(format!(
        "cannot allocate the {what} output: {n_replicates} replicates x {per_replicate} \
         values ({:.3} GiB); run fewer replicates or record times per call",
        bytes / f64::from(1u32 << 30)
    ))
}

/// An output with a value per replicate and record time that only some runs have (the
/// concentration, the biomarker): without it each replicate gets a one-value placeholder row,
/// since rows cannot be empty, and the output is empty.
struct OptionalSeries {
    values: Rows<f64>,
    wanted: bool,
}

impl OptionalSeries {
    fn new(wanted: bool, n_replicates: usize, n_times: usize, what: &str) -> Result<Self> {
        let row = if wanted { n_times } else { 1 };
        Ok(Self {
            values: rows(n_replicates, row, what)?,
            wanted,
        })
    }

    fn rows_mut(&mut self) -> impl ExactSizeIterator<Item = &mut [f64]> {
        self.values.rows_mut()
    }

    fn par_rows_mut(&mut self) -> impl IndexedParallelIterator<Item = &mut [f64]> {
        self.values.par_rows_mut()
    }

    /// The values if wanted (empty otherwise), once every row was handed out
    /// ([`Rows::into_values`]).
    fn into_output(self) -> Option<Vec<f64>> {
        if self.wanted {
            self.values.into_values()
        } else {
            Some(Vec::new())
        }
    }
}

/// Every event of one replicate: row 0 is the initial state (channel -1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub time: Vec<f64>,
    pub channel: Vec<i32>,
    /// `(n_events + 1) * n_states` counts.
    pub counts: Vec<i64>,
    pub exposure: Vec<i8>,
    /// Every change of the exposure in force (fixed and adaptive schedules): its time and the
    /// new exposure. A switch at a check (a breakpoint, timer or biomarker crossing) happens
    /// between events; a switch at an event has the event's time.
    pub switch_time: Vec<f64>,
    pub switch_exposure: Vec<i8>,
    pub status: Option<Status>,
    pub stop_time: f64,
}

impl Observer for Trace {
    const OBSERVES: bool = true;
    fn start(&mut self, counts: &[u64], exposure: usize) {
        self.event(0.0, usize::MAX, counts, exposure);
    }

    fn event(&mut self, time: f64, channel: usize, counts: &[u64], exposure: usize) {
        self.time.push(time);
        self.channel.push(if channel == usize::MAX {
            -1
        } else {
            channel as i32
        });
        self.counts.extend(counts.iter().map(|&n| n as i64));
        self.exposure.push(exposure as i8);
    }

    fn switch(&mut self, time: f64, exposure: usize) {
        self.switch_time.push(time);
        self.switch_exposure.push(exposure as i8);
    }
}

/// Record every event of replicate `replicate` (the same trajectory as in [`run_ensemble`]).
/// `run.record_times` is ignored. Memory grows with the number of events: cap it with `max_events`.
pub fn trace(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    seed_key: &[u8; 32],
    replicate: u64,
    cancel: &AtomicBool,
) -> Result<Trace> {
    validate(model, dosing, run)?;
    let mut trace = Trace::default();
    let (mut no_counts, mut no_exposure) = (Vec::new(), Vec::new());
    let mut recorder = Recorder::new(
        &[],
        &mut no_counts,
        &mut no_exposure,
        None,
        model.n_states(),
    );
    let outcome = simulate_one(
        model,
        dosing,
        run,
        seed_key,
        replicate,
        &mut recorder,
        &mut trace,
        cancel,
    )?;
    trace.status = Some(outcome.status);
    trace.stop_time = outcome.stop_time;
    Ok(trace)
}
