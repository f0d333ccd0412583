//! Pharmacokinetic dosing through the time-dependent step laws of the jumps: the Riccati
//! systems integrated with the rates at the concentration of each Runge–Kutta stage
//! ([`NoEmission::solve_path`] over a [`PkPath`]), against the project's oracle O10 (a decaying
//! drug with a Hill response; `tests/oracles.py`). `method = "jump"` still refuses PK dosing:
//! the time-dependent offspring tables and the driver are not built yet.

mod common;

use common::birth_death;
use dtp_gillespie_core::jump::{LinearRates, NoEmission, PkPath, RatePath};
use dtp_gillespie_core::{PkResponse, PkSpec};

/// O10's schedule: boluses of 10 EC50 at `dose_times`, t½ = 1.5, Hill coefficient 2.
fn o10_spec(dose_times: Vec<f64>) -> PkSpec {
    PkSpec {
        off_exposure: 0,
        on_exposure: 1,
        dose_times,
        dose: 10.0,
        half_life: 1.5,
        ec50: vec![1.0; 2],
        hill: vec![2.0; 2],
        missed_dose_probability: 0.0,
        response: PkResponse::default(),
    }
}

/// One type with birth `b`, death `0.1` off drug and `0.1 + e_max` at full response.
fn o10_model(b: f64, e_max: f64) -> dtp_gillespie_core::Model {
    birth_death(&[(b, 0.1), (b, 0.1 + e_max)])
}

/// The chance that one cell's lineage is extinct at `t_end` after one bolus at 0, by one solve
/// of the time-dependent Riccati systems over `[0, t_end]`.
fn extinction_after_one_bolus(b: f64, e_max: f64, t_end: f64) -> f64 {
    let (model, spec) = (o10_model(b, e_max), o10_spec(vec![0.0]));
    let path = PkPath::new(&model, &spec, spec.dose).unwrap();
    let solve = NoEmission::solve_path(&path, t_end).unwrap();
    assert!(solve.error_estimate() < 1e-10, "{}", solve.error_estimate());
    // No mutation: the lineage never emits.
    assert_eq!(solve.silence(0, t_end), 1.0);
    solve.silent_extinction(0, t_end)
}

#[test]
fn o10_one_bolus_survival_and_extinction() {
    // Pure death: P(one cell survives to 3) = exp(−0.3 − ∫₀³ H) = 0.0428447.
    let survival = 1.0 - extinction_after_one_bolus(0.0, 1.0, 3.0);
    assert!((survival - 0.042_844_7).abs() < 1e-7, "{survival}");
    // With birth 0.5: P(N(3) = 0) from one cell = 0.890710 (Kendall 1948 on O10's hazard).
    let p0 = extinction_after_one_bolus(0.5, 1.0, 3.0);
    assert!((p0 - 0.890_710).abs() < 1e-6, "{p0}");
    // The twin, E_max 5% higher, is told apart far beyond the oracle's precision.
    let twin = extinction_after_one_bolus(0.5, 1.05, 3.0);
    assert!((twin - 0.903_179).abs() < 1e-6, "{twin}");
    assert!((twin - p0).abs() > 1e4 * 1e-6);
}

#[test]
fn o10_daily_boluses_compose_over_the_steps_between_doses() {
    // Pure death under a bolus every day (0, 1, …, 6): one cell stays one cell until it dies,
    // so its survival to 7 is the product over the days of the survival of each day, each day
    // a step starting just after its dose at the concentration carried over plus the dose.
    let model = o10_model(0.0, 1.0);
    let spec = o10_spec((0..7).map(f64::from).collect());
    let decay = (-spec.elimination_rate()).exp();
    let (mut concentration, mut survival) = (0.0, 1.0);
    for _ in 0..7 {
        concentration = concentration * decay + spec.dose;
        let path = PkPath::new(&model, &spec, concentration).unwrap();
        let solve = NoEmission::solve_path(&path, 1.0).unwrap();
        survival *= 1.0 - solve.silent_extinction(0, 1.0);
    }
    assert!(
        (survival - 4.699_96e-4).abs() < 1e-9,
        "survival to 7 under the daily bolus: {survival}"
    );
}

#[test]
fn a_pk_path_without_drug_is_the_off_exposure() {
    let model = o10_model(0.5, 1.0);
    let spec = o10_spec(vec![0.0]);
    let path = PkPath::new(&model, &spec, 0.0).unwrap();
    let off = LinearRates::from_model(&model, 0).unwrap();
    assert_eq!(*path.rates_at(0.7), off);
    assert_eq!(path.max_total(2.0), 0.6);
    let (a, b) = (
        NoEmission::solve_path(&path, 2.0).unwrap(),
        NoEmission::solve(&off, 2.0).unwrap(),
    );
    assert_eq!(a.silent_extinction(0, 1.3), b.silent_extinction(0, 1.3));
    // With drug the bound is the start's rates (the concentration only falls in a step).
    let dosed = PkPath::new(&model, &spec, 10.0).unwrap();
    let at_start = dosed.rates_at(0.0).total(0);
    assert_eq!(dosed.max_total(2.0), at_start);
    assert!(dosed.rates_at(1.0).total(0) < at_start);
    assert!(PkPath::new(&model, &spec, f64::NAN).is_err());
}
