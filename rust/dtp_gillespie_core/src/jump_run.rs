//! `method = "jump"`: replicates of a model under a fixed schedule or adaptive rules, advanced over
//! a step grid by population jumps ([`crate::jump::StepLaw`]; exact for a linear model) instead of event by event.
//!
//! **The grid.** Its points are 0, every schedule breakpoint (or adaptive visit) before `t_end`,
//! every record time and `t_end`; each gap between two points is cut into the fewest equal steps no longer than the
//! configured step. Rates are constant over each step, so each step is exact in law. A step's
//! law depends only on its exposure and length: one [`StepLaw`] per pair (lengths within a
//! relative 2^-40 share one), built before the replicates and shared by them.
//!
//! **What is exact.** The counts at every grid point (so at every record time), the exposure
//! history, `first_mutant_time` (every mutation event's time is simulated), extinction and its
//! time (the event regime's last death, or inside a jumped step a draw from the law of the
//! extinction time given the step's outcome, [`crate::jump::StepLaw::extinction_time`]).
//! **Step-resolved**: the time of reaching `max_population` (reported as the end of the step). `n_events` counts only the events simulated one by one (pools in the
//! event regime and emitting lineages), not the events jumped over.
//!
//! **Density dependence** (a capacity or competition) is an approximation, labelled
//! `jump+density(midpoint)`: each step freezes the rates at the step's mean-field midpoint
//! ([`crate::jump::density`]), except a step in which no pool is jumped, which is exact SSA with
//! the rates recomputed after every event. Its laws are built per rounded crowding, on first use.
//! Under adaptive rules each replicate's controller puts each step's exposure in force, as on a
//! linear model, and the step's law is the density law under that exposure.
//!
//! **Adaptive rules checked at visits** (`check_every > 0`) are exact too: such rules act only at
//! the visits `k · check_every`, from the counts there ([`AdaptiveController`]; in visit mode its
//! timers `after` and `min_time` are also read only at visits). The visits are grid points, so
//! each replicate asks its controller at every grid point, lets it act there, and steps on under
//! the exposure it put in force. The grid is shared by every replicate; the exposure of a step is
//! each replicate's own, so a law is built per (exposure the rules can put in force, step length)
//! before the replicates.
//!
//! **Continuous monitoring** (`check_every = 0`) is an approximation, labelled
//! `jump+monitor(step)` by the Python layer: the burden is read at the end of every step (steps
//! no longer than the configured step, `Δ_min`), and a timer due inside a step acts at its end.
//! The grid is the same as under a fixed schedule without breakpoints, so no new step lengths.
//!
//! **Pharmacokinetic dosing** is exact too. Without missed doses every replicate has the same
//! concentration path, so the doses and the times the drug turns off (its exposure's on/off
//! crossings) are grid points, and each step's law is the time-dependent law from its start's
//! concentration ([`StepRates::pk`]: the Riccati systems and the tables follow the decaying
//! concentration; small pools and lineages are thinned at the step's rate bounds), built before
//! the replicates, one per (start concentration, step length); a step whose rates do not move
//! shares the law of its constant rates. Each replicate doses through the same clock as exact
//! SSA (`thinning::DoseClock`: exposure, concentration, areas under the curves).
//!
//! **Refused** (typed errors naming the cause): a biomarker, progression, an event cap, pk dosing
//! on a density-dependent model, and pk dosing with missed doses (each replicate would have its
//! own concentration path, and so its own step laws).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::adaptive::{AdaptiveController, AdaptiveSpec};
use crate::controller::Controller;
use crate::dosing::{Dosing, DosingKind};
use crate::ensemble::{EnsembleOutput, EnsembleSpec, run_replicates, validate};
use crate::error::{EngineError, Result};
use crate::jump::cache;
use crate::jump::density::{DEFAULT_QUANTUM, MeanPath};
use crate::jump::{
    DensityLaws, DensityReport, JumpError, LinearRates, MAX_EXACT_COUNT, Predictor, RegimeCounts,
    RegimeTally, StepLaw, StepRates, StepScratch,
};
use crate::model::Model;
use crate::pk::PkSpec;
use crate::record::{Drug, Recorder};
use crate::rng::{DoseRng, ReplicateRng, replicate_streams};
use crate::run::RunConfig;
use crate::schedule::Schedule;
use crate::ssa::{History, Outcome, Status};
use crate::thinning::DoseClock;

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
    /// The exposure in force (a fixed schedule's; under adaptive rules each replicate's own).
    exposure: usize,
    /// The row of [`JumpPlan::law_rows`] of the step's length.
    row: usize,
    /// Under pk dosing, the step's own law in [`JumpPlan::laws`] (else [`NO_LAW`]).
    law: usize,
}

