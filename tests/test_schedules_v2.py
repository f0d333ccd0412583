"""The adaptive, pk and combination schedule kinds, modulators and progression: spec validation,
compilation to the engine's tables (hand-checked), round trips, outputs and the CLI."""

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
import xarray as xr
from dtp_gillespie.errors import InvalidModelError, InvalidRunError, InvalidScheduleError
from models import SPR_TOML
from strategies import without_created_at

NAN, INF = math.nan, math.inf

MODEL: dict[str, Any] = {
    "states": ["S", "P", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.5, "P": 0.1, "R": 0.4},
    "death": {"S": {"off": 0.1, "on": 0.9}, "P": 0.05, "R": 0.1},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.01, "on": 0.2}},
        {"from": "P", "to": "S", "rate": 0.1},
    ],
    "mutation": [{"from": "P", "to": "R", "probability": 1e-3}],
}
LEVELS: dict[str, Any] = {
    "states": ["S", "P"],
    "exposures": ["off", "half", "full"],
    "division": {"S": 0.5, "P": 0.1},
    "death": {"S": {"off": 0.1, "half": 0.5, "full": 0.9}, "P": 0.05},
}
COMBO: dict[str, Any] = {
    "states": ["S", "P"],
    "exposures": ["off", "A", "M", "A+M"],
    "division": {"S": 0.5, "P": 0.1},
    "death": {"S": {"off": 0.1, "A": 0.9}, "P": 0.05},
    "switch": [
        {"from": "S", "to": "P", "rate": {"off": 0.01, "A": 0.2}},
        {"from": "P", "to": "S", "rate": {"off": 0.1, "A": 0.01}},
    ],
    "modulators": [
        {
            "drug": "M",
            "base": "off",
            "effects": [
                {"process": "switch", "from": "P", "to": "S", "factor": 3.0},
                {"process": "death", "state": "P", "factor": 2.0},
            ],
        }
    ],
}
RUN: dict[str, Any] = {"initial": {"S": 20}, "t_end": 2.0, "n_replicates": 2, "seed": 1}


def adaptive(**changes: Any) -> dict[str, Any]:
    return {"kind": "adaptive", **changes}


def pk(**changes: Any) -> dict[str, Any]:
    return {"kind": "pk", "half_life": 1.5, **changes}


def combination(**changes: Any) -> dict[str, Any]:
    spec = {
        "kind": "combination",
        "drugs": {"A": {"kind": "intermittent", "on": 2, "off": 1}, "M": {"kind": "continuous"}},
    }
    return {**spec, **changes}


