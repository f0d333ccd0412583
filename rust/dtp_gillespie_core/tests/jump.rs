//! Statistical tests of the exact jump samplers (`src/jump`): binomial, multinomial, negative
//! binomial and the Kendall birth–death jump against their closed forms, at counts from 10 to 1e11.
//!
//! Every test uses fixed seeds and a two-sided z test at α = 0.001 (|z| < 3.29) with the standard
//! error estimated from the sample. Each comes with a **rejection twin**: the same statistic drawn
//! with one rate or probability off by 20% must be rejected against the true closed form, and
//! [`check`] asserts that the sample size gives that rejection at least 99.9% power (the twin's
//! departure is at least (3.29 + 3.09) of its standard error), so a test that could not fail does
//! not pass silently. The Kendall pmf is tested by Pearson's χ² at the same level, its twin's power
//! from the non-central χ².

// b, d, r, t and m are the names of Kendall's formulas and of the sample size.
#![allow(clippy::many_single_char_names)]

use dtp_gillespie_core::jump::{
    Chance, KendallStep, Multinomial, PiecewiseKendall, binomial, negative_binomial_odds,
};
use dtp_gillespie_core::rng::{ReplicateRng, replicate_rng};

/// Two-sided critical value at α = 0.001.
const Z_CRIT: f64 = 3.290_526_731_491_926;
/// One-sided quantile for 99.9% power.
const Z_POWER: f64 = 3.090_232_306_167_813;

/// A statistic and its standard error.
#[derive(Clone, Copy, Debug)]
struct Estimate {
    value: f64,
    se: f64,
}

fn mean(xs: &[f64]) -> Estimate {
    let m = xs.len() as f64;
    // Shifted by the first draw, so that counts near 1e11 lose no digits to the sum.
    let shift = xs[0];
    let centre = shift + xs.iter().map(|x| x - shift).sum::<f64>() / m;
    let var = xs.iter().map(|x| (x - centre).powi(2)).sum::<f64>() / (m - 1.0);
    Estimate {
        value: centre,
        se: (var / m).sqrt(),
    }
}

/// The sample variance, with the standard error `sqrt((m4 − s⁴)/m)` from the fourth central moment.
fn variance(xs: &[f64]) -> Estimate {
    let m = xs.len() as f64;
    let centre = mean(xs).value;
    let s2 = xs.iter().map(|x| (x - centre).powi(2)).sum::<f64>() / (m - 1.0);
    let m4 = xs.iter().map(|x| (x - centre).powi(4)).sum::<f64>() / m;
    Estimate {
        value: s2,
        se: ((m4 - s2 * s2).max(0.0) / m).sqrt(),
    }
}

/// The share of draws equal to 0 (the standard error is floored at that of one draw in `m`).
fn zero_share(xs: &[f64]) -> Estimate {
    let m = xs.len() as f64;
    let p = xs.iter().filter(|&&x| x == 0.0).count() as f64 / m;
    Estimate {
        value: p,
        se: ((p * (1.0 - p)).max(1.0 / m) / m).sqrt(),
    }
}

/// `a − b` for independent samples.
fn difference(a: Estimate, b: Estimate) -> Estimate {
    Estimate {
        value: a.value - b.value,
        se: a.se.hypot(b.se),
    }
}

/// The estimate agrees with `truth` at α = 0.001.
fn accept(label: &str, estimate: Estimate, truth: f64) {
    let z = (estimate.value - truth) / estimate.se;
    assert!(
        z.abs() < Z_CRIT,
        "{label}: {} vs closed form {truth} (z = {z:.2})",
        estimate.value
    );
}

/// The estimate agrees with `truth`; the twin's (a 20%-off parameter, whose true value is
/// `twin_truth`) is rejected, with at least 99.9% power at this sample size.
fn check(label: &str, estimate: Estimate, truth: f64, twin: Estimate, twin_truth: f64) {
    accept(label, estimate, truth);
    assert!(
        (twin_truth - truth).abs() >= (Z_CRIT + Z_POWER) * twin.se,
        "{label}: underpowered twin ({twin_truth} vs {truth}, se {})",
        twin.se
    );
    let z = (twin.value - truth) / twin.se;
    assert!(
        z.abs() >= Z_CRIT,
        "{label}: the twin was not rejected (z = {z:.2})"
    );
}

