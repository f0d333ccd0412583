//! Options of one run: initial state, horizon, record grid and caps.

use crate::error::{EngineError, Result};
use crate::lineage::LineageSpec;
use crate::model::{Model, weighted_count};

#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    /// Cells of each state at time 0.
    pub initial: Vec<u64>,
    /// Times at which the state is recorded: non-decreasing, within `[0, t_end]`.
    pub record_times: Vec<f64>,
    pub t_end: f64,
    /// Stop a replicate after this many events (`u64::MAX`: no cap).
    pub max_events: u64,
    /// Stop a replicate once its total population reaches this size (`u64::MAX`: no cap beyond
    /// [`POPULATION_LIMIT`]).
    pub max_population: u64,
    /// When to call a tumour progressed (`None`: never).
    pub progression: Option<Progression>,
    /// Send every event through the general event loop, never the hot loop (module `burst`).
    /// Trajectories are the same either way; tests set it to compare the two paths
    /// ([`crate::Outcome::hot_loop_events`] says which one ran).
    pub force_general_loop: bool,
    /// Track barcoded lineages and clones (`None`: no tracking; see [`crate::lineage`]).
    pub lineages: Option<LineageSpec>,
}

/// Progression: the first time the burden `sum_i weights[i] * count[i]` reaches `factor` times its
/// lowest value so far (the nadir), or `size` cells, and at least `min_size`; with `biomarker`, the
/// first time the model's biomarker rises to that level (its exact upward crossing time between
/// events, see [`crate::biomarker`]; a biomarker passing the level on its way down has not
/// progressed). Without `min_size` a tumour shrunk to one cell "progresses" by `factor` 2 when that
/// cell divides.
#[derive(Clone, Debug, PartialEq)]
pub struct Progression {
    pub weights: Vec<f64>,
    pub factor: Option<f64>,
    pub size: Option<f64>,
    /// The burden must also reach this (0: no floor).
    pub min_size: f64,
    /// Monitor the model's biomarker instead of the weighted burden (`weights` are then unused).
    pub biomarker: bool,
}

impl Progression {
    #[must_use]
    pub fn burden(&self, counts: &[u64]) -> f64 {
        weighted_count(&self.weights, counts)
    }

    /// The lowest burden that has progressed, given the nadir so far (factor or size, whichever
    /// is lower, and never below `min_size`).
    #[must_use]
    pub fn level(&self, nadir: f64) -> f64 {
        // A factor of a zero nadir asks for any positive burden.
        let by_factor = self
            .factor
            .map_or(f64::INFINITY, |f| (f * nadir).max(f64::MIN_POSITIVE));
        by_factor
            .min(self.size.unwrap_or(f64::INFINITY))
            .max(self.min_size)
    }

    /// Has a burden progressed, given the nadir so far?
    #[must_use]
    pub fn reached(&self, burden: f64, nadir: f64) -> bool {
        burden >= self.min_size
            && (self
                .factor
                .is_some_and(|f| burden >= f * nadir && burden > 0.0)
                || self.size.is_some_and(|s| burden >= s))
    }
}

/// Counts are stored as int64, so no population may exceed `i64::MAX`: a replicate that reaches
/// this size stops with status `max_population` whatever cap the user set.
pub const POPULATION_LIMIT: u64 = i64::MAX as u64;

impl RunConfig {
    /// The population cap in force: the user's, or [`POPULATION_LIMIT`] if that is lower.
    #[must_use]
    pub fn population_cap(&self) -> u64 {
        self.max_population.min(POPULATION_LIMIT)
    }
}

impl RunConfig {
    pub fn validate(&self, model: &Model) -> Result<()> {
        let bad = |msg: String| Err(EngineError::InvalidRun(msg));
        if self.initial.len() != model.n_states() {
            return bad(format!(
                "initial has {} counts; the model has {} states",
                self.initial.len(),
                model.n_states()
            ));
        }
        if self
            .initial
            .iter()
            .try_fold(0u64, |acc, &n| acc.checked_add(n))
            .is_none()
        {
            return bad("the initial population overflows a 64-bit count".into());
        }
        // A finite end is what stops the event loop; t_end > 0 is the Python layer's rule.
        if !self.t_end.is_finite() {
            return bad(format!("t_end is {}; it must be finite", self.t_end));
        }
        if let Some(t) = self
            .record_times
            .iter()
            .find(|t| !(**t >= 0.0 && **t <= self.t_end))
        {
            return bad(format!(
                "record time {t} is outside [0, t_end = {}]",
                self.t_end
            ));
        }
        if let Some(&[before, after]) = self.record_times.windows(2).find(|w| w[1] < w[0]) {
            return bad(format!(
                "record times must be non-decreasing; got {after} after {before}"
            ));
        }
        if self.max_events == 0 {
            return bad("max_events is 0; it must be >= 1".into());
        }
        if self.max_population == 0 {
            return bad("max_population is 0; it must be >= 1".into());
        }
        // The burden indexes the weights by state. The thresholds (factor > 1, size > 0,
        // min_size >= 0, one of factor and size, a biomarker to monitor) are the Python layer's
        // rules: whatever they hold, the engine compares numbers and cannot fail.
        if let Some(p) = &self.progression
            && p.weights.len() != model.n_states()
        {
            return bad(format!(
                "progression weights must be {} values, one per state; got {}",
                model.n_states(),
                p.weights.len()
            ));
        }
        if let Some(lineages) = &self.lineages {
            lineages.validate(
                model.n_states(),
                &self.initial,
                self.t_end,
                POPULATION_LIMIT,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progression(factor: Option<f64>, size: Option<f64>) -> Progression {
        Progression {
            weights: vec![1.0],
            factor,
            size,
            min_size: 0.0,
            biomarker: true,
        }
    }

    #[test]
    fn the_progression_level_is_the_lower_of_factor_and_size() {
        assert_eq!(progression(Some(2.0), None).level(3.0), 6.0);
        assert_eq!(progression(None, Some(5.0)).level(3.0), 5.0);
        assert_eq!(progression(Some(2.0), Some(5.0)).level(3.0), 5.0);
        assert_eq!(progression(Some(2.0), Some(7.0)).level(3.0), 6.0);
        // A zero nadir: any positive burden has progressed, as `reached` says.
        let p = progression(Some(2.0), None);
        assert!(p.level(0.0) > 0.0 && p.reached(p.level(0.0), 0.0));
    }

    #[test]
    fn progression_needs_the_minimum_size_as_well_as_the_factor() {
        let p = Progression {
            min_size: 100.0,
            ..progression(Some(2.0), None)
        };
        // From a nadir of 1 cell, 2 cells are twice the nadir but not a detectable tumour.
        assert!(!p.reached(2.0, 1.0));
        assert!(!p.reached(99.0, 1.0));
        assert!(p.reached(100.0, 1.0));
        // From a nadir of 80, 100 cells are above the floor but not twice the nadir.
        assert!(!p.reached(100.0, 80.0));
        assert!(p.reached(160.0, 80.0));
        // The biomarker level is the larger of the two.
        assert_eq!(p.level(1.0), 100.0);
        assert_eq!(p.level(80.0), 160.0);
        // Without a floor, the trap: 1 cell to 2 is progression.
        assert!(progression(Some(2.0), None).reached(2.0, 1.0));
    }
}