/// No law built for this exposure and step length.
const NO_LAW: usize = usize::MAX;

/// The grid and the laws of its steps, shared by every replicate: one law per (exposure, step
/// length) for a linear model (`law_rows[step.row][exposure]` indexes `laws`); for a
/// density-dependent one, laws built on first use per rounded crowding (`density`, and `laws` is
/// empty).
struct JumpPlan<'m> {
    steps: Vec<GridStep>,
    laws: Vec<Arc<StepLaw>>,
    law_rows: Vec<Vec<usize>>,
    density: Option<DensityLaws<'m>>,
}

impl JumpPlan<'_> {
    /// The law of `step` under `exposure` (built by [`plan`] for every exposure that can be in
    /// force over it).
    fn law(&self, step: &GridStep, exposure: usize) -> &StepLaw {
        if step.law != NO_LAW {
            return &self.laws[step.law];
        }
        &self.laws[self.law_rows[step.row][exposure]]
    }
}

/// Who puts each step's exposure in force.
#[derive(Clone, Copy)]
enum Pacing<'d> {
    /// A fixed schedule: every step's exposure is known before the run.
    Fixed(&'d Schedule),
    /// Adaptive rules: each replicate's exposure follows its own counts at the visits
    /// (`check_every > 0`, exact), or at the end of every step (continuous monitoring, the
    /// approximation `jump+monitor(step)`).
    Rules(&'d AdaptiveSpec),
    /// Pharmacokinetic dosing without missed doses: the same concentration path in every
    /// replicate.
    Pk(&'d PkSpec),
}

impl Pacing<'_> {
    /// The exposures that may be in force over a step starting at `start`.
    fn exposures(&self, n_exposures: usize, start: f64) -> Result<Vec<usize>> {
        match self {
            Self::Fixed(schedule) => Ok(vec![schedule.segment_at(start)?.exposure]),
            Self::Rules(spec) => {
                let mut reach = vec![false; n_exposures];
                reach[spec.initial_exposure] = true;
                for rule in &spec.rules {
                    reach[rule.to] = true;
                }
                Ok((0..n_exposures).filter(|&e| reach[e]).collect())
            }
            // Pk steps have their own laws ([`pk_laws`]).
            Self::Pk(_) => Ok(Vec::new()),
        }
    }
}

/// The visits `k · check_every` up to `t_end`, computed as the controller computes them (so the
/// grid has exactly its check times).
fn visits(spec: &AdaptiveSpec, t_end: f64) -> Result<Vec<f64>> {
    if t_end / spec.check_every > MAX_STEPS as f64 {
        return Err(EngineError::InvalidRun(format!(
            "adaptive check_every = {} gives more than {MAX_STEPS} visits up to t_end = {t_end}",
            spec.check_every
        )));
    }
    let mut points = Vec::new();
    let mut k = 0u64;
    loop {
        let t = k as f64 * spec.check_every;
        if t > t_end {
            return Ok(points);
        }
        points.push(t);
        k += 1;
    }
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
fn check_supported<'d>(model: &Model, dosing: &'d Dosing, run: &RunConfig) -> Result<Pacing<'d>> {
    if model.biomarker().is_some() {
        return Err(EngineError::InvalidModel(
            "method 'jump' does not simulate a biomarker; use method 'ssa'".into(),
        ));
    }
    let pacing = match &dosing.kind {
        DosingKind::Fixed(schedule) => Pacing::Fixed(schedule),
        DosingKind::Adaptive(spec) => Pacing::Rules(spec),
        DosingKind::Pk(_) if model.density_dependent() => {
            return Err(EngineError::InvalidSchedule(
                "method 'jump' runs pk dosing on linear models only (this model has a capacity \
                 or competition); use method 'ssa'"
                    .into(),
            ));
        }
        DosingKind::Pk(spec) if spec.missed_dose_probability > 0.0 => {
            return Err(EngineError::InvalidSchedule(format!(
                "missed_dose_probability is {}; method 'jump' runs pk dosing without missed \
                 doses only (each replicate would have its own concentration path, and so its \
                 own step laws); use method 'ssa'",
                spec.missed_dose_probability
            )));
        }
        DosingKind::Pk(spec) => Pacing::Pk(spec),
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
    Ok(pacing)
}

/// The step grid of a run and a law per (exposure that may be in force, step length).
fn plan<'m>(
    model: &'m Model,
    pacing: Pacing<'_>,
    run: &RunConfig,
    config: &JumpConfig,
) -> Result<JumpPlan<'m>> {
    let density = model.density_dependent();
    let n_exposures = model.n_exposures();
    let starts = match pacing {
        Pacing::Fixed(schedule) => schedule.breakpoints(run.t_end, 1_000_000)?.0,
        Pacing::Rules(spec) if spec.check_every > 0.0 => visits(spec, run.t_end)?,
        // Continuous monitoring: the burden is read at the end of every step.
        Pacing::Rules(_) => Vec::new(),
        Pacing::Pk(spec) => pk_breakpoints(spec, run.t_end)?,
    };
    let mut points: Vec<f64> = starts
        .into_iter()
        .chain(run.record_times.iter().copied())
        .chain([0.0, run.t_end])
        .filter(|&t| (0.0..=run.t_end).contains(&t))
        .collect();
    points.sort_by(f64::total_cmp);
    points.dedup();
    let mut steps = Vec::new();
    // Lengths within a relative 2^-40 share a row, and an (exposure, row) one law.
    let mut rows: HashMap<u64, usize> = HashMap::new();
    let mut law_rows: Vec<Vec<usize>> = Vec::new();
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
        let exposures = pacing.exposures(n_exposures, a)?;
        let length = (b - a) / pieces;
        let row = *rows.entry(length.to_bits() >> 12).or_insert_with(|| {
            law_rows.push(vec![NO_LAW; n_exposures]);
            law_rows.len() - 1
        });
        for &exposure in exposures.iter().filter(|_| !density) {
            if law_rows[row][exposure] != NO_LAW {
                continue;
            }
            let rates = if let Some(r) = rates_of.get(&exposure) {
                r.clone()
            } else {
                let r = LinearRates::from_model(model, exposure).map_err(|e| jump_error(a, &e))?;
                rates_of.insert(exposure, r.clone());
                r
            };
            laws.push(
                cache::step_law(rates, length, config.tolerance, config.threshold)
                    .map_err(|e| jump_error(a, &e))?,
            );
            law_rows[row][exposure] = laws.len() - 1;
        }
        // A fixed schedule's exposure; under adaptive rules each replicate has its own; under
        // pk dosing set with the step's law ([`pk_laws`]).
        let exposure = match pacing {
            Pacing::Fixed(_) => exposures[0],
            Pacing::Rules(_) | Pacing::Pk(_) => NO_LAW,
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
                row,
                law: NO_LAW,
            });
        }
    }
    if let Pacing::Pk(spec) = pacing {
        pk_laws(model, spec, config, &mut steps, &mut laws)?;
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
        law_rows,
        density,
    })
}

