//! Who decides what is in force: a fixed schedule, an adaptive rule that watches the cells or a
//! biomarker, or pharmacokinetic dosing ([`crate::thinning`]). The one outer event loop
//! (`event_loop`) asks the controller for its next check time (a breakpoint, visit, timer,
//! biomarker crossing or dose), lets it act there, tells it about every event, asks it for the
//! rates to put in force and whether a candidate event happens. A model's biomarker is followed by
//! the controller too (`Tracked` for controllers that do not watch it), so that the recorder can
//! read it at record times.
//!
//! Controllers with piecewise-constant rates (fixed and adaptive) only decide the exposure: the
//! rate methods' defaults install that exposure's rates and accept every candidate. A controller
//! whose rates vary between checks (pharmacokinetic dosing) installs upper bounds instead and
//! thins the candidates drawn at them.

use crate::biomarker::{Biomarker, Track};
use crate::model::{Model, PhaseRates, Pick};
use crate::rng::{ReplicateRng, uniform};
use crate::schedule::{Schedule, Segment};
use crate::ssa::{Cells, Outcome, Status};

/// A promise of a controller that reacts to events: it changes nothing after an event while the
/// monitored burden `sum_i weights[i] * count[i]` stays strictly inside `(low, high)`.
pub struct BurdenBand<'a> {
    pub weights: &'a [f64],
    pub low: f64,
    pub high: f64,
}

/// Whether a candidate event happens: always under piecewise-constant rates; with probability
/// `rate(t) / bound` under thinning. The hot loop asks it for every candidate.
pub(crate) trait Accept {
    fn accept(&self, pick: &Pick, t: f64, rng: &mut ReplicateRng) -> bool;
}

/// Every candidate is an event.
pub(crate) struct Always;

impl Accept for Always {
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn accept(&self, _: &Pick, _: f64, _: &mut ReplicateRng) -> bool {
        true
    }
}

/// The acceptance of a controller with piecewise-constant rates, inside its `impl Controller`:
/// every candidate is an event.
macro_rules! accept_every_candidate {
    () => {
        type Acceptance<'a>
            = $crate::controller::Always
        where
            Self: 'a;

        fn acceptance(&self) -> $crate::controller::Always {
            $crate::controller::Always
        }
    };
}
pub(crate) use accept_every_candidate;

/// A candidate event drawn by the event loop: at `t`, from the total rate `a0` of the `rates`
/// installed for `cells`.
pub(crate) struct Candidate<'a> {
    pub model: &'a Model,
    pub cells: &'a Cells,
    pub rates: &'a PhaseRates,
    pub a0: f64,
    pub t: f64,
}

pub(crate) trait Controller {
    /// Whether `after_event` must be called (lets the fixed case skip the call).
    const REACTS_TO_EVENTS: bool;
    /// Whether `next_check` may change after any event, not only after checks and switches (a
    /// biomarker crossing computed from the current counts): the loop then re-reads it after
    /// every event.
    const CHECKS_MOVE: bool = false;
    /// Whether observers (event traces) are told of changes of the exposure. Pharmacokinetic
    /// dosing shows its exposure at every event and leaves the trace's switches empty (as
    /// documented for `trace`).
    const SHOWS_SWITCHES: bool = true;

    fn exposure(&self) -> usize;
    /// Next time at which the controller acts by itself; infinity if never.
    fn next_check(&self) -> f64;
    /// Act at time `next_check()`; true if the rates in force change (the exposure changed, or
    /// the rates are bounded afresh): the loop then installs them and draws a new waiting time.
    fn at_check(&mut self, t: f64, counts: &[u64]) -> bool;
    /// React to an event at `t`; true if the exposure changed.
    fn after_event(&mut self, t: f64, counts: &[u64]) -> bool;
    /// Exposure at a record time after the replicate stopped.
    fn exposure_after_stop(&self, t: f64) -> usize;
    /// For controllers that react to events: a band of the monitored burden inside which
    /// `after_event` changes nothing (`None`: no such promise, every event must be shown).
    fn quiet_band(&self) -> Option<BurdenBand<'_>> {
        None
    }
    /// The biomarker at `t` (between the last event and the next one); NaN without one.
    fn biomarker_at(&self, _t: f64) -> f64 {
        f64::NAN
    }
    /// The next time the biomarker rises to `level` with the current counts and exposure
    /// (infinity if it is falling, above `level` already, or there is no biomarker).
    fn biomarker_rise(&self, _level: f64) -> f64 {
        f64::INFINITY
    }
    /// The biomarker at a record time `t` after the population went extinct at `stop`.
    fn biomarker_after_extinction(&self, _t: f64, _stop: f64) -> f64 {
        f64::NAN
    }
    /// The drug concentration at a record time `t` (0 without pharmacokinetics).
    fn concentration_at(&self, _t: f64) -> f64 {
        0.0
    }

    /// Fill `rates` with the per-cell rates in force from `t` until `horizon` (the next check or
    /// `t_end`) with the cells `counts`: upper bounds of them if they vary in between. By default
    /// the rates of the current exposure.
    fn install(
        &mut self,
        model: &Model,
        rates: &mut PhaseRates,
        counts: &[u64],
        _t: f64,
        _horizon: f64,
    ) {
        let exposure = self.exposure();
        let base = model.rates_of(exposure);
        rates.fill_at(model, base, base, counts, exposure, true);
    }
    /// Whether a candidate drawn at the installed rates happens, until the next check or event
    /// ([`Always`] under piecewise-constant rates). A value of its own, so that the hot loop
    /// keeps what it needs at hand.
    type Acceptance<'a>: Accept
    where
        Self: 'a;
    fn acceptance(&self) -> Self::Acceptance<'_>;
    /// The event at `t` of a candidate drawn at total rate `a0` (the installed rates' total), or
    /// `None` if the candidate is rejected. By default the direct method's pick (one uniform), if
    /// accepted. The hot loop does not call it: a controller that overrides it must keep to runs
    /// the hot loop does not take (density dependence, for pharmacokinetic dosing).
    #[inline]
    fn choose(&mut self, drawn: &Candidate<'_>, rng: &mut ReplicateRng) -> Option<Pick> {
        let pick = *drawn.cells.select(drawn.rates, uniform(rng) * drawn.a0);
        self.acceptance()
            .accept(&pick, drawn.t, rng)
            .then_some(pick)
    }
    /// The outcome of a replicate that stopped at `t` with `status`, with what the controller
    /// accounts for (areas under the concentration); by default `outcome` as it is.
    fn close(&mut self, _t: f64, _status: Status, outcome: Outcome) -> Outcome {
        outcome
    }
}

