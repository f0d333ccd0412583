"""``method="auto"``: it runs exact SSA or exact jumps, never an approximation, says which and why
in the attrs, chooses deterministically, and its result is bit for bit that of the method it
chose with the same options (in memory, streamed and resumed, in summary mode, on Dask, in
sweeps, and through ``reproduce``)."""

import json
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
import zarr
from dtp_gillespie import _auto
from dtp_gillespie.simulate import prepare
from dtp_gillespie.sweep import sweep
from strategies import without_created_at

MODEL: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 1.0, "P": 0.2, "R": 0.6},
    "death": {"S": {"off": 0.3, "on": 1.5}, "P": 0.05, "R": 0.1},
    "switch": [
        {"from": "S", "to": "P", "rate": 0.2},
        {"from": "P", "to": "S", "rate": 0.3},
    ],
    "mutation": [
        {"from": "S", "to": "R", "probability": 1e-6},
        {"from": "P", "to": "R", "probability": 1e-6},
    ],
}
SCHEDULE = {"kind": "intermittent", "on": 1.0, "off": 1.0}
# About 10^7 expected events per replicate: jumps cost a fraction of SSA.
LARGE: dict[str, Any] = {
    "initial": {"S": 1_000_000, "P": 10_000},
    "t_end": 3.0,
    "record_every": 0.5,
    "n_replicates": 6,
    "seed": 7,
}
# About 10^2 expected events per replicate: SSA is the cheaper.
SMALL: dict[str, Any] = {**LARGE, "initial": {"S": 20, "P": 2}, "n_replicates": 20}
DATA_VARS = ("count", "exposure", "first_mutant_time", "extinction_time", "stop_time", "status")


def same_data(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy(), err_msg=name)


@pytest.fixture(scope="module")
def large() -> xr.Dataset:
    return dg.simulate(MODEL, SCHEDULE, method="auto", **LARGE)


def test_a_large_linear_run_runs_jumps_bit_for_bit(large: xr.Dataset) -> None:
    jump = dg.simulate(MODEL, SCHEDULE, method="jump", **LARGE)
    same_data(large, jump)
    assert large.attrs["algorithm"] == "jump"
    for key in ("jump_step", "jump_tolerance", "jump_threshold"):
        assert large.attrs[key] == jump.attrs[key]
    assert "ran exact population jumps" in large.attrs["auto"]
    assert "jump_threshold = 1000" in large.attrs["auto"]
    assert large.attrs["auto_ssa_seconds"] > large.attrs["auto_jump_seconds"]
    pools = json.loads(large.attrs["auto_pools"])
    assert list(pools) == ["S", "P", "R"]
    # 3 days in steps of 0.5: S (10^6 cells) is jumped in every step.
    assert pools["S"] == {"jumped_steps": 6, "event_steps": 0}
    assert json.loads(large.attrs["run"])["method"] == "auto"


def test_options_apply_to_the_jump_run_auto_chooses() -> None:
    options = {"jump_step": 0.25, "jump_threshold": 50.0}
    auto = dg.simulate(MODEL, SCHEDULE, method="auto", **options, **LARGE)
    same_data(auto, dg.simulate(MODEL, SCHEDULE, method="jump", **options, **LARGE))
    assert auto.attrs["jump_step"] == 0.25
    assert auto.attrs["jump_threshold"] == 50.0


def test_a_small_run_runs_ssa_bit_for_bit() -> None:
    auto = dg.simulate(MODEL, SCHEDULE, method="auto", **SMALL)
    same_data(auto, dg.simulate(MODEL, SCHEDULE, **SMALL))
    assert auto.attrs["algorithm"] == "ssa"
    assert "ran exact SSA" in auto.attrs["auto"]
    assert "cheaper" in auto.attrs["auto"]
    assert auto.attrs["auto_ssa_seconds"] <= auto.attrs["auto_jump_seconds"]
    assert "jump_step" not in auto.attrs


def test_the_choice_follows_the_expected_cost_and_is_deterministic() -> None:
    def choice(**run: Any) -> tuple[str | None, dict[str, Any]]:
        prep = prepare(MODEL, SCHEDULE, method="auto", **{**SMALL, **run})
        return prep.core_run.get("method"), dict(prep.auto_attrs)

    assert choice()[0] is None  # SSA: the engine's run dict has no method
    assert choice(initial=LARGE["initial"])[0] == "jump"
    assert choice(initial=LARGE["initial"]) == choice(initial=LARGE["initial"])
    # Expected events grow with the population: past the crossover, jumps win for good.
    sizes = [10, 100, 1000, 10_000, 100_000]
    picks = [choice(initial={"S": n})[0] == "jump" for n in sizes]
    assert picks == sorted(picks)
    assert picks[0] is False
    assert picks[-1] is True


def test_the_mean_path_gives_the_exact_expected_events() -> None:
    # Pure death at rate 1 from 1000 cells: expected events in [0, t] are 1000 (1 - e^-t).
    model = {"states": ["N"], "exposures": ["off"], "death": {"N": 1.0}}
    prep = prepare(model, "off", initial={"N": 1000}, t_end=2.0, method="auto")
    est = _auto.estimate(
        prep.core_model,
        prep.core_schedule,
        initial=[1000],
        times=prep.times,
        t_end=2.0,
        step=0.5,
        threshold=1000.0,
        n_replicates=1,
        max_population=None,
    )
    assert est.events == pytest.approx(1000 * (1 - np.exp(-2.0)), rel=1e-12)
    assert est.steps == 4
    assert est.ssa_seconds == pytest.approx(_auto.COSTS.ssa_event * est.events)


