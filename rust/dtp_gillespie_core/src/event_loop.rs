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
//!
//! The loop is resumable at the hot loop ([`EventLoop`]): `advance` runs it until it would fire
//! a burst and returns the burst's limits instead; the scalar path fires it with `burst` and
//! resumes, the SIMD lanes (`lanes`) fire it in a vector register. So the lanes share this loop
//! rather than copy it, and a replicate takes the same steps whichever path runs it.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::burst::{
    self, BurstEnd, EventBuffer, EventLog, Limits, NoLog, Records, Unwatched, burst,
};
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
        if self.passes.is_multiple_of(CANCEL_CHECK_EVERY) {
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

/// Events one burst fires at most when an observer sees them after it (`Observer::REPLAYABLE`):
/// the buffer (12 bytes an event) stays in the L1 cache, and a burst cut short by it costs one
/// pass of the general loop per this many events.
pub(crate) const REPLAY_CAPACITY: usize = 1024;

/// A burst of the hot loop under what `controller` has in force, watching its quiet band if it
/// has one, writing its events to `log`.
#[allow(clippy::too_many_arguments, clippy::inline_always)]
#[inline(always)]
fn burst_under<C: Controller, L: EventLog>(
    controller: &C,
    cells: &mut Cells,
    rates: &PhaseRates,
    rng: &mut ReplicateRng,
    t: &mut f64,
    pending: Option<f64>,
    limits: Limits,
    history: &mut History<'_>,
    recorder: &mut Recorder<'_>,
    log: &mut L,
) -> BurstEnd {
    let (drug, accept) = (InForce(controller), controller.acceptance());
    let records = &mut Records {
        recorder,
        drug: &drug,
    };
    let (c, r, h) = (cells, rates, history);
    match controller.quiet_band() {
        Some(band) => burst(
            c, r, rng, t, pending, limits, h, records, &band, &accept, log,
        ),
        None => burst(
            c, r, rng, t, pending, limits, h, records, &Unwatched, &accept, log,
        ),
    }
}

/// What an observer shown the hot loop's events after each burst needs (`Observer::REPLAYABLE`).
struct Replay {
    /// Room for the events of one burst.
    log: EventBuffer,
    /// Per channel, the slots of `counts` it takes a cell from and gives one to: its states, or
    /// the sink slot `n_states` (no branch on whether a channel has either).
    moves: Vec<(usize, usize)>,
    /// The counts as the replay moves them along, and the sink slot.
    counts: Vec<u64>,
}

impl Replay {
    fn new(model: &Model, capacity: usize) -> Self {
        let sink = model.n_states();
        let moves = model
            .channels()
            .iter()
            .map(|c| (c.dec.unwrap_or(sink), c.inc.unwrap_or(sink)))
            .collect();
        Self {
            log: EventBuffer::new(capacity),
            moves,
            counts: vec![0; sink + 1],
        }
    }

    /// Remember the counts before a burst.
    fn start(&mut self, counts: &[u64]) {
        self.counts[..counts.len()].copy_from_slice(counts);
    }

    /// Show `observer` the events of the last burst, in order, each with the counts after it
    /// (module docs of `burst`, [`Observer::REPLAYABLE`]), or all at once with `after`, the
    /// counts after the last ([`Observer::TAKES_BURSTS`]; without their times unless `with_times`).
    fn show<O: Observer>(
        &mut self,
        observer: &mut O,
        exposure: usize,
        after: &[u64],
        with_times: bool,
    ) {
        if O::TAKES_BURSTS {
            let (times, channels) = self.log.slices();
            let times = if with_times { times } else { &[] };
            observer.burst(times, channels, after, exposure);
            self.counts[..after.len()].copy_from_slice(after);
            return;
        }
        let n_states = self.counts.len() - 1;
        for (time, channel) in self.log.events() {
            let (dec, inc) = self.moves[channel as usize];
            self.counts[dec] = self.counts[dec].wrapping_sub(1);
            self.counts[inc] = self.counts[inc].wrapping_add(1);
            observer.event(time, channel as usize, &self.counts[..n_states], exposure);
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

/// Where [`EventLoop::advance`] picks up the loop.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Resume {
    /// The top of the loop (after setup, a check, or an event of the general loop).
    Top,
    /// Just after a burst of the hot loop that ended so.
    AfterBurst(BurstEnd),
}

/// What the event loop does next.
pub(crate) enum Next {
    /// Fire a burst of the hot loop with these limits and this pending waiting time (at the rates
    /// installed in [`EventLoop::rates`]), then resume with [`Resume::AfterBurst`].
    Burst(Limits, Option<f64>),
    /// The replicate stopped.
    Stopped(Outcome),
}

/// What a replicate's event loop works on without keeping it: the controller, the event
/// stream, the recorder and the observer. Lent to each call, so that the scalar loop and the
/// SIMD lanes (`lanes`) can each hold them as they need.
pub(crate) struct Parts<'p, 'r, C, O> {
    pub controller: &'p mut C,
    pub rng: &'p mut ReplicateRng,
    pub recorder: &'p mut Recorder<'r>,
    pub observer: &'p mut O,
}

/// One replicate's event loop, resumable at the hot loop: [`Self::advance`] runs the outer loop
/// until it would fire a burst ([`Next::Burst`]) or the replicate stops. The scalar loop
/// ([`simulate_replicate`]) fires each burst with [`Self::burst`]; the SIMD lanes fire it in a
/// vector register and hand the burst's end back. Either way the replicate takes the same steps
/// in the same order, so its trajectory does not depend on who fired its events.
pub(crate) struct EventLoop<'a> {
    model: &'a Model,
    run: &'a RunConfig,
    pub cells: Cells,
    pub rates: PhaseRates,
    pub history: History<'a>,
    /// Time of the last event or check.
    pub t: f64,
    /// The controller's next check, or `t_end`.
    horizon: f64,
    /// A waiting time drawn before a check that changed nothing: it stays valid after it (given no
    /// event before the check, the residual time is again exponential with the same rate).
    pending: Option<f64>,
    max_population: u64,
    density_dependent: bool,
    /// Runs of events with nothing to do between them go through the hot loop (same draws).
    use_burst: bool,
    /// An observer that can see the hot loop's events after each burst is shown them so.
    replay: Option<Replay>,
    poll: CancelPoll<'a>,
    /// Stopped at time 0 (extinct, or a cap reached at once): the first `advance` returns it.
    stopped: Option<Outcome>,
}

impl<'a> EventLoop<'a> {
    /// The setup of one replicate from `run.initial` at time 0: its history, the observer's
    /// start, the stop tail if it must stop at once, and the controller's first rates.
    pub fn new<C: Controller, O: Observer>(
        model: &'a Model,
        treating: &'a [bool],
        run: &'a RunConfig,
        parts: &mut Parts<'_, '_, C, O>,
        cancel: &'a AtomicBool,
    ) -> Self {
        let Parts {
            controller,
            recorder,
            observer,
            ..
        } = parts;
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
        let max_population = run.population_cap();
        observer.start(cells.states(), controller.exposure());
        let horizon = controller.next_check().min(run.t_end);
        let stopped = if let Some(status) = early_stop(cells.total, 0, run, max_population) {
            let (counts, h) = (cells.states(), &mut history);
            Some(stop(status, 0.0, counts, recorder, &mut **controller, h))
        } else {
            let (c, r) = (&mut **controller, &mut rates);
            install(c, model, r, &mut cells, 0.0, horizon);
            None
        };
        let use_burst = !density_dependent
            && !run.force_general_loop
            && run.progression.is_none()
            && (!O::OBSERVES || O::REPLAYABLE)
            && (!C::REACTS_TO_EVENTS || controller.quiet_band().is_some());
        let replaying = O::OBSERVES && O::REPLAYABLE;
        Self {
            model,
            run,
            cells,
            rates,
            history,
            t: 0.0,
            horizon,
            pending: None,
            max_population,
            density_dependent,
            use_burst,
            replay: replaying.then(|| Replay::new(model, REPLAY_CAPACITY)),
            poll: CancelPoll::new(cancel),
            stopped,
        }
    }

    /// The stop tail with `status` at `t`.
    fn stop<C: Controller, O>(
        &mut self,
        parts: &mut Parts<'_, '_, C, O>,
        status: Status,
        t: f64,
    ) -> Next {
        let (counts, h) = (self.cells.states(), &mut self.history);
        Next::Stopped(stop(status, t, counts, parts.recorder, parts.controller, h))
    }

    /// Run the event loop from `resume` until it calls the hot loop or the replicate stops. The
    /// cancellation flag given to [`Self::new`] stops it with [`EngineError::Cancelled`].
    #[inline]
    pub fn advance<C: Controller, O: Observer>(
        &mut self,
        parts: &mut Parts<'_, '_, C, O>,
        mut resume: Resume,
    ) -> Result<Next> {
        if let Some(outcome) = self.stopped.take() {
            return Ok(Next::Stopped(outcome));
        }
        let (model, run) = (self.model, self.run);
        'events: loop {
            'event: {
                match resume {
                    Resume::Top => {
                        self.poll.pass()?;
                        if self.use_burst && burst::fits(&self.cells) {
                            let n_events = self.history.n_events();
                            let limits =
                                Limits::new(self.horizon, n_events, run, self.max_population);
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
                    return Ok(self.stop(parts, Status::RateOverflow, self.t));
                }
                let t_next = next_event_time(self.pending.take(), self.t, a0, parts.rng);

                if t_next >= self.horizon {
                    let controller = &mut *parts.controller;
                    let check = controller.next_check();
                    if check > run.t_end {
                        return Ok(self.stop(parts, Status::Completed, run.t_end));
                    }
                    // Move to the check and let the controller act; if the rates change, the draw
                    // is discarded and a new one made with the new rates (module docs of `ssa`).
                    let counts = self.cells.states();
                    parts
                        .recorder
                        .record_before(check, counts, &InForce(&*controller));
                    self.t = check;
                    watch_biomarker(&mut self.history, check, &*controller);
                    let changed = controller.at_check(check, self.cells.states());
                    self.horizon = controller.next_check().min(run.t_end);
                    if changed {
                        self.history.switch(check, controller.exposure());
                        if C::SHOWS_SWITCHES {
                            parts.observer.switch(check, controller.exposure());
                        }
                        let (r, cells) = (&mut self.rates, &mut self.cells);
                        install(controller, model, r, cells, check, self.horizon);
                    } else {
                        self.pending = Some(t_next);
                    }
                    continue 'events;
                }

                let controller = &mut *parts.controller;
                let counts = self.cells.states();
                parts
                    .recorder
                    .record_before(t_next, counts, &InForce(&*controller));
                self.t = t_next;
                watch_biomarker(&mut self.history, t_next, &*controller);
                let drawn = Candidate {
                    model,
                    cells: &self.cells,
                    rates: &self.rates,
                    a0,
                    t: t_next,
                };
                let Some(pick) = controller.choose(&drawn, parts.rng) else {
                    // A rejected candidate: nothing happens at `t`, but bounds that depend on the
                    // counts are tightened from `t` on.
                    if self.density_dependent {
                        let (r, cells) = (&mut self.rates, &mut self.cells);
                        install(controller, model, r, cells, t_next, self.horizon);
                    }
                    continue 'events;
                };
                self.cells.fire(&pick, &self.rates);
                self.history
                    .event(t_next, pick.is_mutation, self.cells.states());
                let exposure = controller.exposure();
                let (channel, counts) = (pick.channel as usize, self.cells.states());
                parts.observer.event(t_next, channel, counts, exposure);
            }

            resume = Resume::Top;
            let (total, n_events) = (self.cells.total, self.history.n_events());
            if let Some(status) = early_stop(total, n_events, run, self.max_population) {
                return Ok(self.stop(parts, status, self.t));
            }
            let (t, controller) = (self.t, &mut *parts.controller);
            let switched = C::REACTS_TO_EVENTS && controller.after_event(t, self.cells.states());
            if switched {
                self.history.switch(t, controller.exposure());
                if C::SHOWS_SWITCHES {
                    parts.observer.switch(t, controller.exposure());
                }
            }
            if switched || C::CHECKS_MOVE {
                self.horizon = controller.next_check().min(run.t_end);
            }
            if switched || self.density_dependent {
                let (r, cells) = (&mut self.rates, &mut self.cells);
                install(controller, model, r, cells, t, self.horizon);
            }
        }
    }

    /// Fire the burst [`Self::advance`] asked for on the scalar hot loop, showing its events to
    /// a replayed observer.
    #[inline]
    pub fn burst<C: Controller, O: Observer>(
        &mut self,
        parts: &mut Parts<'_, '_, C, O>,
        pending: Option<f64>,
        limits: Limits,
    ) -> BurstEnd {
        let Parts {
            controller,
            rng,
            recorder,
            observer,
        } = parts;
        let (c, cells, r) = (&**controller, &mut self.cells, &self.rates);
        let (t, h) = (&mut self.t, &mut self.history);
        if let Some(replay) = self.replay.as_mut() {
            replay.start(cells.states());
            let log = &mut replay.log;
            let end = burst_under(c, cells, r, rng, t, pending, limits, h, recorder, log);
            replay.show(*observer, c.exposure(), cells.states(), true);
            debug_assert_eq!(&replay.counts[..cells.states().len()], cells.states());
            end
        } else {
            burst_under(
                c, cells, r, rng, t, pending, limits, h, recorder, &mut NoLog,
            )
        }
    }

    /// Before a burst fired elsewhere (the SIMD lanes): remember the counts a replayed observer's
    /// events start from.
    pub(crate) fn replay_start(&mut self) {
        if let Some(replay) = self.replay.as_mut() {
            replay.start(self.cells.states());
        }
    }

    /// Show a replayed observer `len` events fired elsewhere (the SIMD lanes), in firing order,
    /// as [`Self::burst`] shows it the hot loop's: `fill(horizon, times, channels)` writes their
    /// channels, and their times unless every event is at or before `horizon` (returning whether
    /// it wrote them; [`Observer::times_needed_after`]), at most the replay's capacity; then the
    /// observer sees them with the exposure in force and the counts after the last. Part of a
    /// burst may be shown at a time; the counts before the first are those of
    /// [`Self::replay_start`] or after the part shown last.
    pub(crate) fn show_events<O: Observer>(
        &mut self,
        observer: &mut O,
        exposure: usize,
        len: usize,
        fill: impl FnOnce(f64, &mut [f64], &mut [u32]) -> bool,
        after: &[u64],
    ) {
        let Some(replay) = self.replay.as_mut() else {
            return;
        };
        let horizon = if O::TAKES_BURSTS {
            observer.times_needed_after()
        } else {
            f64::NEG_INFINITY
        };
        let (times, channels) = replay.log.filled(len);
        let with_times = fill(horizon, times, channels);
        replay.show(observer, exposure, after, with_times);
    }

    /// Run the replicate to its end from `resume`, firing its bursts on the scalar hot loop.
    pub fn run_from<C: Controller, O: Observer>(
        &mut self,
        parts: &mut Parts<'_, '_, C, O>,
        mut resume: Resume,
    ) -> Result<Outcome> {
        loop {
            match self.advance(parts, resume)? {
                Next::Stopped(outcome) => return Ok(outcome),
                Next::Burst(limits, pending) => {
                    resume = Resume::AfterBurst(self.burst(parts, pending, limits));
                }
            }
        }
    }
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
    let mut parts = Parts {
        controller,
        rng,
        recorder,
        observer,
    };
    EventLoop::new(model, treating, run, &mut parts, cancel).run_from(&mut parts, Resume::Top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::FixedController;
    use crate::ensemble::Trace;
    use crate::model::{Channel, ChannelKind};
    use crate::rng::replicate_rng;
    use crate::schedule::Schedule;

    /// A [`Trace`] that may be shown the hot loop's events after each burst.
    #[derive(Default)]
    struct Replayed(Trace);

    impl Observer for Replayed {
        const OBSERVES: bool = true;
        const REPLAYABLE: bool = true;
        fn start(&mut self, counts: &[u64], exposure: usize) {
            self.0.start(counts, exposure);
        }
        fn event(&mut self, time: f64, channel: usize, counts: &[u64], exposure: usize) {
            self.0.event(time, channel, counts, exposure);
        }
        fn switch(&mut self, time: f64, exposure: usize) {
            self.0.switch(time, exposure);
        }
    }

    /// S (0) and P (1) over two exposures, with a mutant daughter into R (2).
    fn model() -> Model {
        use ChannelKind::{Death, Division, Switch};
        let channel = |source, dec, inc, kind, is_mutation| Channel {
            source,
            dec,
            inc,
            kind,
            is_mutation,
        };
        let table = [
            (channel(0, None, Some(0), Division, false), [0.04, 0.04]),
            (channel(0, None, Some(2), Division, true), [1e-3, 1e-3]),
            (channel(0, Some(0), None, Death, false), [0.01, 0.3]),
            (channel(0, Some(0), Some(1), Switch, false), [0.001, 0.01]),
            (channel(1, Some(1), Some(0), Switch, false), [0.05, 0.001]),
            (channel(1, Some(1), None, Death, false), [0.005, 0.005]),
            (channel(2, None, Some(2), Division, false), [0.035, 0.035]),
        ];
        let rates = (0..2)
            .flat_map(|e| table.iter().map(move |(_, r)| r[e]))
            .collect();
        let channels = table.iter().map(|(c, _)| c.clone()).collect();
        Model::new(3, 2, channels, rates, None).unwrap()
    }

    /// Replicate `index` of the model under 14 days on, 14 off, to `t_end`, seen by `observer`.
    fn simulate<O: Observer>(index: u64, max_events: u64, observer: &mut O) -> Outcome {
        let model = model();
        let schedule = Schedule::new(vec![0.0, 14.0], vec![1, 0], Some((0, 28.0))).unwrap();
        let times: Vec<f64> = (0..=60).map(f64::from).collect();
        let run = RunConfig {
            initial: vec![3000, 0, 0],
            record_times: times.clone(),
            t_end: 60.0,
            max_events,
            max_population: u64::MAX,
            progression: None,
            force_general_loop: false,
            lineages: None,
        };
        let (mut counts, mut exposure) = (vec![0; times.len() * 3], vec![0; times.len()]);
        let mut recorder = Recorder::new(&times, &mut counts, &mut exposure, None, 3);
        let mut rng = replicate_rng(&[5; 32], index);
        let mut controller = FixedController::new(&schedule);
        let cancel = AtomicBool::new(false);
        simulate_replicate(
            &model,
            &mut controller,
            &[false, true],
            &run,
            &mut rng,
            &mut recorder,
            observer,
            &cancel,
        )
        .unwrap()
    }

    #[test]
    fn a_replayed_observer_sees_every_event_as_the_general_loop_shows_it() {
        // Runs to t_end (bursts end at breakpoints and by the buffer's capacity), and runs stopped
        // by the event cap in the middle of a burst.
        for (index, max_events) in [(0, u64::MAX), (1, u64::MAX), (2, 5000), (3, 1)] {
            let mut general = Trace::default();
            let mut replayed = Replayed::default();
            let slow = simulate(index, max_events, &mut general);
            let fast = simulate(index, max_events, &mut replayed);
            assert!(general.time.len() > 1, "replicate {index} fired no event");
            assert_eq!(slow.hot_loop_events, 0);
            assert!(
                fast.hot_loop_events > fast.n_events / 2,
                "replicate {index}: the hot loop fired {} of {} events",
                fast.hot_loop_events,
                fast.n_events
            );
            let replayed = replayed.0;
            assert_eq!(replayed.time, general.time, "replicate {index}");
            assert_eq!(replayed.channel, general.channel);
            assert_eq!(replayed.counts, general.counts);
            assert_eq!(replayed.exposure, general.exposure);
            assert_eq!(replayed.switch_time, general.switch_time);
            assert_eq!(replayed.switch_exposure, general.switch_exposure);
            assert_eq!(
                (fast.status, fast.stop_time, fast.n_events),
                (slow.status, slow.stop_time, slow.n_events)
            );
        }
    }
}
