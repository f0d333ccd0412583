//! Engine behaviour: breakpoints, recording, reproducibility, caps. Statistical checks use exact
//! values from the Kendall birth-death process and the two-state switching chain, with |z| < 3.29
//! (two-sided alpha = 0.001) and a fixed seed, and each is shown to reject a model off by 20%.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64};

use common::*;
use dtp_gillespie_core::{
    ChannelKind, Dosing, EngineError, EnsembleSpec, RunConfig, Schedule, Status, run_ensemble,
    trace,
};

const Z_CRIT: f64 = 3.29;

/// O8 sentinel: d = 0.1 on [0,1), d = 1.0 on [1,2). P(survive to 2) = exp(-1.1).
fn pure_death_survival(d_late: f64) -> f64 {
    let model = birth_death(&[(0.0, 0.1), (0.0, d_late)]);
    let schedule = Schedule::new(vec![0.0, 1.0], vec![0, 1], None).unwrap();
    let run = run(vec![1], 2.0, vec![2.0]);
    let n = 2000;
    let out = ensemble(&model, &schedule, &run, n, 0, 2);
    out.counts.iter().filter(|&&c| c == 1).count() as f64 / n as f64
}

#[test]
fn pure_death_breakpoint_sentinel() {
    let p = (-1.1f64).exp();
    let var = p * (1.0 - p);
    assert!(z(pure_death_survival(1.0), p, var, 2000).abs() < Z_CRIT);
    // The same check rejects a late death rate off by 20%.
    assert!(z(pure_death_survival(1.2), p, var, 2000).abs() > Z_CRIT);
}

#[test]
fn kendall_mean_matches() {
    // O1: lambda = 1, mu = 0.5, n0 = 10, t = 2: mean 27.182818, variance 140.123228.
    let check = |b: f64| {
        let model = birth_death(&[(b, 0.5)]);
        let out = ensemble(
            &model,
            &Schedule::constant(0),
            &run(vec![10], 2.0, vec![0.0, 2.0]),
            400,
            0,
            2,
        );
        let finals: Vec<f64> = out.counts.chunks(2).map(|c| c[1] as f64).collect();
        let mean = finals.iter().sum::<f64>() / finals.len() as f64;
        z(mean, 27.182_818, 140.123_228, finals.len())
    };
    assert!(check(1.0).abs() < Z_CRIT);
    assert!(check(1.2).abs() > Z_CRIT);
}

#[test]
fn replicate_streams_do_not_depend_on_threads_or_batches() {
    let model = birth_death(&[(1.0, 0.6), (0.3, 1.0)]);
    let schedule = Schedule::new(vec![0.0, 1.5], vec![0, 1], Some((0, 3.0))).unwrap();
    let run = run(vec![5], 6.0, (0..=12).map(|k| f64::from(k) * 0.5).collect());
    let whole = ensemble(&model, &schedule, &run, 64, 0, 1);
    assert_identical(&whole, &ensemble(&model, &schedule, &run, 64, 0, 2));
    let tail = ensemble(&model, &schedule, &run, 24, 40, 2);
    assert_eq!(&whole.counts[40 * 13..], &tail.counts[..]);
    assert_eq!(&n_events(&whole)[40..], &n_events(&tail)[..]);
}

#[test]
fn record_grid_does_not_change_trajectories() {
    let model = birth_death(&[(1.0, 0.6), (0.3, 1.0)]);
    let schedule = Schedule::new(vec![0.0, 1.5], vec![0, 1], Some((0, 3.0))).unwrap();
    let coarse = run(vec![5], 6.0, vec![0.0, 3.0, 6.0]);
    let fine = run(
        vec![5],
        6.0,
        (0..=600).map(|k| f64::from(k) * 0.01).collect(),
    );
    let a = ensemble(&model, &schedule, &coarse, 50, 0, 2);
    let b = ensemble(&model, &schedule, &fine, 50, 0, 2);
    assert_eq!(n_events(&a), n_events(&b));
    assert_eq!(stop_time(&a), stop_time(&b));
    for r in 0..50 {
        for (k, idx) in [(0, 0), (1, 300), (2, 600)] {
            assert_eq!(a.counts[r * 3 + k], b.counts[r * 601 + idx]);
        }
    }
}

