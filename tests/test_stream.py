"""Streaming to zarr: the streamed, resumed (after SIGKILL) and in-memory runs are bit-identical;
a store of another run is refused; a partial store says which blocks are done."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from dtp_gillespie.errors import IncompleteStoreWarning, InvalidRunError
from dtp_gillespie.stream import default_block_size, simulate_to_store, store_status
from models import SPR
from strategies import without_created_at

MODEL = SPR
SCHEDULE = {"kind": "intermittent", "on": 2.0, "off": 1.0}
RUN: dict[str, Any] = {
    "initial": {"S": 20, "P": 2},
    "t_end": 6.0,
    "record_every": 0.5,
    "n_replicates": 23,
    "seed": 7,
    "replicate_offset": 5,
}


@pytest.fixture(scope="module")
def in_memory() -> xr.Dataset:
    return dg.simulate(MODEL, SCHEDULE, **RUN)


def test_streamed_equals_in_memory(in_memory: xr.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "run.zarr"
    ds = simulate_to_store(MODEL, SCHEDULE, store=str(path), block_size=5, **RUN)
    assert ds["count"].encoding["chunks"] == (5, 13, 3)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(in_memory))
    xr.testing.assert_identical(
        without_created_at(dg.open_run(path, load=True)), without_created_at(in_memory)
    )
    st = store_status(path)
    assert st.complete
    assert (st.n_blocks, st.block_size, st.replicates_done) == (5, 5, 23)


def test_store_exists_needs_resume_and_resume_of_complete_store_is_a_no_op(
    in_memory: xr.Dataset, tmp_path: Path
) -> None:
    path = str(tmp_path / "run.zarr")
    simulate_to_store(MODEL, SCHEDULE, store=path, block_size=10, **RUN)
    with pytest.raises(InvalidRunError, match="exists; pass resume=True"):
        simulate_to_store(MODEL, SCHEDULE, store=path, **RUN)
    # Resuming a finished store recomputes nothing; a different block size defers to the store's.
    ds = simulate_to_store(MODEL, SCHEDULE, store=path, resume=True, block_size=3, **RUN)
    assert ds["count"].encoding["chunks"][0] == 10
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(in_memory))


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"seed": 8}, "seed"),
        ({"t_end": 7.0}, "run"),
        ({"n_replicates": 24}, "run"),
        ({"schedule": {"kind": "intermittent", "on": 2.0, "off": 2.0}}, "schedule"),
        ({"model": {**MODEL, "division": {"S": 0.8, "P": 0.06, "R": 0.6}}}, "model"),
    ],
)
def test_resume_refuses_a_store_of_another_run(
    tmp_path: Path, change: dict[str, Any], what: str
) -> None:
    path = str(tmp_path / "run.zarr")
    simulate_to_store(MODEL, SCHEDULE, store=path, block_size=10, **RUN)
    before = dg.open_run(path, load=True)
    args: dict[str, Any] = {"model": MODEL, "schedule": SCHEDULE, **RUN}
    args.update(change)
    model, schedule = args.pop("model"), args.pop("schedule")
    with pytest.raises(InvalidRunError, match=rf"different run \(.*{what}.*refusing to mix"):
        simulate_to_store(model, schedule, store=path, resume=True, **args)
    xr.testing.assert_identical(dg.open_run(path, load=True), before)


def test_resume_without_seed_uses_the_stored_seed(in_memory: xr.Dataset, tmp_path: Path) -> None:
    path = str(tmp_path / "run.zarr")
    simulate_to_store(MODEL, SCHEDULE, store=path, block_size=10, **RUN)
    run = {k: v for k, v in RUN.items() if k != "seed"}
    ds = simulate_to_store(MODEL, SCHEDULE, store=path, resume=True, **run)
    assert ds.attrs["seed"] == RUN["seed"]


def test_resume_finishes_a_store_with_missing_blocks(in_memory: xr.Dataset, tmp_path: Path) -> None:
    import zarr

    path = str(tmp_path / "run.zarr")
    simulate_to_store(MODEL, SCHEDULE, store=path, block_size=4, **RUN)
    # Simulate a crash: blocks 1 and 4 were never marked done and hold garbage.
    done = zarr.open_array(f"{path}/_progress/block_done", mode="r+")
    done[0, 1] = 0
    done[0, 4] = 0
    count = zarr.open_array(f"{path}/count", mode="r+")
    count[4:8] = 12345
    st = store_status(path)
    assert not st.complete
    assert st.done.tolist() == [[True, False, True, True, False, True]]
    assert "4 of 6 blocks done (15 of 23 replicates)" in str(st)
    ds = simulate_to_store(MODEL, SCHEDULE, store=path, resume=True, **RUN)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(in_memory))


def test_default_block_size_is_about_64_mib_of_counts() -> None:
    assert default_block_size(61, 3, 10**6) == (64 << 20) // (8 * 61 * 3)
    assert default_block_size(61, 3, 10) == 10
    assert default_block_size(10**8, 3, 10) == 1


def test_block_size_is_validated(tmp_path: Path) -> None:
    with pytest.raises(InvalidRunError, match="block_size"):
        simulate_to_store(MODEL, SCHEDULE, store=str(tmp_path / "x.zarr"), block_size=0, **RUN)


def test_not_a_run_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.mkdir()
    (path / "precious.txt").write_text("keep me")
    with pytest.raises(InvalidRunError, match="holds no dtp-gillespie run"):
        simulate_to_store(MODEL, SCHEDULE, store=str(path), resume=True, **RUN)
    assert (path / "precious.txt").read_text() == "keep me"


CHILD = """
import json, sys
from dtp_gillespie.stream import simulate_to_store
args = json.loads(sys.argv[1])
simulate_to_store(args["model"], args["schedule"], store=sys.argv[2], block_size=40,
                  n_threads=1, resume=True, **args["run"])