/// [`check`] of the mean and the variance, against `(mean, variance)` closed forms.
fn check_moments(
    label: &str,
    null: &[f64],
    truth: (f64, f64),
    twin: &[f64],
    twin_truth: (f64, f64),
) {
    check(
        &format!("{label} mean"),
        mean(null),
        truth.0,
        mean(twin),
        twin_truth.0,
    );
    check(
        &format!("{label} variance"),
        variance(null),
        truth.1,
        variance(twin),
        twin_truth.1,
    );
}

/// `m` draws from replicate stream `replicate` of a fixed key.
fn draws(replicate: u64, m: usize, mut draw: impl FnMut(&mut ReplicateRng) -> u64) -> Vec<f64> {
    let mut rng = replicate_rng(&[17u8; 32], replicate);
    (0..m).map(|_| draw(&mut rng) as f64).collect()
}

/// The chance with its smaller side scaled by `factor` (how a twin is 20% off near 0 and near 1).
fn scaled(chance: Chance, factor: f64) -> Chance {
    if chance.p() <= chance.q() {
        Chance::new(chance.p() * factor).unwrap()
    } else {
        Chance::from_complement(chance.q() * factor).unwrap()
    }
}

#[test]
fn binomial_mean_and_variance_from_10_to_1e11_trials() {
    let cases = [
        (10u64, Chance::new(0.3).unwrap(), 20_000),
        (10, Chance::from_complement(1e-3).unwrap(), 200_000),
        (1_000_000, Chance::new(0.5).unwrap(), 100_000),
        (1_000_000, Chance::new(1e-6).unwrap(), 20_000),
        (100_000_000_000, Chance::new(0.3).unwrap(), 20_000),
        (100_000_000_000, Chance::new(1e-12).unwrap(), 50_000),
        (
            100_000_000_000,
            Chance::from_complement(1e-9).unwrap(),
            20_000,
        ),
    ];
    for (i, &(n, chance, m)) in cases.iter().enumerate() {
        let twin_chance = scaled(chance, 1.2);
        let null = draws(i as u64, m, |rng| binomial(rng, n, chance).unwrap());
        let twin = draws(i as u64, m, |rng| binomial(rng, n, twin_chance).unwrap());
        assert!(null.iter().all(|&x| x <= n as f64));
        let moments = |c: Chance| (n as f64 * c.p(), n as f64 * c.p() * c.q());
        let label = format!("Binomial({n}, {}) with q = {}", chance.p(), chance.q());
        check_moments(&label, &null, moments(chance), &twin, moments(twin_chance));
    }
}

#[test]
fn multinomial_counts_sum_to_n_and_marginals_are_binomial() {
    let weights = [0.45, 0.3, 0.15, 0.1 - 1e-10, 1e-10];
    // The twin: category 1 weighted 20% more (the split renormalizes).
    let mut twin_weights = weights;
    twin_weights[1] *= 1.2;
    let twin_total: f64 = twin_weights.iter().sum();
    let split = Multinomial::new(&weights).unwrap();
    let twin_split = Multinomial::new(&twin_weights).unwrap();
    let m = 40_000;
    for (i, &n) in [10u64, 1_000_000, 100_000_000_000].iter().enumerate() {
        let mut rng = replicate_rng(&[23u8; 32], i as u64);
        let mut counts = [0u64; 5];
        let mut marginals: Vec<Vec<f64>> = (0..5).map(|_| Vec::with_capacity(m)).collect();
        let mut twin_marginal = Vec::with_capacity(m);
        for _ in 0..m {
            split.sample_into(&mut rng, n, &mut counts).unwrap();
            assert_eq!(counts.iter().sum::<u64>(), n);
            for (marginal, &c) in marginals.iter_mut().zip(&counts) {
                marginal.push(c as f64);
            }
            twin_split.sample_into(&mut rng, n, &mut counts).unwrap();
            assert_eq!(counts.iter().sum::<u64>(), n);
            twin_marginal.push(counts[1] as f64);
        }
        // Marginal j is Binomial(n, p_j).
        let moments = |p: f64| (n as f64 * p, n as f64 * p * (1.0 - p));
        for (j, marginal) in marginals.iter().enumerate() {
            let label = format!("n = {n}, category {j}");
            let (mu, var) = moments(weights[j]);
            if j == 1 {
                let twin_truth = moments(twin_weights[1] / twin_total);
                check_moments(&label, marginal, (mu, var), &twin_marginal, twin_truth);
            } else if mu > 1e-3 {
                accept(&format!("{label} mean"), mean(marginal), mu);
                accept(&format!("{label} variance"), variance(marginal), var);
            }
        }
    }
}

