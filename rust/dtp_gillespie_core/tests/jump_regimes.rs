//! The engine's own count of the regime of each pool (`src/jump/regimes.rs`): every completed
//! (replicate, step) pair counted once per pool, the extremes of the threshold, and the same
//! counts for any thread count and any split into calls.

mod common;
#[path = "common/jump_models.rs"]
mod jump_models;

use common::{birth_death, run};
use dtp_gillespie_core::jump::RegimeCounts;
use dtp_gillespie_core::{Dosing, EnsembleOutput, JumpConfig, Model, RunConfig, Schedule, Status};
use jump_models::{forced, jump_ensemble, logistic, sp_model};

fn jumps(
    model: &Model,
    r: &RunConfig,
    config: JumpConfig,
    (n, offset, threads): (usize, u64, usize),
) -> EnsembleOutput {
    let dosing = Dosing::fixed(Schedule::constant(0), model.n_exposures(), None);
    jump_ensemble(model, &dosing, r, config, [11; 32], (n, offset, threads)).unwrap()
}

fn regimes(out: &EnsembleOutput) -> &RegimeCounts {
    out.jump_regimes
        .as_ref()
        .expect("a jump run counts its regimes")
}

/// S ⇄ P with mutation into R: 400 S and 50 P cells, 2 days in four steps of 0.5.
fn sp_run() -> (Model, RunConfig) {
    (
        sp_model(1.0, 0.02, 0.3),
        run(vec![400, 50, 0], 2.0, vec![0.0, 0.5, 1.0, 2.0]),
    )
}

const SP_STEPS: u64 = 4;

fn with_threshold(threshold: f64) -> JumpConfig {
    JumpConfig {
        threshold,
        ..forced(0.5)
    }
}

#[test]
fn every_pool_counts_every_step_of_every_replicate_once() {
    let (model, r) = sp_run();
    let n = 30;
    let out = jumps(&model, &r, with_threshold(50.0), (n, 0, 2));
    assert!(out.outcomes.iter().all(|o| o.status == Status::Completed));
    let counts = regimes(&out);
    assert_eq!(counts.n_types(), 3);
    for x in 0..3 {
        assert_eq!(counts.steps(x), n as u64 * SP_STEPS, "pool {x}");
    }
    // At this threshold S (400 cells, rate 1.5 per cell) is always jumped, P (50 cells at
    // first, rate 0.55) starts event by event, and R starts empty.
    assert_eq!(counts.jumped[0], n as u64 * SP_STEPS);
    assert!(counts.event_by_event[1] >= n as u64);
    assert!(counts.empty[2] >= n as u64);
    assert!(counts.emitting[0] > 0);
}

#[test]
fn a_zero_threshold_jumps_every_pool_and_an_infinite_one_none() {
    let (model, r) = sp_run();
    let n = 20;
    let all = jumps(&model, &r, with_threshold(0.0), (n, 0, 1));
    let counts = regimes(&all);
    assert_eq!(counts.event_by_event, vec![0; 3]);
    assert_eq!(counts.jumped[0], n as u64 * SP_STEPS);
    assert_eq!(counts.jumped[1], n as u64 * SP_STEPS);
    assert!(counts.emitting[0] > 0);
    let none = jumps(&model, &r, with_threshold(f64::INFINITY), (n, 0, 1));
    let counts = regimes(&none);
    assert_eq!(counts.jumped, vec![0; 3]);
    assert_eq!(counts.emitting, vec![0; 3]);
    assert_eq!(counts.event_by_event[0], n as u64 * SP_STEPS);
    assert_eq!(counts.event_by_event[1], n as u64 * SP_STEPS);
}

#[test]
fn counts_do_not_depend_on_threads_and_add_up_over_blocks() {
    let (model, r) = sp_run();
    let config = with_threshold(50.0);
    let whole = jumps(&model, &r, config, (40, 0, 1));
    let threaded = jumps(&model, &r, config, (40, 0, 2));
    assert_eq!(regimes(&whole), regimes(&threaded));
    let mut blocks = regimes(&jumps(&model, &r, config, (15, 0, 2))).clone();
    blocks.add(regimes(&jumps(&model, &r, config, (25, 15, 1))));
    assert_eq!(&blocks, regimes(&whole));
}

#[test]
fn a_replicate_that_dies_out_counts_only_the_steps_it_took() {
    // Deaths outrun divisions: most replicates die out within the 8 steps of 0.5 days.
    let model = birth_death(&[(0.2, 1.2)]);
    let r = run(vec![60], 4.0, vec![4.0]);
    for threshold in [0.0, 20.0, f64::INFINITY] {
        let out = jumps(&model, &r, with_threshold(threshold), (50, 0, 2));
        let taken: u64 = out
            .outcomes
            .iter()
            .map(|o| {
                if o.status == Status::Extinct {
                    // Extinct inside step k (from 1): it took k steps.
                    (o.stop_time / 0.5).ceil().max(1.0) as u64
                } else {
                    8
                }
            })
            .sum();
        assert!(taken < 50 * 8, "some replicates die out");
        assert_eq!(regimes(&out).steps(0), taken, "threshold {threshold}");
        assert_eq!(
            regimes(&out).empty[0],
            0,
            "a replicate stops when it dies out"
        );
    }
}

#[test]
fn density_steps_without_a_jumped_pool_count_as_event_by_event() {
    // The logistic example of docs/jumps.md: 20 cells grow to about 570 in six steps of a day.
    let model = logistic();
    let r = run(vec![20], 6.0, vec![0.0, 2.0, 4.0, 6.0]);
    let config = JumpConfig {
        threshold: 300.0,
        ..forced(1.0)
    };
    let n = 40;
    let out = jumps(&model, &r, config, (n, 0, 2));
    let counts = regimes(&out);
    assert_eq!(counts.steps(0), n as u64 * 6);
    assert!(
        counts.event_by_event[0] >= n as u64,
        "the first steps are small"
    );
    assert!(counts.jumped[0] >= n as u64, "the last steps are large");
    let threaded = jumps(&model, &r, config, (n, 0, 1));
    assert_eq!(regimes(&threaded), counts);
}