#[test]
fn recorded_counts_and_exposures_match_the_event_trace() {
    let model = birth_death(&[(1.0, 0.6), (0.3, 1.0)]);
    let schedule = Schedule::new(vec![0.0, 1.5], vec![0, 1], Some((0, 3.0))).unwrap();
    let times: Vec<f64> = (0..=40).map(|k| f64::from(k) * 0.15).collect();
    let run = run(vec![5], 6.0, times.clone());
    let out = ensemble(&model, &schedule, &run, 8, 0, 1);
    for r in 0..8 {
        let tr = trace(
            &model,
            &Dosing::fixed(schedule.clone(), 2, None),
            &run,
            &[42; 32],
            r as u64,
            &AtomicBool::new(false),
        )
        .unwrap();
        for (k, &tau) in times.iter().enumerate() {
            let last = tr.time.partition_point(|&t| t <= tau) - 1;
            let expected = if tau > tr.stop_time && tr.status != Some(Status::Extinct) {
                -1
            } else {
                tr.counts[last]
            };
            assert_eq!(
                out.counts[r * times.len() + k],
                expected,
                "replicate {r} time {tau}"
            );
            assert_eq!(
                out.exposure[r * times.len() + k] as usize,
                schedule.segment_at(tau).unwrap().exposure
            );
        }
        // No event lies exactly on or across a breakpoint: each event's exposure is the schedule's.
        for (t, e) in tr.time.iter().zip(&tr.exposure).skip(1) {
            assert_eq!(schedule.segment_at(*t).unwrap().exposure, *e as usize);
        }
    }
}

#[test]
fn zero_rate_phases_have_no_events() {
    // Switching only under exposure 1; all events must fall inside exposure-1 segments.
    let model = two_state(&[(0.0, 0.0), (2.0, 1.0)]);
    let schedule = Schedule::new(vec![0.0, 0.7], vec![0, 1], Some((0, 1.3))).unwrap();
    let run = run(vec![30, 0], 10.0, vec![10.0]);
    let tr = trace(
        &model,
        &Dosing::fixed(schedule.clone(), 2, None),
        &run,
        &[1; 32],
        0,
        &AtomicBool::new(false),
    )
    .unwrap();
    assert!(tr.time.len() > 10);
    for t in &tr.time[1..] {
        assert_eq!(schedule.segment_at(*t).unwrap().exposure, 1, "event at {t}");
    }
    // Switching conserves the total.
    assert!(tr.counts.chunks(2).all(|c| c[0] + c[1] == 30));
}

#[test]
fn caps_stop_replicates_and_say_so() {
    let model = birth_death(&[(1.0, 0.0)]);
    let mut r = run(vec![1], 50.0, vec![0.0, 50.0]);
    r.max_population = 100;
    let out = ensemble(&model, &Schedule::constant(0), &r, 4, 0, 1);
    assert!(
        status(&out)
            .iter()
            .all(|&s| s == Status::MaxPopulation as i8)
    );
    assert!(n_events(&out).iter().all(|&n| n == 99));
    assert!(out.counts.chunks(2).all(|c| c == [1, -1]));
    r.max_population = u64::MAX;
    r.max_events = 10;
    let out = ensemble(&model, &Schedule::constant(0), &r, 4, 0, 1);
    assert!(status(&out).iter().all(|&s| s == Status::MaxEvents as i8));
    assert!(stop_time(&out).iter().all(|&t| t < 50.0));
}

