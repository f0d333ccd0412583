//! `method = "jump"` under adaptive rules checked at visits (`check_every > 0`): exact in law
//! against the engine's SSA (two-sample KS at α = 0.001 on the counts, the exposure and the
//! switches at the end, with a rejection twin of one rate 20% off), bit-identical across threads
//! and blocks, and density dependence accepted. Continuous monitoring, read at the end of
//! every step (the approximation `jump+monitor(step)`), approaches exact SSA as the step shrinks.

mod common;
#[path = "common/jump_models.rs"]
mod jump_models;
#[path = "common/stats.rs"]
mod stats;

use common::{assert_identical, ensemble_of, rule, run};
use dtp_gillespie_core::{
    AdaptiveSpec, Capacity, CapacityTarget, Dosing, DosingKind, EngineError, EnsembleOutput,
    JumpConfig, Model, Reference, RunConfig,
};
use jump_models::{forced, jump_ensemble};
use stats::{KS_CRIT, ks};

/// S (0), P (1) and a resistant R (2) reached by mutant S divisions; exposures off (0) and on
/// (1), where S dies fast and switches to P. `s_birth_off` is S's division rate off drug.
fn model(s_birth_off: f64) -> Model {
    model_with(s_birth_off, None)
}

fn model_with(s_birth_off: f64, capacity: Option<Capacity>) -> Model {
    jump_models::spr_model(s_birth_off, 0.002, 1.2, capacity)
}

/// Start on drug; stop when the burden falls to half the burden at treatment start (after at
/// least a day on), resume when it regains it or after a 3-day holiday; visits every 0.75 days
/// (record times every 2 days, so the grid mixes step lengths).
fn adaptive(check_every: f64) -> Dosing {
    let stop = dtp_gillespie_core::Rule {
        min_time: 1.0,
        ..rule(1, 0, Some(0.5), None)
    };
    let holiday = dtp_gillespie_core::Rule {
        after: Some(3.0),
        ..rule(0, 1, None, None)
    };
    let spec = AdaptiveSpec {
        initial_exposure: 1,
        monitor_weights: vec![1.0; 3],
        monitor_biomarker: false,
        reference: Reference::TreatmentStart,
        check_every,
        rules: vec![stop, rule(0, 1, None, Some(1.0)), holiday],
    };
    Dosing {
        kind: DosingKind::Adaptive(spec),
        treating: vec![false, true],
    }
}

fn run12() -> RunConfig {
    run(
        vec![200, 20, 0],
        12.0,
        (0..=6).map(|k| 2.0 * f64::from(k)).collect(),
    )
}

fn jumps(
    model: &Model,
    dosing: &Dosing,
    r: &RunConfig,
    config: JumpConfig,
    replicates: (usize, u64, usize),
) -> Result<EnsembleOutput, EngineError> {
    jump_ensemble(model, dosing, r, config, [9; 32], replicates)
}

/// Per replicate: S, P, R and the total at `t_end`, the exposure there, the switches, the time
/// on drug and the first mutation time (infinity if none).
fn sample(out: &EnsembleOutput) -> Vec<(&'static str, Vec<f64>)> {
    let n_times = out.exposure.len() / out.outcomes.len();
    let last = |s: usize| -> Vec<f64> {
        out.counts
            .chunks(n_times * 3)
            .map(|c| c[(n_times - 1) * 3 + s] as f64)
            .collect()
    };
    let total = out
        .counts
        .chunks(n_times * 3)
        .map(|c| c[(n_times - 1) * 3..].iter().sum::<i64>() as f64)
        .collect();
    let exposure = out
        .exposure
        .chunks(n_times)
        .map(|e| f64::from(e[n_times - 1]))
        .collect();
    vec![
        ("S(T)", last(0)),
        ("P(T)", last(1)),
        ("R(T)", last(2)),
        ("N(T)", total),
        ("exposure(T)", exposure),
        ("n_switches", out.per_replicate(|o| o.n_switches as f64)),
        ("time_on_drug", out.per_replicate(|o| o.time_on_drug)),
        (
            "first_mutant_time",
            out.per_replicate(|o| {
                if o.first_mutant_time.is_nan() {
                    f64::INFINITY
                } else {
                    o.first_mutant_time
                }
            }),
        ),
    ]
}

