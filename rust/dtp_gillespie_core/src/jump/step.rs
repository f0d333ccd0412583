//! One step of a whole population of a linear model: small pools event by event, large pools by
//! exact jumps (design note scale.md §6.1–6.2).
//!
//! Per type `x` with `n_x` cells at the start of the step:
//!
//! - **event regime** (`n_x · a_x · Δ` below the threshold `J*`, the expected events of the pool
//!   in the step): the cells go into one bag simulated by the direct method
//!   ([`lineage::simulate_free`]);
//! - **jump regime** (otherwise): `K ~ Binomial(n_x, ψ_x(Δ))` ancestors emit; each is simulated
//!   conditioned on emitting ([`lineage::simulate_emitting`]), so every emission time is exact;
//!   the other `n_x − K` are split over the no-emission offspring table ([`OffspringTable`]).
//!
//! Lineages of different cells are independent (the branching property), so the regimes compose
//! exactly, and the result at the end of the step has the law of the exact process, to the
//! table's tail tolerance and the Riccati integration tolerance. A [`StepLaw`] depends only on the
//! rates and `Δ`: it is shared by every replicate, its tables built on first use (the same tables
//! whichever replicate builds them, so results do not depend on threads).
//!
//! The rates may vary over the step (PK dosing, [`StepRates`]): the solve and the tables then
//! follow the path ([`NoEmission::solve_path`], [`OffspringTable::build_path`]), small pools and
//! lineages are thinned at the step's bounds ([`lineage`]), and the extinction time is drawn
//! from the chances of dying out silently by each time from the step's start, which the tables'
//! forward solves trace ([`StepLaw::extinction_time`]).

use std::sync::OnceLock;

use rand::{Rng, RngExt};

use super::lineage::{self, Emission, LineageLog, add_into};
use super::linear::LinearRates;
use super::offspring::{ExtinctionTrace, OffspringTable};
use super::regimes::StepRegimes;
use super::riccati::{EmissionBound, NoEmission};
use super::step_rates::StepRates;
use super::{Chance, JumpError, binomial};

/// What a step logged, beyond the counts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepLog {
    /// Emissions, first emission time, events simulated one by one, last such event.
    pub lineages: LineageLog,
    /// Whether any pool was jumped.
    pub jumped: bool,
    /// If no cell is left at the end of the step: when the last one died. Exact in both regimes:
    /// the event regime's last death, or for jumped pools a draw from the law of the extinction
    /// time given the step's outcome ([`StepLaw::extinction_time`]).
    pub extinct_at: Option<f64>,
}

/// The law of one step of length `Δ` under fixed rates, or rates that follow a PK path.
#[derive(Debug)]
pub struct StepLaw {
    rates: StepRates,
    no_emission: NoEmission,
    /// If the rates vary: a bound of `ψ` over the time left, for the emitting lineages.
    emission_bound: Option<EmissionBound>,
    emission: Vec<Chance>,
    tables: Vec<OnceLock<Result<OffspringTable, JumpError>>>,
    tolerance: f64,
    threshold: f64,
}

impl StepLaw {
    /// The step of length `duration` under `rates`, with table tail tolerance `tolerance` and
    /// event-regime threshold `threshold` (expected events per pool and step; 0 jumps every pool).
    pub fn new(
        rates: LinearRates,
        duration: f64,
        tolerance: f64,
        threshold: f64,
    ) -> Result<Self, JumpError> {
        Self::with_rates(StepRates::constant(rates), duration, tolerance, threshold)
    }

