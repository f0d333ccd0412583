//! Which regime each pool of a jump run went through, counted by the engine itself (issue 17:
//! the output says which regime each pool used).
//!
//! At every step of every replicate the engine decides per type (a *pool*: the cells of one
//! state) whether its cells are simulated **event by event** (few expected events: exact SSA of
//! the pool) or **jumped** (a binomial number of emitting lineages, each simulated, and the rest
//! drawn from the offspring table). A pool with no cell at the step's start is **empty**. The
//! counts here are, per pool, the (replicate, step) pairs of each regime and the emitting
//! lineages simulated in jumped steps.
//!
//! How they are gathered: the step under way writes each pool's regime into a [`StepRegimes`]
//! (a field of the replicate's [`super::StepScratch`]); when the step completes, the replicate
//! commits it to its own [`RegimeCounts`]; when the replicate ends, its counts are added to the
//! run's [`RegimeTally`]. A step that fails (a count past 2^53 stops the replicate at the step's
//! start) is never committed, so every replicate contributes exactly the steps it completed.
//!
//! The counts are integers summed exactly, so they do not depend on the order in which the
//! threads finish their replicates: the same for any thread count, and a run split into calls
//! (blocks) gives the sum of its calls' counts.

use std::sync::{Mutex, PoisonError};

/// How one pool went through one step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoolRegime {
    /// No cell at the step's start.
    #[default]
    Empty,
    /// Simulated event by event (exact SSA of the pool).
    EventByEvent,
    /// Jumped: emitting lineages simulated, the others drawn from the offspring table.
    Jumped,
}

/// The regime of every pool in the step under way, and its emitting lineages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepRegimes {
    regime: Vec<PoolRegime>,
    emitting: Vec<u64>,
}

impl StepRegimes {
    /// The pool of type `x` with `n` cells is simulated event by event (empty if `n == 0`).
    pub fn event_by_event(&mut self, x: usize, n: u64) {
        self.grow(x);
        self.regime[x] = if n == 0 {
            PoolRegime::Empty
        } else {
            PoolRegime::EventByEvent
        };
        self.emitting[x] = 0;
    }

    /// The pool of type `x` is jumped, with `emitting` of its cells emitting in the step.
    pub fn jumped(&mut self, x: usize, emitting: u64) {
        self.grow(x);
        self.regime[x] = PoolRegime::Jumped;
        self.emitting[x] = emitting;
    }

    /// Every pool of `counts` (the counts at the step's start) is simulated event by event.
    pub fn all_event_by_event(&mut self, counts: &[u64]) {
        for (x, &n) in counts.iter().enumerate() {
            self.event_by_event(x, n);
        }
    }

    /// The regime of pool `x` in the step under way.
    #[must_use]
    pub fn regime(&self, x: usize) -> PoolRegime {
        self.regime.get(x).copied().unwrap_or_default()
    }

    fn grow(&mut self, x: usize) {
        if self.regime.len() <= x {
            self.regime.resize(x + 1, PoolRegime::Empty);
            self.emitting.resize(x + 1, 0);
        }
    }
}

/// Per pool (type), the (replicate, step) pairs in each regime, and the emitting lineages
/// simulated in the jumped ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegimeCounts {
    /// Steps whose pool had no cell at the step's start.
    pub empty: Vec<u64>,
    /// Steps whose pool was simulated event by event.
    pub event_by_event: Vec<u64>,
    /// Steps whose pool was jumped.
    pub jumped: Vec<u64>,
    /// Emitting lineages simulated (each one cell of a jumped pool conditioned on emitting).
    pub emitting: Vec<u64>,
}

impl RegimeCounts {
    /// All zero, for `n_types` pools.
    #[must_use]
    pub fn new(n_types: usize) -> Self {
        Self {
            empty: vec![0; n_types],
            event_by_event: vec![0; n_types],
            jumped: vec![0; n_types],
            emitting: vec![0; n_types],
        }
    }

    /// The pools.
    #[must_use]
    pub fn n_types(&self) -> usize {
        self.empty.len()
    }

    /// Steps of pool `x` counted, whatever the regime.
    #[must_use]
    pub fn steps(&self, x: usize) -> u64 {
        self.empty[x] + self.event_by_event[x] + self.jumped[x]
    }

    /// Add one completed step (its pools beyond `n_types` are ignored), then clear it for the
    /// next.
    pub fn commit(&mut self, step: &mut StepRegimes) {
        for x in 0..self.n_types() {
            let slot = match step.regime(x) {
                PoolRegime::Empty => &mut self.empty[x],
                PoolRegime::EventByEvent => &mut self.event_by_event[x],
                PoolRegime::Jumped => &mut self.jumped[x],
            };
            *slot = slot.saturating_add(1);
            if let Some(&e) = step.emitting.get(x) {
                self.emitting[x] = self.emitting[x].saturating_add(e);
            }
        }
        step.regime.fill(PoolRegime::Empty);
        step.emitting.fill(0);
    }

    /// Add `other` (the same pools) to these counts.
    pub fn add(&mut self, other: &Self) {
        let pairs = [
            (&mut self.empty, &other.empty),
            (&mut self.event_by_event, &other.event_by_event),
            (&mut self.jumped, &other.jumped),
            (&mut self.emitting, &other.emitting),
        ];
        for (mine, theirs) in pairs {
            for (a, &b) in mine.iter_mut().zip(theirs) {
                *a = a.saturating_add(b);
            }
        }
    }
}

/// The counts of a run's replicates, added by the threads as their replicates end.
#[derive(Debug)]
pub struct RegimeTally(Mutex<RegimeCounts>);

impl RegimeTally {
    /// All zero, for `n_types` pools.
    #[must_use]
    pub fn new(n_types: usize) -> Self {
        Self(Mutex::new(RegimeCounts::new(n_types)))
    }

    /// Add one replicate's counts.
    pub fn add(&self, replicate: &RegimeCounts) {
        // A poisoned lock only means another replicate's thread panicked; the sums are whole.
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(replicate);
    }

    /// The sums.
    #[must_use]
    pub fn into_counts(self) -> RegimeCounts {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_step_counts_each_pool_once_and_clears() {
        let mut step = StepRegimes::default();
        let mut counts = RegimeCounts::new(3);
        step.event_by_event(0, 5);
        step.jumped(1, 7);
        step.event_by_event(2, 0);
        counts.commit(&mut step);
        assert_eq!(counts.event_by_event, vec![1, 0, 0]);
        assert_eq!(counts.jumped, vec![0, 1, 0]);
        assert_eq!(counts.empty, vec![0, 0, 1]);
        assert_eq!(counts.emitting, vec![0, 7, 0]);
        assert_eq!(step.regime(1), PoolRegime::Empty);
        step.all_event_by_event(&[1, 1, 1]);
        counts.commit(&mut step);
        assert_eq!(
            (0..3).map(|x| counts.steps(x)).collect::<Vec<_>>(),
            [2, 2, 2]
        );
        assert_eq!(counts.emitting, vec![0, 7, 0]);
    }

    #[test]
    fn tallies_add_replicates_in_any_order() {
        let mut a = RegimeCounts::new(2);
        let mut b = RegimeCounts::new(2);
        a.jumped[0] = 3;
        a.emitting[0] = 10;
        b.event_by_event[1] = 4;
        let (one, two) = (RegimeTally::new(2), RegimeTally::new(2));
        one.add(&a);
        one.add(&b);
        two.add(&b);
        two.add(&a);
        assert_eq!(one.into_counts(), two.into_counts());
    }
}
