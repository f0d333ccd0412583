//! The biomarker through the engine: recorded values, and adaptive rules that switch at its exact
//! threshold-crossing times.

mod common;

use std::sync::atomic::AtomicBool;

use common::{birth_death, ensemble_of, rule, run};
use dtp_gillespie_core::{
    AdaptiveSpec, Biomarker, Dosing, DosingKind, EnsembleOutput, Model, Progression, Reference,
    Rule, Schedule, trace,
};

/// Exposure 1 = on, 0 = off; stop at 0.5 x the biomarker at treatment start, resume at 1.0.
fn adaptive_on_biomarker() -> Dosing {
    Dosing {
        kind: DosingKind::Adaptive(AdaptiveSpec {
            initial_exposure: 1,
            monitor_weights: vec![1.0],
            monitor_biomarker: true,
            reference: Reference::TreatmentStart,
            check_every: 0.0,
            rules: vec![rule(1, 0, Some(0.5), None), rule(0, 1, None, Some(1.0))],
        }),
        treating: vec![false, true],
    }
}

fn with_biomarker(model: Model, production: Vec<f64>, initial: Option<f64>) -> Model {
    model
        .with_biomarker(Biomarker {
            production,
            decay: 0.5,
            initial,
        })
        .unwrap()
}

fn ensemble(
    model: &Model,
    dosing: &Dosing,
    run: &dtp_gillespie_core::RunConfig,
) -> dtp_gillespie_core::EnsembleOutput {
    ensemble_of(model, dosing, run, [7; 32], 0, 1, 1)
}

