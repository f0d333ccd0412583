//! One trajectory of benchmark case (a), for profilers (callgrind, perf): prints events and events/s.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

use dtp_gillespie_benches::{canonical_model, continuous_on, daily_run};
use dtp_gillespie_core::{EnsembleSpec, run_ensemble};

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let spec = EnsembleSpec {
        seed_key: [1; 32],
        replicate_offset: 0,
        n_replicates: repeats,
        n_threads: Some(1),
    };
    let start = Instant::now();
    let out = run_ensemble(
        &canonical_model(),
        &continuous_on(),
        &daily_run(100_000, 30.0),
        &spec,
        &AtomicBool::new(false),
        &AtomicU64::new(0),
    )
    .expect("valid run");
    let events: u64 = out.per_replicate(|o| o.n_events).iter().sum();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{events} events in {secs:.3} s: {:.1} M events/s",
        events as f64 / secs / 1e6
    );
}
