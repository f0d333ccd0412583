//! Criterion bench of lineage tracking (`dtp_gillespie_core::lineage`): the cost of choosing the
//! lineage of the firing cell and updating its count, at B = 10, 10³, 10⁴ and 10⁶ lineages of 10
//! cells each. One element is one `sample` (a uniform draw from the lineage stream, a bin, a
//! member by rejection) and one `add`; each iteration is a division then a death, so the total stays put. Run with
//! `cargo bench -p dtp_gillespie_benches --bench lineage`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dtp_gillespie_core::lineage::{LineageCounts, lineage_rng};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lineage_pick_add");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(2));
    for n_lineages in [10usize, 1_000, 10_000, 1_000_000] {
        let mut counts = LineageCounts::from_counts(&vec![10; n_lineages]).expect("valid counts");
        let mut rng = lineage_rng(&[1; 32], 0);
        group.bench_with_input(
            BenchmarkId::from_parameter(n_lineages),
            &n_lineages,
            |b, _| {
                b.iter(|| {
                    let born = counts.sample(&mut rng).expect("cells");
                    counts.add(born, 1).expect("no overflow");
                    let dead = counts.sample(&mut rng).expect("cells");
                    counts.add(dead, -1).expect("a cell to remove");
                    black_box(dead)
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
