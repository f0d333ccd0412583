"""Dask: blocks run as tasks on a LocalCluster of 2 worker processes, each writing its own zarr
region; the result is bit-identical to the local run (streamed, in memory, and for sweeps)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import pytest
import xarray as xr
from dtp_gillespie.stream import simulate_to_store, store_status
from dtp_gillespie.sweep import sweep
from strategies import without_created_at

distributed = pytest.importorskip("distributed")

MODEL: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.8, "P": 0.05, "R": 0.6},
    "death": {"S": {"off": 0.1, "on": 0.9}, "P": 0.02, "R": 0.1},
    "switch": [{"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.3}}],
    "mutation": [{"from": "P", "to": "R", "probability": 0.05}],
}
SCHEDULE = {"kind": "intermittent", "on": 2.0, "off": 1.0}
RUN: dict[str, Any] = {
    "initial": {"S": 20},
    "t_end": 6.0,
    "record_every": 0.5,
    "n_replicates": 50,
    "seed": 5,
}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def local() -> xr.Dataset:
    return dg.simulate(MODEL, SCHEDULE, **RUN)


def test_dask_streamed_run_is_bit_identical(client: Any, local: xr.Dataset, tmp_path: Path) -> None:
    path = str(tmp_path / "run.zarr")
    ds = simulate_to_store(MODEL, SCHEDULE, store=path, client=client, block_size=7, **RUN)
    assert store_status(path).complete
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(local))


def test_dask_in_memory_run_is_bit_identical(client: Any, local: xr.Dataset) -> None:
    ds = simulate_to_store(MODEL, SCHEDULE, client=client, block_size=9, **RUN)
    xr.testing.assert_identical(without_created_at(ds), without_created_at(local))


def test_dask_sweep_is_bit_identical(client: Any, tmp_path: Path) -> None:
    grid = {"schedule.off": [1.0, 3.0]}
    expected = sweep(MODEL, SCHEDULE, grid, **RUN)
    ds = sweep(
        MODEL, SCHEDULE, grid, store=str(tmp_path / "s.zarr"), client=client, block_size=20, **RUN
    )
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(expected))


def test_dask_summary_is_bit_identical(client: Any, tmp_path: Path) -> None:
    expected = dg.simulate(MODEL, SCHEDULE, summary_only=True, **RUN)
    mem = dg.simulate(MODEL, SCHEDULE, summary_only=True, client=client, block_size=8, **RUN)
    xr.testing.assert_identical(without_created_at(mem), without_created_at(expected))
    ds = dg.simulate(
        MODEL,
        SCHEDULE,
        summary_only=True,
        client=client,
        block_size=6,
        store=str(tmp_path / "s.zarr"),
        **RUN,
    )
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(expected))
