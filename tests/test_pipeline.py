"""The run pipeline (RunOptions -> plan -> execute(plan, sink, executor)): every sink and block
layout gives the front ends' result, and warnings name the user's line (tests/test_architecture.py
checks that the package has no import cycle)."""

import warnings
from pathlib import Path

import dtp_gillespie as dg
import pytest
import xarray as xr
from dtp_gillespie._execute import execute
from dtp_gillespie._executors import LocalExecutor
from dtp_gillespie._options import RUN_OPTIONS, RunOptions, bind, prepare
from dtp_gillespie._plan import make_plan
from dtp_gillespie._sink_memory import MemorySink
from dtp_gillespie._sink_store import StoreSink
from dtp_gillespie.errors import InvalidRunError
from dtp_gillespie.model import Model
from dtp_gillespie.schedule import Schedule
from models import SPR
from strategies import without_created_at

ROOT = Path(__file__).resolve().parents[1]
RUN = {"initial": {"S": 60}, "t_end": 6.0, "record_every": 1.0, "n_replicates": 11, "seed": 5}


@pytest.mark.parametrize("block_size", [1, 4, 11])
def test_execute_in_memory_matches_simulate_for_any_block_size(block_size: int) -> None:
    expected = dg.simulate(SPR, "on", **RUN)
    plan = make_plan(prepare(SPR, "on", **RUN), block_size=block_size)
    out = execute(plan, MemorySink(), LocalExecutor())
    xr.testing.assert_identical(without_created_at(out), without_created_at(expected))


def test_execute_into_a_store_matches_simulate(tmp_path: Path) -> None:
    expected = dg.simulate(SPR, "on", **RUN)
    plan = make_plan(prepare(SPR, "on", **RUN), block_size=3)
    out = execute(plan, StoreSink(str(tmp_path / "run.zarr")), LocalExecutor())
    xr.testing.assert_identical(without_created_at(out.load()), without_created_at(expected))


def test_options_are_checked_once_and_bound_to_each_model() -> None:
    options = RunOptions.build(**RUN)
    a = bind(Model.from_dict(SPR), Schedule.coerce("on"), options)
    b = prepare(SPR, "on", **RUN)
    assert a.run_spec == b.run_spec
    assert a.core_run == b.core_run
    with pytest.raises(InvalidRunError, match="n_replicates is 0"):
        RunOptions.build(**{**RUN, "n_replicates": 0})
    # The initial counts need the model: checked when the options are bound.
    bad = RunOptions.build(**{**RUN, "initial": {"X": 1}})
    with pytest.raises(InvalidRunError, match="initial names unknown state 'X'"):
        bind(Model.from_dict(SPR), Schedule.coerce("on"), bad)


def test_the_cli_accepts_every_run_option_but_n_threads() -> None:
    from dtp_gillespie.cli import _RUN_KEYS

    assert set(RUN_OPTIONS) - set(_RUN_KEYS) == {"n_threads"}


@pytest.mark.parametrize(
    "extra",
    [{}, {"summary_only": True}, {"block_size": 4, "store": "run.zarr"}],
    ids=["in_memory", "summary", "store"],
)
def test_the_cap_warning_names_the_line_that_started_the_run(
    tmp_path: Path, extra: dict[str, object]
) -> None:
    if "store" in extra:
        extra = {**extra, "store": str(tmp_path / "run.zarr")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dg.simulate(SPR, "off", max_population=80, **RUN, **extra)  # type: ignore[arg-type]
    (w,) = [w for w in caught if "stopped early" in str(w.message)]
    assert w.filename == __file__
