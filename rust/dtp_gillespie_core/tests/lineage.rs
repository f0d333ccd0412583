//! Tests of lineage tracking (`src/lineage`): the binned counts and the per-state moves against a
//! naive model over random operation sequences; per-state totals against the engine's counts
//! after every event of real trajectories; and the statistics of the picks: the uniform draw
//! (Pearson's χ², and a rejection twin, the modulo-biased draw, on a total where its bias is
//! large) and picks proportional to lineage sizes (multinomial χ², with a twin whose sizes are
//! 20% off). Every χ² test is at α = 0.001 with fixed seeds, and asserts that its twin is
//! rejected with at least 99.9% power (non-central χ²), so a test that could not fail does not
//! pass silently.

mod common;

use std::sync::atomic::AtomicBool;

use common::{death, division, run, switch};
use dtp_gillespie_core::lineage::{
    CELL_LIST_LIMIT, LineageCounts, LineageError, LineageRng, Lineages, lineage_rng, uniform_below,
};
use dtp_gillespie_core::rng::replicate_rng;
use dtp_gillespie_core::{Dosing, Model, Schedule, trace};
use rand::Rng;

/// One-sided normal quantile at 0.999 (Wilson–Hilferty's χ² point; 99.9% power).
const Z_999: f64 = 3.090_232_306_167_813;

/// A generator for choosing operations, apart from the lineage stream under test.
fn driver(seed: u64) -> LineageRng {
    replicate_rng(&[0xd5; 32], seed)
}

/// A number in `0..n` for choosing operations (the modulo bias is irrelevant here).
fn below(rng: &mut LineageRng, n: u64) -> u64 {
    rng.next_u64() % n
}

/// The lineage of the r-th cell by a linear scan, or `None` if `r >= total`.
fn naive_pick(counts: &[u64], r: u64) -> Option<u32> {
    let mut cells = 0;
    counts
        .iter()
        .position(|&c| {
            cells += c;
            r < cells
        })
        .map(|id| id as u32)
}

#[test]
fn counts_agree_with_a_plain_vector_over_random_operations() {
    for seed in 0..100 {
        let mut rng = driver(seed);
        let initial: Vec<u64> = (0..below(&mut rng, 6))
            .map(|_| below(&mut rng, 4))
            .collect();
        let mut naive = initial.clone();
        // A cell list, bins from the start, and a cell list that converts past 8 cells.
        let limit = [CELL_LIST_LIMIT, 0, 8][seed as usize % 3];
        let mut tree = LineageCounts::from_counts_with_cell_limit(initial, limit).unwrap();
        for _ in 0..1000 {
            let n = naive.len() as u64;
            match below(&mut rng, 11) {
                10 => {
                    // A sampled cell removed where it stands.
                    if let Ok(cell) = tree.sample_cell(&mut rng) {
                        assert!(naive[cell.lineage as usize] > 0);
                        assert_eq!(tree.remove_sampled(cell), Ok(()));
                        naive[cell.lineage as usize] -= 1;
                    }
                }
                0 => {
                    let cells = below(&mut rng, 3);
                    assert_eq!(tree.push_lineage(cells), Ok(n as u32));
                    naive.push(cells);
                }
                1..=6 => {
                    // Sometimes an unknown lineage, sometimes a removal below 0.
                    let id = below(&mut rng, n + 1) as u32;
                    let delta = below(&mut rng, 5) as i64 - 2;
                    let result = tree.add(id, delta);
                    match naive.get_mut(id as usize) {
                        None => assert!(matches!(result, Err(LineageError::UnknownLineage { .. }))),
                        Some(c) if c.checked_add_signed(delta).is_none() => {
                            assert!(matches!(result, Err(LineageError::BelowZero { .. })));
                        }
                        Some(c) => {
                            assert_eq!(result, Ok(()));
                            *c = c.checked_add_signed(delta).unwrap();
                        }
                    }
                }
                _ => {
                    let total: u64 = naive.iter().sum();
                    let r = below(&mut rng, total + 2);
                    assert_eq!(tree.pick(r).ok(), naive_pick(&naive, r), "r = {r}");
                }
            }
            assert_eq!(tree.counts(), naive);
            assert_eq!(tree.total(), naive.iter().sum::<u64>());
            let id = below(&mut rng, n + 1) as u32;
            assert_eq!(tree.count(id).ok(), naive.get(id as usize).copied());
        }
        // The grown and updated tree is the tree built afresh from its counts.
        assert_eq!(tree, LineageCounts::from_counts(&naive).unwrap());
    }
}

