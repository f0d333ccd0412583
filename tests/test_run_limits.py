"""The memory guard: a run whose result would not fit in memory is refused before anything is
allocated, with an InvalidRunError saying how large it would be and what to do instead (an
allocation the system refuses would abort the interpreter).

Every test sets the limit (``DTP_GILLESPIE_MEMORY_LIMIT_GIB``), so that none depends on the memory
of the machine running it and none can start a run the size of the ones refused.
"""

import json
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import pytest
from dtp_gillespie import _core, _memory
from dtp_gillespie import conventions as cv
from dtp_gillespie._dataset import nbytes_per_replicate
from dtp_gillespie._memory import LIMIT_ENV
from dtp_gillespie.errors import InvalidRunError
from dtp_gillespie.simulate import prepare
from models import SPR

RUN: dict[str, Any] = {"initial": {"S": 20, "P": 2}, "t_end": 1.0, "seed": 3}
SMALL_RUN: dict[str, Any] = {**RUN, "record_every": 0.01, "n_replicates": 100}
"""About 250 kB of results: refused under a 0.0001 GiB (107 kB) limit, run under 1 GiB."""
TINY_GIB = "0.0001"


@pytest.fixture
def limit_8gib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIMIT_ENV, "8")


def refused(match: tuple[str, ...], call: Any) -> InvalidRunError:
    with pytest.raises(InvalidRunError) as info:
        call()
    for fragment in match:
        assert fragment in str(info.value), str(info.value)
    return info.value


# --- in memory ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "gib"),
    [
        pytest.param({"n_replicates": 10**9}, "GiB", id="1e9-replicates"),
        pytest.param({"n_replicates": 2**62}, "GiB", id="2**62-replicates"),
        pytest.param({"n_replicates": 200, "record_every": 1e-7}, "GiB", id="1e7-record-times"),
    ],
)
@pytest.mark.usefixtures("limit_8gib")
def test_an_in_memory_result_too_large_for_memory_is_refused(
    changes: dict[str, Any], gib: str
) -> None:
    refused(
        ("the result", gib, "limit of 8 GiB", LIMIT_ENV, "store=", "summary_only=True"),
        lambda: dg.simulate(SPR, "on", **{**RUN, **changes}),
    )


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIMIT_ENV, TINY_GIB)
    refused(
        ("the result (100 replicates x 101 record times x 3 states)",),
        lambda: dg.simulate(SPR, "on", **SMALL_RUN),
    )
    monkeypatch.setenv(LIMIT_ENV, "1")
    assert dg.simulate(SPR, "on", **SMALL_RUN).sizes["replicate"] == 100


def test_the_default_limit_is_half_the_memory_of_a_container(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    monkeypatch.delenv(LIMIT_ENV, raising=False)
    cgroup = tmp_path / "memory.max"
    cgroup.write_text(f"{1 << 18}\n", encoding="ascii")  # a 256 KiB container
    monkeypatch.setattr(_memory, "_CGROUP_LIMITS", (str(tmp_path / "absent"), str(cgroup)))
    _memory._physical_memory.cache_clear()
    request.addfinalizer(_memory._physical_memory.cache_clear)
    assert _memory.memory_limit()[0] == 1 << 17
    refused(
        ("limit of 0.000122 GiB", "half the memory"), lambda: dg.simulate(SPR, "on", **SMALL_RUN)
    )
    cgroup.write_text("max\n", encoding="ascii")
    _memory._physical_memory.cache_clear()
    assert _memory.memory_limit()[0] > 1 << 17


@pytest.mark.parametrize("value", ["lots", "0", "-1", "nan"])
def test_a_malformed_limit_is_an_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(LIMIT_ENV, value)
    refused((LIMIT_ENV, repr(value)), lambda: dg.simulate(SPR, "on", **RUN))


@pytest.mark.usefixtures("limit_8gib")
def test_a_sweep_in_memory_counts_every_grid_point() -> None:
    grid = {"model.death.S": [0.1, 0.2, 0.3]}
    refused(
        ("3 grid points x 400000000 replicates", "store="),
        lambda: dg.sweep(SPR, "on", grid, **RUN, n_replicates=4 * 10**8),
    )


@pytest.mark.usefixtures("limit_8gib")
def test_reproduce_refuses_attributes_claiming_a_huge_run() -> None:
    ds = dg.simulate(SPR, "on", **RUN, n_replicates=2)
    run = json.loads(ds.attrs["run"])
    ds.attrs["run"] = json.dumps({**run, "n_replicates": 10**9})
    refused(("'run' attribute", "1000000000 replicates", "GiB"), lambda: dg.reproduce(ds))


def test_the_estimate_is_the_size_of_the_dataset() -> None:
    """The per-replicate estimate is exact for the Dataset: every variable but the time and
    cell_state coordinates, pk concentration and biomarker included."""
    model = {**SPR, "biomarker": {"production": {"S": 1.0}, "decay": 0.5}}
    pk = {"kind": "pk", "dose": 1.0, "dose_every": 0.5, "half_life": 0.3, "ec50": 0.5}
    optional = []
    for spec, schedule in [(SPR, "on"), (SPR, pk), (model, "on")]:
        ds = dg.simulate(spec, schedule, **{**SMALL_RUN, "n_replicates": 7})
        optional += [name for name in ("concentration", "biomarker") if name in ds]
        n_times, n_states = ds.sizes["time"], ds.sizes["cell_state"]
        per_rep = nbytes_per_replicate(
            n_times,
            n_states,
            concentration="concentration" in ds,
            biomarker="biomarker" in ds,
        )
        assert ds.nbytes == 7 * per_rep + 8 * n_times + 8 * n_states
    assert optional == ["concentration", "biomarker"]


# --- streamed and summary runs --------------------------------------------------------------------
def test_summary_in_memory_refuses_more_replicate_summaries_than_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LIMIT_ENV, "8")
    refused(
        ("per-replicate summaries of 1000000000 replicates", "store="),
        lambda: dg.simulate(SPR, "on", **RUN, n_replicates=10**9, summary_only=True),
    )


