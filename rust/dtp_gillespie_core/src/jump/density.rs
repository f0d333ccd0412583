//! Regime A of the design note (scale.md §5): population jumps on a density-dependent model (a
//! capacity or competition) as a **labelled approximation**, `jump+density(midpoint)`.
//!
//! Density dependence breaks the branching property, so no jump over such a model is exact. Over
//! each step the rates are frozen at a *predicted* density, and the step then proceeds as a
//! linear jump with those rates ([`StepLaw`]):
//!
//! - [`Predictor::Midpoint`] (the default): the crowding at the deterministic midpoint
//!   `N̄(t + Δ/2)`, the model's mean-field ODE solved over half the step from the replicate's
//!   counts at the step's start (RK4, [`MeanField`]). Bias of the mean `O(Δ²) + O(1/N)`; the
//!   variance converges more slowly (5% high at `Δ = 1` on the logistic example, right at 0.5).
//! - [`Predictor::Frozen`]: the crowding at the step's start (OncoSimulR's BNB); first-order bias
//!   (14 % at `Δ = 1` on the logistic example of docs/jumps.md). Kept for comparison.
//!
//! The offspring tables depend on the rates, so the crowdings are rounded to a multiple of the
//! *quantum* `q` (default 1e-4) and the laws are cached per (exposure, step length, rounded
//! crowdings), shared by every replicate and thread. Rounding moves a crowding by at most `q/2`.
//!
//! **Exact steps.** A step in which no pool is jumped (every pool below the event-regime
//! threshold at the predicted rates) is simulated event by event with the true state-dependent
//! rates, recomputed after every event as exact SSA does (`simulate_exact`): small populations
//! are exact. In a step where some pool is jumped, every pool of that step (small ones too, event
//! by event) uses the frozen rates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand::Rng;
use rand::RngExt;
use rand_distr::{Distribution, Exp1};

use super::JumpError;
use super::lineage::LineageLog;
use super::linear::LinearRates;
use super::step::{StepLaw, StepLog, StepScratch};
use crate::model::{CompetitionRow, Model, PhaseRates, weighted_sum};

/// Where a step's frozen rates are evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Predictor {
    /// At the mean-field midpoint of the step.
    #[default]
    Midpoint,
    /// At the counts at the step's start.
    Frozen,
}

impl Predictor {
    /// The name in the `algorithm` label: `jump+density(<name>)`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Midpoint => "midpoint",
            Self::Frozen => "frozen",
        }
    }
}

/// Default quantum of the crowdings that key the cached laws.
pub const DEFAULT_QUANTUM: f64 = 1e-4;
/// RK4 substeps of the mean-field ODE keep `h · (largest per-cell rate)` at or below this.
const RK4_RATE_STEP: f64 = 0.05;
/// At least this many RK4 substeps per solve.
const RK4_MIN_SUBSTEPS: usize = 4;

/// The crowding of competition row `row` at real-valued counts `n` (the float twin of
/// [`CompetitionRow::crowding`]).
fn row_crowding(row: &CompetitionRow, n: &[f64], exposure: usize) -> f64 {
    let range = exposure * n.len()..(exposure + 1) * n.len();
    let c = weighted_sum(&row.alpha[range.clone()], n.iter().copied());
    let k = row.k0[exposure] + weighted_sum(&row.k_per_cell[range], n.iter().copied());
    if k > 0.0 { c / k } else { f64::INFINITY }
}

/// The model's rates at real-valued states: crowdings, effective rates and the mean-field ODE.
/// One per replicate (it holds scratch buffers).
#[derive(Clone, Debug)]
pub struct MeanField<'m> {
    model: &'m Model,
    rates: PhaseRates,
    crowding: Vec<f64>,
    stages: [Vec<f64>; 5],
}

impl<'m> MeanField<'m> {
    /// Scratch for `model` (which should be density dependent; otherwise the rates are the base
    /// rates).
    #[must_use]
    pub fn new(model: &'m Model) -> Self {
        let n = model.n_states();
        Self {
            model,
            rates: PhaseRates::new(model),
            crowding: Vec::new(),
            stages: std::array::from_fn(|_| vec![0.0; n]),
        }
    }

