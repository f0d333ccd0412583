//! Lineage tracking in runs (`lineage::tracker`, `lineage::start`): tracking changes no count,
//! the lineage table sums to the counts at every barcode time, clones are founded one per
//! mutation event, and the tables are the same for any thread count and split into calls. The
//! statistical laws of the tables (Kendall, the library multinomial) are tested in Python
//! (`tests/test_lineage_engine.py`).

mod common;

use common::{assert_identical, death, division, ensemble, run, switch};
use dtp_gillespie_core::lineage::{LineageOutput, LineageSpec, LineageStart, LineageTable};
use dtp_gillespie_core::{EngineError, EnsembleOutput, Model, RunConfig, Schedule, Status};

/// S (0) divides (a mutant daughter into R, 2, with small chance), dies, switches to P (1) and
/// back; R divides and dies.
fn spr() -> Model {
    let channels = vec![
        division(0, 0, false),
        division(0, 2, true),
        death(0),
        switch(0, 1),
        switch(1, 0),
        death(1),
        division(2, 2, false),
        death(2),
    ];
    let off = [1.0, 0.02, 0.3, 0.1, 0.2, 0.05, 0.8, 0.3];
    let on = [0.2, 0.004, 1.2, 0.4, 0.05, 0.05, 0.8, 0.3];
    Model::new(3, 2, channels, [off, on].concat(), None).unwrap()
}

fn tracked(base: &RunConfig, start: LineageStart, clones: bool) -> RunConfig {
    RunConfig {
        lineages: Some(LineageSpec {
            start,
            times: base.record_times.clone(),
            clones,
            next_clone: 1,
        }),
        ..base.clone()
    }
}

fn lineages(out: &EnsembleOutput) -> &LineageOutput {
    out.lineages
        .as_ref()
        .expect("a tracked run has lineage tables")
}

/// Per (replicate, time, state) sums of the lineage table, laid out like `counts`.
fn summed(out: &EnsembleOutput, first: u64, n_times: usize, n_states: usize) -> Vec<i64> {
    let mut sums = vec![0i64; out.counts.len()];
    let rows = &lineages(out).rows;
    for k in 0..rows.count.len() {
        let replicate = (rows.replicate[k] as u64 - first) as usize;
        let at = (replicate * n_times + rows.time[k] as usize) * n_states;
        sums[at + rows.state[k] as usize] += rows.count[k];
    }
    sums
}

#[test]
fn tracking_changes_no_count_and_the_table_sums_to_the_counts() {
    let model = spr();
    let schedule = Schedule::new(vec![0.0, 2.0], vec![0, 1], Some((0, 3.0))).unwrap();
    let times: Vec<f64> = (0..=8).map(f64::from).collect();
    let base = run(vec![30, 5, 0], 8.0, times.clone());
    let plain = ensemble(&model, &schedule, &base, 24, 7, 2);
    for start in [
        LineageStart::Founders,
        LineageStart::Library { n_barcodes: 10 },
    ] {
        for clones in [false, true] {
            let run = tracked(&base, start.clone(), clones);
            let out = ensemble(&model, &schedule, &run, 24, 7, 2);
            assert_identical(&plain, &out);
            let known: Vec<i64> = out.counts.iter().map(|&c| c.max(0)).collect();
            assert_eq!(summed(&out, 7, times.len(), 3), known);
            assert!(!lineages(&out).rows.count.is_empty());
            let born = &lineages(&out).clones_born;
            if clones {
                assert_eq!(born.len(), 24);
                assert_eq!(
                    born.iter().sum::<i64>() as usize,
                    lineages(&out).clones.id.len()
                );
            } else {
                assert!(born.is_empty() && lineages(&out).clones.id.is_empty());
            }
        }
    }
}

#[test]
fn a_capped_replicate_has_no_rows_after_it_stopped() {
    let model = spr();
    let schedule = Schedule::constant(0);
    let times: Vec<f64> = (0..=20).map(f64::from).collect();
    let base = RunConfig {
        max_population: 60,
        ..run(vec![20, 0, 0], 20.0, times.clone())
    };
    let run = tracked(&base, LineageStart::Founders, true);
    let out = ensemble(&model, &schedule, &run, 16, 0, 1);
    assert!(
        out.outcomes
            .iter()
            .any(|o| o.status == Status::MaxPopulation)
    );
    let rows = &lineages(&out).rows;
    for k in 0..rows.count.len() {
        let o = &out.outcomes[rows.replicate[k] as usize];
        assert!(times[rows.time[k] as usize] <= o.stop_time);
    }
    let known: Vec<i64> = out.counts.iter().map(|&c| c.max(0)).collect();
    assert_eq!(summed(&out, 0, times.len(), 3), known);
}

