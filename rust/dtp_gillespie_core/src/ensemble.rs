//! Many replicates in parallel (rayon), each writing its own slice of one preallocated output.
//!
//! Replicate `i` of a call covers global index `replicate_offset + i` and draws only from that
//! index's stream (see [`crate::rng`]), so the output is bit-identical for any thread count and any
//! split of a run into calls.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::{EngineError, Result};
use crate::model::Model;
use crate::record::Recorder;
use crate::rng::replicate_rng;
use crate::run::RunConfig;
use crate::schedule::Schedule;
use crate::ssa::{NoObserver, Observer, Outcome, Status, simulate_replicate};

/// Which replicates to run and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnsembleSpec {
    pub seed_key: [u8; 32],
    /// Global index of the first replicate of this call.
    pub replicate_offset: u64,
    pub n_replicates: usize,
    /// `None`: one thread per core.
    pub n_threads: Option<usize>,
}

/// Results of an ensemble, in `(replicate, time, state)` order, ready to become arrays.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnsembleOutput {
    /// `n_replicates * n_times * n_states` counts; [`crate::record::UNKNOWN_COUNT`] after a cap.
    pub counts: Vec<i64>,
    /// `n_replicates * n_times` exposure indices.
    pub exposure: Vec<i8>,
    pub extinction_time: Vec<f64>,
    pub first_mutant_time: Vec<f64>,
    pub stop_time: Vec<f64>,
    pub n_events: Vec<i64>,
    pub status: Vec<i8>,
}

/// Check that a model, schedule and run fit together.
pub fn validate(model: &Model, schedule: &Schedule, run: &RunConfig) -> Result<()> {
    if schedule.max_exposure() >= model.n_exposures() {
        return Err(EngineError::InvalidSchedule(format!(
            "the schedule uses exposure {}; the model has {} exposures",
            schedule.max_exposure(),
            model.n_exposures()
        )));
    }
    run.validate(model)
}

/// Run an ensemble. `cancel` stops it early with [`EngineError::Cancelled`]; `done` counts finished
/// replicates (for progress reports).
pub fn run_ensemble(
    model: &Model,
    schedule: &Schedule,
    run: &RunConfig,
    spec: &EnsembleSpec,
    cancel: &AtomicBool,
    done: &AtomicU64,
) -> Result<EnsembleOutput> {
    validate(model, schedule, run)?;
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
    let n_times = run.record_times.len();
    let row = n_times * model.n_states();
    let n = spec.n_replicates;
    let mut counts = vec![0_i64; n * row];
    let mut exposure = vec![0_i8; n * n_times];
    let mut outcomes = vec![Outcome::default(); n];

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(spec.n_threads.unwrap_or(0))
        .build()
        .map_err(|e| EngineError::InvalidRun(format!("cannot start the thread pool: {e}")))?;
    pool.install(|| {
        counts
            .par_chunks_mut(row)
            .zip(exposure.par_chunks_mut(n_times))
            .zip(outcomes.par_iter_mut())
            .enumerate()
            .try_for_each(|(i, ((counts, exposure), outcome))| {
                let mut rng = replicate_rng(&spec.seed_key, spec.replicate_offset + i as u64);
                let mut recorder =
                    Recorder::new(&run.record_times, counts, exposure, model.n_states());
                *outcome = simulate_replicate(
                    model,
                    schedule,
                    run,
                    &mut rng,
                    &mut recorder,
                    &mut NoObserver,
                    cancel,
                )?;
                done.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
    })?;

    Ok(EnsembleOutput {
        counts,
        exposure,
        extinction_time: outcomes.iter().map(|o| o.extinction_time).collect(),
        first_mutant_time: outcomes.iter().map(|o| o.first_mutant_time).collect(),
        stop_time: outcomes.iter().map(|o| o.stop_time).collect(),
        n_events: outcomes.iter().map(|o| o.n_events as i64).collect(),
        status: outcomes.iter().map(|o| o.status as i8).collect(),
    })
}

/// Every event of one replicate: row 0 is the initial state (channel -1).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub time: Vec<f64>,
    pub channel: Vec<i32>,
    /// `(n_events + 1) * n_states` counts.
    pub counts: Vec<i64>,
    pub exposure: Vec<i8>,
    pub status: Option<Status>,
    pub stop_time: f64,
}

impl Observer for Trace {
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
}

/// Record every event of replicate `replicate` (the same trajectory as in [`run_ensemble`]).
/// `run.record_times` is ignored. Memory grows with the number of events: cap it with `max_events`.
pub fn trace(
    model: &Model,
    schedule: &Schedule,
    run: &RunConfig,
    seed_key: &[u8; 32],
    replicate: u64,
    cancel: &AtomicBool,
) -> Result<Trace> {
    validate(model, schedule, run)?;
    let mut trace = Trace::default();
    let mut rng = replicate_rng(seed_key, replicate);
    let (mut no_counts, mut no_exposure) = (Vec::new(), Vec::new());
    let mut recorder = Recorder::new(&[], &mut no_counts, &mut no_exposure, model.n_states());
    let outcome = simulate_replicate(
        model,
        schedule,
        run,
        &mut rng,
        &mut recorder,
        &mut trace,
        cancel,
    )?;
    trace.status = Some(outcome.status);
    trace.stop_time = outcome.stop_time;
    Ok(trace)
}
