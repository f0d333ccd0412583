"""Barcodes and clones in the run pipeline: the options and their errors, the Dataset layout, the
in-memory and streamed tables (identical for any block size and thread count, resumable), plain
xarray reading a store, and the analysis helpers.

This tests the plumbing; the engine's laws (and the totals bit-identical with tracking on and
off) are tested in test_lineage_engine.py and the engine's own tests."""

import json
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
import zarr
from dtp_gillespie import _sink_store
from dtp_gillespie import conventions as cv
from dtp_gillespie._options import prepare
from dtp_gillespie._sink_tables import (
    TABLE_ROWS,
    OrderedTables,
    create_table_progress,
    stage,
    trim_tables,
)
from dtp_gillespie.errors import IncompleteStoreWarning, InvalidRunError
from strategies import without_created_at

MODEL: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.8, "P": 0.05, "R": 0.6},
    "death": {"S": {"off": 0.1, "on": 0.9}, "P": 0.02, "R": 0.1},
    "switch": [{"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.3}}],
    "mutation": [{"from": "S", "to": "R", "probability": 0.02}],
}
SCHEDULE = {"kind": "intermittent", "on": 2.0, "off": 1.0}
RUN: dict[str, Any] = {
    "initial": {"S": 12, "P": 2},
    "t_end": 4.0,
    "record_every": 1.0,
    "n_replicates": 9,
    "seed": 7,
}
TRACKED: dict[str, Any] = {**RUN, "barcodes": "founders", "clones": True}


# --- options --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"barcodes": "everyone"}, r"barcodes is 'everyone'; expected 'founders'"),
        ({"barcodes": 0}, r"barcodes \(number of barcodes B\) is 0; it must be a whole number"),
        ({"barcodes": -3}, r"barcodes \(number of barcodes B\) is -3"),
        ({"barcodes": 2.5}, r"barcodes \(number of barcodes B\) is 2.5; expected a whole number"),
        ({"barcodes": True}, r"barcodes is True \(bool\)"),
        ({"barcodes": [3]}, r"barcodes is \[3\] \(list\)"),
        ({"clones": 1}, r"clones is 1; expected True or False"),
        ({"clones": "yes"}, r"clones is 'yes'; expected True or False"),
        ({"barcode_times": [1.0]}, r"barcode_times is \[1.0\], but the run tracks no lineages"),
        ({"barcodes": 3, "barcode_times": [0.0, 5.0]}, r"barcode_times\[1\] is 5.0; .*\[0, 4.0\]"),
        ({"barcodes": 3, "barcode_times": [-1.0]}, r"barcode_times\[0\] is -1.0"),
        ({"barcodes": 3, "barcode_times": [float("nan")]}, r"barcode_times\[0\] is nan"),
        ({"barcodes": 3, "barcode_times": [2.0, 1.0]}, r"must be non-decreasing; .*\[1\] = 1.0"),
        ({"barcodes": 3, "barcode_times": []}, r"barcode_times is empty"),
        ({"barcodes": 3, "barcode_times": ["1"]}, r"barcode_times\[0\] is '1' \(str\)"),
        ({"barcodes": 3, "barcode_times": "1"}, r"barcode_times is '1'; expected a list"),
        ({"barcodes": 3, "barcode_times": [[1.0]]}, r"barcode_times\[0\] is \[1.0\] \(list\)"),
        ({"barcodes": 3, "barcode_times": np.ones((1, 1))}, r"barcode_times must be a 1-D list"),
        ({"barcodes": dg.Barcodes.founders(), "summary_only": True}, r"summary_only=True keeps"),
    ],
)
def test_bad_lineage_options_are_refused_naming_the_field(
    options: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidRunError, match=match):
        dg.simulate(MODEL, SCHEDULE, **{**RUN, **options})


def test_library_size_is_checked_by_the_explicit_form_too() -> None:
    with pytest.raises(InvalidRunError, match=r"n_barcodes\) is 0"):
        dg.Barcodes.library(0)