    /// The crowdings at `n` (one for a capacity, one per competition row).
    pub fn crowdings(&mut self, exposure: usize, n: &[f64]) -> &[f64] {
        self.crowding.clear();
        if let Some(cap) = self.model.capacity() {
            self.crowding
                .push(weighted_sum(&cap.weights, n.iter().copied()) / cap.k);
        } else if let Some(comp) = self.model.competition() {
            let rows = comp.rows.iter().map(|row| row_crowding(row, n, exposure));
            self.crowding.extend(rows);
        }
        &self.crowding
    }

    /// The effective per-channel rates at crowdings `crowding`.
    pub fn rates_at_crowding(&mut self, exposure: usize, crowding: &[f64]) -> &[f64] {
        let base = self.model.rates_of(exposure);
        self.rates.fill_crowded(self.model, base, crowding);
        &self.rates.channel
    }

    /// The effective per-channel rates at real-valued counts `n`.
    pub fn rates_at(&mut self, exposure: usize, n: &[f64]) -> &[f64] {
        self.crowdings(exposure, n);
        let crowding = std::mem::take(&mut self.crowding);
        self.rates_at_crowding(exposure, &crowding);
        self.crowding = crowding;
        &self.rates.channel
    }

    /// `dn/dt` of the mean-field ODE at `n` into `out`.
    fn drift(&mut self, exposure: usize, n: &[f64], out: &mut [f64]) {
        self.rates_at(exposure, n);
        out.fill(0.0);
        for (ch, &rate) in self.model.channels().iter().zip(&self.rates.channel) {
            let flux = rate * n[ch.source];
            if let Some(d) = ch.dec {
                out[d] -= flux;
            }
            if let Some(i) = ch.inc {
                out[i] += flux;
            }
        }
    }

    /// Move `n` (in place) along the mean-field ODE for `duration` (RK4; counts stay >= 0).
    pub fn advance(&mut self, exposure: usize, n: &mut [f64], duration: f64) {
        let fastest = self
            .rates_at(exposure, n)
            .iter()
            .fold(0.0, |m: f64, &r| m.max(r));
        let substeps = ((fastest * duration / RK4_RATE_STEP).ceil() as usize).max(RK4_MIN_SUBSTEPS);
        let h = duration / substeps as f64;
        let mut stages = std::mem::take(&mut self.stages);
        let [k1, k2, k3, k4, y] = &mut stages;
        for _ in 0..substeps {
            self.drift(exposure, n, k1);
            for i in 0..n.len() {
                y[i] = n[i] + 0.5 * h * k1[i];
            }
            self.drift(exposure, y, k2);
            for i in 0..n.len() {
                y[i] = n[i] + 0.5 * h * k2[i];
            }
            self.drift(exposure, y, k3);
            for i in 0..n.len() {
                y[i] = n[i] + h * k3[i];
            }
            self.drift(exposure, y, k4);
            for i in 0..n.len() {
                n[i] = (n[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])).max(0.0);
            }
        }
        self.stages = stages;
    }
}

/// The largest relative difference between two rate vectors, `|a − b| / max(a, b)` per channel
/// (0 where both are 0).
#[must_use]
pub fn max_relative_change(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |worst, (&x, &y)| {
        let scale = x.abs().max(y.abs());
        if scale > 0.0 {
            worst.max((x - y).abs() / scale)
        } else {
            worst
        }
    })
}

/// A crowding rounded to the quantum, as an integer level (infinite crowdings keep their own
/// level: `i64::MAX`).
fn level(crowding: f64, quantum: f64) -> i64 {
    (crowding / quantum).round() as i64
}

/// The crowding of a level.
fn crowding_of(level: i64, quantum: f64) -> f64 {
    if level == i64::MAX {
        f64::INFINITY
    } else {
        level as f64 * quantum
    }
}

/// Key of a cached law: exposure, step length (bits, as the linear plan keys them), levels.
type LawKey = (usize, u64, Vec<i64>);

/// The laws of a density-dependent run, built on first use per (exposure, step length, rounded
/// crowdings) and shared by every replicate (a law depends only on its key, so results do not
/// depend on which thread built it).
#[derive(Debug)]
pub struct DensityLaws<'m> {
    model: &'m Model,
    predictor: Predictor,
    quantum: f64,
    tolerance: f64,
    threshold: f64,
    cache: Mutex<HashMap<LawKey, Arc<StepLaw>>>,
}

