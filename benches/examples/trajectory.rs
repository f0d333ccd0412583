//! One benchmark case of bench-model.toml on one thread, for profilers (callgrind, perf): prints
//! events, events/s and replicates/s.
//!
//! `cargo run --profile profiling --example trajectory -p dtp_gillespie_benches -- [a|c|d] [N]`
//! runs N replicates of case (a) (1e5 cells, 30 days on; default N = 10), (c) (1e3 cells, 60
//! days on) or (d) (1e4 cells, 14 on / 14 off for 168 days). Under callgrind, the instruction count
//! per event is repeatable whatever else the machine is doing.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

use dtp_gillespie_benches::{canonical_model, continuous_on, daily_run, intermittent_14_14};
use dtp_gillespie_core::{EnsembleSpec, run_ensemble};

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "a".into());
    let n_replicates: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let (dosing, run) = match case.as_str() {
        "a" => (continuous_on(), daily_run(100_000, 30.0)),
        "c" => (continuous_on(), daily_run(1000, 60.0)),
        "d" => (intermittent_14_14(), daily_run(10_000, 168.0)),
        other => panic!("unknown case {other:?}: expected a, c or d"),
    };
    let spec = EnsembleSpec {
        seed_key: [1; 32],
        replicate_offset: 0,
        n_replicates,
        n_threads: Some(1),
    };
    let start = Instant::now();
    let out = run_ensemble(
        &canonical_model(),
        &dosing,
        &run,
        &spec,
        &AtomicBool::new(false),
        &AtomicU64::new(0),
    )
    .expect("valid run");
    let events: u64 = out.per_replicate(|o| o.n_events).iter().sum();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "case ({case}): {events} events in {secs:.3} s: {:.1} M events/s, {:.0} replicates/s",
        events as f64 / secs / 1e6,
        n_replicates as f64 / secs
    );
}