    /// [`StepLaw::new`] for rates that may vary over the step.
    pub fn with_rates(
        rates: StepRates,
        duration: f64,
        tolerance: f64,
        threshold: f64,
    ) -> Result<Self, JumpError> {
        if !(threshold >= 0.0) {
            return Err(JumpError::InvalidParameter {
                name: "threshold",
                value: threshold,
                expected: ">= 0",
            });
        }
        let no_emission = if rates.varies() {
            NoEmission::solve_path(&rates, duration)?
        } else {
            NoEmission::solve(rates.bounds(), duration)?
        };
        let n_types = rates.bounds().n_types();
        let emission = (0..n_types)
            .map(|x| no_emission.chance(x))
            .collect::<Result<_, _>>()?;
        let tables = (0..n_types).map(|_| OnceLock::new()).collect();
        let emission_bound = rates.varies().then(|| no_emission.emission_bound());
        Ok(Self {
            rates,
            no_emission,
            emission_bound,
            emission,
            tables,
            tolerance,
            threshold,
        })
    }

    /// The step length `Δ`.
    #[must_use]
    pub fn duration(&self) -> f64 {
        self.no_emission.duration()
    }

    /// The Riccati solve of this step.
    #[must_use]
    pub fn no_emission(&self) -> &NoEmission {
        &self.no_emission
    }

