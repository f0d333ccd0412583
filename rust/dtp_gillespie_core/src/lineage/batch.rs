//! The moves of many events at once: a burst of the hot loop replayed to the tracker, on states
//! that all keep cell lists with deferred counts (barcodes without clones, below
//! [`CELL_LIST_LIMIT`](super::CELL_LIST_LIMIT) cells a state: the common case).
//!
//! [`CellMoves::fire_all`] makes the same draws, picks the same cells and leaves the same lists
//! as one [`Lineages::fire`] per event, in the same order: one index uniform over the source's
//! cells, the picked lineage pushed onto the gaining state's list, the picked cell swapped with
//! the source's last if the source loses it. What it saves is the per-event cost around that:
//! no branch on the channel's kind (a channel that adds no cell pushes onto a sink list whose
//! length stays 0, one that keeps its cell "swaps" it with itself), which the mix of channels
//! would mispredict, no checks of the channel, and no `Result` per event. The lists are padded
//! with room for the whole burst before it, so a push never reallocates inside the loop.
//!
//! Anything else (a state on bins, a burst that could take a list past its limit, counts kept
//! up to date for clones) goes event by event through [`Lineages::fire`].

use super::stream::uniform_below;
use super::{LineageError, LineageRng, Lineages};
use crate::model::Channel;

/// What one firing of a channel does to the cell lists (module docs).
#[derive(Clone, Copy, Debug)]
struct Move {
    /// The state whose cell fires.
    source: usize,
    /// The list the fired cell's lineage is pushed onto: the gaining state, or the sink.
    gains: usize,
    /// 1 if `gains` is a state (its list grows), 0 for the sink.
    grows: usize,
    /// 1 if the firing cell leaves the source, 0 if it stays.
    leaves: usize,
}

/// The moves of every channel of a model, with the lists of one burst (module docs).
#[derive(Debug)]
pub struct CellMoves {
    /// Per channel; `None` if some channel cannot be applied here (its losing state is not its
    /// source, or a state is out of range): then every burst goes event by event, which refuses
    /// it with the right error.
    moves: Option<Vec<Move>>,
    /// The lists of the states while a burst runs, then the sink's.
    lists: Vec<Vec<u32>>,
    /// The cells of each list (its length without the padding).
    lens: Vec<usize>,
    /// The events handed to the loop so far (the others went event by event), for checks.
    moved_at_once: u64,
}

impl CellMoves {
    /// The moves of `channels` over `n_states` states.
    #[must_use]
    pub fn new(channels: &[Channel], n_states: usize) -> Self {
        let sink = n_states;
        let moves = channels
            .iter()
            .map(|c| {
                let valid = c.source < n_states
                    && c.inc.is_none_or(|s| s < n_states)
                    && c.dec.is_none_or(|d| d == c.source);
                valid.then(|| Move {
                    source: c.source,
                    gains: c.inc.unwrap_or(sink),
                    grows: usize::from(c.inc.is_some()),
                    leaves: usize::from(c.dec.is_some()),
                })
            })
            .collect();
        Self {
            moves,
            lists: vec![Vec::new(); n_states + 1],
            lens: vec![0; n_states + 1],
            moved_at_once: 0,
        }
    }

    /// The events handed to the one-loop path so far (the others went event by event).
    #[must_use]
    pub fn moved_at_once(&self) -> u64 {
        self.moved_at_once
    }

    /// Track the firings of `fired` (indices into the channels), in order: as one
    /// [`Lineages::fire`] of `channels[k]` each, drawing from `rng` (module docs). The first
    /// error stops it, with the events before it applied.
    pub fn fire_all(
        &mut self,
        lineages: &mut Lineages,
        channels: &[Channel],
        fired: &[u32],
        rng: &mut LineageRng,
    ) -> Result<(), LineageError> {
        if fired.is_empty() {
            return Ok(());
        }
        if !self.take_lists(lineages, fired.len()) {
            for &channel in fired {
                lineages.fire(&channels[channel as usize], rng)?;
            }
            return Ok(());
        }
        let result = self.apply(fired, rng);
        self.give_lists(lineages);
        self.moved_at_once += fired.len() as u64;
        result
    }

