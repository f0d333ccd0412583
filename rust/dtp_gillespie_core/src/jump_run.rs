//! `method = "jump"`: replicates of a model under a fixed schedule, advanced over a step grid by
//! population jumps ([`crate::jump::StepLaw`]; exact for a linear model) instead of event by event.
//!
//! **The grid.** Its points are 0, every schedule breakpoint before `t_end`, every record time
//! and `t_end`; each gap between two points is cut into the fewest equal steps no longer than the
//! configured step. Rates are constant over each step, so each step is exact in law. A step's
//! law depends only on its exposure and length: one [`StepLaw`] per pair (lengths within a
//! relative 2^-40 share one), built before the replicates and shared by them.
//!
//! **What is exact.** The counts at every grid point (so at every record time), the exposure
//! history, `first_mutant_time` (every mutation event's time is simulated), extinction and its
//! time when the last cells died in the event regime. **Step-resolved**: the time of an
//! extinction inside a jumped step, and the time of reaching `max_population` (both reported as
//! the end of the step). `n_events` counts only the events simulated one by one (pools in the
//! event regime and emitting lineages), not the events jumped over.
//!
//! **Density dependence** (a capacity or competition) is an approximation, labelled
//! `jump+density(midpoint)`: each step freezes the rates at the step's mean-field midpoint
//! ([`crate::jump::density`]), except a step in which no pool is jumped, which is exact SSA with
//! the rates recomputed after every event. Its laws are built per rounded crowding, on first use.
//!
//! **Refused** (typed errors naming the cause): a biomarker, progression, an event cap, adaptive
//! or pharmacokinetic dosing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::dosing::{Dosing, DosingKind};
use crate::ensemble::{EnsembleOutput, EnsembleSpec, run_replicates, validate};
use crate::error::{EngineError, Result};
use crate::jump::density::DEFAULT_QUANTUM;
use crate::jump::{
    DensityLaws, DensityReport, JumpError, LinearRates, MAX_EXACT_COUNT, Predictor, StepLaw,
    StepScratch,
};
use crate::model::Model;
use crate::record::{Drug, Recorder};
use crate::rng::replicate_streams;
use crate::run::RunConfig;
use crate::schedule::Schedule;
use crate::ssa::{History, Outcome, Status};

/// The knobs of a jump run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JumpConfig {
    /// The longest step (days, > 0).
    pub step: f64,
    /// Tail mass of each offspring table, per ancestor and step, in (0, 1e-6].
    pub tolerance: f64,
    /// A pool whose expected events in a step (cells × rate × step) are below this is simulated
    /// event by event (0: every pool is jumped; infinity: every pool is simulated).
    pub threshold: f64,
    /// Density-dependent models: crowdings are rounded to a multiple of this to key the cached
    /// laws, in (0, 0.1]. Ignored by linear models.
    pub density_quantum: f64,
    /// Density-dependent models: where each step's frozen rates are evaluated.
    pub density_predictor: Predictor,
}

impl Default for JumpConfig {
    fn default() -> Self {
        Self {
            step: DEFAULT_STEP,
            tolerance: DEFAULT_TOLERANCE,
            threshold: DEFAULT_THRESHOLD,
            density_quantum: DEFAULT_QUANTUM,
            density_predictor: Predictor::Midpoint,
        }
    }
}

/// Default longest step (days), design note §6.1.
pub const DEFAULT_STEP: f64 = 0.5;
/// Default table tail mass: small enough that a run of 1e11 cells over 1e4 steps falls in a
/// tail with probability about 1e-5 (a draw that does fails loudly, never inexactly).
pub const DEFAULT_TOLERANCE: f64 = 1e-20;
/// Default event-regime threshold (expected events per pool and step), design note §6.1.
pub const DEFAULT_THRESHOLD: f64 = 1000.0;
/// The most steps one replicate may take.
pub const MAX_STEPS: usize = 10_000_000;
/// Jump runs stop with `max_population` at this population: the samplers are exact up to 2^53
/// cells, and one step must not take a pool past it.
pub const JUMP_POPULATION_LIMIT: u64 = MAX_EXACT_COUNT / 8;

impl JumpConfig {
    /// Check the knobs; each refusal names the option and the value.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(EngineError::InvalidRun(msg));
        if !(self.step.is_finite() && self.step > 0.0) {
            return bad(format!(
                "jump_step is {}; it must be a finite number > 0 (days)",
                self.step
            ));
        }
        if !(self.tolerance > 0.0 && self.tolerance <= 1e-6) {
            return bad(format!(
                "jump_tolerance is {}; it must be in (0, 1e-6]",
                self.tolerance
            ));
        }
        if !(self.threshold >= 0.0) {
            return bad(format!(
                "jump_threshold is {}; it must be >= 0 (expected events per pool and step)",
                self.threshold
            ));
        }
        if !(self.density_quantum > 0.0 && self.density_quantum <= 0.1) {
            return bad(format!(
                "jump_density_quantum is {}; it must be in (0, 0.1] (a crowding N/K)",
                self.density_quantum
            ));
        }
        Ok(())
    }
}

