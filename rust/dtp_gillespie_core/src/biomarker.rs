//! A circulating biomarker (PSA-like) driven by the cells: `dy/dt = sum_i p_i n_i - delta * y`.
//!
//! # Why it is exact
//!
//! Between two events the counts are constant, and so is the production `P = sum_i p_i n_i`
//! (`p_i` may depend on the exposure, which also changes only at events and checks). The
//! equation is then linear with constant coefficients and
//!
//! `y(t) = P/delta + (y(t0) - P/delta) * exp(-delta * (t - t0))`,
//!
//! a monotone approach to the steady state `P/delta`. A level `L` strictly between `y(t0)` and
//! `P/delta` is crossed once, at
//!
//! `t0 + ln((y(t0) - P/delta) / (L - P/delta)) / delta`,
//!
//! and never otherwise (the steady state itself is approached, not reached). So an adaptive rule
//! that watches the biomarker can switch the exposure at the exact crossing time: the crossing
//! computed with the current counts is a breakpoint of the event loop, valid until the next event,
//! after which it is recomputed (an event changes `P`, not `y`: `y` is continuous). No time step
//! and no approximation are involved. A check that changes neither the counts nor the exposure
//! changes nothing here: the closed form from the last change stays valid.
//!
//! Progression on the biomarker is an upward crossing ([`rise_time`]): only a biomarker below the
//! level and rising towards a steady state above it can reach it; one falling past it has not
//! progressed.

use crate::error::{EngineError, Result};

/// Largest per-cell production, and production / decay, accepted: with at most 2^64 cells the
/// production and the steady state `P / delta`, and so every value of the biomarker, stay finite.
pub const MAX_PRODUCTION: f64 = f64::MAX / 18_446_744_073_709_551_616.0;

/// The biomarker of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct Biomarker {
    /// Production per cell of each state under each exposure, exposure-major:
    /// `production[e * n_states + i]` (units of `y` per cell per day).
    pub production: Vec<f64>,
    /// First-order clearance rate `delta` (per day), > 0.
    pub decay: f64,
    /// `y(0)`; `None`: the quasi-steady state `P(0) / delta` of the initial cells.
    pub initial: Option<f64>,
}

impl Biomarker {
    pub fn validate(&self, n_states: usize, n_exposures: usize) -> Result<()> {
        let bad = |msg: String| Err(EngineError::InvalidModel(msg));
        if self.production.len() != n_states * n_exposures {
            return bad(format!(
                "biomarker production has {} values; expected n_exposures * n_states = {}",
                self.production.len(),
                n_states * n_exposures
            ));
        }
        if let Some(p) = self.production.iter().find(|p| !p.is_finite() || **p < 0.0) {
            return bad(format!("biomarker production {p} is not finite and >= 0"));
        }
        if !self.decay.is_finite() || self.decay <= 0.0 {
            return bad(format!(
                "biomarker decay is {}; it must be finite and > 0",
                self.decay
            ));
        }
        if let Some(p) = self
            .production
            .iter()
            .find(|p| **p > MAX_PRODUCTION || **p / self.decay > MAX_PRODUCTION)
        {
            return bad(format!(
                "biomarker production {p} with decay {}: production and production / decay \
                 must be at most {MAX_PRODUCTION:e}, or the biomarker of a large population \
                 overflows",
                self.decay
            ));
        }
        if let Some(y) = self.initial.filter(|y| !y.is_finite() || *y < 0.0) {
            return bad(format!(
                "biomarker initial value is {y}; it must be finite and >= 0"
            ));
        }
        Ok(())
    }

    /// Production rate `P = sum_i p_i n_i` under exposure `e`.
    #[must_use]
    pub fn production_of(&self, counts: &[u64], exposure: usize) -> f64 {
        let n = counts.len();
        counts
            .iter()
            .zip(&self.production[exposure * n..(exposure + 1) * n])
            .map(|(&c, &p)| c as f64 * p)
            .sum()
    }
}

/// `y` after `dt` days at constant production, from `y0`, with steady state `steady`.
#[inline]
#[must_use]
pub fn value_after(y0: f64, steady: f64, decay: f64, dt: f64) -> f64 {
    if dt == 0.0 {
        return y0;
    }
    steady + (y0 - steady) * (-decay * dt).exp()
}

