//! One kind of dosing on benchmark case (d)'s tumour, for profilers: `dosing [fixed|adaptive|pk] [replicates]`.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

use dtp_gillespie_benches::{
    adaptive_zhang, canonical_model, daily_pk, daily_run, intermittent_14_14,
};
use dtp_gillespie_core::{EnsembleSpec, run_ensemble};

fn main() {
    let kind = std::env::args().nth(1).unwrap_or_else(|| "pk".into());
    let repeats: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let dosing = match kind.as_str() {
        "fixed" => intermittent_14_14(),
        "adaptive" => adaptive_zhang(),
        _ => daily_pk(168.0),
    };
    let spec = EnsembleSpec {
        seed_key: [1; 32],
        replicate_offset: 0,
        n_replicates: repeats,
        n_threads: Some(1),
    };
    let start = Instant::now();
    let out = run_ensemble(
        &canonical_model(),
        &dosing,
        &daily_run(10_000, 168.0),
        &spec,
        &AtomicBool::new(false),
        &AtomicU64::new(0),
    )
    .expect("valid run");
    let events: u64 = out.per_replicate(|o| o.n_events).iter().sum();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{kind}: {events} events in {secs:.3} s: {:.1} M events/s",
        events as f64 / secs / 1e6
    );
}