# --- validation -----------------------------------------------------------------------------------
SCHEDULE_CASES = [
    pytest.param(adaptive(stop_below=0.5, resume_above=0.5), ("resume_above", "0.5"), id="equal"),
    pytest.param(adaptive(stop_below=0.8, resume_above=0.3), ("resume_above", "0.3"), id="below"),
    pytest.param(adaptive(stop_below=-0.1), ("stop_below", "-0.1"), id="stop-negative"),
    pytest.param(adaptive(resume_above=NAN), ("resume_above", "nan"), id="resume-nan"),
    pytest.param(adaptive(check_every=-1), ("check_every", "-1"), id="check-negative"),
    pytest.param(adaptive(min_on=0), ("min_on", "0"), id="min-on-zero"),
    pytest.param(adaptive(max_holiday=-2.0), ("max_holiday", "-2.0"), id="holiday-negative"),
    pytest.param(adaptive(reference="nadir"), ("reference", "'nadir'"), id="bad-reference"),
    pytest.param(adaptive(on="drug"), ("'drug'",), id="unknown-on"),
    pytest.param(adaptive(off="none"), ("'none'",), id="unknown-off"),
    pytest.param(adaptive(on="off"), ("on", "off", "'off'"), id="on-equals-off"),
    pytest.param(adaptive(monitor=["S", "X"]), ("monitor", "'X'"), id="unknown-monitor-state"),
    pytest.param(adaptive(monitor={"S": -1}), ("monitor", "'S'", "-1"), id="negative-weight"),
    pytest.param(adaptive(monitor=[]), ("monitor",), id="empty-monitor"),
    pytest.param(adaptive(start="later"), ("start", "'later'"), id="bad-start"),
    pytest.param(adaptive(start={"detect": 0}), ("detect", "0"), id="detect-zero"),
    pytest.param(adaptive(start={"size": 10}), ("'size'",), id="detect-unknown-key"),
    pytest.param(adaptive(start="off"), ("never start",), id="off-never-starts"),
    pytest.param(
        adaptive(reference="last_switch", stop_below=0.5, resume_above=1.0),
        ("last_switch", "resume_above", "1.0"),
        id="last-switch-chatter",
    ),
    pytest.param(
        adaptive(reference="last_switch", rules=[{"from": "on", "to": "off", "below": 1.0}]),
        ("rules[0]", "last_switch"),
        id="last-switch-rule-chatter",
    ),
    pytest.param(adaptive(rules=[]), ("rules",), id="rules-empty"),
    pytest.param(
        adaptive(rules=[{"from": "on", "to": "off", "below": 0.5}], stop_below=0.4),
        ("rules", "stop_below"),
        id="rules-and-stop",
    ),
    pytest.param(
        adaptive(rules=[{"from": "on", "to": "drug", "below": 0.5}]),
        ("'drug'",),
        id="rule-unknown-exposure",
    ),
    pytest.param(
        adaptive(rules=[{"from": "on", "to": "on", "below": 0.5}]),
        ("rules[0]", "'on'"),
        id="rule-to-itself",
    ),
    pytest.param(
        adaptive(rules=[{"from": "on", "to": "off"}]), ("rules[0]", "condition"), id="rule-empty"
    ),
    pytest.param(
        adaptive(rules=[{"from": "on", "to": "off", "below": -1}]),
        ("rules[0].below", "-1"),
        id="rule-negative",
    ),
    pytest.param(
        adaptive(rules=[{"from": "on", "to": "off", "below": 0.5, "when": 1}]),
        ("'when'",),
        id="rule-unknown-key",
    ),
    pytest.param(
        adaptive(
            rules=[
                {"from": "on", "to": "off", "below": 0.6},
                {"from": "off", "to": "on", "above": 0.6},
            ]
        ),
        ("rules[1].above", "rules[0].below", "0.6"),
        id="rule-no-hysteresis",
    ),
    pytest.param(adaptive(dose=1), ("'dose'",), id="adaptive-unknown-key"),
    pytest.param(pk(half_life=-1.5), ("half_life", "-1.5"), id="pk-negative-half-life"),
    pytest.param(pk(half_life=0), ("half_life", "0"), id="pk-zero-half-life"),
    pytest.param({"kind": "pk"}, ("half_life",), id="pk-missing-half-life"),
    pytest.param(pk(ec50=-1.0), ("ec50", "-1.0"), id="pk-negative-ec50"),
    pytest.param(pk(ec50=0.0), ("ec50", "0.0"), id="pk-zero-ec50"),
    pytest.param(pk(hill=0), ("hill", "0"), id="pk-zero-hill"),
    pytest.param(pk(hill=INF), ("hill", "inf"), id="pk-inf-hill"),
    pytest.param(pk(dose=-2), ("dose", "-2"), id="pk-negative-dose"),
    pytest.param(pk(dose_times=[0, -1.0]), ("dose_times[1]", "-1.0"), id="pk-negative-time"),
    pytest.param(pk(dose_times=[0, 2, 1]), ("dose_times[2]", "sorted"), id="pk-unsorted"),
    pytest.param(pk(dose_every=0), ("dose_every", "0"), id="pk-zero-interval"),
    pytest.param(pk(first_dose=-1), ("first_dose", "-1"), id="pk-negative-first-dose"),
    pytest.param(pk(dose_every=1, dose_times=[0]), ("dose_every", "dose_times"), id="pk-both"),
    pytest.param(
        pk(missed_dose_probability=1.5), ("missed_dose_probability", "1.5"), id="pk-probability"
    ),
    pytest.param(
        pk(missed_dose_probability=-0.1), ("missed_dose_probability", "-0.1"), id="pk-prob-neg"
    ),
    pytest.param(pk(on="drug"), ("'drug'",), id="pk-unknown-exposure"),
    pytest.param(
        pk(rates=[{"process": "apoptosis", "state": "S", "ec50": 1}]),
        ("process", "'apoptosis'"),
        id="pk-unknown-process",
    ),
    pytest.param(
        pk(rates=[{"process": "death", "state": "X", "ec50": 1}]),
        ("rates[0].state", "'X'"),
        id="pk-unknown-state",
    ),
    pytest.param(
        pk(rates=[{"process": "switch", "from": "S", "to": "R", "ec50": 1}]),
        ("rates[0]", "switch", "'S'", "'R'"),
        id="pk-undeclared-switch",
    ),
    pytest.param(
        pk(rates=[{"process": "death", "state": "S", "ec50": -3}]),
        ("rates[0].ec50", "-3"),
        id="pk-negative-override",
    ),
    pytest.param(
        pk(rates=[{"process": "death", "state": "S"}]), ("rates[0]", "ec50"), id="pk-empty-override"
    ),
    pytest.param(
        combination(drugs={"A": {"kind": "adaptive"}}), ("drugs.A", "'adaptive'"), id="combo-kind"
    ),
    pytest.param(
        combination(drugs={"A": {"kind": "continuous", "exposure": "half"}}),
        ("drugs.A", "'half'"),
        id="combo-sub-exposure",
    ),
    pytest.param(combination(drugs={}), ("drugs",), id="combo-empty"),
    pytest.param(
        combination(drugs={"A+B": {"kind": "continuous"}}), ("'A+B'",), id="combo-plus-name"
    ),
    pytest.param(
        combination(drugs={"A": {"kind": "intermittent", "on": -1, "off": 1}}),
        ("drugs.A", "on", "-1"),
        id="combo-bad-sub",
    ),
]