/// One step of the grid.
#[derive(Clone, Copy, Debug, PartialEq)]
struct GridStep {
    start: f64,
    end: f64,
    length: f64,
    exposure: usize,
    law: usize,
}

/// The grid and the laws of its steps, shared by every replicate: one law per (exposure, step
/// length) for a linear model; for a density-dependent one, laws built on first use per rounded
/// crowding (`density`, and `laws` is empty).
struct JumpPlan<'m> {
    steps: Vec<GridStep>,
    laws: Vec<StepLaw>,
    density: Option<DensityLaws<'m>>,
}

/// The exposure a fixed schedule has in force at `t`.
struct ScheduleDrug<'a>(&'a Schedule);

impl Drug for ScheduleDrug<'_> {
    fn exposure_at(&self, t: f64) -> usize {
        self.0
            .segment_at(t)
            .map_or_else(|_| self.0.segment(0).exposure, |s| s.exposure)
    }
    fn concentration_at(&self, _: f64) -> f64 {
        0.0
    }
}

fn jump_error(t: f64, e: &JumpError) -> EngineError {
    EngineError::InvalidRun(format!("method 'jump', step starting at t = {t}: {e}"))
}

/// Refuse what the jumps cannot do exactly.
fn check_supported<'d>(model: &Model, dosing: &'d Dosing, run: &RunConfig) -> Result<&'d Schedule> {
    if model.biomarker().is_some() {
        return Err(EngineError::InvalidModel(
            "method 'jump' does not simulate a biomarker; use method 'ssa'".into(),
        ));
    }
    let DosingKind::Fixed(schedule) = &dosing.kind else {
        return Err(EngineError::InvalidSchedule(
            "method 'jump' supports fixed schedules only (not adaptive or pk dosing)".into(),
        ));
    };
    if run.lineages.is_some() {
        return Err(EngineError::InvalidRun(
            "method 'jump' does not track barcodes or clones (a jump moves many cells at once); \
             use method 'ssa'"
                .into(),
        ));
    }
    if run.progression.is_some() {
        return Err(EngineError::InvalidRun(
            "method 'jump' does not monitor progression (it sees the counts only at grid \
             times); use method 'ssa'"
                .into(),
        ));
    }
    if run.max_events != u64::MAX {
        return Err(EngineError::InvalidRun(format!(
            "max_events is {}; method 'jump' does not count the events it jumps over, so it \
             takes no event cap",
            run.max_events
        )));
    }
    Ok(schedule)
}

/// The step grid of a run and a law per (exposure, step length).
fn plan<'m>(
    model: &'m Model,
    schedule: &Schedule,
    run: &RunConfig,
    config: &JumpConfig,
) -> Result<JumpPlan<'m>> {
    let density = model.density_dependent();
    let (starts, _) = schedule.breakpoints(run.t_end, 1_000_000)?;
    let mut points: Vec<f64> = starts
        .into_iter()
        .chain(run.record_times.iter().copied())
        .chain([0.0, run.t_end])
        .filter(|&t| (0.0..=run.t_end).contains(&t))
        .collect();
    points.sort_by(f64::total_cmp);
    points.dedup();
    let mut steps = Vec::new();
    let mut keys: HashMap<(usize, u64), usize> = HashMap::new();
    let mut laws = Vec::new();
    let mut rates_of: HashMap<usize, LinearRates> = HashMap::new();
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let pieces = ((b - a) / config.step * (1.0 - 1e-12)).ceil().max(1.0);
        if steps.len() as f64 + pieces > MAX_STEPS as f64 {
            return Err(EngineError::InvalidRun(format!(
                "jump_step = {} gives more than {MAX_STEPS} steps up to t_end = {}",
                config.step, run.t_end
            )));
        }
        let exposure = schedule.segment_at(a)?.exposure;
        let length = (b - a) / pieces;
        let key = (exposure, length.to_bits() >> 12);
        let law = if density {
            usize::MAX
        } else if let Some(&law) = keys.get(&key) {
            law
        } else {
            let rates = if let Some(r) = rates_of.get(&exposure) {
                r.clone()
            } else {
                let r = LinearRates::from_model(model, exposure).map_err(|e| jump_error(a, &e))?;
                rates_of.insert(exposure, r.clone());
                r
            };
            laws.push(
                StepLaw::new(rates, length, config.tolerance, config.threshold)
                    .map_err(|e| jump_error(a, &e))?,
            );
            keys.insert(key, laws.len() - 1);
            laws.len() - 1
        };
        let n = pieces as usize;
        for i in 0..n {
            let start = a + length * i as f64;
            let end = if i + 1 == n {
                b
            } else {
                a + length * (i + 1) as f64
            };
            steps.push(GridStep {
                start,
                end,
                length,
                exposure,
                law,
            });
        }
    }
    let density = density.then(|| {
        DensityLaws::new(
            model,
            config.density_predictor,
            config.density_quantum,
            config.tolerance,
            config.threshold,
        )
    });
    Ok(JumpPlan {
        steps,
        laws,
        density,
    })
}

