//! Lineages tracked through a run: [`LineageTracker`] sees every event of one replicate (the
//! ensemble makes it the event loop's observer), moves the firing cell's lineage, founds clones, and writes the
//! lineage table at the barcode times; [`LineageOutput`] holds the tables of one replicate, or of
//! a whole call once concatenated in replicate order.
//!
//! The tracker draws only from the replicate's lineage stream and the event loop never reads it,
//! so the trajectory of the counts is the same with tracking on and off (bit for bit).
//!
//! **Barcode times** are right-continuous like the record times: before applying an event at `t`
//! the tracker writes every pending time `< t` (the state before the event), and after the
//! replicate stops ([`LineageTracker::finish`]) every pending time `<= stop_time`. A capped
//! replicate therefore has no rows after its stop time (its state there is unknown), and an
//! extinct one none after extinction (every count is 0).

use super::start::{LineageSpec, Start};
use super::{CellMoves, Ids, LineageError, LineageRng, Lineages};
use crate::error::{EngineError, Result};
use crate::model::Channel;
use crate::outcome::Outcome;

/// The lineage table, the clone table and the per-replicate clone summary (module docs of
/// `lineage`; the columns are the output keys without their `lineage_`/`clone_` prefix).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineageOutput {
    /// One row per (replicate, barcode time, lineage, state) with a positive count.
    pub rows: LineageRows,
    /// One row per clone founded, in order of replicate, then clone id.
    pub clones: CloneRows,
    /// Per replicate (only when clones are tracked; empty otherwise).
    pub clones_born: Vec<i64>,
    pub clones_alive: Vec<i64>,
    pub first_surviving_resistant_time: Vec<f64>,
}

/// The columns of the lineage table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineageRows {
    /// Global replicate index.
    pub replicate: Vec<i64>,
    /// Index into the barcode times.
    pub time: Vec<i32>,
    pub barcode: Vec<i64>,
    pub clone: Vec<i64>,
    pub state: Vec<i8>,
    pub count: Vec<i64>,
}

/// The columns of the clone table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CloneRows {
    /// Global replicate index.
    pub replicate: Vec<i64>,
    pub id: Vec<i64>,
    /// The clone of the lineage the founding cell came from (0: the background).
    pub parent: Vec<i64>,
    pub barcode: Vec<i64>,
    pub birth_time: Vec<f64>,
    /// The state the founding cell is born into.
    pub state: Vec<i8>,
    /// The exposure in force at the founding event.
    pub birth_exposure: Vec<i8>,
    /// When the clone lost its last cell (by death, or by a mutation-switch founding a subclone);
    /// NaN if it had cells at the replicate's stop time.
    pub extinction_time: Vec<f64>,
}

impl LineageOutput {
    /// Append `other`'s rows after this one's (replicates in order).
    pub fn append(&mut self, other: &mut Self) {
        let (r, o) = (&mut self.rows, &mut other.rows);
        r.replicate.append(&mut o.replicate);
        r.time.append(&mut o.time);
        r.barcode.append(&mut o.barcode);
        r.clone.append(&mut o.clone);
        r.state.append(&mut o.state);
        r.count.append(&mut o.count);
        let (c, o) = (&mut self.clones, &mut other.clones);
        c.replicate.append(&mut o.replicate);
        c.id.append(&mut o.id);
        c.parent.append(&mut o.parent);
        c.barcode.append(&mut o.barcode);
        c.birth_time.append(&mut o.birth_time);
        c.state.append(&mut o.state);
        c.birth_exposure.append(&mut o.birth_exposure);
        c.extinction_time.append(&mut o.extinction_time);
        self.clones_born.append(&mut other.clones_born);
        self.clones_alive.append(&mut other.clones_alive);
        self.first_surviving_resistant_time
            .append(&mut other.first_surviving_resistant_time);
    }
}

/// The lineages of one replicate as it runs (module docs).
pub struct LineageTracker<'a> {
    channels: &'a [Channel],
    times: &'a [f64],
    /// The index of the next barcode time to write, and that time (infinity when none is left).
    next: usize,
    next_time: f64,
    clones: bool,
    lineages: Lineages,
    /// The moves of a burst's events at once (barcodes without clones).
    moves: CellMoves,
    /// Per lineage: barcode and clone id (implicit until a clone is founded, for founders and
    /// libraries).
    barcode: Ids,
    clone: Ids,
    /// Lineages from this id on are the clones founded in this replicate, in order.
    first_founded: usize,
    next_clone: i64,
    rng: LineageRng,
    replicate: i64,
    out: LineageOutput,
    /// The (lineage, state) pairs holding cells at a snapshot (a buffer reused by each).
    scratch: Vec<(u32, u32, u64)>,
    /// The first lineage operation refused; the tracker stops and `finish` reports it.
    failure: Option<LineageError>,
}

