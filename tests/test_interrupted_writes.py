"""Writes killed part way are never read as finished data: ``dg.write_run`` (and the
``protocol`` command, which uses it) and the CLI's store of one group per schedule carry the
``incomplete`` attribute from before their first chunk until their last, and every reader says so.

The writer is killed the way ``kill -9`` would: a child process leaves with ``os._exit`` (no
``finally``, no ``atexit``) right after its Nth zarr file write whose key matches a pattern.
"""

import json
import os
import re
import subprocess
import warnings
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
import zarr
from dtp_gillespie import conventions as cv
from dtp_gillespie.cli import main
from dtp_gillespie.errors import IncompleteStoreWarning, InvalidRunError
from dtp_gillespie.store_safety import recognised_store
from dtp_gillespie.stream import INCOMPLETE_ATTR
from interruptible import start_python
from models import SPR, SPR_TOML
from strategies import without_created_at
from test_protocol_spec import TOML as PROTOCOL_TOML

SCHEDULE = {"kind": "intermittent", "on": 2.0, "off": 1.0}
RUN: dict[str, Any] = {
    "initial": {"S": 20, "P": 2},
    "t_end": 6.0,
    "record_every": 1.0,
    "n_replicates": 60,
    "seed": 3,
}
PER_CHUNK = 10
# zarr writes each file through a temporary ``<name>.<uuid>.partial`` renamed into place, and
# makes a node's parents concurrently with the node: a process killed then may leave such a file,
# which zarr's listing of the group warns about. The CLI tests below are killed when nothing is
# in flight, so that --resume and --overwrite see no such file.
pytestmark = pytest.mark.filterwarnings("ignore:Object at .*partial is not recognized")
CONFIG = SPR_TOML + (
    "[schedules.continuous]\nkind = 'continuous'\nexposure = 'on'\n"
    "[schedules.intermittent]\nkind = 'intermittent'\non = 2.0\noff = 1.0\n"
    "[run]\ninitial = { S = 20 }\nt_end = 4.0\nn_replicates = 8\nseed = 3\n"
)

KILL_AFTER = """
import os, re, sys
import zarr.storage

n, pattern = {n!r}, re.compile({pattern!r})
real = zarr.storage.LocalStore.set
seen = [0]


async def set(self, key, value, *args, **kwargs):
    await real(self, key, value, *args, **kwargs)
    if pattern.search(key):
        seen[0] += 1
        if seen[0] >= n:
            os._exit(9)  # as kill -9: no finally, no atexit


zarr.storage.LocalStore.set = set
"""


