"""The engine's own validation reaches Python as the package's typed errors.

``dtp_gillespie._core`` re-checks every table the Python layer compiles. These tests call it
directly with dicts compiled by :func:`dtp_gillespie.simulate.prepare` and then broken in one
place, so that the Python validation is bypassed: every refusal of the engine (each validation
site of ``rust/dtp_gillespie_core``, and each missing or ill-typed key in the adapter) must raise
``InvalidModelError``, ``InvalidScheduleError`` or ``InvalidRunError``, never a bare KeyError,
TypeError or a panic.

The engine checks only what it needs to run safely; the semantic rules (which features combine,
progression thresholds, t_end > 0) are the Python layer's alone (CONTRIBUTING.md, "Where each rule
is checked"), and a dict that breaks one of them still runs in the engine without harm.
"""

import copy
import math
import re
from collections.abc import Callable
from typing import Any

import dtp_gillespie._core as core
import dtp_gillespie.conventions as cv
import pytest
from dtp_gillespie.errors import (
    DtpGillespieError,
    InvalidModelError,
    InvalidRunError,
    InvalidScheduleError,
)
from dtp_gillespie.simulate import prepare

# The small models crowd on death with death > division under drug: the engine's refusals are
# the subject here, not that (documented) warning.
pytestmark = pytest.mark.filterwarnings("ignore::dtp_gillespie.errors.CrowdingWarning")

Specs = dict[str, dict[str, Any]]

_MODEL = {
    "states": ["S", "P"],
    "exposures": ["off", "on"],
    "division": {"S": 1.0},
    "death": {"S": {"off": 0.1, "on": 2.0}, "P": 0.1},
    "switch": [{"from": "S", "to": "P", "rate": 0.1}],
}
_BIOMARKER = {"production": {"S": 1.0, "P": 1.0}, "decay": 0.5}
_COMPETITION = {
    "on": "death",
    "states": {"S": {"K": 1000.0, "alpha": {"S": 1.0, "P": 0.5}}},
}


def _specs(kind: str) -> Specs:
    """Valid engine dicts (``model``, ``schedule``, ``run``) for a small S/P model."""
    model: dict[str, Any] = copy.deepcopy(_MODEL)
    schedule: Any = {"kind": "continuous", "exposure": "on"}
    run: dict[str, Any] = {}
    if kind == "capacity":
        model["capacity"] = {"K": 1000.0, "on": "death"}
    elif kind == "competition":
        model["competition"] = copy.deepcopy(_COMPETITION)
    elif kind == "biomarker":
        model["biomarker"] = copy.deepcopy(_BIOMARKER)
    elif kind == "adaptive":
        schedule = {"kind": "adaptive", "stop_below": 0.5, "resume_above": 1.0}
    elif kind == "intermittent":
        schedule = {"kind": "intermittent", "on": 1.0, "off": 1.0}
    elif kind == "pk":
        model["death"]["S"]["on"] = 2.0
        schedule = {"kind": "pk", "dose": 1.0, "dose_every": 1.0, "half_life": 0.5, "ec50": 1.0}
    elif kind == "progression":
        run["progression"] = {"factor": 2.0, "min_size": 0}
    prep = prepare(model, schedule, initial={"S": 10}, t_end=2.0, seed=1, **run)
    return {
        "model": copy.deepcopy(prep.core_model),
        "schedule": copy.deepcopy(prep.core_schedule),
        "run": copy.deepcopy(prep.core_run),
    }


def _set(part: str, key: str, value: Any) -> Callable[[Specs], None]:
    def edit(specs: Specs) -> None:
        specs[part][key] = value

    return edit


def _drop(part: str, key: str) -> Callable[[Specs], None]:
    def edit(specs: Specs) -> None:
        del specs[part][key]

    return edit


def _additive_with_negative_slope(specs: Specs) -> None:
    specs["model"]["capacity_on"] = "death_additive"
    specs["model"]["capacity_slope"] = [1.0, -1.0]


def _nested(part: str, key: str, index: int | None, field: str, value: Any) -> Callable:
    """Set ``specs[part][key][index][field]`` (``index`` None: a dict, not a list of dicts)."""

    def edit(specs: Specs) -> None:
        target = specs[part][key] if index is None else specs[part][key][index]
        target[field] = value

    return edit


