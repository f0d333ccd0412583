//! One replicate under a fixed schedule, as the event loop (`event_loop::simulate_replicate`)
//! runs it, but resumable at the hot loop: [`FixedReplicate::advance`] runs the outer loop until
//! it would call the hot loop (`burst`) and returns the burst's limits instead, so that SIMD
//! lanes can fire that burst's events; the lane then hands the burst's end back to `advance`.
//!
//! This is the event loop specialised to what the lanes take (a [`FixedController`], no
//! observer, no progression, no density dependence, no biomarker, the hot loop allowed): every
//! step is the event loop's, in the same order, with the same shared pieces (`stop`, `install`,
//! `next_event_time`, `early_stop`, `burst`), so its draws and arithmetic are the event loop's.
//! Tests compare the two on every replicate.

use std::sync::atomic::AtomicBool;

use crate::burst::{self, BurstEnd, Limits, NoLog, Records, Unwatched, burst};
use crate::controller::{Always, Candidate, Controller, FixedController};
use crate::error::Result;
use crate::event_loop::{CancelPoll, install, stop};
use crate::model::{Model, PhaseRates};
use crate::record::{Exposure, Recorder};
use crate::rng::ReplicateRng;
use crate::run::RunConfig;
use crate::schedule::Schedule;
use crate::ssa::{Cells, History, Outcome, Status, early_stop, next_event_time};

/// Where [`FixedReplicate::advance`] picks up the event loop.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Resume {
    /// The top of the event loop (after setup, or after a check).
    Top,
    /// Just after a burst that ended so.
    AfterBurst(BurstEnd),
}

/// What the event loop does next.
pub(crate) enum Next {
    /// Call the hot loop with these limits and this pending waiting time.
    Burst(Limits, Option<f64>),
    /// The replicate stopped.
    Stopped(Outcome),
}

/// A replicate's event-loop state, between calls of [`FixedReplicate::advance`].
pub(crate) struct FixedReplicate<'a> {
    model: &'a Model,
    run: &'a RunConfig,
    controller: FixedController<'a>,
    pub cells: Cells,
    pub rates: PhaseRates,
    pub history: History<'a>,
    pub recorder: Recorder<'a>,
    pub rng: ReplicateRng,
    poll: CancelPoll<'a>,
    pub t: f64,
    horizon: f64,
    pending: Option<f64>,
    pub max_population: u64,
    /// Set up at time 0 already stopped (extinct, or a cap reached at once).
    stopped: Option<Outcome>,
}

impl<'a> FixedReplicate<'a> {
    /// The event loop's setup of one replicate.
    pub fn new(
        model: &'a Model,
        schedule: &'a Schedule,
        treating: &'a [bool],
        run: &'a RunConfig,
        rng: ReplicateRng,
        mut recorder: Recorder<'a>,
        cancel: &'a AtomicBool,
    ) -> Self {
        let mut controller = FixedController::new(schedule);
        let mut cells = Cells::new(&run.initial);
        let mut rates = PhaseRates::new(model);
        let mut history = History::new(
            treating,
            controller.exposure(),
            None,
            cells.states(),
            controller.biomarker_at(0.0),
        );
        let max_population = run.population_cap();
        let mut stopped = None;
        let horizon = controller.next_check().min(run.t_end);
        if let Some(status) = early_stop(cells.total, 0, run, max_population) {
            let (counts, h, c) = (cells.states(), &mut history, &mut controller);
            stopped = Some(stop(status, 0.0, counts, &mut recorder, c, h));
        } else {
            install(&mut controller, model, &mut rates, &mut cells, 0.0, horizon);
        }
        Self {
            model,
            run,
            controller,
            cells,
            rates,
            history,
            recorder,
            rng,
            poll: CancelPoll::new(cancel),
            t: 0.0,
            horizon,
            pending: None,
            max_population,
            stopped,
        }
    }

    /// The exposure in force (for the recorder, as the event loop's `InForce`).
    pub fn exposure(&self) -> Exposure {
        Exposure(self.controller.exposure())
    }

