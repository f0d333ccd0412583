//! Pharmacokinetic dosing through the time-dependent step laws of the jumps: the Riccati
//! systems integrated with the rates at the concentration of each Runge–Kutta stage
//! ([`NoEmission::solve_path`] over a [`PkPath`]), against the project's oracle O10 (a decaying
//! drug with a Hill response; `tests/oracles.py`), and the time-dependent offspring tables
//! ([`OffspringTable::build_path`]) composed over the steps of a grid, the silent extinction
//! those tables trace from the step's start, and the bound of `ψ` over the time left that the
//! emitting lineages propose from. Runs under PK dosing are tested in `jump_pk_runs.rs`.

mod common;

use common::{birth_death, bolus_spec, death, division, switch};
use dtp_gillespie_core::jump::{LinearRates, NoEmission, OffspringTable, PkPath, RatePath};
use dtp_gillespie_core::{Model, PkSpec};

/// O10's schedule: boluses of 10 EC50 at `dose_times`, t½ = 1.5, Hill coefficient 2.
fn o10_spec(dose_times: Vec<f64>) -> PkSpec {
    pk_spec(dose_times, 2)
}

fn pk_spec(dose_times: Vec<f64>, n_channels: usize) -> PkSpec {
    bolus_spec(dose_times, 10.0, 1.5, 2.0, n_channels)
}

/// One type with birth `b`, death `0.1` off drug and `0.1 + e_max` at full response.
fn o10_model(b: f64, e_max: f64) -> dtp_gillespie_core::Model {
    birth_death(&[(b, 0.1), (b, 0.1 + e_max)])
}

/// The chance that one cell's lineage is extinct at `t_end` after one bolus at 0, by one solve
/// of the time-dependent Riccati systems over `[0, t_end]`.
fn extinction_after_one_bolus(b: f64, e_max: f64, t_end: f64) -> f64 {
    let (model, spec) = (o10_model(b, e_max), o10_spec(vec![0.0]));
    let path = PkPath::new(&model, &spec, spec.dose).unwrap();
    let solve = NoEmission::solve_path(&path, t_end).unwrap();
    assert!(solve.error_estimate() < 1e-10, "{}", solve.error_estimate());
    // No mutation: the lineage never emits.
    assert_eq!(solve.silence(0, t_end), 1.0);
    solve.silent_extinction(0, t_end)
}

#[test]
fn o10_one_bolus_survival_and_extinction() {
    // Pure death: P(one cell survives to 3) = exp(−0.3 − ∫₀³ H) = 0.0428447.
    let survival = 1.0 - extinction_after_one_bolus(0.0, 1.0, 3.0);
    assert!((survival - 0.042_844_7).abs() < 1e-7, "{survival}");
    // With birth 0.5: P(N(3) = 0) from one cell = 0.890710 (Kendall 1948 on O10's hazard).
    let p0 = extinction_after_one_bolus(0.5, 1.0, 3.0);
    assert!((p0 - 0.890_710).abs() < 1e-6, "{p0}");
    // The twin, E_max 5% higher, is told apart far beyond the oracle's precision.
    let twin = extinction_after_one_bolus(0.5, 1.05, 3.0);
    assert!((twin - 0.903_179).abs() < 1e-6, "{twin}");
    assert!((twin - p0).abs() > 1e4 * 1e-6);
}

#[test]
fn o10_daily_boluses_compose_over_the_steps_between_doses() {
    // Pure death under a bolus every day (0, 1, …, 6): one cell stays one cell until it dies,
    // so its survival to 7 is the product over the days of the survival of each day, each day
    // a step starting just after its dose at the concentration carried over plus the dose.
    let model = o10_model(0.0, 1.0);
    let spec = o10_spec((0..7).map(f64::from).collect());
    let decay = (-spec.elimination_rate()).exp();
    let (mut concentration, mut survival) = (0.0, 1.0);
    for _ in 0..7 {
        concentration = concentration * decay + spec.dose;
        let path = PkPath::new(&model, &spec, concentration).unwrap();
        let solve = NoEmission::solve_path(&path, 1.0).unwrap();
        survival *= 1.0 - solve.silent_extinction(0, 1.0);
    }
    assert!(
        (survival - 4.699_96e-4).abs() < 1e-9,
        "survival to 7 under the daily bolus: {survival}"
    );
}

