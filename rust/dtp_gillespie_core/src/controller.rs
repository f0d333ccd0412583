//! Who decides the exposure in force: a fixed schedule, or an adaptive rule that watches the cells
//! or a biomarker. The event loop asks the controller for its next check time (a breakpoint,
//! visit, timer or biomarker crossing) and, for adaptive rules, tells it about every event. A
//! model's biomarker is followed by the controller too ([`Tracked`] for controllers that do not
//! watch it), so that the recorder can read it at record times.

use crate::biomarker::{Biomarker, Track};
use crate::schedule::{Schedule, Segment};

/// A promise of a controller that reacts to events: it changes nothing after an event while the
/// monitored burden `sum_i weights[i] * count[i]` stays strictly inside `(low, high)`.
pub struct BurdenBand<'a> {
    pub weights: &'a [f64],
    pub low: f64,
    pub high: f64,
}

pub trait Controller {
    /// Whether `after_event` must be called (lets the fixed case skip the call).
    const REACTS_TO_EVENTS: bool;
    /// Whether `next_check` may change after any event, not only after checks and switches (a
    /// biomarker crossing computed from the current counts): the loop then re-reads it after
    /// every event.
    const CHECKS_MOVE: bool = false;
    fn exposure(&self) -> usize;
    /// Next time at which the controller acts by itself; infinity if never.
    fn next_check(&self) -> f64;
    /// Act at time `next_check()`; true if the exposure changed.
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
}

/// Any controller, plus the model's biomarker (followed after every event and switch so that it
/// can be recorded). The exposure decisions are the inner controller's.
pub struct Tracked<'a, C> {
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