#[test]
fn negative_binomial_mean_and_variance() {
    for (i, &(k, odds)) in [(5u64, 2.0), (1_000_000, 0.5), (100_000_000_000, 1e-9)]
        .iter()
        .enumerate()
    {
        let m = 20_000;
        let twin_odds = odds * 1.2;
        let null = draws(i as u64, m, |rng| {
            negative_binomial_odds(rng, k, odds).unwrap()
        });
        let twin = draws(i as u64, m, |rng| {
            negative_binomial_odds(rng, k, twin_odds).unwrap()
        });
        // Mean k·odds and variance k·odds·(1 + odds), with odds = (1 − p)/p.
        let moments = |o: f64| (k as f64 * o, k as f64 * o * (1.0 + o));
        let label = format!("NB({k}) with odds {odds}");
        check_moments(&label, &null, moments(odds), &twin, moments(twin_odds));
    }
}

/// Kendall's closed forms for one ancestor (test oracle, written independently of the module):
/// P(N = 0) = α, the pgf f(s) = α + (1 − α)(1 − β)s/(1 − βs), mean e^{rt} and variance
/// (b + d)/r · e^{rt}(e^{rt} − 1) (2bt when r = 0).
#[derive(Clone, Copy, Debug)]
struct Oracle {
    alpha: f64,
    beta: f64,
    mean: f64,
    var: f64,
}

impl Oracle {
    fn new(b: f64, d: f64, t: f64) -> Self {
        let r = b - d;
        if r == 0.0 {
            let a = b * t / (1.0 + b * t);
            return Self {
                alpha: a,
                beta: a,
                mean: 1.0,
                var: 2.0 * b * t,
            };
        }
        let e = (r * t).exp();
        let em1 = (r * t).exp_m1();
        Self {
            alpha: d * em1 / (b * e - d),
            beta: b * em1 / (b * e - d),
            mean: e,
            var: (b + d) / r * e * em1,
        }
    }

    fn pgf(self, s: f64) -> f64 {
        self.alpha + (1.0 - self.alpha) * (1.0 - self.beta) * s / (1.0 - self.beta * s)
    }
}

/// P(N = 0), mean and variance after the pieces `(b, d, duration)`, from `n` cells: the pgfs
/// compose (first piece outermost), and Var N_i = E[N_{i−1}]·v_i + Var N_{i−1}·m_i².
fn piecewise_oracle(n: f64, pieces: &[(f64, f64, f64)]) -> (f64, f64, f64) {
    let oracles: Vec<Oracle> = pieces
        .iter()
        .map(|&(b, d, t)| Oracle::new(b, d, t))
        .collect();
    let extinct_one = oracles.iter().rev().fold(0.0, |s, o| o.pgf(s));
    let (mut mu, mut var) = (n, 0.0);
    for o in &oracles {
        var = mu * o.var + var * o.mean * o.mean;
        mu *= o.mean;
    }
    (extinct_one.powf(n), mu, var)
}

/// The duration over which `n` cells with rates (b, d), d > b, all die out with probability 1/2:
/// solves α(t)^n = 1/2 by inverting α(t) (E = e^{rt} = d(1 − α)/(d − αb)).
fn half_extinction_time(n: f64, b: f64, d: f64) -> f64 {
    let survive = -(0.5f64.ln() / n).exp_m1();
    let alpha = 1.0 - survive;
    (d * survive / (d - alpha * b)).ln() / (b - d)
}

