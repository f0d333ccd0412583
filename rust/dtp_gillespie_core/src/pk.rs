//! Pharmacokinetic dosing: IV boluses with first-order elimination, and rates that follow the
//! drug concentration through an Emax/Hill response,
//! `rate(C) = off + (on - off) * C^h / (EC50^h + C^h)`.
//!
//! # Why thinning is exact here
//!
//! Between two doses the concentration only falls, `C(t) = C(s) * exp(-k (t - s))`, and every rate
//! is a monotone function of `C`, so over the rest of an interval each rate lies between its values
//! at the interval's two ends. Thinning (Lewis-Shedler) a Poisson process that runs at such a bound
//! and accepting a candidate at `t` with probability `rate(t) / bound` yields exactly the events of
//! the time-inhomogeneous process, with no time step. Models without density dependence thin each
//! channel by its own bound (see `thinning.rs`); with density dependence the bound on the total
//! propensity is recomputed from the current time after every candidate. Doses are breakpoints:
//! the concentration jumps and new bounds are computed.

use crate::error::{EngineError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct PkSpec {
    pub off_exposure: usize,
    pub on_exposure: usize,
    /// Sorted dose times.
    pub dose_times: Vec<f64>,
    /// Concentration added by each dose.
    pub dose: f64,
    pub half_life: f64,
    /// Per channel.
    pub ec50: Vec<f64>,
    /// Per channel.
    pub hill: Vec<f64>,
    pub missed_dose_probability: f64,
}

impl PkSpec {
    pub fn validate(&self, n_exposures: usize, n_channels: usize) -> Result<()> {
        let bad = |msg: String| Err(EngineError::InvalidSchedule(msg));
        if self.off_exposure >= n_exposures || self.on_exposure >= n_exposures {
            return bad("the pk schedule names an exposure the model does not have".into());
        }
        if let Some(t) = self.dose_times.iter().find(|t| !t.is_finite() || **t < 0.0) {
            return bad(format!("dose time {t} is negative or not finite"));
        }
        if self.dose_times.windows(2).any(|w| w[1] < w[0]) {
            return bad("dose times must be sorted".into());
        }
        if !self.dose.is_finite() || self.dose < 0.0 {
            return bad(format!("dose is {}; it must be finite and >= 0", self.dose));
        }
        if !(self.half_life.is_finite()
            && self.half_life > 0.0
            && self.elimination_rate().is_finite())
        {
            return bad(format!(
                "half_life is {}; it must be finite and > 0, with a finite elimination rate \
                 ln 2 / half_life",
                self.half_life
            ));
        }
        // Doses add up (decay only lowers the sum): every concentration stays finite.
        if !(self.dose * self.dose_times.len() as f64).is_finite() {
            return bad(format!(
                "dose is {} with {} doses; their sum must be finite",
                self.dose,
                self.dose_times.len()
            ));
        }
        if self.ec50.len() != n_channels || self.hill.len() != n_channels {
            return bad(format!(
                "ec50 and hill need one value per channel ({n_channels})"
            ));
        }
        if let Some(e) = self.ec50.iter().find(|e| e.is_nan() || **e <= 0.0) {
            return bad(format!("an ec50 is {e}; it must be > 0 (inf allowed)"));
        }
        if let Some(h) = self.hill.iter().find(|h| !h.is_finite() || **h <= 0.0) {
            return bad(format!(
                "a hill coefficient is {h}; it must be finite and > 0"
            ));
        }
        if !(0.0..=1.0).contains(&self.missed_dose_probability) {
            return bad(format!(
                "missed_dose_probability is {}; it must lie in [0, 1]",
                self.missed_dose_probability
            ));
        }
        Ok(())
    }

    /// First-order elimination rate `ln 2 / half_life`.
    #[must_use]
    pub fn elimination_rate(&self) -> f64 {
        std::f64::consts::LN_2 / self.half_life
    }

    /// Doses that change anything: none when the dose is zero (so a zero-dose schedule is the
    /// `off` exposure, draw for draw).
    #[must_use]
    pub fn effective_dose_times(&self) -> &[f64] {
        if self.dose > 0.0 {
            &self.dose_times
        } else {
            &[]
        }
    }
}

/// The Hill response `C^h / (EC50^h + C^h)`, computed without overflow.
#[inline]
#[must_use]
pub fn hill_response(c: f64, ec50: f64, h: f64) -> f64 {
    if c <= 0.0 || ec50 == f64::INFINITY {
        return 0.0;
    }
    let ratio = c / ec50;
    #[allow(clippy::float_cmp)]
    let x = if h == 2.0 {
        ratio * ratio
    } else if h == 1.0 {
        ratio
    } else {
        ratio.powf(h)
    };
    if x.is_infinite() { 1.0 } else { x / (1.0 + x) }
}

/// Channel rates at concentration `c`: `out[ch] = off[ch] + (on[ch] - off[ch]) * H_ch(c)`.
pub(crate) fn rates_at(spec: &PkSpec, off: &[f64], on: &[f64], c: f64, out: &mut [f64]) {
    for (ch, rate) in out.iter_mut().enumerate() {
        *rate = off[ch] + (on[ch] - off[ch]) * hill_response(c, spec.ec50[ch], spec.hill[ch]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hill_response_limits() {
        assert_eq!(hill_response(0.0, 1.0, 2.0), 0.0);
        assert_eq!(hill_response(1.0, 1.0, 2.0), 0.5);
        assert_eq!(hill_response(5.0, f64::INFINITY, 2.0), 0.0);
        assert_eq!(hill_response(1e300, 1e-300, 3.0), 1.0);
        assert!(
            (hill_response(2.0, 1.0, 1.5) - 2f64.powf(1.5) / (1.0 + 2f64.powf(1.5))).abs() < 1e-15
        );
    }
}
