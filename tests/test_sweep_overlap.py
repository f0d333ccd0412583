"""Sweep grids whose paths overlap are refused: one path inside another, or two spellings of one
value, would overwrite each other at every point and label runs with values they did not use.
Sibling paths (compared by keys and indices, not characters) still sweep together."""

from typing import Any

import dtp_gillespie as dg
import numpy as np
import pytest
from dtp_gillespie.errors import InvalidRunError
from dtp_gillespie.sweep import sweep, sweep_points

MODEL: dict[str, Any] = {
    "states": ["S", "SP", {"name": "R", "genetic": True}],
    "exposures": ["off", "on"],
    "division": {"S": 0.8, "SP": 0.05, "R": 0.6},
    "death": {"S": {"off": 0.1, "on": 0.9}, "SP": 0.02, "R": 0.1},
    "switch": [{"from": "S", "to": "SP", "rate": {"off": 0.01, "on": 0.3}}],
    "mutation": [{"from": "SP", "to": "R", "probability": 0.05}],
}
SCHEDULE = {"kind": "intermittent", "on": 2.0, "off": 2.0}
RUN: dict[str, Any] = {"initial": {"S": 20}, "t_end": 3.0, "n_replicates": 3, "n_threads": 1}


@pytest.mark.parametrize(
    ("grid", "broad", "narrow"),
    [
        # The audit's case: the broader path overwrote the narrower one at every point.
        (
            {"model.death.S.on": [0.1, 5.0], "model.death.S": [0.3]},
            "model.death.S",
            "model.death.S.on",
        ),
        # In the other order the narrower one wins, and the broad coordinate lies instead.
        (
            {"model.death.S": [0.3], "model.death.S.on": [0.1, 5.0]},
            "model.death.S",
            "model.death.S.on",
        ),
        (
            {
                "model.mutation[0]": [{"from": "SP", "to": "R", "probability": 0.1}],
                "model.mutation[0].probability": [0.1, 0.2],
            },
            "model.mutation[0]",
            "model.mutation[0].probability",
        ),
        (
            {"model.switch": [[]], "model.switch[0].rate.on": [0.1]},
            "model.switch",
            "model.switch[0].rate.on",
        ),
        ({"schedule.on": [1.0], "schedule.on.x": [1.0]}, "schedule.on", "schedule.on.x"),
    ],
)
def test_a_path_inside_another_is_refused_naming_both(
    grid: dict[str, Any], broad: str, narrow: str
) -> None:
    for call in (
        lambda: sweep_points(MODEL, SCHEDULE, grid),
        lambda: sweep(MODEL, SCHEDULE, grid, seed=1, **RUN),
    ):
        with pytest.raises(InvalidRunError) as err:
            call()
        message = str(err.value)
        assert f"grid path {broad!r} contains grid path {narrow!r}" in message


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("model.mutation[0].probability", "model.mutation.[0].probability"),
        ("model.mutation[0].probability", "model.mutation[00].probability"),
        ("model.death.S.on", "model..death.S.on"),
        ("schedule.off", "schedule..off"),
    ],
)
def test_two_spellings_of_one_value_are_refused(a: str, b: str) -> None:
    with pytest.raises(InvalidRunError, match="name the same value") as err:
        sweep(MODEL, SCHEDULE, {a: [0.1, 0.2], b: [0.3]}, seed=1, **RUN)
    assert repr(a) in str(err.value)
    assert repr(b) in str(err.value)


def test_a_model_path_and_a_schedule_path_with_the_same_keys_do_not_overlap() -> None:
    points = sweep_points(
        {**MODEL, "exposures": ["off", "on"]},
        SCHEDULE,
        {"model.death.S.on": [0.5], "schedule.on": [3.0]},
    )
    (_, model, schedule), *_ = points
    assert model["death"]["S"]["on"] == 0.5
    assert schedule["on"] == 3.0


def test_sibling_paths_are_not_prefixes_by_characters() -> None:
    # "model.death.S" is a character prefix of "model.death.SP", but names another value.
    grid = {"model.death.S": [0.2, 0.4], "model.death.SP": [0.01, 0.03]}
    points = sweep_points(MODEL, SCHEDULE, grid)
    assert [(m["death"]["S"], m["death"]["SP"]) for _, m, _ in points] == [
        (0.2, 0.01),
        (0.2, 0.03),
        (0.4, 0.01),
        (0.4, 0.03),
    ]


def test_sibling_paths_sweep_together_and_each_point_is_its_coordinates() -> None:
    grid = {"model.death.S.on": [0.5, 2.0], "model.death.S.off": [0.05, 0.2]}
    ds = sweep(MODEL, SCHEDULE, grid, seed=5, **RUN)
    assert ds["count"].dims[:2] == ("model.death.S.on", "model.death.S.off")
    k = 0
    for on in grid["model.death.S.on"]:
        for off in grid["model.death.S.off"]:
            model = {**MODEL, "death": {**MODEL["death"], "S": {"off": off, "on": on}}}
            one = dg.simulate(model, SCHEDULE, seed=np.random.SeedSequence(5).spawn(4)[k], **RUN)
            point = ds.sel({"model.death.S.on": on, "model.death.S.off": off})
            np.testing.assert_array_equal(point["count"].values, one["count"].values)
            np.testing.assert_array_equal(point["stop_time"].values, one["stop_time"].values)
            k += 1