def killed(code: str) -> None:
    """Run ``code`` in a child (``start_python``); fail unless it killed itself (exit 9)."""
    proc = start_python(code, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 9, f"not killed (exit {proc.returncode}):\n{out}\n{err}"


def killed_after(n: int, pattern: str, code: str) -> None:
    """Run ``code`` in a child killed right after its ``n``-th zarr write of a key matching
    ``pattern``."""
    killed(KILL_AFTER.format(n=n, pattern=pattern) + code)


def write_run_child(path: Path) -> str:
    spec = json.dumps({"model": SPR, "schedule": SCHEDULE, "run": RUN})
    return (
        "import json\nimport dtp_gillespie as dg\n"
        f"spec = json.loads({spec!r})\n"
        'ds = dg.simulate(spec["model"], spec["schedule"], **spec["run"])\n'
        f"dg.write_run(ds, {str(path)!r}, replicates_per_chunk={PER_CHUNK})\n"
    )


def missing_chunks(path: Path, name: str) -> list[int]:
    """Replicate chunks of ``name`` that have no file (its other dimensions are one chunk)."""
    n_chunks = -(-RUN["n_replicates"] // PER_CHUNK)
    folder = path / name / "c"
    return [i for i in range(n_chunks) if not (folder / str(i)).exists()]


# --- write_run ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "unwritten"),
    [
        # Killed as the first array is made, and as its first chunk is written: the mark is
        # there already (xarray writes the group's attributes before any array).
        pytest.param(r"^[^/]+/zarr\.json$", None, id="first-array-made"),
        pytest.param(r"/c/", None, id="first-chunk"),
        # Killed once status is made, before its chunks (xarray writes an array's chunks right
        # after making it): count is written, no status chunk is.
        pytest.param(r"^status/zarr\.json$", "status", id="status-made"),
        pytest.param(r"^stop_time/zarr\.json$", "stop_time", id="stop_time-made"),
    ],
)
def test_a_killed_write_run_says_so_and_its_missing_chunks_read_as_not_run(
    pattern: str, unwritten: str | None, tmp_path: Path
) -> None:
    path = tmp_path / "w.zarr"
    killed_after(1, pattern, write_run_child(path))
    # xarray writes the group's attributes before any array: the mark is there already.
    assert INCOMPLETE_ATTR in zarr.open_group(path, mode="r").attrs
    with pytest.warns(IncompleteStoreWarning, match="interrupted; write it again"):
        partial = dg.open_run(path, load=True)
    assert "write_run" in partial.attrs[INCOMPLETE_ATTR]
    # Plain xarray: the mark too; and a chunk never written reads as not run, never as zeros.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no consolidated metadata: xarray says so
        plain = xr.open_zarr(path).load()
    assert INCOMPLETE_ATTR in plain.attrs
    for name, fill in (("count", -1), ("status", cv.STATUS_NOT_RUN), ("n_events", -1)):
        if name not in plain:
            continue  # killed before this array was made
        assert plain[name].dtype == {"status": np.int8}.get(name, np.int64)
        for i in missing_chunks(path, name):
            block = plain[name].values[i * PER_CHUNK : (i + 1) * PER_CHUNK]
            assert (block == fill).all(), (name, i)
    if "stop_time" in plain:
        for i in missing_chunks(path, "stop_time"):
            assert np.isnan(plain["stop_time"].values[i * PER_CHUNK : (i + 1) * PER_CHUNK]).all()
    if unwritten is not None:
        assert len(missing_chunks(path, unwritten)) == RUN["n_replicates"] // PER_CHUNK


def test_write_run_marks_nothing_once_written_and_keeps_the_dtypes(tmp_path: Path) -> None:
    ds = dg.simulate(SPR, SCHEDULE, **RUN)
    path = tmp_path / "w.zarr"
    dg.write_run(ds, path, replicates_per_chunk=PER_CHUNK)
    root = zarr.open_group(path, mode="r")
    assert INCOMPLETE_ATTR not in root.attrs
    assert INCOMPLETE_ATTR not in ds.attrs  # the caller's Dataset is not touched
    # The replicate-dimensioned variables' zarr fill values read as "not run".
    assert root["count"].fill_value == -1
    assert root["n_events"].fill_value == -1
    assert root["status"].fill_value == cv.STATUS_NOT_RUN
    assert np.isnan(root["stop_time"].fill_value)
    # ... as zarr fill values, not CF _FillValue attributes: int64 stays int64 in plain xarray.
    plain = xr.open_zarr(path)  # the consolidated metadata is up to date: no warning
    assert INCOMPLETE_ATTR not in plain.attrs
    for name in ("count", "n_events"):
        assert plain[name].dtype == np.int64
        assert "_FillValue" not in plain[name].attrs
    xr.testing.assert_identical(plain.load(), ds)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IncompleteStoreWarning)
        xr.testing.assert_identical(dg.open_run(path, load=True), ds)


def test_write_run_of_a_dataset_marked_incomplete_keeps_its_mark(tmp_path: Path) -> None:
    ds = dg.simulate(SPR, SCHEDULE, **RUN)
    ds.attrs[INCOMPLETE_ATTR] = "an interrupted streamed run, copied"
    dg.write_run(ds, tmp_path / "copy.zarr")
    assert zarr.open_group(tmp_path / "copy.zarr", mode="r").attrs[INCOMPLETE_ATTR] == (
        "an interrupted streamed run, copied"
    )