/// Days until `y` (now `y0`, relaxing towards `steady` at rate `decay`) reaches `level`:
/// `ln((y0 - steady) / (level - steady)) / decay` when `level` lies strictly between `y0` and
/// `steady`, infinity otherwise (moving away, already there, or only approached asymptotically).
#[must_use]
pub fn crossing_time(y0: f64, steady: f64, decay: f64, level: f64) -> f64 {
    let (from, to) = (y0 - steady, level - steady);
    if to == 0.0 || from == 0.0 || (from > 0.0) != (to > 0.0) || to.abs() >= from.abs() {
        return f64::INFINITY;
    }
    ((from / to).ln() / decay).max(0.0)
}

/// Days until `y` (now `y0`) first rises to `level`: [`crossing_time`] when `level` is above
/// `y0`, infinity otherwise. Progression is an upward crossing: a falling biomarker passing a
/// level on its way down has not progressed.
#[must_use]
pub fn rise_time(y0: f64, steady: f64, decay: f64, level: f64) -> f64 {
    if level > y0 {
        crossing_time(y0, steady, decay, level)
    } else {
        f64::INFINITY
    }
}

/// The biomarker of one replicate: `y(t0)`, the time `t0` of the last change of production, and
/// the production since then.
#[derive(Clone, Debug)]
pub struct Track<'a> {
    spec: &'a Biomarker,
    t0: f64,
    y0: f64,
    production: f64,
}

impl<'a> Track<'a> {
    /// The biomarker at time 0 with the initial cells under the initial exposure.
    #[must_use]
    pub fn new(spec: &'a Biomarker, counts: &[u64], exposure: usize) -> Self {
        let production = spec.production_of(counts, exposure);
        let y0 = spec.initial.unwrap_or(production / spec.decay);
        Self {
            spec,
            t0: 0.0,
            y0,
            production,
        }
    }

    #[inline]
    #[must_use]
    pub fn steady(&self) -> f64 {
        self.production / self.spec.decay
    }

    /// `y(t)` for `t >= t0` (until the next change of counts or exposure).
    #[inline]
    #[must_use]
    pub fn value_at(&self, t: f64) -> f64 {
        value_after(self.y0, self.steady(), self.spec.decay, t - self.t0)
    }

    /// The counts or the exposure changed at `t`: `y` is continuous, its production jumps.
    #[inline]
    pub fn update(&mut self, t: f64, counts: &[u64], exposure: usize) {
        self.y0 = self.value_at(t);
        self.t0 = t;
        self.production = self.spec.production_of(counts, exposure);
    }

    /// `y(t) = level` exactly: used at a computed crossing time, where rounding must not decide
    /// whether the level was reached.
    pub fn set(&mut self, t: f64, level: f64) {
        self.y0 = level;
        self.t0 = t;
    }

    /// Absolute time at which `y` next reaches `level` with the current production (infinity if
    /// it does not).
    #[must_use]
    pub fn crossing(&self, level: f64) -> f64 {
        self.t0 + crossing_time(self.y0, self.steady(), self.spec.decay, level)
    }

    /// Absolute time at which `y` next rises to `level` with the current production (infinity if
    /// it is not below `level` and rising towards a steady state above it).
    #[must_use]
    pub fn rise(&self, level: f64) -> f64 {
        self.t0 + rise_time(self.y0, self.steady(), self.spec.decay, level)
    }

