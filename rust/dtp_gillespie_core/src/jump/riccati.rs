//! The probability that one cell's lineage emits nothing (no mutation event) within a time `u`,
//! for every type and every `u` in `[0, Δ]`: the backward (Riccati) equations of the branching
//! process (design note scale.md §1.4, §2.2–2.3).
//!
//! With `φ_x(u)` the no-emission probability of one `x` cell and `ψ_x = 1 − φ_x` its emission
//! probability, first-step analysis gives, over the channels `c` of `x` (rate `r_c`, cells after
//! `A_c`):
//!
//! ```text
//! φ_x' = Σ_c r_c (Π_{y ∈ A_c} φ_y − φ_x)        (an emitting channel contributes 0 for Π)
//! ψ_x' = Σ_c r_c (1 − Π_{y ∈ A_c} (1 − ψ_y) − ψ_x)   (an emitting channel contributes 1)
//! ```
//!
//! from `φ(0) = 1`, `ψ(0) = 0`. Both systems are integrated, so that each side is accurate in
//! relative terms: `ψ ≈ 1e-7` (a mutation chance per step) is never formed as `1 − φ`. The
//! product `1 − (1 − ψ_y)(1 − ψ_z)` is written `ψ_y + ψ_z − ψ_y ψ_z` (no cancellation).
//!
//! A third system gives `ε_x(u)`, the chance that one `x` cell's lineage is extinct by `u`
//! without having emitted: the equation of `φ` (the event "extinct by `u`, no emission" is
//! closed under the first event in the same way) from `ε(0) = 0`. Once extinct a lineage emits no
//! more, so `ε_x(s) / ε_x(Δ)` is the law of the extinction time of a lineage that emitted nothing
//! in the step and left no cells: what places an extinction inside a jumped step exactly.
//!
//! The integrator is the classical fourth-order Runge–Kutta method on a uniform grid fine enough
//! that `a·h ≤ 2e-3` (`a` the largest per-cell event rate); the same solve on a grid twice as
//! coarse gives an error estimate ([`NoEmission::error_estimate`], ~1e-14 relative). Between
//! nodes the solution is a cubic Hermite interpolant (values and the equations' derivatives at
//! the nodes), whose error is of the same order. The solve is built once per (rates, Δ) and
//! shared by every replicate.

use super::linear::LinearRates;
use super::path::RatePath;
use super::{Chance, JumpError};

/// Largest `a·h` of the Runge–Kutta grid.
const MAX_RATE_STEP: f64 = 2e-3;
/// At least this many grid intervals, so that the interpolant is fine for slow rates too.
const MIN_INTERVALS: usize = 64;
/// The integrated systems: `ψ`, `φ`, `ε`.
const BLOCKS: usize = 3;
/// At most this many (a step that long at such rates is refused rather than solved slowly).
const MAX_INTERVALS: usize = 50_000_000;

/// `ψ`, `φ` and `ε` of every type on `[0, Δ]`.
#[derive(Clone, Debug)]
pub struct NoEmission {
    duration: f64,
    h: f64,
    n_types: usize,
    /// Node-major: `[ψ of every type, φ of every type, ε of every type]` per node.
    values: Vec<f64>,
    /// The equations' right-hand side at each node, same layout.
    slopes: Vec<f64>,
    error: f64,
}

impl NoEmission {
    /// Solve over `[0, duration]` at constant rates.
    pub fn solve(rates: &LinearRates, duration: f64) -> Result<Self, JumpError> {
        Self::solve_path(rates, duration)
    }

