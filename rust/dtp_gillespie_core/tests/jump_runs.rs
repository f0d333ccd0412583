//! `method = "jump"` runs (`src/jump_run.rs`) against exact SSA and closed forms, with the jump
//! regime forced on (threshold 0) unless said otherwise. Fixed seeds, α = 0.001; every test has a
//! rejection twin (one rate 20% off) whose power is checked or shown by its rejection.

// b, d, n, t and m are the names of Kendall's formulas and of the sample size.
#![allow(clippy::many_single_char_names)]

mod common;
#[path = "common/jump_models.rs"]
mod jump_models;
#[path = "common/stats.rs"]
mod stats;

use common::{assert_identical, birth_death, death, division, ensemble, run, switch};
use dtp_gillespie_core::jump::{LinearRates, NoEmission, Predictor};
use dtp_gillespie_core::{
    Dosing, EngineError, EnsembleOutput, JumpConfig, Model, RunConfig, Schedule,
};
use jump_models::{forced, jump_ensemble, logistic, sp_model};
use stats::{KS_CRIT, Z_CRIT, Z_POWER, ks, mean_se};

fn jumps(
    model: &Model,
    run: &RunConfig,
    config: JumpConfig,
    n: usize,
    offset: u64,
    threads: usize,
) -> Result<EnsembleOutput, EngineError> {
    let dosing = Dosing::fixed(Schedule::constant(0), model.n_exposures(), None);
    jump_ensemble(model, &dosing, run, config, [7; 32], (n, offset, threads))
}

/// Counts of state `s` at the last record time.
fn final_counts(out: &EnsembleOutput, n_states: usize, s: usize) -> Vec<f64> {
    let n_times = out.exposure.len() / out.outcomes.len();
    out.counts
        .chunks(n_times * n_states)
        .map(|c| c[(n_times - 1) * n_states + s] as f64)
        .collect()
}

fn first_mutant(out: &EnsembleOutput) -> Vec<f64> {
    out.per_replicate(|o| {
        if o.first_mutant_time.is_nan() {
            f64::INFINITY
        } else {
            o.first_mutant_time
        }
    })
}

/// P(no emission by t) = Π_x φ_x(t)^{n_x}, φ from one Riccati solve over [0, t].
fn no_emission_product(model: &Model, initial: &[u64], t: f64) -> f64 {
    let solve = NoEmission::solve(&LinearRates::from_model(model, 0).unwrap(), t).unwrap();
    initial
        .iter()
        .enumerate()
        .map(|(x, &n)| solve.silence(x, t).powf(n as f64))
        .product()
}

fn share_without_emission(out: &EnsembleOutput) -> (f64, f64) {
    let m = out.outcomes.len() as f64;
    let p = out
        .outcomes
        .iter()
        .filter(|o| o.first_mutant_time.is_nan())
        .count() as f64
        / m;
    (p, (p * (1.0 - p) / m).sqrt())
}

#[test]
fn no_emission_probability_is_the_riccati_product() {
    // n0 = (40 S, 5 P), T = 2, steps of 0.5: P(no mutation event in [0, 2]) = φ_S^40 φ_P^5.
    let m = 20_000;
    let initial = vec![40, 5, 0];
    let r = run(initial.clone(), 2.0, vec![0.0, 1.0, 2.0]);
    let truth = no_emission_product(&sp_model(1.0, 0.02, 0.3), &initial, 2.0);
    let twin_truth = no_emission_product(&sp_model(1.0, 0.024, 0.3), &initial, 2.0);
    let (p, se) = share_without_emission(
        &jumps(&sp_model(1.0, 0.02, 0.3), &r, forced(0.5), m, 0, 2).unwrap(),
    );
    let z = (p - truth) / se;
    assert!(
        z.abs() < Z_CRIT,
        "P(no emission) {p} vs {truth} (z = {z:.2})"
    );
    let (q, twin_se) = share_without_emission(
        &jumps(&sp_model(1.0, 0.024, 0.3), &r, forced(0.5), m, 0, 2).unwrap(),
    );
    assert!(
        (twin_truth - truth).abs() >= (Z_CRIT + Z_POWER) * twin_se,
        "underpowered twin"
    );
    let z = (q - truth) / twin_se;
    assert!(
        z.abs() >= Z_CRIT,
        "the twin (μ 20% off) was not rejected (z = {z:.2})"
    );
}

