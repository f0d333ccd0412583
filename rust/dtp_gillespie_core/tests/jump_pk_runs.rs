//! `method = "jump"` under pharmacokinetic dosing, through runs: oracle O10 (`tests/oracles.py`)
//! with every pool jumped (one bolus: extinction from one cell, survival of many; daily
//! boluses: the mean), two-sample KS tests against the engine's exact SSA on a schedule with
//! small pools, mutation (emitting lineages) and extinction (its time inside jumped steps), each
//! with a rejection twin whose power is checked; the drug's record (exposure, concentration,
//! switches, time on drug, areas) equal to SSA's; bit-identity across threads and blocks; and
//! the refusals.

mod common;
#[path = "common/jump_models.rs"]
mod jump_models;
#[path = "common/stats.rs"]
mod stats;

use common::{assert_identical, birth_death, bolus_spec, ensemble_of, pk_dosing, run};
use dtp_gillespie_core::jump::{NoEmission, PkPath};
use dtp_gillespie_core::{
    Capacity, CapacityTarget, Dosing, DosingKind, EngineError, EnsembleOutput, JumpConfig, Model,
    PkResponse, PkSpec, RunConfig,
};
use jump_models::jump_ensemble;
use stats::{KS_CRIT, Z_CRIT, Z_POWER, ks, mean_se};

/// Whether the deep tier (`DTP_DEEP=1`) runs: twins 5% off instead of 20%.
fn deep() -> bool {
    std::env::var("DTP_DEEP").is_ok_and(|v| v == "1")
}

/// The relative change of the twins' rate: 20% in CI, 5% in the deep tier.
fn twin_factor() -> f64 {
    if deep() { 1.05 } else { 1.2 }
}

/// Replicates of the KS tests against SSA: 16 times more in the deep tier, whose twin is 4
/// times closer.
fn ks_replicates() -> usize {
    if deep() { 48_000 } else { 3_000 }
}

/// Boluses of `dose` at `dose_times`, t½ `half_life`, every channel's EC50 1 and Hill 2.
fn pk_spec(dose_times: Vec<f64>, dose: f64, half_life: f64, n_channels: usize) -> PkSpec {
    bolus_spec(dose_times, dose, half_life, 2.0, n_channels)
}

/// O10's schedule: boluses of 10 EC50, t½ = 1.5, Hill 2.
fn o10(dose_times: Vec<f64>) -> Dosing {
    pk_dosing(pk_spec(dose_times, 10.0, 1.5, 2))
}

/// O10's model: birth `b`, death 0.1 off drug and `0.1 + e_max` at full response.
fn o10_model(b: f64, e_max: f64) -> Model {
    birth_death(&[(b, 0.1), (b, 0.1 + e_max)])
}

/// Every pool jumped over steps of at most `step`, with a table tail of 1e-12 per ancestor
/// and step (smaller boxes, so cheaper time-dependent tables; a draw into the tail would fail
/// loudly, never inexactly).
fn forced(step: f64) -> JumpConfig {
    JumpConfig {
        step,
        tolerance: 1e-12,
        threshold: 0.0,
        ..JumpConfig::default()
    }
}

fn jumps(
    model: &Model,
    dosing: &Dosing,
    r: &RunConfig,
    config: JumpConfig,
    replicates: (usize, u64, usize),
) -> Result<EnsembleOutput, EngineError> {
    jump_ensemble(model, dosing, r, config, [11; 32], replicates)
}

/// The share of replicates whose only state is empty at the last record time.
fn extinct_share(out: &EnsembleOutput) -> f64 {
    let n_times = out.counts.len() / out.outcomes.len();
    let dead = out
        .counts
        .chunks(n_times)
        .filter(|c| c[n_times - 1] == 0)
        .count();
    dead as f64 / out.outcomes.len() as f64
}

