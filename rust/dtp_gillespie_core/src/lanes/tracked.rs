//! Observers in the SIMD lanes: lineage tracking without leaving the vector loop.
//!
//! A tracked replicate's observer ([`LineageTracker`]) is replayable (`Observer::REPLAYABLE`):
//! it needs only each event's time and channel, shown after the fact, in order, before the event
//! loop goes on. So the vector loop writes every lane's `(time, pick code)` to an event log
//! ([`LaneLog`], one row per iteration: every lane fires one event an iteration, so a row is two
//! full vector stores at one index, no scatter), and the driver shows each lane's events to that
//! lane's observer (`EventLoop::show_events`, the replay the scalar hot loop's bursts go
//! through) whenever the lane goes back to the event loop, and for every lane when the log is
//! full. The lineage picks come from the replicate's own lineage stream, so the same events in
//! the same order give the same tables as on the scalar path, bit for bit.
//!
//! The log is a compile-time choice of the vector loop (`LOG`, as `WATCH`), taken only when the
//! observer observes ([`NoObserver`] does not): untracked lanes run the same code as without it.

use super::{Job, Shared};
use crate::error::Result;
use crate::event_loop::REPLAY_CAPACITY;
use crate::lineage::{LineageOutput, LineageStart, LineageTracker, lineage_rng};
use crate::outcome::Outcome;
use crate::run::RunConfig;
use crate::ssa::{NoObserver, Observer};

/// Rows of the event log: a row holds one event of every lane. A full log costs one exit from
/// the vector loop per this many iterations; its 128-byte rows (16 KiB) stay in the L1 cache
/// while the trackers read them. Measured on case (d) against 64 and 512 rows (the tracking
/// bench): 128 was the fastest, by a few percent.
const LOG_ROWS: usize = 128;

const _: () = assert!(
    LOG_ROWS <= REPLAY_CAPACITY,
    "a lane's part of the log must fit the replay"
);

/// Bit of a pick's channel in its code (`pick_code`): bits 17-31.
pub(crate) const CHANNEL_SHIFT: u32 = 17;

/// The channel of a pick's code.
#[inline]
fn channel_of(code: u64) -> u32 {
    (code >> CHANNEL_SHIFT) as u32 & 0x7fff
}

/// Whether the lanes may take a run's lineage tracking: a table start gives each replicate its
/// own initial counts (and run), which the lanes' shared run does not have.
pub(crate) fn lanes_track(run: &RunConfig) -> bool {
    run.lineages
        .as_ref()
        .is_none_or(|spec| !matches!(spec.start, LineageStart::Table(_)))
}

/// One iteration's events: each lane's event time and pick code.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub(crate) struct LogRow<const W: usize> {
    pub time: [f64; W],
    pub code: [u64; W],
}

/// The events the vector loop fired since each lane's observer last saw its own (module docs).
pub(crate) struct LaneLog<const W: usize> {
    /// Room for [`LOG_ROWS`] rows when logging, none otherwise.
    pub row: Vec<LogRow<W>>,
    /// Rows written.
    pub rows: usize,
    /// Per lane, the first row of its events not yet shown to its observer.
    shown: [usize; W],
}

impl<const W: usize> LaneLog<W> {
    /// A log for lanes observed by `O` (empty if `O` observes nothing).
    pub fn new<O: Observer>() -> Self {
        let rows = if O::OBSERVES { LOG_ROWS } else { 0 };
        let empty = LogRow {
            time: [0.0; W],
            code: [0; W],
        };
        Self {
            row: vec![empty; rows],
            rows: 0,
            shown: [0; W],
        }
    }

    /// Lane `j` starts a burst: its events start at the next row.
    pub fn begin(&mut self, j: usize) {
        self.shown[j] = self.rows;
    }

    /// How many of lane `j`'s events were not yet shown.
    pub fn unshown(&self, j: usize) -> usize {
        self.rows - self.shown[j]
    }

    /// Write lane `j`'s events not yet shown into `channels` (as long as [`Self::unshown`]), in
    /// firing order, and their times into `times` unless the last is at or before `horizon`
    /// (returning whether it wrote them: the observer needs no time before it,
    /// `Observer::times_needed_after`); they count as shown from now on.
    pub fn take(
        &mut self,
        j: usize,
        horizon: f64,
        times: &mut [f64],
        channels: &mut [u32],
    ) -> bool {
        assert!(j < W);
        let from = std::mem::replace(&mut self.shown[j], self.rows);
        let rows = &self.row[from..self.rows];
        debug_assert!(times.len() == rows.len() && channels.len() == rows.len());
        let with_times = rows.last().is_some_and(|row| row.time[j] > horizon);
        if with_times {
            for ((row, time), channel) in rows.iter().zip(times).zip(channels) {
                *time = row.time[j];
                *channel = channel_of(row.code[j]);
            }
        } else {
            for (row, channel) in rows.iter().zip(channels) {
                *channel = channel_of(row.code[j]);
            }
        }
        with_times
    }

    /// Every lane's events were shown: start again at the first row.
    pub fn clear(&mut self) {
        self.rows = 0;
        self.shown = [0; W];
    }
}

/// What observes a replicate in a lane: nothing, or its lineage tracker.
pub(crate) trait LaneObserver<'a>: Observer + Sized {
    /// The observer of `job`'s replicate.
    fn for_job(shared: &Shared<'a>, job: &Job<'a>) -> Result<Self>;

    /// The replicate stopped with `outcome`: keep what was observed in `slot`.
    fn finish(self, outcome: &Outcome, slot: &mut Option<Box<LineageOutput>>) -> Result<()>;
}

impl LaneObserver<'_> for NoObserver {
    fn for_job(_: &Shared<'_>, _: &Job<'_>) -> Result<Self> {
        Ok(NoObserver)
    }

    fn finish(self, _: &Outcome, _: &mut Option<Box<LineageOutput>>) -> Result<()> {
        Ok(())
    }
}

impl<'a> LaneObserver<'a> for LineageTracker<'a> {
    /// As `ensemble::simulate_tracked` builds it (the lanes take no table start, so the run's
    /// initial counts are the replicate's).
    fn for_job(shared: &Shared<'a>, job: &Job<'a>) -> Result<Self> {
        let run = shared.run;
        let spec = run.lineages.as_ref().expect("a tracked run");
        let rng = lineage_rng(shared.seed_key, job.index);
        let channels = shared.model.channels();
        LineageTracker::new(spec, channels, job.i, job.index, &run.initial, rng)
    }

    fn finish(self, outcome: &Outcome, slot: &mut Option<Box<LineageOutput>>) -> Result<()> {
        *slot = Some(Box::new(LineageTracker::finish(self, outcome)?));
        Ok(())
    }
}