def test_a_sweep_refuses_lineage_tracking() -> None:
    with pytest.raises(InvalidRunError, match="sweep does not track lineages"):
        dg.sweep(MODEL, SCHEDULE, {"schedule.on": [1.0, 2.0]}, **{**RUN, "clones": True})


@pytest.mark.parametrize(
    ("barcodes", "spec"),
    [
        ("founders", {"start": "founders"}),
        (dg.Barcodes.founders(), {"start": "founders"}),
        (40, {"start": "library", "n_barcodes": 40}),
        (4e1, {"start": "library", "n_barcodes": 40}),
        (dg.Barcodes.library(40), {"start": "library", "n_barcodes": 40}),
        (None, {"start": "library", "n_barcodes": 1}),  # clones only: every cell barcode 0
    ],
)
def test_the_engine_gets_the_lineage_spec(barcodes: Any, spec: dict[str, Any]) -> None:
    prep = prepare(MODEL, SCHEDULE, **{**RUN, "barcodes": barcodes, "clones": barcodes is None})
    lineages = prep.core_run["lineages"]
    assert lineages == {**spec, "times": [0.0, 1.0, 2.0, 3.0, 4.0], "clones": barcodes is None}
    run = json.loads(json.dumps(prep.run_spec))
    assert run["barcodes"] == (
        None
        if barcodes is None
        else dg.Barcodes.to_spec(
            barcodes
            if isinstance(barcodes, dg.Barcodes)
            else (
                dg.Barcodes.founders() if barcodes == "founders" else dg.Barcodes.library(barcodes)
            )
        )
    )
    assert run["barcode_times"] is None


def test_explicit_barcode_times_may_repeat_and_are_recorded() -> None:
    prep = prepare(MODEL, SCHEDULE, **{**RUN, "barcodes": 5, "barcode_times": [0.5, 0.5, 4]})
    assert prep.core_run["lineages"]["times"] == [0.5, 0.5, 4.0]
    assert prep.run_spec["barcode_times"] == [0.5, 0.5, 4.0]
    clones_only = prepare(MODEL, SCHEDULE, **{**RUN, "clones": True, "barcode_times": []})
    assert clones_only.core_run["lineages"]["times"] == []


def test_an_untracked_run_is_unchanged() -> None:
    prep = prepare(MODEL, SCHEDULE, **RUN)
    assert "lineages" not in prep.core_run
    assert not {"barcodes", "barcode_times", "clones"} & set(prep.run_spec)
    ds = dg.simulate(MODEL, SCHEDULE, **RUN)
    lineage_vars = {v.name for v in cv.OUTPUTS if v.present in ("lineages", "clones")}
    assert not set(ds.data_vars) & lineage_vars
    assert cv.BARCODE_TIME not in ds.coords


# --- the Dataset ----------------------------------------------------------------------------------
def _row_sums(ds: xr.Dataset) -> dict[tuple[int, int, int], int]:
    """Sum of the lineage rows per (replicate, barcode time index, state)."""
    out: dict[tuple[int, int, int], int] = {}
    for r, k, s, n in zip(
        ds[cv.LINEAGE_REPLICATE].values,
        ds[cv.LINEAGE_TIME].values,
        ds[cv.LINEAGE_STATE].values,
        ds[cv.LINEAGE_COUNT].values,
        strict=True,
    ):
        key = (int(r), int(k), int(s))
        out[key] = out.get(key, 0) + int(n)
    return out


