//! One-ancestor offspring tables of an S⇄P model with mutation (`src/jump/offspring.rs`): their
//! mass balance against the Riccati emission probability, and their law against exact SSA of one
//! ancestor (the engine's own event loop), by Pearson's χ² at α = 0.001 with a rejection twin
//! (the S birth rate 20% higher) whose power is checked.

mod common;
#[path = "common/jump_models.rs"]
mod jump_models;
#[path = "common/stats.rs"]
mod stats;

use std::collections::HashMap;

use common::{ensemble, run};
use dtp_gillespie_core::jump::{LinearRates, NoEmission, OffspringTable};
use dtp_gillespie_core::{Model, Schedule};
use jump_models::sp_model;
use stats::{chi_square_critical, powered};

fn build_table(model: &Model, ancestor: usize, duration: f64) -> (OffspringTable, NoEmission) {
    let rates = LinearRates::from_model(model, 0).unwrap();
    let no_emission = NoEmission::solve(&rates, duration).unwrap();
    let table = OffspringTable::build(&rates, &no_emission, ancestor, 1e-20).unwrap();
    (table, no_emission)
}

#[test]
fn the_table_balances_its_mass_against_the_riccati_emission_chance() {
    let model = sp_model(1.0, 0.02, 0.3);
    for ancestor in [0, 1] {
        for duration in [0.25, 0.5, 1.0] {
            let (table, no_emission) = build_table(&model, ancestor, duration);
            let psi = no_emission.emission(ancestor, duration);
            let phi = no_emission.silence(ancestor, duration);
            assert!(table.escaped() <= 1e-20, "escaped {}", table.escaped());
            assert!(
                (table.emitted() - psi).abs() <= table.escaped() + 1e-13,
                "{ancestor} {duration}: FSP emitted {} vs Riccati ψ {psi}",
                table.emitted()
            );
            let total = table.retained() + table.escaped() + table.emitted();
            assert!((total - 1.0).abs() < 1e-12, "mass {total}");
            assert!((table.retained() - phi).abs() <= table.escaped() + 1e-13);
            assert!(no_emission.error_estimate() < 1e-10);
            // Descendants of a silent lineage are S and P only.
            assert!(table.categories().all(|(y, _)| y[2] == 0));
        }
    }
}

/// Pearson's χ² of observed `(S, P)` outcomes against a table's law given no emission; bins are
/// the categories of `bins_from` expecting at least 5 of `m`, the rest pooled.
struct Binned {
    bin_of: HashMap<(u64, u64), usize>,
    n_bins: usize,
}

impl Binned {
    fn new(bins_from: &OffspringTable, m: usize) -> Self {
        let total: f64 = bins_from.categories().map(|(_, p)| p).sum();
        let mut bin_of = HashMap::new();
        for (k, (y, p)) in bins_from.categories().enumerate() {
            if k != bins_from.tail_index() && p / total * m as f64 >= 5.0 {
                bin_of.insert((y[0], y[1]), bin_of.len());
            }
        }
        let n_bins = bin_of.len() + 1;
        Self { bin_of, n_bins }
    }

    fn bin(&self, y: (u64, u64)) -> usize {
        self.bin_of.get(&y).copied().unwrap_or(self.n_bins - 1)
    }

    fn probabilities(&self, table: &OffspringTable) -> Vec<f64> {
        let total: f64 = table.categories().map(|(_, p)| p).sum();
        let mut probabilities = vec![0.0; self.n_bins];
        for (y, p) in table.categories() {
            probabilities[self.bin((y[0], y[1]))] += p / total;
        }
        probabilities
    }

    fn statistic(&self, outcomes: &[(u64, u64)], probabilities: &[f64]) -> f64 {
        let mut observed = vec![0.0; self.n_bins];
        for &y in outcomes {
            observed[self.bin(y)] += 1.0;
        }
        let m = outcomes.len() as f64;
        observed
            .iter()
            .zip(probabilities)
            .map(|(o, p)| (o - m * p).powi(2) / (m * p))
            .sum()
    }
}

#[test]
fn the_table_is_the_law_of_one_silent_ancestor_under_exact_ssa() {
    // The twin has the ancestor's own main rate 20% off: S birth for S, P → S for P.
    let m = 100_000;
    let model = sp_model(1.0, 0.02, 0.3);
    for (ancestor, duration) in [(0usize, 0.5), (1, 0.5), (0, 1.0)] {
        let twin_model = if ancestor == 0 {
            sp_model(1.2, 0.02, 0.3)
        } else {
            sp_model(1.0, 0.02, 0.36)
        };
        let (table, _) = build_table(&model, ancestor, duration);
        let (twin, _) = build_table(&twin_model, ancestor, duration);
        let mut initial = vec![0u64; 3];
        initial[ancestor] = 1;
        let out = ensemble(
            &model,
            &Schedule::constant(0),
            &run(initial, duration, vec![duration]),
            m,
            1000 * ancestor as u64,
            2,
        );
        // Keep the replicates without a mutation event: their (S, P) has the table's law.
        let outcomes: Vec<(u64, u64)> = out
            .outcomes
            .iter()
            .zip(out.counts.chunks(3))
            .filter(|(o, _)| o.first_mutant_time.is_nan())
            .map(|(_, c)| (c[0] as u64, c[1] as u64))
            .collect();
        let binned = Binned::new(&table, outcomes.len());
        let df = (binned.n_bins - 1) as f64;
        let critical = chi_square_critical(df);
        let null = binned.probabilities(&table);
        let alternative = binned.probabilities(&twin);
        let statistic = binned.statistic(&outcomes, &null);
        assert!(
            statistic < critical,
            "ancestor {ancestor}, Δ {duration}: χ² = {statistic} ≥ {critical} (df {df})"
        );
        let lambda = outcomes.len() as f64
            * null
                .iter()
                .zip(&alternative)
                .map(|(q, p)| (q - p).powi(2) / p)
                .sum::<f64>();
        assert!(
            powered(df, lambda),
            "ancestor {ancestor}, Δ {duration}: underpowered twin (λ = {lambda})"
        );
        let twin_statistic = binned.statistic(&outcomes, &alternative);
        assert!(
            twin_statistic >= critical,
            "ancestor {ancestor}: the twin table (S birth 20% off) was not rejected"
        );
    }
}