    /// Solve over a step `[0, duration]` whose rates follow `path` (time-dependent rates,
    /// e.g. pharmacokinetic dosing). The backward equations run in the time left to the step's
    /// end, `u`, with the rates at `s = duration − u` (at every Runge–Kutta stage): `ψ_x(u)` and
    /// `φ_x(u)` are then the chances of some / no emission in `[duration − u, duration]` of a
    /// lineage started by one `x` cell at `duration − u`, what a lineage conditioned on
    /// emitting needs at every time of the step. `ε_x(u)` is likewise the chance of dying out
    /// silently by the step's end from `duration − u`: equal to the chance of dying out
    /// silently by `u` from the step's start only at constant rates (and at `u = duration`).
    pub fn solve_path<P: RatePath + ?Sized>(path: &P, duration: f64) -> Result<Self, JumpError> {
        if !(duration.is_finite() && duration > 0.0) {
            return Err(JumpError::InvalidParameter {
                name: "duration",
                value: duration,
                expected: "finite and > 0",
            });
        }
        let a_max = path.max_total(duration);
        let wanted = (a_max * duration / MAX_RATE_STEP).ceil();
        if wanted > MAX_INTERVALS as f64 {
            return Err(JumpError::InvalidParameter {
                name: "rate × step",
                value: a_max * duration,
                expected: "at most 1e5 expected events per cell and step",
            });
        }
        let intervals = (wanted as usize).max(MIN_INTERVALS);
        let (values, slopes) = integrate(path, duration, intervals);
        let (coarse, _) = integrate(path, duration, intervals / 2);
        let width = BLOCKS * path.n_types();
        let error = (0..width)
            .map(|k| {
                let (fine, rough) = (
                    values[intervals * width + k],
                    coarse[intervals / 2 * width + k],
                );
                if fine > 0.0 {
                    (fine - rough).abs() / fine
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max);
        Ok(Self {
            duration,
            h: duration / intervals as f64,
            n_types: path.n_types(),
            values,
            slopes,
            error,
        })
    }

    /// The step `Δ` this solve covers.
    #[must_use]
    pub fn duration(&self) -> f64 {
        self.duration
    }

    /// Bytes of the interpolant's nodes (for the law cache's budget, [`super::cache`]).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        (self.values.capacity() + self.slopes.capacity()) * size_of::<f64>()
    }

    /// Largest relative difference between this solve and one on a grid twice as coarse at `Δ`
    /// (an upper estimate of the integration error).
    #[must_use]
    pub fn error_estimate(&self) -> f64 {
        self.error
    }

    /// `ψ_x(u)`: the chance that one `x` cell's lineage emits within `u ∈ [0, Δ]`.
    #[must_use]
    pub fn emission(&self, x: usize, u: f64) -> f64 {
        self.interpolate(x, u)
    }

    /// `φ_x(u)`: the chance that it emits nothing within `u ∈ [0, Δ]`.
    #[must_use]
    pub fn silence(&self, x: usize, u: f64) -> f64 {
        self.interpolate(self.n_types + x, u)
    }

    /// `ε_x(u)`: the chance that it is extinct by `u ∈ [0, Δ]` and emitted nothing.
    #[must_use]
    pub fn silent_extinction(&self, x: usize, u: f64) -> f64 {
        self.interpolate(2 * self.n_types + x, u)
    }

    /// Emission (`p = ψ_x(Δ)`) against silence (`q = φ_x(Δ)`) over the whole step.
    pub fn chance(&self, x: usize) -> Result<Chance, JumpError> {
        let (psi, phi) = (
            self.emission(x, self.duration),
            self.silence(x, self.duration),
        );
        let sum = psi + phi;
        Chance::from_parts((psi / sum).clamp(0.0, 1.0), (phi / sum).clamp(0.0, 1.0))
    }

    /// An upper bound of `ψ_x` over `[0, u]` for every `u` ([`EmissionBound`]): what the
    /// lineages conditioned on emitting propose from when the rates vary over the step, where
    /// `ψ_x(u)` need not grow with the time left `u` (a lineage started earlier may first face a
    /// high death rate).
    #[must_use]
    pub fn emission_bound(&self) -> EmissionBound {
        let n2 = BLOCKS * self.n_types;
        let segments = self.values.len() / n2 - 1;
        let mut prefix = Vec::with_capacity(segments * self.n_types);
        let mut running = vec![0.0f64; self.n_types];
        for node in 0..segments {
            for (x, top) in running.iter_mut().enumerate() {
                let (y0, y1) = (self.values[node * n2 + x], self.values[(node + 1) * n2 + x]);
                let (d0, d1) = (
                    self.slopes[node * n2 + x] * self.h,
                    self.slopes[(node + 1) * n2 + x] * self.h,
                );
                // The Hermite basis of the values is a convex pair, and each basis function of
                // the slopes is at most 4/27 in magnitude on the segment.
                let segment = y0.max(y1) + 4.0 / 27.0 * (d0.abs() + d1.abs());
                *top = top.max(segment.min(1.0));
            }
            prefix.extend_from_slice(&running);
        }
        EmissionBound {
            h: self.h,
            n_types: self.n_types,
            prefix,
        }
    }

    fn interpolate(&self, k: usize, u: f64) -> f64 {
        let n2 = BLOCKS * self.n_types;
        let last = self.values.len() / n2 - 1;
        let s = (u / self.h).clamp(0.0, last as f64);
        let node = (s.floor() as usize).min(last.saturating_sub(1));
        let f = s - node as f64;
        if last == 0 {
            return self.values[k];
        }
        let (y0, y1) = (self.values[node * n2 + k], self.values[(node + 1) * n2 + k]);
        let (d0, d1) = (
            self.slopes[node * n2 + k] * self.h,
            self.slopes[(node + 1) * n2 + k] * self.h,
        );
        hermite([y0, d0], [y1, d1], f).clamp(0.0, 1.0)
    }
}

/// The cubic Hermite interpolant at `f ∈ [0, 1]` of a segment with value and (scaled to the
/// segment) derivative `[y, d]` at each end.
pub(crate) fn hermite([y0, d0]: [f64; 2], [y1, d1]: [f64; 2], f: f64) -> f64 {
    let (f2, f3) = (f * f, f * f * f);
    (2.0 * f3 - 3.0 * f2 + 1.0) * y0
        + (f3 - 2.0 * f2 + f) * d0
        + (-2.0 * f3 + 3.0 * f2) * y1
        + (f3 - f2) * d1
}

/// `max_{v ≤ u} ψ_x(v)` bounded from above, for every type and `u ∈ [0, Δ]`: per grid segment
/// of the solve, a bound of its interpolant, carried as a running maximum from `u = 0`.
#[derive(Clone, Debug)]
pub struct EmissionBound {
    h: f64,
    n_types: usize,
    /// Segment-major: the bound over `[0, end of the segment]` of every type.
    prefix: Vec<f64>,
}

impl EmissionBound {
    /// At least `ψ_x(v)` (as [`NoEmission::emission`] gives it) for every `v ∈ [0, u]`.
    #[must_use]
    pub fn at(&self, x: usize, u: f64) -> f64 {
        let last = self.prefix.len() / self.n_types - 1;
        // The segment [`NoEmission::emission`] reads `u` from (the last one for `u = Δ`).
        let segment = ((u / self.h).clamp(0.0, (last + 1) as f64).floor() as usize).min(last);
        self.prefix[segment * self.n_types + x]
    }
}

/// The cells-after combination of one channel: `ψ` of the set `A` (1 if the channel emits).
#[inline]
fn after_emission(psi: &[f64], after: &[usize], emits: bool) -> f64 {
    if emits {
        return 1.0;
    }
    match *after {
        [] => 0.0,
        [y] => psi[y],
        [y, z] => psi[y] + psi[z] - psi[y] * psi[z],
        _ => unreachable!("at most two cells after an event"),
    }
}

/// `φ` of the set `A` (0 if the channel emits).
#[inline]
fn after_silence(phi: &[f64], after: &[usize], emits: bool) -> f64 {
    if emits {
        0.0
    } else {
        after.iter().map(|&y| phi[y]).product()
    }
}

/// Right-hand side of the three systems at `z = [ψ, φ, ε]`, for the channels of `structure`
/// at the rates `rates` (one per channel, type by type).
fn derivative(structure: &LinearRates, rates: &[f64], z: &[f64], out: &mut [f64]) {
    let n = structure.n_types();
    let (psi, rest) = z.split_at(n);
    let (phi, eps) = rest.split_at(n);
    let mut k = 0;
    for x in 0..n {
        let (mut emission, mut silence, mut extinction) = (0.0, 0.0, 0.0);
        for ch in structure.channels(x) {
            let rate = rates[k];
            k += 1;
            emission += rate * (after_emission(psi, ch.after(), ch.emits) - psi[x]);
            silence += rate * (after_silence(phi, ch.after(), ch.emits) - phi[x]);
            extinction += rate * (after_silence(eps, ch.after(), ch.emits) - eps[x]);
        }
        out[x] = emission;
        out[n + x] = silence;
        out[2 * n + x] = extinction;
    }
}

/// The rates of a path at the times the integrator asks for: read once if constant, else the
/// rates of its envelope's channels at each time (no allocation per stage).
struct StageRates<'p, P: RatePath + ?Sized> {
    path: &'p P,
    duration: f64,
    structure: std::borrow::Cow<'p, LinearRates>,
    constant: bool,
    buffer: Vec<f64>,
}

