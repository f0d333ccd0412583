//! Adaptive (state-triggered) dosing: rules that switch the exposure when the monitored burden
//! crosses a threshold, with hysteresis, checked after every event (continuous monitoring) or at
//! visit times `k * check_every`.
//!
//! Continuous monitoring is exact because counts, and so the burden, change only at events: the
//! exposure switches at the event whose new burden crossed the threshold, and the next waiting time
//! is drawn with the new rates (memorylessness, as at schedule breakpoints). Rules that wait for a
//! time in the current exposure (`after`, `min_time`) add their due times as breakpoints.
//!
//! The monitored quantity may instead be the model's biomarker (`monitor_biomarker`), which moves
//! continuously between events. Its next crossing of any threshold of the rules out of the current
//! exposure is known in closed form ([`crate::biomarker`]) and is a breakpoint; it is recomputed
//! after every event (the controller's checks move with events). At the crossing the biomarker
//! equals the threshold exactly, so rounding cannot skip or repeat a switch.

use crate::biomarker::{Biomarker, Track};
use crate::controller::{BurdenBand, Controller, accept_every_candidate};
use crate::error::{EngineError, Result};
use crate::model::{Model, weighted_count};

/// What relative thresholds are multiplied by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    /// The burden at time 0.
    Initial,
    /// The burden when a treating exposure is first in force (undefined before).
    TreatmentStart,
    /// The burden at the most recent switch (at time 0 before any).
    LastSwitch,
    /// Thresholds are in cells.
    Absolute,
}

/// When in a replicate's history a rule may apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    /// Always.
    #[default]
    Any,
    /// Only until a treating exposure has first been in force (e.g. start at detection).
    BeforeTreatment,
    /// Only once a treating exposure has been in force (e.g. a maximum holiday).
    AfterTreatment,
}

/// One transition: from `from` to `to` when every given condition holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub from: usize,
    pub to: usize,
    /// Burden `<= below * reference`.
    pub below: Option<f64>,
    /// Burden `>= above * reference`.
    pub above: Option<f64>,
    /// `below` and `above` are in cells, whatever the reference.
    pub absolute: bool,
    /// Time in the current exposure `>= after`.
    pub after: Option<f64>,
    /// Time in the current exposure `>= min_time`.
    pub min_time: f64,
    pub phase: Phase,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveSpec {
    pub initial_exposure: usize,
    /// Burden `sum_i w_i n_i` (ignored when `monitor_biomarker`).
    pub monitor_weights: Vec<f64>,
    /// Watch the model's biomarker instead of a burden of cells (thresholds in its units).
    pub monitor_biomarker: bool,
    pub reference: Reference,
    /// 0: continuous monitoring; otherwise the interval between visits.
    pub check_every: f64,
    pub rules: Vec<Rule>,
}

impl AdaptiveSpec {
    pub fn validate(&self, n_states: usize, n_exposures: usize) -> Result<()> {
        let bad = |msg: String| Err(EngineError::InvalidSchedule(msg));
        if self.initial_exposure >= n_exposures {
            return bad(format!(
                "initial exposure {} is not an exposure of the model",
                self.initial_exposure
            ));
        }
        if self.monitor_weights.len() != n_states
            || self
                .monitor_weights
                .iter()
                .any(|w| !w.is_finite() || *w < 0.0)
        {
            return bad(format!(
                "monitor weights must be {n_states} finite values >= 0, got {:?}",
                self.monitor_weights
            ));
        }
        if !self.check_every.is_finite() || self.check_every < 0.0 {
            return bad(format!(
                "check_every is {}; it must be finite and >= 0",
                self.check_every
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.from >= n_exposures || r.to >= n_exposures {
                return bad(format!(
                    "rule {i} names an exposure outside 0..{n_exposures}"
                ));
            }
            let thresholds = [r.below, r.above, r.after].into_iter().flatten();
            if thresholds
                .chain([r.min_time])
                .any(|x| !x.is_finite() || x < 0.0)
            {
                return bad(format!(
                    "rule {i} has a threshold or time that is negative or not finite"
                ));
            }
            if r.below.is_none() && r.above.is_none() && r.after.is_none() {
                return bad(format!("rule {i} has no condition (below, above or after)"));
            }
        }
        Ok(())
    }
}

/// `Some(burden)` if it is positive: a reference of 0 makes every relative threshold 0.
fn positive(burden: f64) -> Option<f64> {
    (burden > 0.0).then_some(burden)
}

impl Reference {
    /// The Python layer's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::TreatmentStart => "treatment_start",
            Self::LastSwitch => "last_switch",
            Self::Absolute => "absolute",
        }
    }
}

