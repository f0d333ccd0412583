//! The cells of one state, per lineage, with the lineage of a uniformly chosen cell drawn in O(1)
//! (expected) time: from a list of every cell while the state is small, by composition and
//! rejection over bins of lineages once it is large.
//!
//! **Cell list** (while the state has at most [`CELL_LIST_LIMIT`] cells): the lineage id of every
//! cell, in no particular order. [`LineageCounts::sample`] draws one index uniform in
//! `[0, total)` and reads it: exactly uniform over cells, so lineage `id` comes with probability
//! `count(id) / total`, with one draw and one read. A cell added pushes its lineage; a picked
//! cell removed ([`LineageCounts::remove_sampled`]) is swapped with the last. The per-lineage
//! counts are kept beside it (snapshots, clone extinction). Case (d) of the benches keeps its
//! lists (10^4 to 10^5 cells) in the L1/L2 caches, where the bins missed on three arrays.
//!
//! **Bins** (once a state passes [`CELL_LIST_LIMIT`] cells; it converts once, deterministically,
//! from its counts, when an addition takes it past the limit, and never converts back): a lineage
//! holding `c >= 1` cells sits in bin `k = floor(log2 c)`, so bin `k` holds the lineages of
//! `2^k ..= 2^(k+1) - 1` cells; each bin keeps its members (an unordered list of ids, with each
//! lineage's position in it, so that a lineage leaves in O(1) by a swap with the last member) and
//! its cells. A lineage with no cell is in no bin. Sampling draws a cell index `r` uniform in
//! `[0, total)` and walks the occupied bins (at most 64, in practice a handful) to the one
//! holding it: bin `k` is chosen with probability `cells(k) / total`. Within bin `k` a member is
//! drawn uniformly and accepted with probability `count / 2^(k+1)` (an exact integer comparison
//! with a uniform `u < 2^(k+1)`; one draw uniform in `[0, members * 2^(k+1))` gives both), else
//! drawn again: a member is returned with probability proportional to its count, so overall
//! lineage `id` with probability `count(id) / total`, exactly. Acceptance is above 1/2, so at
//! most 2 tries are expected. Bin 0 holds lineages of exactly one cell, so there the index's
//! offset into the bin, uniform over its members, names the member with no further draw. This is
//! the composition–rejection method of Slepoy, Thompson & Plimpton (J. Chem. Phys. 128, 205101,
//! 2008). Updates change a lineage's count, its bin's cells, and, when the count crosses a power
//! of two or reaches 0, move it between bins: O(1).
//!
//! Which lineage a given stream of draws yields depends on the order of the cell list or of each
//! bin's members, hence on the history of operations, not only on the counts: it is reproducible
//! (the same operations and draws give the same picks) and exact in law, but two structures with
//! equal counts built by different operations may map the same draws to different lineages.
//! Equality (`==`) compares counts. [`LineageCounts::pick`] keeps the id-order map of a cell
//! index to its lineage, by a linear scan, for checks.

use rand::Rng;
use std::mem::MaybeUninit;

use super::LineageError;
use super::scratch;
use super::stream::uniform_below;

/// The most cells a state keeps as a cell list (16 MiB of `u32` ids); past it, bins.
pub const CELL_LIST_LIMIT: u64 = 1 << 22;

/// Bins by `floor(log2 count)` of a `u64` count.
const N_BINS: usize = 64;

/// The lineages of counts `2^k ..= 2^(k+1) - 1` for one `k` (module docs).
#[derive(Clone, Debug, Default)]
struct Bin {
    /// Member ids, in no particular order.
    members: Vec<u32>,
    /// The cells of the members together.
    cells: u64,
}

/// The lineages binned by `floor(log2 count)` (module docs), for counts kept elsewhere.
#[derive(Clone, Debug)]
struct Bins {
    /// `slot[id]`: where lineage `id` stands in its bin's members (meaningless while it has no
    /// cell).
    slot: Vec<u32>,
    /// `by_size[k]`: the lineages of `2^k ..= 2^(k+1) - 1` cells (an array: no bounds test for a
    /// bin index, which is at most 63).
    by_size: [Bin; N_BINS],
    /// Bit `k` is set while bin `k` has a member.
    occupied: u64,
}

/// How a state draws the lineage of a uniformly chosen cell (module docs).
#[derive(Clone, Debug)]
enum Picker {
    /// The lineage of every cell, in no particular order.
    Cells(Vec<u32>),
    Bins(Box<Bins>),
}

/// A cell drawn by [`LineageCounts::sample_cell`]: its lineage, and where it stands in the cell
/// list (if the state keeps one), so that it can be removed in O(1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampledCell {
    pub lineage: u32,
    at: Option<usize>,
}

/// The number of cells of each lineage in one cell state (module docs).
#[derive(Clone, Debug)]
pub struct LineageCounts {
    /// `counts[id]`: the cells of lineage `id`; while deferred and out of date it may be empty
    /// (not built yet: [`from_cell_list`](LineageCounts::from_cell_list)), and a refresh builds
    /// it.
    counts: Vec<u64>,
    /// The number of lineages (`counts.len()` whenever the counts are built).
    n_lineages: usize,
    picker: Picker,
    /// The most cells kept as a cell list ([`CELL_LIST_LIMIT`] unless built otherwise).
    cell_limit: u64,
    /// The sum of `counts`.
    total: u64,
    /// Counts deferred ([`defer_counts`](LineageCounts::defer_counts)): a cell list's moves
    /// leave `counts` alone until [`refresh_counts`](LineageCounts::refresh_counts).
    deferred: bool,
    /// Whether a deferred move happened since the last refresh (`counts` is out of date).
    stale: bool,
}

/// Equal counts (the pickers may order cells or members differently).
impl PartialEq for LineageCounts {
    fn eq(&self, other: &Self) -> bool {
        debug_assert!(
            !self.stale && !other.stale,
            "counts compared while out of date"
        );
        self.counts == other.counts
    }
}