/// The chance that one cell's lineage is extinct at 3 after one bolus at 0, from the
/// time-dependent Riccati solve (checked against O10 in `jump_pk.rs`): the twins' exact value.
fn p0_after_one_bolus(e_max: f64) -> f64 {
    let model = o10_model(0.5, e_max);
    let dosing = o10(vec![0.0]);
    let DosingKind::Pk(spec) = &dosing.kind else {
        unreachable!()
    };
    let path = PkPath::new(&model, spec, 10.0).unwrap();
    NoEmission::solve_path(&path, 3.0)
        .unwrap()
        .silent_extinction(0, 3.0)
}

#[test]
fn o10_extinction_from_one_cell_with_every_pool_jumped() {
    // P(N(3) = 0) from one cell after one bolus, birth 0.5: 0.890710 (O10). Records at 1 and 2
    // and steps of at most 0.4 put several time-dependent laws on the way.
    let m = if deep() { 40_000 } else { 6_000 };
    let r = run(vec![1], 3.0, vec![1.0, 2.0, 3.0]);
    let out = jumps(
        &o10_model(0.5, 1.0),
        &o10(vec![0.0]),
        &r,
        forced(0.4),
        (m, 0, 2),
    )
    .unwrap();
    let p0 = 0.890_710;
    let se = (p0 * (1.0 - p0) / m as f64).sqrt();
    let z = (extinct_share(&out) - p0) / se;
    assert!(z.abs() < Z_CRIT, "P(N(3) = 0): z = {z}");
    // The twin: E_max off by the twin factor. Its exact value is far enough for 99.9% power.
    let e_max = twin_factor();
    let twin_p0 = p0_after_one_bolus(e_max);
    let twin_se = (twin_p0 * (1.0 - twin_p0) / m as f64).sqrt();
    assert!(
        (twin_p0 - p0).abs() >= Z_CRIT * se + Z_POWER * twin_se,
        "the twin is not powered: {twin_p0} against {p0}"
    );
    let twin = jumps(
        &o10_model(0.5, e_max),
        &o10(vec![0.0]),
        &r,
        forced(0.4),
        (m, 0, 2),
    )
    .unwrap();
    let z = (extinct_share(&twin) - p0) / se;
    assert!(
        z.abs() >= Z_CRIT,
        "the twin (E_max × {e_max}) is not rejected: z = {z}"
    );
}

#[test]
fn o10_survival_of_many_cells_under_one_bolus() {
    // Pure death: each of 500 cells survives to 3 with chance 0.0428447, independently.
    let (m, n0) = (2_000, 500u64);
    let r = run(vec![n0], 3.0, vec![3.0]);
    let survivors = |e_max: f64| {
        let out = jumps(
            &o10_model(0.0, e_max),
            &o10(vec![0.0]),
            &r,
            forced(0.5),
            (m, 0, 2),
        );
        out.unwrap()
            .counts
            .iter()
            .map(|&c| c as f64)
            .collect::<Vec<f64>>()
    };
    let p = 0.042_844_7;
    let se = (n0 as f64 * p * (1.0 - p) / m as f64).sqrt();
    let (mean, _) = mean_se(&survivors(1.0));
    let z = (mean - n0 as f64 * p) / se;
    assert!(z.abs() < Z_CRIT, "mean survivors: z = {z}");
    // The twin: exp(−0.3 − E_max · 2.850173) with E_max off by the twin factor.
    let e_max = twin_factor();
    let twin_p = (-0.3 - e_max * 2.850_173f64).exp();
    let twin_se = (n0 as f64 * twin_p * (1.0 - twin_p) / m as f64).sqrt();
    assert!(n0 as f64 * (p - twin_p) >= Z_CRIT * se + Z_POWER * twin_se);
    let (mean, _) = mean_se(&survivors(e_max));
    let z = (mean - n0 as f64 * p) / se;
    assert!(z.abs() >= Z_CRIT, "the twin is not rejected: z = {z}");
}

