//! The moves of many events at once: a burst of the hot loop replayed to the tracker, on states
//! that all keep cell lists with deferred counts (barcodes without clones, below
//! [`CELL_LIST_LIMIT`](super::CELL_LIST_LIMIT) cells a state: the common case).
//!
//! [`CellMoves::fire_all`] makes the same draws, picks the same cells and leaves the same lists
//! as one [`Lineages::fire`] per event, in the same order: one index uniform over the source's
//! cells, the picked lineage pushed onto the gaining state's list, the picked cell swapped with
//! the source's last if the source loses it. What it saves is the per-event cost around that:
//! no branch on the channel's kind (a channel that adds no cell pushes onto a sink list that is
//! never read, one that keeps its cell "swaps" it with itself), which the mix of channels would
//! mispredict, no checks of the channel, and no `Result` per event.
//!
//! The loop keeps each list's start and length in arrays of its own stack frame, one slot per
//! state and one for the sink, not in the lists: the compiler then knows that writing a cell
//! cannot change a length or a start, and does not read them again after every store (49
//! instructions an event on x86-64, against 62 when they lived in vectors beside the lists). Each list is given room for
//! the whole burst before it (`Vec::reserve`, no zero-filling of the room: the loop writes a
//! cell before the length covers it), so a push never reallocates inside the loop.
//!
//! Anything else (a state on bins, a burst that could take a list past its limit, counts kept
//! up to date for clones, a model with more states than [`MAX_SLOTS`] allows) goes event by
//! event through [`Lineages::fire`].

use super::stream::uniform_below;
use super::{LineageError, LineageRng, Lineages};
use crate::model::Channel;

/// Slots of the loop's arrays when the states and the sink fit (every model of the SIMD lanes,
/// which take at most 4 states).
const FEW_SLOTS: usize = 8;

/// Slots of the loop's arrays for larger models: lineage tracking takes at most 127 states
/// (states are recorded as int8), and the sink.
const MAX_SLOTS: usize = 128;

/// What one firing of a channel does to the cell lists (module docs), as slots: the states,
/// then the sink. Eight bytes, so that the loop reads one by a scaled index.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(8))]
struct Move {
    /// The state whose cell fires.
    source: u16,
    /// The list the fired cell's lineage is pushed onto: the gaining state, or the sink.
    gains: u16,
    /// 1 if the firing cell leaves the source, 0 if it stays.
    leaves: u16,
}

/// The moves of every channel of a model, with the lists of one burst (module docs).
#[derive(Debug)]
pub struct CellMoves {
    /// Per channel; `None` if some channel cannot be applied here (its losing state is not its
    /// source, or a state is out of range) or the model has too many states: then every burst
    /// goes event by event, which refuses a bad channel with the right error.
    moves: Option<Vec<Move>>,
    /// The lists of the states while a burst runs.
    lists: Vec<Vec<u32>>,
    /// The sink: the lineages of the cells that no state gained (written, never read).
    sink: Vec<u32>,
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
                let valid = n_states < MAX_SLOTS
                    && c.source < n_states
                    && c.inc.is_none_or(|s| s < n_states)
                    && c.dec.is_none_or(|d| d == c.source);
                // Below `MAX_SLOTS`, so every slot fits a `u16`.
                valid.then(|| Move {
                    source: c.source as u16,
                    gains: c.inc.unwrap_or(sink) as u16,
                    leaves: u16::from(c.dec.is_some()),
                })
            })
            .collect();
        Self {
            moves,
            lists: vec![Vec::new(); n_states],
            sink: Vec::new(),
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
        let Some(moves) = self.moves.as_deref() else {
            return fire_each(lineages, channels, fired, rng);
        };
        if !take_lists(&mut self.lists, lineages, fired.len()) {
            return fire_each(lineages, channels, fired, rng);
        }
        self.sink.clear();
        self.sink.reserve(fired.len());
        let (lists, sink) = (&mut self.lists, &mut self.sink);
        let result = if lists.len() < FEW_SLOTS {
            apply::<FEW_SLOTS>(moves, lists, sink, fired, rng)
        } else {
            apply::<MAX_SLOTS>(moves, lists, sink, fired, rng)
        };
        give_lists(&mut self.lists, lineages);
        self.moved_at_once += fired.len() as u64;
        result
    }
}

/// One [`Lineages::fire`] per event.
fn fire_each(
    lineages: &mut Lineages,
    channels: &[Channel],
    fired: &[u32],
    rng: &mut LineageRng,
) -> Result<(), LineageError> {
    for &channel in fired {
        lineages.fire(&channels[channel as usize], rng)?;
    }
    Ok(())
}

