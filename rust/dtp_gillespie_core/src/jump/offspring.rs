//! One-ancestor offspring tables of a multi-type linear process (S⇄P switching and the like):
//! the joint law of the descendants of one cell after a step `Δ`, given that its lineage emitted
//! nothing, by finite-state projection (design note scale.md §1.4).
//!
//! **Building a table.** The forward (Kolmogorov) equation of one ancestor's lineage is solved on
//! the box `{y : Σ y ≤ L}` of descendant vectors over the types the ancestor reaches without an
//! emission, with emissions and exits from the box as two absorbing sinks. The solver is
//! *uniformization*: `p(Δ) = Σ_k Poisson(k; ΛΔ) p₀ Pᵏ` with `P = I + Q/Λ`, whose terms are all
//! non-negative, so small probabilities keep their relative precision (no cancellation); `ΛΔ` is
//! cut into substeps of at most 500 so that `e^{−ΛΔ}` never underflows, and each substep's
//! Poisson series is summed until its remaining weight is below 1e-40.
//!
//! **The box.** Every division adds one cell and nothing else does, so the total size of the
//! lineage is dominated by a Yule process of the largest division rate `b`, whose size after `Δ`
//! is geometric: `P(size > L) = (1 − e^{−bΔ})^L`. `L` is the smallest size with that bound below
//! the tail tolerance, so the mass that leaves the box (computed exactly by the sink, and
//! reported as [`OffspringTable::escaped`]) is below the tolerance by construction.
//!
//! **Checks.** The mass the FSP emits must agree with the Riccati emission probability
//! `ψ(Δ)` ([`super::riccati`]) to within the escaped mass and the integration error; the build
//! refuses a table whose disagreement is larger ([`OffspringTable::riccati_mismatch`]).
//!
//! **Drawing.** The cells of the table (descendant vectors with their probabilities, heaviest
//! first, and one last *tail* category holding the escaped mass) are split over the `n`
//! non-emitting ancestors by [`Multinomial`] (conditional binomials with suffix sums), which stops
//! once every ancestor is placed: a few dozen binomials at `n = 1e9`. An ancestor in the tail
//! category cannot be placed exactly; the draw is then refused with
//! [`JumpError::TailHit`] (probability at most `n·ε` per draw) rather than placed approximately.

use rand::Rng;

use super::linear::LinearRates;
use super::path::RatePath;
use super::riccati::{NoEmission, hermite};
use super::{JumpError, Multinomial};

/// The largest number of box states a table may have.
pub const MAX_TABLE_STATES: usize = 4_000_000;
/// The largest mean number of uniformized jumps per substep (`e^{−500}` is far from underflow).
const MAX_SUBSTEP_JUMPS: f64 = 500.0;
/// The Poisson series of a substep stops once the remaining weight is below this.
const SERIES_FLOOR: f64 = 1e-40;

/// The one-ancestor law of one type over one step, conditioned on no emission.
#[derive(Clone, Debug)]
pub struct OffspringTable {
    n_types: usize,
    /// Descendant vectors of every type (`n_types` per category; the tail's row is zeros).
    outcomes: Vec<u64>,
    /// Probability of each category (unconditioned: the sum is about `φ(Δ)`).
    probabilities: Vec<f64>,
    tail: usize,
    split: Multinomial,
    box_size: u64,
    escaped: f64,
    emitted: f64,
    mismatch: f64,
    /// Time-dependent tables: the mass on the empty state over the step.
    silent_extinction: Option<ExtinctionTrace>,
}

/// The chance that one ancestor's lineage has died out silently (no emission) by each time `s`
/// of a step with time-dependent rates, from the step's start: the mass on the empty state of
/// the table's forward solve, and its derivative (the flow into it), at every Runge–Kutta node,
/// with a cubic Hermite interpolant between them. (The Riccati solve gives `ε` from every start
/// time to the step's end instead; at constant rates the two agree.)
#[derive(Clone, Debug)]
pub struct ExtinctionTrace {
    h: f64,
    /// Per node: the value and the derivative.
    nodes: Vec<[f64; 2]>,
}

