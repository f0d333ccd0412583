//! One benchmark case on one thread, for profilers (callgrind, perf): prints events, events/s and
//! replicates/s.
//!
//! `cargo run --profile profiling --example trajectory -p dtp_gillespie_benches -- CASE [N]` runs
//! N replicates (default 10) of a case of bench-model.toml, (a) (1e5 cells, 30 days on), (c) (1e3
//! cells, 60 days on) or (d) (1e4 cells, 14 on / 14 off for 168 days), or of case (d)'s tumour
//! under another kind of dosing: `adaptive` (Zhang-style adaptive therapy), `pk` (a daily dose
//! with pharmacokinetics), and with a carrying capacity of 2e4 cells (every event through the
//! general loop): `crowded` (case (d)'s schedule) and `pk-crowded` (the daily dose). Under
//! callgrind, the instruction count per event is repeatable whatever else the machine is doing.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

use dtp_gillespie_benches::{
    adaptive_zhang, canonical_model, continuous_on, daily_pk, daily_run, intermittent_14_14,
};
use dtp_gillespie_core::{Capacity, CapacityTarget, EnsembleSpec, Model, run_ensemble};

/// The canonical model with a carrying capacity of `k` cells on division.
fn crowded_model(k: f64) -> Model {
    let model = canonical_model();
    let rates = (0..model.n_exposures())
        .flat_map(|e| model.rates_of(e).to_vec())
        .collect();
    let capacity = Capacity {
        k,
        target: CapacityTarget::Division,
        weights: vec![1.0; model.n_states()],
        slope: Vec::new(),
    };
    Model::new(
        model.n_states(),
        model.n_exposures(),
        model.channels().to_vec(),
        rates,
        Some(capacity),
    )
    .expect("the crowded model is valid")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "a".into());
    let n_replicates: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let (model, dosing, run) = match case.as_str() {
        "a" => (canonical_model(), continuous_on(), daily_run(100_000, 30.0)),
        "c" => (canonical_model(), continuous_on(), daily_run(1000, 60.0)),
        "d" => (
            canonical_model(),
            intermittent_14_14(),
            daily_run(10_000, 168.0),
        ),
        "adaptive" => (
            canonical_model(),
            adaptive_zhang(),
            daily_run(10_000, 168.0),
        ),
        "pk" => (canonical_model(), daily_pk(168.0), daily_run(10_000, 168.0)),
        "crowded" => (
            crowded_model(20_000.0),
            intermittent_14_14(),
            daily_run(10_000, 168.0),
        ),
        "pk-crowded" => (
            crowded_model(20_000.0),
            daily_pk(168.0),
            daily_run(10_000, 168.0),
        ),
        other => {
            panic!("unknown case {other:?}: expected a, c, d, adaptive, pk, crowded or pk-crowded")
        }
    };
    let spec = EnsembleSpec {
        seed_key: [1; 32],
        replicate_offset: 0,
        n_replicates,
        n_threads: Some(1),
    };
    let start = Instant::now();
    let out = run_ensemble(
        &model,
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
