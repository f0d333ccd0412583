//! Extreme but finite inputs: every replicate returns promptly, with finite outputs or a status
//! that says why it stopped (`rate_overflow` when the total rate overflows the largest float).

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use dtp_gillespie_core::{
    Capacity, CapacityTarget, Dosing, EnsembleOutput, Model, PkResponse, PkSpec, RunConfig,
    Schedule, Status, UNKNOWN_COUNT, trace,
};

/// Run `f` on a thread and fail the test if it takes longer than `seconds` (a hang).
fn within<T: Send + 'static>(seconds: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()).ok());
    rx.recv_timeout(Duration::from_secs(seconds))
        .expect("the engine did not return in time")
}

fn fixed_run(
    model: &Model,
    schedule: &Schedule,
    run: &RunConfig,
    n: usize,
) -> (EnsembleOutput, Dosing) {
    let dosing = Dosing::fixed(schedule.clone(), model.n_exposures(), None);
    let out = ensemble_of(model, &dosing, run, [42; 32], 0, n, 1);
    (out, dosing)
}

#[test]
fn an_event_exactly_at_a_record_time_is_recorded_after_it() {
    // From t = 1e15 on, times are multiples of 0.125, so many events fall exactly on the integer
    // record times: the hot loop once stopped at such an event and waited for a record forever.
    let model = birth_death(&[(0.0, 0.0), (1.0, 1.0)]);
    let schedule = Schedule::new(vec![0.0, 1e15], vec![0, 1], None).unwrap();
    let times: Vec<f64> = (0..=100).map(|k| 1e15 + f64::from(k)).collect();
    let run = run(vec![20], 1e15 + 100.0, times.clone());
    let (out, dosing) = {
        let (model, schedule, run) = (model.clone(), schedule.clone(), run.clone());
        within(60, move || fixed_run(&model, &schedule, &run, 1))
    };
    // The event trace (the general loop) agrees: a record time sees every event up to it.
    let tr = trace(&model, &dosing, &run, &[42; 32], 0, &AtomicBool::new(false)).unwrap();
    assert_eq!(tr.status, Some(out.outcomes[0].status));
    assert_eq!(tr.time.len() as u64, out.outcomes[0].n_events + 1);
    let on_a_record_time = tr.time[1..].iter().filter(|t| times.contains(t)).count();
    assert!(on_a_record_time > 0, "no event fell on a record time");
    for (k, &r) in times.iter().enumerate() {
        if r > out.outcomes[0].stop_time {
            break;
        }
        let last = tr.time.iter().rposition(|&t| t <= r).unwrap();
        assert_eq!(out.counts[k], tr.counts[last], "record time {r}");
    }
}

#[test]
fn an_infinite_total_rate_stops_the_replicate_with_rate_overflow() {
    // Two cells dying at 1e308 per day: the total rate is infinite from the start.
    let model = birth_death(&[(0.0, 1e308)]);
    let run = RunConfig {
        max_events: 10,
        ..run(vec![2], 1.0, vec![0.0, 0.5, 1.0])
    };
    let out = within(20, move || {
        fixed_run(&model, &Schedule::constant(0), &run, 2).0
    });
    for o in &out.outcomes {
        assert_eq!(
            (o.status, o.n_events, o.stop_time),
            (Status::RateOverflow, 0, 0.0)
        );
    }
    assert_eq!(&out.counts[..3], &[2, UNKNOWN_COUNT, UNKNOWN_COUNT]);
}

#[test]
fn a_rate_that_overflows_during_a_run_stops_it_in_every_loop() {
    // Division at MAX/4.05 per cell: finite for 4 cells, infinite from the 5th. Four events, then
    // the replicate stops, whether the hot loop (ensemble) or the general loop (trace) fires them.
    let model = birth_death(&[(f64::MAX / 4.05, 0.0)]);
    let run = run(vec![1], 1.0, vec![1.0]);
    let dosing = Dosing::fixed(Schedule::constant(0), 1, None);
    let (m, r) = (model.clone(), run.clone());
    let out = within(20, move || fixed_run(&m, &Schedule::constant(0), &r, 3).0);
    let tr = trace(&model, &dosing, &run, &[42; 32], 0, &AtomicBool::new(false)).unwrap();
    assert_eq!(tr.status, Some(Status::RateOverflow));
    assert_eq!(tr.counts.last(), Some(&5));
    for o in &out.outcomes {
        assert_eq!((o.status, o.n_events), (Status::RateOverflow, 4));
    }
    assert_eq!(out.outcomes[0].stop_time, tr.stop_time);
}

#[test]
fn a_pk_rate_bound_that_overflows_stops_the_replicate() {
    let model = birth_death(&[(0.0, 0.1), (0.0, f64::MAX / 1.5)]);
    let dosing = pk_dosing(bolus_spec(vec![0.5], 10.0, 1.0, 1.0, 2));
    let run = run(vec![2], 1.0, vec![0.0, 1.0]);
    let out = within(20, move || {
        ensemble_of(&model, &dosing, &run, [42; 32], 0, 4, 1)
    });
    for o in &out.outcomes {
        // Extinct before the dose, or stopped at it.
        assert!(
            o.status == Status::Extinct || (o.status == Status::RateOverflow && o.stop_time == 0.5),
            "{o:?}"
        );
    }
}

#[test]
fn a_subnormal_capacity_on_death_keeps_the_death_rate() {
    // With division = death = 1 the death rate d + (b - d) N / K is 1 whatever the capacity: a
    // capacity of one subnormal (crowding infinite) or 1e-300 (the two terms of the formula cancel)
    // once gave 0 instead.
    let plain = birth_death(&[(1.0, 1.0)]);
    let run = run(vec![5], 3.0, vec![0.0, 1.0, 2.0, 3.0]);
    let (reference, _) = fixed_run(&plain, &Schedule::constant(0), &run, 200);
    for k in [5e-324, 1e-300, 1.0] {
        let capacity = Capacity {
            k,
            target: CapacityTarget::Death,
            weights: vec![1.0],
            slope: vec![],
        };
        let crowded = Model::new(
            1,
            1,
            vec![division(0, 0, false), death(0)],
            vec![1.0, 1.0],
            Some(capacity),
        )
        .unwrap();
        let (out, _) = fixed_run(&crowded, &Schedule::constant(0), &run, 200);
        assert_identical(&out, &reference);
    }
}

#[test]
fn a_biomarker_or_pk_spec_that_would_overflow_is_refused() {
    use dtp_gillespie_core::{Biomarker, EngineError};
    let biomarker = |production: f64, decay: f64| {
        birth_death(&[(1.0, 0.5)]).with_biomarker(Biomarker {
            production: vec![production],
            decay,
            initial: None,
        })
    };
    assert!(biomarker(1.0, 0.5).is_ok());
    for (p, d) in [(1e308, 1.0), (1.0, 5e-324), (1e280, 1e-10)] {
        assert!(matches!(biomarker(p, d), Err(EngineError::InvalidModel(_))));
    }
    let pk = |dose: f64, half_life: f64, doses: usize| PkSpec {
        off_exposure: 0,
        on_exposure: 1,
        dose_times: vec![1.0; doses],
        dose,
        half_life,
        ec50: vec![1.0; 2],
        hill: vec![1.0; 2],
        missed_dose_probability: 0.0,
        response: PkResponse::default(),
    };
    assert!(pk(1e308, 1.0, 1).validate(2, 2).is_ok());
    assert!(pk(1e308, 1.0, 2).validate(2, 2).is_err());
    assert!(pk(1.0, 5e-324, 2).validate(2, 2).is_err());
}