/// What the mean-field path of a density-dependent run says about its approximation (the
/// output attributes `max_rate_change_per_step` and `density_rate_error`); `None` for a linear
/// model. Checks the run as [`run_ensemble_jump`] does.
pub fn density_report(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    config: &JumpConfig,
) -> Result<Option<DensityReport>> {
    validate(model, dosing, run)?;
    config.validate()?;
    let schedule = check_supported(model, dosing, run)?;
    if !model.density_dependent() {
        return Ok(None);
    }
    let plan = plan(model, schedule, run, config)?;
    Ok(Some(DensityReport::along_path(
        model,
        config.density_predictor,
        config.density_quantum,
        &run.initial,
        plan.steps.iter().map(|s| (s.exposure, s.length)),
    )))
}

/// Run an ensemble with exact jumps (see the module docs). `cancel` stops it with
/// [`EngineError::Cancelled`]; `done` counts finished replicates.
pub fn run_ensemble_jump(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    spec: &EnsembleSpec,
    config: &JumpConfig,
    cancel: &AtomicBool,
    done: &AtomicU64,
) -> Result<EnsembleOutput> {
    validate(model, dosing, run)?;
    config.validate()?;
    let schedule = check_supported(model, dosing, run)?;
    let plan = plan(model, schedule, run, config)?;
    run_replicates(model, run, spec, false, done, |_, index, recorder, _| {
        simulate_jumps(
            &plan,
            schedule,
            dosing,
            run,
            &spec.seed_key,
            index,
            recorder,
            cancel,
        )
    })
}

/// Sum of counts, saturating (a sum past `u64::MAX` is past every cap).
fn total(counts: &[u64]) -> u64 {
    counts.iter().fold(0u64, |acc, &n| acc.saturating_add(n))
}

/// One replicate over the grid.
#[allow(clippy::too_many_arguments)]
fn simulate_jumps(
    plan: &JumpPlan<'_>,
    schedule: &Schedule,
    dosing: &Dosing,
    run: &RunConfig,
    seed_key: &[u8; 32],
    index: u64,
    recorder: &mut Recorder<'_>,
    cancel: &AtomicBool,
) -> Result<Outcome> {
    let (mut rng, _) = replicate_streams(seed_key, index);
    let drug = ScheduleDrug(schedule);
    let mut counts = run.initial.clone();
    let first = schedule.segment(0).exposure;
    let mut history = History::new(&dosing.treating, first, None, &counts, f64::NAN);
    let cap = run.population_cap().min(JUMP_POPULATION_LIMIT);
    let mut scratch = StepScratch::default();
    let mut density_scratch = plan.density.as_ref().map(DensityLaws::scratch);
    let mut events = 0u64;
    let finish = |history: &mut History<'_>, t: f64, status: Status, events: u64| {
        let mut outcome = history.close(t, status);
        outcome.n_events = events;
        outcome
    };
    recorder.record_through(0.0, &counts, &drug);
    if total(&counts) == 0 {
        recorder.finish(Some(&counts), &drug);
        return Ok(finish(&mut history, 0.0, Status::Extinct, 0));
    }
    if total(&counts) >= cap {
        recorder.finish(None, &drug);
        return Ok(finish(&mut history, 0.0, Status::MaxPopulation, 0));
    }
    for step in &plan.steps {
        if cancel.load(Ordering::Relaxed) {
            return Err(EngineError::Cancelled);
        }
        history.switch(step.start, step.exposure);
        let advanced = match (&plan.density, &mut density_scratch) {
            (Some(laws), Some(density_scratch)) => laws.advance(
                &mut counts,
                step.exposure,
                step.start,
                step.length,
                &mut rng,
                density_scratch,
                &mut scratch,
            ),
            _ => plan.laws[step.law].advance(&mut counts, step.start, &mut rng, &mut scratch),
        };
        let log = match advanced {
            Ok(log) => log,
            Err(JumpError::TooLarge { .. }) => {
                recorder.finish(None, &drug);
                return Ok(finish(
                    &mut history,
                    step.start,
                    Status::MaxPopulation,
                    events,
                ));
            }
            Err(e) => return Err(jump_error(step.start, &e)),
        };
        events += log.lineages.events;
        if log.lineages.first_emission.is_finite() {
            history.mutation(log.lineages.first_emission);
        }
        let t = step.end;
        let n = total(&counts);
        if n == 0 {
            // Every cell simulated one by one: the last event was the last death.
            let when = if log.jumped {
                t
            } else {
                log.lineages.last_event
            };
            recorder.finish(Some(&counts), &drug);
            return Ok(finish(&mut history, when, Status::Extinct, events));
        }
        if n >= cap {
            recorder.record_through(t, &counts, &drug);
            recorder.finish(None, &drug);
            return Ok(finish(&mut history, t, Status::MaxPopulation, events));
        }
        recorder.record_through(t, &counts, &drug);
    }
    Ok(finish(&mut history, run.t_end, Status::Completed, events))
}
