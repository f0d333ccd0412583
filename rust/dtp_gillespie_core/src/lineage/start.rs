//! What a run tracks ([`LineageSpec`]) and the lineages each replicate starts from: one barcode
//! per founder cell, a library of barcodes drawn per cell, or an explicit table per replicate.
//!
//! Every refusal here is an [`EngineError::InvalidRun`] naming the field of the run's
//! `lineages` dict (`lineages.times`, `lineages.n_barcodes`, `lineages.table_count`, ...) and the
//! value, since these are checked before any replicate runs.

use std::collections::HashSet;
use std::ops::Range;

use rand::Rng;

use super::{CELL_LIST_LIMIT, Ids, LineageCounts, LineageError, Lineages, scratch, uniform_below};
use crate::error::{EngineError, Result};
use crate::jump::Multinomial;

/// Lineage ids are 32-bit: no start may create more lineages than this.
const MAX_LINEAGES: u64 = 1 << 32;

/// States are recorded as int8 in the lineage table.
const MAX_TRACKED_STATES: usize = i8::MAX as usize;

/// Lineage tracking of a run (the `lineages` key of the run dict).
#[derive(Clone, Debug, PartialEq)]
pub struct LineageSpec {
    pub start: LineageStart,
    /// The barcode times: non-decreasing, within `[0, t_end]` (empty only if `clones`).
    pub times: Vec<f64>,
    /// Found a clone at every mutation event and return the clone table.
    pub clones: bool,
    /// The id of the first clone founded in each replicate (>= 1; 0 is the background).
    pub next_clone: i64,
}

/// Which lineages a replicate starts from.
#[derive(Clone, Debug, PartialEq)]
pub enum LineageStart {
    /// Initial cell `k` (state 0's cells first, then state 1's, ...) carries barcode `k`.
    Founders,
    /// Each initial cell draws its barcode uniformly from `0..n_barcodes`, on the lineage stream.
    Library { n_barcodes: i64 },
    /// Explicit lineages for each replicate of the call.
    Table(LineageTable),
}

/// Explicit starting lineages, in CSR form over the replicates of one call: replicate `i`'s rows
/// are `offsets[i]..offsets[i + 1]` (or, with two offsets, the same rows for every replicate).
#[derive(Clone, Debug, PartialEq)]
pub struct LineageTable {
    pub offsets: Vec<i64>,
    pub barcode: Vec<i64>,
    pub clone: Vec<i64>,
    /// Cells of each row in each state, row-major: `rows * n_columns` values.
    pub count: Vec<i64>,
    /// The number of columns of `count` (must be the model's number of states).
    pub n_columns: usize,
}

fn refuse<T>(message: String) -> Result<T> {
    Err(EngineError::InvalidRun(message))
}

impl LineageSpec {
    /// Checks that need the model and horizon only: times, start parameters, table shapes and
    /// values. [`Self::check_replicates`] checks the table against the number of replicates.
    /// `population_limit`: the largest population a run may hold (a table may not start above it).
    pub fn validate(
        &self,
        n_states: usize,
        initial: &[u64],
        t_end: f64,
        population_limit: u64,
    ) -> Result<()> {
        if n_states > MAX_TRACKED_STATES {
            return refuse(format!(
                "lineage tracking records states as int8: the model has {n_states} states, at \
                 most {MAX_TRACKED_STATES} can be tracked"
            ));
        }
        if let Some(t) = self.times.iter().find(|t| !(**t >= 0.0 && **t <= t_end)) {
            return refuse(format!(
                "lineages.times: barcode time {t} is outside [0, t_end = {t_end}]"
            ));
        }
        if let Some(&[before, after]) = self.times.windows(2).find(|w| w[1] < w[0]) {
            return refuse(format!(
                "lineages.times must be non-decreasing; got {after} after {before}"
            ));
        }
        if self.times.is_empty() && !self.clones {
            return refuse(
                "lineages.times is empty and lineages.clones is false: nothing would be \
                 recorded; give barcode times or track clones"
                    .into(),
            );
        }
        if self.next_clone < 1 {
            return refuse(format!(
                "lineages.next_clone is {}; it must be >= 1 (clone 0 is the background)",
                self.next_clone
            ));
        }
        match &self.start {
            LineageStart::Founders => {
                let cells: u64 = initial.iter().sum();
                if cells > MAX_LINEAGES {
                    return refuse(format!(
                        "lineages.start \"founders\" gives each of the {cells} initial cells its \
                         own barcode; at most 2^32 barcodes can be tracked"
                    ));
                }
            }
            &LineageStart::Library { n_barcodes } => {
                if n_barcodes < 1 {
                    return refuse(format!(
                        "lineages.n_barcodes is {n_barcodes}; it must be >= 1"
                    ));
                }
                if n_barcodes as u64 > MAX_LINEAGES {
                    return refuse(format!(
                        "lineages.n_barcodes is {n_barcodes}; at most 2^32 barcodes can be tracked"
                    ));
                }
            }
            LineageStart::Table(table) => {
                table.validate(n_states, self.next_clone, population_limit)?;
            }
        }
        Ok(())
    }