impl<'a> LineageTracker<'a> {
    /// The tracker of replicate `i` of the call (global index `replicate`) starting from
    /// `initial` cells, drawing from `rng`, the replicate's lineage stream.
    pub fn new(
        spec: &'a LineageSpec,
        channels: &'a [Channel],
        i: usize,
        replicate: u64,
        initial: &[u64],
        mut rng: LineageRng,
    ) -> Result<Self> {
        let Start {
            lineages,
            barcode,
            clone,
        } = spec.start(i, initial, &mut rng).map_err(failed)?;
        let mut lineages = lineages;
        if !spec.clones {
            // Counts are then read only at snapshots (clone extinction reads them at deaths).
            lineages.defer_counts();
        }
        Ok(Self {
            channels,
            times: &spec.times,
            next: 0,
            next_time: spec.times.first().copied().unwrap_or(f64::INFINITY),
            clones: spec.clones,
            first_founded: lineages.n_lineages(),
            moves: CellMoves::new(channels, lineages.n_states()),
            lineages,
            barcode,
            clone,
            next_clone: spec.next_clone,
            rng,
            replicate: replicate as i64,
            out: LineageOutput::default(),
            scratch: Vec::new(),
            failure: None,
        })
    }

    /// Write the lineage table at the next barcode time (the current state): the lineages each
    /// state holds (counted from its cell list when counts are deferred, so that extinct
    /// lineages cost nothing; a scan of its counts otherwise), in (lineage, state) order.
    fn snapshot(&mut self) {
        let held = &mut self.scratch;
        self.lineages.held_into(held);
        let rows = &mut self.out.rows;
        for &(lineage, s, count) in held.iter() {
            let lineage = lineage as usize;
            rows.replicate.push(self.replicate);
            rows.time.push(self.next as i32);
            rows.barcode.push(self.barcode.get(lineage));
            rows.clone.push(self.clone.get(lineage));
            rows.state.push(s as i8);
            rows.count.push(count as i64);
        }
        self.next += 1;
        self.next_time = self.times.get(self.next).copied().unwrap_or(f64::INFINITY);
    }

    /// Whether `lineage` has a cell in some state.
    fn alive(&self, lineage: usize) -> bool {
        (0..self.lineages.n_states()).any(|s| {
            self.lineages
                .state(s)
                .is_ok_and(|c| c.counts()[lineage] > 0)
        })
    }

    /// `lineage` lost a cell at `time`: if it is a clone founded here and that was its last
    /// cell, the clone died then.
    fn lose(&mut self, lineage: usize, time: f64) {
        if lineage >= self.first_founded && !self.alive(lineage) {
            self.out.clones.extinction_time[lineage - self.first_founded] = time;
        }
    }

    /// Track one firing of `channel` at `time` under `exposure` (module docs of `lineages`).
    fn fire(
        &mut self,
        time: f64,
        channel: usize,
        exposure: usize,
    ) -> std::result::Result<(), LineageError> {
        let channels = self.channels;
        let ch = &channels[channel];
        if self.clones && ch.is_mutation && ch.inc.is_some() {
            let (parent, founded) = self.lineages.mutate(ch, &mut self.rng)?;
            let (parent, founded) = (parent as usize, founded as usize);
            let id = self.next_clone;
            self.next_clone = id.checked_add(1).ok_or(LineageError::TooManyLineages)?;
            let barcode = self.barcode.get(parent);
            self.barcode.push(barcode);
            self.clone.push(id);
            let c = &mut self.out.clones;
            c.replicate.push(self.replicate);
            c.id.push(id);
            c.parent.push(self.clone.get(parent));
            c.barcode.push(barcode);
            c.birth_time.push(time);
            c.state.push(ch.inc.map_or(0, |s| s as i8));
            c.birth_exposure.push(exposure as i8);
            c.extinction_time.push(f64::NAN);
            debug_assert_eq!(founded, self.clone.len() - 1);
            if ch.dec.is_some() {
                self.lose(parent, time);
            }
        } else {
            let lineage = self.lineages.fire(ch, &mut self.rng)? as usize;
            // Only clones founded here are watched for extinction (tested first: a branch on the
            // channel's kind is hard to predict).
            if self.clones && ch.dec.is_some() && ch.inc.is_none() {
                self.lose(lineage, time);
            }
        }
        Ok(())
    }

    /// The replicate stopped with `outcome`: write the barcode times up to its stop time and
    /// the clone summary. A lineage operation refused during the run is an error here.
    pub fn finish(mut self, outcome: &Outcome) -> Result<LineageOutput> {
        if let Some(e) = self.failure.take() {
            return Err(failed(e));
        }
        while self.next_time <= outcome.stop_time {
            self.snapshot();
        }
        let out = self.summary();
        self.lineages.recycle();
        self.barcode.recycle();
        self.clone.recycle();
        Ok(out)
    }

