"""Summary mode: statistics equal those of the full trajectories of the same seed; the result does
not depend on the block size, threads, streaming or resuming; stores of another mode are refused."""

import json
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from dtp_gillespie import summary as sm
from dtp_gillespie.errors import InvalidRunError
from dtp_gillespie.stream import simulate_to_store, store_status
from strategies import without_created_at

MODEL: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.8, "P": 0.05, "R": 0.6},
    "death": {"S": {"off": 0.1, "on": 1.2}, "P": 0.02, "R": 0.1},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.1}},
        {"from": "P", "to": "S", "rate": {"off": 0.2, "on": 0.01}},
    ],
    "mutation": [{"from": "P", "to": "R", "probability": 0.05}],
}
SCHEDULE = {"kind": "intermittent", "on": 3.0, "off": 1.0}
# Some replicates go extinct, some progress, some stop at the population cap (-1 counts).
RUN: dict[str, Any] = {
    "initial": {"S": 8, "P": 1},
    "t_end": 8.0,
    "record_every": 0.5,
    "n_replicates": 300,
    "seed": 11,
    "replicate_offset": 3,
    "max_population": 40,
    "progression": {"size": 25},
}


def _simulate(**kw: Any) -> xr.Dataset:
    with pytest.warns(UserWarning, match="stopped early"):
        return dg.simulate(MODEL, SCHEDULE, **{**RUN, **kw})


@pytest.fixture(scope="module")
def full() -> xr.Dataset:
    return _simulate()


@pytest.fixture(scope="module")
def summ() -> xr.Dataset:
    return _simulate(summary_only=True, block_size=7)


def _same(a: xr.Dataset, b: xr.Dataset) -> None:
    xr.testing.assert_identical(without_created_at(a), without_created_at(b))


def test_statistics_equal_those_of_the_full_trajectories(
    full: xr.Dataset, summ: xr.Dataset
) -> None:
    count = full["count"].values
    times = full["time"].values
    known = np.all(count >= 0, axis=2)
    # The test data exercise every case.
    assert 0 < known[:, -1].sum() < known.shape[0]
    assert np.isfinite(full["extinction_time"].values).sum() > 0
    assert np.isfinite(full["progression_time"].values).sum() > 0
    n = known.sum(axis=0)
    np.testing.assert_array_equal(summ["n_known"].values, n)
    c = np.where(known[..., None], count, 0).astype(object)
    s1 = c.sum(axis=0)
    s2 = (c * c).sum(axis=0)
    mean = np.array([[int(a) / int(k) for a in row] for row, k in zip(s1, n, strict=True)])
    np.testing.assert_array_equal(summ["count_mean"].values, mean)
    masked = np.where(known[..., None], count, np.nan)
    np.testing.assert_allclose(summ["count_mean"].values, np.nanmean(masked, 0), rtol=1e-12)
    np.testing.assert_allclose(
        summ["count_var"].values, np.nanvar(masked, 0, ddof=1), rtol=1e-12, atol=1e-12
    )
    var = (n[:, None] * s2 - s1 * s1) / (n[:, None] * (n[:, None] - 1))
    np.testing.assert_allclose(summ["count_var"].values, var.astype(float), rtol=1e-15)
    np.testing.assert_array_equal(
        summ["count_min"].values, np.where(known[..., None], count, 2**62).min(0)
    )
    np.testing.assert_array_equal(summ["count_max"].values, count.max(0))
    for i, q in enumerate(summ["quantile"].values):
        for t in range(times.size):
            for s in range(count.shape[2]):
                expected = np.quantile(count[known[:, t], t, s], q, method="inverted_cdf")
                assert summ["count_quantile"].values[i, t, s] == expected
    ext, prog = full["extinction_time"].values, full["progression_time"].values
    n_ext = ((ext[:, None] <= times) & known).sum(0)
    n_prog = ((prog[:, None] <= times) & known).sum(0)
    np.testing.assert_array_equal(summ["n_extinct"].values, n_ext)
    np.testing.assert_array_equal(summ["n_progressed"].values, n_prog)
    np.testing.assert_array_equal(summ["extinct_fraction"].values, n_ext / n)
    np.testing.assert_array_equal(summ["progressed_fraction"].values, n_prog / n)
    # Per-replicate variables are those of the full run; final_count is the last record.
    for name in full.data_vars:
        if name not in ("count", "exposure"):
            xr.testing.assert_identical(summ[name], full[name])
    np.testing.assert_array_equal(summ["final_count"].values, count[:, -1, :])
    assert "count" not in summ
    assert "exposure" not in summ
    assert summ["count_mean"].dims == ("time", "cell_state")
    assert summ["count_quantile"].dims == ("quantile", "time", "cell_state")
    assert summ["count_var"].attrs["units"] == "1"
    assert "ddof = 1" in summ["count_var"].long_name
    assert json.loads(summ.attrs["run"])["summary_only"] is True
    assert "summary_only" not in json.loads(full.attrs["run"])