impl AdaptiveSpec {
    /// Refuse a run whose reference is taken at t = 0 from a monitored burden of 0 (reference
    /// `initial` or `last_switch`, or `treatment_start` with a treating initial exposure) and
    /// that has relative thresholds: a reference is never taken from a burden of 0 (see
    /// `evaluate`), so those rules could never act. `initial` are the run's initial counts in
    /// `model`'s states (its biomarker is read when the spec monitors it).
    pub fn check_start(&self, treating: &[bool], initial: &[u64], model: &Model) -> Result<()> {
        let biomarker = model.biomarker();
        let at_start = match self.reference {
            Reference::Initial | Reference::LastSwitch => true,
            Reference::TreatmentStart => treating.get(self.initial_exposure) == Some(&true),
            Reference::Absolute => false,
        };
        let relative = self
            .rules
            .iter()
            .any(|r| !r.absolute && (r.below.is_some() || r.above.is_some()));
        if !at_start || !relative {
            return Ok(());
        }
        let when = if self.reference == Reference::TreatmentStart {
            "treatment is on from t = 0, so the reference is the monitored burden at t = 0"
        } else {
            "the reference is the monitored burden at t = 0"
        };
        let (start, what) = if let Some(b) = biomarker.filter(|_| self.monitor_biomarker) {
            let y0 = Track::new(b, initial, self.initial_exposure).value_at(0.0);
            let given = b
                .initial
                .map_or_else(|| "'steady'".to_string(), |y| y.to_string());
            let what = format!(
                "the biomarker starts at 0 (biomarker initial {given}, initial counts {initial:?})"
            );
            (y0, what)
        } else {
            let monitored: Vec<String> = (0..self.monitor_weights.len())
                .filter(|&i| self.monitor_weights[i] > 0.0)
                .map(|i| model.state_label(i))
                .collect();
            let counts: Vec<String> = initial
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{} {n}", model.state_label(i)))
                .collect();
            let what = format!(
                "the monitored states ({}) all start with 0 cells (initial counts: {})",
                monitored.join(", "),
                counts.join(", ")
            );
            (weighted_count(&self.monitor_weights, initial), what)
        };
        if start > 0.0 {
            return Ok(());
        }
        Err(EngineError::InvalidSchedule(format!(
            "adaptive reference '{}': {when}, and {what}. A reference of 0 would make every \
             relative threshold 0 and the exposure flip at every check, so none is taken and \
             the rules with relative thresholds could never act. Start with cells in a \
             monitored state (or a positive biomarker), monitor other states, or use reference \
             = 'absolute' (thresholds in cells) or start = {{detect = size}}",
            self.reference.name()
        )))
    }
}

/// The adaptive controller of one replicate. With `BIOMARKER`, the monitored value is the model's
/// biomarker (and the controller follows it); otherwise a burden of cells.
pub struct AdaptiveController<'a, const BIOMARKER: bool = false> {
    spec: &'a AdaptiveSpec,
    /// The biomarker (present exactly when `BIOMARKER`).
    track: Option<Track<'a>>,
    treating: &'a [bool],
    exposure: usize,
    entered_at: f64,
    reference: Option<f64>,
    /// Time of the latest check (visit or timer), so that a timer is never due twice.
    last_check: f64,
    next_visit: u64,
    /// Has a treating exposure been in force yet?
    treated: bool,
    /// No burden rule out of the current exposure can hold while `low < burden < high`: the
    /// common case after an event is decided with two comparisons.
    low: f64,
    high: f64,
}

impl<'a> AdaptiveController<'a, false> {
    /// A controller that watches the burden of cells.
    #[must_use]
    pub fn new(spec: &'a AdaptiveSpec, treating: &'a [bool], counts: &[u64]) -> Self {
        Self::build(spec, treating, counts, None)
    }
}

impl<'a> AdaptiveController<'a, true> {
    /// A controller that watches `biomarker` (the spec must have `monitor_biomarker`).
    #[must_use]
    pub fn watching(
        spec: &'a AdaptiveSpec,
        treating: &'a [bool],
        counts: &[u64],
        biomarker: &'a Biomarker,
    ) -> Self {
        debug_assert!(spec.monitor_biomarker);
        let track = Track::new(biomarker, counts, spec.initial_exposure);
        Self::build(spec, treating, counts, Some(track))
    }
}

