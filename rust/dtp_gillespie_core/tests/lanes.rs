//! SIMD lanes (module `lanes`) against the scalar loops, replicate by replicate and bit for bit,
//! on generated models, fixed schedules, adaptive rules, record grids and caps. On a CPU without
//! a lane kernel the comparison is skipped, and the test says so.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{assert_identical, death, division, switch};
use dtp_gillespie_core::lineage::{LineageSpec, LineageStart, LineageTable};
use dtp_gillespie_core::rng::replicate_rng;
use dtp_gillespie_core::{
    AdaptiveSpec, Channel, Dosing, DosingKind, EnsembleOutput, EnsembleSpec, LaneStats, Lanes,
    Model, Phase, Reference, Rule, RunConfig, Schedule, Status, run_ensemble_lane_stats,
    run_ensemble_on,
};
use rand::{Rng, RngExt};

/// One generated case: a model, a fixed schedule or an adaptive rule, a run.
struct Case {
    model: Model,
    dosing: Dosing,
    run: RunConfig,
    what: String,
}

/// A model of 1 to 4 states, each with 1 to 4 channels (division, possibly mutating into
/// another state; death; switches), rates drawn per exposure, some of them 0.
fn model(g: &mut impl Rng, n_states: usize, n_exposures: usize) -> Model {
    let mut channels: Vec<Channel> = Vec::new();
    for s in 0..n_states {
        let n_channels = g.random_range(1..=4);
        let mut has_death = false;
        for _ in 0..n_channels {
            let other = g.random_range(0..n_states);
            let channel = match g.random_range(0..4) {
                0 | 1 => division(s, s, false),
                2 if !has_death => {
                    has_death = true;
                    death(s)
                }
                _ if other != s => {
                    if g.random_bool(0.5) {
                        switch(s, other)
                    } else {
                        division(s, other, true)
                    }
                }
                _ => division(s, s, g.random_bool(0.2)),
            };
            channels.push(channel);
        }
    }
    let rates = (0..n_exposures * channels.len())
        .map(|_| {
            if g.random_bool(0.15) {
                0.0
            } else {
                g.random_range(0.05..1.0)
            }
        })
        .collect();
    Model::new(n_states, n_exposures, channels, rates, None).expect("a valid generated model")
}

/// A fixed schedule: constant, a plain list, or a repeating cycle.
fn schedule(g: &mut impl Rng, n_exposures: usize, t_end: f64) -> Schedule {
    let kind = g.random_range(0..3);
    let mut exposure = || g.random_range(0..n_exposures);
    match kind {
        0 => Schedule::constant(exposure()),
        1 => {
            let starts = vec![0.0, t_end * 0.3, t_end * 0.55, t_end * 0.8];
            let exposures = starts.iter().map(|_| exposure()).collect();
            Schedule::new(starts, exposures, None).unwrap()
        }
        _ => {
            let on = t_end / 7.0;
            Schedule::new(
                vec![0.0, on],
                vec![exposure(), exposure()],
                Some((0, 2.0 * on)),
            )
            .unwrap()
        }
    }
}

/// An adaptive rule set over `n_exposures` exposures watching a burden of `n_states` states: any
/// reference, continuous monitoring or visits, one to four rules with thresholds below, above or
/// both (relative or in cells), timers (`after`, `min_time`) and phases, so that replicates
/// switch, wait out timers and sit outside the quiet band.
fn adaptive(g: &mut impl Rng, n_states: usize, n_exposures: usize, t_end: f64) -> Dosing {
    let monitor_weights = (0..n_states)
        .map(|_| [0.0, 0.5, 1.0, 2.0][g.random_range(0..4)])
        .collect();
    let reference = [
        Reference::Initial,
        Reference::TreatmentStart,
        Reference::LastSwitch,
        Reference::Absolute,
    ][g.random_range(0..4)];
    let check_every = if g.random_bool(0.7) {
        0.0
    } else {
        t_end / g.random_range(4.0..40.0)
    };
    let rules = (0..g.random_range(1..=4))
        .map(|_| {
            let absolute = reference == Reference::Absolute || g.random_bool(0.2);
            let kind = g.random_range(0..5);
            let mut threshold = |low: f64, high: f64| {
                let x = g.random_range(low..high);
                Some(if absolute { 40.0 * x } else { x })
            };
            let (below, above, after) = match kind {
                0 | 1 => (threshold(0.3, 0.95), None, None),
                2 => (None, threshold(1.05, 2.0), None),
                3 => (threshold(0.9, 2.0), threshold(0.3, 1.1), None),
                _ => (None, None, Some(t_end * g.random_range(0.05..0.4))),
            };
            Rule {
                from: g.random_range(0..n_exposures),
                to: g.random_range(0..n_exposures),
                below,
                above,
                absolute,
                after,
                min_time: if g.random_bool(0.3) {
                    t_end * g.random_range(0.0..0.2)
                } else {
                    0.0
                },
                phase: [
                    Phase::Any,
                    Phase::Any,
                    Phase::BeforeTreatment,
                    Phase::AfterTreatment,
                ][g.random_range(0..4)],
            }
        })
        .collect();
    let treating = (0..n_exposures)
        .map(|e| e > 0 || g.random_bool(0.3))
        .collect();
    Dosing {
        kind: DosingKind::Adaptive(AdaptiveSpec {
            initial_exposure: g.random_range(0..n_exposures),
            monitor_weights,
            monitor_biomarker: false,
            reference,
            check_every,
            rules,
        }),
        treating,
    }
}