def test_block_size_threads_and_streaming_do_not_change_the_summary(
    summ: xr.Dataset, tmp_path: Path
) -> None:
    _same(_simulate(summary_only=True, n_threads=1), summ)
    _same(_simulate(summary_only=True, block_size=1000, n_threads=2), summ)
    ds = _simulate(summary_only=True, block_size=11, store=tmp_path / "s.zarr")
    assert ds["final_count"].encoding["chunks"] == (11, 3)
    _same(ds.load(), summ)
    _same(dg.open_run(tmp_path / "s.zarr", load=True), summ)
    assert list(ds.data_vars)[-10:] == list(sm.STATISTICS)


def test_resume_in_summary_mode(summ: xr.Dataset, tmp_path: Path) -> None:
    import zarr

    path = str(tmp_path / "s.zarr")
    _simulate(summary_only=True, block_size=40, store=path)
    # A crash: blocks 2 and 5 never finished; their data and partial statistics are garbage, and
    # the final statistics were never written.
    done = zarr.open_array(f"{path}/_progress/block_done", mode="r+")
    done[0, 2] = 0
    done[0, 5] = 0
    zarr.open_array(f"{path}/final_count", mode="r+")[80:120] = 999
    zarr.open_array(f"{path}/_progress/stats/count_sum", mode="r+")[0, 5] = 12345
    zarr.open_array(f"{path}/_progress/stats/hist_0_2", mode="r+")[1] = 7
    zarr.open_array(f"{path}/count_mean", mode="r+")[...] = np.nan
    assert store_status(path).done.sum() == 6
    ds = simulate_to_store(MODEL, SCHEDULE, store=path, resume=True, summary_only=True, **RUN)
    _same(ds.load(), summ)
    assert store_status(path).complete
    # Every block done but the statistics not yet written (killed in the final step): the store
    # does not count as complete until a resume writes them.
    zarr.open_array(f"{path}/count_max", mode="r+")[...] = 0
    zarr.open_group(f"{path}/_progress", mode="r+").attrs["statistics_done"] = False
    status = store_status(path)
    assert status.done.all()
    assert status.statistics_pending
    assert not status.complete
    assert "statistics not written" in str(status)
    ds = simulate_to_store(MODEL, SCHEDULE, store=path, resume=True, summary_only=True, **RUN)
    _same(ds.load(), summ)
    assert store_status(path).complete


def test_a_full_store_is_not_resumed_in_summary_mode(tmp_path: Path) -> None:
    path = str(tmp_path / "full.zarr")
    _simulate(store=path, block_size=50)
    with pytest.raises(InvalidRunError, match=r"different run \(run"):
        dg.simulate(MODEL, SCHEDULE, store=path, resume=True, summary_only=True, **RUN)
    with pytest.raises(InvalidRunError, match="summary_only"):
        dg.simulate(MODEL, SCHEDULE, summary_only="yes", **RUN)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["yes", 0, None])
def test_summary_only_must_be_a_bool_even_when_falsy(value: object) -> None:
    # 0 and None used to run a full simulation silently.
    with pytest.raises(InvalidRunError, match=f"summary_only is {value!r}"):
        dg.simulate(MODEL, SCHEDULE, summary_only=value, **RUN)  # type: ignore[arg-type]


def test_reproduce_a_summary(summ: xr.Dataset) -> None:
    with pytest.warns(UserWarning, match="stopped early"):
        again = dg.reproduce(summ)
    _same(again, summ)