def test_write_run_appending_over_a_run_is_refused_and_leaves_the_store_as_it_was(
    tmp_path: Path,
) -> None:
    """mode='a' adds a run where there is none: over one it is refused before anything is
    touched, and plain readers still read the store in one request (consolidated)."""
    path = tmp_path / "a.zarr"
    ds = dg.simulate(SPR, SCHEDULE, **RUN)
    dg.write_run(ds, path)
    with pytest.raises(InvalidRunError, match=r"mode='a'.* already holds .* mode='w'"):
        dg.write_run(ds, path, mode="a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback from consolidated metadata
        xr.testing.assert_identical(xr.open_zarr(path).load(), dg.open_run(path).load())
    # Into a new group, mode='a' adds the run.
    dg.write_run(ds, path, group="again", mode="a")
    xr.testing.assert_identical(dg.open_run(path, group="again").load(), ds)


def test_a_write_run_that_fails_leaves_the_stores_other_runs_consolidated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "b.zarr"
    ds = dg.simulate(SPR, SCHEDULE, **RUN)
    dg.write_run(ds, path, group="first", mode="a")

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_zarr", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        dg.write_run(ds, path, group="second", mode="a")
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback from consolidated metadata
        first = xr.open_zarr(path, group="first").load()
    xr.testing.assert_identical(first.drop_attrs(), ds.drop_attrs())


def test_a_killed_protocol_command_says_so(tmp_path: Path) -> None:
    config = tmp_path / "p.toml"
    config.write_text(PROTOCOL_TOML, encoding="utf-8")
    out = tmp_path / "p.zarr"
    code = (
        "from dtp_gillespie.cli import main\n"
        f"main(['protocol', {str(config)!r}, '--out', {str(out)!r}, '--threads', '1'])\n"
    )
    killed_after(1, r"/c/", code)
    with pytest.warns(IncompleteStoreWarning, match="write_run and was interrupted"):
        dg.open_run(out)


# --- the CLI's one group per schedule -------------------------------------------------------------
def run_child(config: Path, out: Path, kill_at_schedule: int | None = None) -> str:
    """``dtp-gillespie run config --out out``; with ``kill_at_schedule`` the child dies (as with
    kill -9) as that schedule (1, 2, ...) starts: the schedules before it are finished, and its
    group does not exist yet."""
    kill = (
        "import os\nfrom dtp_gillespie import cli\nreal, started = cli.simulate, []\n"
        "def simulate(*args, **kwargs):\n"
        "    started.append(1)\n"
        f"    if len(started) == {kill_at_schedule}:\n"
        "        os._exit(9)\n"
        "    return real(*args, **kwargs)\n"
        "cli.simulate = simulate\n"
        if kill_at_schedule is not None
        else ""
    )
    return kill + (
        "from dtp_gillespie.cli import main\n"
        f"main(['run', {str(config)!r}, '--out', {str(out)!r}, '--no-progress', '-t', '1'])\n"
    )


def root_warnings(call: Any) -> tuple[Any, list[str]]:
    """``call()``'s result and the texts of its IncompleteStoreWarnings about the store's root
    (a group's own warning names the group)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", IncompleteStoreWarning)
        result = call()
    texts = [str(w.message) for w in seen if issubclass(w.category, IncompleteStoreWarning)]
    return result, [t for t in texts if "(group " not in t]


def finished_groups(path: Path) -> dict[str, xr.Dataset]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", IncompleteStoreWarning)
        tree = dg.open_run(path, load=True)
    assert isinstance(tree, xr.DataTree)
    assert INCOMPLETE_ATTR not in tree.attrs
    return {name: without_created_at(node.to_dataset()) for name, node in tree.children.items()}


@pytest.mark.parametrize("inside", [False, True], ids=["before-its-group", "inside-its-group"])
def test_a_cli_run_killed_at_its_second_schedule_says_so_and_resume_finishes_it(
    inside: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "run.zarr"
    if inside:
        # Killed as the second schedule's template starts (its group's second metadata write,
        # when nothing else is in flight): that group is a streamed run, unfinished.
        killed_after(2, r"^intermittent/zarr\.json$", run_child(config, out))
    else:
        killed(run_child(config, out, kill_at_schedule=2))
    assert dg.store_status(out, group="continuous").complete
    resume = f"--out {out} --resume"
    tree, texts = root_warnings(lambda: dg.open_run(out))
    assert len(texts) == 1, texts
    assert "not written yet: 'intermittent';" in texts[0]
    assert resume in texts[0]
    assert "'continuous'" not in texts[0]
    assert isinstance(tree, xr.DataTree)
    assert list(tree.children) == ["continuous", "intermittent"][: 1 + inside]
    assert INCOMPLETE_ATTR in tree.attrs
    # summary and report say so too (summary prints it as a warning, and still summarises).
    capsys.readouterr()
    assert main(["summary", str(out)]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err
    assert "'intermittent'" in captured.err
    assert resume in captured.err
    assert "schedule 'continuous'" in captured.out
    pytest.importorskip("matplotlib")
    status, texts = root_warnings(
        lambda: main(["report", str(out), "--out", str(tmp_path / "r.png")])
    )
    assert status == 0
    assert len(texts) == 1
    assert "not written yet: 'intermittent';" in texts[0]
    # The store is the package's own: --resume finishes it, and the mark goes.
    assert recognised_store(out)
    assert main(["run", str(config), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert INCOMPLETE_ATTR not in zarr.open_group(out, mode="r").attrs
    assert INCOMPLETE_ATTR not in xr.open_datatree(out, engine="zarr").attrs  # consolidated
    fresh = tmp_path / "fresh.zarr"
    assert main(["run", str(config), "--out", str(fresh), "--no-progress"]) == 0
    resumed, expected = finished_groups(out), finished_groups(fresh)
    assert list(resumed) == ["continuous", "intermittent"]
    for name in expected:
        xr.testing.assert_identical(resumed[name], expected[name])


def test_a_cli_run_killed_before_its_first_group_says_so_and_overwrite_replaces_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "run.zarr"
    killed(run_child(config, out, kill_at_schedule=1))
    assert sorted(p.name for p in out.iterdir()) == ["zarr.json"]
    note = zarr.open_group(out, mode="r").attrs[INCOMPLETE_ATTR]
    assert re.search(r"not written yet: 'continuous', 'intermittent';", note)
    with pytest.warns(IncompleteStoreWarning, match="'continuous', 'intermittent'"):
        assert not dg.open_run(out).data_vars  # the root: nothing but the mark
    capsys.readouterr()
    assert main(["summary", str(out)]) == 2  # no run to summarise; the error says why
    assert "not written yet: 'continuous', 'intermittent'" in capsys.readouterr().err
    assert recognised_store(out)
    assert main(["run", str(config), "--out", str(out), "--overwrite", "--no-progress"]) == 0
    assert list(finished_groups(out)) == ["continuous", "intermittent"]
    assert sorted(p.name for p in out.iterdir()) == ["continuous", "intermittent", "zarr.json"]


def test_a_finished_cli_run_of_named_schedules_carries_no_mark(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "run.zarr"
    assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 0
    attrs = zarr.open_group(out, mode="r").attrs
    assert INCOMPLETE_ATTR not in attrs
    assert attrs["groups"] == ["continuous", "intermittent"]
    assert list(finished_groups(out)) == ["continuous", "intermittent"]
    # A config of named schedules does not write groups into a store whose root is a run.
    single = tmp_path / "single.zarr"
    dg.simulate(SPR, SCHEDULE, store=single, **{**RUN, "n_replicates": 4})
    before = sorted(os.listdir(single))
    assert main(["run", str(config), "--out", str(single), "--resume", "--no-progress"]) == 2
    assert sorted(os.listdir(single)) == before