/// Generated case `seed`, under an adaptive rule or a fixed schedule.
fn case(seed: u64, adaptive_dosing: bool) -> Case {
    let mut g = replicate_rng(&[9; 32], seed);
    let n_states = g.random_range(1..=4);
    let n_exposures = g.random_range(1..=3);
    let model = model(&mut g, n_states, n_exposures);
    let t_end = g.random_range(2.0..4.0);
    let (mut dosing, kind) = if adaptive_dosing {
        (adaptive(&mut g, n_states, n_exposures, t_end), "adaptive")
    } else {
        let schedule = schedule(&mut g, n_exposures, t_end);
        (Dosing::fixed(schedule, n_exposures, None), "fixed")
    };
    // Record grids: regular (times that also fall on breakpoints), random, repeated times, or
    // dense grids (many record times within one waiting time, written in one go).
    let record_times: Vec<f64> = match g.random_range(0..5) {
        0 => (0..=28)
            .map(|k| (t_end * f64::from(k) / 28.0).min(t_end))
            .collect(),
        1 => {
            let mut t: Vec<f64> = (0..15).map(|_| g.random_range(0.0..t_end)).collect();
            t.sort_by(f64::total_cmp);
            t
        }
        2 => vec![0.0, 0.0, t_end / 3.0, t_end / 3.0, t_end],
        3 => (0..=400)
            .map(|k| (t_end * f64::from(k) / 400.0).min(t_end))
            .collect(),
        _ => {
            // Random times on a coarse grid of 64 steps, so that many repeat.
            let mut t: Vec<f64> = (0..120)
                .map(|_| t_end * f64::from(g.random_range(0..=64u32)) / 64.0)
                .collect();
            t.sort_by(f64::total_cmp);
            t
        }
    };
    let initial: Vec<u64> = (0..n_states).map(|_| g.random_range(0..60)).collect();
    if let DosingKind::Adaptive(spec) = &mut dosing.kind {
        // A reference of 0 is refused before the run starts: where the monitored burden starts
        // at 0, the rules count cells instead (as with an absolute reference).
        let burden: f64 = spec
            .monitor_weights
            .iter()
            .zip(&initial)
            .map(|(w, &n)| w * n as f64)
            .sum();
        if burden == 0.0 {
            spec.reference = Reference::Absolute;
            for rule in spec.rules.iter_mut().filter(|r| !r.absolute) {
                rule.absolute = true;
                rule.below = rule.below.map(|x| 40.0 * x);
                rule.above = rule.above.map(|x| 40.0 * x);
            }
        }
    }
    let (max_events, max_population) = match g.random_range(0..4) {
        0 => (g.random_range(1..400), u64::MAX),
        1 => (u64::MAX, g.random_range(1..150)),
        // Uncapped in effect: a few thousand cells at most, so that debug builds stay quick.
        _ => (u64::MAX, 4000),
    };
    let what = format!(
        "{kind} case {seed}: {n_states} states, {} channels, {n_exposures} exposures, \
         max_events {max_events}, max_population {max_population}",
        model.channels().len()
    );
    Case {
        model,
        dosing,
        run: RunConfig {
            initial,
            record_times,
            t_end,
            max_events,
            max_population,
            progression: None,
            force_general_loop: false,
            lineages: None,
        },
        what,
    }
}