def test_sweep_summary_streamed_equals_in_memory(tmp_path: Path) -> None:
    grid = {"schedule.off": [1.0, 2.0]}
    run = {**RUN, "n_replicates": 60, "replicate_offset": 0}
    with pytest.warns(UserWarning, match="stopped early"):
        mem = dg.sweep(MODEL, SCHEDULE, grid, summary_only=True, block_size=25, **run)
    with pytest.warns(UserWarning, match="stopped early"):
        st = dg.sweep(
            MODEL, SCHEDULE, grid, summary_only=True, block_size=9, store=tmp_path / "w", **run
        )
    _same(st.load(), mem)
    assert mem["count_mean"].dims == ("schedule.off", "time", "cell_state")
    assert mem["final_count"].dims == ("schedule.off", "replicate", "cell_state")
    # Point 1 alone is the run with its own seed.
    child = np.random.SeedSequence(RUN["seed"]).spawn(2)[1]
    with pytest.warns(UserWarning, match="stopped early"):
        alone = dg.simulate(
            MODEL,
            {**SCHEDULE, "off": 2.0},
            summary_only=True,
            **{**run, "seed": child},
        )
    np.testing.assert_array_equal(mem["count_mean"].values[1], alone["count_mean"].values)


def test_cli_summary_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dtp_gillespie.cli import main

    config = tmp_path / "c.toml"
    config.write_text(
        """
[model]
states = ["S", "P"]
exposures = ["off", "on"]
division = { S = 0.8, P = 0.05 }
death = { S = { off = 0.1, on = 1.2 }, P = 0.02 }
switch = [{ from = "S", to = "P", rate = { off = 0.01, on = 0.1 } }]
[schedule]
kind = "continuous"
exposure = "on"
[run]
initial = { S = 8 }
t_end = 4.0
record_every = 1.0
n_replicates = 30
seed = 3
"""
    )
    out = str(tmp_path / "cli.zarr")
    assert main(["run", str(config), "--out", out, "--no-progress", "--summary-only"]) == 0
    ds = dg.open_run(out, load=True)
    assert "count" not in ds
    assert "count_mean" in ds
    assert "final counts" in capsys.readouterr().out
    assert main(["run", str(config), "--out", out, "--no-progress", "--resume"]) == 2


def test_histogram_bins_and_exact_sums() -> None:
    c = np.array([0, 1, 2047, 2048, 2049, 4095, 4096, 10**6, 10**12, 2**62, 2**63 - 1])
    b = sm.count_bin(c)
    lo = sm.bin_lower_edge(b)
    assert np.all(np.diff(b) >= 0)
    assert b.max() < sm._N_BINS
    np.testing.assert_array_equal(lo[:4], c[:4])
    assert np.all(lo <= c)
    assert np.all((c - lo) <= c / 2**10)
    np.testing.assert_array_equal(sm.count_bin(lo), b)
    # Sums of squares beyond int64 stay exact (and survive the stored limbs).
    big = np.array([[[3 * 10**9]], [[2**62]], [[5]]], dtype=np.int64)
    s1, s2 = sm._exact_sums(big, np.ones((3, 1), dtype=bool))
    assert s1[0, 0] == 3 * 10**9 + 2**62 + 5
    assert s2[0, 0] == (3 * 10**9) ** 2 + 2**124 + 25
    np.testing.assert_array_equal(sm.from_limbs(sm.to_limbs(s2)), s2)
    many = np.full((1000, 1, 1), 10**8, dtype=np.int64)
    assert sm._exact_sums(many, np.ones((1000, 1), dtype=bool))[1][0, 0] == 1000 * 10**16


def test_summary_keeps_the_final_biomarker(tmp_path: Path) -> None:
    # A model with a biomarker keeps its value at the last record time per replicate, the same
    # in memory and streamed in blocks, with the biomarker's units; other models have none.
    model = {**MODEL, "biomarker": {"production": {"S": 1.0, "R": 2.0}, "decay": 0.5}}
    run = {k: v for k, v in RUN.items() if k != "max_population"}
    full = dg.simulate(model, SCHEDULE, **run)
    last = full["biomarker"].isel(time=-1).values
    in_memory = dg.simulate(model, SCHEDULE, **run, summary_only=True)
    streamed = dg.simulate(
        model, SCHEDULE, **run, summary_only=True, store=tmp_path / "s.zarr", block_size=64
    )
    for ds in (in_memory, streamed):
        np.testing.assert_array_equal(ds[sm.FINAL_BIOMARKER].values, last)
        assert ds[sm.FINAL_BIOMARKER].attrs["units"] == full["biomarker"].attrs["units"]
    assert np.all(last > 0)
    assert sm.FINAL_BIOMARKER not in dg.simulate(MODEL, "off", **run, summary_only=True)