@pytest.mark.usefixtures("limit_8gib")
def test_a_streamed_block_too_large_for_memory_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "run.zarr"
    refused(
        ("one block of 100000000 replicates", "block_size"),
        lambda: dg.simulate(
            SPR,
            "on",
            **RUN,
            n_replicates=10**9,
            record_every=0.01,
            store=store,
            block_size=10**8,
        ),
    )
    assert not store.exists()


@pytest.mark.usefixtures("limit_8gib")
def test_a_streamed_run_of_more_blocks_than_memory_can_track_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "run.zarr"
    refused(
        ("the bookkeeping of", "blocks", "larger block_size"),
        lambda: dg.simulate(SPR, "on", **RUN, n_replicates=2**62, store=store),
    )
    assert not store.exists()


@pytest.mark.parametrize("summary_only", [False, True])
def test_one_replicate_too_long_for_memory_is_refused_in_every_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, summary_only: bool
) -> None:
    monkeypatch.setenv(LIMIT_ENV, TINY_GIB)
    store = tmp_path / "run.zarr"
    refused(
        ("one replicate's records (100001 record times x 3 states)", "record fewer times"),
        lambda: dg.simulate(
            SPR, "on", **RUN, record_every=1e-5, store=store, summary_only=summary_only
        ),
    )
    assert not store.exists()


def test_summary_statistics_over_too_many_record_times_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(LIMIT_ENV, "0.01")  # one replicate of 30001 times fits, its statistics not
    refused(
        ("with the ensemble statistics",),
        lambda: dg.simulate(
            SPR, "on", **RUN, record_every=1 / 30000, summary_only=True, store=tmp_path / "s"
        ),
    )


# --- trace ----------------------------------------------------------------------------------------
@pytest.mark.usefixtures("limit_8gib")
def test_a_trace_whose_max_events_could_outgrow_memory_is_refused() -> None:
    refused(
        ("max_events=1000000000000", "GiB", "lower max_events"),
        lambda: dg.trace(SPR, "on", **RUN, max_events=10**12),
    )


def test_a_trace_without_max_events_stops_at_the_memory_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LIMIT_ENV, TINY_GIB)
    growing = {"states": ["S"], "division": {"S": 1.0}}
    tr = dg.trace(growing, "on", initial={"S": 1000}, t_end=100.0, seed=1)
    assert tr["status"] == cv.STATUS_MAX_EVENTS
    assert 1000 < tr["time"].size < 10_000  # 107 kB at 21 bytes per event, doubled


# --- the engine, called directly ------------------------------------------------------------------
def test_the_engine_refuses_an_output_it_cannot_allocate() -> None:
    """Below the Python guard: an output length that overflows is an error, not a panic."""
    prep = prepare(SPR, "on", **RUN)
    run = {**prep.core_run, "n_replicates": 2**62}
    with pytest.raises(InvalidRunError, match="cannot allocate"):
        _core.simulate_ensemble(prep.core_model, prep.core_schedule, run, None)