impl<'p, P: RatePath + ?Sized> StageRates<'p, P> {
    fn new(path: &'p P, duration: f64) -> Self {
        let constant = path.is_constant();
        let structure = if constant {
            path.rates_at(0.0)
        } else {
            path.envelope(duration)
        };
        let mut buffer = Vec::new();
        // Constant: the rates themselves, once.
        RatePath::envelope_rates_at(&*structure, duration, 0.0, &mut buffer);
        Self {
            path,
            duration,
            structure,
            constant,
            buffer,
        }
    }

    /// The derivative at `z` with the rates at `s`.
    fn derivative(&mut self, s: f64, z: &[f64], out: &mut [f64]) {
        if !self.constant {
            self.path
                .envelope_rates_at(self.duration, s, &mut self.buffer);
        }
        derivative(&self.structure, &self.buffer, z, out);
    }
}

/// RK4 over `intervals` equal steps of the time left `u`, the rates at `s = duration − u`: the
/// values and slopes at every node.
fn integrate<P: RatePath + ?Sized>(
    path: &P,
    duration: f64,
    intervals: usize,
) -> (Vec<f64>, Vec<f64>) {
    let n = path.n_types();
    let n2 = BLOCKS * n;
    let h = duration / intervals as f64;
    let mut values = Vec::with_capacity((intervals + 1) * n2);
    let mut slopes = Vec::with_capacity((intervals + 1) * n2);
    let mut z = vec![0.0; n2];
    z[n..2 * n].fill(1.0);
    let (mut k1, mut k2, mut k3, mut k4, mut tmp) = (
        vec![0.0; n2],
        vec![0.0; n2],
        vec![0.0; n2],
        vec![0.0; n2],
        vec![0.0; n2],
    );
    let mut rates = StageRates::new(path, duration);
    for step in 0..=intervals {
        let u = step as f64 * h;
        rates.derivative(duration - u, &z, &mut k1);
        values.extend_from_slice(&z);
        slopes.extend_from_slice(&k1);
        if step == intervals {
            break;
        }
        let stage = |from: &[f64], k: &[f64], scale: f64, tmp: &mut [f64]| {
            for ((t, &a), &b) in tmp.iter_mut().zip(from).zip(k) {
                *t = a + scale * b;
            }
        };
        let middle = duration - (u + h / 2.0);
        stage(&z, &k1, h / 2.0, &mut tmp);
        rates.derivative(middle, &tmp, &mut k2);
        stage(&z, &k2, h / 2.0, &mut tmp);
        rates.derivative(middle, &tmp, &mut k3);
        stage(&z, &k3, h, &mut tmp);
        rates.derivative(duration - (u + h), &tmp, &mut k4);
        for i in 0..n2 {
            z[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }
    (values, slopes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jump::linear::LinearChannel;

    /// One type (0): birth `b` (a fraction `mu` of divisions mutant, into type 1), death `d`.
    fn single(b: f64, mu: f64, d: f64) -> LinearRates {
        LinearRates::new(vec![
            vec![
                LinearChannel::new(b * (1.0 - mu), &[0, 0], false).unwrap(),
                LinearChannel::new(b * mu, &[0, 1], true).unwrap(),
                LinearChannel::new(d, &[], false).unwrap(),
            ],
            vec![],
        ])
        .unwrap()
    }

    #[test]
    fn single_type_matches_the_closed_form() {
        // One type with b' = b(1 − μ), killing at rate bμ + d: φ solves a scalar Riccati
        // equation, φ' = b'φ² − (b + d)φ + d, whose solution from φ(0) = 1 is the Möbius map
        // with roots q₁ < 1 < q₂ of b'x² − (b + d)x + d = 0:
        // φ(u) = (q₁(q₂ − 1) − q₂(q₁ − 1)e^{−b'(q₂−q₁)u}) / ((q₂ − 1) − (q₁ − 1)e^{−b'(q₂−q₁)u}).
        let (b, mu, d) = (1.0, 1e-3, 0.4);
        let rates = single(b, mu, d);
        let solve = NoEmission::solve(&rates, 2.0).unwrap();
        let bp = b * (1.0 - mu);
        let disc = ((b + d) * (b + d) - 4.0 * bp * d).sqrt();
        let (q1, q2) = ((b + d - disc) / (2.0 * bp), (b + d + disc) / (2.0 * bp));
        for &u in &[0.0, 0.013, 0.5, 1.37, 2.0] {
            let e = (-bp * (q2 - q1) * u).exp();
            let phi = (q1 * (q2 - 1.0) - q2 * (q1 - 1.0) * e) / ((q2 - 1.0) - (q1 - 1.0) * e);
            assert!((solve.silence(0, u) - phi).abs() < 1e-13, "u = {u}");
            assert!((solve.emission(0, u) - (1.0 - phi)).abs() < 1e-12);
        }
        assert!(solve.error_estimate() < 1e-10);
    }

    #[test]
    fn silent_extinction_without_mutation_is_kendalls_extinction_chance() {
        // μ = 0: ε is the chance of extinction by u, p₀(u) = d(e^{ru} − 1)/(b e^{ru} − d), r = b − d.
        let (b, d) = (0.7, 0.4);
        let solve = NoEmission::solve(&single(b, 0.0, d), 3.0).unwrap();
        for &u in &[0.0, 0.01, 0.4, 1.9, 3.0] {
            let e = ((b - d) * u).exp();
            let kendall = d * (e - 1.0) / (b * e - d);
            let got = solve.silent_extinction(0, u);
            assert!(
                (got - kendall).abs() <= 1e-10 * kendall,
                "u = {u}: {got} against {kendall}"
            );
        }
        // With mutation, extinction without emission is rarer than extinction, and never
        // more likely than no emission at all.
        let with = NoEmission::solve(&single(b, 0.01, d), 3.0).unwrap();
        let e = ((b - d) * 3.0f64).exp();
        assert!(with.silent_extinction(0, 3.0) < d * (e - 1.0) / (b * e - d));
        assert!(with.silent_extinction(0, 3.0) < with.silence(0, 3.0));
    }

    #[test]
    fn a_tiny_emission_chance_keeps_its_relative_precision() {
        // ψ ≈ bμu for small u: 1e-9 · 0.5, far below the resolution of 1 − φ.
        let rates = single(1.0, 1e-9, 0.0);
        let solve = NoEmission::solve(&rates, 0.5).unwrap();
        let psi = solve.emission(0, 0.5);
        // Exact: ψ = 1 − φ with φ' = −bμφ²... to first order in μ, ψ = μ(e^{bu} − 1).
        let first_order = 1e-9 * (0.5f64.exp() - 1.0);
        assert!((psi - first_order).abs() < 1e-6 * first_order, "{psi}");
        let c = solve.chance(0).unwrap();
        assert_eq!(c.p(), psi / (psi + solve.silence(0, 0.5)));
    }

    /// A path from a closure of the step time: `rates(s)`, bounded by `bound`.
    struct Varying<F: Fn(f64) -> LinearRates> {
        rates: F,
        n_types: usize,
        bound: f64,
    }

    impl<F: Fn(f64) -> LinearRates> RatePath for Varying<F> {
        fn rates_at(&self, s: f64) -> std::borrow::Cow<'_, LinearRates> {
            std::borrow::Cow::Owned((self.rates)(s))
        }
        fn n_types(&self) -> usize {
            self.n_types
        }
        fn max_total(&self, _duration: f64) -> f64 {
            self.bound
        }
        // The channels present at 0 are present throughout in these tests.
        fn envelope(&self, _duration: f64) -> std::borrow::Cow<'_, LinearRates> {
            std::borrow::Cow::Owned((self.rates)(0.0))
        }
        fn envelope_rates_at(&self, _duration: f64, s: f64, out: &mut Vec<f64>) {
            let now = (self.rates)(s);
            out.clear();
            for x in 0..self.n_types {
                out.extend(now.channels(x).iter().map(|c| c.rate));
            }
        }
    }

    /// Composite Simpson rule of `f` over `[a, b]`.
    fn simpson(integrand: impl Fn(f64) -> f64, from: f64, to: f64) -> f64 {
        let n = 2_000;
        let h = (to - from) / f64::from(n);
        let inner: f64 = (1..n)
            .map(|i| integrand(from + f64::from(i) * h) * if i % 2 == 1 { 4.0 } else { 2.0 })
            .sum();
        (integrand(from) + inner + integrand(to)) * h / 3.0
    }

    #[test]
    fn a_constant_path_is_the_constant_solve() {
        let rates = single(1.0, 1e-3, 0.4);
        let path = Varying {
            rates: |_| single(1.0, 1e-3, 0.4),
            n_types: 2,
            bound: 1.4,
        };
        let (a, b) = (
            NoEmission::solve(&rates, 1.5).unwrap(),
            NoEmission::solve_path(&path, 1.5).unwrap(),
        );
        assert_eq!(a.values, b.values);
        assert_eq!(a.slopes, b.slopes);
    }

    #[test]
    fn rates_scaled_by_one_function_of_time_follow_the_time_change() {
        // Every rate times g(s) > 0: the process is the constant one run on the clock
        // τ(s) = ∫₀ˢ g, so from `Δ − u` to `Δ` it covers ∫_{Δ−u}^{Δ} g of the constant clock.
        let (b, mu, d, duration) = (1.0, 1e-3, 0.4, 2.0);
        let g = |s: f64| 1.0 + 0.8 * (3.0 * s).sin();
        let path = Varying {
            rates: |s| single(b * g(s), mu, d * g(s)),
            n_types: 2,
            bound: 1.8 * (b + d),
        };
        let solve = NoEmission::solve_path(&path, duration).unwrap();
        assert!(solve.error_estimate() < 1e-10);
        let clock = simpson(g, 0.0, duration);
        let constant = NoEmission::solve(&single(b, mu, d), clock).unwrap();
        for &u in &[0.0, 0.017, 0.5, 1.21, 2.0] {
            let tau = simpson(g, duration - u, duration);
            {
                let x = 0;
                let (got, want) = (solve.silence(x, u), constant.silence(x, tau));
                assert!(
                    (got - want).abs() < 1e-12,
                    "φ at u = {u}: {got} against {want}"
                );
                let (got, want) = (solve.emission(x, u), constant.emission(x, tau));
                assert!(
                    (got - want).abs() <= 1e-9 * want.max(1e-300),
                    "ψ at u = {u}: {got} against {want}"
                );
                let (got, want) = (
                    solve.silent_extinction(x, u),
                    constant.silent_extinction(x, tau),
                );
                assert!(
                    (got - want).abs() < 1e-12,
                    "ε at u = {u}: {got} against {want}"
                );
            }
        }
    }

    #[test]
    fn time_dependent_birth_and_death_match_kendall_1948() {
        // Birth b(t), death d(t), no mutation: from one cell at `t₀`, the chance of extinction by
        // `T` is 1 − 1/(e^{ρ(T)} + ∫_{t₀}^{T} b(τ) e^{ρ(τ)} dτ), ρ(τ) = ∫_{t₀}^{τ} (d − b)
        // (Kendall 1948). Here b and d are not proportional, so no time change reduces it.
        let duration = 3.0;
        let birth = |s: f64| 1.0 + 0.5 * (2.0 * s).sin();
        let death = |s: f64| 0.3 + 0.2 * s;
        let path = Varying {
            rates: |s| single(birth(s), 0.0, death(s)),
            n_types: 2,
            bound: 1.5 + 0.9,
        };
        let solve = NoEmission::solve_path(&path, duration).unwrap();
        for &u in &[0.01, 0.4, 1.3, 2.2, 3.0] {
            let start = duration - u;
            let rho = |t: f64| simpson(|v| death(v) - birth(v), start, t);
            let integral = simpson(|t| birth(t) * rho(t).exp(), start, duration);
            let want = 1.0 - 1.0 / (rho(duration).exp() + integral);
            let got = solve.silent_extinction(0, u);
            assert!((got - want).abs() < 1e-7, "u = {u}: {got} against {want}");
            assert_eq!(solve.silence(0, u), 1.0);
        }
    }
}