@pytest.mark.parametrize(("schedule", "fragments"), SCHEDULE_CASES)
def test_invalid_new_schedule_raises_invalid_schedule_error(
    schedule: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidScheduleError) as info:
        dg.simulate(MODEL, schedule, **RUN)
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_combination_names_the_missing_exposure() -> None:
    model = {**COMBO, "exposures": ["off", "A", "M"], "modulators": []}
    model["death"] = {"S": {"off": 0.1, "A": 0.9, "M": 0.1}, "P": 0.05}
    model["switch"] = []
    with pytest.raises(InvalidScheduleError, match=r"'A\+M'"):
        dg.simulate(model, combination(), **RUN)
    # ...but only a combination that occurs is needed: A on [0, 1), M from 5 on, t_end 4.
    apart = combination(
        drugs={
            "A": {"kind": "piecewise", "segments": [[0, "on"], [1, "off"]]},
            "M": {"kind": "piecewise", "segments": [[0, "off"], [5, "on"]]},
        }
    )
    dg.simulate(model, apart, **{**RUN, "t_end": 4.0})
    with pytest.raises(InvalidScheduleError, match=r"'A\+M'"):
        dg.Schedule.from_dict(apart).validate(dg.Model.from_dict(model))


MODEL_CASES = [
    pytest.param({"drug": "X", "effects": []}, ("'X'",), id="modulator-in-no-exposure"),
    pytest.param({"drug": "M", "base": "A+M"}, ("base", "'A+M'"), id="base-contains-drug"),
    pytest.param({"drug": "M", "base": "none"}, ("base", "'none'"), id="unknown-base"),
    pytest.param(
        {"drug": "M", "effects": [{"process": "death", "state": "X", "factor": 2}]},
        ("effects[0].state", "'X'"),
        id="effect-unknown-state",
    ),
    pytest.param(
        {"drug": "M", "effects": [{"process": "death", "state": "S", "factor": -2}]},
        ("effects[0].factor", "-2"),
        id="effect-negative",
    ),
    pytest.param(
        {"drug": "M", "effects": [{"process": "grow", "state": "S", "factor": 2}]},
        ("effects[0].process", "'grow'"),
        id="effect-unknown-process",
    ),
    pytest.param(
        {"drug": "M", "effects": [{"process": "switch", "from": "S", "to": "S", "factor": 2}]},
        ("switch", "'S'"),
        id="effect-undeclared-switch",
    ),
    pytest.param(
        {"drug": "M", "effects": [{"process": "death", "state": "S"}]},
        ("factor",),
        id="effect-no-factor",
    ),
]


@pytest.mark.parametrize(("modulator", "fragments"), MODEL_CASES)
def test_invalid_modulator_raises_invalid_model_error(
    modulator: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidModelError) as info:
        dg.Model.from_dict({**COMBO, "modulators": [modulator]})
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_a_table_without_a_modulator_must_still_name_plain_exposures() -> None:
    spec = {**COMBO, "death": {"S": {"off": 0.1}, "P": 0.05}}
    with pytest.raises(InvalidModelError, match=r"death rate of state 'S'.*'A'"):
        dg.Model.from_dict(spec)