impl Eq for LineageCounts {}

impl Default for LineageCounts {
    fn default() -> Self {
        Self::new()
    }
}

/// The bin of a count `>= 1`: `floor(log2 count)`.
#[inline]
fn bin_of(count: u64) -> usize {
    debug_assert!(count > 0);
    63 - count.leading_zeros() as usize
}

impl Bins {
    /// The bins of lineages holding `counts` cells.
    fn new(counts: &[u64]) -> Self {
        let mut bins = Self {
            slot: vec![0; counts.len()],
            by_size: std::array::from_fn(|_| Bin::default()),
            occupied: 0,
        };
        for (id, &count) in counts.iter().enumerate() {
            bins.enter(id as u32, count);
        }
        bins
    }

    /// Put lineage `id`, holding `count` cells, into its bin (none for no cell).
    #[inline]
    fn enter(&mut self, id: u32, count: u64) {
        if count == 0 {
            return;
        }
        let k = bin_of(count);
        let bin = &mut self.by_size[k];
        // Fewer than 2^32 lineages, so positions fit.
        self.slot[id as usize] = bin.members.len() as u32;
        bin.members.push(id);
        bin.cells += count;
        self.occupied |= 1 << k;
    }

    /// Take lineage `id`, holding `count` cells, out of its bin (none for no cell): the last
    /// member takes its place.
    #[inline]
    fn leave(&mut self, id: u32, count: u64) {
        if count == 0 {
            return;
        }
        let k = bin_of(count);
        let bin = &mut self.by_size[k];
        let at = self.slot[id as usize] as usize;
        bin.members.swap_remove(at);
        if let Some(&moved) = bin.members.get(at) {
            self.slot[moved as usize] = at as u32;
        }
        bin.cells -= count;
        if bin.members.is_empty() {
            self.occupied &= !(1 << k);
        }
    }

    /// Lineage `id` went from `count` to `new_count` cells.
    #[inline]
    fn moved(&mut self, id: u32, count: u64, new_count: u64) {
        if count > 0 && new_count > 0 && bin_of(count) == bin_of(new_count) {
            // The common case: the lineage stays in its bin. Every bin's cells are at most the
            // total, so neither step leaves the range.
            let bin = &mut self.by_size[bin_of(count)];
            bin.cells = bin.cells - count + new_count;
        } else {
            self.leave(id, count);
            self.enter(id, new_count);
        }
    }

    /// The lineage of a uniformly chosen cell among `total > 0` (module docs).
    #[inline]
    fn sample<R: Rng + ?Sized>(
        &self,
        counts: &[u64],
        total: u64,
        rng: &mut R,
    ) -> Result<u32, LineageError> {
        let mut rest = uniform_below(rng, total)?;
        // The occupied bins' cells add up to `total > rest`, so the walk ends at one of them by
        // the last at the latest (and `total > 0` means there is one).
        let mut occupied = self.occupied;
        loop {
            let k = occupied.trailing_zeros() as usize;
            occupied &= occupied - 1;
            let cells = self.by_size[k].cells;
            if rest < cells || occupied == 0 {
                return self.member(counts, k, rest, rng);
            }
            rest -= cells;
        }
    }

    /// A member of the non-empty bin `k` with probability proportional to its count, given
    /// `rest`, uniform in `[0, cells(k))`.
    #[inline]
    fn member<R: Rng + ?Sized>(
        &self,
        counts: &[u64],
        k: usize,
        rest: u64,
        rng: &mut R,
    ) -> Result<u32, LineageError> {
        let members = &self.by_size[k].members;
        if k == 0 {
            // Every member holds one cell: `rest` is uniform over the members.
            return Ok(members[rest as usize]);
        }
        let n = members.len() as u64;
        let bits = k as u32 + 1;
        if bits < 64 && n <= u64::MAX >> bits {
            // One draw per try: `x` uniform in [0, n * 2^(k+1)) is a member index (its high part)
            // and an independent `u` uniform in [0, 2^(k+1)) (its low k + 1 bits).
            loop {
                let x = uniform_below(rng, n << bits)?;
                let id = members[(x >> bits) as usize];
                if x & ((1 << bits) - 1) < counts[id as usize] {
                    return Ok(id);
                }
            }
        }
        loop {
            let id = members[uniform_below(rng, n)? as usize];
            // `u` is uniform in [0, 2^(k+1)) (the top k + 1 bits of a draw), so the member is
            // accepted with probability count / 2^(k+1), above 1/2 in bin k.
            let u = rng.next_u64() >> (63 - k);
            if u < counts[id as usize] {
                return Ok(id);
            }
        }
    }
}

/// The cell list of lineages holding `counts` cells (`total` together, at most `max` per
/// lineage), in id order.
fn cell_list(counts: &[u64], total: u64, max: u64) -> Vec<u32> {
    let mut cells = scratch::take();
    if total == 0 {
        // A state with no cell yet (most of a founders start): no pass over the lineages.
        return cells;
    }
    if max <= 1 {
        // At most one cell per lineage (founders): write every id and step past it if it has a
        // cell, without a branch; the slot past the end takes the last write.
        cells.resize(total as usize + 1, 0);
        let mut at = 0;
        for (id, &count) in counts.iter().enumerate() {
            cells[at] = id as u32;
            at += count as usize;
        }
        cells.truncate(total as usize);
        return cells;
    }
    if max < SHORT_RUN as u64 {
        // Fewer than `SHORT_RUN` cells per lineage (a library of many barcodes): one fixed-width
        // write of the id per lineage (a vector store), stepping past its cells, into the
        // list's spare room (not zero-filled first); the room past the end takes the writes
        // past it.
        let total = total as usize;
        cells.reserve(total + SHORT_RUN);
        let room = &mut cells.spare_capacity_mut()[..total + SHORT_RUN];
        let mut at = 0;
        for (id, &count) in counts.iter().enumerate() {
            room[at..at + SHORT_RUN].copy_from_slice(&[MaybeUninit::new(id as u32); SHORT_RUN]);
            at += count as usize;
        }
        debug_assert_eq!(at, total);
        // SAFETY: each lineage's cells `at..at + count` were written (`count < SHORT_RUN`, each
        // lineage writing from where the one before stopped), and they cover `0..total`.
        unsafe { cells.set_len(total) };
        return cells;
    }
    // Each lineage's id, once per cell (no zero-filling first).
    cells.reserve(total as usize);
    for (id, &count) in counts.iter().enumerate() {
        cells.extend(std::iter::repeat_n(id as u32, count as usize));
    }
    cells
}