/// Per-replicate buffers of a density-dependent run.
#[derive(Clone, Debug)]
pub struct DensityScratch<'m> {
    mean_field: MeanField<'m>,
    state: Vec<f64>,
    levels: Vec<i64>,
    quantised: Vec<f64>,
    exact: PhaseRates,
    bag: Vec<u64>,
}

impl<'m> DensityLaws<'m> {
    /// The laws of `model` with the predictor, the crowding quantum, the tables' tail tolerance
    /// and the event-regime threshold of the run.
    #[must_use]
    pub fn new(
        model: &'m Model,
        predictor: Predictor,
        quantum: f64,
        tolerance: f64,
        threshold: f64,
    ) -> Self {
        Self {
            model,
            predictor,
            quantum,
            tolerance,
            threshold,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Buffers for one replicate.
    #[must_use]
    pub fn scratch(&self) -> DensityScratch<'m> {
        DensityScratch {
            mean_field: MeanField::new(self.model),
            state: Vec::new(),
            levels: Vec::new(),
            quantised: Vec::new(),
            exact: PhaseRates::new(self.model),
            bag: vec![0; self.model.n_states() + 1],
        }
    }

    /// Laws built so far.
    #[must_use]
    pub fn n_laws(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.len())
    }

    /// The law of a step of length `duration` under `exposure` at crowding levels `levels`.
    fn law(
        &self,
        exposure: usize,
        duration: f64,
        levels: &[i64],
        rates: LinearRates,
    ) -> Result<Arc<StepLaw>, JumpError> {
        let key = (exposure, duration.to_bits() >> 12, levels.to_vec());
        if let Some(law) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(law);
        }
        let law = super::cache::step_law(rates, duration, self.tolerance, self.threshold)?;
        let mut cache = self.cache.lock().map_err(|_| JumpError::InvalidParameter {
            name: "law cache",
            value: f64::NAN,
            expected: "not poisoned by a panicking thread",
        })?;
        Ok(Arc::clone(cache.entry(key).or_insert(law)))
    }

    /// Advance `counts` over one step of length `duration` under `exposure` from `start`.
    #[allow(clippy::too_many_arguments)]
    pub fn advance<R: Rng + ?Sized>(
        &self,
        counts: &mut [u64],
        exposure: usize,
        start: f64,
        duration: f64,
        rng: &mut R,
        scratch: &mut DensityScratch<'m>,
        step_scratch: &mut StepScratch,
    ) -> Result<StepLog, JumpError> {
        let DensityScratch {
            mean_field,
            state,
            levels,
            quantised,
            exact,
            bag,
        } = scratch;
        state.clear();
        state.extend(counts.iter().map(|&n| n as f64));
        if self.predictor == Predictor::Midpoint {
            mean_field.advance(exposure, state, duration / 2.0);
        }
        levels.clear();
        levels.extend(
            mean_field
                .crowdings(exposure, state)
                .iter()
                .map(|&x| level(x, self.quantum)),
        );
        quantised.clear();
        quantised.extend(levels.iter().map(|&l| crowding_of(l, self.quantum)));
        let rates = LinearRates::from_channel_rates(
            self.model,
            mean_field.rates_at_crowding(exposure, quantised),
        )?;
        let any_jumped = counts
            .iter()
            .enumerate()
            .any(|(x, &n)| super::step::pool_jumps(n, rates.total(x), duration, self.threshold));
        if !any_jumped {
            step_scratch.regimes.all_event_by_event(counts);
            let mut log = StepLog::default();
            simulate_exact(
                self.model,
                exposure,
                counts,
                start,
                duration,
                rng,
                exact,
                bag,
                &mut log.lineages,
            )?;
            if counts.iter().all(|&n| n == 0) {
                log.extinct_at = Some(log.lineages.last_event);
            }
            return Ok(log);
        }
        self.law(exposure, duration, levels, rates)?
            .advance(counts, start, rng, step_scratch)
    }
}