#[test]
fn jumps_and_exact_ssa_agree_in_law_for_every_step_and_threshold() {
    // Two-sample KS at α = 0.001 on S, P, R at T and the first mutation time: all-jump with four
    // steps and with two, a mixed regime (threshold 100 expected events), against the engine's
    // SSA; the twin (S birth 20% off, all-jump) must be rejected on S(T).
    let m = 10_000;
    let model = sp_model(1.0, 0.02, 0.3);
    let r = run(vec![40, 5, 0], 2.0, vec![2.0]);
    let ssa = ensemble(&model, &Schedule::constant(0), &r, m, 0, 2);
    let sample = |out: &EnsembleOutput| {
        vec![
            final_counts(out, 3, 0),
            final_counts(out, 3, 1),
            final_counts(out, 3, 2),
            first_mutant(out),
        ]
    };
    let reference = sample(&ssa);
    let configs = [
        forced(0.5),
        forced(1.0),
        JumpConfig {
            threshold: 100.0,
            ..forced(0.25)
        },
    ];
    for (k, config) in configs.iter().enumerate() {
        let out = jumps(&model, &r, *config, m, 100 * k as u64, 2).unwrap();
        for (v, (a, b)) in sample(&out).iter().zip(&reference).enumerate() {
            let (d, critical) = ks(a, b);
            assert!(
                d < critical,
                "config {config:?}, variable {v}: D = {d} ≥ {critical}"
            );
        }
    }
    let twin = jumps(&sp_model(1.2, 0.02, 0.3), &r, forced(0.5), m, 0, 2).unwrap();
    let (d, critical) = ks(&final_counts(&twin, 3, 0), &reference[0]);
    assert!(
        d >= critical,
        "the twin (S birth 20% off) was not rejected: D = {d}"
    );
}

/// Kendall's mean and variance of N(t) from n cells, and P(N(t) = 0).
fn kendall(n: f64, b: f64, d: f64, t: f64) -> (f64, f64, f64) {
    let e = ((b - d) * t).exp();
    let alpha = d * (e - 1.0) / (b * e - d);
    (n * e, n * (b + d) / (b - d) * e * (e - 1.0), alpha.powf(n))
}

fn check_mean(label: &str, xs: &[f64], truth: f64, twin: &[f64], twin_truth: f64) {
    let (mean, se) = mean_se(xs);
    let z = (mean - truth) / se;
    assert!(
        z.abs() < Z_CRIT,
        "{label}: mean {mean} vs {truth} (z = {z:.2})"
    );
    let (twin_mean, twin_se) = mean_se(twin);
    assert!(
        (twin_truth - truth).abs() >= (Z_CRIT + Z_POWER) * twin_se,
        "{label}: underpowered twin"
    );
    let z = (twin_mean - truth) / twin_se;
    assert!(
        z.abs() >= Z_CRIT,
        "{label}: the twin was not rejected (z = {z:.2})"
    );
}

