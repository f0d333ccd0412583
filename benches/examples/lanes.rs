//! SIMD lanes against the scalar loop, side by side in one process, on benchmark cases (c) and
//! (d) (`benches/bench-model.toml`) and case (d)'s tumour under Zhang-style adaptive therapy
//! (monitored after every event), on one thread and, if `threads` > 1, on `threads` too:
//! `lanes [rounds] [threads]`.
//!
//! Each round runs every case once per path and thread count, in an order that rotates, so that
//! a machine shared with other work slows each alike; the report gives medians over rounds
//! (replicates/s, events/s) and the medians of the per-round ratios (lanes against the scalar
//! loop, `threads` threads against one). The outputs are compared bit for bit.
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

/// CPU time of the calling thread so far (Linux: `/proc/thread-self/schedstat`, nanoseconds on
/// the CPU), if known: on a machine shared with other work it counts only the time this thread
/// ran, where wall time also counts the time it waited.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

/// One timed ensemble: wall seconds, CPU seconds of this thread (what a one-thread call takes
/// without the pool), events, the output and what the lanes did.
fn timed(
    dosing: &Dosing,
    run: &RunConfig,
    n: usize,
    threads: usize,
    lanes: Lanes,
) -> (f64, f64, u64, EnsembleOutput, LaneStats) {
    let spec = EnsembleSpec {
        seed_key: [1; 32],
        replicate_offset: 0,
        n_replicates: n,
        n_threads: Some(threads),
    };
    let cpu_start = thread_cpu_seconds();
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
    let cpu = match (cpu_start, thread_cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    let events = out.per_replicate(|o| o.n_events).iter().sum();
    (secs, cpu, events, out, stats)
}

/// Why lanes left the vector loop, per iteration of it.
fn exits(stats: &LaneStats) -> String {
    let per = |n: u64| n as f64 / stats.iterations as f64;
    format!(
        "iterations with an exit {:.1}%; lane exits per iteration: record {:.4}, check {:.4}, \
         limit {:.4}; in the loop: {} records, {} ziggurat misses ({} finished out of line); \
         events in lanes {}",
        100.0 * per(stats.exits),
        per(stats.record_exits),
        per(stats.check_exits),
        per(stats.limit_exits),
        stats.records_in_loop,
        stats.misses_in_loop,
        stats.misses_out_of_line,
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
    println!("{rounds} interleaved rounds, 1 and {threads} thread(s); medians");
    // Each path on one thread and, if asked, on `threads`.
    let mut configs = vec![(Lanes::Scalar, 1), (Lanes::Avx512, 1)];
    if threads > 1 {
        configs.extend([(Lanes::Scalar, threads), (Lanes::Avx512, threads)]);
    }
    for (name, dosing, run, n) in &cases {
        let mut rate = vec![Vec::new(); configs.len()];
        // On one thread: replicates per CPU second, and the lanes' ratio on CPU time.
        let (mut cpu_rate, mut cpu_ratio) = ([Vec::new(), Vec::new()], Vec::new());
        let mut ratios = vec![Vec::new(); configs.len()];
        let mut events_per_run = 0;
        let mut lane_stats = LaneStats::default();
        for round in 0..rounds {
            // A different order each round, so that a busy spell of the machine slows each
            // configuration alike.
            let mut secs = vec![0.0; configs.len()];
            let mut cpu = [0.0; 2];
            let mut first: Option<EnsembleOutput> = None;
            for k in 0..configs.len() {
                let c = (k + round) % configs.len();
                let (lanes, t) = configs[c];
                let (s, cpu_secs, events, out, stats) = timed(dosing, run, *n, t, lanes);
                if c < 2 {
                    cpu[c] = cpu_secs;
                }
                if (lanes, t) == (Lanes::Avx512, 1) {
                    lane_stats = stats;
                }
                secs[c] = s;
                events_per_run = events;
                // Bit for bit (NaN fields compare equal through their text).
                if let Some(first) = &first {
                    let same = first.counts == out.counts
                        && format!("{:?}", first.outcomes) == format!("{:?}", out.outcomes);
                    assert!(same, "{name}: {lanes:?} on {t} thread(s) differs");
                } else {
                    first = Some(out);
                }
            }
            for c in 0..configs.len() {
                rate[c].push(*n as f64 / secs[c]);
                // Lanes against the scalar loop on one thread (1) and on `threads` (0); `threads`
                // threads against one, scalar (2) and lanes (3).
                ratios[c].push(match c {
                    0 if configs.len() > 2 => secs[2] / secs[3],
                    1 => secs[0] / secs[1],
                    2 => secs[0] / secs[2],
                    3 => secs[1] / secs[3],
                    _ => 1.0,
                });
            }
            for path in 0..2 {
                cpu_rate[path].push(*n as f64 / cpu[path]);
            }
            cpu_ratio.push(cpu[0] / cpu[1]);
        }
        let rate: Vec<f64> = rate.into_iter().map(median).collect();
        let ratio: Vec<f64> = ratios.into_iter().map(median).collect();
        let per_replicate = events_per_run as f64 / *n as f64;
        println!(
            "{name}: scalar {:.0} reps/s ({:.3e} events/s), avx512 lanes {:.0} reps/s \
             ({:.3e} events/s), median ratio {:.2}x",
            rate[0],
            rate[0] * per_replicate,
            rate[1],
            rate[1] * per_replicate,
            ratio[1]
        );
        if threads > 1 {
            println!(
                "    {threads} threads: scalar {:.0} reps/s, lanes {:.0} reps/s (ratio {:.2}x); \
                 {threads} threads / 1: scalar {:.2}x, lanes {:.2}x",
                rate[2], rate[3], ratio[0], ratio[2], ratio[3]
            );
        }
        let [cpu_scalar, cpu_lanes] = cpu_rate.map(median);
        println!(
            "    on CPU time, 1 thread: scalar {cpu_scalar:.0} reps/s, lanes {cpu_lanes:.0} reps/s, \
             median ratio {:.2}x",
            median(cpu_ratio)
        );
        println!("    {}", exits(&lane_stats));
    }
}
