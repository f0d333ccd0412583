"""Zarr storage: a plain ``ds.to_zarr`` / ``xr.open_zarr`` round trip is exact, ``dg.open_run``
gives the canonical Dataset back, and a run reopened from disk reproduces."""

import json
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from models import SPR
from strategies import without_created_at

MODEL = SPR
SCHEDULE = {"kind": "intermittent", "on": 2.0, "off": 1.0}
RUN: dict[str, Any] = {
    "initial": {"S": 30, "P": 3},
    "t_end": 8.0,
    "record_every": 0.5,
    "n_replicates": 6,
    "seed": 99,
}


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    # Some replicates hit the cap, so the store holds -1 counts and all status codes in use.
    with pytest.warns(UserWarning, match="stopped early"):
        return dg.simulate(MODEL, SCHEDULE, **RUN, max_population=80, replicate_offset=4)


@pytest.fixture
def store(ds: xr.Dataset, tmp_path: Path) -> Path:
    path = tmp_path / "run.zarr"
    ds.to_zarr(path)
    return path


def test_fixture_has_capped_and_uncapped_replicates(ds: xr.Dataset) -> None:
    status = ds["status"].values
    assert np.any(status == 3)
    assert np.any(status != 3)
    assert np.any(ds["count"].values == -1)


def test_open_zarr_round_trip_is_identical(ds: xr.Dataset, store: Path) -> None:
    back = xr.open_zarr(store).load()
    xr.testing.assert_identical(back, ds)


def test_open_zarr_preserves_dtypes(ds: xr.Dataset, store: Path) -> None:
    back = xr.open_zarr(store).load()
    for name in ds.variables:
        if name == "cell_state":
            assert back[name].dtype.kind in "OUT"
            assert [str(s) for s in back[name].values] == ["S", "P", "R"]
        else:
            assert back[name].dtype == ds[name].dtype, name
    assert back["exposure"].dtype == np.int8
    assert back["status"].dtype == np.int8
    assert back["count"].dtype == np.int64
    # The -1 of unknown counts is data, not a fill value to be masked.
    np.testing.assert_array_equal(back["count"].values, ds["count"].values)


def test_open_zarr_preserves_attrs(ds: xr.Dataset, store: Path) -> None:
    back = xr.open_zarr(store)
    assert back.attrs == ds.attrs
    for name in ds.variables:
        for key, value in ds[name].attrs.items():
            np.testing.assert_array_equal(np.asarray(back[name].attrs[key]), np.asarray(value))
    for name in ("model", "schedule", "run"):
        assert json.loads(back.attrs[name]) == json.loads(ds.attrs[name])


def test_open_run_gives_the_canonical_dataset(ds: xr.Dataset, store: Path) -> None:
    back = dg.open_run(store, load=True)
    xr.testing.assert_identical(back, ds)
    assert list(back.data_vars) == list(ds.data_vars)
    assert back["cell_state"].dtype == ds["cell_state"].dtype
    for name in ds.variables:
        assert back[name].dtype == ds[name].dtype, name


def test_open_run_is_lazy_by_default(ds: xr.Dataset, store: Path) -> None:
    back = dg.open_run(store)
    assert back["count"].chunks is None  # no dask
    np.testing.assert_array_equal(back["count"].values, ds["count"].values)


def test_write_run_and_groups(ds: xr.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "groups.zarr"
    dg.write_run(ds, path, group="a", replicates_per_chunk=2)
    dg.write_run(ds.isel(replicate=slice(0, 2)), path, group="b")
    xr.testing.assert_identical(dg.open_run(path, group="a", load=True), ds)
    xr.testing.assert_identical(
        dg.open_run(path, group="b", load=True), ds.isel(replicate=slice(0, 2))
    )
    # The default mode "w-" refuses to overwrite; mode "w" replaces.
    with pytest.raises(FileExistsError):
        dg.write_run(ds, path, group="a")
    dg.write_run(ds.isel(replicate=[0]), path, group="a", mode="w")
    xr.testing.assert_identical(dg.open_run(path, group="a", load=True), ds.isel(replicate=[0]))


def test_reproduce_from_a_reopened_store(ds: xr.Dataset, store: Path) -> None:
    reopened = xr.open_zarr(store).load()
    with pytest.warns(UserWarning, match="stopped early"):
        again = dg.reproduce(reopened)
    xr.testing.assert_identical(without_created_at(again), without_created_at(ds))
    with pytest.warns(UserWarning, match="stopped early"):
        again_run = dg.reproduce(dg.open_run(store))
    xr.testing.assert_identical(without_created_at(again_run), without_created_at(ds))


def test_seed_none_run_reproduces_from_disk(tmp_path: Path) -> None:
    ds = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": None, "n_replicates": 3})
    path = tmp_path / "fresh.zarr"
    ds.to_zarr(path)
    again = dg.reproduce(dg.open_run(path))
    xr.testing.assert_identical(without_created_at(again), without_created_at(ds))


def test_spawned_seed_reproduces_from_disk(tmp_path: Path) -> None:
    child = np.random.SeedSequence(5).spawn(2)[1]
    ds = dg.simulate(MODEL, SCHEDULE, **{**RUN, "seed": child, "n_replicates": 3})
    path = tmp_path / "child.zarr"
    ds.to_zarr(path)
    back = dg.open_run(path)
    assert list(back.attrs["seed_spawn_key"]) == [1]
    xr.testing.assert_identical(without_created_at(dg.reproduce(back)), without_created_at(ds))


def test_write_run_consolidates_and_lists_the_groups(ds: xr.Dataset, tmp_path: Path) -> None:
    import zarr

    path = tmp_path / "groups.zarr"
    dg.write_run(ds, path, group="b")
    dg.write_run(ds, path, group="a")
    assert zarr.open_group(path, mode="r").attrs["groups"] == ["a", "b"]
    # Default open (consolidated=None) without "Failed to open Zarr store with consolidated
    # metadata" (a RuntimeWarning, an error under pytest's filterwarnings).
    xr.testing.assert_identical(dg.open_run(path, group="a", load=True), ds)
    xr.open_zarr(path, group="b").load()
    tree = dg.open_run(path)
    assert isinstance(tree, xr.DataTree)
    xr.testing.assert_identical(tree["b"].to_dataset().load(), ds)
    xr.open_datatree(path, engine="zarr")
    # Replacing a group keeps the store recognised and the consolidated metadata current.
    dg.write_run(ds.isel(replicate=[0]), path, group="a", mode="w")
    assert xr.open_zarr(path, group="a").sizes["replicate"] == 1


def test_open_run_of_a_missing_group_lists_the_groups(ds: xr.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "groups.zarr"
    dg.write_run(ds, path, group="continuous")
    with pytest.raises(dg.errors.InvalidRunError, match=r"no group 'intermitent'.*'continuous'"):
        dg.open_run(path, group="intermitent")