def test_the_dataset_layout_follows_the_output_table() -> None:
    ds = dg.simulate(MODEL, SCHEDULE, **TRACKED)
    assert list(ds.data_vars) == [v for v in cv.VARIABLES if v in ds.data_vars]
    wanted = {v.name for v in cv.OUTPUTS if v.present in ("always", "lineages", "clones")}
    assert set(ds.data_vars) == wanted
    for name, da in ds.data_vars.items():
        var = cv.OUTPUT[str(name)]
        assert da.dims == var.dims, name
        assert da.dtype == np.dtype(var.dtype), name
        assert da.attrs["units"] == var.units
        assert da.attrs["long_name"] == var.long_name
        assert da.attrs.get("comment") == var.comment
    np.testing.assert_array_equal(ds[cv.BARCODE_TIME].values, ds[cv.TIME].values)
    assert ds[cv.BARCODE_TIME].attrs["units"] == "day"
    assert ds[cv.LINEAGE_STATE].attrs["flag_meanings"] == "S P R"
    assert ds[cv.CLONE_BIRTH_EXPOSURE].attrs["flag_meanings"] == "off on"
    assert ds.sizes[cv.LINEAGE_ROW] > 0
    assert ds.sizes[cv.CLONE_ROW] > 0
    # Rows: ordered by replicate then time, counts > 0, global replicate indices.
    reps, times = ds[cv.LINEAGE_REPLICATE].values, ds[cv.LINEAGE_TIME].values
    assert np.all(np.diff(reps) >= 0)
    assert np.all((np.diff(times) >= 0) | (np.diff(reps) > 0))
    assert np.all(ds[cv.LINEAGE_COUNT].values > 0)
    assert set(reps) <= set(ds[cv.REPLICATE].values)
    assert json.loads(ds.attrs["run"])["barcodes"] == "founders"


def test_rows_sum_to_count_at_shared_times() -> None:
    ds = dg.simulate(MODEL, SCHEDULE, **{**TRACKED, "barcode_times": [0.0, 2.5, 3.0, 3.0]})
    sums = _row_sums(ds)
    count = ds[cv.COUNT].values
    for k, t in enumerate(ds[cv.BARCODE_TIME].values):
        j = np.flatnonzero(ds[cv.TIME].values == t)
        if j.size == 0:
            continue
        for i, r in enumerate(ds[cv.REPLICATE].values):
            for s in range(ds.sizes[cv.CELL_STATE]):
                want = int(count[i, j[0], s])
                if want >= 0:
                    assert sums.get((int(r), k, s), 0) == want, (r, t, s)


def test_reproduce_repeats_a_tracked_run() -> None:
    ds = dg.simulate(MODEL, SCHEDULE, **{**TRACKED, "barcodes": 6, "barcode_times": [1.0, 4.0]})
    again = dg.reproduce(ds)
    xr.testing.assert_identical(without_created_at(again), without_created_at(ds))


# --- in memory, stores, blocks and threads -------------------------------------------------------
def _table_bytes(path: Path) -> dict[str, bytes]:
    """Every file of the table arrays of a store, by relative path."""
    names = (*cv.LINEAGE_TABLE, *cv.CLONE_TABLE)
    return {
        str(f.relative_to(path)): f.read_bytes()
        for name in names
        for f in sorted((path / name).rglob("*"))
        if f.is_file()
    }


def test_memory_stores_blocks_and_threads_give_identical_tables(tmp_path: Path) -> None:
    reference = without_created_at(dg.simulate(MODEL, SCHEDULE, **TRACKED))
    for n_threads in (1, 2):
        ds = dg.simulate(MODEL, SCHEDULE, n_threads=n_threads, **TRACKED)
        xr.testing.assert_identical(without_created_at(ds), reference)
    files = []
    for block_size in (1, 4, 9):
        path = tmp_path / f"b{block_size}.zarr"
        ds = dg.simulate(MODEL, SCHEDULE, store=path, block_size=block_size, **TRACKED)
        xr.testing.assert_identical(without_created_at(ds.load()), reference)
        files.append(_table_bytes(path))
        # Plain xarray reads it, tables and the barcode_time coordinate included.
        plain = xr.open_zarr(path).load()
        xr.testing.assert_identical(without_created_at(plain), reference)
        assert dg.store_status(path).complete
    assert files[0] == files[1] == files[2]


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """Make the streamed run stop (Ctrl-C) when it reaches ``block``."""
    real = _sink_store.write_block

    def write_or_stop(job: Any, progress: Any = None) -> Any:
        if job.block == block:
            raise KeyboardInterrupt
        return real(job, progress)

    monkeypatch.setattr(_sink_store, "write_block", write_or_stop)