/// `m` draws of the Kendall jump over `t` from `n` cells with rates (b, d).
fn kendall_draws(replicate: u64, m: usize, n: u64, (b, d, t): (f64, f64, f64)) -> Vec<f64> {
    let step = KendallStep::new(b, d, t).unwrap();
    assert!(step.extinction().is_finite() && step.excess_odds().is_finite());
    draws(replicate, m, |rng| step.sample(rng, n).unwrap())
}

/// The Kendall jump's mean and variance from `n` cells against the closed forms; the twin's
/// birth rate is 20% higher. Returns the draws.
fn check_kendall_moments(replicate: u64, n: u64, (b, d, t): (f64, f64, f64)) -> Vec<f64> {
    let m = 20_000;
    let null = kendall_draws(replicate, m, n, (b, d, t));
    let twin = kendall_draws(replicate, m, n, (1.2 * b, d, t));
    let moments = |o: Oracle| (n as f64 * o.mean, n as f64 * o.var);
    check_moments(
        &format!("Kendall from {n} cells, b = {b}, d = {d}, t = {t}"),
        &null,
        moments(Oracle::new(b, d, t)),
        &twin,
        moments(Oracle::new(1.2 * b, d, t)),
    );
    null
}

#[test]
fn kendall_extinction_mean_and_variance_from_10_to_1e6_cells() {
    let m = 20_000;
    for (i, &n) in [10u64, 1_000, 1_000_000].iter().enumerate() {
        check_kendall_moments(i as u64, n, (1.0, 0.5, 1.0));
        // Extinction in decline, over the time that makes it an even chance; the twin's death
        // rate is 20% lower.
        let (b, d) = (0.5, 1.0);
        let t = half_extinction_time(n as f64, b, d);
        let null = kendall_draws(10 + i as u64, m, n, (b, d, t));
        let twin = kendall_draws(10 + i as u64, m, n, (b, 0.8 * d, t));
        let extinct = |death: f64| Oracle::new(b, death, t).alpha.powf(n as f64);
        check(
            &format!("Kendall from {n} cells: P(N = 0)"),
            zero_share(&null),
            extinct(d),
            zero_share(&twin),
            extinct(0.8 * d),
        );
    }
}

/// `C(a, k)` as a float (exact for the small arguments used here).
fn choose(a: u64, k: u64) -> f64 {
    (0..k).fold(1.0, |c, i| c * (a - i) as f64 / (i + 1) as f64)
}

/// Kendall's pmf from `n` cells, P(N = j) for j ≤ `max`: k of the n lineages survive
/// (Binomial(n, 1 − α)) and together hold j ≥ k cells, NB(j − k; k, 1 − β) =
/// C(j − 1, k − 1)(1 − β)^k β^{j − k}.
fn kendall_pmf(n: u64, o: Oracle, max: u64) -> Vec<f64> {
    (0..=max)
        .map(|j| {
            let none = if j == 0 { o.alpha.powf(n as f64) } else { 0.0 };
            none + (1..=n.min(j))
                .map(|k| {
                    let survive = choose(n, k)
                        * (1.0 - o.alpha).powf(k as f64)
                        * o.alpha.powf((n - k) as f64);
                    survive
                        * choose(j - 1, k - 1)
                        * (1.0 - o.beta).powf(k as f64)
                        * o.beta.powf((j - k) as f64)
                })
                .sum::<f64>()
        })
        .collect()
}

/// Bins of consecutive values with an expected count of at least 5 each in `m` draws:
/// `bin_of[j]` for j < `pmf.len()`; larger values fall into the last bin.
fn bins_for(pmf: &[f64], m: usize) -> Vec<usize> {
    let (mut bin_of, mut bin, mut filled) = (Vec::with_capacity(pmf.len()), 0, 0.0);
    for p in pmf {
        bin_of.push(bin);
        filled += p * m as f64;
        if filled >= 5.0 {
            (bin, filled) = (bin + 1, 0.0);
        }
    }
    // The last bin (with the tail beyond `pmf`) must also expect 5: merge it into the one before.
    let last = bin_of[pmf.len() - 1];
    if filled < 5.0 && last > 0 {
        bin_of
            .iter_mut()
            .filter(|b| **b == last)
            .for_each(|b| *b = last - 1);
    }
    bin_of
}

