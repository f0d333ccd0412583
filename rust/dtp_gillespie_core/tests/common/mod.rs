//! Small models shared by the engine's integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU64};

use dtp_gillespie_core::{
    Channel, ChannelKind, Dosing, DosingKind, EnsembleOutput, EnsembleSpec, Model, Phase,
    PkResponse, PkSpec, Rule, RunConfig, Schedule, run_ensemble,
};

pub fn division(state: usize, to: usize, mutation: bool) -> Channel {
    Channel {
        source: state,
        dec: None,
        inc: Some(to),
        kind: ChannelKind::Division,
        is_mutation: mutation,
    }
}

pub fn death(state: usize) -> Channel {
    Channel {
        source: state,
        dec: Some(state),
        inc: None,
        kind: ChannelKind::Death,
        is_mutation: false,
    }
}

pub fn switch(from: usize, to: usize) -> Channel {
    Channel {
        source: from,
        dec: Some(from),
        inc: Some(to),
        kind: ChannelKind::Switch,
        is_mutation: false,
    }
}

/// One state with birth and death, rates per exposure `[(b, d), ...]`.
pub fn birth_death(rates: &[(f64, f64)]) -> Model {
    let flat = rates.iter().flat_map(|&(b, d)| [b, d]).collect();
    Model::new(
        1,
        rates.len(),
        vec![division(0, 0, false), death(0)],
        flat,
        None,
    )
    .unwrap()
}

/// Two states S (0), P (1) switching, no growth, rates per exposure `[(k_sp, k_ps), ...]`.
pub fn two_state(rates: &[(f64, f64)]) -> Model {
    let flat = rates.iter().flat_map(|&(a, b)| [a, b]).collect();
    Model::new(2, rates.len(), vec![switch(0, 1), switch(1, 0)], flat, None).unwrap()
}

pub fn run(initial: Vec<u64>, t_end: f64, record_times: Vec<f64>) -> RunConfig {
    RunConfig {
        initial,
        record_times,
        t_end,
        max_events: u64::MAX,
        max_population: u64::MAX,
        progression: None,
        force_general_loop: false,
        lineages: None,
    }
}

pub fn ensemble(
    model: &Model,
    schedule: &Schedule,
    run: &RunConfig,
    n: usize,
    offset: u64,
    threads: usize,
) -> EnsembleOutput {
    let dosing = Dosing::fixed(schedule.clone(), model.n_exposures(), None);
    ensemble_of(model, &dosing, run, [42; 32], offset, n, threads)
}

/// `n` replicates from `offset` under any dosing, seed key `key`, on `threads` threads.
pub fn ensemble_of(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    key: [u8; 32],
    offset: u64,
    n: usize,
    threads: usize,
) -> EnsembleOutput {
    let spec = EnsembleSpec {
        seed_key: key,
        replicate_offset: offset,
        n_replicates: n,
        n_threads: Some(threads),
    };
    run_ensemble(
        model,
        dosing,
        run,
        &spec,
        &AtomicBool::new(false),
        &AtomicU64::new(0),
    )
    .unwrap()
}

/// An adaptive rule `from -> to` on relative thresholds, in any phase, without timers.
pub fn rule(from: usize, to: usize, below: Option<f64>, above: Option<f64>) -> Rule {
    Rule {
        from,
        to,
        below,
        above,
        absolute: false,
        after: None,
        min_time: 0.0,
        phase: Phase::Any,
    }
}

/// z-score of a sample mean against an exact mean and variance.
pub fn z(sample_mean: f64, mean: f64, var: f64, n: usize) -> f64 {
    (sample_mean - mean) / (var / n as f64).sqrt()
}

/// Bit-for-bit equality of two outputs (NaN equals NaN). `hot_loop_events` says which loop fired
/// the events, not what happened, so it is left out: outputs of different paths can be identical.
pub fn assert_identical(a: &EnsembleOutput, b: &EnsembleOutput) {
    assert_eq!(a.counts, b.counts);
    assert_eq!(a.exposure, b.exposure);
    assert_eq!(a.outcomes.len(), b.outcomes.len());
    let results = |o: &dtp_gillespie_core::Outcome| {
        let mut o = *o;
        o.hot_loop_events = 0;
        format!("{o:?}")
    };
    for (x, y) in a.outcomes.iter().zip(&b.outcomes) {
        assert_eq!(results(x), results(y));
    }
}

/// Per-replicate fields, for short assertions.
pub fn status(out: &EnsembleOutput) -> Vec<i8> {
    out.per_replicate(|o| o.status as i8)
}

pub fn n_events(out: &EnsembleOutput) -> Vec<u64> {
    out.per_replicate(|o| o.n_events)
}

pub fn stop_time(out: &EnsembleOutput) -> Vec<f64> {
    out.per_replicate(|o| o.stop_time)
}

/// Boluses of `dose` at `dose_times` with half-life `half_life` on exposure 1 (`on`; 0 is
/// `off`), every one of the `n_channels` channels with EC50 1 and Hill coefficient `hill`, no
/// missed doses.
pub fn bolus_spec(
    dose_times: Vec<f64>,
    dose: f64,
    half_life: f64,
    hill: f64,
    n_channels: usize,
) -> PkSpec {
    PkSpec {
        off_exposure: 0,
        on_exposure: 1,
        dose_times,
        dose,
        half_life,
        ec50: vec![1.0; n_channels],
        hill: vec![hill; n_channels],
        missed_dose_probability: 0.0,
        response: PkResponse::default(),
    }
}

/// Pharmacokinetic dosing by `spec`, treating on exposure 1.
pub fn pk_dosing(spec: PkSpec) -> Dosing {
    Dosing {
        kind: DosingKind::Pk(spec),
        treating: vec![false, true],
    }
}
