"""The jump law cache shared by every engine call of the process (``jump/cache.rs``): runs are
bit-identical with the cache cold, warm or disabled, blocks reuse the laws of the first, and a
changed rate builds its own laws instead of reusing a stale one."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie import _core
from models import JUMP_SPR, JUMP_SPR_RUN, JUMP_SPR_SCHEDULE

MODEL = JUMP_SPR
SCHEDULE = JUMP_SPR_SCHEDULE
RUN = JUMP_SPR_RUN
VARIABLES = ("count", "first_mutant_time", "extinction_time", "stop_time", "n_events", "status")


@pytest.fixture(autouse=True)
def default_budget() -> Iterator[int]:
    """The cache's default budget, restored after each test."""
    budget = _core.jump_cache_stats()[2]
    yield budget
    _core.set_jump_cache_budget(budget)


def laws() -> int:
    return _core.jump_cache_stats()[0]


def misses() -> int:
    return _core.jump_cache_stats()[4]


def same(a: Any, b: Any) -> None:
    for name in VARIABLES:
        np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy(), err_msg=name)
    assert a.attrs["jump_pool_steps"] == b.attrs["jump_pool_steps"]


def test_cold_warm_and_uncached_runs_are_identical(tmp_path: Path) -> None:
    _core.clear_jump_cache()
    cold = dg.simulate(MODEL, SCHEDULE, **RUN)
    built, missed = laws(), misses()
    assert built >= 2  # on and off
    warm = dg.simulate(MODEL, SCHEDULE, **RUN)
    assert (laws(), misses()) == (built, missed), "the warm run built nothing"
    same(cold, warm)
    # Blocks of a streamed run reuse the laws too.
    streamed = dg.simulate(MODEL, SCHEDULE, **RUN, store=tmp_path / "a.zarr", block_size=4)
    assert misses() == missed
    same(cold, streamed.load())
    _core.set_jump_cache_budget(0)
    assert laws() == 0
    uncached = dg.simulate(MODEL, SCHEDULE, **RUN)
    assert laws() == 0
    same(cold, uncached)


def test_a_changed_rate_does_not_reuse_a_stale_law() -> None:
    dg.simulate(MODEL, SCHEDULE, **RUN)
    faster = {**MODEL, "division": {**MODEL["division"], "S": 0.7 * (1 + 2**-52)}}
    missed = misses()
    warm = dg.simulate(faster, SCHEDULE, **RUN)
    assert misses() > missed, "the new rate built its own laws"
    _core.clear_jump_cache()
    cold = dg.simulate(faster, SCHEDULE, **RUN)
    same(warm, cold)


def test_density_runs_are_identical_cold_and_warm() -> None:
    logistic = {
        "states": ["N"],
        "exposures": ["off"],
        "division": {"N": 0.8},
        "death": {"N": 0.1},
        "capacity": {"K": 1000, "on": "death"},
    }
    run = {
        "initial": {"N": 20}, "t_end": 6, "n_replicates": 30, "seed": 1, "method": "jump",
        "jump_step": 1.0, "jump_threshold": 0,
    }  # fmt: skip
    _core.clear_jump_cache()
    cold = dg.simulate(logistic, "off", **run)
    missed = misses()
    warm = dg.simulate(logistic, "off", **run)
    assert misses() == missed
    same(cold, warm)