#[test]
fn kendall_moments_and_extinction_through_the_jump_regime() {
    // Oracle O1: birth 1, death 0.5, t = 1, four steps, from 1 to 1e6 cells. The mean, the
    // variance (as the mean of the squared deviation from the true mean) and, from one cell,
    // P(N = 0) = α; the twin's birth rate is 20% higher.
    let (b, d, t) = (1.0, 0.5, 1.0);
    for (k, &(n, m)) in [
        (1u64, 40_000usize),
        (10, 20_000),
        (1000, 4000),
        (1_000_000, 4000),
    ]
    .iter()
    .enumerate()
    {
        let r = run(vec![n], t, vec![t]);
        let draw = |birth: f64| {
            final_counts(
                &jumps(
                    &birth_death(&[(birth, d)]),
                    &r,
                    forced(0.25),
                    m,
                    10 * k as u64,
                    2,
                )
                .unwrap(),
                1,
                0,
            )
        };
        let (xs, ys) = (draw(b), draw(1.2 * b));
        let (mean, var, p0) = kendall(n as f64, b, d, t);
        let (twin_mean, twin_var, _) = kendall(n as f64, 1.2 * b, d, t);
        check_mean(&format!("n0 = {n}"), &xs, mean, &ys, twin_mean);
        let squares =
            |v: &[f64], centre: f64| v.iter().map(|x| (x - centre).powi(2)).collect::<Vec<_>>();
        // The twin's squared deviations about its own mean: the variance alone is 20% off.
        check_mean(
            &format!("n0 = {n} variance"),
            &squares(&xs, mean),
            var,
            &squares(&ys, twin_mean),
            twin_var,
        );
        if n == 1 {
            let zeros = |v: &[f64]| {
                v.iter()
                    .map(|&x| f64::from(u8::from(x == 0.0)))
                    .collect::<Vec<_>>()
            };
            let twin_p0 = kendall(1.0, 1.2 * b, d, t).2;
            check_mean(
                "P(N = 0) from one cell",
                &zeros(&xs),
                p0,
                &zeros(&ys),
                twin_p0,
            );
        }
    }
}

