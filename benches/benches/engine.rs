//! Criterion benches of the engine on the canonical S/P/R model: one long trajectory (events/s) and
//! ensembles on 1 and 2 threads (replicates/s). Run with `cargo bench -p dtp_gillespie_benches`.

use std::sync::atomic::{AtomicBool, AtomicU64};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dtp_gillespie_benches::{
    adaptive_zhang, canonical_model, continuous_on, daily_pk, daily_run, intermittent_14_14,
};
use dtp_gillespie_core::{Dosing, EnsembleSpec, RunConfig, run_ensemble};

fn ensemble(dosing: &Dosing, run: &RunConfig, n: usize, threads: usize) -> u64 {
    let spec = EnsembleSpec {
        seed_key: [1; 32],
        replicate_offset: 0,
        n_replicates: n,
        n_threads: Some(threads),
    };
    let out = run_ensemble(
        &canonical_model(),
        dosing,
        run,
        &spec,
        &AtomicBool::new(false),
        &AtomicU64::new(0),
    )
    .expect("valid run");
    out.per_replicate(|o| o.n_events).iter().sum::<u64>()
}

fn bench(c: &mut Criterion) {
    let on = continuous_on();
    // (a) one trajectory from 1e5 sensitive cells, 30 days under drug (~1.3e5 events).
    let case_a = daily_run(100_000, 30.0);
    let events_a = ensemble(&on, &case_a, 1, 1);
    let mut group = c.benchmark_group("trajectory");
    group.throughput(Throughput::Elements(events_a));
    group.bench_function("a_1e5_cells_30d_on", |b| {
        b.iter(|| ensemble(&on, &case_a, 1, 1));
    });
    group.finish();

    // (c) ensemble of 1e3-cell replicates for 60 days under drug; (d) 14 on / 14 off for 168 days.
    let mut group = c.benchmark_group("ensemble");
    group.sample_size(10);
    let case_c = daily_run(1000, 60.0);
    let case_d = daily_run(10_000, 168.0);
    let schedule_d = intermittent_14_14();
    for threads in [1, 2] {
        group.throughput(Throughput::Elements(1000));
        group.bench_with_input(
            BenchmarkId::new("c_1e3_reps_60d_on", threads),
            &threads,
            |b, &t| {
                b.iter(|| ensemble(&on, &case_c, 1000, t));
            },
        );
        group.throughput(Throughput::Elements(100));
        group.bench_with_input(
            BenchmarkId::new("d_1e2_reps_14on14off", threads),
            &threads,
            |b, &t| {
                b.iter(|| ensemble(&schedule_d, &case_d, 100, t));
            },
        );
    }
    group.finish();

    // Events/s of the three kinds of dosing on the same tumour (1e4 cells, 168 days).
    let mut group = c.benchmark_group("dosing");
    group.sample_size(10);
    let run = daily_run(10_000, 168.0);
    for (name, dosing) in [
        ("fixed_14on14off", intermittent_14_14()),
        ("adaptive_zhang", adaptive_zhang()),
        ("pk_daily", daily_pk(168.0)),
    ] {
        group.throughput(Throughput::Elements(ensemble(&dosing, &run, 20, 1)));
        group.bench_function(name, |b| b.iter(|| ensemble(&dosing, &run, 20, 1)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