fn ensemble(
    case: &Case,
    run: &RunConfig,
    lanes: Lanes,
    offset: u64,
    n: usize,
    threads: usize,
) -> (EnsembleOutput, u64) {
    let (out, stats) = ensemble_stats(case, run, lanes, offset, n, threads);
    (out, stats.events)
}

/// [`ensemble`] with what the lanes did.
fn ensemble_stats(
    case: &Case,
    run: &RunConfig,
    lanes: Lanes,
    offset: u64,
    n: usize,
    threads: usize,
) -> (EnsembleOutput, LaneStats) {
    let spec = EnsembleSpec {
        seed_key: [5; 32],
        replicate_offset: offset,
        n_replicates: n,
        n_threads: Some(threads),
    };
    let (cancel, done) = (AtomicBool::new(false), AtomicU64::new(0));
    let out = run_ensemble_lane_stats(&case.model, &case.dosing, run, &spec, &cancel, &done, lanes)
        .unwrap();
    // Every replicate is counted as done by the end (the lanes count them per batch taken).
    assert_eq!(
        done.load(Ordering::Relaxed),
        n as u64,
        "{lanes:?}, {threads} thread(s)"
    );
    out
}

/// Every lane kernel this CPU has. Without one, the calling test says it skipped the lanes on
/// the process's stderr itself: libtest swallows the `eprintln!` of a passing test, and a CPU
/// without AVX-512 must not look like one whose lanes passed.
fn kernels() -> Vec<Lanes> {
    if Lanes::avx512_available() {
        // Each width, and the one chosen by the number of replicates (8 here: the cases run
        // fewer than 128 replicates).
        vec![Lanes::Avx512Narrow, Lanes::Avx512Wide, Lanes::Avx512]
    } else {
        use std::io::Write;
        let test = std::thread::current().name().unwrap_or("lanes").to_owned();
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED {test}: this CPU has no AVX-512 (F and DQ), so the AVX-512 lanes are not tested"
        );
        Vec::new()
    }
}

/// Every generated case of one kind through every lane kernel this CPU has, against the scalar
/// hot loop and the general loop, on 1 and 2 threads and split into two calls; most events must
/// have been fired in lanes, the record times passed in a burst written and the ziggurat's misses
/// finished in the vector loop, and the cases must have ended every way a replicate ends.
fn lanes_match_the_scalar_loop_on(adaptive_dosing: bool) {
    let mut statuses = std::collections::HashSet::new();
    let mut switches = 0;
    for kernel in kernels() {
        let (mut lane_total, mut all_total) = (0, 0);
        let (mut in_loop, mut record_exits, mut misses) = (0, 0, 0);
        for seed in 0..cases() {
            let case = case(seed, adaptive_dosing);
            let general = RunConfig {
                force_general_loop: true,
                ..case.run.clone()
            };
            let n = 20 + (seed as usize % 3) * 11;
            let (scalar, none) = ensemble(&case, &case.run, Lanes::Scalar, 3, n, 1);
            let (forced, _) = ensemble(&case, &general, Lanes::Scalar, 3, n, 1);
            assert_eq!(none, 0);
            assert_identical(&scalar, &forced);
            let (lanes, stats) = ensemble_stats(&case, &case.run, kernel, 3, n, 1);
            let lane_events = stats.events;
            assert_width(kernel, &stats, false);
            eprintln!(
                "{} ({n} replicates): {lane_events} events and {} record times in lanes",
                case.what, stats.records_in_loop
            );
            in_loop += stats.records_in_loop;
            record_exits += stats.record_exits;
            misses += stats.misses_in_loop;
            assert_identical(&lanes, &scalar);
            // Any thread count, any split of the replicates into calls.
            let (two, _) = ensemble(&case, &case.run, kernel, 3, n, 2);
            assert_identical(&two, &scalar);
            let (head, _) = ensemble(&case, &case.run, kernel, 3, 9, 1);
            let (tail, _) = ensemble(&case, &case.run, kernel, 12, n - 9, 2);
            let joined = EnsembleOutput {
                counts: [head.counts, tail.counts].concat(),
                exposure: [head.exposure, tail.exposure].concat(),
                outcomes: [head.outcomes, tail.outcomes].concat(),
                ..EnsembleOutput::default()
            };
            assert_identical(&joined, &scalar);
            lane_total += lane_events;
            all_total += scalar.per_replicate(|o| o.n_events).iter().sum::<u64>();
            statuses.extend(scalar.per_replicate(|o| o.status as i8));
            switches += scalar.per_replicate(|o| o.n_switches).iter().sum::<u64>();
        }
        // The lanes really ran: most events were fired in them.
        assert!(
            2 * lane_total > all_total,
            "{kernel:?}: {lane_total} of {all_total} events in lanes"
        );
        // The vector loop wrote the record times its lanes passed, without leaving.
        assert!(
            in_loop > 1000 && record_exits == 0,
            "{kernel:?}: {in_loop} record times written in the vector loop, {record_exits} \
             lanes left it for a record time"
        );
        // And finished the ziggurat draws whose first try missed (about 2% of the draws).
        assert!(
            50 * misses > lane_total / 10,
            "{kernel:?}: {misses} misses finished in the vector loop, {lane_total} events"
        );
    }
    if !statuses.is_empty() {
        assert_every_status(&statuses);
        assert!(switches > 0, "no replicate switched its exposure");
    }
}

