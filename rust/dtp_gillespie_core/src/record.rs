//! Writes the state on the record grid straight into the output slices of one replicate.
//!
//! The recorder only compares times: it never draws random numbers, so a denser or coarser grid
//! cannot change a trajectory. Counts are right-continuous: a record time equal to an event time sees
//! the state after the event.

/// Count written at record times after a capped replicate stopped: the state there is unknown.
pub const UNKNOWN_COUNT: i64 = -1;

pub struct Recorder<'a> {
    times: &'a [f64],
    counts: &'a mut [i64],
    exposure: &'a mut [i8],
    /// Drug concentration at each record time (pharmacokinetic runs only).
    concentration: Option<&'a mut [f64]>,
    /// The model's biomarker at each record time (models with one only).
    biomarker: Option<&'a mut [f64]>,
    n_states: usize,
    next: usize,
    /// `times[next]`, or infinity once every time is written; the event loop compares against it.
    next_time: f64,
}

/// What is in force between events: the exposure and, for pharmacokinetic runs, the
/// concentration as a function of time; and the model's biomarker, if recorded.
pub trait Drug {
    fn exposure_at(&self, t: f64) -> usize;
    fn concentration_at(&self, t: f64) -> f64;
    fn biomarker_at(&self, _t: f64) -> f64 {
        f64::NAN
    }
}

/// A constant exposure and no concentration.
pub struct Exposure(pub usize);

impl Drug for Exposure {
    #[inline]
    fn exposure_at(&self, _: f64) -> usize {
        self.0
    }
    #[inline]
    fn concentration_at(&self, _: f64) -> f64 {
        0.0
    }
}

impl<'a> Recorder<'a> {
    /// `counts` is `times.len() * n_states` long (time-major); `exposure` and `concentration` are
    /// `times.len()` long.
    pub fn new(
        times: &'a [f64],
        counts: &'a mut [i64],
        exposure: &'a mut [i8],
        concentration: Option<&'a mut [f64]>,
        n_states: usize,
    ) -> Self {
        debug_assert_eq!(counts.len(), times.len() * n_states);
        debug_assert_eq!(exposure.len(), times.len());
        let next_time = times.first().copied().unwrap_or(f64::INFINITY);
        Self {
            times,
            counts,
            exposure,
            concentration,
            biomarker: None,
            n_states,
            next: 0,
            next_time,
        }
    }

    /// Also record the biomarker, into `biomarker` (`times.len()` long).
    #[must_use]
    pub fn with_biomarker(mut self, biomarker: &'a mut [f64]) -> Self {
        debug_assert_eq!(biomarker.len(), self.times.len());
        self.biomarker = Some(biomarker);
        self
    }

    #[inline]
    fn write(&mut self, state: Option<&[u64]>, drug: &impl Drug) {
        let t = self.next_time;
        let row = &mut self.counts[self.next * self.n_states..(self.next + 1) * self.n_states];
        match state {
            Some(state) => {
                for (out, &n) in row.iter_mut().zip(state) {
                    *out = n as i64;
                }
            }
            None => row.fill(UNKNOWN_COUNT),
        }
        self.exposure[self.next] = drug.exposure_at(t) as i8;
        if let Some(c) = self.concentration.as_deref_mut() {
            c[self.next] = drug.concentration_at(t);
        }
        if let Some(b) = self.biomarker.as_deref_mut() {
            b[self.next] = if state.is_some() {
                drug.biomarker_at(t)
            } else {
                f64::NAN
            };
        }
        self.step();
    }

    /// Go on to the next record time.
    #[inline]
    fn step(&mut self) {
        self.next += 1;
        self.next_time = self.times.get(self.next).copied().unwrap_or(f64::INFINITY);
    }

    /// The next time to record, infinity once every time is written.
    #[inline]
    #[must_use]
    pub fn next_time(&self) -> f64 {
        self.next_time
    }

    /// Record `state` at every pending time `< until`.
    #[inline]
    pub fn record_before(&mut self, until: f64, state: &[u64], drug: &impl Drug) {
        while self.next_time < until {
            self.write(Some(state), drug);
        }
    }

    /// Record `state` at every pending time `<= until`.
    #[inline]
    pub fn record_through(&mut self, until: f64, state: &[u64], drug: &impl Drug) {
        while self.next_time <= until {
            self.write(Some(state), drug);
        }
    }

    /// For the SIMD lanes, which write counts themselves: the index of the next record time and
    /// the start of the counts (`times.len() * n_states`, time-major), if counts and exposures
    /// are all this recorder writes (no concentration, no biomarker). Rows written through the
    /// pointer are handed back with [`Self::counts_written_before`] before the recorder is used
    /// again, and the pointer is not used after that.
    pub(crate) fn counts_only(&mut self) -> Option<(usize, *mut i64)> {
        let plain = self.concentration.is_none() && self.biomarker.is_none();
        plain.then_some((self.next, self.counts.as_mut_ptr()))
    }

    /// The counts of the record times before index `next` were written through
    /// [`Self::counts_only`]'s pointer: write their exposures (from `drug`) and go on from `next`.
    pub(crate) fn counts_written_before(&mut self, next: usize, drug: &impl Drug) {
        debug_assert!(self.next <= next && next <= self.times.len());
        while self.next < next {
            let t = self.next_time;
            self.exposure[self.next] = drug.exposure_at(t) as i8;
            self.step();
        }
    }

    /// Fill every pending time after the replicate stopped: with `state` when it is known to stay
    /// constant (extinction is absorbing), with [`UNKNOWN_COUNT`] otherwise (a cap stopped the run).
    pub fn finish(&mut self, state: Option<&[u64]>, drug: &impl Drug) {
        while self.next < self.times.len() {
            self.write(state, drug);
        }
    }
}
