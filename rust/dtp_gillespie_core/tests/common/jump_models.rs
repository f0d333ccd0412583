//! Models and runners shared by the statistical tests of the exact jumps (`jump_tables.rs`,
//! `jump_runs.rs`, `jump_adaptive.rs`, `jump_pk_runs.rs`, ...).
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU64};

use dtp_gillespie_core::{
    Capacity, CapacityTarget, Channel, ChannelKind, Dosing, EngineError, EnsembleOutput,
    EnsembleSpec, JumpConfig, Model, RunConfig, run_ensemble_jump,
};

use super::common::{birth_death, death, division, switch};

/// S (0) ⇄ P (1) with mutant divisions and conversion into R (2), one exposure. `s_birth` is the
/// S division rate (a share `mu` of divisions mutant, and S → R conversion at rate `mu / 4`),
/// `p_switch` the P → S rate.
#[must_use]
pub fn sp_model(s_birth: f64, mu: f64, p_switch: f64) -> Model {
    let conversion = Channel {
        source: 0,
        dec: Some(0),
        inc: Some(2),
        kind: ChannelKind::Switch,
        is_mutation: true,
    };
    let channels = vec![
        division(0, 0, false),
        division(0, 2, true),
        death(0),
        switch(0, 1),
        conversion,
        division(1, 1, false),
        division(1, 2, true),
        death(1),
        switch(1, 0),
        division(2, 2, false),
        death(2),
    ];
    let rates = vec![
        s_birth * (1.0 - mu),
        s_birth * mu,
        0.3,
        0.2,
        0.25 * mu,
        0.2 * (1.0 - mu),
        0.2 * mu,
        0.05,
        p_switch,
        0.6,
        0.1,
    ];
    Model::new(3, 1, channels, rates, None).unwrap()
}

/// S (0), P (1) and a resistant R (2) reached by mutant S divisions (a share `mu`); exposures off
/// (0) and on (1), where S dies at `s_death_on` and switches to P. `s_birth_off` is S's division
/// rate off drug.
#[must_use]
pub fn spr_model(s_birth_off: f64, mu: f64, s_death_on: f64, capacity: Option<Capacity>) -> Model {
    let channels = vec![
        division(0, 0, false),
        division(0, 2, true),
        death(0),
        switch(0, 1),
        division(1, 1, false),
        death(1),
        switch(1, 0),
        division(2, 2, false),
        death(2),
    ];
    let off = [
        s_birth_off * (1.0 - mu),
        s_birth_off * mu,
        0.1,
        0.02,
        0.1,
        0.05,
        0.2,
        0.4,
        0.1,
    ];
    let on = [
        0.7 * (1.0 - mu),
        0.7 * mu,
        s_death_on,
        0.2,
        0.1,
        0.05,
        0.02,
        0.4,
        0.1,
    ];
    let rates = off.iter().chain(&on).copied().collect();
    Model::new(3, 2, channels, rates, capacity).unwrap()
}

/// `n` replicates from `offset` of a jump run under `dosing` with seed key `key`, on `threads`
/// threads.
pub fn jump_ensemble(
    model: &Model,
    dosing: &Dosing,
    run: &RunConfig,
    config: JumpConfig,
    key: [u8; 32],
    (n, offset, threads): (usize, u64, usize),
) -> Result<EnsembleOutput, EngineError> {
    let spec = EnsembleSpec {
        seed_key: key,
        replicate_offset: offset,
        n_replicates: n,
        n_threads: Some(threads),
    };
    run_ensemble_jump(
        model,
        dosing,
        run,
        &spec,
        &config,
        &AtomicBool::new(false),
        &AtomicU64::new(0),
    )
}

/// Every pool jumped (threshold 0), steps of at most `step`, tail tolerance 1e-20.
#[must_use]
pub fn forced(step: f64) -> JumpConfig {
    JumpConfig {
        step,
        tolerance: 1e-20,
        threshold: 0.0,
        ..JumpConfig::default()
    }
}

/// The logistic example of docs/jumps.md: division 0.8, death 0.1 + 0.7 N/K, K = 1000.
#[must_use]
pub fn logistic() -> Model {
    let linear = birth_death(&[(0.8, 0.1)]);
    Model::new(
        1,
        1,
        linear.channels().to_vec(),
        vec![0.8, 0.1],
        Some(Capacity {
            k: 1000.0,
            target: CapacityTarget::Death,
            weights: vec![1.0],
            slope: vec![],
        }),
    )
    .unwrap()
}