def _channel(index: int, **fields: Any) -> Callable[[Specs], None]:
    """Set fields of channel ``index`` of the model dict."""

    def edit(specs: Specs) -> None:
        specs["model"]["channels"][index].update(fields)

    return edit


def _drop_channel_key(index: int, key: str) -> Callable[[Specs], None]:
    def edit(specs: Specs) -> None:
        del specs["model"]["channels"][index][key]

    return edit


def _two_death_channels(specs: Specs) -> None:
    # Channel 1 is S's death; make channel 2 (S -> P switch) a second death of S.
    specs["model"]["channels"][2].update(kind="death", inc=None)


def _unsorted_channels(specs: Specs) -> None:
    channels = specs["model"]["channels"]
    channels[0]["source"] = 1
    channels[3].update(source=0, dec=0)


def _rule(field: str, value: Any) -> Callable[[Specs], None]:
    return _nested("schedule", "rules", 0, field, value)


def _no_condition(specs: Specs) -> None:
    rule = specs["schedule"]["rules"][0]
    rule["below"] = rule["above"] = rule["after"] = None


def _duplicate_competition_row(specs: Specs) -> None:
    rows = specs["model"]["competition"]["rows"]
    rows.append(copy.deepcopy(rows[0]))


def _competition_k_zero_on_death(specs: Specs) -> None:
    specs["model"]["competition"]["rows"][0]["k0"] = [0.0, 0.0]


def _competition_k_always_zero(specs: Specs) -> None:
    c = specs["model"]["competition"]
    c["on"] = "division"
    c["rows"][0]["k0"] = [0.0, 0.0]


def _capacity_and_competition(specs: Specs) -> None:
    m = specs["model"]
    m["capacity"], m["capacity_on"], m["capacity_weights"] = 1000.0, "division", [1.0, 1.0]


def _divider_without_death(specs: Specs) -> None:
    # S divides; its death channel (1) becomes a switch S -> P, so S has no death channel.
    specs["model"]["channels"][1].update(kind="switch", inc=1)


def _monitor_biomarker_without_one(specs: Specs) -> None:
    specs["schedule"]["monitor_biomarker"] = True


def _progression_biomarker_without_one(specs: Specs) -> None:
    specs["run"]["progression_biomarker"] = True


def _no_progression_threshold(specs: Specs) -> None:
    specs["run"]["progression_factor"] = None
    specs["run"]["progression_size"] = None


def _pk_with_biomarker(specs: Specs) -> None:
    specs["model"]["biomarker"] = {"production": [1.0] * 4, "decay": 0.5, "initial": None}


def _pk_with_varying_competition(specs: Specs) -> None:
    specs["model"]["competition"] = {
        "on": "death",
        "rows": [
            {
                "state": 0,
                "alpha": [1.0, 0.5, 1.0, 0.5],
                "k0": [1000.0, 100.0],
                "k_per_cell": [0.0] * 4,
            }
        ],
    }