#[test]
fn o10_daily_boluses_mean_with_every_pool_jumped() {
    // E[N(7)] / N0 = 0.0155641 with birth 0.5 under a bolus every day (0, …, 6).
    let (m, n0) = (4_000, 2_000u64);
    let r = run(vec![n0], 7.0, vec![7.0]);
    let doses = (0..7).map(f64::from).collect::<Vec<_>>();
    let finals = |e_max: f64| {
        let out = jumps(
            &o10_model(0.5, e_max),
            &o10(doses.clone()),
            &r,
            forced(0.5),
            (m, 0, 2),
        );
        out.unwrap()
            .counts
            .iter()
            .map(|&c| c as f64)
            .collect::<Vec<f64>>()
    };
    let want = 0.015_564_1 * n0 as f64;
    let (mean, se) = mean_se(&finals(1.0));
    let z = (mean - want) / se;
    assert!(
        z.abs() < Z_CRIT,
        "E[N(7)]: {mean} ± {se} against {want}: z = {z}"
    );
    let (twin, twin_se) = mean_se(&finals(twin_factor()));
    // Power from the twin's own sample: its mean lies below the critical band by more than
    // Z_POWER of its standard error.
    assert!(
        want - twin >= Z_CRIT * se + Z_POWER * twin_se,
        "the twin is not rejected with power: {twin} ± {twin_se} against {want}"
    );
}

/// The S/P/R model of `jump_models::spr_model`, linear.
fn spr_model(s_birth_off: f64, mu: f64, s_death_on: f64) -> Model {
    jump_models::spr_model(s_birth_off, mu, s_death_on, None)
}

/// Boluses of 8 EC50 every 2.5 days from 0 to 7.5, t½ 0.5: the drug counts as on while its
/// response is at least half its maximum, 1.5 days after each dose, so the on/off crossings are
/// grid points too.
fn spr_dosing() -> Dosing {
    let mut spec = pk_spec(vec![0.0, 2.5, 5.0, 7.5], 8.0, 0.5, 9);
    spec.response = PkResponse {
        ec50: 1.0,
        hill: 2.0,
        on_threshold: 0.5,
    };
    pk_dosing(spec)
}

/// Per replicate: S, P, R and the total at the last record time, and the first mutation time
/// (infinity if none).
fn sample(out: &EnsembleOutput) -> Vec<(&'static str, Vec<f64>)> {
    let n_times = out.exposure.len() / out.outcomes.len();
    let at_end = |s: Option<usize>| -> Vec<f64> {
        out.counts
            .chunks(n_times * 3)
            .map(|c| {
                let last = &c[(n_times - 1) * 3..];
                s.map_or_else(|| last.iter().sum::<i64>() as f64, |s| last[s] as f64)
            })
            .collect()
    };
    let first = |o: &dtp_gillespie_core::Outcome| {
        if o.first_mutant_time.is_nan() {
            f64::INFINITY
        } else {
            o.first_mutant_time
        }
    };
    vec![
        ("S(T)", at_end(Some(0))),
        ("P(T)", at_end(Some(1))),
        ("R(T)", at_end(Some(2))),
        ("N(T)", at_end(None)),
        ("first_mutant_time", out.per_replicate(first)),
    ]
}

fn spr_run() -> RunConfig {
    run(vec![60, 10, 0], 9.0, vec![0.0, 3.0, 6.0, 9.0])
}

#[test]
fn pk_jumps_agree_with_exact_ssa_in_law() {
    // Small pools (tens to a few hundred cells), mutation with emitting lineages, and both
    // regimes: every pool jumped over 0.5-day steps, and a threshold that mixes them over
    // 1-day steps.
    let m = ks_replicates();
    let (dosing, r) = (spr_dosing(), spr_run());
    let model = spr_model(0.7, 0.01, 1.6);
    let ssa = sample(&ensemble_of(&model, &dosing, &r, [42; 32], 0, m, 2));
    let mutated = ssa[4].1.iter().filter(|t| t.is_finite()).count();
    assert!(
        mutated > m / 4 && mutated < m * 3 / 4,
        "{mutated} replicates mutated"
    );
    let mixed = JumpConfig {
        step: 1.0,
        threshold: 30.0,
        ..forced(1.0)
    };
    for config in [forced(0.5), mixed] {
        let out = jumps(&model, &dosing, &r, config, (m, 0, 2)).unwrap();
        for ((name, a), (_, b)) in sample(&out).iter().zip(&ssa) {
            let (d, critical) = ks(a, b);
            assert!(d < critical, "{config:?}, {name}: D = {d} ≥ {critical}");
        }
    }
    // The twin: S dies faster on drug by the twin factor. Its distance from the exact law
    // exceeds the critical value by the Dvoretzky–Kiefer–Wolfowitz deviation at 0.001 of both
    // samples, so a fresh twin sample is rejected with probability ≥ 99.9%.
    let twin_model = spr_model(0.7, 0.01, 1.6 * twin_factor());
    let twin = jumps(&twin_model, &dosing, &r, forced(0.5), (m, 0, 2)).unwrap();
    let (d, critical) = ks(&sample(&twin)[3].1, &ssa[3].1);
    let dkw = KS_CRIT * (2.0 / m as f64).sqrt();
    assert!(
        d >= critical + dkw,
        "the twin is not rejected with power: D = {d}, critical {critical} + {dkw}"
    );
}

