//! Tracked against untracked runs on benchmark case (d) of `benches/bench-model.toml` (the S/P/R
//! model from 10⁴ sensitive cells, 14 days on / 14 off, to day 168), in events per second on one
//! thread: untracked (in SIMD lanes where the CPU has them, as `run_ensemble` chooses), untracked
//! through the scalar hot loop (`Lanes::Scalar`), untracked through the general loop only
//! (`RunConfig::force_general_loop`), and tracked with B = 10 and 10³ barcodes (a library) and
//! 10⁴ (one per founder), each as `run_ensemble` chooses (in lanes where the CPU has them) and,
//! for 10⁴, through the scalar hot loop and the general loop.
//!
//! The cases run interleaved, one after the other in each of several rounds, so that a shared
//! machine's load falls on all of them alike; the report gives each case's median events/s and
//! the medians over rounds of its ratios to the two untracked runs (lanes, scalar loop) of the
//! same round. Barcodes are
//! recorded at `t_end` only, so that the figure is the cost per event (`--daily` records them
//! daily as well, which adds the cost of writing the lineage table).
//!
//! `cargo bench -p dtp_gillespie_benches --bench tracking [-- --rounds N --replicates M --daily]`
//! (`--only TEXT` runs the untracked case and the cases whose name contains TEXT, for profilers).

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

use dtp_gillespie_benches::{canonical_model, daily_run, intermittent_14_14};
use dtp_gillespie_core::lineage::{LineageSpec, LineageStart};
use dtp_gillespie_core::{Dosing, EnsembleSpec, Lanes, Model, RunConfig, run_ensemble_on};

/// One case: a name, its run, and the lanes it may use.
struct Case {
    name: String,
    run: RunConfig,
    lanes: Lanes,
}

fn cases(daily: bool) -> Vec<Case> {
    let base = daily_run(10_000, 168.0);
    let times = if daily {
        base.record_times.clone()
    } else {
        vec![base.t_end]
    };
    let tracked = |start: LineageStart, general: bool| RunConfig {
        lineages: Some(LineageSpec {
            start,
            times: times.clone(),
            clones: false,
            next_clone: 1,
        }),
        force_general_loop: general,
        ..base.clone()
    };
    let library = |n_barcodes| LineageStart::Library { n_barcodes };
    vec![
        Case {
            name: "untracked".into(),
            run: base.clone(),
            lanes: Lanes::Detect,
        },
        Case {
            name: "untracked, scalar loop".into(),
            run: base.clone(),
            lanes: Lanes::Scalar,
        },
        Case {
            name: "untracked, general loop".into(),
            run: RunConfig {
                force_general_loop: true,
                ..base.clone()
            },
            lanes: Lanes::Detect,
        },
        Case {
            name: "tracked, B = 10 (library)".into(),
            run: tracked(library(10), false),
            lanes: Lanes::Detect,
        },
        Case {
            name: "tracked, B = 10^3 (library)".into(),
            run: tracked(library(1000), false),
            lanes: Lanes::Detect,
        },
        Case {
            name: "tracked, B = 10^4 (founders)".into(),
            run: tracked(LineageStart::Founders, false),
            lanes: Lanes::Detect,
        },
        Case {
            name: "tracked, B = 10^4, scalar loop".into(),
            run: tracked(LineageStart::Founders, false),
            lanes: Lanes::Scalar,
        },
        Case {
            name: "tracked, B = 10^4, general loop".into(),
            run: tracked(LineageStart::Founders, true),
            lanes: Lanes::Detect,
        },
    ]
}

/// Events per second of `n` replicates of `run` on one thread.
fn events_per_second(model: &Model, dosing: &Dosing, case: &Case, n: usize) -> f64 {
    let spec = EnsembleSpec {
        seed_key: [1; 32],
        replicate_offset: 0,
        n_replicates: n,
        n_threads: Some(1),
    };
    let (cancel, done) = (AtomicBool::new(false), AtomicU64::new(0));
    let start = Instant::now();
    let (out, _) = run_ensemble_on(model, dosing, &case.run, &spec, &cancel, &done, case.lanes)
        .expect("a valid run");
    let seconds = start.elapsed().as_secs_f64();
    let events: u64 = out.outcomes.iter().map(|o| o.n_events).sum();
    events as f64 / seconds
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let m = values.len() / 2;
    if values.len() % 2 == 1 {
        values[m]
    } else {
        f64::midpoint(values[m - 1], values[m])
    }
}

/// The value after `flag` in the arguments, if any.
fn option(args: &[String], flag: &str) -> Option<usize> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1)?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds = option(&args, "--rounds").unwrap_or(9);
    let replicates = option(&args, "--replicates").unwrap_or(40);
    let daily = args.iter().any(|a| a == "--daily");
    let (model, dosing) = (canonical_model(), intermittent_14_14());
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|at| args.get(at + 1));
    let mut cases = cases(daily);
    if let Some(text) = only {
        // The untracked cases (lanes, scalar loop) stay first: the ratios are to them.
        let mut k = 0;
        cases.retain(|case| {
            k += 1;
            k <= 2 || case.name.contains(text.as_str())
        });
    }
    // rates[case][round]
    let mut rates = vec![Vec::with_capacity(rounds); cases.len()];
    for _ in 0..rounds {
        for (case, rate) in cases.iter().zip(&mut rates) {
            rate.push(events_per_second(&model, &dosing, case, replicates));
        }
    }
    let barcode_times = if daily { "daily" } else { "t_end only" };
    println!(
        "case (d), {replicates} replicates per measurement, {rounds} rounds, one thread, \
         barcode times: {barcode_times}"
    );
    println!(
        "{:<34} {:>12} {:>20} {:>20}",
        "case", "M events/s", "÷ untracked (lanes)", "÷ untracked (scalar)"
    );
    for (case, rate) in cases.iter().zip(&rates) {
        let ratio = |to: &[f64]| {
            let mut ratios: Vec<f64> = rate.iter().zip(to).map(|(r, u)| r / u).collect();
            median(&mut ratios)
        };
        let mut rate_sorted = rate.clone();
        println!(
            "{:<34} {:>12.2} {:>20.3} {:>20.3}",
            case.name,
            median(&mut rate_sorted) / 1e6,
            ratio(&rates[0]),
            ratio(&rates[1])
        );
    }
}