/// A controller with piecewise-constant rates (fixed or adaptive), plus the model's biomarker
/// (followed after every event and switch so that it can be recorded). The exposure decisions are
/// the inner controller's; its rates are those of the exposure (the rate methods' defaults:
/// pharmacokinetic dosing, which installs its own, has no biomarker, see `Dosing::validate`).
pub(crate) struct Tracked<'a, C> {
    inner: C,
    track: Track<'a>,
}

impl<'a, C: Controller> Tracked<'a, C> {
    #[must_use]
    pub fn new(inner: C, biomarker: &'a Biomarker, counts: &[u64]) -> Self {
        let track = Track::new(biomarker, counts, inner.exposure());
        Self { inner, track }
    }
}

impl<C: Controller> Controller for Tracked<'_, C> {
    const REACTS_TO_EVENTS: bool = true;
    const CHECKS_MOVE: bool = C::CHECKS_MOVE;
    accept_every_candidate!();

    #[inline]
    fn exposure(&self) -> usize {
        self.inner.exposure()
    }

    #[inline]
    fn next_check(&self) -> f64 {
        self.inner.next_check()
    }

    fn at_check(&mut self, t: f64, counts: &[u64]) -> bool {
        let switched = self.inner.at_check(t, counts);
        if switched {
            self.track.update(t, counts, self.inner.exposure());
        }
        switched
    }

    #[inline]
    fn after_event(&mut self, t: f64, counts: &[u64]) -> bool {
        let switched = C::REACTS_TO_EVENTS && self.inner.after_event(t, counts);
        self.track.update(t, counts, self.inner.exposure());
        switched
    }

    fn exposure_after_stop(&self, t: f64) -> usize {
        self.inner.exposure_after_stop(t)
    }

    #[inline]
    fn biomarker_at(&self, t: f64) -> f64 {
        self.track.value_at(t)
    }

    fn biomarker_rise(&self, level: f64) -> f64 {
        self.track.rise(level)
    }

    fn biomarker_after_extinction(&self, t: f64, stop: f64) -> f64 {
        self.track.after_extinction(t, stop)
    }
}

/// A fixed schedule: the exposure changes only at segment boundaries.
pub struct FixedController<'a> {
    schedule: &'a Schedule,
    segment: Segment,
}

impl<'a> FixedController<'a> {
    #[must_use]
    pub fn new(schedule: &'a Schedule) -> Self {
        Self {
            schedule,
            segment: schedule.segment(0),
        }
    }
}

impl Controller for FixedController<'_> {
    const REACTS_TO_EVENTS: bool = false;
    accept_every_candidate!();

    #[inline]
    fn exposure(&self) -> usize {
        self.segment.exposure
    }

    #[inline]
    fn next_check(&self) -> f64 {
        self.segment.end
    }

    fn at_check(&mut self, _t: f64, _counts: &[u64]) -> bool {
        let before = self.segment.exposure;
        self.segment = self.schedule.segment(self.segment.index + 1);
        self.segment.exposure != before
    }

    #[inline]
    fn after_event(&mut self, _t: f64, _counts: &[u64]) -> bool {
        false
    }

    fn exposure_after_stop(&self, t: f64) -> usize {
        // A time beyond the last segment a 64-bit index numbers (t_end / period > 2^64, which
        // the Python layer refuses) keeps the exposure in force.
        self.schedule
            .segment_at(t)
            .map_or(self.segment.exposure, |s| s.exposure)
    }
}
