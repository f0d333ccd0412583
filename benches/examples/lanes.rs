//! SIMD lanes against the scalar loop, side by side in one process, on benchmark cases (c) and
//! (d) (`benches/bench-model.toml`) and case (d)'s tumour under Zhang-style adaptive therapy
//! (monitored after every event), one thread: `lanes [rounds] [threads]`.
//!
//! Each round runs every case once per path, in alternating order, so that a machine shared with
//! other work slows both alike; the report gives medians over rounds (replicates/s, events/s) and
//! the median of the per-round ratios. The outputs of the two paths are compared bit for bit.
//!
//! Run: `cargo run --release -p dtp_gillespie_benches --example lanes -- 7`.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

use dtp_gillespie_benches::{
    adaptive_zhang, canonical_model, continuous_on, daily_run, intermittent_14_14,
};
use dtp_gillespie_core::{
    Dosing, EnsembleOutput, EnsembleSpec, LaneStats, Lanes, RunConfig, run_ensemble_lane_stats,
};

/// One timed ensemble: seconds, events, the output and what the lanes did.
fn timed(
    dosing: &Dosing,
    run: &RunConfig,
    n: usize,
    threads: usize,
    lanes: Lanes,
) -> (f64, u64, EnsembleOutput, LaneStats) {
    let spec = EnsembleSpec {
        seed_key: [1; 32],
        replicate_offset: 0,
        n_replicates: n,
        n_threads: Some(threads),
    };
    let start = Instant::now();
    let (out, stats) = run_ensemble_lane_stats(
        &canonical_model(),
        dosing,
        run,
        &spec,
        &AtomicBool::new(false),
        &AtomicU64::new(0),
        lanes,
    )
    .expect("valid run");
    let secs = start.elapsed().as_secs_f64();
    let events = out.per_replicate(|o| o.n_events).iter().sum();
    (secs, events, out, stats)
}

/// Why lanes left the vector loop, per iteration of it.
fn exits(stats: &LaneStats) -> String {
    let per = |n: u64| n as f64 / stats.iterations as f64;
    format!(
        "iterations with an exit {:.1}%; lane exits per iteration: record {:.4}, miss {:.4}, \
         check {:.4}, limit {:.4}; records written in the loop {}, events in lanes {}",
        100.0 * per(stats.exits),
        per(stats.record_exits),
        per(stats.miss_exits),
        per(stats.check_exits),
        per(stats.limit_exits),
        stats.records_in_loop,
        stats.events,
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let k = values.len() / 2;
    if values.len() % 2 == 1 {
        values[k]
    } else {
        0.5 * (values[k - 1] + values[k])
    }
}

fn cpu_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let features = [
            ("avx2", is_x86_feature_detected!("avx2")),
            ("fma", is_x86_feature_detected!("fma")),
            ("avx512f", is_x86_feature_detected!("avx512f")),
            ("avx512dq", is_x86_feature_detected!("avx512dq")),
            ("avx512bw", is_x86_feature_detected!("avx512bw")),
            ("avx512vl", is_x86_feature_detected!("avx512vl")),
        ];
        features
            .iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(" ")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        String::from("(not x86-64)")
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    println!("CPU features: {}", cpu_features());
    if !Lanes::avx512_available() {
        println!("SKIPPED: no AVX-512 lanes on this CPU; nothing to compare");
        return;
    }
    let cases = [
        (
            "(c) 1e4 reps, S0 1e3, 60 d on",
            continuous_on(),
            daily_run(1000, 60.0),
            10_000,
        ),
        (
            "(d) 1e3 reps, S0 1e4, 14/14",
            intermittent_14_14(),
            daily_run(10_000, 168.0),
            1000,
        ),
        (
            "(adaptive) 1e3 reps, S0 1e4, Zhang",
            adaptive_zhang(),
            daily_run(10_000, 168.0),
            1000,
        ),
    ];
    println!("{rounds} interleaved rounds, {threads} thread(s); medians");
    for (name, dosing, run, n) in &cases {
        let mut rate = [Vec::new(), Vec::new()];
        let mut ratios = Vec::new();
        let mut events_per_run = 0;
        let mut lane_stats = LaneStats::default();
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                [Lanes::Scalar, Lanes::Avx512]
            } else {
                [Lanes::Avx512, Lanes::Scalar]
            };
            let mut secs = [0.0; 2];
            let mut outputs = Vec::new();
            for lanes in order {
                let (s, events, out, stats) = timed(dosing, run, *n, threads, lanes);
                let path = usize::from(lanes == Lanes::Avx512);
                if path == 1 {
                    lane_stats = stats;
                }
                secs[path] = s;
                events_per_run = events;
                outputs.push(out);
            }
            // Bit for bit (NaN fields compare equal through their text).
            let same = outputs[0].counts == outputs[1].counts
                && format!("{:?}", outputs[0].outcomes) == format!("{:?}", outputs[1].outcomes);
            assert!(same, "{name}: the paths differ");
            for path in 0..2 {
                rate[path].push(*n as f64 / secs[path]);
            }
            ratios.push(secs[0] / secs[1]);
        }
        let [scalar, lanes] = rate.map(median);
        let per_replicate = events_per_run as f64 / *n as f64;
        println!(
            "{name}: scalar {scalar:.0} reps/s ({:.3e} events/s), avx512 lanes {lanes:.0} reps/s \
             ({:.3e} events/s), median ratio {:.2}x",
            scalar * per_replicate,
            lanes * per_replicate,
            median(ratios)
        );
        println!("    {}", exits(&lane_stats));
    }
}
