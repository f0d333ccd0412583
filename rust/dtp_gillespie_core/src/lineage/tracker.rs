//! Lineages tracked through a run: [`LineageTracker`] sees every event of one replicate (it is
//! the event loop's [`Observer`]), moves the firing cell's lineage, founds clones, and writes the
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
use super::{LineageError, LineageRng, Lineages};
use crate::error::{EngineError, Result};
use crate::model::Channel;
use crate::outcome::Outcome;
use crate::ssa::Observer;

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
    /// Per lineage: barcode, clone id, and cells over all states (to see a clone die in O(1)).
    barcode: Vec<i64>,
    clone: Vec<i64>,
    cells: Vec<u64>,
    /// Lineages from this id on are the clones founded in this replicate, in order.
    first_founded: usize,
    next_clone: i64,
    rng: LineageRng,
    replicate: i64,
    out: LineageOutput,
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
        let n_states = lineages.n_states();
        let mut cells = vec![0u64; lineages.n_lineages()];
        for s in 0..n_states {
            let counts = lineages.state(s).map_err(failed)?.counts();
            for (total, &c) in cells.iter_mut().zip(counts) {
                *total += c;
            }
        }
        Ok(Self {
            channels,
            times: &spec.times,
            next: 0,
            next_time: spec.times.first().copied().unwrap_or(f64::INFINITY),
            clones: spec.clones,
            first_founded: lineages.n_lineages(),
            lineages,
            barcode,
            clone,
            cells,
            next_clone: spec.next_clone,
            rng,
            replicate: replicate as i64,
            out: LineageOutput::default(),
            failure: None,
        })
    }

    /// Write the lineage table at the next barcode time (the current state).
    fn snapshot(&mut self) {
        let rows = &mut self.out.rows;
        let n_states = self.lineages.n_states();
        for (lineage, &cells) in self.cells.iter().enumerate() {
            if cells == 0 {
                continue;
            }
            for s in 0..n_states {
                let count = self.lineages.state(s).map_or(0, |c| c.counts()[lineage]);
                if count > 0 {
                    rows.replicate.push(self.replicate);
                    rows.time.push(self.next as i32);
                    rows.barcode.push(self.barcode[lineage]);
                    rows.clone.push(self.clone[lineage]);
                    rows.state.push(s as i8);
                    rows.count.push(count as i64);
                }
            }
        }
        self.next += 1;
        self.next_time = self.times.get(self.next).copied().unwrap_or(f64::INFINITY);
    }

    /// `lineage` lost a cell at `time`: if that was its last and it is a clone founded here,
    /// the clone died then.
    fn lose(&mut self, lineage: usize, time: f64) {
        self.cells[lineage] -= 1;
        if self.cells[lineage] == 0 && lineage >= self.first_founded {
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
            self.barcode.push(self.barcode[parent]);
            self.clone.push(id);
            self.cells.push(1);
            let c = &mut self.out.clones;
            c.replicate.push(self.replicate);
            c.id.push(id);
            c.parent.push(self.clone[parent]);
            c.barcode.push(self.barcode[parent]);
            c.birth_time.push(time);
            c.state.push(ch.inc.map_or(0, |s| s as i8));
            c.birth_exposure.push(exposure as i8);
            c.extinction_time.push(f64::NAN);
            debug_assert_eq!(founded, self.cells.len() - 1);
            if ch.dec.is_some() {
                self.lose(parent, time);
            }
        } else {
            let lineage = self.lineages.fire(ch, &mut self.rng)? as usize;
            match (ch.dec.is_some(), ch.inc.is_some()) {
                (true, false) => self.lose(lineage, time),
                (false, true) => self.cells[lineage] += 1,
                _ => {}
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
        if self.clones {
            let founded = &self.cells[self.first_founded..];
            let alive = founded.iter().filter(|&&c| c > 0).count();
            // Clones are founded in time order: the first alive is the earliest born.
            let first = founded.iter().position(|&c| c > 0);
            let first_time = first.map_or(f64::NAN, |k| self.out.clones.birth_time[k]);
            let out = &mut self.out;
            out.clones_born.push(founded.len() as i64);
            out.clones_alive.push(alive as i64);
            out.first_surviving_resistant_time.push(first_time);
        }
        Ok(self.out)
    }
}

/// A lineage operation refused during a run (a count past 2^64 - 1, more than 2^32 lineages):
/// the run's lineage setup cannot be tracked.
#[allow(clippy::needless_pass_by_value)] // the shape of `map_err`
fn failed(e: LineageError) -> EngineError {
    EngineError::InvalidRun(format!("lineage tracking failed: {e}"))
}

impl Observer for LineageTracker<'_> {
    const OBSERVES: bool = true;

    fn start(&mut self, counts: &[u64], _exposure: usize) {
        if let Err(e) = self.lineages.check_totals(counts) {
            self.failure.get_or_insert(e);
        }
    }

    fn event(&mut self, time: f64, channel: usize, counts: &[u64], exposure: usize) {
        if self.failure.is_some() {
            return;
        }
        while self.next_time < time {
            self.snapshot();
        }
        if let Err(e) = self.fire(time, channel, exposure) {
            self.failure = Some(e);
        }
        if cfg!(debug_assertions) {
            if let Err(e) = self.lineages.check_totals(counts) {
                self.failure = Some(e);
            }
        }
    }
}
