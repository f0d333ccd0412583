"""Data safety of stores: empty paths, what overwrite may delete, interrupted stores that say so,
stores killed in their first instant, the writer's lock, refusal messages that name the field,
chunk checksums and the seed of a resumed run that never started."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
import zarr
from dtp_gillespie import _sink_store, stream
from dtp_gillespie import conventions as cv
from dtp_gillespie.cli import main
from dtp_gillespie.errors import IncompleteStoreWarning, InvalidRunError
from dtp_gillespie.store_safety import LOCK_GROUP, recognised_store
from dtp_gillespie.stream import simulate_to_store, store_status
from models import SPR, SPR_TOML
from strategies import without_created_at
from test_stream import SLOW_RUN, start_slow_writer, wait_for_blocks

SCHEDULE = {"kind": "intermittent", "on": 2.0, "off": 1.0}
RUN: dict[str, Any] = {
    "initial": {"S": 20, "P": 2},
    "t_end": 6.0,
    "record_every": 1.0,
    "n_replicates": 12,
    "seed": 3,
}
CONFIG = SPR_TOML + (
    '[schedule]\nkind = "continuous"\nexposure = "on"\n'
    "[run]\ninitial = { S = 20 }\nt_end = 4.0\nn_replicates = 8\nseed = 3\n"
)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to show nothing changed)."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def user_folder(folder: Path) -> Path:
    """A folder of a user's work: a file and a data directory."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thesis.tex").write_text("keep me", encoding="utf-8")
    (folder / "data").mkdir()
    (folder / "data" / "cells.csv").write_text("1,2,3", encoding="utf-8")
    return folder


