//! Thread counts (`src/ensemble.rs`): a call never starts more threads than it can use (one per
//! replicate, `THREADS_PER_CORE` per core), the pools kept between calls are bounded whatever
//! thread counts are asked for, and the output is bit-identical for any of them (SSA, the SIMD
//! lanes' path and jumps).
//!
//! The thread counts are read from `/proc/self/task` (Linux); the tests of this binary run in
//! parallel, so the bound allows for every pool the engine keeps and the harness's threads.

mod common;
#[path = "common/jump_models.rs"]
mod jump_models;

use std::time::{Duration, Instant};

use common::{assert_identical, birth_death, ensemble, run};
use dtp_gillespie_core::ensemble::{POOLS_KEPT, THREADS_PER_CORE, threads_for};
use dtp_gillespie_core::{Dosing, Schedule};
use jump_models::{forced, jump_ensemble, sp_model};

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The threads of this process, or None where `/proc/self/task` cannot be read.
fn os_threads() -> Option<usize> {
    std::fs::read_dir("/proc/self/task")
        .ok()
        .map(std::iter::Iterator::count)
}

#[test]
fn threads_are_bounded_by_replicates_and_cores() {
    let limit = cores() * THREADS_PER_CORE;
    assert_eq!(threads_for(Some(10_000), 2), 2);
    assert_eq!(threads_for(Some(10_000), 1), 1);
    assert_eq!(threads_for(Some(10_000), 1_000_000), limit);
    assert_eq!(threads_for(Some(usize::MAX), usize::MAX), limit);
    assert_eq!(threads_for(Some(1), 1_000), 1);
    assert_eq!(threads_for(Some(3), 1_000), 3.min(limit));
    assert!(threads_for(None, 1_000) >= 1 && threads_for(None, 1_000) <= limit);
    assert_eq!(threads_for(None, 1), 1);
}

#[test]
fn a_huge_thread_count_returns_promptly_with_the_same_output() {
    let model = birth_death(&[(0.04, 0.01)]);
    let schedule = Schedule::constant(0);
    let r = run(vec![100], 10.0, vec![0.0, 5.0, 10.0]);
    let one = ensemble(&model, &schedule, &r, 2, 0, 1);
    let started = Instant::now();
    let many = ensemble(&model, &schedule, &r, 2, 0, 10_000);
    // Before the bound, 10 000 threads took over a minute to start.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_identical(&one, &many);
    // More replicates than the bound: every thread count gives the same output.
    let wide = ensemble(&model, &schedule, &r, 64, 0, 1);
    for threads in [2, 3, 7, 10_000] {
        assert_identical(&wide, &ensemble(&model, &schedule, &r, 64, 0, threads));
    }
}

#[test]
fn jump_runs_do_not_depend_on_a_huge_thread_count() {
    let model = sp_model(0.7, 1e-6, 0.1);
    let dosing = Dosing::fixed(Schedule::constant(0), model.n_exposures(), None);
    let r = run(vec![10_000, 100, 0], 2.0, vec![0.0, 1.0, 2.0]);
    let key = [5; 32];
    let one = jump_ensemble(&model, &dosing, &r, forced(0.5), key, (12, 0, 1)).unwrap();
    for threads in [2, 10_000] {
        let out = jump_ensemble(&model, &dosing, &r, forced(0.5), key, (12, 0, threads)).unwrap();
        assert_identical(&one, &out);
        assert_eq!(one.jump_regimes, out.jump_regimes);
    }
}

#[test]
fn pools_do_not_pile_up_over_distinct_thread_counts() {
    let Some(before) = os_threads() else {
        eprintln!("SKIPPED: /proc/self/task cannot be read");
        return;
    };
    let model = birth_death(&[(0.04, 0.01)]);
    let schedule = Schedule::constant(0);
    let r = run(vec![20], 1.0, vec![0.0, 1.0]);
    for threads in 2..=41 {
        ensemble(&model, &schedule, &r, 64, 0, threads);
    }
    // The pools kept (each at most the bound), a pool evicted while another test of this binary
    // still runs on it, the harness's threads for those tests, and threads still ending.
    let allowed = before + (POOLS_KEPT + 1) * cores() * THREADS_PER_CORE + 8;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = os_threads().unwrap();
    while now > allowed && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        now = os_threads().unwrap();
    }
    assert!(
        now <= allowed,
        "{now} threads after asking for 2..=41 (allowed {allowed}, {before} before)"
    );
}