# (id, base, edit, error, message fragment): one row per refusal.
CASES: list[tuple[str, str, Callable[[Specs], None], type[DtpGillespieError], str]] = [
    # --- the adapter: keys and their types -----------------------------------------------------
    (
        "model-missing-key",
        "fixed",
        _drop("model", "channel_rate"),
        InvalidModelError,
        'key "channel_rate" is missing',
    ),
    (
        "model-ill-typed",
        "fixed",
        _set("model", "n_states", "two"),
        InvalidModelError,
        "key \"n_states\" is 'two'",
    ),
    (
        "schedule-missing-key",
        "fixed",
        _drop("schedule", "segment_start"),
        InvalidScheduleError,
        'key "segment_start" is missing',
    ),
    (
        "schedule-ill-typed",
        "adaptive",
        _set("schedule", "check_every", "daily"),
        InvalidScheduleError,
        "key \"check_every\" is 'daily'",
    ),
    (
        "rule-ill-typed",
        "adaptive",
        _rule("min_time", [1.0]),
        InvalidScheduleError,
        'key "min_time" is \\[1.0\\]',
    ),
    ("run-missing-key", "fixed", _drop("run", "t_end"), InvalidRunError, 'key "t_end" is missing'),
    (
        "run-ill-typed",
        "fixed",
        _set("run", "n_replicates", -1),
        InvalidRunError,
        'key "n_replicates" is -1',
    ),
    (
        "run-bad-seed",
        "fixed",
        _set("run", "seed_key", b"short"),
        InvalidRunError,
        "seed_key has 5 bytes",
    ),
    (
        "competition-row-missing-key",
        "competition",
        lambda s: s["model"]["competition"]["rows"][0].pop("k0"),
        InvalidModelError,
        'key "k0" is missing',
    ),
    (
        "biomarker-ill-typed",
        "biomarker",
        _nested("model", "biomarker", None, "decay", "fast"),
        InvalidModelError,
        "key \"decay\" is 'fast' \\(str\\)",
    ),
    (
        "competition-not-a-dict",
        "fixed",
        _set("model", "competition", [1, 2]),
        InvalidModelError,
        'key "competition"',
    ),
    (
        "channel-missing-key",
        "fixed",
        _drop_channel_key(0, "mutation"),
        InvalidModelError,
        'key "mutation" is missing',
    ),
    (
        "channels-not-a-list",
        "fixed",
        _set("model", "channels", 3),
        InvalidModelError,
        'key "channels" is 3',
    ),
    (
        "channel-kind",
        "fixed",
        _channel(0, kind="mitosis"),
        InvalidModelError,
        'key "kind" is \'mitosis\'.*unknown channel kind "mitosis"',
    ),
    (
        # The integer codes of the old encoding are refused, not read as a kind.
        "channel-kind-code",
        "fixed",
        _channel(0, kind=0),
        InvalidModelError,
        'key "kind" is 0',
    ),
    (
        "channel-no-state",
        "fixed",
        _channel(1, dec=-1),
        InvalidModelError,
        'key "dec" is -1',
    ),
    (
        "capacity-target",
        "capacity",
        _set("model", "capacity_on", "birth"),
        InvalidModelError,
        'acts on "birth"',
    ),
    (
        "rule-phase",
        "adaptive",
        _rule("phase", "later"),
        InvalidScheduleError,
        'unknown rule phase "later"',
    ),
    (
        "reference",
        "adaptive",
        _set("schedule", "reference", "yesterday"),
        InvalidScheduleError,
        'unknown reference "yesterday"',
    ),
    (
        "schedule-kind",
        "fixed",
        _set("schedule", "kind", "weekly"),
        InvalidScheduleError,
        'unknown schedule kind "weekly"',
    ),
    # --- model.rs -------------------------------------------------------------------------------
    ("no-states", "fixed", _set("model", "n_states", 0), InvalidModelError, "at least one state"),
    (
        "n-exposures",
        "fixed",
        _set("model", "n_exposures", 0),
        InvalidModelError,
        "number of exposures is 0",
    ),
    (
        "rate-count",
        "fixed",
        _set("model", "channel_rate", [1.0]),
        InvalidModelError,
        "channel_rate has 1 values",
    ),
    (
        "channel-state",
        "fixed",
        _channel(2, inc=5),
        InvalidModelError,
        "channel 2 names a state outside",
    ),
    ("channel-dec", "fixed", _channel(1, dec=1), InvalidModelError, "other than its source"),
    ("channel-order", "fixed", _unsorted_channels, InvalidModelError, "sorted by source state"),
    ("two-deaths", "fixed", _two_death_channels, InvalidModelError, "two death channels"),
    (
        "negative-rate",
        "fixed",
        _nested("model", "channel_rate", None, 1, -0.1),
        InvalidModelError,
        "rates must be finite and >= 0",
    ),
    (
        "nan-rate",
        "fixed",
        _nested("model", "channel_rate", None, 1, float("nan")),
        InvalidModelError,
        "rates must be finite and >= 0",
    ),
    (
        "capacity-k",
        "capacity",
        _set("model", "capacity", -5.0),
        InvalidModelError,
        "carrying capacity K is -5",
    ),
    (
        "capacity-weights",
        "capacity",
        _set("model", "capacity_weights", [1.0]),
        InvalidModelError,
        "capacity weights must be 2",
    ),
    (
        "capacity-slope",
        "capacity",
        _additive_with_negative_slope,
        InvalidModelError,
        "capacity slopes must be 2 finite values >= 0",
    ),
    (
        "capacity-no-death",
        "capacity",
        _divider_without_death,
        InvalidModelError,
        "capacity acts on death but state 0 has no death channel",
    ),
    (
        "competition-rows",
        "competition",
        _nested("model", "competition", None, "rows", []),
        InvalidModelError,
        "competition has no rows",
    ),
    (
        "competition-state",
        "competition",
        _nested(
            "model",
            "competition",
            None,
            "rows",
            [{"state": 9, "alpha": [0.0] * 4, "k0": [1.0, 1.0], "k_per_cell": [0.0] * 4}],
        ),
        InvalidModelError,
        "names state 9 outside",
    ),
    (
        "competition-duplicate",
        "competition",
        _duplicate_competition_row,
        InvalidModelError,
        "two rows for state 0",
    ),
    (
        "competition-sizes",
        "competition",
        lambda s: s["model"]["competition"]["rows"][0].update(alpha=[1.0]),
        InvalidModelError,
        "alpha has 1 values",
    ),
    (
        "competition-coefficient",
        "competition",
        lambda s: s["model"]["competition"]["rows"][0].update(alpha=[1.0, -0.5, 1.0, 0.5]),
        InvalidModelError,
        "coefficients must be finite and >= 0",
    ),
    (
        "competition-k0-death",
        "competition",
        _competition_k_zero_on_death,
        InvalidModelError,
        "it must be > 0",
    ),
    (
        "competition-k-zero",
        "competition",
        _competition_k_always_zero,
        InvalidModelError,
        "is always 0",
    ),
    (
        "capacity-and-competition",
        "competition",
        _capacity_and_competition,
        InvalidModelError,
        "either a capacity or competition",
    ),
    (
        "competition-no-death",
        "competition",
        _divider_without_death,
        InvalidModelError,
        "competition acts on death but state 0 has no death channel",
    ),
    # --- biomarker.rs ---------------------------------------------------------------------------
    (
        "biomarker-size",
        "biomarker",
        _nested("model", "biomarker", None, "production", [1.0]),
        InvalidModelError,
        "biomarker production has 1 values",
    ),
    (
        "biomarker-production",
        "biomarker",
        _nested("model", "biomarker", None, "production", [1.0, -1.0, 1.0, 1.0]),
        InvalidModelError,
        "biomarker production -1",
    ),
    (
        "biomarker-decay",
        "biomarker",
        _nested("model", "biomarker", None, "decay", 0.0),
        InvalidModelError,
        "biomarker decay is 0",
    ),
    (
        "biomarker-initial",
        "biomarker",
        _nested("model", "biomarker", None, "initial", -2.0),
        InvalidModelError,
        "biomarker initial value is -2",
    ),
    # --- schedule.rs and dosing.rs --------------------------------------------------------------
    (
        "segments",
        "fixed",
        _set("schedule", "segment_exposure", []),
        InvalidScheduleError,
        "one exposure per segment start",
    ),
    (
        "first-segment",
        "fixed",
        _set("schedule", "segment_start", [1.0]),
        InvalidScheduleError,
        "first segment starts at 1",
    ),
    (
        "segment-order",
        "intermittent",
        _set("schedule", "segment_start", [0.0, 0.0]),
        InvalidScheduleError,
        "strictly increasing",
    ),
    (
        "cycle-start",
        "intermittent",
        _set("schedule", "cycle_start", 5),
        InvalidScheduleError,
        "cycle start 5 is not a segment index",
    ),
    (
        "period",
        "intermittent",
        _set("schedule", "period", 0.5),
        InvalidScheduleError,
        "the period is 0.5",
    ),
    (
        "treating",
        "fixed",
        _set("schedule", "treating", [True]),
        InvalidScheduleError,
        "treating has 1 flags",
    ),
    (
        "schedule-exposure",
        "fixed",
        _set("schedule", "segment_exposure", [4]),
        InvalidScheduleError,
        "uses exposure 4",
    ),
    # --- adaptive.rs ----------------------------------------------------------------------------
    (
        "initial-exposure",
        "adaptive",
        _set("schedule", "initial_exposure", 3),
        InvalidScheduleError,
        "initial exposure 3",
    ),
    (
        "monitor-weights",
        "adaptive",
        _set("schedule", "monitor_weights", [1.0, -1.0]),
        InvalidScheduleError,
        "monitor weights must be 2",
    ),
    (
        "check-every",
        "adaptive",
        _set("schedule", "check_every", -1.0),
        InvalidScheduleError,
        "check_every is -1",
    ),
    (
        "rule-exposure",
        "adaptive",
        _rule("to", 9),
        InvalidScheduleError,
        "rule 0 names an exposure outside",
    ),
    (
        "rule-threshold",
        "adaptive",
        _rule("min_time", -1.0),
        InvalidScheduleError,
        "rule 0 has a threshold or time",
    ),
    ("rule-condition", "adaptive", _no_condition, InvalidScheduleError, "rule 0 has no condition"),
    # --- pk.rs ----------------------------------------------------------------------------------
    (
        "pk-exposure",
        "pk",
        _set("schedule", "on_exposure", 7),
        InvalidScheduleError,
        "names an exposure the model does not have",
    ),
    (
        "pk-dose-time",
        "pk",
        _set("schedule", "dose_times", [-1.0]),
        InvalidScheduleError,
        "dose time -1",
    ),
    (
        "pk-dose-order",
        "pk",
        _set("schedule", "dose_times", [1.0, 0.0]),
        InvalidScheduleError,
        "dose times must be sorted",
    ),
    ("pk-dose", "pk", _set("schedule", "dose", float("inf")), InvalidScheduleError, "dose is inf"),
    (
        "pk-response",
        "pk",
        _set("schedule", "response_hill", 0.0),
        InvalidScheduleError,
        "the pk response has ec50 1 and hill 0",
    ),
    (
        "pk-on-threshold",
        "pk",
        _set("schedule", "on_threshold", 1.0),
        InvalidScheduleError,
        "on_threshold is 1; it must lie strictly between 0 and 1",
    ),
    (
        "pk-half-life",
        "pk",
        _set("schedule", "half_life", 0.0),
        InvalidScheduleError,
        "half_life is 0",
    ),
    (
        "pk-ec50-count",
        "pk",
        _set("schedule", "ec50", [1.0]),
        InvalidScheduleError,
        "ec50 and hill need one value per channel",
    ),
    (
        "pk-ec50",
        "pk",
        lambda s: s["schedule"]["ec50"].__setitem__(0, 0.0),
        InvalidScheduleError,
        "an ec50 is 0",
    ),
    (
        "pk-hill",
        "pk",
        lambda s: s["schedule"]["hill"].__setitem__(0, -1.0),
        InvalidScheduleError,
        "a hill coefficient is -1",
    ),
    (
        "pk-missed",
        "pk",
        _set("schedule", "missed_dose_probability", 1.5),
        InvalidScheduleError,
        "missed_dose_probability is 1.5",
    ),
    # --- run.rs and ensemble.rs -----------------------------------------------------------------
    ("initial-size", "fixed", _set("run", "initial", [1]), InvalidRunError, "initial has 1 counts"),
    (
        "initial-overflow",
        "fixed",
        _set("run", "initial", [2**64 - 1, 1]),
        InvalidRunError,
        "overflows a 64-bit count",
    ),
    ("t-end", "fixed", _set("run", "t_end", float("nan")), InvalidRunError, "t_end is NaN"),
    (
        "record-range",
        "fixed",
        _set("run", "record_times", [0.0, 5.0]),
        InvalidRunError,
        "record time 5 is outside",
    ),
    (
        "record-order",
        "fixed",
        _set("run", "record_times", [1.0, 0.5]),
        InvalidRunError,
        "non-decreasing",
    ),
    ("max-events", "fixed", _set("run", "max_events", 0), InvalidRunError, "max_events is 0"),
    (
        "max-population",
        "fixed",
        _set("run", "max_population", 0),
        InvalidRunError,
        "max_population is 0",
    ),
    (
        "progression-weights",
        "progression",
        _set("run", "progression_weights", [1.0]),
        InvalidRunError,
        "progression weights must be 2",
    ),
    ("n-replicates", "fixed", _set("run", "n_replicates", 0), InvalidRunError, "n_replicates is 0"),
    (
        "replicate-offset",
        "fixed",
        _set("run", "replicate_offset", 2**64 - 1),
        InvalidRunError,
        "overflows a 64-bit index",
    ),
    (
        "no-record-times",
        "fixed",
        _set("run", "record_times", []),
        InvalidRunError,
        "at least one record time",
    ),
    ("n-threads", "fixed", _set("run", "n_threads", 0), InvalidRunError, "n_threads is 0"),
]