#[test]
fn extinction_is_absorbing_and_recorded() {
    let model = birth_death(&[(0.0, 1.0)]);
    let run = run(vec![3], 100.0, vec![0.0, 50.0, 100.0]);
    let out = ensemble(&model, &Schedule::constant(0), &run, 10, 0, 1);
    for r in 0..10 {
        assert_eq!(out.outcomes[r].status, Status::Extinct);
        assert_eq!(out.outcomes[r].n_events, 3);
        assert!(out.outcomes[r].extinction_time > 0.0 && out.outcomes[r].extinction_time < 100.0);
        assert_eq!(&out.counts[r * 3..r * 3 + 3], &[3, 0, 0]);
    }
}

#[test]
fn invalid_runs_are_errors_not_panics() {
    let model = birth_death(&[(1.0, 0.5)]);
    let bad_runs = [
        RunConfig {
            initial: vec![1, 2],
            ..run(vec![1], 1.0, vec![0.0])
        },
        run(vec![1], f64::NAN, vec![0.0]),
        run(vec![1], 1.0, vec![2.0]),
        run(vec![1], 1.0, vec![0.5, 0.1]),
        RunConfig {
            max_events: 0,
            ..run(vec![1], 1.0, vec![0.0])
        },
    ];
    for r in bad_runs {
        assert!(
            matches!(r.validate(&model), Err(EngineError::InvalidRun(_))),
            "{r:?}"
        );
    }
    let two_exposures = Schedule::new(vec![0.0, 1.0], vec![0, 1], None).unwrap();
    assert!(matches!(
        dtp_gillespie_core::ensemble::validate(
            &model,
            &Dosing::fixed(two_exposures, 2, None),
            &run(vec![1], 1.0, vec![0.0])
        ),
        Err(EngineError::InvalidSchedule(_))
    ));
}

#[test]
fn outputs_too_large_to_allocate_are_errors_not_panics() {
    let model = birth_death(&[(1.0, 0.5)]);
    let dosing = Dosing::fixed(Schedule::constant(0), 1, None);
    // usize::MAX replicates x 2 record times overflow the output's length; 2^61 x 2 counts of 8
    // bytes overflow the largest possible allocation.
    for n in [usize::MAX, 1 << 61] {
        let spec = EnsembleSpec {
            seed_key: [42; 32],
            replicate_offset: 0,
            n_replicates: n,
            n_threads: Some(1),
        };
        let result = run_ensemble(
            &model,
            &dosing,
            &run(vec![1], 1.0, vec![0.0, 1.0]),
            &spec,
            &AtomicBool::new(false),
            &AtomicU64::new(0),
        );
        match result {
            Err(EngineError::InvalidRun(message)) => {
                assert!(message.contains("cannot allocate"), "{message}");
            }
            other => panic!("{n} replicates: expected an InvalidRun error, got {other:?}"),
        }
    }
}

#[test]
fn populations_stop_before_counts_overflow_int64() {
    let model = birth_death(&[(1.0, 0.0)]);
    let mut r = run(vec![i64::MAX as u64 - 2], 1.0, vec![0.0, 1.0]);
    r.max_events = 10;
    let out = ensemble(&model, &Schedule::constant(0), &r, 1, 0, 1);
    assert_eq!(status(&out), [Status::MaxPopulation as i8]);
    assert_eq!(n_events(&out), [2]);
    assert_eq!(out.counts, [i64::MAX - 2, -1]);
}

#[test]
fn a_population_already_at_the_cap_stops_at_time_zero() {
    let model = birth_death(&[(0.0, 0.0)]);
    let mut r = run(vec![100], 1.0, vec![0.0, 1.0]);
    r.max_population = 50;
    let out = ensemble(&model, &Schedule::constant(0), &r, 1, 0, 1);
    assert_eq!(status(&out), [Status::MaxPopulation as i8]);
    assert_eq!(stop_time(&out), [0.0]);
    assert_eq!(out.counts, [100, -1]);
}