impl ExtinctionTrace {
    /// The chance of silent extinction by `s ∈ [0, Δ]` from the step's start.
    #[must_use]
    pub fn at(&self, s: f64) -> f64 {
        let last = self.nodes.len() - 1;
        let u = (s / self.h).clamp(0.0, last as f64);
        let node = (u.floor() as usize).min(last.saturating_sub(1));
        if last == 0 {
            return self.nodes[0][0];
        }
        let ([y0, d0], [y1, d1]) = (self.nodes[node], self.nodes[node + 1]);
        hermite([y0, d0 * self.h], [y1, d1 * self.h], u - node as f64).clamp(0.0, 1.0)
    }
}

impl OffspringTable {
    /// The table of one `ancestor` over the step that `no_emission` was solved for, with box
    /// escape mass at most `tolerance`.
    pub fn build(
        rates: &LinearRates,
        no_emission: &NoEmission,
        ancestor: usize,
        tolerance: f64,
    ) -> Result<Self, JumpError> {
        let duration = no_emission.duration();
        let space = BoxSpace::sized_for(rates, ancestor, duration, tolerance)?;
        let (p, escaped, emitted) = space.solve(rates, ancestor, duration);
        Self::from_solution(&space, no_emission, ancestor, (p, escaped, emitted))
    }

    /// The table of one `ancestor` over a step whose rates follow `path` (time-dependent rates:
    /// pharmacokinetic dosing), `no_emission` solved over the same path
    /// ([`NoEmission::solve_path`]). The forward equation on the box is integrated by RK4 with
    /// the rates at every stage time (uniformization needs a constant generator); besides the
    /// emission check of [`OffspringTable::build`], the mass on the empty state must agree
    /// with the Riccati chance of silent extinction `ε(Δ)` when the ancestor can die out.
    pub fn build_path<P: RatePath + ?Sized>(
        path: &P,
        no_emission: &NoEmission,
        ancestor: usize,
        tolerance: f64,
    ) -> Result<Self, JumpError> {
        let duration = no_emission.duration();
        let envelope = path.envelope(duration);
        let space = BoxSpace::sized_for(&envelope, ancestor, duration, tolerance)?;
        let (p, escaped, emitted, trace) = space.solve_path(path, &envelope, ancestor, duration);
        let extinct = p[space.empty()];
        let epsilon = no_emission.silent_extinction(ancestor, duration);
        let gap = (extinct - epsilon).abs();
        let allowed = escaped + 1e-9 * epsilon + 1e-13;
        if gap > allowed {
            return Err(JumpError::PathTooFast { gap, allowed });
        }
        let mut table = Self::from_solution(&space, no_emission, ancestor, (p, escaped, emitted))?;
        table.silent_extinction = Some(trace);
        Ok(table)
    }

    /// The table from the box's law at the step's end, after checking its emitted mass against
    /// the Riccati `ψ(Δ)`.
    fn from_solution(
        space: &BoxSpace,
        no_emission: &NoEmission,
        ancestor: usize,
        (p, escaped, emitted): (Vec<f64>, f64, f64),
    ) -> Result<Self, JumpError> {
        let box_size = space.size as u64;
        let psi = no_emission.emission(ancestor, no_emission.duration());
        // Escaped paths may or may not emit later: ψ lies in [emitted, emitted + escaped].
        let mismatch = (emitted - psi).abs();
        let allowed = escaped + 1e-9 * psi + 1e-13;
        if mismatch > allowed {
            return Err(JumpError::InvalidParameter {
                name: "|FSP emission mass − Riccati ψ|",
                value: mismatch,
                expected: "within the escaped mass and the integration tolerance",
            });
        }
        let mut order: Vec<usize> = (0..p.len()).filter(|&s| p[s] > 0.0).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
        let n = space.n_types;
        let mut outcomes = Vec::with_capacity((order.len() + 1) * n);
        let mut probabilities = Vec::with_capacity(order.len() + 1);
        let mut tail = order.len();
        for (rank, &s) in order.iter().enumerate() {
            if tail == order.len() && p[s] < escaped {
                tail = rank;
                probabilities.push(escaped);
                outcomes.extend(std::iter::repeat_n(0, n));
            }
            probabilities.push(p[s]);
            outcomes.extend(space.full_vector(s));
        }
        if tail == order.len() {
            probabilities.push(escaped);
            outcomes.extend(std::iter::repeat_n(0, n));
        }
        let split = Multinomial::new(&probabilities)?;
        Ok(Self {
            n_types: n,
            outcomes,
            probabilities,
            tail,
            split,
            box_size,
            escaped,
            emitted,
            mismatch,
            silent_extinction: None,
        })
    }