RUN_CASES = [
    pytest.param({"progression": {"factor": 1.0}}, ("factor", "1.0"), id="factor-one"),
    pytest.param({"progression": {"size": -5}}, ("size", "-5"), id="size-negative"),
    pytest.param({"progression": {}}, ("factor", "size"), id="empty"),
    pytest.param({"progression": {"factor": 2, "limit": 1}}, ("'limit'",), id="unknown-key"),
    pytest.param(
        {"progression": {"factor": 2, "min_size": 0, "monitor": ["Q"]}},
        ("monitor", "'Q'"),
        id="bad-monitor",
    ),
    pytest.param(
        {"progression": {"factor": 2}}, ("factor", "needs min_size"), id="factor-without-floor"
    ),
    pytest.param(
        {"progression": {"factor": 2, "min_size": -1}}, ("min_size", "-1"), id="min-size-negative"
    ),
    pytest.param({"progression": 2.0}, ("progression",), id="not-a-table"),
]


@pytest.mark.parametrize(("changes", "fragments"), RUN_CASES)
def test_invalid_progression_raises_invalid_run_error(
    changes: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidRunError) as info:
        dg.simulate(MODEL, "on", **{**RUN, **changes})
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


# --- compilation (hand-checked) -------------------------------------------------------------------
def rule(src: int, dst: int, **kw: Any) -> dict[str, Any]:
    out = {"from": src, "to": dst, "below": None, "above": None, "absolute": False}
    return {**out, "after": None, "min_time": 0.0, "phase": "any", **kw}


def test_fixed_kinds_compile_with_kind_and_treating() -> None:
    model = dg.Model.from_dict(MODEL)
    assert dg.Schedule.intermittent(2, 1).compile(model) == {
        "kind": "fixed",
        "treating": [False, True],
        "segment_start": [0.0, 2.0],
        "segment_exposure": [1, 0],
        "cycle_start": 0,
        "period": 3.0,
    }
    levels = dg.Model.from_dict(LEVELS)
    # No "off" exposure named by the schedule: "off" is still the model's off exposure.
    assert dg.Schedule.continuous("full").compile(levels)["treating"] == [False, True, True]
    no_off = dg.Model.from_dict({"states": ["S"], "exposures": ["low", "high"]})
    assert dg.Schedule.continuous("high").compile(no_off)["treating"] == [True, True]
    custom = dg.Schedule.intermittent(1, 1, on_exposure="full", off_exposure="half")
    assert custom.compile(levels)["treating"] == [True, False, True]


def test_adaptive_compiles_to_stop_and_resume_rules() -> None:
    model = dg.Model.from_dict(MODEL)
    spec = adaptive(monitor={"S": 1, "P": 2}, min_on=7, max_holiday=30, check_every=28)
    assert dg.Schedule.from_dict(spec).compile(model) == {
        "kind": "adaptive",
        "treating": [False, True],
        "initial_exposure": 1,
        "monitor_weights": [1.0, 2.0, 0.0],
        "reference": "treatment_start",
        "check_every": 28.0,
        "rules": [
            rule(1, 0, below=0.5, min_time=7.0),
            rule(0, 1, above=1.0),
            rule(0, 1, after=30.0),
        ],
    }


def test_adaptive_detection_starts_treatment_and_the_other_rules_follow_it() -> None:
    model = dg.Model.from_dict(MODEL)
    spec = adaptive(start={"detect": 1e6}, monitor=["S", "P", "R"], max_holiday=60)
    assert dg.Schedule.from_dict(spec).compile(model) == {
        "kind": "adaptive",
        "treating": [False, True],
        "initial_exposure": 0,
        "monitor_weights": [1.0, 1.0, 1.0],
        "reference": "treatment_start",
        "check_every": 0.0,
        "rules": [
            rule(1, 0, below=0.5),
            rule(0, 1, above=1.0, phase="after_treatment"),
            rule(0, 1, after=60.0, phase="after_treatment"),
            rule(0, 1, above=1e6, absolute=True, phase="before_treatment"),
        ],
    }


