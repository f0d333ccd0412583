//! Who decides the exposure in force: a fixed schedule, or an adaptive rule that watches the cells.
//! The event loop asks the controller for its next check time (a breakpoint, visit or timer) and,
//! for adaptive rules, tells it about every event.

use crate::schedule::{Schedule, Segment};

/// A promise of a controller that reacts to events: it changes nothing after an event while the
/// monitored burden `sum_i weights[i] * count[i]` stays strictly inside `(low, high)`.
pub struct BurdenBand<'a> {
    pub weights: &'a [f64],
    pub low: f64,
    pub high: f64,
}

pub trait Controller {
    /// Whether `after_event` can ever change the exposure (lets the fixed case skip the call).
    const REACTS_TO_EVENTS: bool;
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
        self.schedule.segment_at(t).exposure
    }
}