/// Lineages of fewer cells than this are written to a new cell list by one store of this many
/// ids each ([`cell_list`]).
const SHORT_RUN: usize = 32;

/// Append `(id, state, count)` for each lineage `id` with `count > 0` cells, in id order.
fn push_held(counts: &[u64], state: u32, held: &mut Vec<(u32, u32, u64)>) {
    let nonzero = counts.iter().enumerate().filter(|&(_, &c)| c > 0);
    held.extend(nonzero.map(|(id, &count)| (id as u32, state, count)));
}

/// The sum of `counts`, `None` past `u64::MAX`; and a bound on the largest count: their bitwise
/// or, which is at least the largest, below `2^k` exactly when every count is, and at most 1
/// exactly when every count is (what [`cell_list`] asks). An or vectorises on every x86-64,
/// unlike a maximum of 64-bit integers (no SSE2 instruction), and this runs once per state of
/// every tracked replicate over all its lineages.
fn total_and_max(counts: &[u64]) -> (Option<u64>, u64) {
    let bound = counts.iter().fold(0, |acc, &c| acc | c);
    if bound < 1 << 32 && (counts.len() as u64) < 1 << 32 {
        // Below 2^32 lineages of below 2^32 cells the sum fits.
        (
            Some(counts.iter().fold(0, |sum: u64, &c| sum.wrapping_add(c))),
            bound,
        )
    } else {
        let total = counts
            .iter()
            .try_fold(0u64, |sum, &count| sum.checked_add(count));
        (total, bound)
    }
}

impl LineageCounts {
    /// No lineages.
    #[must_use]
    pub fn new() -> Self {
        Self::with_cell_limit(CELL_LIST_LIMIT)
    }

    /// No lineages, keeping a cell list up to `cell_limit` cells (0: bins from the start).
    #[must_use]
    pub fn with_cell_limit(cell_limit: u64) -> Self {
        Self {
            counts: Vec::new(),
            n_lineages: 0,
            picker: Picker::Cells(Vec::new()),
            cell_limit,
            total: 0,
            deferred: false,
            stale: false,
        }
        .binned_past_limit()
    }

    /// Lineages `0..counts.len()` holding `counts` cells, built in O(B + cells) (a cell list up
    /// to [`CELL_LIST_LIMIT`] cells, bins past it). `Err(TotalTooLarge)` (naming state 0:
    /// [`Lineages`](super::Lineages) names the state) if the total passes `u64::MAX`;
    /// `Err(TooManyLineages)` past 2^32 lineages.
    pub fn from_counts(counts: &[u64]) -> Result<Self, LineageError> {
        Self::from_counts_with_cell_limit(counts.to_vec(), CELL_LIST_LIMIT)
    }

    /// As [`from_counts`](Self::from_counts), taking the counts, with a cell list up to
    /// `cell_limit` cells (0: bins whatever the total).
    pub fn from_counts_with_cell_limit(
        counts: Vec<u64>,
        cell_limit: u64,
    ) -> Result<Self, LineageError> {
        if counts.len() as u64 > 1 << 32 {
            return Err(LineageError::TooManyLineages);
        }
        let (total, max) = total_and_max(&counts);
        let total = total.ok_or(LineageError::TotalTooLarge { state: 0 })?;
        let picker = if total <= cell_limit {
            Picker::Cells(cell_list(&counts, total, max))
        } else {
            Picker::Bins(Box::new(Bins::new(&counts)))
        };
        Ok(Self {
            n_lineages: counts.len(),
            counts,
            picker,
            cell_limit,
            total,
            deferred: false,
            stale: false,
        })
    }

    /// `n_lineages` lineages whose cells are `cells` (the lineage of each, every id below
    /// `n_lineages`), with deferred counts, not built until needed: a start that knows its cell
    /// list (one barcode per founder) then costs O(cells), with no pass over the lineages.
    /// `Err(TooManyLineages)` past 2^32 lineages; `Err(TotalTooLarge)` (naming state 0) past
    /// the cell-list limit; `Err(UnknownLineage)` for an id past `n_lineages`.
    pub fn from_cell_list(cells: Vec<u32>, n_lineages: usize) -> Result<Self, LineageError> {
        if n_lineages as u64 > 1 << 32 {
            return Err(LineageError::TooManyLineages);
        }
        if cells.len() as u64 > CELL_LIST_LIMIT {
            return Err(LineageError::TotalTooLarge { state: 0 });
        }
        // The largest id first (a pass the compiler vectorises; a search for the first id out of
        // range is not, and took most of a founders start), then, if out of range, the first.
        if cells.iter().fold(0, |top, &id| top.max(id)) as usize >= n_lineages
            && let Some(&id) = cells.iter().find(|&&id| id as usize >= n_lineages)
        {
            return Err(LineageError::UnknownLineage { id, n_lineages });
        }
        Ok(Self {
            counts: Vec::new(),
            n_lineages,
            total: cells.len() as u64,
            picker: Picker::Cells(cells),
            cell_limit: CELL_LIST_LIMIT,
            deferred: true,
            // Out of date (not built) unless there is nothing to count.
            stale: n_lineages > 0,
        })
    }