    /// The offspring table of type `x`, built on first use.
    pub fn table(&self, x: usize) -> Result<&OffspringTable, JumpError> {
        self.tables[x]
            .get_or_init(|| {
                if self.rates.varies() {
                    OffspringTable::build_path(&self.rates, &self.no_emission, x, self.tolerance)
                } else {
                    OffspringTable::build(self.rates.bounds(), &self.no_emission, x, self.tolerance)
                }
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Bytes held by the solve and the tables built so far (for [`super::cache`]'s budget).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        let tables = self.tables.iter().filter_map(|t| t.get()?.as_ref().ok());
        self.no_emission.heap_bytes() + tables.map(OffspringTable::heap_bytes).sum::<usize>()
    }

    /// Tables built so far: the largest escaped mass and Riccati mismatch.
    #[must_use]
    pub fn built_table_errors(&self) -> (f64, f64) {
        self.tables
            .iter()
            .filter_map(|t| t.get().and_then(|r| r.as_ref().ok()))
            .fold((0.0, 0.0), |(e, m), t| {
                (f64::max(e, t.escaped()), f64::max(m, t.riccati_mismatch()))
            })
    }

    /// Whether a pool of `n` cells of type `x` is jumped (by its total rate, or under varying
    /// rates its channels' bounds over the step).
    #[must_use]
    pub fn jumps(&self, x: usize, n: u64) -> bool {
        pool_jumps(
            n,
            self.rates.bounds().total(x),
            self.duration(),
            self.threshold,
        )
    }

    /// Advance `counts` (updated in place) over one step starting at `start`.
    pub fn advance<R: Rng + ?Sized>(
        &self,
        counts: &mut [u64],
        start: f64,
        rng: &mut R,
        scratch: &mut StepScratch,
    ) -> Result<StepLog, JumpError> {
        let n_types = counts.len();
        let duration = self.duration();
        let mut log = StepLog::default();
        scratch.next.clear();
        scratch.next.resize(n_types, 0);
        scratch.bag.clear();
        scratch.bag.resize(n_types, 0);
        scratch.silent.clear();
        scratch.silent.resize(n_types, 0);
        for (x, &n) in counts.iter().enumerate() {
            if !self.jumps(x, n) {
                scratch.regimes.event_by_event(x, n);
                scratch.bag[x] = n;
                continue;
            }
            log.jumped = true;
            let emitting = binomial(rng, n, self.emission[x])?;
            scratch.regimes.jumped(x, emitting);
            scratch.silent[x] = n - emitting;
            self.table(x)?
                .add_draws(rng, n - emitting, &mut scratch.next, &mut scratch.split)?;
            let solve = Emission {
                no_emission: &self.no_emission,
                bound: self.emission_bound.as_ref(),
            };
            for _ in 0..emitting {
                lineage::simulate_emitting(
                    &self.rates,
                    start,
                    solve,
                    x,
                    start,
                    duration,
                    rng,
                    &mut scratch.next,
                    &mut log.lineages,
                )?;
            }
        }
        lineage::simulate_free(
            &self.rates,
            start,
            &mut scratch.bag,
            start,
            duration,
            rng,
            &mut log.lineages,
        )?;
        add_into(&mut scratch.next, &scratch.bag)?;
        counts.copy_from_slice(&scratch.next);
        if counts.iter().all(|&n| n == 0) {
            let jumped = self.extinction_time(&scratch.silent, rng);
            log.extinct_at = Some(log.lineages.last_event.max(start + jumped));
        }
        Ok(log)
    }

    /// When the last of the lineages of `silent[x]` jumped `x` ancestors died (time since the
    /// step's start), given that none emitted and none left a cell at its end: each lineage's
    /// extinction time has distribution `ε_x(s) / ε_x(Δ)` on `[0, Δ]` (the lineages are
    /// independent), so the last has `Π_x (ε_x(s) / ε_x(Δ))^{silent[x]}`, inverted by bisection
    /// (on its logarithm, so that thousands of ancestors do not underflow). 0 if there are none.
    /// Drawn only when the population dies out in the step, so no later draw depends on it.
    ///
    /// `ε_x(s)` is the chance of dying out silently by `s` *from the step's start*: at constant
    /// rates the step's solve gives it for every `s` (it depends only on the time elapsed); when
    /// the rates vary, the Riccati solve gives it from every start to the step's end instead,
    /// and it is the empty state's mass along the forward solve of `x`'s table
    /// ([`ExtinctionTrace`]; the silent ancestors were jumped, so the table is built).
    pub fn extinction_time<R: Rng + ?Sized>(&self, silent: &[u64], rng: &mut R) -> f64 {
        let duration = self.duration();
        if silent.iter().all(|&m| m == 0) {
            return 0.0;
        }
        let solve = &self.no_emission;
        // Under varying rates, ε from the step's start by `s`: each jumped type's table traced
        // it (its pool was jumped, so its table is built).
        let traces: Vec<Option<&ExtinctionTrace>> = (0..silent.len())
            .map(|x| {
                (self.rates.varies() && silent[x] > 0)
                    .then(|| {
                        self.table(x)
                            .ok()
                            .and_then(OffspringTable::silent_extinction)
                    })
                    .flatten()
            })
            .collect();
        let log_cdf = |s: f64| -> f64 {
            silent
                .iter()
                .enumerate()
                .filter(|&(_, &m)| m > 0)
                .map(|(x, &m)| {
                    let ratio = traces[x].map_or_else(
                        || solve.silent_extinction(x, s) / solve.silent_extinction(x, duration),
                        |trace| trace.at(s) / trace.at(duration),
                    );
                    m as f64 * ratio.min(1.0).ln()
                })
                .sum()
        };
        // In (0, 1]: ln is finite.
        let target = (1.0 - rng.random::<f64>()).ln();
        let (mut low, mut high) = (0.0, duration);
        for _ in 0..EXTINCTION_BISECTIONS {
            let mid = 0.5 * (low + high);
            if log_cdf(mid) < target {
                low = mid;
            } else {
                high = mid;
            }
        }
        high
    }
}

/// Bisections of the extinction time: `Δ / 2^64` is below a double's resolution of any time in
/// the step.
const EXTINCTION_BISECTIONS: usize = 64;

/// Whether a pool of `n` cells with total per-cell rate `rate` is jumped over a step of length
/// `duration`: its expected events in the step reach `threshold`.
#[must_use]
pub fn pool_jumps(n: u64, rate: f64, duration: f64, threshold: f64) -> bool {
    n > 0 && n as f64 * rate * duration >= threshold
}

/// Buffers reused between steps of one replicate.
#[derive(Clone, Debug, Default)]
pub struct StepScratch {
    next: Vec<u64>,
    bag: Vec<u64>,
    split: Vec<u64>,
    /// Per type, the jumped ancestors that emitted nothing (for the extinction time).
    silent: Vec<u64>,
    /// Per type, the regime of the step under way (counted by the run: [`super::regimes`]).
    pub regimes: StepRegimes,
}