/// The lanes ran as wide as `kernel` asks: 16 for `Avx512Wide`, 8 for `Avx512Narrow`, and for
/// `Avx512` 16 only where each thread had at least 128 replicates of an untracked run (`many`).
fn assert_width(kernel: Lanes, stats: &LaneStats, many: bool) {
    let wide = kernel == Lanes::Avx512Wide || (kernel == Lanes::Avx512 && many);
    let (ran, other) = if wide {
        (stats.wide_sets, stats.narrow_sets)
    } else {
        (stats.narrow_sets, stats.wide_sets)
    };
    assert!(
        ran > 0 && other == 0,
        "{kernel:?}: {} sets of 8 lanes, {} of 16",
        stats.narrow_sets,
        stats.wide_sets
    );
}

/// The cases ended every way a replicate ends (`statuses` holds each replicate's status).
fn assert_every_status(statuses: &std::collections::HashSet<i8>) {
    for status in [
        Status::Completed,
        Status::Extinct,
        Status::MaxEvents,
        Status::MaxPopulation,
    ] {
        assert!(
            statuses.contains(&(status as i8)),
            "no case ended {status:?}"
        );
    }
}

#[test]
fn every_lane_kernel_gives_every_replicate_the_scalar_trajectory() {
    lanes_match_the_scalar_loop_on(false);
}

#[test]
fn every_lane_kernel_gives_every_adaptive_replicate_the_scalar_trajectory() {
    lanes_match_the_scalar_loop_on(true);
}

#[test]
fn blocks_of_replicates_spread_over_threads_change_nothing() {
    // More replicates than one block of lanes holds (256), on 1 and 2 threads.
    for kernel in kernels() {
        let mut fired = 0;
        for (seed, adaptive_dosing) in [(2, false), (5, false), (11, false), (4, true)] {
            let case = case(seed, adaptive_dosing);
            let (scalar, _) = ensemble(&case, &case.run, Lanes::Scalar, 0, 700, 1);
            let all: u64 = scalar.per_replicate(|o| o.n_events).iter().sum();
            for threads in [1, 2] {
                let (lanes, stats) = ensemble_stats(&case, &case.run, kernel, 0, 700, threads);
                let lane_events = stats.events;
                assert_identical(&lanes, &scalar);
                // 700 replicates: at least 128 per thread.
                if lane_events > 0 {
                    assert_width(kernel, &stats, true);
                }
                let what = &case.what;
                assert!(
                    2 * lane_events >= all,
                    "{what}: {lane_events} of {all} in lanes"
                );
                fired += lane_events;
            }
        }
        assert!(fired > 0, "{kernel:?}: no events in lanes");
    }
}

#[test]
fn asking_for_lanes_the_cpu_lacks_is_an_error_and_other_runs_stay_scalar() {
    let case = case(1, false);
    let spec = EnsembleSpec {
        seed_key: [5; 32],
        replicate_offset: 0,
        n_replicates: 16,
        n_threads: Some(1),
    };
    let run = |lanes| {
        run_ensemble_on(
            &case.model,
            &case.dosing,
            &case.run,
            &spec,
            &AtomicBool::new(false),
            &AtomicU64::new(0),
            lanes,
        )
    };
    for lanes in [Lanes::Avx512, Lanes::Avx512Narrow, Lanes::Avx512Wide] {
        if Lanes::avx512_available() {
            assert!(run(lanes).is_ok());
        } else {
            let err = run(lanes).unwrap_err().to_string();
            assert!(err.contains("AVX-512"), "{err}");
        }
    }
    // The general loop, when forced, is never replaced by lanes.
    let forced = RunConfig {
        force_general_loop: true,
        ..case.run.clone()
    };
    let out = run_ensemble_on(
        &case.model,
        &case.dosing,
        &forced,
        &spec,
        &AtomicBool::new(false),
        &AtomicU64::new(0),
        Lanes::Detect,
    )
    .unwrap();
    assert_eq!(out.1, 0);
}