/// Take every state's list into `lists`, with room for `events` more cells, if every state keeps
/// a deferred cell list that many events cannot take past its limit; otherwise take nothing and
/// return false.
fn take_lists(lists: &mut [Vec<u32>], lineages: &mut Lineages, events: usize) -> bool {
    if lineages.n_states() != lists.len() {
        return false;
    }
    let room = events as u64;
    if !lineages.states().iter().all(|s| s.has_list_room(room)) {
        return false;
    }
    for (state, list) in lineages.states_mut().iter_mut().zip(lists) {
        *list = state.take_cell_list();
        list.reserve(events);
    }
    true
}

/// Give the lists back to their states.
fn give_lists(lists: &mut [Vec<u32>], lineages: &mut Lineages) {
    for (state, list) in lineages.states_mut().iter_mut().zip(lists) {
        state.give_cell_list(std::mem::take(list));
    }
}

/// The moves of `fired` on `lists` and `sink` (each with room for one cell per event), through
/// arrays of `N` slots (more than `lists.len()`: the states, then the sink), drawing from `rng`
/// (module docs). The first error stops it, with the events before it applied and their draws
/// made.
#[inline(always)]
#[allow(clippy::inline_always)] // one loop per slot count, each inlined into `fire_all`
fn apply<const N: usize>(
    moves: &[Move],
    lists: &mut [Vec<u32>],
    sink: &mut Vec<u32>,
    fired: &[u32],
    rng: &mut LineageRng,
) -> Result<(), LineageError> {
    let sink_slot = lists.len();
    assert!(sink_slot < N, "{sink_slot} states do not fit {N} slots");
    // Each slot's first cell and its cells.
    let mut start = [std::ptr::null_mut::<u32>(); N];
    let mut len = [0usize; N];
    for (s, list) in lists.iter_mut().enumerate() {
        start[s] = list.as_mut_ptr();
        len[s] = list.len();
    }
    start[sink_slot] = sink.as_mut_ptr();
    // The events up to the first channel without a move (none from the engine) are moved.
    let valid = match fired.iter().copied().max() {
        Some(top) if top as usize >= moves.len() => fired
            .iter()
            .position(|&c| c as usize >= moves.len())
            .unwrap_or(fired.len()),
        _ => fired.len(),
    };
    // A copy in registers (the caller's would be written back at every draw).
    let mut local = rng.clone();
    let mut result = Ok(());
    for &channel in &fired[..valid] {
        // SAFETY: `channel < moves.len()` (`valid`).
        let m = unsafe { *moves.get_unchecked(channel as usize) };
        let (source, gains) = (m.source as usize, m.gains as usize);
        debug_assert!(source < sink_slot && gains <= sink_slot);
        // SAFETY: `source < sink_slot < N` (`CellMoves::new` checks the channels against the
        // states, `take_lists` that the lineages have as many).
        let cells = unsafe { *len.get_unchecked(source) };
        let at = match uniform_below(&mut local, cells as u64) {
            Ok(at) => at as usize,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        // SAFETY: `source < sink_slot` and `gains <= sink_slot < N` index the arrays. `at <
        // cells`, the cells of `source`, each written (by the list before the burst or by a push
        // of this loop). A list's length (the sink's too) grows by at most one an event, within
        // the room reserved for the burst, so its push at `end` is within its capacity. A
        // leaving cell's `last = cells - 1` (or `cells` after a push into its own source) is a
        // written cell, and `at` is below the source's new length or equal to it.
        unsafe {
            let lineage = *(*start.get_unchecked(source)).add(at);
            // Gain first (the source grows too for a division keeping the daughter in it).
            let end = *len.get_unchecked(gains);
            *(*start.get_unchecked(gains)).add(end) = lineage;
            *len.get_unchecked_mut(gains) = end + 1;
            // Then the loss: the last cell takes the picked one's place (itself if it stays).
            let last = *len.get_unchecked(source) - m.leaves as usize;
            let from = if m.leaves == 1 { last } else { at };
            let cells = *start.get_unchecked(source);
            *cells.add(at) = *cells.add(from);
            *len.get_unchecked_mut(source) = last;
        }
    }
    if result.is_ok() && valid < fired.len() {
        result = Err(LineageError::Shape(format!("no channel {}", fired[valid])));
    }
    *rng = local;
    for (list, &cells) in lists.iter_mut().zip(&len) {
        debug_assert!(cells <= list.capacity());
        // SAFETY: every cell below a list's length was written (above), within its capacity.
        unsafe { list.set_len(cells) };
    }
    result
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