/// Exact SSA of a density-dependent model over `[start, start + duration)` under one exposure:
/// the direct method with every rate recomputed from the counts after every event (the rates
/// exact SSA uses). `counts` is updated in place; `bag` has one slot more than the states (the
/// sink of a channel without a source or target cell).
#[allow(clippy::too_many_arguments)]
pub(crate) fn simulate_exact<R: Rng + ?Sized>(
    model: &Model,
    exposure: usize,
    counts: &mut [u64],
    start: f64,
    duration: f64,
    rng: &mut R,
    rates: &mut PhaseRates,
    bag: &mut [u64],
    log: &mut LineageLog,
) -> Result<(), JumpError> {
    let n_states = counts.len();
    let base = model.rates_of(exposure);
    bag[..n_states].copy_from_slice(counts);
    let end = start + duration;
    let mut t = start;
    loop {
        rates.fill_at(model, base, base, &bag[..n_states], exposure, false);
        let a0: f64 = (0..n_states)
            .map(|s| bag[s] as f64 * rates.state_total[s])
            .sum();
        if !a0.is_finite() {
            return Err(JumpError::InvalidParameter {
                name: "total event rate",
                value: a0,
                expected: "finite (the rates overflowed)",
            });
        }
        if a0 <= 0.0 {
            break;
        }
        let wait: f64 = Exp1.sample(rng);
        t += wait / a0;
        if t >= end {
            break;
        }
        let mut target = rng.random::<f64>() * a0;
        let mut source = n_states - 1;
        for (s, &n) in bag[..n_states].iter().enumerate() {
            let w = n as f64 * rates.state_total[s];
            if target < w {
                source = s;
                break;
            }
            target -= w;
        }
        // Rounding can leave the pick on a state with no rate; the last one with a rate takes it.
        if !(bag[source] > 0 && rates.state_total[source] > 0.0) {
            source = (0..n_states)
                .rev()
                .find(|&s| bag[s] > 0 && rates.state_total[s] > 0.0)
                .expect("a positive total rate has a populated state");
        }
        let (first, last) = rates.pick_range[source];
        let mut target =
            target.min(bag[source] as f64 * rates.state_total[source]) / bag[source] as f64;
        let mut pick = last - 1;
        for p in first..last {
            if target < rates.pick[p].rate {
                pick = p;
                break;
            }
            target -= rates.pick[p].rate;
        }
        let fired = rates.pick[pick];
        if fired.dec < n_states {
            bag[fired.dec] -= 1;
        }
        if fired.inc < n_states {
            bag[fired.inc] = bag[fired.inc].checked_add(1).ok_or(JumpError::TooLarge {
                name: "population",
                value: bag[fired.inc] as f64 + 1.0,
            })?;
        }
        log.event(t, fired.is_mutation);
    }
    counts.copy_from_slice(&bag[..n_states]);
    Ok(())
}

/// What the deterministic (mean-field) path of a density-dependent run says about its
/// approximation: `max_rate_change_per_step`, the largest relative change of any rate across one
/// step, and `quantum_rate_error`, the largest relative rate error the rounding of the crowdings
/// causes at the predicted points.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DensityReport {
    pub max_rate_change_per_step: f64,
    pub quantum_rate_error: f64,
}

impl DensityReport {
    /// Follow the mean-field path from `initial` over `steps` (exposure, length), each step as
    /// the run predicts it.
    #[must_use]
    pub fn along_path(
        model: &Model,
        predictor: Predictor,
        quantum: f64,
        initial: &[u64],
        steps: impl Iterator<Item = (usize, f64)>,
    ) -> Self {
        let mut path = MeanPath::new(model, predictor, quantum, initial);
        for (exposure, duration) in steps {
            path.step(exposure, duration);
        }
        path.report()
    }
}

/// The mean-field path of a density-dependent run, followed one step at a time so that the
/// exposure of each step may depend on the path so far (adaptive rules asked with the path's
/// counts), with the [`DensityReport`] of the steps taken.
#[derive(Clone, Debug)]
pub struct MeanPath<'m> {
    field: MeanField<'m>,
    predictor: Predictor,
    quantum: f64,
    n: Vec<f64>,
    report: DensityReport,
}

