//! Tracked runs through the hot loop: the lineage tracker is shown each burst's events after the
//! burst (`Observer::REPLAYABLE`, `burst::EventBuffer`), and must produce exactly the tables it
//! produces when every event goes through the general loop (`RunConfig::force_general_loop`),
//! for every lineage start, with and without clones, under fixed and adaptive dosing, and for
//! replicates stopped by a cap in the middle of a burst.

mod common;

use common::{assert_identical, death, division, ensemble_of, rule, run, switch};
use dtp_gillespie_core::lineage::{LineageSpec, LineageStart};
use dtp_gillespie_core::{AdaptiveSpec, Dosing, DosingKind, Model, Reference, RunConfig, Schedule};

/// S (0) divides (a mutant daughter into R, 2), dies, switches to P (1) and back; R divides and
/// dies; P has a mutation-switch into R too.
fn spr() -> Model {
    let mutation_switch = dtp_gillespie_core::Channel {
        is_mutation: true,
        ..switch(1, 2)
    };
    let channels = vec![
        division(0, 0, false),
        division(0, 2, true),
        death(0),
        switch(0, 1),
        switch(1, 0),
        death(1),
        mutation_switch,
        division(2, 2, false),
        death(2),
    ];
    let off = [1.0, 0.02, 0.3, 0.1, 0.2, 0.05, 0.01, 0.8, 0.3];
    let on = [0.2, 0.004, 1.2, 0.4, 0.05, 0.05, 0.02, 0.8, 0.3];
    Model::new(3, 2, channels, [off, on].concat(), None).unwrap()
}

fn dosings() -> Vec<(&'static str, Dosing)> {
    let schedule = Schedule::new(vec![0.0, 2.0], vec![0, 1], Some((0, 3.0))).unwrap();
    let adaptive = Dosing {
        kind: DosingKind::Adaptive(AdaptiveSpec {
            initial_exposure: 1,
            monitor_weights: vec![1.0, 1.0, 1.0],
            monitor_biomarker: false,
            reference: Reference::Initial,
            check_every: 0.0,
            rules: vec![rule(1, 0, Some(0.5), None), rule(0, 1, None, Some(1.5))],
        }),
        treating: vec![false, true],
    };
    vec![
        ("fixed", Dosing::fixed(schedule, 2, None)),
        ("adaptive", adaptive),
    ]
}

#[test]
fn tracked_runs_through_the_hot_loop_give_the_general_loops_tables() {
    let model = spr();
    let times: Vec<f64> = vec![0.0, 0.5, 1.0, 2.0, 2.0, 3.5, 5.0, 7.25, 9.0];
    let capped = RunConfig {
        max_events: 700,
        max_population: 400,
        ..run(vec![60, 10, 0], 9.0, times.clone())
    };
    for (name, dosing) in dosings() {
        for base in [run(vec![60, 10, 0], 9.0, times.clone()), capped.clone()] {
            for start in [
                LineageStart::Founders,
                LineageStart::Library { n_barcodes: 7 },
            ] {
                for clones in [false, true] {
                    let fast = RunConfig {
                        lineages: Some(LineageSpec {
                            start: start.clone(),
                            times: times.clone(),
                            clones,
                            next_clone: 1,
                        }),
                        ..base.clone()
                    };
                    let slow = RunConfig {
                        force_general_loop: true,
                        ..fast.clone()
                    };
                    let what = format!("{name}, {start:?}, clones {clones}, {base:?}");
                    let a = ensemble_of(&model, &dosing, &fast, [9; 32], 3, 12, 2);
                    let b = ensemble_of(&model, &dosing, &slow, [9; 32], 3, 12, 1);
                    assert_identical(&a, &b);
                    // Debug text: floats written exactly (shortest round trip), NaN equal to NaN.
                    let (ta, tb) = (format!("{:?}", a.lineages), format!("{:?}", b.lineages));
                    assert!(ta == tb, "{what}: the tables differ");
                    let hot: u64 = a.outcomes.iter().map(|o| o.hot_loop_events).sum();
                    let all: u64 = a.outcomes.iter().map(|o| o.n_events).sum();
                    assert!(
                        hot > all / 2,
                        "{what}: {hot} of {all} events in the hot loop"
                    );
                    assert!(b.outcomes.iter().all(|o| o.hot_loop_events == 0));
                    assert!(!a.lineages.as_ref().unwrap().rows.count.is_empty());
                }
            }
        }
    }
}