def _check_interrupted(path: Path, n_done: int, block_size: int) -> None:
    """The interrupted store: incomplete, and rows only for the replicates of done blocks."""
    status = dg.store_status(path)
    assert not status.complete
    assert status.done.sum() == n_done
    plain = xr.open_zarr(path)
    assert "incomplete" in plain.attrs
    done_reps = set(range(n_done * block_size))
    assert set(plain[cv.LINEAGE_REPLICATE].values.tolist()) <= done_reps
    assert set(plain[cv.CLONE_REPLICATE].values.tolist()) <= done_reps
    with pytest.warns(IncompleteStoreWarning):
        dg.open_run(path)


def test_an_interrupted_store_resumes_to_the_same_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = dg.simulate(MODEL, SCHEDULE, store=tmp_path / "ref.zarr", block_size=2, **TRACKED)
    path = tmp_path / "run.zarr"
    with monkeypatch.context() as m:
        _interrupt_at(m, 3)
        with pytest.raises(KeyboardInterrupt):
            dg.simulate(MODEL, SCHEDULE, store=path, block_size=2, **TRACKED)
    _check_interrupted(path, 3, 2)
    ds = dg.simulate(MODEL, SCHEDULE, store=path, resume=True, **TRACKED)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(reference.load()))
    assert _table_bytes(path) == _table_bytes(tmp_path / "ref.zarr")