def test_adaptive_rules_with_three_levels() -> None:
    model = dg.Model.from_dict(LEVELS)
    spec = adaptive(
        on="full",
        off="off",
        reference="absolute",
        rules=[
            {"from": "full", "to": "half", "below": 500},
            {"from": "half", "to": "off", "below": 100, "min_time": 14},
            {"from": "off", "to": "full", "above": 1000},
            {"from": "half", "to": "full", "above": 800, "after": 28},
        ],
    )
    compiled = dg.Schedule.from_dict(spec).compile(model)
    assert compiled["treating"] == [False, True, True]
    assert compiled["initial_exposure"] == 2
    assert compiled["rules"] == [
        rule(2, 1, below=500.0),
        rule(1, 0, below=100.0, min_time=14.0),
        rule(0, 2, above=1000.0),
        rule(1, 2, above=800.0, after=28.0),
    ]


def test_pk_compiles_per_channel_parameters() -> None:
    model = dg.Model.from_dict(MODEL)
    # Channels: S->2S, S->0, S->P, P->2P, P->P+R, P->0, P->S, R->2R, R->0.
    assert model.channel_names() == [
        "S->2S",
        "S->0",
        "S->P",
        "P->2P",
        "P->P+R",
        "P->0",
        "P->S",
        "R->2R",
        "R->0",
    ]
    spec = pk(
        dose=10,
        dose_every=2.5,
        first_dose=1,
        hill=2,
        ec50=3,
        missed_dose_probability=0.1,
        rates=[
            {"process": "death", "state": "S", "ec50": 5, "hill": 1.5},
            {"process": "switch", "from": "S", "to": "P", "ec50": INF},
            {"process": "division", "state": "P", "hill": 4},
            {"process": "mutation", "from": "P", "to": "R", "ec50": 0.5},
        ],
    )
    assert dg.Schedule.from_dict(spec).compile(model, t_end=8.5) == {
        "kind": "pk",
        "treating": [False, True],
        "off_exposure": 0,
        "on_exposure": 1,
        "dose_times": [1.0, 3.5, 6.0, 8.5],
        "dose": 10.0,
        "half_life": 1.5,
        "ec50": [3.0, 5.0, INF, 3.0, 0.5, 3.0, 3.0, 3.0, 3.0],
        "hill": [2.0, 1.5, 2.0, 4.0, 4.0, 2.0, 2.0, 2.0, 2.0],
        "missed_dose_probability": 0.1,
        "response_ec50": 3.0,
        "response_hill": 2.0,
        "on_threshold": 0.05,
    }


def test_pk_needs_t_end_and_drops_doses_after_it() -> None:
    model = dg.Model.from_dict(MODEL)
    sched = dg.Schedule.from_dict(pk(dose_times=[0, 1, 1, 5]))
    with pytest.raises(InvalidScheduleError, match="t_end"):
        sched.compile(model)
    assert sched.compile(model, t_end=2.0)["dose_times"] == [0.0, 1.0, 1.0]


def test_combination_merges_the_drug_breakpoints() -> None:
    model = dg.Model.from_dict(COMBO)
    spec = combination(
        drugs={
            "A": {"kind": "intermittent", "on": 2, "off": 1},
            "M": {"kind": "intermittent", "on": 1, "off": 1, "first": "off", "delay": 0.5},
        }
    )
    sched = dg.Schedule.from_dict(spec)
    compiled = sched.compile(model, t_end=6.0)
    # A: on [0,2) off [2,3) on [3,5) off [5,6) on 6.  M: off [0,0.5) off [0.5,1.5) on [1.5,2.5)
    # off [2.5,3.5) on [3.5,4.5) off [4.5,5.5) on [5.5,6.5).
    assert compiled == {
        "kind": "fixed",
        "treating": [False, True, True, True],
        "segment_start": [0.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.5, 5.0, 5.5, 6.0],
        "segment_exposure": [1, 3, 2, 0, 1, 3, 1, 0, 2, 3],
        "cycle_start": None,
        "period": 0.0,
    }
    # The merged table agrees with each drug's own schedule at every time.
    t = np.linspace(0, 6, 601)
    names = np.asarray(model.exposures)[
        [
            compiled["segment_exposure"][np.searchsorted(compiled["segment_start"], x, "right") - 1]
            for x in t
        ]
    ]
    np.testing.assert_array_equal(names, sched.exposure_at(t))
    ds = dg.simulate(model, spec, initial={"S": 5}, t_end=6.0, times=t, seed=3)
    np.testing.assert_array_equal(np.asarray(model.exposures)[ds["exposure"].values[0]], names)