/// A dose clock that takes every dose (the plan's, not a replicate's: without missed doses the
/// dose stream is never read).
fn planning_clock(spec: &PkSpec) -> DoseClock<'_> {
    DoseClock::new(spec, replicate_streams(&[0; 32], 0).1)
}

/// Cross every breakpoint of `clock` at or before `t` (doses and the drug turning off are grid
/// points, so those due are exactly at `t`).
fn cross_through(clock: &mut DoseClock<'_>, t: f64) {
    while clock.next_time() <= t {
        let at = clock.next_time();
        clock.cross(at);
    }
}

/// The doses and the times the drug turns off, up to `t_end`: the breakpoints of exact SSA's
/// dose clock, the same in every replicate without missed doses.
fn pk_breakpoints(spec: &PkSpec, t_end: f64) -> Result<Vec<f64>> {
    let mut clock = planning_clock(spec);
    let mut points = Vec::new();
    while clock.next_time() <= t_end {
        if points.len() >= MAX_STEPS {
            return Err(EngineError::InvalidRun(format!(
                "the pk schedule has more than {MAX_STEPS} doses and crossings up to t_end = \
                 {t_end}"
            )));
        }
        let t = clock.next_time();
        points.push(t);
        clock.cross(t);
    }
    Ok(points)
}