    /// Bins instead of a cell list if the total is past the limit (module docs: once, never
    /// back).
    fn binned_past_limit(mut self) -> Self {
        self.bin_past_limit();
        self
    }

    /// Convert to bins (built from the counts as they are now) if the total has just passed the
    /// limit; returns whether it did.
    #[inline]
    fn bin_past_limit(&mut self) -> bool {
        let convert = self.total > self.cell_limit && matches!(self.picker, Picker::Cells(_));
        if convert {
            self.picker = Picker::Bins(Box::new(Bins::new(&self.counts)));
        }
        convert
    }

    /// Give this state's buffers back for the next replicate of this thread (`scratch`).
    pub(crate) fn recycle(self) {
        scratch::give(self.counts);
        if let Picker::Cells(cells) = self.picker {
            scratch::give(cells);
        }
    }

    /// Whether the state draws from bins (past its cell-list limit) rather than a cell list.
    #[must_use]
    pub fn is_binned(&self) -> bool {
        matches!(self.picker, Picker::Bins(_))
    }

    /// The number of lineages (including those with no cell).
    #[must_use]
    pub fn n_lineages(&self) -> usize {
        self.n_lineages
    }

    /// The cells of all lineages together.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The cells of each lineage, by id (with counts deferred, as of the last refresh).
    #[must_use]
    pub fn counts(&self) -> &[u64] {
        debug_assert!(!self.stale, "counts read while deferred and out of date");
        &self.counts
    }

    /// Leave the per-lineage counts alone while the state keeps a cell list: the hot moves
    /// ([`add_one`](Self::add_one), [`remove_sampled`](Self::remove_sampled)) then touch only
    /// the list (one cache miss an event, not three), and [`counts`](Self::counts) is valid only
    /// after [`refresh_counts`](Self::refresh_counts). Every other change refreshes them first,
    /// and a state that converts to bins keeps its counts from then on. For a tracker that reads
    /// counts only at snapshots (no clones).
    pub fn defer_counts(&mut self) {
        self.deferred = matches!(self.picker, Picker::Cells(_));
    }

    /// Bring deferred counts up to date, from the cell list in O(B + cells).
    pub fn refresh_counts(&mut self) {
        if !self.stale {
            return;
        }
        if let Picker::Cells(cells) = &self.picker {
            // (Built here if the state started from its cell list.)
            self.counts.clear();
            self.counts.resize(self.n_lineages, 0);
            for &id in cells {
                self.counts[id as usize] += 1;
            }
        }
        self.stale = false;
    }

    /// Append `(lineage, state, count)` for every lineage with cells here, in no particular
    /// order. With deferred counts and a cell list, in O(cells) (not O(B)): the list is counted
    /// into a per-thread tally of zeros, which the rows take back to 0 (`scratch::with_zeros`),
    /// so that a snapshot visits only lineages with cells and clears nothing; otherwise a scan
    /// of the counts.
    pub fn held_into(&mut self, state: u32, held: &mut Vec<(u32, u32, u64)>) {
        let Picker::Cells(cells) = &self.picker else {
            return push_held(&self.counts, state, held);
        };
        if !self.deferred {
            return push_held(&self.counts, state, held);
        }
        scratch::with_zeros(self.n_lineages, |tally| {
            let start = held.len();
            for &id in cells {
                let count = &mut tally[id as usize];
                if *count == 0 {
                    held.push((id, state, 0));
                }
                *count += 1;
            }
            for row in &mut held[start..] {
                row.2 = std::mem::take(&mut tally[row.0 as usize]);
            }
        });
    }

    /// Whether the state keeps a deferred cell list that `room` more cells keep within its
    /// limit: what [`CellMoves`](super::batch::CellMoves) needs to move its cells directly.
    pub(crate) fn has_list_room(&self, room: u64) -> bool {
        self.deferred
            && matches!(self.picker, Picker::Cells(_))
            && self.total.saturating_add(room) <= self.cell_limit
    }

    /// The cell list, taken out (`has_list_room` must hold): the state has no cell until
    /// [`give_cell_list`](Self::give_cell_list).
    pub(crate) fn take_cell_list(&mut self) -> Vec<u32> {
        match &mut self.picker {
            Picker::Cells(cells) => std::mem::take(cells),
            Picker::Bins(_) => Vec::new(),
        }
    }

    /// The cell list back after moves on it: its length is the new total, and the deferred
    /// counts are out of date.
    pub(crate) fn give_cell_list(&mut self, list: Vec<u32>) {
        if let Picker::Cells(cells) = &mut self.picker {
            self.total = list.len() as u64;
            *cells = list;
            self.stale = true;
        }
    }

    /// The cell list, if the state keeps one (for checks).
    #[cfg(test)]
    pub(crate) fn cell_list(&self) -> Option<&[u32]> {
        match &self.picker {
            Picker::Cells(cells) => Some(cells),
            Picker::Bins(_) => None,
        }
    }

    /// Refresh the counts and keep them from now on.
    fn undefer(&mut self) {
        self.refresh_counts();
        self.deferred = false;
    }

    /// The cells of lineage `id`.
    pub fn count(&self, id: u32) -> Result<u64, LineageError> {
        debug_assert!(!self.stale, "counts read while deferred and out of date");
        self.counts
            .get(id as usize)
            .copied()
            .ok_or_else(|| self.unknown(id))
    }

    fn unknown(&self, id: u32) -> LineageError {
        LineageError::UnknownLineage {
            id,
            n_lineages: self.n_lineages,
        }
    }