/// Generated cases per kernel (`DTP_LANE_CASES`, default 60).
fn cases() -> u64 {
    std::env::var("DTP_LANE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

/// What generated case `seed` tracks: founders or a library of 1 to 20 barcodes, clones or not,
/// barcode times on the record grid, elsewhere (regular, random, repeated) or none (clones only).
fn lineage_spec(seed: u64, run: &RunConfig) -> LineageSpec {
    let mut g = replicate_rng(&[13; 32], seed);
    let start = if g.random_bool(0.5) {
        LineageStart::Founders
    } else {
        LineageStart::Library {
            n_barcodes: g.random_range(1..=20),
        }
    };
    let t_end = run.t_end;
    let times = match g.random_range(0..5) {
        0 => run.record_times.clone(),
        // `t_end * 9 / 9` may round one ulp past `t_end`, which a run refuses.
        1 => (0..=9)
            .map(|k| (t_end * f64::from(k) / 9.0).min(t_end))
            .collect(),
        2 => {
            let mut t: Vec<f64> = (0..7).map(|_| g.random_range(0.0..t_end)).collect();
            t.sort_by(f64::total_cmp);
            t
        }
        3 => vec![0.0, t_end / 2.0, t_end / 2.0, t_end],
        _ => Vec::new(),
    };
    LineageSpec {
        start,
        // Without barcode times only clones are recorded.
        clones: times.is_empty() || g.random_bool(0.5),
        times,
        next_clone: 1,
    }
}

/// The output of replicates `offset..offset + n` as two calls split at `offset + 9`, joined.
fn split_in_two(
    case: &Case,
    run: &RunConfig,
    lanes: Lanes,
    offset: u64,
    n: usize,
) -> EnsembleOutput {
    let (head, _) = ensemble(case, run, lanes, offset, 9, 1);
    let (tail, _) = ensemble(case, run, lanes, offset + 9, n - 9, 2);
    let mut lineages = head.lineages.expect("tracked");
    lineages.append(&mut tail.lineages.expect("tracked"));
    EnsembleOutput {
        counts: [head.counts, tail.counts].concat(),
        exposure: [head.exposure, tail.exposure].concat(),
        outcomes: [head.outcomes, tail.outcomes].concat(),
        lineages: Some(lineages),
        ..EnsembleOutput::default()
    }
}

/// Bit-for-bit equality of two tracked outputs: counts, outcomes and the lineage and clone
/// tables (their debug text writes floats exactly and NaN as NaN).
fn assert_same_tracking(a: &EnsembleOutput, b: &EnsembleOutput, what: &str) {
    assert_identical(a, b);
    let (ta, tb) = (format!("{:?}", a.lineages), format!("{:?}", b.lineages));
    assert!(ta == tb, "{what}: the lineage tables differ");
}

/// Every generated case of one kind, tracked, through every lane kernel this CPU has, against
/// the scalar path's tracking (the hot loop's replay): the same counts as untracked, the same
/// lineage and clone tables, on 1 and 2 threads and split into two calls; most events must have
/// been fired in lanes.
fn tracked_lanes_match_the_scalar_loop_on(adaptive_dosing: bool) {
    let (mut tables, mut clones) = (0, 0);
    let mut statuses = std::collections::HashSet::new();
    for kernel in kernels() {
        let (mut lane_total, mut all_total) = (0, 0);
        for seed in 0..cases() {
            let case = case(seed, adaptive_dosing);
            let tracked = RunConfig {
                lineages: Some(lineage_spec(seed, &case.run)),
                ..case.run.clone()
            };
            let what = format!("{} tracking {:?}", case.what, tracked.lineages);
            let n = 20 + (seed as usize % 3) * 11;
            let (scalar, none) = ensemble(&case, &tracked, Lanes::Scalar, 3, n, 1);
            assert_eq!(none, 0);
            let (untracked, _) = ensemble(&case, &case.run, kernel, 3, n, 1);
            assert_identical(&scalar, &untracked);
            let (lanes, lane_events) = ensemble(&case, &tracked, kernel, 3, n, 1);
            eprintln!("{what} ({n} replicates): {lane_events} events in lanes");
            assert_same_tracking(&lanes, &scalar, &what);
            let (two, _) = ensemble(&case, &tracked, kernel, 3, n, 2);
            assert_same_tracking(&two, &scalar, &what);
            assert_same_tracking(&split_in_two(&case, &tracked, kernel, 3, n), &scalar, &what);
            let out = scalar.lineages.as_ref().expect("tracked");
            tables += out.rows.count.len();
            clones += out.clones.id.len();
            statuses.extend(scalar.per_replicate(|o| o.status as i8));
            lane_total += lane_events;
            all_total += scalar.per_replicate(|o| o.n_events).iter().sum::<u64>();
        }
        assert!(
            2 * lane_total > all_total,
            "{kernel:?}: {lane_total} of {all_total} tracked events in lanes"
        );
        assert!(
            tables > 0 && clones > 0,
            "{tables} table rows, {clones} clones"
        );
        assert_every_status(&statuses);
    }
}

#[test]
fn tracked_lanes_give_every_replicate_the_scalar_lineages() {
    tracked_lanes_match_the_scalar_loop_on(false);
}

#[test]
fn tracked_lanes_give_every_adaptive_replicate_the_scalar_lineages() {
    tracked_lanes_match_the_scalar_loop_on(true);
}

#[test]
fn tracked_blocks_over_threads_and_full_logs_change_nothing() {
    // More replicates than a block holds (256); and bursts longer than the lanes' event log
    // (128 events: hundreds of cells, one record time, a high cap) so that full logs are shown to
    // the trackers in the middle of bursts.
    for kernel in kernels() {
        for (seed, adaptive_dosing) in [(2, false), (5, false), (4, true)] {
            let generated = case(seed, adaptive_dosing);
            let mut crowded = case(seed, adaptive_dosing);
            crowded.run.record_times = vec![crowded.run.t_end];
            crowded.run.initial.iter_mut().for_each(|n| *n = 400);
            (crowded.run.max_population, crowded.run.max_events) = (5000, u64::MAX);
            // Two sets of 16 lanes' worth of crowded replicates: a set that cannot fill its
            // lanes runs them on the scalar path, so on two threads at least one set fills.
            for (case, n) in [(generated, 260), (crowded, 32)] {
                for clones in [false, true] {
                    let tracked = RunConfig {
                        lineages: Some(LineageSpec {
                            start: LineageStart::Founders,
                            times: vec![case.run.t_end / 3.0, case.run.t_end],
                            clones,
                            next_clone: 1,
                        }),
                        ..case.run.clone()
                    };
                    let what = format!("{}, {:?}, clones {clones}", case.what, case.run.initial);
                    let (scalar, _) = ensemble(&case, &tracked, Lanes::Scalar, 0, n, 1);
                    let all: u64 = scalar.per_replicate(|o| o.n_events).iter().sum();
                    for threads in [1, 2] {
                        let (lanes, stats) = ensemble_stats(&case, &tracked, kernel, 0, n, threads);
                        let lane_events = stats.events;
                        assert_same_tracking(&lanes, &scalar, &what);
                        // Tracked runs take 16 lanes only when asked, however many replicates.
                        if lane_events > 0 {
                            assert_width(kernel, &stats, false);
                        }
                        // On two threads, how the few replicates split between the threads'
                        // lanes (and so how many events the scalar tail fires) depends on
                        // timing; on one it does not.
                        let wanted = if threads == 1 { all.div_ceil(2) } else { 1 };
                        assert!(
                            lane_events >= wanted,
                            "{what}, {threads} thread(s): {lane_events} of {all} in lanes"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_table_start_stays_on_the_scalar_path() {
    let case = case(1, false);
    let n_states = case.model.n_states();
    let table = LineageTable {
        offsets: vec![0, 1],
        barcode: vec![7],
        clone: vec![0],
        count: vec![5; n_states],
        n_columns: n_states,
    };
    let tracked = RunConfig {
        lineages: Some(LineageSpec {
            start: LineageStart::Table(table),
            times: vec![case.run.t_end],
            clones: false,
            next_clone: 1,
        }),
        ..case.run.clone()
    };
    let (_, lane_events) = ensemble(&case, &tracked, Lanes::Detect, 0, 4, 1);
    assert_eq!(lane_events, 0);
}