/// Under pk dosing, each step's exposure and law: the time-dependent law from the concentration
/// at its start (after any dose there), one per (start concentration, step length), and steps
/// whose rates do not move over them (no drug, or too little to move a rate) share the law of
/// their constant rates. The solves are made here; the tables on first use.
fn pk_laws(
    model: &Model,
    spec: &PkSpec,
    config: &JumpConfig,
    steps: &mut [GridStep],
    laws: &mut Vec<Arc<StepLaw>>,
) -> Result<()> {
    let mut clock = planning_clock(spec);
    let mut by_start: HashMap<(u64, u64), usize> = HashMap::new();
    let mut by_rates: HashMap<(Vec<u64>, u64), usize> = HashMap::new();
    for step in steps {
        cross_through(&mut clock, step.start);
        step.exposure = clock.exposure_at(step.start);
        let c_start = clock.concentration_at(step.start);
        let length_key = step.length.to_bits() >> 12;
        if let Some(&law) = by_start.get(&(c_start.to_bits(), length_key)) {
            step.law = law;
            continue;
        }
        let rates = StepRates::pk(model, spec, c_start, step.length)
            .map_err(|e| jump_error(step.start, &e))?;
        let constant_key = (!rates.varies()).then(|| {
            let bounds = rates.bounds();
            let bits = (0..bounds.n_types())
                .flat_map(|x| bounds.channels(x).iter().map(|c| c.rate.to_bits()))
                .collect::<Vec<u64>>();
            (bits, length_key)
        });
        let known = constant_key.as_ref().and_then(|k| by_rates.get(k).copied());
        step.law = if let Some(law) = known {
            law
        } else {
            let (tolerance, threshold) = (config.tolerance, config.threshold);
            // Constant rates go through the process's cache like a fixed schedule's; a
            // time-dependent law is this run's own.
            let law = if rates.varies() {
                StepLaw::with_rates(rates, step.length, tolerance, threshold).map(Arc::new)
            } else {
                cache::step_law(rates.bounds().clone(), step.length, tolerance, threshold)
            };
            laws.push(law.map_err(|e| jump_error(step.start, &e))?);
            laws.len() - 1
        };
        if let Some(key) = constant_key {
            by_rates.insert(key, step.law);
        }
        by_start.insert((c_start.to_bits(), length_key), step.law);
    }
    Ok(())
}

/// What the mean-field path of a density-dependent run says about its approximation (the
/// output attributes `max_rate_change_per_step` and `density_rate_error`); `None` for a linear
/// model. Checks the run as [`run_ensemble_jump`] does.
///
/// Under adaptive rules the path's exposures are the rules' own, applied to the path: a
/// controller asked at every grid point as a replicate's is, with the path's counts rounded to
/// whole cells. Replicates whose rules act at other visits take other paths; the report measures
/// this one (deterministic, so the same for any threads and blocks).
pub fn density_report(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    config: &JumpConfig,
) -> Result<Option<DensityReport>> {
    validate(model, dosing, run)?;
    config.validate()?;
    let pacing = check_supported(model, dosing, run)?;
    if !model.density_dependent() {
        return Ok(None);
    }
    let plan = plan(model, pacing, run, config)?;
    let mut path = MeanPath::new(
        model,
        config.density_predictor,
        config.density_quantum,
        &run.initial,
    );
    // pk dosing on a density-dependent model is refused above, so the dose stream is unused.
    let mut decider = Decider::new(pacing, dosing, run, replicate_streams(&[0; 32], 0).1);
    let mut history = History::new(
        &dosing.treating,
        decider.initial(),
        None,
        &run.initial,
        f64::NAN,
    );
    let mut counts = run.initial.clone();
    decider.check(0.0, &counts, &mut history);
    for step in &plan.steps {
        path.step(decider.exposure(step), step.length);
        if let Decider::Rules(_) = decider {
            for (c, &x) in counts.iter_mut().zip(path.counts()) {
                *c = x.round() as u64;
            }
            decider.check(step.end, &counts, &mut history);
        }
    }
    Ok(Some(path.report()))
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
    let pacing = check_supported(model, dosing, run)?;
    let plan = plan(model, pacing, run, config)?;
    let pk = matches!(pacing, Pacing::Pk(_));
    let tally = RegimeTally::new(model.n_states());
    let mut out = run_replicates(model, run, spec, pk, done, |_, index, recorder, _| {
        let (mut rng, dose_rng) = replicate_streams(&spec.seed_key, index);
        let mut decider = Decider::new(pacing, dosing, run, dose_rng);
        let mut regimes = RegimeCounts::new(model.n_states());
        let outcome = simulate_jumps(
            &plan,
            &mut decider,
            dosing,
            run,
            &mut rng,
            recorder,
            cancel,
            &mut regimes,
        );
        tally.add(&regimes);
        outcome
    })?;
    out.jump_regimes = Some(tally.into_counts());
    Ok(out)
}