/// The probability of each bin, the last one taking the tail beyond `pmf`.
fn binned(pmf: &[f64], bin_of: &[usize]) -> Vec<f64> {
    let mut probabilities = vec![0.0; bin_of[bin_of.len() - 1] + 1];
    for (p, &bin) in pmf.iter().zip(bin_of) {
        probabilities[bin] += p;
    }
    let last = probabilities.len() - 1;
    probabilities[last] += 1.0 - pmf.iter().sum::<f64>();
    probabilities
}

/// Pearson's χ² of `xs` against the bin probabilities `probabilities`.
fn chi_square(xs: &[f64], probabilities: &[f64], bin_of: &[usize]) -> f64 {
    let mut observed = vec![0.0; probabilities.len()];
    for &x in xs {
        let bin = bin_of
            .get(x as usize)
            .copied()
            .unwrap_or(probabilities.len() - 1);
        observed[bin] += 1.0;
    }
    let m = xs.len() as f64;
    observed
        .iter()
        .zip(probabilities)
        .map(|(o, p)| (o - m * p).powi(2) / (m * p))
        .sum()
}

/// The upper α = 0.001 point of χ² with `df` degrees of freedom (Wilson–Hilferty; within 1% for
/// df ≥ 3).
fn chi_square_critical(df: f64) -> f64 {
    let c = 2.0 / (9.0 * df);
    df * (1.0 - c + Z_POWER * c.sqrt()).powi(3)
}