print("finished", flush=True)
"""

SLOW_RUN: dict[str, Any] = {**RUN, "n_replicates": 2000, "replicate_offset": 0, "t_end": 8.0}


def start_slow_writer(path: str) -> "subprocess.Popen[str]":
    """A child process streaming SLOW_RUN into ``path`` (with resume=True) in blocks of 40."""
    payload = json.dumps({"model": MODEL, "schedule": SCHEDULE, "run": SLOW_RUN})
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, payload, path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_blocks(path: str, n_done: int, timeout: float = 60.0) -> None:
    """Wait until the store's template is written and ``n_done`` blocks are done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = store_status(path)
        if st.initialised and st.done.sum() >= n_done:
            return
        time.sleep(0.01)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_run_then_resume_is_bit_identical(tmp_path: Path) -> None:
    path = str(tmp_path / "run.zarr")
    proc = start_slow_writer(path)
    try:
        wait_for_blocks(path, 3)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    st = store_status(path)
    assert st.initialised
    assert 3 <= st.done.sum() < st.n_blocks, str(st)
    with pytest.warns(IncompleteStoreWarning, match="replicates not run yet"):
        partial = dg.open_run(path)  # a killed store opens, and says it is incomplete
    assert partial.sizes["replicate"] == SLOW_RUN["n_replicates"]
    # Blocks marked done hold data; the others read as not run (status -1), but for the one
    # block (of 40) whose data the writer may have written just before it was killed.
    ran = partial["status"].values != -1
    assert ran[np.repeat(st.done[0], st.block_size)].all()
    missing = SLOW_RUN["n_replicates"] - st.replicates_done
    assert missing - st.block_size <= int((~ran).sum()) <= missing
    # Plain xarray reads the killed store from its consolidated metadata, without a warning
    # (the dead writer's lock is an empty node of the tree).
    assert "incomplete" in xr.open_zarr(path).attrs
    assert "block_done" in xr.open_datatree(path, engine="zarr")["_progress"].data_vars
    ds = simulate_to_store(MODEL, SCHEDULE, store=path, resume=True, **SLOW_RUN)
    assert store_status(path).complete
    expected = dg.simulate(MODEL, SCHEDULE, **SLOW_RUN)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(expected))


def test_streamed_progress_bar_counts_every_replicate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simulate_to_store(
        MODEL, SCHEDULE, store=str(tmp_path / "r.zarr"), block_size=10, progress="stream", **RUN
    )
    err = capsys.readouterr().err
    assert "stream" in err
    assert "23/23" in err


def test_capped_replicates_warn_when_streamed(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="stopped early"):
        ds = simulate_to_store(
            MODEL, SCHEDULE, store=str(tmp_path / "r.zarr"), block_size=6, max_population=60, **RUN
        )
    with pytest.warns(UserWarning, match="stopped early"):
        expected = dg.simulate(MODEL, SCHEDULE, max_population=60, **RUN)
    assert np.any(ds["count"].values == -1)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(expected))