#[test]
fn the_tables_are_the_same_for_any_threads_and_split_into_calls() {
    let model = spr();
    let schedule = Schedule::constant(1);
    let base = run(vec![40, 0, 0], 3.0, vec![0.0, 1.5, 3.0]);
    let run = tracked(&base, LineageStart::Library { n_barcodes: 7 }, true);
    let whole = ensemble(&model, &schedule, &run, 12, 3, 1);
    let threaded = ensemble(&model, &schedule, &run, 12, 3, 3);
    // Debug strings: NaN (an alive clone's extinction time) equals NaN there.
    let same =
        |a: &LineageOutput, b: &LineageOutput| assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_identical(&whole, &threaded);
    same(lineages(&whole), lineages(&threaded));
    let mut joined = ensemble(&model, &schedule, &run, 5, 3, 2);
    let mut rest = ensemble(&model, &schedule, &run, 7, 8, 2);
    let mut tables = joined.lineages.take().unwrap();
    tables.append(rest.lineages.as_mut().unwrap());
    same(&tables, lineages(&whole));
}

#[test]
fn a_table_start_gives_each_replicate_its_own_counts() {
    let model = spr();
    let schedule = Schedule::constant(0);
    let base = run(vec![0, 0, 0], 2.0, vec![0.0, 2.0]);
    // Replicate 0: barcode 5 (10 S cells, 2 P cells) and clone 3 of barcode 5 (4 R cells);
    // replicate 1: barcode 9, 7 S cells.
    let table = LineageTable {
        offsets: vec![0, 2, 3],
        barcode: vec![5, 5, 9],
        clone: vec![0, 3, 0],
        count: vec![10, 2, 0, 0, 0, 4, 7, 0, 0],
        n_columns: 3,
    };
    let run = RunConfig {
        lineages: Some(LineageSpec {
            start: LineageStart::Table(table),
            times: vec![0.0, 2.0],
            clones: true,
            next_clone: 4,
        }),
        ..base
    };
    let out = ensemble(&model, &schedule, &run, 2, 0, 1);
    assert_eq!(&out.counts[..3], [10, 2, 4]);
    assert_eq!(&out.counts[6..9], [7, 0, 0]);
    let known: Vec<i64> = out.counts.iter().map(|&c| c.max(0)).collect();
    assert_eq!(summed(&out, 0, 2, 3), known);
    let l = lineages(&out);
    assert!(l.clones.id.iter().all(|&id| id >= 4));
    for k in 0..l.rows.count.len() {
        let own = if l.rows.replicate[k] == 0 { 5 } else { 9 };
        assert_eq!(l.rows.barcode[k], own);
    }
    // A table whose offsets do not match the replicates is refused.
    let err = dtp_gillespie_core::run_ensemble(
        &model,
        &dtp_gillespie_core::Dosing::fixed(schedule, 2, None),
        &run,
        &dtp_gillespie_core::EnsembleSpec {
            seed_key: [1; 32],
            replicate_offset: 0,
            n_replicates: 3,
            n_threads: Some(1),
        },
        &std::sync::atomic::AtomicBool::new(false),
        &std::sync::atomic::AtomicU64::new(0),
    )
    .unwrap_err();
    assert!(
        matches!(&err, EngineError::InvalidRun(m) if m.contains("lineages.table_offsets")),
        "{err:?}"
    );
}

#[test]
fn a_mutation_switch_founds_a_clone_and_may_empty_its_parent() {
    // S divides and dies; a mutation-switch S -> R founds a clone; R's own mutation-switch
    // R -> R moves a clone's cell into a subclone, which empties a one-cell parent.
    let mutation_switch = |from, to| dtp_gillespie_core::Channel {
        is_mutation: true,
        ..switch(from, to)
    };
    let channels = vec![
        division(0, 0, false),
        death(0),
        mutation_switch(0, 1),
        division(1, 1, false),
        death(1),
        mutation_switch(1, 1),
    ];
    let model = Model::new(2, 1, channels, vec![1.0, 0.9, 0.05, 0.3, 0.3, 0.5], None).unwrap();
    let times = vec![0.0, 5.0, 10.0];
    let base = run(vec![20, 0], 10.0, times.clone());
    let run = tracked(&base, LineageStart::Founders, true);
    let schedule = Schedule::constant(0);
    let out = ensemble(&model, &schedule, &run, 12, 0, 2);
    let known: Vec<i64> = out.counts.iter().map(|&c| c.max(0)).collect();
    assert_eq!(summed(&out, 0, times.len(), 2), known);
    let dosing = dtp_gillespie_core::Dosing::fixed(schedule, 1, None);
    let clones = &lineages(&out).clones;
    let mut emptied_by_a_subclone = 0;
    for r in 0..12u64 {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let trace =
            dtp_gillespie_core::trace(&model, &dosing, &run, &[42; 32], r, &cancel).unwrap();
        let mutations: Vec<f64> = (1..trace.time.len())
            .filter(|&k| [2, 5].contains(&trace.channel[k]))
            .map(|k| trace.time[k])
            .collect();
        let mine: Vec<usize> = (0..clones.id.len())
            .filter(|&k| clones.replicate[k] == r as i64)
            .collect();
        let births: Vec<f64> = mine.iter().map(|&k| clones.birth_time[k]).collect();
        assert_eq!(births, mutations);
        for &k in &mine {
            let child_born_then = mine.iter().any(|&j| {
                clones.parent[j] == clones.id[k]
                    && clones.birth_time[j] == clones.extinction_time[k]
            });
            emptied_by_a_subclone += usize::from(child_born_then);
        }
    }
    assert!(emptied_by_a_subclone > 0);
}
