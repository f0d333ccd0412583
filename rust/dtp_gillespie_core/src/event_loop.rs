//! The one outer event loop: every replicate, under any [`Controller`] (a fixed schedule, an
//! adaptive rule, pharmacokinetic dosing, with or without a biomarker), runs here.
//!
//! Each pass of the loop either lets the hot loop ([`crate::burst`]) fire a run of events, or
//! draws one candidate itself: a waiting time at the installed total rate `a0`, then
//!
//! - at or beyond the next check (or `t_end`): the candidate is discarded, the clock moves to
//!   the check and the controller acts; if its rates change they are installed and a fresh
//!   waiting time is drawn, otherwise the drawn one stays valid (memorylessness, see
//!   [`crate::ssa`]);
//! - before it: the controller chooses the event (the direct method's pick, thinned under
//!   pharmacokinetic dosing, see [`crate::pk`]), the cells change, the history books it, and
//!   the controller may react (adaptive rules).
//!
//! Setup, recording, the stop tail (extinction, caps, overflow, `t_end`) and the cancellation
//! poll exist only here.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::burst::{self, BurstEnd, Limits, Records, Unwatched, burst};
use crate::controller::{Candidate, Controller};
use crate::error::{EngineError, Result};
use crate::model::{Model, PhaseRates};
use crate::record::{Drug, Recorder};
use crate::rng::ReplicateRng;
use crate::run::RunConfig;
use crate::ssa::{
    CANCEL_CHECK_EVERY, Cells, History, Observer, Outcome, Status, early_stop, next_event_time,
};

/// What a controller has in force between events, for the recorder.
struct InForce<'c, C>(&'c C);

impl<C: Controller> Drug for InForce<'_, C> {
    #[inline]
    fn exposure_at(&self, _: f64) -> usize {
        self.0.exposure()
    }
    #[inline]
    fn concentration_at(&self, t: f64) -> f64 {
        self.0.concentration_at(t)
    }
    #[inline]
    fn biomarker_at(&self, t: f64) -> f64 {
        self.0.biomarker_at(t)
    }
}

/// What a controller reports for record times after a replicate stopped at the given time.
struct AfterStop<'c, C>(&'c C, f64);

impl<C: Controller> Drug for AfterStop<'_, C> {
    fn exposure_at(&self, t: f64) -> usize {
        self.0.exposure_after_stop(t)
    }
    fn concentration_at(&self, t: f64) -> f64 {
        self.0.concentration_at(t)
    }
    fn biomarker_at(&self, t: f64) -> f64 {
        self.0.biomarker_after_extinction(t, self.1)
    }
}

/// Looks at the cancellation flag now and then: every [`CANCEL_CHECK_EVERY`] passes of the loop
/// (events, rejected candidates, checks), and after every burst that stopped to be looked at
/// (which fires or rejects at most that many candidates).
pub(crate) struct CancelPoll<'a> {
    flag: &'a AtomicBool,
    passes: u64,
}

impl<'a> CancelPoll<'a> {
    pub(crate) fn new(flag: &'a AtomicBool) -> Self {
        Self { flag, passes: 0 }
    }

    #[inline]
    pub(crate) fn pass(&mut self) -> Result<()> {
        self.passes += 1;
        if self.passes % CANCEL_CHECK_EVERY == 0 {
            self.now()
        } else {
            Ok(())
        }
    }