    /// A table over a step with time-dependent rates ([`OffspringTable::build_path`]): the
    /// chance of silent extinction by each time of the step, from its start.
    #[must_use]
    pub fn silent_extinction(&self) -> Option<&ExtinctionTrace> {
        self.silent_extinction.as_ref()
    }

    /// Add the descendants of `n` non-emitting ancestors to `counts` (one per type); `scratch`
    /// is reused between calls.
    pub fn add_draws<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        n: u64,
        counts: &mut [u64],
        scratch: &mut Vec<u64>,
    ) -> Result<(), JumpError> {
        if n == 0 {
            return Ok(());
        }
        scratch.resize(self.split.len(), 0);
        self.split.sample_into(rng, n, scratch)?;
        for (category, &c) in scratch.iter().enumerate() {
            if c == 0 {
                continue;
            }
            if category == self.tail {
                return Err(JumpError::TailHit {
                    ancestors: c,
                    mass: self.escaped,
                });
            }
            let row = &self.outcomes[category * self.n_types..(category + 1) * self.n_types];
            for (total, &y) in counts.iter_mut().zip(row) {
                *total = y
                    .checked_mul(c)
                    .and_then(|add| total.checked_add(add))
                    .ok_or(JumpError::TooLarge {
                        name: "population",
                        value: *total as f64 + y as f64 * c as f64,
                    })?;
            }
        }
        Ok(())
    }

    /// The categories: each descendant vector (all types) with its probability, heaviest first;
    /// the tail category is [`OffspringTable::tail_index`].
    pub fn categories(&self) -> impl Iterator<Item = (&[u64], f64)> {
        self.outcomes
            .chunks(self.n_types)
            .zip(self.probabilities.iter().copied())
    }

    /// Index of the tail category (the escaped mass) among [`OffspringTable::categories`].
    #[must_use]
    pub fn tail_index(&self) -> usize {
        self.tail
    }

    /// Bytes of the categories and their split (for the law cache's budget, [`super::cache`]).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.outcomes.capacity() * size_of::<u64>()
            + self.probabilities.capacity() * size_of::<f64>()
            + self.split.len() * size_of::<super::Chance>()
    }

    /// `L`: the box holds descendant vectors of total at most `L`.
    #[must_use]
    pub fn box_size(&self) -> u64 {
        self.box_size
    }

    /// Mass that left the box during the step (the tail category's weight).
    #[must_use]
    pub fn escaped(&self) -> f64 {
        self.escaped
    }

    /// Mass whose lineage emitted inside the box (compare with the Riccati `ψ(Δ)`).
    #[must_use]
    pub fn emitted(&self) -> f64 {
        self.emitted
    }

    /// `|emitted − ψ(Δ)|`.
    #[must_use]
    pub fn riccati_mismatch(&self) -> f64 {
        self.mismatch
    }

    /// Mass on the cells of the box at the end of the step (no emission, never left the box).
    #[must_use]
    pub fn retained(&self) -> f64 {
        self.probabilities
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != self.tail)
            .map(|(_, p)| p)
            .sum()
    }
}

/// `Err` unless `tolerance` lies in `(0, 1e-6]`.
fn check_tolerance(tolerance: f64) -> Result<(), JumpError> {
    if tolerance > 0.0 && tolerance <= 1e-6 {
        Ok(())
    } else {
        Err(JumpError::InvalidParameter {
            name: "tolerance",
            value: tolerance,
            expected: "in (0, 1e-6]",
        })
    }
}

/// The smallest `L` with `(1 − e^{−bΔ})^L ≤ tolerance` (at least 1).
fn box_size(growth: f64, duration: f64, tolerance: f64) -> Result<u64, JumpError> {
    let ln_beta = (-(-growth * duration).exp()).ln_1p();
    if ln_beta == 0.0 || growth == 0.0 {
        return Ok(1);
    }
    let size = (tolerance.ln() / ln_beta).ceil().max(1.0);
    if size > 1e6 {
        return Err(JumpError::InvalidParameter {
            name: "division rate × step",
            value: growth * duration,
            expected: "small enough for a table of at most 1e6 cells per type (a shorter step)",
        });
    }
    Ok(size as u64)
}

