//! The lineages of every cell state, and the moves an event makes on them.
//!
//! Lineage ids are shared by all states (lineage 3 in state S and in state P is the same barcode
//! or clone), so every state's [`LineageCounts`] has the same number of lineages. An event of the
//! engine is a [`Channel`]: a cell of `source` fires; `dec` (which is `source`, if present) loses
//! a cell and `inc` gains one. Tracking it means choosing *which* cell of `source` fired,
//! uniformly (all cells of a state fire at the same rate), and moving its lineage accordingly:
//!
//! | event | `dec` | `inc` | lineage move |
//! | --- | --- | --- | --- |
//! | division (a mutant daughter too) | none | target | +1 to the picked lineage in the target |
//! | death | source | none | −1 from the picked lineage in the source |
//! | switch | source | target | the picked lineage moves one cell from source to target |
//!
//! These keep the per-state totals equal to the engine's counts after every event, given they
//! were equal before. A mutation that founds a clone ([`Lineages::found_clone`]) instead gives the daughter a new
//! lineage.

use rand::Rng;

use super::LineageCounts;
use super::LineageError;
use super::counts::{CELL_LIST_LIMIT, SampledCell};
use crate::model::Channel;

/// The cells of every state, per lineage (module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lineages {
    states: Vec<LineageCounts>,
}

/// One row of a long-table snapshot: `count > 0` cells of `lineage` in `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineageRow {
    pub lineage: u32,
    pub state: u32,
    pub count: u64,
}

impl Lineages {
    /// `n_states` states, no lineages.
    #[must_use]
    pub fn new(n_states: usize) -> Self {
        Self {
            states: vec![LineageCounts::new(); n_states],
        }
    }

    /// `by_state[s][id]` cells of lineage `id` in state `s`. Every state must list the same number
    /// of lineages (`Err(Shape)`).
    pub fn from_counts(by_state: &[Vec<u64>]) -> Result<Self, LineageError> {
        Self::from_counts_with_cell_limit(by_state, CELL_LIST_LIMIT)
    }