    /// A table must list one set of rows per replicate of the call (or one for all).
    pub fn check_replicates(&self, n_replicates: usize) -> Result<()> {
        match &self.start {
            LineageStart::Table(table) if table.n_tables() != 1 => {
                if table.n_tables() != n_replicates {
                    return refuse(format!(
                        "lineages.table_offsets has {} entries: it must have n_replicates + 1 = \
                         {} (one table per replicate of the call) or 2 (one table for all)",
                        table.offsets.len(),
                        n_replicates + 1
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The initial counts of replicate `i` of the call when they are not the run's: the column
    /// sums of its table rows (`None` for founders and library starts).
    #[must_use]
    pub fn initial_counts(&self, i: usize) -> Option<Vec<u64>> {
        match &self.start {
            LineageStart::Table(table) => Some(table.column_sums(table.rows_of(i))),
            _ => None,
        }
    }

    /// The lineages replicate `i` of the call starts from, with each lineage's barcode and clone;
    /// a library draws from `rng` (the replicate's lineage stream).
    pub fn start<R: Rng + ?Sized>(
        &self,
        i: usize,
        initial: &[u64],
        rng: &mut R,
    ) -> std::result::Result<Start, LineageError> {
        match &self.start {
            LineageStart::Founders => founders(initial, !self.clones),
            &LineageStart::Library { n_barcodes } => library(initial, n_barcodes as u64, rng),
            LineageStart::Table(table) => table.start(table.rows_of(i)),
        }
    }
}

/// The starting lineages of one replicate: the counts, and each lineage's barcode and clone.
pub struct Start {
    pub lineages: Lineages,
    pub barcode: Ids,
    pub clone: Ids,
}

/// One zeroed count vector of `n` lineages per state; an allocation the system refuses is an
/// error (the lineage setup is too large), not an abort.
fn zeroed(n_states: usize, n: usize) -> std::result::Result<Vec<Vec<u64>>, LineageError> {
    (0..n_states)
        .map(|_| {
            let mut counts = scratch::take();
            counts.try_reserve_exact(n).map_err(|_| {
                LineageError::Shape(format!(
                    "cannot allocate {n} lineages in each of {n_states} states; start from \
                         fewer barcodes"
                ))
            })?;
            counts.resize(n, 0);
            Ok(counts)
        })
        .collect()
}

/// Initial cell `k` gets barcode `k`, in state order. For a tracker that defers its counts
/// (`deferred`: no clones) each state is built from its cell list, ids `first..first + cells`, in
/// O(cells) with no count vector (`LineageCounts::from_cell_list`); the same lists and picks as
/// building it from the counts.
fn founders(initial: &[u64], deferred: bool) -> std::result::Result<Start, LineageError> {
    let n: usize = initial.iter().sum::<u64>() as usize;
    if deferred && (n as u64) < 1 << 32 && initial.iter().all(|&c| c <= CELL_LIST_LIMIT) {
        let mut first = 0u32;
        let states = initial
            .iter()
            .map(|&cells| {
                let mut list = scratch::take();
                list.extend(first..first + cells as u32);
                first += cells as u32;
                LineageCounts::from_cell_list(list, n)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        return Ok(Start {
            lineages: Lineages::from_states(states)?,
            barcode: Ids::Index(n),
            clone: Ids::Zero(n),
        });
    }
    let mut by_state = zeroed(initial.len(), n)?;
    let mut k = 0;
    for (state, &cells) in initial.iter().enumerate() {
        for _ in 0..cells {
            by_state[state][k] = 1;
            k += 1;
        }
    }
    Ok(Start {
        lineages: Lineages::from_owned_counts(by_state)?,
        barcode: Ids::Index(n),
        clone: Ids::Zero(n),
    })
}

/// A state with at most this many cells per barcode is split cell by cell (one `uniform_below`
/// each, a few nanoseconds); above, by one conditional binomial per barcode (about a hundred).
const CELLS_PER_BARCODE_ONE_BY_ONE: u64 = 16;

/// Each state's cells split uniformly over `n_barcodes` barcodes (a multinomial): cell by cell
/// when a state has at most [`CELLS_PER_BARCODE_ONE_BY_ONE`] cells per barcode, by conditional
/// binomials otherwise (both exact; the cheaper for the size).
fn library<R: Rng + ?Sized>(
    initial: &[u64],
    n_barcodes: u64,
    rng: &mut R,
) -> std::result::Result<Start, LineageError> {
    let b = n_barcodes as usize;
    let mut by_state = zeroed(initial.len(), b)?;
    let mut split: Option<Multinomial> = None;
    for (counts, &cells) in by_state.iter_mut().zip(initial) {
        if cells / CELLS_PER_BARCODE_ONE_BY_ONE <= n_barcodes {
            // A slice, whose start and length stay in registers (a vector's would be read again
            // after every count written).
            let counts = counts.as_mut_slice();
            for _ in 0..cells {
                counts[uniform_below(rng, n_barcodes)? as usize] += 1;
            }
        } else {
            if split.is_none() {
                let uniform = Multinomial::new(&vec![1.0; b]).map_err(jump_failed)?;
                split = Some(uniform);
            }
            if let Some(split) = &split {
                split.sample_into(rng, cells, counts).map_err(jump_failed)?;
            }
        }
    }
    Ok(Start {
        lineages: Lineages::from_owned_counts(by_state)?,
        barcode: Ids::Index(b),
        clone: Ids::Zero(b),
    })
}

#[allow(clippy::needless_pass_by_value)] // the shape of `map_err`
fn jump_failed(e: crate::jump::JumpError) -> LineageError {
    LineageError::Shape(format!("drawing the library's barcodes: {e}"))
}

impl LineageTable {
    fn n_rows(&self) -> usize {
        self.barcode.len()
    }

    /// The number of tables listed (1: one for every replicate).
    fn n_tables(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The rows of replicate `i` of the call (offsets are validated).
    fn rows_of(&self, i: usize) -> Range<usize> {
        let i = if self.n_tables() == 1 { 0 } else { i };
        self.offsets[i] as usize..self.offsets[i + 1] as usize
    }

    fn row(&self, r: usize) -> &[i64] {
        &self.count[r * self.n_columns..(r + 1) * self.n_columns]
    }

    fn column_sums(&self, rows: Range<usize>) -> Vec<u64> {
        let mut sums = vec![0u64; self.n_columns];
        for r in rows {
            for (sum, &c) in sums.iter_mut().zip(self.row(r)) {
                *sum += c as u64;
            }
        }
        sums
    }

    fn validate(&self, n_states: usize, next_clone: i64, population_limit: u64) -> Result<()> {
        let rows = self.n_rows();
        if self.n_columns != n_states {
            return refuse(format!(
                "lineages.table_count has {} columns; it must have one per state ({n_states})",
                self.n_columns
            ));
        }
        if self.count.len() != rows * self.n_columns {
            return refuse(format!(
                "lineages.table_count has {} values; it must be (rows = {rows}, n_states = \
                 {n_states})",
                self.count.len()
            ));
        }
        if self.clone.len() != rows {
            return refuse(format!(
                "lineages.table_clone has {} rows but lineages.table_barcode has {rows}",
                self.clone.len()
            ));
        }
        if self.offsets.len() < 2 {
            return refuse(format!(
                "lineages.table_offsets has {} entries; it must have at least 2",
                self.offsets.len()
            ));
        }
        if self.offsets[0] != 0 || self.offsets[self.offsets.len() - 1] != rows as i64 {
            return refuse(format!(
                "lineages.table_offsets must start at 0 and end at the number of rows ({rows}); \
                 got {} .. {}",
                self.offsets[0],
                self.offsets[self.offsets.len() - 1]
            ));
        }
        if let Some(&[before, after]) = self.offsets.windows(2).find(|w| w[1] < w[0]) {
            return refuse(format!(
                "lineages.table_offsets must be non-decreasing; got {after} after {before}"
            ));
        }
        if let Some(&b) = self.barcode.iter().find(|&&b| b < 0) {
            return refuse(format!(
                "lineages.table_barcode has {b}; barcodes must be >= 0"
            ));
        }
        if let Some(&c) = self.clone.iter().find(|&&c| c < 0) {
            return refuse(format!(
                "lineages.table_clone has {c}; clone ids must be >= 0"
            ));
        }
        if let Some(&c) = self.count.iter().find(|&&c| c < 0) {
            return refuse(format!("lineages.table_count has {c}; counts must be >= 0"));
        }
        if let Some(&max) = self.clone.iter().max()
            && max >= next_clone
        {
            return refuse(format!(
                "lineages.next_clone is {next_clone} but the table has clone {max}; it must \
                     exceed every clone id of the table"
            ));
        }
        for i in 0..self.n_tables() {
            let rows = self.rows_of(i);
            let mut seen = HashSet::with_capacity(rows.len());
            for r in rows.clone() {
                if !seen.insert((self.barcode[r], self.clone[r])) {
                    return refuse(format!(
                        "lineages.table_barcode/table_clone: table {i} lists (barcode {}, clone \
                         {}) twice; each replicate's rows must be distinct lineages",
                        self.barcode[r], self.clone[r]
                    ));
                }
            }
            let mut total = 0u64;
            for r in rows {
                for &c in self.row(r) {
                    total = total.saturating_add(c as u64);
                }
            }
            if total >= population_limit {
                return refuse(format!(
                    "lineages.table_count: table {i} starts from {total} cells; it must be \
                     fewer than {population_limit}"
                ));
            }
        }
        Ok(())
    }

    fn start(&self, rows: Range<usize>) -> std::result::Result<Start, LineageError> {
        let by_state: Vec<Vec<u64>> = (0..self.n_columns)
            .map(|s| rows.clone().map(|r| self.row(r)[s] as u64).collect())
            .collect();
        Ok(Start {
            lineages: Lineages::from_counts(&by_state)?,
            barcode: Ids::Listed(self.barcode[rows.clone()].to_vec()),
            clone: Ids::Listed(self.clone[rows].to_vec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::lineage_rng;

    fn spec(start: LineageStart) -> LineageSpec {
        LineageSpec {
            start,
            times: vec![0.0, 1.0],
            clones: false,
            next_clone: 1,
        }
    }

    #[test]
    fn founders_get_one_barcode_each_in_state_order() {
        let mut rng = lineage_rng(&[0; 32], 0);
        // Without clones the states are built from their cell lists (counts deferred), with
        // clones from the counts: the same lineages either way.
        for clones in [false, true] {
            let mut start = LineageSpec {
                clones,
                ..spec(LineageStart::Founders)
            }
            .start(0, &[2, 1], &mut rng)
            .unwrap();
            assert_eq!(start.barcode.to_vec(), [0, 1, 2]);
            assert_eq!(start.clone.to_vec(), [0, 0, 0]);
            assert_eq!(
                start.lineages.cell_lists(),
                [Some(&[0, 1][..]), Some(&[2][..])]
            );
            assert_eq!(start.lineages.totals(), [2, 1]);
            start.lineages.refresh_counts();
            assert_eq!(start.lineages.state(0).unwrap().counts(), [1, 1, 0]);
            assert_eq!(start.lineages.state(1).unwrap().counts(), [0, 0, 1]);
            let mut held = Vec::new();
            start.lineages.held_into(&mut held);
            assert_eq!(held, [(0, 0, 1), (1, 0, 1), (2, 1, 1)]);
        }
    }

    #[test]
    fn a_library_places_every_cell_both_ways() {
        let mut rng = lineage_rng(&[0; 32], 0);
        // State 0 cell by cell (3 cells, 5 barcodes), state 1 by conditional binomials (1000
        // cells, more than 16 a barcode).
        let library = spec(LineageStart::Library { n_barcodes: 5 });
        let start = library.start(0, &[3, 1000], &mut rng).unwrap();
        assert_eq!(start.lineages.totals(), [3, 1000]);
        assert_eq!(start.barcode.to_vec(), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_table_gives_each_replicate_its_rows() {
        let table = LineageTable {
            offsets: vec![0, 1, 3],
            barcode: vec![7, 8, 8],
            clone: vec![0, 0, 4],
            count: vec![1, 2, 3, 0, 0, 5],
            n_columns: 2,
        };
        let s = LineageSpec {
            next_clone: 5,
            ..spec(LineageStart::Table(table))
        };
        s.validate(2, &[0, 0], 1.0, u64::MAX).unwrap();
        s.check_replicates(2).unwrap();
        assert!(s.check_replicates(3).is_err());
        assert_eq!(s.initial_counts(0), Some(vec![1, 2]));
        assert_eq!(s.initial_counts(1), Some(vec![3, 5]));
        let mut rng = lineage_rng(&[0; 32], 0);
        let start = s.start(1, &[3, 5], &mut rng).unwrap();
        assert_eq!(start.barcode.to_vec(), [8, 8]);
        assert_eq!(start.clone.to_vec(), [0, 4]);
        assert_eq!(start.lineages.totals(), [3, 5]);
    }
}
