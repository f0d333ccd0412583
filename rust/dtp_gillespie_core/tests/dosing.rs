//! Adaptive and pharmacokinetic dosing: exact results and rule consistency.

mod common;

use std::sync::atomic::AtomicBool;

use common::*;
use dtp_gillespie_core::{AdaptiveSpec, Dosing, DosingKind, Reference, trace};

const Z_CRIT: f64 = 3.29;

fn ensemble_with(
    model: &dtp_gillespie_core::Model,
    dosing: &Dosing,
    run: &dtp_gillespie_core::RunConfig,
    n: usize,
) -> dtp_gillespie_core::EnsembleOutput {
    ensemble_of(model, dosing, run, [9; 32], 0, n, 2)
}

/// O10's boluses: 10 EC50 at `dose_times`, t1/2 = 1.5, Hill 2.
fn pk(dose_times: Vec<f64>, n_channels: usize) -> Dosing {
    pk_dosing(bolus_spec(dose_times, 10.0, 1.5, 2.0, n_channels))
}

/// O10: one bolus of 10 EC50 at t = 0, t1/2 = 1.5, h = 2, death 0.1 + Emax * Hill(C).
/// P(one cell survives to 3) = exp(-0.1 * 3 - Emax * 2.850173).
fn pk_survival_z(e_max: f64) -> f64 {
    let model = birth_death(&[(0.0, 0.1), (0.0, 0.1 + e_max)]);
    let run = run(vec![1], 3.0, vec![3.0]);
    let n = 5000;
    let out = ensemble_with(&model, &pk(vec![0.0], 2), &run, n);
    let survived = out.counts.iter().filter(|&&c| c == 1).count() as f64 / n as f64;
    let p = (-0.3f64 - 2.850_173).exp();
    assert!((p - 0.042_844_7).abs() < 1e-6);
    z(survived, p, p * (1.0 - p), n)
}

#[test]
fn pk_thinning_matches_the_integrated_hazard() {
    assert!(pk_survival_z(1.0).abs() < Z_CRIT);
    assert!(pk_survival_z(1.2).abs() > Z_CRIT);
}

#[test]
fn zero_dose_pk_is_the_off_exposure_draw_for_draw() {
    let model = birth_death(&[(1.0, 0.8), (0.2, 1.5)]);
    let run = run(vec![20], 5.0, vec![0.0, 2.5, 5.0]);
    let mut dosing = pk(vec![0.0, 1.0, 2.0], 2);
    if let DosingKind::Pk(spec) = &mut dosing.kind {
        spec.dose = 0.0;
    }
    let off = Dosing::fixed(dtp_gillespie_core::Schedule::constant(0), 2, Some(0));
    let a = ensemble_with(&model, &dosing, &run, 50);
    let b = ensemble_with(&model, &off, &run, 50);
    assert_eq!(a.counts, b.counts);
    assert_eq!(n_events(&a), n_events(&b));
}

/// Treat (exposure 1) until the burden halves, hold (exposure 0) until it is back to its value at
/// treatment start; growth off drug, decline on drug.
fn zhang_like(check_every: f64) -> (dtp_gillespie_core::Model, Dosing) {
    let model = birth_death(&[(0.3, 0.1), (0.1, 0.5)]);
    let rules = vec![rule(1, 0, Some(0.5), None), rule(0, 1, None, Some(1.0))];
    let spec = AdaptiveSpec {
        initial_exposure: 1,
        monitor_weights: vec![1.0],
        monitor_biomarker: false,
        reference: Reference::TreatmentStart,
        check_every,
        rules,
    };
    (
        model,
        Dosing {
            kind: DosingKind::Adaptive(spec),
            treating: vec![false, true],
        },
    )
}

#[test]
fn continuous_monitoring_switches_exactly_at_crossing_events() {
    let (model, dosing) = zhang_like(0.0);
    let run = run(vec![200], 60.0, vec![60.0]);
    let tr = trace(&model, &dosing, &run, &[3; 32], 0, &AtomicBool::new(false)).unwrap();
    // An event happens under the exposure in force before it; the rule then reacts to the burden
    // it left, so the next event sees the switch.
    let mut switches = 0;
    let mut exposure = 1;
    for k in 1..tr.time.len() {
        assert_eq!(
            tr.exposure[k] as usize, exposure,
            "event {k} at t = {}",
            tr.time[k]
        );
        let burden = tr.counts[k] as f64;
        let next = match exposure {
            1 if burden <= 100.0 => 0,
            0 if burden >= 200.0 => 1,
            e => e,
        };
        if next != exposure {
            switches += 1;
        }
        exposure = next;
    }
    assert!(
        switches >= 2,
        "the test should exercise switching ({switches} switches)"
    );
}

#[test]
fn visit_monitoring_switches_only_at_visits() {
    let (model, dosing) = zhang_like(7.0);
    let run = run(vec![200], 120.0, vec![120.0]);
    let tr = trace(&model, &dosing, &run, &[4; 32], 0, &AtomicBool::new(false)).unwrap();
    let mut switched = 0;
    for k in 1..tr.time.len() {
        if tr.exposure[k] != tr.exposure[k - 1] {
            // The exposure seen at this event changed since the previous one: a visit lies between.
            let visit = (tr.time[k - 1] / 7.0).floor() + 1.0;
            assert!(
                visit * 7.0 <= tr.time[k],
                "switch between {} and {}",
                tr.time[k - 1],
                tr.time[k]
            );
            switched += 1;
        }
    }
    assert!(switched >= 2);
}