/// The naive twin of `Lineages`: `counts[state][lineage]`, moved by the lineage the real one
/// picked (which lineage a draw yields depends on the order of its bins, not only on the counts;
/// the law of the picks is tested by χ² below).
struct NaiveLineages {
    counts: Vec<Vec<u64>>,
}

impl NaiveLineages {
    /// (source, dec, inc) as in `Lineages::fire`, moving `picked`, the real one's pick; `None`
    /// where the real one must refuse. A pick must be of a lineage with a cell in the source.
    fn fire(
        &mut self,
        source: usize,
        dec: bool,
        inc: Option<usize>,
        picked: Option<u32>,
    ) -> Option<u32> {
        let n_states = self.counts.len();
        if source >= n_states || inc.is_some_and(|s| s >= n_states) {
            return None;
        }
        if self.counts[source].iter().all(|&c| c == 0) {
            return None;
        }
        let lineage = picked.expect("a pick from a source with cells");
        assert!(
            self.counts[source][lineage as usize] > 0,
            "lineage {lineage} was picked without a cell in state {source}"
        );
        if let Some(inc) = inc {
            self.counts[inc][lineage as usize] += 1;
        }
        if dec {
            self.counts[source][lineage as usize] -= 1;
        }
        Some(lineage)
    }
}

#[test]
fn moves_agree_with_a_naive_model_over_random_operations() {
    let n_states = 3;
    for seed in 0..100 {
        let mut rng = driver(1000 + seed);
        let n0 = 1 + below(&mut rng, 5) as usize;
        let initial: Vec<Vec<u64>> = (0..n_states)
            .map(|_| (0..n0).map(|_| below(&mut rng, 3)).collect())
            .collect();
        let mut naive = NaiveLineages {
            counts: initial.clone(),
        };
        // Cell lists, bins from the start, and cell lists that convert past 6 cells.
        let limit = [CELL_LIST_LIMIT, 0, 6][seed as usize % 3];
        let mut lineages = Lineages::from_counts_with_cell_limit(&initial, limit).unwrap();
        let mut picks = lineage_rng(&[3; 32], seed);
        // The same operations replayed on a copy draw the same picks (reproducibility).
        let mut again = lineages.clone();
        let mut again_picks = picks.clone();
        for _ in 0..1000 {
            // States up to n_states (one past the end), so that unknown states are tried too.
            let a = below(&mut rng, n_states as u64 + 1) as usize;
            let b = below(&mut rng, n_states as u64 + 1) as usize;
            let (result, expected) = match below(&mut rng, 5) {
                0 => {
                    let result = lineages.divide(a, b, &mut picks);
                    assert_eq!(again.divide(a, b, &mut again_picks), result);
                    {
                        let expected = naive.fire(a, false, Some(b), result.clone().ok());
                        (result, expected)
                    }
                }
                1 => {
                    let result = lineages.die(a, &mut picks);
                    assert_eq!(again.die(a, &mut again_picks), result);
                    {
                        let expected = naive.fire(a, true, None, result.clone().ok());
                        (result, expected)
                    }
                }
                2 | 3 => {
                    let result = lineages.switch(a, b, &mut picks);
                    assert_eq!(again.switch(a, b, &mut again_picks), result);
                    {
                        let expected = naive.fire(a, true, Some(b), result.clone().ok());
                        (result, expected)
                    }
                }
                _ => {
                    let founded = lineages.found_clone(a, b, &mut picks);
                    assert_eq!(again.found_clone(a, b, &mut again_picks), founded);
                    let parent = founded.as_ref().ok().map(|&(parent, _)| parent);
                    let new_id = naive.counts[0].len() as u32;
                    let expected = if b < n_states {
                        naive.fire(a, false, None, parent).inspect(|_| {
                            for (s, counts) in naive.counts.iter_mut().enumerate() {
                                counts.push(u64::from(s == b));
                            }
                        })
                    } else {
                        None
                    };
                    if let (Ok((_, id)), Some(_)) = (&founded, expected) {
                        assert_eq!(*id, new_id);
                    }
                    (founded.map(|(parent, _)| parent), expected)
                }
            };
            assert_eq!(result.ok(), expected);
            assert_eq!(picks, again_picks, "the same draws, in number and value");
            for (s, counts) in naive.counts.iter().enumerate() {
                assert_eq!(lineages.state(s).unwrap().counts(), counts);
            }
        }
    }
}