def test_every_base_is_accepted() -> None:
    """Each unbroken base runs: the refusals below come from the one edit."""
    for base in sorted({case[1] for case in CASES}):
        specs = _specs(base)
        out = core.simulate_ensemble(specs["model"], specs["schedule"], specs["run"])
        assert out["count"].shape[0] == 1


@pytest.mark.parametrize(
    ("base", "edit", "error", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_engine_refusal_is_typed(
    base: str, edit: Callable[[Specs], None], error: type[DtpGillespieError], message: str
) -> None:
    specs = _specs(base)
    edit(specs)
    with pytest.raises(error, match=message) as info:
        core.simulate_ensemble(specs["model"], specs["schedule"], specs["run"])
    # The project's error classes: a DtpGillespieError and a ValueError, not a bare KeyError.
    assert isinstance(info.value, DtpGillespieError)
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, KeyError)


def test_trace_and_exposure_at_refuse_typed() -> None:
    specs = _specs("fixed")
    del specs["run"]["t_end"]
    with pytest.raises(InvalidRunError, match='"t_end" is missing'):
        core.trace(specs["model"], specs["schedule"], specs["run"], 0)
    with pytest.raises(InvalidScheduleError, match='"segment_start" is missing'):
        core.exposure_at({"segment_exposure": [0], "cycle_start": None}, [0.0])
    with pytest.raises(InvalidScheduleError, match="first segment starts at 2"):
        core.exposure_at(
            {"segment_start": [2.0], "segment_exposure": [0], "cycle_start": None}, [0.0]
        )


def test_long_values_are_shortened_in_messages() -> None:
    specs = _specs("fixed")
    specs["model"]["channel_rate"] = ["x"] * 1000
    with pytest.raises(InvalidModelError) as info:
        core.simulate_ensemble(specs["model"], specs["schedule"], specs["run"])
    assert len(str(info.value)) < 400
    assert re.search(r"\.\.\.", str(info.value))


# Semantic rules the engine leaves to the Python layer (tested there: test_biomarker.py,
# test_competition.py, test_schedules_v2.py, test_errors.py). Handed to the engine directly, a
# dict that breaks one runs to the end: no refusal is needed for the engine to stay safe.
PYTHON_ONLY_RULES: list[tuple[str, str, Callable[[Specs], None]]] = [
    ("monitor-biomarker-without-one", "adaptive", _monitor_biomarker_without_one),
    ("pk-with-biomarker", "pk", _pk_with_biomarker),
    ("pk-with-varying-competition", "pk", _pk_with_varying_competition),
    ("progression-factor-one", "progression", _set("run", "progression_factor", 1.0)),
    ("progression-factor-nan", "progression", _set("run", "progression_factor", float("nan"))),
    ("progression-size-negative", "progression", _set("run", "progression_size", -3.0)),
    ("progression-min-size-nan", "progression", _set("run", "progression_min_size", math.nan)),
    ("progression-without-threshold", "progression", _no_progression_threshold),
    ("progression-biomarker-without-one", "progression", _progression_biomarker_without_one),
    ("t-end-zero", "fixed", lambda s: s["run"].update(t_end=0.0, record_times=[0.0])),
]


@pytest.mark.parametrize(
    ("base", "edit"), [pytest.param(*case[1:], id=case[0]) for case in PYTHON_ONLY_RULES]
)
def test_semantic_rules_are_left_to_python(base: str, edit: Callable[[Specs], None]) -> None:
    specs = _specs(base)
    edit(specs)
    out = core.simulate_ensemble(specs["model"], specs["schedule"], specs["run"])
    assert out["status"][0] in core.STATUS_CODES.values()


def test_status_codes_have_one_source() -> None:
    """The engine's codes are the package's, with the values stored in every run so far."""
    assert dict(core.STATUS_CODES) == cv.STATUS_CODES
    assert list(cv.STATUS_CODES.items()) == [
        ("completed", 0),
        ("extinct", 1),
        ("max_events", 2),
        ("max_population", 3),
        ("rate_overflow", 4),
    ]
    assert (
        cv.STATUS_COMPLETED,
        cv.STATUS_EXTINCT,
        cv.STATUS_MAX_EVENTS,
        cv.STATUS_MAX_POPULATION,
        cv.STATUS_RATE_OVERFLOW,
    ) == (0, 1, 2, 3, 4)