    /// The stop tail with `status` at `t`.
    fn stop(&mut self, status: Status, t: f64) -> Next {
        let (counts, h, c) = (self.cells.states(), &mut self.history, &mut self.controller);
        Next::Stopped(stop(status, t, counts, &mut self.recorder, c, h))
    }

    /// Run the event loop from `resume` until it calls the hot loop or the replicate stops.
    pub fn advance(&mut self, mut resume: Resume) -> Result<Next> {
        if let Some(outcome) = self.stopped.take() {
            return Ok(Next::Stopped(outcome));
        }
        'events: loop {
            'event: {
                match resume {
                    Resume::Top => {
                        self.poll.pass()?;
                        if burst::fits(&self.cells) {
                            let n_events = self.history.n_events();
                            let limits =
                                Limits::new(self.horizon, n_events, self.run, self.max_population);
                            return Ok(Next::Burst(limits, self.pending.take()));
                        }
                    }
                    Resume::AfterBurst(BurstEnd::Limit(t_next)) => self.pending = Some(t_next),
                    Resume::AfterBurst(BurstEnd::Check) => {
                        self.poll.now()?;
                        break 'event;
                    }
                    Resume::AfterBurst(BurstEnd::Overflow) => {}
                }
                resume = Resume::Top;
                let a0 = self.cells.a0();
                if !a0.is_finite() {
                    return Ok(self.stop(Status::RateOverflow, self.t));
                }
                let t_next = next_event_time(self.pending.take(), self.t, a0, &mut self.rng);
                if t_next >= self.horizon {
                    let check = self.controller.next_check();
                    if check > self.run.t_end {
                        return Ok(self.stop(Status::Completed, self.run.t_end));
                    }
                    self.recorder
                        .record_before(check, self.cells.states(), &self.exposure());
                    self.t = check;
                    let changed = self.controller.at_check(check, self.cells.states());
                    self.horizon = self.controller.next_check().min(self.run.t_end);
                    if changed {
                        self.history.switch(check, self.controller.exposure());
                        let (c, r, cells) =
                            (&mut self.controller, &mut self.rates, &mut self.cells);
                        install(c, self.model, r, cells, check, self.horizon);
                    } else {
                        self.pending = Some(t_next);
                    }
                    continue 'events;
                }
                self.recorder
                    .record_before(t_next, self.cells.states(), &self.exposure());
                self.t = t_next;
                let drawn = Candidate {
                    model: self.model,
                    cells: &self.cells,
                    rates: &self.rates,
                    a0,
                    t: t_next,
                };
                let Some(pick) = self.controller.choose(&drawn, &mut self.rng) else {
                    continue 'events;
                };
                self.cells.fire(&pick, &self.rates);
                self.history
                    .event(t_next, pick.is_mutation, self.cells.states());
            }
            resume = Resume::Top;
            let (total, n_events) = (self.cells.total, self.history.n_events());
            if let Some(status) = early_stop(total, n_events, self.run, self.max_population) {
                return Ok(self.stop(status, self.t));
            }
        }
    }

    /// The scalar hot loop (`burst`) from the current state, with `pending` already drawn.
    pub fn burst(&mut self, pending: Option<f64>, limits: Limits) -> BurstEnd {
        let drug = self.exposure();
        let records = &mut Records {
            recorder: &mut self.recorder,
            drug: &drug,
        };
        burst(
            &mut self.cells,
            &self.rates,
            &mut self.rng,
            &mut self.t,
            pending,
            limits,
            &mut self.history,
            records,
            &Unwatched,
            &Always,
            &mut NoLog,
        )
    }

    /// Run to the end on the scalar path from `resume`.
    pub fn finish(&mut self, mut resume: Resume) -> Result<Outcome> {
        loop {
            match self.advance(resume)? {
                Next::Stopped(outcome) => return Ok(outcome),
                Next::Burst(limits, pending) => {
                    resume = Resume::AfterBurst(self.burst(pending, limits));
                }
            }
        }
    }
}