/// Sum of counts, saturating (a sum past `u64::MAX` is past every cap).
fn total(counts: &[u64]) -> u64 {
    counts.iter().fold(0u64, |acc, &n| acc.saturating_add(n))
}

/// What decides one replicate's exposure: a fixed schedule, its own adaptive controller, or its
/// dose clock.
enum Decider<'a> {
    Fixed(&'a Schedule),
    Rules(AdaptiveController<'a>),
    Pk(Box<DoseClock<'a>>),
}

impl<'a> Decider<'a> {
    /// A replicate's decider: the schedule, a fresh controller of the rules, or a fresh dose
    /// clock on the replicate's dose stream.
    fn new(pacing: Pacing<'a>, dosing: &'a Dosing, run: &'a RunConfig, dose_rng: DoseRng) -> Self {
        match pacing {
            Pacing::Fixed(schedule) => Self::Fixed(schedule),
            Pacing::Rules(rules) => Self::Rules(AdaptiveController::new(
                rules,
                &dosing.treating,
                &run.initial,
            )),
            Pacing::Pk(spec) => Self::Pk(Box::new(DoseClock::new(spec, dose_rng))),
        }
    }

    /// The exposure at time 0 (before the controller's first check).
    fn initial(&self) -> usize {
        match self {
            Self::Fixed(schedule) => schedule.segment(0).exposure,
            Self::Rules(controller) => controller.exposure(),
            // Before the doses at 0 are taken, as in exact SSA.
            Self::Pk(clock) => clock.exposure_at(0.0),
        }
    }

    /// The exposure in force over `step`.
    fn exposure(&self, step: &GridStep) -> usize {
        match self {
            Self::Fixed(_) | Self::Pk(_) => step.exposure,
            Self::Rules(controller) => controller.exposure(),
        }
    }

    /// Let the controller act at the grid point `t` with `counts`, booking its switches in
    /// `history`. With visits, exactly as exact SSA lets it act at its check times (every visit
    /// is a grid point). With continuous monitoring, the approximation `jump+monitor(step)`: a
    /// timer due inside the step acts at its end, and the burden rules are read there (exact SSA
    /// reads them after every event).
    fn check(&mut self, t: f64, counts: &[u64], history: &mut History<'_>) {
        if let Self::Pk(clock) = self {
            // Doses and the drug turning off are grid points: those due are at `t`.
            cross_through(clock, t);
            history.switch(t, clock.exposure_at(t));
            return;
        }
        let Self::Rules(controller) = self else {
            return;
        };
        let mut switched = false;
        // A visit is due exactly at `t`; a timer of continuous monitoring at or before it.
        while controller.next_check() <= t {
            switched |= controller.at_check(t, counts);
        }
        // Continuous monitoring only: with visits the controller ignores it.
        switched |= controller.after_event(t, counts);
        if switched {
            history.switch(t, controller.exposure());
        }
    }
}

impl Decider<'_> {
    /// The outcome of a replicate that stopped at `t`, with the areas under the concentration
    /// and the response up to `t` under pk dosing.
    fn close(&mut self, t: f64, outcome: Outcome) -> Outcome {
        match self {
            Self::Pk(clock) => clock.finish(t, outcome),
            _ => outcome,
        }
    }
}

impl Drug for Decider<'_> {
    fn exposure_at(&self, t: f64) -> usize {
        match self {
            Self::Fixed(schedule) => ScheduleDrug(schedule).exposure_at(t),
            Self::Rules(controller) => controller.exposure(),
            Self::Pk(clock) => clock.exposure_at(t),
        }
    }
    fn concentration_at(&self, t: f64) -> f64 {
        match self {
            Self::Pk(clock) => clock.concentration_at(t),
            _ => 0.0,
        }
    }
}

