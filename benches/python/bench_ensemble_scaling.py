"""Ensemble throughput: replicates/s for 1 and 2 threads (in memory and streamed to zarr) and
through a Dask LocalCluster (2 worker processes x 1 thread), on case (c) of
benches/bench-model.toml: 10^4 replicates from 1000 sensitive cells, 60 days of continuous
exposure, 61 record times. Not a test: run it by hand,

    python benches/python/bench_ensemble_scaling.py [--replicates 10000] [--repeats 5]

Each configuration runs ``--repeats`` times after one warm-up; the median wall time is reported.
Ratios: the streaming overhead (streamed / in-memory seconds, 2 threads) and the Dask overhead
ratio (local 2-thread seconds / Dask seconds: 1 means Dask costs nothing, below 1 is overhead).
The peak RSS of a 10^6-replicate streamed run is benches/python/bench_stream_memory.py.
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
import tomllib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dtp_gillespie as dg


def _median(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up (thread pools, imports, Dask workers)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster runs")
    args = p.parse_args()
    spec = tomllib.loads((Path(__file__).parents[1] / "bench-model.toml").read_text())
    model = dg.Model.from_dict(spec["model"])
    run: dict[str, Any] = {
        "initial": {"S": 1000},
        "t_end": 60.0,
        "record_every": 1.0,
        "n_replicates": args.replicates,
        "seed": 1,
    }
    tmp = tempfile.mkdtemp(prefix="bench-scaling-")

    def store() -> str:
        path = os.path.join(tmp, "run.zarr")
        shutil.rmtree(path, ignore_errors=True)
        return path

    rows: list[tuple[str, float]] = []
    try:
        for threads in (1, 2):
            rows.append(
                (
                    f"in memory, {threads} thread{'s' * (threads > 1)}",
                    _median(
                        lambda t=threads: dg.simulate(model, "on", n_threads=t, **run), args.repeats
                    ),
                )
            )
        for threads in (1, 2):
            rows.append(
                (
                    f"streamed to zarr, {threads} thread{'s' * (threads > 1)}",
                    _median(
                        lambda t=threads: dg.simulate(
                            model, "on", n_threads=t, store=store(), block_size=1000, **run
                        ),
                        args.repeats,
                    ),
                )
            )
        rows.append(
            (
                "summary only, in memory, 2 threads",
                _median(
                    lambda: dg.simulate(
                        model, "on", n_threads=2, summary_only=True, block_size=1000, **run
                    ),
                    args.repeats,
                ),
            )
        )
        if not args.no_dask:
            from distributed import Client, LocalCluster

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with (
                    LocalCluster(
                        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                    ) as cluster,
                    Client(cluster) as client,
                ):
                    rows.append(
                        (
                            "Dask 2 workers x 1 thread, in memory",
                            _median(
                                lambda: dg.simulate(
                                    model, "on", client=client, block_size=1000, **run
                                ),
                                args.repeats,
                            ),
                        )
                    )
                    rows.append(
                        (
                            "Dask 2 workers x 1 thread, streamed",
                            _median(
                                lambda: dg.simulate(
                                    model,
                                    "on",
                                    client=client,
                                    store=store(),
                                    block_size=1000,
                                    **run,
                                ),
                                args.repeats,
                            ),
                        )
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = args.replicates
    print(f"case (c): {n:,} replicates, S = 1000, continuous on, t_end = 60, 61 record times")
    print(f"median of {args.repeats} runs after a warm-up; block size 1000 where blocks apply")
    print(f"{'configuration':<42}{'seconds':>10}{'replicates/s':>15}")
    for name, sec in rows:
        print(f"{name:<42}{sec:>10.3f}{n / sec:>15,.0f}")
    t = dict(rows)
    speedup = t["in memory, 1 thread"] / t["in memory, 2 threads"]
    stream = t["streamed to zarr, 2 threads"] / t["in memory, 2 threads"]
    print(f"2-thread speed-up, in memory: {speedup:.2f}x")
    print(f"streaming overhead (streamed / in memory, 2 threads): {stream:.2f}")
    if not args.no_dask:
        mem = t["in memory, 2 threads"] / t["Dask 2 workers x 1 thread, in memory"]
        st = t["streamed to zarr, 2 threads"] / t["Dask 2 workers x 1 thread, streamed"]
        print(f"Dask overhead ratio, in memory (local 2 threads / Dask): {mem:.2f}")
        print(f"Dask overhead ratio, streamed (local streamed / Dask streamed): {st:.2f}")


if __name__ == "__main__":
    main()
