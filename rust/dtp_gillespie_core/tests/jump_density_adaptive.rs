//! `method = "jump"` under adaptive rules on a density-dependent model: each replicate's rules
//! put its exposure in force at the grid points, and each step's law is the density law
//! (`jump+density(midpoint)`) under that exposure. Bit-identical across threads and blocks; a
//! rule that never acts gives the fixed schedule's run bit for bit; the density report follows
//! the mean-field path with the rules applied to it; what jumps cannot run stays refused. The
//! comparison in law against exact SSA is `tests/test_jump_density_adaptive.py`.

mod common;
#[path = "common/jump_models.rs"]
mod jump_models;

use common::{assert_identical, death, division, rule, run};
use dtp_gillespie_core::jump_run::density_report;
use dtp_gillespie_core::{
    AdaptiveSpec, Capacity, CapacityTarget, Dosing, DosingKind, EngineError, EnsembleOutput,
    JumpConfig, Model, Progression, Reference, Rule, RunConfig, Schedule,
};
use jump_models::{forced, jump_ensemble};

/// One type under a capacity on division: division `0.8 (1 − N/K)`, K = 1000; death 0.1 off
/// drug (0) and 0.6 on it (1), where the tumour shrinks towards 250 cells.
fn model() -> Model {
    Model::new(
        1,
        2,
        vec![division(0, 0, false), death(0)],
        vec![0.8, 0.1, 0.8, 0.6],
        Some(Capacity {
            k: 1000.0,
            target: CapacityTarget::Division,
            weights: vec![1.0],
            slope: vec![],
        }),
    )
    .unwrap()
}

fn absolute(mut r: Rule) -> Rule {
    r.absolute = true;
    r
}

/// Start off drug; treat from 500 cells, stop at 400, checked every `check_every` days (0:
/// continuously).
fn rules(check_every: f64, on_above: f64) -> Dosing {
    let spec = AdaptiveSpec {
        initial_exposure: 0,
        monitor_weights: vec![1.0],
        monitor_biomarker: false,
        reference: Reference::Absolute,
        check_every,
        rules: vec![
            absolute(rule(0, 1, None, Some(on_above))),
            absolute(rule(1, 0, Some(400.0), None)),
        ],
    };
    Dosing {
        kind: DosingKind::Adaptive(spec),
        treating: vec![false, true],
    }
}

/// 28 days from 20 cells, recorded every 2 days.
fn run28() -> RunConfig {
    run(
        vec![20],
        28.0,
        (0..=14).map(|k| 2.0 * f64::from(k)).collect(),
    )
}

fn jumps(
    dosing: &Dosing,
    config: JumpConfig,
    replicates: (usize, u64, usize),
) -> Result<EnsembleOutput, EngineError> {
    jump_ensemble(&model(), dosing, &run28(), config, [7; 32], replicates)
}

#[test]
fn density_adaptive_runs_do_not_depend_on_threads_or_blocks() {
    // Mixed regimes (some steps jumped, some exact SSA), visits and continuous monitoring.
    let config = JumpConfig {
        threshold: 50.0,
        ..forced(0.5)
    };
    for dosing in [rules(7.0, 500.0), rules(0.0, 500.0)] {
        let whole = jumps(&dosing, config, (40, 0, 1)).unwrap();
        let threaded = jumps(&dosing, config, (40, 0, 2)).unwrap();
        assert_identical(&whole, &threaded);
        let tail = jumps(&dosing, config, (20, 20, 2)).unwrap();
        assert_eq!(tail.counts[..], whole.counts[whole.counts.len() / 2..]);
        assert_eq!(
            tail.exposure[..],
            whole.exposure[whole.exposure.len() / 2..]
        );
        let debug = |o: &[dtp_gillespie_core::Outcome]| format!("{o:?}");
        assert_eq!(debug(&tail.outcomes), debug(&whole.outcomes[20..]));
        // The rules act, on each replicate's own counts: most switch, not all alike.
        let switches = whole.per_replicate(|o| o.n_switches);
        assert!(
            switches.iter().filter(|&&k| k > 0).count() > 30,
            "{switches:?}"
        );
        let last = |out: &EnsembleOutput| out.exposure.chunks(15).map(|e| e[14]).collect();
        let exposures: Vec<i8> = last(&whole);
        assert!(
            exposures.contains(&0) && exposures.contains(&1),
            "{exposures:?}"
        );
    }
}

#[test]
fn a_rule_that_never_acts_gives_the_fixed_schedule_run_bit_for_bit() {
    // Visits at the record times, so the grid is the fixed schedule's: the density laws under
    // rules are those of the fixed schedule, drawn in the same order.
    let never = rules(2.0, 1e9);
    let fixed = Dosing::fixed(Schedule::constant(0), 2, Some(0));
    for config in [forced(0.5), JumpConfig::default()] {
        let a = jumps(&never, config, (30, 0, 2)).unwrap();
        let b = jumps(&fixed, config, (30, 0, 2)).unwrap();
        assert_identical(&a, &b);
        let report = |d: &Dosing| density_report(&model(), d, &run28(), &config).unwrap();
        assert_eq!(report(&never), report(&fixed));
    }
}

#[test]
fn the_density_report_follows_the_rules_on_the_mean_field_path() {
    // The mean-field path from 20 cells: 664 cells at day 7 (treat), 295 at day 14 (stop),
    // 862 at day 21 (treat): the exposures of the fixed schedule off 7, on 7, off 7, on 7,
    // whose grid is the same, so the reports agree bit for bit.
    let config = forced(0.5);
    let weekly = rules(7.0, 500.0);
    let schedule = Schedule::new(vec![0.0, 7.0, 14.0, 21.0], vec![0, 1, 0, 1], None).unwrap();
    let fixed = Dosing::fixed(schedule, 2, Some(0));
    let report = |d: &Dosing| {
        density_report(&model(), d, &run28(), &config)
            .unwrap()
            .unwrap()
    };
    let (under_rules, under_fixed) = (report(&weekly), report(&fixed));
    assert_eq!(under_rules, under_fixed);
    // Not the path without the rules: the drug's switches change the rates faster.
    let off = report(&Dosing::fixed(Schedule::constant(0), 2, Some(0)));
    assert!(
        under_rules.max_rate_change_per_step > off.max_rate_change_per_step,
        "{under_rules:?} against {off:?}"
    );
    // Deterministic: the same report again (no replicate, no thread enters it).
    assert_eq!(report(&weekly), under_rules);
    // Continuous monitoring reads the path at every step's end: it treats from the first step
    // end at or above 500 cells, earlier than the visit at day 7, so another path.
    let continuous = report(&rules(0.0, 500.0));
    assert!(continuous.max_rate_change_per_step > 0.0);
    assert_ne!(continuous, under_rules);
}

#[test]
fn what_jumps_cannot_run_stays_refused_on_density_models() {
    let message = |dosing: &Dosing, r: &RunConfig| {
        jump_ensemble(&model(), dosing, r, forced(0.5), [7; 32], (1, 0, 1))
            .unwrap_err()
            .to_string()
    };
    let mut progression = run28();
    progression.progression = Some(Progression {
        weights: vec![1.0],
        factor: Some(2.0),
        size: None,
        min_size: 100.0,
        biomarker: false,
    });
    let err = message(&rules(7.0, 500.0), &progression);
    assert!(err.contains("does not monitor progression"), "{err}");
    let mut capped = run28();
    capped.max_events = 1000;
    let err = message(&rules(7.0, 500.0), &capped);
    assert!(err.contains("takes no event cap"), "{err}");
}
