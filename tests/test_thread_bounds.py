"""``n_threads`` is an upper bound (docs/performance.md, "Threads"): a call starts at most one
thread per replicate and four per core, so a huge count returns promptly with the same result,
and the engine keeps only its two most recently used pools, so calls with ever new counts do not
pile up threads (counted in ``/proc/self/task``)."""

import os
import time
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest

M1: dict[str, Any] = {"states": ["S"], "division": {"S": 0.04}, "death": {"S": 0.01}}
RUN: dict[str, Any] = {"initial": {"S": 100}, "t_end": 10.0, "seed": 1}
THREADS_PER_CORE = 4  # THREADS_PER_CORE of rust/dtp_gillespie_core/src/ensemble.rs
POOLS_KEPT = 2  # POOLS_KEPT of the same


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def same(a: Any, b: Any) -> None:
    for name in ("count", "stop_time", "status", "extinction_time"):
        np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy(), err_msg=name)


def test_a_huge_thread_count_returns_promptly_with_the_same_result() -> None:
    one = dg.simulate(M1, "on", n_replicates=2, n_threads=1, **RUN)
    started = time.perf_counter()
    huge = dg.simulate(M1, "on", n_replicates=2, n_threads=10_000, **RUN)
    # It took over a minute (each thread asked for was started).
    assert time.perf_counter() - started < 10
    same(one, huge)
    # More replicates than the bound, SSA and jumps: the same for any count.
    for method in ("ssa", "jump"):
        run = {**RUN, "initial": {"S": 5000}, "n_replicates": 40, "method": method}
        base = dg.simulate(M1, "on", n_threads=1, **run)
        for threads in (3, 10_000):
            same(base, dg.simulate(M1, "on", n_threads=threads, **run))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc/self/task")
def test_distinct_thread_counts_do_not_pile_up_threads() -> None:
    before = os_threads()
    for threads in range(2, 42):
        dg.simulate(M1, "on", n_replicates=64, n_threads=threads, **RUN)
    # The pools kept, each at most the bound (os.cpu_count() is at least the cores the engine
    # counts), and slack for threads still ending.
    allowed = before + POOLS_KEPT * THREADS_PER_CORE * (os.cpu_count() or 1) + 4
    deadline = time.monotonic() + 10
    now = os_threads()
    while now > allowed and time.monotonic() < deadline:
        time.sleep(0.05)
        now = os_threads()
    assert now <= allowed, f"{now} threads after n_threads=2..41 ({before} before)"