/// A three-state S/P/R model in one exposure: S divides (a mutant daughter to R at 1%), dies and
/// switches to P; P divides, dies and switches back; R divides and dies.
fn spr_model() -> Model {
    let (s, p, r) = (0, 1, 2);
    let table = [
        (division(s, s, false), 0.5 * 0.99),
        (division(s, r, true), 0.5 * 0.01),
        (death(s), 0.3),
        (switch(s, p), 0.05),
        (division(p, p, false), 0.05),
        (death(p), 0.02),
        (switch(p, s), 0.1),
        (division(r, r, false), 0.4),
        (death(r), 0.1),
    ];
    let (channels, rates) = table.into_iter().unzip();
    Model::new(3, 1, channels, rates, None).unwrap()
}

#[test]
fn tracked_totals_equal_the_engines_counts_after_every_event() {
    // Barcodes: 40 barcodes of 5 S cells and one P cell each, replayed through real trajectories
    // (the engine's own trace), each event's channel fired on the lineages; and clones: every
    // mutation founds one.
    let model = spr_model();
    let dosing = Dosing::fixed(Schedule::constant(0), 1, None);
    let n_barcodes = 40;
    for replicate in 0..4 {
        let config = run(vec![5 * n_barcodes, n_barcodes, 0], 6.0, vec![]);
        let cancel = AtomicBool::new(false);
        let tr = trace(&model, &dosing, &config, &[21; 32], replicate, &cancel).unwrap();
        let n_events = tr.channel.len() - 1;
        assert!(n_events > 1000, "{n_events} events");
        let engine_counts = |k: usize| -> Vec<u64> {
            tr.counts[3 * k..3 * k + 3]
                .iter()
                .map(|&c| c as u64)
                .collect()
        };
        let mut barcodes = Lineages::from_counts(&[
            vec![5; n_barcodes as usize],
            vec![1; n_barcodes as usize],
            vec![0; n_barcodes as usize],
        ])
        .unwrap();
        let mut clones =
            Lineages::from_counts(&[vec![5 * n_barcodes], vec![n_barcodes], vec![0]]).unwrap();
        let mut rng = lineage_rng(&[21; 32], replicate);
        let mut mutations = 0;
        barcodes.check_totals(&engine_counts(0)).unwrap();
        for k in 1..=n_events {
            let channel = &model.channels()[tr.channel[k] as usize];
            barcodes.fire(channel, &mut rng).unwrap();
            if channel.is_mutation {
                mutations += 1;
                clones
                    .found_clone(channel.source, channel.inc.unwrap(), &mut rng)
                    .unwrap();
            } else {
                clones.fire(channel, &mut rng).unwrap();
            }
            barcodes.check_totals(&engine_counts(k)).unwrap();
            clones.check_totals(&engine_counts(k)).unwrap();
        }
        assert!(mutations > 0);
        assert_eq!(clones.n_lineages(), 1 + mutations);
        assert_eq!(barcodes.n_lineages(), n_barcodes as usize);
    }
}

/// Pearson's χ² of `observed` counts against cell probabilities `p`.
fn chi_square(observed: &[u64], p: &[f64]) -> f64 {
    let m: u64 = observed.iter().sum();
    observed
        .iter()
        .zip(p)
        .map(|(&o, &p)| (o as f64 - m as f64 * p).powi(2) / (m as f64 * p))
        .sum()
}

/// The upper α = 0.001 point of χ² with `df` degrees of freedom (Wilson–Hilferty).
fn critical(df: usize) -> f64 {
    let (df, c) = (df as f64, 2.0 / (9.0 * df as f64));
    df * (1.0 - c + Z_999 * c.sqrt()).powi(3)
}

/// Accepts `observed` against `p`, and asserts that `m` draws from `q` would be rejected with at
/// least 99.9% power (non-central χ², mean df + λ, variance 2(df + 2λ)).
fn accept_with_power(label: &str, observed: &[u64], p: &[f64], q: &[f64]) -> f64 {
    let df = p.len() - 1;
    let m = observed.iter().sum::<u64>() as f64;
    let statistic = chi_square(observed, p);
    assert!(
        statistic < critical(df),
        "{label}: χ² = {statistic} ≥ {} (df {df})",
        critical(df)
    );
    let lambda = m * p
        .iter()
        .zip(q)
        .map(|(p, q)| (q - p).powi(2) / p)
        .sum::<f64>();
    let weakest = df as f64 + lambda - Z_999 * (2.0 * (df as f64 + 2.0 * lambda)).sqrt();
    assert!(
        weakest >= critical(df),
        "{label}: underpowered twin (λ = {lambda})"
    );
    critical(df)
}

