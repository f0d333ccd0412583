//! Barcoded lineages and clones (issue 16): which lineage each cell of each state belongs to,
//! kept so that the lineage of the cell that fires an event is found in O(1) expected time,
//! and tracked through runs when the run asks for it (`RunConfig::lineages`).
//!
//! - [`counts`]: [`LineageCounts`], the cells of one state per lineage: a cell list (the lineage
//!   of every cell) up to [`CELL_LIST_LIMIT`] cells, bins by powers of two past it; `add`,
//!   `count`, `total`, `push_lineage`, and `sample` (the lineage of a uniformly chosen cell: one
//!   index into the list, or composition and rejection over the bins) in O(1) (expected).
//! - [`lineages`]: [`Lineages`], one [`LineageCounts`] per state, with the moves an event makes
//!   (division, death, switch, a clone founded at a mutation) and a long-table snapshot.
//! - `batch`: [`CellMoves`], the moves of a whole burst of events on cell lists at once (the
//!   tracker's fast path: the same draws and moves as one `fire` per event).
//! - `scratch`: per-thread reuse of the per-replicate buffers (counts, cell lists, ids).
//! - [`stream`]: the lineage stream of a replicate ([`lineage_rng`]), separate from its event
//!   and dose streams, and [`uniform_below`], an exactly uniform integer draw (Lemire's method).
//! - [`start`]: what a run tracks ([`LineageSpec`]: barcode times, clones) and the lineages each
//!   replicate starts from (one barcode per founder, a library, or an explicit table).
//! - [`tracker`]: [`LineageTracker`], the event loop's observer that moves the firing cell's
//!   lineage at every event and writes the lineage and clone tables ([`LineageOutput`]).
//!
//! **Status: wired into runs.** `run_ensemble` tracks lineages when `RunConfig::lineages` is set.
//! The tracker is a replayable observer (`Observer::REPLAYABLE`): the hot loop (`burst.rs`) stays
//! on and logs the `(time, channel)` of each event it fires, and the event loop shows the tracker
//! those events after each burst, in order. `trace` ignores the lineage setup.
//!
//! Why a separate stream: the engine chooses *which channel* fires from the replicate's event
//! stream; tracking then chooses *which cell* of the source state fired, uniformly, from the
//! lineage stream. The event stream is therefore consumed identically with tracking on and off,
//! so the totals are bit-identical (issue 16, item 5), and the lineage picks are reproducible for
//! any thread count or batching (they are keyed by the global replicate index, as the events are).
//!
//! Every operation refuses bad input (an unknown state or lineage, a count going below 0 or past
//! `u64::MAX`, a pick in an empty state) with a [`LineageError`], never a panic; an operation that
//! fails changes no count (a move refused for an overflow after its pick has still drawn from the
//! lineage stream; a run would stop at such an error anyway).

mod batch;
pub mod counts;
pub mod ids;
pub mod lineages;
mod scratch;
pub mod start;
pub mod stream;
pub mod tracker;

pub use batch::CellMoves;
pub use counts::{CELL_LIST_LIMIT, LineageCounts, SampledCell};
pub use ids::Ids;
pub use lineages::{LineageRow, Lineages};
pub use start::{LineageSpec, LineageStart, LineageTable};
pub use stream::{LINEAGE_BLOCK, LineageRng, lineage_rng, uniform_below};
pub use tracker::{CloneRows, LineageOutput, LineageRows, LineageTracker};

use thiserror::Error;

/// A lineage operation that would leave the counts inconsistent, or a question about a lineage or
/// state that does not exist.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LineageError {
    /// A lineage id at or past the number of lineages.
    #[error("lineage {id} does not exist: there are {n_lineages} lineages")]
    UnknownLineage { id: u32, n_lineages: usize },
    /// A state index at or past the number of states.
    #[error("state {state} does not exist: there are {n_states} states")]
    UnknownState { state: usize, n_states: usize },
    /// Removing more cells than a lineage holds.
    #[error("lineage {id} has {count} cells; adding {delta} would leave fewer than 0")]
    BelowZero { id: u32, count: u64, delta: i64 },
    /// A lineage's count, or its state's total, past `u64::MAX`.
    #[error(
        "lineage {id} has {count} cells; adding {delta} would take it or its state's total \
         past 2^64 - 1"
    )]
    Overflow { id: u32, count: u64, delta: i128 },
    /// Initial counts whose sum is past `u64::MAX`.
    #[error("the cells of state {state} add up to more than 2^64 - 1")]
    TotalTooLarge { state: usize },
    /// A pick index outside `[0, total)`.
    #[error("cell index {r} is out of range: the state has {total} cells")]
    PickOutOfRange { r: u64, total: u64 },
    /// A uniform draw, or a pick, among no cells.
    #[error("there is no cell to choose from (a total of 0)")]
    Empty,
    /// More lineages than 32-bit ids can name.
    #[error("too many lineages: ids are 32-bit, so at most 2^32 lineages")]
    TooManyLineages,
    /// Per-state inputs of different lengths, or a channel whose losing state is not its source.
    #[error("{0}")]
    Shape(String),
    /// The tracked cells of a state differ from the engine's count.
    #[error("state {state} has {tracked} tracked cells but {engine} cells in the engine")]
    TotalsMismatch {
        state: usize,
        tracked: u64,
        engine: u64,
    },
}