impl<'a, const BIOMARKER: bool> AdaptiveController<'a, BIOMARKER> {
    fn build(
        spec: &'a AdaptiveSpec,
        treating: &'a [bool],
        counts: &[u64],
        track: Option<Track<'a>>,
    ) -> Self {
        let burden = match &track {
            Some(track) => track.value_at(0.0),
            None => Self::burden_of(spec, counts),
        };
        // A reference is only ever taken from a positive burden (see `evaluate`).
        let reference = match spec.reference {
            Reference::Initial | Reference::LastSwitch => positive(burden),
            Reference::TreatmentStart if treating[spec.initial_exposure] => positive(burden),
            Reference::TreatmentStart => None,
            Reference::Absolute => Some(1.0),
        };
        let mut controller = Self {
            spec,
            track,
            treating,
            exposure: spec.initial_exposure,
            entered_at: 0.0,
            reference,
            last_check: f64::NEG_INFINITY,
            next_visit: 0,
            treated: treating[spec.initial_exposure],
            low: f64::INFINITY,
            high: f64::NEG_INFINITY,
        };
        controller.refresh_band();
        controller
    }

    /// The scale of a rule's thresholds: 1 for absolute ones, else the reference (if defined).
    fn scale(&self, rule: &Rule) -> Option<f64> {
        if rule.absolute || self.spec.reference == Reference::Absolute {
            Some(1.0)
        } else {
            self.reference
        }
    }

    /// The rules out of the current exposure that may apply now, with the scale of their
    /// thresholds (rules whose scale is not defined yet are left out), in the spec's order.
    fn scaled_rules_out(&self) -> impl Iterator<Item = (&Rule, f64)> {
        self.spec
            .rules
            .iter()
            .filter(|r| r.from == self.exposure && self.in_phase(r))
            .filter_map(|r| self.scale(r).map(|scale| (r, scale)))
    }

    /// Recompute the band of burdens in which no burden rule out of the current exposure holds.
    fn refresh_band(&mut self) {
        let (mut low, mut high) = (f64::NEG_INFINITY, f64::INFINITY);
        for (rule, scale) in self.scaled_rules_out() {
            if let Some(below) = rule.below {
                low = low.max(below * scale);
            }
            if let Some(above) = rule.above {
                high = high.min(above * scale);
            }
        }
        (self.low, self.high) = (low, high);
    }

    /// The next time the biomarker reaches a threshold of a rule out of the current exposure,
    /// and that threshold (infinity if none is ahead).
    fn crossing_ahead(&self) -> (f64, f64) {
        let Some(track) = &self.track else {
            return (f64::INFINITY, f64::NAN);
        };
        let mut best = (f64::INFINITY, f64::NAN);
        for (rule, scale) in self.scaled_rules_out() {
            for level in [rule.below, rule.above].into_iter().flatten() {
                let level = level * scale;
                let t = track.crossing(level);
                if t < best.0 {
                    best = (t, level);
                }
            }
        }
        best
    }

    /// The monitored value at `t` with `counts`: the biomarker, or the burden of cells.
    #[inline]
    fn monitored(&self, t: f64, counts: &[u64]) -> f64 {
        if BIOMARKER && let Some(track) = &self.track {
            return track.value_at(t);
        }
        Self::burden_of(self.spec, counts)
    }

    fn burden_of(spec: &AdaptiveSpec, counts: &[u64]) -> f64 {
        weighted_count(&spec.monitor_weights, counts)
    }

    fn in_phase(&self, rule: &Rule) -> bool {
        match rule.phase {
            Phase::Any => true,
            Phase::BeforeTreatment => !self.treated,
            Phase::AfterTreatment => self.treated,
        }
    }

    fn holds(&self, rule: &Rule, t: f64, burden: f64) -> bool {
        if !self.in_phase(rule) {
            return false;
        }
        let scale = self.scale(rule);
        let below_ok = match (rule.below, scale) {
            (None, _) => true,
            (Some(x), Some(s)) => burden <= x * s,
            (Some(_), None) => false,
        };
        let above_ok = match (rule.above, scale) {
            (None, _) => true,
            (Some(x), Some(s)) => burden >= x * s,
            (Some(_), None) => false,
        };
        below_ok
            && above_ok
            && rule.after.is_none_or(|a| t >= self.entered_at + a)
            && t >= self.entered_at + rule.min_time
    }