/// Where a flow of the time-dependent forward equation goes.
#[derive(Clone, Copy, Debug)]
enum Sink {
    State(usize),
    Escaped,
    Emitted,
}

/// The box `{y : Σ y ≤ L}` over the reachable types, with a dense index.
struct BoxSpace {
    n_types: usize,
    /// The reachable types (dimensions of the box).
    types: Vec<usize>,
    size: usize,
    /// States, `types.len()` coordinates each.
    states: Vec<u32>,
    /// Index of each point of the cube `[0, L]^m` in `states` (`u32::MAX` outside the simplex).
    index: Vec<u32>,
}

impl BoxSpace {
    /// The box of one `ancestor`'s lineage over `duration` at `rates` (for time-dependent
    /// rates, their envelope): its types, and its size from the Yule bound at `tolerance`.
    fn sized_for(
        rates: &LinearRates,
        ancestor: usize,
        duration: f64,
        tolerance: f64,
    ) -> Result<Self, JumpError> {
        check_tolerance(tolerance)?;
        let types = rates.reachable_without_emission(ancestor);
        let size = box_size(rates.max_growth_rate(), duration, tolerance)?;
        Self::new(rates.n_types(), &types, size)
    }

    fn new(n_types: usize, types: &[usize], size: u64) -> Result<Self, JumpError> {
        let m = types.len() as i32;
        let cube = (size as f64 + 1.0).powi(m);
        // Simplex points: C(L + m, m) ≤ cube.
        let simplex: f64 = (1..=m)
            .map(|k| (size as f64 + f64::from(k)) / f64::from(k))
            .product();
        if simplex > MAX_TABLE_STATES as f64 || cube > 8.0 * MAX_TABLE_STATES as f64 {
            return Err(JumpError::InvalidParameter {
                name: "table states",
                value: simplex,
                expected: "at most 4e6 (fewer types joined without emission, or a shorter step)",
            });
        }
        let size = size as usize;
        let edge = size + 1;
        let mut index = vec![u32::MAX; cube as usize];
        let mut states = Vec::new();
        let mut point = vec![0usize; types.len()];
        for (flat, slot) in index.iter_mut().enumerate() {
            let mut rest = flat;
            for coordinate in &mut point {
                *coordinate = rest % edge;
                rest /= edge;
            }
            if point.iter().sum::<usize>() <= size {
                *slot = (states.len() / types.len()) as u32;
                states.extend(point.iter().map(|&c| c as u32));
            }
        }
        Ok(Self {
            n_types,
            types: types.to_vec(),
            size,
            states,
            index,
        })
    }

    fn len(&self) -> usize {
        self.states.len() / self.types.len()
    }

    fn state(&self, s: usize) -> &[u32] {
        let m = self.types.len();
        &self.states[s * m..(s + 1) * m]
    }

    fn flat(&self, point: &[usize]) -> usize {
        let side = self.size + 1;
        point.iter().rev().fold(0, |acc, &c| acc * side + c)
    }

    /// The descendant vector of state `s` over every type of the model.
    fn full_vector(&self, s: usize) -> Vec<u64> {
        let mut full = vec![0u64; self.n_types];
        for (&t, &c) in self.types.iter().zip(self.state(s)) {
            full[t] = u64::from(c);
        }
        full
    }

    /// Index of the empty state (the lineage died out).
    fn empty(&self) -> usize {
        self.index[0] as usize
    }

    /// The index of the one-cell state of `ancestor`.
    fn start(&self, ancestor: usize) -> usize {
        let mut point = vec![0usize; self.types.len()];
        let dim = self.types.iter().position(|&u| u == ancestor);
        point[dim.expect("the ancestor is its own first type")] = 1;
        self.index[self.flat(&point)] as usize
    }