def test_simulate_store_keyword_and_cli_resume(in_memory: xr.Dataset, tmp_path: Path) -> None:
    from dtp_gillespie.cli import main

    ds = dg.simulate(MODEL, SCHEDULE, store=tmp_path / "api.zarr", block_size=8, **RUN)
    xr.testing.assert_identical(without_created_at(ds.load()), without_created_at(in_memory))
    assert dg.store_status(tmp_path / "api.zarr").complete
    config = tmp_path / "c.toml"
    config.write_text(
        """
[model]
states = ["S", "P", { name = "R", genetic = true }]
exposures = ["off", "on"]
division = { S = 0.8, P = 0.05, R = 0.6 }
death = { S = { off = 0.1, on = 0.9 }, P = 0.02, R = 0.1 }
switch = [{ from = "S", to = "P", rate = { off = 0.01, on = 0.3 } },
          { from = "P", to = "S", rate = { off = 0.2, on = 0.01 } }]
mutation = [{ from = "P", to = "R", probability = 0.05 }]
[schedule]
kind = "intermittent"
on = 2.0
off = 1.0
[run]
initial = { S = 20, P = 2 }
t_end = 6.0
record_every = 0.5
n_replicates = 23
seed = 7
replicate_offset = 5
"""
    )
    out = str(tmp_path / "cli.zarr")
    assert main(["run", str(config), "--out", out, "--no-progress"]) == 0
    first = dg.open_run(out, load=True)
    xr.testing.assert_identical(without_created_at(first), without_created_at(in_memory))
    assert main(["run", str(config), "--out", out, "--no-progress"]) == 2
    # --resume of a finished store keeps it (and needs no --seed: the stored one is used).
    assert main(["run", str(config), "--out", out, "--no-progress", "--resume"]) == 0
    xr.testing.assert_identical(dg.open_run(out, load=True), first)


# --------------------------------------------------------------------------------------------
# Stores that plain xarray and zarr tools read (README, "Large ensembles", Layout).


def _two_group_store(path: str) -> None:
    """A trajectory run in group "a" and a summary run in group "b" (its partial statistics
    live in b/_progress/stats)."""
    simulate_to_store(MODEL, SCHEDULE, store=path, group="a", block_size=10, **RUN)
    simulate_to_store(
        MODEL, SCHEDULE, store=path, group="b", block_size=10, summary_only=True, **RUN
    )


def test_streamed_groups_open_in_plain_xarray_and_as_a_datatree(tmp_path: Path) -> None:
    import zarr

    path = str(tmp_path / "run.zarr")
    _two_group_store(path)
    # Consolidated at the root: xarray's default open reads it without its RuntimeWarning
    # (pytest turns warnings into errors).
    plain = xr.open_zarr(path, group="a").load()
    assert zarr.open_consolidated(path).metadata.consolidated_metadata is not None
    assert zarr.open_group(path, mode="r").attrs["groups"] == ["a", "b"]
    tree = xr.open_datatree(path, engine="zarr")
    assert tree.attrs["groups"] == ["a", "b"]
    assert {"a", "b"} <= set(tree.children)
    assert tree["a/_progress"]["block_done"].dims == ("grid_point", "block")
    assert tree["b/_progress/stats"]["count_sum"].dims[:2] == ("grid_point", "block")
    np.testing.assert_array_equal(tree["a"]["count"].values, plain["count"].values)


def test_open_run_of_a_multi_group_store_is_a_datatree(tmp_path: Path) -> None:
    path = str(tmp_path / "run.zarr")
    _two_group_store(path)
    tree = dg.open_run(path)
    assert isinstance(tree, xr.DataTree)
    assert sorted(tree.children) == ["a", "b"]
    for g in ("a", "b"):
        xr.testing.assert_identical(
            tree[g].to_dataset().load(), dg.open_run(path, group=g, load=True)
        )
    with pytest.raises(InvalidRunError, match=r"no group 'c'; its groups holding runs: 'a', 'b'"):
        dg.open_run(path, group="c")


def test_a_store_listing_its_groups_is_still_recognised_as_its_own(tmp_path: Path) -> None:
    from dtp_gillespie.store_safety import delete_run_store, recognised_store

    path = str(tmp_path / "run.zarr")
    _two_group_store(path)
    assert recognised_store(path)
    delete_run_store(path)
    assert not os.path.exists(path)


def test_an_interrupted_store_opens_in_plain_xarray_and_resume_reconsolidates(
    in_memory: xr.Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dtp_gillespie import _sink_store

    path = str(tmp_path / "run.zarr")
    real = _sink_store.write_block
    calls = []

    def interrupted(task: Any, progress: Any = None) -> tuple[int, int]:
        calls.append(task.block)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task, progress)

    monkeypatch.setattr(_sink_store, "write_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        simulate_to_store(MODEL, SCHEDULE, store=path, group="a", block_size=10, **RUN)
    monkeypatch.setattr(_sink_store, "write_block", real)
    assert calls == [0, 1]
    plain = xr.open_zarr(path, group="a")  # consolidated: no warning
    assert "incomplete" in plain.attrs
    assert int((plain["status"] == -1).sum()) == RUN["n_replicates"] - 10
    tree = xr.open_datatree(path, engine="zarr")
    assert "_lock" not in tree["a"].children  # the lock went with the run
    simulate_to_store(MODEL, SCHEDULE, store=path, group="a", resume=True, **RUN)
    # The consolidated metadata was refreshed after the final write.
    finished = xr.open_zarr(path, group="a").load()
    assert "incomplete" not in finished.attrs
    xr.testing.assert_identical(without_created_at(finished), without_created_at(in_memory))