/// A chain of `n` states: each divides (one daughter may mutate into the next state), dies and
/// switches to the next; rates differ per state and per exposure.
fn chain(n: usize) -> dtp_gillespie_core::Model {
    let mut channels = Vec::new();
    for s in 0..n {
        channels.push(division(s, s, false));
        if s + 1 < n {
            channels.push(division(s, s + 1, true));
            channels.push(switch(s, s + 1));
        }
        channels.push(death(s));
        if s > 0 {
            channels.push(switch(s, s - 1));
        }
    }
    channels.sort_by_key(|c| c.source);
    let rates = (0..2)
        .flat_map(|e| {
            channels.iter().enumerate().map(move |(c, ch)| {
                let base = 0.2 + 0.05 * ((c * 7 + e * 3) % 11) as f64;
                match ch.kind {
                    _ if ch.is_mutation => base * 0.01,
                    ChannelKind::Death if e == 1 => base * 2.0,
                    ChannelKind::Death => base * 0.5,
                    _ => base,
                }
            })
        })
        .collect();
    dtp_gillespie_core::Model::new(n, 2, channels, rates, None).unwrap()
}

/// The dosings the hot loop serves: a fixed schedule, adaptive dosing (continuous monitoring with
/// a burden band, and visits) and pharmacokinetic boluses.
fn dosings(n: usize, n_channels: usize) -> Vec<(&'static str, Dosing)> {
    use dtp_gillespie_core::{AdaptiveSpec, DosingKind, PkSpec, Reference};
    let schedule = Schedule::new(vec![0.0, 0.9], vec![0, 1], Some((0, 2.1))).unwrap();
    let adaptive = |check_every| Dosing {
        kind: DosingKind::Adaptive(AdaptiveSpec {
            initial_exposure: 1,
            monitor_weights: (0..n).map(|s| 1.0 / (1.0 + s as f64)).collect(),
            monitor_biomarker: false,
            reference: Reference::TreatmentStart,
            check_every,
            rules: vec![rule(1, 0, Some(0.9), None), rule(0, 1, None, Some(1.05))],
        }),
        treating: vec![false, true],
    };
    let pk = pk_dosing(PkSpec {
        missed_dose_probability: 0.2,
        ..bolus_spec(vec![0.0, 1.3, 2.6, 3.9, 5.2], 3.0, 0.8, 2.0, n_channels)
    });
    vec![
        ("fixed", Dosing::fixed(schedule, 2, None)),
        ("adaptive", adaptive(0.0)),
        ("visits", adaptive(0.7)),
        ("pk", pk),
    ]
}

fn ensemble_with(
    model: &dtp_gillespie_core::Model,
    dosing: &Dosing,
    run: &RunConfig,
) -> dtp_gillespie_core::EnsembleOutput {
    ensemble_of(model, dosing, run, [42; 32], 0, 12, 1)
}