    /// As [`BoxSpace::solve`] with time-dependent rates: RK4 on the forward equation, the
    /// channels' rates at every stage time. `Λ·h ≤ 0.02` (`Λ` the largest exit rate of a box
    /// state at the envelope's rates), so the fastest mode's local error is about
    /// `(Λh)⁵/120 ≈ 3e-11` of its mass; negative round-off in the far tail is set to 0.
    fn solve_path<P: RatePath + ?Sized>(
        &self,
        path: &P,
        envelope: &LinearRates,
        ancestor: usize,
        duration: f64,
    ) -> (Vec<f64>, f64, f64, ExtinctionTrace) {
        let dim_of = |t: usize| self.types.iter().position(|&u| u == t);
        let mut first = vec![0usize; envelope.n_types() + 1];
        for x in 0..envelope.n_types() {
            first[x + 1] = first[x] + envelope.channels(x).len();
        }
        // Per state, its flows: (destination, channel in the envelope, cells of the type).
        let mut offsets = vec![0usize];
        let mut flows: Vec<(Sink, usize, f64)> = Vec::new();
        let mut point = vec![0usize; self.types.len()];
        let mut lambda: f64 = 0.0;
        for s in 0..self.len() {
            let mut exit = 0.0;
            for (d, &t) in self.types.iter().enumerate() {
                let y = f64::from(self.state(s)[d]);
                if y == 0.0 {
                    continue;
                }
                for (j, ch) in envelope.channels(t).iter().enumerate() {
                    exit += y * ch.rate;
                    let sink = if ch.emits {
                        Sink::Emitted
                    } else {
                        for (p, &c) in point.iter_mut().zip(self.state(s)) {
                            *p = c as usize;
                        }
                        point[d] -= 1;
                        for &a in ch.after() {
                            point[dim_of(a).expect("reachable types are closed")] += 1;
                        }
                        if point.iter().sum::<usize>() > self.size {
                            Sink::Escaped
                        } else {
                            Sink::State(self.index[self.flat(&point)] as usize)
                        }
                    };
                    flows.push((sink, first[t] + j, y));
                }
            }
            lambda = lambda.max(exit);
            offsets.push(flows.len());
        }
        let n = self.len();
        // The state vector: the box's probabilities, then the escaped and the emitted mass.
        let derivative = |rates: &[f64], z: &[f64], out: &mut [f64]| {
            out.fill(0.0);
            for s in 0..n {
                let x = z[s];
                if x == 0.0 {
                    continue;
                }
                for &(sink, k, y) in &flows[offsets[s]..offsets[s + 1]] {
                    let flow = x * y * rates[k];
                    out[s] -= flow;
                    out[match sink {
                        Sink::State(t) => t,
                        Sink::Escaped => n,
                        Sink::Emitted => n + 1,
                    }] += flow;
                }
            }
        };
        let mut z = vec![0.0; n + 2];
        z[self.start(ancestor)] = 1.0;
        let intervals = (lambda * duration / 0.02).ceil().max(16.0) as usize;
        let h = duration / intervals as f64;
        let (mut k1, mut k2, mut k3, mut k4, mut tmp) = (
            vec![0.0; n + 2],
            vec![0.0; n + 2],
            vec![0.0; n + 2],
            vec![0.0; n + 2],
            vec![0.0; n + 2],
        );
        let (mut start, mut middle, mut end) = (Vec::new(), Vec::new(), Vec::new());
        let empty = self.empty();
        let mut nodes = Vec::with_capacity(intervals + 1);
        for step in 0..intervals {
            let s = step as f64 * h;
            path.envelope_rates_at(duration, s, &mut start);
            path.envelope_rates_at(duration, s + h / 2.0, &mut middle);
            path.envelope_rates_at(duration, s + h, &mut end);
            derivative(&start, &z, &mut k1);
            nodes.push([z[empty], k1[empty]]);
            for i in 0..n + 2 {
                tmp[i] = z[i] + h / 2.0 * k1[i];
            }
            derivative(&middle, &tmp, &mut k2);
            for i in 0..n + 2 {
                tmp[i] = z[i] + h / 2.0 * k2[i];
            }
            derivative(&middle, &tmp, &mut k3);
            for i in 0..n + 2 {
                tmp[i] = z[i] + h * k3[i];
            }
            derivative(&end, &tmp, &mut k4);
            for i in 0..n + 2 {
                z[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
        }
        path.envelope_rates_at(duration, duration, &mut end);
        derivative(&end, &z, &mut k1);
        nodes.push([z[empty], k1[empty]]);
        let emitted = z.pop().unwrap_or(0.0).max(0.0);
        let escaped = z.pop().unwrap_or(0.0).max(0.0);
        for x in &mut z {
            *x = x.max(0.0);
        }
        (z, escaped, emitted, ExtinctionTrace { h, nodes })
    }

    /// The probabilities of the box states at `Δ`, the escaped and the emitted mass.
    fn solve(&self, rates: &LinearRates, ancestor: usize, duration: f64) -> (Vec<f64>, f64, f64) {
        let dim_of = |t: usize| self.types.iter().position(|&u| u == t);
        // Transitions: per state, (target, rate) and the rates into the two sinks.
        let mut offsets = vec![0usize];
        let mut targets: Vec<(u32, f64)> = Vec::new();
        let mut to_escape = vec![0.0; self.len()];
        let mut to_emit = vec![0.0; self.len()];
        let mut out_rate = vec![0.0; self.len()];
        let mut point = vec![0usize; self.types.len()];
        for s in 0..self.len() {
            for (d, &t) in self.types.iter().enumerate() {
                let y = f64::from(self.state(s)[d]);
                if y == 0.0 {
                    continue;
                }
                for ch in rates.channels(t) {
                    let rate = y * ch.rate;
                    out_rate[s] += rate;
                    if ch.emits {
                        to_emit[s] += rate;
                        continue;
                    }
                    for (p, &c) in point.iter_mut().zip(self.state(s)) {
                        *p = c as usize;
                    }
                    point[d] -= 1;
                    for &a in ch.after() {
                        let dim = dim_of(a).expect("reachable types are closed under channels");
                        point[dim] += 1;
                    }
                    if point.iter().sum::<usize>() > self.size {
                        to_escape[s] += rate;
                    } else {
                        targets.push((self.index[self.flat(&point)], rate));
                    }
                }
            }
            offsets.push(targets.len());
        }
        let lambda = out_rate.iter().copied().fold(0.0, f64::max);
        let mut p = vec![0.0; self.len()];
        let start = {
            let mut point = vec![0usize; self.types.len()];
            point[dim_of(ancestor).expect("the ancestor is its own first type")] = 1;
            self.index[self.flat(&point)] as usize
        };
        p[start] = 1.0;
        let (mut escaped, mut emitted) = (0.0, 0.0);
        if lambda == 0.0 {
            return (p, escaped, emitted);
        }
        let substeps = (lambda * duration / MAX_SUBSTEP_JUMPS).ceil().max(1.0);
        let mean = lambda * duration / substeps;
        // Rates scaled by 1/Λ: the uniformized chain's jump probabilities.
        let stay: Vec<f64> = out_rate.iter().map(|r| 1.0 - r / lambda).collect();
        let scaled: Vec<(u32, f64)> = targets.iter().map(|&(t, r)| (t, r / lambda)).collect();
        let escape: Vec<f64> = to_escape.iter().map(|r| r / lambda).collect();
        let emit: Vec<f64> = to_emit.iter().map(|r| r / lambda).collect();
        let mut v = vec![0.0; self.len()];
        let mut next = vec![0.0; self.len()];
        for _ in 0..substeps as u64 {
            // v = the chain after k jumps, started from p; (esc, emi) its sinks' extra mass.
            v.copy_from_slice(&p);
            let (mut v_esc, mut v_emi) = (0.0, 0.0);
            let mut weight = (-mean).exp();
            let mut result: Vec<f64> = v.iter().map(|x| x * weight).collect();
            let (mut r_esc, mut r_emi) = (0.0, 0.0);
            let mut k = 0.0;
            // Past the mode the Poisson tail after term k is at most w_k·ρ/(1 − ρ), ρ = mean/(k+1).
            let tail_bound = |k: f64, weight: f64| {
                let ratio = mean / (k + 1.0);
                if ratio < 1.0 {
                    weight * ratio / (1.0 - ratio)
                } else {
                    f64::INFINITY
                }
            };
            while tail_bound(k, weight) > SERIES_FLOOR {
                k += 1.0;
                next.fill(0.0);
                for s in 0..self.len() {
                    let x = v[s];
                    if x == 0.0 {
                        continue;
                    }
                    next[s] += x * stay[s];
                    for &(t, r) in &scaled[offsets[s]..offsets[s + 1]] {
                        next[t as usize] += x * r;
                    }
                    v_esc += x * escape[s];
                    v_emi += x * emit[s];
                }
                std::mem::swap(&mut v, &mut next);
                weight *= mean / k;
                for (r, &x) in result.iter_mut().zip(&v) {
                    *r += weight * x;
                }
                r_esc += weight * v_esc;
                r_emi += weight * v_emi;
            }
            p = result;
            escaped += r_esc;
            emitted += r_emi;
        }
        (p, escaped, emitted)
    }
}
