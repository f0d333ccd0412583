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
//!
//! # Exposure and cumulative effect
//!
//! The drug counts as *on* while its own response `H(C) = C^h / (EC50^h + C^h)` (the schedule's
//! top-level `ec50` and `hill`, [`PkResponse`]) is at least `on_threshold` of its maximum, i.e.
//! while `C >= EC50 (theta / (1 - theta))^(1/h)`. Between doses `C` only falls, so that holds
//! from a dose until a closed-form crossing time, which the event loop treats as a breakpoint.
//! The areas under `C` and under `H` follow in closed form too: with `C' = -k C`,
//! `int_a^b C = (C(a) - C(b)) / k`, and with `x = (C / EC50)^h`, `x' = -h k x`, so
//! `int_a^b H = (ln(1 + x(a)) - ln(1 + x(b))) / (h k)`.

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
    /// The response that defines the exposure in force and `auc_response`.
    pub response: PkResponse,
}

/// The drug's own Hill response, `C^h / (EC50^h + C^h)`, and the fraction of its maximum at which
/// the drug counts as on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PkResponse {
    pub ec50: f64,
    pub hill: f64,
    /// In `(0, 1)`.
    pub on_threshold: f64,
}

impl Default for PkResponse {
    /// `ec50 = 1`, `hill = 1`, on at 5% of the maximal response.
    fn default() -> Self {
        Self {
            ec50: 1.0,
            hill: 1.0,
            on_threshold: 0.05,
        }
    }
}

impl PkResponse {
    /// The concentration at which the response is `on_threshold` of its maximum (infinity when
    /// `ec50` is).
    #[must_use]
    pub fn on_concentration(&self) -> f64 {
        let theta = self.on_threshold;
        self.ec50 * (theta / (1.0 - theta)).powf(1.0 / self.hill)
    }

    /// `ln(1 + x)` from `ln x`, without overflow for a large `x` nor loss of a tiny one
    /// ([`PkResponse::response_auc`] takes differences of it).
    fn ln_1p_from_ln(ln_x: f64) -> f64 {
        if ln_x > 0.0 {
            ln_x + (-ln_x).exp().ln_1p()
        } else {
            ln_x.exp().ln_1p()
        }
    }

    /// `int_0^duration H(C(t)) dt` while `C(t) = c_start exp(-k t)`, in closed form.
    #[must_use]
    pub fn response_auc(&self, c_start: f64, k: f64, duration: f64) -> f64 {
        if c_start <= 0.0 || self.ec50 == f64::INFINITY || duration <= 0.0 {
            return 0.0;
        }
        let ln_x_start = self.hill * (c_start / self.ec50).ln();
        let ln_x_end = ln_x_start - self.hill * k * duration;
        (Self::ln_1p_from_ln(ln_x_start) - Self::ln_1p_from_ln(ln_x_end)) / (self.hill * k)
    }
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
        let r = &self.response;
        if r.ec50.is_nan() || r.ec50 <= 0.0 || !r.hill.is_finite() || r.hill <= 0.0 {
            return bad(format!(
                "the pk response has ec50 {} and hill {}; ec50 must be > 0 (inf allowed) and \
                 hill finite and > 0",
                r.ec50, r.hill
            ));
        }
        if !(r.on_threshold > 0.0 && r.on_threshold < 1.0) {
            return bad(format!(
                "on_threshold is {}; it must lie strictly between 0 and 1",
                r.on_threshold
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

    /// Midpoint rule on a fine grid, for checking the closed forms.
    fn numerically(f: impl Fn(f64) -> f64, duration: f64) -> f64 {
        let n = 200_000;
        let h = duration / f64::from(n);
        (0..n).map(|i| f((f64::from(i) + 0.5) * h)).sum::<f64>() * h
    }

    #[test]
    fn response_auc_is_the_integral_of_the_hill_response() {
        let k = std::f64::consts::LN_2 / 0.25;
        for (c_start, ec50, hill, duration) in [
            (10.0, 1.0, 1.0, 3.0),
            (10.0, 2.0, 2.5, 0.7),
            (0.3, 1.0, 0.5, 5.0),
            (1e6, 1.0, 4.0, 2.0),
        ] {
            let r = PkResponse {
                ec50,
                hill,
                on_threshold: 0.05,
            };
            let exact = r.response_auc(c_start, k, duration);
            let numeric = numerically(
                |t| hill_response(c_start * (-k * t).exp(), ec50, hill),
                duration,
            );
            assert!((exact - numeric).abs() < 1e-8, "{exact} vs {numeric}");
        }
        let never = PkResponse {
            ec50: f64::INFINITY,
            ..PkResponse::default()
        };
        assert_eq!(never.response_auc(5.0, k, 1.0), 0.0);
        assert_eq!(never.on_concentration(), f64::INFINITY);
        // At the on concentration the response is the threshold.
        let r = PkResponse {
            ec50: 2.0,
            hill: 3.0,
            on_threshold: 0.2,
        };
        assert!((hill_response(r.on_concentration(), 2.0, 3.0) - 0.2).abs() < 1e-14);
    }
}