#[test]
fn kendall_pmf_from_1_and_10_cells() {
    // Pearson's χ² against Kendall's pmf; the twin's birth rate is 20% higher. Its power is
    // checked with the non-central χ² (mean df + λ, variance 2(df + 2λ)).
    let m = 20_000;
    let (b, d, t) = (1.0, 0.5, 1.0);
    for (i, &n) in [1u64, 10].iter().enumerate() {
        let pmf = kendall_pmf(n, Oracle::new(b, d, t), 400);
        assert!((pmf.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let bin_of = bins_for(&pmf, m);
        let probabilities = binned(&pmf, &bin_of);
        let twin_probabilities = binned(&kendall_pmf(n, Oracle::new(1.2 * b, d, t), 400), &bin_of);
        let df = (probabilities.len() - 1) as f64;
        let critical = chi_square_critical(df);
        let xs = kendall_draws(20 + i as u64, m, n, (b, d, t));
        let statistic = chi_square(&xs, &probabilities, &bin_of);
        assert!(
            statistic < critical,
            "n0 = {n}: χ² = {statistic} ≥ {critical} (df {df})"
        );
        let lambda = m as f64
            * probabilities
                .iter()
                .zip(&twin_probabilities)
                .map(|(p, q)| (q - p).powi(2) / p)
                .sum::<f64>();
        let weakest = df + lambda - Z_POWER * (2.0 * (df + 2.0 * lambda)).sqrt();
        assert!(
            weakest >= critical,
            "n0 = {n}: underpowered twin (λ = {lambda})"
        );
        let ys = kendall_draws(20 + i as u64, m, n, (1.2 * b, d, t));
        let twin_statistic = chi_square(&ys, &probabilities, &bin_of);
        assert!(
            twin_statistic >= critical,
            "n0 = {n}: the twin was not rejected"
        );
    }
}

/// Draws from `n` cells after one step of 2Δ with rates (b, d), after two steps of Δ, and after
/// the twin's two steps `twin_pieces`; with the closed forms (P(N = 0), mean, variance) of the
/// one step and of the twin.
struct Semigroup {
    one_step: Vec<f64>,
    two_steps: Vec<f64>,
    twin: Vec<f64>,
    truth: (f64, f64, f64),
    twin_truth: (f64, f64, f64),
}

impl Semigroup {
    fn draw(
        n: u64,
        (b, d, delta): (f64, f64, f64),
        twin_pieces: &[(f64, f64, f64)],
        seed: u64,
    ) -> Self {
        let m = 20_000;
        let one = KendallStep::new(b, d, 2.0 * delta).unwrap();
        let two = PiecewiseKendall::new(&[(b, d, delta), (b, d, delta)]).unwrap();
        let twin = PiecewiseKendall::new(twin_pieces).unwrap();
        Self {
            one_step: draws(seed, m, |rng| one.sample(rng, n).unwrap()),
            two_steps: draws(seed + 1, m, |rng| two.sample(rng, n).unwrap()),
            twin: draws(seed + 2, m, |rng| twin.sample(rng, n).unwrap()),
            truth: piecewise_oracle(n as f64, &[(b, d, 2.0 * delta)]),
            twin_truth: piecewise_oracle(n as f64, twin_pieces),
        }
    }

    /// Two steps against one (their difference is 0), and the twin's two steps against one.
    fn check(
        &self,
        label: &str,
        statistic: fn(&[f64]) -> Estimate,
        truth: fn((f64, f64, f64)) -> f64,
    ) {
        check(
            label,
            difference(statistic(&self.two_steps), statistic(&self.one_step)),
            0.0,
            difference(statistic(&self.twin), statistic(&self.one_step)),
            truth(self.twin_truth) - truth(self.truth),
        );
    }
}

#[test]
fn one_step_of_two_deltas_equals_two_steps_of_one() {
    // Means and variances at n0 = 1000 in growth; the twin's second step has its birth rate 20%
    // higher.
    let (b, d, delta) = (1.0, 0.5, 0.5);
    let growth = Semigroup::draw(
        1_000,
        (b, d, delta),
        &[(b, d, delta), (1.2 * b, d, delta)],
        0,
    );
    growth.check("semigroup: mean", mean, |t| t.1);
    growth.check("semigroup: variance", variance, |t| t.2);

    // P(N = 0) at n0 = 10 in decline; the twin's second step has its death rate 20% lower.
    let (b, d) = (0.5, 1.0);
    let delta = half_extinction_time(10.0, b, d) / 2.0;
    let decline = Semigroup::draw(10, (b, d, delta), &[(b, d, delta), (b, 0.8 * d, delta)], 3);
    decline.check("semigroup: P(N = 0)", zero_share, |t| t.0);
}

#[test]
fn piecewise_rates_match_the_composed_closed_forms() {
    // An on/off/on schedule: growth, a drug-like decline, growth. The twin's decline has its
    // death rate 20% lower.
    let m = 20_000;
    let pieces = [(1.0, 0.3, 0.5), (0.2, 1.5, 0.5), (1.0, 0.3, 0.5)];
    let mut twin_pieces = pieces;
    twin_pieces[1].1 *= 0.8;
    for (i, &n) in [10u64, 1_000].iter().enumerate() {
        let null = PiecewiseKendall::new(&pieces).unwrap();
        let twin = PiecewiseKendall::new(&twin_pieces).unwrap();
        let xs = draws(i as u64, m, |rng| null.sample(rng, n).unwrap());
        let ys = draws(i as u64, m, |rng| twin.sample(rng, n).unwrap());
        let moments = |pieces: &[(f64, f64, f64)]| {
            let (_, mu, var) = piecewise_oracle(n as f64, pieces);
            (mu, var)
        };
        let label = format!("on/off/on from {n} cells");
        check_moments(&label, &xs, moments(&pieces), &ys, moments(&twin_pieces));
    }
}

#[test]
fn numerics_at_1e11_cells() {
    // Near-critical rates over a tiny step (where e^{rΔ} − 1 cancels) and plain growth over a
    // day, from 1e11 cells: finite parameters, draws in range, mean and variance within their
    // standard errors; the twin's birth rate is 20% higher.
    for (i, &rates) in [(1.0, 1.0 - 1e-9, 1e-6), (1.0, 0.5, 1.0)]
        .iter()
        .enumerate()
    {
        let xs = check_kendall_moments(i as u64, 100_000_000_000, rates);
        assert!(xs.iter().all(|&x| x > 0.0 && x < 1e12));
    }
}