impl<'m> MeanPath<'m> {
    /// The path of `model` from `initial`, each step predicted by `predictor`, crowdings rounded
    /// to `quantum`.
    #[must_use]
    pub fn new(model: &'m Model, predictor: Predictor, quantum: f64, initial: &[u64]) -> Self {
        Self {
            field: MeanField::new(model),
            predictor,
            quantum,
            n: initial.iter().map(|&c| c as f64).collect(),
            report: DensityReport::default(),
        }
    }

    /// Move along one step of length `duration` under `exposure`, adding it to the report.
    pub fn step(&mut self, exposure: usize, duration: f64) {
        let Self {
            field,
            predictor,
            quantum,
            n,
            report,
        } = self;
        let before = field.rates_at(exposure, n).to_vec();
        let mut predicted = n.clone();
        if *predictor == Predictor::Midpoint {
            field.advance(exposure, &mut predicted, duration / 2.0);
        }
        let at_prediction = field.rates_at(exposure, &predicted).to_vec();
        let rounded: Vec<f64> = field
            .crowdings(exposure, &predicted)
            .iter()
            .map(|&x| crowding_of(level(x, *quantum), *quantum))
            .collect();
        let quantised = field.rates_at_crowding(exposure, &rounded);
        report.quantum_rate_error = report
            .quantum_rate_error
            .max(max_relative_change(&at_prediction, quantised));
        field.advance(exposure, n, duration);
        let after = field.rates_at(exposure, n);
        report.max_rate_change_per_step = report
            .max_rate_change_per_step
            .max(max_relative_change(&before, after));
    }

    /// The mean counts at the end of the steps taken.
    #[must_use]
    pub fn counts(&self) -> &[f64] {
        &self.n
    }

    /// The report of the steps taken.
    #[must_use]
    pub fn report(&self) -> DensityReport {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Capacity, CapacityTarget, Channel, ChannelKind};

    fn logistic(k: f64) -> Model {
        let channels = vec![
            Channel {
                source: 0,
                dec: None,
                inc: Some(0),
                kind: ChannelKind::Division,
                is_mutation: false,
            },
            Channel {
                source: 0,
                dec: Some(0),
                inc: None,
                kind: ChannelKind::Death,
                is_mutation: false,
            },
        ];
        let capacity = Capacity {
            k,
            target: CapacityTarget::Death,
            weights: vec![1.0],
            slope: vec![],
        };
        Model::new(1, 1, channels, vec![0.8, 0.1], Some(capacity)).unwrap()
    }

    #[test]
    fn the_mean_field_path_is_the_logistic_curve() {
        let model = logistic(1000.0);
        let mut field = MeanField::new(&model);
        let mut n = vec![20.0];
        field.advance(0, &mut n, 6.0);
        // n(t) = K / (1 + (K/n0 − 1) e^{−r t}), r = 0.7.
        let exact = 1000.0 / (1.0 + 49.0 * (-0.7f64 * 6.0).exp());
        assert!((n[0] - exact).abs() < 1e-6 * exact, "{} vs {exact}", n[0]);
    }

    #[test]
    fn rates_at_a_crowding_follow_the_model() {
        let model = logistic(1000.0);
        let mut field = MeanField::new(&model);
        let rates = field.rates_at(0, &[500.0]).to_vec();
        assert!((rates[0] - 0.8).abs() < 1e-15);
        assert!((rates[1] - (0.1 + 0.7 * 0.5)).abs() < 1e-15);
    }

    #[test]
    fn levels_round_to_the_quantum() {
        assert_eq!(level(0.12344, 1e-4), 1234);
        assert_eq!(level(0.12346, 1e-4), 1235);
        assert_eq!(level(f64::INFINITY, 1e-4), i64::MAX);
        assert!(crowding_of(i64::MAX, 1e-4).is_infinite());
    }

    #[test]
    fn relative_change_is_symmetric_and_bounded() {
        assert_eq!(max_relative_change(&[0.0, 1.0], &[0.0, 1.0]), 0.0);
        assert!((max_relative_change(&[1.0], &[0.5]) - 0.5).abs() < 1e-15);
        assert!((max_relative_change(&[0.5], &[1.0]) - 0.5).abs() < 1e-15);
        assert_eq!(max_relative_change(&[0.0], &[2.0]), 1.0);
    }
}