/// One replicate over the grid; each completed step's pool regimes are added to `regimes`.
#[allow(clippy::too_many_arguments)]
fn simulate_jumps(
    plan: &JumpPlan<'_>,
    decider: &mut Decider<'_>,
    dosing: &Dosing,
    run: &RunConfig,
    rng: &mut ReplicateRng,
    recorder: &mut Recorder<'_>,
    cancel: &AtomicBool,
    regimes: &mut RegimeCounts,
) -> Result<Outcome> {
    let mut counts = run.initial.clone();
    let first = decider.initial();
    let mut history = History::new(&dosing.treating, first, None, &counts, f64::NAN);
    let cap = run.population_cap().min(JUMP_POPULATION_LIMIT);
    let mut scratch = StepScratch::default();
    let mut density_scratch = plan.density.as_ref().map(DensityLaws::scratch);
    let mut events = 0u64;
    let finish = |history: &mut History<'_>,
                  decider: &mut Decider<'_>,
                  t: f64,
                  status: Status,
                  events: u64| {
        let mut outcome = history.close(t, status);
        outcome.n_events = events;
        decider.close(t, outcome)
    };
    if total(&counts) == 0 {
        recorder.record_through(0.0, &counts, decider);
        recorder.finish(Some(&counts), decider);
        return Ok(finish(&mut history, decider, 0.0, Status::Extinct, 0));
    }
    if total(&counts) >= cap {
        recorder.record_through(0.0, &counts, decider);
        recorder.finish(None, decider);
        return Ok(finish(&mut history, decider, 0.0, Status::MaxPopulation, 0));
    }
    decider.check(0.0, &counts, &mut history);
    recorder.record_through(0.0, &counts, decider);
    for step in &plan.steps {
        if cancel.load(Ordering::Relaxed) {
            return Err(EngineError::Cancelled);
        }
        let exposure = decider.exposure(step);
        history.switch(step.start, exposure);
        let advanced = match (&plan.density, &mut density_scratch) {
            (Some(laws), Some(density_scratch)) => laws.advance(
                &mut counts,
                exposure,
                step.start,
                step.length,
                rng,
                density_scratch,
                &mut scratch,
            ),
            _ => plan
                .law(step, exposure)
                .advance(&mut counts, step.start, rng, &mut scratch),
        };
        let log = match advanced {
            Ok(log) => log,
            Err(JumpError::TooLarge { .. }) => {
                recorder.finish(None, decider);
                return Ok(finish(
                    &mut history,
                    decider,
                    step.start,
                    Status::MaxPopulation,
                    events,
                ));
            }
            Err(e) => return Err(jump_error(step.start, &e)),
        };
        regimes.commit(&mut scratch.regimes);
        events += log.lineages.events;
        if log.lineages.first_emission.is_finite() {
            history.mutation(log.lineages.first_emission);
        }
        let t = step.end;
        let n = total(&counts);
        if n == 0 {
            let when = log.extinct_at.unwrap_or(t);
            recorder.finish(Some(&counts), decider);
            return Ok(finish(&mut history, decider, when, Status::Extinct, events));
        }
        if n >= cap {
            recorder.record_through(t, &counts, decider);
            recorder.finish(None, decider);
            return Ok(finish(
                &mut history,
                decider,
                t,
                Status::MaxPopulation,
                events,
            ));
        }
        // The visits at `t` act before the record at `t`, as in exact SSA.
        decider.check(t, &counts, &mut history);
        recorder.record_through(t, &counts, decider);
    }
    Ok(finish(
        &mut history,
        decider,
        run.t_end,
        Status::Completed,
        events,
    ))
}
