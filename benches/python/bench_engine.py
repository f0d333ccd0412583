"""Events/s and replicates/s of dtp-gillespie from Python on the canonical S/P/R model.

Runs the benchmark cases of benches/bench-model.toml through the public API, each several times,
and prints medians for 1 and 2 threads (run alternately, seed by seed), the median two-thread
speed-up, and the CPU time of the calling thread (the serial part of a call outside the engine's
threads) and of the process. Not a test: run it by hand on a quiet machine,

    python benches/python/bench_engine.py [--repeats 5]
"""

import argparse
import os
import platform
import statistics
import time
import tomllib
from pathlib import Path
from typing import NamedTuple

import dtp_gillespie as dg

SPEC = tomllib.loads((Path(__file__).parents[1] / "bench-model.toml").read_text())
MODEL = dg.Model.from_dict(SPEC["model"])
INTERMITTENT = {"kind": "intermittent", "on": 14, "off": 14}

# name: (schedule, initial S, t_end, replicates)
CASES = {
    "a: 1 trajectory, 1e5 cells, 30 d on": ("on", 100_000, 30.0, 1),
    "b: 1 trajectory, drug-free growth, 1e3 cells, 270 d": ("off", 1000, 270.0, 1),
    "c: 1e4 replicates, 1e3 cells, 60 d on": ("on", 1000, 60.0, 10_000),
    "d: 1e3 replicates, 1e4 cells, 14 on/14 off, 168 d": (INTERMITTENT, 10_000, 168.0, 1000),
}


class Call(NamedTuple):
    """One call: wall seconds, CPU seconds of the calling thread (the part of the call outside
    the engine's threads: building the run, converting and assembling the output) and of the
    whole process, and the events simulated."""

    wall: float
    caller_cpu: float
    process_cpu: float
    events: int


def once(schedule, s0: int, t_end: float, n: int, threads: int, seed: int) -> Call:
    """Times and events of one call."""
    process = time.process_time()
    caller = time.thread_time()
    start = time.perf_counter()
    ds = dg.simulate(
        MODEL,
        schedule,
        initial={"S": s0},
        t_end=t_end,
        record_every=1.0,
        n_replicates=n,
        seed=seed,
        n_threads=threads,
    )
    wall = time.perf_counter() - start
    caller_cpu = time.thread_time() - caller
    process_cpu = time.process_time() - process
    return Call(wall, caller_cpu, process_cpu, int(ds["n_events"].sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    python = platform.python_version()
    print(f"dtp-gillespie {dg.__version__}, Python {python}, {platform.machine()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{'case':52} {'threads':>7} {'median s':>9} {'events/s':>10} {'replicates/s':>13}"
        f" {'caller CPU ms':>13} {'process CPU s':>13}"
    )
    # Untimed: the first call imports the output's modules and starts the engine's threads.
    once("on", 1000, 1.0, 10, 2, 0)
    for name, (schedule, s0, t_end, n) in CASES.items():
        # One and two threads alternate, the same seed for both, so that a busy spell of a shared
        # machine slows both alike; the speed-up is the median of the per-seed ratios.
        calls: dict[int, list[Call]] = {1: [], 2: []}
        for seed in range(args.repeats):
            for threads in (1, 2) if seed % 2 == 0 else (2, 1):
                calls[threads].append(once(schedule, s0, t_end, n, threads, seed))
        speed_up = statistics.median(
            a.wall / b.wall for a, b in zip(calls[1], calls[2], strict=True)
        )
        for threads in (1, 2):
            secs = statistics.median(c.wall for c in calls[threads])
            events = calls[threads][-1].events
            caller = statistics.median(c.caller_cpu for c in calls[threads])
            process = statistics.median(c.process_cpu for c in calls[threads])
            print(
                f"{name:52} {threads:>7} {secs:>9.4f} {events / secs:>10.3g} {n / secs:>13.4g}"
                f" {caller * 1e3:>13.2f} {process:>13.4f}"
                + (f"   speed-up {speed_up:.2f}x" if threads == 2 else "")
            )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