#[test]
fn the_hot_loop_fires_the_same_events_as_the_general_loop() {
    // `force_general_loop` sends every event through the general loops; without it, runs of
    // events go through the hot loop (up to six states). Trajectories must be identical under
    // every kind of dosing, caps included, and each path must have run (`hot_loop_events`).
    let mut caps_hit = std::collections::HashMap::new();
    for n in 1..=8 {
        let model = chain(n);
        let times: Vec<f64> = (0..=30).map(|k| f64::from(k) * 0.25).collect();
        let cap = 40 * n as u64 + 3;
        for (kind, dosing) in dosings(n, model.channels().len()) {
            let mut hot = run(vec![40; n], 7.5, times.clone());
            for (max_events, max_population) in
                [(u64::MAX, u64::MAX), (100, u64::MAX), (u64::MAX, cap)]
            {
                hot.max_events = max_events;
                hot.max_population = max_population;
                let general = RunConfig {
                    force_general_loop: true,
                    ..hot.clone()
                };
                let mut a = ensemble_with(&model, &dosing, &hot);
                let b = ensemble_with(&model, &dosing, &general);
                let hot_events = a.per_replicate(|o| o.hot_loop_events);
                assert!(
                    b.per_replicate(|o| o.hot_loop_events)
                        .iter()
                        .all(|&e| e == 0),
                    "{kind}, {n} states: the general loop was forced"
                );
                let hot_total: u64 = hot_events.iter().sum();
                let all: u64 = n_events(&a).iter().sum();
                if n <= 6 {
                    // Each path ran: most events of the default run went through the hot loop.
                    assert!(
                        2 * hot_total > all,
                        "{kind}, {n} states: {hot_total} of {all}"
                    );
                } else {
                    assert_eq!(
                        hot_total, 0,
                        "{kind}: the hot loop takes at most six states"
                    );
                }
                for outcome in &mut a.outcomes {
                    outcome.hot_loop_events = 0; // the one field that says which path ran
                }
                let capped = if max_events < u64::MAX {
                    Status::MaxEvents
                } else {
                    Status::MaxPopulation
                };
                if max_events < u64::MAX || max_population < u64::MAX {
                    let hits = status(&a).iter().filter(|&&s| s == capped as i8).count();
                    *caps_hit.entry((kind, capped as i8)).or_insert(0) += hits;
                } else {
                    assert!(n_events(&a).iter().sum::<u64>() > 200, "{kind}, {n} states");
                    let switches: u64 = a.per_replicate(|o| o.n_switches).iter().sum();
                    assert!(switches >= 12, "{kind}, {n} states: {switches} switches");
                }
                assert_eq!(a.concentration, b.concentration, "{kind}, {n} states");
                assert_identical(&a, &b);
            }
        }
    }
    // Every dosing kind had replicates stopped by each cap.
    assert_eq!(caps_hit.len(), 8, "{caps_hit:?}");
    assert!(caps_hit.values().all(|&hits| hits > 0), "{caps_hit:?}");
}

#[test]
fn populations_beyond_exact_floats_count_every_event() {
    // The hot loop keeps counts as floats, exact below 2^53; above 2^52 cells the general loop
    // must count, or 2^60 - 1 would round back to 2^60. About 460 deaths fall before 4e-16.
    let model = birth_death(&[(0.0, 1.0)]);
    let start = 1_u64 << 60;
    let mut r = run(vec![start], 1.0, vec![0.0, 4e-16]);
    r.max_events = 1000;
    let out = ensemble(&model, &Schedule::constant(0), &r, 2, 0, 1);
    for rep in 0..2 {
        assert_eq!(out.outcomes[rep].status, Status::MaxEvents);
        let at = out.counts[rep * 2 + 1] as u64;
        assert!(start - 1000 < at && at < start, "count {at} at 4e-16");
    }
}

#[test]
fn trackers_at_once_counts_a_tracker_per_lane_per_thread_and_no_more_than_the_replicates() {
    use dtp_gillespie_core::{Lanes, trackers_at_once};
    let per_thread = if Lanes::avx512_available() { 8 } else { 1 };
    assert_eq!(trackers_at_once(Some(1), 1000), per_thread);
    assert_eq!(trackers_at_once(Some(2), 1000), 2 * per_thread);
    assert_eq!(trackers_at_once(Some(2), 3), 3.min(2 * per_thread));
    assert_eq!(trackers_at_once(Some(4), 1), 1);
}

#[test]
fn state_names_label_states_in_messages_and_must_match_the_states() {
    let model = birth_death(&[(1.0, 0.5)]);
    assert_eq!(model.state_label(0), "state 0");
    let named = model.with_state_names(vec!["S".into()]).expect("one name");
    assert_eq!(named.state_label(0), "'S'");
    let two = birth_death(&[(1.0, 0.5)]).with_state_names(vec!["S".into(), "P".into()]);
    match two {
        Err(EngineError::InvalidModel(message)) => {
            assert!(message.contains("2 state names for 1 states"), "{message}");
        }
        other => panic!("expected an InvalidModel error, got {other:?}"),
    }
}