def test_combination_segment_limit() -> None:
    model = dg.Model.from_dict(COMBO)
    many = combination(drugs={"A": {"kind": "intermittent", "on": 1e-3, "off": 1e-3}})
    with pytest.raises(InvalidScheduleError, match="1000000 segments"):
        dg.Schedule.from_dict(many).compile(model, t_end=2001.0)


def test_modulator_effects_derive_the_combination_rates() -> None:
    model = dg.Model.from_dict(COMBO)
    spec = model.to_dict()
    assert spec["death"]["P"] == {"off": 0.05, "A": 0.05, "M": 0.1, "A+M": 0.1}
    assert spec["death"]["S"] == {"off": 0.1, "A": 0.9, "M": 0.1, "A+M": 0.9}
    ps = next(s for s in spec["switch"] if s["from"] == "P")
    assert ps["rate"] == {"off": 0.1, "A": 0.01, "M": 0.30000000000000004, "A+M": 0.03}
    assert dg.Model.from_dict(spec) == model
    # An explicit value wins over the derived one.
    explicit = json.loads(json.dumps(COMBO))
    explicit["death"]["P"] = {"off": 0.05, "A": 0.05, "A+M": 0.5}
    assert dg.Model.from_dict(explicit).to_dict()["death"]["P"]["A+M"] == 0.5
    assert dg.Model.from_dict(explicit).to_dict()["death"]["P"]["M"] == 0.1


def test_two_modulators_multiply() -> None:
    spec = {
        "states": ["S"],
        "exposures": ["off", "M", "N", "M+N"],
        "death": {"S": 0.1},
        "modulators": [
            {"drug": "M", "effects": [{"process": "death", "state": "S", "factor": 2.0}]},
            {"drug": "N", "effects": [{"process": "death", "state": "S", "factor": 3.0}]},
        ],
    }
    death = dg.Model.from_dict(spec).to_dict()["death"]["S"]
    assert death == pytest.approx({"off": 0.1, "M": 0.2, "N": 0.3, "M+N": 0.6})


# --- round trips ----------------------------------------------------------------------------------
ROUND_TRIP = [
    adaptive(),
    adaptive(
        monitor=["S", "P"],
        reference="last_switch",
        stop_below=0.5,
        resume_above=1.5,
        check_every=7,
        min_on=3,
    ),
    adaptive(start={"detect": 1000}, max_holiday=30),
    adaptive(rules=[{"from": "on", "to": "off", "below": 0.5, "absolute": True}], start="off"),
    pk(dose=2, dose_every=0.5),
    pk(dose_times=[0, 3], rates=[{"process": "death", "state": "S", "ec50": 2.0}], ec50=INF),
    combination(),
]


@pytest.mark.parametrize("spec", ROUND_TRIP)
def test_new_kinds_round_trip_through_their_dict(spec: dict[str, Any]) -> None:
    sched = dg.Schedule.from_dict(spec)
    assert dg.Schedule.from_dict(sched.to_dict()) == sched
    assert dg.Schedule.from_dict(json.loads(sched.to_json())) == sched
    model = dg.Model.from_dict(MODEL if spec["kind"] != "combination" else COMBO)
    again = dg.Schedule.from_dict(sched.to_dict())
    assert again.compile(model, t_end=10.0) == sched.compile(model, t_end=10.0)


def test_adaptive_and_pk_exposure_at_is_an_error() -> None:
    for spec in (adaptive(), pk()):
        with pytest.raises(InvalidScheduleError, match="trajectory"):
            dg.Schedule.from_dict(spec).exposure_at(1.0)


# --- outputs --------------------------------------------------------------------------------------
NEW_VARIABLES = {
    "treatment_start_time": ("day", np.float64),
    "time_on_drug": ("day", np.float64),
    "n_switches": ("1", np.int64),
    "progression_time": ("day", np.float64),
}