    #[inline]
    pub(crate) fn now(&self) -> Result<()> {
        if self.flag.load(Ordering::Relaxed) {
            Err(EngineError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Put the controller's rates from `t` until `horizon` in force for `cells`.
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn install<C: Controller>(
    controller: &mut C,
    model: &Model,
    rates: &mut PhaseRates,
    cells: &mut Cells,
    t: f64,
    horizon: f64,
) {
    controller.install(model, rates, cells.states(), t, horizon);
    cells.refresh(rates);
}

/// Progression on the biomarker up to `t` (see [`History::watch_biomarker`]).
#[inline]
fn watch_biomarker<C: Controller>(history: &mut History<'_>, t: f64, controller: &C) {
    history.watch_biomarker(
        t,
        |level| controller.biomarker_rise(level),
        |t| controller.biomarker_at(t),
    );
}

/// The stop tail: record what is known after the replicate stopped at `t` with `status`, and
/// close its history and the controller's account.
pub(crate) fn stop<C: Controller>(
    status: Status,
    t: f64,
    counts: &[u64],
    recorder: &mut Recorder<'_>,
    controller: &mut C,
    history: &mut History<'_>,
) -> Outcome {
    match status {
        Status::Completed => {
            recorder.record_through(t, counts, &InForce(&*controller));
            watch_biomarker(history, t, &*controller);
        }
        // Extinction is absorbing: the counts stay 0.
        Status::Extinct => recorder.finish(Some(counts), &AfterStop(&*controller, t)),
        Status::MaxEvents | Status::MaxPopulation | Status::RateOverflow => {
            recorder.record_through(t, counts, &InForce(&*controller));
            recorder.finish(None, &AfterStop(&*controller, t));
        }
    }
    let outcome = history.close(t, status);
    controller.close(t, status, outcome)
}

/// Simulate one replicate from `run.initial` to `run.t_end`, extinction, or a cap, under the
/// exposure, rates and acceptance `controller` puts in force, writing the record grid through
/// `recorder` and every event to `observer`. `cancel` stops it with [`EngineError::Cancelled`].
pub(crate) fn simulate_replicate<C: Controller, O: Observer>(
    model: &Model,
    controller: &mut C,
    treating: &[bool],
    run: &RunConfig,
    rng: &mut ReplicateRng,
    recorder: &mut Recorder<'_>,
    observer: &mut O,
    cancel: &AtomicBool,
) -> Result<Outcome> {
    let mut cells = Cells::new(&run.initial);
    let mut rates = PhaseRates::new(model);
    let density_dependent = model.density_dependent();
    let mut history = History::new(
        treating,
        controller.exposure(),
        run.progression.as_ref(),
        cells.states(),
        controller.biomarker_at(0.0),
    );
    let mut t = 0.0_f64;
    let max_population = run.population_cap();
    let mut poll = CancelPoll {
        flag: cancel,
        passes: 0,
    };
    observer.start(cells.states(), controller.exposure());

    if let Some(status) = early_stop(cells.total, 0, run, max_population) {
        let (counts, h) = (cells.states(), &mut history);
        return Ok(stop(status, 0.0, counts, recorder, controller, h));
    }

    let mut horizon = controller.next_check().min(run.t_end);
    install(controller, model, &mut rates, &mut cells, t, horizon);
    // A waiting time drawn before a check that changed nothing stays valid after it: given no
    // event before the check, the residual time is again exponential with the same rate.
    let mut pending: Option<f64> = None;
    // Runs of events with nothing to do between them go through the hot loop (same draws).
    let use_burst = !density_dependent
        && !run.force_general_loop
        && run.progression.is_none()
        && !O::OBSERVES
        && (!C::REACTS_TO_EVENTS || controller.quiet_band().is_some());
    'events: loop {
        poll.pass()?;
        'event: {
            if use_burst && burst::fits(&cells) {
                let limits = Limits::new(horizon, history.n_events(), run, max_population);
                let (now, h) = (pending.take(), &mut history);
                let (drug, accept) = (InForce(&*controller), controller.acceptance());
                let records = &mut Records {
                    recorder,
                    drug: &drug,
                };
                let end = match controller.quiet_band() {
                    Some(band) => burst(
                        &mut cells, &rates, rng, &mut t, now, limits, h, records, &band, &accept,
                    ),
                    None => burst(
                        &mut cells, &rates, rng, &mut t, now, limits, h, records, &Unwatched,
                        &accept,
                    ),
                };
                match end {
                    BurstEnd::Limit(t_next) => pending = Some(t_next),
                    BurstEnd::Check => {
                        poll.now()?;
                        break 'event;
                    }
                    BurstEnd::Overflow => {}
                }
            }
            let a0 = cells.a0();
            if !a0.is_finite() {
                let (counts, h) = (cells.states(), &mut history);
                return Ok(stop(
                    Status::RateOverflow,
                    t,
                    counts,
                    recorder,
                    controller,
                    h,
                ));
            }
            let t_next = next_event_time(pending.take(), t, a0, rng);

            if t_next >= horizon {
                let check = controller.next_check();
                if check > run.t_end {
                    let (counts, h) = (cells.states(), &mut history);
                    return Ok(stop(
                        Status::Completed,
                        run.t_end,
                        counts,
                        recorder,
                        controller,
                        h,
                    ));
                }
                // Move to the check and let the controller act; if the rates change, the draw is
                // discarded and a new one made with the new rates (module docs of `ssa`).
                recorder.record_before(check, cells.states(), &InForce(&*controller));
                t = check;
                watch_biomarker(&mut history, t, &*controller);
                let changed = controller.at_check(t, cells.states());
                horizon = controller.next_check().min(run.t_end);
                if changed {
                    history.switch(t, controller.exposure());
                    if C::SHOWS_SWITCHES {
                        observer.switch(t, controller.exposure());
                    }
                    install(controller, model, &mut rates, &mut cells, t, horizon);
                } else {
                    pending = Some(t_next);
                }
                continue 'events;
            }

            recorder.record_before(t_next, cells.states(), &InForce(&*controller));
            t = t_next;
            watch_biomarker(&mut history, t, &*controller);
            let drawn = Candidate {
                model,
                cells: &cells,
                rates: &rates,
                a0,
                t,
            };
            let Some(pick) = controller.choose(&drawn, rng) else {
                // A rejected candidate: nothing happens at `t`, but bounds that depend on the
                // counts are tightened from `t` on.
                if density_dependent {
                    install(controller, model, &mut rates, &mut cells, t, horizon);
                }
                continue 'events;
            };
            cells.fire(&pick, &rates);
            history.event(t, pick.is_mutation, cells.states());
            observer.event(
                t,
                pick.channel as usize,
                cells.states(),
                controller.exposure(),
            );
        }

        if let Some(status) = early_stop(cells.total, history.n_events(), run, max_population) {
            let (counts, h) = (cells.states(), &mut history);
            return Ok(stop(status, t, counts, recorder, controller, h));
        }
        let switched = C::REACTS_TO_EVENTS && controller.after_event(t, cells.states());
        if switched {
            history.switch(t, controller.exposure());
            if C::SHOWS_SWITCHES {
                observer.switch(t, controller.exposure());
            }
        }
        if switched || C::CHECKS_MOVE {
            horizon = controller.next_check().min(run.t_end);
        }
        if switched || density_dependent {
            install(controller, model, &mut rates, &mut cells, t, horizon);
        }
    }
}