#[test]
fn a_pk_path_without_drug_is_the_off_exposure() {
    let model = o10_model(0.5, 1.0);
    let spec = o10_spec(vec![0.0]);
    let path = PkPath::new(&model, &spec, 0.0).unwrap();
    let off = LinearRates::from_model(&model, 0).unwrap();
    assert_eq!(*path.rates_at(0.7), off);
    assert_eq!(path.max_total(2.0), 0.6);
    let (a, b) = (
        NoEmission::solve_path(&path, 2.0).unwrap(),
        NoEmission::solve(&off, 2.0).unwrap(),
    );
    assert_eq!(a.silent_extinction(0, 1.3), b.silent_extinction(0, 1.3));
    // With drug the bound is the start's rates (the concentration only falls in a step).
    let dosed = PkPath::new(&model, &spec, 10.0).unwrap();
    let at_start = dosed.rates_at(0.0).total(0);
    assert_eq!(dosed.max_total(2.0), at_start);
    assert!(dosed.rates_at(1.0).total(0) < at_start);
    assert!(PkPath::new(&model, &spec, f64::NAN).is_err());
}

/// `Σ_n P(n) zⁿ` over a one-type table: the generating function of one ancestor's
/// descendants after the step (no emission), the tail category left out.
fn generating_function(table: &OffspringTable, z: f64) -> f64 {
    table
        .categories()
        .enumerate()
        .filter(|&(k, _)| k != table.tail_index())
        .map(|(_, (cells, p))| p * z.powf(cells[0] as f64))
        .sum()
}

/// P(N(3) = 0) from one cell after one bolus at 0, over three one-day steps: the tables of the
/// first two days composed with the Riccati extinction chance of the last.
fn extinction_over_three_tables(e_max: f64) -> f64 {
    let (model, spec) = (o10_model(0.5, e_max), o10_spec(vec![0.0]));
    let decay = (-spec.elimination_rate()).exp();
    let laws: Vec<(OffspringTable, NoEmission)> = (0..3)
        .map(|day| {
            let path = PkPath::new(&model, &spec, spec.dose * decay.powi(day)).unwrap();
            let solve = NoEmission::solve_path(&path, 1.0).unwrap();
            let table = OffspringTable::build_path(&path, &solve, 0, 1e-20).unwrap();
            assert!(table.escaped() < 1e-20);
            (table, solve)
        })
        .collect();
    let last = laws[2].1.silent_extinction(0, 1.0);
    let second = generating_function(&laws[1].0, last);
    generating_function(&laws[0].0, second)
}

#[test]
fn o10_extinction_through_the_time_dependent_tables() {
    let p0 = extinction_over_three_tables(1.0);
    assert!((p0 - 0.890_710).abs() < 1e-6, "{p0}");
    let twin = extinction_over_three_tables(1.05);
    assert!((twin - 0.903_179).abs() < 1e-6, "{twin}");
}

/// S (0), P (1), R (2): S divides (a fraction into R, a mutation event), dies and switches to P,
/// P switches back; the drug raises S's death and its switching to P.
fn s_p_r_model() -> Model {
    s_p_r_model_dying(1.0)
}

/// [`s_p_r_model`] with S's death rate on drug `death_on`.
fn s_p_r_model_dying(death_on: f64) -> Model {
    let channels = vec![
        division(0, 0, false),
        division(0, 2, true),
        death(0),
        switch(0, 1),
        switch(1, 0),
    ];
    #[rustfmt::skip]
    let rates = vec![
        0.7, 1e-3, 0.1, 0.01, 0.2, // off
        0.7, 1e-3, death_on, 0.1, 0.02, // on
    ];
    Model::new(3, 2, channels, rates, None).unwrap()
}