/// S alone (P and R start empty) under a strong drug, without mutation: most replicates die
/// out, many inside a jumped step.
fn dying_model(s_death_on: f64) -> Model {
    spr_model(0.3, 0.0, s_death_on)
}

/// Per replicate: the extinction time (infinity if it survived).
fn extinction_times(out: &EnsembleOutput) -> Vec<f64> {
    out.per_replicate(|o| {
        if o.extinction_time.is_nan() {
            f64::INFINITY
        } else {
            o.extinction_time
        }
    })
}

#[test]
fn the_extinction_time_inside_jumped_pk_steps_is_exact_ssas() {
    // Half-day steps (the grid is every multiple of 0.5) with every pool jumped: most
    // replicates die inside a step, whose extinction time is drawn from the time-dependent
    // law traced by the tables.
    let m = ks_replicates();
    let dosing = spr_dosing();
    let r = run(vec![12, 0, 0], 10.0, vec![10.0]);
    let ssa = ensemble_of(&dying_model(2.5), &dosing, &r, [42; 32], 0, m, 2);
    let want = extinction_times(&ssa);
    let extinct = want.iter().filter(|t| t.is_finite()).count();
    assert!(extinct > m / 2, "only {extinct} replicates died out");
    let out = jumps(&dying_model(2.5), &dosing, &r, forced(0.5), (m, 0, 2)).unwrap();
    let got = extinction_times(&out);
    // Not at grid times: inside the steps.
    let at_grid = got
        .iter()
        .filter(|t| t.is_finite() && (*t * 2.0).fract() == 0.0)
        .count();
    assert!(at_grid < m / 100, "{at_grid} extinctions at grid times");
    let (d, critical) = ks(&got, &want);
    assert!(d < critical, "extinction time: D = {d} ≥ {critical}");
    // With the step's end instead of the drawn time, the test tells the difference.
    let at_end: Vec<f64> = got
        .iter()
        .map(|&t| {
            if t.is_finite() {
                (t * 2.0).ceil() / 2.0
            } else {
                t
            }
        })
        .collect();
    assert!(ks(&at_end, &want).0 >= ks(&at_end, &want).1);
    // The twin: S dies faster under the drug by the twin factor.
    let twin = jumps(
        &dying_model(2.5 * twin_factor()),
        &dosing,
        &r,
        forced(0.5),
        (m, 0, 2),
    );
    let (d, critical) = ks(&extinction_times(&twin.unwrap()), &want);
    let dkw = KS_CRIT * (2.0 / m as f64).sqrt();
    assert!(
        d >= critical + dkw,
        "the twin is not rejected with power: D = {d}, critical {critical} + {dkw}"
    );
}