@pytest.mark.parametrize("spec", [adaptive(check_every=0.5), pk(dose=5), "on", combination()])
def test_new_outputs_and_reproduce(spec: Any) -> None:
    model = COMBO if isinstance(spec, dict) and spec["kind"] == "combination" else MODEL
    ds = dg.simulate(
        model,
        spec,
        initial={"S": 30, "P": 3},
        t_end=4.0,
        record_every=0.5,
        n_replicates=4,
        seed=5,
        progression={"factor": 1.5, "min_size": 0},
    )
    for name, (units, dtype) in NEW_VARIABLES.items():
        assert ds[name].dims == ("replicate",)
        assert ds[name].dtype == dtype
        assert ds[name].attrs["units"] == units
        assert ds[name].attrs["long_name"]
    is_pk = isinstance(spec, dict) and spec["kind"] == "pk"
    assert ("concentration" in ds) == is_pk
    if is_pk:
        c = ds["concentration"]
        assert c.dims == ("replicate", "time")
        assert c.dtype == np.float64
        assert "EC50" in c.attrs["long_name"]
        # One dose of 5 at t = 0 (the default dose_every = 1 repeats it daily).
        np.testing.assert_allclose(c.values[:, 0], 5.0)
    time_on = ds["time_on_drug"].values
    assert np.all((time_on >= 0) & (time_on <= ds["stop_time"].values + 1e-12))
    run = json.loads(ds.attrs["run"])
    assert run["progression"] == {
        "factor": 1.5,
        "size": None,
        "min_size": 0.0,
        "monitor": dict.fromkeys(dg.Model.from_dict(model).states, 1.0),
    }
    again = dg.reproduce(ds)
    xr.testing.assert_identical(without_created_at(again), without_created_at(ds))


def test_progression_monitor_defaults_to_the_adaptive_monitor() -> None:
    ds = dg.simulate(MODEL, adaptive(monitor={"S": 2}), **RUN, progression={"size": 1e9})
    assert json.loads(ds.attrs["run"])["progression"]["monitor"] == {"S": 2.0, "P": 0.0, "R": 0.0}
    assert np.all(np.isnan(ds["progression_time"].values))


def test_no_progression_gives_nan_and_null() -> None:
    ds = dg.simulate(MODEL, "on", **RUN)
    assert json.loads(ds.attrs["run"])["progression"] is None
    assert np.all(np.isnan(ds["progression_time"].values))


# --- CLI from TOML --------------------------------------------------------------------------------
TOML_MODEL = (
    SPR_TOML
    + """\

[run]
initial      = { S = 300, P = 5 }
t_end        = 20
record_every = 1.0
n_replicates = 10
seed         = 11
progression  = { factor = 1.5, min_size = 0 }
"""
)

TOML_SCHEDULES = {
    "adaptive": """
[schedule]
kind = "adaptive"
on = "on"
off = "off"
monitor = ["S", "P", "R"]
reference = "treatment_start"
stop_below = 0.5
resume_above = 1.0
check_every = 0
start = "on"
""",
    "pk": """
[schedule]
kind = "pk"
dose = 1.0
dose_every = 1.0
half_life = 1.5
hill = 2.0
""",
    "named": """
[schedules.adaptive-visits]
kind = "adaptive"
check_every = 7
start = { detect = 310 }

[schedules.combination]
kind = "pk"
dose_times = [0, 5, 10]
half_life = 2.0
rates = [ { process = "death", state = "S", ec50 = 0.5 } ]
""",
}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dtp_gillespie", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("name", list(TOML_SCHEDULES))
def test_cli_runs_the_new_kinds_from_toml(tmp_path: Path, name: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(TOML_MODEL + TOML_SCHEDULES[name], encoding="utf-8")
    out = tmp_path / "run.zarr"
    result = cli("run", str(config), "--out", str(out), "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "time on drug: mean" in result.stdout
    assert "exposure switches: mean" in result.stdout
    assert "progressed:" in result.stdout
    assert "median time to progression" in result.stdout
    groups = ["adaptive-visits", "combination"] if name == "named" else [None]
    for group in groups:
        ds = dg.open_run(out, group=group, load=True)
        assert json.loads(ds.attrs["run"])["progression"]["factor"] == 1.5
        xr.testing.assert_identical(without_created_at(dg.reproduce(ds)), without_created_at(ds))


def test_cli_bad_adaptive_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    text = TOML_MODEL + TOML_SCHEDULES["adaptive"].replace(
        "resume_above = 1.0", "resume_above = 0.4"
    )
    config.write_text(text, encoding="utf-8")
    result = cli("run", str(config), "--out", str(tmp_path / "x.zarr"), cwd=tmp_path)
    assert result.returncode == 2
    assert "resume_above" in result.stderr
    assert "Traceback" not in result.stderr