#[test]
fn a_constant_path_table_is_the_uniformized_table() {
    let model = s_p_r_model();
    let rates = LinearRates::from_model(&model, 1).unwrap();
    let solve = NoEmission::solve(&rates, 0.5).unwrap();
    for ancestor in [0, 1] {
        let (a, b) = (
            OffspringTable::build(&rates, &solve, ancestor, 1e-20).unwrap(),
            OffspringTable::build_path(&rates, &solve, ancestor, 1e-20).unwrap(),
        );
        assert_eq!(a.box_size(), b.box_size());
        let law = |t: &OffspringTable| {
            t.categories()
                .map(|(cells, p)| (cells.to_vec(), p))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let (la, lb) = (law(&a), law(&b));
        for (cells, &p) in &la {
            let q = lb.get(cells).copied().unwrap_or(0.0);
            assert!((p - q).abs() < 1e-12, "{cells:?}: {p} against {q}");
        }
        assert!((a.emitted() - b.emitted()).abs() < 1e-13);
    }
}

#[test]
fn pk_tables_of_a_switching_model_agree_with_their_riccati_solves() {
    // The build checks the table's emitted mass against ψ(Δ) and its extinction mass against
    // ε(Δ), both from the independent Riccati solve over the same path; the mass left on the
    // box must then be φ(Δ).
    let model = s_p_r_model();
    let spec = pk_spec(vec![0.0, 1.0], 5);
    for c_start in [0.0, 0.3, 10.0, 1e3] {
        let path = PkPath::new(&model, &spec, c_start).unwrap();
        let solve = NoEmission::solve_path(&path, 0.25).unwrap();
        for ancestor in [0, 1] {
            let table = OffspringTable::build_path(&path, &solve, ancestor, 1e-20).unwrap();
            let phi = solve.silence(ancestor, 0.25);
            assert!(
                (table.retained() - phi).abs() < 1e-12,
                "c = {c_start}, ancestor {ancestor}: {} against φ = {phi}",
                table.retained()
            );
            assert!(table.riccati_mismatch() < 1e-13);
        }
    }
}

#[test]
fn a_pk_table_traces_silent_extinction_from_the_step_start() {
    // The empty state's mass along a time-dependent table's forward solve is the chance of
    // dying out silently by `s` from the step's start: a Riccati solve over [0, s] of the same
    // path, for every s (not the step's own solve, which starts at Δ − s).
    let model = s_p_r_model();
    let spec = pk_spec(vec![0.0], 5);
    let path = PkPath::new(&model, &spec, 10.0).unwrap();
    let duration = 0.5;
    let solve = NoEmission::solve_path(&path, duration).unwrap();
    for ancestor in [0, 1] {
        let table = OffspringTable::build_path(&path, &solve, ancestor, 1e-20).unwrap();
        let trace = table
            .silent_extinction()
            .expect("a time-dependent table traces it");
        for s in [0.05, 0.17, 0.33, 0.5] {
            let from_start = NoEmission::solve_path(&path, s)
                .unwrap()
                .silent_extinction(ancestor, s);
            let (got, backward) = (trace.at(s), solve.silent_extinction(ancestor, s));
            assert!(
                (got - from_start).abs() <= 1e-9 * from_start + 1e-15,
                "ancestor {ancestor}, s = {s}: {got} against {from_start}"
            );
            // Under the decaying drug the two differ: the step's solve starts at Δ − s.
            if s < duration {
                assert!((backward - from_start).abs() > 1e-4 * from_start);
            }
        }
    }
    // A table at constant rates has no trace (the Riccati solve gives it).
    let rates = LinearRates::from_model(&model, 1).unwrap();
    let constant = NoEmission::solve(&rates, duration).unwrap();
    let table = OffspringTable::build(&rates, &constant, 0, 1e-20).unwrap();
    assert!(table.silent_extinction().is_none());
}

#[test]
fn the_emission_bound_covers_psi_over_the_time_left() {
    // A drug that kills S fast early in the step: a lineage started earlier may emit less
    // often than one started later, so ψ need not grow with the time left; the bound covers it.
    let model = s_p_r_model_dying(50.0);
    let mut spec = pk_spec(vec![0.0], 5);
    spec.half_life = 0.05;
    let path = PkPath::new(&model, &spec, 1e3).unwrap();
    let duration = 1.0;
    let solve = NoEmission::solve_path(&path, duration).unwrap();
    let bound = solve.emission_bound();
    for x in [0, 1] {
        let mut running: f64 = 0.0;
        for i in 0..=4000 {
            let u = duration * f64::from(i) / 4000.0;
            running = running.max(solve.emission(x, u));
            assert!(bound.at(x, u) >= running, "x = {x}, u = {u}");
            assert!(bound.at(x, u) <= 1.0);
        }
        // Tight: within a part in 1e3 of the largest ψ over the step.
        assert!(bound.at(x, duration) <= running * (1.0 + 1e-3), "x = {x}");
    }
    // ψ of S is not monotone in the time left here.
    let (late, early) = (solve.emission(0, 0.3), solve.emission(0, duration));
    assert!(early < late, "{early} against {late}");
}