#[test]
fn constant_counts_switch_at_the_closed_form_crossing_time() {
    // No events: 10 cells producing 1 each, so y relaxes from 100 towards 20 and falls to half
    // its treatment-start value 50 at ln((100 - 20) / (50 - 20)) / 0.5; it never climbs back.
    let model = with_biomarker(
        birth_death(&[(0.0, 0.0), (0.0, 0.0)]),
        vec![1.0, 1.0],
        Some(100.0),
    );
    let dosing = adaptive_on_biomarker();
    let times = vec![0.0, 1.0, 2.0, 10.0];
    let out = ensemble(&model, &dosing, &run(vec![10], 10.0, times.clone()));
    let crossing = (80.0_f64 / 30.0).ln() / 0.5;
    let o = out.outcomes[0];
    assert!(
        (o.time_on_drug - crossing).abs() < 1e-12,
        "{}",
        o.time_on_drug
    );
    assert_eq!(o.n_switches, 1);
    assert_eq!(out.exposure, vec![1, 1, 0, 0]);
    for (t, y) in times.iter().zip(&out.biomarker) {
        let exact = 20.0 + 80.0 * (-0.5 * t).exp();
        assert!(
            (y - exact).abs() < 1e-12 * exact,
            "y({t}) = {y}, expected {exact}"
        );
    }
    let tr = trace(
        &model,
        &dosing,
        &run(vec![10], 10.0, vec![]),
        &[7; 32],
        0,
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(tr.switch_exposure, vec![0]);
    assert!((tr.switch_time[0] - crossing).abs() < 1e-12);
}

#[test]
fn exposure_dependent_production_drives_cycles() {
    // Off drug the cells make 1 unit each, on drug 0.2: with constant counts the biomarker
    // cycles between half and all of its treatment-start value, switching at closed-form times.
    let model = with_biomarker(birth_death(&[(0.0, 0.0), (0.0, 0.0)]), vec![1.0, 0.2], None);
    let dosing = adaptive_on_biomarker();
    // y(0) is the steady state under the initial exposure (on): 10 * 0.2 / 0.5 = 4.
    let tr = trace(
        &model,
        &dosing,
        &run(vec![10], 20.0, vec![]),
        &[7; 32],
        0,
        &AtomicBool::new(false),
    )
    .unwrap();
    // Starting at its steady state 4 on drug, the biomarker never falls to 2: no switch.
    assert!(tr.switch_time.is_empty());

    let model = with_biomarker(
        birth_death(&[(0.0, 0.0), (0.0, 0.0)]),
        vec![1.0, 0.2],
        Some(10.0),
    );
    let tr = trace(
        &model,
        &dosing,
        &run(vec![10], 30.0, vec![]),
        &[7; 32],
        0,
        &AtomicBool::new(false),
    )
    .unwrap();
    // On: from 10 towards 4, reaches 5 at ln(6/1)/0.5; off: from 5 towards 20, reaches 10 at
    // ln(15/10)/0.5 later; on again from 10: the same cycle.
    let (down, up) = (6.0_f64.ln() / 0.5, 1.5_f64.ln() / 0.5);
    let mut expected = vec![];
    let mut t = 0.0;
    while t + down <= 30.0 {
        t += down;
        expected.push((t, 0));
        if t + up > 30.0 {
            break;
        }
        t += up;
        expected.push((t, 1));
    }
    assert_eq!(tr.switch_time.len(), expected.len());
    for ((t, e), (&got_t, &got_e)) in expected
        .iter()
        .zip(tr.switch_time.iter().zip(&tr.switch_exposure))
    {
        assert!((t - got_t).abs() < 1e-9, "{got_t} vs {t}");
        assert_eq!(i8::try_from(*e).unwrap(), got_e);
    }
}

#[test]
fn extinct_replicates_record_a_decaying_biomarker() {
    // Pure death from 5 cells: after extinction the biomarker decays from its value then.
    let model = with_biomarker(birth_death(&[(0.0, 5.0)]), vec![1.0], None);
    let dosing = Dosing::fixed(dtp_gillespie_core::Schedule::constant(0), 1, None);
    let out = ensemble(&model, &dosing, &run(vec![5], 50.0, vec![40.0, 50.0]));
    let stop = out.outcomes[0].stop_time;
    assert!(stop < 40.0, "the population dies within days");
    let (y40, y50) = (out.biomarker[0], out.biomarker[1]);
    assert!(y40 > 0.0);
    assert!((y50 - y40 * (-5.0_f64).exp()).abs() < 1e-12 * y40);
}

/// Dosings under which exposure 1 stays in force for all time, each with checks that change
/// nothing: none; same-exposure breakpoints at 1, 2, 3 and every 3.5 days after; visits every
/// half day; a continuous rule on the biomarker with timers (`min_time` 1, `after` 2 and 3.5).
fn dosings_that_never_switch() -> Vec<(&'static str, Dosing)> {
    let never = |check_every: f64, rules: Vec<Rule>| Dosing {
        kind: DosingKind::Adaptive(AdaptiveSpec {
            initial_exposure: 1,
            monitor_weights: vec![1.0],
            monitor_biomarker: true,
            reference: Reference::Absolute,
            check_every,
            rules,
        }),
        treating: vec![false, true],
    };
    let below_zero = rule(1, 0, Some(0.0), None);
    let timers = vec![
        Rule {
            min_time: 1.0,
            ..below_zero.clone()
        },
        Rule {
            after: Some(2.0),
            ..below_zero.clone()
        },
        Rule {
            after: Some(3.5),
            ..below_zero.clone()
        },
    ];
    let breakpoints = Schedule::new(vec![0.0, 1.0, 2.0, 3.0], vec![1; 4], Some((0, 3.5))).unwrap();
    vec![
        (
            "continuous",
            Dosing::fixed(Schedule::constant(1), 2, Some(0)),
        ),
        ("breakpoints", Dosing::fixed(breakpoints, 2, Some(0))),
        ("visits", never(0.5, vec![below_zero])),
        ("timers", never(0.0, timers)),
    ]
}

/// Progression times of 200 replicates of one cell state (division `b`, death `d`) making 1
/// unit of biomarker per cell per day, clearance 1 a day, from 100 units and 5 cells, with
/// progression at 1.5 x the nadir; the same for every dosing of [`dosings_that_never_switch`].
fn progression_times_under_checks_that_change_nothing(b: f64, d: f64, t_end: f64) -> Vec<f64> {
    let model = birth_death(&[(b, d), (b, d)])
        .with_biomarker(Biomarker {
            production: vec![1.0, 1.0],
            decay: 1.0,
            initial: Some(100.0),
        })
        .unwrap();
    let mut r = run(vec![5], t_end, vec![t_end]);
    r.progression = Some(Progression {
        weights: vec![1.0],
        factor: Some(1.5),
        size: None,
        min_size: 0.0,
        biomarker: true,
    });
    let mut reference: Option<EnsembleOutput> = None;
    for (kind, dosing) in dosings_that_never_switch() {
        let out = ensemble_of(&model, &dosing, &r, [11; 32], 0, 200, 1);
        assert!(out.outcomes.iter().all(|o| o.n_switches == 0), "{kind}");
        if let Some(first) = &reference {
            // The checks change no draw and no progression time, bit for bit.
            for (a, b) in first.outcomes.iter().zip(&out.outcomes) {
                assert_eq!(a.n_events, b.n_events, "{kind}");
                assert_eq!(
                    a.progression_time.to_bits(),
                    b.progression_time.to_bits(),
                    "{kind}: progression at {} instead of {}",
                    b.progression_time,
                    a.progression_time
                );
            }
        } else {
            reference = Some(out);
        }
    }
    reference.unwrap().per_replicate(|o| o.progression_time)
}

#[test]
fn a_falling_biomarker_never_progresses_whatever_the_checks() {
    // Frozen but for rare deaths, the biomarker can only fall (from 100 towards 5): it passes
    // 1.5 x every later nadir on its way down, which is not progression.
    let times = progression_times_under_checks_that_change_nothing(0.0, 0.01, 5.0);
    assert!(times.iter().all(|t| t.is_nan()), "{times:?}");
}

#[test]
fn a_rising_biomarker_progresses_at_the_same_time_whatever_the_checks() {
    // Growing cells: the biomarker falls from 100, then rises with the population.
    let times = progression_times_under_checks_that_change_nothing(0.6, 0.1, 10.0);
    let progressed = times.iter().filter(|t| !t.is_nan()).count();
    assert!(progressed >= 190, "{progressed} of 200 progressed");
}
