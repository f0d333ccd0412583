"""The jump law cache shared across engine calls: streamed runs of the 60-day scenario of
``bench_jumps.py`` (10^9 cells, mutation 1e-7, one thread), without density dependence and with
the logistic death of ``bench_jumps_density.py`` (the approximation, whose laws are built per
rounded crowding), cut into several blocks, with every block building its own laws (cache
budget 0, as before the cache) and with the cache (cleared before the run, so that its first
block builds them). Not a test: run it by hand,

    python benches/python/bench_jump_cache.py [--replicates 40] [--block-size 5] [--repeats 5]

The two cases alternate within each repeat (side by side on a shared machine); the medians of
the wall times are reported, and the outputs are checked bit-identical.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
from bench_jumps import P_SHARE, SCHEDULE, model
from bench_jumps_density import model as density_model
from dtp_gillespie import _core


def streamed(path: Path, n: int, block_size: int, density: bool) -> Any:
    """The scenario streamed into ``path`` in blocks of ``block_size`` replicates."""
    p = round(1e9 * P_SHARE)
    return dg.simulate(
        density_model() if density else model(1e-7),
        SCHEDULE,
        initial={"S": round(1e9) - p, "P": p},
        t_end=60.0,
        record_every=1.0,
        n_replicates=n,
        seed=2,
        n_threads=1,
        method="jump",
        store=path,
        overwrite=True,
        block_size=block_size,
    )


def timed(path: Path, n: int, block_size: int, density: bool, budget: int) -> tuple[float, Any]:
    """Seconds of one streamed run from an empty cache with this budget, and its counts."""
    _core.clear_jump_cache()
    _core.set_jump_cache_budget(budget)
    t0 = time.perf_counter()
    ds = streamed(path, n, block_size, density)
    seconds = time.perf_counter() - t0
    return seconds, ds["count"].to_numpy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, default=40)
    p.add_argument("--block-size", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    n, size = args.replicates, args.block_size
    default_budget = _core.jump_cache_stats()[2]
    blocks = -(-n // size)
    print(f"{n} replicates in {blocks} blocks of {size}, 1 thread, medians of {args.repeats}:")
    for density in (False, True):
        per_call: list[float] = []
        shared: list[float] = []
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "run.zarr"
            timed(path, n, size, density, default_budget)  # warm-up (imports, zarr)
            for _ in range(args.repeats):
                seconds, before = timed(path, n, size, density, 0)
                per_call.append(seconds)
                seconds, after = timed(path, n, size, density, default_budget)
                shared.append(seconds)
                np.testing.assert_array_equal(before, after)
            laws, nbytes, *_ = _core.jump_cache_stats()
        _core.set_jump_cache_budget(default_budget)
        a, b = statistics.median(per_call), statistics.median(shared)
        print(f"  {'logistic death (approximation)' if density else 'linear (exact)'}:")
        print(f"    laws built per block (budget 0): {a:.2f} s")
        print(
            f"    laws shared (cache):             {b:.2f} s  ({a / b:.2f}x, {a - b:.2f} s saved)"
        )
        print(f"    cache after the run: {laws} laws, {nbytes / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