    /// The clone summary (when clones are tracked), then the tables.
    fn summary(&mut self) -> LineageOutput {
        if self.clones {
            let founded = self.first_founded..self.clone.len();
            let alive: Vec<bool> = founded.clone().map(|l| self.alive(l)).collect();
            // Clones are founded in time order: the first alive is the earliest born.
            let first = alive.iter().position(|&a| a);
            let first_time = first.map_or(f64::NAN, |k| self.out.clones.birth_time[k]);
            let alive = alive.iter().filter(|&&a| a).count();
            let out = &mut self.out;
            out.clones_born.push(founded.len() as i64);
            out.clones_alive.push(alive as i64);
            out.first_surviving_resistant_time.push(first_time);
        }
        std::mem::take(&mut self.out)
    }
}

/// A lineage operation refused during a run (a count past 2^64 - 1, more than 2^32 lineages):
/// the run's lineage setup cannot be tracked.
#[allow(clippy::needless_pass_by_value)] // the shape of `map_err`
fn failed(e: LineageError) -> EngineError {
    EngineError::InvalidRun(format!("lineage tracking failed: {e}"))
}

impl LineageTracker<'_> {
    /// The replicate starts from `counts`: the tracked cells must be as many.
    pub fn check_start(&mut self, counts: &[u64]) {
        if let Err(e) = self.lineages.check_totals(counts) {
            self.failure.get_or_insert(e);
        }
    }

    /// Channel `channel` fired at `time` under `exposure`, leaving `counts`: write the barcode
    /// times before it, then move the firing cell's lineage (the first failure stops tracking;
    /// [`Self::finish`] reports it).
    pub fn on_event(&mut self, time: f64, channel: usize, counts: &[u64], exposure: usize) {
        self.track(time, channel, exposure);
        self.debug_check(counts);
    }

    /// [`on_event`](Self::on_event) without the check of the totals.
    fn track(&mut self, time: f64, channel: usize, exposure: usize) {
        if self.failure.is_some() {
            return;
        }
        while self.next_time < time {
            self.snapshot();
        }
        if let Err(e) = self.fire(time, channel, exposure) {
            self.failure = Some(e);
        }
    }

    /// In debug builds, that the tracked cells are the engine's `counts` (a tracking bug stops
    /// the run with an error rather than writing wrong tables).
    fn debug_check(&mut self, counts: &[u64]) {
        if cfg!(debug_assertions)
            && self.failure.is_none()
            && let Err(e) = self.lineages.check_totals(counts)
        {
            self.failure = Some(e);
        }
    }

    /// A burst whose events are all at or before this time needs no times shown
    /// ([`on_burst`](Self::on_burst)): the next barcode time, when no clone is tracked (a clone's
    /// birth and extinction times are its events').
    #[must_use]
    pub fn times_needed_after(&self) -> f64 {
        if self.clones {
            f64::NEG_INFINITY
        } else {
            self.next_time
        }
    }

    /// The events of one burst, at `times`, of `channels`, leaving `counts`: the same as one
    /// [`on_event`](Self::on_event) each, with the events between two barcode times moved at
    /// once when no clone is tracked ([`CellMoves`]). `times` may be empty if every event is at
    /// or before [`times_needed_after`](Self::times_needed_after).
    pub fn on_burst(&mut self, times: &[f64], channels: &[u32], counts: &[u64], exposure: usize) {
        if times.len() != channels.len() {
            // Shown without times: every event is before the next barcode time.
            debug_assert!(times.is_empty() && !self.clones);
            if self.failure.is_none() {
                let (l, rng) = (&mut self.lineages, &mut self.rng);
                if let Err(e) = self.moves.fire_all(l, self.channels, channels, rng) {
                    self.failure = Some(e);
                }
            }
            return self.debug_check(counts);
        }
        if self.clones {
            for (&time, &channel) in times.iter().zip(channels) {
                self.track(time, channel as usize, exposure);
            }
            return self.debug_check(counts);
        }
        let mut start = 0;
        while start < times.len() && self.failure.is_none() {
            // The events up to the next barcode time, then that time's table (the state before
            // the first event after it).
            let end = start + times[start..].partition_point(|&t| t <= self.next_time);
            let (l, rng) = (&mut self.lineages, &mut self.rng);
            if let Err(e) = self
                .moves
                .fire_all(l, self.channels, &channels[start..end], rng)
            {
                self.failure = Some(e);
            } else if end < times.len() {
                self.snapshot();
            }
            start = end;
        }
        self.debug_check(counts);
    }
}
