"""Sweeps: grid dimensions and coordinates, per-point reproducibility and independence,
streamed and resumed sweeps identical to in-memory ones, path errors."""

from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
import zarr
from dtp_gillespie.errors import InvalidRunError
from dtp_gillespie.stream import store_status
from dtp_gillespie.sweep import sweep
from strategies import without_created_at

MODEL: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.8, "P": 0.05, "R": 0.6},
    "death": {"S": {"off": 0.1, "on": 0.9}, "P": 0.02, "R": 0.1},
    "switch": [{"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.3}}],
    "mutation": [{"from": "P", "to": "R", "probability": 0.05}],
}
SCHEDULE = {"kind": "intermittent", "on": 2.0, "off": 1.0}
RUN: dict[str, Any] = {"initial": {"S": 20}, "t_end": 5.0, "record_every": 1.0, "n_replicates": 9}
GRID = {"schedule.off": [1.0, 2.0, 4.0], "model.mutation[0].probability": [1e-3, 0.2]}


@pytest.fixture(scope="module")
def swept() -> xr.Dataset:
    return sweep(MODEL, SCHEDULE, GRID, seed=11, **RUN)


def test_sweep_dimensions_lead_with_coordinates(swept: xr.Dataset) -> None:
    assert swept["count"].dims == (
        "schedule.off",
        "model.mutation[0].probability",
        "replicate",
        "time",
        "cell_state",
    )
    assert swept["status"].dims[:2] == ("schedule.off", "model.mutation[0].probability")
    np.testing.assert_array_equal(swept["schedule.off"].values, [1.0, 2.0, 4.0])
    np.testing.assert_array_equal(swept["model.mutation[0].probability"].values, [1e-3, 0.2])
    assert swept.attrs["seed"] == 11
    assert '"schedule.off"' in swept.attrs["sweep"]


def test_each_point_is_the_simulate_run_with_its_spawned_seed(swept: xr.Dataset) -> None:
    k = 0
    for i, off in enumerate(GRID["schedule.off"]):
        for j, prob in enumerate(GRID["model.mutation[0].probability"]):
            model = {**MODEL, "mutation": [{"from": "P", "to": "R", "probability": prob}]}
            one = dg.simulate(
                model,
                {**SCHEDULE, "off": off},
                seed=np.random.SeedSequence(11).spawn(6)[k],
                **RUN,
            )
            got = swept.isel({"schedule.off": i, "model.mutation[0].probability": j}, drop=True)
            for name in one.data_vars:
                np.testing.assert_array_equal(got[name].values, one[name].values)
            k += 1


def test_points_with_equal_dynamics_draw_independent_streams() -> None:
    # Under continuous "on", the "off" division rate of P is never used: both points have the
    # same dynamics (grid values themselves must be distinct).
    ds = sweep(MODEL, "on", {"model.division.P.off": [0.05, 0.07]}, seed=3, **RUN)
    a, b = (ds["n_events"].isel({"model.division.P.off": i}).values for i in (0, 1))
    assert not np.array_equal(a, b)


def test_streamed_and_resumed_sweep_equals_in_memory(swept: xr.Dataset, tmp_path: Path) -> None:
    path = str(tmp_path / "sweep.zarr")
    ds = sweep(MODEL, SCHEDULE, GRID, seed=11, store=path, block_size=4, **RUN)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(swept))
    st = store_status(path)
    assert st.done.shape == (6, 3)
    assert st.complete
    # Lose two blocks of two points, resume without the seed (read from the store).
    done = zarr.open_array(f"{path}/_progress/block_done", mode="r+")
    done[1, 2] = 0
    done[4, 0] = 0
    ds = sweep(MODEL, SCHEDULE, GRID, store=path, resume=True, **RUN)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(swept))
    with pytest.raises(InvalidRunError, match="different run"):
        sweep(
            MODEL,
            SCHEDULE,
            {**GRID, "schedule.off": [1.0, 2.0, 5.0]},
            seed=11,
            store=path,
            resume=True,
            **RUN,
        )


def test_a_scalar_rate_expands_to_a_table_for_an_exposure_path() -> None:
    ds = sweep(MODEL, SCHEDULE, {"model.death.P.on": [0.02, 5.0]}, seed=1, **RUN)
    p_final = ds["count"].sel(cell_state="P").isel(time=-1)
    assert p_final.isel({"model.death.P.on": 1}).sum() < p_final.isel({"model.death.P.on": 0}).sum()


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"schedule.of": [1.0]}, "invalid|unknown|of"),
        ({"model.mutation[3].probability": [0.1]}, r"no item \[3\]"),
        ({"model.nope.S": [0.1]}, "no key 'nope'"),
        ({"run.t_end": [1.0]}, "must start with 'model.' or 'schedule.'"),
        ({"schedule.off": []}, "empty"),
        ({"schedule.off": 3.0}, "list of values"),
    ],
)
def test_bad_paths_are_errors(grid: dict[str, Any], match: str) -> None:
    with pytest.raises(dg.errors.DtpGillespieError, match=match):
        sweep(MODEL, SCHEDULE, grid, seed=1, **RUN)


@pytest.mark.parametrize("value", ["yes", 0, None])
def test_summary_only_must_be_a_bool(value: Any) -> None:
    with pytest.raises(InvalidRunError, match=f"summary_only is {value!r}; expected True or False"):
        sweep(MODEL, SCHEDULE, {"schedule.off": [1.0]}, summary_only=value, **RUN)