# --- item 1: an empty or blank store path -------------------------------------------------------
@pytest.mark.parametrize("store", ["", " ", "\t\n"])
def test_an_empty_or_blank_store_is_refused_before_touching_the_disk(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = user_folder(tmp_path / "work")
    (here / "c.toml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(here)
    before = snapshot(here)
    calls: list[Callable[[], Any]] = [
        lambda: dg.simulate(SPR, SCHEDULE, store=store, **RUN),
        lambda: dg.simulate(SPR, SCHEDULE, store=store, overwrite=True, **RUN),
        lambda: dg.simulate(SPR, SCHEDULE, store=store, resume=True, **RUN),
        lambda: simulate_to_store(SPR, SCHEDULE, store=store, overwrite=True, **RUN),
        lambda: dg.sweep(SPR, SCHEDULE, {"schedule.off": [1.0]}, store=store, **RUN),
        lambda: dg.sweep(
            SPR, SCHEDULE, {"schedule.off": [1.0]}, store=store, overwrite=True, **RUN
        ),
        lambda: dg.write_run(dg.simulate(SPR, SCHEDULE, **RUN), store, mode="w"),
        lambda: store_status(store),
    ]
    for call in calls:
        with pytest.raises(InvalidRunError, match=r"store is .*give the path"):
            call()
    assert main(["run", "c.toml", "--out", store, "--overwrite", "--no-progress"]) == 2
    assert snapshot(here) == before


# --- item 2: overwrite deletes only a store of the package's own ---------------------------------
def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    project = user_folder(tmp_path / "project")
    before = snapshot(project)
    with pytest.raises(InvalidRunError, match="holds no dtp-gillespie run; refusing to overwrite"):
        dg.simulate(SPR, SCHEDULE, store=project, overwrite=True, **RUN)
    with pytest.raises(InvalidRunError, match="holds no dtp-gillespie run"):
        dg.sweep(SPR, SCHEDULE, {"schedule.off": [1.0]}, store=str(project), overwrite=True, **RUN)
    with pytest.raises(InvalidRunError, match="not a dtp-gillespie store"):
        dg.write_run(dg.simulate(SPR, SCHEDULE, **RUN), project, mode="w")
    assert snapshot(project) == before


def test_overwrite_refuses_a_zarr_store_of_other_data(tmp_path: Path) -> None:
    other = tmp_path / "other.zarr"
    xr.Dataset({"x": ("i", np.arange(3))}, attrs={"owner": "someone"}).to_zarr(
        other, consolidated=False
    )
    xr.Dataset({"y": ("j", np.arange(2))}).to_zarr(other, group="g", consolidated=False)
    before = snapshot(other)
    assert not recognised_store(other)
    with pytest.raises(InvalidRunError, match="holds no dtp-gillespie run"):
        dg.simulate(SPR, SCHEDULE, store=other, overwrite=True, **RUN)
    with pytest.raises(InvalidRunError, match="holds no dtp-gillespie run"):
        dg.simulate(SPR, SCHEDULE, store=other, group="g", overwrite=True, **RUN)
    with pytest.raises(InvalidRunError, match="not a dtp-gillespie store"):
        dg.write_run(dg.simulate(SPR, SCHEDULE, **RUN), other, mode="w")
    config = tmp_path / "c.toml"
    config.write_text(CONFIG, encoding="utf-8")
    assert main(["run", str(config), "--out", str(other), "--overwrite", "--no-progress"]) == 2
    assert snapshot(other) == before


def test_overwrite_refuses_a_run_store_holding_a_user_file(tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    dg.simulate(SPR, SCHEDULE, store=path, **RUN)
    (path / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(InvalidRunError, match="holds no dtp-gillespie run"):
        dg.simulate(SPR, SCHEDULE, store=path, overwrite=True, **RUN)
    assert (path / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_overwrite_replaces_the_package_own_stores(tmp_path: Path) -> None:
    expected = dg.simulate(SPR, SCHEDULE, **{**RUN, "seed": 4})
    # A streamed run, a run written with write_run, and the CLI's one group per schedule.
    streamed, written, cli_store = tmp_path / "s.zarr", tmp_path / "w.zarr", tmp_path / "c.zarr"
    dg.simulate(SPR, SCHEDULE, store=streamed, **RUN)
    dg.write_run(dg.simulate(SPR, SCHEDULE, **RUN), written)
    config = tmp_path / "c.toml"
    config.write_text(
        CONFIG.replace("[schedule]", "[schedules.a]")
        + "[schedules.b]\nkind = 'intermittent'\non = 1.0\noff = 1.0\n",
        encoding="utf-8",
    )
    assert main(["run", str(config), "--out", str(cli_store), "--no-progress"]) == 0
    for path in (streamed, written, cli_store):
        assert recognised_store(path)
        ds = dg.simulate(SPR, SCHEDULE, store=path, overwrite=True, **{**RUN, "seed": 4})
        xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(expected))
    dg.write_run(expected, written, mode="w")
    assert main(["run", str(config), "--out", str(cli_store), "--overwrite", "--no-progress"]) == 0


# --- item 7: an interrupted store says so -------------------------------------------------------
def interrupt_after(monkeypatch: pytest.MonkeyPatch, n_blocks: int) -> None:
    """Make the streamed run stop with KeyboardInterrupt once ``n_blocks`` blocks are written."""
    real = _sink_store.write_block
    written = [0]

    def write_block(*args: Any, **kwargs: Any) -> Any:
        if written[0] == n_blocks:
            raise KeyboardInterrupt
        written[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(_sink_store, "write_block", write_block)


def p_resistant(ds: xr.Dataset) -> float:
    """The README's recipe, on the replicates that ran (status -1 = not run yet)."""
    ran = ds["status"] != -1
    return float((ds["count"].sel(cell_state="R").isel(time=-1) > 0).where(ran).mean())


def test_an_interrupted_store_reads_as_not_run_and_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = {**RUN, "n_replicates": 40}
    path = tmp_path / "run.zarr"
    interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        simulate_to_store(SPR, SCHEDULE, store=str(path), block_size=5, **run)
    monkeypatch.undo()
    assert not (path / LOCK_GROUP).exists()  # the lock goes with the run
    # Plain xarray: not-run replicates are status -1 and count -1, and the store says it.
    plain = xr.open_zarr(path, consolidated=False).load()
    assert stream.INCOMPLETE_ATTR in plain.attrs
    assert plain["status"].dtype == np.int8
    assert np.iinfo(plain["status"].dtype).min <= cv.STATUS_NOT_RUN
    assert cv.STATUS_NOT_RUN not in cv.STATUS_CODES.values()
    not_run = plain["status"].values == cv.STATUS_NOT_RUN
    assert not_run.tolist() == [False] * 15 + [True] * 25
    assert (plain["count"].values[not_run] == -1).all()
    assert np.isnan(plain["stop_time"].values[not_run]).all()
    with pytest.warns(IncompleteStoreWarning, match="25 of 40 replicates not run yet"):
        partial = dg.open_run(path, load=True)
    # dg.analysis uses the 15 replicates that ran; so does the README's recipe.
    full = dg.simulate(SPR, SCHEDULE, **run)
    first = full.isel(replicate=slice(0, 15))
    assert int(dg.analysis.extinction_probability(partial)["n"]) == 15
    xr.testing.assert_identical(
        dg.analysis.extinction_probability(partial), dg.analysis.extinction_probability(first)
    )
    assert p_resistant(partial) == p_resistant(first)
    # Resuming finishes it: the attribute goes, no warning, the data equal the in-memory run.
    ds = simulate_to_store(SPR, SCHEDULE, store=str(path), resume=True, **run)
    assert stream.INCOMPLETE_ATTR not in ds.attrs
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(full))
    assert p_resistant(dg.open_run(path)) == p_resistant(full)


def test_an_interrupted_summary_sweep_store_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "sweep.zarr")
    grid = {"schedule.off": [1.0, 2.0]}
    interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        dg.sweep(SPR, SCHEDULE, grid, store=path, block_size=4, summary_only=True, **RUN)
    monkeypatch.undo()
    with pytest.warns(IncompleteStoreWarning, match="12 of 24 replicates not run yet"):
        partial = dg.open_run(path, load=True)
    assert (partial["final_count"].values[partial["status"].values == -1] == -1).all()
    assert not store_status(path).complete
    ds = dg.sweep(SPR, SCHEDULE, grid, store=path, resume=True, summary_only=True, **RUN)
    assert stream.INCOMPLETE_ATTR not in ds.attrs
    expected = dg.sweep(SPR, SCHEDULE, grid, summary_only=True, **RUN)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(expected))


# --- item 8: a store killed in its first instant -------------------------------------------------
def test_a_store_killed_in_its_first_instant_is_resumed(tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    zarr.open_group(path, mode="w")  # the root group only, no attributes
    assert "nothing to keep" in str(store_status(path))
    ds = simulate_to_store(SPR, SCHEDULE, store=str(path), resume=True, **RUN)
    expected = dg.simulate(SPR, SCHEDULE, **RUN)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(expected))
    assert store_status(path).complete


# --- item 9: one writer at a time -----------------------------------------------------------------
def write_lock(path: Path, host: str, pid: int) -> None:
    lock = path / LOCK_GROUP
    lock.mkdir(parents=True)
    attrs = {"host": host, "pid": pid, "since": "2026-01-01T00:00:00+00:00"}
    body = {"zarr_format": 3, "node_type": "group", "attributes": attrs}
    (lock / "zarr.json").write_text(json.dumps(body), encoding="utf-8")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_second_writer_is_refused_naming_the_holder_until_it_dies(tmp_path: Path) -> None:
    path = str(tmp_path / "run.zarr")
    proc = start_slow_writer(path)
    try:
        wait_for_blocks(path, 0)
        holder = rf"being written by process {proc.pid} on host {socket.gethostname()}"
        with pytest.raises(InvalidRunError, match=holder):
            simulate_to_store(SPR, SCHEDULE, store=path, resume=True, **SLOW_RUN)
        with pytest.raises(InvalidRunError, match=holder):
            simulate_to_store(SPR, SCHEDULE, store=path, overwrite=True, **SLOW_RUN)
        config = tmp_path / "c.toml"
        config.write_text(CONFIG, encoding="utf-8")
        assert main(["run", str(config), "--out", path, "--overwrite", "--no-progress"]) == 2
        assert proc.poll() is None, "the first writer must still be running"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    # The killed writer's lock is stale: resuming takes it over and finishes the store.
    assert (Path(path) / LOCK_GROUP / "zarr.json").exists()
    simulate_to_store(SPR, SCHEDULE, store=path, resume=True, **SLOW_RUN)
    assert store_status(path).complete
    assert not (Path(path) / LOCK_GROUP).exists()


RACER = """
import json, sys, time
from dtp_gillespie.errors import InvalidRunError
from dtp_gillespie.stream import simulate_to_store
args = json.loads(sys.argv[1])
time.sleep(max(0.0, args["start_at"] - time.time()))  # both racers start together
try:
    simulate_to_store(args["model"], args["schedule"], store=sys.argv[2], block_size=20,
                      n_threads=1, resume=True, **args["run"])
    print("finished", flush=True)
except InvalidRunError as exc:
    print("refused:", exc, flush=True)
"""


@pytest.mark.parametrize("trial", range(2))
def test_two_writers_started_together_never_break_the_store(tmp_path: Path, trial: int) -> None:
    path = str(tmp_path / "run.zarr")
    run = {**RUN, "n_replicates": 80, "t_end": 6.0, "seed": 100 + trial}
    payload = json.dumps(
        {"model": SPR, "schedule": SCHEDULE, "run": run, "start_at": time.time() + 2.0}
    )
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, payload, path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [racer.communicate(timeout=120) for racer in racers]
    for racer, (out, err) in zip(racers, outcomes, strict=True):
        assert racer.returncode == 0, err  # no untyped error
        assert out.startswith(("finished", "refused:")), out + err
    refused = [out for out, _ in outcomes if out.startswith("refused:")]
    assert all("being written by process" in out for out in refused), refused
    ds = simulate_to_store(SPR, SCHEDULE, store=path, resume=True, **run)
    xr.testing.assert_identical(
        without_created_at(ds.load()), without_created_at(dg.simulate(SPR, SCHEDULE, **run))
    )


def test_a_lock_of_a_dead_process_is_stale_and_one_of_another_host_holds(tmp_path: Path) -> None:
    stale, foreign = tmp_path / "stale.zarr", tmp_path / "foreign.zarr"
    write_lock(stale, socket.gethostname(), dead_pid())
    simulate_to_store(SPR, SCHEDULE, store=str(stale), resume=True, **RUN)
    assert store_status(stale).complete
    write_lock(foreign, "another-host.example.org", os.getpid())
    with pytest.raises(
        InvalidRunError, match=r"process \d+ on host another-host.example.org .*delete .*zarr.json"
    ):
        simulate_to_store(SPR, SCHEDULE, store=str(foreign), resume=True, **RUN)


def test_the_lock_is_released_after_an_error(tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    dg.simulate(SPR, SCHEDULE, store=path, **RUN)
    assert not (path / LOCK_GROUP).exists()
    with pytest.raises(InvalidRunError, match="different run"):
        dg.simulate(SPR, SCHEDULE, store=path, resume=True, **{**RUN, "seed": 9})
    assert not (path / LOCK_GROUP).exists()
    dg.simulate(SPR, SCHEDULE, store=path, resume=True, **RUN)  # not locked out


# --- item 10: refusals name the field and both values ---------------------------------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"n_replicates": 13}, "run.n_replicates: stored 12, requested 13"),
        ({"max_events": 10**6}, "run.max_events: stored null, requested 1000000"),
        ({"replicate_offset": 4}, "run.replicate_offset: stored 0, requested 4"),
        (
            {"progression": {"factor": 2.0, "min_size": 0}},
            'run.progression: stored null, requested {"factor": 2.0, ',
        ),
        ({"summary_only": True}, "run.summary_only: stored null, requested true"),
        ({"seed": 5}, "seed: stored 3, requested 5"),
    ],
)
def test_a_refused_resume_names_the_field_and_both_values(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    path = str(tmp_path / "run.zarr")
    simulate_to_store(SPR, SCHEDULE, store=path, **RUN)
    with pytest.raises(InvalidRunError) as err:
        simulate_to_store(SPR, SCHEDULE, store=path, resume=True, **{**RUN, **change})
    assert field in str(err.value)


def test_a_refused_resume_names_the_model_field(tmp_path: Path) -> None:
    path = str(tmp_path / "run.zarr")
    simulate_to_store(SPR, SCHEDULE, store=path, **RUN)
    model = {**SPR, "division": {**SPR["division"], "R": 0.7}}
    with pytest.raises(InvalidRunError, match=r"model\.division\.R: stored 0\.6, requested 0\.7"):
        simulate_to_store(model, SCHEDULE, store=path, resume=True, **RUN)


# --- item 13: checksums and the seed of a run resumed before it existed ------------------------
def test_every_single_bit_flip_in_a_chunk_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    dg.simulate(SPR, SCHEDULE, store=path, block_size=6, **RUN)
    assert store_status(path, verify=True).corrupt == ()
    chunk = path / "count" / "c" / "1" / "0" / "0"
    original = chunk.read_bytes()
    count = zarr.open_array(path / "count", mode="r")
    undetected = 0
    for bit in range(8 * len(original)):
        flipped = bytearray(original)
        flipped[bit // 8] ^= 1 << (bit % 8)
        chunk.write_bytes(bytes(flipped))
        try:
            count[6:12]
        except ValueError:
            continue
        undetected += 1
    assert undetected == 0
    st = store_status(path, verify=True)
    assert st.corrupt == ("count chunk (1, 0, 0)",)
    assert not st.complete
    assert "1 corrupt chunks (checksum mismatch): count chunk (1, 0, 0)" in str(st)
    chunk.write_bytes(original)
    assert store_status(path, verify=True).complete


def test_write_run_stores_checksums(tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    dg.write_run(dg.simulate(SPR, SCHEDULE, **RUN), path)
    codecs = zarr.open_array(path / "count", mode="r").metadata.codecs
    assert any(type(c).__name__ == "Crc32cCodec" for c in codecs)


def test_resume_without_a_seed_of_a_missing_store_says_which_seed_it_drew(tmp_path: Path) -> None:
    path = str(tmp_path / "run.zarr")
    run = {k: v for k, v in RUN.items() if k != "seed"}
    drew = r"fresh seed, (\d+), recorded in its attrs\['seed'\]"
    with pytest.warns(UserWarning, match=drew) as w:
        ds = simulate_to_store(SPR, SCHEDULE, store=path, resume=True, **run)
    seed = ds.attrs["seed"]
    assert str(seed) in str(w[0].message)
    # The next resume finds the seed in the store and says nothing.
    again = simulate_to_store(SPR, SCHEDULE, store=path, resume=True, **run)
    assert again.attrs["seed"] == seed
    xr.testing.assert_identical(
        without_created_at(again.load()),
        without_created_at(dg.simulate(SPR, SCHEDULE, seed=seed, **run)),
    )
    with pytest.warns(UserWarning, match="fresh seed"):
        dg.sweep(
            SPR,
            SCHEDULE,
            {"schedule.off": [1.0]},
            store=str(tmp_path / "s.zarr"),
            resume=True,
            **run,
        )


# --- paths that must not slip past the checks ---------------------------------------------------
@pytest.mark.parametrize("group", ["x/../../..", "..", "a/./b", "a//b", "./a", " a"])
def test_a_group_with_dot_or_empty_segments_is_refused_before_touching_the_disk(
    group: str, tmp_path: Path
) -> None:
    work = user_folder(tmp_path / "work")
    before = snapshot(work)
    store = work / "runs" / "run.zarr"
    calls: list[Callable[[], Any]] = [
        lambda: dg.simulate(SPR, SCHEDULE, store=store, group=group, **RUN),
        lambda: dg.simulate(SPR, SCHEDULE, store=store, group=group, overwrite=True, **RUN),
        lambda: dg.simulate(SPR, SCHEDULE, store=store, group=group, resume=True, **RUN),
        lambda: dg.write_run(dg.simulate(SPR, SCHEDULE, **RUN), store, group=group, mode="w"),
    ]
    for call in calls:
        with pytest.raises(InvalidRunError, match=r"group is .*without empty, '\.' or '\.\.'"):
            call()
    assert snapshot(work) == before
    assert not (work / "runs").exists()


def test_a_file_url_gets_the_checks_of_a_local_path(tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    dg.simulate(SPR, SCHEDULE, store=path, **RUN)
    (path / "notes.txt").write_text("keep me", encoding="utf-8")
    before = snapshot(path)
    with pytest.raises(InvalidRunError, match="holds no dtp-gillespie run"):
        dg.simulate(SPR, SCHEDULE, store=f"file://{path}", overwrite=True, **RUN)
    with pytest.raises(InvalidRunError, match="not a dtp-gillespie store"):
        dg.write_run(dg.simulate(SPR, SCHEDULE, **RUN), f"file://{path}", mode="w")
    assert snapshot(path) == before
    # A new store through a file:// URL is the same run as through its path, with its lock.
    fresh = dg.simulate(SPR, SCHEDULE, store=f"file://{tmp_path / 'fresh.zarr'}", **RUN)
    xr.testing.assert_identical(
        without_created_at(fresh.load()), without_created_at(dg.simulate(SPR, SCHEDULE, **RUN))
    )
    write_lock(tmp_path / "fresh.zarr", socket.gethostname(), os.getpid())
    with pytest.raises(InvalidRunError, match=f"being written by process {os.getpid()}"):
        dg.simulate(SPR, SCHEDULE, store=f"file://{tmp_path / 'fresh.zarr'}", overwrite=True, **RUN)


def test_a_trailing_slash_or_dot_does_not_hide_a_symbolic_link(tmp_path: Path) -> None:
    target = tmp_path / "run.zarr"
    dg.simulate(SPR, SCHEDULE, store=target, **RUN)
    before = snapshot(target)
    link = tmp_path / "link.zarr"
    link.symlink_to(target, target_is_directory=True)
    for store in (f"{link}/", f"{link}/.", f"{link}//"):
        with pytest.raises(InvalidRunError, match="holds no dtp-gillespie run"):
            dg.simulate(SPR, SCHEDULE, store=store, overwrite=True, **{**RUN, "seed": 4})
        with pytest.raises(InvalidRunError, match="not a dtp-gillespie store"):
            dg.write_run(dg.simulate(SPR, SCHEDULE, **RUN), store, mode="w")
    assert snapshot(target) == before


@pytest.mark.parametrize(
    "where",
    [
        "a/notes.txt",
        "a/figures/plot.png",
        "count/README.txt",
        "_progress/mine/x.csv",
        "a/count/c/x",
    ],
)
def test_overwrite_refuses_user_files_at_any_depth_of_a_store(where: str, tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    if where.startswith("a/"):
        dg.simulate(SPR, SCHEDULE, store=path, group="a", **RUN)
        dg.simulate(SPR, SCHEDULE, store=path, group="b", **RUN)
    else:
        dg.simulate(SPR, SCHEDULE, store=path, **RUN)
    users = path / where
    users.parent.mkdir(parents=True, exist_ok=True)
    users.write_text("keep me", encoding="utf-8")
    before = snapshot(path)
    assert not recognised_store(path)
    with pytest.raises(InvalidRunError, match="holds no dtp-gillespie run"):
        dg.simulate(SPR, SCHEDULE, store=path, overwrite=True, **RUN)
    with pytest.raises(InvalidRunError, match="not a dtp-gillespie store"):
        dg.write_run(dg.simulate(SPR, SCHEDULE, **RUN), path, mode="w")
    config = tmp_path / "c.toml"
    config.write_text(CONFIG, encoding="utf-8")
    assert main(["run", str(config), "--out", str(path), "--overwrite", "--no-progress"]) == 2
    assert snapshot(path) == before


def test_a_symbolic_link_among_the_chunks_makes_a_store_foreign(tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    dg.simulate(SPR, SCHEDULE, store=path, **RUN)
    outside = user_folder(tmp_path / "outside")
    (path / "count" / "c" / "elsewhere").symlink_to(outside, target_is_directory=True)
    assert not recognised_store(path)
    with pytest.raises(InvalidRunError, match="holds no dtp-gillespie run"):
        dg.simulate(SPR, SCHEDULE, store=path, overwrite=True, **RUN)
    assert (outside / "thesis.tex").read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize("inner", ["g", "x/y"])
def test_overwrite_refuses_a_store_with_a_live_writer_in_one_of_its_groups(
    inner: str, tmp_path: Path
) -> None:
    path = tmp_path / "s.zarr"
    dg.simulate(SPR, SCHEDULE, store=path, group="a", **RUN)
    dg.simulate(SPR, SCHEDULE, store=path, group=inner, **RUN)
    write_lock(path / inner, socket.gethostname(), os.getpid())  # a live process holds it
    before = snapshot(path)
    holder = rf"in its group '{inner}', is being written by process {os.getpid()}"
    with pytest.raises(InvalidRunError, match=holder):
        dg.simulate(SPR, SCHEDULE, store=path, overwrite=True, **RUN)
    with pytest.raises(InvalidRunError, match=holder):
        dg.write_run(dg.simulate(SPR, SCHEDULE, **RUN), path, mode="w")
    config = tmp_path / "c.toml"
    config.write_text(CONFIG, encoding="utf-8")
    assert main(["run", str(config), "--out", str(path), "--overwrite", "--no-progress"]) == 2
    assert snapshot(path) == before
    # Once that writer is gone, its lock is stale and the store is the package's own again.
    (path / inner / LOCK_GROUP / "zarr.json").unlink()
    write_lock_of_dead = dead_pid()
    (path / inner / LOCK_GROUP).rmdir()
    write_lock(path / inner, socket.gethostname(), write_lock_of_dead)
    dg.simulate(SPR, SCHEDULE, store=path, overwrite=True, **RUN)
    assert not (path / inner).exists()


def test_resume_leaves_a_finished_run_written_in_one_go(tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    ds = dg.simulate(SPR, SCHEDULE, **RUN)
    ds["my_annotation"] = (cv.REPLICATE, np.arange(ds.sizes[cv.REPLICATE]))
    dg.write_run(ds, path)
    before = snapshot(path)
    with pytest.raises(InvalidRunError, match="holds a finished run that was not streamed"):
        dg.simulate(SPR, SCHEDULE, store=path, resume=True, **RUN)
    assert snapshot(path) == before
    assert "my_annotation" in dg.open_run(path)


def test_clearing_one_group_first_drops_the_root_consolidated_metadata(tmp_path: Path) -> None:
    """Killed after a group's contents went, a plain xr.open_zarr must not read the old
    consolidated metadata of that group over its deleted chunks."""
    from dtp_gillespie import store_safety

    path = tmp_path / "s.zarr"
    dg.simulate(SPR, SCHEDULE, store=path, group="a", **RUN)
    dg.simulate(SPR, SCHEDULE, store=path, group="b", **RUN)
    root_meta = json.loads((path / "zarr.json").read_text(encoding="utf-8"))
    assert root_meta.get("consolidated_metadata") is not None
    b = dg.open_run(path, group="b", load=True)
    store_safety.clear_group(str(path), "a", None, keep_lock=True)
    root_meta = json.loads((path / "zarr.json").read_text(encoding="utf-8"))
    assert root_meta.get("consolidated_metadata") is None
    with pytest.raises(FileNotFoundError, match="No group found"):
        xr.open_zarr(path, group="a", consolidated=False)
    xr.testing.assert_identical(dg.open_run(path, group="b", load=True), b)
    # The emptied group is the package's own: the store can still be overwritten.
    assert recognised_store(path)


def test_temporary_files_of_a_killed_writer_are_the_package_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """zarr writes each file as ``<name>.<uuid>.partial`` and renames it: a writer killed in
    between leaves one, and the store stays resumable and replaceable."""
    path = tmp_path / "run.zarr"
    interrupt_after(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        dg.simulate(SPR, SCHEDULE, store=path, block_size=4, **RUN)
    monkeypatch.undo()
    hex32 = "0123456789abcdef" * 2
    (path / "count" / "c" / f"0.{hex32}.partial").write_bytes(b"half a chunk")
    (path / f"zarr.{hex32}.partial").write_text("{", encoding="utf-8")
    assert recognised_store(path)
    done = dg.simulate(SPR, SCHEDULE, store=path, resume=True, block_size=4, **RUN)
    xr.testing.assert_identical(
        without_created_at(done.load()), without_created_at(dg.simulate(SPR, SCHEDULE, **RUN))
    )
    (path / "count" / "c" / f"0.{hex32[:-1]}.partial").write_bytes(b"not zarr's name")
    assert not recognised_store(path)