#[test]
fn uniform_draws_on_a_small_total_pass_pearsons_test() {
    let n = 10;
    let mut rng = lineage_rng(&[31; 32], 0);
    let mut observed = vec![0u64; n as usize];
    for _ in 0..50_000 {
        observed[uniform_below(&mut rng, n).unwrap() as usize] += 1;
    }
    let statistic = chi_square(&observed, &[0.1; 10]);
    assert!(statistic < critical(9), "χ² = {statistic}");
}

#[test]
fn uniform_draws_are_unbiased_where_the_modulo_and_unrejected_draws_are_not() {
    // On n = 3·2^62 there are 2^64 = 4n/3 64-bit values for n results, so any map from one draw
    // gives a third of the results two preimages. `x mod n` gives them to r < n/3 (the first
    // third of [0, n)); Lemire's multiply-shift `x·n / 2^64` without its rejection step gives them
    // to r ≡ 0 (mod 3). Classified by (third, r mod 3), nine cells of chance 1/9 each, both twins
    // put 1/6 in three cells and 1/12 in six. Lemire's draw rejects those 2^62 extra values (a
    // quarter of all draws here, so its rejection loop runs) and must pass.
    let n = 3u64 << 62;
    let cell = |r: u64| (3 * (r >> 62) + r % 3) as usize;
    let count = |mut draw: Box<dyn FnMut(&mut LineageRng) -> u64>| {
        let mut rng = lineage_rng(&[32; 32], 0);
        let mut observed = vec![0u64; 9];
        for _ in 0..3000 {
            observed[cell(draw(&mut rng))] += 1;
        }
        observed
    };
    let lemire = count(Box::new(|rng| uniform_below(rng, n).unwrap()));
    let modulo = count(Box::new(|rng| rng.next_u64() % n));
    let unrejected = count(Box::new(|rng| {
        ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
    }));
    let uniform = [1.0 / 9.0; 9];
    let heavy = |cells: [usize; 3]| -> Vec<f64> {
        (0..9)
            .map(|c| {
                if cells.contains(&c) {
                    1.0 / 6.0
                } else {
                    1.0 / 12.0
                }
            })
            .collect()
    };
    for (label, twin, q) in [
        ("modulo", modulo, heavy([0, 1, 2])),
        ("unrejected", unrejected, heavy([0, 3, 6])),
    ] {
        let critical = accept_with_power(label, &lemire, &uniform, &q);
        let statistic = chi_square(&twin, &uniform);
        assert!(
            statistic >= critical,
            "the {label} draw was not rejected (χ² = {statistic})"
        );
    }
}

/// Draws `n` picks from `counts` (built by `build` from `sizes`) and accepts them against the
/// shares of `sizes` by χ², asserting that the lineage `empty` (0 cells) is never picked and that
/// the same draws from the twin's counts (`twin_sizes`, one size 20% off) are rejected, with at
/// least 99.9% power.
fn assert_picks_proportional(
    label: &str,
    sizes: &[u64],
    twin_sizes: &[u64],
    empty: usize,
    n: u32,
    build: impl Fn(&[u64]) -> LineageCounts,
) {
    let draw = |counts: &LineageCounts| {
        let mut rng = lineage_rng(&[33; 32], 0);
        let mut observed = vec![0u64; sizes.len()];
        for _ in 0..n {
            observed[counts.sample(&mut rng).unwrap() as usize] += 1;
        }
        assert_eq!(observed[empty], 0, "{label}: an empty lineage was picked");
        observed.remove(empty);
        observed
    };
    let shares = |sizes: &[u64]| {
        let total: u64 = sizes.iter().sum();
        let mut p: Vec<f64> = sizes.iter().map(|&s| s as f64 / total as f64).collect();
        p.remove(empty);
        p
    };
    let (p, q) = (shares(sizes), shares(twin_sizes));
    let critical = accept_with_power(label, &draw(&build(sizes)), &p, &q);
    let twin = chi_square(&draw(&build(twin_sizes)), &p);
    assert!(
        twin >= critical,
        "{label}: the 20%-off twin was not rejected (χ² = {twin})"
    );
}