def test_a_killed_store_with_rows_of_an_unfinished_block_resumes_correctly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill after a block's rows were appended but before it was marked done (no chance to
    clean up): resuming cuts those rows off and rewrites them once."""
    reference = dg.simulate(MODEL, SCHEDULE, store=tmp_path / "ref.zarr", block_size=2, **TRACKED)
    path = tmp_path / "run.zarr"
    real_append = OrderedTables._append

    def append_then_die(self: OrderedTables, key: tuple[int, int], tables: Any) -> None:
        if key == (0, 2):
            prog = self._prog
            real_append(self, key, tables)
            prog["block_done"][key] = 0  # the kill came before block_done was written
            raise SystemExit("killed")
        real_append(self, key, tables)

    with monkeypatch.context() as m:
        m.setattr(OrderedTables, "_append", append_then_die)
        # A kill cleans nothing up.
        m.setattr(_sink_store.StoreSink, "_clean_up_tables", lambda self: None)
        with pytest.raises(SystemExit):
            dg.simulate(MODEL, SCHEDULE, store=path, block_size=2, **TRACKED)
    rows = xr.open_zarr(path)[cv.LINEAGE_REPLICATE].values
    assert rows.max() >= 4  # rows of block 2 (replicates 4, 5) are in, not marked done
    ds = dg.simulate(MODEL, SCHEDULE, store=path, resume=True, **TRACKED)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(reference.load()))
    assert _table_bytes(path) == _table_bytes(tmp_path / "ref.zarr")


def test_ordered_tables_write_blocks_in_plan_order(tmp_path: Path) -> None:
    """Blocks finishing in any order (as on Dask) are appended in plan order, and a block is
    marked done only once its rows are in."""
    root = zarr.open_group(tmp_path / "t.zarr", mode="w")
    for name in cv.LINEAGE_TABLE:
        root.create_array(name, shape=(0,), chunks=(3,), dtype=cv.OUTPUT[name].dtype)
    prog = root.create_group("_progress")
    prog.create_array("block_done", shape=(1, 4), chunks=(1, 1), dtype="int8", fill_value=0)
    prog.create_array(TABLE_ROWS, shape=(1, 4, 2), chunks=(1, 1, 2), dtype="int64", fill_value=0)

    def block(b: int, n: int) -> dict[str, np.ndarray]:
        return {name: np.full(n, b, dtype=cv.OUTPUT[name].dtype) for name in cv.LINEAGE_TABLE}

    tables = OrderedTables(root, prog, [(0, 0), (0, 1), (0, 2), (0, 3)])
    tables.add(0, 2, block(2, 1))
    tables.add(0, 1, block(1, 4))
    assert root[cv.LINEAGE_COUNT].shape == (0,)  # waiting for block 0
    assert not np.asarray(prog["block_done"][...]).any()
    tables.add(0, 0, block(0, 2))
    np.testing.assert_array_equal(root[cv.LINEAGE_COUNT][...], [0, 0, 1, 1, 1, 1, 2])
    np.testing.assert_array_equal(prog["block_done"][...], [[1, 1, 1, 0]])
    assert not tables.finished
    # An interruption now, with block 3's rows half in: trimming keeps blocks 0-2 exactly.
    for name in cv.LINEAGE_TABLE:
        root[name].resize((9,))
        root[name][7:9] = 3
    prog["block_done"][0, 3] = 0
    keep = trim_tables(root, prog)
    np.testing.assert_array_equal(keep, [[True, True, True, False]])
    np.testing.assert_array_equal(root[cv.LINEAGE_COUNT][...], [0, 0, 1, 1, 1, 1, 2])
    tables.add(0, 3, block(3, 0))
    assert tables.finished


def test_trimming_unmarks_done_blocks_after_a_missing_one(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "t.zarr", mode="w")
    prog = root.create_group("_progress")
    prog.create_array("block_done", shape=(2, 2), chunks=(1, 1), dtype="int8", fill_value=0)
    prog.create_array(TABLE_ROWS, shape=(2, 2, 2), chunks=(1, 1, 2), dtype="int64", fill_value=0)
    prog["block_done"][...] = np.array([[1, 0], [1, 1]], dtype=np.int8)
    keep = trim_tables(root, prog)
    np.testing.assert_array_equal(keep, [[True, False], [False, False]])
    np.testing.assert_array_equal(prog["block_done"][...], [[1, 0], [0, 0]])


# --- analysis -------------------------------------------------------------------------------------
def test_barcode_counts_are_the_counts_by_barcode() -> None:
    ds = dg.simulate(MODEL, SCHEDULE, **TRACKED)
    counts = dg.analysis.barcode_counts(ds)
    assert counts.dims == (cv.REPLICATE, "barcode")
    assert counts.dtype == np.int64
    assert counts.sizes["barcode"] >= 14  # founders: one barcode per initial cell
    total = ds[cv.COUNT].isel(time=-1).sum(cv.CELL_STATE)
    np.testing.assert_array_equal(counts.sum("barcode").values, total.values)
    resistant = dg.analysis.barcode_counts(ds, time=2.0, state="R")
    np.testing.assert_array_equal(
        resistant.sum("barcode").values, ds[cv.COUNT].sel(time=2.0, cell_state="R").values
    )
    # A selection of replicates counts only those.
    part = dg.analysis.barcode_counts(ds.isel(replicate=[2, 5]))
    np.testing.assert_array_equal(part.values, counts.values[[2, 5]])
    with pytest.raises(InvalidRunError, match=r"time is 2.2; the barcode times are"):
        dg.analysis.barcode_counts(ds, time=2.2)
    with pytest.raises(InvalidRunError, match=r"state is 'Q'"):
        dg.analysis.barcode_counts(ds, state="Q")
    with pytest.raises(InvalidRunError, match="needs the lineage table"):
        dg.analysis.barcode_counts(dg.simulate(MODEL, SCHEDULE, **RUN))


def test_barcode_counts_refuse_tables_beyond_the_memory_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ds = dg.simulate(MODEL, SCHEDULE, **TRACKED)
    monkeypatch.setenv("DTP_GILLESPIE_MEMORY_LIMIT_GIB", str(100 / (1 << 30)))
    with pytest.raises(InvalidRunError, match=r"dense table of 9 replicates x \d+ barcodes"):
        dg.analysis.barcode_counts(ds)


def test_a_capped_replicate_reads_unknown_after_it_stopped() -> None:
    with pytest.warns(UserWarning, match="stopped early"):
        ds = dg.simulate(MODEL, SCHEDULE, **{**TRACKED, "n_replicates": 30, "max_events": 120})
    capped = ds[cv.STATUS].values == cv.STATUS_MAX_EVENTS
    assert capped.any()
    counts = dg.analysis.barcode_counts(ds)
    late = capped & (ds[cv.STOP_TIME].values < 4.0)
    assert late.any()
    assert not late.all()
    assert np.all(counts.values[late] == -1)
    assert np.all(counts.values[~late] >= 0)


def test_clone_sizes_and_the_analyses_fed_by_barcodes() -> None:
    ds = dg.simulate(MODEL, SCHEDULE, **TRACKED)
    sizes = dg.analysis.clone_sizes(ds)
    assert sizes.dims == (cv.CLONE_ROW,)
    assert sizes.sizes[cv.CLONE_ROW] == ds.sizes[cv.CLONE_ROW]
    # Each clone's size is the sum of its rows at the last barcode time.
    last = ds[cv.LINEAGE_TIME].values == ds.sizes[cv.BARCODE_TIME] - 1
    for row in range(ds.sizes[cv.CLONE_ROW]):
        mine = (
            last
            & (ds[cv.LINEAGE_REPLICATE].values == ds[cv.CLONE_REPLICATE].values[row])
            & (ds[cv.LINEAGE_CLONE].values == ds[cv.CLONE_ID].values[row])
        )
        assert sizes.values[row] == ds[cv.LINEAGE_COUNT].values[mine].sum()
    table = dg.analysis.sister_table(ds)
    assert table.dims == ("barcode", "flask")
    assert table.sizes["flask"] == 9
    overlap = dg.analysis.sister_overlap(table.isel(flask=[0, 1, 2]))
    assert 0.0 <= float(overlap["p_value"]) <= 1.0
    per_barcode = dg.analysis.barcode_counts(ds, state="R").isel(replicate=0).values
    result = dg.analysis.fluctuation_test(per_barcode)
    assert "m" in result or len(result.data_vars) > 0


def test_the_analysis_reads_a_store_lazily(tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    dg.simulate(MODEL, SCHEDULE, store=path, block_size=4, **TRACKED)
    stored = dg.open_run(path)
    assert isinstance(stored, xr.Dataset)
    memory = dg.simulate(MODEL, SCHEDULE, **TRACKED)
    xr.testing.assert_identical(
        dg.analysis.barcode_counts(stored), dg.analysis.barcode_counts(memory)
    )
    xr.testing.assert_identical(dg.analysis.clone_sizes(stored), dg.analysis.clone_sizes(memory))


CONFIG = """
[model]
states = ["S", {name = "R", genetic = true}]
division = {S = 0.5, R = 0.4}
death = {S = 0.3, R = 0.1}
mutation = [{from = "S", to = "R", probability = 0.01}]