LOGISTIC: dict[str, Any] = {**MODEL, "capacity": {"K": 2e6, "on": "division"}}
BIOMARKER: dict[str, Any] = {
    **MODEL,
    "biomarker": {"production": {"S": 1e-3}, "decay": 0.5, "initial": "steady"},
}


@pytest.mark.parametrize(
    ("model", "schedule", "extra", "reason"),
    [
        (LOGISTIC, SCHEDULE, {}, "density dependent"),
        (BIOMARKER, SCHEDULE, {}, "biomarker"),
        (MODEL, dg.Schedule.adaptive(), {}, "check_every is 0"),
        (MODEL, SCHEDULE, {"progression": {"size": 10**9}}, "progression"),
        (MODEL, SCHEDULE, {"max_events": 10**9}, "max_events"),
        (MODEL, SCHEDULE, {"barcodes": 4}, "barcodes"),
        (MODEL, SCHEDULE, {"clones": True}, "clones"),
    ],
)
def test_what_jumps_cannot_do_exactly_runs_ssa(
    model: dict[str, Any], schedule: Any, extra: dict[str, Any], reason: str
) -> None:
    # Large enough that jumps would be chosen if they could run it.
    run = {**LARGE, "initial": {"S": 20_000, "P": 200}, "t_end": 1.0, "n_replicates": 2}
    auto = dg.simulate(model, schedule, method="auto", **run, **extra)
    assert auto.attrs["algorithm"] == "ssa"
    assert "ran exact SSA" in auto.attrs["auto"]
    assert "cannot run it exactly" in auto.attrs["auto"]
    assert reason in auto.attrs["auto"]
    same_data(auto, dg.simulate(model, schedule, **run, **extra))


def test_jump_options_are_checked_with_auto_too() -> None:
    with pytest.raises(dg.errors.InvalidRunError, match="jump_step is 0"):
        dg.simulate(MODEL, SCHEDULE, method="auto", jump_step=0, **SMALL)
    with pytest.raises(dg.errors.InvalidRunError, match="expected one of ssa, jump, auto"):
        dg.simulate(MODEL, SCHEDULE, method="fast", **SMALL)


def test_reproduce_repeats_an_auto_run(large: xr.Dataset) -> None:
    again = dg.reproduce(large)
    xr.testing.assert_identical(without_created_at(again), without_created_at(large))


def test_streamed_resumed_and_summary_runs_equal_the_in_memory_run(
    large: xr.Dataset, tmp_path: Path
) -> None:
    path = tmp_path / "auto.zarr"
    streamed = dg.simulate(MODEL, SCHEDULE, method="auto", store=path, block_size=2, **LARGE)
    xr.testing.assert_identical(without_created_at(streamed.load()), without_created_at(large))
    # A block lost in a crash is redone by resume, with the same choice.
    zarr.open_array(f"{path}/_progress/block_done", mode="r+")[0, 1] = 0
    resumed = dg.simulate(MODEL, SCHEDULE, method="auto", store=path, resume=True, **LARGE)
    xr.testing.assert_identical(without_created_at(resumed.load()), without_created_at(large))
    summary = dg.simulate(MODEL, SCHEDULE, method="auto", summary_only=True, **LARGE)
    np.testing.assert_array_equal(
        summary["final_count"].to_numpy(), large["count"].isel(time=-1).to_numpy()
    )
    assert summary.attrs["algorithm"] == "jump"


@pytest.mark.filterwarnings("ignore:.*stopped early:UserWarning")
def test_a_sweep_chooses_per_point_and_says_so() -> None:
    # S divides once or 6 times a day. At once, jumps win; at 6, one table for a 0.5-day step
    # takes tens of seconds to build (its box grows with division rate × step), more than SSA
    # takes to reach the cap of 10^6 cells.
    grid = {"model.division.S": [1.0, 6.0]}
    run = {**SMALL, "initial": {"S": 200_000}, "t_end": 1.0, "max_population": 10**6}
    schedule = "off"
    auto = sweep(MODEL, schedule, grid, method="auto", **run)
    assert auto.attrs["algorithm"] == "mixed"
    assert json.loads(auto.attrs["auto_points"]) == ["jump", "ssa"]
    assert auto.attrs["jump_step"] == 0.5
    jump = sweep(MODEL, schedule, {"model.division.S": [1.0]}, method="jump", **run)
    ssa = sweep(MODEL, schedule, grid, **run)
    for name in DATA_VARS:
        np.testing.assert_array_equal(auto[name][0].to_numpy(), jump[name][0].to_numpy())
        np.testing.assert_array_equal(auto[name][1].to_numpy(), ssa[name][1].to_numpy())


@pytest.mark.filterwarnings("ignore:.*stopped early:UserWarning")
def test_a_run_whose_tables_the_engine_would_refuse_runs_ssa() -> None:
    # Division 20 a day over 0.5-day steps: the offspring table's box would exceed the
    # engine's limits, so method="jump" fails; auto runs SSA instead.
    fast = {**MODEL, "division": {**MODEL["division"], "S": 20.0}}
    run = {**SMALL, "initial": {"S": 100_000}, "t_end": 1.0, "max_population": 200_000}
    with pytest.raises(dg.errors.InvalidRunError, match="table"):
        dg.simulate(fast, "off", method="jump", **run)
    auto = dg.simulate(fast, "off", method="auto", **run)
    assert auto.attrs["algorithm"] == "ssa"
    assert "would exceed the engine's limits" in auto.attrs["auto"]
    same_data(auto, dg.simulate(fast, "off", **run))


def test_a_dask_run_equals_the_in_memory_run(large: xr.Dataset) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        ds = dg.simulate(MODEL, SCHEDULE, method="auto", client=client, block_size=4, **LARGE)
    xr.testing.assert_identical(without_created_at(ds), without_created_at(large))
