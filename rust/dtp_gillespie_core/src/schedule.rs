//! Piecewise-constant drug exposure over time: a list of segments, the tail of which may repeat with a
//! period. Continuous dosing is one segment; intermittent dosing is an optional delay followed by a
//! repeating on/off cycle; a piecewise schedule is a plain list.
//!
//! Segment `k` covers `[start(k), start(k + 1))`. Every boundary is computed by [`Schedule::segment`]
//! from integers, so the engine and [`Schedule::segment_at`] agree exactly on which exposure is in
//! force at any time (no accumulated floating-point drift over many cycles).

use crate::error::{EngineError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    starts: Vec<f64>,
    exposures: Vec<usize>,
    /// `(first repeating segment, period)`.
    cycle: Option<(usize, f64)>,
}

/// One stretch of constant exposure, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    pub index: u64,
    pub start: f64,
    pub end: f64,
    pub exposure: usize,
}

impl Schedule {
    pub fn new(
        starts: Vec<f64>,
        exposures: Vec<usize>,
        cycle: Option<(usize, f64)>,
    ) -> Result<Self> {
        let bad = |msg: String| Err(EngineError::InvalidSchedule(msg));
        if starts.is_empty() || starts.len() != exposures.len() {
            return bad(format!(
                "a schedule needs one exposure per segment start and at least one segment; got {} starts and {} exposures",
                starts.len(),
                exposures.len()
            ));
        }
        if starts[0] != 0.0 {
            return bad(format!(
                "the first segment starts at {}; it must start at 0",
                starts[0]
            ));
        }
        for w in starts.windows(2) {
            if !(w[1] > w[0]) || !w[1].is_finite() {
                return bad(format!(
                    "segment start times must be finite and strictly increasing; got {} after {}",
                    w[1], w[0]
                ));
            }
        }
        if let Some((first, period)) = cycle {
            if first >= starts.len() {
                return bad(format!("cycle start {first} is not a segment index"));
            }
            let span = starts[starts.len() - 1] - starts[first];
            if !period.is_finite() || !(period > span) {
                return bad(format!(
                    "the period is {period}; it must be finite and longer than the cycle's segments ({span})"
                ));
            }
        }
        Ok(Self {
            starts,
            exposures,
            cycle,
        })
    }

    /// A single exposure for all time.
    #[must_use]
    pub fn constant(exposure: usize) -> Self {
        Self {
            starts: vec![0.0],
            exposures: vec![exposure],
            cycle: None,
        }
    }

    /// Largest exposure index used (to check it against the model).
    #[must_use]
    pub fn max_exposure(&self) -> usize {
        self.exposures.iter().copied().max().unwrap_or(0)
    }

    /// Position of segment `index` in the stored list, and the number of whole cycles before it.
    fn locate(&self, index: u64) -> (usize, u64) {
        let n = self.starts.len() as u64;
        match self.cycle {
            Some((first, _)) if index >= first as u64 => {
                let len = n - first as u64;
                let k = index - first as u64;
                (first + (k % len) as usize, k / len)
            }
            _ => (index.min(n - 1) as usize, 0),
        }
    }

    fn start(&self, index: u64) -> f64 {
        let n = self.starts.len() as u64;
        match self.cycle {
            None if index >= n => f64::INFINITY,
            None => self.starts[index as usize],
            Some(_) => {
                let (pos, cycles) = self.locate(index);
                let period = self.cycle.map_or(0.0, |c| c.1);
                self.starts[pos] + cycles as f64 * period
            }
        }
    }

    /// Segment number `index` (0 is the one starting at time 0).
    #[must_use]
    pub fn segment(&self, index: u64) -> Segment {
        let (pos, _) = self.locate(index);
        Segment {
            index,
            start: self.start(index),
            end: self.start(index + 1),
            exposure: self.exposures[pos],
        }
    }

    /// How many segments start at or before `t_end`, by the period: exact for a plain list; for a
    /// repeating schedule, the segments before the cycle plus one segment table per cycle, with
    /// one whole cycle over (so never fewer than [`Schedule::breakpoints`] lists, up to rounding).
    /// Infinite for an infinite `t_end`, NaN for a NaN one, so that a bound check refuses both.
    #[must_use]
    pub fn segment_count(&self, t_end: f64) -> f64 {
        match self.cycle {
            None => self.starts.iter().filter(|&&s| s <= t_end).count() as f64,
            Some((first, period)) => {
                let span = t_end - self.starts[first];
                // Clamp at 0 but keep a NaN (`f64::max` would turn it into 0).
                let span = if 0.0 > span { 0.0 } else { span };
                let cycles = span / period + 1.0;
                first as f64 + (self.starts.len() - first) as f64 * cycles
            }
        }
    }