    /// As [`from_counts`](Self::from_counts), taking the counts.
    pub fn from_owned_counts(by_state: Vec<Vec<u64>>) -> Result<Self, LineageError> {
        Self::check_shape(&by_state)?;
        let states = by_state
            .into_iter()
            .enumerate()
            .map(|(state, counts)| {
                LineageCounts::from_counts_with_cell_limit(counts, CELL_LIST_LIMIT)
                    .map_err(|error| in_state(error, state))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { states })
    }

    /// One state per entry of `states`; every state must list the same number of lineages
    /// (`Err(Shape)`).
    pub fn from_states(states: Vec<LineageCounts>) -> Result<Self, LineageError> {
        same_lineages(states.iter().map(LineageCounts::n_lineages))?;
        Ok(Self { states })
    }

    /// Defer every cell-list state's per-lineage counts ([`LineageCounts::defer_counts`]).
    pub fn defer_counts(&mut self) {
        self.states.iter_mut().for_each(LineageCounts::defer_counts);
    }

    /// Bring deferred counts up to date ([`LineageCounts::refresh_counts`]).
    pub fn refresh_counts(&mut self) {
        self.states
            .iter_mut()
            .for_each(LineageCounts::refresh_counts);
    }

    /// Every `(lineage, state, count)` with `count > 0`, appended to `held` (cleared first) in
    /// (lineage, state) order: O(cells + rows log rows) for deferred cell lists, a scan of the
    /// counts otherwise ([`LineageCounts::held_into`]).
    pub fn held_into(&mut self, held: &mut Vec<(u32, u32, u64)>) {
        held.clear();
        for (state, counts) in self.states.iter_mut().enumerate() {
            counts.held_into(state as u32, held);
        }
        held.sort_unstable();
    }

    /// Give the buffers back for the next replicate of this thread (`scratch`).
    pub(crate) fn recycle(self) {
        self.states.into_iter().for_each(LineageCounts::recycle);
    }

    /// `Err(Shape)` unless every state lists as many lineages as state 0.
    fn check_shape(by_state: &[Vec<u64>]) -> Result<(), LineageError> {
        same_lineages(by_state.iter().map(Vec::len))
    }

    /// As [`from_counts`](Self::from_counts), each state keeping a cell list up to `cell_limit`
    /// cells ([`LineageCounts`]; 0: bins whatever the total).
    pub fn from_counts_with_cell_limit(
        by_state: &[Vec<u64>],
        cell_limit: u64,
    ) -> Result<Self, LineageError> {
        Self::check_shape(by_state)?;
        let states = by_state
            .iter()
            .enumerate()
            .map(|(state, counts)| {
                LineageCounts::from_counts_with_cell_limit(counts.clone(), cell_limit)
                    .map_err(|error| in_state(error, state))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { states })
    }

    #[must_use]
    pub fn n_states(&self) -> usize {
        self.states.len()
    }

    /// The number of lineages (the same in every state).
    #[must_use]
    pub fn n_lineages(&self) -> usize {
        self.states.first().map_or(0, LineageCounts::n_lineages)
    }

    /// The lineages of every state.
    pub(crate) fn states(&self) -> &[LineageCounts] {
        &self.states
    }

    pub(crate) fn states_mut(&mut self) -> &mut [LineageCounts] {
        &mut self.states
    }

    /// Each state's cell list, if it keeps one (for checks).
    #[cfg(test)]
    pub(crate) fn cell_lists(&self) -> Vec<Option<&[u32]>> {
        self.states.iter().map(LineageCounts::cell_list).collect()
    }

    /// The lineages of state `state`.
    pub fn state(&self, state: usize) -> Result<&LineageCounts, LineageError> {
        self.states.get(state).ok_or(LineageError::UnknownState {
            state,
            n_states: self.states.len(),
        })
    }

    fn state_mut(&mut self, state: usize) -> Result<&mut LineageCounts, LineageError> {
        let n_states = self.states.len();
        self.states
            .get_mut(state)
            .ok_or(LineageError::UnknownState { state, n_states })
    }

    /// The cells of each state (what the engine counts).
    #[must_use]
    pub fn totals(&self) -> Vec<u64> {
        self.states.iter().map(LineageCounts::total).collect()
    }

    /// `Err(TotalsMismatch)` naming the first state whose tracked cells differ from `engine`'s
    /// count (`Err(Shape)` if the number of states differs).
    pub fn check_totals(&self, engine: &[u64]) -> Result<(), LineageError> {
        if engine.len() != self.states.len() {
            return Err(LineageError::Shape(format!(
                "the engine counts {} states but {} are tracked",
                engine.len(),
                self.states.len()
            )));
        }
        for (state, (lineages, &count)) in self.states.iter().zip(engine).enumerate() {
            if lineages.total() != count {
                return Err(LineageError::TotalsMismatch {
                    state,
                    tracked: lineages.total(),
                    engine: count,
                });
            }
        }
        Ok(())
    }

    /// A new lineage with `initial[s]` cells in state `s` (one entry per state); returns its id.
    /// Refused with nothing changed if a state's total would overflow.
    pub fn push_lineage(&mut self, initial: &[u64]) -> Result<u32, LineageError> {
        if self.states.is_empty() {
            return Err(LineageError::Shape(
                "a lineage needs at least one state to live in".into(),
            ));
        }
        if initial.len() != self.states.len() {
            return Err(LineageError::Shape(format!(
                "a new lineage lists {} states but there are {}",
                initial.len(),
                self.states.len()
            )));
        }
        if u32::try_from(self.n_lineages()).is_err() {
            return Err(LineageError::TooManyLineages);
        }
        for (lineages, &cells) in self.states.iter().zip(initial) {
            if lineages.total().checked_add(cells).is_none() {
                return Err(LineageError::Overflow {
                    id: self.n_lineages() as u32,
                    count: 0,
                    delta: cells.into(),
                });
            }
        }
        let mut id = 0;
        for (lineages, &cells) in self.states.iter_mut().zip(initial) {
            id = lineages.push_lineage(cells)?;
        }
        Ok(id)
    }

    /// The lineage of a cell of `state` chosen uniformly, drawn from `rng` (the lineage stream).
    pub fn pick<R: Rng + ?Sized>(&self, state: usize, rng: &mut R) -> Result<u32, LineageError> {
        self.state(state)?.sample(rng)
    }

    /// Track one firing of `channel`: pick the lineage of the firing cell in its source, remove
    /// the cell from `dec` and add one of the same lineage to `inc` (module docs). Returns the
    /// lineage. Refused, with nothing changed, for unknown states, an empty source, a `dec` other
    /// than the source, or an overflowing count.
    #[inline]
    pub fn fire<R: Rng + ?Sized>(
        &mut self,
        channel: &Channel,
        rng: &mut R,
    ) -> Result<u32, LineageError> {
        self.apply(channel.source, channel.dec, channel.inc, rng)
    }

    /// A division of a cell of `source` whose daughter goes to `daughter` (`source` itself, or
    /// the mutant state, keeping the lineage: a barcode is inherited).
    pub fn divide<R: Rng + ?Sized>(
        &mut self,
        source: usize,
        daughter: usize,
        rng: &mut R,
    ) -> Result<u32, LineageError> {
        self.apply(source, None, Some(daughter), rng)
    }

    /// A death of a cell of `state`.
    pub fn die<R: Rng + ?Sized>(&mut self, state: usize, rng: &mut R) -> Result<u32, LineageError> {
        self.apply(state, Some(state), None, rng)
    }

    /// A cell of `from` switching to `to`.
    pub fn switch<R: Rng + ?Sized>(
        &mut self,
        from: usize,
        to: usize,
        rng: &mut R,
    ) -> Result<u32, LineageError> {
        self.apply(from, Some(from), Some(to), rng)
    }

    /// A mutant division founding a clone: the parent's lineage is picked in `source` (as for
    /// any division) and the daughter starts a new lineage in `daughter`. Returns (parent
    /// lineage, new lineage).
    pub fn found_clone<R: Rng + ?Sized>(
        &mut self,
        source: usize,
        daughter: usize,
        rng: &mut R,
    ) -> Result<(u32, u32), LineageError> {
        self.found_clone_from(source, daughter, rng)
            .map(|(parent, clone)| (parent.lineage, clone))
    }

    /// [`found_clone`](Self::found_clone), returning the parent's cell as drawn.
    fn found_clone_from<R: Rng + ?Sized>(
        &mut self,
        source: usize,
        daughter: usize,
        rng: &mut R,
    ) -> Result<(SampledCell, u32), LineageError> {
        self.state(daughter)?;
        let parent = self.state(source)?.sample_cell(rng)?;
        let mut initial = vec![0; self.states.len()];
        initial[daughter] = 1;
        Ok((parent, self.push_lineage(&initial)?))
    }

    /// A mutation founding a clone, from the channel that fired: the parent's lineage is picked
    /// in the source; the mutant cell (the daughter of a division, or the switching cell, which
    /// leaves the parent's lineage in the source) starts a new lineage in `channel.inc`. Returns
    /// (parent lineage, new lineage). Refused, with nothing changed, for a channel that adds no
    /// cell, unknown states or an overflowing count.
    pub fn mutate<R: Rng + ?Sized>(
        &mut self,
        channel: &Channel,
        rng: &mut R,
    ) -> Result<(u32, u32), LineageError> {
        let Some(daughter) = channel.inc else {
            return Err(LineageError::Shape(
                "a mutation founds a clone only if it adds a cell".into(),
            ));
        };
        if let Some(dec) = channel.dec.filter(|&d| d != channel.source) {
            return Err(LineageError::Shape(format!(
                "a channel's losing state ({dec}) must be its source ({})",
                channel.source
            )));
        }
        let (parent, clone) = self.found_clone_from(channel.source, daughter, rng)?;
        if channel.dec.is_some() {
            // Cannot fail: the picked parent has a cell in the source (a lineage pushed since
            // only appends to the cell list).
            self.state_mut(channel.source)?.remove_sampled(parent)?;
        }
        Ok((parent.lineage, clone))
    }

    #[inline]
    fn apply<R: Rng + ?Sized>(
        &mut self,
        source: usize,
        dec: Option<usize>,
        inc: Option<usize>,
        rng: &mut R,
    ) -> Result<u32, LineageError> {
        if let Some(dec) = dec.filter(|&d| d != source) {
            return Err(LineageError::Shape(format!(
                "a channel's losing state ({dec}) must be its source ({source})"
            )));
        }
        // One test for both states, rather than a branch on whether the channel adds a cell.
        let n_states = self.states.len();
        if inc.is_some_and(|s| s >= n_states) || source >= n_states {
            let state = inc.filter(|&s| s >= n_states).unwrap_or(source);
            return Err(LineageError::UnknownState { state, n_states });
        }
        let cell = self.state(source)?.sample_cell(rng)?;
        // Add before removing: only the addition can fail (overflow), and then nothing changed;
        // the removal cannot, since the picked cell is in the source (an addition to the source
        // only appends to its cell list, or converts it to bins).
        if let Some(inc) = inc {
            self.state_mut(inc)?.add_one(cell.lineage)?;
        }
        if dec.is_some() {
            self.state_mut(source)?.remove_sampled(cell)?;
        }
        Ok(cell.lineage)
    }

    /// The non-zero counts as a long table, lineage by lineage, states in order within each:
    /// appended to `rows` (cleared first) so that a recorder can reuse the buffer. O(S·B).
    pub fn snapshot_into(&self, rows: &mut Vec<LineageRow>) {
        rows.clear();
        for lineage in 0..self.n_lineages() {
            for (state, counts) in self.states.iter().enumerate() {
                let count = counts.counts()[lineage];
                if count > 0 {
                    rows.push(LineageRow {
                        lineage: lineage as u32,
                        state: state as u32,
                        count,
                    });
                }
            }
        }
    }
}

/// `Err(Shape)` unless every state lists as many lineages (`per_state`) as state 0.
fn same_lineages(mut per_state: impl Iterator<Item = usize>) -> Result<(), LineageError> {
    let n_lineages = per_state.next().unwrap_or(0);
    if let Some((s, n)) = per_state.enumerate().find(|&(_, n)| n != n_lineages) {
        return Err(LineageError::Shape(format!(
            "state {} lists {n} lineages but state 0 lists {n_lineages}; every state must list \
             every lineage",
            s + 1
        )));
    }
    Ok(())
}

/// `error` of one state's counts, naming `state` if it is about the total.
#[allow(clippy::needless_pass_by_value)] // the shape of `map_err`
fn in_state(error: LineageError, state: usize) -> LineageError {
    match error {
        LineageError::TotalTooLarge { .. } => LineageError::TotalTooLarge { state },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::lineage_rng;

    #[test]
    fn each_move_changes_the_picked_lineage_only() {
        let mut rng = lineage_rng(&[4; 32], 0);
        // One lineage with cells in state 0 only, so every pick is lineage 1.
        let mut l = Lineages::from_counts(&[vec![0, 3, 0], vec![0, 0, 0]]).unwrap();
        assert_eq!(l.divide(0, 0, &mut rng), Ok(1));
        assert_eq!(l.divide(0, 1, &mut rng), Ok(1));
        assert_eq!(l.switch(0, 1, &mut rng), Ok(1));
        assert_eq!(l.die(1, &mut rng), Ok(1));
        assert_eq!(l.totals(), [3, 1]);
        assert_eq!(l.state(0).unwrap().counts(), [0, 3, 0]);
        assert_eq!(l.state(1).unwrap().counts(), [0, 1, 0]);
        assert_eq!(l.found_clone(1, 0, &mut rng), Ok((1, 3)));
        assert_eq!(l.state(0).unwrap().counts(), [0, 3, 0, 1]);
        assert_eq!(l.state(1).unwrap().counts(), [0, 1, 0, 0]);
        let mut rows = vec![LineageRow {
            lineage: 9,
            state: 9,
            count: 9,
        }];
        l.snapshot_into(&mut rows);
        let row = |lineage, state, count| LineageRow {
            lineage,
            state,
            count,
        };
        assert_eq!(rows, [row(1, 0, 3), row(1, 1, 1), row(3, 0, 1)]);
        assert_eq!(l.check_totals(&[4, 1]), Ok(()));
        // A mutation-switch moves the cell out of lineage 1 into a new lineage 4.
        let switch = Channel {
            source: 0,
            dec: Some(0),
            inc: Some(1),
            kind: crate::model::ChannelKind::Switch,
            is_mutation: true,
        };
        let mut m = Lineages::from_counts(&[vec![0, 2], vec![0, 0]]).unwrap();
        assert_eq!(m.mutate(&switch, &mut rng), Ok((1, 2)));
        assert_eq!(m.state(0).unwrap().counts(), [0, 1, 0]);
        assert_eq!(m.state(1).unwrap().counts(), [0, 0, 1]);
        let death = Channel {
            dec: Some(0),
            inc: None,
            ..switch
        };
        assert!(matches!(
            m.mutate(&death, &mut rng),
            Err(LineageError::Shape(_))
        ));
        assert_eq!(
            l.check_totals(&[4, 2]),
            Err(LineageError::TotalsMismatch {
                state: 1,
                tracked: 1,
                engine: 2
            })
        );
    }

    #[test]
    fn bad_moves_are_refused_and_change_nothing() {
        let mut rng = lineage_rng(&[4; 32], 1);
        let mut l = Lineages::from_counts(&[vec![1, 0], vec![0, 0]]).unwrap();
        let before = l.clone();
        assert_eq!(l.die(1, &mut rng), Err(LineageError::Empty));
        assert_eq!(
            l.switch(0, 2, &mut rng),
            Err(LineageError::UnknownState {
                state: 2,
                n_states: 2
            })
        );
        assert!(matches!(
            l.apply(0, Some(1), None, &mut rng),
            Err(LineageError::Shape(_))
        ));
        assert!(matches!(l.push_lineage(&[1]), Err(LineageError::Shape(_))));
        assert!(matches!(
            l.push_lineage(&[u64::MAX, 0]),
            Err(LineageError::Overflow { .. })
        ));
        assert!(matches!(
            l.found_clone(0, 5, &mut rng),
            Err(LineageError::UnknownState { .. })
        ));
        assert_eq!(l, before);
        assert!(matches!(
            Lineages::new(0).push_lineage(&[]),
            Err(LineageError::Shape(_))
        ));
        assert!(matches!(
            Lineages::from_counts(&[vec![1, 0], vec![0]]),
            Err(LineageError::Shape(_))
        ));
        assert_eq!(
            Lineages::from_counts(&[vec![1], vec![u64::MAX - 1, 2]]),
            Err(LineageError::Shape(
                "state 1 lists 2 lineages but state 0 lists 1; every state must list every \
                 lineage"
                    .into()
            ))
        );
        assert_eq!(
            Lineages::from_counts(&[vec![1, 0], vec![u64::MAX - 1, 2]]),
            Err(LineageError::TotalTooLarge { state: 1 })
        );
        assert!(matches!(l.check_totals(&[1]), Err(LineageError::Shape(_))));
    }
}