/// The test sizes of [`picks_are_proportional_to_lineage_sizes`], with an empty lineage (2) and
/// a twin whose lineage 3 is 20% larger (24 cells instead of 20).
const SIZES: [u64; 7] = [1, 5, 0, 20, 3, 11, 60];

fn twin_sizes() -> [u64; 7] {
    let mut twin = SIZES;
    twin[3] = 24;
    twin
}

#[test]
fn picks_are_proportional_to_lineage_sizes() {
    // Sizes built by growth and updates rather than at once, in a cell list (the default for
    // small states) and in bins (a cell-list limit of 0).
    for (label, limit) in [("cell list", CELL_LIST_LIMIT), ("bins", 0)] {
        assert_picks_proportional(label, &SIZES, &twin_sizes(), 2, 20_000, |sizes| {
            let mut counts = LineageCounts::with_cell_limit(limit);
            for (id, &size) in sizes.iter().enumerate() {
                counts.push_lineage(1).unwrap();
                counts.add(id as u32, size as i64 - 1).unwrap();
            }
            assert_eq!(counts.is_binned(), limit == 0);
            counts
        });
    }
}

#[test]
fn picks_stay_proportional_in_a_cell_list_reordered_by_moves() {
    // Every lineage grows by 30 cells one at a time (interleaved), then sheds them again, and a
    // sampled cell is removed and given back to its lineage 500 times: the list's order is
    // shuffled by the swaps, and lineage 2 (no cell) must never be picked.
    assert_picks_proportional(
        "reordered cell list",
        &SIZES,
        &twin_sizes(),
        2,
        20_000,
        |sizes| {
            let mut counts = LineageCounts::from_counts(sizes).unwrap();
            for _ in 0..30 {
                for id in 0..sizes.len() as u32 {
                    counts.add_one(id).unwrap();
                }
            }
            for id in 0..sizes.len() as u32 {
                counts.add(id, -30).unwrap();
            }
            let mut rng = lineage_rng(&[34; 32], 0);
            for _ in 0..500 {
                let cell = counts.sample_cell(&mut rng).unwrap();
                counts.remove_sampled(cell).unwrap();
                counts.add_one(cell.lineage).unwrap();
            }
            assert_eq!(counts.counts(), sizes);
            assert!(!counts.is_binned());
            counts
        },
    );
}

#[test]
fn picks_stay_proportional_after_a_cell_list_converts_to_bins() {
    // A cell list with a limit of 50 cells, grown one cell at a time past it (to 100 or 104
    // cells): the conversion happens midway and the growth goes on in bins.
    assert_picks_proportional("converted", &SIZES, &twin_sizes(), 2, 20_000, |sizes| {
        let mut counts =
            LineageCounts::from_counts_with_cell_limit(vec![0; sizes.len()], 50).unwrap();
        let mut left = sizes.to_vec();
        while left.iter().any(|&c| c > 0) {
            for (id, c) in left.iter_mut().enumerate() {
                if *c > 0 {
                    counts.add_one(id as u32).unwrap();
                    *c -= 1;
                }
            }
        }
        assert_eq!(counts.counts(), sizes);
        assert!(counts.is_binned());
        counts
    });
}

#[test]
fn picks_stay_proportional_after_lineages_move_between_bins() {
    // Sizes over bins 0 to 11 (counts in 2^k ..= 2^(k+1) - 1), reached by growing every lineage
    // to 2^12 cells and shrinking it back, so that each crosses bins and the bins' member orders
    // are shuffled by the moves; lineage 9 leaves every bin (0 cells) and must never be picked.
    // The twin's lineage 6 (100 cells) is 20% larger. Bins from the start (a cell-list limit of
    // 0): a state this small would otherwise keep a cell list.
    let sizes = [1u64, 1, 2, 3, 4, 7, 100, 8, 15, 0, 16, 1000, 2500, 33];
    let mut twin_sizes = sizes;
    twin_sizes[6] = 120;
    assert_picks_proportional("binned sizes", &sizes, &twin_sizes, 9, 200_000, |sizes| {
        let mut counts = LineageCounts::with_cell_limit(0);
        for _ in sizes {
            counts.push_lineage(1).unwrap();
        }
        for id in (0..sizes.len()).rev() {
            counts.add(id as u32, (1 << 12) - 1).unwrap();
        }
        for (id, &size) in sizes.iter().enumerate() {
            counts.add(id as u32, size as i64 - (1 << 12)).unwrap();
        }
        assert_eq!(counts.counts(), sizes);
        assert!(counts.is_binned());
        counts
    });
}
