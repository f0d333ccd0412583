"""Every invalid input raises a typed error whose message names the field and the offending value.

The errors are ``InvalidModelError``, ``InvalidScheduleError`` and ``InvalidRunError``, all of them
``ValueError`` and ``DtpGillespieError`` (README, "Python API").
"""

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie.errors import (
    DtpGillespieError,
    InvalidModelError,
    InvalidRunError,
    InvalidScheduleError,
)

NAN, INF = math.nan, math.inf

MODEL: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}, {"name": "Q", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.5, "P": 0.1, "R": 0.4},
    "death": {"S": {"off": 0.1, "on": 0.9}, "P": 0.05},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.2}},
        {"from": "P", "to": "S", "rate": 0.1},
    ],
    "mutation": [{"from": "P", "to": "R", "probability": 1e-3}],
}
RUN: dict[str, Any] = {"initial": {"S": 10}, "t_end": 1.0, "n_replicates": 2, "seed": 1}


def edited(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    spec = copy.deepcopy(MODEL)
    edit(spec)
    return spec


def check_message(exc: Exception, fragments: tuple[str, ...]) -> None:
    message = str(exc)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in error message {message!r}"


def check_types(exc: Exception, expected: type[DtpGillespieError]) -> None:
    assert isinstance(exc, expected)
    assert isinstance(exc, ValueError)
    assert isinstance(exc, DtpGillespieError)


# --- model ----------------------------------------------------------------------------------------
def _set(*path: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(spec: dict[str, Any]) -> None:
        target = spec
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


MODEL_CASES = [
    pytest.param(
        _set("division", "S", value=-0.5), ("division", "'S'", "-0.5"), id="division-negative"
    ),
    pytest.param(_set("division", "S", value=NAN), ("division", "'S'", "nan"), id="division-nan"),
    pytest.param(_set("division", "P", value=INF), ("division", "'P'", "inf"), id="division-inf"),
    pytest.param(
        _set("death", "S", value={"off": 0.1, "on": -2.0}),
        ("death", "'S'", "-2.0"),
        id="death-negative",
    ),
    pytest.param(_set("death", "P", value=NAN), ("death", "'P'", "nan"), id="death-nan"),
    pytest.param(
        _set("death", "S", value={"off": INF, "on": 0.1}), ("death", "'S'", "inf"), id="death-inf"
    ),
    pytest.param(
        _set("switch", 1, "rate", value=-0.1), ("switch", "'P'", "-0.1"), id="switch-negative"
    ),
    pytest.param(_set("switch", 1, "rate", value=NAN), ("switch", "'P'", "nan"), id="switch-nan"),
    pytest.param(
        _set("switch", 0, "rate", value={"off": 0.1, "on": INF}),
        ("switch", "'S'", "inf"),
        id="switch-inf",
    ),
    pytest.param(
        _set("division", "S", value="fast"), ("division", "'fast'"), id="rate-not-a-number"
    ),
    pytest.param(_set("division", "S", value=True), ("division", "True"), id="rate-bool"),
    pytest.param(
        _set("mutation", 0, "probability", value=1.5),
        ("mutation", "'P'", "1.5"),
        id="probability-above-1",
    ),
    pytest.param(
        _set("mutation", 0, "probability", value=-0.1),
        ("mutation", "'P'", "-0.1"),
        id="probability-negative",
    ),
    pytest.param(
        _set("mutation", 0, "probability", value={"off": NAN, "on": 0.1}),
        ("mutation", "'P'", "nan"),
        id="probability-nan",
    ),
    pytest.param(
        _set(
            "mutation",
            value=[
                {"from": "P", "to": "R", "probability": 0.75},
                {"from": "P", "to": "Q", "probability": {"off": 0.5, "on": 0.25}},
            ],
        ),
        ("mutation", "'P'", "'off'", "1.25"),
        id="probabilities-sum-above-1",
    ),
    pytest.param(
        _set("division", "X", value=1.0), ("division", "'X'"), id="unknown-state-division"
    ),
    pytest.param(_set("death", "X", value=1.0), ("death", "'X'"), id="unknown-state-death"),
    pytest.param(
        _set("switch", 0, "from", value="X"), ("switch", "'X'"), id="unknown-state-switch"
    ),
    pytest.param(
        _set("mutation", 0, "to", value="X"), ("mutation", "'X'"), id="unknown-state-mutation"
    ),
    pytest.param(_set("states", value=["S", "P", "S"]), ("states", "'S'"), id="duplicate-state"),
    pytest.param(
        _set("states", value=["S", "P", {"name": "P", "genetic": True}]),
        ("states", "'P'"),
        id="duplicate-state-table",
    ),
    pytest.param(
        _set("exposures", value=["off", "on", "on"]), ("exposures", "'on'"), id="duplicate-exposure"
    ),
    pytest.param(
        _set("death", "S", value={"off": 0.1, "onn": 0.9}),
        ("death", "'onn'"),
        id="unknown-exposure-in-rate",
    ),
    pytest.param(
        _set("death", "S", value={"off": 0.1}),
        ("death", "'S'", "'on'"),
        id="missing-exposure-in-rate",
    ),
    pytest.param(_set("divison", value={"S": 1.0}), ("divison",), id="unknown-model-key"),
    pytest.param(_set("switch", 0, "rte", value=0.1), ("rte",), id="unknown-switch-key"),
    pytest.param(_set("mutation", 0, "prob", value=0.1), ("prob",), id="unknown-mutation-key"),
    pytest.param(
        _set("states", 2, value={"name": "R", "genetc": True}), ("genetc",), id="unknown-state-key"
    ),
    pytest.param(
        _set("capacity", value={"K": 100.0, "onn": "death"}), ("onn",), id="unknown-capacity-key"
    ),
    pytest.param(_set("capacity", value={"K": -1.0}), ("K", "-1.0"), id="capacity-negative"),
    pytest.param(_set("capacity", value={"K": NAN}), ("K", "nan"), id="capacity-nan"),
    pytest.param(
        _set("capacity", value={"K": 10.0, "on": "births"}),
        ("on", "'births'"),
        id="capacity-on-unknown",
    ),
    pytest.param(
        _set("switch", value=[{"from": "R", "to": "S", "rate": 0.1}]),
        ("switch", "'R'", "'S'"),
        id="genetic-state-reverts",
    ),
    pytest.param(
        _set("switch", value=[{"from": "S", "to": "S", "rate": 0.1}]),
        ("switch", "'S'"),
        id="switch-to-self",
    ),
]


@pytest.mark.parametrize(("edit", "fragments"), MODEL_CASES)
def test_invalid_model_raises_invalid_model_error(
    edit: Callable[[dict[str, Any]], None], fragments: tuple[str, ...]
) -> None:
    spec = edited(edit)
    with pytest.raises(InvalidModelError) as info:
        dg.Model.from_dict(spec)
    check_types(info.value, InvalidModelError)
    check_message(info.value, fragments)


@pytest.mark.parametrize(("edit", "fragments"), MODEL_CASES[:6])
def test_simulate_rejects_an_invalid_model_spec(
    edit: Callable[[dict[str, Any]], None], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidModelError) as info:
        dg.simulate(edited(edit), "on", **RUN)
    check_message(info.value, fragments)


# --- schedule -------------------------------------------------------------------------------------
def intermittent(**changes: Any) -> dict[str, Any]:
    return {"kind": "intermittent", "on": 1.0, "off": 2.0, **changes}


SCHEDULE_CASES = [
    pytest.param(
        {"kind": "continuous", "exposure": "high"}, ("'high'",), id="continuous-unknown-exposure"
    ),
    pytest.param("high", ("'high'",), id="exposure-name-unknown"),
    pytest.param(intermittent(on_exposure="drug"), ("'drug'",), id="intermittent-unknown-exposure"),
    pytest.param(
        {"kind": "piecewise", "segments": [[0, "off"], [1, "high"]]},
        ("'high'",),
        id="piecewise-unknown-exposure",
    ),
    pytest.param({"kind": "weekly"}, ("kind", "'weekly'"), id="unknown-kind"),
    pytest.param({"on": 1, "off": 1}, ("kind",), id="missing-kind"),
    pytest.param(intermittent(of=3.0), ("'of'",), id="unknown-key"),
    pytest.param(
        {"kind": "continuous", "exposure": "on", "dose": 1},
        ("'dose'",),
        id="unknown-key-continuous",
    ),
    pytest.param(
        {"kind": "piecewise", "segments": [[0, "off"], [2, "on"], [1, "off"]]},
        ("segments[2]", "1"),
        id="piecewise-decreasing",
    ),
    pytest.param(
        {"kind": "piecewise", "segments": [[0, "off"], [1.5, "on"], [1.5, "off"]]},
        ("segments[2]", "1.5"),
        id="piecewise-repeated-time",
    ),
    pytest.param(
        {"kind": "piecewise", "segments": [[0, "off"], [-1, "on"]]},
        ("segments[1]", "-1"),
        id="piecewise-negative",
    ),
    pytest.param(
        {"kind": "piecewise", "segments": [[1, "on"]]},
        ("segments[0]", "1"),
        id="piecewise-not-at-0",
    ),
    pytest.param(
        {"kind": "piecewise", "segments": [[0, "off"], [NAN, "on"]]},
        ("segments[1]", "nan"),
        id="piecewise-nan",
    ),
    pytest.param({"kind": "piecewise", "segments": []}, ("segments",), id="piecewise-empty"),
    pytest.param(intermittent(on=0), ("on", "0"), id="intermittent-on-zero"),
    pytest.param(intermittent(on=-1.0), ("on", "-1.0"), id="intermittent-on-negative"),
    pytest.param(intermittent(off=0.0), ("off", "0.0"), id="intermittent-off-zero"),
    pytest.param(intermittent(off=-2), ("off", "-2"), id="intermittent-off-negative"),
    pytest.param(intermittent(on=NAN), ("on", "nan"), id="intermittent-on-nan"),
    pytest.param(intermittent(off=INF), ("off", "inf"), id="intermittent-off-inf"),
    pytest.param(intermittent(delay=-1.0), ("delay", "-1.0"), id="intermittent-delay-negative"),
    pytest.param(intermittent(first="both"), ("first", "'both'"), id="intermittent-first-unknown"),
    pytest.param({"kind": "intermittent", "on": 1.0}, ("'off'",), id="intermittent-missing-off"),
]


@pytest.mark.parametrize(("schedule", "fragments"), SCHEDULE_CASES)
def test_invalid_schedule_raises_invalid_schedule_error(
    schedule: Any, fragments: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidScheduleError) as info:
        dg.simulate(MODEL, schedule, **RUN)
    check_types(info.value, InvalidScheduleError)
    check_message(info.value, fragments)


def test_schedule_validate_names_the_unknown_exposure() -> None:
    model = dg.Model.from_dict(MODEL)
    with pytest.raises(InvalidScheduleError, match="'high'"):
        dg.Schedule.piecewise([(0.0, "off"), (1.0, "high")]).validate(model)


# --- run options ----------------------------------------------------------------------------------
RUN_CASES = [
    pytest.param({"initial": {"S": -1}}, ("initial", "'S'", "-1"), id="initial-negative"),
    pytest.param({"initial": {"S": 2.5}}, ("initial", "'S'", "2.5"), id="initial-fractional"),
    pytest.param({"initial": {"S": NAN}}, ("initial", "'S'", "nan"), id="initial-nan"),
    pytest.param({"initial": {"S": "10"}}, ("initial", "'S'", "'10'"), id="initial-string"),
    pytest.param({"initial": {"X": 1}}, ("initial", "'X'"), id="initial-unknown-state"),
    pytest.param({"initial": [10, 0]}, ("initial",), id="initial-not-a-table"),
    pytest.param({"n_replicates": 0}, ("n_replicates", "0"), id="replicates-zero"),
    pytest.param({"n_replicates": -3}, ("n_replicates", "-3"), id="replicates-negative"),
    pytest.param({"n_replicates": 2.5}, ("n_replicates", "2.5"), id="replicates-fraction"),
    pytest.param({"t_end": 0.0}, ("t_end", "0.0"), id="t_end-zero"),
    pytest.param({"t_end": -1}, ("t_end", "-1"), id="t_end-negative"),
    pytest.param({"t_end": NAN}, ("t_end", "nan"), id="t_end-nan"),
    pytest.param({"t_end": INF}, ("t_end", "inf"), id="t_end-inf"),
    pytest.param({"times": [0.0, 2.0]}, ("times", "2.0"), id="times-after-t_end"),
    pytest.param({"times": [-0.5, 0.5]}, ("times", "-0.5"), id="times-negative"),
    pytest.param({"times": [0.0, 0.5, 0.25]}, ("times", "0.25"), id="times-unsorted"),
    pytest.param({"times": [0.0, 0.5, 0.5]}, ("times", "0.5"), id="times-repeated"),
    pytest.param({"times": [0.0, NAN]}, ("times",), id="times-nan"),
    pytest.param({"times": []}, ("times",), id="times-empty"),
    # numpy would turn these into 0.0 and 1.0 without a word.
    pytest.param({"times": ["0", "1"]}, ("times[0]", "'0'", "str"), id="times-strings"),
    pytest.param({"times": [False, True]}, ("times[0]", "False", "bool"), id="times-bools"),
    pytest.param({"times": [0, True]}, ("times[1]", "True", "bool"), id="times-bool-among-ints"),
    pytest.param({"times": np.array([False, True])}, ("times", "bool"), id="times-bool-array"),
    pytest.param({"times": np.array(["0", "1"])}, ("times", "<U1"), id="times-string-array"),
    pytest.param({"record_every": 0.0}, ("record_every", "0.0"), id="record_every-zero"),
    pytest.param({"record_every": -0.1}, ("record_every", "-0.1"), id="record_every-negative"),
    pytest.param(
        {"record_every": 0.5, "times": [0.0, 1.0]}, ("record_every", "times"), id="grid-both"
    ),
    pytest.param({"seed": -1}, ("seed", "-1"), id="seed-negative"),
    pytest.param({"seed": 1.5}, ("seed", "1.5"), id="seed-float"),
    pytest.param({"seed": 3.0}, ("seed", "3.0"), id="seed-whole-float"),
    pytest.param({"seed": True}, ("seed", "True"), id="seed-bool"),
    pytest.param({"seed": "42"}, ("seed", "'42'"), id="seed-string"),
    pytest.param({"max_events": 0}, ("max_events", "0"), id="max_events-zero"),
    pytest.param({"max_events": -5}, ("max_events", "-5"), id="max_events-negative"),
    pytest.param({"max_population": 0}, ("max_population", "0"), id="max_population-zero"),
    pytest.param({"max_population": 1.5}, ("max_population", "1.5"), id="max_population-float"),
    pytest.param({"n_threads": 0}, ("n_threads", "0"), id="threads-zero"),
    pytest.param({"n_threads": -1}, ("n_threads", "-1"), id="threads-negative"),
    pytest.param(
        {"replicate_offset": -1}, ("replicate_offset", "-1"), id="replicate_offset-negative"
    ),
    pytest.param(
        {"replicate_offset": 2**63},
        ("replicate_offset", str(2**63), "to 9223372036854775807"),
        id="replicate_offset-past-int64",
    ),
    pytest.param(
        {"barcodes": 10**18}, ("barcodes", str(10**18), "at most 2^32"), id="barcodes-past-2^32"
    ),
    pytest.param({"client": 3}, ("client is 3", "distributed.Client"), id="client-not-a-client"),
    # Options of a store without store=: refused, not ignored.
    pytest.param({"resume": True}, ("resume=True", "without store="), id="resume-without-store"),
    pytest.param(
        {"overwrite": True, "group": "a"},
        ("overwrite=True", "group='a'", "without store="),
        id="overwrite-and-group-without-store",
    ),
    pytest.param(
        {"storage_options": {"anon": True}},
        ("storage_options=", "without store="),
        id="storage_options-without-store",
    ),
    # The message lists every accepted form, the 'biomarker' string included.
    pytest.param(
        {"progression": {"size": 20, "monitor": "psa"}},
        ("progression monitor", "'psa'", "'biomarker'", "list of states", "{state: weight}"),
        id="progression-monitor-unknown-string",
    ),
    pytest.param(
        {"progression": {"size": 20, "monitor": 5}},
        ("progression monitor", "5", "'biomarker'", "list of states", "{state: weight}"),
        id="progression-monitor-not-a-list",
    ),
]


@pytest.mark.parametrize(("changes", "fragments"), RUN_CASES)
def test_invalid_run_option_raises_invalid_run_error(
    changes: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidRunError) as info:
        dg.simulate(MODEL, "on", **{**RUN, **changes})
    check_types(info.value, InvalidRunError)
    check_message(info.value, fragments)


def test_a_model_that_is_not_a_spec_is_rejected() -> None:
    with pytest.raises(DtpGillespieError) as info:
        dg.simulate(["S", "P"], "on", **RUN)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_numpy_scalars_are_accepted_where_python_numbers_are() -> None:
    ds = dg.simulate(
        MODEL,
        "on",
        initial={"S": np.int64(10)},
        t_end=np.float64(1.0),
        n_replicates=np.int32(2),
        seed=np.uint64(1),
    )
    assert ds.sizes["replicate"] == 2


# --- caps -----------------------------------------------------------------------------------------
GROWTH = {"states": ["S"], "division": {"S": 2.0}}
STATUS_MAX_EVENTS, STATUS_MAX_POPULATION = 2, 3


def status_meaning(ds: Any, code: int) -> str:
    flags = dict(
        zip(
            np.asarray(ds["status"].attrs["flag_values"]).tolist(),
            ds["status"].attrs["flag_meanings"].split(),
            strict=True,
        )
    )
    return flags[code]


def test_max_events_cap_warns_and_says_so_in_status() -> None:
    with pytest.warns(UserWarning, match="max_events") as caught:
        ds = dg.simulate(
            GROWTH,
            "on",
            initial={"S": 5},
            t_end=10.0,
            record_every=1.0,
            n_replicates=3,
            seed=2,
            max_events=20,
        )
    assert len(caught) == 1
    assert "3 of 3" in str(caught[0].message)
    assert np.all(ds["status"].values == STATUS_MAX_EVENTS)
    assert status_meaning(ds, STATUS_MAX_EVENTS) == "max_events"
    assert np.all(ds["n_events"].values == 20)
    assert np.all(ds["stop_time"].values < 10.0)
    after = ds["time"].values[None, :] > ds["stop_time"].values[:, None]
    assert np.all(ds["count"].values[after] == -1)
    assert np.all(ds["count"].values[~after] >= 0)


def test_max_population_cap_warns_and_says_so_in_status() -> None:
    with pytest.warns(UserWarning, match="max_population"):
        ds = dg.simulate(
            GROWTH,
            "on",
            initial={"S": 5},
            t_end=10.0,
            record_every=1.0,
            n_replicates=3,
            seed=2,
            max_population=100,
        )
    assert np.all(ds["status"].values == STATUS_MAX_POPULATION)
    assert status_meaning(ds, STATUS_MAX_POPULATION) == "max_population"
    at_stop = ds["time"].values[None, :] <= ds["stop_time"].values[:, None]
    assert np.all(ds["count"].values[at_stop] <= 100)


def test_no_warning_when_no_replicate_is_capped(recwarn: pytest.WarningsRecorder) -> None:
    ds = dg.simulate(
        GROWTH, "on", initial={"S": 5}, t_end=0.5, n_replicates=3, seed=2, max_events=10**6
    )
    assert np.all(ds["status"].values == 0)
    assert len(recwarn) == 0


# --- reproduce on malformed provenance attributes -------------------------------------------------
def _with_run(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def edit(attrs: dict[str, Any]) -> None:
        run = {**json.loads(attrs["run"]), **changes}
        attrs["run"] = json.dumps({k: v for k, v in run.items() if v is not _DROP})

    return edit


_DROP = object()

REPRODUCE_CASES = [
    pytest.param(
        lambda a: a.update(model="{not json"), InvalidRunError, ("'model'", "JSON"), id="model-json"
    ),
    pytest.param(lambda a: a.update(model=7), InvalidRunError, ("'model'", "7"), id="model-int"),
    pytest.param(
        lambda a: a.update(model="[1, 2]"), InvalidRunError, ("'model'", "table"), id="model-list"
    ),
    pytest.param(
        lambda a: a.update(schedule='{"kind": "weekly"}'),
        InvalidScheduleError,
        ("'schedule'", "weekly"),
        id="schedule-invalid",
    ),
    pytest.param(lambda a: a.update(run="null"), InvalidRunError, ("'run'", "None"), id="run-null"),
    pytest.param(_with_run(seed=_DROP), InvalidRunError, ("'run'", "'seed'"), id="run-no-seed"),
    pytest.param(_with_run(seed="abc"), InvalidRunError, ("seed", "'abc'"), id="run-seed-str"),
    pytest.param(
        _with_run(seed_spawn_key="x"), InvalidRunError, ("seed_spawn_key", "'x'"), id="spawn-key"
    ),
    pytest.param(
        _with_run(seed_spawn_key=[-1]), InvalidRunError, ("seed_spawn_key", "-1"), id="spawn-neg"
    ),
    pytest.param(
        _with_run(n_replicates="many"),
        InvalidRunError,
        ("'run' attribute", "n_replicates", "'many'"),
        id="run-replicates-str",
    ),
    pytest.param(
        _with_run(record_every=_DROP),
        InvalidRunError,
        ("'times'", "'record_every'"),
        id="run-no-grid",
    ),
    pytest.param(
        _with_run(summary_only="yes"), InvalidRunError, ("summary_only", "'yes'"), id="summary"
    ),
    pytest.param(
        lambda a: a.update(sweep="{}"), InvalidRunError, ("sweep",), id="sweep-not-reproducible"
    ),
]


@pytest.mark.parametrize(("edit", "error", "fragments"), REPRODUCE_CASES)
def test_reproduce_names_the_malformed_attribute(
    edit: Callable[[dict[str, Any]], None],
    error: type[DtpGillespieError],
    fragments: tuple[str, ...],
) -> None:
    ds = dg.simulate(MODEL, "on", **RUN)
    attrs = dict(ds.attrs)
    edit(attrs)
    ds.attrs = attrs
    with pytest.raises(error) as info:
        dg.reproduce(ds)
    check_types(info.value, error)
    check_message(info.value, fragments)


# --- sweep grids ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "fragments"),
    [
        pytest.param([7.0, 14.0, 7.0], ("item 0 (7.0)", "item 2 (7.0)"), id="repeated"),
        pytest.param([1, 1.0], ("item 0 (1)", "item 1 (1.0)"), id="int-and-float"),
    ],
)
def test_sweep_grid_values_must_be_distinct(values: list[Any], fragments: tuple[str, ...]) -> None:
    with pytest.raises(InvalidRunError) as info:
        dg.sweep(MODEL, intermittent(), {"schedule.off": values}, **RUN)
    check_types(info.value, InvalidRunError)
    check_message(info.value, ("grid['schedule.off']", "twice", *fragments))


def test_open_run_of_something_that_is_no_store_names_it(tmp_path: Any) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    for path in (tmp_path, tmp_path / "notes.txt"):
        with pytest.raises(InvalidRunError, match=f"{path} is not a zarr store"):
            dg.open_run(path)


def test_the_schedule_api_names_what_it_refuses() -> None:
    model = dg.Model.from_dict(MODEL)
    sched = dg.Schedule.intermittent(on=2.0, off=2.0)
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: sched.exposure_at(["a"]), r"times is \['a'\]; expected finite times in days"),
        (lambda: sched.exposure_at([True, False]), "expected finite times in days"),
        (lambda: sched.compile(MODEL, 10.0), "compile needs a dtp_gillespie.Model, not dict"),
        (lambda: sched.compile(model, -1.0), "t_end is -1.0; it must be a finite number > 0"),
        (lambda: sched.compile(model, NAN), "t_end is nan"),
        (lambda: dg.Schedule.combination(None), "combination drugs is None"),  # type: ignore[arg-type]
    ]
    for call, message in cases:
        with pytest.raises(InvalidScheduleError, match=message):
            call()
    assert list(sched.exposure_at([0.0, 2.5])) == ["on", "off"]