    /// Add `delta` cells (negative: remove) to lineage `id`. Refused, with nothing changed, for an
    /// unknown lineage, a count that would go below 0 (`BelowZero`) or a count or total past
    /// `u64::MAX` (`Overflow`). O(1) per cell added with a cell list (a state passing the limit
    /// converts to bins, O(B) once); removing cells of a given lineage from a cell list finds
    /// them by a scan, O(cells): runs remove the cell they sampled
    /// ([`remove_sampled`](Self::remove_sampled)). O(1) with bins.
    pub fn add(&mut self, id: u32, delta: i64) -> Result<(), LineageError> {
        self.undefer();
        let (count, new_count) = self.checked(id, delta)?;
        self.counts[id as usize] = new_count;
        self.total = self.total.wrapping_add_signed(delta);
        if self.bin_past_limit() {
            return Ok(());
        }
        match &mut self.picker {
            Picker::Bins(bins) => bins.moved(id, count, new_count),
            Picker::Cells(cells) => {
                if delta > 0 {
                    cells.extend(std::iter::repeat_n(id, delta as usize));
                } else {
                    let mut left = delta.unsigned_abs();
                    let mut at = cells.len();
                    while left > 0 {
                        // The lineage has at least `left` cells in the list.
                        at -= 1;
                        if cells[at] == id {
                            cells.swap_remove(at);
                            left -= 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// One cell added to lineage `id` (the hot path of [`add`](Self::add)).
    #[allow(clippy::inline_always)] // the tracker's per-event path
    #[inline(always)]
    pub fn add_one(&mut self, id: u32) -> Result<(), LineageError> {
        if self.deferred {
            // A list that stays a list: a list's total is at most its limit, below 2^64 - 1.
            if let (Picker::Cells(cells), true, true) = (
                &mut self.picker,
                self.total < self.cell_limit,
                (id as usize) < self.n_lineages,
            ) {
                cells.push(id);
                self.total += 1;
                self.stale = true;
                return Ok(());
            }
            self.undefer();
        }
        let (count, new_count) = self.checked(id, 1)?;
        self.counts[id as usize] = new_count;
        self.total += 1;
        if self.total > self.cell_limit && self.bin_past_limit() {
            return Ok(());
        }
        match &mut self.picker {
            Picker::Cells(cells) => cells.push(id),
            Picker::Bins(bins) => bins.moved(id, count, new_count),
        }
        Ok(())
    }

    /// `(count, count + delta)` of lineage `id`, or why `delta` cannot be added (see
    /// [`add`](Self::add)).
    #[allow(clippy::inline_always)] // the tracker's per-event path
    #[inline(always)]
    fn checked(&self, id: u32, delta: i64) -> Result<(u64, u64), LineageError> {
        let Some(&count) = self.counts.get(id as usize) else {
            return Err(self.unknown(id));
        };
        let overflow = LineageError::Overflow {
            id,
            count,
            delta: delta.into(),
        };
        let Some(new_count) = count.checked_add_signed(delta) else {
            return Err(if delta < 0 {
                LineageError::BelowZero { id, count, delta }
            } else {
                overflow
            });
        };
        // The total is at least `count`, so it can only overflow (not go below 0) here.
        self.total.checked_add_signed(delta).ok_or(overflow)?;
        Ok((count, new_count))
    }

    /// A new lineage holding `initial` cells; returns its id (the next in order). Amortised
    /// O(1 + initial) with a cell list, O(1) with bins. Refused past 2^32 lineages or a total
    /// past `u64::MAX`, with nothing changed.
    pub fn push_lineage(&mut self, initial: u64) -> Result<u32, LineageError> {
        self.undefer();
        let id = u32::try_from(self.counts.len()).map_err(|_| LineageError::TooManyLineages)?;
        let total = self
            .total
            .checked_add(initial)
            .ok_or(LineageError::Overflow {
                id,
                count: 0,
                delta: initial.into(),
            })?;
        self.counts.push(initial);
        self.n_lineages += 1;
        self.total = total;
        if self.bin_past_limit() {
            return Ok(id);
        }
        match &mut self.picker {
            Picker::Cells(cells) => cells.extend(std::iter::repeat_n(id, initial as usize)),
            Picker::Bins(bins) => {
                bins.slot.push(0);
                bins.enter(id, initial);
            }
        }
        Ok(id)
    }

    /// The lineage holding the r-th cell (0-based) when the cells are listed lineage by lineage
    /// in id order: the `id` with `cells(< id) <= r < cells(<= id)`, so it always has a cell.
    /// A linear scan, O(B), for checks: runs draw with [`sample`](Self::sample).
    /// `Err(PickOutOfRange)` unless `r < total`.
    pub fn pick(&self, r: u64) -> Result<u32, LineageError> {
        debug_assert!(!self.stale, "counts read while deferred and out of date");
        let mut rest = r;
        for (id, &count) in self.counts.iter().enumerate() {
            if rest < count {
                return Ok(id as u32);
            }
            rest -= count;
        }
        Err(LineageError::PickOutOfRange {
            r,
            total: self.total,
        })
    }

    /// The lineage of a cell chosen uniformly among all cells (module docs): O(1) with a cell
    /// list (one draw), O(1) expected with bins (one draw and about one more per try within a
    /// bin above bin 0). `Err(Empty)` with no cell.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<u32, LineageError> {
        self.sample_cell(rng).map(|cell| cell.lineage)
    }

    /// A cell chosen uniformly among all cells, as [`sample`](Self::sample) draws it, with what
    /// [`remove_sampled`](Self::remove_sampled) needs to remove it.
    #[allow(clippy::inline_always)] // the tracker's per-event path
    #[inline(always)]
    pub fn sample_cell<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<SampledCell, LineageError> {
        match &self.picker {
            Picker::Cells(cells) => {
                let at = uniform_below(rng, self.total)? as usize;
                Ok(SampledCell {
                    lineage: cells[at],
                    at: Some(at),
                })
            }
            Picker::Bins(bins) => {
                let lineage = bins.sample(&self.counts, self.total, rng)?;
                Ok(SampledCell { lineage, at: None })
            }
        }
    }

    /// Remove `cell`, drawn by [`sample_cell`](Self::sample_cell) from this state with cells
    /// added since but none removed: O(1) (the last cell of the list takes its place).
    /// `Err(BelowZero)`, with nothing changed, if its lineage has no cell.
    #[allow(clippy::inline_always)] // the tracker's per-event path
    #[inline(always)]
    pub fn remove_sampled(&mut self, cell: SampledCell) -> Result<(), LineageError> {
        if self.deferred {
            if let (Picker::Cells(cells), Some(at)) = (&mut self.picker, cell.at)
                && cells.get(at) == Some(&cell.lineage)
            {
                cells.swap_remove(at);
                self.total -= 1;
                self.stale = true;
                return Ok(());
            }
            self.undefer();
        }
        let id = cell.lineage;
        let (count, new_count) = self.checked(id, -1)?;
        self.counts[id as usize] = new_count;
        self.total -= 1;
        match (&mut self.picker, cell.at) {
            (Picker::Cells(cells), Some(at)) if cells.get(at) == Some(&id) => {
                cells.swap_remove(at);
            }
            (Picker::Bins(bins), _) => bins.moved(id, count, new_count),
            (Picker::Cells(cells), _) => {
                // Not where it was sampled (a misuse): any cell of the lineage will do.
                let at = cells.iter().rposition(|&c| c == id).unwrap_or_default();
                cells.swap_remove(at);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lineage of the r-th cell, by a linear scan.
    fn naive_pick(counts: &[u64], r: u64) -> u32 {
        let mut below = 0;
        for (id, &c) in counts.iter().enumerate() {
            below += c;
            if r < below {
                return id as u32;
            }
        }
        unreachable!("r < total")
    }

    /// Every way of writing a cell list from counts (one cell per lineage, short runs, long
    /// runs) gives each lineage's cells in id order, as one push per cell would.
    #[test]
    fn cell_lists_from_counts_are_in_id_order() {
        let shapes: [&[u64]; 6] = [
            &[],
            &[0, 1, 1, 0, 1],
            &[3, 0, 31, 1, 0, 7],
            &[31; 9],
            &[32, 0, 1, 33],
            &[0, 1000, 5, 0, 64],
        ];
        for counts in shapes {
            let (total, max) = total_and_max(counts);
            let naive: Vec<u32> = (0..counts.len() as u32)
                .flat_map(|id| std::iter::repeat_n(id, counts[id as usize] as usize))
                .collect();
            assert_eq!(cell_list(counts, total.unwrap(), max), naive, "{counts:?}");
        }
    }

    /// A state built from its cell list (counts not built) picks, snapshots and refreshes as
    /// the same list built from counts, and builds its counts when a change needs them.
    #[test]
    fn a_state_built_from_its_cell_list_is_the_state_built_from_counts() {
        let mut listed = LineageCounts::from_cell_list(vec![1, 1, 3], 5).unwrap();
        let mut counted = LineageCounts::from_counts(&[0, 2, 0, 1, 0]).unwrap();
        counted.defer_counts();
        assert_eq!((listed.n_lineages(), listed.total()), (5, 3));
        assert_eq!(listed.cell_list(), counted.cell_list());
        let mut rng = crate::lineage::lineage_rng(&[2; 32], 0);
        let mut again = rng.clone();
        let cell = listed.sample_cell(&mut rng).unwrap();
        assert_eq!(cell, counted.sample_cell(&mut again).unwrap());
        for state in [&mut listed, &mut counted] {
            state.add_one(4).unwrap();
            state.remove_sampled(cell).unwrap();
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        listed.held_into(0, &mut a);
        counted.held_into(0, &mut b);
        assert_eq!((a.len(), &a), (3, &b));
        listed.refresh_counts();
        counted.refresh_counts();
        assert_eq!(listed, counted);
        // A lineage pushed onto a list-built state builds its counts first.
        let mut pushed = LineageCounts::from_cell_list(vec![0, 0], 2).unwrap();
        assert_eq!(pushed.push_lineage(3), Ok(2));
        assert_eq!(pushed.counts(), [2, 0, 3]);
        assert_eq!(
            LineageCounts::from_cell_list(vec![0, 2], 2).map(|c| c.total()),
            Err(LineageError::UnknownLineage {
                id: 2,
                n_lineages: 2
            })
        );
        let empty = LineageCounts::from_cell_list(Vec::new(), 0).unwrap();
        assert_eq!((empty.counts(), empty.total()), (&[][..], 0));
    }

    #[test]
    fn every_index_maps_to_its_lineage_for_every_small_shape() {
        // All count vectors of up to 6 lineages with counts 0..=3, built both ways.
        for n in 0..=6u32 {
            for code in 0..4u32.pow(n) {
                let counts: Vec<u64> = (0..n).map(|i| u64::from(code / 4u32.pow(i) % 4)).collect();
                let built = LineageCounts::from_counts(&counts).unwrap();
                let mut grown = LineageCounts::new();
                for &c in &counts {
                    grown.push_lineage(c).unwrap();
                }
                assert_eq!(built, grown, "{counts:?}");
                let total: u64 = counts.iter().sum();
                assert_eq!(built.total(), total);
                for r in 0..total {
                    assert_eq!(
                        built.pick(r),
                        Ok(naive_pick(&counts, r)),
                        "{counts:?} r={r}"
                    );
                }
                assert_eq!(
                    built.pick(total),
                    Err(LineageError::PickOutOfRange { r: total, total })
                );
            }
        }
    }

    #[test]
    fn every_index_maps_to_its_lineage_across_many_lineages() {
        // Up to 72 lineages, with empty lineages and runs of them, built both ways.
        for n in 0..=72 {
            for pattern in 0..4u64 {
                let counts: Vec<u64> = (0..n as u64)
                    .map(|i| match pattern {
                        0 => 1,
                        1 => i % 3,
                        2 => u64::from((i / 8) % 2 == 1) * (i % 5),
                        _ => (i * 7 + 3) % 11 / 4,
                    })
                    .collect();
                let built = LineageCounts::from_counts(&counts).unwrap();
                let mut grown = LineageCounts::new();
                for &c in &counts {
                    grown.push_lineage(c).unwrap();
                }
                assert_eq!(built, grown, "{counts:?}");
                for r in 0..built.total() {
                    assert_eq!(
                        built.pick(r),
                        Ok(naive_pick(&counts, r)),
                        "{counts:?} r={r}"
                    );
                }
            }
        }
    }

    /// Every invariant of the bins (module docs): each lineage with cells is listed once, in the
    /// bin of its count, at its slot; each bin's cells are its members' counts; the occupied
    /// mask marks the non-empty bins; the total is the sum of the counts.
    fn assert_bins_consistent(c: &LineageCounts) {
        assert_eq!(c.total, c.counts.iter().sum::<u64>());
        let bins = match &c.picker {
            Picker::Bins(bins) => bins,
            Picker::Cells(cells) => {
                // The cell list holds each lineage's cells, as many as its count.
                let mut listed = vec![0u64; c.counts.len()];
                for &id in cells {
                    listed[id as usize] += 1;
                }
                assert_eq!(listed, c.counts);
                return;
            }
        };
        assert_eq!(bins.slot.len(), c.counts.len());
        let mut listed = vec![false; c.counts.len()];
        for (k, bin) in bins.by_size.iter().enumerate() {
            let mut cells = 0;
            for (at, &id) in bin.members.iter().enumerate() {
                let count = c.counts[id as usize];
                assert!(count > 0 && bin_of(count) == k, "lineage {id} in bin {k}");
                assert_eq!(bins.slot[id as usize] as usize, at, "slot of lineage {id}");
                assert!(!listed[id as usize], "lineage {id} listed twice");
                listed[id as usize] = true;
                cells += count;
            }
            assert_eq!(bin.cells, cells, "cells of bin {k}");
            assert_eq!(
                bins.occupied >> k & 1 == 1,
                !bin.members.is_empty(),
                "mask bit {k}"
            );
        }
        for (id, &count) in c.counts.iter().enumerate() {
            assert_eq!(listed[id], count > 0, "lineage {id} with {count} cells");
        }
    }

    #[test]
    fn bins_stay_consistent_under_random_operations() {
        // Counts cross powers of two both ways, reach 0 and come back, and jump to the top bin.
        let mut rng = crate::lineage::lineage_rng(&[7; 32], 0);
        for round in 0..60 {
            // Bins from the start; a cell list that passes a low limit (and converts); a cell
            // list that stays one unless a jump takes it to the top bin.
            let (initial, limit) = match round % 3 {
                0 => (vec![1, 0, 3, 8, 1 << 40], 0),
                1 => (vec![1, 0, 3, 8], 60),
                _ => (vec![1, 0, 3, 8], CELL_LIST_LIMIT),
            };
            let mut c = LineageCounts::from_counts_with_cell_limit(initial, limit).unwrap();
            assert_bins_consistent(&c);
            for _ in 0..400 {
                let n = c.n_lineages() as u64;
                let op = uniform_below(&mut rng, 12).unwrap();
                if op == 0 {
                    c.push_lineage(uniform_below(&mut rng, 3).unwrap()).unwrap();
                } else if op == 2 && c.total() > 0 {
                    // A sampled cell removed where it stands.
                    let cell = c.sample_cell(&mut rng).unwrap();
                    let count = c.count(cell.lineage).unwrap();
                    c.remove_sampled(cell).unwrap();
                    assert_eq!(c.count(cell.lineage), Ok(count - 1));
                } else if op == 3 {
                    let id = uniform_below(&mut rng, n).unwrap() as u32;
                    c.add_one(id).unwrap();
                } else if op == 1 && round % 10 == 0 {
                    // A rare jump into the highest bins and back.
                    let id = uniform_below(&mut rng, n).unwrap() as u32;
                    if c.add(id, i64::MAX).is_ok() {
                        assert_bins_consistent(&c);
                        c.add(id, -i64::MAX).unwrap();
                    }
                } else {
                    let id = uniform_below(&mut rng, n).unwrap() as u32;
                    let delta = uniform_below(&mut rng, 7).unwrap() as i64 - 3;
                    let before = c.clone();
                    if c.add(id, delta).is_err() {
                        assert_eq!(c.counts, before.counts);
                        let picker = |c: &LineageCounts| format!("{:?}", c.picker);
                        assert_eq!(picker(&c), picker(&before));
                    }
                }
                assert_bins_consistent(&c);
                if c.total() > 0 {
                    let id = c.sample(&mut rng).unwrap();
                    assert!(c.count(id).unwrap() > 0, "sampled lineage {id} has no cell");
                }
            }
            assert_eq!(c, LineageCounts::from_counts(c.counts()).unwrap());
        }
    }

    #[test]
    fn a_cell_list_converts_to_bins_past_its_limit_keeping_every_count() {
        // Each way of adding cells takes a list of 10 cells past a limit of 12, once.
        type Grow = fn(&mut LineageCounts) -> Result<(), LineageError>;
        let ways: [Grow; 3] = [
            |c| c.add_one(1),
            |c| c.add(2, 5),
            |c| c.push_lineage(4).map(|_| ()),
        ];
        let mut rng = crate::lineage::lineage_rng(&[9; 32], 0);
        for grow in ways {
            let mut c = LineageCounts::from_counts_with_cell_limit(vec![4, 0, 3, 3], 12).unwrap();
            while !c.is_binned() {
                assert!(c.total() <= 12);
                let before = c.counts().to_vec();
                grow(&mut c).unwrap();
                assert_bins_consistent(&c);
                assert!(c.counts().iter().zip(&before).all(|(a, b)| a >= b));
            }
            assert!(c.total() > 12);
            let counts = c.counts().to_vec();
            // Bins for good: removing cells back below the limit keeps them.
            for _ in 0..c.total() {
                let cell = c.sample_cell(&mut rng).unwrap();
                assert!(counts[cell.lineage as usize] > 0);
                c.remove_sampled(cell).unwrap();
                assert!(c.is_binned());
                assert_bins_consistent(&c);
            }
            assert_eq!(c.total(), 0);
        }
    }

    #[test]
    fn deferred_counts_come_back_exact_at_each_refresh() {
        // Hot moves on a deferred cell list (a limit of 40 cells, crossed and converted to bins
        // in some rounds) against a naive count vector; every refresh restores the counts.
        let mut rng = crate::lineage::lineage_rng(&[10; 32], 0);
        for round in 0..40 {
            let limit = if round % 2 == 0 { 40 } else { CELL_LIST_LIMIT };
            let mut naive = vec![2u64, 0, 1, 5, 0, 3];
            let mut c = LineageCounts::from_counts_with_cell_limit(naive.clone(), limit).unwrap();
            c.defer_counts();
            for step in 0..300 {
                let grow = uniform_below(&mut rng, 5).unwrap() < 3;
                if grow || c.total() == 0 {
                    let id = uniform_below(&mut rng, naive.len() as u64).unwrap() as u32;
                    c.add_one(id).unwrap();
                    naive[id as usize] += 1;
                } else {
                    let cell = c.sample_cell(&mut rng).unwrap();
                    c.remove_sampled(cell).unwrap();
                    naive[cell.lineage as usize] -= 1;
                }
                assert_eq!(c.total(), naive.iter().sum::<u64>());
                if step % 11 == 0 {
                    // The lineages held, counted from the list, then the counts refreshed.
                    let mut held = vec![(99, 9, 9)];
                    c.held_into(3, &mut held);
                    held.sort_unstable();
                    let mut expected = vec![(99, 9, 9)];
                    push_held(&naive, 3, &mut expected);
                    expected.sort_unstable();
                    assert_eq!(held, expected);
                }
                if step % 37 == 0 {
                    c.refresh_counts();
                    assert_eq!(c.counts(), naive);
                    assert_bins_consistent(&c);
                }
            }
            assert_eq!(c.is_binned(), round % 2 == 0, "round {round}");
            c.refresh_counts();
            assert_eq!(c.counts(), naive);
            // Any other change refreshes first.
            c.add(0, 1).unwrap();
            naive[0] += 1;
            assert_eq!(c.counts(), naive);
            assert_bins_consistent(&c);
        }
    }

    #[test]
    fn samples_come_from_the_only_lineage_with_cells_in_any_bin() {
        // One lineage holding all cells is picked every time, whatever its bin (incl. the top).
        let mut rng = crate::lineage::lineage_rng(&[8; 32], 0);
        for count in [1, 2, 3, 7, 8, 1000, 1 << 62, u64::MAX] {
            let c = LineageCounts::from_counts(&[0, 0, count, 0]).unwrap();
            assert_bins_consistent(&c);
            for _ in 0..100 {
                assert_eq!(c.sample(&mut rng), Ok(2), "count {count}");
            }
        }
    }

    #[test]
    fn bad_operations_are_refused_and_change_nothing() {
        let mut c = LineageCounts::from_counts(&[2, 0, 5]).unwrap();
        let before = c.clone();
        assert_eq!(
            c.add(1, -1),
            Err(LineageError::BelowZero {
                id: 1,
                count: 0,
                delta: -1
            })
        );
        assert_eq!(
            c.add(3, 1),
            Err(LineageError::UnknownLineage {
                id: 3,
                n_lineages: 3
            })
        );
        assert_eq!(c.add(0, -3).unwrap_err().to_string(), {
            "lineage 0 has 2 cells; adding -3 would leave fewer than 0"
        });
        assert!(matches!(
            c.add(2, i64::MAX).and_then(|()| c.add(2, i64::MAX)),
            Err(LineageError::Overflow { .. })
        ));
        c.add(2, -i64::MAX).unwrap();
        assert_eq!(c, before);
        assert!(matches!(
            c.count(7),
            Err(LineageError::UnknownLineage { .. })
        ));
        assert!(matches!(
            c.push_lineage(u64::MAX),
            Err(LineageError::Overflow { .. })
        ));
        assert_eq!(c, before);
        assert_eq!(
            LineageCounts::from_counts(&[u64::MAX, 1]),
            Err(LineageError::TotalTooLarge { state: 0 })
        );
        let empty = LineageCounts::new();
        assert_eq!(
            empty.pick(0),
            Err(LineageError::PickOutOfRange { r: 0, total: 0 })
        );
        let mut rng = crate::lineage::lineage_rng(&[0; 32], 0);
        assert_eq!(empty.sample(&mut rng), Err(LineageError::Empty));
    }

    #[test]
    fn adding_and_removing_keep_picks_exact() {
        let mut c = LineageCounts::from_counts(&[1, 1, 1, 1, 1, 1, 1]).unwrap();
        c.add(3, 4).unwrap();
        c.add(0, -1).unwrap();
        c.push_lineage(2).unwrap();
        c.add(6, -1).unwrap();
        let counts = [0, 1, 1, 5, 1, 1, 0, 2];
        assert_eq!(c.counts(), counts);
        assert_eq!(c, LineageCounts::from_counts(&counts).unwrap());
        for r in 0..c.total() {
            assert_eq!(c.pick(r), Ok(naive_pick(&counts, r)));
        }
    }
}