    /// `y(t)` after the replicate went extinct at `stop` (production 0 from then on).
    #[must_use]
    pub fn after_extinction(&self, t: f64, stop: f64) -> f64 {
        value_after(self.value_at(stop), 0.0, self.spec.decay, t - stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn crossing_time_is_the_log_formula() {
        // Falling from 100 towards 20: reaches 50 after ln(80/30)/0.5 days.
        let t = crossing_time(100.0, 20.0, 0.5, 50.0);
        assert!(close(t, (80.0_f64 / 30.0).ln() / 0.5));
        assert!(close(value_after(100.0, 20.0, 0.5, t), 50.0));
        // Rising from 10 towards 40: reaches 30 after ln(30/10)/0.2 days.
        let t = crossing_time(10.0, 40.0, 0.2, 30.0);
        assert!(close(t, 3.0_f64.ln() / 0.2));
        assert!(close(value_after(10.0, 40.0, 0.2, t), 30.0));
    }

    #[test]
    fn crossing_time_is_infinite_when_the_level_is_not_ahead() {
        // Moving away from the level.
        assert_eq!(crossing_time(100.0, 20.0, 0.5, 150.0), f64::INFINITY);
        assert_eq!(crossing_time(10.0, 40.0, 0.5, 5.0), f64::INFINITY);
        // Beyond the steady state, or exactly at it: never reached.
        assert_eq!(crossing_time(100.0, 20.0, 0.5, 10.0), f64::INFINITY);
        assert_eq!(crossing_time(100.0, 20.0, 0.5, 20.0), f64::INFINITY);
        // Already at the level, or at the steady state.
        assert_eq!(crossing_time(50.0, 20.0, 0.5, 50.0), f64::INFINITY);
        assert_eq!(crossing_time(20.0, 20.0, 0.5, 30.0), f64::INFINITY);
        // Zero production: pure decay to 0 reaches any positive level below y0.
        assert!(close(
            crossing_time(8.0, 0.0, 0.25, 2.0),
            4.0_f64.ln() / 0.25
        ));
    }

    #[test]
    fn a_rise_is_an_upward_crossing_only() {
        // Rising from 10 towards 40: reaches 30 once, on the way up.
        assert_eq!(
            rise_time(10.0, 40.0, 0.2, 30.0),
            crossing_time(10.0, 40.0, 0.2, 30.0)
        );
        // Falling from 100 towards 5 passes 50 on the way down: no rise to it, ever.
        assert!(crossing_time(100.0, 5.0, 1.0, 50.0).is_finite());
        assert_eq!(rise_time(100.0, 5.0, 1.0, 50.0), f64::INFINITY);
        // Already at or above the level, or rising to a steady state below it.
        assert_eq!(rise_time(30.0, 40.0, 0.2, 30.0), f64::INFINITY);
        assert_eq!(rise_time(10.0, 20.0, 0.2, 30.0), f64::INFINITY);
    }

    #[test]
    fn track_is_continuous_and_follows_production() {
        let spec = Biomarker {
            production: vec![1.0, 2.0, 0.5, 0.0],
            decay: 0.5,
            initial: None,
        };
        spec.validate(2, 2).unwrap();
        let mut track = Track::new(&spec, &[10, 5], 0);
        assert!(close(track.value_at(0.0), (10.0 + 10.0) / 0.5));
        assert!(close(track.value_at(3.0), 40.0));
        // Halve the cells at t = 1: y(1) is kept, the steady state halves.
        track.update(1.0, &[5, 0], 0);
        assert!(close(track.value_at(1.0), 40.0));
        assert!(close(track.steady(), 10.0));
        let t = track.crossing(25.0);
        assert!(close(t, 1.0 + 2.0_f64.ln() / 0.5));
        assert!(close(track.value_at(t), 25.0));
        // Exposure 1 produces 0.5 per cell of state 0.
        track.update(2.0, &[5, 0], 1);
        assert!(close(track.steady(), 5.0));
        // After extinction at t = 3 the biomarker decays from y(3) to 0.
        let y3 = track.value_at(3.0);
        assert!(close(
            track.after_extinction(5.0, 3.0),
            y3 * (-1.0_f64).exp()
        ));
    }

    #[test]
    fn invalid_biomarkers_are_rejected() {
        let ok = Biomarker {
            production: vec![1.0],
            decay: 0.5,
            initial: Some(3.0),
        };
        assert!(ok.validate(1, 1).is_ok());
        for bad in [
            Biomarker {
                production: vec![1.0, 1.0],
                ..ok.clone()
            },
            Biomarker {
                production: vec![-1.0],
                ..ok.clone()
            },
            Biomarker {
                decay: 0.0,
                ..ok.clone()
            },
            Biomarker {
                initial: Some(f64::NAN),
                ..ok.clone()
            },
        ] {
            assert!(bad.validate(1, 1).is_err(), "{bad:?}");
        }
    }
}
