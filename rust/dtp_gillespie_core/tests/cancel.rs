//! Cancellation: the one event loop looks at the flag under every kind of dosing, in the hot loop
//! and in the general loop, and also while pharmacokinetic thinning rejects candidate after
//! candidate.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64};

use common::*;
use dtp_gillespie_core::{
    AdaptiveSpec, Capacity, CapacityTarget, Dosing, DosingKind, EngineError, EnsembleSpec, Model,
    PkSpec, Reference, RunConfig, Schedule, run_ensemble, trace,
};

/// Boluses of 2 every 0.5 days (half-life 0.5) on exposure 1 (`on`), for a model with
/// `n_channels` channels.
fn frequent_boluses(n_channels: usize) -> PkSpec {
    let dose_times = (0..2000).map(|k| f64::from(k) * 0.5).collect();
    bolus_spec(dose_times, 2.0, 0.5, 1.0, n_channels)
}

fn dosings() -> Vec<(&'static str, Dosing)> {
    let adaptive = Dosing {
        kind: DosingKind::Adaptive(AdaptiveSpec {
            initial_exposure: 1,
            monitor_weights: vec![1.0],
            monitor_biomarker: false,
            reference: Reference::Initial,
            check_every: 0.0,
            rules: vec![rule(1, 0, Some(0.5), None), rule(0, 1, None, Some(2.0))],
        }),
        treating: vec![false, true],
    };
    vec![
        ("fixed", Dosing::fixed(Schedule::constant(0), 2, None)),
        ("adaptive", adaptive),
        ("pk", pk_dosing(frequent_boluses(2))),
    ]
}

/// Birth and death of one state, growing off drug and stable on it, with an optional capacity.
fn model(capacity: Option<f64>) -> Model {
    let capacity = capacity.map(|k| Capacity {
        k,
        target: CapacityTarget::Division,
        weights: vec![1.0],
        slope: vec![],
    });
    let channels = vec![division(0, 0, false), death(0)];
    Model::new(1, 2, channels, vec![1.0, 0.5, 1.0, 1.0], capacity).unwrap()
}

/// Millions of events ahead: only cancellation stops the run early.
fn long_run(force_general_loop: bool) -> RunConfig {
    RunConfig {
        force_general_loop,
        ..run(vec![1000], 1000.0, vec![0.0, 1000.0])
    }
}

fn assert_cancelled(model: &Model, dosing: &Dosing, run: &RunConfig, what: &str) {
    let cancel = AtomicBool::new(true);
    let spec = EnsembleSpec {
        seed_key: [3; 32],
        replicate_offset: 0,
        n_replicates: 2,
        n_threads: Some(1),
    };
    let result = run_ensemble(model, dosing, run, &spec, &cancel, &AtomicU64::new(0));
    assert_eq!(
        result.err(),
        Some(EngineError::Cancelled),
        "{what}: ensemble"
    );
    let traced = trace(model, dosing, run, &[3; 32], 0, &cancel);
    assert_eq!(traced.err(), Some(EngineError::Cancelled), "{what}: trace");
}

#[test]
fn a_set_flag_cancels_every_kind_of_dosing_in_either_loop() {
    for capacity in [None, Some(5000.0)] {
        let model = model(capacity);
        for (kind, dosing) in dosings() {
            for force_general_loop in [false, true] {
                let what = format!("{kind}, capacity {capacity:?}, general {force_general_loop}");
                assert_cancelled(&model, &dosing, &long_run(force_general_loop), &what);
            }
        }
    }
}

#[test]
fn a_set_flag_cancels_a_run_of_rejected_candidates() {
    // Cells that switch states (so their number stays 10) at a rate that only the drug gives. One
    // dose that decays within microseconds: after it the rates are bounded by their value where
    // the drug turns off, 50 per cell, while the actual rate is 0 to rounding, so about 5e5
    // candidates follow and none is accepted. Only the rejections can reach the flag (a hot loop
    // that rejects 2^14 candidates in a row returns to be looked at).
    let model = two_state(&[(0.0, 0.0), (1000.0, 1000.0)]);
    let dosing = pk_dosing(bolus_spec(vec![0.0], 2.0, 1e-6, 1.0, 2));
    for force_general_loop in [false, true] {
        let run = RunConfig {
            force_general_loop,
            ..run(vec![5, 5], 1000.0, vec![0.0, 1000.0])
        };
        assert_cancelled(
            &model,
            &dosing,
            &run,
            &format!("general {force_general_loop}"),
        );
    }
}
