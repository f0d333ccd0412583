//! Exact stochastic simulation (Gillespie's direct method) of multi-type cell populations, such as
//! drug-sensitive, drug-tolerant persister and resistant cancer cells, under a drug schedule.
//!
//! - [`model`]: the compiled reaction table (division with mutation, death, switching), per exposure,
//!   with optional density dependence (a carrying capacity, or Lotka–Volterra competition with
//!   count-dependent capacities).
//! - [`biomarker`]: a PSA-like biomarker driven by the cells, solved in closed form between events,
//!   with exact threshold-crossing times.
//! - [`schedule`]: piecewise-constant exposure over time (continuous, intermittent, piecewise).
//! - [`controller`]: what decides the exposure and rates in force (a fixed schedule here);
//!   [`adaptive`]: state-triggered dosing rules; [`pk`]: pharmacokinetic dosing, and why
//!   thinning keeps it exact; [`thinning`]: its controller.
//! - [`dosing`]: which of these a run uses.
//! - [`ssa`]: the direct method's pieces, and why stopping at breakpoints keeps it exact;
//!   `event_loop`: the one outer event loop, for every controller; `burst`: its hot loop for
//!   runs of events with constant rates.
//! - [`outcome`]: what a replicate ends with (status, per-replicate results) and the table of
//!   per-replicate output variables.
//! - [`record`]: the record grid (no random numbers consumed).
//! - [`rng`]: per-replicate streams keyed by (seed key, global replicate index).
//! - [`ensemble`]: replicates in parallel; event traces.
//! - [`lanes`]: replicates in SIMD lanes (fixed schedules and adaptive rules), bit-identical to the
//!   scalar loop.
//! - [`jump`]: exact population jumps (binomial, multinomial, negative binomial, Kendall,
//!   one-ancestor offspring tables, emitting lineages, one step of a population);
//!   [`jump_run`]: `method = "jump"`, replicates advanced over a step grid by those jumps.
//! - [`lineage`]: barcoded lineages and clones per state (O(1) expected picks by composition and
//!   rejection, from a separate lineage stream), tracked through runs that ask for them (the
//!   hot loop's events are replayed to the tracker after each burst).
//!
//! This crate knows nothing of Python; `dtp_gillespie_py` adapts it.

pub mod adaptive;
pub mod biomarker;
mod burst;
pub mod controller;
pub mod dosing;
pub mod ensemble;
pub mod error;
mod event_loop;
pub mod jump;
pub mod jump_run;
pub mod lanes;
pub mod lineage;
pub mod model;
pub mod outcome;
pub mod pk;
pub mod record;
pub mod rng;
mod rows;
pub mod run;
pub mod schedule;
pub mod ssa;
pub mod thinning;
mod ziggurat_tables;

pub use adaptive::{AdaptiveSpec, Phase, Reference, Rule};
pub use biomarker::Biomarker;
pub use dosing::{Dosing, DosingKind};
pub use ensemble::{
    EnsembleOutput, EnsembleSpec, Trace, run_ensemble, run_ensemble_lane_stats, run_ensemble_on,
    trace, trackers_at_once,
};
pub use error::{EngineError, Result};
pub use jump_run::{JumpConfig, run_ensemble_jump};
pub use lanes::{LaneStats, Lanes};
pub use model::{
    Capacity, CapacityTarget, Channel, ChannelKind, Competition, CompetitionRow, Model,
};
pub use outcome::{Column, Outcome, PER_REPLICATE, Status};
pub use pk::{PkResponse, PkSpec};
pub use record::UNKNOWN_COUNT;
pub use rng::RNG_NAME;
pub use run::{Progression, RunConfig};
pub use schedule::{Schedule, Segment};