    /// Start and exposure of every segment that starts at or before `t_end`, in order: the
    /// boundaries the engine steps through (each start from [`Schedule::segment`], so bit for bit
    /// the engine's).
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidSchedule`] if there are more than `limit` of them (check
    /// [`Schedule::segment_count`] first to report the bound in the caller's terms).
    pub fn breakpoints(&self, t_end: f64, limit: usize) -> Result<(Vec<f64>, Vec<usize>)> {
        let (mut starts, mut exposures) = (Vec::new(), Vec::new());
        // A plain list ends with its last segment; a repeating one goes on for ever.
        let end = if self.cycle.is_some() {
            u64::MAX
        } else {
            self.starts.len() as u64
        };
        for index in 0..end {
            let segment = self.segment(index);
            if !(segment.start <= t_end) {
                break;
            }
            if starts.len() == limit {
                return Err(EngineError::InvalidSchedule(format!(
                    "the schedule has more than {limit} segments before t_end = {t_end}"
                )));
            }
            starts.push(segment.start);
            exposures.push(segment.exposure);
        }
        Ok((starts, exposures))
    }

    /// The segment in force at time `t >= 0`: the last segment `k` with `start(k) <= t`, as the
    /// engine reaches it by stepping from segment to segment.
    ///
    /// Segment starts never decrease with `k` (every operation in [`Schedule::segment`] rounds
    /// monotonically), so a search over the index finds it in at most 64 steps, however far `t`
    /// is from 0 and however many segments share a start once the period is below the spacing of
    /// floats there.
    ///
    /// # Errors
    ///
    /// [`EngineError::InvalidSchedule`] if `t` is not a number, is negative, or lies beyond the
    /// last segment a 64-bit index can number.
    pub fn segment_at(&self, t: f64) -> Result<Segment> {
        if t.is_nan() || t < 0.0 {
            return Err(EngineError::InvalidSchedule(format!(
                "time {t} is not a time >= 0"
            )));
        }
        // The next one may be `index + 1`, so the last index used is `u64::MAX - 1`.
        let last = u64::MAX - 1;
        if self.start(last) <= t {
            return Err(EngineError::InvalidSchedule(format!(
                "time {t:e} lies beyond the schedule's {last} segments (the period is too short \
                 for times this large)"
            )));
        }
        let guess = self.guess_index(t).min(last - 1);
        if self.start(guess) <= t && t < self.start(guess + 1) {
            return Ok(self.segment(guess));
        }
        let (mut low, mut high) = (0, last);
        // Invariant: start(low) <= t < start(high).
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if self.start(mid) <= t {
                low = mid;
            } else {
                high = mid;
            }
        }
        Ok(self.segment(low))
    }

    /// The segment in force at `t` by float arithmetic, exact up to rounding (saturating for
    /// indices beyond 64 bits); [`Schedule::segment_at`] checks it.
    fn guess_index(&self, t: f64) -> u64 {
        match self.cycle {
            Some((first, period)) if t >= self.starts[first] => {
                let len = (self.starts.len() - first) as u64;
                let cycles = ((t - self.starts[first]) / period).floor().max(0.0) as u64;
                let within = self.starts[first..]
                    .partition_point(|s| s + cycles as f64 * period <= t)
                    .saturating_sub(1) as u64;
                (first as u64)
                    .saturating_add(cycles.saturating_mul(len))
                    .saturating_add(within)
            }
            _ => self.starts.partition_point(|s| *s <= t).saturating_sub(1) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intermittent() -> Schedule {
        // off during a 3-day delay, then 14 on / 14 off forever.
        Schedule::new(vec![0.0, 3.0, 17.0], vec![0, 1, 0], Some((1, 28.0))).unwrap()
    }

    #[test]
    fn periodic_segments_follow_the_cycle() {
        let s = intermittent();
        let seg: Vec<_> = (0..5).map(|k| s.segment(k)).collect();
        assert_eq!(
            seg[0],
            Segment {
                index: 0,
                start: 0.0,
                end: 3.0,
                exposure: 0
            }
        );
        assert_eq!(
            seg[1],
            Segment {
                index: 1,
                start: 3.0,
                end: 17.0,
                exposure: 1
            }
        );
        assert_eq!(
            seg[2],
            Segment {
                index: 2,
                start: 17.0,
                end: 31.0,
                exposure: 0
            }
        );
        assert_eq!(
            seg[3],
            Segment {
                index: 3,
                start: 31.0,
                end: 45.0,
                exposure: 1
            }
        );
        assert_eq!(seg[4].start, 45.0);
    }

    #[test]
    fn segment_at_agrees_with_segment_boundaries() {
        let s = intermittent();
        for k in 0..2000u64 {
            let seg = s.segment(k);
            assert_eq!(s.segment_at(seg.start), Ok(seg));
            let mid = 0.5 * (seg.start + seg.end);
            assert_eq!(s.segment_at(mid), Ok(seg));
            let before_end = f64::from_bits(seg.end.to_bits() - 1);
            assert_eq!(s.segment_at(before_end).unwrap().index, k);
        }
    }

    #[test]
    fn plain_list_last_segment_lasts_forever() {
        let s = Schedule::new(vec![0.0, 1.0], vec![0, 1], None).unwrap();
        assert_eq!(s.segment(1).end, f64::INFINITY);
        assert_eq!(s.segment_at(1e300).unwrap().index, 1);
        assert_eq!(s.segment_at(0.999).unwrap().exposure, 0);
    }

    #[test]
    fn segment_at_is_prompt_where_the_index_arithmetic_saturates() {
        // 1 day on, 1 off: 1e20 days is 5e19 cycles, beyond a 64-bit index; 1e15 days of a
        // 2e-9-day period are 5e23 cycles. Both once looped (or wrapped) without end.
        let daily = Schedule::new(vec![0.0, 1.0], vec![1, 0], Some((0, 2.0))).unwrap();
        assert!(matches!(
            daily.segment_at(1e20),
            Err(EngineError::InvalidSchedule(_))
        ));
        let seg = daily.segment_at(1e18).unwrap();
        assert!(seg.start <= 1e18 && 1e18 < seg.end);
        let fast = Schedule::new(vec![0.0, 1e-9], vec![1, 0], Some((0, 2e-9))).unwrap();
        assert!(fast.segment_at(1e15).is_err());
        let seg = fast.segment_at(1e9).unwrap();
        assert!(seg.start <= 1e9 && 1e9 < seg.end);
        // Where periods are below the spacing of floats, many segments share a start: the last.
        let next = fast.segment(seg.index + 1);
        assert!(next.start > 1e9);
        assert!(fast.segment_at(-1.0).is_err() && fast.segment_at(f64::NAN).is_err());
    }

    #[test]
    fn breakpoints_step_through_the_segments_up_to_t_end() {
        let s = intermittent();
        let (starts, exposures) = s.breakpoints(45.0, 100).unwrap();
        assert_eq!(starts, vec![0.0, 3.0, 17.0, 31.0, 45.0]);
        assert_eq!(exposures, vec![0, 1, 0, 1, 0]);
        for (k, start) in starts.iter().enumerate() {
            assert_eq!(s.segment(k as u64).start.to_bits(), start.to_bits());
        }
        assert_eq!(s.breakpoints(44.9, 100).unwrap().0.len(), 4);
        assert!(s.breakpoints(45.0, 4).is_err());
        assert!(s.breakpoints(f64::INFINITY, 1000).is_err());
        assert_eq!(s.breakpoints(f64::NAN, 10).unwrap().0, Vec::<f64>::new());
        let list = Schedule::new(vec![0.0, 1.0, 2.0], vec![0, 1, 0], None).unwrap();
        assert_eq!(
            list.breakpoints(1.5, 10).unwrap(),
            (vec![0.0, 1.0], vec![0, 1])
        );
        assert_eq!(list.breakpoints(f64::INFINITY, 10).unwrap().0.len(), 3);
    }

    #[test]
    fn segment_count_bounds_the_breakpoints() {
        let s = intermittent();
        // One segment before the cycle, two per cycle, one whole cycle over: 1 + 2 * (42/28 + 1).
        assert_eq!(s.segment_count(45.0), 6.0);
        assert_eq!(s.segment_count(1.0), 3.0);
        assert!(s.segment_count(45.0) >= s.breakpoints(45.0, 100).unwrap().0.len() as f64);
        assert_eq!(s.segment_count(f64::INFINITY), f64::INFINITY);
        assert!(s.segment_count(f64::NAN).is_nan());
        let list = Schedule::new(vec![0.0, 1.0, 2.0], vec![0, 1, 0], None).unwrap();
        assert_eq!(list.segment_count(1.0), 2.0);
        assert_eq!(Schedule::constant(0).segment_count(f64::INFINITY), 1.0);
    }

    #[test]
    fn invalid_schedules_are_rejected() {
        assert!(Schedule::new(vec![1.0], vec![0], None).is_err());
        assert!(Schedule::new(vec![0.0, 0.0], vec![0, 1], None).is_err());
        assert!(Schedule::new(vec![0.0, f64::NAN], vec![0, 1], None).is_err());
        assert!(Schedule::new(vec![0.0, 5.0], vec![0, 1], Some((0, 5.0))).is_err());
        assert!(Schedule::new(vec![0.0], vec![0, 1], None).is_err());
    }
}