    /// Apply the first rule that holds; true if the exposure changed.
    fn evaluate(&mut self, t: f64, counts: &[u64]) -> bool {
        let burden = self.monitored(t, counts);
        let Some(rule) = self
            .spec
            .rules
            .iter()
            .find(|r| r.from == self.exposure && self.holds(r, t, burden))
        else {
            return false;
        };
        let to = rule.to;
        self.entered_at = t;
        // A switch at a monitored burden of 0 leaves the reference as it was: a reference of 0
        // would make every relative threshold 0, so that `above` holds at once and the
        // exposure flips at every check (chattering). Under `last_switch` the previous
        // (positive) reference stays; under `treatment_start` it stays undefined, and rules with
        // relative thresholds wait, until a later switch into a treating exposure at a positive
        // burden.
        match self.spec.reference {
            Reference::LastSwitch if burden > 0.0 => self.reference = Some(burden),
            Reference::TreatmentStart
                if self.reference.is_none() && self.treating[to] && burden > 0.0 =>
            {
                self.reference = Some(burden);
            }
            _ => {}
        }
        let changed = to != self.exposure;
        self.exposure = to;
        self.treated |= self.treating[to];
        self.refresh_band();
        changed
    }

    /// Apply rules until none holds: a switch may make the next one hold at once (a chain of
    /// levels), but rules that bounce between exposures are cut off after one pass.
    fn settle(&mut self, t: f64, counts: &[u64]) -> bool {
        let start = self.exposure;
        for _ in 0..=self.spec.rules.len() {
            if !self.evaluate(t, counts) {
                break;
            }
        }
        let changed = self.exposure != start;
        if BIOMARKER && changed {
            // The production may depend on the exposure.
            if let Some(track) = &mut self.track {
                track.update(t, counts, self.exposure);
            }
        }
        changed
    }

    fn continuous(&self) -> bool {
        self.spec.check_every == 0.0
    }
}

impl<const BIOMARKER: bool> Controller for AdaptiveController<'_, BIOMARKER> {
    const REACTS_TO_EVENTS: bool = true;
    const CHECKS_MOVE: bool = BIOMARKER;
    accept_every_candidate!();

    fn exposure(&self) -> usize {
        self.exposure
    }

    fn next_check(&self) -> f64 {
        if !self.continuous() {
            return self.next_visit as f64 * self.spec.check_every;
        }
        if self.last_check == f64::NEG_INFINITY {
            return 0.0; // the initial check
        }
        let crossing = if BIOMARKER {
            self.crossing_ahead().0
        } else {
            f64::INFINITY
        };
        // Timers of the rules out of the current exposure that are still ahead.
        self.spec
            .rules
            .iter()
            .filter(|r| r.from == self.exposure && self.in_phase(r))
            .flat_map(|r| [r.after, (r.min_time > 0.0).then_some(r.min_time)])
            .flatten()
            .map(|d| self.entered_at + d)
            .filter(|&due| due > self.last_check)
            .fold(crossing, f64::min)
    }

    fn at_check(&mut self, t: f64, counts: &[u64]) -> bool {
        if BIOMARKER && self.continuous() && self.last_check != f64::NEG_INFINITY {
            let (due, level) = self.crossing_ahead();
            if t >= due
                && let Some(track) = &mut self.track
            {
                track.set(t, level);
            }
        }
        self.last_check = t;
        if !self.continuous() {
            self.next_visit += 1;
        }
        self.settle(t, counts)
    }

    #[inline]
    fn after_event(&mut self, t: f64, counts: &[u64]) -> bool {
        if BIOMARKER && let Some(track) = &mut self.track {
            track.update(t, counts, self.exposure);
        }
        if !self.continuous() {
            return false;
        }
        // Rules with only timers are decided at their due times (checks), not here.
        let burden = self.monitored(t, counts);
        if self.low < burden && burden < self.high {
            return false;
        }
        self.settle(t, counts)
    }

    fn exposure_after_stop(&self, _t: f64) -> usize {
        self.exposure
    }

    fn quiet_band(&self) -> Option<BurdenBand<'_>> {
        if BIOMARKER {
            // The biomarker's next crossing moves with every event: show them all.
            return None;
        }
        // Visits decide everything at check times; between them no event can switch.
        let (low, high) = if self.continuous() {
            (self.low, self.high)
        } else {
            (f64::NEG_INFINITY, f64::INFINITY)
        };
        Some(BurdenBand {
            weights: &self.spec.monitor_weights,
            low,
            high,
        })
    }

    fn biomarker_at(&self, t: f64) -> f64 {
        self.track
            .as_ref()
            .map_or(f64::NAN, |track| track.value_at(t))
    }

    fn biomarker_rise(&self, level: f64) -> f64 {
        self.track
            .as_ref()
            .map_or(f64::INFINITY, |track| track.rise(level))
    }

    fn biomarker_after_extinction(&self, t: f64, stop: f64) -> f64 {
        self.track
            .as_ref()
            .map_or(f64::NAN, |track| track.after_extinction(t, stop))
    }
}
