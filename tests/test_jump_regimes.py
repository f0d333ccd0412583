"""The engine's own count of the regime of each pool of a jump run (``jump_pool_steps``): every
(replicate, step) pair counted once per pool, the extremes of ``jump_threshold``, and the same
counts for any thread count, block size and sink (in memory, summary, streamed, resumed, sweeps).
"""

import json
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import zarr
from dtp_gillespie import _sink_store
from dtp_gillespie._pool_steps import REGIMES
from dtp_gillespie.sweep import sweep
from models import JUMP_SPR, JUMP_SPR_RUN, JUMP_SPR_SCHEDULE

MODEL = JUMP_SPR
SCHEDULE = JUMP_SPR_SCHEDULE
RUN = JUMP_SPR_RUN
# 4 days in steps of 0.5 (the breakpoints at 2 and 4 are multiples of it).
STEPS = 8


def pool_steps(ds: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = json.loads(ds.attrs["jump_pool_steps"])
    return out


@pytest.fixture(scope="module")
def reference() -> Any:
    return dg.simulate(MODEL, SCHEDULE, **RUN)


def test_every_pool_counts_every_step_of_every_replicate(reference: Any) -> None:
    assert (reference["status"] == 0).all()  # completed: every replicate took every step
    counts = pool_steps(reference)
    assert list(counts) == ["S", "P", "R"]
    for state, row in counts.items():
        assert list(row) == list(REGIMES)
        steps = row["event_by_event"] + row["jumped"] + row["empty"]
        assert steps == RUN["n_replicates"] * STEPS, state
    # S (2·10^4 cells) is always jumped; P (about 10^2) goes event by event; R starts empty.
    assert counts["S"]["jumped"] == RUN["n_replicates"] * STEPS
    assert counts["S"]["emitting_lineages"] > 0
    assert counts["P"]["event_by_event"] > 0
    assert counts["R"]["empty"] >= RUN["n_replicates"]
    assert counts["P"]["emitting_lineages"] <= counts["P"]["jumped"] * 10**4


def test_the_threshold_extremes_jump_every_pool_or_none() -> None:
    every = pool_steps(dg.simulate(MODEL, SCHEDULE, **{**RUN, "jump_threshold": 0}))
    assert all(row["event_by_event"] == 0 for row in every.values())
    assert every["P"]["jumped"] == RUN["n_replicates"] * STEPS
    # A small tumour, so that event by event stays cheap.
    small = {**RUN, "initial": {"S": 300, "P": 10}, "jump_threshold": float("inf")}
    none = pool_steps(dg.simulate(MODEL, SCHEDULE, **small))
    assert all(row["jumped"] == 0 and row["emitting_lineages"] == 0 for row in none.values())
    assert none["S"]["event_by_event"] == RUN["n_replicates"] * STEPS


def test_counts_do_not_depend_on_threads_blocks_or_sink(reference: Any, tmp_path: Path) -> None:
    expected = pool_steps(reference)
    one_thread = dg.simulate(MODEL, SCHEDULE, **RUN, n_threads=1)
    assert pool_steps(one_thread) == expected
    summary = dg.simulate(MODEL, SCHEDULE, **RUN, summary_only=True, block_size=4)
    assert pool_steps(summary) == expected
    streamed = dg.simulate(MODEL, SCHEDULE, **RUN, store=tmp_path / "a.zarr", block_size=5)
    assert pool_steps(streamed) == expected


def test_a_resumed_store_sums_the_blocks_of_both_sessions(
    reference: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "resumed.zarr"
    real = _sink_store.write_block

    def write_or_stop(job: Any, progress: Any = None) -> Any:
        if job.block == 2:
            raise KeyboardInterrupt
        return real(job, progress)

    monkeypatch.setattr(_sink_store, "write_block", write_or_stop)
    with pytest.raises(KeyboardInterrupt):
        dg.simulate(MODEL, SCHEDULE, **RUN, store=path, block_size=3)
    # Interrupted: blocks 0 and 1 hold their counts, the attribute is not written yet.
    assert "jump_pool_steps" not in zarr.open_group(str(path), mode="r").attrs
    kept = zarr.open_array(f"{path}/_progress/jump_pool_steps", mode="r")[...]
    assert (kept[0, :2] >= 0).all()
    assert (kept[0, 2:] == -1).all()
    monkeypatch.setattr(_sink_store, "write_block", real)
    resumed = dg.simulate(MODEL, SCHEDULE, **RUN, store=path, resume=True)
    assert pool_steps(resumed) == pool_steps(reference)


def test_auto_reports_the_counts_of_the_jumps_it_ran(reference: Any) -> None:
    auto = dg.simulate(MODEL, SCHEDULE, **{**RUN, "method": "auto"})
    assert auto.attrs["algorithm"] == "jump"
    assert pool_steps(auto) == pool_steps(reference)
    # The estimate along the mean path stays, under its own name.
    assert set(json.loads(auto.attrs["auto_pools"])) == {"S", "P", "R"}


def test_ssa_runs_have_no_counts() -> None:
    small = {**RUN, "initial": {"S": 30}, "n_replicates": 2}
    ssa = dg.simulate(MODEL, SCHEDULE, **{**small, "method": "ssa"})
    assert "jump_pool_steps" not in ssa.attrs
    auto = dg.simulate(MODEL, SCHEDULE, **{**small, "method": "auto"})
    assert auto.attrs["algorithm"] == "ssa"
    assert "jump_pool_steps" not in auto.attrs


def test_a_sweep_counts_each_point(tmp_path: Path) -> None:
    grid = {"model.division.S": [0.5, 0.7]}
    run = {k: v for k, v in RUN.items() if k != "seed"}
    in_memory = sweep(MODEL, SCHEDULE, grid, seed=5, **run)
    points = json.loads(in_memory.attrs["jump_pool_steps"])
    assert len(points) == 2
    for point in points:
        assert point["S"]["jumped"] == RUN["n_replicates"] * STEPS
    streamed = sweep(MODEL, SCHEDULE, grid, seed=5, store=tmp_path / "s.zarr", block_size=5, **run)
    assert json.loads(streamed.attrs["jump_pool_steps"]) == points


def test_density_runs_count_their_exact_steps() -> None:
    logistic = {
        "states": ["N"],
        "exposures": ["off"],
        "division": {"N": 0.8},
        "death": {"N": 0.1},
        "capacity": {"K": 1000, "on": "death"},
    }
    ds = dg.simulate(
        logistic, "off", initial={"N": 20}, t_end=6, n_replicates=20, seed=1,
        method="jump", jump_step=1.0, jump_threshold=300,
    )  # fmt: skip
    row = pool_steps(ds)["N"]
    assert row["event_by_event"] + row["jumped"] + row["empty"] == 20 * 6
    assert row["event_by_event"] >= 20
    assert row["jumped"] >= 20
    np.testing.assert_array_equal(ds["status"], 0)