#[test]
fn the_drug_record_is_exact_ssas() {
    // The dose clock is exact SSA's: exposure and concentration at the record times, the
    // switches, the time on drug and the areas of a replicate that ran to the end are equal.
    let (dosing, r) = (
        spr_dosing(),
        run(vec![500, 50, 0], 9.0, vec![0.0, 1.0, 2.5, 6.3, 9.0]),
    );
    let model = spr_model(0.7, 0.0, 1.6);
    let ssa = ensemble_of(&model, &dosing, &r, [42; 32], 0, 4, 1);
    let out = jumps(&model, &dosing, &r, forced(0.5), (4, 0, 1)).unwrap();
    assert_eq!(out.exposure, ssa.exposure);
    assert_eq!(out.concentration, ssa.concentration);
    for (a, b) in out.outcomes.iter().zip(&ssa.outcomes) {
        assert_eq!(a.n_switches, b.n_switches);
        assert!(a.n_switches >= 6, "{}", a.n_switches);
        assert!((a.time_on_drug - b.time_on_drug).abs() < 1e-12);
        assert!((a.auc_concentration - b.auc_concentration).abs() < 1e-12);
        assert!((a.auc_response - b.auc_response).abs() < 1e-12);
        assert_eq!(a.treatment_start_time, b.treatment_start_time);
    }
}

#[test]
fn pk_jump_runs_do_not_depend_on_threads_or_blocks() {
    let (dosing, r) = (spr_dosing(), spr_run());
    let model = spr_model(0.7, 0.01, 1.6);
    let config = JumpConfig {
        threshold: 20.0,
        ..forced(0.5)
    };
    let whole = jumps(&model, &dosing, &r, config, (40, 0, 1)).unwrap();
    let threaded = jumps(&model, &dosing, &r, config, (40, 0, 2)).unwrap();
    assert_identical(&whole, &threaded);
    let tail = jumps(&model, &dosing, &r, config, (20, 20, 2)).unwrap();
    assert_eq!(tail.counts[..], whole.counts[whole.counts.len() / 2..]);
    assert_eq!(
        format!("{:?}", tail.outcomes),
        format!("{:?}", &whole.outcomes[20..])
    );
}

#[test]
fn a_zero_dose_is_the_off_exposure_under_jumps() {
    // No drug: every step has the off exposure's constant law, draw for draw.
    let model = spr_model(0.7, 0.01, 1.6);
    let mut spec = pk_spec(vec![0.0, 2.5], 0.0, 0.5, 9);
    let off = Dosing::fixed(dtp_gillespie_core::Schedule::constant(0), 2, Some(0));
    let r = spr_run();
    let a = jumps(
        &model,
        &pk_dosing(spec.clone()),
        &r,
        forced(0.5),
        (30, 0, 1),
    )
    .unwrap();
    let b = jumps(&model, &off, &r, forced(0.5), (30, 0, 1)).unwrap();
    assert_eq!(a.counts, b.counts);
    spec.dose = 8.0;
    let c = jumps(&model, &pk_dosing(spec), &r, forced(0.5), (30, 0, 1)).unwrap();
    assert_ne!(a.counts, c.counts);
}

#[test]
fn missed_doses_and_density_dependence_are_refused_by_name() {
    let model = spr_model(0.7, 0.01, 1.6);
    let mut spec = pk_spec(vec![0.0, 2.5], 8.0, 1.0, 9);
    spec.missed_dose_probability = 0.25;
    let err = jumps(&model, &pk_dosing(spec), &spr_run(), forced(0.5), (2, 0, 1)).unwrap_err();
    assert!(
        matches!(&err, EngineError::InvalidSchedule(m) if m.contains("missed_dose_probability is 0.25")),
        "{err}"
    );
    let capacity = Capacity {
        k: 1e4,
        target: CapacityTarget::Division,
        weights: vec![1.0; 3],
        slope: Vec::new(),
    };
    let crowded = Model::new(
        3,
        2,
        model.channels().to_vec(),
        [model.rates_of(0), model.rates_of(1)].concat(),
        Some(capacity),
    )
    .unwrap();
    let dosing = pk_dosing(pk_spec(vec![0.0], 8.0, 1.0, 9));
    let err = jumps(&crowded, &dosing, &spr_run(), forced(0.5), (2, 0, 1)).unwrap_err();
    assert!(
        matches!(&err, EngineError::InvalidSchedule(m) if m.contains("pk dosing on linear models only")),
        "{err}"
    );
}