#[test]
fn visit_based_rules_under_jumps_agree_with_exact_ssa_in_law() {
    let m = 3000;
    let dosing = adaptive(0.75);
    let r = run12();
    let ssa = sample(&ensemble_of(&model(0.7), &dosing, &r, [42; 32], 0, m, 2));
    // The rules do switch: most replicates stop treatment at least once.
    let switched = ssa[5].1.iter().filter(|&&k| k > 0.0).count();
    assert!(switched > m / 2, "only {switched} replicates switched");
    let configs = [
        forced(0.5),
        JumpConfig {
            step: 1.0,
            threshold: 100.0,
            ..JumpConfig::default()
        },
    ];
    for config in configs {
        let out = jumps(&model(0.7), &dosing, &r, config, (m, 0, 2)).unwrap();
        for ((name, a), (_, b)) in sample(&out).iter().zip(&ssa) {
            let (d, critical) = ks(a, b);
            assert!(d < critical, "{config:?}, {name}: D = {d} ≥ {critical}");
        }
    }
    // The twin: S divides 20% faster off drug. Its distance from the exact law exceeds the
    // critical value by the Dvoretzky–Kiefer–Wolfowitz deviation at 0.001 of both samples, so a
    // fresh twin sample is rejected with probability ≥ 99.9%.
    let twin = jumps(&model(0.84), &dosing, &r, forced(0.5), (m, 0, 2)).unwrap();
    let (d, critical) = ks(&sample(&twin)[3].1, &ssa[3].1);
    let dkw = KS_CRIT * (2.0 / m as f64).sqrt();
    assert!(
        d >= critical + dkw,
        "the twin (S division off drug 20% faster) is not rejected with power: D = {d}, \
         critical {critical} + {dkw}"
    );
}

#[test]
fn adaptive_jump_runs_do_not_depend_on_threads_or_blocks() {
    let dosing = adaptive(0.75);
    let r = run12();
    let config = JumpConfig {
        threshold: 50.0,
        ..forced(0.5)
    };
    let whole = jumps(&model(0.7), &dosing, &r, config, (40, 0, 1)).unwrap();
    let threaded = jumps(&model(0.7), &dosing, &r, config, (40, 0, 2)).unwrap();
    assert_identical(&whole, &threaded);
    let tail = jumps(&model(0.7), &dosing, &r, config, (20, 20, 2)).unwrap();
    assert_eq!(tail.counts[..], whole.counts[whole.counts.len() / 2..]);
    assert_eq!(
        tail.exposure[..],
        whole.exposure[whole.exposure.len() / 2..]
    );
}

#[test]
fn a_visit_at_t_end_acts_before_the_last_record() {
    // Visits every 6 days up to t_end = 12: the jumps see the visit at 12 and book its switch,
    // as SSA does (equal in law: compare the share of replicates switched at the end).
    let dosing = adaptive(6.0);
    let r = run12();
    let m = 1000;
    let ssa = sample(&ensemble_of(&model(0.7), &dosing, &r, [42; 32], 0, m, 2));
    let out = jumps(&model(0.7), &dosing, &r, forced(0.5), (m, 0, 2)).unwrap();
    for ((name, a), (_, b)) in sample(&out).iter().zip(&ssa).skip(4).take(2) {
        let (d, critical) = ks(a, b);
        assert!(d < critical, "{name}: D = {d} ≥ {critical}");
    }
}

#[test]
fn density_dependent_adaptive_runs_are_accepted() {
    // They run as `jump+density(midpoint)` under each replicate's rules (the tests are in
    // `jump_density_adaptive.rs`).
    let crowded = model_with(
        0.7,
        Some(Capacity {
            k: 1e4,
            target: CapacityTarget::Death,
            weights: vec![1.0; 3],
            slope: vec![],
        }),
    );
    let out = jumps(&crowded, &adaptive(0.75), &run12(), forced(0.5), (2, 0, 1)).unwrap();
    assert_eq!(out.outcomes.len(), 2);
}

#[test]
fn continuous_monitoring_read_at_short_step_ends_is_close_to_exact_ssa() {
    // Steps of 0.02 days delay each switch by at most that: the laws of the final counts and
    // switches are then within the KS test's resolution of SSA's (not exact: an approximation).
    let dosing = adaptive(0.0);
    let r = run12();
    let m = 1000;
    let ssa = sample(&ensemble_of(&model(0.7), &dosing, &r, [42; 32], 0, m, 2));
    let config = JumpConfig {
        step: 0.02,
        ..JumpConfig::default()
    };
    let out = jumps(&model(0.7), &dosing, &r, config, (m, 0, 2)).unwrap();
    for ((name, a), (_, b)) in sample(&out).iter().zip(&ssa).take(6) {
        let (d, critical) = ks(a, b);
        assert!(d < critical, "{name}: D = {d} ≥ {critical}");
    }
}