    /// Take every state's list, padded with room for `events` more cells, if every state keeps
    /// a deferred cell list that many events cannot take past its limit (and the channels are
    /// valid); otherwise take nothing and return false.
    fn take_lists(&mut self, lineages: &mut Lineages, events: usize) -> bool {
        if self.moves.is_none() || lineages.n_states() + 1 != self.lists.len() {
            return false;
        }
        let room = events as u64;
        if !lineages.states().iter().all(|s| s.has_list_room(room)) {
            return false;
        }
        let states = lineages.states_mut();
        for ((state, list), len) in states.iter_mut().zip(&mut self.lists).zip(&mut self.lens) {
            *list = state.take_cell_list();
            *len = list.len();
            list.resize(*len + events, 0);
        }
        // The sink: written at index 0 by every event that adds no cell, never grown.
        self.lists[states.len()].resize(1, 0);
        true
    }

    /// Give the lists back to their states, without the padding.
    fn give_lists(&mut self, lineages: &mut Lineages) {
        let states = lineages.states_mut();
        for ((state, list), &len) in states.iter_mut().zip(&mut self.lists).zip(&self.lens) {
            list.truncate(len);
            state.give_cell_list(std::mem::take(list));
        }
    }

    /// The moves of `fired` on the taken lists (module docs).
    #[inline]
    fn apply(&mut self, fired: &[u32], rng: &mut LineageRng) -> Result<(), LineageError> {
        let Some(moves) = self.moves.as_deref() else {
            return Ok(());
        };
        let (lists, lens) = (&mut self.lists, &mut self.lens);
        // A copy in registers (the caller's would be written back at every draw), given back
        // at the end, or at an error with the draws made until then.
        let mut local = rng.clone();
        let result = (|| {
            for &channel in fired {
                let Some(&m) = moves.get(channel as usize) else {
                    return Err(LineageError::Shape(format!("no channel {channel}")));
                };
                let at = uniform_below(&mut local, lens[m.source] as u64)? as usize;
                debug_assert!(m.gains < lists.len() && lens[m.gains] < lists[m.gains].len());
                // SAFETY: every index is in bounds. `source` and `gains` are below
                // `lists.len() == lens.len()` (`new` checks the channels against the states;
                // `take_lists` that the lineages have as many; the sink is the last list).
                // `at < lens[source] <= lists[source].len()`. `take_lists` padded each list with
                // room for one cell per event, and an event adds at most one, so `lens[gains] <
                // lists[gains].len()` (the sink's length stays 0, its list holds one). A leaving
                // cell's `last = lens[source] - 1` is below `lens[source]`, which is >= 1 as `at`
                // exists.
                unsafe {
                    let lineage = *lists.get_unchecked(m.source).get_unchecked(at);
                    // Gain first (the source grows too for a division keeping the daughter in it).
                    let end = *lens.get_unchecked(m.gains);
                    *lists.get_unchecked_mut(m.gains).get_unchecked_mut(end) = lineage;
                    *lens.get_unchecked_mut(m.gains) = end + m.grows;
                    // Then the loss: the last cell takes the picked one's place (itself if it
                    // stays).
                    let last = *lens.get_unchecked(m.source) - m.leaves;
                    let from = if m.leaves == 1 { last } else { at };
                    let source = lists.get_unchecked_mut(m.source);
                    *source.get_unchecked_mut(at) = *source.get_unchecked(from);
                    *lens.get_unchecked_mut(m.source) = last;
                }
            }
            Ok(())
        })();
        *rng = local;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::lineage_rng;
    use crate::model::ChannelKind;

    fn channel(source: usize, dec: Option<usize>, inc: Option<usize>) -> Channel {
        Channel {
            source,
            dec,
            inc,
            kind: ChannelKind::Switch,
            is_mutation: false,
        }
    }

    /// Cell lists: the same draws and the same lists as one `fire` per event, for divisions
    /// (into the source and into another state), deaths and switches, across many bursts.
    #[test]
    fn a_burst_moves_the_cells_as_one_fire_per_event() {
        let channels = [
            channel(0, None, Some(0)),
            channel(0, Some(0), None),
            channel(0, Some(0), Some(1)),
            channel(1, Some(1), Some(0)),
            channel(1, None, Some(2)),
            channel(1, None, Some(1)),
            channel(2, Some(2), None),
        ];
        let start = vec![
            vec![3, 1, 4, 1, 5],
            vec![0, 2, 0, 0, 1],
            vec![0, 1, 0, 2, 0],
        ];
        let mut batch = Lineages::from_counts(&start).unwrap();
        batch.defer_counts();
        let mut single = batch.clone();
        let mut moves = CellMoves::new(&channels, 3);
        let (mut rng_batch, mut rng_single) = (lineage_rng(&[7; 32], 3), lineage_rng(&[7; 32], 3));
        // A channel sequence that keeps every state populated: more divisions than losses.
        let (mut k, mut clean) = (0u32, 0);
        for burst in 0..50 {
            let fired: Vec<u32> = (0..burst % 17)
                .map(|_| {
                    k = k.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    [0, 0, 5, 5, 4, 4, 1, 2, 3, 6][(k >> 16) as usize % 10]
                })
                .collect();
            let batched = moves.fire_all(&mut batch, &channels, &fired, &mut rng_batch);
            let mut one_by_one = Ok(());
            for &c in &fired {
                one_by_one = single
                    .fire(&channels[c as usize], &mut rng_single)
                    .map(|_| ());
                if one_by_one.is_err() {
                    break;
                }
            }
            assert_eq!(batched, one_by_one);
            clean += usize::from(batched.is_ok());
            assert_eq!(batch.totals(), single.totals());
            let (mut held_batch, mut held_single) = (Vec::new(), Vec::new());
            batch.held_into(&mut held_batch);
            single.held_into(&mut held_single);
            assert_eq!(held_batch, held_single, "burst {burst}");
            assert_eq!(batch.cell_lists(), single.cell_lists(), "burst {burst}");
        }
        // Both paths ran: the bursts in one loop, the comparison one event at a time.
        assert!(moves.moved_at_once() > 200, "{}", moves.moved_at_once());
        // Most bursts ran to their end (an emptied state stops one, in both alike).
        assert!(clean >= 45, "{clean} bursts ran to their end");
        assert!(
            batch.totals().iter().sum::<u64>() > 100,
            "{:?}",
            batch.totals()
        );
    }

    /// An empty source stops the burst with `Empty`, the events before it applied, as one
    /// `fire` per event does; an invalid channel goes event by event and gets its error.
    #[test]
    fn errors_are_those_of_one_fire_per_event() {
        let channels = [channel(0, Some(0), Some(1)), channel(0, Some(1), None)];
        let mut l = Lineages::from_counts(&[vec![1, 1], vec![0, 0]]).unwrap();
        l.defer_counts();
        let mut rng = lineage_rng(&[1; 32], 0);
        let mut moves = CellMoves::new(&channels[..1], 2);
        assert_eq!(
            moves.fire_all(&mut l, &channels, &[0, 0, 0], &mut rng),
            Err(LineageError::Empty)
        );
        assert_eq!(l.totals(), [0, 2]);
        let mut invalid = CellMoves::new(&channels, 2);
        assert!(matches!(
            invalid.fire_all(&mut l, &channels, &[1], &mut rng),
            Err(LineageError::Shape(_))
        ));
        assert_eq!(invalid.moved_at_once(), 0);
        // A state on bins goes event by event too.
        let mut binned =
            Lineages::from_counts_with_cell_limit(&[vec![2, 1], vec![0, 0]], 0).unwrap();
        binned.defer_counts();
        assert_eq!(
            moves.fire_all(&mut binned, &channels, &[0], &mut rng),
            Ok(())
        );
        assert_eq!(binned.totals(), [2, 1]);
        // Only the first burst (its three events, the last refused) went through the loop.
        assert_eq!(moves.moved_at_once(), 3);
    }
}
