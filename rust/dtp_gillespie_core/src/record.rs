//! Writes the state on the record grid straight into the output slices of one replicate.
//!
//! The recorder only compares times: it never draws random numbers, so a denser or coarser grid
//! cannot change a trajectory. Counts are right-continuous: a record time equal to an event time sees
//! the state after the event.

use crate::schedule::Schedule;

/// Count written at record times after a capped replicate stopped: the state there is unknown.
pub const UNKNOWN_COUNT: i64 = -1;

pub struct Recorder<'a> {
    times: &'a [f64],
    counts: &'a mut [i64],
    exposure: &'a mut [i8],
    n_states: usize,
    next: usize,
    /// `times[next]`, or infinity once every time is written; the event loop compares against it.
    next_time: f64,
}

impl<'a> Recorder<'a> {
    /// `counts` is `times.len() * n_states` long (time-major), `exposure` is `times.len()` long.
    pub fn new(
        times: &'a [f64],
        counts: &'a mut [i64],
        exposure: &'a mut [i8],
        n_states: usize,
    ) -> Self {
        debug_assert_eq!(counts.len(), times.len() * n_states);
        debug_assert_eq!(exposure.len(), times.len());
        let next_time = times.first().copied().unwrap_or(f64::INFINITY);
        Self {
            times,
            counts,
            exposure,
            n_states,
            next: 0,
            next_time,
        }
    }

    #[inline]
    fn write(&mut self, state: &[u64], exposure: usize) {
        let row = &mut self.counts[self.next * self.n_states..(self.next + 1) * self.n_states];
        for (out, &n) in row.iter_mut().zip(state) {
            *out = n as i64;
        }
        self.exposure[self.next] = exposure as i8;
        self.advance();
    }

    #[inline]
    fn advance(&mut self) {
        self.next += 1;
        self.next_time = self.times.get(self.next).copied().unwrap_or(f64::INFINITY);
    }

    /// Record `state` (in force under `exposure`) at every pending time `< until`.
    #[inline]
    pub fn record_before(&mut self, until: f64, state: &[u64], exposure: usize) {
        while self.next_time < until {
            self.write(state, exposure);
        }
    }

    /// Record `state` at every pending time `<= until`.
    #[inline]
    pub fn record_through(&mut self, until: f64, state: &[u64], exposure: usize) {
        while self.next_time <= until {
            self.write(state, exposure);
        }
    }

    /// Fill every pending time after the replicate stopped: with `state` when it is known to stay
    /// constant (extinction is absorbing), with [`UNKNOWN_COUNT`] otherwise (a cap stopped the run).
    /// The exposure there comes from the schedule.
    pub fn finish(&mut self, state: Option<&[u64]>, schedule: &Schedule) {
        while self.next < self.times.len() {
            let exposure = schedule.segment_at(self.next_time).exposure;
            if let Some(state) = state {
                self.write(state, exposure);
            } else {
                let row =
                    &mut self.counts[self.next * self.n_states..(self.next + 1) * self.n_states];
                row.fill(UNKNOWN_COUNT);
                self.exposure[self.next] = exposure as i8;
                self.advance();
            }
        }
    }
}