#[test]
fn numerics_at_1e11_cells() {
    // One step of 0.5 from 1e11 cells (birth 0.5, death 0.4): Kendall's mean and variance, the
    // twin's birth rate 20% higher. And an S⇄P pool of 1e11 S and 1e10 P with μ = 1e-9: the
    // means against the linear mean equations, integrated here by RK4.
    let (n, b, d, t) = (1e11, 0.5, 0.4, 0.5);
    let m = 4000;
    let r = run(vec![n as u64], t, vec![t]);
    let draw = |birth: f64, offset: u64| {
        final_counts(
            &jumps(&birth_death(&[(birth, d)]), &r, forced(t), m, offset, 2).unwrap(),
            1,
            0,
        )
    };
    let (xs, ys) = (draw(b, 0), draw(1.2 * b, 5000));
    let (mean, var, _) = kendall(n, b, d, t);
    let (twin_mean, twin_var, _) = kendall(n, 1.2 * b, d, t);
    check_mean("1e11 mean", &xs, mean, &ys, twin_mean);
    let squares =
        |v: &[f64], centre: f64| v.iter().map(|x| (x - centre).powi(2)).collect::<Vec<_>>();
    check_mean(
        "1e11 variance",
        &squares(&xs, mean),
        var,
        &squares(&ys, twin_mean),
        twin_var,
    );

    let model = sp_model(1.0, 1e-9, 0.3);
    let initial = [100_000_000_000u64, 10_000_000_000, 0];
    let r = run(initial.to_vec(), t, vec![t]);
    let out = jumps(&model, &r, forced(t), 400, 0, 2).unwrap();
    // Mean equations of S and P (R's inflow does not feed back).
    let rates = [
        1.0 * (1.0 - 1e-9) - 0.3 - 0.2 - 0.25e-9,
        0.2 * (1.0 - 1e-9) - 0.05 - 0.3,
    ];
    let mut y = [initial[0] as f64, initial[1] as f64];
    let h = t / 10_000.0;
    let f = |y: [f64; 2]| [rates[0] * y[0] + 0.3 * y[1], 0.2 * y[0] + rates[1] * y[1]];
    for _ in 0..10_000 {
        let k1 = f(y);
        let k2 = f([y[0] + h / 2.0 * k1[0], y[1] + h / 2.0 * k1[1]]);
        let k3 = f([y[0] + h / 2.0 * k2[0], y[1] + h / 2.0 * k2[1]]);
        let k4 = f([y[0] + h * k3[0], y[1] + h * k3[1]]);
        for i in 0..2 {
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }
    for (s, &expected) in y.iter().enumerate() {
        let (mean, se) = mean_se(&final_counts(&out, 3, s));
        let z = (mean - expected) / se;
        assert!(
            z.abs() < Z_CRIT,
            "state {s}: mean {mean} vs {expected} (z = {z:.2})"
        );
        // A 1e-6 relative bias would show: the standard error is far below it.
        assert!(se < 1e-6 * expected);
    }
}

#[test]
fn results_do_not_depend_on_threads_or_blocks() {
    let model = sp_model(1.0, 0.02, 0.3);
    let r = run(vec![400, 50, 0], 2.0, vec![0.0, 0.5, 1.0, 2.0]);
    let config = JumpConfig {
        threshold: 50.0,
        ..forced(0.5)
    };
    let whole = jumps(&model, &r, config, 40, 0, 1).unwrap();
    let threaded = jumps(&model, &r, config, 40, 0, 2).unwrap();
    assert_identical(&whole, &threaded);
    let tail = jumps(&model, &r, config, 20, 20, 2).unwrap();
    assert_eq!(tail.counts[..], whole.counts[whole.counts.len() / 2..]);
}

#[test]
fn bad_options_and_unsupported_models_are_refused_by_name() {
    let model = sp_model(1.0, 0.02, 0.3);
    let r = run(vec![10, 0, 0], 1.0, vec![1.0]);
    let message = |result: Result<EnsembleOutput, EngineError>| result.unwrap_err().to_string();
    for tolerance in [0.0, 2e-6, f64::NAN] {
        let config = JumpConfig {
            tolerance,
            ..forced(0.5)
        };
        assert!(message(jumps(&model, &r, config, 1, 0, 1)).contains("jump_tolerance"));
    }
    for step in [0.0, -1.0, f64::INFINITY] {
        let config = JumpConfig {
            step,
            ..forced(0.5)
        };
        assert!(message(jumps(&model, &r, config, 1, 0, 1)).contains("jump_step"));
    }
    let config = JumpConfig {
        threshold: -1.0,
        ..forced(0.5)
    };
    assert!(message(jumps(&model, &r, config, 1, 0, 1)).contains("jump_threshold"));
    let capped = RunConfig {
        max_events: 100,
        ..r.clone()
    };
    assert!(message(jumps(&model, &capped, forced(0.5), 1, 0, 1)).contains("max_events"));
    for density_quantum in [0.0, -1e-4, 0.2, f64::NAN] {
        let config = JumpConfig {
            density_quantum,
            ..forced(0.5)
        };
        let err = message(jumps(&logistic(), &r1(), config, 1, 0, 1));
        assert!(err.contains("jump_density_quantum"), "{err}");
    }
}

fn r1() -> RunConfig {
    run(vec![20], 6.0, vec![0.0, 2.0, 4.0, 6.0])
}

#[test]
fn density_runs_do_not_depend_on_threads_or_blocks() {
    // The laws are cached per rounded crowding and built by whichever thread needs one first.
    for threshold in [0.0, 300.0] {
        let config = JumpConfig {
            threshold,
            ..forced(1.0)
        };
        let whole = jumps(&logistic(), &r1(), config, 60, 0, 1).unwrap();
        let threaded = jumps(&logistic(), &r1(), config, 60, 0, 2).unwrap();
        assert_identical(&whole, &threaded);
        let tail = jumps(&logistic(), &r1(), config, 30, 30, 2).unwrap();
        assert_eq!(tail.counts[..], whole.counts[whole.counts.len() / 2..]);
    }
}

#[test]
fn the_midpoint_predictor_removes_most_of_the_frozen_bias() {
    // Δ = 1 day, every pool jumped: the design note's SSA mean at day 6 is 567.9 ± 1.2; frozen
    // rates overshoot to about 648, the midpoint stays within a few units.
    let n = 1000;
    let day6 = |predictor| {
        let config = JumpConfig {
            density_predictor: predictor,
            ..forced(1.0)
        };
        let out = jumps(&logistic(), &r1(), config, n, 0, 2).unwrap();
        let xs = final_counts(&out, 1, 0);
        mean_se(&xs)
    };
    let (mid, mid_se) = day6(Predictor::Midpoint);
    let (frozen, frozen_se) = day6(Predictor::Frozen);
    assert!(
        (mid - 567.9).abs() < Z_CRIT * mid_se.hypot(1.2),
        "midpoint {mid}"
    );
    assert!(
        (frozen - 567.9) > Z_CRIT * frozen_se.hypot(1.2),
        "frozen {frozen}"
    );
    assert!(frozen - 567.9 > 10.0 * (mid - 567.9).abs());
}

#[test]
fn extinction_in_the_event_regime_has_its_exact_time_and_records_stay_consistent() {
    // A dying population simulated event by event (threshold infinite): extinct replicates stop
    // at their last death, with the records after it at 0.
    let model = birth_death(&[(0.2, 1.0)]);
    let r = run(vec![5], 10.0, vec![0.0, 5.0, 10.0]);
    let config = JumpConfig {
        threshold: f64::INFINITY,
        ..forced(1.0)
    };
    let out = jumps(&model, &r, config, 200, 0, 1).unwrap();
    for (o, c) in out.outcomes.iter().zip(out.counts.chunks(3)) {
        assert_eq!(c[0], 5);
        if o.status as i8 == 1 {
            assert!(o.extinction_time > 0.0 && o.extinction_time <= 10.0);
            assert!(
                o.extinction_time.fract() != 0.0,
                "an event time, not a grid time"
            );
            assert_eq!(c[2], 0);
        }
    }
}

/// A dying S ⇄ P population whose S cells also divide into a mutant P (an emission): `s_death`
/// is S's death rate.
fn dying_sp(s_death: f64) -> Model {
    let channels = vec![
        division(0, 0, false),
        division(0, 1, true),
        death(0),
        switch(0, 1),
        division(1, 1, false),
        death(1),
        switch(1, 0),
    ];
    let rates = vec![0.3, 0.05, s_death, 0.2, 0.05, 0.4, 0.1];
    Model::new(2, 1, channels, rates, None).unwrap()
}

#[test]
fn extinction_inside_a_jumped_step_has_the_exact_law() {
    // Every pool jumped (threshold 0) over 2-day steps: the population dies out inside jumped
    // steps, and its extinction time must have the law exact SSA gives (KS at α = 0.001), not the
    // step's end.
    let m = 4000;
    let r = run(vec![40, 10], 80.0, vec![0.0, 80.0]);
    let times = |out: &EnsembleOutput| {
        out.per_replicate(|o| {
            if o.status as i8 == 1 {
                o.extinction_time
            } else {
                f64::INFINITY
            }
        })
    };
    let exact = times(&ensemble(
        &dying_sp(1.0),
        &Schedule::constant(0),
        &r,
        m,
        0,
        2,
    ));
    let jumped = times(&jumps(&dying_sp(1.0), &r, forced(2.0), m, 0, 2).unwrap());
    assert!(
        jumped.iter().all(|t| t.is_finite()),
        "every replicate dies out"
    );
    let on_grid = jumped.iter().filter(|&&t| (t / 2.0).fract() == 0.0).count();
    assert_eq!(on_grid, 0, "extinction times on the step grid");
    let (d, critical) = ks(&jumped, &exact);
    assert!(d < critical, "D = {d} ≥ {critical}");
    // The twin: S dies 20% faster. It is rejected by more than the Dvoretzky–Kiefer–Wolfowitz
    // deviation at 0.001 of both samples, so a fresh twin sample is rejected with probability
    // ≥ 99.9%.
    let twin = times(&jumps(&dying_sp(1.2), &r, forced(2.0), m, 0, 2).unwrap());
    let (d, critical) = ks(&twin, &exact);
    let dkw = KS_CRIT * (2.0 / m as f64).sqrt();
    assert!(
        d >= critical + dkw,
        "the twin is not rejected with power: D = {d}"
    );
}
