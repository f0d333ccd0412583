//! The process-wide cache of step laws (`src/jump/cache.rs`): runs are bit-identical with the
//! cache cold or warm, a changed rate never reuses a stale law, and blocks of one run reuse the
//! laws of the first.

mod common;
#[path = "common/jump_models.rs"]
mod jump_models;

use common::{assert_identical, run};
use dtp_gillespie_core::jump::cache::LAWS;
use dtp_gillespie_core::{Dosing, EnsembleOutput, JumpConfig, Model, RunConfig, Schedule};
use jump_models::{forced, jump_ensemble, sp_model};

fn jumps(model: &Model, r: &RunConfig, (n, offset): (usize, u64)) -> EnsembleOutput {
    let dosing = Dosing::fixed(Schedule::constant(0), model.n_exposures(), None);
    let config = JumpConfig {
        threshold: 50.0,
        ..forced(0.5)
    };
    jump_ensemble(model, &dosing, r, config, [5; 32], (n, offset, 2)).unwrap()
}

fn sp_run() -> RunConfig {
    run(vec![2000, 50, 0], 2.0, vec![0.0, 1.0, 2.0])
}

// One test, so that no other test of this binary clears the cache between its runs (the tests
// of a binary share the process, and so the cache).
#[test]
fn warm_and_cold_runs_are_identical_and_a_changed_rate_builds_its_own_laws() {
    let model = sp_model(1.0, 0.02, 0.3);
    LAWS.clear();
    let cold = jumps(&model, &sp_run(), (30, 0));
    let before = LAWS.stats();
    assert!(before.laws >= 1);
    let warm = jumps(&model, &sp_run(), (30, 0));
    let after = LAWS.stats();
    assert_eq!(after.laws, before.laws, "the warm run built no law");
    assert!(after.hits > before.hits);
    assert_identical(&cold, &warm);
    assert_eq!(cold.jump_regimes, warm.jump_regimes);

    // A block of the same run reuses the laws, and gives the replicates of the whole run.
    let tail = jumps(&model, &sp_run(), (10, 20));
    assert_eq!(LAWS.stats().laws, before.laws);
    assert_eq!(tail.counts[..], cold.counts[cold.counts.len() * 2 / 3..]);

    // S divides one ulp faster: other laws, the same as this model's run from a cold cache.
    let nudged = sp_model(f64::from_bits(1.0f64.to_bits() + 1), 0.02, 0.3);
    let changed_warm = jumps(&nudged, &sp_run(), (30, 0));
    assert!(LAWS.stats().laws > before.laws, "new laws for the new rate");
    LAWS.clear();
    let changed_cold = jumps(&nudged, &sp_run(), (30, 0));
    assert_identical(&changed_warm, &changed_cold);

    // With no budget, nothing is kept and runs are the same.
    LAWS.set_budget(0);
    let uncached = jumps(&model, &sp_run(), (30, 0));
    assert_eq!(LAWS.stats().laws, 0);
    LAWS.set_budget(dtp_gillespie_core::jump::cache::DEFAULT_BUDGET_BYTES);
    assert_identical(&cold, &uncached);
}