[schedules.continuous]
kind = "continuous"
exposure = "on"

[run]
initial = {S = 30}
t_end = 2.0
n_replicates = 4
seed = 1
barcodes = 8
clones = true
barcode_times = [0.0, 2.0]
"""


def test_a_configuration_run_table_takes_the_lineage_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dtp_gillespie import cli

    config = tmp_path / "run.toml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "run.zarr"
    assert cli.main(["run", str(config), "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    ds = xr.open_zarr(out, group="continuous")
    np.testing.assert_array_equal(ds[cv.BARCODE_TIME].values, [0.0, 2.0])
    assert set(ds[cv.LINEAGE_BARCODE].values.tolist()) <= set(range(8))
    assert cv.CLONE_ID in ds


def test_the_output_page_lists_every_lineage_variable() -> None:
    page = Path(__file__).resolve().parents[1] / "docs" / "output.md"
    rows = {}
    for line in page.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`"):
            rows.setdefault(cells[0].strip("`"), cells[1:4])
    ds = dg.simulate(MODEL, SCHEDULE, **TRACKED)
    for name in [cv.BARCODE_TIME, *(v.name for v in cv.OUTPUTS if v.present != "always")]:
        if name not in ds.variables:
            continue
        var = ds[name]
        assert rows[name] == [f"({', '.join(var.dims)})", str(var.dtype), f"`{var.attrs['units']}`"]


def test_a_dask_store_has_the_same_tables(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    reference = dg.simulate(MODEL, SCHEDULE, store=tmp_path / "ref.zarr", block_size=2, **TRACKED)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        path = tmp_path / "dask.zarr"
        ds = dg.simulate(MODEL, SCHEDULE, store=path, block_size=2, client=client, **TRACKED)
        memory = dg.simulate(MODEL, SCHEDULE, block_size=3, client=client, **TRACKED)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(reference.load()))
    xr.testing.assert_identical(without_created_at(memory), without_created_at(reference.load()))
    assert _table_bytes(path) == _table_bytes(tmp_path / "ref.zarr")


def test_tracking_leaves_every_other_variable_unchanged() -> None:
    plain = dg.simulate(MODEL, SCHEDULE, **RUN)
    tracked = dg.simulate(MODEL, SCHEDULE, **TRACKED)
    for name in plain.data_vars:
        xr.testing.assert_identical(tracked[name], plain[name])


def test_the_starts_give_the_barcodes_they_promise() -> None:
    founders = dg.simulate(MODEL, SCHEDULE, **{**RUN, "barcodes": "founders"})
    at_zero = founders[cv.LINEAGE_TIME].values == 0
    barcodes = founders[cv.LINEAGE_BARCODE].values[at_zero]
    states = founders[cv.LINEAGE_STATE].values[at_zero]
    assert np.all(founders[cv.LINEAGE_COUNT].values[at_zero] == 1)
    for r in founders[cv.REPLICATE].values:
        mine = founders[cv.LINEAGE_REPLICATE].values[at_zero] == r
        np.testing.assert_array_equal(np.sort(barcodes[mine]), np.arange(14))
        # The first state's 12 cells carry barcodes 0..11, the second's 12 and 13.
        assert set(barcodes[mine & (states == 0)]) == set(range(12))
    library = dg.simulate(MODEL, SCHEDULE, **{**RUN, "barcodes": 4})
    assert set(library[cv.LINEAGE_BARCODE].values) <= {0, 1, 2, 3}
    counts = dg.analysis.barcode_counts(library, time=0.0)
    assert counts.sizes["barcode"] == 4
    np.testing.assert_array_equal(counts.sum("barcode").values, np.full(9, 14))
    clones_only = dg.simulate(MODEL, SCHEDULE, **{**RUN, "clones": True})
    assert np.all(clones_only[cv.LINEAGE_BARCODE].values == 0)
    assert np.all(clones_only[cv.CLONE_BARCODE].values == 0)


def test_a_capped_replicate_has_no_rows_after_it_stopped() -> None:
    with pytest.warns(UserWarning, match="stopped early"):
        ds = dg.simulate(MODEL, SCHEDULE, **{**TRACKED, "n_replicates": 30, "max_events": 120})
    stop = dict(zip(ds[cv.REPLICATE].values, ds[cv.STOP_TIME].values, strict=True))
    row_times = ds[cv.BARCODE_TIME].values[ds[cv.LINEAGE_TIME].values]
    row_stop = np.array([stop[r] for r in ds[cv.LINEAGE_REPLICATE].values])
    assert np.all(row_times <= row_stop)
    capped = ds[cv.STATUS].values == cv.STATUS_MAX_EVENTS
    assert capped.any()
    assert not capped.all()


def test_a_replicate_offset_gives_the_same_rows_under_global_indices() -> None:
    full = dg.simulate(MODEL, SCHEDULE, **TRACKED)
    part = dg.simulate(MODEL, SCHEDULE, **{**TRACKED, "n_replicates": 3, "replicate_offset": 5})
    for names, dim, rep in (
        (cv.LINEAGE_TABLE, cv.LINEAGE_ROW, cv.LINEAGE_REPLICATE),
        (cv.CLONE_TABLE, cv.CLONE_ROW, cv.CLONE_REPLICATE),
    ):
        mine = np.isin(full[rep].values, [5, 6, 7])
        want = full[list(names)].isel({dim: mine}).drop_attrs()
        xr.testing.assert_identical(part[list(names)].drop_attrs(), want)


def test_an_in_memory_run_whose_tables_would_not_fit_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DTP_GILLESPIE_MEMORY_LIMIT_GIB", "0.01")
    big = {**TRACKED, "initial": {"S": 10_000}, "t_end": 0.01, "record_every": 0.0025}
    with pytest.raises(InvalidRunError, match=r"the lineage tables of 9 replicates .* store="):
        dg.simulate(MODEL, SCHEDULE, **big)
    # Streamed, a block that fits is fine.
    ds = dg.simulate(MODEL, SCHEDULE, store=tmp_path / "big.zarr", block_size=1, **big)
    assert ds.sizes[cv.LINEAGE_ROW] > 0


def test_the_memory_guard_counts_the_trackers_running_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Tables that fit are still refused when the trackers of the replicates running at once
    (one per lane per thread on a CPU with the SIMD lanes, else one per thread) do not fit too."""
    from dtp_gillespie._core import trackers_at_once
    from dtp_gillespie.barcodes import LINEAGE_ROW_BYTES

    lineages = 100_002
    big = {
        **TRACKED,
        "initial": {"S": 100_000, "P": 2},
        "t_end": 0.001,
        "record_every": 0.001,
        "barcode_times": [0.001],
        "n_threads": 1,
    }
    tables = 9 * lineages * LINEAGE_ROW_BYTES
    monkeypatch.setenv("DTP_GILLESPIE_MEMORY_LIMIT_GIB", str(1.02 * tables / 2**30))
    running = trackers_at_once(1, 9)
    assert running in (1, 8)
    with pytest.raises(
        InvalidRunError,
        match=rf"the lineage tables of 9 replicates and the lineage trackers of the {running} "
        r"running at once .* fewer threads \(n_threads\)",
    ):
        dg.simulate(MODEL, SCHEDULE, **big)
    # Streamed one replicate at a time, one tracker runs: that fits.
    ds = dg.simulate(MODEL, SCHEDULE, store=tmp_path / "big.zarr", block_size=1, **big)
    assert ds.sizes[cv.LINEAGE_ROW] > 8 * lineages  # a few lineages die out


def test_staged_blocks_are_appended_in_order_and_their_staging_removed(tmp_path: Path) -> None:
    """Dask tasks stage their rows in the store; the caller appends them in plan order."""
    root = zarr.open_group(tmp_path / "t.zarr", mode="w")
    for name in cv.LINEAGE_TABLE:
        root.create_array(name, shape=(0,), chunks=(3,), dtype=cv.OUTPUT[name].dtype)
    prog = root.create_group("_progress")
    prog.create_array("block_done", shape=(1, 3), chunks=(1, 1), dtype="int8", fill_value=0)
    create_table_progress(prog, 1, 3, ("grid_point", "block"))

    def block(b: int, n: int) -> dict[str, np.ndarray]:
        return {name: np.full(n, b, dtype=cv.OUTPUT[name].dtype) for name in cv.LINEAGE_TABLE}

    tables = OrderedTables(root, prog, [(0, 0), (0, 1), (0, 2)])
    tables.add(0, 2, stage(prog, 0, 2, block(2, 2)))
    tables.add(0, 1, stage(prog, 0, 1, block(1, 0)))
    assert sorted(prog["staged"].group_keys()) == ["0-1", "0-2"]
    tables.add(0, 0, block(0, 1))
    np.testing.assert_array_equal(root[cv.LINEAGE_COUNT][...], [0, 2, 2])
    assert list(prog["staged"].group_keys()) == []
    assert tables.finished
    # Staged rows of a block that never got appended are dropped when the store is trimmed.
    stage(prog, 0, 2, block(2, 5))
    trim_tables(root, prog)
    assert list(prog["staged"].group_keys()) == []
